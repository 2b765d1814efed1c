//! Packet Identifiers: one pool shared by PUBLISH (QoS 1 and 2), SUBSCRIBE and UNSUBSCRIBE, an
//! id never in use twice, freed when its flow completes, and refused rather than reused when all
//! 65,535 are taken. Publish ids (`PublishId`) are never reused at all.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use mqtt_proto::*;
use mqtt_session::testing::{Pair, TestSession};
use mqtt_session::{
    Config, Error as SessionError, Event, OutboundMessage, PersistedPublish, PublishTicket,
    Snapshot, Stage,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn topic(name: &'static str) -> TopicName {
    TopicName::new(name).unwrap()
}

fn filter(text: &'static str) -> TopicFilter {
    TopicFilter::new(text).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    let mut config = Config::new(version, MqttString::new("ids").unwrap());
    config.max_queued = 100_000;
    config
}

fn connected(config: Config) -> Pair {
    let mut pair = Pair::new(config);
    assert!(pair.connect().is_empty());
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
    pair
}

fn message(qos: QoS) -> OutboundMessage {
    OutboundMessage::new(topic("t"), "x", qos)
}

fn publish(pair: &mut Pair, qos: QoS) -> (Result<PublishTicket, SessionError>, Vec<Packet>) {
    pair.command(|s, now| s.publish(now, message(qos)))
}

fn subscribe(pair: &mut Pair) -> (Result<(), SessionError>, Vec<Packet>) {
    pair.command(|s, now| {
        s.subscribe(
            now,
            vec![SubscribeFilter::new(filter("s"), QoS::AtMostOnce)],
            Default::default(),
        )
        .map(|_| ())
    })
}

fn unsubscribe(pair: &mut Pair) -> (Result<(), SessionError>, Vec<Packet>) {
    pair.command(|s, now| {
        s.unsubscribe(now, vec![filter("u")], Default::default())
            .map(|_| ())
    })
}

/// The type and Packet Identifier of each packet.
fn ids(packets: &[Packet]) -> Vec<(PacketType, Option<u16>)> {
    packets
        .iter()
        .map(|p| {
            let id = match p {
                Packet::Publish(p) => p.packet_id(),
                Packet::Subscribe(s) => Some(s.packet_id),
                Packet::Unsubscribe(u) => Some(u.packet_id),
                Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                    Some(r.packet_id)
                }
                _ => None,
            };
            (p.packet_type(), id.map(|id| id.get()))
        })
        .collect()
}

fn suback(id: u16) -> SubAck {
    SubAck {
        packet_id: pid(id),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties::default(),
    }
}

fn unsuback(id: u16) -> UnsubAck {
    UnsubAck {
        packet_id: pid(id),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties::default(),
    }
}

#[test]
fn publish_subscribe_and_unsubscribe_share_one_pool() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let mut sent = Vec::new();
        let (t1, p) = publish(&mut pair, QoS::AtLeastOnce);
        sent.extend(p);
        let (r, p) = subscribe(&mut pair);
        r.unwrap();
        sent.extend(p);
        let (r, p) = unsubscribe(&mut pair);
        r.unwrap();
        sent.extend(p);
        let (t2, p) = publish(&mut pair, QoS::ExactlyOnce);
        sent.extend(p);
        let (t0, p) = publish(&mut pair, QoS::AtMostOnce);
        sent.extend(p);
        // v5 [MQTT-2.2.1-3]; v3.1.1 [MQTT-2.3.1-2]: each new one gets an id not in use.
        assert_eq!(
            ids(&sent),
            vec![
                (PacketType::Publish, Some(1)),
                (PacketType::Subscribe, Some(2)),
                (PacketType::Unsubscribe, Some(3)),
                (PacketType::Publish, Some(4)),
                (PacketType::Publish, None),
            ]
        );
        assert_eq!(t1.unwrap().packet_id, Some(pid(1)));
        assert_eq!(t2.unwrap().packet_id, Some(pid(4)));
        assert_eq!(t0.unwrap().packet_id, None);
    }
}

