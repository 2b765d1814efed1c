//! Transports: anything that reads and writes bytes in order. TCP is built in; bring your own
//! (a Unix socket, an in-memory pipe, ...) with a [`Connector`].

use mqtt_client::{Options, Scheme, Server};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

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

/// The built-in connector: TCP, with TCP_NODELAY as the options say.
#[derive(Debug, Default, Clone)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(&'a mut self, server: &'a Server, options: &'a Options) -> ConnectFuture<'a> {
        Box::pin(async move {
            if server.scheme != Scheme::Mqtt {
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
            Ok(Box::new(stream) as Box<dyn Transport>)
        })
    }
}
