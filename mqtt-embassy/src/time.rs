//! The session's clock: embassy-time's monotonic `Instant`, in a newtype because the
//! [`mqtt_session::Instant`] trait and `embassy_time::Instant` both live in other crates.

use core::time::Duration;

/// A point on embassy-time's monotonic clock, as the [`Session`](mqtt_session::Session) takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub embassy_time::Instant);

impl Instant {
    /// The current instant of embassy-time's driver.
    pub fn now() -> Self {
        Instant(embassy_time::Instant::now())
    }
}

impl mqtt_session::Instant for Instant {
    fn checked_add(&self, duration: Duration) -> Option<Self> {
        // Rounded up to the next tick, so a deadline is never early.
        let micros = u64::try_from(duration.as_micros()).ok()?;
        let ticks = embassy_time::Duration::try_from_micros(micros)?;
        self.0.checked_add(ticks).map(Instant)
    }

    fn saturating_duration_since(&self, earlier: Self) -> Duration {
        self.0
            .checked_duration_since(earlier.0)
            .map_or(Duration::ZERO, |d| Duration::from_micros(d.as_micros()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_session::Instant as _;

    #[test]
    fn adds_and_measures_in_whole_ticks() {
        let start = Instant(embassy_time::Instant::from_ticks(1_000));
        let later = start.checked_add(Duration::from_millis(250));
        assert!(later.is_some_and(|l| l > start));
        if let Some(later) = later {
            assert!(later.saturating_duration_since(start) >= Duration::from_millis(250));
            assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
        }
    }

    #[test]
    fn an_overflowing_deadline_is_none() {
        let start = Instant(embassy_time::Instant::from_ticks(u64::MAX - 1));
        assert_eq!(start.checked_add(Duration::from_secs(1)), None);
        assert_eq!(start.checked_add(Duration::MAX), None);
    }
}
