//! Connection options: from a URL (`mqtt://`, `mqtts://`, `ws://`, `wss://`, with user and
//! password) or a builder, with several servers for fail-over.

use bytes::Bytes;
use mqtt_proto::{MqttString, ProtocolVersion};
use mqtt_session::Config;
use std::time::Duration;

/// How to reach a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `mqtt://`: plain TCP (default port 1883).
    Mqtt,
    /// `mqtts://`: TLS over TCP (default port 8883).
    Mqtts,
    /// `ws://`: WebSocket (default port 80, path `/mqtt`).
    Ws,
    /// `wss://`: WebSocket over TLS (default port 443, path `/mqtt`).
    Wss,
}

impl Scheme {
    /// Whether the transport is encrypted.
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// Whether the transport is a WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }
}

/// User name and optional password found in a URL.
pub type Credentials = (String, Option<String>);

/// One server to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Server {
    /// The transport.
    pub scheme: Scheme,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// WebSocket path (`/mqtt` by default).
    pub path: String,
}

impl Server {
    /// The WebSocket URL of a `ws://` or `wss://` server (IPv6 hosts in brackets).
    pub fn websocket_url(&self) -> String {
        let scheme = if self.scheme == Scheme::Wss {
            "wss"
        } else {
            "ws"
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }

    /// The name TLS sends as SNI and verifies the server's certificate against: the host of
    /// the URL (a DNS name or an IP address).
    pub fn tls_name(&self) -> std::io::Result<rustls::pki_types::ServerName<'static>> {
        rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    }

