//! Our client on tokio, our client on smol and rumqttc 0.25 side by side against one mosquitto
//! (started here on a free port), in the same run: publish-to-subscriber throughput at QoS 0, 1
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
//! `BENCH_CLIENT=tokio`, `smol`, `rumqttc` or `floor` — or a comma-separated list; `ours` is an
//! alias of `tokio` — runs the throughput scenarios of those clients only;
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
//! ([`Runtime`]). v3.1.1 for all.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mqtt_client::{Client, ConnectionEvent, Delivery, Options};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::gated_alloc::{net_bytes, Gated};
use mqtt_test_support::Mosquitto;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_test_support::cpu::{cpu_ns, cpu_since};

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
    /// All this process's threads.
    cpu_us_per_msg: f64,
    /// Of `cpu_us_per_msg`, the part not on the main thread (async-io's helper thread).
    off_main_us_per_msg: f64,
    /// Heap allocations per message, in the allocation pass only (see [`Meter`]).
    allocs_per_msg: Option<f64>,
}

impl Run {
    /// The figures of `n` messages sent in `elapsed`, as `order` saw them arrive, with what
    /// `meter` measured.
    fn new(order: &Order, n: u64, lagged: u64, elapsed: Duration, meter: Metered) -> Run {
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
static COUNT_ALLOCATIONS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What a throughput run measures over its timed region: CPU time, and in the allocation pass
/// heap allocations (by any thread).
struct Meter {
    cpu: (u64, u64),
    allocs: Option<usize>,
}

/// What a [`Meter`] measured.
struct Metered {
    /// From [`cpu_since`].
    cpu: (u64, u64),
    allocs: Option<usize>,
}

impl Meter {
    fn start() -> Meter {
        let cpu = cpu_ns();
        let allocs = COUNT_ALLOCATIONS
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(mqtt_test_support::gated_alloc::start_counting);
        Meter { cpu, allocs }
    }

    fn stop(self) -> Metered {
        let allocs = self
            .allocs
            .map(mqtt_test_support::gated_alloc::stop_counting);
        Metered {
            cpu: cpu_since(self.cpu),
            allocs,
        }
    }
}

/// How many rounds of each throughput scenario a full run makes.
const ROUNDS: usize = 3;

impl Run {
    /// The median of each figure over `runs` (losses, duplicates and reorderings added up),
    /// or `None` when there were none.
    fn median(runs: impl Iterator<Item = Run>) -> Option<Run> {
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

/// The payloads of a throughput run, made before its CPU time is counted: building them (an
/// allocation and 4 KiB of zeroes each) is the application's work, not the client's, and at
/// 4 KiB it took more instructions than the whole of our client.
fn payloads(n: u64, size: usize) -> Vec<bytes::Bytes> {
    (0..n).map(|seq| payload(seq, size).into()).collect()
}

fn seq_of(payload: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&payload[..8]);
    u64::from_be_bytes(b)
}

/// What differs between our client on tokio and on smol: the executor that runs the scenario
/// and the connection tasks (on this thread), and the timer. The scenarios below are written
/// once over it. A cheap handle: each scenario future owns one.
trait Runtime: Clone + Send + Sync + 'static {
    /// The client's name in the tables, client ids and topics.
    const NAME: &'static str;
    /// Runs `future` as a task, and the connection tasks started meanwhile, on this thread.
    fn block_on<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T;
    /// A client whose connection task runs on this runtime, on this thread. Called from inside
    /// [`block_on`](Self::block_on).
    fn start(&self, options: Options) -> Client;
    /// `future`'s output, or `None` if it took longer than `limit`.
    fn timeout<T>(
        &self,
        limit: Duration,
        future: impl Future<Output = T> + Send,
    ) -> impl Future<Output = Option<T>> + Send;
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// A current-thread tokio runtime (rumqttc runs on it too).
#[derive(Clone)]
struct Tokio(Arc<tokio::runtime::Runtime>);

impl Runtime for Tokio {
    const NAME: &'static str = "tokio";
    fn block_on<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        // The scenario is a task of the runtime, like the connection tasks. As the runtime's
        // main future it would be polled only after a look at the I/O driver (an
        // `epoll_wait`) each time a connection task woke it, where a woken task runs at once.
        self.0
            .block_on(async { tokio::spawn(future).await })
            .unwrap()
    }
    fn start(&self, options: Options) -> Client {
        // `tokio::spawn`: a task of the current-thread runtime.
        mqtt_tokio::spawn(options).unwrap()
    }
    async fn timeout<T>(
        &self,
        limit: Duration,
        future: impl Future<Output = T> + Send,
    ) -> Option<T> {
        tokio::time::timeout(limit, future).await.ok()
    }
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

thread_local! {
    /// The executor of [`Smol`], on the thread that runs the bench.
    static SMOL: smol::LocalExecutor<'static> = const { smol::LocalExecutor::new() };
}

/// smol's single-threaded executor, driven by `smol::block_on` (async-io), with async-io
/// timers.
#[derive(Clone)]
struct Smol;

impl Runtime for Smol {
    const NAME: &'static str = "smol";
    fn block_on<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        // The scenario is a task of the executor, taking turns with the connection tasks. As
        // the future given to `run` it would be polled only after up to 200 task runs (or when
        // none is runnable): a connection task's yield after each read would not let the
        // subscriber in, and QoS 0 subscriptions would lag.
        SMOL.with(|executor| {
            let scenario = executor.spawn(future);
            smol::block_on(executor.run(scenario))
        })
    }
    fn start(&self, options: Options) -> Client {
        // Not `mqtt_smol::spawn`, whose thread would hide the connection's CPU time.
        let (client, connection) = mqtt_smol::new(options).unwrap();
        SMOL.with(|executor| executor.spawn(connection.run()).detach());
        client
    }
    async fn timeout<T>(
        &self,
        limit: Duration,
        future: impl Future<Output = T> + Send,
    ) -> Option<T> {
        smol::future::or(async { Some(future.await) }, async {
            smol::Timer::after(limit).await;
            None
        })
        .await
    }
    async fn sleep(&self, duration: Duration) {
        smol::Timer::after(duration).await;
    }
}

/// With `BENCH_STORE=1`, the directory our clients keep their session stores in.
fn store_dir() -> Option<&'static mqtt_test_support::TempDir> {
    static DIR: std::sync::OnceLock<Option<mqtt_test_support::TempDir>> =
        std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("BENCH_STORE")
            .map(|_| mqtt_test_support::TempDir::new("bench-store").unwrap())
    })
    .as_ref()
}

