//! Outbound publishes: the queue in publish order, their QoS 1/2 stages, flow control against
//! the server's Receive Maximum, and Message Expiry while queued.
//!
//! The queue holds every publish from the moment it is accepted until it completes. Entries
//! keep their order, which is the order PUBLISH and PUBREL packets are (re)sent in
//! [MQTT-4.4.0-1], [MQTT-4.6.0-1]. A resent PUBLISH keeps its Packet Identifier, freed only by
//! its acknowledgement (v3.1.1 [MQTT-2.3.1-3]), and carries DUP [MQTT-3.3.1-1]; after its
//! PUBREL only the PUBREL is ever resent [MQTT-4.3.3-6].

use alloc::vec::Vec;
use core::time::Duration;
use mqtt_proto::{PacketId, Publish, QoS, ReasonCode};

use crate::changes::ChangeLog;
use crate::event::PublishId;
use crate::poison::{Strikes, Watch};
use crate::tables::{Full, Table, Tables};
use crate::time::Instant;

mod connection;

/// Where a publish stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for a connection or for flow-control room. Sent before (then `dup` is set) only
    /// if a reconnect found less room than there were messages in flight.
    Queued,
    /// PUBLISH sent, PUBACK or PUBREC awaited.
    Sent,
    /// PUBREC received, PUBREL sent, PUBCOMP awaited (QoS 2).
    Released,
}

/// One publish on its way.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing<I> {
    pub(crate) id: PublishId,
    pub(crate) publish: Publish,
    pub(crate) stage: Stage,
    /// Whether the current stage's packet still has to be written: PUBLISH for `Queued` and
    /// (after a reconnect) `Sent`, PUBREL for `Released`.
    pub(crate) pending_tx: bool,
    /// When its Message Expiry Interval runs out (v5); checked only while it waits.
    pub(crate) expires_at: Option<I>,
    /// The PUBREC's reason code, reported when the PUBCOMP arrives.
    pub(crate) rec_reason: ReasonCode,
    /// Connections that ended without the server taking it ([`crate::poison`]).
    pub(crate) strikes: Strikes,
}

/// Whether a change to `entry` must be on disk before what follows from it is sent (see
/// [`ChangeLog::note`]): any change to a QoS 2 publish that stays in the queue.
fn urgent<I>(entry: &Outgoing<I>) -> bool {
    entry.publish.qos() == QoS::ExactlyOnce
}

impl<I> Outgoing<I> {
    pub(crate) fn packet_id(&self) -> Option<PacketId> {
        self.publish.packet_id()
    }
}

/// The queue and its counters.
#[derive(Debug)]
pub(crate) struct Outbound<I: Instant, T: Tables> {
    entries: T::Outbound<Outgoing<I>>,
    /// QoS 1/2 entries in `Sent` or `Released` on this connection: what Receive Maximum limits.
    in_flight: usize,
    /// Entries in `Queued`.
    queued: usize,
    /// Entries whose `pending_tx` is set.
    pending_tx: usize,
    /// Entries with an expiry deadline that are `Queued`.
    expiring: usize,
    /// No entry before this index has `pending_tx` set: where the search for the next packet
    /// to write starts, so that many publishes in flight do not make each write a scan.
    scan_from: usize,
    /// The entries added, changed or removed since a journal last asked.
    changes: ChangeLog,
    /// How far the server read on this connection, for [`Outbound::connection_lost`].
    watch: Watch,
}

impl<I: Instant, T: Tables> Outbound<I, T> {
    pub(crate) fn new() -> Self {
        Outbound {
            entries: Table::new(),
            in_flight: 0,
            queued: 0,
            pending_tx: 0,
            expiring: 0,
            scan_from: 0,
            changes: ChangeLog::default(),
            watch: Watch::default(),
        }
    }

    /// Swaps the ids of the entries changed since the last call into `into` (in the order of
    /// the changes, repeats included) and returns true; or returns false when the log cannot
    /// say (the first call, which starts it; too many changes; entries out of id order), and
    /// then every entry must be looked at.
    pub(crate) fn take_changes(&mut self, into: &mut Vec<u64>) -> bool {
        self.changes.take(into, self.entries.is_empty())
    }

    /// The entry with this id (found by a binary search: call only after
    /// [`Outbound::take_changes`] said the entries are in id order).
    pub(crate) fn find(&self, id: u64) -> Option<&Outgoing<I>> {
        let at = self.entries.binary_search_by_key(&id, |e| e.id.0).ok()?;
        self.entries.get(at)
    }

    fn note(&mut self, id: PublishId, urgent: bool) {
        self.changes.note(id, self.entries.len(), urgent);
    }

