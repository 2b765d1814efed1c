//! Subscriptions: SUBSCRIBE as written (options, Subscription Identifier), SUBACK results per
//! filter, routing of inbound messages to subscriptions, and UNSUBSCRIBE.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::BytesMut;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::{Pair, TestSession, VirtualInstant};
use mqtt_session::{
    Config, DisconnectReason, Event, ProtocolViolation, RequestId, SubscriptionKey,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    let mut c = Config::new(version, MqttString::try_from("subs").unwrap());
    c.backoff.initial = Duration::ZERO;
    c
}

fn connected_pair(version: ProtocolVersion, connack: ConnAck) -> Pair {
    let mut pair = Pair::new(config(version));
    pair.open();
    assert_eq!(pair.send(connack), vec![]);
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
    pair
}

fn filter(f: &'static str, qos: QoS) -> SubscribeFilter {
    SubscribeFilter::new(TopicFilter::new(f).unwrap(), qos)
}

/// SUBSCRIBE properties as the server decodes them: the identifier only in v5.
fn sub_id(version: ProtocolVersion, id: Option<u32>) -> SubscribeProperties {
    SubscribeProperties {
        subscription_identifier: match version {
            ProtocolVersion::V5 => id.and_then(SubscriptionIdentifier::new),
            ProtocolVersion::V311 => None,
        },
        ..SubscribeProperties::default()
    }
}

fn subscribe(
    pair: &mut Pair,
    filters: Vec<SubscribeFilter>,
    properties: SubscribeProperties,
) -> (RequestId, Vec<SubscriptionKey>, Vec<Packet>) {
    let (r, sent) = pair.command(|s, now| s.subscribe(now, filters, properties));
    let (id, keys) = r.unwrap();
    (id, keys, sent)
}

fn suback(n: u16, codes: Vec<ReasonCode>) -> SubAck {
    SubAck {
        packet_id: pid(n),
        reason_codes: codes,
        properties: AckProperties::default(),
    }
}

/// Subscribes to `filters` (one request) and has the server grant them all at their QoS.
fn granted(pair: &mut Pair, filters: Vec<SubscribeFilter>) -> Vec<SubscriptionKey> {
    let codes = filters
        .iter()
        .map(|f| match f.options.qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
            QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
        })
        .collect();
    let (_, keys, sent) = subscribe(pair, filters, SubscribeProperties::default());
    let [Packet::Subscribe(s)] = &sent[..] else {
        panic!("{sent:?}")
    };
    pair.send(suback(s.packet_id.get(), codes));
    assert!(matches!(&pair.events()[..], [Event::Subscribed { .. }]));
    keys
}

fn inbound(t: &'static str, ids: &[u32]) -> Publish {
    let mut p = Publish::new(TopicName::new(t).unwrap(), "m", QosPid::AtMostOnce);
    p.properties
        .set_subscription_identifiers(
            ids.iter()
                .map(|&i| SubscriptionIdentifier::new(i).unwrap())
                .collect(),
        )
        .unwrap();
    p
}

fn route(pair: &Pair, publish: &Publish) -> Vec<SubscriptionKey> {
    pair.session.route(publish).collect()
}

fn granted_filters(pair: &Pair) -> Vec<(SubscriptionKey, String)> {
    pair.session
        .subscriptions()
        .map(|(k, f)| (k, f.filter.as_str().to_owned()))
        .collect()
}

