//! What the session tells the application, the handles it gives out, and its errors.

use crate::violation::ProtocolViolation;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;
use mqtt_proto::{
    AckProperties, AuthProperties, ConnAckProperties, DisconnectProperties, EncodeError,
    MqttString, PacketId, Publish, QoS, ReasonCode,
};

/// Names one publish for its whole life, across reconnects. Unlike a Packet Identifier it is
/// never reused, so a handle kept after its message completed can never match a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishId(pub(crate) u64);

impl PublishId {
    /// The sequence number: publishes of one session count up from 1.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What [`Session::publish`](crate::Session::publish) hands back at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublishTicket {
    /// The publish's lasting name.
    pub id: PublishId,
    /// The Packet Identifier it was given (QoS 1 and 2).
    pub packet_id: Option<PacketId>,
}

/// Names one SUBSCRIBE or UNSUBSCRIBE request, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The sequence number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Names one subscription (one topic filter of a [`Session::subscribe`](crate::Session::subscribe)
/// call) for routing inbound messages to it. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionKey(pub(crate) u64);

impl SubscriptionKey {
    /// The sequence number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The token of an inbound QoS 1/2 message in manual-ack mode; hand it to
/// [`Session::ack`](crate::Session::ack) once the message is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AckToken(pub(crate) u64);

/// An application message received from the server, its topic already resolved from any Topic
/// Alias. The payload is a slice of the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The PUBLISH as received, with `topic` filled in.
    pub publish: Publish,
    /// In manual-ack mode, the token to acknowledge a QoS 1/2 message with.
    pub ack_token: Option<AckToken>,
}

/// The server's limits and grants, from CONNACK (v5 properties, defaults for v3.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Receive Maximum: QoS 1/2 publishes the server accepts unacknowledged.
    pub receive_maximum: u16,
    /// The highest QoS the server accepts.
    pub maximum_qos: QoS,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// The largest packet the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// Topic aliases the server accepts from us.
    pub topic_alias_maximum: u16,
    /// Wildcard subscriptions supported.
    pub wildcard_subscription_available: bool,
    /// Subscription identifiers supported.
    pub subscription_identifier_available: bool,
    /// Shared subscriptions supported.
    pub shared_subscription_available: bool,
    /// The keep-alive in force (the server's, when it sent one).
    pub keep_alive: Duration,
    /// Session expiry the server chose, when it overrode ours.
    pub session_expiry_interval: Option<u32>,
}

impl ServerLimits {
    pub(crate) fn v311(keep_alive: Duration) -> Self {
        ServerLimits {
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_subscription_available: true,
            subscription_identifier_available: false,
            shared_subscription_available: true,
            keep_alive,
            session_expiry_interval: None,
        }
    }
}

/// A connection came up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Whether the server resumed the session.
    pub session_present: bool,
    /// The server's limits.
    pub limits: ServerLimits,
    /// The client identifier in use (assigned by the server when ours was empty).
    pub client_id: MqttString,
    /// The CONNACK's other properties (Response Information, Reason String, User Properties).
    pub properties: ConnAckProperties,
}

