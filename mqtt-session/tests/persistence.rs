//! Persistence: a session's snapshot, through its binary form, restores a session that
//! continues the first one across a process restart.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::{Pair, TestSession, VirtualInstant};
use mqtt_session::{
    Config, Event, Journal, JournalWrite, Message, OutboundMessage, PersistedSubscription,
    PublishTicket, Snapshot, SnapshotError, Stage, SubscriptionKey,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    let mut c = Config::new(version, MqttString::try_from("persist").unwrap());
    match version {
        ProtocolVersion::V5 => c.session_expiry_interval = 3600,
        ProtocolVersion::V311 => c.clean_start = false,
    }
    c.backoff.initial = Duration::ZERO;
    c
}

fn msg(t: &'static str, qos: QoS) -> OutboundMessage {
    OutboundMessage::new(TopicName::new(t).unwrap(), t, qos)
}

fn publish(t: &'static str, qos_pid: QosPid, dup: bool) -> Publish {
    let mut p = Publish::new(
        TopicName::new(t).unwrap(),
        Bytes::from_static(t.as_bytes()),
        qos_pid,
    );
    p.dup = dup;
    p
}

fn ack(n: u16) -> PubResponse {
    PubResponse::new(pid(n))
}

fn completed(ticket: PublishTicket) -> Event {
    Event::PublishCompleted {
        id: ticket.id,
        packet_id: ticket.packet_id,
        reason_code: ReasonCode::Success,
    }
}

fn sub_id(version: ProtocolVersion) -> Option<SubscriptionIdentifier> {
    match version {
        ProtocolVersion::V5 => SubscriptionIdentifier::new(2),
        ProtocolVersion::V311 => None,
    }
}

/// The tickets of the first session: A (QoS 1, id 2, sent), B (QoS 2, id 3, released), C
/// (QoS 2, id 4, sent), F (QoS 1, id 5, queued while disconnected), G (QoS 0, queued).
struct Tickets {
    a: PublishTicket,
    b: PublishTicket,
    c: PublishTicket,
    f: PublishTicket,
    g: PublishTicket,
}

/// A session with two granted subscriptions, an inbound QoS 2 message (id 9) awaiting PUBREL,
/// and publishes in every stage; its connection is down. Returns its snapshot.
fn first_session(version: ProtocolVersion) -> (Snapshot, Tickets) {
    let mut pair = Pair::new(config(version));
    pair.open();
    pair.send(ConnAck::default());
    pair.events();
    let filters = vec![
        SubscribeFilter::new(TopicFilter::new("p/#").unwrap(), QoS::ExactlyOnce),
        SubscribeFilter::new(TopicFilter::new("q").unwrap(), QoS::AtLeastOnce),
    ];
    let (r, _) = pair.command(|s, now| s.subscribe(now, filters, Default::default()));
    r.unwrap();
    pair.send(SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1],
        properties: AckProperties::default(),
    });
    let inbound = publish("p/in", QosPid::ExactlyOnce(pid(9)), false);
    assert_eq!(pair.send(inbound), vec![Packet::PubRec(ack(9))]);
    let publish_now = |pair: &mut Pair, m| pair.command(|s, now| s.publish(now, m)).0.unwrap();
    let a = publish_now(&mut pair, msg("m/a", QoS::AtLeastOnce));
    let b = publish_now(&mut pair, msg("m/b", QoS::ExactlyOnce));
    let c = publish_now(&mut pair, msg("m/c", QoS::ExactlyOnce));
    assert_eq!(
        pair.send_ack(PacketType::PubRec, ack(3)),
        vec![Packet::PubRel(ack(3))]
    );
    pair.drop_connection();
    let f = publish_now(&mut pair, msg("m/f", QoS::AtLeastOnce));
    let g = publish_now(&mut pair, msg("m/g", QoS::AtMostOnce));
    assert_eq!(
        [
            a.packet_id,
            b.packet_id,
            c.packet_id,
            f.packet_id,
            g.packet_id
        ],
        [Some(pid(2)), Some(pid(3)), Some(pid(4)), Some(pid(5)), None]
    );
    (pair.session.snapshot(), Tickets { a, b, c, f, g })
}

fn round_trip(snapshot: &Snapshot) -> Snapshot {
    let mut buf = BytesMut::new();
    snapshot.encode(&mut buf);
    Snapshot::decode(buf.freeze()).unwrap()
}

