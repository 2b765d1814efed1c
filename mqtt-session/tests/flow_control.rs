//! Flow control and the server's limits (v5 sections 3.3.4 and 4.9, and the CONNACK
//! properties of 3.2.2.3): Receive Maximum both ways, Maximum Packet Size both ways, Maximum
//! QoS and Retain Available.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    AckToken, Config, Connected, DisconnectReason, Error as SessionError, Event, Message,
    OutboundMessage, ProtocolViolation, PublishFailure, PublishTicket, ServerLimits,
};

const V5: ProtocolVersion = ProtocolVersion::V5;
const CLIENT_ID: &str = "flow";

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    let mut c = Config::new(version, MqttString::try_from(CLIENT_ID).unwrap());
    c.backoff.initial = Duration::ZERO;
    c
}

fn v5_limits() -> ServerLimits {
    ServerLimits {
        receive_maximum: u16::MAX,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: None,
        topic_alias_maximum: 0,
        wildcard_subscription_available: true,
        subscription_identifier_available: true,
        shared_subscription_available: true,
        keep_alive: Duration::from_secs(60),
        session_expiry_interval: None,
    }
}

fn connected(session_present: bool, limits: ServerLimits, properties: ConnAckProperties) -> Event {
    Event::Connected(Box::new(Connected {
        session_present,
        limits,
        client_id: MqttString::try_from(CLIENT_ID).unwrap(),
        properties,
    }))
}

