//! A session journal: a [`Snapshot`] followed by the changes made since, so that a store
//! appends what one turn changed instead of writing the whole session again.
//!
//! Writing the whole snapshot on every change is fine for a session with a few messages
//! pending, and quadratic for one draining a backlog: each turn that completes a message writes
//! all the others again. A [`Journal`] writes the snapshot whole once, then for each turn only
//! what changed (a publish taken or moved to its next stage: that publish; a publish completed:
//! its id), and writes the snapshot whole again once the changes add up to as much as the
//! snapshot (and at least [`Journal::COMPACT_AT_LEAST`] bytes). So what a store holds stays
//! within about twice the session's size plus that, and what is written within about twice the
//! changes.
//!
//! The bytes: `MQJ1`, then records, each a 4-byte length, the CRC-32 of its body and its body:
//! a kind byte and either a snapshot ([`Snapshot::encode`]) or one turn's changes. The first
//! record is a snapshot. A store appends a record with one write; a crash in the middle of it
//! leaves a last record that is cut short or fails its checksum, which [`Journal::read`]
//! ignores: nothing that depended on it was sent (see [`Journal::write`]). A bad record with
//! good ones after it is corruption, reported as such.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqtt_proto::{MqttString, PacketId, ProtocolVersion};

use crate::persist::{
    need, persisted_publish, persisted_subscription, put_inbound_qos2, put_persisted_publish,
    put_str, put_subscriptions, take_inbound_qos2, take_persisted_publish, take_str,
    take_subscriptions, PersistedPublish, PersistedSubscription, Snapshot, SnapshotError,
    MAGIC as SNAPSHOT_MAGIC,
};
use crate::session::Session;
use crate::tables::Tables;
use crate::time::Instant;
use crc::crc32;

mod crc;

const MAGIC: &[u8; 4] = b"MQJ1";
/// Record length and checksum.
const RECORD_HEAD: usize = 8;

const SNAPSHOT: u8 = 0;
const CHANGES: u8 = 1;

// The changes of a `CHANGES` record.
const PUBLISH: u8 = 1;
const REMOVE: u8 = 2;
const COUNTERS: u8 = 3;
const CLIENT_ID: u8 = 4;
const INBOUND_QOS2: u8 = 5;
const SUBSCRIPTIONS: u8 = 6;

/// What to do with the store this turn, as [`Journal::write`] says.
#[derive(Debug, PartialEq, Eq)]
pub enum JournalWrite<'a> {
    /// Nothing changed since the last write: leave the store as it is.
    Unchanged,
    /// Replace what the store holds with these bytes, whole (write them beside it and rename,
    /// or whatever makes the replacement all or nothing).
    Replace(&'a [u8]),
    /// Append these bytes to what the store holds.
    Append(&'a [u8]),
}

/// Turns the state of a session, once per turn of a loop, into what a store must write:
/// nothing, changes to append, or (the first time, after a failed write, and once the changes
/// add up) the whole journal again.
///
/// [`Journal::write_session`] looks only at what the session noted as changed since the last
/// write (a turn that completes one publish of a backlog of thousands costs that publish, not
/// the backlog); [`Journal::write`] takes a [`Snapshot`] and compares all of it.
///
/// ```
/// use mqtt_proto::{MqttString, ProtocolVersion};
/// use mqtt_session::{Config, Journal, JournalWrite, Session};
///
/// let config = Config::new(ProtocolVersion::V5, MqttString::new("sensor-7")?);
/// let mut session = Session::<std::time::Instant>::new(config)?;
/// let mut journal = Journal::new();
/// let mut stored = Vec::new();
/// match journal.write_session(&mut session) {
///     JournalWrite::Replace(bytes) => stored = bytes.to_vec(),
///     JournalWrite::Append(bytes) => stored.extend_from_slice(bytes),
///     JournalWrite::Unchanged => {}
/// }
/// journal.written();
/// assert_eq!(journal.write_session(&mut session), JournalWrite::Unchanged);
/// assert_eq!(journal.write(session.snapshot()), JournalWrite::Unchanged);
/// assert_eq!(Journal::read(stored.into())?, session.snapshot());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Journal {
    /// What the store holds, replayed.
    saved: Option<Saved>,
    /// What the last write does to it, until the store has done it.
    pending: Option<Pending>,
    buf: BytesMut,
    /// Bytes of the snapshot record the store's journal starts with, and of the changes after it.
    base: usize,
    appended: usize,
    /// The ids of the publishes a session changed, reused from turn to turn.
    ids: Vec<u64>,
}