    /// Whether a change since the last [`Outbound::take_changes`] must be on disk before
    /// the packets that follow from it are sent (see [`ChangeLog::note`]).
    pub(crate) fn urgent_changes(&self) -> bool {
        self.changes.urgent()
    }

    /// Appends `entry`, noting it as changed and whether it keeps the queue in id order.
    fn push_entry(&mut self, entry: Outgoing<I>) {
        self.changes
            .appended(self.entries.back().map(|last| last.id), entry.id);
        self.note(entry.id, urgent(&entry) && entry.stage != Stage::Queued);
        // The callers checked for room first.
        let _ = self.entries.push(entry);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is full: a fixed-capacity one refuses another publish.
    pub(crate) fn is_full(&self) -> bool {
        self.entries.is_full()
    }

    /// Removes entry `index`, keeping the scan start in place.
    fn take_at(&mut self, index: usize) -> Option<Outgoing<I>> {
        let entry = self.entries.remove(index)?;
        if index < self.scan_from {
            self.scan_from -= 1;
        }
        // Gone: after a crash that lost this, the publish is sent again (QoS 1, allowed) or
        // released again (QoS 2, which the server answers whatever it holds).
        self.note(entry.id, false);
        Some(entry)
    }

    /// Gives back the memory of a queue that grew in a burst and is empty again.
    pub(crate) fn shrink_if_drained(&mut self) {
        self.entries.shrink_if_drained();
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Outgoing<I>> {
        self.entries.iter()
    }

    /// Accepts a new publish, waiting to be sent; refused when the table is full.
    pub(crate) fn push(
        &mut self,
        id: PublishId,
        publish: Publish,
        expires_at: Option<I>,
    ) -> Result<(), Full> {
        if self.entries.is_full() {
            return Err(Full);
        }
        self.queued += 1;
        self.pending_tx += 1;
        if expires_at.is_some() {
            self.expiring += 1;
        }
        self.push_entry(Outgoing {
            id,
            publish,
            stage: Stage::Queued,
            pending_tx: true,
            expires_at,
            rec_reason: ReasonCode::Success,
            strikes: Strikes::default(),
        });
        Ok(())
    }

    /// Puts back an entry restored from persistence, in its stage, to be resent on the next
    /// connection; refused when the table is full.
    pub(crate) fn restore(&mut self, entry: Outgoing<I>) -> Result<(), Full> {
        if self.entries.is_full() {
            return Err(Full);
        }
        if entry.stage == Stage::Queued {
            self.queued += 1;
            if entry.expires_at.is_some() {
                self.expiring += 1;
            }
        } else {
            self.in_flight += 1;
        }
        if entry.pending_tx {
            self.pending_tx += 1;
        }
        self.push_entry(entry);
        self.scan_from = 0;
        Ok(())
    }

    /// The index of the entry with this Packet Identifier. Acknowledgements mostly come in
    /// order, so the search starts at the front.
    fn position(&self, packet_id: PacketId) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.publish.packet_id() == Some(packet_id))
    }

    pub(crate) fn get(&self, packet_id: PacketId) -> Option<&Outgoing<I>> {
        self.position(packet_id).and_then(|i| self.entries.get(i))
    }

    /// Removes the entry with this Packet Identifier in stage `stage`. A publish sent on an
    /// earlier connection and waiting to be resent counts as `Sent`: the server may answer it
    /// before the resend.
    pub(crate) fn complete(&mut self, packet_id: PacketId, stage: Stage) -> Option<Outgoing<I>> {
        let index = self.position(packet_id)?;
        let entry = self.entries.get(index)?;
        let was_sent = entry.stage == Stage::Queued && entry.publish.dup;
        if entry.stage != stage && !(stage == Stage::Sent && was_sent) {
            return None;
        }
        self.watch.acknowledged(&entry.strikes);
        let entry = self.take_at(index)?;
        self.forget(&entry);
        Some(entry)
    }

    /// Adjusts the counters for an entry that leaves the queue.
    fn forget(&mut self, entry: &Outgoing<I>) {
        match entry.stage {
            Stage::Queued => {
                self.queued = self.queued.saturating_sub(1);
                if entry.expires_at.is_some() {
                    self.expiring = self.expiring.saturating_sub(1);
                }
            }
            Stage::Sent | Stage::Released => self.in_flight -= 1,
        }
        if entry.pending_tx {
            self.pending_tx = self.pending_tx.saturating_sub(1);
        }
    }

