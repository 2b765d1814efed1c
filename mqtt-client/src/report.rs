//! What the client reports to the application: errors, delivered messages, connection events
//! and publish completions. Plain data, below every other part of the client.

use bytes::Bytes;
use mqtt_proto::{PacketId, Publish, QoS, ReasonCode, TopicName};
use mqtt_session::{
    AckToken, DisconnectReason, OutboundMessage, PublishFailure, PublishId, ReconnectStop,
    ServerLimits,
};
use std::time::Duration;

/// What can go wrong with a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The session refused the command (queue full, no free packet id, a server limit, an
    /// invalid packet, ...).
    #[error(transparent)]
    Session(#[from] mqtt_session::Error),
    /// The publish ended without delivery.
    #[error("publish failed: {0:?}")]
    PublishFailed(PublishFailure),
    /// The server refused every filter of a SUBSCRIBE: the reason code of each, in filter
    /// order. (When it grants some, the subscribe succeeds with the granted ones and
    /// [`Subscription::results`](crate::Subscription::results) says which were refused.)
    #[error("subscription refused: {0:?}")]
    SubscribeFailed(Vec<ReasonCode>),
    /// [`Subscription::unsubscribe_filters`](crate::Subscription::unsubscribe_filters) named
    /// a filter the subscription does not hold.
    #[error("the subscription does not hold the filter {0:?}")]
    NotSubscribed(String),
    /// The connection task has ended (after `disconnect`, or when it was dropped).
    #[error("the connection task has ended")]
    Closed,
    /// No response came in time ([`Client::request`](crate::Client::request)).
    #[error("no response in time")]
    Timeout,
    /// The command needs what this connection does not have (request/response needs MQTT 5).
    #[error("not available on this connection: {0}")]
    Unsupported(&'static str),
    /// Enhanced authentication failed on the client's side (the server's data did not pass
    /// the authenticator's check): the connection was closed with 0x87 Not authorized.
    #[error("enhanced authentication failed: {0}")]
    Auth(#[from] crate::AuthError),
    /// The connection ended before the command was done, for this reason (a
    /// re-authentication the server refused ends with its DISCONNECT, e.g. 0x87 Not
    /// authorized).
    #[error("the connection ended: {0}")]
    Disconnected(DisconnectReason),
}

/// A message delivered to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The PUBLISH, its topic resolved. Payload and topic share the read buffer.
    pub publish: Publish,
    /// In manual-ack mode, the token for [`Client::ack`](crate::Client::ack).
    pub ack_token: Option<AckToken>,
}

impl Message {
    /// The topic.
    pub fn topic(&self) -> &TopicName {
        &self.publish.topic
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.publish.payload
    }

    /// The QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.publish.qos()
    }

    /// The response to this message, if it is a request (MQTT v5: it carries a Response
    /// Topic): `payload` to the Response Topic, at `qos`, with the request's Correlation Data
    /// [MQTT-4.10.0]. Publish it to answer; `None` when the message asks for no response.
    pub fn response(&self, payload: impl Into<Bytes>, qos: QoS) -> Option<OutboundMessage> {
        let topic = self.publish.properties.response_topic()?;
        let mut response = OutboundMessage::new(topic, payload, qos);
        let correlation = self.publish.properties.correlation_data();
        // Taken from a property that was valid when it arrived: it fits again.
        response.properties.set_correlation_data(correlation).ok()?;
        Some(response)
    }
}

/// What a subscription stream yields.
// Messages are the common case; boxing them would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A message.
    Message(Message),
    /// The reader fell behind its buffer and this many messages were dropped for this
    /// subscription (the connection and other subscriptions were not held up).
    Lagged(u64),
}

/// Connection state changes, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// Connected to `server` (index into `Options::servers`), with the server's limits.
    Connected {
        /// Which server.
        server: usize,
        /// Whether the server resumed the session.
        session_present: bool,
        /// The server's limits (boxed: the event queue's slots are as large as its largest
        /// event).
        limits: Box<ServerLimits>,
    },
    /// The connection ended.
    Disconnected(DisconnectReason),
    /// The next attempt waits this long.
    Reconnecting {
        /// The delay.
        delay: Duration,
        /// Consecutive failed attempts.
        attempt: u32,
    },
    /// A connection attempt failed before MQTT began (DNS, TCP, TLS, WebSocket).
    ConnectFailed {
        /// Which server.
        server: usize,
        /// What went wrong.
        error: String,
    },
    /// Enhanced authentication failed on the client's side: the server's data did not pass
    /// the authenticator's check (a wrong SCRAM server signature, a bad nonce, malformed
    /// data) or could not be answered. The connection is closed with DISCONNECT 0x87 Not
    /// authorized; `Disconnected(DisconnectReason::AuthenticationFailed)` follows.
    AuthenticationFailed(crate::AuthError),
    /// The server redirected us (v5: a CONNACK or DISCONNECT with 0x9C Use another server or
    /// 0x9D Server moved and a Server Reference, reported just before the
    /// [`ConnectionEvent::Disconnected`] that carries it). `followed`: the next connection
    /// goes to the reference; it does not when [`Options::follow_server_reference`] is off,
    /// when the reference names the server it came from, or after
    /// four redirects in a row (servers sending the client to each other), and the client goes
    /// on with the next configured server instead.
    ///
    /// [`Options::follow_server_reference`]: crate::Options::follow_server_reference
    Redirected {
        /// The Server Reference (its first entry, `host[:port]`).
        reference: String,
        /// Whether the next connection goes there.
        followed: bool,
    },
    /// Subscriptions made again after the server lost the session, with their results.
    Resubscribed(Vec<Result<QoS, ReasonCode>>),
    /// Saving the session to the store failed: the connection is closed and the next one
    /// tries again (see [`crate::store`]).
    StoreFailed(String),
    /// The client does not connect again by itself: reconnecting is off
    /// (`Backoff::enabled` false), or the server refused the connection for a reason that
    /// retrying cannot change (bad credentials, not authorized, banned, ...; see
    /// `Backoff::retry_refused`). [`Client::reconnect`](crate::Client::reconnect) connects again.
    ReconnectStopped(ReconnectStop),
    /// The connection task stopped for good.
    Stopped,
}

/// How a publish completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishDone {
    /// The publish.
    pub id: PublishId,
    /// Its Packet Identifier (QoS 1/2).
    pub packet_id: Option<PacketId>,
    /// PUBACK's reason code, or PUBREC's for QoS 2 (Success for QoS 0).
    pub reason_code: ReasonCode,
}