async fn ours_connected<R: Runtime>(rt: &R, port: u16, id: &str) -> Client {
    let mut options = Options::new(&format!("mqtt://127.0.0.1:{port}"), id)
        .unwrap()
        .protocol_version(ProtocolVersion::V311);
    if let Some(dir) = store_dir() {
        options = options.store(mqtt_client::FileStore::new(dir.path().join(id)));
    }
    let client = rt.start(options);
    loop {
        match client.next_event().await {
            Some(ConnectionEvent::Connected { .. }) => return client,
            Some(_) => {}
            None => panic!("{id}: the connection task ended before connecting"),
        }
    }
}

async fn ours_throughput<R: Runtime>(
    rt: R,
    port: u16,
    qos: QoS,
    size: usize,
    n: u64,
    tag: String,
) -> Run {
    let name = R::NAME;
    let sub = ours_connected(&rt, port, &format!("{name}-sub-{tag}")).await;
    let publisher = ours_connected(&rt, port, &format!("{name}-pub-{tag}")).await;
    let topic = format!("bench/{name}/{tag}");
    let mut s = sub.subscribe(&topic, qos).await.unwrap();
    let payloads = payloads(n, size);
    let meter = Meter::start();
    let start = Instant::now();
    let p = publisher.clone();
    let t = mqtt_proto::TopicName::new(topic.clone()).unwrap();
    let producer = async move {
        // Publishes go out as fast as the session takes them; completions are awaited
        // together at the end (QoS 0 completes when written).
        let mut handles = Vec::with_capacity(n as usize);
        for payload in payloads {
            let m = mqtt_session::OutboundMessage::new(t.clone(), payload, qos);
            handles.push(p.publish_message(m).await.unwrap());
        }
        for h in handles {
            h.await.unwrap();
        }
    };
    let mut order = Order::new(n as usize);
    let mut lagged = 0;
    let consumer = async {
        // Messages the client reported dropped (lagged) will not come: no waiting for them.
        while order.received() + lagged < n {
            match rt.timeout(wait(), s.next()).await {
                Some(Some(Delivery::Message(m))) => order.note(seq_of(m.payload())),
                Some(Some(Delivery::Lagged(missed))) => lagged += missed,
                _ => break,
            }
        }
    };
    // Both in one future, as `tokio::join!` would.
    smol::future::zip(producer, consumer).await;
    let elapsed = start.elapsed();
    let metered = meter.stop();
    publisher.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
    Run::new(&order, n, lagged, elapsed, metered)
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
    let payloads = payloads(n, size);
    let meter = Meter::start();
    let start = Instant::now();
    let t = topic.clone();
    let producer = async move {
        for payload in payloads {
            publisher
                .publish_bytes(t.clone(), rumqttc_qos(qos), false, payload)
                .await
                .unwrap();
        }
        publisher
    };
    let mut order = Order::new(n as usize);
    let mut acked = 0u64;
    let pub_driver = async {
        // Drive the publisher's event loop until every QoS 1/2 flow completed (when, is
        // returned), or at QoS 0 until it has been idle for a while (not timed: that idle wait
        // is not the client's throughput).
        let want = if qos == QoS::AtMostOnce { 0 } else { n };
        loop {
            match tokio::time::timeout(Duration::from_millis(500), pub_loop.poll()).await {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))))
                | Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubComp(_)))) => {
                    acked += 1;
                    if acked >= want && want > 0 {
                        break Some(Instant::now());
                    }
                }
                Ok(Ok(_)) => {}
                _ => {
                    if want == 0 {
                        break None;
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
        Instant::now()
    };
    let (publisher, acked_at, received_at) = tokio::join!(producer, pub_driver, consumer);
    let elapsed = acked_at.map_or(received_at, |a| a.max(received_at)) - start;
    let metered = meter.stop();
    let _ = publisher.disconnect().await;
    let _ = sub.disconnect().await;
    Run::new(&order, n, 0, elapsed, metered)
}