/// Why a connection ended. Its text (`Display`) names the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisconnectReason {
    /// The transport closed or failed ([`Session::handle_closed`](crate::Session::handle_closed)).
    #[error("the transport closed")]
    TransportClosed,
    /// The application asked for it.
    #[error("the application disconnected")]
    Local,
    /// The server refused the connection in its CONNACK, with its reason and the CONNACK's
    /// properties (v5: Reason String, Server Reference for a redirect, User Properties; none
    /// on v3.1.1). Whether retrying can help: [`DisconnectReason::is_permanent`].
    #[error(
        "the server refused the connection{how}: {0}{why}",
        how = if crate::reconnect::is_permanent_refusal(*.0) { " for good" } else { "" },
        why = reason_string(.1.reason_string.as_ref())
    )]
    Refused(ReasonCode, Box<ConnAckProperties>),
    /// The server sent DISCONNECT (v5), with its reason and properties (Reason String, Server
    /// Reference for a redirect).
    #[error("the server disconnected: {0}{why}", why = reason_string(.1.reason_string.as_ref()))]
    Server(ReasonCode, Box<DisconnectProperties>),
    /// The server broke the protocol: the rule it broke, and the reason code of the
    /// DISCONNECT the session sent (v5) before it closed the connection.
    #[error("protocol error by the server ({0}): {1}")]
    ProtocolError(ReasonCode, ProtocolViolation),
    /// The server does not support MQTT 5: it answered the v5 CONNECT with a v3.1.1 CONNACK
    /// refusing the protocol version (return code 0x01), as a server that knows only 3.1.1
    /// does. `fallback`: the next connection speaks MQTT 3.1.1
    /// ([`Config::v311_fallback`](crate::Config::v311_fallback)); without it this is a
    /// refusal for good ([`DisconnectReason::is_permanent`]).
    #[error(
        "the server does not support MQTT 5 (it answered with a v3.1.1 CONNACK: unacceptable protocol version){next}",
        next = if *fallback { "; the next connection speaks MQTT 3.1.1" } else { "" }
    )]
    V5NotSupported {
        /// Whether the session falls back to MQTT 3.1.1.
        fallback: bool,
    },
    /// The client ended the connection because the server's side of enhanced authentication
    /// failed its check (v5; see
    /// [`Session::fail_authentication`](crate::Session::fail_authentication)), with a
    /// DISCONNECT of this reason code.
    #[error("the server failed enhanced authentication: {0}")]
    AuthenticationFailed(ReasonCode),
    /// No CONNACK arrived in time.
    #[error("no CONNACK within the connack timeout")]
    ConnAckTimeout,
    /// No PINGRESP (or any packet) arrived in time after a PINGREQ.
    #[error("no answer to PINGREQ within the response timeout")]
    KeepAliveTimeout,
}

impl DisconnectReason {
    /// Whether this is a refusal that connecting again with the same CONNECT cannot change:
    /// the credentials, the client, its protocol version or its CONNECT are refused (v5 0x84
    /// Unsupported protocol version, 0x85 Client identifier not valid, 0x86 Bad user name or
    /// password, 0x87 Not authorized, 0x8A Banned, 0x8C Bad authentication method, and 0x81,
    /// 0x82, 0x90, 0x95, 0x99, 0x9A, 0x9B about the CONNECT itself; v3.1.1 return codes 1, 2,
    /// 4, 5; and a v5 CONNECT a 3.1.1-only server refused, without the fallback to 3.1.1). The session does not retry these unless
    /// [`Backoff::retry_refused`](crate::Backoff::retry_refused) says so. Refusals that may
    /// pass (0x88 Server unavailable or v3.1.1 code 3, 0x89 Server busy, 0x97 Quota exceeded,
    /// 0x9F Connection rate exceeded, ...) are not permanent.
    pub fn is_permanent(&self) -> bool {
        match self {
            DisconnectReason::Refused(code, _) => crate::reconnect::is_permanent_refusal(*code),
            DisconnectReason::V5NotSupported { fallback } => !fallback,
            _ => false,
        }
    }

    /// The server's redirect (v5 section 4.11): the Server Reference of a CONNACK or a
    /// DISCONNECT whose reason is 0x9C Use another server or 0x9D Server moved. Reported
    /// whether or not the client follows it.
    pub fn server_reference(&self) -> Option<&MqttString> {
        let (code, reference) = match self {
            DisconnectReason::Refused(code, p) => (*code, p.server_reference.as_ref()),
            DisconnectReason::Server(code, p) => (*code, p.server_reference.as_ref()),
            _ => return None,
        };
        matches!(code, ReasonCode::UseAnotherServer | ReasonCode::ServerMoved)
            .then_some(reference)
            .flatten()
    }
}

/// Why the session stopped connecting by itself; [`Session::reconnect`](crate::Session::reconnect)
/// lets it connect again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectStop {
    /// Reconnecting is off ([`Backoff::enabled`](crate::Backoff::enabled) is false).
    Disabled,
    /// The server refused the connection for a reason that retrying cannot change
    /// ([`DisconnectReason::is_permanent`]) and
    /// [`Backoff::retry_refused`](crate::Backoff::retry_refused) is false.
    Refused(ReasonCode),
}