fn connack(session_present: bool, properties: ConnAckProperties) -> ConnAck {
    ConnAck {
        session_present,
        reason_code: ReasonCode::Success,
        properties,
    }
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

fn topic(s: &str) -> TopicName {
    TopicName::new(s.to_owned()).unwrap()
}

fn msg(t: &str, payload: &str, qos: QoS) -> OutboundMessage {
    OutboundMessage::new(topic(t), Bytes::from(payload.to_owned()), qos)
}

fn publish(t: &str, payload: &str, qos_pid: QosPid, dup: bool) -> Packet {
    let mut p = Publish::new(topic(t), Bytes::from(payload.to_owned()), qos_pid);
    p.dup = dup;
    Packet::Publish(p)
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

fn failed(ticket: PublishTicket, reason: PublishFailure) -> Event {
    Event::PublishFailed {
        id: ticket.id,
        packet_id: ticket.packet_id,
        reason,
    }
}

fn publish_now(pair: &mut Pair, message: OutboundMessage) -> (PublishTicket, Vec<Packet>) {
    let (ticket, sent) = pair.command(|s, now| s.publish(now, message));
    (ticket.unwrap(), sent)
}

/// The ack token of the one Message event in `events`, after checking its publish.
fn token(events: Vec<Event>, expected: &Publish) -> AckToken {
    match &events[..] {
        [Event::Message(Message {
            publish,
            ack_token: Some(token),
        })] if publish == expected => *token,
        other => panic!("expected one Message with a token, got {other:?}"),
    }
}

fn receive_maximum(n: u16) -> ConnAckProperties {
    ConnAckProperties {
        receive_maximum: NonZeroU16::new(n),
        ..ConnAckProperties::default()
    }
}

/// A session with `config`, connected to a server whose Receive Maximum is `n`, its
/// Connected event taken.
fn connected_with_receive_maximum(config: Config, n: u16) -> Pair {
    let mut pair = Pair::new(config);
    pair.open();
    pair.send(connack(false, receive_maximum(n)));
    pair.events();
    pair
}

// [MQTT-3.3.4-7], [MQTT-4.9.0-2]: never more unacknowledged QoS 1/2 PUBLISH packets than the
// server's Receive Maximum; the rest wait, in order, and go as PUBACK / PUBCOMP arrive (a
// successful PUBREC does not give the quota back, section 4.9). [MQTT-3.3.4-8],
// [MQTT-4.9.0-3]: other packets are not held back while the quota is used up.
#[test]
fn never_more_in_flight_than_the_servers_receive_maximum() {
    let mut pair = Pair::new(config(V5));
    pair.open();
    assert_eq!(pair.send(connack(false, receive_maximum(2))), vec![]);
    assert_eq!(
        pair.events(),
        vec![connected(
            false,
            ServerLimits {
                receive_maximum: 2,
                ..v5_limits()
            },
            receive_maximum(2)
        )]
    );

    let (p1, sent) = publish_now(&mut pair, msg("f/1", "1", QoS::AtLeastOnce));
    assert_eq!(
        sent,
        vec![publish("f/1", "1", QosPid::AtLeastOnce(pid(1)), false)]
    );
    let (p2, sent) = publish_now(&mut pair, msg("f/2", "2", QoS::ExactlyOnce));
    assert_eq!(
        sent,
        vec![publish("f/2", "2", QosPid::ExactlyOnce(pid(2)), false)]
    );
    let (p3, sent) = publish_now(&mut pair, msg("f/3", "3", QoS::AtLeastOnce));
    assert_eq!(sent, vec![]);
    // A QoS 0 message behind a waiting one keeps its place in the order.
    let (p4, sent) = publish_now(&mut pair, msg("f/4", "4", QoS::AtMostOnce));
    assert_eq!(sent, vec![]);
    let (p5, sent) = publish_now(&mut pair, msg("f/5", "5", QoS::AtLeastOnce));
    assert_eq!(sent, vec![]);
    assert_eq!(
        (p3.packet_id, p4.packet_id, p5.packet_id),
        (Some(pid(3)), None, Some(pid(4)))
    );
    assert_eq!((pair.session.inflight(), pair.session.queued()), (2, 3));
    assert_eq!(pair.events(), vec![]);

    // SUBSCRIBE and acknowledgements still go out at once.
    let filter = SubscribeFilter::new(TopicFilter::new("g/#").unwrap(), QoS::AtLeastOnce);
    let (r, sent) =
        pair.command(|s, now| s.subscribe(now, vec![filter.clone()], Default::default()));
    r.unwrap();
    assert_eq!(
        sent,
        vec![Packet::Subscribe(Subscribe {
            packet_id: pid(5),
            filters: vec![filter],
            properties: SubscribeProperties {
                subscription_identifier: SubscriptionIdentifier::new(2),
                ..SubscribeProperties::default()
            },
        })]
    );
    let inbound = Publish::new(topic("g/1"), "in", QosPid::AtLeastOnce(pid(9)));
    assert_eq!(pair.send(inbound.clone()), vec![Packet::PubAck(ack(9))]);
    assert_eq!(
        pair.events(),
        vec![Event::Message(Message {
            publish: inbound,
            ack_token: None
        })]
    );

    // PUBACK 1: one slot, taken by f/3; the QoS 0 f/4 behind it goes too; f/5 waits.
    assert_eq!(
        pair.send_ack(PacketType::PubAck, ack(1)),
        vec![
            publish("f/3", "3", QosPid::AtLeastOnce(pid(3)), false),
            publish("f/4", "4", QosPid::AtMostOnce, false),
        ]
    );
    assert_eq!(pair.events(), vec![completed(p1), completed(p4)]);
    // PUBREC 2: PUBREL, but f/2 is still unacknowledged until PUBCOMP.
    assert_eq!(
        pair.send_ack(PacketType::PubRec, ack(2)),
        vec![Packet::PubRel(ack(2))]
    );
    assert_eq!(pair.session.inflight(), 2);
    assert_eq!(
        pair.send_ack(PacketType::PubComp, ack(2)),
        vec![publish("f/5", "5", QosPid::AtLeastOnce(pid(4)), false)]
    );
    assert_eq!(pair.events(), vec![completed(p2)]);
    assert_eq!(pair.send_ack(PacketType::PubAck, ack(3)), vec![]);
    assert_eq!(pair.send_ack(PacketType::PubAck, ack(4)), vec![]);
    assert_eq!(pair.events(), vec![completed(p3), completed(p5)]);
    assert_eq!((pair.session.inflight(), pair.session.queued()), (0, 0));
}

// A send window that filled up is refilled as acknowledgements arrive: with Receive Maximum 8,
// each PUBACK lets the next queued publish go at once (waiting to send several together stalls
// against a server with Nagle's algorithm on, which holds its next PUBACK until the client's
// TCP acknowledgement, and the kernel delays that while the client sends nothing). Never more
// than 8 in flight [MQTT-3.3.4-7]; order kept [MQTT-4.6.0-1].
#[test]
fn a_full_send_window_is_refilled_as_acknowledgements_arrive() {
    let mut pair = connected_with_receive_maximum(config(V5), 8);
    let mut tickets = Vec::new();
    for i in 1..=12u16 {
        let (ticket, sent) = publish_now(&mut pair, msg("w", &i.to_string(), QoS::AtLeastOnce));
        let expected = if i <= 8 {
            vec![publish(
                "w",
                &i.to_string(),
                QosPid::AtLeastOnce(pid(i)),
                false,
            )]
        } else {
            vec![]
        };
        assert_eq!(sent, expected, "publish {i}");
        tickets.push(ticket);
    }
    assert_eq!((pair.session.inflight(), pair.session.queued()), (8, 4));
    let go = |i: u16| publish("w", &i.to_string(), QosPid::AtLeastOnce(pid(i)), false);
    for i in 1..=4u16 {
        assert_eq!(
            pair.send_ack(PacketType::PubAck, ack(i)),
            vec![go(i + 8)],
            "the PUBACK of {i}"
        );
        assert_eq!(
            (pair.session.inflight(), pair.session.queued()),
            (8, 4 - usize::from(i))
        );
    }
    for i in 5..=12 {
        assert_eq!(pair.send_ack(PacketType::PubAck, ack(i)), vec![]);
    }
    let expected: Vec<Event> = tickets.into_iter().map(completed).collect();
    assert_eq!(pair.events(), expected);

    // An open window sends at once again.
    let (_, sent) = publish_now(&mut pair, msg("w", "13", QoS::AtLeastOnce));
    assert_eq!(
        sent,
        vec![publish("w", "13", QosPid::AtLeastOnce(pid(13)), false)]
    );
}

// Section 4.9: the send quota is given back by a PUBACK whatever its reason code, and by a
// PUBREC with a reason code of 0x80 or more (which also ends the QoS 2 flow without PUBREL,
// section 4.3.3); [MQTT-4.4.0-2]: such a publish counts as acknowledged and is not resent.
#[test]
fn an_error_puback_or_pubrec_gives_the_quota_back() {
    let mut pair = connected_with_receive_maximum(config(V5), 1);
    let (a, sent) = publish_now(&mut pair, msg("e/a", "a", QoS::AtLeastOnce));
    assert_eq!(
        sent,
        vec![publish("e/a", "a", QosPid::AtLeastOnce(pid(1)), false)]
    );
    let (b, sent) = publish_now(&mut pair, msg("e/b", "b", QoS::ExactlyOnce));
    assert_eq!(sent, vec![]);
    let (c, sent) = publish_now(&mut pair, msg("e/c", "c", QoS::AtLeastOnce));
    assert_eq!(sent, vec![]);

    let rejected = PubResponse::with_reason(pid(1), ReasonCode::NotAuthorized);
    assert_eq!(
        pair.send_ack(PacketType::PubAck, rejected),
        vec![publish("e/b", "b", QosPid::ExactlyOnce(pid(2)), false)]
    );
    assert_eq!(
        pair.events(),
        vec![failed(
            a,
            PublishFailure::Rejected(ReasonCode::NotAuthorized, AckProperties::default())
        )]
    );
    let rejected = PubResponse::with_reason(pid(2), ReasonCode::QuotaExceeded);
    assert_eq!(
        pair.send_ack(PacketType::PubRec, rejected),
        vec![publish("e/c", "c", QosPid::AtLeastOnce(pid(3)), false)]
    );
    assert_eq!(
        pair.events(),
        vec![failed(
            b,
            PublishFailure::Rejected(ReasonCode::QuotaExceeded, AckProperties::default())
        )]
    );
    assert_eq!(pair.send_ack(PacketType::PubAck, ack(3)), vec![]);
    assert_eq!(pair.events(), vec![completed(c)]);
    assert_eq!(pair.session.pending_publishes(), 0);
}

// [MQTT-3.3.4-7] across a reconnect: ten publishes in flight, the server resumes the session
// with Receive Maximum 3. Only three are resent at once ([MQTT-4.4.0-1], DUP 1
// [MQTT-3.3.1-1], in order [MQTT-4.6.0-1]); each acknowledgement lets the next one go, still
// with DUP; a publish made after the reconnect follows them as a new message.
#[test]
fn a_receive_maximum_that_shrank_across_a_reconnect_is_honoured() {
    let mut c = config(V5);
    c.session_expiry_interval = 3600;
    let mut pair = connected_with_receive_maximum(c, 10);
    let mut tickets = Vec::new();
    for i in 1..=10u16 {
        let (t, sent) = publish_now(
            &mut pair,
            msg(&format!("s/{i}"), &i.to_string(), QoS::AtLeastOnce),
        );
        assert_eq!(
            sent,
            vec![publish(
                &format!("s/{i}"),
                &i.to_string(),
                QosPid::AtLeastOnce(pid(i)),
                false
            )]
        );
        tickets.push(t);
    }
    assert_eq!(pair.session.inflight(), 10);
    pair.drop_connection();
    assert_eq!(pair.events(), dropped(1));

    assert!(!pair.open().clean_start);
    let resent = |i: u16| {
        publish(
            &format!("s/{i}"),
            &i.to_string(),
            QosPid::AtLeastOnce(pid(i)),
            true,
        )
    };
    assert_eq!(
        pair.send(connack(true, receive_maximum(3))),
        vec![resent(1), resent(2), resent(3)]
    );
    assert_eq!(
        pair.events(),
        vec![connected(
            true,
            ServerLimits {
                receive_maximum: 3,
                ..v5_limits()
            },
            receive_maximum(3)
        )]
    );
    assert_eq!(pair.session.inflight(), 3);

    let (new, sent) = publish_now(&mut pair, msg("s/new", "n", QoS::AtLeastOnce));
    assert_eq!(sent, vec![]);
    assert_eq!(new.packet_id, Some(pid(11)));

    for i in 1..=10u16 {
        let expected = match i + 3 {
            next @ 4..=10 => vec![resent(next)],
            11 => vec![publish("s/new", "n", QosPid::AtLeastOnce(pid(11)), false)],
            _ => vec![],
        };
        assert_eq!(
            pair.send_ack(PacketType::PubAck, ack(i)),
            expected,
            "after PUBACK {i}"
        );
        assert_eq!(pair.events(), vec![completed(tickets[usize::from(i) - 1])]);
        assert!(pair.session.inflight() <= 3);
    }
    assert_eq!(pair.send_ack(PacketType::PubAck, ack(11)), vec![]);
    assert_eq!(pair.events(), vec![completed(new)]);
    assert_eq!(pair.session.pending_publishes(), 0);
}

/// The report of a server over our Receive Maximum of 2: it names that rule, not "PUBLISH is
/// never sent by a server".
fn receive_maximum_exceeded() -> Vec<Event> {
    let reason = DisconnectReason::ProtocolError(
        ReasonCode::ReceiveMaximumExceeded,
        ProtocolViolation::ReceiveMaximumExceeded(2),
    );
    assert_eq!(
        reason.to_string(),
        "protocol error by the server (Receive Maximum exceeded (0x93)): QoS 1/2 PUBLISH beyond \
         our Receive Maximum of 2 unacknowledged messages"
    );
    vec![
        Event::Disconnected(reason),
        Event::ReconnectScheduled {
            delay: Duration::ZERO,
            attempt: 1,
        },
    ]
}

// Section 3.3.4 / [MQTT-3.3.4-9]: the server must not have more unacknowledged QoS 1/2
// PUBLISH packets towards us than our Receive Maximum; when it does, the client sends
// DISCONNECT 0x93 Receive Maximum exceeded. In manual-ack mode the application's
// outstanding acknowledgements count.
#[test]
fn the_server_exceeding_our_receive_maximum_in_manual_ack_mode_is_disconnect_0x93() {
    let mut c = config(V5);
    c.receive_maximum = 2;
    c.manual_acks = true;
    let mut pair = Pair::new(c);
    let connect = pair.open();
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(2));
    pair.send(connack(false, ConnAckProperties::default()));
    pair.events();

    let p1 = Publish::new(topic("m/1"), "1", QosPid::AtLeastOnce(pid(1)));
    assert_eq!(pair.send(p1.clone()), vec![]);
    let t1 = token(pair.events(), &p1);
    let p2 = Publish::new(topic("m/2"), "2", QosPid::ExactlyOnce(pid(2)));
    assert_eq!(pair.send(p2.clone()), vec![]);
    let _t2 = token(pair.events(), &p2);
    // The application acknowledges the first: PUBACK, and a slot is free again.
    let (r, sent) = pair.command(|s, now| s.ack(now, t1));
    r.unwrap();
    assert_eq!(sent, vec![Packet::PubAck(ack(1))]);
    let p3 = Publish::new(topic("m/3"), "3", QosPid::AtLeastOnce(pid(3)));
    assert_eq!(pair.send(p3.clone()), vec![]);
    let _t3 = token(pair.events(), &p3);
    // Two unacknowledged (ids 2 and 3): a third is one too many.
    let p4 = Publish::new(topic("m/4"), "4", QosPid::AtLeastOnce(pid(4)));
    assert_eq!(
        pair.send(p4),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ReceiveMaximumExceeded
        ))]
    );
    assert_eq!(pair.events(), receive_maximum_exceeded());
    assert!(!pair.open);
}