#[test]
fn ids_wrap_around_and_skip_those_still_in_use() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        // Four flows stay open: a QoS 1 publish, a SUBSCRIBE, an UNSUBSCRIBE, and a QoS 2
        // publish whose PUBREL is sent (its id is in use until the PUBCOMP).
        publish(&mut pair, QoS::AtLeastOnce).0.unwrap();
        subscribe(&mut pair).0.unwrap();
        unsubscribe(&mut pair).0.unwrap();
        publish(&mut pair, QoS::ExactlyOnce).0.unwrap();
        assert_eq!(
            pair.send(Packet::PubRec(PubResponse::new(pid(4)))),
            vec![Packet::PubRel(PubResponse::new(pid(4)))]
        );
        pair.events();

        // Every other id, once, each completed at once.
        for n in 5..=u16::MAX {
            let (ticket, sent) = publish(&mut pair, QoS::AtLeastOnce);
            assert_eq!(ids(&sent), vec![(PacketType::Publish, Some(n))]);
            assert_eq!(ticket.unwrap().packet_id, Some(pid(n)));
            assert!(pair
                .send(Packet::PubAck(PubResponse::new(pid(n))))
                .is_empty());
        }
        pair.events();

        // Past 65,535 the ids start again at 1, skipping the four in use.
        let (_, sent) = publish(&mut pair, QoS::ExactlyOnce);
        assert_eq!(ids(&sent), vec![(PacketType::Publish, Some(5))]);
        let (_, sent) = subscribe(&mut pair);
        assert_eq!(ids(&sent), vec![(PacketType::Subscribe, Some(6))]);

        // Once completed, an id is free again: 1 (PUBACK), 2 (SUBACK), 3 (UNSUBACK),
        // 4 (PUBCOMP) are handed out once the cursor comes round to them.
        pair.send(Packet::PubAck(PubResponse::new(pid(1))));
        pair.send(suback(2));
        pair.send(unsuback(3));
        pair.send(Packet::PubComp(PubResponse::new(pid(4))));
        let events = pair.events();
        assert_eq!(events.len(), 4, "{events:?}");
        for n in 7..=u16::MAX {
            publish(&mut pair, QoS::AtLeastOnce).0.unwrap();
            pair.send(Packet::PubAck(PubResponse::new(pid(n))));
        }
        let mut sent = Vec::new();
        for _ in 0..4 {
            sent.extend(publish(&mut pair, QoS::AtLeastOnce).1);
        }
        // 5 and 6 are still in use.
        assert_eq!(
            ids(&sent),
            vec![
                (PacketType::Publish, Some(1)),
                (PacketType::Publish, Some(2)),
                (PacketType::Publish, Some(3)),
                (PacketType::Publish, Some(4)),
            ]
        );
        let (_, sent) = unsubscribe(&mut pair);
        assert_eq!(ids(&sent), vec![(PacketType::Unsubscribe, Some(7))]);
    }
}

// All 65,535 ids in use: fixed-capacity tables (feature testing-bounded) refuse the work long
// before, which tests/bounded.rs proves.
#[cfg(not(feature = "testing-bounded"))]
#[test]
fn all_ids_in_use_refuses_new_work_instead_of_reusing_one() {
    for version in VERSIONS {
        // Not connected: everything waits in the queue with its id.
        let mut pair = Pair::new(config(version));
        for n in 1..=u16::MAX {
            let qos = if n % 2 == 0 {
                QoS::ExactlyOnce
            } else {
                QoS::AtLeastOnce
            };
            let ticket = pair.session.publish(pair.now, message(qos)).unwrap();
            assert_eq!(ticket.packet_id, Some(pid(n)));
            // Publish ids count up from 1.
            assert_eq!(ticket.id.get(), u64::from(n));
        }
        assert!(!pair.session.can_publish());
        assert_eq!(pair.session.queued(), 65_535);

        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let (result, sent) = publish(&mut pair, qos);
            assert_eq!(result, Err(SessionError::NoFreePacketId));
            assert!(sent.is_empty());
        }
        assert_eq!(subscribe(&mut pair).0, Err(SessionError::NoFreePacketId));
        assert_eq!(unsubscribe(&mut pair).0, Err(SessionError::NoFreePacketId));
        // A refused command queues nothing.
        assert_eq!(pair.session.queued(), 65_535);
        assert_eq!(pair.session.pending_publishes(), 65_535);
        assert!(pair.events().is_empty());

        // QoS 0 needs no Packet Identifier; its publish id is the next one, never an old one
        // and not one a refused publish used up.
        let ticket = publish(&mut pair, QoS::AtMostOnce).0.unwrap();
        assert_eq!(ticket.packet_id, None);
        assert_eq!(ticket.id.get(), 65_536);
    }
}

