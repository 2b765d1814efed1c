//! 10,000 of our tokio clients in this process against one mosquitto (started here on a free
//! port, its connection limit lifted): heap per idle connection, the time to connect them all,
//! and, after the broker is killed and started again on the same port, when each client is
//! connected again — the spread of those times shows whether the reconnect backoff's jitter
//! keeps the fleet from coming back in lockstep.
//!
//! Run: `cargo bench -p mqtt-tokio --bench scale` (`-- --quick`: 1,000 clients;
//! `SCALE_CLIENTS=<n>` for another number; `SCALE_WINDOW=<n>` how many connect at once
//! during the first connect, 500 by default).
//!
//! The clients run on a tokio runtime with one worker thread; this thread starts and kills
//! the broker. MQTT 3.1.1, clean sessions, keep-alive 60 s, default reconnect backoff (full
//! jitter, first ceiling 0.5 s, doubling on each failed attempt). The open-file limit is
//! raised first (mosquitto, started after, inherits it).
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_client::{Client, ConnectionEvent, Options};
use mqtt_proto::ProtocolVersion;
use mqtt_test_support::gated_alloc::{net_bytes, Gated};
use mqtt_test_support::Mosquitto;

// Counts heap bytes only inside `net_bytes`.
#[global_allocator]
static GLOBAL: Gated = Gated;

/// Raises the soft and hard open-file limits to at least `want` if allowed (root), else the
/// soft limit to the hard one; returns the soft limit in force.
fn raise_fd_limit(want: u64) -> u64 {
    use rlimit::Resource;
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    if soft < want
        && Resource::NOFILE
            .set(want.max(hard), want.max(hard))
            .is_err()
    {
        let _ = rlimit::increase_nofile_limit(want);
    }
    let (soft, _) = Resource::NOFILE.get().unwrap();
    assert!(
        soft > want / 2,
        "open-file limit {soft} (hard {hard}); raise it with `ulimit -n {want}`"
    );
    soft
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A client, started; connected once its `Connected` event came.
fn start(port: u16, i: usize) -> Client {
    let options = Options::new(&format!("mqtt://127.0.0.1:{port}"), &format!("scale-{i}"))
        .unwrap()
        .protocol_version(ProtocolVersion::V311);
    mqtt_tokio::spawn(options).unwrap()
}

async fn until_connected(client: &Client) {
    loop {
        match client.next_event().await {
            Some(ConnectionEvent::Connected { .. }) => return,
            Some(_) => {}
            None => panic!("the connection task ended before connecting"),
        }
    }
}

/// Connects `n` clients, at most `window` connecting at once.
async fn connect_all(port: u16, n: usize, window: usize) -> Vec<Client> {
    let mut clients = Vec::with_capacity(n);
    let mut waiting = tokio::task::JoinSet::new();
    for i in 0..n {
        if waiting.len() >= window {
            clients.push(waiting.join_next().await.unwrap().unwrap());
        }
        let client = start(port, i);
        waiting.spawn(async move {
            until_connected(&client).await;
            client
        });
    }
    while let Some(client) = waiting.join_next().await {
        clients.push(client.unwrap());
    }
    clients
}

/// `sorted`'s value at quantile `q`.
fn at(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Percentiles and a text histogram of `times` (from the kill).
fn distribution(mut times: Vec<Duration>) {
    times.sort();
    println!(
        "reconnected after the kill (ms): min {:.0}, p10 {:.0}, p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0}",
        ms(times[0]),
        ms(at(&times, 0.1)),
        ms(at(&times, 0.5)),
        ms(at(&times, 0.9)),
        ms(at(&times, 0.99)),
        ms(times[times.len() - 1])
    );
    const BINS: usize = 20;
    let (first, last) = (times[0], times[times.len() - 1]);
    let width = ((last - first) / BINS as u32).max(Duration::from_millis(1));
    let mut counts = [0usize; BINS];
    for t in &times {
        counts[(((*t - first).as_nanos() / width.as_nanos()) as usize).min(BINS - 1)] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    for (bin, count) in counts.iter().enumerate() {
        let from = first + width * bin as u32;
        println!(
            "{:>7.0} ms {:>6} {}",
            ms(from),
            count,
            "#".repeat((count * 50).div_ceil(most))
        );
    }
}

fn main() {
    let started = Instant::now();
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let n = env_or("SCALE_CLIENTS", if quick { 1_000 } else { 10_000 });
    let window = env_or("SCALE_WINDOW", 500);
    let limit = raise_fd_limit(2 * n as u64 + 1_000);
    let mut broker = Mosquitto::start(mqtt_test_support::Options {
        extra_config: vec!["max_connections -1".into()],
        ..Default::default()
    })
    .unwrap();
    let port = broker.port();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    );
    println!("{n} clients, open-file limit {limit}, mosquitto on port {port}");

    let connect_start = Instant::now();
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async {
            let clients = connect_all(port, n, window).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            clients
        })
    });
    let connect_time = connect_start.elapsed() - Duration::from_millis(500);
    println!(
        "connected all in {:.2} s ({:.0} connections/s, {window} at once); heap per idle \
         connection {:.2} KiB ({bytes} bytes for {n})",
        connect_time.as_secs_f64(),
        n as f64 / connect_time.as_secs_f64(),
        bytes as f64 / n as f64 / 1024.0
    );

    // Each client's next `Connected` after the kill, in ms from the kill.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let watchers: Vec<_> = clients
        .iter()
        .map(|client| {
            let (client, tx) = (client.clone(), tx.clone());
            rt.spawn(async move {
                let mut lost = false;
                while let Some(event) = client.next_event().await {
                    match event {
                        ConnectionEvent::Disconnected(_) => lost = true,
                        ConnectionEvent::Connected { .. } if lost => {
                            let _ = tx.send(Instant::now());
                            return;
                        }
                        _ => {}
                    }
                }
            })
        })
        .collect();
    drop(tx);
    std::thread::sleep(Duration::from_millis(200));
    let killed = Instant::now();
    broker.restart().unwrap();
    println!(
        "broker killed and listening again after {:.0} ms",
        ms(killed.elapsed())
    );
    let times = rt.block_on(async {
        let mut times = Vec::with_capacity(n);
        while times.len() < n {
            match tokio::time::timeout(Duration::from_secs(120), rx.recv()).await {
                Ok(Some(at)) => times.push(at - killed),
                _ => break,
            }
        }
        times
    });
    if times.len() < n {
        println!(
            "{} of {n} clients did not reconnect within 120 s",
            n - times.len()
        );
    }
    if !times.is_empty() {
        distribution(times);
    }
    for w in watchers {
        w.abort();
    }
    rt.block_on(async {
        for c in &clients {
            let _ = c.disconnect().await;
        }
    });
    println!("run took {:.0} s", started.elapsed().as_secs_f64());
}
