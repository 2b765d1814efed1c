//! Where inbound messages go: to the subscription streams they were routed to, in order, each
//! reader's buffer bounded by count and the connection's whole inbound memory by bytes.
//!
//! * A message goes to the streams of the subscriptions the session routed it to. A
//!   subscription no stream has (one restored from a store, made by an earlier process, or
//!   resumed by the server) stands for its topic filter: the message goes to the streams with
//!   that same filter. A message no stream takes yet waits, unacknowledged, for a subscription
//!   that matches it.
//! * An automatic acknowledgement is owed once every stream's reader has *taken* the message
//!   (not when it entered a buffer): a process that dies with messages in its buffers has not
//!   acknowledged them, and the server sends them again.
//! * Every message held (in a reader's buffer, waiting for room, or for a subscription) counts
//!   against the inbound budget in bytes. Past it the loop stops reading the socket, so TCP
//!   and the server's in-flight window hold the rest back; readers that take messages give the
//!   memory back and wake the loop. QoS 0 messages that do not fit a reader's buffer are
//!   dropped for it and counted (`Delivery::Lagged`), as before.
//!
//! This part owns its streams and its budget; what it owes the session (acknowledgements) it
//! returns for the driver to hand over.

use mqtt_proto::{QoS, TopicFilter};
use mqtt_session::{AckToken, Session, SubscriptionKey};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::client::SubscriptionSink;
use crate::report::Message;
use crate::signal::Taken;

/// A map keyed by sequence numbers the session and the client hand out (counters, never
/// values from the network): hashed with one multiplication instead of SipHash.
pub(crate) type SeqMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<SeqHasher>>;

/// The hasher of [`SeqMap`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SeqHasher(u64);

impl std::hash::Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Odd, with its bits spread: the product's high bits (hashbrown's tag) depend on every
        // bit of the key, its low bits (the bucket) differ for consecutive keys.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// What a held message costs besides its topic and payload (the message's own fields, its
/// slot in a queue), so that a flood of empty messages is bounded too.
const MESSAGE_OVERHEAD: usize = 128;

/// The bytes a message counts for against the inbound budget.
fn cost(message: &mqtt_session::Message) -> usize {
    message.publish.topic.len() + message.publish.payload.len() + MESSAGE_OVERHEAD
}

/// A subscription stream the connection task feeds.
#[derive(Debug)]
struct Stream {
    keys: Vec<SubscriptionKey>,
    filters: Vec<TopicFilter>,
    sink: SubscriptionSink,
    /// What the reader took, as it tells it.
    taken: Arc<Taken>,
    /// Takes already accounted for.
    seen: u64,
    /// Takes whose acknowledgements the store write under way holds.
    saving: u64,
    /// Messages in the reader's buffer, in order: the acknowledgement each owes when taken
    /// (automatic acks) and its cost.
    handed: VecDeque<(Option<AckToken>, usize)>,
    /// Messages waiting for room in the reader's buffer, in order. QoS 1/2 ones are not
    /// acknowledged yet, so the server's in-flight window holds the rest back.
    overflow: VecDeque<mqtt_session::Message>,
}

/// The inbound side of a connection: streams, routes, held messages and their memory.
#[derive(Debug)]
pub(crate) struct Routing {
    streams: SeqMap<u64, Stream>,
    routes: SeqMap<SubscriptionKey, u64>,
    /// Messages no stream took yet.
    unrouted: VecDeque<mqtt_session::Message>,
    /// Automatic acks: readers still to take each message.
    owed: SeqMap<AckToken, usize>,
    /// Whether the application acknowledges (manual acks).
    user_acks: bool,
    /// Bytes of the messages held, and the most there may be before reading stops.
    held: usize,
    budget: usize,
    /// Acknowledgements due, for the driver to give the session.
    acks: Vec<AckToken>,
    /// Reused for the streams of each message.
    route_buf: Vec<u64>,
    /// Reused for the acknowledgements readers' takes release.
    done_buf: Vec<AckToken>,
}

impl Routing {
    /// Routing for a connection whose inbound memory may reach `budget` bytes.
    pub(crate) fn new(budget: usize, user_acks: bool) -> Routing {
        Routing {
            streams: SeqMap::default(),
            routes: SeqMap::default(),
            unrouted: VecDeque::new(),
            owed: SeqMap::default(),
            user_acks,
            held: 0,
            budget: budget.max(1),
            acks: Vec::new(),
            route_buf: Vec::new(),
            done_buf: Vec::new(),
        }
    }

    /// Whether the inbound budget is spent: the loop reads nothing until readers give memory
    /// back.
    pub(crate) fn is_full(&self) -> bool {
        self.held >= self.budget
    }

    /// Bytes of the messages held for readers (counted against the budget).
    pub(crate) fn held_bytes(&self) -> usize {
        self.held
    }

