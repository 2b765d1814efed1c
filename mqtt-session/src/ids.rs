//! Packet Identifiers in use, shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE
//! ([MQTT-2.2.1-3]; v3.1.1 [MQTT-2.3.1-2]).

use mqtt_proto::PacketId;

use crate::tables::{Full, IdSet};

/// The identifiers in use and a cursor that hands out the next one. Identifiers are handed
/// out in increasing order and wrap from 65,535 to 1, skipping those in use, so an identifier
/// is reused as late as possible; when all are in use (all 65,535, or as many as a bounded
/// set holds) there is none to give rather than a reused one.
#[derive(Debug)]
pub(crate) struct PacketIds<S> {
    in_use: S,
    next: u16,
}

impl<S: IdSet> PacketIds<S> {
    pub(crate) fn new() -> Self {
        PacketIds {
            in_use: S::new(),
            next: 1,
        }
    }

    /// Whether another identifier can be handed out.
    pub(crate) fn has_room(&self) -> bool {
        self.in_use.len() < self.in_use.capacity()
    }

    /// Takes the next free identifier, or `None` when all are in use.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if !self.has_room() {
            return None;
        }
        let mut candidate = self.next;
        loop {
            let following = if candidate == u16::MAX {
                1
            } else {
                candidate + 1
            };
            match self.in_use.insert(candidate) {
                Ok(false) => candidate = following,
                Ok(true) => {
                    self.next = following;
                    return PacketId::new(candidate);
                }
                Err(Full) => return None,
            }
        }
    }

    /// Marks `id` in use (restoring persisted state); false if it already was or there is no
    /// room.
    pub(crate) fn claim(&mut self, id: PacketId) -> bool {
        self.in_use.insert(id.get()) == Ok(true)
    }

    /// Frees `id`; false if it was not in use.
    pub(crate) fn release(&mut self, id: PacketId) -> bool {
        self.in_use.remove(id.get())
    }

    /// The cursor, for persistence.
    pub(crate) fn next(&self) -> u16 {
        self.next
    }

    pub(crate) fn set_next(&mut self, next: u16) {
        self.next = next.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn hands_out_in_order_and_skips_ids_in_use_after_wrapping() {
        let mut ids = PacketIds::<Vec<u16>>::new();
        let a = ids.allocate().unwrap();
        let b = ids.allocate().unwrap();
        assert_eq!((a.get(), b.get()), (1, 2));
        assert!(ids.release(a));
        assert!(!ids.release(a));
        ids.set_next(u16::MAX);
        assert_eq!(ids.allocate().unwrap().get(), u16::MAX);
        // 1 is free again, 2 is still in use.
        assert_eq!(ids.allocate().unwrap().get(), 1);
        assert_eq!(ids.allocate().unwrap().get(), 3);
    }

    #[test]
    fn exhaustion_is_reported_not_wrapped() {
        let mut ids = PacketIds::<Vec<u16>>::new();
        for _ in 0..u16::MAX {
            assert!(ids.allocate().is_some());
        }
        assert_eq!(ids.allocate(), None);
        assert!(ids.release(PacketId::new(500).unwrap()));
        assert_eq!(ids.allocate().unwrap().get(), 500);
    }
}