// The same limit in automatic-ack mode: a QoS 2 message stays unacknowledged until the
// PUBCOMP is sent, so a server that does not release them exceeds our Receive Maximum.
#[test]
fn unreleased_qos2_messages_count_against_our_receive_maximum() {
    let mut c = config(V5);
    c.receive_maximum = 2;
    let mut pair = Pair::new(c);
    pair.open();
    pair.send(connack(false, ConnAckProperties::default()));
    pair.events();
    for n in 1..=2 {
        let p = Publish::new(topic("q/2"), "x", QosPid::ExactlyOnce(pid(n)));
        assert_eq!(pair.send(p), vec![Packet::PubRec(ack(n))]);
    }
    assert_eq!(
        pair.send_ack(PacketType::PubRel, ack(1)),
        vec![Packet::PubComp(ack(1))]
    );
    let p = Publish::new(topic("q/2"), "x", QosPid::ExactlyOnce(pid(3)));
    assert_eq!(pair.send(p), vec![Packet::PubRec(ack(3))]);
    assert_eq!(pair.events().len(), 3);
    let p = Publish::new(topic("q/2"), "x", QosPid::ExactlyOnce(pid(4)));
    assert_eq!(
        pair.send(p),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ReceiveMaximumExceeded
        ))]
    );
    assert_eq!(pair.events(), receive_maximum_exceeded());
}