// ---------------------------------------------------------------------------------------------
// The floor: what moving these messages through mosquitto costs with the least any client can
// do. No session, no queues, no tasks: each side is one loop over one socket that encodes
// (publisher) or decodes (subscriber) with mqtt-proto, answers what the QoS flow asks, and
// writes up to 64 KiB at a time, without an in-flight window at QoS 1 (at QoS 2 with the
// broker's, 100). It is not a usable client (it keeps no state for a reconnect, and at QoS 1
// it has every message in flight at once); its CPU per message, against rumqttc's, bounds the
// ratio any client can reach here.

/// One MQTT connection of the floor client: a v3.1.1 CONNECT and its CONNACK.
async fn floor_connect(port: u16, id: &str) -> tokio::net::TcpStream {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut connect = mqtt_proto::Connect::new(
        ProtocolVersion::V311,
        mqtt_proto::MqttString::new(id.to_string()).unwrap(),
    );
    connect.keep_alive = 60;
    let mut out = bytes::BytesMut::new();
    mqtt_proto::Packet::from(connect)
        .encode(ProtocolVersion::V311, &mut out)
        .unwrap();
    let mut inbuf = bytes::BytesMut::new();
    floor_pump(
        &stream,
        &mut out,
        &mut inbuf,
        |_| {},
        |p, _| matches!(p, mqtt_proto::Packet::ConnAck(_)),
    )
    .await;
    stream
}