    /// A PUBREC with a success code: the entry moves to `Released`. Returns whether a PUBREL
    /// is to be sent (false if no sent QoS 2 entry has this id; true again for a repeated
    /// PUBREC of a `Released` one). The caller writes that PUBREL in the order the PUBRECs
    /// arrived [MQTT-4.6.0-4]; only a resend after a reconnect comes from the queue.
    pub(crate) fn release(&mut self, packet_id: PacketId, reason: ReasonCode) -> bool {
        let Some(index) = self.position(packet_id) else {
            return false;
        };
        let entries = self.entries.len();
        let Some(entry) = self.entries.get_mut(index) else {
            return false;
        };
        if entry.publish.qos() != QoS::ExactlyOnce {
            return false;
        }
        if entry.stage == Stage::Queued {
            // Never sent: not ours to release. Sent on an earlier connection and waiting to be
            // resent: the server has it, so release it now.
            if !entry.publish.dup {
                return false;
            }
            self.queued = self.queued.saturating_sub(1);
            self.in_flight += 1;
            if entry.expires_at.is_some() {
                self.expiring = self.expiring.saturating_sub(1);
            }
        }
        if entry.stage != Stage::Released {
            self.changes.note(entry.id, entries, urgent(entry));
        }
        self.watch.acknowledged(&entry.strikes);
        entry.strikes.cleared();
        entry.stage = Stage::Released;
        entry.rec_reason = reason;
        if entry.pending_tx {
            entry.pending_tx = false;
            self.pending_tx = self.pending_tx.saturating_sub(1);
        }
        true
    }

    /// The next entry whose packet is due and may go now, given the server's Receive Maximum
    /// ([MQTT-3.3.4-7], [MQTT-4.9.0-2]):
    /// a `Queued` QoS 1/2 PUBLISH waits while `in_flight` is at the limit, and goes as soon as
    /// an acknowledgement frees a place; every entry after it waits too, so that messages
    /// leave in order. Returns its index.
    ///
    /// Waiting for several places to free up, so as to write several publishes at once, stalls
    /// against a server that sends with Nagle's algorithm on (mosquitto's default): it holds
    /// its second PUBACK until our TCP acknowledgement of the first, which the kernel delays
    /// (up to 40 ms) while the client has nothing to send; a PUBLISH sent at once carries it.
    pub(crate) fn next_due(&mut self, receive_maximum: u16) -> Option<usize> {
        if self.pending_tx == 0 {
            return None;
        }
        let start = self.scan_from.min(self.entries.len());
        for (index, entry) in self.entries.iter().enumerate().skip(start) {
            if !entry.pending_tx {
                continue;
            }
            self.scan_from = index;
            if entry.stage == Stage::Queued && entry.publish.qos() != QoS::AtMostOnce {
                let window = usize::from(receive_maximum);
                if self.in_flight >= window {
                    return None;
                }
            }
            return Some(index);
        }
        None
    }

    pub(crate) fn entry(&self, index: usize) -> Option<&Outgoing<I>> {
        self.entries.get(index)
    }

    /// The packet of entry `index` was written: a QoS 0 entry leaves the queue (returned), a
    /// QoS 1/2 PUBLISH becomes `Sent`, a PUBREL stays `Released`.
    pub(crate) fn mark_written(&mut self, index: usize) -> Option<Outgoing<I>> {
        let entries = self.entries.len();
        let entry = self.entries.get_mut(index)?;
        if entry.pending_tx {
            entry.pending_tx = false;
            self.pending_tx = self.pending_tx.saturating_sub(1);
        }
        self.watch.written(&mut entry.strikes);
        match entry.stage {
            Stage::Queued if entry.publish.qos() == QoS::AtMostOnce => {
                let entry = self.take_at(index)?;
                self.queued = self.queued.saturating_sub(1);
                if entry.expires_at.is_some() {
                    self.expiring = self.expiring.saturating_sub(1);
                }
                Some(entry)
            }
            Stage::Queued => {
                // Once sent, expiry is the server's business [MQTT-4.3.3-7].
                if entry.expires_at.take().is_some() {
                    self.expiring = self.expiring.saturating_sub(1);
                }
                entry.stage = Stage::Sent;
                self.changes.note(entry.id, entries, urgent(entry));
                self.queued = self.queued.saturating_sub(1);
                self.in_flight += 1;
                None
            }
            Stage::Sent | Stage::Released => None,
        }
    }

    /// Removes entry `index` without sending it (it expired or cannot be sent).
    pub(crate) fn remove(&mut self, index: usize) -> Option<Outgoing<I>> {
        let entry = self.take_at(index)?;
        self.forget(&entry);
        Some(entry)
    }

    /// Sets the Message Expiry Interval of entry `index` to what is left of it at `now`
    /// (rounded up to a whole second), as the message is about to be sent.
    pub(crate) fn refresh_expiry(&mut self, index: usize, now: I) {
        let entries = self.entries.len();
        if let Some(entry) = self.entries.get_mut(index) {
            if let Some(at) = entry.expires_at {
                let left = at.saturating_duration_since(now);
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                let interval = Some(secs.min(u64::from(u32::MAX)) as u32);
                if entry.publish.properties.message_expiry_interval != interval {
                    entry.publish.properties.message_expiry_interval = interval;
                    self.changes.note(entry.id, entries, urgent(entry));
                }
            }
        }
    }

