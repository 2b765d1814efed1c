//! Every type an application names when it uses the client, from this crate and the crates
//! under it: the driver crates (`mqtt-tokio`, `mqtt-smol`, `mqtt-blocking`) re-export this
//! module whole, so that an application depends on one of them and nothing else.

/// The `bytes` crate, whose [`Bytes`] carries payloads in and out.
pub use bytes;
pub use bytes::Bytes;
pub use rustls;

pub use crate::{
    AuthError, AuthExchange, Authenticator, Client, ClientError, ConnectCredentials,
    ConnectionEvent, ConnectionEvents, Credentials, CredentialsError, CredentialsFuture,
    CredentialsProvider, Delivery, DisconnectCause, Disconnects, FileStore, Message, Options,
    OptionsError, PerQoS, Proxies, Proxy, ProxyError, ProxyHandshake, ProxyKind, PublishDone,
    PublishHandle, Scheme, ScramSha256, Server, SharedCredentialsProvider, StartError, Statistics,
    Store, Subscription, TlsError, TlsOptions, UnsubscribeResult, WebSocketError, WebSocketOptions,
    WebSocketRequest, WebSocketSigner,
};
pub use mqtt_proto::{
    AckProperties, AuthProperties, ConnAckProperties, DisconnectProperties, EncodeError,
    Error as PacketError, MqttString, PacketId, PayloadFormat, ProtocolVersion, Publish,
    PublishProperties, QoS, QosPid, ReasonCode, RetainHandling, SubscribeFilter,
    SubscribeProperties, SubscriptionIdentifier, SubscriptionIdentifiers, SubscriptionOptions,
    TopicFilter, TopicName, UserProperties, UserProperty, Will, WillProperties,
};
pub use mqtt_session::{
    AckToken, Backoff, Config, ConfigError, DisconnectReason, Error as SessionError,
    OutboundMessage, ProtocolViolation, PublishFailure, PublishId, QueueFullPolicy, ReconnectStop,
    ServerLimits, SnapshotError,
};
