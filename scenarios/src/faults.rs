//! Connections cut, over and over, while messages flow: a publisher and a subscriber both
//! reach the broker through a [`FaultRelay`] that cuts (and sometimes first freezes) every open
//! connection on a seeded schedule, until each of the two has had its connection cut at least
//! `FAULT_CUTS` times. Nothing is lost, and at QoS 2 nothing arrives twice, unless the wire
//! shows the broker sending the message again after releasing it (see
//! [`sent_again_after_release`]).
//!
//! `FAULT_CUTS` (default 100) and `FAULT_SEED` (default 1) change the run; the README names a
//! longer one.

use mqtt_client::{PublishHandle, Subscription};
use mqtt_proto::{Packet, ProtocolVersion, QoS, Role, TopicName};
use mqtt_session::OutboundMessage;
use mqtt_test_support::fault::Passed;
use mqtt_test_support::{FaultRelay, Mosquitto, Options as BrokerOptions};
use std::collections::{BTreeSet, HashMap, VecDeque};
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

/// The numbers of `twice` that the broker, as the subscriber's relay recorded it, sent again
/// after releasing them: a PUBLISH of the number with Packet Identifier X, a PUBREL X, then a
/// PUBLISH of the same number with X again. [MQTT-4.3.3-5] forbids it (the sender must not
/// send the PUBLISH again once it has sent its PUBREL); the client, which completed X, takes
/// the second for a new message. mosquitto 2.0.11 was seen doing it under fast traffic.
fn sent_again_after_release(
    passed: &[Passed],
    version: ProtocolVersion,
    twice: &[usize],
) -> Vec<usize> {
    // Per Packet Identifier: the payload of its last PUBLISH, and whether a PUBREL followed.
    let mut last: HashMap<u16, (bytes::Bytes, bool)> = HashMap::new();
    let mut again = BTreeSet::new();
    for connection in passed {
        for packet in crate::net::packets(&connection.from_server, version, Role::Server) {
            match packet {
                Packet::Publish(p) => {
                    let Some(id) = p.packet_id() else { continue };
                    if let Some((payload, released)) = last.get(&id.get()) {
                        if *released && *payload == p.payload {
                            again.insert(p.payload.clone());
                        }
                    }
                    last.insert(id.get(), (p.payload, false));
                }
                Packet::PubRel(r) => {
                    if let Some(entry) = last.get_mut(&r.packet_id.get()) {
                        entry.1 = true;
                    }
                }
                _ => {}
            }
        }
    }
    twice
        .iter()
        .copied()
        .filter(|n| again.contains(n.to_string().as_bytes()))
        .collect()
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
    relays[0].record();
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
    let mut waiting: VecDeque<PublishHandle> = VecDeque::new();
    let mut seen = Vec::new();
    while !cut_enough(&relays) {
        assert!(
            relays.iter().all(FaultRelay::scheduled),
            "a schedule ended before {cuts} cuts"
        );
        let message = OutboundMessage::new(topic.clone(), published.to_string(), qos);
        let completion = within("queueing a publish", publisher.publish_message(message))
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
    let brokers = sent_again_after_release(&relays[0].recorded(), version, &twice);
    println!(
        "{} {version} QoS {q}: {published} messages, connections cut: subscriber {}, publisher {}: 0 lost, {} duplicated ({} sent again by the broker after their PUBREL)",
        R::NAME,
        relays[0].connections() - 1,
        relays[1].connections() - 1,
        twice.len(),
        brokers.len()
    );
    if qos == QoS::ExactlyOnce {
        let ours: Vec<usize> = twice
            .iter()
            .copied()
            .filter(|n| !brokers.contains(n))
            .collect();
        assert!(ours.is_empty(), "QoS 2 delivered twice: {ours:?}");
    }
    disconnect(&publisher).await;
    disconnect(&subscriber).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::{PacketId, PubResponse, Publish, QosPid};

    fn wire(packets: &[Packet]) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        for p in packets {
            p.encode(ProtocolVersion::V5, &mut buf)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        buf.to_vec()
    }

    fn publish(id: u16, payload: &str, dup: bool) -> Packet {
        let id = PacketId::new(id).unwrap_or_else(|| panic!("id 0"));
        let topic = TopicName::new("cuts/t").unwrap_or_else(|e| panic!("{e}"));
        let mut p = Publish::new(topic, payload.to_string(), QosPid::ExactlyOnce(id));
        p.dup = dup;
        Packet::Publish(p)
    }

    fn release(id: u16) -> Packet {
        Packet::PubRel(PubResponse::new(
            PacketId::new(id).unwrap_or_else(|| panic!("id 0")),
        ))
    }

    /// A message the broker sent again after its PUBREL (on a later connection) is the
    /// broker's; one sent again before its PUBREL, or a new message that reuses the
    /// identifier, is not.
    #[test]
    fn only_what_was_sent_again_after_its_release_is_the_brokers() {
        let passed = [
            Passed {
                connection: 1,
                from_client: Vec::new(),
                from_server: wire(&[publish(1, "5", false), publish(2, "6", false), release(1)]),
            },
            Passed {
                connection: 2,
                from_client: Vec::new(),
                from_server: wire(&[
                    publish(1, "5", true),
                    publish(2, "6", true),
                    release(2),
                    publish(2, "7", false),
                ]),
            },
        ];
        let twice = [5, 6, 7];
        assert_eq!(
            sent_again_after_release(&passed, ProtocolVersion::V5, &twice),
            [5]
        );
    }
}
