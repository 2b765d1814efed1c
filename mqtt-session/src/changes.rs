//! The journal's view of the outbound queue: which entries changed since it last looked.

use alloc::vec::Vec;

use crate::event::PublishId;

/// The ids of the entries whose persistent part (stage, message) changed, so that a journal
/// looks at those instead of comparing the whole queue on every turn
/// ([`crate::Journal::write_session`]). Kept only once a journal has asked, and at most
/// [`ChangeLog::limit`] ids: past that, or when the entries are not in id order, the journal
/// is told to compare everything.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChangeLog {
    tracking: bool,
    /// More changes than the log keeps: it says nothing until the next take.
    overflowed: bool,
    /// An entry was added with an id not above the last one's (a restored snapshot out of
    /// order): entries cannot be found by id until the queue has been empty.
    unordered: bool,
    /// A change noted since the last take must be on disk before the packets that follow
    /// from it are sent (see [`ChangeLog::note`]).
    urgent: bool,
    ids: Vec<u64>,
}

impl ChangeLog {
    /// An entry `id` was appended after `last` (`None`: to an empty queue).
    pub(crate) fn appended(&mut self, last: Option<PublishId>, id: PublishId) {
        match last {
            Some(last) if last >= id => self.unordered = true,
            Some(_) => {}
            None => self.unordered = false,
        }
    }

    /// Swaps the ids noted since the last call into `into` (in the order of the changes,
    /// repeats included) and returns true; or returns false when the log cannot say (the
    /// first call, which starts it; too many changes; entries out of id order while the
    /// queue, `empty` or not, still holds them), and then every entry must be looked at.
    pub(crate) fn take(&mut self, into: &mut Vec<u64>, empty: bool) -> bool {
        into.clear();
        self.urgent = false;
        if empty {
            self.unordered = false;
        }
        let complete = self.tracking && !self.overflowed && !self.unordered;
        self.tracking = true;
        self.overflowed = false;
        if complete {
            core::mem::swap(&mut self.ids, into);
        } else {
            self.ids.clear();
        }
        complete
    }

    fn limit(entries: usize) -> usize {
        entries.saturating_mul(4).saturating_add(1024)
    }

    /// Whether a change noted since the last take is `urgent`.
    pub(crate) fn urgent(&self) -> bool {
        self.urgent
    }

    /// Notes that the entry `id` changed, in a queue of `entries`. `urgent`: the packet that
    /// follows from the change must not be sent before the change is on disk (a QoS 2
    /// publish given its packet identifier, or released: sent again after a crash that lost
    /// the change, it would be delivered twice [MQTT-4.3.3-5]).
    pub(crate) fn note(&mut self, id: PublishId, entries: usize, urgent: bool) {
        self.urgent |= urgent;
        if !self.tracking || self.overflowed {
            return;
        }
        if self.ids.len() >= Self::limit(entries) {
            self.overflowed = true;
            self.ids = Vec::new();
        } else {
            self.ids.push(id.0);
        }
    }
}