// All 65,535 ids in use: fixed-capacity tables (feature testing-bounded) refuse the work long
// before, which tests/bounded.rs proves.
#[cfg(not(feature = "testing-bounded"))]
#[test]
fn v5_all_ids_in_use_while_connected_and_one_freed_by_puback() {
    // Queued offline, then sent one at a time (server Receive Maximum 1).
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    for _ in 1..=u16::MAX {
        pair.session
            .publish(pair.now, message(QoS::AtLeastOnce))
            .unwrap();
    }
    pair.open();
    let properties = ConnAckProperties {
        receive_maximum: core::num::NonZeroU16::new(1),
        ..ConnAckProperties::default()
    };
    let sent = pair.send(ConnAck {
        properties,
        ..ConnAck::default()
    });
    assert_eq!(ids(&sent), vec![(PacketType::Publish, Some(1))]);
    pair.events();
    assert_eq!(
        publish(&mut pair, QoS::AtLeastOnce).0,
        Err(SessionError::NoFreePacketId)
    );

    let sent = pair.send(Packet::PubAck(PubResponse::new(pid(1))));
    assert_eq!(ids(&sent), vec![(PacketType::Publish, Some(2))]);
    // The freed id 1 goes to the next publish, which queues behind the other 65,534.
    let ticket = publish(&mut pair, QoS::AtLeastOnce).0.unwrap();
    assert_eq!(ticket.packet_id, Some(pid(1)));
    assert_eq!(ticket.id.get(), 65_536);
    assert_eq!(
        publish(&mut pair, QoS::AtLeastOnce).0,
        Err(SessionError::NoFreePacketId)
    );
}

