//! The MQTT client for tokio: a thin loop around the sans-IO [`mqtt_session::Session`]. The
//! public face ([`Client`], [`Subscription`], [`Options`], ...) comes from the runtime-agnostic
//! `mqtt-client` crate, shared with `mqtt-smol`; this crate adds the transports and the loop.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mqtt_tokio::{Options, QoS};
//! let client = mqtt_tokio::spawn(Options::new("mqtt://127.0.0.1:1883", "demo")?)?;
//! let mut sub = client.subscribe("demo/#", QoS::AtLeastOnce).await?;
//! client.publish("demo/1", "hello", QoS::AtLeastOnce).await?;
//! if let Some(message) = sub.next_message().await {
//!     println!("{}: {:?}", message.topic(), message.payload());
//! }
//! client.disconnect().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod callback;
mod connection;
mod transport;
mod websocket;

pub use callback::{subscribe_with, CallbackHandle};
pub use connection::{new, spawn, Connection};
pub use mqtt_client::{
    AuthError, AuthExchange, Authenticator, Client, ClientError, ConnectCredentials,
    ConnectionEvent, CredentialsError, CredentialsFuture, CredentialsProvider, Delivery, FileStore,
    Message, Options, OptionsError, Proxies, Proxy, ProxyError, ProxyHandshake, ProxyKind,
    PublishDone, PublishHandle, Scheme, ScramSha256, Server, SharedCredentialsProvider, StartError,
    Store, Subscription, TlsError, TlsOptions, UnsubscribeResult, WebSocketError, WebSocketOptions,
    WebSocketRequest, WebSocketSigner,
};
pub use mqtt_proto::{
    ProtocolVersion, QoS, ReasonCode, SubscribeFilter, SubscribeProperties, TopicFilter, TopicName,
    Will,
};
pub use mqtt_session::{
    Backoff, Config, DisconnectReason, OutboundMessage, PublishFailure, PublishId, ReconnectStop,
    ServerLimits,
};
pub use transport::{Connector, TcpConnector, Transport};
