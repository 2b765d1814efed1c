//! This client and rumqttc 0.25 side by side against one mosquitto (started here on a free
//! port), in the same run: publish-to-subscriber throughput at QoS 0, 1 and 2 with 64 B and
//! 4 KiB payloads (counting loss, duplicates and reordering), QoS 1 round-trip latency p50/p99,
//! client CPU time per message (publisher and subscriber together), and memory per idle
//! connection.
//!
//! Run: `cargo bench -p mqtt-tokio --bench clients` (add `-- --quick` for a short run;
//! `BENCH_ONLY=q1-64` runs that throughput scenario only, `BENCH_CLIENT=ours` or `rumqttc` one
//! client only).
//! Both clients run on one current-thread tokio runtime, so the CPU time of this process's main
//! thread is the clients' own (mosquitto is another process). v3.1.1 for both.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mqtt_proto::ProtocolVersion;
use mqtt_test_support::gated_alloc::{net_bytes, Gated};
use mqtt_test_support::Mosquitto;
use mqtt_tokio::{ConnectionEvent, Delivery, Options, QoS};
use std::time::{Duration, Instant};

/// CPU time of this thread so far (Linux `/proc/thread-self/schedstat`, nanoseconds).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

// Counts heap bytes only inside `net_bytes`, so the timed runs go at full speed.
#[global_allocator]
static GLOBAL: Gated = Gated;

#[derive(Debug, Default, Clone, Copy)]
struct Run {
    msgs_per_s: f64,
    lost: u64,
    /// Of the lost, how many the client dropped itself and reported (`Delivery::Lagged`).
    lagged: u64,
    duplicated: u64,
    reordered: u64,
    cpu_us_per_msg: f64,
}

/// Checks a received sequence number against what was expected so far.
#[derive(Default)]
struct Order {
    seen: Vec<bool>,
    last: Option<u64>,
    received: u64,
    duplicated: u64,
    reordered: u64,
}

impl Order {
    fn new(n: usize) -> Self {
        Order {
            seen: vec![false; n],
            ..Order::default()
        }
    }
    fn note(&mut self, seq: u64) {
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
    fn received(&self) -> u64 {
        self.received
    }
}

/// How long a subscriber waits for the next message before counting the rest as lost.
/// Read once: the consumers ask after every message.
fn wait() -> Duration {
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

fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size.max(8)];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    p
}

fn seq_of(payload: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&payload[..8]);
    u64::from_be_bytes(b)
}

async fn ours_connected(port: u16, id: &str) -> mqtt_tokio::Client {
    let options = Options::new(&format!("mqtt://127.0.0.1:{port}"), id)
        .unwrap()
        .protocol_version(ProtocolVersion::V311);
    let client = mqtt_tokio::spawn(options).unwrap();
    loop {
        if let Some(ConnectionEvent::Connected { .. }) = client.next_event().await {
            return client;
        }
    }
}

async fn ours_throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
    let sub = ours_connected(port, &format!("ours-sub-{tag}")).await;
    let publisher = ours_connected(port, &format!("ours-pub-{tag}")).await;
    let topic = format!("bench/ours/{tag}");
    let mut s = sub.subscribe(&topic, qos).await.unwrap();
    let cpu = cpu_ns();
    let start = Instant::now();
    let p = publisher.clone();
    let t = topic.clone();
    let producer = async move {
        // Publishes go out as fast as the session takes them; completions are awaited
        // together at the end (QoS 0 completes when written).
        let mut handles = Vec::with_capacity(n as usize);
        for seq in 0..n {
            let m = mqtt_session::OutboundMessage::new(
                mqtt_proto::TopicName::new(t.clone()).unwrap(),
                payload(seq, size),
                qos,
            );
            handles.push(p.publish_queued(m).await.unwrap());
        }
        for h in handles {
            h.await.unwrap();
        }
    };
    let mut order = Order::new(n as usize);
    let mut lagged = 0;
    let consumer = async {
        while order.received() < n {
            match tokio::time::timeout(wait(), s.next()).await {
                Ok(Some(Delivery::Message(m))) => order.note(seq_of(m.payload())),
                Ok(Some(Delivery::Lagged(missed))) => lagged += missed,
                _ => break,
            }
        }
    };
    tokio::join!(producer, consumer);
    let elapsed = start.elapsed();
    let cpu = cpu_ns() - cpu;
    publisher.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
    Run {
        msgs_per_s: order.received() as f64 / elapsed.as_secs_f64(),
        lost: n - order.received(),
        lagged,
        duplicated: order.duplicated,
        reordered: order.reordered,
        cpu_us_per_msg: cpu as f64 / 1000.0 / n as f64,
    }
}