/// A [`Snapshot`] whose publishes give up their front cheaply (acknowledgements mostly
/// complete the oldest).
#[derive(Debug)]
struct Saved {
    protocol_version: ProtocolVersion,
    client_id: MqttString,
    next_packet_id: u16,
    last_publish_id: u64,
    outgoing: VecDeque<PersistedPublish>,
    /// Whether `outgoing` is in id order, so that a publish is found by a binary search.
    ordered: bool,
    inbound_qos2: Vec<PacketId>,
    subscriptions: Vec<PersistedSubscription>,
}

impl From<Snapshot> for Saved {
    fn from(s: Snapshot) -> Self {
        let ordered = in_id_order(s.outgoing.iter());
        Saved {
            protocol_version: s.protocol_version,
            client_id: s.client_id,
            next_packet_id: s.next_packet_id,
            last_publish_id: s.last_publish_id,
            outgoing: s.outgoing.into(),
            ordered,
            inbound_qos2: s.inbound_qos2,
            subscriptions: s.subscriptions,
        }
    }
}

impl From<Saved> for Snapshot {
    fn from(s: Saved) -> Self {
        Snapshot {
            protocol_version: s.protocol_version,
            client_id: s.client_id,
            next_packet_id: s.next_packet_id,
            last_publish_id: s.last_publish_id,
            outgoing: s.outgoing.into(),
            inbound_qos2: s.inbound_qos2,
            subscriptions: s.subscriptions,
        }
    }
}

impl Saved {
    fn find(&self, id: u64) -> Result<usize, usize> {
        self.outgoing.binary_search_by_key(&id, |p| p.id)
    }

    /// Applies `changes` in their order. A publish is found by a binary search, so the
    /// publishes stay in id order if they were.
    fn apply(&mut self, changes: Changes) -> Result<(), SnapshotError> {
        if let Some(client_id) = changes.client_id {
            self.client_id = client_id;
        }
        if let Some((next_packet_id, last_publish_id)) = changes.counters {
            self.next_packet_id = next_packet_id;
            self.last_publish_id = last_publish_id;
        }
        for change in changes.outgoing {
            match change {
                Change::Publish(p) => match self.find(p.id) {
                    Ok(at) => self.outgoing[at] = p,
                    Err(at) => self.outgoing.insert(at, p),
                },
                Change::Remove(id) => {
                    let at = self.find(id).map_err(|_| {
                        SnapshotError::Corrupt("journal removes an unknown publish")
                    })?;
                    self.outgoing.remove(at);
                }
            }
        }
        if let Some(ids) = changes.inbound_qos2 {
            self.inbound_qos2 = ids;
        }
        if let Some(subscriptions) = changes.subscriptions {
            self.subscriptions = subscriptions;
        }
        Ok(())
    }
}

/// What a store is doing with the last write.
#[derive(Debug)]
enum Pending {
    /// The journal is replaced by one holding this state.
    Replace(Snapshot),
    /// These changes are appended.
    Append(Changes),
}

/// One `CHANGES` record.
#[derive(Debug, Default)]
struct Changes {
    client_id: Option<MqttString>,
    /// Next Packet Identifier and last publish id.
    counters: Option<(u16, u64)>,
    outgoing: Vec<Change>,
    inbound_qos2: Option<Vec<PacketId>>,
    subscriptions: Option<Vec<PersistedSubscription>>,
}

#[derive(Debug)]
enum Change {
    /// A publish taken, or moved on.
    Publish(PersistedPublish),
    /// A publish completed (or dropped).
    Remove(u64),
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.client_id.is_none()
            && self.counters.is_none()
            && self.outgoing.is_empty()
            && self.inbound_qos2.is_none()
            && self.subscriptions.is_none()
    }

    /// The record's body after its kind byte.
    fn encode(&self, buf: &mut BytesMut) {
        if let Some(client_id) = &self.client_id {
            buf.put_u8(CLIENT_ID);
            put_str(buf, client_id);
        }
        if let Some((next_packet_id, last_publish_id)) = self.counters {
            buf.put_u8(COUNTERS);
            buf.put_u16(next_packet_id);
            buf.put_u64(last_publish_id);
        }
        for change in &self.outgoing {
            match change {
                Change::Publish(p) => {
                    buf.put_u8(PUBLISH);
                    put_persisted_publish(buf, p);
                }
                Change::Remove(id) => {
                    buf.put_u8(REMOVE);
                    buf.put_u64(*id);
                }
            }
        }
        if let Some(ids) = &self.inbound_qos2 {
            buf.put_u8(INBOUND_QOS2);
            put_inbound_qos2(buf, ids);
        }
        if let Some(subscriptions) = &self.subscriptions {
            buf.put_u8(SUBSCRIPTIONS);
            put_subscriptions(buf, subscriptions);
        }
    }

    /// Reads what [`Changes::encode`] wrote.
    fn decode(mut body: Bytes) -> Result<Changes, SnapshotError> {
        let mut changes = Changes::default();
        while body.has_remaining() {
            match body.get_u8() {
                PUBLISH => changes
                    .outgoing
                    .push(Change::Publish(take_persisted_publish(&mut body)?)),
                REMOVE => {
                    need(&body, 8)?;
                    changes.outgoing.push(Change::Remove(body.get_u64()));
                }
                COUNTERS => {
                    need(&body, 10)?;
                    changes.counters = Some((body.get_u16(), body.get_u64()));
                }
                CLIENT_ID => changes.client_id = Some(take_str(&mut body)?),
                INBOUND_QOS2 => changes.inbound_qos2 = Some(take_inbound_qos2(&mut body)?),
                SUBSCRIPTIONS => changes.subscriptions = Some(take_subscriptions(&mut body)?),
                _ => return Err(SnapshotError::Corrupt("journal change kind")),
            }
        }
        Ok(changes)
    }
}

