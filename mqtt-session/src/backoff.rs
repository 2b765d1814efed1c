//! Reconnect delays: exponential growth, full jitter from a seeded generator.

use core::time::Duration;

use crate::config::Backoff;

/// A small, fast, seedable generator (SplitMix64). Jitter needs spread, not secrecy.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Where the backoff stands: how many attempts failed since the last stable connection.
#[derive(Debug, Clone)]
pub(crate) struct BackoffState {
    attempt: u32,
    rng: Rng,
}

impl BackoffState {
    pub(crate) fn new(seed: u64) -> Self {
        BackoffState {
            attempt: 0,
            rng: Rng::new(seed),
        }
    }

    /// Consecutive failed attempts.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The ceiling for the current attempt: `initial * multiplier^attempt`, capped at `max`.
    fn ceiling(&self, policy: &Backoff) -> Duration {
        let mut ceiling = policy.initial.min(policy.max);
        for _ in 0..self.attempt {
            ceiling = (ceiling * policy.multiplier_tenths.max(10)) / 10;
            if ceiling >= policy.max {
                return policy.max;
            }
        }
        ceiling
    }

    /// The next delay, drawn uniformly from zero to the ceiling ("full jitter"), and one more
    /// failed attempt counted.
    pub(crate) fn next_delay(&mut self, policy: &Backoff) -> Duration {
        let ceiling = self.ceiling(policy);
        self.attempt = self.attempt.saturating_add(1);
        let nanos = ceiling.as_nanos().min(u128::from(u64::MAX)) as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.rng.next_u64() % (nanos + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_stay_under_the_ceiling_and_spread() {
        let policy = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            ..Backoff::default()
        };
        let mut state = BackoffState::new(7);
        let mut ceilings = alloc::vec::Vec::new();
        for _ in 0..8 {
            let ceiling = state.ceiling(&policy);
            let delay = state.next_delay(&policy);
            assert!(delay <= ceiling, "{delay:?} > {ceiling:?}");
            ceilings.push(ceiling.as_millis());
        }
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        // Full jitter: delays at the cap are not all equal.
        let draws: alloc::collections::BTreeSet<Duration> =
            (0..20).map(|_| state.next_delay(&policy)).collect();
        assert!(draws.len() > 10);
        state.reset();
        assert_eq!(state.ceiling(&policy), Duration::from_millis(100));
    }

    #[test]
    fn the_seed_decides_the_sequence() {
        let policy = Backoff::default();
        let run = |seed| {
            let mut s = BackoffState::new(seed);
            (0..5)
                .map(|_| s.next_delay(&policy))
                .collect::<alloc::vec::Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
