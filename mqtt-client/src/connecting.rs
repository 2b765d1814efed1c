//! A connection attempt, as the loops run it: the credentials provider first (see
//! [`crate::credentials`]), then the transport, then CONNECT; and the attempts that fail
//! before MQTT begins, the plain connection that meets a TLS port among them.

use bytes::BytesMut;
use mqtt_proto::MqttString;
use mqtt_session::State;
use std::future::Future;
use std::time::Instant;

use crate::credentials::{invalid, ConnectCredentials, SharedCredentialsProvider};
use crate::driver::Driver;
use crate::report::ConnectionEvent;

/// The part of a connection attempt before its transport: the credentials (see the module
/// docs). Made by [`Driver::attempt`].
#[derive(Debug)]
pub struct Attempt {
    provider: Option<SharedCredentialsProvider>,
}

/// A transport that is up, with the credentials asked for it.
#[derive(Debug)]
pub struct Prepared<T> {
    transport: T,
    credentials: Option<ConnectCredentials>,
}

impl Attempt {
    /// Asks the provider (if any), then runs `connect`, the transport's opening. A failed
    /// provider fails the attempt before any connection is made.
    pub async fn run<T>(
        self,
        connect: impl Future<Output = std::io::Result<T>>,
    ) -> std::io::Result<Prepared<T>> {
        let credentials = match &self.provider {
            Some(provider) => Some(
                provider
                    .0
                    .credentials()
                    .await
                    .map_err(std::io::Error::other)?,
            ),
            None => None,
        };
        Ok(Prepared {
            transport: connect.await?,
            credentials,
        })
    }
}

impl Driver {
    /// A connection attempt to the server of [`Driver::server_to_connect`]: run it around the
    /// transport's opening, within [`Options::connect_timeout`](crate::Options), and hand
    /// its outcome to [`Driver::attempt_outcome`].
    pub fn attempt(&self) -> Attempt {
        Attempt {
            provider: self.options().credentials_provider.clone(),
        }
    }

    /// An attempt's outcome: `None` when it timed out, else what [`Attempt::run`] returned.
    /// Hands back the transport when it is up and its credentials fit in a CONNECT.
    pub fn attempt_outcome<T>(
        &mut self,
        now: Instant,
        outcome: Option<std::io::Result<Prepared<T>>>,
    ) -> Option<T> {
        let outcome = outcome.map(|result| {
            result.and_then(|prepared| {
                if let Some(credentials) = prepared.credentials {
                    self.use_credentials(credentials)?;
                }
                Ok(prepared.transport)
            })
        });
        self.connect_outcome(now, outcome)
    }

    /// Puts the provider's credentials in the next CONNECT (falling back to the options'
    /// for what it left out), or hands them to the authenticator's next exchange.
    fn use_credentials(&mut self, credentials: ConnectCredentials) -> std::io::Result<()> {
        let configured = &self.options().session;
        let username = match &credentials.username {
            Some(name) => Some(MqttString::new(name.clone()).map_err(invalid)?),
            None => configured.username.clone(),
        };
        let password = (credentials.password.clone()).or_else(|| configured.password.clone());
        let data = (credentials.authentication_data.clone())
            .or_else(|| configured.authentication_data.clone());
        let has_authenticator = self.options().authenticator.is_some();
        self.session
            .set_credentials(username, password)
            .map_err(invalid)?;
        if has_authenticator {
            // Its exchange makes the Authentication Data (see `Auth::connecting`).
            self.auth.next_credentials(credentials);
        } else {
            self.session
                .set_authentication_data(data)
                .map_err(invalid)?;
        }
        Ok(())
    }

    /// The transport to the server is up.
    pub fn connected(&mut self, now: Instant) {
        tracing::debug!(
            server = self.server_index(),
            "transport up, sending CONNECT"
        );
        self.auth.connecting(now, &mut self.session);
    }

    /// A connection attempt failed before MQTT began: try the next server after the backoff.
    pub fn connect_failed(&mut self, now: Instant, error: String) {
        tracing::warn!(server = self.server_index(), %error, "connecting failed");
        self.stats.connect_failed();
        let _ = self.events.force_send(ConnectionEvent::ConnectFailed {
            server: self.server_index(),
            error,
        });
        self.redirects.connect_failed();
        self.server = self.server.wrapping_add(1);
        self.session.handle_closed(now);
    }

    /// A connection attempt's outcome: `None` when it timed out, else what the connector
    /// returned. Hands back the transport when it is up.
    pub fn connect_outcome<T>(
        &mut self,
        now: Instant,
        attempt: Option<std::io::Result<T>>,
    ) -> Option<T> {
        match attempt {
            Some(Ok(transport)) => {
                self.connected(now);
                return Some(transport);
            }
            Some(Err(error)) => self.connect_failed(now, error.to_string()),
            None => self.connect_failed(now, "connect timed out".into()),
        }
        None
    }

    /// A plain (`mqtt://`, `ws://`) connection whose server answers the CONNECT in TLS (an
    /// alert record, 0x15, or a handshake record, 0x16, then version 3): a TLS port. MQTT has
    /// no packet a server sends that starts so (type 1 is CONNECT), so this is no guess. The
    /// attempt is reported as failed with the reason, and the connection closed.
    pub(crate) fn answered_in_tls(&mut self, now: Instant, buf: &mut BytesMut) -> bool {
        let plain = self
            .options()
            .servers
            .get(self.server_index())
            .is_some_and(|s| !s.scheme.is_tls());
        let tls_record = matches!(buf.first(), Some(0x15 | 0x16))
            && buf.get(1).is_none_or(|&version| version == 3);
        if !plain || self.session.state() != State::Connecting || !tls_record {
            return false;
        }
        buf.clear();
        self.stats.connect_failed();
        let error = "the server answered in TLS: this is a TLS port, use mqtts:// (or wss://)";
        let _ = self.events.force_send(ConnectionEvent::ConnectFailed {
            server: self.server_index(),
            error: error.into(),
        });
        tracing::warn!(server = self.server_index(), error, "connecting failed");
        // The loop closes the transport now that the session is done with it.
        self.session.handle_closed(now);
        true
    }
}
