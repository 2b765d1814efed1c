//! Our client on tokio, our client on smol and three peers — rumqttc 0.25, rumqttc-next 0.34
//! and mqtt5 0.49, each in the fast configuration its module's header names — side by side
//! against one mosquitto (started here on a free port), in the same run: publish-to-subscriber throughput at QoS 0, 1
//! and 2 with 64 B and 4 KiB payloads (counting loss, lag reported by the client, duplicates
//! and reordering), client CPU time per message (publisher and subscriber together), QoS 1
//! round-trip latency p50/p99, and heap per idle connection.
//!
//! Each throughput scenario runs [`ROUNDS`] times, all clients taking their turn in each round,
//! and each figure shown is that client's median over the rounds (losses are added up); the
//! machine is shared, and a single round can move by a third.
//!
//! Run: `cargo bench -p mqtt-tokio --bench clients` (add `-- --quick` for a short run of one
//! round;
//! `BENCH_ONLY=q1-64` runs that throughput scenario only, skipping latency and memory
//! (`BENCH_ONLY=memory`: the idle-memory figure only; `BENCH_ONLY=latency`: the round trips
//! only; `BENCH_ONLY=allocs`: the allocation pass only, heap allocations per message at each
//! QoS, counted in runs of their own, apart from the timed ones);
//! `BENCH_CLIENT=tokio`, `smol`, `rumqttc`, `rumqttc-next`, `mqtt5` or `floor` — or a
//! comma-separated list; `ours` is an alias of `tokio` — runs those clients only;
//! `BENCH_WAIT=<seconds>` is how long a subscriber waits for the next message before counting
//! the rest as lost, 5 by default; `BENCH_STORE=1` gives each of our clients a `FileStore` in
//! a temporary directory, to see what saving the session on every turn costs).
//!
//! The `floor` rows are not a client: see [`floor_throughput`]. They show the least CPU per
//! message any client can spend in each scenario, and so the lowest ratio to rumqttc possible.
//!
//! Everything runs on this process's main thread (mosquitto is another process): `tokio`,
//! `rumqttc` and `floor` on one current-thread tokio runtime, each scenario a task of it (not
//! the runtime's main future, which tokio polls only after a look at the I/O driver, a system
//! call, whenever another task wakes it), `smol` on a `LocalExecutor` driven by
//! `smol::block_on` (async-io's reactor and timers), its connection tasks from
//! `mqtt_smol::new` spawned on that executor rather than on the thread `mqtt_smol::spawn`
//! would start, and the scenario a task of that executor too. The CPU time per message is
//! that of all this process's threads (`/proc/self/task/*/schedstat`): the main thread's, plus
//! whatever async-io's helper thread does for smol (it polls the reactor while `block_on` is
//! busy running tasks), shown in the `off main` column. The two builds of our client share
//! the scenario code (over `mqtt_client::Client`); only the executor and the timer differ
//! ([`Runtime`]). The peers run on the tokio runtime, like `tokio`. MQTT 3.1.1 for all but
//! rumqttc-next, which speaks MQTT 5 only.
//!
//! One module per client: `ours` (both runtimes), `rumqttc`, `rumqttc_next`, `mqtt5`,
//! `floor`; `common` holds the accounting they share.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

mod common;
mod floor;
mod mqtt5;
mod ours;
mod rumqttc;
mod rumqttc_next;

use std::sync::Arc;

use mqtt_proto::QoS;
use mqtt_test_support::gated_alloc::Gated;
use mqtt_test_support::Mosquitto;

use common::{percentiles, ratio, Disconnect, Player, Run, COUNT_ALLOCATIONS};
use ours::{RemoveStores, Runtime, Smol, Tokio};

// Counts heap bytes only inside `net_bytes`, so the timed runs go at full speed.
#[global_allocator]
static GLOBAL: Gated = Gated;

/// How many rounds of each throughput scenario a full run makes.
const ROUNDS: usize = 3;

