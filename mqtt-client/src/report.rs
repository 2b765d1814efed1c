//! What the client reports to the application: errors, delivered messages, connection events
//! and publish completions. Plain data, below every other part of the client.

use bytes::Bytes;
use mqtt_proto::{
    MqttString, PacketId, PayloadFormat, Publish, QoS, ReasonCode, SubscriptionIdentifiers,
    TopicName,
};
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

/// A message delivered to a subscription (or to a callback, or as the answer of
/// [`Client::request`](crate::Client::request)): the PUBLISH the server sent, read through
/// accessors. The v5 properties read as `None` or empty on MQTT 3.1.1, which has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The PUBLISH, its topic resolved. Payload and topic share the read buffer.
    publish: Publish,
    /// In manual-ack mode, the token for [`Client::ack`](crate::Client::ack).
    ack_token: Option<AckToken>,
}

impl From<mqtt_session::Message> for Message {
    /// The message as the session delivered it, with its ack token when the client is in
    /// manual-ack mode.
    fn from(message: mqtt_session::Message) -> Message {
        Message::new(message.publish, message.ack_token)
    }
}

impl Message {
    pub(crate) fn new(publish: Publish, ack_token: Option<AckToken>) -> Message {
        Message { publish, ack_token }
    }

    /// The topic.
    pub fn topic(&self) -> &TopicName {
        &self.publish.topic
    }

    /// The payload (a slice of the buffer the message was read into).
    pub fn payload(&self) -> &Bytes {
        &self.publish.payload
    }

    /// The QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.publish.qos()
    }

    /// RETAIN: the server sent it from its retained messages, when the subscription began
    /// (or, with Retain As Published, it was published retained).
    pub fn retain(&self) -> bool {
        self.publish.retain
    }

    /// DUP: the server may have sent it before (QoS 1/2 only) [MQTT-3.3.1-1].
    pub fn dup(&self) -> bool {
        self.publish.dup
    }

    /// Its Packet Identifier (QoS 1/2), the server's for this delivery.
    pub fn packet_id(&self) -> Option<PacketId> {
        self.publish.packet_id()
    }

    /// In manual-ack mode, the token [`Client::ack`](crate::Client::ack) answers it with;
    /// `None` for QoS 0 and in automatic mode.
    pub fn ack_token(&self) -> Option<AckToken> {
        self.ack_token
    }

    /// Content Type (v5, 3.3.2.3.9): the payload's type, as the publisher described it.
    pub fn content_type(&self) -> Option<MqttString> {
        self.publish.properties.content_type()
    }

    /// Response Topic (v5, 3.3.2.3.5): where the publisher wants a response (see
    /// [`Message::response`]).
    pub fn response_topic(&self) -> Option<TopicName> {
        self.publish.properties.response_topic()
    }

    /// Correlation Data (v5, 3.3.2.3.6): what the response is to carry back.
    pub fn correlation_data(&self) -> Option<Bytes> {
        self.publish.properties.correlation_data()
    }

    /// User Properties (v5, 3.3.2.3.7): name and value pairs, in the order they were sent,
    /// names possibly repeated [MQTT-3.3.2-18].
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.publish.properties.user_property_pairs()
    }

    /// Message Expiry Interval (v5, 3.3.2.3.3), in seconds: what is left of the publisher's
    /// interval when the server sent it [MQTT-3.3.2-6].
    pub fn message_expiry_interval(&self) -> Option<u32> {
        self.publish.properties.message_expiry_interval
    }

    /// Payload Format Indicator (v5, 3.3.2.3.2): whether the payload is UTF-8 text.
    pub fn payload_format_indicator(&self) -> Option<PayloadFormat> {
        self.publish.properties.payload_format_indicator
    }

    /// Subscription Identifiers (v5, 3.3.2.3.8): those of the subscriptions it matched that
    /// had one [MQTT-3.3.4-3].
    pub fn subscription_identifiers(&self) -> SubscriptionIdentifiers {
        self.publish.properties.subscription_identifiers()
    }

    /// The PUBLISH packet itself, for what the accessors do not cover.
    pub fn publish(&self) -> &Publish {
        &self.publish
    }

    /// The PUBLISH packet, taken out of the message.
    pub fn into_publish(self) -> Publish {
        self.publish
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