// All 65,535 ids in use: fixed-capacity tables (feature testing-bounded) refuse the work long
// before, which tests/bounded.rs proves.
#[cfg(not(feature = "testing-bounded"))]
#[test]
fn completing_a_flow_frees_exactly_its_id() {
    for version in VERSIONS {
        // Offline: a QoS 1 publish (1), a QoS 2 publish (2), a SUBSCRIBE (3), and UNSUBSCRIBEs
        // for every other id (4 to 65,535).
        let mut pair = Pair::new(config(version));
        let q1 = publish(&mut pair, QoS::AtLeastOnce).0.unwrap();
        let q2 = publish(&mut pair, QoS::ExactlyOnce).0.unwrap();
        subscribe(&mut pair).0.unwrap();
        for _ in 4..=u16::MAX {
            pair.session
                .unsubscribe(pair.now, vec![filter("u")], Default::default())
                .unwrap();
        }
        assert_eq!(
            publish(&mut pair, QoS::AtLeastOnce).0,
            Err(SessionError::NoFreePacketId)
        );

        // Connected, all of them go out, each id once.
        pair.open();
        let sent = pair.send(ConnAck::default());
        let mut seen: Vec<u16> = ids(&sent).iter().map(|(_, id)| id.unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (1..=u16::MAX).collect::<Vec<_>>());
        pair.events();

        // PUBACK frees 1, for the next publish, and nothing else is free.
        assert!(pair
            .send(Packet::PubAck(PubResponse::new(pid(1))))
            .is_empty());
        assert_eq!(
            pair.events(),
            vec![Event::PublishCompleted {
                id: q1.id,
                packet_id: Some(pid(1)),
                reason_code: ReasonCode::Success
            }]
        );
        let (ticket, sent) = publish(&mut pair, QoS::AtLeastOnce);
        let reused = ticket.unwrap();
        assert_eq!(reused.packet_id, Some(pid(1)));
        // The Packet Identifier is reused, the publish id never is.
        assert!(reused.id > q2.id);
        assert_eq!(ids(&sent), vec![(PacketType::Publish, Some(1))]);
        assert_eq!(
            publish(&mut pair, QoS::AtLeastOnce).0,
            Err(SessionError::NoFreePacketId)
        );

        // PUBREC does not free 2: v5 [MQTT-4.3.3-5]; v3.1.1 [MQTT-2.3.1-3] (freed once the
        // last acknowledgement, PUBCOMP, is processed).
        assert_eq!(
            pair.send(Packet::PubRec(PubResponse::new(pid(2)))),
            vec![Packet::PubRel(PubResponse::new(pid(2)))]
        );
        assert_eq!(subscribe(&mut pair).0, Err(SessionError::NoFreePacketId));
        assert!(pair
            .send(Packet::PubComp(PubResponse::new(pid(2))))
            .is_empty());
        pair.events();
        let (result, sent) = subscribe(&mut pair);
        result.unwrap();
        assert_eq!(ids(&sent), vec![(PacketType::Subscribe, Some(2))]);
        assert_eq!(unsubscribe(&mut pair).0, Err(SessionError::NoFreePacketId));

        // SUBACK frees 3.
        pair.send(suback(3));
        assert!(matches!(&pair.events()[..], [Event::Subscribed { .. }]));
        let (result, sent) = unsubscribe(&mut pair);
        result.unwrap();
        assert_eq!(ids(&sent), vec![(PacketType::Unsubscribe, Some(3))]);
        assert_eq!(
            publish(&mut pair, QoS::ExactlyOnce).0,
            Err(SessionError::NoFreePacketId)
        );

        // UNSUBACK frees its id.
        pair.send(unsuback(40_000));
        assert!(matches!(&pair.events()[..], [Event::Unsubscribed { .. }]));
        let (ticket, sent) = publish(&mut pair, QoS::ExactlyOnce);
        assert_eq!(ticket.unwrap().packet_id, Some(pid(40_000)));
        assert_eq!(ids(&sent), vec![(PacketType::Publish, Some(40_000))]);
        assert_eq!(
            publish(&mut pair, QoS::AtLeastOnce).0,
            Err(SessionError::NoFreePacketId)
        );

        if version == ProtocolVersion::V5 {
            // A PUBACK with an error ends the flow too, and frees its id.
            let mut ack = PubResponse::with_reason(pid(1), ReasonCode::UnspecifiedError);
            ack.properties.reason_string = Some(MqttString::new("no").unwrap());
            pair.send(Packet::PubAck(ack));
            assert!(matches!(&pair.events()[..], [Event::PublishFailed { .. }]));
            let (ticket, _) = publish(&mut pair, QoS::AtLeastOnce);
            assert_eq!(ticket.unwrap().packet_id, Some(pid(1)));
        }
    }
}

/// xorshift64*: the test's own deterministic randomness.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// What the server waits to answer, per Packet Identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Qos1,
    Qos2,
    Qos2Released,
    Subscribe,
    Unsubscribe,
}

