//! The live progress line of long runs: messages, messages/s and latency, redrawn on stderr
//! twice a second, and only when stderr is a terminal (a pipe or a log file gets nothing).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Counts messages and their latencies, and redraws the line now and then.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    enabled: bool,
    start: Instant,
    last_draw: Instant,
    count: u64,
    since_draw: u64,
    latencies: Vec<Duration>,
    drawn: bool,
}

impl Progress {
    /// A progress line for `label` ("published", "received"), drawn if stderr is a terminal.
    pub fn new(label: &'static str) -> Progress {
        let now = Instant::now();
        Progress {
            label,
            enabled: std::io::stderr().is_terminal(),
            start: now,
            last_draw: now,
            count: 0,
            since_draw: 0,
            latencies: Vec::new(),
            drawn: false,
        }
    }

    /// One more message, with its latency when known.
    pub fn tick(&mut self, latency: Option<Duration>) {
        self.count += 1;
        self.since_draw += 1;
        if let Some(latency) = latency {
            self.latencies.push(latency);
        }
        if self.enabled && self.last_draw.elapsed() >= Duration::from_millis(500) {
            self.draw();
        }
    }

    /// Messages counted so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn draw(&mut self) {
        let now = Instant::now();
        let window = now.duration_since(self.last_draw).as_secs_f64();
        let rate = self.since_draw as f64 / window.max(1e-9);
        let mut line = format!(
            "\r{} {} messages, {:.0} msg/s",
            self.label, self.count, rate
        );
        if let Some((p50, p99)) = percentiles(&mut self.latencies) {
            line.push_str(&format!(", latency p50 {p50:.2?} p99 {p99:.2?}"));
        }
        self.latencies.clear();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{line}\x1b[K");
        let _ = err.flush();
        self.last_draw = now;
        self.since_draw = 0;
        self.drawn = true;
    }

    /// Ends the line (if one was drawn), so that what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.drawn {
            self.draw();
            eprintln!();
            self.drawn = false;
        }
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The median and 99th percentile of `samples` (sorted in place), if there are any.
pub fn percentiles(samples: &mut [Duration]) -> Option<(Duration, Duration)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Some((at(0.5), at(0.99)))
}

/// Waits so that the `n`th message (from 0) goes no earlier than `n / rate` seconds after
/// `start`: a steady rate that catches up after a slow moment instead of drifting.
pub async fn pace(start: Instant, n: u64, rate: Option<f64>) {
    if let Some(rate) = rate.filter(|r| *r > 0.0) {
        let due = start + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_hundred() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let (p50, p99) = percentiles(&mut samples).unwrap_or_default();
        assert_eq!(p50, Duration::from_millis(51));
        assert_eq!(p99, Duration::from_millis(99));
        assert_eq!(percentiles(&mut []), None);
    }
}
