//! rumqttc 0.25 (MQTT 3.1.1): an `AsyncClient` and its `EventLoop`, request channel of 1000,
//! 100 in flight; for the round trips `TCP_NODELAY` too.

use std::time::{Duration, Instant};

use mqtt_proto::QoS;
use mqtt_test_support::gated_alloc::net_bytes;

use crate::common::{
    kib_each, payload, payloads, record, seq_of, wait, Disconnect, Meter, Order, Player, Run,
};
use crate::ours::{Runtime, Tokio};

pub(crate) fn rumqttc_qos(qos: QoS) -> rumqttc::QoS {
    match qos {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

pub(crate) fn rumqttc_client(port: u16, id: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(60));
    o.set_inflight(100);
    o.set_max_packet_size(1 << 20, 1 << 20);
    rumqttc::AsyncClient::new(o, 1000)
}

pub(crate) async fn throughput(port: u16, qos: QoS, size: usize, n: u64, tag: &str) -> Run {
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

/// rumqttc's side of the latency scenario.
pub(crate) struct Latency {
    rt: Tokio,
    client: rumqttc::AsyncClient,
    events: Option<rumqttc::EventLoop>,
    samples: Vec<Duration>,
}

impl Latency {
    pub(crate) fn start(rt: &Tokio, port: u16) -> Latency {
        let (client, events) = rt.block_on(async move {
            let (client, mut events) = rumqttc_client(port, "r-lat");
            // Round trips: Nagle's algorithm off (it is on by default).
            let mut network = rumqttc::NetworkOptions::new();
            network.set_tcp_nodelay(true);
            events.set_network_options(network);
            client
                .subscribe("bench/lat/r", rumqttc::QoS::AtLeastOnce)
                .await
                .unwrap();
            loop {
                if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) =
                    events.poll().await
                {
                    break;
                }
            }
            (client, events)
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
        "rumqttc"
    }
    fn turn(&mut self, k: usize) {
        let client = self.client.clone();
        let mut events = self.events.take().unwrap();
        let first = self.samples.len() as u64;
        let (events, samples) = self.rt.block_on(async move {
            let mut samples = Vec::new();
            for i in 0..=k {
                let start = Instant::now();
                client
                    .publish(
                        "bench/lat/r",
                        rumqttc::QoS::AtLeastOnce,
                        false,
                        payload(first + i as u64, 64),
                    )
                    .await
                    .unwrap();
                // Round trip: our own message back (the PUBACK may come before or after).
                loop {
                    if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_))) =
                        events.poll().await
                    {
                        break;
                    }
                }
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

/// Heap per idle connection of `n` rumqttc clients, each event loop a task (see
/// [`crate::ours::idle_memory`]).
pub(crate) fn idle_memory(rt: &Tokio, port: u16, n: usize) -> (f64, Disconnect) {
    let (clients, bytes) = net_bytes(|| {
        rt.block_on(async move {
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