fn restored_pair(version: ProtocolVersion, snapshot: Snapshot) -> Pair {
    let mut pair = Pair::new(config(version));
    pair.session = TestSession::restore_with_tables(config(version), snapshot, pair.now).unwrap();
    assert!(pair.session.should_connect(pair.now));
    pair
}

fn keys(pair: &Pair) -> Vec<(SubscriptionKey, String)> {
    pair.session
        .subscriptions()
        .map(|(k, f)| (k, f.filter.as_str().to_owned()))
        .collect()
}

// The snapshot holds what must outlive the process (v5 [MQTT-4.1.0-1], v3.1.1
// [MQTT-4.1.0-1]: the client keeps its session state): pending publishes with their stage and
// id, inbound QoS 2 ids, granted subscriptions, and the counters; its binary form reads back
// equal.
#[test]
fn a_snapshot_holds_the_session_state_and_round_trips() {
    for version in VERSIONS {
        let (snapshot, t) = first_session(version);
        assert_eq!(snapshot.protocol_version, version);
        assert_eq!(snapshot.client_id.as_str(), "persist");
        assert_eq!(snapshot.next_packet_id, 6);
        assert_eq!(snapshot.last_publish_id, t.g.id.get());
        let outgoing: Vec<_> = snapshot
            .outgoing
            .iter()
            .map(|p| (p.id, p.stage, p.publish.packet_id()))
            .collect();
        assert_eq!(
            outgoing,
            vec![
                (t.a.id.get(), Stage::Sent, Some(pid(2))),
                (t.b.id.get(), Stage::Released, Some(pid(3))),
                (t.c.id.get(), Stage::Sent, Some(pid(4))),
                (t.f.id.get(), Stage::Queued, Some(pid(5))),
                (t.g.id.get(), Stage::Queued, None),
            ]
        );
        assert_eq!(snapshot.inbound_qos2, vec![pid(9)]);
        assert_eq!(
            snapshot.subscriptions,
            vec![
                PersistedSubscription {
                    filter: SubscribeFilter::new(
                        TopicFilter::new("p/#").unwrap(),
                        QoS::ExactlyOnce
                    ),
                    identifier: sub_id(version),
                },
                PersistedSubscription {
                    filter: SubscribeFilter::new(TopicFilter::new("q").unwrap(), QoS::AtLeastOnce),
                    identifier: sub_id(version),
                },
            ]
        );
        assert_eq!(round_trip(&snapshot), snapshot);
    }
}

// A restored session asks to resume the session (Clean Start 0) and, when the server has it,
// resends what was unacknowledged: PUBLISH with DUP and PUBREL, in order ([MQTT-4.4.0-1],
// [MQTT-4.6.0-1]), then what never went; inbound QoS 2 ids are kept (v5 [MQTT-4.3.3-10],
// v3.1.1 [MQTT-4.3.3-2]: a resent PUBLISH gets PUBREC and is not delivered again); the
// subscriptions route as before.
#[test]
fn a_restored_session_resends_pending_messages_on_session_present_1() {
    for version in VERSIONS {
        let (snapshot, t) = first_session(version);
        let mut pair = restored_pair(version, round_trip(&snapshot));
        assert!(!pair.open().clean_start);
        let sent = pair.send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        });
        assert_eq!(
            sent,
            vec![
                Packet::Publish(publish("m/a", QosPid::AtLeastOnce(pid(2)), true)),
                Packet::PubRel(ack(3)),
                Packet::Publish(publish("m/c", QosPid::ExactlyOnce(pid(4)), true)),
                Packet::Publish(publish("m/f", QosPid::AtLeastOnce(pid(5)), false)),
                Packet::Publish(publish("m/g", QosPid::AtMostOnce, false)),
            ],
            "{version}"
        );
        let events = pair.events();
        assert!(
            matches!(&events[..], [Event::Connected(c), e] if c.session_present && *e == completed(t.g)),
            "{events:?}"
        );

        let mut again = publish("p/in", QosPid::ExactlyOnce(pid(9)), true);
        assert_eq!(pair.send(again.clone()), vec![Packet::PubRec(ack(9))]);
        assert_eq!(pair.events(), vec![]);
        assert_eq!(
            pair.send_ack(PacketType::PubRel, ack(9)),
            vec![Packet::PubComp(ack(9))]
        );

        let subs = keys(&pair);
        assert_eq!(
            subs.iter().map(|(_, f)| f.as_str()).collect::<Vec<_>>(),
            vec!["p/#", "q"]
        );
        again.dup = false;
        again.topic = TopicName::new("p/x").unwrap();
        assert_eq!(
            pair.session.route(&again).collect::<Vec<_>>(),
            vec![subs[0].0]
        );

        // New work never takes an id in use or a PublishId handed out before.
        let (h, sent) = pair.command(|s, now| s.publish(now, msg("m/h", QoS::AtLeastOnce)));
        let h = h.unwrap();
        assert_eq!((h.id.get(), h.packet_id), (t.g.id.get() + 1, Some(pid(6))));
        assert_eq!(
            sent,
            vec![Packet::Publish(publish(
                "m/h",
                QosPid::AtLeastOnce(pid(6)),
                false
            ))]
        );

        pair.send_ack(PacketType::PubAck, ack(2));
        pair.send_ack(PacketType::PubComp, ack(3));
        assert_eq!(
            pair.send_ack(PacketType::PubRec, ack(4)),
            vec![Packet::PubRel(ack(4))]
        );
        pair.send_ack(PacketType::PubComp, ack(4));
        pair.send_ack(PacketType::PubAck, ack(5));
        pair.send_ack(PacketType::PubAck, ack(6));
        assert_eq!(
            pair.events(),
            vec![
                completed(t.a),
                completed(t.b),
                completed(t.c),
                completed(t.f),
                completed(h)
            ]
        );
        assert_eq!(pair.session.pending_publishes(), 0);
    }
}