impl core::fmt::Display for ReconnectStop {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReconnectStop::Disabled => f.write_str("reconnecting is off"),
            ReconnectStop::Refused(code) => {
                write!(f, "the server refused the connection for good: {code}")
            }
        }
    }
}

/// `" (reason string)"`, or nothing.
fn reason_string(reason: Option<&MqttString>) -> alloc::string::String {
    reason.map_or_else(alloc::string::String::new, |r| alloc::format!(" ({r})"))
}

/// Why a publish ended without being delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishFailure {
    /// The server answered with an error reason code (v5 PUBACK / PUBREC 0x80 or above).
    Rejected(ReasonCode, AckProperties),
    /// Its Message Expiry Interval ran out while it waited to be sent.
    Expired,
    /// It is larger than the server's Maximum Packet Size.
    PacketTooLarge {
        /// Its encoded size.
        size: usize,
        /// The server's limit.
        max: u32,
    },
    /// Its QoS is above the server's Maximum QoS.
    QoSNotSupported(QoS),
    /// It is retained and the server does not support retained messages.
    RetainNotSupported,
    /// The server ended `connections` connections in a row after it was sent on them, without
    /// acknowledging it or anything sent after it: it most likely will not take the message
    /// (too large, not allowed) and drops the connection instead of saying so, as v3.1.1
    /// brokers do ([`Config::poison_limit`](crate::Config::poison_limit)).
    NeverAcknowledged {
        /// Connections in a row it was sent on.
        connections: u16,
    },
    /// It is larger than [`Config::max_outgoing_packet_size`](crate::Config::max_outgoing_packet_size)
    /// (a message accepted before under another configuration, restored from a snapshot).
    ExceedsOutgoingLimit {
        /// Its encoded size.
        size: usize,
        /// The configured limit.
        max: u32,
    },
}

/// The outcome of one topic filter of a SUBSCRIBE.
pub type SubscribeResult = Result<QoS, ReasonCode>;

/// What happened, for the application. Drained with
/// [`Session::poll_event`](crate::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection is up (CONNACK success). Boxed: it is rare and large, and every event is
    /// as large as the largest.
    Connected(Box<Connected>),
    /// A message arrived.
    Message(Message),
    /// A QoS 1 publish was acknowledged (PUBACK) or a QoS 2 publish completed (PUBCOMP); a QoS 0
    /// publish was written to the transport.
    PublishCompleted {
        /// Which publish.
        id: PublishId,
        /// Its Packet Identifier (QoS 1/2).
        packet_id: Option<PacketId>,
        /// The reason code of the PUBACK, or of the PUBREC for QoS 2 (success or 0x10 "no
        /// matching subscribers").
        reason_code: ReasonCode,
    },
    /// A publish ended without delivery.
    PublishFailed {
        /// Which publish.
        id: PublishId,
        /// Its Packet Identifier, if it had one.
        packet_id: Option<PacketId>,
        /// Why.
        reason: PublishFailure,
    },
    /// A SUBSCRIBE was answered: one result per filter, in order. `resubscribe` is true for the
    /// SUBSCRIBE the session sent by itself after the server lost the session.
    Subscribed {
        /// Which request.
        id: RequestId,
        /// The subscriptions it made, in filter order.
        keys: Vec<SubscriptionKey>,
        /// Granted QoS or failure per filter.
        results: Vec<SubscribeResult>,
        /// Whether this was an automatic resubscription.
        resubscribe: bool,
    },
    /// An UNSUBSCRIBE was answered (v3.1.1: every result is Success).
    Unsubscribed {
        /// Which request.
        id: RequestId,
        /// One reason code per filter.
        results: Vec<ReasonCode>,
    },
    /// A connection ended. The session keeps its state and, unless the application
    /// disconnected, follows it with [`Event::ReconnectScheduled`] or
    /// [`Event::ReconnectStopped`].
    Disconnected(DisconnectReason),
    /// The next connection attempt waits this long.
    ReconnectScheduled {
        /// The delay.
        delay: Duration,
        /// Connections in a row that ended before
        /// [`Backoff::stable_after`](crate::Backoff::stable_after), whether the server had
        /// accepted them or not, the one this delay leads to included.
        attempt: u32,
    },
    /// The session will not connect again by itself (after a lost connection, or an attempt
    /// that failed before the transport came up): [`Session::should_connect`] stays false
    /// until the application calls [`Session::reconnect`].
    ///
    /// [`Session::should_connect`]: crate::Session::should_connect
    /// [`Session::reconnect`]: crate::Session::reconnect
    ReconnectStopped(ReconnectStop),
    /// The server sent AUTH (v5 enhanced authentication): a challenge to answer with
    /// [`Session::auth`](crate::Session::auth), or the end of a re-authentication the client
    /// started. Its data may fail the client's check: then
    /// [`Session::fail_authentication`](crate::Session::fail_authentication).
    AuthChallenge {
        /// Continue authentication (0x18), or Success (0x00) at the end of a
        /// re-authentication.
        reason_code: ReasonCode,
        /// Authentication Method, Data and the rest.
        properties: AuthProperties,
    },
}

