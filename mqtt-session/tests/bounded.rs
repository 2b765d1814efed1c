//! Fixed-capacity tables (`Bounded`): the capacities are announced in CONNECT, and a full
//! table refuses new work with a clear error instead of growing.
#![allow(clippy::unwrap_used, clippy::panic)]

use core::num::NonZeroU16;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::{Pair, VirtualInstant};
use mqtt_session::{
    Bounded, Config, DisconnectReason, Error, Event, Growable, OutboundMessage, ProtocolViolation,
    Session,
};

/// The small capacities of the crate docs' example: 8 publishes out, 8 in, 4 aliases each
/// way, 4 subscribe and 4 unsubscribe requests.
type Small = Bounded<8, 8, 4, 4>;

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn config(version: ProtocolVersion) -> Config {
    let mut c = Config::new(version, MqttString::try_from("bounded").unwrap());
    c.backoff.initial = Duration::ZERO;
    match version {
        ProtocolVersion::V5 => c.session_expiry_interval = 3600,
        ProtocolVersion::V311 => c.clean_start = false,
    }
    c
}

fn message(qos: QoS) -> OutboundMessage {
    OutboundMessage::new(TopicName::try_from("t").unwrap(), "p", qos)
}

fn filter(text: &'static str) -> SubscribeFilter {
    SubscribeFilter::new(TopicFilter::try_from(text).unwrap(), QoS::AtLeastOnce)
}

fn suback(packet_id: PacketId) -> SubAck {
    SubAck {
        packet_id,
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: Default::default(),
    }
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

#[test]
fn connect_announces_the_inbound_and_alias_capacities() {
    let mut c = config(ProtocolVersion::V5);
    c.topic_alias_maximum = 100;
    c.outbound_topic_aliases = 100;
    let mut pair = Pair::<Small>::with_tables(c);
    let connect = pair.open();
    // [MQTT-3.3.4-9]: the server may not send more unacknowledged than this; the table holds it.
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(8));
    // [MQTT-3.3.2-9]: nor use an alias above this.
    assert_eq!(connect.properties.topic_alias_maximum, Some(4));
    assert_eq!(pair.session.config().outbound_topic_aliases, 4);
}

#[test]
fn a_full_outbound_table_refuses_a_publish_instead_of_growing() {
    for version in VERSIONS {
        let mut pair = Pair::<Small>::with_tables(config(version));
        // Offline, 8 publishes of any QoS fill the table.
        for n in 1..=8u16 {
            let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][usize::from(n % 3)];
            let (r, _) = pair.command(|s, now| s.publish(now, message(qos)));
            r.unwrap();
        }
        assert!(!pair.session.can_publish());
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let (r, _) = pair.command(|s, now| s.publish(now, message(qos)));
            assert_eq!(r, Err(Error::QueueFull), "{version} {qos:?}");
        }
        assert_eq!(pair.session.pending_publishes(), 8);
        // Connected, the two QoS 0 ones are written and leave; the QoS 1/2 ones stay in flight
        // and count, so two more fill it again.
        pair.connect();
        assert_eq!(pair.session.pending_publishes(), 6, "{version}");
        for _ in 0..2 {
            let (r, _) = pair.command(|s, now| s.publish(now, message(QoS::AtLeastOnce)));
            r.unwrap();
        }
        let (r, _) = pair.command(|s, now| s.publish(now, message(QoS::AtLeastOnce)));
        assert_eq!(r, Err(Error::QueueFull), "{version}");
        // A completed flow makes room (Packet Identifier 1 is the first QoS 1 publish).
        pair.send_ack(PacketType::PubAck, PubResponse::new(pid(1)));
        assert!(pair.session.can_publish(), "{version}");
        let (r, _) = pair.command(|s, now| s.publish(now, message(QoS::AtLeastOnce)));
        assert!(r.is_ok(), "{version}: {r:?}");
    }
}