/// A QoS 0 PUBLISH from the server whose whole encoded size is `size` bytes.
fn publish_of_size(version: ProtocolVersion, size: usize) -> Publish {
    let empty = Publish::new(topic("big"), Bytes::new(), QosPid::AtMostOnce);
    let base = Packet::Publish(empty).encoded_len(version).unwrap();
    let p = Publish::new(topic("big"), vec![b'x'; size - base], QosPid::AtMostOnce);
    assert_eq!(
        Packet::Publish(p.clone()).encoded_len(version).unwrap(),
        size
    );
    p
}

// v5 3.1.2.11.4, [MQTT-3.1.2-24]: the server must not send a packet larger than the client's
// Maximum Packet Size; one that does is answered with DISCONNECT 0x95 Packet too large. A
// v3.1.1 client has no way to say why: it closes the connection.
#[test]
fn a_packet_over_our_maximum_packet_size_is_disconnect_0x95() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut c = config(version);
        c.maximum_packet_size = 64;
        let mut pair = Pair::new(c);
        let connect = pair.open();
        let announced = match version {
            ProtocolVersion::V5 => NonZeroU32::new(64),
            ProtocolVersion::V311 => None,
        };
        assert_eq!(connect.properties.maximum_packet_size, announced);
        pair.send(connack(false, ConnAckProperties::default()));
        pair.events();

        let fits = publish_of_size(version, 64);
        assert_eq!(pair.send(fits.clone()), vec![]);
        assert_eq!(
            pair.events(),
            vec![Event::Message(Message {
                publish: fits,
                ack_token: None
            })]
        );
        let expected = match version {
            ProtocolVersion::V5 => vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::PacketTooLarge,
            ))],
            ProtocolVersion::V311 => vec![],
        };
        assert_eq!(
            pair.send(publish_of_size(version, 65)),
            expected,
            "{version}"
        );
        assert_eq!(
            pair.events(),
            vec![
                Event::Disconnected(DisconnectReason::ProtocolError(
                    ReasonCode::PacketTooLarge,
                    mqtt_proto::Error::PacketTooLarge { size: 65, max: 64 }.into(),
                )),
                Event::ReconnectScheduled {
                    delay: Duration::ZERO,
                    attempt: 1
                },
            ]
        );
        assert!(!pair.open);
    }
}

