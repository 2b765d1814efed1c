//! The offline queue: publishes accepted while disconnected wait, in order, for the next
//! connection; the queue has a bound; a v5 Message Expiry Interval counts down while a message
//! waits.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::Bytes;
use core::num::NonZeroU16;
use core::time::Duration;
use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    Config, DisconnectReason, Error as SessionError, Event, OutboundMessage, PublishFailure,
    PublishTicket, Timer,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];
const V5: ProtocolVersion = ProtocolVersion::V5;

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    let mut c = Config::new(version, MqttString::try_from("queue").unwrap());
    c.backoff.initial = Duration::ZERO;
    c
}

fn msg(t: &'static str, qos: QoS) -> OutboundMessage {
    OutboundMessage::new(TopicName::new(t).unwrap(), t, qos)
}

fn expiring(t: &'static str, qos: QoS, secs: u32) -> OutboundMessage {
    let mut m = msg(t, qos);
    m.properties.message_expiry_interval = Some(secs);
    m
}

/// The PUBLISH the server receives for `msg(t, ..)`, with a Message Expiry Interval if
/// `expiry` is set.
fn publish(t: &'static str, qos_pid: QosPid, dup: bool, expiry: Option<u32>) -> Packet {
    let mut p = Publish::new(
        TopicName::new(t).unwrap(),
        Bytes::from_static(t.as_bytes()),
        qos_pid,
    );
    p.dup = dup;
    p.properties.message_expiry_interval = expiry;
    Packet::Publish(p)
}

fn queue(pair: &mut Pair, message: OutboundMessage) -> PublishTicket {
    let (ticket, sent) = pair.command(|s, now| s.publish(now, message));
    assert_eq!(sent, vec![], "a publish was written while disconnected");
    ticket.unwrap()
}

fn completed(ticket: PublishTicket) -> Event {
    Event::PublishCompleted {
        id: ticket.id,
        packet_id: ticket.packet_id,
        reason_code: ReasonCode::Success,
    }
}

fn expired(ticket: PublishTicket) -> Event {
    Event::PublishFailed {
        id: ticket.id,
        packet_id: ticket.packet_id,
        reason: PublishFailure::Expired,
    }
}

/// Opens the transport; checks that only CONNECT goes before the CONNACK.
fn open(pair: &mut Pair) {
    pair.open = true;
    pair.session.handle_connected(pair.now);
    let sent = pair.pump();
    assert!(matches!(&sent[..], [Packet::Connect(_)]), "{sent:?}");
}

/// Accepts the connection; returns what was sent after the CONNACK and the events after the
/// Connected event.
fn accept(pair: &mut Pair, connack: ConnAck) -> (Vec<Packet>, Vec<Event>) {
    let sent = pair.send(connack);
    let mut events = pair.events();
    assert!(
        matches!(events.first(), Some(Event::Connected(_))),
        "{events:?}"
    );
    events.remove(0);
    (sent, events)
}