    /// Parses `scheme://[user[:password]@]host[:port][/path]`; returns the server and the
    /// credentials found in it.
    pub fn parse(url: &str) -> Result<(Server, Option<Credentials>), OptionsError> {
        let bad = || OptionsError::Url(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((cred, hp)) => {
                let (user, pass) = match cred.split_once(':') {
                    Some((u, p)) => (percent_decode(u), Some(percent_decode(p))),
                    None => (percent_decode(cred), None),
                };
                (Some((user, pass)), hp)
            }
            None => (None, authority),
        };
        let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => scheme.default_port(),
                None => return Err(bad()),
            };
            (host.to_string(), port)
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (host_port.to_string(), scheme.default_port()),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let path = if path.is_empty() {
            "/mqtt".to_string()
        } else {
            path.to_string()
        };
        Ok((
            Server {
                scheme,
                host,
                port,
                path,
            },
            credentials,
        ))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why options could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// TLS settings could not be made.
    #[error(transparent)]
    Tls(#[from] crate::TlsError),
    /// The URL is not `scheme://[user[:password]@]host[:port][/path]` with a known scheme.
    #[error("invalid server URL {0:?}")]
    Url(String),
    /// A field is not a valid MQTT string.
    #[error("invalid field: {0}")]
    Field(#[from] mqtt_proto::Error),
    /// No server was given.
    #[error("no server given")]
    NoServer,
    /// A proxy setting (an environment variable's URL) is invalid.
    #[error(transparent)]
    Proxy(#[from] crate::ProxyError),
}

/// Everything a driver needs to run a connection: the servers, the session configuration, and
/// the driver's own limits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Servers, tried in order for fail-over.
    pub servers: Vec<Server>,
    /// The session configuration (protocol version, client id, keep-alive, credentials, ...).
    pub session: Config,
    /// How long a connection attempt may take: the credentials provider, TCP (and a proxy,
    /// TLS, WebSocket).
    pub connect_timeout: Duration,
    /// Messages a subscription buffers for its reader. A reader that falls this far behind
    /// never stalls the connection: further QoS 0 messages are dropped for it and counted
    /// (`Delivery::Lagged`); QoS 1/2 messages wait unacknowledged, so the server stops sending
    /// once its in-flight window (our Receive Maximum) is full, and resumes as the reader
    /// catches up. Keep-alive and other subscriptions go on meanwhile.
    pub subscription_capacity: usize,
    /// Commands (publish, subscribe, ...) waiting for the connection task; callers wait
    /// (backpressure) when it is full. Default 64. The queue holds memory only for the
    /// commands in it (about 40 bytes each), given back once the connection is quiet, so a
    /// larger queue costs an idle client nothing. A smaller one costs CPU: with 16, a burst of
    /// small QoS 0 publishes took about 25% more CPU per message in `cargo bench -p mqtt-tokio
    /// --bench clients` (the connection task wakes, and writes, four times as often).
    pub command_capacity: usize,
    /// With a store and automatic acknowledgements: how many messages a subscription's reader
    /// may take before the store holds the acknowledgements of those it took (64 by default;
    /// 0 counts as 1). After a crash the server sends again what was taken in that window,
    /// QoS 2 included. With 1, that is only the message the application had in hand when the
    /// process died (the least any client can promise without the application's own record
    /// of what it processed), at the cost of a store write per message taken.
    pub takes_ahead_of_store: u32,
    /// Follow a v5 Server Reference (a CONNACK or DISCONNECT with 0x9C Use another server or
    /// 0x9D Server moved) to its server (on by default). A reference to the server it came
    /// from is not followed, nor one that would make more than four redirects in a row; the
    /// client then goes on with the next configured server. Followed or not, the reference is
    /// reported ([`ConnectionEvent::Redirected`](crate::ConnectionEvent::Redirected)).
    pub follow_server_reference: bool,
    /// How long `disconnect` waits, in all, for publishes in flight to complete before
    /// DISCONNECT and then for the server to close the connection.
    pub disconnect_timeout: Duration,
    /// TCP_NODELAY (on by default: with Nagle on, a request/response round trip takes tens of
    /// milliseconds instead of a fraction of one).
    pub nodelay: bool,
    /// TLS settings for `mqtts://` and `wss://`; `None` means [`TlsOptions::new`](crate::TlsOptions::new)
    /// (verification on, bundled roots with the `webpki-roots` feature).
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The TLS server name of [`TlsOptions::server_name`](crate::TlsOptions::server_name),
    /// if one was set (see [`Options::tls_name`]).
    pub tls_server_name: Option<String>,
    /// Where the session is kept across process restarts and crashes (see
    /// [`store`](crate::store)); `None` (the default) keeps it in memory only.
    pub store: Option<std::sync::Arc<dyn crate::Store>>,
    /// The most bytes of inbound messages the client holds for its readers at once: messages
    /// in subscription buffers, waiting for room in them, or waiting for a subscription (a
    /// resumed session's). Once it is reached the connection stops reading the socket until
    /// readers take messages, so TCP (and the server's in-flight window, our Receive Maximum)
    /// holds the rest back: a slow reader costs memory up to this bound, plus one read buffer
    /// (at most the Maximum Packet Size), not more. Default 4 MiB.
    pub inbound_budget: usize,
    /// v5 enhanced authentication (section 4.12): the method that runs each connection's
    /// exchange and [`Client::reauthenticate`](crate::Client::reauthenticate); set with
    /// [`Options::authenticator`].
    pub authenticator: Option<std::sync::Arc<dyn crate::Authenticator>>,
    /// Asked for the credentials of every connection attempt; set with
    /// [`Options::credentials_provider`].
    pub credentials_provider: Option<crate::SharedCredentialsProvider>,
    /// The proxies servers are reached through (none by default); set with
    /// [`Options::proxy`], [`Options::proxies`] or [`Options::proxy_from_env`].
    pub proxies: crate::Proxies,
    /// How the WebSocket handshake of `ws://` and `wss://` servers is made (path, headers,
    /// signer); set with [`Options::websocket`].
    pub websocket: crate::WebSocketOptions,
}

impl Options {
    /// Options for one server URL, v5, a client id, and defaults for the rest. User and
    /// password in the URL become the credentials.
    pub fn new(url: &str, client_id: &str) -> Result<Options, OptionsError> {
        let (server, credentials) = Server::parse(url)?;
        let mut session = Config::new(ProtocolVersion::V5, MqttString::new(client_id.to_string())?);
        // Each client draws its own reconnect jitter: with one seed for all, a fleet that lost
        // its broker would come back in lockstep.
        session.random_seed = random_seed();
        if let Some((user, pass)) = credentials {
            session.username = Some(MqttString::new(user)?);
            session.password = pass.map(Bytes::from);
        }
        Ok(Options {
            servers: vec![server],
            session,
            connect_timeout: Duration::from_secs(10),
            subscription_capacity: 1024,
            command_capacity: 64,
            takes_ahead_of_store: 64,
            follow_server_reference: true,
            disconnect_timeout: Duration::from_secs(5),
            nodelay: true,
            tls: None,
            tls_server_name: None,
            store: None,
            inbound_budget: 4 * 1024 * 1024,
            authenticator: None,
            credentials_provider: None,
            proxies: crate::Proxies::none(),
            websocket: crate::WebSocketOptions::new(),
        })
    }

    /// Adds a fail-over server.
    pub fn server(mut self, url: &str) -> Result<Options, OptionsError> {
        self.servers.push(Server::parse(url)?.0);
        Ok(self)
    }

    /// Sets the protocol version.
    pub fn protocol_version(mut self, version: ProtocolVersion) -> Self {
        self.session.protocol_version = version;
        self
    }

    /// For a v5 client: when the server speaks only MQTT 3.1.1 (it answers the v5 CONNECT
    /// with a v3.1.1 CONNACK "unacceptable protocol version", or closes the connection before
    /// any answer), connect with 3.1.1 from the next attempt on, for the client's life, as
    /// paho's clients do. Off by default: such a server is then reported as
    /// [`DisconnectReason::V5NotSupported`](mqtt_session::DisconnectReason::V5NotSupported)
    /// and not retried (see [`Config::v311_fallback`](mqtt_session::Config::v311_fallback)).
    /// With a store, a session saved after the fallback loads again as 3.1.1.
    pub fn fallback_to_v311(mut self, fallback: bool) -> Self {
        self.session.v311_fallback = fallback;
        self
    }

    /// Sets the keep-alive.
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.session.keep_alive = keep_alive;
        self
    }

    /// Sets Clean Start for the first connection.
    pub fn clean_start(mut self, clean: bool) -> Self {
        self.session.clean_start = clean;
        self
    }

    /// Sets the v5 Session Expiry Interval in seconds.
    pub fn session_expiry(mut self, seconds: u32) -> Self {
        self.session.session_expiry_interval = seconds;
        self
    }

    /// Sets user name and password.
    pub fn credentials(mut self, user: &str, password: &[u8]) -> Result<Self, OptionsError> {
        self.session.username = Some(MqttString::new(user.to_string())?);
        self.session.password = Some(Bytes::copy_from_slice(password));
        Ok(self)
    }

    /// Asks `provider` for the user name, password and authentication data before every
    /// connection attempt, the first and each reconnect (see [`CredentialsProvider`](crate::CredentialsProvider)):
    /// a token that expires is fetched fresh for each CONNECT. What it leaves out comes from
    /// these options; with an [`authenticator`](Options::authenticator), its exchange gets
    /// them too. The provider's wait counts in [`Options::connect_timeout`]; a provider that
    /// fails fails that attempt
    /// ([`ConnectionEvent::ConnectFailed`](crate::ConnectionEvent::ConnectFailed)), and the
    /// next one asks again.
    pub fn credentials_provider(
        mut self,
        provider: impl crate::CredentialsProvider + 'static,
    ) -> Self {
        self.credentials_provider = Some(crate::SharedCredentialsProvider(std::sync::Arc::new(
            provider,
        )));
        self
    }

    /// Reaches every server through `proxy` (HTTP CONNECT or SOCKS5): TLS and WebSocket run
    /// through its tunnel, end to end with the server.
    pub fn proxy(mut self, proxy: crate::Proxy) -> Self {
        self.proxies = crate::Proxies::all(proxy);
        self
    }

    /// Reaches servers through `proxies` (one per kind of server, with exceptions).
    pub fn proxies(mut self, proxies: crate::Proxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// Reaches servers through the proxies the environment names, read now (`http_proxy`,
    /// `https_proxy`, `all_proxy`, `no_proxy`, lower or upper case; see
    /// [`Proxies::from_env`](crate::Proxies::from_env)). Off unless asked for: an MQTT
    /// connection is not HTTP, and a proxy meant for browsers may not carry it.
    pub fn proxy_from_env(mut self) -> Result<Self, OptionsError> {
        self.proxies = crate::Proxies::from_env()?;
        Ok(self)
    }

    /// Makes the WebSocket handshake of `ws://` and `wss://` servers so: a path of its own,
    /// headers, a signing hook (see [`WebSocketOptions`](crate::WebSocketOptions)).
    pub fn websocket(mut self, websocket: crate::WebSocketOptions) -> Self {
        self.websocket = websocket;
        self
    }

    /// Sets the will.
    pub fn will(mut self, will: mqtt_proto::Will) -> Self {
        self.session.will = Some(will);
        self
    }

    /// Authenticates with `authenticator` (v5 enhanced authentication, section 4.12, e.g.
    /// [`ScramSha256`](crate::ScramSha256)): its method goes in every CONNECT with a new
    /// exchange's initial data, the server's challenges are answered, and the server's final
    /// data is checked before the connection is used; a failed check closes the connection
    /// with DISCONNECT 0x87 Not authorized
    /// ([`ConnectionEvent::AuthenticationFailed`](crate::ConnectionEvent::AuthenticationFailed)).
    /// Needs MQTT v5 (the client does not start otherwise).
    pub fn authenticator(
        mut self,
        authenticator: impl crate::Authenticator + 'static,
    ) -> Result<Self, OptionsError> {
        self.session.authentication_method =
            Some(MqttString::new(authenticator.method().to_string())?);
        self.session.authentication_data = None;
        self.authenticator = Some(std::sync::Arc::new(authenticator));
        Ok(self)
    }

    /// The rustls configuration for `mqtts://` and `wss://`: the one set with
    /// [`Options::tls`], or the default (verification on, bundled roots with the
    /// `webpki-roots` feature).
    pub fn tls_config(&self) -> std::io::Result<std::sync::Arc<rustls::ClientConfig>> {
        match &self.tls {
            Some(config) => Ok(config.clone()),
            None => crate::TlsOptions::new()
                .build()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
        }
    }

    /// Uses these TLS settings for `mqtts://` and `wss://` servers.
    pub fn tls(mut self, tls: crate::TlsOptions) -> Result<Self, crate::TlsError> {
        if let Some(name) = &tls.server_name {
            rustls::pki_types::ServerName::try_from(name.as_str())
                .map_err(|_| crate::TlsError::ServerName(name.clone()))?;
        }
        self.tls_server_name = tls.server_name.clone();
        self.tls = Some(tls.build()?);
        Ok(self)
    }

    /// The name TLS sends as SNI and verifies `server`'s certificate against: the one set
    /// with [`TlsOptions::server_name`](crate::TlsOptions::server_name), else the URL's host.
    pub fn tls_name(
        &self,
        server: &Server,
    ) -> std::io::Result<rustls::pki_types::ServerName<'static>> {
        match &self.tls_server_name {
            Some(name) => rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
            None => server.tls_name(),
        }
    }

    /// Asks the server for Response Information in CONNECT (v5): when it sends some, the
    /// response topic of [`Client::request`](crate::Client::request) starts with it (a
    /// server may only let clients subscribe below the topics it hands out).
    pub fn request_response_information(mut self, ask: bool) -> Self {
        self.session.request_response_information = ask;
        self
    }

    /// Acknowledge inbound QoS 1/2 messages only when the application calls `Client::ack`.
    pub fn manual_acks(mut self, manual: bool) -> Self {
        self.session.manual_acks = manual;
        self
    }

    /// Keeps the session in `store`: loaded when the client starts, saved before anything
    /// that depends on a change goes to the server (see [`store`](crate::store)). Use it with
    /// `clean_start(false)` and a session expiry, so that the server keeps its half of the
    /// session too.
    pub fn store(mut self, store: impl crate::Store + 'static) -> Self {
        self.store = Some(std::sync::Arc::new(store));
        self
    }
}

/// A seed from the operating system's randomness: std's hash keys are drawn from it (once per
/// thread, then varied for every `RandomState`).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (s, c) = Server::parse("mqtt://localhost").unwrap();
        assert_eq!(
            (s.scheme, s.host.as_str(), s.port, c),
            (Scheme::Mqtt, "localhost", 1883, None)
        );
        let (s, c) = Server::parse("mqtts://alice:s%3Acret@broker.example:8884").unwrap();
        assert_eq!((s.scheme, s.port), (Scheme::Mqtts, 8884));
        assert_eq!(c, Some(("alice".into(), Some("s:cret".into()))));
        let (s, _) = Server::parse("wss://[::1]:9001/ws").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.path.as_str()),
            ("::1", 9001, "/ws")
        );
        let (s, _) = Server::parse("ws://h").unwrap();
        assert_eq!((s.port, s.path.as_str()), (80, "/mqtt"));
        assert!(Server::parse("http://h").is_err());
        assert!(Server::parse("mqtt://:1883").is_err());
        assert!(Server::parse("mqtt://h:notaport").is_err());
    }
}