// When the server lost the session (v5 [MQTT-3.2.2-5], v3.1.1 Session Present 0): publishes
// start over (DUP 0), the released QoS 2 one is complete, inbound QoS 2 state is discarded,
// and every restored subscription is made again and reported as a resubscription.
#[test]
fn a_restored_session_resubscribes_and_starts_over_on_session_present_0() {
    for version in VERSIONS {
        let (snapshot, t) = first_session(version);
        let mut pair = restored_pair(version, round_trip(&snapshot));
        assert!(!pair.open().clean_start);
        let sent = pair.send(ConnAck::default());
        let properties = SubscribeProperties {
            subscription_identifier: sub_id(version),
            ..SubscribeProperties::default()
        };
        assert_eq!(
            sent,
            vec![
                Packet::Subscribe(Subscribe {
                    packet_id: pid(6),
                    filters: vec![SubscribeFilter::new(
                        TopicFilter::new("p/#").unwrap(),
                        QoS::ExactlyOnce
                    )],
                    properties: properties.clone(),
                }),
                Packet::Subscribe(Subscribe {
                    packet_id: pid(7),
                    filters: vec![SubscribeFilter::new(
                        TopicFilter::new("q").unwrap(),
                        QoS::AtLeastOnce
                    )],
                    properties,
                }),
                Packet::Publish(publish("m/a", QosPid::AtLeastOnce(pid(2)), false)),
                Packet::Publish(publish("m/c", QosPid::ExactlyOnce(pid(4)), false)),
                Packet::Publish(publish("m/f", QosPid::AtLeastOnce(pid(5)), false)),
                Packet::Publish(publish("m/g", QosPid::AtMostOnce, false)),
            ],
            "{version}"
        );
        let events = pair.events();
        assert!(
            matches!(&events[..], [Event::Connected(c), ..] if !c.session_present),
            "{events:?}"
        );
        assert_eq!(events[1..], [completed(t.b), completed(t.g)]);

        let subs = keys(&pair);
        for (n, (key, code, qos)) in [
            (subs[0].0, ReasonCode::GrantedQoS2, QoS::ExactlyOnce),
            (subs[1].0, ReasonCode::GrantedQoS1, QoS::AtLeastOnce),
        ]
        .into_iter()
        .enumerate()
        {
            pair.send(SubAck {
                packet_id: pid(6 + n as u16),
                reason_codes: vec![code],
                properties: AckProperties::default(),
            });
            let events = pair.events();
            match &events[..] {
                [Event::Subscribed {
                    keys,
                    results,
                    resubscribe: true,
                    ..
                }] => {
                    assert_eq!(keys, &vec![key]);
                    assert_eq!(results, &vec![Ok(qos)]);
                }
                other => panic!("{other:?}"),
            }
        }

        // The inbound id 9 is free again: a PUBLISH with it is a new message.
        let inbound = publish("p/in", QosPid::ExactlyOnce(pid(9)), false);
        assert_eq!(pair.send(inbound.clone()), vec![Packet::PubRec(ack(9))]);
        assert_eq!(
            pair.events(),
            vec![Event::Message(Message {
                publish: inbound,
                ack_token: None
            })]
        );
    }
}

