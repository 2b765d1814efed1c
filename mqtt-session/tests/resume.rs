//! Session resumption across reconnects, for both protocol versions: what the client resends
//! when the server kept the session (Session Present 1), and what it starts over when the
//! server lost it (Session Present 0).
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    Config, Connected, DisconnectReason, Event, OutboundMessage, PublishTicket, ServerLimits,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
const CLIENT_ID: &str = "resume";

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// A session whose state outlives a connection: v5 Session Expiry Interval > 0, v3.1.1 Clean
/// Session 0. Reconnect delays are zero so that the events are exact.
fn resumable_config(version: ProtocolVersion) -> Config {
    let mut c = Config::new(version, MqttString::try_from(CLIENT_ID).unwrap());
    match version {
        ProtocolVersion::V5 => c.session_expiry_interval = 3600,
        ProtocolVersion::V311 => c.clean_start = false,
    }
    c.backoff.initial = Duration::ZERO;
    c
}

fn limits(version: ProtocolVersion) -> ServerLimits {
    ServerLimits {
        receive_maximum: u16::MAX,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: None,
        topic_alias_maximum: 0,
        wildcard_subscription_available: true,
        subscription_identifier_available: version == ProtocolVersion::V5,
        shared_subscription_available: true,
        keep_alive: Duration::from_secs(60),
        session_expiry_interval: None,
    }
}

fn connected(version: ProtocolVersion, session_present: bool) -> Event {
    Event::Connected(Box::new(Connected {
        session_present,
        limits: limits(version),
        client_id: MqttString::try_from(CLIENT_ID).unwrap(),
        properties: ConnAckProperties::default(),
    }))
}

fn dropped(attempt: u32) -> Vec<Event> {
    vec![
        Event::Disconnected(DisconnectReason::TransportClosed),
        Event::ReconnectScheduled {
            delay: Duration::ZERO,
            attempt,
        },
    ]
}

fn msg(topic: &'static str, payload: &'static str, qos: QoS) -> OutboundMessage {
    OutboundMessage::new(TopicName::new(topic).unwrap(), payload, qos)
}