fn rumqttc_qos(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn rumqttc_client(port: u16, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(100);
    o.set_max_packet_size(1 << 20, 1 << 20);
    rumqttc::AsyncClient::new(o, 1000)
}

async fn rumqttc_throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
    let topic = format!("bench/rumqttc/{tag}");
    let (sub, mut sub_loop) = rumqttc_client(port, &format!("r-sub-{tag}"));
    let (publisher, mut pub_loop) = rumqttc_client(port, &format!("r-pub-{tag}"));
    sub.subscribe(&topic, rumqttc_qos(qos)).await.unwrap();
    // Wait for the SUBACK.
    loop {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = sub_loop.poll().await {
            break;
        }
    }
    let cpu = cpu_ns();
    let start = Instant::now();
    let t = topic.clone();
    let producer = async move {
        for seq in 0..n {
            publisher
                .publish(t.clone(), rumqttc_qos(qos), false, payload(seq, size))
                .await
                .unwrap();
        }
        publisher
    };
    let mut order = Order::new(n as usize);
    let mut acked = 0u64;
    let pub_driver = async {
        // Drive the publisher's event loop until every QoS 1/2 flow completed.
        let want = if qos == QoS::AtMostOnce { 0 } else { n };
        loop {
            match tokio::time::timeout(Duration::from_millis(500), pub_loop.poll()).await {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))))
                | Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubComp(_)))) => {
                    acked += 1;
                    if acked >= want && want > 0 {
                        break;
                    }
                }
                Ok(Ok(_)) => {}
                _ => {
                    if want == 0 {
                        break;
                    }
                }
            }
        }
    };
    let consumer = async {
        while order.received() < n {
            match tokio::time::timeout(wait(), sub_loop.poll()).await {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) => {
                    order.note(seq_of(&p.payload))
                }
                Ok(Ok(_)) => {}
                _ => break,
            }
        }
    };
    let (publisher, _, _) = tokio::join!(producer, pub_driver, consumer);
    let elapsed = start.elapsed();
    let cpu = cpu_ns() - cpu;
    let _ = publisher.disconnect().await;
    let _ = sub.disconnect().await;
    Run {
        msgs_per_s: order.received() as f64 / elapsed.as_secs_f64(),
        lost: n - order.received(),
        lagged: 0,
        duplicated: order.duplicated,
        reordered: order.reordered,
        cpu_us_per_msg: cpu as f64 / 1000.0 / n as f64,
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

async fn ours_latency(port: u16, n: usize) -> (f64, f64) {
    let client = ours_connected(port, "ours-lat").await;
    let mut s = client
        .subscribe("bench/lat/ours", QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(n);
    for seq in 0..n as u64 {
        let start = Instant::now();
        client
            .publish("bench/lat/ours", payload(seq, 64), QoS::AtLeastOnce)
            .await
            .unwrap();
        s.next_message().await.unwrap();
        samples.push(start.elapsed());
    }
    client.disconnect().await.unwrap();
    percentiles(samples)
}

async fn rumqttc_latency(port: u16, n: usize) -> (f64, f64) {
    let (client, mut ev) = rumqttc_client(port, "r-lat");
    client
        .subscribe("bench/lat/r", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    loop {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = ev.poll().await {
            break;
        }
    }
    let mut samples = Vec::with_capacity(n);
    for seq in 0..n as u64 {
        let start = Instant::now();
        client
            .publish(
                "bench/lat/r",
                rumqttc::QoS::AtLeastOnce,
                false,
                payload(seq, 64),
            )
            .await
            .unwrap();
        // Round trip: our own message back (the PUBACK may come before or after).
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) = ev.poll().await {
                break;
            }
        }
        samples.push(start.elapsed());
    }
    let _ = client.disconnect().await;
    percentiles(samples)
}

/// Heap bytes held per idle connected client: allocated minus freed while `n` clients connect
/// (counted by the gated allocator), divided by `n`. Sockets' kernel buffers are not counted
/// (the same for both clients).
fn ours_idle_memory(
    rt: &tokio::runtime::Runtime,
    port: u16,
    n: usize,
) -> (f64, Vec<mqtt_tokio::Client>) {
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async {
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                clients.push(ours_connected(port, &format!("idle-ours-{i}")).await);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            clients
        })
    });
    (bytes as f64 / n as f64 / 1024.0, clients)
}

