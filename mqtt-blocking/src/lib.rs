//! The MQTT client for programs without an async runtime: std threads and `std::net`, TLS
//! with rustls. The client core is the one `mqtt-tokio` and `mqtt-smol` run (the same
//! session, routing, acknowledgements, store, reconnects); only the runtime differs: the
//! connection loop runs on a thread of its own, the socket is read by one thread and written
//! by another, so a call never blocks on the network except to wait for its own answer.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mqtt_blocking::{Client, Options, QoS};
//! let client = Client::connect(Options::new("mqtt://127.0.0.1:1883", "demo")?)?;
//! let mut messages = client.subscribe("demo/#", QoS::AtLeastOnce)?;
//! client.publish("demo/1", "hello", QoS::AtLeastOnce)?.wait()?;
//! if let Some(message) = messages.next() {
//!     println!("{}: {:?}", message.topic(), message.payload());
//! }
//! client.disconnect()?;
//! # Ok(())
//! # }
//! ```
//!
//! `mqtt://` and `mqtts://` servers, through HTTP CONNECT and SOCKS5 proxies; WebSocket is
//! not offered here (use `mqtt-tokio` or `mqtt-smol` for `ws://`).
#![forbid(unsafe_code)]

mod callback;
mod client;
mod executor;
mod runtime;
mod transport;

pub use callback::{subscribe_with, CallbackHandle};
pub use client::{new, Client, Connection, Elapsed, Publish, SpawnError, Subscription};
pub use executor::{block_on, block_on_within};
pub use mqtt_client::api::*;
/// The async client handle and subscription underneath (see [`Client::as_async`]).
pub use mqtt_client::{Client as AsyncClient, Subscription as AsyncSubscription};
