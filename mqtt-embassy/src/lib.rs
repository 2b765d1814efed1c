//! An MQTT v3.1.1 and v5.0 client for [embassy](https://embassy.dev): the sans-IO
//! [`mqtt_session::Session`] driven over an `embassy-net` TCP socket with `embassy-time`, for
//! targets without `std`.
//!
//! The [`Client`] owns one [`TcpSocket`](embassy_net::tcp::TcpSocket) made from buffers the
//! caller passes (their sizes are the TCP windows) and the session. It needs no task of its
//! own: everything happens while one of its methods is awaited.
//!
//! * [`Client::connect`]: TCP, CONNECT, CONNACK; retried with the session's backoff.
//! * [`Client::publish`]: returns once the QoS flow completed (QoS 1 PUBACK, QoS 2 PUBCOMP),
//!   across reconnects.
//! * [`Client::subscribe`]: returns the QoS the server granted.
//! * [`Client::next_message`]: the next received message; QoS 1/2 messages are acknowledged
//!   as they are handed over.
//! * [`Client::run_for`]: keeps the connection alive (PINGREQ, acknowledgements, reconnects)
//!   while the program has nothing else to do.
//! * [`Client::disconnect`]: DISCONNECT, then the TCP connection is closed.
//!
//! A lost connection is made again with the session's [`Backoff`];
//! unacknowledged QoS 1/2 publishes are sent again and subscriptions made again when the
//! server lost the session.
//!
//! # Memory
//!
//! The socket buffers are the caller's (`&mut [u8]`, typically `static`). The [`Client`] value
//! holds the session with its tables and the inbox, sized at compile time by its type
//! parameters: `Client<'a, Bounded<OUTBOUND, INBOUND, ALIASES, REQUESTS>, INBOX>`
//! ([`DefaultTables`] and an inbox of 4 unless told), whose `core::mem::size_of` is what it
//! takes. A full table refuses new work ([`Error::Command`] with
//! [`QueueFull`](mqtt_session::Error::QueueFull) or
//! [`RequestsFull`](mqtt_session::Error::RequestsFull)) rather than growing.
//!
//! `alloc` is still needed (a global allocator, e.g. `embedded-alloc`, on a bare-metal
//! target): the codec's packets hold their topics and payloads as `Bytes`, so a publish's
//! payload is copied to the heap until its flow completes, received messages are slices of
//! the heap read buffer, and the session's read and write buffers are `BytesMut` (reused,
//! bounded by the largest packet). The crate's README gives the sizes the example needs.
//!
//! # Example
//!
//! `examples/sensor.rs`: a sensor publishing a reading every few seconds at QoS 1 with static
//! socket buffers. On the host it runs over a Linux TAP device (`embassy-net-tuntap`).
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

mod client;
mod error;
mod time;

pub use client::Client;
pub use error::Error;
pub use time::Instant;

pub use mqtt_proto::{QoS, ReasonCode};
pub use mqtt_session::{
    Backoff, Bounded, Config, DisconnectReason, Growable, Message, PublishFailure, ReconnectStop,
    Session, Tables,
};

/// The session tables of a [`Client`] unless told: 4 publishes out (queued or in flight), 4
/// unacknowledged messages in (the Receive Maximum sent in CONNECT), 1 topic alias each way,
/// 2 subscribe and 2 unsubscribe requests awaiting their answer.
///
/// Fixed capacities by default because this crate is for devices whose RAM is budgeted when
/// the program is linked: the client's size is then known statically and a burst of traffic
/// cannot exhaust the heap through the session. [`Client`] awaits each publish and subscribe
/// to its end, so few entries are in use at once. Name [`Growable`] instead
/// (`Client<'a, Growable>`) for tables that grow on the heap, e.g. to queue many publishes
/// while offline.
pub type DefaultTables = Bounded<4, 4, 1, 2>;

/// `duration` on embassy-time's clock, saturating at its longest.
pub(crate) fn embassy_duration(duration: core::time::Duration) -> embassy_time::Duration {
    u64::try_from(duration.as_micros())
        .ok()
        .and_then(embassy_time::Duration::try_from_micros)
        .unwrap_or(embassy_time::Duration::MAX)
}