// Packet Identifiers in use are never handed out again, wherever the snapshot's cursor
// stands (v5 [MQTT-2.2.1-3] .. v3.1.1 [MQTT-2.3.1-2]: a new packet takes an unused id).
#[test]
fn a_restored_session_never_hands_out_an_id_in_use() {
    for version in VERSIONS {
        let (mut snapshot, t) = first_session(version);
        snapshot.next_packet_id = 2; // ids 2 to 5 are in use
        let mut pair = restored_pair(version, round_trip(&snapshot));
        pair.open();
        pair.send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        });
        pair.events();
        let (h, _) = pair.command(|s, now| s.publish(now, msg("m/h", QoS::AtLeastOnce)));
        let h = h.unwrap();
        assert_eq!((h.id.get(), h.packet_id), (t.g.id.get() + 1, Some(pid(6))));
        let filters = vec![SubscribeFilter::new(
            TopicFilter::new("z").unwrap(),
            QoS::AtMostOnce,
        )];
        let (r, sent) = pair.command(|s, now| s.subscribe(now, filters, Default::default()));
        r.unwrap();
        assert!(
            matches!(&sent[..], [Packet::Subscribe(s)] if s.packet_id == pid(7)),
            "{sent:?}"
        );
    }
}

// "A PublishId is never reused at all" (crate documentation), also when the snapshot's
// counter lags behind the ids of the publishes it holds (a snapshot edited or assembled by
// the application): a new publish never gets the PublishId of a restored one.
#[test]
fn a_restored_session_never_reuses_a_publish_id() {
    for version in VERSIONS {
        let (mut snapshot, t) = first_session(version);
        snapshot.last_publish_id = 1;
        let mut pair = restored_pair(version, snapshot);
        let restored = [t.a.id, t.b.id, t.c.id, t.f.id, t.g.id];
        for _ in 0..5 {
            let (h, _) = pair.command(|s, now| s.publish(now, msg("m/h", QoS::AtMostOnce)));
            let h = h.unwrap();
            assert!(!restored.contains(&h.id), "{:?} reused ({version})", h.id);
        }
    }
}

/// Restores `snapshot` and runs it through a resumed and a lost session; must not panic.
fn exercise(version: ProtocolVersion, snapshot: Snapshot) {
    let Ok(session) =
        TestSession::restore_with_tables(config(version), snapshot, Default::default())
    else {
        return;
    };
    let mut pair = Pair::new(config(version));
    pair.session = session;
    pair.open();
    pair.send(ConnAck {
        session_present: true,
        ..ConnAck::default()
    });
    for n in 1..=10 {
        pair.send_ack(PacketType::PubAck, ack(n));
        pair.send_ack(PacketType::PubRec, ack(n));
        pair.send_ack(PacketType::PubComp, ack(n));
    }
    pair.drop_connection();
    pair.open();
    pair.send(ConnAck::default());
    let _ = pair.command(|s, now| s.publish(now, msg("x", QoS::ExactlyOnce)));
    pair.events();
}

