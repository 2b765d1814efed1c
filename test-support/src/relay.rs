//! A TLS-terminating TCP relay: TLS in front of a plain listener, for brokers that cannot
//! serve TLS themselves where a test needs it (the embedded rumqttd's WebSocket listener, for
//! `wss://`).
//!
//! The relay runs on a thread of its own with a current-thread tokio runtime, so it serves
//! tests on any executor (tokio, smol, async-std) and never depends on theirs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::background::Background;
use crate::mosquitto::StartError;
use crate::tls::Pki;

/// How long a client has to complete the TLS handshake, and the relay to reach its target.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// A TLS relay on a free loopback port: it accepts TLS with the server certificate of a
/// [`Pki`] and, for each connection, opens plain TCP to its target and copies bytes both ways
/// until both directions have closed (or either fails). It stops when dropped: the listener
/// and every relayed connection are closed, and the drop waits for its thread.
#[derive(Debug)]
pub struct TlsRelay {
    server: Background,
}

impl TlsRelay {
    /// Starts a relay that presents `pki`'s server certificate (for 127.0.0.1 / localhost)
    /// and forwards to `target`. It listens before this returns.
    pub fn start(target: SocketAddr, pki: &Pki) -> Result<TlsRelay, StartError> {
        let acceptor = TlsAcceptor::from(Arc::new(server_config(pki)?));
        let server = Background::start("TLS relay", move |listener| {
            serve(listener, acceptor, target)
        })?;
        Ok(TlsRelay { server })
    }

    /// The address the relay listens on (`127.0.0.1`).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The port the relay listens on.
    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }
}

fn server_config(pki: &Pki) -> Result<ServerConfig, StartError> {
    let error = |e: &dyn std::fmt::Display| StartError(format!("the TLS relay's certificate: {e}"));
    let chain = CertificateDer::pem_slice_iter(pki.server_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(&e))?;
    let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).map_err(|e| error(&e))?;
    ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| error(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| error(&e))
}

/// Accepts until the listener fails (or the relay is stopped), one task per connection.
async fn serve(listener: TcpListener, acceptor: TlsAcceptor, target: SocketAddr) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(relay(client, acceptor.clone(), target));
    }
}

/// One connection: the TLS handshake, plain TCP to the target, then bytes both ways. A failed
/// handshake (a client that refuses our certificate) just closes the connection.
async fn relay(client: TcpStream, acceptor: TlsAcceptor, target: SocketAddr) {
    let _ = client.set_nodelay(true);
    let Ok(Ok(mut tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(client)).await else {
        return;
    };
    let Ok(Ok(mut upstream)) = tokio::time::timeout(HANDSHAKE, TcpStream::connect(target)).await
    else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    // Half-closes are passed on (a TLS close_notify one way, a FIN the other); it returns when
    // both directions are done or either fails.
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read};
    use std::time::Instant;

    /// A connection stuck in its handshake (which may take 10 s) does not hold up the drop,
    /// and the drop closes it and the listener.
    #[test]
    fn drop_is_prompt_and_closes_everything() {
        let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let pki = Pki::generate().unwrap();
        let relay = TlsRelay::start(target.local_addr().unwrap(), &pki).unwrap();
        let addr = relay.addr();
        let mut idle = std::net::TcpStream::connect(addr).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        std::thread::sleep(Duration::from_millis(100));

        let started = Instant::now();
        drop(relay);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        match idle.read(&mut [0u8; 1]) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("the connection stayed open: {other:?}"),
        }
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
