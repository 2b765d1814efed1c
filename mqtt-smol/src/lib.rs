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
//!     client.publish("demo/1", "hello", QoS::AtLeastOnce).await?; // queued, no round trip
//!     let done = client.publish("demo/2", "bye", QoS::AtLeastOnce).await?.await?; // PUBACK came
//!     println!("acknowledged: {}", done.reason_code);
//!     if let Some(message) = sub.next_message().await {
//!         println!("{}: {:?}", message.topic(), message.payload());
//!     }
//!     client.disconnect().await?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # The public face
//!
//! This crate is the only one an application needs: it re-exports every type its API takes
//! or returns, from the message types ([`Message`], [`OutboundMessage`], [`TopicName`],
//! [`TopicFilter`], [`QoS`], [`ReasonCode`], the properties types, [`Bytes`]) to the errors
//! nested in [`ClientError`] ([`SessionError`], [`PacketError`], ...) and the [`rustls`] crate
//! that [`TlsOptions`] speaks.
//!
//! [`Client::publish`] queues and returns at once (no round trip per message) with a
//! [`PublishHandle`]: [`PublishHandle::accepted`] gives the Packet Identifier once the session
//! took the publish (with a [`Store`], once it is on disk), and awaiting the handle gives the
//! end of its QoS flow.
//!
//! # Features
//!
//! Forwarded to `mqtt-client`'s TLS (see its `tls_provider` module):
//!
//! * `ring` (default) or `aws-lc-rs`: the rustls crypto provider built in (aws-lc-rs when
//!   both are on). With neither, the process's default provider is used
//!   ([`rustls::crypto::CryptoProvider::install_default`]), or the one given to
//!   [`TlsOptions::crypto_provider`].
//! * `webpki-roots`: Mozilla's root certificates, bundled, trusted by default.
//! * `native-roots`: `TlsOptions::native_roots` trusts the operating system's root store.
//! * `platform-verifier`: `TlsOptions::platform_verifier` verifies with the operating
//!   system's verifier.
#![forbid(unsafe_code)]

mod callback;
mod connection;
mod transport;

pub use callback::{subscribe_with, CallbackHandle};
pub use connection::{new, spawn, AsyncIo, Connection, SpawnError};
pub use mqtt_client::api::*;
pub use transport::{Connector, TcpConnector, Transport};