// Bytes that are not a snapshot are an error (SnapshotError), never a panic: a wrong header,
// every truncation, huge counts, and single-byte corruptions anywhere (which either fail to
// decode or decode to a snapshot a session can be restored from and run with).
#[test]
fn corrupt_snapshot_bytes_are_an_error_never_a_panic() {
    for version in VERSIONS {
        let (snapshot, _) = first_session(version);
        let mut buf = BytesMut::new();
        snapshot.encode(&mut buf);
        let good = buf.to_vec();

        assert_eq!(
            Snapshot::decode(Bytes::new()),
            Err(SnapshotError::BadHeader)
        );
        let mut bad = good.clone();
        bad[3] = b'9';
        assert_eq!(
            Snapshot::decode(Bytes::from(bad)),
            Err(SnapshotError::BadHeader)
        );
        let mut bad = good.clone();
        bad[4] = 3; // protocol level
        assert_eq!(
            Snapshot::decode(Bytes::from(bad)),
            Err(SnapshotError::BadHeader)
        );

        for len in 0..good.len() {
            let r = Snapshot::decode(Bytes::copy_from_slice(&good[..len]));
            assert!(r.is_err(), "a prefix of {len} bytes decoded: {r:?}");
        }

        // Huge counts are refused without reserving memory for them. The outgoing count sits
        // after magic (4), level (1), client id (2 + 7), next id (2) and last id (8).
        let at = 4 + 1 + 2 + "persist".len() + 2 + 8;
        let mut bad = good.clone();
        bad[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Snapshot::decode(Bytes::from(bad)),
            Err(SnapshotError::Corrupt(_) | SnapshotError::Packet(_))
        ));

        for index in 0..good.len() {
            for byte in [0x00, 0xFF, good[index] ^ 0x01, good[index] ^ 0x80] {
                let mut bad = good.clone();
                bad[index] = byte;
                if let Ok(decoded) = Snapshot::decode(Bytes::from(bad)) {
                    exercise(version, decoded);
                }
            }
        }
    }
}

// v5 3.8.2.1.2: the Subscription Identifier is how a PUBLISH names the subscriptions it
// belongs to ([MQTT-3.3.4-3]); a new subscription made after a restore must not get the
// identifier of a restored one, or messages of one are routed to the other too.
#[test]
fn a_restored_session_never_reuses_a_subscription_identifier() {
    let version = ProtocolVersion::V5;
    let mut pair = Pair::new(config(version));
    pair.open();
    pair.send(ConnAck::default());
    let subscribe = |pair: &mut Pair, f: &'static str| {
        let filters = vec![SubscribeFilter::new(
            TopicFilter::new(f).unwrap(),
            QoS::AtMostOnce,
        )];
        let (r, sent) = pair.command(|s, now| s.subscribe(now, filters, Default::default()));
        r.unwrap();
        let [Packet::Subscribe(s)] = &sent[..] else {
            panic!("{sent:?}")
        };
        pair.send(SubAck {
            packet_id: s.packet_id,
            reason_codes: vec![ReasonCode::Success],
            properties: AckProperties::default(),
        });
        s.properties.subscription_identifier.unwrap()
    };
    subscribe(&mut pair, "a");
    let kept = subscribe(&mut pair, "x/#");
    let (r, _) = pair.command(|s, now| {
        s.unsubscribe(
            now,
            vec![TopicFilter::new("a").unwrap()],
            Default::default(),
        )
    });
    r.unwrap();
    pair.send(UnsubAck {
        packet_id: pid(3),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties::default(),
    });
    pair.events();
    let snapshot = pair.session.snapshot();
    assert_eq!(snapshot.subscriptions.len(), 1);
    assert_eq!(snapshot.subscriptions[0].identifier, Some(kept));

    let mut pair = restored_pair(version, round_trip(&snapshot));
    pair.open();
    pair.send(ConnAck {
        session_present: true,
        ..ConnAck::default()
    });
    pair.events();
    let restored = keys(&pair)[0].0;
    let new_id = subscribe(&mut pair, "x/+");
    assert_ne!(
        new_id, kept,
        "the new subscription took a restored identifier"
    );
    let new_key = keys(&pair)[1].0;
    // One copy per subscription, each with its own identifier (v5 [MQTT-3.3.4-5]).
    let mut copy = publish("x/y", QosPid::AtMostOnce, false);
    copy.properties
        .set_subscription_identifiers([kept].into_iter().collect())
        .unwrap();
    assert_eq!(
        pair.session.route(&copy).collect::<Vec<_>>(),
        vec![restored]
    );
    copy.properties
        .set_subscription_identifiers([new_id].into_iter().collect())
        .unwrap();
    assert_eq!(pair.session.route(&copy).collect::<Vec<_>>(), vec![new_key]);
}

