//! Connections cut, over and over, while messages flow: a publisher and a subscriber both
//! reach the broker through a [`FaultRelay`] that cuts (and sometimes first freezes) every open
//! connection on a seeded schedule, until each of the two has had its connection cut at least
//! `FAULT_CUTS` times. Nothing is lost, and at QoS 2 nothing arrives twice.
//!
//! `FAULT_CUTS` (default 100) and `FAULT_SEED` (default 1) change the run; the README names a
//! longer one.

use mqtt_client::{PublishCompletion, Subscription};
use mqtt_proto::{ProtocolVersion, QoS, TopicName};
use mqtt_session::OutboundMessage;
use mqtt_test_support::{FaultRelay, Mosquitto, Options as BrokerOptions};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::{connected, disconnect, durable, options, subscribe, url, within, Runtime};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts the number a message carries.
fn count_in(seen: &mut Vec<u32>, message: &mqtt_client::Message) {
    let n: usize = std::str::from_utf8(message.payload())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected payload {message:?}"));
    if n >= seen.len() {
        seen.resize(n + 1, 0);
    }
    seen[n] += 1;
}

/// Reads until `count` numbers have arrived, each at least once; returns how often each did.
async fn receive(sub: &mut Subscription, count: usize, seen: &mut Vec<u32>) {
    seen.resize(count, 0);
    while seen.contains(&0) {
        let missing = seen.iter().filter(|&&n| n == 0).count();
        let first = seen.iter().position(|&n| n == 0);
        let what = format!("a message through the cuts ({missing} missing, the first {first:?})");
        let message = within(&what, sub.next_message())
            .await
            .unwrap_or_else(|| panic!("the subscription ended"));
        count_in(seen, &message);
    }
}

/// The publisher publishes numbers until the relay has made its cuts, the subscriber reads
/// them all; both sessions are kept by the broker across the cuts.
pub async fn cuts_lose_nothing<R: Runtime>(rt: &R, version: ProtocolVersion, qos: QoS) {
    let cuts = env_or("FAULT_CUTS", 100);
    let q: u8 = match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    };
    let v: u64 = if version == ProtocolVersion::V5 { 5 } else { 4 };
    let seed = env_or("FAULT_SEED", 1) ^ (u64::from(q) << 8) ^ v;
    // mosquitto drops QoS 1/2 messages past 1,000 queued for a client by default: the
    // subscriber, often away during the cuts, must not lose them there. (0, "no limit", stops
    // delivery altogether in mosquitto 2.0.11.)
    let broker = Mosquitto::start(BrokerOptions {
        extra_config: vec!["max_queued_messages 1000000".into()],
        ..BrokerOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    // A relay each, so that each client's cuts are counted.
    let target = SocketAddr::from(([127, 0, 0, 1], broker.port()));
    let mut relays = [(); 2].map(|()| FaultRelay::start(target).unwrap_or_else(|e| panic!("{e}")));
    let id = format!("cuts-{}-{version}-{q}", R::NAME);
    let client = |relay: &FaultRelay, suffix: &str| {
        let mut o = durable(options(
            &url(relay.port()),
            &format!("{id}-{suffix}"),
            version,
        ));
        o.session.keep_alive = Duration::from_secs(2);
        o.session.backoff.flap_max = Duration::from_millis(100);
        o
    };
    let subscriber = connected(rt, client(&relays[0], "s")).await;
    let mut sub = subscribe(&subscriber, "cuts/t", qos).await;
    let publisher = connected(rt, client(&relays[1], "p")).await;
    let topic = TopicName::new("cuts/t".to_string()).unwrap_or_else(|e| panic!("{e}"));
    for (n, relay) in relays.iter_mut().enumerate() {
        relay.schedule(seed + n as u64, cuts * 20, 10..60);
    }
    // Each connection after a client's first follows a cut of the one before.
    let cut_enough = |relays: &[FaultRelay; 2]| relays.iter().all(|r| r.connections() > cuts);

    // Publish while the relay cuts, a window of publishes in flight at a time.
    let mut published = 0usize;
    let mut waiting: VecDeque<PublishCompletion> = VecDeque::new();
    let mut seen = Vec::new();
    while !cut_enough(&relays) {
        assert!(
            relays.iter().all(FaultRelay::scheduled),
            "a schedule ended before {cuts} cuts"
        );
        let message = OutboundMessage::new(topic.clone(), published.to_string(), qos);
        let completion = within("queueing a publish", publisher.publish_queued(message))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        waiting.push_back(completion);
        published += 1;
        // About a thousand messages a second: at full speed (tens of thousands), mosquitto
        // 2.0.11 was seen to send a QoS 2 PUBLISH again after its PUBREL for it had been
        // answered, which delivers it twice [MQTT-4.3.3-5]; at this pace it was not.
        crate::sleep(Duration::from_millis(1)).await;
        if waiting.len() >= 32 {
            if let Some(done) = waiting.pop_front() {
                within("a publish through the cuts", done)
                    .await
                    .unwrap_or_else(|e| panic!("a publish failed: {e}"));
            }
        }
        // Read what has arrived meanwhile, so that the subscriber's window keeps moving.
        while let Some(Some(message)) =
            crate::first_within(Duration::ZERO, sub.next_message()).await
        {
            count_in(&mut seen, &message);
        }
    }
    for relay in &mut relays {
        relay.stop_schedule();
    }
    for done in waiting {
        within("a publish after the cuts", done)
            .await
            .unwrap_or_else(|e| panic!("a publish failed: {e}"));
    }
    receive(&mut sub, published, &mut seen).await;
    let twice: Vec<usize> = (0..seen.len()).filter(|&n| seen[n] > 1).collect();
    println!(
        "{} {version} QoS {q}: {published} messages, connections cut: subscriber {}, publisher {}: 0 lost, {} duplicated",
        R::NAME,
        relays[0].connections() - 1,
        relays[1].connections() - 1,
        twice.len()
    );
    if qos == QoS::ExactlyOnce {
        assert!(twice.is_empty(), "QoS 2 delivered twice: {twice:?}");
    }
    disconnect(&publisher).await;
    disconnect(&subscriber).await;
}
