//! Transports: anything that reads and writes bytes in order. TCP is built in; bring your own
//! (a Unix socket, an in-memory pipe, ...) with a [`Connector`].

use mqtt_client::{Options, Scheme, Server};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// A byte stream to a server.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// The future a [`Connector`] returns.
pub type ConnectFuture<'a> =
    Pin<Box<dyn Future<Output = io::Result<Box<dyn Transport>>> + Send + 'a>>;

/// Opens transports to servers.
pub trait Connector: Send + 'static {
    /// Opens a transport to `server`. The connection task bounds it with
    /// `Options::connect_timeout`.
    fn connect<'a>(&'a mut self, server: &'a Server, options: &'a Options) -> ConnectFuture<'a>;
}

/// The built-in connector: TCP (TCP_NODELAY as the options say) and TLS over it with rustls.
#[derive(Debug, Default, Clone)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(&'a mut self, server: &'a Server, options: &'a Options) -> ConnectFuture<'a> {
        Box::pin(async move {
            if server.scheme.is_websocket() {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "{:?} transports are not built into this version",
                        server.scheme
                    ),
                ));
            }
            let stream = TcpStream::connect((server.host.as_str(), server.port)).await?;
            stream.set_nodelay(options.nodelay)?;
            if server.scheme != Scheme::Mqtts {
                return Ok(Box::new(stream) as Box<dyn Transport>);
            }
            let config = match &options.tls {
                Some(config) => config.clone(),
                None => mqtt_client::TlsOptions::new()
                    .build()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            };
            // SNI and verification use the host name (or address) of the URL.
            let name = ServerName::try_from(server.host.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tls = TlsConnector::from(config).connect(name, stream).await?;
            Ok(Box::new(tls) as Box<dyn Transport>)
        })
    }
}