/// The rows of each scenario, in the order [`run_clients`] returns them.
const CLIENTS: [&str; 6] = [
    Tokio::NAME,
    Smol::NAME,
    "rumqttc",
    "rumqttc-next",
    "mqtt5",
    "floor",
];

/// Which of [`CLIENTS`] are peers.
fn is_peer(name: &str) -> bool {
    matches!(name, "rumqttc" | "rumqttc-next" | "mqtt5")
}

/// `BENCH_CLIENT=tokio` (or another of [`CLIENTS`], or several separated by commas; `ours`
/// means `tokio`) runs those clients only, e.g. to profile one or count its system calls.
fn client_selected(name: &str) -> bool {
    std::env::var("BENCH_CLIENT").map_or(true, |only| {
        only.split(',')
            .map(|c| {
                if c.trim() == "ours" {
                    "tokio"
                } else {
                    c.trim()
                }
            })
            .any(|c| c == name)
    })
}

/// One throughput scenario for each selected client (`None` for the others), in the order of
/// [`CLIENTS`].
fn run_clients(
    tokio_rt: &Tokio,
    smol_rt: &Smol,
    port: u16,
    (qos, size, n): (QoS, usize, u64),
    tag: &str,
) -> [Option<Run>; 6] {
    let on_tokio = |name: &str| {
        let tag = tag.to_string();
        let rt = tokio_rt.clone();
        client_selected(name).then(|| match name {
            "tokio" => rt.block_on(ours::throughput(rt.clone(), port, qos, size, n, tag)),
            "rumqttc" => {
                rt.block_on(async move { rumqttc::throughput(port, qos, size, n, &tag).await })
            }
            "rumqttc-next" => {
                rt.block_on(async move { rumqttc_next::throughput(port, qos, size, n, &tag).await })
            }
            "mqtt5" => {
                rt.block_on(async move { mqtt5::throughput(port, qos, size, n, &tag).await })
            }
            _ => rt.block_on(async move { floor::throughput(port, qos, size, n, &tag).await }),
        })
    };
    let tokio = on_tokio(Tokio::NAME);
    let smol = client_selected(Smol::NAME).then(|| {
        smol_rt.block_on(ours::throughput(
            smol_rt.clone(),
            port,
            qos,
            size,
            n,
            tag.to_string(),
        ))
    });
    [
        tokio,
        smol,
        on_tokio("rumqttc"),
        on_tokio("rumqttc-next"),
        on_tokio("mqtt5"),
        on_tokio("floor"),
    ]
}