fn publish(topic: &'static str, payload: &'static str, qos_pid: QosPid, dup: bool) -> Publish {
    let mut p = Publish::new(
        TopicName::new(topic).unwrap(),
        Bytes::from_static(payload.as_bytes()),
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

fn sub_properties(version: ProtocolVersion, id: u32) -> SubscribeProperties {
    SubscribeProperties {
        subscription_identifier: match version {
            ProtocolVersion::V5 => SubscriptionIdentifier::new(id),
            ProtocolVersion::V311 => None,
        },
        ..SubscribeProperties::default()
    }
}

fn connack(session_present: bool) -> ConnAck {
    ConnAck {
        session_present,
        ..ConnAck::default()
    }
}

// [MQTT-4.4.0-1] (v3.1.1 and v5): on a reconnect that resumes the session, unacknowledged
// QoS 1/2 PUBLISH packets and PUBREL packets are resent with their original Packet Identifiers;
// [MQTT-3.3.1-1]: a resent PUBLISH has DUP 1; [MQTT-4.6.0-1]: in the order originally sent.
#[test]
fn session_present_1_resends_publish_with_dup_and_pubrel_in_the_original_order() {
    for version in VERSIONS {
        let mut pair = Pair::new(resumable_config(version));
        let connect = pair.open();
        // The first connection: v5 asks for a clean start (config), v3.1.1 Clean Session 0.
        assert_eq!(connect.clean_start, version == ProtocolVersion::V5);
        assert_eq!(pair.send(connack(false)), vec![]);
        assert_eq!(pair.events(), vec![connected(version, false)]);

        let (a, sent) = pair.command(|s, now| s.publish(now, msg("r/a", "A", QoS::AtLeastOnce)));
        let a = a.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Publish(publish(
                "r/a",
                "A",
                QosPid::AtLeastOnce(pid(1)),
                false
            ))]
        );
        let (b, sent) = pair.command(|s, now| s.publish(now, msg("r/b", "B", QoS::ExactlyOnce)));
        let b = b.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Publish(publish(
                "r/b",
                "B",
                QosPid::ExactlyOnce(pid(2)),
                false
            ))]
        );
        let (c, sent) = pair.command(|s, now| s.publish(now, msg("r/c", "C", QoS::ExactlyOnce)));
        let c = c.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Publish(publish(
                "r/c",
                "C",
                QosPid::ExactlyOnce(pid(3)),
                false
            ))]
        );
        let (d, sent) = pair.command(|s, now| s.publish(now, msg("r/d", "D", QoS::AtLeastOnce)));
        let d = d.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Publish(publish(
                "r/d",
                "D",
                QosPid::AtLeastOnce(pid(4)),
                false
            ))]
        );
        // B is received by the server: PUBREL, and B waits for PUBCOMP.
        assert_eq!(
            pair.send_ack(PacketType::PubRec, ack(2)),
            vec![Packet::PubRel(ack(2))]
        );
        // An inbound QoS 2 message, PUBREC sent, PUBREL not yet received.
        let inbound = publish("in/x", "X", QosPid::ExactlyOnce(pid(7)), false);
        assert_eq!(pair.send(inbound.clone()), vec![Packet::PubRec(ack(7))]);
        assert_eq!(
            pair.events(),
            vec![Event::Message(mqtt_session::Message {
                publish: inbound.clone(),
                ack_token: None
            })]
        );

        pair.drop_connection();
        assert_eq!(pair.events(), dropped(1));

        let connect = pair.open();
        // The session outlives the connection: the second CONNECT asks to resume it.
        assert!(!connect.clean_start, "{version}");
        let sent = pair.send(connack(true));
        assert_eq!(
            sent,
            vec![
                Packet::Publish(publish("r/a", "A", QosPid::AtLeastOnce(pid(1)), true)),
                Packet::PubRel(ack(2)),
                Packet::Publish(publish("r/c", "C", QosPid::ExactlyOnce(pid(3)), true)),
                Packet::Publish(publish("r/d", "D", QosPid::AtLeastOnce(pid(4)), true)),
            ],
            "{version}"
        );
        assert_eq!(pair.events(), vec![connected(version, true)]);

        // The inbound QoS 2 state was kept: a resent PUBLISH is answered, not delivered again
        // (v5 [MQTT-4.3.3-10], v3.1.1 [MQTT-4.3.3-2]).
        let mut again = inbound.clone();
        again.dup = true;
        assert_eq!(pair.send(again), vec![Packet::PubRec(ack(7))]);
        assert_eq!(pair.events(), vec![]);
        assert_eq!(
            pair.send_ack(PacketType::PubRel, ack(7)),
            vec![Packet::PubComp(ack(7))]
        );

        // Every flow finishes with its original Packet Identifier.
        assert_eq!(pair.send_ack(PacketType::PubAck, ack(1)), vec![]);
        assert_eq!(pair.events(), vec![completed(a)]);
        assert_eq!(pair.send_ack(PacketType::PubComp, ack(2)), vec![]);
        assert_eq!(pair.events(), vec![completed(b)]);
        assert_eq!(
            pair.send_ack(PacketType::PubRec, ack(3)),
            vec![Packet::PubRel(ack(3))]
        );
        assert_eq!(pair.send_ack(PacketType::PubComp, ack(3)), vec![]);
        assert_eq!(pair.events(), vec![completed(c)]);
        assert_eq!(pair.send_ack(PacketType::PubAck, ack(4)), vec![]);
        assert_eq!(pair.events(), vec![completed(d)]);
        assert_eq!(pair.session.pending_publishes(), 0);
        assert_eq!(pair.session.inflight(), 0);
    }
}

/// The Clean Start flag of the second CONNECT after a connection with `config`, whose CONNACK
/// is `first_connack`.
fn second_clean_start(config: Config, first_connack: ConnAck) -> bool {
    let mut pair = Pair::new(config);
    pair.open();
    pair.send(first_connack);
    pair.drop_connection();
    pair.open().clean_start
}