    /// The acknowledgements due since the last call.
    pub(crate) fn take_acks(&mut self) -> impl Iterator<Item = AckToken> + '_ {
        self.acks.drain(..)
    }

    /// Whether a stream of this process subscribes to `filter`.
    pub(crate) fn has_filter(&self, filter: &TopicFilter) -> bool {
        self.streams.values().any(|s| s.filters.contains(filter))
    }

    /// A new stream for the subscriptions `keys` with these filters.
    pub(crate) fn add_stream(
        &mut self,
        stream: u64,
        keys: Vec<SubscriptionKey>,
        filters: Vec<TopicFilter>,
        sink: SubscriptionSink,
        taken: Arc<Taken>,
    ) {
        for key in &keys {
            self.routes.insert(*key, stream);
        }
        self.streams.insert(
            stream,
            Stream {
                keys,
                filters,
                sink,
                taken,
                seen: 0,
                saving: 0,
                handed: VecDeque::new(),
                overflow: VecDeque::new(),
            },
        );
    }

    /// Messages that waited for a subscription go where they now can (after a stream was
    /// added); the rest keep waiting, in order.
    pub(crate) fn reroute(&mut self, session: &Session<Instant>) {
        for message in std::mem::take(&mut self.unrouted) {
            self.held -= cost(&message);
            self.deliver(session, message);
        }
    }

    /// The server refused the subscriptions `keys` of `stream`: they leave it, routes and
    /// filters, so that unsubscribing the stream later never names them [MQTT-3.9.3-1]. The
    /// stream stays.
    pub(crate) fn refuse_keys(&mut self, stream: u64, keys: &[SubscriptionKey]) {
        for key in keys {
            self.routes.remove(key);
        }
        if let Some(s) = self.streams.get_mut(&stream) {
            let mut at = 0;
            while at < s.keys.len() {
                if keys.contains(&s.keys[at]) {
                    s.keys.remove(at);
                    if at < s.filters.len() {
                        s.filters.remove(at);
                    }
                } else {
                    at += 1;
                }
            }
        }
    }

    /// Some filters of `stream` are unsubscribed: their subscriptions leave it (it keeps its
    /// other filters, and what it already holds). Returns, per filter, whether another stream
    /// still uses it (and the server must not be told).
    pub(crate) fn remove_filters(&mut self, stream: u64, filters: &[TopicFilter]) -> Vec<bool> {
        if let Some(s) = self.streams.get_mut(&stream) {
            for filter in filters {
                if let Some(at) = s.filters.iter().position(|f| f == filter) {
                    s.filters.remove(at);
                    if at < s.keys.len() {
                        let key = s.keys.remove(at);
                        self.routes.remove(&key);
                    }
                }
            }
        }
        filters
            .iter()
            .map(|f| self.streams.values().any(|s| s.filters.contains(f)))
            .collect()
    }

    /// Removes a stream: what it held counts as taken. Returns its filters that no other
    /// stream uses (to unsubscribe from), or `None` if there was no such stream.
    pub(crate) fn remove_stream(&mut self, stream: u64) -> Option<Vec<TopicFilter>> {
        let mut old = self.streams.remove(&stream)?;
        for key in &old.keys {
            self.routes.remove(key);
        }
        for (token, bytes) in std::mem::take(&mut old.handed) {
            self.held -= bytes;
            if let Some(token) = token {
                self.taken_once(token);
            }
        }
        for message in std::mem::take(&mut old.overflow) {
            self.held -= cost(&message);
            if let Some(token) = message.ack_token {
                if self.user_acks {
                    self.acks.push(token);
                } else {
                    self.taken_once(token);
                }
            }
        }
        let still_used = |f: &TopicFilter| self.streams.values().any(|s| s.filters.contains(f));
        Some(old.filters.into_iter().filter(|f| !still_used(f)).collect())
    }

    /// A message from the session.
    pub(crate) fn deliver(&mut self, session: &Session<Instant>, message: mqtt_session::Message) {
        let mut streams = std::mem::take(&mut self.route_buf);
        streams.clear();
        for key in session.route(&message.publish) {
            if let Some(&stream) = self.routes.get(&key) {
                if !streams.contains(&stream) && self.streams.contains_key(&stream) {
                    streams.push(stream);
                }
                continue;
            }
            // A subscription of an earlier process (restored, or resumed by the server):
            // the streams of this process with the same filter take its messages.
            let Some(filter) = session.subscription(key).map(|s| &s.filter) else {
                continue;
            };
            for (&id, s) in &self.streams {
                if s.filters.contains(filter) && !streams.contains(&id) {
                    streams.push(id);
                }
            }
        }
        self.held += cost(&message);
        self.deliver_to(message, &streams);
        self.route_buf = streams;
    }

    fn deliver_to(&mut self, message: mqtt_session::Message, streams: &[u64]) {
        if streams.is_empty() {
            if message.publish.qos() == QoS::AtMostOnce && self.is_full() {
                tracing::debug!("no subscription and no room: QoS 0 message dropped");
                self.held -= cost(&message);
                return;
            }
            // QoS 1/2 wait unacknowledged for a subscription, within the budget (reading
            // stops past it).
            self.unrouted.push_back(message);
            return;
        }
        // Each further stream holds a copy.
        self.held += cost(&message) * (streams.len() - 1);
        if let Some(token) = message.ack_token {
            if !self.user_acks {
                self.owed.insert(token, streams.len());
            }
        }
        let Some((&last, others)) = streams.split_last() else {
            return;
        };
        for &stream in others {
            self.enqueue(stream, message.clone());
        }
        self.enqueue(last, message);
    }

    fn enqueue(&mut self, stream: u64, message: mqtt_session::Message) {
        let Some(s) = self.streams.get_mut(&stream) else {
            self.held -= cost(&message);
            return;
        };
        s.overflow.push_back(message);
        self.flush(stream);
    }

    /// Moves what waits for `stream` into its reader's buffer while there is room.
    fn flush(&mut self, stream: u64) {
        let user_acks = self.user_acks;
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let mut gone = Vec::new();
        while let Some(message) = s.overflow.front() {
            let room = s.sink.has_room();
            if !room && message.publish.qos() != QoS::AtMostOnce {
                break;
            }
            let Some(message) = s.overflow.pop_front() else {
                break;
            };
            let bytes = cost(&message);
            let token = message.ack_token;
            if !room {
                tracing::trace!(stream, "subscription buffer full: QoS 0 message dropped");
                s.sink.lagged();
                self.held -= bytes;
                continue;
            }
            let owes = if user_acks { None } else { token };
            let delivered = s.sink.deliver(
                Message::new(message.publish, if user_acks { token } else { None }),
                owes.is_some(),
            );
            if delivered {
                s.handed.push_back((owes, bytes));
            } else {
                // The reader is gone: nobody will take it.
                self.held -= bytes;
                gone.extend(owes);
            }
        }
        s.taken
            .set_wake_on_take(!s.overflow.is_empty() || self.held >= self.budget);
        for token in gone {
            self.taken_once(token);
        }
    }

    /// One reader took a message: acknowledge it once all its readers have.
    fn taken_once(&mut self, token: AckToken) {
        if let Some(left) = self.owed.get_mut(&token) {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.owed.remove(&token);
                self.acks.push(token);
            }
        }
    }

    /// Accounts for what the readers took since the last call (memory given back,
    /// acknowledgements due), then moves what waits into the buffers that now have room.
    pub(crate) fn collect(&mut self) {
        let mut done = std::mem::take(&mut self.done_buf);
        let mut waiting = std::mem::take(&mut self.route_buf);
        waiting.clear();
        for (&id, s) in self.streams.iter_mut() {
            let now = s.taken.count();
            while s.seen < now {
                let Some((token, bytes)) = s.handed.pop_front() else {
                    s.seen = now;
                    break;
                };
                s.seen += 1;
                self.held -= bytes;
                done.extend(token);
            }
            if !s.overflow.is_empty() {
                waiting.push(id);
            }
        }
        for token in done.drain(..) {
            self.taken_once(token);
        }
        for &id in &waiting {
            self.flush(id);
        }
        let full = self.is_full();
        for s in self.streams.values() {
            s.taken
                .set_wake_on_take(full && !s.handed.is_empty() || !s.overflow.is_empty());
        }
        self.done_buf = done;
        self.route_buf = waiting;
    }

    /// The store holds the session as it is: the acknowledgements of every take accounted for
    /// are on disk (or needed nothing saved).
    pub(crate) fn all_saved(&mut self) {
        for s in self.streams.values() {
            s.taken.set_durable(s.seen);
        }
    }

    /// A store write is made now: it holds the acknowledgements of every take accounted for.
    pub(crate) fn saving(&mut self) {
        for s in self.streams.values_mut() {
            s.saving = s.seen;
        }
    }

    /// The store write made at [`Routing::saving`] is done.
    pub(crate) fn saved(&mut self) {
        for s in self.streams.values() {
            s.taken.set_durable(s.saving);
        }
    }

    /// Gives back the memory of empty buffers (the connection went quiet).
    pub(crate) fn shrink(&mut self) {
        for stream in self.streams.values() {
            stream.sink.shrink_if_empty();
        }
        if self.unrouted.is_empty() {
            self.unrouted = VecDeque::new();
        }
        self.route_buf = Vec::new();
        self.done_buf = Vec::new();
    }
}