/// Connects, then drops the connection and queues `message` while disconnected; reconnects
/// with `properties` and returns the packets sent after the CONNACK and the events.
fn queued_then_connected(
    pair: &mut Pair,
    properties: &ConnAckProperties,
    message: OutboundMessage,
) -> (PublishTicket, PublishTicket, Vec<Packet>, Vec<Event>) {
    pair.drop_connection();
    assert_eq!(pair.events(), dropped(1));
    let (bad, sent) = publish_now(pair, message);
    assert_eq!(sent, vec![]);
    let (good, sent) = publish_now(pair, msg("ok/2", "fine", QoS::AtLeastOnce));
    assert_eq!(sent, vec![]);
    pair.open();
    let sent = pair.send(connack(false, properties.clone()));
    (bad, good, sent, pair.events())
}

// [MQTT-3.2.2-15]: the client must not send a packet larger than the server's Maximum Packet
// Size. While connected the publish is refused at once; one queued while disconnected fails
// when the limit becomes known, and the messages behind it still go.
#[test]
fn a_publish_over_the_servers_maximum_packet_size_is_refused_or_fails() {
    let props = ConnAckProperties {
        maximum_packet_size: NonZeroU32::new(40),
        ..ConnAckProperties::default()
    };
    let limits = ServerLimits {
        maximum_packet_size: Some(40),
        ..v5_limits()
    };
    let mut pair = Pair::new(config(V5));
    pair.open();
    pair.send(connack(false, props.clone()));
    assert_eq!(
        pair.events(),
        vec![connected(false, limits.clone(), props.clone())]
    );

    let payload = "x".repeat(64);
    let size = Packet::Publish(Publish::new(
        topic("big"),
        Bytes::from(payload.clone()),
        QosPid::AtLeastOnce(PacketId::MIN),
    ))
    .encoded_len(V5)
    .unwrap();
    let (r, sent) = pair.command(|s, now| s.publish(now, msg("big", &payload, QoS::AtLeastOnce)));
    assert_eq!(r, Err(SessionError::PacketTooLarge { size, max: 40 }));
    assert_eq!(sent, vec![]);
    // Nothing was taken: the next publish gets the first ids.
    let (ok, sent) = publish_now(&mut pair, msg("ok/1", "fine", QoS::AtLeastOnce));
    assert_eq!((ok.id.get(), ok.packet_id), (1, Some(pid(1))));
    assert_eq!(
        sent,
        vec![publish("ok/1", "fine", QosPid::AtLeastOnce(pid(1)), false)]
    );
    pair.send_ack(PacketType::PubAck, ack(1));
    assert_eq!(pair.events(), vec![completed(ok)]);

    let (bad, good, sent, events) =
        queued_then_connected(&mut pair, &props, msg("big", &payload, QoS::AtLeastOnce));
    assert_eq!(
        sent,
        vec![publish("ok/2", "fine", QosPid::AtLeastOnce(pid(3)), false)]
    );
    assert_eq!(
        events,
        vec![
            connected(false, limits, props),
            failed(bad, PublishFailure::PacketTooLarge { size, max: 40 }),
        ]
    );
    assert_eq!(bad.packet_id, Some(pid(2)));
    assert_eq!(good.packet_id, Some(pid(3)));
}

