//! Proxies: HTTP CONNECT (RFC 9110 section 9.3.6, with Basic authentication) and SOCKS5
//! (RFC 1928, with RFC 1929 user name and password), chosen per server from the options or,
//! when asked, from the standard environment variables (see [`Proxies::from_env`]).
//!
//! The handshakes are sans-IO ([`ProxyHandshake`]): a runtime's connector writes what the
//! handshake gives, reads at most what it asks for (never past the proxy's reply, so no byte
//! of the tunnel is taken), and feeds it back, until it is done. TLS and WebSocket then run
//! through the tunnel to the server, which sees the MQTT client's own handshake.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::options::{Scheme, Server};

/// Why a proxy could not be set up or passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL is not `http://`, `socks5://` or `socks5h://` `[user[:password]@]host[:port]`.
    #[error("invalid proxy URL {0:?}")]
    Url(String),
    /// The proxy closed the connection during the handshake.
    #[error("the proxy closed the connection during its handshake")]
    Closed,
    /// The proxy's answer is not its protocol's.
    #[error("malformed proxy reply: {0}")]
    Malformed(&'static str),
    /// The HTTP proxy asks for credentials, or refused the ones given: 407 Proxy
    /// Authentication Required, or 401 Unauthorized (which tinyproxy answers to CONNECT).
    #[error("the HTTP proxy wants valid credentials ({0})")]
    AuthenticationRequired(u16),
    /// The HTTP proxy refused the tunnel.
    #[error("the HTTP proxy refused CONNECT: {status} {reason}")]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// The SOCKS5 proxy accepts none of the offered methods (it wants a user name and
    /// password that were not given, or another method).
    #[error("the SOCKS5 proxy accepts none of the offered authentication methods")]
    NoAcceptableMethod,
    /// The SOCKS5 proxy refused the user name and password.
    #[error("the SOCKS5 proxy refused the user name and password")]
    Socks5Authentication,
    /// The SOCKS5 proxy could not connect to the server.
    #[error("the SOCKS5 proxy could not connect: {0}")]
    Socks5Reply(&'static str),
    /// A host name, user name or password longer than SOCKS5 carries (255 bytes).
    #[error("{0} longer than SOCKS5 carries (255 bytes)")]
    TooLong(&'static str),
}

impl From<ProxyError> for std::io::Error {
    fn from(error: ProxyError) -> Self {
        std::io::Error::other(error)
    }
}

/// The protocol of a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    /// An HTTP proxy, asked for a tunnel with `CONNECT host:port`.
    HttpConnect,
    /// A SOCKS5 proxy. The server's host name is sent as it is (the proxy resolves it, as
    /// with `socks5h://`).
    Socks5,
}

/// One proxy.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proxy {
    /// The protocol.
    pub kind: ProxyKind,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name and password, if the proxy wants them (HTTP Basic, or SOCKS5's RFC 1929).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// An HTTP CONNECT proxy.
    pub fn http(host: &str, port: u16) -> Proxy {
        Proxy {
            kind: ProxyKind::HttpConnect,
            host: host.to_string(),
            port,
            credentials: None,
        }
    }

    /// A SOCKS5 proxy.
    pub fn socks5(host: &str, port: u16) -> Proxy {
        Proxy {
            kind: ProxyKind::Socks5,
            ..Proxy::http(host, port)
        }
    }

    /// Authenticates to the proxy with this user name and password.
    pub fn credentials(mut self, user: &str, password: &str) -> Proxy {
        self.credentials = Some((user.to_string(), password.to_string()));
        self
    }

    /// Parses `http://`, `socks5://` or `socks5h://` `[user[:password]@]host[:port]` (a
    /// trailing `/` allowed); without a scheme, HTTP (as curl reads proxy variables). The
    /// default port is 1080 (curl's).
    pub fn parse(url: &str) -> Result<Proxy, ProxyError> {
        let bad = || ProxyError::Url(redact(url));
        let (kind, rest) = match url.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "http" => (ProxyKind::HttpConnect, rest),
                "socks5" | "socks5h" => (ProxyKind::Socks5, rest),
                _ => return Err(bad()),
            },
            None => (ProxyKind::HttpConnect, url),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        // Parsed as an MQTT URL for its authority rules (brackets, percent-decoding).
        let (server, credentials) = Server::parse(&format!("mqtt://{rest}")).map_err(|_| bad())?;
        if server.path != "/mqtt" || !rest.contains(&server.host) {
            return Err(bad());
        }
        let port = if rest.ends_with(&format!(":{}", server.port)) {
            server.port
        } else {
            1080
        };
        Ok(Proxy {
            kind,
            host: server.host,
            port,
            credentials: credentials.map(|(user, pass)| (user, pass.unwrap_or_default())),
        })
    }
}

/// A URL with its password left out, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}<redacted>{}", &url[..s + 3], &url[at..]),
        (None, Some(at)) => format!("<redacted>{}", &url[at..]),
        _ => url.to_string(),
    }
}