    /// Takes out every `Queued` entry whose expiry has passed at `now`.
    pub(crate) fn take_expired(&mut self, now: I, mut each: impl FnMut(Outgoing<I>)) {
        if self.expiring == 0 {
            return;
        }
        let mut index = 0;
        while index < self.entries.len() {
            let expired = self.entries.get(index).is_some_and(|e| {
                e.stage == Stage::Queued && e.expires_at.is_some_and(|at| at <= now)
            });
            if expired {
                if let Some(entry) = self.remove(index) {
                    each(entry);
                }
            } else {
                index += 1;
            }
        }
    }

    /// The earliest expiry among `Queued` entries.
    pub(crate) fn next_expiry(&self) -> Option<I> {
        if self.expiring == 0 {
            return None;
        }
        self.entries
            .iter()
            .filter(|e| e.stage == Stage::Queued)
            .filter_map(|e| e.expires_at)
            .min()
    }
}

/// `now + interval seconds`.
pub(crate) fn expiry_deadline<I: Instant>(now: I, interval: Option<u32>) -> Option<I> {
    interval.and_then(|secs| now.checked_add(Duration::from_secs(u64::from(secs))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloc::vec;
    use mqtt_proto::{QosPid, TopicName};

    type Queue = Outbound<std::time::Instant, crate::Growable>;

    fn publish(qos: u16) -> Publish {
        let qos_pid = match qos {
            0 => QosPid::AtMostOnce,
            n => QosPid::AtLeastOnce(PacketId::new(n).unwrap()),
        };
        Publish::new(TopicName::new("t").unwrap(), "p", qos_pid)
    }

    fn changes(q: &mut Queue) -> Option<Vec<u64>> {
        let mut ids = vec![99];
        q.take_changes(&mut ids).then_some(ids)
    }

    /// The log starts when a journal first asks, holds each entry that was added, changed
    /// stage or left (repeats included, nothing for a resend that changes nothing kept), and
    /// says nothing after more changes than it keeps or an entry out of id order.
    #[test]
    fn changes_are_noted_once_a_journal_asks() {
        let mut q = Queue::new();
        q.push(PublishId(1), publish(1), None).unwrap();
        assert_eq!(changes(&mut q), None, "the first call starts the log");
        assert_eq!(changes(&mut q), Some(vec![]));

        q.push(PublishId(2), publish(0), None).unwrap();
        q.push(PublishId(3), publish(3), None).unwrap();
        for _ in 0..3 {
            let index = q.next_due(10).unwrap();
            q.mark_written(index);
        }
        assert_eq!(changes(&mut q), Some(vec![2, 3, 1, 2, 3]));
        q.connection_lost(false, 0, |_| {});
        q.resume(10);
        assert_eq!(changes(&mut q), Some(vec![1, 3]), "DUP set on the resend");
        let index = q.next_due(10).unwrap();
        q.mark_written(index);
        q.resume(10);
        assert_eq!(changes(&mut q), Some(vec![]), "nothing kept changed");
        q.complete(PacketId::new(3).unwrap(), Stage::Sent).unwrap();
        assert_eq!(changes(&mut q), Some(vec![3]));

        // Entry 1 is due again (the second resume): each turn below writes it or the QoS 0
        // publish before, leaving the last one queued.
        for id in 10..10 + 2000 {
            q.push(PublishId(id), publish(0), None).unwrap();
            let index = q.next_due(10).unwrap();
            q.mark_written(index);
        }
        assert_eq!(changes(&mut q), None, "more changes than the log keeps");
        assert_eq!(changes(&mut q), Some(vec![]));

        q.restore(Outgoing {
            id: PublishId(5),
            publish: publish(5),
            stage: Stage::Sent,
            pending_tx: false,
            expires_at: None,
            rec_reason: ReasonCode::Success,
            strikes: Strikes::default(),
        })
        .unwrap();
        let ids: Vec<u64> = q.entries.iter().map(|e| e.id.0).collect();
        assert_eq!(ids, [1, 2009, 5]);
        assert_eq!(changes(&mut q), None, "an entry out of order");
        q.complete(PacketId::new(1).unwrap(), Stage::Sent).unwrap();
        q.complete(PacketId::new(5).unwrap(), Stage::Sent).unwrap();
        assert_eq!(changes(&mut q), None, "until the queue empties");
        let index = q.next_due(10).unwrap();
        assert_eq!(q.mark_written(index).unwrap().id, PublishId(2009));
        q.push(PublishId(3000), publish(0), None).unwrap();
        assert_eq!(changes(&mut q), Some(vec![2009, 3000]), "in order again");
    }
}