// Publishes accepted while disconnected go after the CONNACK (never before it: v5
// [MQTT-3.1.4-6] / the first packet is CONNECT, [MQTT-3.1.0-1]), in the order they were made
// ([MQTT-4.6.0-1] keeps the order of QoS 1/2 publishes; QoS 0 ones keep their place too).
#[test]
fn publishes_made_while_disconnected_are_sent_in_order_after_the_connack() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version));
        let a = queue(&mut pair, msg("o/1", QoS::AtMostOnce));
        let b = queue(&mut pair, msg("o/2", QoS::AtLeastOnce));
        let c = queue(&mut pair, msg("o/3", QoS::ExactlyOnce));
        let d = queue(&mut pair, msg("o/4", QoS::AtMostOnce));
        assert_eq!(
            [a.packet_id, b.packet_id, c.packet_id, d.packet_id],
            [None, Some(pid(1)), Some(pid(2)), None]
        );
        assert_eq!(pair.session.queued(), 4);
        assert_eq!(pair.events(), vec![]);

        open(&mut pair);
        let (sent, events) = accept(&mut pair, ConnAck::default());
        assert_eq!(
            sent,
            vec![
                publish("o/1", QosPid::AtMostOnce, false, None),
                publish("o/2", QosPid::AtLeastOnce(pid(1)), false, None),
                publish("o/3", QosPid::ExactlyOnce(pid(2)), false, None),
                publish("o/4", QosPid::AtMostOnce, false, None),
            ],
            "{version}"
        );
        assert_eq!(events, vec![completed(a), completed(d)]);
        assert_eq!(pair.session.queued(), 0);

        // After a drop: the unacknowledged ones start over (no session), the new one follows.
        pair.drop_connection();
        pair.events();
        let e = queue(&mut pair, msg("o/5", QoS::AtLeastOnce));
        open(&mut pair);
        let (sent, events) = accept(&mut pair, ConnAck::default());
        assert_eq!(
            sent,
            vec![
                publish("o/2", QosPid::AtLeastOnce(pid(1)), false, None),
                publish("o/3", QosPid::ExactlyOnce(pid(2)), false, None),
                publish("o/5", QosPid::AtLeastOnce(pid(3)), false, None),
            ],
            "{version}"
        );
        assert_eq!(events, vec![]);
        pair.send_ack(PacketType::PubAck, PubResponse::new(pid(1)));
        pair.send_ack(PacketType::PubRec, PubResponse::new(pid(2)));
        pair.send_ack(PacketType::PubComp, PubResponse::new(pid(2)));
        pair.send_ack(PacketType::PubAck, PubResponse::new(pid(3)));
        assert_eq!(
            pair.events(),
            vec![completed(b), completed(c), completed(e)]
        );
    }
}

// `Config::max_queued` bounds the queue: beyond it `publish` says QueueFull (backpressure),
// takes no id, and nothing already accepted is dropped.
#[test]
fn a_full_queue_refuses_new_publishes_and_loses_nothing() {
    for version in VERSIONS {
        let mut c = config(version);
        c.max_queued = 3;
        let mut pair = Pair::new(c);
        let a = queue(&mut pair, msg("f/1", QoS::AtLeastOnce));
        let b = queue(&mut pair, msg("f/2", QoS::AtMostOnce));
        let c = queue(&mut pair, msg("f/3", QoS::ExactlyOnce));
        assert!(!pair.session.can_publish());
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let (r, sent) = pair.command(|s, now| s.publish(now, msg("f/4", qos)));
            assert_eq!(r, Err(SessionError::QueueFull));
            assert_eq!(sent, vec![]);
        }
        assert_eq!(pair.session.queued(), 3);
        assert_eq!(pair.events(), vec![]);

        open(&mut pair);
        let (sent, events) = accept(&mut pair, ConnAck::default());
        assert_eq!(
            sent,
            vec![
                publish("f/1", QosPid::AtLeastOnce(pid(1)), false, None),
                publish("f/2", QosPid::AtMostOnce, false, None),
                publish("f/3", QosPid::ExactlyOnce(pid(2)), false, None),
            ]
        );
        assert_eq!(events, vec![completed(b)]);
        // In flight is not queued: there is room again, and the refused publishes took no
        // PublishId and no Packet Identifier.
        assert!(pair.session.can_publish());
        let (d, sent) = pair.command(|s, now| s.publish(now, msg("f/4", QoS::AtLeastOnce)));
        let d = d.unwrap();
        assert_eq!((d.id.get(), d.packet_id), (4, Some(pid(3))));
        assert_eq!(
            sent,
            vec![publish("f/4", QosPid::AtLeastOnce(pid(3)), false, None)]
        );
        assert_eq!([a.id.get(), b.id.get(), c.id.get()], [1, 2, 3]);
    }
}