/// Drives one socket: writes `out` (topped up by `refill` whenever it runs low), reads and
/// decodes into `inbuf`, and hands each packet to `on_packet`, which may queue answers in
/// `out` and says when the run is over. Ends early, returning false, after [`wait`] without
/// any progress.
async fn floor_pump(
    stream: &tokio::net::TcpStream,
    out: &mut bytes::BytesMut,
    inbuf: &mut bytes::BytesMut,
    mut refill: impl FnMut(&mut bytes::BytesMut),
    mut on_packet: impl FnMut(mqtt_proto::Packet, &mut bytes::BytesMut) -> bool,
) -> bool {
    use bytes::Buf;
    use tokio::io::Interest;
    const CHUNK: usize = 64 * 1024;
    let decoder = mqtt_proto::Decoder::new(ProtocolVersion::V311, mqtt_proto::Role::Server);
    loop {
        if out.len() < CHUNK {
            refill(out);
        }
        let interest = if out.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        let Ok(ready) = tokio::time::timeout(wait(), stream.ready(interest)).await else {
            return false;
        };
        let ready = ready.unwrap();
        if ready.is_writable() && !out.is_empty() {
            match stream.try_write(&out[..out.len().min(CHUNK)]) {
                Ok(n) => out.advance(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("floor client: {e}"),
            }
        }
        if ready.is_readable() {
            inbuf.reserve(CHUNK);
            match stream.try_read_buf(inbuf) {
                Ok(0) => panic!("floor client: the broker closed the connection"),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("floor client: {e}"),
            }
            let mut done = false;
            loop {
                match decoder.decode(inbuf) {
                    Ok(mqtt_proto::Decoded::Packet(p)) => done |= on_packet(p, out),
                    Ok(mqtt_proto::Decoded::Incomplete { .. }) => break,
                    Err(e) => panic!("floor client: {e}"),
                }
            }
            if done {
                // What `on_packet` queued last (the final acknowledgement) goes out too.
                while !out.is_empty() {
                    stream.writable().await.unwrap();
                    match stream.try_write(out) {
                        Ok(n) => out.advance(n),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("floor client: {e}"),
                    }
                }
                return true;
            }
        }
    }
}

fn floor_ack(ty: mqtt_proto::PacketType, id: mqtt_proto::PacketId, out: &mut bytes::BytesMut) {
    mqtt_proto::PubResponse::new(id)
        .encode(ty, ProtocolVersion::V311, out)
        .unwrap();
}

/// The floor of a throughput scenario (see the comment above [`floor_connect`]).
async fn floor_throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
    use mqtt_proto::{Packet, PacketType, QosPid};
    let topic = format!("bench/floor/{tag}");
    let sub = floor_connect(port, &format!("f-sub-{tag}")).await;
    let publisher = floor_connect(port, &format!("f-pub-{tag}")).await;
    let (mut sub_out, mut sub_in) = (bytes::BytesMut::new(), bytes::BytesMut::new());
    let filter = mqtt_proto::TopicFilter::new(topic.clone()).unwrap();
    let id = |n: u64| mqtt_proto::PacketId::new((n % 65_535) as u16 + 1).unwrap();
    Packet::Subscribe(mqtt_proto::Subscribe::new(
        id(0),
        vec![mqtt_proto::SubscribeFilter::new(filter, qos)],
    ))
    .encode(ProtocolVersion::V311, &mut sub_out)
    .unwrap();
    floor_pump(
        &sub,
        &mut sub_out,
        &mut sub_in,
        |_| {},
        |p, _| matches!(p, Packet::SubAck(_)),
    )
    .await;

    let payloads = payloads(n, size);
    let meter = Meter::start();
    let start = Instant::now();
    let name = mqtt_proto::TopicName::new(topic).unwrap();
    let mut next = 0u64;
    // Shared by the two closures of the producer (atomic only to be `Sync`: one thread).
    let completed = std::sync::atomic::AtomicU64::new(0);
    let done = || completed.load(std::sync::atomic::Ordering::Relaxed);
    // mosquitto takes at most `max_inflight_messages` (100 here) QoS 2 messages from one client
    // at a time and drops what comes beyond (v3.1.1 has no Receive Maximum to tell clients).
    let window = if qos == QoS::ExactlyOnce {
        100
    } else {
        u64::MAX
    };
    let producer = async {
        let (mut out, mut inbuf) = (bytes::BytesMut::new(), bytes::BytesMut::new());
        let mut pinged = false;
        let refill = |out: &mut bytes::BytesMut| {
            while next < n && out.len() < 128 * 1024 && next - done() < window {
                let qos_pid = match qos {
                    QoS::AtMostOnce => QosPid::AtMostOnce,
                    QoS::AtLeastOnce => QosPid::AtLeastOnce(id(next)),
                    QoS::ExactlyOnce => QosPid::ExactlyOnce(id(next)),
                };
                Packet::Publish(mqtt_proto::Publish::new(
                    name.clone(),
                    payloads[next as usize].clone(),
                    qos_pid,
                ))
                .encode(ProtocolVersion::V311, out)
                .unwrap();
                next += 1;
            }
            // Nothing answers a QoS 0 PUBLISH: the answer to a PINGREQ after the last one
            // says the broker has read them all.
            if qos == QoS::AtMostOnce && next == n && !pinged {
                pinged = true;
                Packet::PingReq.encode(ProtocolVersion::V311, out).unwrap();
            }
        };
        floor_pump(&publisher, &mut out, &mut inbuf, refill, |p, out| {
            match p {
                Packet::PingResp => return true,
                Packet::PubAck(_) | Packet::PubComp(_) => {
                    completed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Packet::PubRec(r) => floor_ack(PacketType::PubRel, r.packet_id, out),
                _ => {}
            }
            done() == n
        })
        .await;
    };
    let mut order = Order::new(n as usize);
    let mut released = 0u64;
    let consumer = async {
        floor_pump(
            &sub,
            &mut sub_out,
            &mut sub_in,
            |_| {},
            |p, out| {
                match p {
                    Packet::Publish(m) => {
                        order.note(seq_of(&m.payload));
                        match m.qos_pid {
                            QosPid::AtMostOnce => {}
                            QosPid::AtLeastOnce(id) => floor_ack(PacketType::PubAck, id, out),
                            QosPid::ExactlyOnce(id) => floor_ack(PacketType::PubRec, id, out),
                        }
                    }
                    Packet::PubRel(r) => {
                        released += 1;
                        floor_ack(PacketType::PubComp, r.packet_id, out);
                    }
                    _ => {}
                }
                // At QoS 2 the flow ends with the broker's PUBREL of the last message.
                order.received() == n && (qos != QoS::ExactlyOnce || released == n)
            },
        )
        .await;
    };
    tokio::join!(producer, consumer);
    let elapsed = start.elapsed();
    let metered = meter.stop();
    Run::new(&order, n, 0, elapsed, metered)
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// One client's side of the latency scenario, carried from one round to the next.
struct OursLatency {
    client: Client,
    subscription: mqtt_client::Subscription,
    topic: String,
    samples: Vec<Duration>,
}

async fn ours_latency_start<R: Runtime>(rt: R, port: u16) -> OursLatency {
    let name = R::NAME;
    let topic = format!("bench/lat/{name}");
    let client = ours_connected(&rt, port, &format!("{name}-lat")).await;
    let subscription = client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
    OursLatency {
        client,
        subscription,
        topic,
        samples: Vec::new(),
    }
}

/// Round trip `i` of `k + 1` in a row, started at `start`, into `samples`; the first is not
/// counted (the first after the other clients' turns pays for waking this runtime's threads).
fn record(samples: &mut Vec<Duration>, i: usize, start: Instant) {
    if i > 0 {
        samples.push(start.elapsed());
    }
}

/// `k` QoS 1 round trips (see [`record`]): publish (resolving on the PUBACK), then the message
/// back.
async fn ours_round_trips(mut lat: OursLatency, k: usize) -> OursLatency {
    for i in 0..=k {
        let seq = lat.samples.len() as u64;
        let start = Instant::now();
        lat.client
            .publish(&lat.topic, payload(seq, 64), QoS::AtLeastOnce)
            .await
            .unwrap()
            .await
            .unwrap();
        lat.subscription.next_message().await.unwrap();
        record(&mut lat.samples, i, start);
    }
    lat
}

struct RumqttcLatency {
    client: rumqttc::AsyncClient,
    events: rumqttc::EventLoop,
    samples: Vec<Duration>,
}

async fn rumqttc_latency_start(port: u16) -> RumqttcLatency {
    let (client, mut events) = rumqttc_client(port, "r-lat");
    client
        .subscribe("bench/lat/r", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    loop {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) = events.poll().await {
            break;
        }
    }
    RumqttcLatency {
        client,
        events,
        samples: Vec::new(),
    }
}

async fn rumqttc_round_trips(mut lat: RumqttcLatency, k: usize) -> RumqttcLatency {
    for i in 0..=k {
        let seq = lat.samples.len() as u64;
        let start = Instant::now();
        lat.client
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
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) =
                lat.events.poll().await
            {
                break;
            }
        }
        record(&mut lat.samples, i, start);
    }
    lat
}