// [MQTT-3.2.2-11]: the client must not send a PUBLISH with a QoS above the server's Maximum
// QoS.
#[test]
fn a_qos_above_the_servers_maximum_qos_is_refused_or_fails() {
    for maximum in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let too_high = if maximum == QoS::AtMostOnce {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        let props = ConnAckProperties {
            maximum_qos: Some(maximum),
            ..ConnAckProperties::default()
        };
        let limits = ServerLimits {
            maximum_qos: maximum,
            ..v5_limits()
        };
        let mut pair = Pair::new(config(V5));
        pair.open();
        pair.send(connack(false, props.clone()));
        assert_eq!(
            pair.events(),
            vec![connected(false, limits.clone(), props.clone())]
        );

        let (r, sent) = pair.command(|s, now| s.publish(now, msg("q", "x", too_high)));
        assert_eq!(r, Err(SessionError::QoSNotSupported(too_high)));
        assert_eq!(sent, vec![]);
        let (ok, sent) = publish_now(&mut pair, msg("q", "x", maximum));
        assert_eq!(ok.id.get(), 1);
        let qos_pid = QosPid::new(maximum, pid(1));
        assert_eq!(sent, vec![publish("q", "x", qos_pid, false)]);
        if maximum == QoS::AtLeastOnce {
            pair.send_ack(PacketType::PubAck, ack(1));
        }
        assert_eq!(pair.events(), vec![completed(ok)]);

        let (bad, good, sent, events) =
            queued_then_connected(&mut pair, &props, msg("q", "x", too_high));
        if maximum == QoS::AtLeastOnce {
            assert_eq!(
                sent,
                vec![publish(
                    "ok/2",
                    "fine",
                    QosPid::AtLeastOnce(good.packet_id.unwrap()),
                    false
                )]
            );
            assert_eq!(
                events,
                vec![
                    connected(false, limits, props),
                    failed(bad, PublishFailure::QoSNotSupported(too_high)),
                ]
            );
        } else {
            // The queued QoS 1 "ok/2" is above a Maximum QoS of 0 too.
            assert_eq!(sent, vec![]);
            assert_eq!(
                events,
                vec![
                    connected(false, limits, props),
                    failed(bad, PublishFailure::QoSNotSupported(too_high)),
                    failed(good, PublishFailure::QoSNotSupported(QoS::AtLeastOnce)),
                ]
            );
        }
    }
}