/// Why a command was refused. Nothing was queued or sent when a command returns an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// All 65,535 Packet Identifiers are in use: wait for completions (backpressure).
    #[error("no free packet identifier")]
    NoFreePacketId,
    /// The queue of waiting publishes is full (see `Config::max_queued`), or a
    /// fixed-capacity outbound table is (it holds the publishes in flight too).
    #[error("the publish queue is full")]
    QueueFull,
    /// As many subscribe (or unsubscribe) requests as a fixed-capacity table holds are
    /// waiting for their answer; another may follow once one is answered.
    #[error("too many subscribe or unsubscribe requests are waiting for their answer")]
    RequestsFull,
    /// The packet is larger than the server's Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the server's maximum packet size {max}")]
    PacketTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// The PUBLISH is larger than
    /// [`Config::max_outgoing_packet_size`](crate::Config::max_outgoing_packet_size).
    #[error("packet of {size} bytes exceeds the configured maximum outgoing packet size {max}")]
    ExceedsOutgoingLimit {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// The QoS is above the server's Maximum QoS.
    #[error("QoS {0:?} exceeds the server's maximum QoS")]
    QoSNotSupported(QoS),
    /// Retained messages are not available on this server.
    #[error("the server does not support retained messages")]
    RetainNotSupported,
    /// The server does not support this kind of subscription.
    #[error("the server does not support {0}")]
    SubscriptionNotSupported(&'static str),
    /// The packet cannot be encoded (an invalid field).
    #[error("invalid packet: {0}")]
    Invalid(#[from] EncodeError),
    /// The token was already used, or belongs to a message whose acknowledgement is no longer
    /// the application's to give (its connection ended and the server will send it again).
    #[error("unknown or stale acknowledgement token")]
    UnknownAckToken,
    /// [`Session::reject`](crate::Session::reject) was given a reason code that PUBACK and
    /// PUBREC cannot carry as a refusal (Success, or a code those packets do not take).
    #[error("{0:?} cannot refuse a message: use 0x80, 0x83, 0x87, 0x90, 0x91, 0x97 or 0x99")]
    RejectReason(ReasonCode),
    /// The command needs a connection (AUTH) or v5.
    #[error("{0}")]
    NotAvailable(&'static str),
    /// `disconnect` was called; the session takes no new work.
    #[error("the session is shutting down")]
    Closing,
}

/// A configuration the session cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The CONNECT it describes is invalid.
    #[error("invalid CONNECT: {0}")]
    Connect(#[from] EncodeError),
    /// Receive Maximum must be at least 1.
    #[error("receive maximum must be at least 1")]
    ReceiveMaximumZero,
    /// The transmit buffer limit must be at least 1 byte, or no PUBLISH would ever be sent.
    #[error("transmit buffer limit must be at least 1 byte")]
    TransmitBufferLimitZero,
    /// A snapshot holds more of something than the session's fixed-capacity tables.
    #[error("the snapshot holds more {0} than the session's tables")]
    SnapshotTooLarge(&'static str),
}
