//! v5 enhanced authentication (section 4.12) as the client runs it: an [`Authenticator`]
//! names its method and starts one [`AuthExchange`] per connection, and per
//! re-authentication; the exchange gives the initial data (CONNECT, or AUTH 0x19), answers
//! each challenge of the server (AUTH 0x18) and checks the server's final data (the CONNACK
//! that accepts the connection, or the AUTH 0x00 that ends a re-authentication).
//!
//! [`Auth`] is the driver's part: it holds the exchange of the moment, answers the session's
//! [`Event::AuthChallenge`]s, and checks a CONNACK before anything else of the connection is
//! written, so that nothing (queued publishes included) goes to a server that failed to prove
//! itself. A failed check ends the connection with DISCONNECT 0x87 Not authorized
//! ([`Session::fail_authentication`]) and is reported as
//! [`ConnectionEvent::AuthenticationFailed`].

use bytes::Bytes;
use futures_channel::oneshot;
use mqtt_proto::{AuthProperties, ReasonCode};
use mqtt_session::{DisconnectReason, Event, Session, State};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::credentials::ConnectCredentials;
use crate::report::{ClientError, ConnectionEvent};

/// A v5 enhanced authentication method (section 4.12), set with
/// [`Options::authenticator`](crate::Options::authenticator). It holds what lasts (the
/// method's name, the credentials); each connection, and each
/// [`Client::reauthenticate`](crate::Client::reauthenticate), runs an exchange of its own
/// ([`Authenticator::start`]). See [`ScramSha256`](crate::ScramSha256) for one.
pub trait Authenticator: std::fmt::Debug + Send + Sync {
    /// The Authentication Method: CONNECT and every AUTH carry it [MQTT-4.12.0-5],
    /// [MQTT-4.12.1-1].
    fn method(&self) -> &str;

    /// Begins one exchange.
    fn start(&self) -> Box<dyn AuthExchange>;

    /// Begins the exchange of a connection whose
    /// [`CredentialsProvider`](crate::CredentialsProvider) gave `credentials` (fresh for this
    /// connection). By default they are not used ([`Authenticator::start`]);
    /// [`ScramSha256`](crate::ScramSha256) takes its user name and password from them.
    fn start_with(&self, credentials: &ConnectCredentials) -> Box<dyn AuthExchange> {
        let _ = credentials;
        self.start()
    }
}

/// One run of an [`Authenticator`]'s method, for one connection or one re-authentication.
/// The driver calls [`AuthExchange::initial_data`] once, then
/// [`AuthExchange::challenge`] for each server AUTH 0x18, then [`AuthExchange::finish`] when
/// the server accepts. An error from any of them ends the connection with DISCONNECT 0x87 Not
/// authorized.
pub trait AuthExchange: std::fmt::Debug + Send + Sync {
    /// The Authentication Data of the CONNECT (or of the AUTH 0x19 Re-authenticate that
    /// starts a re-authentication).
    fn initial_data(&mut self) -> Result<Option<Bytes>, AuthError>;

    /// The answer to the server's challenge (AUTH 0x18 Continue authentication, with its
    /// Authentication Data): the data of the client's AUTH 0x18 [MQTT-4.12.0-3].
    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, AuthError>;

    /// Checks the server's final data: the Authentication Data of the CONNACK that accepted
    /// the connection, or of the AUTH 0x00 Success that ends a re-authentication.
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), AuthError>;
}