// [MQTT-3.2.2-14]: with Retain Available 0 the client must not send a PUBLISH with RETAIN 1.
#[test]
fn retain_on_a_server_without_retained_messages_is_refused_or_fails() {
    let props = ConnAckProperties {
        retain_available: Some(false),
        ..ConnAckProperties::default()
    };
    let limits = ServerLimits {
        retain_available: false,
        ..v5_limits()
    };
    let mut pair = Pair::new(config(V5));
    pair.open();
    pair.send(connack(false, props.clone()));
    assert_eq!(
        pair.events(),
        vec![connected(false, limits.clone(), props.clone())]
    );
    let retained = || {
        let mut m = msg("r", "kept", QoS::AtLeastOnce);
        m.retain = true;
        m
    };
    let (r, sent) = pair.command(|s, now| s.publish(now, retained()));
    assert_eq!(r, Err(SessionError::RetainNotSupported));
    assert_eq!(sent, vec![]);
    let (ok, sent) = publish_now(&mut pair, msg("r", "not kept", QoS::AtLeastOnce));
    assert_eq!(
        sent,
        vec![publish("r", "not kept", QosPid::AtLeastOnce(pid(1)), false)]
    );
    pair.send_ack(PacketType::PubAck, ack(1));
    assert_eq!(pair.events(), vec![completed(ok)]);

    let (bad, good, sent, events) = queued_then_connected(&mut pair, &props, retained());
    assert_eq!(
        sent,
        vec![publish(
            "ok/2",
            "fine",
            QosPid::AtLeastOnce(good.packet_id.unwrap()),
            false
        )]
    );
    assert_eq!(
        events,
        vec![
            connected(false, limits, props),
            failed(bad, PublishFailure::RetainNotSupported),
        ]
    );
}

