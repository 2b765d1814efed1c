//! rumqttc-next 0.34 (the MQTT 5 rumqtt fork; it speaks MQTT 5 only): an `AsyncClient` and
//! its `EventLoop`, set up as [`Setup`] says; in flight what the broker's Receive Maximum
//! allows (mosquitto: 100 here).

use std::time::{Duration, Instant};

use mqtt_proto::QoS;
use mqtt_test_support::gated_alloc::net_bytes;
use rumqttc_next::{Event, Packet};

use crate::common::{
    kib_each, payload, payloads, record, seq_of, wait, Disconnect, Meter, Order, Player, Run,
};
use crate::ours::{Runtime, Tokio};

fn qos_of(qos: QoS) -> rumqttc_next::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc_next::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc_next::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc_next::QoS::ExactlyOnce,
    }
}

/// How a client is set up: for throughput (request channel of 1000, up to 100 requests
/// written per turn), for round trips (that, and `TCP_NODELAY`), or idle (the defaults).
#[derive(Clone, Copy, PartialEq)]
enum Setup {
    Throughput,
    RoundTrips,
    Idle,
}

fn client(
    port: u16,
    id: &str,
    setup: Setup,
) -> (rumqttc_next::AsyncClient, rumqttc_next::EventLoop) {
    let mut o = rumqttc_next::MqttOptions::new(id, ("127.0.0.1", port));
    o.set_keep_alive(60);
    if setup == Setup::Idle {
        return rumqttc_next::AsyncClient::builder(o).build();
    }
    o.set_max_request_batch(100);
    if setup == Setup::RoundTrips {
        let mut network = rumqttc_next::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        o.set_network_options(network);
    }
    rumqttc_next::AsyncClient::builder(o).capacity(1000).build()
}

/// Polls `events` until `done` says so.
async fn until(events: &mut rumqttc_next::EventLoop, done: impl Fn(&Event) -> bool) {
    loop {
        if let Ok(e) = events.poll().await {
            if done(&e) {
                return;
            }
        }
    }
}

/// A client and its event loop, subscribed to `topic`.
async fn subscribed(
    port: u16,
    id: &str,
    topic: &str,
    qos: QoS,
    setup: Setup,
) -> (rumqttc_next::AsyncClient, rumqttc_next::EventLoop) {
    let (c, mut events) = client(port, id, setup);
    c.subscribe(topic, qos_of(qos)).await.unwrap();
    until(&mut events, |e| {
        matches!(e, Event::Incoming(Packet::SubAck(_)))
    })
    .await;
    (c, events)
}

/// The same run as [`crate::rumqttc::throughput`].
pub(crate) async fn throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
    let topic = format!("bench/next/{tag}");
    let (sub, mut sub_loop) = subscribed(
        port,
        &format!("n-sub-{tag}"),
        &topic,
        qos,
        Setup::Throughput,
    )
    .await;
    let (publisher, mut pub_loop) = client(port, &format!("n-pub-{tag}"), Setup::Throughput);
    let payloads = payloads(n, size);
    let meter = Meter::start();
    let start = Instant::now();
    let t = topic.clone();
    let producer = async move {
        let options = rumqttc_next::PublishOptions::new(qos_of(qos));
        for payload in payloads {
            publisher
                .publish(t.as_str(), payload, options.clone())
                .await
                .unwrap();
        }
        publisher
    };
    let mut order = Order::new(n as usize);
    let mut acked = 0u64;
    let pub_driver = async {
        // Until every QoS 1/2 flow completed, or at QoS 0 until idle for a while (not timed).
        let want = if qos == QoS::AtMostOnce { 0 } else { n };
        loop {
            match tokio::time::timeout(Duration::from_millis(500), pub_loop.poll()).await {
                Ok(Ok(Event::Incoming(Packet::PubAck(_))))
                | Ok(Ok(Event::Incoming(Packet::PubComp(_)))) => {
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
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => order.note(seq_of(&p.payload)),
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

/// rumqttc-next's side of the latency scenario.
pub(crate) struct Latency {
    rt: Tokio,
    client: rumqttc_next::AsyncClient,
    events: Option<rumqttc_next::EventLoop>,
    samples: Vec<Duration>,
}

const LATENCY_TOPIC: &str = "bench/lat/next";

impl Latency {
    pub(crate) fn start(rt: &Tokio, port: u16) -> Latency {
        let (client, events) = rt.block_on(async move {
            subscribed(
                port,
                "n-lat",
                LATENCY_TOPIC,
                QoS::AtLeastOnce,
                Setup::RoundTrips,
            )
            .await
        });
        Latency {
            rt: rt.clone(),
            client,
            events: Some(events),
            samples: Vec::new(),
        }
    }
}

impl Player for Latency {
    fn name(&self) -> &'static str {
        "rumqttc-next"
    }
    fn turn(&mut self, k: usize) {
        let client = self.client.clone();
        let mut events = self.events.take().unwrap();
        let first = self.samples.len() as u64;
        let (events, samples) = self.rt.block_on(async move {
            let mut samples = Vec::new();
            let options = rumqttc_next::PublishOptions::new(rumqttc_next::QoS::AtLeastOnce);
            for i in 0..=k {
                let start = Instant::now();
                client
                    .publish(
                        LATENCY_TOPIC,
                        payload(first + i as u64, 64),
                        options.clone(),
                    )
                    .await
                    .unwrap();
                // Our own message back (the PUBACK may come before or after).
                until(&mut events, |e| {
                    matches!(e, Event::Incoming(Packet::Publish(_)))
                })
                .await;
                record(&mut samples, i, start);
            }
            (events, samples)
        });
        self.events = Some(events);
        self.samples.extend(samples);
    }
    fn finish(self: Box<Self>) -> Vec<Duration> {
        let client = self.client;
        self.rt
            .block_on(async move { client.disconnect().await.unwrap() });
        self.samples
    }
}

/// Heap per idle connection of `n` clients, each event loop a task.
pub(crate) fn idle_memory(rt: &Tokio, port: u16, n: usize) -> (f64, Disconnect) {
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async move {
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                let (c, mut events) = client(port, &format!("idle-n-{i}"), Setup::Idle);
                until(&mut events, |e| {
                    matches!(e, Event::Incoming(Packet::ConnAck(_)))
                })
                .await;
                let task = tokio::spawn(async move { while events.poll().await.is_ok() {} });
                clients.push((c, task));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            clients
        })
    });
    let rt = rt.clone();
    let disconnect = Box::new(move || {
        rt.block_on(async move {
            for (c, t) in clients {
                let _ = c.disconnect().await;
                t.abort();
            }
        })
    });
    (kib_each(bytes, n), disconnect)
}