/// Random publishes, subscribes and unsubscribes, completed in random order, past a wrap of the
/// identifier space (so that ids still in use are met again): no id written for a new PUBLISH, SUBSCRIBE or
/// UNSUBSCRIBE is ever one whose flow is still open (v5 [MQTT-2.2.1-3]; v3.1.1
/// [MQTT-2.3.1-2]), and publish ids only grow.
#[test]
fn random_traffic_never_has_an_id_in_use_twice() {
    for version in VERSIONS {
        // Restored from a snapshot with the cursor near the top and twenty publishes still in
        // flight at ids 1 to 20, so that the run soon goes round and meets them.
        let mut config = config(version);
        config.clean_start = false;
        config.session_expiry_interval = 3600;
        // Every publish goes out at once: this test is about ids, not the in-flight window.
        config.max_inflight = u16::MAX;
        let held_publishes: Vec<PersistedPublish> = (1..=20u16)
            .map(|n| PersistedPublish {
                id: u64::from(n),
                stage: Stage::Sent,
                publish: Publish::new(topic("t"), "x", QosPid::new(QoS::AtLeastOnce, pid(n))),
            })
            .collect();
        let snapshot = Snapshot {
            protocol_version: version,
            client_id: MqttString::new("ids").unwrap(),
            next_packet_id: 60_000,
            last_publish_id: 20,
            outgoing: held_publishes,
            inbound_qos2: Vec::new(),
            subscriptions: Vec::new(),
        };
        let mut pair = Pair::new(config.clone());
        pair.session = TestSession::restore_with_tables(config, snapshot, pair.now).unwrap();
        assert!(!pair.open().clean_start);
        let resent = pair.send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        });
        assert_eq!(
            ids(&resent),
            (1..=20)
                .map(|n| (PacketType::Publish, Some(n)))
                .collect::<Vec<_>>()
        );
        pair.events();

        let mut rng = Rng(0x1D5 + version as u64);
        let mut open: BTreeMap<u16, Open> = (1..=20).map(|n| (n, Open::Qos1)).collect();
        let mut held: BTreeSet<u16> = (1..=20).collect();
        let mut last_publish_id = 20u64;
        let mut allocations = 0u32;
        let (mut previous, mut wraps, mut skips) = (59_999u16, 0u32, 0u32);
        while allocations < 12_000 {
            // The restored flows stay open until the ids have gone round.
            if allocations == 8_000 {
                held.clear();
            }
            let completable = open.len() - held.len();
            let start_new = completable == 0 || (completable < 200 && rng.below(100) < 52);
            if start_new {
                let (kind, sent) = match rng.below(4) {
                    0 | 1 => {
                        let qos = if rng.below(2) == 0 {
                            QoS::AtLeastOnce
                        } else {
                            QoS::ExactlyOnce
                        };
                        let (ticket, sent) = publish(&mut pair, qos);
                        let ticket = ticket.unwrap();
                        assert!(ticket.id.get() > last_publish_id);
                        last_publish_id = ticket.id.get();
                        let kind = if qos == QoS::AtLeastOnce {
                            Open::Qos1
                        } else {
                            Open::Qos2
                        };
                        (kind, sent)
                    }
                    2 => {
                        let (r, sent) = subscribe(&mut pair);
                        r.unwrap();
                        (Open::Subscribe, sent)
                    }
                    _ => {
                        let (r, sent) = unsubscribe(&mut pair);
                        r.unwrap();
                        (Open::Unsubscribe, sent)
                    }
                };
                let written = ids(&sent);
                assert_eq!(written.len(), 1, "{sent:?}");
                let id = written[0].1.unwrap();
                assert!(
                    !open.contains_key(&id),
                    "{version}: id {id} written for a new {:?} while its {:?} flow is open",
                    written[0].0,
                    open[&id]
                );
                open.insert(id, kind);
                allocations += 1;
                if id < previous {
                    wraps += 1;
                }
                if id != previous % u16::MAX + 1 {
                    skips += 1;
                }
                previous = id;
            } else {
                let index = rng.below(completable as u64) as usize;
                let (&id, &kind) = open
                    .iter()
                    .filter(|(id, _)| !held.contains(*id))
                    .nth(index)
                    .unwrap();
                let sent = match kind {
                    Open::Qos1 => {
                        let reason = if version == ProtocolVersion::V5 && rng.below(4) == 0 {
                            ReasonCode::QuotaExceeded
                        } else {
                            ReasonCode::Success
                        };
                        open.remove(&id);
                        pair.send(Packet::PubAck(PubResponse::with_reason(pid(id), reason)))
                    }
                    Open::Qos2 => {
                        open.insert(id, Open::Qos2Released);
                        let sent = pair.send(Packet::PubRec(PubResponse::new(pid(id))));
                        assert_eq!(sent, vec![Packet::PubRel(PubResponse::new(pid(id)))]);
                        Vec::new()
                    }
                    Open::Qos2Released => {
                        open.remove(&id);
                        pair.send(Packet::PubComp(PubResponse::new(pid(id))))
                    }
                    Open::Subscribe => {
                        open.remove(&id);
                        pair.send(suback(id))
                    }
                    Open::Unsubscribe => {
                        open.remove(&id);
                        pair.send(unsuback(id))
                    }
                };
                assert!(sent.is_empty(), "{sent:?}");
            }
            for event in pair.events() {
                assert!(
                    matches!(
                        event,
                        Event::PublishCompleted { .. }
                            | Event::PublishFailed { .. }
                            | Event::Subscribed { .. }
                            | Event::Unsubscribed { .. }
                    ),
                    "{event:?}"
                );
            }
        }
        // The run went round, and met ids still in use on the way.
        assert_eq!(wraps, 1, "{version}");
        assert!(skips > 0, "{version}");
    }
}
