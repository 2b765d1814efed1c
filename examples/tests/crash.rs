//! A publisher process killed with SIGKILL three times at seeded points, each time started
//! again from one past the last number it printed as accepted (`crash-publisher`), on each
//! runtime and protocol version: a `mosquitto_sub` that counts receives every number, and at
//! QoS 2 each exactly once. `CRASH_MESSAGES` and `CRASH_SEED` change the run (the README names
//! a longer one).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{env_or, lines, next, program_args, watch, Reaped};
use mqtt_test_support::{Mosquitto, Options as BrokerOptions, TempDir};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `mosquitto_sub` on `crash/#` that keeps every payload it prints; returns once it is
/// subscribed (it has received a marker published after it started).
fn counter(port: u16, id: &str) -> (Reaped, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "crash/#",
            "-q",
            "2",
        ])
        .args(["-i", &format!("{id}-counter")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("mosquitto_sub: {e} (install it: apt-get install mosquitto-clients)")
        });
    let rx = lines(&mut child);
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        while let Ok(line) = rx.recv() {
            keep.lock().unwrap().push(line);
        }
    });
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "mosquitto_sub never subscribed"
        );
        let status = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "crash/ready",
                "-m",
                "ready",
            ])
            .status()
            .unwrap_or_else(|e| panic!("mosquitto_pub: {e}"));
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(50));
        if got.lock().unwrap().iter().any(|l| l == "ready") {
            return (Reaped(child), got);
        }
    }
}

/// One run of the publisher from `first`; killed once it has printed `kill_at` (if given).
/// Returns the highest number it printed as accepted, and whether it finished.
fn run(args: &[String], first: u64, last: u64, kill_at: Option<u64>) -> (Option<u64>, bool) {
    let mut highest = None;
    let mut done = false;
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash-publisher"));
    command
        .args(args)
        .arg(first.to_string())
        .arg(last.to_string());
    let status = watch(&mut command, |line| {
        if line == "done" {
            done = true;
            return false;
        }
        let n: u64 = line
            .strip_prefix("accepted ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected output {line:?}"));
        highest = Some(n);
        kill_at.is_some_and(|k| n >= k)
    });
    if kill_at.is_none() {
        assert!(status.success() && done, "the last run failed: {status:?}");
    }
    (highest, done)
}

fn crash_loop(runtime: &str, version: &str, qos: u8) {
    let total = env_or("CRASH_MESSAGES", 10_000);
    let mut seed = env_or("CRASH_SEED", 7) ^ u64::from(qos) ^ (runtime.len() as u64) << 8;
    // mosquitto keeps at most 1,000 messages queued per client by default and drops the rest:
    // a counter that falls behind a restarted publisher would lose messages no client lost.
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: vec!["max_queued_messages 1000000".into()],
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let id = format!("crash-{runtime}-{version}-q{qos}");
    let dir = TempDir::new(&id).unwrap_or_else(|e| panic!("{e}"));
    let (_counter, got) = counter(broker.port(), &id);
    let store = dir.path().join("session");
    let args = program_args(runtime, broker.port(), &id, &store, version, qos);
    let mut kills = Vec::new();
    for k in 0..3 {
        // Spread over the run: the k-th kill lands in the k-th quarter or so.
        let from = kills.last().copied().unwrap_or(0) + total / 20;
        let span = (total * (k + 1) / 4).saturating_sub(from).max(1);
        kills.push(from + next(&mut seed) % span);
    }
    let mut first = 0;
    let mut runs = 0;
    for kill in kills.iter().copied().map(Some).chain([None]) {
        let (highest, done) = run(&args, first, total - 1, kill);
        runs += 1;
        if let Some(h) = highest {
            first = first.max(h + 1);
        }
        if done {
            break;
        }
    }
    assert_eq!(runs, 4, "three kills, then a run to the end");
    // Everything arrives at the counter.
    let started = Instant::now();
    loop {
        let numbers: Vec<u64> = got
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect();
        let mut seen = vec![0u32; total as usize];
        for n in &numbers {
            seen[*n as usize] += 1;
        }
        let missing: Vec<u64> = (0..total).filter(|n| seen[*n as usize] == 0).collect();
        let twice: Vec<u64> = (0..total).filter(|n| seen[*n as usize] > 1).collect();
        if missing.is_empty() {
            println!(
                "{runtime} {version} QoS {qos}: {total} messages, kills after {kills:?}: 0 lost, {} duplicated",
                twice.len()
            );
            if qos == 2 {
                assert!(twice.is_empty(), "QoS 2 delivered twice: {twice:?}");
            }
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} lost, first {:?}; the broker's log on drops: {:?}",
            missing.len(),
            &missing[..missing.len().min(10)],
            std::fs::read_to_string(broker.dir().join("mosquitto.log"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("dropp"))
                .take(3)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tokio_v5_qos1() {
    crash_loop("tokio", "v5", 1);
}

#[test]
fn tokio_v311_qos2() {
    crash_loop("tokio", "v311", 2);
}

#[test]
fn smol_v311_qos1() {
    crash_loop("smol", "v311", 1);
}

#[test]
fn smol_v5_qos2() {
    crash_loop("smol", "v5", 2);
}

#[test]
fn async_std_v5_qos1() {
    crash_loop("async-std", "v5", 1);
}

#[test]
fn async_std_v311_qos2() {
    crash_loop("async-std", "v311", 2);
}
