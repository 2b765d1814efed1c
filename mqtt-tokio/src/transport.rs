//! Transports: anything that reads and writes bytes in order. TCP is built in; bring your own
//! (a Unix socket, an in-memory pipe, ...) with a [`Connector`].

use mqtt_client::{Options, Server};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A byte stream to a server: ordered, lossless and in both directions, as MQTT needs
/// ([MQTT-4.2.0-1]; v3.1.1 [MQTT-7.1.2-1]).
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

/// The built-in connector: TCP (TCP_NODELAY as the options say), TLS over it with rustls, and
/// WebSocket over either.
#[derive(Debug, Default, Clone)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(&'a mut self, server: &'a Server, options: &'a Options) -> ConnectFuture<'a> {
        Box::pin(async move {
            let tcp = TcpStream::connect((server.host.as_str(), server.port)).await?;
            tcp.set_nodelay(options.nodelay)?;
            let stream: Box<dyn Transport> = if server.scheme.is_tls() {
                tls(server, options, tcp).await?
            } else {
                Box::new(tcp)
            };
            if !server.scheme.is_websocket() {
                return Ok(stream);
            }
            crate::websocket::connect(&server.websocket_url(), stream).await
        })
    }
}

/// TLS over an established TCP stream; SNI and verification use the host of the URL.
async fn tls(server: &Server, options: &Options, tcp: TcpStream) -> io::Result<Box<dyn Transport>> {
    let stream = TlsConnector::from(options.tls_config()?)
        .connect(server.tls_name()?, tcp)
        .await?;
    Ok(Box::new(stream))
}