/// Why enhanced authentication failed on the client's side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The server's data is not what the method expects at this step.
    #[error("malformed authentication data from the server: {0}")]
    Malformed(&'static str),
    /// SCRAM: the server's nonce does not start with the client's, or adds nothing to it.
    #[error("the server's nonce does not extend the client's nonce")]
    Nonce,
    /// SCRAM: the server asks for an iteration count outside what the client accepts.
    #[error("iteration count {got} outside the accepted {min}..={max}")]
    IterationCount {
        /// The server's count.
        got: u32,
        /// The least accepted.
        min: u32,
        /// The most accepted.
        max: u32,
    },
    /// The server's final data does not prove that it knows the credentials (SCRAM: a wrong
    /// server signature).
    #[error("the server's final authentication data does not verify")]
    ServerNotVerified,
    /// The server reported an error in its final data (SCRAM `e=`).
    #[error("the server reported an authentication error: {0}")]
    ServerError(String),
    /// The server took a step the method does not have here: it accepted before the method
    /// was done (without proving itself), or challenged again after the last step.
    #[error("unexpected authentication step: {0}")]
    UnexpectedStep(&'static str),
    /// No authenticator is set ([`Options::authenticator`](crate::Options::authenticator)):
    /// a server's challenge cannot be answered, a re-authentication cannot start.
    #[error("no authenticator is set for enhanced authentication")]
    NoAuthenticator,
    /// The operating system gave no randomness for a nonce.
    #[error("no randomness for a nonce: {0}")]
    Random(String),
    /// An application's authenticator failed.
    #[error("{0}")]
    Other(String),
}

type Reply = oneshot::Sender<Result<(), ClientError>>;

/// The driver's part of enhanced authentication (see the module docs).
#[derive(Debug)]
pub(crate) struct Auth {
    authenticator: Option<Arc<dyn Authenticator>>,
    /// Where failures are reported.
    events: async_channel::Sender<ConnectionEvent>,
    /// The exchange under way, if any.
    exchange: Option<Box<dyn AuthExchange>>,
    /// The caller of the re-authentication under way, if any.
    reauth: Option<Reply>,
    /// Session events taken out of the session by [`Auth::after_read`], handed on in order
    /// by [`Auth::next_event`].
    held: VecDeque<Event>,
    /// What the credentials provider gave for the next connection's exchange.
    credentials: Option<ConnectCredentials>,
}

impl Auth {
    pub(crate) fn new(
        authenticator: Option<Arc<dyn Authenticator>>,
        events: async_channel::Sender<ConnectionEvent>,
    ) -> Self {
        Auth {
            authenticator,
            events,
            exchange: None,
            reauth: None,
            held: VecDeque::new(),
            credentials: None,
        }
    }

    /// The credentials provider's answer for the next connection's exchange.
    pub(crate) fn next_credentials(&mut self, credentials: ConnectCredentials) {
        self.credentials = Some(credentials);
    }

    /// A new exchange, with the credentials the provider gave last (a re-authentication uses
    /// those of its connection).
    fn start(&self, authenticator: &Arc<dyn Authenticator>) -> Box<dyn AuthExchange> {
        match &self.credentials {
            Some(credentials) => authenticator.start_with(credentials),
            None => authenticator.start(),
        }
    }

    /// A transport is up: starts the exchange of its CONNECT, whose initial data goes in it,
    /// and hands the session the connection. A method that cannot begin ends the connection
    /// at once.
    pub(crate) fn connecting(&mut self, now: Instant, session: &mut Session<Instant>) {
        self.exchange = None;
        let Some(authenticator) = &self.authenticator else {
            session.handle_connected(now);
            return;
        };
        let mut exchange = self.start(authenticator);
        let result = exchange.initial_data().and_then(|data| {
            session
                .set_authentication_data(data)
                .map_err(|e| AuthError::Other(e.to_string()))
        });
        session.handle_connected(now);
        match result {
            Ok(()) => self.exchange = Some(exchange),
            Err(error) => self.fail(now, session, error),
        }
    }

    /// After the session read bytes: answers its challenges, and checks the server's final
    /// data before the loop writes anything (once a CONNACK is read the session has its
    /// queued publishes to send). Other events wait here, in order, for
    /// [`Auth::next_event`].
    pub(crate) fn after_read(&mut self, now: Instant, session: &mut Session<Instant>) {
        if self.authenticator.is_none() && session.config().authentication_method.is_none() {
            return;
        }
        // Events a failure adds come after those of the same read: what the server sent
        // before the connection ended.
        while let Some(event) = session.poll_event() {
            match event {
                Event::AuthChallenge {
                    reason_code,
                    properties,
                } => {
                    // After a failure, the rest of what the server sent on that connection
                    // is not answered.
                    if !matches!(session.state(), State::Connecting | State::Connected) {
                        continue;
                    }
                    let data = properties.authentication_data.as_deref();
                    if let Err(error) = self.answer(now, session, reason_code, data) {
                        self.fail(now, session, error);
                    }
                }
                Event::Connected(c) => {
                    let data = c.properties.authentication_data.as_deref();
                    let checked = match self.exchange.take() {
                        Some(mut exchange) => exchange.finish(data),
                        None => Ok(()),
                    };
                    match checked {
                        Ok(()) => self.held.push_back(Event::Connected(c)),
                        // The application never hears of a connection to a server that
                        // failed to prove itself.
                        Err(error) => self.fail(now, session, error),
                    }
                }
                other => self.held.push_back(other),
            }
        }
    }

    /// The next session event for the driver: those held by [`Auth::after_read`] first. A
    /// connection that ends fails the re-authentication under way.
    pub(crate) fn next_event(&mut self, session: &mut Session<Instant>) -> Option<Event> {
        let event = self.held.pop_front().or_else(|| session.poll_event())?;
        if let Event::Disconnected(reason) = &event {
            self.ended(reason);
        }
        Some(event)
    }

    /// The connection ended: its exchange with it.
    fn ended(&mut self, reason: &DisconnectReason) {
        self.exchange = None;
        if let Some(reply) = self.reauth.take() {
            let _ = reply.send(Err(ClientError::Disconnected(reason.clone())));
        }
    }

    /// [`Client::reauthenticate`](crate::Client::reauthenticate): AUTH 0x19 Re-authenticate
    /// with a new exchange's initial data [MQTT-4.12.1-1]; `reply` gets the outcome.
    pub(crate) fn reauthenticate(
        &mut self,
        now: Instant,
        session: &mut Session<Instant>,
        reply: Reply,
    ) {
        let Some(authenticator) = &self.authenticator else {
            let _ = reply.send(Err(ClientError::Auth(AuthError::NoAuthenticator)));
            return;
        };
        if self.exchange.is_some() || !session.is_connected() {
            let why = "re-authentication needs a connection and no exchange under way";
            let _ = reply.send(Err(mqtt_session::Error::NotAvailable(why).into()));
            return;
        }
        let mut exchange = self.start(authenticator);
        let data = match exchange.initial_data() {
            Ok(data) => data,
            Err(error) => {
                let _ = reply.send(Err(ClientError::Auth(error)));
                return;
            }
        };
        let properties = AuthProperties {
            authentication_data: data,
            ..AuthProperties::default()
        };
        match session.auth(now, ReasonCode::ReAuthenticate, properties) {
            Ok(()) => {
                self.exchange = Some(exchange);
                self.reauth = Some(reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// The server's AUTH: 0x18 Continue authentication is answered with the exchange's
    /// AUTH 0x18 [MQTT-4.12.0-3]; 0x00 Success ends a re-authentication (the session lets it
    /// through only then) once its data passes the check.
    fn answer(
        &mut self,
        now: Instant,
        session: &mut Session<Instant>,
        reason_code: ReasonCode,
        data: Option<&[u8]>,
    ) -> Result<(), AuthError> {
        let Some(exchange) = self.exchange.as_mut() else {
            return Err(match self.authenticator {
                None => AuthError::NoAuthenticator,
                Some(_) => AuthError::UnexpectedStep("a challenge after the exchange ended"),
            });
        };
        if reason_code == ReasonCode::Success {
            exchange.finish(data)?;
            self.exchange = None;
            if let Some(reply) = self.reauth.take() {
                let _ = reply.send(Ok(()));
            }
            return Ok(());
        }
        let properties = AuthProperties {
            authentication_data: exchange.challenge(data)?,
            ..AuthProperties::default()
        };
        session
            .auth(now, ReasonCode::ContinueAuthentication, properties)
            .map_err(|e| AuthError::Other(e.to_string()))
    }

    /// The server's side failed: DISCONNECT 0x87 Not authorized and close, during a
    /// re-authentication [MQTT-4.12.1-2] or before CONNACK (section 4.12: the client may end
    /// the exchange at any point); reported to the application and to the caller of a
    /// re-authentication.
    fn fail(&mut self, now: Instant, session: &mut Session<Instant>, error: AuthError) {
        tracing::warn!(%error, "enhanced authentication failed: closing the connection");
        self.exchange = None;
        let _ = session.fail_authentication(now, ReasonCode::NotAuthorized);
        if let Some(reply) = self.reauth.take() {
            let _ = reply.send(Err(ClientError::Auth(error.clone())));
        }
        let _ = self
            .events
            .force_send(ConnectionEvent::AuthenticationFailed(error));
    }
}

/// The driver's turns of an exchange at simulated speed, byte for byte; the same behaviour
/// through the public `Client` on every runtime is in `mqtt-scenarios` (`scram.rs`).
#[cfg(test)]
mod tests {
    use super::AuthError;
    use crate::client::Command;
    use crate::queue::Receiver;
    use crate::{Client, ClientError, ConnectionEvent, Driver, Options, ScramSha256, StartError};
    use bytes::{Bytes, BytesMut};
    use mqtt_proto::{
        Auth, AuthProperties, ConnAck, Decoded, Decoder, MqttString, Packet, ProtocolVersion, QoS,
        ReasonCode, Role, TopicName,
    };
    use mqtt_session::OutboundMessage;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Instant;

    const V5: ProtocolVersion = ProtocolVersion::V5;
    // RFC 7677 section 3.
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                                p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn method() -> Option<MqttString> {
        Some(MqttString::new(ScramSha256::METHOD).unwrap())
    }

    fn scram_options() -> Options {
        let scram = ScramSha256::new("user", "pencil").nonce_source(|| Ok(NONCE.to_string()));
        Options::new("mqtt://127.0.0.1:1883", "scram")
            .unwrap()
            .authenticator(scram)
            .unwrap()
    }

    fn start(options: Options) -> (Client, Driver, Receiver<Command>) {
        let pair = Driver::client_pair(options, 16, Instant::now()).unwrap();
        (pair.client, pair.driver, pair.commands)
    }

    /// The packets a turn wrote.
    fn written(driver: &mut Driver, now: Instant) -> Vec<Packet> {
        let mut tx = BytesMut::new();
        let _ = driver.step(now, true, &mut tx);
        let decoder = Decoder::new(V5, Role::Client);
        let mut packets = Vec::new();
        while let Ok(Decoded::Packet(p)) = decoder.decode(&mut tx) {
            packets.push(p);
        }
        packets
    }

    /// The server sends `packet`.
    fn server(driver: &mut Driver, now: Instant, packet: Packet) {
        let mut rx = BytesMut::new();
        packet.encode(V5, &mut rx).unwrap();
        driver.read(now, &mut rx);
    }

    fn server_auth(data: &str) -> Packet {
        Packet::Auth(Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: AuthProperties {
                authentication_method: method(),
                authentication_data: Some(Bytes::copy_from_slice(data.as_bytes())),
                ..AuthProperties::default()
            },
        })
    }

    fn connack(data: &str) -> Packet {
        let mut ack = ConnAck::default();
        ack.properties.authentication_method = method();
        ack.properties.authentication_data = Some(Bytes::copy_from_slice(data.as_bytes()));
        Packet::ConnAck(Box::new(ack))
    }

    fn events(client: &Client) -> Vec<ConnectionEvent> {
        std::iter::from_fn(|| client.events().try_recv().ok()).collect()
    }

    /// The CONNECT carries client-first, the server's challenge is answered with
    /// client-final [MQTT-4.12.0-3], and the CONNACK's server-final is checked before anything
    /// else of the connection is written: with a wrong signature, a publish queued before
    /// never goes out, only DISCONNECT 0x87 does; with the right one, the publish follows.
    #[test]
    fn nothing_is_written_before_the_connack_passes_the_check() {
        for (server_final, accepted) in [
            ("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", false),
            (SERVER_FINAL, true),
        ] {
            let (client, mut driver, rx) = start(scram_options());
            let now = Instant::now();
            let message = OutboundMessage::new(TopicName::new("t").unwrap(), "x", QoS::AtLeastOnce);
            let mut queued = pin!(client.publish_message(message));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(matches!(queued.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
            driver.commands(now, rx.try_recv().unwrap(), &rx);

            driver.connected(now);
            let sent = written(&mut driver, now);
            let [Packet::Connect(connect)] = &sent[..] else {
                panic!("{sent:?}")
            };
            assert_eq!(connect.properties.authentication_method, method());
            assert_eq!(
                connect.properties.authentication_data.as_deref(),
                Some(&b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"[..])
            );
            server(&mut driver, now, server_auth(SERVER_FIRST));
            let sent = written(&mut driver, now);
            let [Packet::Auth(answer)] = &sent[..] else {
                panic!("{sent:?}")
            };
            assert_eq!(answer.reason_code, ReasonCode::ContinueAuthentication);
            assert_eq!(answer.properties.authentication_method, method());
            assert_eq!(
                answer.properties.authentication_data.as_deref(),
                Some(CLIENT_FINAL.as_bytes())
            );

            server(&mut driver, now, connack(server_final));
            let sent = written(&mut driver, now);
            let events = events(&client);
            if accepted {
                assert!(matches!(&sent[..], [Packet::Publish(_)]), "{sent:?}");
                assert!(matches!(&events[..], [ConnectionEvent::Connected { .. }]));
            } else {
                assert!(
                    matches!(&sent[..], [Packet::Disconnect(d)]
                        if d.reason_code == ReasonCode::NotAuthorized),
                    "{sent:?}"
                );
                assert_eq!(
                    events[0],
                    ConnectionEvent::AuthenticationFailed(AuthError::ServerNotVerified)
                );
                assert!(
                    !events
                        .iter()
                        .any(|e| matches!(e, ConnectionEvent::Connected { .. })),
                    "{events:?}"
                );
            }
        }
    }

    /// The bug this module fixed: a CONNECT with an Authentication Method (set in the session
    /// configuration, no authenticator to answer) met with AUTH 0x18 waited for the CONNACK
    /// deadline. Now the client closes at once with DISCONNECT 0x87 and says why.
    #[test]
    fn a_challenge_nobody_can_answer_closes_at_once() {
        let mut options = Options::new("mqtt://127.0.0.1:1883", "no-authenticator").unwrap();
        options.session.authentication_method = method();
        let (client, mut driver, _rx) = start(options);
        let now = Instant::now();
        driver.connected(now);
        assert!(matches!(
            &written(&mut driver, now)[..],
            [Packet::Connect(_)]
        ));
        server(&mut driver, now, server_auth(SERVER_FIRST));
        let sent = written(&mut driver, now);
        assert!(
            matches!(&sent[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::NotAuthorized),
            "{sent:?}"
        );
        assert_eq!(
            events(&client)[0],
            ConnectionEvent::AuthenticationFailed(AuthError::NoAuthenticator)
        );
    }

    /// An authenticator needs v5; re-authenticating needs an authenticator and a connection:
    /// without an Authentication Method in CONNECT no AUTH is sent [MQTT-4.12.0-7].
    #[test]
    fn what_an_authenticator_and_a_re_authentication_need() {
        let v311 = scram_options().protocol_version(ProtocolVersion::V311);
        assert!(matches!(
            Driver::client_pair(v311, 4, Instant::now()),
            Err(StartError::AuthenticatorNeedsV5)
        ));
        let without = Options::new("mqtt://127.0.0.1:1883", "plain").unwrap();
        for (options, expected) in [
            (without, "Auth(NoAuthenticator)"),
            (scram_options(), "Session(NotAvailable("),
        ] {
            let (client, mut driver, rx) = start(options);
            let now = Instant::now();
            let plain = expected.starts_with("Auth");
            if plain {
                driver.connected(now);
                let _ = written(&mut driver, now);
                server(&mut driver, now, Packet::ConnAck(Box::default()));
                let _ = written(&mut driver, now);
                assert!(driver.session().is_connected());
            }
            let mut cx = Context::from_waker(Waker::noop());
            let mut outcome = pin!(client.reauthenticate());
            assert!(outcome.as_mut().poll(&mut cx).is_pending());
            driver.commands(now, rx.try_recv().unwrap(), &rx);
            let Poll::Ready(Err(error)) = outcome.as_mut().poll(&mut cx) else {
                panic!("no answer")
            };
            assert!(matches!(
                error,
                ClientError::Auth(_) | ClientError::Session(_)
            ));
            assert!(format!("{error:?}").starts_with(expected), "{error:?}");
            assert_eq!(written(&mut driver, now), vec![], "no AUTH");
        }
    }
}