// One result per filter, in the order of the filters (v5 [MQTT-3.8.4-6], [MQTT-3.9.3-1];
// v3.1.1 [MQTT-3.8.4-5], [MQTT-3.9.3-1]): the granted QoS (which may be lower than asked,
// v5 [MQTT-3.8.4-7]), or the failure: v3.1.1 0x80 Failure, v5 any code of 0x80 or more. A
// refused filter makes no subscription.
#[test]
fn suback_results_are_reported_per_filter() {
    for version in VERSIONS {
        let mut pair = connected_pair(version, ConnAck::default());
        let filters = vec![
            filter("a", QoS::AtMostOnce),
            filter("b", QoS::AtLeastOnce),
            filter("c", QoS::ExactlyOnce),
            filter("d", QoS::ExactlyOnce),
            filter("e", QoS::AtLeastOnce),
            filter("f", QoS::AtLeastOnce),
        ];
        let (id, keys, sent) =
            subscribe(&mut pair, filters.clone(), SubscribeProperties::default());
        assert_eq!(
            sent,
            vec![Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                filters,
                properties: sub_id(version, Some(2)),
            })]
        );
        let refusals = match version {
            ProtocolVersion::V311 => [ReasonCode::UnspecifiedError; 3],
            ProtocolVersion::V5 => [
                ReasonCode::NotAuthorized,
                ReasonCode::TopicFilterInvalid,
                ReasonCode::QuotaExceeded,
            ],
        };
        let mut codes = vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS1,
        ];
        codes.extend(refusals);
        assert_eq!(pair.send(suback(1, codes)), vec![]);
        let mut results = vec![
            Ok(QoS::AtMostOnce),
            Ok(QoS::AtLeastOnce),
            Ok(QoS::AtLeastOnce),
        ];
        results.extend(refusals.map(Err));
        assert_eq!(
            pair.events(),
            vec![Event::Subscribed {
                id,
                keys: keys.clone(),
                results,
                resubscribe: false,
            }],
            "{version}"
        );
        assert_eq!(
            granted_filters(&pair),
            vec![
                (keys[0], "a".to_owned()),
                (keys[1], "b".to_owned()),
                (keys[2], "c".to_owned()),
            ]
        );
        assert_eq!(route(&pair, &inbound("c", &[])), vec![keys[2]]);
        assert_eq!(route(&pair, &inbound("d", &[])), vec![]);
    }
}

// [MQTT-3.9.3-1] / v5 [MQTT-3.8.4-6]: a SUBACK whose number of codes is not the number of
// filters is a protocol error (v5: DISCONNECT 0x82; v3.1.1: the connection is closed).
#[test]
fn a_suback_with_the_wrong_number_of_codes_is_a_protocol_error() {
    for version in VERSIONS {
        let mut pair = connected_pair(version, ConnAck::default());
        subscribe(
            &mut pair,
            vec![filter("a", QoS::AtLeastOnce), filter("b", QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        );
        let expected = match version {
            ProtocolVersion::V5 => vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::ProtocolError,
            ))],
            ProtocolVersion::V311 => vec![],
        };
        assert_eq!(
            pair.send(suback(1, vec![ReasonCode::GrantedQoS1])),
            expected
        );
        assert_eq!(
            pair.events(),
            vec![
                Event::Disconnected(DisconnectReason::ProtocolError(
                    ReasonCode::ProtocolError,
                    ProtocolViolation::ReasonCodeCount {
                        packet: PacketType::SubAck,
                        expected: 2,
                        got: 1,
                    },
                )),
                Event::ReconnectScheduled {
                    delay: Duration::ZERO,
                    attempt: 1
                },
            ]
        );
        assert!(!pair.open);
        assert_eq!(granted_filters(&pair), vec![]);
    }
}

/// Drives a bare session to its first SUBSCRIBE and returns that SUBSCRIBE's bytes.
fn subscribe_bytes(version: ProtocolVersion, f: SubscribeFilter) -> Vec<u8> {
    let now = VirtualInstant::default();
    let mut session = TestSession::with_tables(config(version)).unwrap();
    session.handle_connected(now);
    let mut out = BytesMut::new();
    while session.poll_transmit(now, &mut out) > 0 {}
    let mut connack = BytesMut::new();
    ConnAck::default().encode(version, &mut connack).unwrap();
    session.handle_read(now, &mut connack);
    assert!(session.is_connected());
    session
        .subscribe(now, vec![f], SubscribeProperties::default())
        .unwrap();
    let mut out = BytesMut::new();
    while session.poll_transmit(now, &mut out) > 0 {}
    out.to_vec()
}