// Manual-ack mode: an inbound QoS 2 message the application received but had not
// acknowledged when the process stopped was never answered with PUBREC; the server sends it
// again, and the restored session delivers it again for the application to process and
// acknowledge, instead of answering PUBREC for a message the application never handled
// (v5 [MQTT-4.3.3-8]: PUBREC after taking ownership; [MQTT-4.6.0-3]).
#[test]
fn a_restored_session_delivers_again_a_qos2_message_the_application_had_not_acknowledged() {
    for version in VERSIONS {
        let mut c = config(version);
        c.manual_acks = true;
        let mut pair = Pair::new(c.clone());
        pair.open();
        pair.send(ConnAck::default());
        pair.events();
        let inbound = publish("p/in", QosPid::ExactlyOnce(pid(9)), false);
        assert_eq!(pair.send(inbound.clone()), vec![]);
        let events = pair.events();
        assert!(
            matches!(
                &events[..],
                [Event::Message(Message {
                    ack_token: Some(_),
                    ..
                })]
            ),
            "{events:?}"
        );
        let snapshot = pair.session.snapshot();

        // The process restarts before the application acknowledged it.
        let mut pair = Pair::new(c.clone());
        pair.session =
            TestSession::restore_with_tables(c, round_trip(&snapshot), pair.now).unwrap();
        pair.open();
        pair.send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        });
        pair.events();
        let mut again = inbound.clone();
        again.dup = true;
        assert_eq!(
            pair.send(again.clone()),
            vec![],
            "{version}: PUBREC before the application acknowledged"
        );
        let events = pair.events();
        let token = match &events[..] {
            [Event::Message(Message {
                publish,
                ack_token: Some(token),
            })] if *publish == again => *token,
            other => panic!("{version}: expected the message again, got {other:?}"),
        };
        let (r, sent) = pair.command(|s, now| s.ack(now, token));
        r.unwrap();
        assert_eq!(sent, vec![Packet::PubRec(ack(9))]);
    }
}

/// The client identifier names the session state [MQTT-3.1.3-2]: a snapshot keeps the one
/// the state belongs to (the server's assigned one, on v5), and a session restored from it
/// connects with that identifier, whatever the new configuration says, so that the server
/// finds the same session and the state resent under it is the state it holds.
#[test]
fn a_restored_session_connects_with_the_client_id_its_state_belongs_to() {
    for version in VERSIONS {
        let (snapshot, _) = first_session(version);
        let mut other = config(version);
        other.client_id = MqttString::try_from("someone-else").unwrap();
        let mut pair = Pair::new(other.clone());
        pair.session =
            TestSession::restore_with_tables(other, round_trip(&snapshot), pair.now).unwrap();
        let connect = pair.open();
        assert_eq!(connect.client_id.as_str(), "persist", "{version}");
        assert!(!connect.clean_start);
    }

    // v5: an identifier the server assigned is the session's name from then on.
    let mut first = config(ProtocolVersion::V5);
    first.client_id = MqttString::try_from("").unwrap();
    let mut pair = Pair::new(first.clone());
    assert_eq!(pair.open().client_id.as_str(), "");
    pair.send(ConnAck {
        properties: ConnAckProperties {
            assigned_client_identifier: Some(MqttString::try_from("auto-3").unwrap()),
            ..ConnAckProperties::default()
        },
        ..ConnAck::default()
    });
    pair.events();
    let snapshot = pair.session.snapshot();
    assert_eq!(snapshot.client_id.as_str(), "auto-3");
    let mut pair = Pair::new(first.clone());
    pair.session =
        TestSession::restore_with_tables(first, round_trip(&snapshot), pair.now).unwrap();
    let connect = pair.open();
    assert_eq!(connect.client_id.as_str(), "auto-3");
    assert!(!connect.clean_start);
}

/// Writes the session's journal both ways (`write_session`, from the session's notes of what
/// changed, and `write` of its snapshot) into two stores; both must write the same bytes and
/// read back as the snapshot. Returns what they did.
struct Journals {
    by_session: (Journal, Vec<u8>),
    by_snapshot: (Journal, Vec<u8>),
}

impl Journals {
    fn write(&mut self, pair: &mut Pair) -> &'static str {
        let snapshot = pair.session.snapshot();
        let (journal, store) = &mut self.by_snapshot;
        let expected = keep(journal.write(snapshot.clone()), store);
        journal.written();
        let (journal, store) = &mut self.by_session;
        let written = keep(journal.write_session(&mut pair.session), store);
        journal.written();
        assert_eq!(written, expected);
        assert_eq!(Journal::read(store.clone().into()).unwrap(), snapshot);
        written.map_or("unchanged", |(_, kind)| kind)
    }
}

