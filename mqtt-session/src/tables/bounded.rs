//! Fixed-capacity storage (feature `bounded`): `heapless` arrays sized at compile time.

use core::fmt::Debug;

use super::table::{sorted_contains, sorted_insert, sorted_remove, Full, IdSet, Table};
use super::{Sealed, Tables};

/// Tables of fixed capacity, chosen at compile time: a session whose per-connection state
/// never grows, and whose size `core::mem::size_of` tells.
///
/// * `OUTBOUND`: publishes of any QoS, queued or in flight (beyond it, `publish` fails with
///   [`Error::QueueFull`](crate::Error::QueueFull)).
/// * `INBOUND`: inbound QoS 1/2 messages not yet acknowledged (the Receive Maximum the session
///   sends in CONNECT is at most this; on v3.1.1, which cannot tell the server, a message
///   beyond it ends the connection and the server sends it again on the next one).
/// * `ALIASES`: topic aliases each way (the Topic Alias Maximum sent in CONNECT, and the
///   aliases the session assigns, are at most this).
/// * `REQUESTS`: subscribe requests, and separately unsubscribe requests, awaiting their
///   answer (beyond it, [`Error::RequestsFull`](crate::Error::RequestsFull)).
///
/// The Packet Identifiers in use fit by construction: `OUTBOUND + 2 * REQUESTS` of them.
/// What stays on the heap: the payloads and topics of messages (`Bytes`), the granted
/// subscriptions, the filters of one request, and the events and control packets waiting
/// to be drained.
///
/// ```
/// # #[cfg(feature = "std")] {
/// use mqtt_session::{Bounded, Config, Session};
/// use mqtt_proto::{MqttString, ProtocolVersion};
///
/// type SmallSession = Session<std::time::Instant, Bounded<8, 8, 4, 4>>;
/// let config = Config::new(ProtocolVersion::V5, MqttString::try_from("sensor-1").unwrap());
/// let session = SmallSession::with_tables(config).unwrap();
/// // The Receive Maximum sent in CONNECT is the inbound capacity.
/// assert_eq!(session.config().receive_maximum, 8);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounded<
    const OUTBOUND: usize,
    const INBOUND: usize,
    const ALIASES: usize,
    const REQUESTS: usize,
>;

impl<const O: usize, const I: usize, const A: usize, const R: usize> Sealed
    for Bounded<O, I, A, R>
{
}

impl<const O: usize, const I: usize, const A: usize, const R: usize> Tables
    for Bounded<O, I, A, R>
{
    type Outbound<T: Debug> = heapless::Vec<T, O>;
    type InboundQos2<T: Debug> = heapless::Vec<T, I>;
    type InboundOwed<T: Debug> = heapless::Vec<T, I>;
    type Aliases<T: Debug> = heapless::Vec<T, A>;
    type Requests<T: Debug> = heapless::Vec<T, R>;
    type PacketIds = BoundedIds<O, R>;

    const OUTBOUND: usize = O;
    const INBOUND: usize = I;
    const ALIASES: usize = A;
    const REQUESTS: usize = R;
}

impl<T: Debug, const N: usize> Table<T> for heapless::Vec<T, N> {
    fn new() -> Self {
        heapless::Vec::new()
    }
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn capacity_limit(&self) -> usize {
        N
    }
    fn get(&self, index: usize) -> Option<&T> {
        self.as_slice().get(index)
    }
    fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.as_mut_slice().get_mut(index)
    }
    fn push(&mut self, item: T) -> Result<(), T> {
        heapless::Vec::push(self, item)
    }
    fn insert(&mut self, index: usize, item: T) -> Result<(), T> {
        if index > Table::len(self) {
            return Err(item);
        }
        heapless::Vec::insert(self, index, item)
    }
    fn remove(&mut self, index: usize) -> Option<T> {
        (index < Table::len(self)).then(|| heapless::Vec::remove(self, index))
    }
    fn swap_remove(&mut self, index: usize) -> Option<T> {
        (index < Table::len(self)).then(|| heapless::Vec::swap_remove(self, index))
    }
    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = &'a T>
    where
        T: 'a,
    {
        self.as_slice().iter()
    }
    fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a,
    {
        self.as_mut_slice().iter_mut()
    }
    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        heapless::Vec::retain(self, |x| keep(x));
    }
    fn clear(&mut self) {
        heapless::Vec::clear(self);
    }
    fn binary_search_by_key<K: Ord>(
        &self,
        key: &K,
        f: impl FnMut(&T) -> K,
    ) -> Result<usize, usize> {
        self.as_slice().binary_search_by_key(key, f)
    }
    fn shrink_if_drained(&mut self) {}
    fn free_if_empty(&mut self) {}
}

/// The Packet Identifiers of a [`Bounded`] session: those of its outbound publishes (at
/// most `OUTBOUND`) and of its subscribe and unsubscribe requests (at most `REQUESTS` each),
/// each part sorted. Stable Rust cannot size one array `OUTBOUND + 2 * REQUESTS`, so the set
/// is three arrays; an identifier goes into the first with room.
#[derive(Debug)]
pub struct BoundedIds<const OUTBOUND: usize, const REQUESTS: usize> {
    publishes: heapless::Vec<u16, OUTBOUND>,
    subscribes: heapless::Vec<u16, REQUESTS>,
    unsubscribes: heapless::Vec<u16, REQUESTS>,
}

impl<const O: usize, const R: usize> IdSet for BoundedIds<O, R> {
    fn new() -> Self {
        BoundedIds {
            publishes: heapless::Vec::new(),
            subscribes: heapless::Vec::new(),
            unsubscribes: heapless::Vec::new(),
        }
    }
    fn len(&self) -> usize {
        self.publishes.len() + self.subscribes.len() + self.unsubscribes.len()
    }
    fn capacity(&self) -> usize {
        O.saturating_add(R.saturating_mul(2))
            .min(usize::from(u16::MAX))
    }
    fn insert(&mut self, id: u16) -> Result<bool, Full> {
        if sorted_contains(&self.publishes, id)
            || sorted_contains(&self.subscribes, id)
            || sorted_contains(&self.unsubscribes, id)
        {
            return Ok(false);
        }
        sorted_insert(&mut self.publishes, id)
            .or_else(|Full| sorted_insert(&mut self.subscribes, id))
            .or_else(|Full| sorted_insert(&mut self.unsubscribes, id))
    }
    fn remove(&mut self, id: u16) -> bool {
        sorted_remove(&mut self.publishes, id)
            || sorted_remove(&mut self.subscribes, id)
            || sorted_remove(&mut self.unsubscribes, id)
    }
}
