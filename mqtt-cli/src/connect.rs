//! From the connection flags to a connected [`Client`]: the URL, TLS, credentials, the will and
//! the `-D` properties, then a bounded wait for the CONNACK.

use crate::args::ConnectArgs;
use crate::props;
use crate::Error;
use mqtt_tokio::{Client, ConnectionEvent, Options, ProtocolVersion, QoS, TlsOptions, Will};
use std::time::Duration;

/// The QoS for a number the flags already checked (0..=2).
pub fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// `-V`: mosquitto's names, and the bare numbers.
fn version(name: &str) -> Result<ProtocolVersion, Error> {
    match name {
        "mqttv5" | "5" => Ok(ProtocolVersion::V5),
        "mqttv311" | "311" | "3.1.1" => Ok(ProtocolVersion::V311),
        "mqttv31" | "31" => Err("MQTT 3.1 is not supported; use -V mqttv311 or mqttv5".into()),
        other => Err(format!("unknown protocol version {other:?} (mqttv5 or mqttv311)").into()),
    }
}

impl ConnectArgs {
    /// Whether a TLS flag was given.
    fn wants_tls(&self) -> bool {
        self.cafile.is_some() || self.cert.is_some() || self.insecure
    }

    /// The broker URL, and the topic an `mqtt(s)://host/topic` URL names (mosquitto's `-L`).
    pub fn url_and_topic(&self) -> (String, Option<String>) {
        if let Some(url) = &self.url {
            let plain = url.starts_with("mqtt://") || url.starts_with("mqtts://");
            if let Some((scheme, rest)) = url.split_once("://").filter(|_| plain) {
                if let Some((authority, topic)) = rest.split_once('/') {
                    let topic = (!topic.is_empty()).then(|| topic.to_string());
                    return (format!("{scheme}://{authority}"), topic);
                }
            }
            return (url.clone(), None);
        }
        let tls = self.wants_tls();
        let scheme = if tls { "mqtts" } else { "mqtt" };
        let port = self.port.unwrap_or(if tls { 8883 } else { 1883 });
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        (format!("{scheme}://{host}:{port}"), None)
    }

    /// The client id: `-i`, or `-I` / `mqtt` followed by the process id.
    pub fn client_id(&self) -> String {
        match (&self.id, &self.id_prefix) {
            (Some(id), _) => id.clone(),
            (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
            (None, None) => format!("mqtt-{}", std::process::id()),
        }
    }

    /// The protocol version asked for.
    pub fn protocol_version(&self) -> Result<ProtocolVersion, Error> {
        version(&self.protocol)
    }

    /// The client's options.
    pub fn options(&self) -> Result<Options, Error> {
        self.options_with_id(&self.client_id())
    }

    /// The client's options, with this client id (bench's clients take one each).
    pub fn options_with_id(&self, id: &str) -> Result<Options, Error> {
        let (url, _) = self.url_and_topic();
        let version = self.protocol_version()?;
        let mut options = Options::new(&url, id)?
            .protocol_version(version)
            .keep_alive(Duration::from_secs(self.keepalive.into()))
            .clean_start(!self.persistent);
        if let Some(expiry) = self.session_expiry {
            options = options.session_expiry(expiry);
        }
        if let Some(user) = &self.username {
            let password = self.pw.as_deref().unwrap_or("");
            options = options.credentials(user, password.as_bytes())?;
        }
        if self.wants_tls() {
            let mut tls = TlsOptions::new();
            if let Some(path) = &self.cafile {
                tls = tls.ca_pem(&read(path)?)?;
            }
            match (&self.cert, &self.key) {
                (Some(cert), Some(key)) => {
                    tls = tls.client_certificate_pem(&read(cert)?, &read(key)?)?
                }
                (None, None) => {}
                _ => return Err("--cert and --key go together".into()),
            }
            if self.insecure {
                tls = tls.dangerous_accept_any_server_certificate();
            }
            options = options.tls(tls)?;
        }
        if let Some(topic) = &self.will_topic {
            let mut will = Will::new(
                mqtt_tokio::TopicName::new(topic.clone())?,
                self.will_payload.clone().into_bytes(),
            );
            will.qos = qos(self.will_qos);
            will.retain = self.will_retain;
            options = options.will(will);
        }
        props::apply_connect(&self.properties, &mut options)?;
        Ok(options)
    }

    /// Connects and waits for the CONNACK (at most the connect timeout and a little more).
    /// A failure of the first attempt ends the command, as mosquitto's clients do.
    pub async fn connect(&self) -> Result<Client, Error> {
        connect(self.options()?, self.debug).await
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Spawns a client with `options` and waits for its first connection.
pub async fn connect(options: Options, debug: bool) -> Result<Client, Error> {
    let limit = options.connect_timeout + Duration::from_secs(5);
    let client = mqtt_tokio::spawn(options)?;
    let wait = async {
        loop {
            match client.next_event().await {
                Some(ConnectionEvent::Connected { .. }) => return Ok(()),
                Some(ConnectionEvent::ConnectFailed { error, .. }) => return Err(error),
                Some(ConnectionEvent::Disconnected(reason)) => return Err(reason.to_string()),
                Some(ConnectionEvent::Stopped) | None => {
                    return Err("the connection task stopped".to_string())
                }
                Some(other) if debug => eprintln!("{other:?}"),
                Some(_) => {}
            }
        }
    };
    match tokio::time::timeout(limit, wait).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("connection failed: {e}").into()),
        Err(_) => return Err(format!("no CONNACK within {limit:?}").into()),
    }
    if debug {
        let events = client.events();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                eprintln!("{event:?}");
            }
        });
    }
    Ok(client)
}

/// Disconnects gracefully, bounded by the options' disconnect timeout and a margin.
pub async fn disconnect(client: &Client) -> Result<(), Error> {
    match tokio::time::timeout(Duration::from_secs(10), client.disconnect()).await {
        Ok(result) => Ok(result?),
        Err(_) => Err("disconnect did not finish within 10 s".into()),
    }
}