/// The throughput scenarios: every client in each of `rounds` rounds, each figure its median.
fn throughput(tokio_rt: &Tokio, smol_rt: &Smol, port: u16, quick: bool) {
    let scale = if quick { 20 } else { 1 };
    let rounds = if quick { 1 } else { ROUNDS };
    println!(
        "{:<9} {:>12} {:>9} {:>10} {:>6} {:>6} {:>5} {:>9} {:>8} {:>8} {:>8}",
        "scenario",
        "client",
        "msgs/s",
        "cpu µs/msg",
        "lost",
        "lagged",
        "dup",
        "reordered",
        "off main",
        "/best tp",
        "/best cpu"
    );
    for (qos, size, n) in [
        (QoS::AtMostOnce, 64, 200_000u64),
        (QoS::AtMostOnce, 4096, 50_000),
        (QoS::AtLeastOnce, 64, 50_000),
        (QoS::AtLeastOnce, 4096, 20_000),
        (QoS::ExactlyOnce, 64, 20_000),
        (QoS::ExactlyOnce, 4096, 10_000),
    ] {
        let n = n / scale;
        let tag = format!("q{}-{}", qos as u8, size);
        if std::env::var("BENCH_ONLY").is_ok_and(|only| only != tag) {
            continue;
        }
        // Rounds of all clients in turn: the figures are each client's medians, so that a
        // moment of noise on this shared machine moves one round, not the comparison.
        let runs: Vec<[Option<Run>; 6]> = (0..rounds)
            .map(|round| {
                let tag = format!("{tag}-r{round}");
                run_clients(tokio_rt, smol_rt, port, (qos, size, n), &tag)
            })
            .collect();
        let medians: [Option<Run>; 6] =
            std::array::from_fn(|client| Run::median(runs.iter().filter_map(|r| r[client])));
        // The best peer in each figure: the most messages per second, the least CPU.
        let peers = || {
            CLIENTS
                .iter()
                .zip(&medians)
                .filter(|(name, _)| is_peer(name))
                .filter_map(|(_, r)| *r)
        };
        let best_tp = peers().map(|r| r.msgs_per_s).fold(0.0, f64::max);
        let best_cpu = peers().map(|r| r.cpu_us_per_msg).fold(f64::MAX, f64::min);
        for (name, r) in CLIENTS.into_iter().zip(medians) {
            let Some(r) = r else { continue };
            let (tp, cpu) = if is_peer(name) {
                (String::new(), String::new())
            } else {
                (
                    ratio(r.msgs_per_s, best_tp),
                    ratio(r.cpu_us_per_msg, best_cpu),
                )
            };
            println!(
                "{:<9} {:>12} {:>9.0} {:>10.2} {:>6} {:>6} {:>5} {:>9} {:>7.1}% {:>8} {:>8}",
                tag,
                name,
                r.msgs_per_s,
                r.cpu_us_per_msg,
                r.lost,
                r.lagged,
                r.duplicated,
                r.reordered,
                100.0 * r.off_main_us_per_msg / r.cpu_us_per_msg.max(f64::MIN_POSITIVE),
                tp,
                cpu
            );
        }
    }
}

/// Heap allocations per message at each QoS, counted in runs of their own (counting costs
/// each allocation an atomic update, which would tilt the timed runs).
fn allocations(tokio_rt: &Tokio, smol_rt: &Smol, port: u16, quick: bool) {
    COUNT_ALLOCATIONS.store(true, std::sync::atomic::Ordering::SeqCst);
    let n = if quick { 1_000 } else { 5_000 };
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let tag = format!("a{}-64", qos as u8);
        let runs = run_clients(tokio_rt, smol_rt, port, (qos, 64, n), &tag);
        let figures: Vec<String> = CLIENTS
            .into_iter()
            .zip(runs)
            .filter_map(|(name, run)| {
                let run = run?;
                // A peer's reordering is its own (mqtt5's concurrent publishes); the table
                // above counts it.
                let reordered = if is_peer(name) { 0 } else { run.reordered };
                assert_eq!(run.lost + run.duplicated + reordered, 0, "{name} {tag}");
                Some(format!("{name} {:.2}", run.allocs_per_msg?))
            })
            .collect();
        println!(
            "heap allocations per message, QoS {}, 64 B ({n} messages, publisher and \
             subscriber together): {}",
            qos as u8,
            figures.join(", ")
        );
    }
    COUNT_ALLOCATIONS.store(false, std::sync::atomic::Ordering::SeqCst);
}

