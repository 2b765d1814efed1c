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

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::{MqttString, PublishProperties, QosPid, SubscriptionIdentifier};

    fn with_properties() -> Message {
        let topic = TopicName::try_from("sensors/1").unwrap();
        let mut publish = Publish::new(
            topic,
            "21.5",
            QosPid::ExactlyOnce(PacketId::new(7).unwrap()),
        );
        publish.retain = true;
        publish.dup = true;
        let p = &mut publish.properties;
        p.payload_format_indicator = Some(PayloadFormat::Utf8);
        p.message_expiry_interval = Some(120);
        p.set_content_type(Some(MqttString::new("text/plain").unwrap()))
            .unwrap();
        p.set_response_topic(Some(TopicName::try_from("replies/1").unwrap()))
            .unwrap();
        p.set_correlation_data(Some(Bytes::from_static(b"c-1")))
            .unwrap();
        p.push_user_property("unit", "celsius").unwrap();
        p.push_user_property("unit", "kelvin").unwrap();
        p.set_subscription_identifiers(
            [3, 9]
                .into_iter()
                .filter_map(SubscriptionIdentifier::new)
                .collect(),
        )
        .unwrap();
        Message::new(publish, None)
    }

    #[test]
    fn the_accessors_read_the_publish_and_its_v5_properties() {
        let m = with_properties();
        assert_eq!(m.topic().as_str(), "sensors/1");
        assert_eq!(m.payload(), &Bytes::from_static(b"21.5"));
        assert_eq!(m.qos(), QoS::ExactlyOnce);
        assert!(m.retain());
        assert!(m.dup());
        assert_eq!(m.packet_id(), PacketId::new(7));
        assert_eq!(m.ack_token(), None);
        assert_eq!(m.content_type().as_deref(), Some("text/plain"));
        assert_eq!(m.response_topic().as_deref(), Some("replies/1"));
        assert_eq!(m.correlation_data(), Some(Bytes::from_static(b"c-1")));
        let pairs: Vec<(&str, &str)> = m.user_properties().collect();
        assert_eq!(pairs, [("unit", "celsius"), ("unit", "kelvin")]);
        assert_eq!(m.message_expiry_interval(), Some(120));
        assert_eq!(m.payload_format_indicator(), Some(PayloadFormat::Utf8));
        let ids: Vec<u32> = m
            .subscription_identifiers()
            .iter()
            .map(|i| i.get())
            .collect();
        assert_eq!(ids, [3, 9]);
    }

    /// A message without properties (every MQTT 3.1.1 message) reads as none.
    #[test]
    fn a_message_without_properties_reads_as_none() {
        let topic = TopicName::try_from("t").unwrap();
        let m = Message::new(Publish::new(topic, "x", QosPid::AtMostOnce), None);
        assert!(!m.retain() && !m.dup());
        assert_eq!(m.packet_id(), None);
        assert_eq!(m.content_type(), None);
        assert_eq!(m.response_topic(), None);
        assert_eq!(m.correlation_data(), None);
        assert_eq!(m.user_properties().count(), 0);
        assert_eq!(m.message_expiry_interval(), None);
        assert_eq!(m.payload_format_indicator(), None);
        assert!(m.subscription_identifiers().is_empty());
        assert_eq!(m.publish().properties, PublishProperties::default());
    }

    /// User properties read the same from a decoded PUBLISH, where they share the read
    /// buffer with the other properties, as from one built by hand.
    #[test]
    fn user_properties_read_from_a_decoded_publish() {
        let built = with_properties();
        let mut wire = bytes::BytesMut::new();
        mqtt_proto::Packet::Publish(built.publish().clone())
            .encode(mqtt_proto::ProtocolVersion::V5, &mut wire)
            .unwrap();
        // Sent by the server: only a server sends Subscription Identifiers.
        let decoder =
            mqtt_proto::Decoder::new(mqtt_proto::ProtocolVersion::V5, mqtt_proto::Role::Server);
        let decoded = decoder.decode(&mut wire);
        let Ok(mqtt_proto::Decoded::Packet(mqtt_proto::Packet::Publish(publish))) = decoded else {
            panic!("{decoded:?}");
        };
        let m = Message::new(publish, None);
        assert_eq!(m, built);
        let pairs: Vec<(&str, &str)> = m.user_properties().collect();
        assert_eq!(pairs, [("unit", "celsius"), ("unit", "kelvin")]);
        assert_eq!(m.content_type().as_deref(), Some("text/plain"));
    }
}