// v5 [MQTT-3.1.2-23]: the session state is kept after the connection closes when the Session
// Expiry Interval is above 0, so the next CONNECT asks to resume it (Clean Start 0); the
// interval in force is the server's when its CONNACK carries one (3.2.2.3.2). v3.1.1
// [MQTT-3.1.2-4] / [MQTT-3.1.2-6]: Clean Session 0 keeps the session, 1 discards it.
#[test]
fn the_second_connect_resumes_only_a_session_that_outlives_the_connection() {
    let v5 = |expiry: u32| {
        let mut c = resumable_config(ProtocolVersion::V5);
        c.session_expiry_interval = expiry;
        c
    };
    let connack_expiry = |expiry: u32| ConnAck {
        properties: ConnAckProperties {
            session_expiry_interval: Some(expiry),
            ..ConnAckProperties::default()
        },
        ..ConnAck::default()
    };
    assert!(!second_clean_start(v5(3600), ConnAck::default()));
    assert!(second_clean_start(v5(0), ConnAck::default()));
    // The server overrides the interval: 0 means the session ends with the connection.
    assert!(second_clean_start(v5(3600), connack_expiry(0)));
    assert!(!second_clean_start(v5(0), connack_expiry(600)));

    let v311 = |clean: bool| {
        let mut c = resumable_config(ProtocolVersion::V311);
        c.clean_start = clean;
        c
    };
    assert!(!second_clean_start(v311(false), ConnAck::default()));
    assert!(second_clean_start(v311(true), ConnAck::default()));
}

/// A connected session with two granted subscriptions (one request), an inbound QoS 2
/// message awaiting PUBREL (id 7), and three publishes in flight: A (QoS 1, id 2), B (QoS 2, id
/// 3, PUBREC received) and C (QoS 2, id 4). Returns the pair, the request's id and keys, the
/// inbound message and the tickets.
#[allow(clippy::type_complexity)]
fn session_with_state(
    version: ProtocolVersion,
) -> (
    Pair,
    mqtt_session::RequestId,
    Vec<mqtt_session::SubscriptionKey>,
    Publish,
    [PublishTicket; 3],
) {
    let mut pair = Pair::new(resumable_config(version));
    pair.open();
    assert_eq!(pair.send(connack(false)), vec![]);
    assert_eq!(pair.events(), vec![connected(version, false)]);

    let filters = vec![
        SubscribeFilter::new(TopicFilter::new("s/#").unwrap(), QoS::ExactlyOnce),
        SubscribeFilter::new(TopicFilter::new("t").unwrap(), QoS::AtLeastOnce),
    ];
    let (result, sent) =
        pair.command(|s, now| s.subscribe(now, filters.clone(), Default::default()));
    let (request, keys) = result.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Subscribe(Subscribe {
            packet_id: pid(1),
            filters: filters.clone(),
            properties: sub_properties(version, 2),
        })]
    );
    let suback = SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1],
        properties: AckProperties::default(),
    };
    assert_eq!(pair.send(suback), vec![]);
    assert_eq!(
        pair.events(),
        vec![Event::Subscribed {
            id: request,
            keys: keys.clone(),
            results: vec![Ok(QoS::ExactlyOnce), Ok(QoS::AtLeastOnce)],
            resubscribe: false,
        }]
    );

    let inbound = publish("s/x", "X", QosPid::ExactlyOnce(pid(7)), false);
    assert_eq!(pair.send(inbound.clone()), vec![Packet::PubRec(ack(7))]);
    assert_eq!(
        pair.events(),
        vec![Event::Message(mqtt_session::Message {
            publish: inbound.clone(),
            ack_token: None
        })]
    );

    let (a, sent) = pair.command(|s, now| s.publish(now, msg("p/a", "A", QoS::AtLeastOnce)));
    assert_eq!(
        sent,
        vec![Packet::Publish(publish(
            "p/a",
            "A",
            QosPid::AtLeastOnce(pid(2)),
            false
        ))]
    );
    let (b, sent) = pair.command(|s, now| s.publish(now, msg("p/b", "B", QoS::ExactlyOnce)));
    assert_eq!(
        sent,
        vec![Packet::Publish(publish(
            "p/b",
            "B",
            QosPid::ExactlyOnce(pid(3)),
            false
        ))]
    );
    let (c, sent) = pair.command(|s, now| s.publish(now, msg("p/c", "C", QoS::ExactlyOnce)));
    assert_eq!(
        sent,
        vec![Packet::Publish(publish(
            "p/c",
            "C",
            QosPid::ExactlyOnce(pid(4)),
            false
        ))]
    );
    assert_eq!(
        pair.send_ack(PacketType::PubRec, ack(3)),
        vec![Packet::PubRel(ack(3))]
    );
    assert_eq!(pair.events(), vec![]);
    (
        pair,
        request,
        keys,
        inbound,
        [a.unwrap(), b.unwrap(), c.unwrap()],
    )
}