// v5 3.3.2.3.3: the Message Expiry Interval is the message's lifetime. While it waits in the
// client it counts down: sent with what is left (rounded up to a whole second, as a server
// forwards it with the time it waited taken off, [MQTT-3.3.2-6]), or dropped and reported
// once it runs out.
#[test]
fn message_expiry_counts_down_while_a_message_waits_for_a_connection() {
    let mut pair = Pair::new(config(V5));
    let a = queue(&mut pair, expiring("e/a", QoS::AtLeastOnce, 10));
    let b = queue(&mut pair, expiring("e/b", QoS::AtMostOnce, 3));
    let c = queue(&mut pair, expiring("e/c", QoS::ExactlyOnce, 5));
    let d = queue(&mut pair, msg("e/d", QoS::AtLeastOnce));

    // B runs out at 3 s.
    assert_eq!(
        pair.advance_to_next_timeout(),
        Some((Timer::MessageExpiry, vec![]))
    );
    assert_eq!(pair.now.0, Duration::from_secs(3));
    assert_eq!(pair.events(), vec![expired(b)]);
    // At 4.5 s the connection comes up: A has 5.5 s left (sent as 6), C 0.5 s (sent as 1).
    assert_eq!(pair.advance(Duration::from_millis(1500)), vec![]);
    assert_eq!(pair.events(), vec![]);
    open(&mut pair);
    let (sent, events) = accept(&mut pair, ConnAck::default());
    assert_eq!(
        sent,
        vec![
            publish("e/a", QosPid::AtLeastOnce(pid(1)), false, Some(6)),
            publish("e/c", QosPid::ExactlyOnce(pid(2)), false, Some(1)),
            publish("e/d", QosPid::AtLeastOnce(pid(3)), false, None),
        ]
    );
    assert_eq!(events, vec![]);
    // Once sent, expiry no longer applies in the client ([MQTT-4.3.3-7] for QoS 2).
    assert_eq!(pair.advance(Duration::from_secs(20)), vec![]);
    assert_eq!(pair.events(), vec![]);
    pair.send_ack(PacketType::PubAck, PubResponse::new(pid(1)));
    pair.send_ack(PacketType::PubRec, PubResponse::new(pid(2)));
    pair.send_ack(PacketType::PubComp, PubResponse::new(pid(2)));
    pair.send_ack(PacketType::PubAck, PubResponse::new(pid(3)));
    assert_eq!(
        pair.events(),
        vec![completed(a), completed(c), completed(d)]
    );
    assert_eq!(pair.session.pending_publishes(), 0);
}

// The same countdown for a message waiting for flow-control room (the server's Receive
// Maximum, [MQTT-3.3.4-7]).
#[test]
fn message_expiry_counts_down_while_a_message_waits_for_flow_control_room() {
    let mut pair = Pair::new(config(V5));
    open(&mut pair);
    accept(
        &mut pair,
        ConnAck {
            properties: ConnAckProperties {
                receive_maximum: NonZeroU16::new(1),
                ..ConnAckProperties::default()
            },
            ..ConnAck::default()
        },
    );
    let (a, sent) = pair.command(|s, now| s.publish(now, msg("w/a", QoS::AtLeastOnce)));
    let a = a.unwrap();
    assert_eq!(
        sent,
        vec![publish("w/a", QosPid::AtLeastOnce(pid(1)), false, None)]
    );
    let b = queue(&mut pair, expiring("w/b", QoS::AtLeastOnce, 2));
    let c = queue(&mut pair, expiring("w/c", QoS::AtLeastOnce, 9));
    assert_eq!(pair.advance(Duration::from_secs(2)), vec![]);
    assert_eq!(pair.events(), vec![expired(b)]);
    assert_eq!(pair.advance(Duration::from_millis(500)), vec![]);
    assert_eq!(
        pair.send_ack(PacketType::PubAck, PubResponse::new(pid(1))),
        vec![publish("w/c", QosPid::AtLeastOnce(pid(3)), false, Some(7))]
    );
    assert_eq!(pair.events(), vec![completed(a)]);
    pair.send_ack(PacketType::PubAck, PubResponse::new(pid(3)));
    assert_eq!(pair.events(), vec![completed(c)]);
}