// v5 3.8.3.1: the Subscription Options byte carries No Local (bit 2), Retain As Published
// (bit 3) and Retain Handling (bits 4-5) besides the QoS, reserved bits 0 ([MQTT-3.8.3-5]);
// v3.1.1 has only the QoS and its reserved bits are 0 ([MQTT-3.8.3-4]).
#[test]
fn subscription_options_are_encoded() {
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let f = SubscribeFilter {
        filter: TopicFilter::new("o/#").unwrap(),
        options,
    };
    for version in VERSIONS {
        let mut pair = connected_pair(version, ConnAck::default());
        let (_, _, sent) = subscribe(&mut pair, vec![f.clone()], SubscribeProperties::default());
        let expected_options = match version {
            ProtocolVersion::V5 => options,
            ProtocolVersion::V311 => SubscriptionOptions::new(QoS::AtLeastOnce),
        };
        assert_eq!(
            sent,
            vec![Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                filters: vec![SubscribeFilter {
                    filter: f.filter.clone(),
                    options: expected_options,
                }],
                properties: sub_id(version, Some(2)),
            })]
        );
    }
    // The bytes: options 0b0010_1101 in v5 (QoS 1, No Local, Retain As Published, Retain
    // Handling 2), after a Subscription Identifier (0x0B) of 2; 0b0000_0001 in v3.1.1.
    assert_eq!(
        subscribe_bytes(ProtocolVersion::V5, f.clone()),
        [0x82, 0x0B, 0x00, 0x01, 0x02, 0x0B, 0x02, 0x00, 0x03, b'o', b'/', b'#', 0x2D]
    );
    assert_eq!(
        subscribe_bytes(ProtocolVersion::V311, f),
        [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, b'o', b'/', b'#', 0x01]
    );
}

