//! Where a [`Session`](crate::Session) keeps the state that grows with traffic: the outbound
//! publishes (queued and in flight), the inbound QoS 1/2 messages not yet acknowledged, the
//! Packet Identifiers in use, the topic aliases both ways and the subscribe and unsubscribe
//! requests waiting for their answer.
//!
//! [`Growable`] (the default) keeps them in heap collections that grow as needed. `Bounded`
//! (feature `bounded`) keeps them in fixed-capacity `heapless` arrays sized at compile time:
//! the session's size is then known statically, and a full table refuses (a publish with
//! [`Error::QueueFull`](crate::Error::QueueFull), a request with
//! [`Error::RequestsFull`](crate::Error::RequestsFull), a server's message beyond the inbound
//! capacity with DISCONNECT 0x93) instead of growing.
//!
//! The parts of the session (outbound queue, inbound state, aliases, subscriptions, ids) are
//! written once against the [`Table`] and [`IdSet`] traits; each [`Tables`] type names the
//! collections they get. The timers are a fixed array in either case.

#[cfg(feature = "bounded")]
mod bounded;
mod growable;
mod table;

#[cfg(feature = "bounded")]
pub use bounded::Bounded;
pub use growable::Growable;
pub(crate) use table::{Full, IdSet, Table};

use core::fmt::Debug;

mod sealed {
    /// Only this crate's storages are [`super::Tables`]: the parts rely on how they behave.
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// The storage of a session's tables: [`Growable`] (heap, the default) or `Bounded` (fixed
/// capacities, feature `bounded`). Sealed: implemented only by those two.
pub trait Tables: Sealed + Debug + 'static {
    /// The outbound publishes, queued and in flight, in publish order.
    type Outbound<T: Debug>: Table<T>;
    /// The inbound QoS 2 Packet Identifiers awaiting PUBREL.
    type InboundQos2<T: Debug>: Table<T>;
    /// The acknowledgements the application owes (manual-ack mode), in arrival order.
    type InboundOwed<T: Debug>: Table<T>;
    /// The topic aliases, one table each way.
    type Aliases<T: Debug>: Table<T>;
    /// The subscribe requests, and separately the unsubscribe requests, awaiting an answer.
    type Requests<T: Debug>: Table<T>;
    /// The Packet Identifiers in use.
    type PacketIds: IdSet;

    /// The most publishes (of any QoS and stage) the outbound table holds; `usize::MAX` when
    /// it grows.
    const OUTBOUND: usize;
    /// The most inbound QoS 1/2 messages unacknowledged at once; it caps the Receive Maximum
    /// the session sends in CONNECT.
    const INBOUND: usize;
    /// The most topic aliases each way; it caps the Topic Alias Maximum sent in CONNECT and
    /// the aliases the session assigns.
    const ALIASES: usize;
    /// The most subscribe requests, and the most unsubscribe requests, awaiting an answer.
    const REQUESTS: usize;
}

/// `value` capped at `capacity` (both as the `u16` of a CONNECT property).
pub(crate) fn cap_u16(value: u16, capacity: usize) -> u16 {
    u16::try_from(capacity).map_or(value, |c| value.min(c))
}
