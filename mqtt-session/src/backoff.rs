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

/// Where the backoff stands. See [`Backoff`] for the policy these counters carry out.
#[derive(Debug, Clone)]
pub(crate) struct BackoffState {
    /// Connections in a row that ended before `stable_after`, of any kind: what
    /// [`Event::ReconnectScheduled`](crate::Event::ReconnectScheduled) reports.
    attempt: u32,
    /// Attempts in a row that the server never accepted, since the last accepted connection.
    failures: u32,
    /// Accepted connections in a row that ended before `stable_after`.
    flaps: u32,
    rng: Rng,
}

impl BackoffState {
    pub(crate) fn new(seed: u64) -> Self {
        BackoffState {
            attempt: 0,
            failures: 0,
            flaps: 0,
            rng: Rng::new(seed),
        }
    }

    /// Connections in a row that ended before `stable_after`, the one just scheduled for
    /// included.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// A connection the server had accepted ended: the failed attempts start over from the
    /// first step; a connection that did not last `stable_after` raises that first step, one
    /// that did clears everything.
    pub(crate) fn accepted(&mut self, stable: bool) {
        self.failures = 0;
        if stable {
            self.flaps = 0;
            self.attempt = 0;
        } else {
            self.flaps = self.flaps.saturating_add(1);
        }
    }

    /// The ceiling of the first delay after an accepted connection: `initial`, raised by
    /// `initial` for each further accepted connection in a row that dropped soon, up to
    /// `flap_max`.
    fn first_step(&self, policy: &Backoff) -> Duration {
        let raised = policy.initial.saturating_mul(self.flaps.max(1));
        raised
            .min(policy.flap_max.max(policy.initial))
            .min(policy.max)
    }

    /// The ceiling for the next attempt: the first step, multiplied for each failed attempt
    /// since, capped at `max`.
    fn ceiling(&self, policy: &Backoff) -> Duration {
        let mut ceiling = self.first_step(policy);
        for _ in 0..self.failures {
            ceiling = (ceiling * policy.multiplier_tenths.max(10)) / 10;
            if ceiling >= policy.max {
                return policy.max;
            }
        }
        ceiling
    }

    /// The next delay, drawn uniformly from zero to the ceiling ("full jitter"); the attempt
    /// it leads to counts as failed until the server accepts it ([`BackoffState::accepted`]).
    pub(crate) fn next_delay(&mut self, policy: &Backoff) -> Duration {
        let ceiling = self.ceiling(policy);
        self.failures = self.failures.saturating_add(1);
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
        state.accepted(true);
        assert_eq!(state.ceiling(&policy), Duration::from_millis(100));
    }

    /// An accepted connection starts the delays over from the first step; each one in a row
    /// that dropped before `stable_after` raises that step by `initial`, up to `flap_max`, and
    /// failed attempts after it grow from there; a stable one clears it.
    #[test]
    fn accepted_connections_start_over_from_a_first_step_that_flapping_raises() {
        let policy = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            flap_max: Duration::from_secs(2),
            ..Backoff::default()
        };
        let mut state = BackoffState::new(7);
        for _ in 0..10 {
            state.next_delay(&policy);
        }
        assert_eq!(state.ceiling(&policy), Duration::from_secs(60));
        let mut firsts = alloc::vec::Vec::new();
        for _ in 0..6 {
            state.accepted(false);
            firsts.push(state.ceiling(&policy).as_millis());
            state.next_delay(&policy);
        }
        assert_eq!(firsts, [500, 1000, 1500, 2000, 2000, 2000]);
        // A failed attempt after a flap grows from the raised step.
        assert_eq!(state.ceiling(&policy), Duration::from_secs(4));
        state.accepted(true);
        assert_eq!(state.ceiling(&policy), Duration::from_millis(500));
        assert_eq!(state.attempt(), 0);
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