// v3.1.1 has no Message Expiry: the property is not sent and the message never expires.
#[test]
fn v311_messages_do_not_expire() {
    let mut pair = Pair::new(config(ProtocolVersion::V311));
    let a = queue(&mut pair, expiring("e/a", QoS::AtLeastOnce, 1));
    assert_eq!(pair.session.next_timeout(), None);
    assert_eq!(pair.advance(Duration::from_secs(3600)), vec![]);
    assert_eq!(pair.events(), vec![]);
    open(&mut pair);
    let (sent, _) = accept(&mut pair, ConnAck::default());
    assert_eq!(
        sent,
        vec![publish("e/a", QosPid::AtLeastOnce(pid(1)), false, None)]
    );
    pair.send_ack(PacketType::PubAck, PubResponse::new(pid(1)));
    assert_eq!(pair.events(), vec![completed(a)]);
}

// [MQTT-4.3.3-7]: Message Expiry must not be applied once a QoS 2 PUBLISH has been sent, and
// [MQTT-4.4.0-1] the unacknowledged PUBLISH is resent on a resumed session. A sent message
// that waits for room after a reconnect with a smaller Receive Maximum is not "queued" again
// for expiry, even when another waiting message's expiry timer fires.
#[test]
fn a_message_already_sent_never_expires_while_it_waits_to_be_resent() {
    let mut c = config(V5);
    c.session_expiry_interval = 3600;
    let mut pair = Pair::new(c);
    open(&mut pair);
    accept(&mut pair, ConnAck::default());
    let (a, sent) = pair.command(|s, now| s.publish(now, expiring("x/a", QoS::ExactlyOnce, 5)));
    assert_eq!(
        sent,
        vec![publish("x/a", QosPid::ExactlyOnce(pid(1)), false, Some(5))]
    );
    let (b, sent) = pair.command(|s, now| s.publish(now, expiring("x/b", QoS::ExactlyOnce, 5)));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        sent,
        vec![publish("x/b", QosPid::ExactlyOnce(pid(2)), false, Some(5))]
    );
    pair.drop_connection();
    assert_eq!(
        pair.events(),
        vec![
            Event::Disconnected(DisconnectReason::TransportClosed),
            Event::ReconnectScheduled {
                delay: Duration::ZERO,
                attempt: 1
            },
        ]
    );
    open(&mut pair);
    let (sent, events) = accept(
        &mut pair,
        ConnAck {
            session_present: true,
            properties: ConnAckProperties {
                receive_maximum: NonZeroU16::new(1),
                ..ConnAckProperties::default()
            },
            ..ConnAck::default()
        },
    );
    assert_eq!(
        sent,
        vec![publish("x/a", QosPid::ExactlyOnce(pid(1)), true, Some(5))]
    );
    assert_eq!(events, vec![]);
    // A new message with an expiry of its own waits behind B.
    let d = queue(&mut pair, expiring("x/d", QoS::AtLeastOnce, 100));
    // B's original expiry passes while it waits to be resent: nothing happens to it.
    assert_eq!(pair.advance(Duration::from_secs(6)), vec![]);
    assert_eq!(pair.events(), vec![]);
    assert_eq!(pair.session.pending_publishes(), 3);
    // A completes: B is resent (DUP) as it was first sent.
    pair.send_ack(PacketType::PubRec, PubResponse::new(pid(1)));
    let sent = pair.send_ack(PacketType::PubComp, PubResponse::new(pid(1)));
    assert_eq!(
        sent,
        vec![publish("x/b", QosPid::ExactlyOnce(pid(2)), true, Some(5))]
    );
    assert_eq!(pair.events(), vec![completed(a)]);
    pair.send_ack(PacketType::PubRec, PubResponse::new(pid(2)));
    let sent = pair.send_ack(PacketType::PubComp, PubResponse::new(pid(2)));
    assert_eq!(
        sent,
        vec![publish("x/d", QosPid::AtLeastOnce(pid(3)), false, Some(94))]
    );
    assert_eq!(pair.events(), vec![completed(b)]);
    pair.send_ack(PacketType::PubAck, PubResponse::new(pid(3)));
    assert_eq!(pair.events(), vec![completed(d)]);
}
