//! Why an operation of the [`Client`](crate::Client) failed.

use mqtt_proto::ReasonCode;
use mqtt_session::{ConfigError, DisconnectReason, PublishFailure, ReconnectStop};

/// Why an operation of the [`Client`](crate::Client) failed. The connection and the session
/// survive every error but [`Error::ReconnectStopped`] and [`Error::Config`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session cannot work with this configuration.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A topic name, topic filter or string is not valid MQTT (an empty topic, a wildcard in
    /// a topic name, a null character, ...).
    #[error("invalid MQTT field: {0}")]
    Invalid(#[from] mqtt_proto::Error),
    /// The session refused the command (no free Packet Identifier, queue full, packet too
    /// large for the server, ...). Nothing was sent.
    #[error("the session refused the command: {0}")]
    Command(#[from] mqtt_session::Error),
    /// A publish ended without delivery (refused by the server, too large, ...).
    #[error("the publish failed: {0:?}")]
    PublishFailed(PublishFailure),
    /// The server refused the subscription with this reason code.
    #[error("the server refused the subscription: {0}")]
    SubscribeRefused(ReasonCode),
    /// The session stopped connecting by itself (reconnecting is off, or the server refused
    /// the connection for a reason retrying cannot change); the last connection ended for
    /// `reason`.
    #[error("not connecting again ({stop}); the last connection ended: {reason}")]
    ReconnectStopped {
        /// Why the session stopped.
        stop: ReconnectStop,
        /// Why the last connection ended.
        reason: DisconnectReason,
    },
    /// The client was disconnected with [`Client::disconnect`](crate::Client::disconnect).
    #[error("the client is disconnected")]
    Disconnected,
    /// The inbox of received messages is full: the client stops reading from the broker
    /// (TCP carries the backpressure) until [`Client::next_message`](crate::Client::next_message)
    /// takes one. An operation that was waiting stays in flight in the session.
    #[error("the inbox of received messages is full: take messages with next_message")]
    InboxFull,
}
