//! Topic aliases (v5 section 3.3.2.3.4): the server's to us, resolved and checked; ours to the
//! server, assigned by the session, never carried over from one connection to the next.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use core::num::NonZeroU16;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    Config, Connected, DisconnectReason, Event, Message, OutboundMessage, ProtocolViolation,
    PublishTicket, ServerLimits,
};

const V5: ProtocolVersion = ProtocolVersion::V5;
const CLIENT_ID: &str = "alias";

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn alias(n: u16) -> Option<NonZeroU16> {
    NonZeroU16::new(n)
}

fn config() -> Config {
    let mut c = Config::new(V5, MqttString::try_from(CLIENT_ID).unwrap());
    c.backoff.initial = Duration::ZERO;
    c
}

fn topic(s: &'static str) -> TopicName {
    if s.is_empty() {
        TopicName::empty()
    } else {
        TopicName::new(s).unwrap()
    }
}

/// A PUBLISH with `topic` (empty for none) and Topic Alias `alias_n` (0 for none).
fn publish(t: &'static str, alias_n: u16, qos_pid: QosPid, dup: bool) -> Publish {
    let mut p = Publish::new(topic(t), Bytes::from_static(b"x"), qos_pid);
    p.dup = dup;
    p.properties.topic_alias = alias(alias_n);
    p
}

fn message(publish: Publish) -> Event {
    Event::Message(Message {
        publish,
        ack_token: None,
    })
}

fn completed(ticket: PublishTicket) -> Event {
    Event::PublishCompleted {
        id: ticket.id,
        packet_id: ticket.packet_id,
        reason_code: ReasonCode::Success,
    }
}

fn protocol_error(reason: ReasonCode, error: impl Into<ProtocolViolation>) -> Vec<Event> {
    vec![
        Event::Disconnected(DisconnectReason::ProtocolError(reason, error.into())),
        Event::ReconnectScheduled {
            delay: Duration::ZERO,
            attempt: 1,
        },
    ]
}

fn server_alias_maximum(n: u16) -> ConnAckProperties {
    ConnAckProperties {
        topic_alias_maximum: Some(n),
        ..ConnAckProperties::default()
    }
}

/// Opens and accepts the connection; checks the Connected event.
fn connect(pair: &mut Pair, session_present: bool, properties: ConnAckProperties) -> Vec<Packet> {
    pair.open();
    let sent = pair.send(ConnAck {
        session_present,
        reason_code: ReasonCode::Success,
        properties: properties.clone(),
    });
    let limits = ServerLimits {
        receive_maximum: u16::MAX,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: properties.maximum_packet_size.map(|m| m.get()),
        topic_alias_maximum: properties.topic_alias_maximum.unwrap_or(0),
        wildcard_subscription_available: true,
        subscription_identifier_available: true,
        shared_subscription_available: true,
        keep_alive: Duration::from_secs(60),
        session_expiry_interval: None,
    };
    let events = pair.events();
    assert_eq!(
        events.first(),
        Some(&Event::Connected(Box::new(Connected {
            session_present,
            limits,
            client_id: MqttString::try_from(CLIENT_ID).unwrap(),
            properties,
        })))
    );
    assert_eq!(events.len(), 1, "{events:?}");
    sent
}

fn inbound_pair(maximum: u16) -> Pair {
    let mut c = config();
    c.topic_alias_maximum = maximum;
    let mut pair = Pair::new(c);
    let connect_packet = pair.open();
    assert_eq!(
        connect_packet.properties.topic_alias_maximum,
        (maximum != 0).then_some(maximum)
    );
    pair.send(ConnAck::default());
    pair.events();
    pair
}