/// QoS 1 round trips of the three clients, `n` each, p50 and p99 in µs (tokio, smol, rumqttc).
/// The clients take turns in rounds of 20 counted round trips, the one going first changing
/// from round to round, so that all three see the same machine: measured one after the other, a
/// busy second on this shared machine moved one client's p99 alone.
fn latency(tokio_rt: &Tokio, smol_rt: &Smol, port: u16, n: usize) -> [(f64, f64); 3] {
    const ROUND: usize = 20;
    let mut tokio = Some(tokio_rt.block_on(ours_latency_start(tokio_rt.clone(), port)));
    let mut smol = Some(smol_rt.block_on(ours_latency_start(smol_rt.clone(), port)));
    let mut theirs = Some(tokio_rt.block_on(rumqttc_latency_start(port)));
    for round in 0..n.div_ceil(ROUND) {
        for turn in 0..3 {
            match (round + turn) % 3 {
                0 => {
                    let lat = tokio.take().unwrap();
                    tokio = Some(tokio_rt.block_on(ours_round_trips(lat, ROUND)));
                }
                1 => {
                    let lat = smol.take().unwrap();
                    smol = Some(smol_rt.block_on(ours_round_trips(lat, ROUND)));
                }
                _ => {
                    let lat = theirs.take().unwrap();
                    theirs = Some(tokio_rt.block_on(rumqttc_round_trips(lat, ROUND)));
                }
            }
        }
    }
    let (tokio, smol, theirs) = (tokio.unwrap(), smol.unwrap(), theirs.unwrap());
    tokio_rt.block_on(async move { tokio.client.disconnect().await.unwrap() });
    smol_rt.block_on(async move { smol.client.disconnect().await.unwrap() });
    tokio_rt.block_on(async move { theirs.client.disconnect().await.unwrap() });
    [
        percentiles(tokio.samples),
        percentiles(smol.samples),
        percentiles(theirs.samples),
    ]
}

