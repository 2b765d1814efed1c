//! MQTT over WebSocket, for every runtime: binary frames carry the byte stream
//! [MQTT-6.0.0-1], packets need not line up with frames [MQTT-6.0.0-2], and the client offers
//! the `mqtt` subprotocol [MQTT-6.0.0-3]. Written once over futures-io; a tokio transport
//! goes through `tokio-util`'s compat adapters.

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use crate::{WebSocketError, WebSocketRequest};

/// A WebSocket connection over `S` (a TCP or TLS stream), seen as a byte stream.
pub struct WebSocketTransport<S> {
    ws: WebSocketStream<S>,
    // What the last binary frame brought and a read has not taken yet.
    pending: Bytes,
}

impl<S> std::fmt::Debug for WebSocketTransport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// Opens the WebSocket over an established TCP or TLS stream, with `request`'s path and
/// headers (see [`WebSocketOptions`](crate::WebSocketOptions)): a header the request names
/// replaces the handshake's own of that name.
pub async fn websocket_connect<S>(
    request: WebSocketRequest,
    stream: S,
) -> io::Result<WebSocketTransport<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut http = request
        .url()
        .into_client_request()
        .map_err(io::Error::other)?;
    let invalid = |name: &str| io::Error::from(WebSocketError::Header(name.to_string()));
    for (name, _) in &request.headers {
        http.headers_mut().remove(name.as_str());
    }
    for (name, value) in &request.headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(name))?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid(name))?;
        http.headers_mut().append(header, value);
    }
    let (ws, _response) = async_tungstenite::client_async(http, stream)
        .await
        .map_err(io::Error::other)?;
    Ok(WebSocketTransport {
        ws,
        pending: Bytes::new(),
    })
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocketTransport<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(n));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                // Control frames are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                // End of stream: a read of zero bytes.
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(0)),
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frame on an MQTT WebSocket [MQTT-6.0.0-1]",
                    )))
                }
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocketTransport<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io::Error::other)?;
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(data)))
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Sink::poll_flush(Pin::new(&mut self.ws), cx).map_err(io::Error::other)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Sink::poll_close(Pin::new(&mut self.ws), cx).map_err(io::Error::other)
    }
}