/// Which proxy each server is reached through: one for every server, or the environment's
/// rule (`http_proxy` for `mqtt://` and `ws://`, `https_proxy` for `mqtts://` and `wss://`,
/// `all_proxy` for what those leave, `no_proxy` for the exceptions). Empty: no proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    plain: Option<Proxy>,
    secure: Option<Proxy>,
    all: Option<Proxy>,
    no_proxy: Vec<String>,
}

impl Proxies {
    /// No proxy.
    pub fn none() -> Proxies {
        Proxies::default()
    }

    /// `proxy` for every server.
    pub fn all(proxy: Proxy) -> Proxies {
        Proxies {
            all: Some(proxy),
            ..Proxies::default()
        }
    }

    /// From the environment, read now: `http_proxy`, `https_proxy`, `all_proxy` and
    /// `no_proxy`, each lower case first, then upper case (`HTTP_PROXY` ...), as curl does.
    /// An empty variable is unset.
    pub fn from_env() -> Result<Proxies, ProxyError> {
        Proxies::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`Proxies::from_env`], with the variables from `lookup` (name to value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Proxies, ProxyError> {
        let var = |name: &str| {
            [name.to_string(), name.to_ascii_uppercase()]
                .iter()
                .find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()))
        };
        let proxy = |name: &str| var(name).map(|url| Proxy::parse(url.trim())).transpose();
        Ok(Proxies {
            plain: proxy("http_proxy")?,
            secure: proxy("https_proxy")?,
            all: proxy("all_proxy")?,
            no_proxy: var("no_proxy")
                .map(|list| {
                    list.split(',')
                        .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Adds exceptions as `no_proxy` lists them: comma-separated host names (matching the
    /// name and the names below it), addresses, or `*` for every host.
    pub fn no_proxy(mut self, list: &str) -> Proxies {
        self.no_proxy.extend(
            list.split(',')
                .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
        );
        self
    }

    /// Whether no server goes through a proxy.
    pub fn is_empty(&self) -> bool {
        self.plain.is_none() && self.secure.is_none() && self.all.is_none()
    }

    /// The proxy `server` is reached through, if any.
    pub fn for_server(&self, server: &Server) -> Option<&Proxy> {
        let host = server.host.to_ascii_lowercase();
        let excepted = self.no_proxy.iter().any(|entry| {
            entry == "*"
                || *entry == host
                || host
                    .strip_suffix(entry.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        if excepted {
            return None;
        }
        let by_scheme = match server.scheme {
            Scheme::Mqtt | Scheme::Ws => &self.plain,
            Scheme::Mqtts | Scheme::Wss => &self.secure,
        };
        by_scheme.as_ref().or(self.all.as_ref())
    }
}

/// Where a handshake stands.
#[derive(Debug)]
enum Step {
    /// HTTP: reading the response head.
    HttpResponse,
    /// SOCKS5: the method choice (2 bytes).
    Method,
    /// SOCKS5: the user name and password answer (2 bytes).
    UserPassword,
    /// SOCKS5: the reply's first 4 bytes.
    ReplyHead,
    /// SOCKS5: the rest of the reply (bound address and port), this many bytes.
    ReplyTail(usize),
    /// SOCKS5: the length of the bound domain name (1 byte).
    ReplyNameLength,
    Done,
}

/// One proxy handshake, sans-IO: write [`take_output`](Self::take_output), read at most
/// [`wants`](Self::wants) bytes and give them to [`read`](Self::read), until `wants` is zero.
/// It never asks for a byte past the proxy's reply.
#[derive(Debug)]
pub struct ProxyHandshake {
    step: Step,
    output: Vec<u8>,
    input: Vec<u8>,
    /// SOCKS5: the CONNECT request, sent once authentication is done.
    request: Vec<u8>,
    /// SOCKS5: the user name and password message, if credentials were given.
    user_password: Option<Vec<u8>>,
}

/// The longest HTTP response head taken from a proxy.
const MAX_HTTP_HEAD: usize = 16 * 1024;

impl ProxyHandshake {
    /// A handshake with `proxy` for a tunnel to `host`:`port`.
    pub fn new(proxy: &Proxy, host: &str, port: u16) -> Result<ProxyHandshake, ProxyError> {
        match proxy.kind {
            ProxyKind::HttpConnect => {
                let authority = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
                if let Some((user, password)) = &proxy.credentials {
                    let token = BASE64.encode(format!("{user}:{password}"));
                    head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
                }
                head.push_str("\r\n");
                Ok(ProxyHandshake {
                    step: Step::HttpResponse,
                    output: head.into_bytes(),
                    input: Vec::new(),
                    request: Vec::new(),
                    user_password: None,
                })
            }
            ProxyKind::Socks5 => {
                let mut request = vec![5, 1, 0];
                if let Ok(ip) = host.parse::<std::net::IpAddr>() {
                    match ip {
                        std::net::IpAddr::V4(v4) => {
                            request.push(1);
                            request.extend_from_slice(&v4.octets());
                        }
                        std::net::IpAddr::V6(v6) => {
                            request.push(4);
                            request.extend_from_slice(&v6.octets());
                        }
                    }
                } else {
                    let len = u8::try_from(host.len()).map_err(|_| ProxyError::TooLong("host"))?;
                    request.extend_from_slice(&[3, len]);
                    request.extend_from_slice(host.as_bytes());
                }
                request.extend_from_slice(&port.to_be_bytes());
                let user_password = match &proxy.credentials {
                    Some((user, password)) => {
                        let ulen = u8::try_from(user.len())
                            .map_err(|_| ProxyError::TooLong("user name"))?;
                        let plen = u8::try_from(password.len())
                            .map_err(|_| ProxyError::TooLong("password"))?;
                        let mut message = vec![1, ulen];
                        message.extend_from_slice(user.as_bytes());
                        message.push(plen);
                        message.extend_from_slice(password.as_bytes());
                        Some(message)
                    }
                    None => None,
                };
                // No authentication, and user name / password when we have them.
                let greeting = if user_password.is_some() {
                    vec![5, 2, 0, 2]
                } else {
                    vec![5, 1, 0]
                };
                Ok(ProxyHandshake {
                    step: Step::Method,
                    output: greeting,
                    input: Vec::new(),
                    request,
                    user_password,
                })
            }
        }
    }

    /// The bytes to write to the proxy now (empty when there are none).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// How many bytes to read next, at most; zero once the tunnel is up.
    pub fn wants(&self) -> usize {
        let have = self.input.len();
        match self.step {
            // Up to the end of the head and not past it: as many bytes as "\r\n\r\n" lacks.
            Step::HttpResponse => {
                let matched = (1..=4)
                    .rev()
                    .find(|&n| self.input.ends_with(&b"\r\n\r\n"[..n]))
                    .unwrap_or(0);
                4 - matched
            }
            Step::Method | Step::UserPassword => 2 - have,
            Step::ReplyHead => 4 - have,
            Step::ReplyTail(n) => n - have,
            Step::ReplyNameLength => 1 - have,
            Step::Done => 0,
        }
    }

    /// Whether the tunnel is up.
    pub fn is_done(&self) -> bool {
        matches!(self.step, Step::Done)
    }

    /// Bytes read from the proxy (at most [`wants`](Self::wants)).
    pub fn read(&mut self, data: &[u8]) -> Result<(), ProxyError> {
        if data.is_empty() {
            return Err(ProxyError::Closed);
        }
        if data.len() > self.wants() {
            return Err(ProxyError::Malformed(
                "more bytes than the handshake asked for",
            ));
        }
        self.input.extend_from_slice(data);
        if self.wants() > 0 {
            if self.input.len() > MAX_HTTP_HEAD {
                return Err(ProxyError::Malformed("HTTP response head too long"));
            }
            return Ok(());
        }
        let input = std::mem::take(&mut self.input);
        self.step = match self.step {
            Step::HttpResponse => {
                http_status(&input)?;
                Step::Done
            }
            Step::Method => match (input[0], input[1], self.user_password.take()) {
                (5, 0, _) => self.send_request(),
                (5, 2, Some(message)) => {
                    self.output = message;
                    Step::UserPassword
                }
                (5, 0xFF, _) | (5, 2, None) => return Err(ProxyError::NoAcceptableMethod),
                (5, _, _) => return Err(ProxyError::Malformed("SOCKS5 method not offered")),
                _ => return Err(ProxyError::Malformed("not a SOCKS5 version")),
            },
            Step::UserPassword => match input[1] {
                0 => self.send_request(),
                _ => return Err(ProxyError::Socks5Authentication),
            },
            Step::ReplyHead => {
                if input[0] != 5 {
                    return Err(ProxyError::Malformed("not a SOCKS5 reply"));
                }
                if input[1] != 0 {
                    return Err(ProxyError::Socks5Reply(socks5_reply(input[1])));
                }
                match input[3] {
                    1 => Step::ReplyTail(4 + 2),
                    4 => Step::ReplyTail(16 + 2),
                    3 => Step::ReplyNameLength,
                    _ => return Err(ProxyError::Malformed("SOCKS5 address type")),
                }
            }
            Step::ReplyNameLength => Step::ReplyTail(usize::from(input[0]) + 2),
            Step::ReplyTail(_) => Step::Done,
            Step::Done => Step::Done,
        };
        Ok(())
    }

    fn send_request(&mut self) -> Step {
        self.output = std::mem::take(&mut self.request);
        Step::ReplyHead
    }
}

/// Checks an HTTP response head: a 2xx status opens the tunnel.
fn http_status(head: &[u8]) -> Result<(), ProxyError> {
    let line_end = head
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end])
        .map_err(|_| ProxyError::Malformed("HTTP status line is not text"))?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(ProxyError::Malformed("not an HTTP/1 response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(ProxyError::Malformed("HTTP status code"))?;
    match status {
        200..=299 => Ok(()),
        401 | 407 => Err(ProxyError::AuthenticationRequired(status)),
        _ => Err(ProxyError::HttpStatus {
            status,
            reason: parts.next().unwrap_or_default().to_string(),
        }),
    }
}

/// RFC 1928 section 6's reply codes.
fn socks5_reply(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned reply code",
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