/// Does to `store` what `write` says; returns its bytes and what it did.
fn keep(write: JournalWrite<'_>, store: &mut Vec<u8>) -> Option<(Vec<u8>, &'static str)> {
    match write {
        JournalWrite::Replace(bytes) => {
            *store = bytes.to_vec();
            Some((bytes.to_vec(), "replace"))
        }
        JournalWrite::Append(bytes) => {
            store.extend_from_slice(bytes);
            Some((bytes.to_vec(), "append"))
        }
        JournalWrite::Unchanged => None,
    }
}

// `Journal::write_session` finds each turn's changes from the session's notes, and writes
// what comparing whole snapshots writes: publishes taken while offline, their Message Expiry
// Interval brought down as they are sent, one that expired while queued, acknowledgements;
// after more changes in one turn than the notes keep, and after a restore from a snapshot
// whose publishes are out of order (both compared whole), the same again.
#[test]
fn the_journal_written_from_the_session_notes_agrees_with_snapshots() {
    let mut config = config(ProtocolVersion::V5);
    config.max_queued = 10_000;
    let mut pair = Pair::new(config.clone());
    let mut journals = Journals {
        by_session: (Journal::new(), Vec::new()),
        by_snapshot: (Journal::new(), Vec::new()),
    };
    assert_eq!(journals.write(&mut pair), "replace");
    let publish_now = |pair: &mut Pair, m| pair.command(|s, now| s.publish(now, m)).0.unwrap();
    let expiring = |secs| {
        let mut m = msg("m/e", QoS::AtLeastOnce);
        m.properties.message_expiry_interval = Some(secs);
        m
    };
    publish_now(&mut pair, expiring(10));
    publish_now(&mut pair, expiring(100));
    publish_now(&mut pair, msg("m/0", QoS::AtMostOnce));
    publish_now(&mut pair, expiring(2));
    assert_eq!(journals.write(&mut pair), "append");
    assert_eq!(journals.write(&mut pair), "unchanged");

    pair.now = VirtualInstant(pair.now.0 + Duration::from_secs(5));
    pair.session.handle_timeout(pair.now);
    pair.events();
    assert_eq!(pair.session.pending_publishes(), 3, "the 2 s one expired");
    assert_eq!(journals.write(&mut pair), "append");

    pair.open();
    let sent = pair.send(ConnAck::default());
    let expiry: Vec<_> = sent
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.properties.message_expiry_interval),
            _ => None,
        })
        .collect();
    assert_eq!(expiry, [Some(5), Some(95), None]);
    assert_eq!(journals.write(&mut pair), "append");
    let _ = pair.send_ack(PacketType::PubAck, ack(1));
    assert_eq!(journals.write(&mut pair), "append");
    assert_eq!(journals.write(&mut pair), "unchanged");

    // Thousands of QoS 0 publishes taken and sent between two writes, more changes than the
    // notes keep, then a QoS 1 one that the notes no longer hold.
    for _ in 0..3000 {
        publish_now(&mut pair, msg("m/0", QoS::AtMostOnce));
    }
    let last = publish_now(&mut pair, msg("m/1", QoS::AtLeastOnce));
    assert_eq!(journals.write(&mut pair), "append");
    let _ = pair.send_ack(PacketType::PubAck, ack(2));
    let _ = pair.send_ack(
        PacketType::PubAck,
        PubResponse::new(last.packet_id.unwrap()),
    );
    assert_eq!(journals.write(&mut pair), "append");
    assert_eq!(pair.session.pending_publishes(), 0);

    // Out of order: restored, the session notes its changes but cannot find them by id.
    let mut snapshot = first_session(ProtocolVersion::V5).0;
    snapshot.outgoing.swap(0, 1);
    let mut pair = restored_pair(ProtocolVersion::V5, snapshot);
    let mut journals = Journals {
        by_session: (Journal::new(), Vec::new()),
        by_snapshot: (Journal::new(), Vec::new()),
    };
    assert_eq!(journals.write(&mut pair), "replace");
    pair.open();
    pair.send(ConnAck {
        session_present: true,
        ..ConnAck::default()
    });
    assert_eq!(journals.write(&mut pair), "replace");
    for n in 2..=5 {
        let _ = pair.send_ack(PacketType::PubAck, ack(n));
        let _ = pair.send_ack(PacketType::PubComp, ack(n));
        journals.write(&mut pair);
    }
}