// The transmit buffer limit: publishes stop once the caller's buffer holds that many bytes and
// go on once it has been written out; an acknowledgement is never held back by it.
#[test]
fn publishes_wait_for_a_full_transmit_buffer_to_be_written() {
    let mut c = config(V5);
    c.transmit_buffer_limit = 1000;
    assert!(matches!(
        mqtt_session::Session::<mqtt_session::testing::VirtualInstant>::new(Config {
            transmit_buffer_limit: 0,
            ..c.clone()
        }),
        Err(mqtt_session::ConfigError::TransmitBufferLimitZero)
    ));
    let mut pair = Pair::new(c);
    pair.open();
    pair.send(connack(false, ConnAckProperties::default()));
    pair.events();
    let payload = "x".repeat(400);
    for i in 0..5 {
        pair.session
            .publish(pair.now, msg(&format!("t/{i}"), &payload, QoS::AtLeastOnce))
            .unwrap();
    }
    let decode_all = |buf: &BytesMut| {
        let mut bytes = buf.clone();
        let decoder = Decoder::new(V5, Role::Client);
        let mut packets = Vec::new();
        while let Ok(Decoded::Packet(p)) = decoder.decode(&mut bytes) {
            packets.push(p);
        }
        assert!(bytes.is_empty());
        packets
    };
    let topics = |packets: &[Packet]| -> Vec<String> {
        packets
            .iter()
            .map(|p| match p {
                Packet::Publish(p) => p.topic.to_string(),
                Packet::PubAck(a) => format!("PUBACK {}", a.packet_id),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    };
    // Each PUBLISH is about 410 bytes: two leave the buffer below 1000, the third fills it.
    let mut buf = BytesMut::new();
    while pair.session.poll_transmit(pair.now, &mut buf) > 0 {}
    assert!(buf.len() >= 1000);
    assert_eq!(topics(&decode_all(&buf)), ["t/0", "t/1", "t/2"]);

    // A QoS 1 message from the server: its PUBACK goes into the full buffer all the same.
    let mut inbound = BytesMut::new();
    publish("in", "m", QosPid::AtLeastOnce(pid(9)), false)
        .encode(V5, &mut inbound)
        .unwrap();
    pair.session.handle_read(pair.now, &mut inbound);
    while pair.session.poll_transmit(pair.now, &mut buf) > 0 {}
    assert_eq!(topics(&decode_all(&buf)), ["t/0", "t/1", "t/2", "PUBACK 9"]);

    // Written out: the rest go.
    buf.clear();
    while pair.session.poll_transmit(pair.now, &mut buf) > 0 {}
    assert_eq!(topics(&decode_all(&buf)), ["t/3", "t/4"]);
}
