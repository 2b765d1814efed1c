//! The sans-IO MQTT client: a [`Session`] state machine that speaks MQTT v3.1.1 and v5.0
//! behind one API, and never touches a socket, a clock, a random number generator, a thread
//! or a file. It takes **bytes and instants in** and gives **bytes, a deadline and events
//! out**; a driver moves them between the session and the world.
//!
//! # The methods of [`Session`], in the order a driver uses them
//!
//! 1. **Getters** (`&self`): [`Session::state`], [`Session::is_connected`],
//!    [`Session::protocol_version`], [`Session::inflight`], [`Session::can_publish`],
//!    [`Session::should_connect`], [`Session::route`], ...
//! 2. **Inputs**, each with the current instant: [`Session::handle_connected`] (the transport
//!    is up), [`Session::handle_read`] (bytes arrived), [`Session::handle_closed`] (the
//!    transport went away or could not be opened), [`Session::handle_timeout`] (a deadline
//!    passed; early or repeated calls are harmless).
//! 3. **Commands**, answered at once: [`Session::publish`] (returns the publish's id and
//!    Packet Identifier), [`Session::subscribe`], [`Session::unsubscribe`], [`Session::ack`]
//!    (manual-ack mode), [`Session::disconnect`], [`Session::reconnect`] (connect again after
//!    [`Event::ReconnectStopped`] or `disconnect`), [`Session::auth`] (v5 enhanced
//!    authentication: answer an [`Event::AuthChallenge`], or re-authenticate),
//!    [`Session::fail_authentication`] (the server's side of it failed the client's check),
//!    [`Session::set_authentication_data`] (the next CONNECT's initial data).
//! 4. **Outputs**, drained after *every* input and command: [`Session::poll_transmit`] (bytes
//!    to write, encoded into the caller's buffer), [`Session::poll_timeout`] (when to call
//!    `handle_timeout`), [`Session::poll_event`] (what happened).
//!
//! After [`Session::poll_transmit`] has written everything, a state of [`State::Idle`] while
//! the transport is open means the session has ended the connection: close the transport.
//!
//! # Surviving a restart
//!
//! [`Session::snapshot`] is what must outlive the process, as plain data;
//! [`Session::restore`] continues from it. To keep it in a file or in flash, hand the session
//! to a [`Journal`] after each turn ([`Journal::write_session`], which looks only at what the
//! session noted as changed), write what it says (the changes to append, or everything)
//! before writing what `poll_transmit` gave, and read it back with [`Journal::read`].
//!
//! # Fixed-capacity tables
//!
//! `Session<I>` keeps the state that grows with traffic in heap tables ([`Growable`]). With
//! feature `bounded`, `Session<I, Bounded<OUTBOUND, INBOUND, ALIASES, REQUESTS>>` (made with
//! [`Session::with_tables`]) keeps it in `heapless` arrays sized at compile time: publishes
//! out (queued and in flight), unacknowledged messages in, topic aliases each way, and
//! subscribe and unsubscribe requests awaiting an answer. The Receive Maximum and Topic Alias
//! Maximum in CONNECT come from those capacities, and a full table refuses
//! ([`Error::QueueFull`], [`Error::RequestsFull`]) instead of growing. Payloads and topics
//! stay `Bytes`, so `alloc` is still needed; the tables are what no longer grow.
//!
//! | `core::mem::size_of` (x86_64) | bytes |
//! |---|---|
//! | `Session<I>` (tables on the heap) | 1,360 |
//! | `Session<I, Bounded<8, 8, 4, 4>>` | 4,144 |
//!
//! (`cargo test -p mqtt-session --test bounded -- --nocapture` prints them.)
//!
//! # A whole run loop
//!
//! The loop of a driver that owns its own I/O ends this page: the `custom-event-loop` example of
//! this workspace, shown here as a compiling doctest (it is the example's own file, so the two
//! cannot drift apart).
//!
//! # What the session guarantees
//!
//! * Packet Identifiers are never in use twice; when all are taken, `publish` says so instead
//!   of reusing one. A [`PublishId`] is never reused at all.
//! * QoS 1/2 publishes survive reconnects: resent with DUP (and PUBREL resent) in order when
//!   the server resumed the session, started over when it did not; never more in flight than
//!   the server's Receive Maximum, including when it shrank across a reconnect.
//! * Inbound QoS 2 messages are delivered exactly once; acknowledgements go out in arrival
//!   order, also in manual-ack mode.
//! * Subscriptions are made again, and reported, when the server lost the session.
//! * Topic aliases are assigned when a message is written, never while it is queued, so a
//!   queued message never carries an alias of a previous connection.
//! * A protocol error from the server is answered (v5: DISCONNECT with its reason code),
//!   reported once as [`Event::Disconnected`] with the rule it broke ([`ProtocolViolation`]),
//!   and never a panic; the session's state is kept.
//! * Reconnecting follows [`Backoff`]: quickly after a connection the server accepted, further
//!   apart while attempts fail, and not at all after a refusal that retrying cannot change or
//!   when it is off, until [`Session::reconnect`].
//! * A publish the server answers only by dropping the connection is given up after
//!   [`Config::poison_limit`] connections in a row, so the publishes behind it flow.
#![doc = concat!("# The run loop of `custom-event-loop`\n\n```no_run\n", include_str!("../examples/custom-event-loop.rs"), "\n```\n")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod alias;
mod backoff;
mod changes;
mod config;
mod event;
mod ids;
mod inbound;
mod journal;
mod limits;
mod outbound;
mod persist;
mod poison;
mod reconnect;
mod session;
mod subscriptions;
mod tables;
mod time;
mod version;
mod violation;

#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Backoff, Config, QueueFullPolicy};
pub use event::{
    AckToken, ConfigError, Connected, DisconnectReason, Error, Event, Message, PublishFailure,
    PublishId, PublishTicket, ReconnectStop, RequestId, ServerLimits, SubscribeResult,
    SubscriptionKey,
};
pub use journal::{Journal, JournalWrite};
pub use outbound::Stage;
pub use persist::{PersistedPublish, PersistedSubscription, Snapshot, SnapshotError};
pub use session::{OutboundMessage, Session, State};
#[cfg(feature = "bounded")]
pub use tables::Bounded;
pub use tables::{Growable, Tables};
pub use time::{Instant, Timer};
pub use violation::ProtocolViolation;