/// QoS 1 round trips of every selected client, `n` each. The clients take turns in rounds of
/// 20 counted round trips, the one going first changing from round to round, so that all see
/// the same machine: measured one after the other, a busy second on this shared machine moved
/// one client's p99 alone.
fn latency(tokio_rt: &Tokio, smol_rt: &Smol, port: u16, n: usize) {
    const ROUND: usize = 20;
    let mut players: Vec<Box<dyn Player>> = Vec::new();
    for name in CLIENTS.into_iter().filter(|name| client_selected(name)) {
        match name {
            "tokio" => players.push(Box::new(ours::Latency::start(tokio_rt, port))),
            "smol" => players.push(Box::new(ours::Latency::start(smol_rt, port))),
            "rumqttc" => players.push(Box::new(rumqttc::Latency::start(tokio_rt, port))),
            "rumqttc-next" => players.push(Box::new(rumqttc_next::Latency::start(tokio_rt, port))),
            "mqtt5" => players.push(Box::new(mqtt5::Latency::start(tokio_rt, port))),
            _ => {}
        }
    }
    let count = players.len();
    for round in 0..n.div_ceil(ROUND) {
        for turn in 0..count {
            players[(round + turn) % count].turn(ROUND);
        }
    }
    let figures: Vec<(&str, (f64, f64))> = players
        .into_iter()
        .map(|p| (p.name(), percentiles(p.finish())))
        .collect();
    let best_peer_p99 = figures
        .iter()
        .filter(|(name, _)| is_peer(name))
        .map(|(_, (_, p99))| *p99)
        .fold(f64::MAX, f64::min);
    let shown: Vec<String> = figures
        .iter()
        .map(|(name, (p50, p99))| format!("{name} p50 {p50:.0} p99 {p99:.0}"))
        .collect();
    let ours: Vec<String> = figures
        .iter()
        .filter(|(name, _)| !is_peer(name))
        .map(|(name, (_, p99))| format!("{name} {}", ratio(*p99, best_peer_p99)))
        .collect();
    println!(
        "QoS 1 round trip (µs, {n} each, the clients taking turns): {}; p99 / best peer's: {}",
        shown.join("; "),
        ours.join(", ")
    );
}

/// Heap per idle connection of every selected client, `conns` each, all kept connected until
/// all are measured.
fn idle_memory(tokio_rt: &Tokio, smol_rt: &Smol, port: u16, conns: usize) {
    let mut figures = Vec::new();
    let mut keep: Vec<Disconnect> = Vec::new();
    for name in CLIENTS.into_iter().filter(|name| client_selected(name)) {
        let (kib, disconnect) = match name {
            "tokio" => ours::idle_memory(tokio_rt, port, conns),
            "smol" => ours::idle_memory(smol_rt, port, conns),
            "rumqttc" => rumqttc::idle_memory(tokio_rt, port, conns),
            "rumqttc-next" => rumqttc_next::idle_memory(tokio_rt, port, conns),
            "mqtt5" => mqtt5::idle_memory(tokio_rt, port, conns),
            _ => continue,
        };
        figures.push(format!("{name} {kib:.1} KiB"));
        keep.push(disconnect);
    }
    println!(
        "heap per idle connection ({conns} connections): {}",
        figures.join(", ")
    );
    for disconnect in keep {
        disconnect();
    }
}

fn main() {
    let _stores = RemoveStores;
    let started = std::time::Instant::now();
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let broker = Mosquitto::start(mqtt_test_support::Options {
        extra_config: vec![
            "max_queued_messages 1000000".into(),
            "max_inflight_messages 100".into(),
        ],
        ..Default::default()
    })
    .unwrap();
    let port = broker.port();
    let tokio_rt = Tokio(Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    ));
    let smol_rt = Smol;
    let only = std::env::var("BENCH_ONLY").ok();
    let scenario = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if only
        .as_deref()
        .is_none_or(|o| !matches!(o, "allocs" | "latency" | "memory"))
    {
        throughput(&tokio_rt, &smol_rt, port, quick);
    }
    if scenario("allocs") {
        allocations(&tokio_rt, &smol_rt, port, quick);
    }
    if scenario("latency") {
        latency(&tokio_rt, &smol_rt, port, if quick { 200 } else { 2000 });
    }
    if scenario("memory") {
        idle_memory(&tokio_rt, &smol_rt, port, if quick { 50 } else { 1000 });
    }
    println!(
        "/best tp, /best cpu, p99 / best peer's = ours (or the floor) against the best peer \
         in that figure (the most msgs/s, the least CPU, the lowest p99): at least 1, at most 1 \
         and at most 1 mean ours is at least as good as every peer; cpu = all this process's \
         threads, off main = the share of it not on the main thread (async-io's helper); \
         run took {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
