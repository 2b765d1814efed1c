//! The MQTT client for smol — and for async-std programs, which run on the same async-io
//! reactor. The public face ([`Client`], [`Subscription`], [`Options`], ...) is the same as
//! `mqtt-tokio`'s: both come from the runtime-agnostic `mqtt-client` crate. This crate adds
//! only the transports and the loop, on async-io and futures-io.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     use mqtt_smol::{Options, QoS};
//!     let client = mqtt_smol::spawn(Options::new("mqtt://127.0.0.1:1883", "demo")?)?;
//!     let mut sub = client.subscribe("demo/#", QoS::AtLeastOnce).await?;
//!     client.publish("demo/1", "hello", QoS::AtLeastOnce).await?;
//!     if let Some(message) = sub.next_message().await {
//!         println!("{}: {:?}", message.topic(), message.payload());
//!     }
//!     client.disconnect().await?;
//!     Ok(())
//! })
//! # }
//! ```
#![forbid(unsafe_code)]

mod callback;
mod connection;
mod transport;
mod websocket;

pub use callback::{subscribe_with, CallbackHandle};
pub use connection::{new, spawn, Connection, SpawnError};
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