/// Heap bytes held per idle connected client: allocated minus freed while `n` clients connect
/// (counted by the gated allocator), divided by `n`, in KiB. Sockets' kernel buffers are not
/// counted (the same for all clients).
fn ours_idle_memory<R: Runtime>(rt: &R, port: u16, n: usize) -> (f64, Vec<Client>) {
    let scenario_rt = rt.clone();
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async move {
            let rt = scenario_rt;
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                clients.push(ours_connected(&rt, port, &format!("idle-{}-{i}", R::NAME)).await);
            }
            rt.sleep(Duration::from_millis(200)).await;
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

/// `BENCH_CLIENT=tokio` (or `smol`, `rumqttc`, or several separated by commas; `ours` means
/// `tokio`) runs the throughput scenarios of those clients only, e.g. to profile one or count
/// its system calls.
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

/// `ours` against `theirs`, or blank when there is nothing to compare with.
fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 && ours > 0.0 {
        format!("{:.2}", ours / theirs)
    } else {
        String::new()
    }
}

/// The rows of each scenario, in the order [`run_clients`] returns them.
const CLIENTS: [&str; 4] = [Tokio::NAME, Smol::NAME, "rumqttc", "floor"];

/// One throughput scenario for each selected client (`None` for the others): ours on tokio,
/// ours on smol, rumqttc, the floor.
fn run_clients(
    tokio_rt: &Tokio,
    smol_rt: &Smol,
    port: u16,
    qos: QoS,
    size: usize,
    n: u64,
    tag: &str,
) -> [Option<Run>; 4] {
    let tag = tag.to_string();
    let on_tokio = client_selected(Tokio::NAME).then(|| {
        tokio_rt.block_on(ours_throughput(
            tokio_rt.clone(),
            port,
            qos,
            size,
            n,
            tag.clone(),
        ))
    });
    let on_smol = client_selected(Smol::NAME).then(|| {
        smol_rt.block_on(ours_throughput(
            smol_rt.clone(),
            port,
            qos,
            size,
            n,
            tag.clone(),
        ))
    });
    let theirs = client_selected("rumqttc").then(|| {
        let tag = tag.clone();
        tokio_rt.block_on(async move { rumqttc_throughput(port, qos, size, n, &tag).await })
    });
    let floor = client_selected("floor").then(|| {
        let tag = tag.clone();
        tokio_rt.block_on(async move { floor_throughput(port, qos, size, n, &tag).await })
    });
    [on_tokio, on_smol, theirs, floor]
}

/// Removes the stores' directory when `main` returns (a static is never dropped).
struct RemoveStores;

