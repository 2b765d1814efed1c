//! Two helpers of the event loop that keep its system calls few: how much room to make for a
//! read ([`ReadSize`]), and one timer moved only when the deadline moves ([`TimerSlot`]).

use bytes::BytesMut;
use std::time::Instant;

/// How much room a loop makes for one read: 512 bytes at first, doubled after every read that
/// filled all of it, up to 16 KiB. A busy connection reads many packets per system call; an
/// idle one holds little; and at most a few hundred small messages are delivered between two
/// turns of the subscribers (the loops yield to them after every read).
#[derive(Debug, Clone, Copy)]
pub struct ReadSize(usize);

impl ReadSize {
    const FIRST: usize = 512;
    const MAX: usize = 16 * 1024;

    /// The first size.
    pub fn new() -> Self {
        ReadSize(Self::FIRST)
    }

    /// How many bytes to make room for.
    pub fn get(&self) -> usize {
        self.0
    }

    /// Makes room in `buf` for the next read: the room left after the last packets when that
    /// is at least a quarter of the size, else [`ReadSize::get`] bytes. Returns the room.
    ///
    /// Decoded messages share the read buffer, so while a subscriber has not taken them yet
    /// the buffer cannot be reused: making the full size of room then allocates a new buffer.
    /// At QoS 1 and 2, where each read brings a message or two, insisting on the full size
    /// allocated a fresh 16 KiB buffer for almost every message; reading into the tail of the
    /// last one does not.
    pub fn reserve(&self, buf: &mut BytesMut) -> usize {
        self.reserve_at_least(buf, self.0 / 4)
    }

    /// Makes at least `n` bytes of room in `buf`: the room left in its tail when there is
    /// that much, else a new buffer with room for a whole read (at least [`ReadSize::get`]
    /// bytes), so that the reads after this one fit too (see [`ReadSize::reserve`]). Returns
    /// the room.
    ///
    /// When `buf` holds the start of a packet larger than a read, room for all the rest of it
    /// is made at once: its messages share this buffer for as long as a reader holds them, so
    /// it must not be larger than the packet (growing it read by read doubles it, and a 1 MiB
    /// message would then pin 2 MiB). The packet's size was checked against the Maximum Packet
    /// Size by the decoder before this is called.
    fn reserve_at_least(&self, buf: &mut BytesMut, n: usize) -> usize {
        let rest = packet_rest(buf).filter(|&rest| rest > self.0);
        let want = rest.map_or(n, |rest| rest.max(n));
        if buf.capacity() - buf.len() < want {
            buf.reserve(if rest.is_some() { want } else { self.0.max(n) });
        }
        buf.capacity() - buf.len()
    }

    /// A read returned `n` bytes into `room`; returns whether it filled the room (the socket
    /// may hold more), in which case the next read is made larger.
    pub fn read(&mut self, n: usize, room: usize) -> bool {
        let filled = n >= room;
        if filled {
            self.0 = (self.0 * 2).min(Self::MAX);
        }
        filled
    }
}

/// The bytes still to come of the packet that `buf` starts with, once its fixed header is
/// there (a Remaining Length of at most four bytes).
fn packet_rest(buf: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for (i, &byte) in buf.iter().skip(1).take(4).enumerate() {
        remaining |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            let total = 1 + (i + 1) + remaining;
            return Some(total.saturating_sub(buf.len()));
        }
    }
    None
}

impl Default for ReadSize {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps one timer for the life of a loop, moved only when the deadline moves: registering a
/// fresh timer on every wake-up cost more than the rest of the loop.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimerSlot(Option<Instant>);

impl TimerSlot {
    /// The instant to move the timer to, when `deadline` differs from where it is set.
    pub fn rearm(&mut self, deadline: Option<Instant>) -> Option<Instant> {
        match deadline {
            Some(at) if self.0 != Some(at) => {
                self.0 = Some(at);
                Some(at)
            }
            _ => None,
        }
    }

    /// The timer fired: it must be set again, even for the same instant.
    pub fn fired(&mut self) {
        self.0 = None;
    }
}

#[cfg(test)]
mod tests {
    use super::{ReadSize, TimerSlot};
    use std::time::{Duration, Instant};

    #[test]
    fn read_size_doubles_after_full_reads_up_to_16_kib() {
        let mut size = ReadSize::new();
        assert_eq!(size.get(), 512);
        size.read(100, 512);
        assert_eq!(size.get(), 512, "a short read keeps the size");
        let mut seen = vec![];
        for _ in 0..10 {
            let room = size.get();
            size.read(room, room);
            seen.push(size.get());
        }
        assert_eq!(
            seen,
            [1024, 2048, 4096, 8192, 16384, 16384, 16384, 16384, 16384, 16384]
        );
    }

    #[test]
    fn timer_slot_rearms_only_when_the_deadline_moves_or_fired() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let mut slot = TimerSlot::default();
        assert_eq!(slot.rearm(None), None);
        assert_eq!(slot.rearm(Some(now)), Some(now));
        assert_eq!(slot.rearm(Some(now)), None, "already set there");
        assert_eq!(slot.rearm(Some(later)), Some(later));
        slot.fired();
        assert_eq!(
            slot.rearm(Some(later)),
            Some(later),
            "a fired timer is set again"
        );
    }
}