// v5 3.8.2.1.2: the session gives each SUBSCRIBE a Subscription Identifier of its own (one
// per request), keeps one the application chose, and sends none when the server said
// Subscription Identifiers Available 0 (3.2.2.3.12: sending one would be a Protocol Error).
#[test]
fn the_session_assigns_a_subscription_identifier_in_v5() {
    let mut pair = connected_pair(ProtocolVersion::V5, ConnAck::default());
    let (_, _, sent) = subscribe(
        &mut pair,
        vec![filter("i/1", QoS::AtMostOnce)],
        Default::default(),
    );
    let (_, _, sent2) = subscribe(
        &mut pair,
        vec![filter("i/2", QoS::AtMostOnce)],
        Default::default(),
    );
    let chosen = sub_id(ProtocolVersion::V5, Some(77));
    let (_, _, sent3) = subscribe(
        &mut pair,
        vec![filter("i/3", QoS::AtMostOnce)],
        chosen.clone(),
    );
    let ids: Vec<_> = [sent, sent2, sent3]
        .iter()
        .map(|sent| match &sent[..] {
            [Packet::Subscribe(s)] => s.properties.subscription_identifier.map(|i| i.get()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, vec![Some(2), Some(3), Some(77)]);

    let no_ids = ConnAck {
        properties: ConnAckProperties {
            subscription_identifier_available: Some(false),
            ..ConnAckProperties::default()
        },
        ..ConnAck::default()
    };
    let mut pair = connected_pair(ProtocolVersion::V5, no_ids);
    let (_, _, sent) = subscribe(
        &mut pair,
        vec![filter("i/1", QoS::AtMostOnce)],
        Default::default(),
    );
    let (_, _, sent2) = subscribe(&mut pair, vec![filter("i/2", QoS::AtMostOnce)], chosen);
    for (n, sent) in [(1, sent), (2, sent2)] {
        assert_eq!(
            sent,
            vec![Packet::Subscribe(Subscribe {
                packet_id: pid(n),
                filters: vec![filter(if n == 1 { "i/1" } else { "i/2" }, QoS::AtMostOnce)],
                properties: SubscribeProperties::default(),
            })]
        );
    }
}

// Routing: a PUBLISH that carries Subscription Identifiers belongs to exactly the
// subscriptions made with those identifiers whose filter matches (v5 [MQTT-3.3.4-3],
// [MQTT-3.3.4-4], [MQTT-3.3.4-5]); one without belongs to every granted subscription whose
// filter matches, and so does one whose identifiers this session never gave (they come from
// a subscription of an earlier process that the server resumed).
#[test]
fn v5_routing_follows_the_subscription_identifiers_of_the_publish() {
    let mut pair = connected_pair(ProtocolVersion::V5, ConnAck::default());
    let a = granted(&mut pair, vec![filter("a/#", QoS::AtMostOnce)]); // id 2
    let b = granted(&mut pair, vec![filter("a/+", QoS::AtMostOnce)]); // id 3
    let c = granted(
        &mut pair,
        vec![
            filter("a/b", QoS::AtMostOnce),
            filter("x/#", QoS::AtMostOnce),
        ],
    ); // id 4
    assert_eq!(route(&pair, &inbound("a/b", &[3])), vec![b[0]]);
    assert_eq!(route(&pair, &inbound("a/b", &[2, 4])), vec![a[0], c[0]]);
    assert_eq!(route(&pair, &inbound("a/b", &[2, 2])), vec![a[0]]);
    assert_eq!(route(&pair, &inbound("a/c", &[4])), vec![]);
    assert_eq!(route(&pair, &inbound("x/y", &[4])), vec![c[1]]);
    assert_eq!(route(&pair, &inbound("a/b", &[])), vec![a[0], b[0], c[0]]);
    assert_eq!(route(&pair, &inbound("a/b", &[99])), vec![a[0], b[0], c[0]]);
}

// Overlapping subscriptions: a message matching several of them belongs to each once, whether
// the server sends one copy or several (v5 [MQTT-3.3.4-2] .. [MQTT-3.3.4-5]); v3.1.1 routes by
// filter. A subscription to the same filter replaces the earlier one ([MQTT-3.8.4-3], both
// versions).
#[test]
fn overlapping_subscriptions_each_get_a_message_once() {
    for version in VERSIONS {
        let mut pair = connected_pair(version, ConnAck::default());
        let first = granted(
            &mut pair,
            vec![
                filter("o/#", QoS::AtMostOnce),
                filter("o/+/c", QoS::AtLeastOnce),
                filter("+/b/#", QoS::ExactlyOnce),
            ],
        );
        let second = granted(&mut pair, vec![filter("o/b/c", QoS::AtMostOnce)]);
        let all = vec![first[0], first[1], first[2], second[0]];
        assert_eq!(route(&pair, &inbound("o/b/c", &[])), all);
        if version == ProtocolVersion::V5 {
            assert_eq!(route(&pair, &inbound("o/b/c", &[2, 3])), all);
            assert_eq!(route(&pair, &inbound("o/b/c", &[2])), first);
        }
        assert_eq!(route(&pair, &inbound("o/x", &[])), vec![first[0]]);

        let again = granted(&mut pair, vec![filter("o/#", QoS::ExactlyOnce)]);
        assert_eq!(
            granted_filters(&pair),
            vec![
                (first[1], "o/+/c".to_owned()),
                (first[2], "+/b/#".to_owned()),
                (second[0], "o/b/c".to_owned()),
                (again[0], "o/#".to_owned()),
            ]
        );
        assert_eq!(route(&pair, &inbound("o/x", &[])), vec![again[0]]);
        assert_eq!(
            pair.session.subscription(again[0]).map(|f| f.options.qos),
            Some(QoS::ExactlyOnce)
        );
        assert_eq!(pair.session.subscription(first[0]), None);
    }
}

// UNSUBSCRIBE (v5 [MQTT-3.10.4-4], v3.1.1 [MQTT-3.10.4-4]: answered by an UNSUBACK with its
// Packet Identifier): the subscription routes until the UNSUBACK, then no more
// ([MQTT-3.10.4-1]: matched by the exact filter). v5 reports the server's code per filter
// ([MQTT-3.11.3-1]); a refusal keeps the subscription; v3.1.1 reports Success for each.
#[test]
fn unsubscribe_stops_routing_once_acknowledged() {
    for version in VERSIONS {
        let mut pair = connected_pair(version, ConnAck::default());
        let keys = granted(
            &mut pair,
            vec![
                filter("u/#", QoS::AtLeastOnce),
                filter("v", QoS::AtLeastOnce),
            ],
        );
        let (r, sent) = pair.command(|s, now| {
            s.unsubscribe(
                now,
                vec![TopicFilter::new("u/#").unwrap()],
                Default::default(),
            )
        });
        let id = r.unwrap();
        assert_eq!(
            sent,
            vec![Packet::Unsubscribe(Unsubscribe::new(
                pid(2),
                vec![TopicFilter::new("u/#").unwrap()]
            ))]
        );
        assert_eq!(route(&pair, &inbound("u/1", &[])), vec![keys[0]]);
        let unsuback = UnsubAck {
            packet_id: pid(2),
            reason_codes: match version {
                ProtocolVersion::V5 => vec![ReasonCode::Success],
                ProtocolVersion::V311 => vec![],
            },
            properties: AckProperties::default(),
        };
        assert_eq!(pair.send(unsuback), vec![]);
        assert_eq!(
            pair.events(),
            vec![Event::Unsubscribed {
                id,
                results: vec![ReasonCode::Success],
            }]
        );
        assert_eq!(route(&pair, &inbound("u/1", &[])), vec![]);
        assert_eq!(route(&pair, &inbound("v", &[])), vec![keys[1]]);
        assert_eq!(granted_filters(&pair), vec![(keys[1], "v".to_owned())]);

        if version == ProtocolVersion::V5 {
            let (r, _) = pair.command(|s, now| {
                s.unsubscribe(
                    now,
                    vec![
                        TopicFilter::new("v").unwrap(),
                        TopicFilter::new("w").unwrap(),
                    ],
                    Default::default(),
                )
            });
            let id = r.unwrap();
            let unsuback = UnsubAck {
                packet_id: pid(3),
                reason_codes: vec![ReasonCode::NotAuthorized, ReasonCode::NoSubscriptionExisted],
                properties: AckProperties::default(),
            };
            pair.send(unsuback);
            assert_eq!(
                pair.events(),
                vec![Event::Unsubscribed {
                    id,
                    results: vec![ReasonCode::NotAuthorized, ReasonCode::NoSubscriptionExisted],
                }]
            );
            assert_eq!(route(&pair, &inbound("v", &[])), vec![keys[1]]);
        }
    }
}

// Unsubscribing and at once subscribing again to the same filter: the server handles the
// UNSUBSCRIBE, then the SUBSCRIBE, in order. The UNSUBACK ends the old subscription only
// ([MQTT-3.10.4-1]: the subscription the UNSUBSCRIBE named); the new one, granted by the
// SUBACK that follows, routes.
#[test]
fn subscribing_again_right_after_unsubscribing_keeps_the_new_subscription() {
    for version in VERSIONS {
        let mut pair = connected_pair(version, ConnAck::default());
        let old = granted(&mut pair, vec![filter("u/#", QoS::AtLeastOnce)]);
        let (r, _) = pair.command(|s, now| {
            s.unsubscribe(
                now,
                vec![TopicFilter::new("u/#").unwrap()],
                Default::default(),
            )
        });
        let unsubscribe_id = r.unwrap();
        let (id, new, sent) = subscribe(
            &mut pair,
            vec![filter("u/#", QoS::ExactlyOnce)],
            SubscribeProperties::default(),
        );
        assert_eq!(
            sent,
            vec![Packet::Subscribe(Subscribe {
                packet_id: pid(3),
                filters: vec![filter("u/#", QoS::ExactlyOnce)],
                properties: sub_id(version, Some(4)),
            })]
        );
        let unsuback = UnsubAck {
            packet_id: pid(2),
            reason_codes: match version {
                ProtocolVersion::V5 => vec![ReasonCode::Success],
                ProtocolVersion::V311 => vec![],
            },
            properties: AckProperties::default(),
        };
        pair.send(unsuback);
        pair.send(suback(3, vec![ReasonCode::GrantedQoS2]));
        assert_eq!(
            pair.events(),
            vec![
                Event::Unsubscribed {
                    id: unsubscribe_id,
                    results: vec![ReasonCode::Success],
                },
                Event::Subscribed {
                    id,
                    keys: new.clone(),
                    results: vec![Ok(QoS::ExactlyOnce)],
                    resubscribe: false,
                },
            ]
        );
        assert_ne!(old, new);
        assert_eq!(
            granted_filters(&pair),
            vec![(new[0], "u/#".to_owned())],
            "{version}"
        );
        assert_eq!(route(&pair, &inbound("u/1", &[])), new, "{version}");
    }
}

// The same, with both requests made before the session writes anything (a driver that takes
// several commands per wake-up, or requests made while offline): they go out in the order
// they were asked for. SUBSCRIBE first would have the server subscribe and then unsubscribe,
// and the UNSUBACK that comes second would end the new subscription too. After a reconnect
// without a session, the resubscription of what the server lost goes before both.
#[test]
fn an_unsubscribe_and_a_subscribe_made_together_go_out_in_that_order() {
    for version in VERSIONS {
        for offline in [false, true] {
            let mut pair = connected_pair(version, ConnAck::default());
            let old = granted(&mut pair, vec![filter("u/#", QoS::AtLeastOnce)]);
            if offline {
                pair.drop_connection();
                pair.events();
            }
            let now = pair.now;
            let unsubscribe_id = pair
                .session
                .unsubscribe(
                    now,
                    vec![TopicFilter::new("u/#").unwrap()],
                    Default::default(),
                )
                .unwrap();
            let (id, new) = pair
                .session
                .subscribe(
                    now,
                    vec![filter("u/#", QoS::ExactlyOnce)],
                    Default::default(),
                )
                .unwrap();
            let sent = if offline {
                pair.open();
                pair.send(ConnAck::default())
            } else {
                pair.pump()
            };
            let kinds: Vec<(&str, Option<QoS>)> = sent
                .iter()
                .map(|p| match p {
                    Packet::Unsubscribe(_) => ("UNSUBSCRIBE", None),
                    Packet::Subscribe(s) => ("SUBSCRIBE", Some(s.filters[0].options.qos)),
                    _ => ("other", None),
                })
                .collect();
            let mut expected = vec![("UNSUBSCRIBE", None), ("SUBSCRIBE", Some(QoS::ExactlyOnce))];
            if offline {
                // The server lost the session: the old subscription is made again first.
                expected.insert(0, ("SUBSCRIBE", Some(QoS::AtLeastOnce)));
            }
            assert_eq!(kinds, expected, "{version} offline: {offline}");
            pair.events();
            for packet in &sent {
                match packet {
                    Packet::Unsubscribe(u) => pair.send(UnsubAck {
                        packet_id: u.packet_id,
                        reason_codes: match version {
                            ProtocolVersion::V5 => vec![ReasonCode::Success],
                            ProtocolVersion::V311 => vec![],
                        },
                        properties: AckProperties::default(),
                    }),
                    Packet::Subscribe(s) => {
                        let code = match s.filters[0].options.qos {
                            QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
                            _ => ReasonCode::GrantedQoS1,
                        };
                        pair.send(suback(s.packet_id.get(), vec![code]))
                    }
                    other => panic!("{other:?}"),
                };
            }
            let events = pair.events();
            let tail = &events[events.len() - 2..];
            assert_eq!(
                tail,
                [
                    Event::Unsubscribed {
                        id: unsubscribe_id,
                        results: vec![ReasonCode::Success],
                    },
                    Event::Subscribed {
                        id,
                        keys: new.clone(),
                        results: vec![Ok(QoS::ExactlyOnce)],
                        resubscribe: false,
                    },
                ],
                "{version} offline: {offline}"
            );
            assert_ne!(old, new);
            assert_eq!(
                granted_filters(&pair),
                vec![(new[0], "u/#".to_owned())],
                "{version} offline: {offline}"
            );
            assert_eq!(
                route(&pair, &inbound("u/1", &[])),
                new,
                "{version} offline: {offline}"
            );
        }
    }
}