// v5 [MQTT-3.2.2-5]: a client with session state that gets Session Present 0 discards its
// state; v3.1.1 [MQTT-3.2.2-3]: Session Present 0 means the server has no session. The
// inbound QoS 2 id is forgotten (the same id is a new message), unacknowledged publishes start
// over as new ones (DUP 0, [MQTT-3.3.1-1] only allows DUP on a re-delivery), a QoS 2 publish
// the server had already received (PUBREC) is complete and not sent again, and the granted
// subscriptions are made again.
#[test]
fn session_present_0_discards_inbound_state_restarts_publishes_and_resubscribes() {
    for version in VERSIONS {
        let (mut pair, request, keys, inbound, [a, b, c]) = session_with_state(version);
        pair.drop_connection();
        assert_eq!(pair.events(), dropped(1));

        assert!(!pair.open().clean_start);
        let sent = pair.send(connack(false));
        assert_eq!(
            sent,
            vec![
                Packet::Subscribe(Subscribe {
                    packet_id: pid(5),
                    filters: vec![
                        SubscribeFilter::new(TopicFilter::new("s/#").unwrap(), QoS::ExactlyOnce),
                        SubscribeFilter::new(TopicFilter::new("t").unwrap(), QoS::AtLeastOnce),
                    ],
                    // v5: the subscriptions keep their Subscription Identifier.
                    properties: sub_properties(version, 2),
                }),
                Packet::Publish(publish("p/a", "A", QosPid::AtLeastOnce(pid(2)), false)),
                Packet::Publish(publish("p/c", "C", QosPid::ExactlyOnce(pid(4)), false)),
            ],
            "{version}"
        );
        assert_eq!(
            pair.events(),
            vec![connected(version, false), completed(b)],
            "{version}"
        );

        // The same Packet Identifier from the server is a new message: delivered again.
        assert_eq!(pair.send(inbound.clone()), vec![Packet::PubRec(ack(7))]);
        assert_eq!(
            pair.events(),
            vec![Event::Message(mqtt_session::Message {
                publish: inbound.clone(),
                ack_token: None
            })]
        );

        let suback = SubAck {
            packet_id: pid(5),
            reason_codes: vec![ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1],
            properties: AckProperties::default(),
        };
        assert_eq!(pair.send(suback), vec![]);
        assert_eq!(
            pair.events(),
            vec![Event::Subscribed {
                id: request,
                keys: keys.clone(),
                results: vec![Ok(QoS::ExactlyOnce), Ok(QoS::AtLeastOnce)],
                resubscribe: true,
            }]
        );
        assert_eq!(
            pair.session.route(&inbound).collect::<Vec<_>>(),
            vec![keys[0]]
        );

        // The restarted publishes complete normally.
        assert_eq!(pair.send_ack(PacketType::PubAck, ack(2)), vec![]);
        assert_eq!(
            pair.send_ack(PacketType::PubRec, ack(4)),
            vec![Packet::PubRel(ack(4))]
        );
        assert_eq!(pair.send_ack(PacketType::PubComp, ack(4)), vec![]);
        assert_eq!(pair.events(), vec![completed(a), completed(c)]);
        assert_eq!(pair.session.pending_publishes(), 0);
    }
}

