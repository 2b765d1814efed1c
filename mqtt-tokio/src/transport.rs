//! Transports: anything that reads and writes bytes in order. TCP is built in; bring your own
//! (a Unix socket, an in-memory pipe, ...) with a [`Connector`].

use mqtt_client::{Options, Proxy, ProxyHandshake, Server};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

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

/// The built-in connector: TCP (TCP_NODELAY as the options say), through a proxy when the
/// options name one, TLS over it with rustls, and WebSocket over either.
#[derive(Debug, Default, Clone)]
pub struct TcpConnector;

impl Connector for TcpConnector {
    fn connect<'a>(&'a mut self, server: &'a Server, options: &'a Options) -> ConnectFuture<'a> {
        Box::pin(async move {
            let tcp = match options.proxies.for_server(server) {
                Some(proxy) => {
                    let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port)).await?;
                    tunnel(&mut tcp, proxy, server).await?;
                    tcp
                }
                None => TcpStream::connect((server.host.as_str(), server.port)).await?,
            };
            tcp.set_nodelay(options.nodelay)?;
            let tcp = QuickAck(tcp);
            let stream: Box<dyn Transport> = if server.scheme.is_tls() {
                tls(server, options, tcp).await?
            } else {
                Box::new(tcp)
            };
            if !server.scheme.is_websocket() {
                return Ok(stream);
            }
            // Through futures-io: the WebSocket transport is written once, for every runtime.
            let ws =
                mqtt_client::websocket_connect(options.websocket.request(server)?, stream.compat());
            Ok(Box::new(ws.await?.compat()))
        })
    }
}

/// Runs a proxy's handshake (see [`ProxyHandshake`]) for a tunnel to `server`.
async fn tunnel(tcp: &mut TcpStream, proxy: &Proxy, server: &Server) -> io::Result<()> {
    let mut handshake = ProxyHandshake::new(proxy, &server.host, server.port)?;
    let mut buf = [0u8; 512];
    loop {
        tcp.write_all(&handshake.take_output()).await?;
        let want = handshake.wants().min(buf.len());
        if want == 0 {
            return Ok(());
        }
        let n = tcp.read(&mut buf[..want]).await?;
        handshake.read(&buf[..n])?;
    }
}

/// TLS over an established TCP stream; SNI and verification use the host of the URL, or the
/// options' server name. A server that does not speak TLS is said to be one.
async fn tls(server: &Server, options: &Options, tcp: QuickAck) -> io::Result<Box<dyn Transport>> {
    let stream = TlsConnector::from(options.tls_config()?)
        .connect(options.tls_name(server)?, tcp)
        .await
        .map_err(|e| mqtt_client::tls_handshake_error(server, e))?;
    Ok(Box::new(stream))
}

/// TCP that acknowledges what it read at once (see [`mqtt_client::quickack`]).
#[derive(Debug)]
struct QuickAck(TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(read, std::task::Poll::Ready(Ok(()))) && buf.filled().len() > before {
            mqtt_client::quickack(&self.0);
        }
        read
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