impl Journal {
    /// Changes are appended until they add up to the snapshot's size or this, whichever is
    /// larger; then the journal is written whole again. Writing it whole costs a new file, two
    /// syncs and a rename (see `FileStore`), so a busy publisher should meet it seldom: at 1 MiB,
    /// once per about 7,500 QoS 1 messages of 64 bytes.
    pub const COMPACT_AT_LEAST: usize = 1024 * 1024;

    /// A journal that has written nothing yet: its first write replaces what the store holds.
    pub fn new() -> Journal {
        Journal::default()
    }

    /// What to write for the session's state `snapshot`. Call [`Journal::written`] once the
    /// store has done it (durably), or [`Journal::failed`] if it could not; until then, send
    /// nothing that depends on the change.
    ///
    /// This compares the whole snapshot with what the store holds; [`Journal::write_session`]
    /// finds the same changes by looking only at what the session changed.
    pub fn write(&mut self, snapshot: Snapshot) -> JournalWrite<'_> {
        self.buf.clear();
        self.pending = None;
        let changes = self.saved.as_ref().and_then(|saved| diff(saved, &snapshot));
        match changes {
            Some(changes) => self.append(changes, move || snapshot),
            None => self.replace(snapshot),
        }
    }

    /// What to write for `session`'s state now: the same as
    /// [`write`](Journal::write)`(session.snapshot())`, found by looking only at the
    /// publishes the session changed since the last call (plus its counters, inbound QoS 2
    /// ids and subscriptions), not at every publish it holds. The first call, and a call
    /// after a write that was neither [`written`](Journal::written) nor
    /// [`failed`](Journal::failed), compare the whole snapshot; so does one after more
    /// changes than the session keeps notes of (about four per publish it holds).
    pub fn write_session<I: Instant, T: Tables>(
        &mut self,
        session: &mut Session<I, T>,
    ) -> JournalWrite<'_> {
        let noted = session.take_outgoing_changes(&mut self.ids);
        let saved = match &self.saved {
            Some(saved)
                if noted
                    && self.pending.is_none()
                    && saved.ordered
                    && saved.protocol_version == session.protocol_version() =>
            {
                saved
            }
            _ => return self.write(session.snapshot()),
        };
        self.buf.clear();
        let (packet_ids, outbound, inbound, subs, publish_seq) = session.parts();
        let mut changes = Changes::default();
        if saved.client_id != *session.client_id() {
            changes.client_id = Some(session.client_id().clone());
        }
        let counters = (packet_ids.next(), publish_seq);
        if (saved.next_packet_id, saved.last_publish_id) != counters {
            changes.counters = Some(counters);
        }
        self.ids.sort_unstable();
        self.ids.dedup();
        for &id in &self.ids {
            let old = saved.find(id).ok().and_then(|at| saved.outgoing.get(at));
            match outbound.find(id) {
                Some(entry) => {
                    let new = persisted_publish(entry);
                    if !old.is_some_and(|old| same(old, &new)) {
                        changes.outgoing.push(Change::Publish(new));
                    }
                }
                None if old.is_some() => changes.outgoing.push(Change::Remove(id)),
                None => {}
            }
        }
        if !saved
            .inbound_qos2
            .iter()
            .copied()
            .eq(inbound.qos2_received_ids())
        {
            changes.inbound_qos2 = Some(inbound.qos2_received_ids().collect());
        }
        let same_subscriptions = saved
            .subscriptions
            .iter()
            .map(|s| (&s.filter, s.identifier))
            .eq(subs.granted().map(|s| (&s.filter, s.identifier)));
        if !same_subscriptions {
            changes.subscriptions = Some(subs.granted().map(persisted_subscription).collect());
        }
        self.pending = None;
        self.append(changes, || session.snapshot())
    }

    /// Whether `session` changed since the last write in a way that must be on disk before
    /// the packets that follow from it are sent: a QoS 2 publish given its packet identifier
    /// or released, the QoS 2 packet identifiers received (their PUBREC and PUBCOMP), the
    /// subscriptions or the client identifier. Other changes (a QoS 1 publish sent or
    /// acknowledged, a QoS 2 one completed, the counters) may follow the packets: a crash
    /// that loses them sends a QoS 1 message again, or a PUBREL the server answers whatever
    /// it holds. A new publish is neither: its caller is told it was accepted once it is on
    /// disk, whatever was sent.
    ///
    /// Cheap (it compares no publishes), and it may say yes when the change is in a write the
    /// store is still doing (compared with what the store held before it) or when the
    /// journal has not written yet, never no when the answer is yes. Call it before
    /// [`Journal::write_session`], which forgets the changes it writes.
    pub fn urgent<I: Instant, T: Tables>(&self, session: &Session<I, T>) -> bool {
        let Some(saved) = &self.saved else {
            return true;
        };
        let (_, outbound, inbound, subs, _) = session.parts();
        outbound.urgent_changes()
            || saved.client_id != *session.client_id()
            || !saved
                .inbound_qos2
                .iter()
                .copied()
                .eq(inbound.qos2_received_ids())
            || !saved
                .subscriptions
                .iter()
                .map(|s| (&s.filter, s.identifier))
                .eq(subs.granted().map(|s| (&s.filter, s.identifier)))
    }

    /// Appends `changes` if there are any and the journal is not due to be written whole;
    /// otherwise replaces it with `whole()`.
    fn append(&mut self, changes: Changes, whole: impl FnOnce() -> Snapshot) -> JournalWrite<'_> {
        if changes.is_empty() {
            return JournalWrite::Unchanged;
        }
        put_record(&mut self.buf, CHANGES, |buf| changes.encode(buf));
        if self.appended + self.buf.len() > self.base.max(Self::COMPACT_AT_LEAST) {
            self.buf.clear();
            return self.replace(whole());
        }
        self.pending = Some(Pending::Append(changes));
        JournalWrite::Append(&self.buf)
    }

    fn replace(&mut self, snapshot: Snapshot) -> JournalWrite<'_> {
        self.buf.put_slice(MAGIC);
        put_record(&mut self.buf, SNAPSHOT, |b| snapshot.encode(b));
        self.pending = Some(Pending::Replace(snapshot));
        JournalWrite::Replace(&self.buf)
    }

    /// The store did what the last [`Journal::write`] said.
    pub fn written(&mut self) {
        match self.pending.take() {
            Some(Pending::Replace(snapshot)) => {
                self.base = self.buf.len();
                self.appended = 0;
                self.saved = Some(snapshot.into());
            }
            Some(Pending::Append(changes)) => {
                self.appended += self.buf.len();
                // The changes were made against what is saved and remove only what it holds;
                // should that ever not hold, the next write replaces the journal.
                if let Some(saved) = &mut self.saved {
                    if saved.apply(changes).is_err() {
                        self.saved = None;
                    }
                }
            }
            None => {}
        }
    }

    /// The store could not do what the last [`Journal::write`] said. The next write replaces
    /// the whole journal: an append that failed half-way may have left part of a record, which
    /// must not be followed by others.
    pub fn failed(&mut self) {
        self.pending = None;
        self.saved = None;
    }

    /// The session state `bytes` hold: a journal (its snapshot with the changes after it
    /// applied, a last record cut short by a crash ignored) or a plain [`Snapshot::encode`].
    pub fn read(mut bytes: Bytes) -> Result<Snapshot, SnapshotError> {
        if bytes.starts_with(SNAPSHOT_MAGIC) {
            return Snapshot::decode(bytes);
        }
        if !bytes.starts_with(MAGIC) {
            return Err(SnapshotError::BadHeader);
        }
        bytes.advance(MAGIC.len());
        let mut saved: Option<Saved> = None;
        while let Some(mut body) = take_record(&mut bytes)? {
            match (body.get_u8(), &mut saved) {
                (SNAPSHOT, None) => saved = Some(Snapshot::decode(body)?.into()),
                (CHANGES, Some(saved)) => saved.apply(Changes::decode(body)?)?,
                _ => return Err(SnapshotError::Corrupt("journal record out of place")),
            }
        }
        saved
            .map(Snapshot::from)
            .ok_or(SnapshotError::Corrupt("journal without a snapshot"))
    }
}

