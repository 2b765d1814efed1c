//! Our client, on tokio and on smol: the runtimes it runs on here, and its throughput, round
//! trips and idle memory.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_client::{Client, ConnectionEvent, Delivery, Options};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_test_support::gated_alloc::net_bytes;

use crate::common::{
    kib_each, payload, payloads, record, seq_of, wait, Disconnect, Meter, Order, Player, Run,
};

/// What differs between our client on tokio and on smol: the executor that runs the scenario
/// and the connection tasks (on this thread), and the timer. The scenarios below are written
/// once over it. A cheap handle: each scenario future owns one.
pub(crate) trait Runtime: Clone + Send + Sync + 'static {
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
pub(crate) struct Tokio(pub(crate) Arc<tokio::runtime::Runtime>);

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
pub(crate) struct Smol;

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
pub(crate) fn store_dir() -> Option<&'static mqtt_test_support::TempDir> {
    static DIR: std::sync::OnceLock<Option<mqtt_test_support::TempDir>> =
        std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("BENCH_STORE")
            .map(|_| mqtt_test_support::TempDir::new("bench-store").unwrap())
    })
    .as_ref()
}

pub(crate) async fn connected<R: Runtime>(rt: &R, port: u16, id: &str) -> Client {
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

pub(crate) async fn throughput<R: Runtime>(
    rt: R,
    port: u16,
    qos: QoS,
    size: usize,
    n: u64,
    tag: String,
) -> Run {
    let name = R::NAME;
    let sub = connected(&rt, port, &format!("{name}-sub-{tag}")).await;
    let publisher = connected(&rt, port, &format!("{name}-pub-{tag}")).await;
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
/// Our side of the latency scenario on runtime `R`.
pub(crate) struct Latency<R: Runtime> {
    rt: R,
    /// Taken by each turn's task and given back.
    state: Option<(Client, mqtt_client::Subscription)>,
    topic: String,
    samples: Vec<Duration>,
}

impl<R: Runtime> Latency<R> {
    pub(crate) fn start(rt: &R, port: u16) -> Latency<R> {
        let name = R::NAME;
        let topic = format!("bench/lat/{name}");
        let (scenario_rt, filter) = (rt.clone(), topic.clone());
        let state = rt.block_on(async move {
            let client = connected(&scenario_rt, port, &format!("{name}-lat")).await;
            let subscription = client.subscribe(&filter, QoS::AtLeastOnce).await.unwrap();
            (client, subscription)
        });
        Latency {
            rt: rt.clone(),
            state: Some(state),
            topic,
            samples: Vec::new(),
        }
    }
}

impl<R: Runtime> Player for Latency<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }
    /// Publish (resolving on the PUBACK), then the message back.
    fn turn(&mut self, k: usize) {
        let (client, mut subscription) = self.state.take().unwrap();
        let (topic, first) = (self.topic.clone(), self.samples.len() as u64);
        let (state, samples) = self.rt.block_on(async move {
            let mut samples = Vec::new();
            for i in 0..=k {
                let start = Instant::now();
                client
                    .publish(&topic, payload(first + i as u64, 64), QoS::AtLeastOnce)
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                subscription.next_message().await.unwrap();
                record(&mut samples, i, start);
            }
            ((client, subscription), samples)
        });
        self.state = Some(state);
        self.samples.extend(samples);
    }
    fn finish(self: Box<Self>) -> Vec<Duration> {
        let (client, _) = self.state.unwrap();
        self.rt
            .block_on(async move { client.disconnect().await.unwrap() });
        self.samples
    }
}

/// Heap bytes held per idle connected client: allocated minus freed while `n` clients connect
/// (counted by the gated allocator), divided by `n`, in KiB; and what disconnects them.
/// Sockets' kernel buffers are not counted (the same for all clients).
pub(crate) fn idle_memory<R: Runtime>(rt: &R, port: u16, n: usize) -> (f64, Disconnect) {
    let scenario_rt = rt.clone();
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async move {
            let rt = scenario_rt;
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                clients.push(connected(&rt, port, &format!("idle-{}-{i}", R::NAME)).await);
            }
            rt.sleep(Duration::from_millis(200)).await;
            clients
        })
    });
    let rt = rt.clone();
    let disconnect = Box::new(move || {
        rt.block_on(async move {
            for c in &clients {
                let _ = c.disconnect().await;
            }
        })
    });
    (kib_each(bytes, n), disconnect)
}

/// Removes the stores' directory when `main` returns (a static is never dropped).
pub(crate) struct RemoveStores;

impl Drop for RemoveStores {
    fn drop(&mut self) {
        if let Some(dir) = store_dir() {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }
}
