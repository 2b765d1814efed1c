//! Time as the caller supplies it, and the session's table of deadlines.

use core::fmt::Debug;
use core::time::Duration;

/// A point on a monotonic clock that the caller reads; the session never reads a clock itself.
///
/// Implemented for `std::time::Instant` (feature `std`); an embedded program implements it for
/// its own tick counter.
pub trait Instant: Copy + Ord + Debug {
    /// `self + duration`, or `None` on overflow.
    fn checked_add(&self, duration: Duration) -> Option<Self>;
    /// How long after `earlier` this is; zero if it is not later.
    fn saturating_duration_since(&self, earlier: Self) -> Duration;
}

#[cfg(feature = "std")]
impl Instant for std::time::Instant {
    fn checked_add(&self, duration: Duration) -> Option<Self> {
        std::time::Instant::checked_add(self, duration)
    }
    fn saturating_duration_since(&self, earlier: Self) -> Duration {
        std::time::Instant::saturating_duration_since(self, earlier)
    }
}

/// Why the session wants to be woken: each deadline has a reason, so a trace says why the
/// session woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The CONNACK (or the end of enhanced authentication) is due.
    ConnAck,
    /// Nothing was sent for the keep-alive interval: send PINGREQ.
    KeepAlive,
    /// A PINGREQ went unanswered: the connection is dead.
    PingResponse,
    /// The backoff before the next connection attempt is over.
    Reconnect,
    /// A queued message's Message Expiry Interval runs out.
    MessageExpiry,
}

impl Timer {
    /// In the order ties are reported: a dead connection before a due PINGREQ.
    const ALL: [Timer; 5] = [
        Timer::ConnAck,
        Timer::PingResponse,
        Timer::KeepAlive,
        Timer::Reconnect,
        Timer::MessageExpiry,
    ];
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Clone)]
pub(crate) struct Timers<I> {
    deadlines: [Option<I>; Timer::ALL.len()],
}

impl<I: Instant> Timers<I> {
    pub(crate) fn new() -> Self {
        Timers {
            deadlines: [None; Timer::ALL.len()],
        }
    }

    pub(crate) fn set(&mut self, timer: Timer, at: Option<I>) {
        self.deadlines[timer as usize] = at;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<I> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.set(timer, None);
    }

    /// Stops every timer that belongs to a connection (all but reconnect and expiry).
    pub(crate) fn stop_connection_timers(&mut self) {
        self.stop(Timer::ConnAck);
        self.stop(Timer::KeepAlive);
        self.stop(Timer::PingResponse);
    }

    /// Whether `timer` is set and due at `now`.
    pub(crate) fn expired(&self, timer: Timer, now: I) -> bool {
        self.get(timer).is_some_and(|at| at <= now)
    }

    /// The earliest deadline and its reason.
    pub(crate) fn next(&self) -> Option<(I, Timer)> {
        Timer::ALL
            .iter()
            .filter_map(|&t| self.get(t).map(|at| (at, t)))
            .min_by_key(|&(at, _)| at)
    }
}

/// `now + duration`, saturating at "never" (`None`) on overflow.
pub(crate) fn after<I: Instant>(now: I, duration: Duration) -> Option<I> {
    now.checked_add(duration)
}
