//! MQTT over WebSocket: binary frames carry the byte stream [MQTT-6.0.0-1], packets need not
//! line up with frames [MQTT-6.0.0-2], and the client offers the `mqtt` subprotocol
//! [MQTT-6.0.0-3].

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::transport::Transport;
use mqtt_client::{WebSocketError, WebSocketRequest};

/// A WebSocket connection seen as a byte stream.
pub(crate) struct WsTransport {
    ws: WebSocketStream<Box<dyn Transport>>,
    pending: Bytes,
}

/// Opens the WebSocket over an established TCP or TLS stream, with `request`'s path and
/// headers (see [`mqtt_client::WebSocketOptions`]).
pub(crate) async fn connect(
    request: WebSocketRequest,
    stream: Box<dyn Transport>,
) -> io::Result<Box<dyn Transport>> {
    let mut http = request.url().into_client_request().map_err(other)?;
    let invalid = |name: &str| io::Error::from(WebSocketError::Header(name.to_string()));
    for (name, _) in &request.headers {
        http.headers_mut().remove(name.as_str());
    }
    for (name, value) in &request.headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(name))?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid(name))?;
        http.headers_mut().append(header, value);
    }
    let (ws, _response) = tokio_tungstenite::client_async(http, stream)
        .await
        .map_err(other)?;
    Ok(Box::new(WsTransport {
        ws,
        pending: Bytes::new(),
    }))
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

impl AsyncRead for WsTransport {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                // Control frames are answered by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                // End of stream: a read of zero bytes.
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frame on an MQTT WebSocket [MQTT-6.0.0-1]",
                    )))
                }
                Some(Err(e)) => return Poll::Ready(Err(other(e))),
            }
        }
    }
}

impl AsyncWrite for WsTransport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(other)?;
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(Bytes::copy_from_slice(data)))
            .map_err(other)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(other)
    }
}