// [MQTT-3.3.2-10]: the client accepts every Topic Alias from 1 to the Topic Alias Maximum it
// sent. A PUBLISH with a topic and an alias sets the mapping; one with an empty topic and the
// alias means that topic (3.3.2.3.4); the server may map an alias to another topic.
#[test]
fn an_inbound_alias_set_then_used_with_an_empty_topic_resolves_to_its_topic() {
    let mut pair = inbound_pair(5);
    let set = publish("a/b", 1, QosPid::AtMostOnce, false);
    assert_eq!(pair.send(set.clone()), vec![]);
    assert_eq!(pair.events(), vec![message(set)]);

    let used = publish("", 1, QosPid::AtLeastOnce(pid(1)), false);
    assert_eq!(
        pair.send(used),
        vec![Packet::PubAck(PubResponse::new(pid(1)))]
    );
    assert_eq!(
        pair.events(),
        vec![message(publish(
            "a/b",
            1,
            QosPid::AtLeastOnce(pid(1)),
            false
        ))]
    );

    // The highest alias we allow, and a remapping of alias 1.
    pair.send(publish("top", 5, QosPid::AtMostOnce, false));
    pair.send(publish("c/d", 1, QosPid::AtMostOnce, false));
    pair.events();
    pair.send(publish("", 5, QosPid::AtMostOnce, false));
    pair.send(publish("", 1, QosPid::AtMostOnce, false));
    assert_eq!(
        pair.events(),
        vec![
            message(publish("top", 5, QosPid::AtMostOnce, false)),
            message(publish("c/d", 1, QosPid::AtMostOnce, false)),
        ]
    );
    assert!(pair.session.is_connected());
}

// An inbound alias keeps its own copy of the topic, not a slice of the buffer the PUBLISH was
// read into: otherwise every alias holds a whole read buffer alive (each as large as the
// largest message that set an alias), long after the message was handled.
#[test]
fn an_inbound_alias_keeps_no_reference_into_the_read_buffer() {
    let mut pair = inbound_pair(5);
    let mut wire = BytesMut::new();
    let mut big = publish("a/b", 1, QosPid::AtMostOnce, false);
    big.payload = Bytes::from(vec![7u8; 64 * 1024]);
    Packet::from(big).encode(V5, &mut wire).unwrap();
    let mut read = BytesMut::with_capacity(128 * 1024);
    read.extend_from_slice(&wire);
    let range = read.as_ptr() as usize..read.as_ptr() as usize + read.capacity();
    pair.session.handle_read(pair.now, &mut read);
    assert_eq!(pair.pump(), vec![]);
    let events = pair.events();
    assert!(matches!(&events[..], [Event::Message(_)]), "{events:?}");
    // The application is done with the message.
    drop(events);
    assert!(read.is_empty());
    assert!(
        read.try_reclaim(128 * 1024),
        "something still holds the read buffer after the message was dropped"
    );

    // The alias resolves to a topic outside that buffer.
    assert_eq!(pair.send(publish("", 1, QosPid::AtMostOnce, false)), vec![]);
    let events = pair.events();
    let [Event::Message(m)] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(m.publish.topic.as_str(), "a/b");
    let at = m.publish.topic.as_bytes().as_ptr() as usize;
    assert!(
        !range.contains(&at),
        "the alias's topic points into the read buffer"
    );
}

// [MQTT-3.3.2-8]: a Topic Alias of 0 is a Protocol Error, refused by the codec; the client
// sends DISCONNECT 0x94 Topic Alias invalid.
#[test]
fn inbound_alias_0_is_disconnect_0x94() {
    let mut pair = inbound_pair(5);
    // PUBLISH QoS 0, topic "a/b", properties: Topic Alias (0x23) = 0, payload "x".
    let raw = [
        0x30, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x03, 0x23, 0x00, 0x00, b'x',
    ];
    assert_eq!(
        pair.send_bytes(&raw),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::TopicAliasInvalid
        ))]
    );
    assert_eq!(
        pair.events(),
        protocol_error(
            ReasonCode::TopicAliasInvalid,
            mqtt_proto::Error::TopicAliasZero
        )
    );
    assert!(!pair.open);
}

// [MQTT-3.3.2-11], [MQTT-3.1.2-26]: the server must not send a Topic Alias above the client's
// Topic Alias Maximum; [MQTT-3.1.2-27]: none at all when the client sent none (0). The client
// sends DISCONNECT 0x94 Topic Alias invalid (3.3.2.3.4).
//
// The event carries the invalid Topic Alias value as the rule broken.
#[test]
fn an_inbound_alias_above_our_maximum_is_disconnect_0x94() {
    for (maximum, used) in [(5, 6), (0, 1)] {
        let mut pair = inbound_pair(maximum);
        assert_eq!(
            pair.send(publish("a/b", used, QosPid::AtMostOnce, false)),
            vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::TopicAliasInvalid
            ))]
        );
        assert_eq!(
            pair.events(),
            protocol_error(
                ReasonCode::TopicAliasInvalid,
                mqtt_proto::Error::InvalidPropertyValue(mqtt_proto::PropertyId::TopicAlias)
            )
        );
        assert!(!pair.open);
    }
}

