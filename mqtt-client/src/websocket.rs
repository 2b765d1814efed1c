//! The WebSocket handshake's request, under the application's control: its path, headers of
//! its own (an `Authorization`, a tenant id), and a hook that sees the finished request and
//! may sign it (AWS SigV4 signs the query string or adds headers) just before it is sent.
//!
//! The runtimes' WebSocket transports send what [`WebSocketOptions::request`] gives, with the
//! headers the handshake itself needs (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
//! `Sec-WebSocket-Version`) added by their WebSocket library.

use std::sync::Arc;

use crate::options::{Scheme, Server};

/// The HTTP upgrade request of one WebSocket connection, before it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct WebSocketRequest {
    /// `ws` or `wss`.
    pub scheme: &'static str,
    /// The server's host (IPv6 without brackets).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// Path and query, e.g. `/mqtt` or `/mqtt?X-Amz-Signature=...`.
    pub path: String,
    /// Headers sent beside the handshake's own, in order; a name given here replaces the
    /// handshake's header of that name (`Sec-WebSocket-Protocol` is `mqtt` unless replaced
    /// [MQTT-6.0.0-3]).
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebSocketRequest {
    // Header values may be credentials: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketRequest")
            .field("url", &self.url())
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl WebSocketRequest {
    /// The request's URL (IPv6 hosts in brackets).
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}{}", self.scheme, self.port, self.path)
    }

    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sets the header `name` to `value`, replacing any of that name.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }
}

/// The hook of [`WebSocketOptions::sign_with`].
pub type WebSocketSigner = dyn Fn(&mut WebSocketRequest) -> Result<(), String> + Send + Sync;

/// How the WebSocket handshake is made for `ws://` and `wss://` servers; set with
/// [`Options::websocket`](crate::Options::websocket).
#[derive(Clone, Default)]
pub struct WebSocketOptions {
    path: Option<String>,
    headers: Vec<(String, String)>,
    signer: Option<Arc<WebSocketSigner>>,
}

impl std::fmt::Debug for WebSocketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketOptions")
            .field("path", &self.path)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("signer", &self.signer.is_some())
            .finish()
    }
}

/// Why a WebSocket request cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// A header name is not an HTTP token, or a value holds a line break or another
    /// control character.
    #[error("invalid WebSocket request header {0:?}")]
    Header(String),
    /// The path does not start with `/`, or holds a space or a control character.
    #[error("invalid WebSocket request path {0:?}")]
    Path(String),
    /// The signing hook failed.
    #[error("signing the WebSocket request: {0}")]
    Signer(String),
}

impl From<WebSocketError> for std::io::Error {
    fn from(error: WebSocketError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
    }
}

impl WebSocketOptions {
    /// The URL's path, the `mqtt` subprotocol, no headers of its own, no signer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `path` (with a query, if any) for every WebSocket server instead of the URL's.
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.to_string());
        self
    }

    /// Sends the header `name: value` in the upgrade request (a name given twice is sent
    /// twice).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Calls `signer` with each finished request just before it is sent (for every
    /// connection attempt, so a signature's time stamp is fresh): it may change the path
    /// and query and add headers. An error fails the attempt
    /// ([`ConnectionEvent::ConnectFailed`](crate::ConnectionEvent::ConnectFailed)).
    pub fn sign_with(
        mut self,
        signer: impl Fn(&mut WebSocketRequest) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// The request to send to `server`: its path (or this path), the `mqtt` subprotocol,
    /// these headers, then the signer's changes, checked.
    pub fn request(&self, server: &Server) -> Result<WebSocketRequest, WebSocketError> {
        let mut request = WebSocketRequest {
            scheme: if server.scheme == Scheme::Wss {
                "wss"
            } else {
                "ws"
            },
            host: server.host.clone(),
            port: server.port,
            path: self.path.clone().unwrap_or_else(|| server.path.clone()),
            headers: vec![("Sec-WebSocket-Protocol".into(), "mqtt".into())],
        };
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("Sec-WebSocket-Protocol") {
                request
                    .headers
                    .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            }
            request.headers.push((name.clone(), value.clone()));
        }
        if let Some(signer) = &self.signer {
            signer(&mut request).map_err(WebSocketError::Signer)?;
        }
        let path_ok = request.path.starts_with('/')
            && !request
                .path
                .bytes()
                .any(|b| b == b' ' || b.is_ascii_control());
        if !path_ok {
            return Err(WebSocketError::Path(request.path));
        }
        // RFC 9110 section 5.6.2 (token) and 5.5 (field values: no CR, LF or NUL).
        let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        for (name, value) in &request.headers {
            let name_ok = !name.is_empty() && name.bytes().all(token);
            let value_ok = !value.bytes().any(|b| b.is_ascii_control() && b != b'\t');
            if !name_ok || !value_ok {
                return Err(WebSocketError::Header(name.clone()));
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn server(url: &str) -> Server {
        Server::parse(url).unwrap().0
    }

    #[test]
    fn path_headers_and_signer() {
        let options = WebSocketOptions::new()
            .path("/custom?x=1")
            .header("Authorization", "Bearer t0ken")
            .sign_with(|r| {
                let signature = format!("{}:{}", r.host, r.path.len());
                r.path.push_str("&sig=abc");
                r.set_header("X-Signature", &signature);
                Ok(())
            });
        let request = options.request(&server("wss://[::1]:9001/mqtt")).unwrap();
        assert_eq!(request.url(), "wss://[::1]:9001/custom?x=1&sig=abc");
        assert_eq!(request.header("sec-websocket-protocol"), Some("mqtt"));
        assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
        assert_eq!(request.header("X-Signature"), Some("::1:11"));
        assert!(!format!("{request:?}").contains("t0ken"));
        assert!(!format!("{options:?}").contains("t0ken"));
    }

    #[test]
    fn the_subprotocol_can_be_replaced_and_bad_requests_are_refused() {
        let s = server("ws://h/mqtt");
        let request = WebSocketOptions::new()
            .header("Sec-WebSocket-Protocol", "mqttv3.1")
            .request(&s)
            .unwrap();
        assert_eq!(request.headers.len(), 1);
        assert_eq!(request.header("Sec-WebSocket-Protocol"), Some("mqttv3.1"));
        let bad = |o: WebSocketOptions| o.request(&s).unwrap_err();
        assert!(matches!(
            bad(WebSocketOptions::new().header("X-A", "v\r\nInjected: 1")),
            WebSocketError::Header(_)
        ));
        assert!(matches!(
            bad(WebSocketOptions::new().header("Bad Name", "v")),
            WebSocketError::Header(_)
        ));
        assert!(matches!(
            bad(WebSocketOptions::new().path("no-slash")),
            WebSocketError::Path(_)
        ));
        assert_eq!(
            bad(WebSocketOptions::new().sign_with(|_| Err("no key".into()))),
            WebSocketError::Signer("no key".into())
        );
    }
}