// A resubscription the server refuses in part is reported per filter (v3.1.1 0x80 Failure,
// [MQTT-3.9.3-1] one code per filter in order), and the refused subscription is gone.
#[test]
fn a_failed_resubscribe_is_reported_per_filter() {
    for version in VERSIONS {
        let (mut pair, request, keys, _, _) = session_with_state(version);
        pair.drop_connection();
        assert_eq!(pair.events(), dropped(1));
        pair.open();
        let sent = pair.send(connack(false));
        assert!(
            matches!(&sent[..], [Packet::Subscribe(s), ..] if s.packet_id == pid(5)),
            "{sent:?}"
        );
        pair.events();

        let suback = SubAck {
            packet_id: pid(5),
            reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
            properties: AckProperties::default(),
        };
        assert_eq!(pair.send(suback), vec![]);
        assert_eq!(
            pair.events(),
            vec![Event::Subscribed {
                id: request,
                keys: keys.clone(),
                results: vec![Ok(QoS::AtLeastOnce), Err(ReasonCode::UnspecifiedError)],
                resubscribe: true,
            }]
        );
        let granted: Vec<_> = pair
            .session
            .subscriptions()
            .map(|(k, f)| (k, f.filter.as_str().to_owned()))
            .collect();
        assert_eq!(granted, vec![(keys[0], "s/#".to_owned())]);
        let on_t = publish("t", "T", QosPid::AtMostOnce, false);
        assert_eq!(pair.session.route(&on_t).count(), 0);
    }
}

// v3.1.1 [MQTT-4.1.0-2] (and v5 with a Session Expiry Interval of 0): a session that ends
// with its connection still lasts as long as the connection does. Over many keep-alive
// periods, an inbound QoS 2 message keeps its place (a resend is answered, not delivered
// again) and an outbound one completes.
#[test]
fn a_session_that_ends_with_its_connection_keeps_its_state_while_it_lasts() {
    for version in VERSIONS {
        let mut config = resumable_config(version);
        config.clean_start = true;
        config.session_expiry_interval = 0;
        let mut pair = Pair::new(config);
        assert!(pair.open().clean_start);
        assert_eq!(pair.send(connack(false)), vec![]);
        pair.events();

        let inbound = publish("c/in", "I", QosPid::ExactlyOnce(pid(7)), false);
        assert_eq!(pair.send(inbound.clone()), vec![Packet::PubRec(ack(7))]);
        let (ticket, sent) =
            pair.command(|s, now| s.publish(now, msg("c/out", "O", QoS::ExactlyOnce)));
        let ticket = ticket.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Publish(publish(
                "c/out",
                "O",
                QosPid::ExactlyOnce(pid(1)),
                false
            ))]
        );
        assert_eq!(
            pair.send_ack(PacketType::PubRec, ack(1)),
            vec![Packet::PubRel(ack(1))]
        );
        pair.events();

        for _ in 0..5 {
            let (_, sent) = pair.advance_to_next_timeout().unwrap();
            assert_eq!(sent, vec![Packet::PingReq], "{version}");
            assert_eq!(pair.send(Packet::PingResp), vec![]);
        }
        assert!(pair.session.is_connected());

        let mut resend = inbound;
        resend.dup = true;
        assert_eq!(pair.send(resend), vec![Packet::PubRec(ack(7))]);
        assert_eq!(pair.send_ack(PacketType::PubComp, ack(1)), vec![]);
        assert_eq!(pair.events(), vec![completed(ticket)], "{version}");
        assert_eq!(
            pair.send(Packet::PubRel(ack(7))),
            vec![Packet::PubComp(ack(7))]
        );
    }
}