// 3.3.2.3.4: an empty topic with an alias the server never mapped is a Protocol Error:
// DISCONNECT 0x82. [MQTT-3.3.2-7]: mappings do not carry over from one connection to the
// next, so an alias of the previous connection is unknown too.
#[test]
fn an_unknown_inbound_alias_with_an_empty_topic_is_disconnect_0x82() {
    let mut pair = inbound_pair(5);
    assert_eq!(
        pair.send(publish("", 2, QosPid::AtMostOnce, false)),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(
        pair.events(),
        protocol_error(
            ReasonCode::ProtocolError,
            ProtocolViolation::UnknownTopicAlias(2)
        )
    );

    // A mapping of the previous connection.
    let mut pair = inbound_pair(5);
    pair.send(publish("a/b", 1, QosPid::AtMostOnce, false));
    pair.drop_connection();
    pair.open();
    pair.send(ConnAck::default());
    pair.events();
    assert_eq!(
        pair.send(publish("", 1, QosPid::AtMostOnce, false)),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert_eq!(
        pair.events(),
        vec![
            Event::Disconnected(DisconnectReason::ProtocolError(
                ReasonCode::ProtocolError,
                ProtocolViolation::UnknownTopicAlias(1)
            )),
            Event::ReconnectScheduled {
                delay: Duration::ZERO,
                attempt: 2,
            },
        ]
    );
}

fn send_qos0(pair: &mut Pair, t: &'static str) -> Vec<Packet> {
    let (ticket, sent) =
        pair.command(|s, now| s.publish(now, OutboundMessage::new(topic(t), "x", QoS::AtMostOnce)));
    assert_eq!(pair.events(), vec![completed(ticket.unwrap())]);
    sent
}

// Outbound aliases: the first PUBLISH to a topic carries the topic and a new alias, the next
// ones an empty topic and the alias (3.3.2.3.4); never more aliases than the server's Topic
// Alias Maximum ([MQTT-3.2.2-17], [MQTT-3.3.2-9]), the least recently used one replaced beyond
// it; none when the server allows none ([MQTT-3.2.2-18]) or the client configured none.
#[test]
fn outbound_aliases_are_assigned_reused_and_replaced_least_recently_used_first() {
    let mut c = config();
    c.outbound_topic_aliases = 5;
    let mut pair = Pair::new(c);
    assert_eq!(connect(&mut pair, false, server_alias_maximum(2)), vec![]);

    let expect =
        |t: &'static str, a: u16| vec![Packet::Publish(publish(t, a, QosPid::AtMostOnce, false))];
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("t/1", 1));
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("", 1));
    assert_eq!(send_qos0(&mut pair, "t/2"), expect("t/2", 2));
    // Beyond the server's maximum of 2: t/1 was used least recently, its alias is replaced.
    assert_eq!(send_qos0(&mut pair, "t/3"), expect("t/3", 1));
    assert_eq!(send_qos0(&mut pair, "t/2"), expect("", 2));
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("t/1", 1));
    assert_eq!(send_qos0(&mut pair, "t/3"), expect("t/3", 2));
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("", 1));

    // A server that takes no aliases gets none.
    let mut c = config();
    c.outbound_topic_aliases = 5;
    let mut pair = Pair::new(c);
    connect(&mut pair, false, ConnAckProperties::default());
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("t/1", 0));
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("t/1", 0));

    // A client configured without aliases uses none.
    let mut c = config();
    c.outbound_topic_aliases = 0;
    let mut pair = Pair::new(c);
    connect(&mut pair, false, server_alias_maximum(10));
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("t/1", 0));
    assert_eq!(send_qos0(&mut pair, "t/1"), expect("t/1", 0));
}