/// Appends a record of `kind` whose body `body` writes.
fn put_record(buf: &mut BytesMut, kind: u8, body: impl FnOnce(&mut BytesMut)) {
    let at = buf.len();
    buf.put_u64(0);
    buf.put_u8(kind);
    body(buf);
    let len = (buf.len() - at - RECORD_HEAD) as u32;
    let crc = crc32(&buf[at + RECORD_HEAD..]);
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    buf[at + 4..at + RECORD_HEAD].copy_from_slice(&crc.to_be_bytes());
}

/// The next record's body (its kind byte first), or `None` at the end, including the end a
/// crash left in the middle of an append.
fn take_record(bytes: &mut Bytes) -> Result<Option<Bytes>, SnapshotError> {
    if bytes.len() < RECORD_HEAD {
        return Ok(None);
    }
    let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let crc = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let rest = bytes.len() - RECORD_HEAD;
    if len >= 1 && len <= rest && crc32(&bytes[RECORD_HEAD..RECORD_HEAD + len]) == crc {
        bytes.advance(RECORD_HEAD);
        return Ok(Some(bytes.split_to(len)));
    }
    // A record the last append did not finish: it runs to the end, or what follows it is the
    // zeroes a file system may show past the data a crash did not let it write.
    if len >= rest || bytes[RECORD_HEAD..].iter().all(|&b| b == 0) {
        bytes.clear();
        return Ok(None);
    }
    Err(SnapshotError::Corrupt("journal record checksum"))
}

