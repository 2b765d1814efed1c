//! What a session store costs a publisher: our tokio client publishing QoS 1 messages to a
//! subscriber through one mosquitto (started here), with a `FileStore` and without, in the
//! same run, rounds alternating, each figure the median of the rounds.
//!
//! Run: `cargo bench -p mqtt-tokio --bench store` (`STORE_MESSAGES`, default 20,000;
//! `STORE_ROUNDS`, default 3; `STORE_SIZE`, payload bytes, default 64).
//!
//! The publisher queues every message with `publish_message` and awaits the completions at the
//! end, as the clients bench does; with the store, a message is accepted once it is on disk,
//! and the messages the connection task takes in one turn share one write and one sync.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use mqtt_test_support::cpu::{cpu_ns, cpu_since};
use mqtt_test_support::{Mosquitto, TempDir};
use mqtt_tokio::{Client, ConnectionEvent, FileStore, Options, OutboundMessage, QoS, TopicName};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn connected(options: Options) -> Client {
    let client = mqtt_tokio::spawn(options).unwrap();
    loop {
        match client.next_event().await {
            Some(ConnectionEvent::Connected { .. }) => return client,
            Some(_) => {}
            None => panic!("the connection task ended before connecting"),
        }
    }
}

/// Messages per second from the first publish to the last message received, and this
/// process's CPU time per message meanwhile (publisher, subscriber and store writes),
/// microseconds.
async fn round(port: u16, n: usize, size: usize, store: Option<&TempDir>, tag: &str) -> (f64, f64) {
    let url = format!("mqtt://127.0.0.1:{port}");
    let sub = connected(Options::new(&url, &format!("sub-{tag}")).unwrap()).await;
    let mut options = Options::new(&url, &format!("pub-{tag}"))
        .unwrap()
        .clean_start(false)
        .session_expiry(600);
    if let Some(dir) = store {
        options = options.store(FileStore::new(dir.path().join(tag)));
    }
    let publisher = connected(options).await;
    let topic = format!("store/{tag}");
    let mut s = sub.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
    let topic = TopicName::new(topic).unwrap();
    let payload = bytes::Bytes::from(vec![b'x'; size]);
    let start = Instant::now();
    let cpu = cpu_ns();
    let producer = async {
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let m = OutboundMessage::new(topic.clone(), payload.clone(), QoS::AtLeastOnce);
            handles.push(publisher.publish_message(m).await.unwrap());
        }
        for h in handles {
            h.await.unwrap();
        }
    };
    let consumer = async {
        for i in 0..n {
            tokio::time::timeout(Duration::from_secs(10), s.next_message())
                .await
                .unwrap_or_else(|_| panic!("{tag}: message {i} of {n} within 10 s"))
                .expect("the subscription ended");
        }
    };
    tokio::join!(producer, consumer);
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let cpu = cpu_since(cpu).0 as f64 / 1000.0 / n as f64;
    publisher.disconnect().await.unwrap();
    sub.disconnect().await.unwrap();
    (rate, cpu)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let n = env_or("STORE_MESSAGES", 20_000);
    let rounds = env_or("STORE_ROUNDS", 3);
    let size = env_or("STORE_SIZE", 64);
    // `STORE_BROKER`: extra mosquitto settings, `;`-separated (e.g. `max_inflight_messages 100`).
    let extra = std::env::var("STORE_BROKER").unwrap_or_default();
    // mosquitto drops QoS 1 messages for a subscriber past 1,000 queued by default (the
    // publisher without a store outruns the subscriber): the round would wait for them.
    let mut config = vec!["max_queued_messages 1000000".to_string()];
    config.extend(
        extra
            .split(';')
            .filter(|l| !l.trim().is_empty())
            .map(String::from),
    );
    let broker = Mosquitto::start(mqtt_test_support::Options {
        extra_config: config,
        ..Default::default()
    })
    .unwrap();
    let dir = TempDir::new("store-bench").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut plain, mut stored) = (Vec::new(), Vec::new());
    let (mut plain_cpu, mut stored_cpu) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let (rate, cpu) = rt.block_on(round(broker.port(), n, size, None, &format!("plain{r}")));
        plain.push(rate);
        plain_cpu.push(cpu);
        let tag = format!("stored{r}");
        let (rate, cpu) = rt.block_on(round(broker.port(), n, size, Some(&dir), &tag));
        stored.push(rate);
        stored_cpu.push(cpu);
    }
    let (p, s) = (median(plain.clone()), median(stored.clone()));
    let (pc, sc) = (median(plain_cpu.clone()), median(stored_cpu.clone()));
    println!("QoS 1, {size} B, {n} messages, {rounds} rounds (medians):");
    println!("                    messages/s   CPU us/message");
    println!("  without a store: {p:>12.0} {pc:>16.2}   rounds {plain:.0?}");
    println!("  with a FileStore: {s:>11.0} {sc:>16.2}   rounds {stored:.0?}");
    println!(
        "  ratio store / no store: throughput {:.2}, CPU {:.2}",
        s / p,
        sc / pc
    );
}