type RumqttcIdle = Vec<(rumqttc::AsyncClient, tokio::task::JoinHandle<()>)>;

fn rumqttc_idle_memory(rt: &tokio::runtime::Runtime, port: u16, n: usize) -> (f64, RumqttcIdle) {
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async {
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                let (client, mut ev) = rumqttc_client(port, &format!("idle-r-{i}"));
                loop {
                    if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) =
                        ev.poll().await
                    {
                        break;
                    }
                }
                // The event loop must keep running for the connection to stay up.
                let task = tokio::spawn(async move { while ev.poll().await.is_ok() {} });
                clients.push((client, task));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            clients
        })
    });
    (bytes as f64 / n as f64 / 1024.0, clients)
}

/// `BENCH_CLIENT=ours` (or `rumqttc`) runs the throughput scenarios of one client only, e.g.
/// to profile it or count its system calls.
fn client_selected(name: &str) -> bool {
    std::env::var("BENCH_CLIENT").map_or(true, |only| only == name)
}

fn main() {
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scale = if quick { 20 } else { 1 };
    println!(
        "{:<10} {:>7} {:>10} {:>11} {:>7} {:>7} {:>10} {:>10} {:>7}",
        "scenario",
        "client",
        "msgs/s",
        "cpu µs/msg",
        "lost",
        "lagged",
        "duplicated",
        "reordered",
        "ratio"
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
        let ours = if client_selected("ours") {
            rt.block_on(ours_throughput(port, qos, size, n, &tag))
        } else {
            Run::default()
        };
        let theirs = if client_selected("rumqttc") {
            rt.block_on(rumqttc_throughput(port, qos, size, n, &tag))
        } else {
            Run::default()
        };
        for (name, r) in [("ours", ours), ("rumqttc", theirs)] {
            println!(
                "{:<10} {:>7} {:>10.0} {:>11.2} {:>7} {:>7} {:>10} {:>10} {:>7}",
                tag,
                name,
                r.msgs_per_s,
                r.cpu_us_per_msg,
                r.lost,
                r.lagged,
                r.duplicated,
                r.reordered,
                if name == "ours" {
                    String::new()
                } else {
                    format!("{:.2}", ours.cpu_us_per_msg / r.cpu_us_per_msg)
                }
            );
        }
    }
    if std::env::var("BENCH_ONLY").is_ok() {
        // One throughput scenario only.
        return;
    }
    let n = if quick { 200 } else { 2000 };
    let (o50, o99) = rt.block_on(ours_latency(port, n));
    let (r50, r99) = rt.block_on(rumqttc_latency(port, n));
    println!("QoS 1 round trip (µs): ours p50 {o50:.0} p99 {o99:.0}; rumqttc p50 {r50:.0} p99 {r99:.0}; p99 ratio {:.2}", o99 / r99);
    let conns = if quick { 50 } else { 1000 };
    let (ours_mem, ours_clients) = ours_idle_memory(&rt, port, conns);
    let (r_mem, r_clients) = rumqttc_idle_memory(&rt, port, conns);
    println!("heap per idle connection ({conns} connections): ours {ours_mem:.1} KiB, rumqttc {r_mem:.1} KiB, ratio {:.2}", ours_mem / r_mem);
    rt.block_on(async {
        for c in &ours_clients {
            let _ = c.disconnect().await;
        }
        for (c, t) in r_clients {
            let _ = c.disconnect().await;
            t.abort();
        }
    });
    println!("cpu ratio = ours / rumqttc CPU time per message (below 1: ours uses less)");
}
