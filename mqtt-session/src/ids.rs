//! Packet Identifiers in use, shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE
//! ([MQTT-2.2.1-3]; v3.1.1 [MQTT-2.3.1-2]).

use alloc::vec::Vec;
use mqtt_proto::PacketId;

/// The identifiers in use, sorted, and a cursor that hands out the next one. Identifiers are
/// handed out in increasing order and wrap from 65,535 to 1, skipping those in use, so an
/// identifier is reused as late as possible; when all 65,535 are in use there is none to give
/// rather than a reused one.
#[derive(Debug, Clone)]
pub(crate) struct PacketIds {
    in_use: Vec<u16>,
    next: u16,
}

impl PacketIds {
    pub(crate) fn new() -> Self {
        PacketIds {
            in_use: Vec::new(),
            next: 1,
        }
    }

    /// How many identifiers are in use.
    pub(crate) fn len(&self) -> usize {
        self.in_use.len()
    }

    /// Takes the next free identifier, or `None` when all are in use.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut candidate = self.next;
        loop {
            match self.in_use.binary_search(&candidate) {
                Ok(_) => {
                    candidate = if candidate == u16::MAX {
                        1
                    } else {
                        candidate + 1
                    }
                }
                Err(pos) => {
                    self.in_use.insert(pos, candidate);
                    self.next = if candidate == u16::MAX {
                        1
                    } else {
                        candidate + 1
                    };
                    return PacketId::new(candidate);
                }
            }
        }
    }

    /// Marks `id` in use (restoring persisted state); false if it already was.
    pub(crate) fn claim(&mut self, id: PacketId) -> bool {
        match self.in_use.binary_search(&id.get()) {
            Ok(_) => false,
            Err(pos) => {
                self.in_use.insert(pos, id.get());
                true
            }
        }
    }

    /// Frees `id`; false if it was not in use.
    pub(crate) fn release(&mut self, id: PacketId) -> bool {
        match self.in_use.binary_search(&id.get()) {
            Ok(pos) => {
                self.in_use.remove(pos);
                true
            }
            Err(_) => false,
        }
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

    #[test]
    fn hands_out_in_order_and_skips_ids_in_use_after_wrapping() {
        let mut ids = PacketIds::new();
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
        let mut ids = PacketIds::new();
        for _ in 0..u16::MAX {
            assert!(ids.allocate().is_some());
        }
        assert_eq!(ids.allocate(), None);
        assert!(ids.release(PacketId::new(500).unwrap()));
        assert_eq!(ids.allocate().unwrap().get(), 500);
    }
}
