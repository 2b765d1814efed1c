//! What the end of a connection and the next CONNACK do to the queue: nothing stays in flight,
//! publishes the server keeps dropping the connection over are given up, and the next
//! connection resends (the server resumed the session) or starts over (it did not).

use super::{urgent, Outbound, Outgoing, Stage};
use crate::tables::{Table, Tables};
use crate::time::Instant;

impl<I: Instant, T: Tables> Outbound<I, T> {
    /// The connection ended: nothing is in flight on a connection any more; QoS 0 messages
    /// still queued stay queued. When the server (not the application) ended it (`judge`),
    /// each publish sent on it and not taken counts it against itself ([`crate::poison`]);
    /// those that reach `poison_limit` leave the queue through `poisoned`.
    pub(crate) fn connection_lost(
        &mut self,
        judge: bool,
        poison_limit: u16,
        mut poisoned: impl FnMut(Outgoing<I>),
    ) {
        self.scan_from = 0;
        let judged = |e: &Outgoing<I>| judge && e.stage == Stage::Sent;
        let stopped_at = self
            .entries
            .iter()
            .filter(|e| judged(e))
            .filter_map(|e| self.watch.unread(&e.strikes))
            .min();
        let mut index = 0;
        while let Some(entry) = self.entries.get_mut(index) {
            if entry.stage != Stage::Queued && entry.pending_tx {
                entry.pending_tx = false;
                self.pending_tx = self.pending_tx.saturating_sub(1);
            }
            let judged = judged(entry);
            if self
                .watch
                .connection_ended(&mut entry.strikes, judged, stopped_at, poison_limit)
            {
                if let Some(entry) = self.remove(index) {
                    poisoned(entry);
                }
                continue;
            }
            index += 1;
        }
        self.watch.reset();
    }

    /// The server resumed the session: resend, in order, PUBREL for every `Released` entry and
    /// PUBLISH with DUP for every `Sent` one, as far as the new Receive Maximum allows; the
    /// `Sent` ones beyond it wait as `Queued` (keeping DUP) until room frees up. This is how a
    /// Receive Maximum that shrank across the reconnect is honoured.
    pub(crate) fn resume(&mut self, receive_maximum: u16) {
        self.scan_from = 0;
        let mut in_flight = 0usize;
        let entries = self.entries.len();
        for entry in self.entries.iter_mut() {
            match entry.stage {
                Stage::Released => {
                    in_flight += 1;
                    if !entry.pending_tx {
                        entry.pending_tx = true;
                        self.pending_tx += 1;
                    }
                }
                Stage::Sent => {
                    if !entry.publish.dup {
                        entry.publish.dup = true;
                        self.changes.note(entry.id, entries, urgent(entry));
                    }
                    if !entry.pending_tx {
                        entry.pending_tx = true;
                        self.pending_tx += 1;
                    }
                    if in_flight < usize::from(receive_maximum) {
                        in_flight += 1;
                    } else {
                        entry.stage = Stage::Queued;
                        self.changes.note(entry.id, entries, urgent(entry));
                        self.queued += 1;
                    }
                }
                Stage::Queued => {}
            }
        }
        self.in_flight = in_flight;
    }

    /// The server lost the session: every `Sent` publish starts over as a new one (DUP clear),
    /// and every `Released` one is handed to `done` — the server had received it (its PUBREC
    /// said so), only the release was lost, and sending it again would deliver it twice.
    pub(crate) fn restart(&mut self, mut done: impl FnMut(Outgoing<I>)) {
        self.scan_from = 0;
        let mut index = 0;
        while index < self.entries.len() {
            let entries = self.entries.len();
            let Some(entry) = self.entries.get_mut(index) else {
                break;
            };
            match entry.stage {
                Stage::Released => {
                    if let Some(entry) = self.take_at(index) {
                        if entry.pending_tx {
                            self.pending_tx = self.pending_tx.saturating_sub(1);
                        }
                        done(entry);
                    }
                    continue;
                }
                Stage::Sent => {
                    entry.stage = Stage::Queued;
                    entry.publish.dup = false;
                    self.changes.note(entry.id, entries, urgent(entry));
                    self.queued += 1;
                    if !entry.pending_tx {
                        entry.pending_tx = true;
                        self.pending_tx += 1;
                    }
                }
                Stage::Queued => {}
            }
            index += 1;
        }
        self.in_flight = 0;
    }
}
