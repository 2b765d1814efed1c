//! MQTT over WebSocket on futures-io: binary frames carry the byte stream [MQTT-6.0.0-1],
//! packets need not line up with frames [MQTT-6.0.0-2], and the client offers the `mqtt`
//! subprotocol [MQTT-6.0.0-3].

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use bytes::{Buf, Bytes};
use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_util::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

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
    Ok(Box::new(WsTransport {
        ws,
        pending: Bytes::new(),
    }))
}

impl AsyncRead for WsTransport {
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
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
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

impl AsyncWrite for WsTransport {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(Sink::poll_ready(Pin::new(&mut self.ws), cx)).map_err(io::Error::other)?;
        Sink::start_send(
            Pin::new(&mut self.ws),
            Message::Binary(Bytes::copy_from_slice(data)),
        )
        .map_err(io::Error::other)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws)
            .poll_close(cx)
            .map_err(io::Error::other)
    }
}
