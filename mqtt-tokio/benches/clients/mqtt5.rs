//! mqtt5 0.49 (LabOverWire's client, without its broker), speaking MQTT 3.1.1 like ours: an
//! `MqttClient` whose `publish_with_options` resolves when written (QoS 0) or acknowledged
//! (QoS 1 and 2), so QoS 1/2 publishes go 100 at a time (`StreamExt::buffered`, in order; the
//! broker takes 100 in flight); messages come to a subscription's callback, which does the
//! accounting itself.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mqtt_proto::QoS;
use mqtt_test_support::gated_alloc::net_bytes;

use crate::common::{
    kib_each, payload, record, seq_of, wait, Disconnect, Meter, Order, Player, Run,
};
use crate::ours::{Runtime, Tokio};

fn qos_of(qos: QoS) -> mqtt5::QoS {
    match qos {
        QoS::AtMostOnce => mqtt5::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqtt5::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqtt5::QoS::ExactlyOnce,
    }
}

async fn connected(port: u16, id: &str) -> mqtt5::MqttClient {
    let client = mqtt5::MqttClient::new(id);
    let options = mqtt5::ConnectOptions::new(id)
        .with_protocol_version(mqtt5::ProtocolVersion::V311)
        .with_keep_alive(Duration::from_secs(60))
        .with_clean_start(true)
        .with_automatic_reconnect(false);
    client
        .connect_with_options(&format!("mqtt://127.0.0.1:{port}"), options)
        .await
        .unwrap();
    client
}

/// A subscription at `qos` whose messages go to `on_message`.
async fn subscribe(
    client: &mqtt5::MqttClient,
    topic: &str,
    qos: QoS,
    on_message: impl Fn(mqtt5::Message) + Send + Sync + 'static,
) {
    let options = mqtt5::SubscribeOptions {
        qos: qos_of(qos),
        ..Default::default()
    };
    client
        .subscribe_with_options(topic, options, on_message)
        .await
        .unwrap();
}

/// What the subscription's callback counts, and wakes the scenario with.
#[derive(Default)]
struct Received {
    order: Mutex<Option<Order>>,
    arrived: tokio::sync::Notify,
}

pub(crate) async fn throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
    let topic = format!("bench/mqtt5/{tag}");
    let sub = connected(port, &format!("m-sub-{tag}")).await;
    let publisher = connected(port, &format!("m-pub-{tag}")).await;
    let received = Arc::new(Received::default());
    *received.order.lock().unwrap() = Some(Order::new(n as usize));
    let seen = received.clone();
    subscribe(&sub, &topic, qos, move |m| {
        if let Some(order) = seen.order.lock().unwrap().as_mut() {
            order.note(seq_of(&m.payload));
        }
        seen.arrived.notify_one();
    })
    .await;
    // `publish_with_options` takes a `Vec<u8>`: made here, before the meter starts.
    let payloads: Vec<Vec<u8>> = (0..n).map(|seq| payload(seq, size)).collect();
    let meter = Meter::start();
    let start = Instant::now();
    let options = mqtt5::PublishOptions {
        qos: qos_of(qos),
        ..Default::default()
    };
    let producer = async {
        if qos == QoS::AtMostOnce {
            for p in payloads {
                publisher
                    .publish_with_options(topic.as_str(), p, options.clone())
                    .await
                    .unwrap();
            }
        } else {
            let mut acks = futures_util::stream::iter(payloads)
                .map(|p| publisher.publish_with_options(topic.as_str(), p, options.clone()))
                .buffered(100);
            while let Some(ack) = acks.next().await {
                ack.unwrap();
            }
        }
        Instant::now()
    };
    let consumer = async {
        let count = || {
            received
                .order
                .lock()
                .unwrap()
                .as_ref()
                .map_or(0, Order::received)
        };
        while count() < n {
            if tokio::time::timeout(wait(), received.arrived.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        Instant::now()
    };
    let (published_at, received_at) = tokio::join!(producer, consumer);
    let elapsed = published_at.max(received_at) - start;
    let metered = meter.stop();
    let order = received.order.lock().unwrap().take().unwrap();
    let _ = publisher.disconnect().await;
    let _ = sub.disconnect().await;
    Run::new(&order, n, 0, elapsed, metered)
}

/// mqtt5's side of the latency scenario: the callback hands each message to a channel.
pub(crate) struct Latency {
    rt: Tokio,
    client: mqtt5::MqttClient,
    messages: Option<tokio::sync::mpsc::UnboundedReceiver<mqtt5::Message>>,
    samples: Vec<Duration>,
}

const LATENCY_TOPIC: &str = "bench/lat/mqtt5";

impl Latency {
    pub(crate) fn start(rt: &Tokio, port: u16) -> Latency {
        let (client, messages) = rt.block_on(async move {
            let client = connected(port, "m-lat").await;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            subscribe(&client, LATENCY_TOPIC, QoS::AtLeastOnce, move |m| {
                let _ = tx.send(m);
            })
            .await;
            (client, rx)
        });
        Latency {
            rt: rt.clone(),
            client,
            messages: Some(messages),
            samples: Vec::new(),
        }
    }
}

impl Player for Latency {
    fn name(&self) -> &'static str {
        "mqtt5"
    }
    fn turn(&mut self, k: usize) {
        let client = self.client.clone();
        let mut messages = self.messages.take().unwrap();
        let first = self.samples.len() as u64;
        let (messages, samples) = self.rt.block_on(async move {
            let mut samples = Vec::new();
            for i in 0..=k {
                let start = Instant::now();
                client
                    .publish_qos1(LATENCY_TOPIC, payload(first + i as u64, 64))
                    .await
                    .unwrap();
                messages.recv().await.unwrap();
                record(&mut samples, i, start);
            }
            (messages, samples)
        });
        self.messages = Some(messages);
        self.samples.extend(samples);
    }
    fn finish(self: Box<Self>) -> Vec<Duration> {
        let client = self.client;
        self.rt
            .block_on(async move { client.disconnect().await.unwrap() });
        self.samples
    }
}

/// Heap per idle connection of `n` clients.
pub(crate) fn idle_memory(rt: &Tokio, port: u16, n: usize) -> (f64, Disconnect) {
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async move {
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                clients.push(connected(port, &format!("idle-m-{i}")).await);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
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
