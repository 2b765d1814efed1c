//! What every client's runs share: the figures of a run, the loss/duplicate/order accounting,
//! the meter of CPU time and allocations, payloads and percentiles.

use std::time::{Duration, Instant};

use mqtt_test_support::cpu::{cpu_ns, cpu_since};

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) msgs_per_s: f64,
    pub(crate) lost: u64,
    /// Of the lost, how many the client dropped itself and reported (`Delivery::Lagged`).
    pub(crate) lagged: u64,
    pub(crate) duplicated: u64,
    pub(crate) reordered: u64,
    /// All this process's threads.
    pub(crate) cpu_us_per_msg: f64,
    /// Of `cpu_us_per_msg`, the part not on the main thread (async-io's helper thread).
    pub(crate) off_main_us_per_msg: f64,
    /// Heap allocations per message, in the allocation pass only (see [`Meter`]).
    pub(crate) allocs_per_msg: Option<f64>,
}

impl Run {
    /// The figures of `n` messages sent in `elapsed`, as `order` saw them arrive, with what
    /// `meter` measured.
    pub(crate) fn new(
        order: &Order,
        n: u64,
        lagged: u64,
        elapsed: Duration,
        meter: Metered,
    ) -> Run {
        let Metered { cpu, allocs } = meter;
        Run {
            msgs_per_s: order.received() as f64 / elapsed.as_secs_f64(),
            lost: n - order.received(),
            lagged,
            duplicated: order.duplicated,
            reordered: order.reordered,
            cpu_us_per_msg: cpu.0 as f64 / 1000.0 / n as f64,
            off_main_us_per_msg: cpu.1 as f64 / 1000.0 / n as f64,
            allocs_per_msg: allocs.map(|a| a as f64 / n as f64),
        }
    }
}

/// Whether the throughput runs count heap allocations: only in the allocation pass, whose
/// CPU figures are not reported (counting costs an atomic update per allocation, which would
/// tilt the CPU comparison against the client that allocates more).
pub(crate) static COUNT_ALLOCATIONS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// What a throughput run measures over its timed region: CPU time, and in the allocation pass
/// heap allocations (by any thread).
pub(crate) struct Meter {
    cpu: (u64, u64),
    allocs: Option<usize>,
}

/// What a [`Meter`] measured.
pub(crate) struct Metered {
    /// From [`cpu_since`].
    cpu: (u64, u64),
    allocs: Option<usize>,
}

impl Meter {
    pub(crate) fn start() -> Meter {
        let cpu = cpu_ns();
        let allocs = COUNT_ALLOCATIONS
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(mqtt_test_support::gated_alloc::start_counting);
        Meter { cpu, allocs }
    }

    pub(crate) fn stop(self) -> Metered {
        let allocs = self
            .allocs
            .map(mqtt_test_support::gated_alloc::stop_counting);
        Metered {
            cpu: cpu_since(self.cpu),
            allocs,
        }
    }
}

impl Run {
    /// The median of each figure over `runs` (losses, duplicates and reorderings added up),
    /// or `None` when there were none.
    pub(crate) fn median(runs: impl Iterator<Item = Run>) -> Option<Run> {
        let runs: Vec<Run> = runs.collect();
        if runs.is_empty() {
            return None;
        }
        let median = |figure: fn(&Run) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(figure).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        Some(Run {
            msgs_per_s: median(|r| r.msgs_per_s),
            lost: runs.iter().map(|r| r.lost).sum(),
            lagged: runs.iter().map(|r| r.lagged).sum(),
            duplicated: runs.iter().map(|r| r.duplicated).sum(),
            reordered: runs.iter().map(|r| r.reordered).sum(),
            cpu_us_per_msg: median(|r| r.cpu_us_per_msg),
            off_main_us_per_msg: median(|r| r.off_main_us_per_msg),
            allocs_per_msg: None,
        })
    }
}

/// Checks a received sequence number against what was expected so far.
#[derive(Default)]
pub(crate) struct Order {
    seen: Vec<bool>,
    last: Option<u64>,
    received: u64,
    duplicated: u64,
    reordered: u64,
}

impl Order {
    pub(crate) fn new(n: usize) -> Self {
        Order {
            seen: vec![false; n],
            ..Order::default()
        }
    }
    pub(crate) fn note(&mut self, seq: u64) {
        let i = seq as usize;
        if i < self.seen.len() {
            if self.seen[i] {
                self.duplicated += 1;
            } else {
                self.received += 1;
            }
            self.seen[i] = true;
        }
        if self.last.is_some_and(|l| seq < l) {
            self.reordered += 1;
        }
        self.last = Some(seq);
    }
    /// Distinct messages received (a running count: the consumers ask after every message).
    pub(crate) fn received(&self) -> u64 {
        self.received
    }
}

/// How long a subscriber waits for the next message before counting the rest as lost.
/// Read once: the consumers ask after every message.
pub(crate) fn wait() -> Duration {
    static WAIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *WAIT.get_or_init(|| {
        Duration::from_secs(
            std::env::var("BENCH_WAIT")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(5),
        )
    })
}

pub(crate) fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size.max(8)];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    p
}

/// The payloads of a throughput run, made before its CPU time is counted: building them (an
/// allocation and 4 KiB of zeroes each) is the application's work, not the client's, and at
/// 4 KiB it took more instructions than the whole of our client.
pub(crate) fn payloads(n: u64, size: usize) -> Vec<bytes::Bytes> {
    (0..n).map(|seq| payload(seq, size).into()).collect()
}

pub(crate) fn seq_of(payload: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&payload[..8]);
    u64::from_be_bytes(b)
}

pub(crate) fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// Round trip `i` of `k + 1` in a row, started at `start`, into `samples`; the first is not
/// counted (the first after the other clients' turns pays for waking this runtime's threads).
pub(crate) fn record(samples: &mut Vec<Duration>, i: usize, start: Instant) {
    if i > 0 {
        samples.push(start.elapsed());
    }
}

/// `ours` against `theirs`, or blank when there is nothing to compare with.
pub(crate) fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 && ours > 0.0 {
        format!("{:.2}", ours / theirs)
    } else {
        String::new()
    }
}

/// One client's side of the latency scenario, kept from one turn to the next.
pub(crate) trait Player {
    fn name(&self) -> &'static str;
    /// `k` counted QoS 1 round trips in a row (see [`record`]).
    fn turn(&mut self, k: usize);
    /// Disconnects; the round trips measured.
    fn finish(self: Box<Self>) -> Vec<Duration>;
}

/// Disconnects a set of idle clients kept connected until the end.
pub(crate) type Disconnect = Box<dyn FnOnce()>;

/// KiB per connection of `bytes` held by `n` connections.
pub(crate) fn kib_each(bytes: isize, n: usize) -> f64 {
    bytes as f64 / n as f64 / 1024.0
}