// [MQTT-3.3.2-7]: alias mappings do not carry over to the next connection. A message queued
// while disconnected is sent with its full topic (paho.golang's "queued messages with topic
// aliases" issue), also to a server that takes no aliases any more; a PUBLISH resent after a
// resumed session never relies on an alias of the previous connection.
#[test]
fn outbound_aliases_are_reset_on_reconnect() {
    let mut c = config();
    c.outbound_topic_aliases = 2;
    c.session_expiry_interval = 3600;
    let mut pair = Pair::new(c);
    connect(&mut pair, false, server_alias_maximum(2));
    let q1 = |pair: &mut Pair| {
        let (t, sent) = pair.command(|s, now| {
            s.publish(
                now,
                OutboundMessage::new(topic("t/1"), "x", QoS::AtLeastOnce),
            )
        });
        (t.unwrap(), sent)
    };
    let ack = |pair: &mut Pair, n: u16| pair.send_ack(PacketType::PubAck, PubResponse::new(pid(n)));

    let (a, sent) = q1(&mut pair);
    assert_eq!(
        sent,
        vec![Packet::Publish(publish(
            "t/1",
            1,
            QosPid::AtLeastOnce(pid(1)),
            false
        ))]
    );
    let (b, sent) = q1(&mut pair);
    assert_eq!(
        sent,
        vec![Packet::Publish(publish(
            "",
            1,
            QosPid::AtLeastOnce(pid(2)),
            false
        ))]
    );
    ack(&mut pair, 1);
    ack(&mut pair, 2);
    assert_eq!(pair.events(), vec![completed(a), completed(b)]);

    // Queued while disconnected, sent on the next connection with the topic.
    pair.drop_connection();
    pair.events();
    let (c3, sent) = q1(&mut pair);
    assert_eq!(sent, vec![]);
    assert_eq!(
        connect(&mut pair, true, server_alias_maximum(2)),
        vec![Packet::Publish(publish(
            "t/1",
            1,
            QosPid::AtLeastOnce(pid(3)),
            false
        ))]
    );
    // Sent with an empty topic on this connection, then the connection drops before PUBACK.
    let (c4, sent) = q1(&mut pair);
    assert_eq!(
        sent,
        vec![Packet::Publish(publish(
            "",
            1,
            QosPid::AtLeastOnce(pid(4)),
            false
        ))]
    );
    ack(&mut pair, 3);
    assert_eq!(pair.events(), vec![completed(c3)]);
    pair.drop_connection();
    pair.events();
    // Resumed: the resent PUBLISH (DUP) carries its topic again.
    assert_eq!(
        connect(&mut pair, true, server_alias_maximum(2)),
        vec![Packet::Publish(publish(
            "t/1",
            1,
            QosPid::AtLeastOnce(pid(4)),
            true
        ))]
    );
    ack(&mut pair, 4);
    assert_eq!(pair.events(), vec![completed(c4)]);

    // Queued, then the server takes no aliases any more: topic, no alias.
    pair.drop_connection();
    pair.events();
    let (c5, sent) = q1(&mut pair);
    assert_eq!(sent, vec![]);
    assert_eq!(
        connect(&mut pair, true, ConnAckProperties::default()),
        vec![Packet::Publish(publish(
            "t/1",
            0,
            QosPid::AtLeastOnce(pid(5)),
            false
        ))]
    );
    ack(&mut pair, 5);
    assert_eq!(pair.events(), vec![completed(c5)]);
}

// [MQTT-3.2.2-15]: the client must not send a packet larger than the server's Maximum Packet
// Size. A message that fits without an alias is accepted; the Topic Alias property the
// session adds when it writes the message (3 bytes) must not push it over the limit: it is
// then sent without an alias.
#[test]
fn an_alias_never_makes_a_publish_larger_than_the_servers_maximum_packet_size() {
    let exact = Publish::new(topic("t/1"), "x", QosPid::AtLeastOnce(pid(1)));
    let size = Packet::Publish(exact.clone()).encoded_len(V5).unwrap();
    let mut c = config();
    c.outbound_topic_aliases = 2;
    let mut pair = Pair::new(c);
    connect(
        &mut pair,
        false,
        ConnAckProperties {
            topic_alias_maximum: Some(2),
            maximum_packet_size: core::num::NonZeroU32::new(size as u32),
            ..ConnAckProperties::default()
        },
    );
    let (ticket, sent) = pair.command(|s, now| {
        s.publish(
            now,
            OutboundMessage::new(topic("t/1"), "x", QoS::AtLeastOnce),
        )
    });
    let ticket = ticket.unwrap();
    for p in &sent {
        assert!(
            p.encoded_len(V5).unwrap() <= size,
            "{p:?} is over {size} bytes"
        );
    }
    assert_eq!(sent, vec![Packet::Publish(exact)]);
    pair.send_ack(PacketType::PubAck, PubResponse::new(pid(1)));
    assert_eq!(pair.events(), vec![completed(ticket)]);
}
