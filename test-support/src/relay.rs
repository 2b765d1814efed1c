//! A TLS-terminating TCP relay: TLS in front of a plain listener, for brokers that cannot
//! serve TLS themselves where a test needs it (the embedded rumqttd's WebSocket listener, for
//! `wss://`).
//!
//! The relay runs on a thread of its own with a current-thread tokio runtime, so it serves
//! tests on any executor (tokio, smol, async-std) and never depends on theirs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
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
    handshakes: Handshakes,
}

/// What a client's TLS handshake with the relay carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The SNI it sent.
    pub server_name: Option<String>,
    /// The application protocol agreed in ALPN.
    pub alpn: Option<String>,
}

type Handshakes = Arc<Mutex<Vec<Handshake>>>;

impl TlsRelay {
    /// Starts a relay that presents `pki`'s server certificate (for 127.0.0.1 / localhost)
    /// and forwards to `target`. It listens before this returns.
    pub fn start(target: SocketAddr, pki: &Pki) -> Result<TlsRelay, StartError> {
        Self::start_with_alpn(target, pki, &[])
    }

    /// As [`TlsRelay::start`], and when `alpn` is not empty, a client must agree one of
    /// these application protocols in ALPN (one that offers none is closed after the
    /// handshake; one that offers others fails it, as RFC 7301 says).
    pub fn start_with_alpn(
        target: SocketAddr,
        pki: &Pki,
        alpn: &[&str],
    ) -> Result<TlsRelay, StartError> {
        let mut config = server_config(pki)?;
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let required = !alpn.is_empty();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let handshakes = Handshakes::default();
        let recorded = handshakes.clone();
        let server = Background::start("TLS relay", move |listener| {
            serve(listener, acceptor, target, required, recorded)
        })?;
        Ok(TlsRelay { server, handshakes })
    }

    /// The handshakes completed so far, in order.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.handshakes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    target: SocketAddr,
    alpn_required: bool,
    handshakes: Handshakes,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let handshakes = handshakes.clone();
        tokio::spawn(relay(
            client,
            acceptor.clone(),
            target,
            alpn_required,
            handshakes,
        ));
    }
}

/// One connection: the TLS handshake, plain TCP to the target, then bytes both ways. A failed
/// handshake (a client that refuses our certificate) just closes the connection.
async fn relay(
    client: TcpStream,
    acceptor: TlsAcceptor,
    target: SocketAddr,
    alpn_required: bool,
    handshakes: Handshakes,
) {
    let _ = client.set_nodelay(true);
    let Ok(Ok(mut tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(client)).await else {
        return;
    };
    let session = tls.get_ref().1;
    let handshake = Handshake {
        server_name: session.server_name().map(str::to_string),
        alpn: session
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    };
    let agreed = handshake.alpn.is_some();
    handshakes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(handshake);
    if alpn_required && !agreed {
        return;
    }
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