impl Drop for RemoveStores {
    fn drop(&mut self) {
        if let Some(dir) = store_dir() {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
}

fn main() {
    let _stores = RemoveStores;
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
    let scale = if quick { 20 } else { 1 };
    let rounds = if quick { 1 } else { ROUNDS };
    println!(
        "{:<10} {:>7} {:>10} {:>11} {:>7} {:>7} {:>10} {:>10} {:>9} {:>8}",
        "scenario",
        "client",
        "msgs/s",
        "cpu µs/msg",
        "lost",
        "lagged",
        "duplicated",
        "reordered",
        "cpu ratio",
        "off main"
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
        let runs: Vec<[Option<Run>; 4]> = (0..rounds)
            .map(|round| {
                let tag = format!("{tag}-r{round}");
                run_clients(&tokio_rt, &smol_rt, port, qos, size, n, &tag)
            })
            .collect();
        let [on_tokio, on_smol, theirs, floor] =
            std::array::from_fn(|client| Run::median(runs.iter().filter_map(|r| r[client])));
        let their_cpu = theirs.map_or(0.0, |r| r.cpu_us_per_msg);
        for (name, r) in CLIENTS.into_iter().zip([on_tokio, on_smol, theirs, floor]) {
            let Some(r) = r else { continue };
            println!(
                "{:<10} {:>7} {:>10.0} {:>11.2} {:>7} {:>7} {:>10} {:>10} {:>9} {:>7.1}%",
                tag,
                name,
                r.msgs_per_s,
                r.cpu_us_per_msg,
                r.lost,
                r.lagged,
                r.duplicated,
                r.reordered,
                if name == "rumqttc" {
                    String::new()
                } else {
                    ratio(r.cpu_us_per_msg, their_cpu)
                },
                100.0 * r.off_main_us_per_msg / r.cpu_us_per_msg.max(f64::MIN_POSITIVE)
            );
        }
    }
    let only = std::env::var("BENCH_ONLY").ok();
    if only.as_deref().is_none_or(|o| o == "allocs") {
        // Apart from the timed runs above: counting costs each allocation an atomic update.
        COUNT_ALLOCATIONS.store(true, std::sync::atomic::Ordering::SeqCst);
        let n = if quick { 1_000 } else { 5_000 };
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let tag = format!("a{}-64", qos as u8);
            let runs = run_clients(&tokio_rt, &smol_rt, port, qos, 64, n, &tag);
            let figures: Vec<String> = CLIENTS
                .into_iter()
                .zip(runs)
                .filter_map(|(name, run)| {
                    let run = run?;
                    assert_eq!(run.lost + run.duplicated + run.reordered, 0, "{name} {tag}");
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
    if only
        .as_deref()
        .is_some_and(|o| o != "memory" && o != "latency")
    {
        // One throughput scenario only.
        return;
    }
    if only.as_deref().is_none_or(|o| o == "latency") {
        let n = if quick { 200 } else { 2000 };
        let [(t50, t99), (s50, s99), (r50, r99)] = latency(&tokio_rt, &smol_rt, port, n);
        println!(
            "QoS 1 round trip (µs, {n} each, the clients taking turns): tokio p50 {t50:.0} p99 {t99:.0}; \
             smol p50 {s50:.0} p99 {s99:.0}; rumqttc p50 {r50:.0} p99 {r99:.0}; \
             p99 ratio tokio {}, smol {}",
            ratio(t99, r99),
            ratio(s99, r99)
        );
    }
    if only.as_deref() == Some("latency") {
        return;
    }
    let conns = if quick { 50 } else { 1000 };
    // All three sets stay connected until the end.
    let (tokio_mem, tokio_clients) = ours_idle_memory(&tokio_rt, port, conns);
    let (smol_mem, smol_clients) = ours_idle_memory(&smol_rt, port, conns);
    let (r_mem, r_clients) = rumqttc_idle_memory(&tokio_rt.0, port, conns);
    println!(
        "heap per idle connection ({conns} connections): tokio {tokio_mem:.1} KiB, \
         smol {smol_mem:.1} KiB, rumqttc {r_mem:.1} KiB; ratio tokio {}, smol {}",
        ratio(tokio_mem, r_mem),
        ratio(smol_mem, r_mem)
    );
    tokio_rt.0.block_on(async {
        for c in &tokio_clients {
            let _ = c.disconnect().await;
        }
        for (c, t) in r_clients {
            let _ = c.disconnect().await;
            t.abort();
        }
    });
    smol_rt.block_on(async move {
        for c in &smol_clients {
            let _ = c.disconnect().await;
        }
    });
    println!(
        "ratios = client / rumqttc (below 1: less than rumqttc); cpu = all this process's \
         threads, off main = the share of it not on the main thread (async-io's helper)"
    );
}