#[test]
fn a_full_request_table_refuses_a_subscribe_or_unsubscribe() {
    for version in VERSIONS {
        let mut pair = Pair::<Small>::with_tables(config(version));
        for n in 0..4 {
            let (r, _) = pair.command(|s, now| {
                s.subscribe(now, vec![filter("a/+")], Default::default())
                    .map(|_| ())
            });
            assert_eq!(r, Ok(()), "{version} subscribe {n}");
            let (r, _) = pair.command(|s, now| {
                s.unsubscribe(
                    now,
                    vec![TopicFilter::try_from("b").unwrap()],
                    Default::default(),
                )
                .map(|_| ())
            });
            assert_eq!(r, Ok(()), "{version} unsubscribe {n}");
        }
        let (r, _) = pair.command(|s, now| {
            s.subscribe(now, vec![filter("a/+")], Default::default())
                .map(|_| ())
        });
        assert_eq!(r, Err(Error::RequestsFull), "{version}");
        let (r, _) = pair.command(|s, now| {
            s.unsubscribe(
                now,
                vec![TopicFilter::try_from("b").unwrap()],
                Default::default(),
            )
            .map(|_| ())
        });
        assert_eq!(r, Err(Error::RequestsFull), "{version}");
        // The refused request took no Packet Identifier: publishes still get all 8.
        for _ in 0..8 {
            let (r, _) = pair.command(|s, now| s.publish(now, message(QoS::AtLeastOnce)));
            assert!(r.is_ok(), "{version}: {r:?}");
        }
    }
}

#[test]
fn an_inbound_message_beyond_the_capacity_ends_the_connection() {
    for version in VERSIONS {
        let mut pair = Pair::<Small>::with_tables(config(version));
        pair.connect();
        pair.events();
        // QoS 2 messages whose PUBREL the server holds back each keep an entry.
        for n in 1..=8 {
            let publish = Publish::new(
                TopicName::try_from("in").unwrap(),
                "x",
                QosPid::ExactlyOnce(pid(n)),
            );
            let sent = pair.send(publish);
            assert!(matches!(sent.as_slice(), [Packet::PubRec(_)]), "{version}");
        }
        assert!(pair.session.is_connected());
        let ninth = Publish::new(
            TopicName::try_from("in").unwrap(),
            "x",
            QosPid::ExactlyOnce(pid(9)),
        );
        pair.send(ninth);
        assert!(!pair.session.is_connected(), "{version}");
        let ended = pair.events().into_iter().any(|e| {
            matches!(
                e,
                Event::Disconnected(DisconnectReason::ProtocolError(
                    ReasonCode::ReceiveMaximumExceeded,
                    ProtocolViolation::ReceiveMaximumExceeded(8)
                ))
            )
        });
        assert!(ended, "{version}");
    }
}

#[test]
fn resubscribing_waits_for_room_in_the_request_table() {
    for version in VERSIONS {
        // One request at a time: three granted subscriptions are made again one by one
        // after the server lost the session.
        let mut pair = Pair::<Bounded<8, 8, 4, 1>>::with_tables(config(version));
        pair.connect();
        for (n, f) in ["a", "b", "c"].into_iter().enumerate() {
            let (r, _) =
                pair.command(|s, now| s.subscribe(now, vec![filter(f)], Default::default()));
            r.unwrap();
            let id = pid(n as u16 + 1);
            pair.send(suback(id));
        }
        pair.drop_connection();
        let sent = pair.connect_with(ConnAck::default());
        let mut made = Vec::new();
        let mut sent = sent;
        for _ in 0..3 {
            let [Packet::Subscribe(s)] = sent.as_slice() else {
                panic!("{version}: one SUBSCRIBE at a time, got {sent:?}");
            };
            made.push(s.filters[0].filter.as_str().to_owned());
            sent = pair.send(suback(s.packet_id));
        }
        assert!(sent.is_empty(), "{version}: {sent:?}");
        assert_eq!(made, ["a", "b", "c"], "{version}");
        assert_eq!(pair.session.subscriptions().count(), 3);
    }
}

/// The static size of a session: with fixed tables it holds them inline, and stays that size
/// whatever the traffic. `cargo test -p mqtt-session --test bounded -- --nocapture` prints it.
#[test]
fn size_of_a_bounded_session() {
    type Growing = Session<VirtualInstant, Growable>;
    type Small = Session<VirtualInstant, Bounded<8, 8, 4, 4>>;
    type StdSmall = Session<std::time::Instant, Bounded<8, 8, 4, 4>>;
    let (growing, small, std_small) = (
        core::mem::size_of::<Growing>(),
        core::mem::size_of::<Small>(),
        core::mem::size_of::<StdSmall>(),
    );
    println!("size_of Session<_, Growable>: {growing} bytes (its tables on the heap)");
    println!("size_of Session<VirtualInstant, Bounded<8, 8, 4, 4>>: {small} bytes");
    println!("size_of Session<std::time::Instant, Bounded<8, 8, 4, 4>>: {std_small} bytes");
    assert!(small > growing, "the fixed tables are inside the session");
}