/// The changes turning `old` into `new` (none when they are equal), or `None` when `new` is
/// not a later state of `old` that changes can express (another protocol version, or
/// publishes out of order).
fn diff(old: &Saved, new: &Snapshot) -> Option<Changes> {
    if old.protocol_version != new.protocol_version
        || !old.ordered
        || !in_id_order(new.outgoing.iter())
    {
        return None;
    }
    let mut changes = Changes::default();
    if old.client_id != new.client_id {
        changes.client_id = Some(new.client_id.clone());
    }
    if (old.next_packet_id, old.last_publish_id) != (new.next_packet_id, new.last_publish_id) {
        changes.counters = Some((new.next_packet_id, new.last_publish_id));
    }
    // Both lists are in id order: walk them side by side.
    let (a, b) = (&old.outgoing, &new.outgoing);
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (None, None) => break,
            (Some(o), Some(n)) if o.id == n.id => {
                i += 1;
                j += 1;
                if !same(o, n) {
                    changes.outgoing.push(Change::Publish(n.clone()));
                }
            }
            (Some(o), Some(n)) if o.id < n.id => {
                i += 1;
                changes.outgoing.push(Change::Remove(o.id));
            }
            (Some(o), None) => {
                i += 1;
                changes.outgoing.push(Change::Remove(o.id));
            }
            (_, Some(n)) => {
                j += 1;
                changes.outgoing.push(Change::Publish(n.clone()));
            }
        }
    }
    if old.inbound_qos2 != new.inbound_qos2 {
        changes.inbound_qos2 = Some(new.inbound_qos2.clone());
    }
    if old.subscriptions != new.subscriptions {
        changes.subscriptions = Some(new.subscriptions.clone());
    }
    Some(changes)
}

/// `a == b`, without comparing the payloads byte by byte when they are the same bytes (as
/// they are in two snapshots of one session: a publish's payload never changes).
fn same(a: &PersistedPublish, b: &PersistedPublish) -> bool {
    let (p, q) = (&a.publish, &b.publish);
    let same_bytes = |x: &[u8], y: &[u8]| x.as_ptr() == y.as_ptr() && x.len() == y.len() || x == y;
    a.id == b.id
        && a.stage == b.stage
        && (p.dup, p.qos_pid, p.retain) == (q.dup, q.qos_pid, q.retain)
        && same_bytes(p.topic.as_bytes(), q.topic.as_bytes())
        && same_bytes(&p.payload, &q.payload)
        && p.properties == q.properties
}

fn in_id_order<'a>(mut publishes: impl Iterator<Item = &'a PersistedPublish>) -> bool {
    let Some(mut last) = publishes.next().map(|p| p.id) else {
        return true;
    };
    publishes.all(|p| core::mem::replace(&mut last, p.id) < p.id)
}

#[cfg(test)]
mod tests;
