//! Inbound publishes: QoS 1 answered with PUBACK, QoS 2 with PUBREC and delivered exactly once,
//! PUBREL for an unknown id, and manual acknowledgements that still go out in arrival order.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{AckToken, Config, Error as SessionError, Event, Message, OutboundMessage};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn topic(name: &'static str) -> TopicName {
    TopicName::new(name).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    Config::new(version, MqttString::new("inbound").unwrap())
}

/// Manual acknowledgements, and a session that survives a reconnect.
fn manual(version: ProtocolVersion) -> Config {
    let mut config = config(version);
    config.manual_acks = true;
    config.clean_start = false;
    config.session_expiry_interval = 3600;
    config
}

fn connected(config: Config) -> Pair {
    let mut pair = Pair::new(config);
    assert!(pair.connect().is_empty());
    assert!(matches!(&pair.events()[..], [Event::Connected(_)]));
    pair
}

fn incoming(qos_pid: QosPid, payload: &'static str) -> Publish {
    Publish::new(topic("in/1"), payload, qos_pid)
}

fn message(publish: Publish, ack_token: Option<AckToken>) -> Event {
    Event::Message(Message { publish, ack_token })
}

fn puback(id: u16) -> Packet {
    Packet::PubAck(PubResponse::new(pid(id)))
}

fn pubrec(id: u16) -> Packet {
    Packet::PubRec(PubResponse::new(pid(id)))
}

fn pubcomp(id: u16) -> Packet {
    Packet::PubComp(PubResponse::new(pid(id)))
}

fn pubrel(id: u16) -> Packet {
    Packet::PubRel(PubResponse::new(pid(id)))
}

/// Opens the next connection, which the server answers with Session Present 1; returns the
/// CONNECT.
fn resume(pair: &mut Pair) -> Connect {
    let connect = pair.open();
    assert!(pair
        .send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        })
        .is_empty());
    pair.events();
    connect
}

/// The one message event of `events`, and its token.
fn token_of(events: &[Event]) -> AckToken {
    match events {
        [Event::Message(Message {
            ack_token: Some(token),
            ..
        })] => *token,
        other => panic!("expected one message with a token, got {other:?}"),
    }
}

#[test]
fn qos0_is_delivered_without_an_acknowledgement() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let p = incoming(QosPid::AtMostOnce, "zero");
        assert!(pair.send(p.clone()).is_empty());
        assert_eq!(pair.events(), vec![message(p, None)]);
    }
}

#[test]
fn qos1_is_acknowledged_with_puback() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let p = incoming(QosPid::AtLeastOnce(pid(7)), "one");
        // v5 [MQTT-4.3.2-4]; v3.1.1 [MQTT-4.3.2-2], [MQTT-3.3.4-1]: PUBACK with its id.
        assert_eq!(pair.send(p.clone()), vec![puback(7)]);
        assert_eq!(pair.events(), vec![message(p, None)]);

        // v5 [MQTT-4.3.2-5]: after the PUBACK the same id is a new message.
        let again = incoming(QosPid::AtLeastOnce(pid(7)), "one again");
        assert_eq!(pair.send(again.clone()), vec![puback(7)]);
        assert_eq!(pair.events(), vec![message(again, None)]);
    }
}

#[test]
fn qos2_is_delivered_exactly_once() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let p = incoming(QosPid::ExactlyOnce(pid(9)), "two");
        // v5 [MQTT-4.3.3-8]; v3.1.1 [MQTT-4.3.3-2]: PUBREC with its id.
        assert_eq!(pair.send(p.clone()), vec![pubrec(9)]);
        assert_eq!(pair.events(), vec![message(p.clone(), None)]);

        // v5 [MQTT-4.3.3-10]: resends before the PUBREL get PUBREC and are not delivered again.
        let mut dup = p.clone();
        dup.dup = true;
        for _ in 0..3 {
            assert_eq!(pair.send(dup.clone()), vec![pubrec(9)]);
            assert!(pair.events().is_empty());
        }

        // v5 [MQTT-4.3.3-11]: PUBCOMP with the same id.
        assert_eq!(pair.send(pubrel(9)), vec![pubcomp(9)]);
        assert!(pair.events().is_empty());

        // v5 [MQTT-4.3.3-12]: after the PUBCOMP the same id is a new message.
        let next = incoming(QosPid::ExactlyOnce(pid(9)), "two again");
        assert_eq!(pair.send(next.clone()), vec![pubrec(9)]);
        assert_eq!(pair.events(), vec![message(next, None)]);
    }
}

#[test]
fn interleaved_qos2_flows_are_kept_apart() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let a = incoming(QosPid::ExactlyOnce(pid(1)), "a");
        let b = incoming(QosPid::ExactlyOnce(pid(2)), "b");
        assert_eq!(pair.send(a.clone()), vec![pubrec(1)]);
        assert_eq!(pair.send(b.clone()), vec![pubrec(2)]);
        assert_eq!(
            pair.events(),
            vec![message(a.clone(), None), message(b, None)]
        );
        assert_eq!(pair.send(pubrel(2)), vec![pubcomp(2)]);
        // `a` is still awaiting its PUBREL: a resend is not delivered again.
        let mut dup = a;
        dup.dup = true;
        assert_eq!(pair.send(dup), vec![pubrec(1)]);
        assert!(pair.events().is_empty());
        assert_eq!(pair.send(pubrel(1)), vec![pubcomp(1)]);
        assert!(pair.events().is_empty());
    }
}

#[test]
fn pubrel_for_an_unknown_id_is_answered_and_the_connection_stays_up() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        // v5: PUBCOMP 0x92 Packet Identifier not found (section 4.3.3); v3.1.1 has no reason code.
        let expected = match version {
            ProtocolVersion::V5 => Packet::PubComp(PubResponse::with_reason(
                pid(5),
                ReasonCode::PacketIdentifierNotFound,
            )),
            ProtocolVersion::V311 => pubcomp(5),
        };
        assert_eq!(pair.send(pubrel(5)), vec![expected.clone()]);
        assert!(pair.events().is_empty());
        assert!(pair.session.is_connected());

        // A PUBREL repeated after its PUBCOMP is unknown too.
        let p = incoming(QosPid::ExactlyOnce(pid(5)), "x");
        assert_eq!(pair.send(p.clone()), vec![pubrec(5)]);
        assert_eq!(pair.send(pubrel(5)), vec![pubcomp(5)]);
        assert_eq!(pair.send(pubrel(5)), vec![expected]);
        assert_eq!(pair.events(), vec![message(p, None)]);

        // The connection still works both ways.
        let q = incoming(QosPid::AtLeastOnce(pid(6)), "y");
        assert_eq!(pair.send(q.clone()), vec![puback(6)]);
        assert_eq!(pair.events(), vec![message(q, None)]);
        let (ticket, sent) = pair.command(|s, now| {
            s.publish(
                now,
                OutboundMessage::new(topic("out"), "z", QoS::AtMostOnce),
            )
        });
        ticket.unwrap();
        assert_eq!(sent.len(), 1);
        assert!(pair.session.is_connected());
    }
}

#[test]
fn manual_acks_go_out_in_arrival_order() {
    for version in VERSIONS {
        let mut pair = connected(manual(version));
        let packets = [
            incoming(QosPid::AtLeastOnce(pid(1)), "1"),
            incoming(QosPid::ExactlyOnce(pid(2)), "2"),
            incoming(QosPid::AtLeastOnce(pid(3)), "3"),
            incoming(QosPid::ExactlyOnce(pid(4)), "4"),
        ];
        let mut tokens = Vec::new();
        for p in &packets {
            // No acknowledgement until the application gives it.
            assert!(pair.send(p.clone()).is_empty());
            let events = pair.events();
            let token = token_of(&events);
            assert_eq!(events, vec![message(p.clone(), Some(token))]);
            tokens.push(token);
        }
        // QoS 0 needs no acknowledgement: no token.
        let zero = incoming(QosPid::AtMostOnce, "0");
        assert!(pair.send(zero.clone()).is_empty());
        assert_eq!(pair.events(), vec![message(zero, None)]);

        // A resend of the unacknowledged QoS 2 message: neither delivered again nor answered
        // before the application acknowledges it.
        let mut dup = packets[1].clone();
        dup.dup = true;
        assert!(pair.send(dup).is_empty());
        assert!(pair.events().is_empty());

        // Acknowledged out of order, they go out in arrival order
        // [MQTT-4.6.0-2] (PUBACKs), [MQTT-4.6.0-3] (PUBRECs).
        let ack = |pair: &mut Pair, token| pair.command(|s, now| s.ack(now, token));
        assert_eq!(ack(&mut pair, tokens[2]), (Ok(()), vec![]));
        assert_eq!(ack(&mut pair, tokens[3]), (Ok(()), vec![]));
        assert_eq!(ack(&mut pair, tokens[0]), (Ok(()), vec![puback(1)]));
        assert_eq!(
            ack(&mut pair, tokens[1]),
            (Ok(()), vec![pubrec(2), puback(3), pubrec(4)])
        );
        assert!(pair.events().is_empty());

        // A token is used once.
        for &token in &tokens {
            assert_eq!(
                ack(&mut pair, token),
                (Err(SessionError::UnknownAckToken), vec![])
            );
        }

        // Once acknowledged, a QoS 2 resend is answered again, still not delivered.
        let mut dup = packets[3].clone();
        dup.dup = true;
        assert_eq!(pair.send(dup), vec![pubrec(4)]);
        assert!(pair.events().is_empty());
        assert_eq!(pair.send(pubrel(2)), vec![pubcomp(2)]);
        assert_eq!(pair.send(pubrel(4)), vec![pubcomp(4)]);
        assert!(pair.events().is_empty());
        assert!(pair.session.is_connected());
    }
}

#[test]
fn a_qos1_token_is_stale_after_a_reconnect() {
    for version in VERSIONS {
        let mut pair = connected(manual(version));
        let p = incoming(QosPid::AtLeastOnce(pid(1)), "q1");
        assert!(pair.send(p.clone()).is_empty());
        let stale = token_of(&pair.events());

        pair.drop_connection();
        pair.events();
        assert!(!resume(&mut pair).clean_start);

        // v5 [MQTT-4.4.0-1]; v3.1.1 [MQTT-4.4.0-1]: the server sends it again, with DUP.
        let mut dup = p.clone();
        dup.dup = true;
        assert!(pair.send(dup.clone()).is_empty());
        let events = pair.events();
        let fresh = token_of(&events);
        assert_ne!(fresh, stale);
        assert_eq!(events, vec![message(dup, Some(fresh))]);

        // The old token belonged to the previous connection: acknowledging with it would send
        // a PUBACK the server no longer waits for (or ack the resend before the application saw
        // it).
        let (result, sent) = pair.command(|s, now| s.ack(now, stale));
        assert_eq!(result, Err(SessionError::UnknownAckToken));
        assert!(sent.is_empty());
        let (result, sent) = pair.command(|s, now| s.ack(now, fresh));
        assert_eq!(result, Ok(()));
        assert_eq!(sent, vec![puback(1)]);
    }
}

#[test]
fn a_qos1_token_is_stale_as_soon_as_the_connection_ends() {
    for version in VERSIONS {
        let mut pair = connected(manual(version));
        assert!(pair
            .send(incoming(QosPid::AtLeastOnce(pid(1)), "q1"))
            .is_empty());
        let stale = token_of(&pair.events());
        pair.drop_connection();
        let (result, sent) = pair.command(|s, now| s.ack(now, stale));
        assert_eq!(result, Err(SessionError::UnknownAckToken));
        assert!(sent.is_empty());
    }
}

#[test]
fn a_qos2_token_survives_a_reconnect() {
    for version in VERSIONS {
        let mut pair = connected(manual(version));
        let p = incoming(QosPid::ExactlyOnce(pid(2)), "q2");
        assert!(pair.send(p.clone()).is_empty());
        let token = token_of(&pair.events());

        pair.drop_connection();
        pair.events();
        resume(&mut pair);

        // The resend is not delivered again: the application already has the message.
        let mut dup = p;
        dup.dup = true;
        assert!(pair.send(dup).is_empty());
        assert!(pair.events().is_empty());

        // Its token still releases the PUBREC.
        let (result, sent) = pair.command(|s, now| s.ack(now, token));
        assert_eq!(result, Ok(()));
        assert_eq!(sent, vec![pubrec(2)]);
        assert_eq!(pair.send(pubrel(2)), vec![pubcomp(2)]);
        assert!(pair.events().is_empty());
    }
}

#[test]
fn a_qos2_message_acknowledged_while_offline_is_answered_after_the_reconnect() {
    for version in VERSIONS {
        let mut pair = connected(manual(version));
        let p = incoming(QosPid::ExactlyOnce(pid(3)), "q2");
        assert!(pair.send(p.clone()).is_empty());
        let token = token_of(&pair.events());
        pair.drop_connection();
        pair.events();

        // Nothing can be written now; the acknowledgement is remembered.
        let (result, sent) = pair.command(|s, now| s.ack(now, token));
        assert_eq!(result, Ok(()));
        assert!(sent.is_empty());

        resume(&mut pair);
        let mut dup = p;
        dup.dup = true;
        assert_eq!(pair.send(dup), vec![pubrec(3)]);
        assert!(pair.events().is_empty());
        assert_eq!(pair.send(pubrel(3)), vec![pubcomp(3)]);
    }
}

#[test]
fn qos2_state_survives_a_resumed_session() {
    for version in VERSIONS {
        let mut config = config(version);
        config.clean_start = false;
        config.session_expiry_interval = 3600;
        let mut pair = connected(config);
        let p = incoming(QosPid::ExactlyOnce(pid(4)), "q2");
        assert_eq!(pair.send(p.clone()), vec![pubrec(4)]);
        assert_eq!(pair.events(), vec![message(p.clone(), None)]);

        pair.drop_connection();
        pair.events();
        assert!(!resume(&mut pair).clean_start);

        // The server did not get the PUBREC and sends the message again: answered, not
        // delivered twice (v5 [MQTT-4.3.3-10]; v3.1.1 [MQTT-4.3.3-2]).
        let mut dup = p;
        dup.dup = true;
        assert_eq!(pair.send(dup), vec![pubrec(4)]);
        assert!(pair.events().is_empty());
        assert_eq!(pair.send(pubrel(4)), vec![pubcomp(4)]);
        assert!(pair.events().is_empty());
    }
}

#[test]
fn qos2_state_goes_when_the_server_lost_the_session() {
    for version in VERSIONS {
        let mut config = config(version);
        config.clean_start = false;
        config.session_expiry_interval = 3600;
        let mut pair = connected(config);
        let p = incoming(QosPid::ExactlyOnce(pid(4)), "q2");
        assert_eq!(pair.send(p), vec![pubrec(4)]);
        pair.events();

        pair.drop_connection();
        pair.events();
        pair.open();
        // v5 [MQTT-3.2.2-5]: Session Present 0, the client discards its session state.
        pair.send(ConnAck::default());
        pair.events();

        // A PUBLISH with that id is a new message of the new session.
        let next = incoming(QosPid::ExactlyOnce(pid(4)), "new");
        assert_eq!(pair.send(next.clone()), vec![pubrec(4)]);
        assert_eq!(pair.events(), vec![message(next, None)]);
    }
}

// v5 [MQTT-3.4.2-2], [MQTT-3.4.2-3], [MQTT-3.5.2-2], [MQTT-3.5.2-3], [MQTT-3.6.2-2],
// [MQTT-3.6.2-3], [MQTT-3.7.2-2], [MQTT-3.7.2-3]: the client's PUBACK, PUBREC, PUBREL and
// PUBCOMP never carry a Reason String or User Properties, so they fit the smallest Maximum
// Packet Size a server can announce for them (4 bytes: the fixed header and the id).
#[test]
fn acknowledgements_carry_no_optional_properties() {
    let mut pair = Pair::new(config(ProtocolVersion::V5));
    pair.open();
    let mut connack = ConnAck::default();
    connack.properties.maximum_packet_size = core::num::NonZeroU32::new(64);
    assert_eq!(pair.send(connack), vec![]);
    pair.events();
    let mut sent = pair.send(incoming(QosPid::AtLeastOnce(pid(1)), "one"));
    sent.extend(pair.send(incoming(QosPid::ExactlyOnce(pid(2)), "two")));
    sent.extend(pair.send_ack(PacketType::PubRel, PubResponse::new(pid(2))));
    let (r, out) = pair.command(|s, now| {
        s.publish(
            now,
            OutboundMessage::new(topic("out/1"), "x", QoS::ExactlyOnce),
        )
    });
    r.unwrap();
    let Some(Packet::Publish(p)) = out.first() else {
        panic!("no PUBLISH: {out:?}");
    };
    let id = p.packet_id().unwrap();
    sent.extend(pair.send_ack(PacketType::PubRec, PubResponse::new(id)));
    assert_eq!(
        sent,
        vec![
            puback(1),
            pubrec(2),
            pubcomp(2),
            Packet::PubRel(PubResponse::new(id))
        ]
    );
    for packet in &sent {
        assert_eq!(packet.encoded_len(ProtocolVersion::V5), Ok(4), "{packet:?}");
    }
}

fn refused(kind: PacketType, id: u16, reason: ReasonCode) -> Packet {
    let ack = PubResponse::with_reason(pid(id), reason);
    match kind {
        PacketType::PubAck => Packet::PubAck(ack),
        _ => Packet::PubRec(ack),
    }
}

/// v5: the application refuses messages; the PUBACK or PUBREC carries its reason, in arrival
/// order with the acknowledgements [MQTT-4.6.0-2], [MQTT-4.6.0-3]. After a PUBREC with an
/// error, a PUBLISH with that Packet Identifier is a new message [MQTT-4.3.3-9].
#[test]
fn refused_messages_are_answered_with_the_reason_in_arrival_order() {
    let mut pair = connected(manual(ProtocolVersion::V5));
    let packets = [
        incoming(QosPid::AtLeastOnce(pid(1)), "1"),
        incoming(QosPid::ExactlyOnce(pid(2)), "2"),
        incoming(QosPid::AtLeastOnce(pid(3)), "3"),
    ];
    let mut tokens = Vec::new();
    for p in &packets {
        assert!(pair.send(p.clone()).is_empty());
        tokens.push(token_of(&pair.events()));
    }
    let reject =
        |pair: &mut Pair, token, reason| pair.command(|s, now| s.reject(now, token, reason));
    // The QoS 2 refusal waits for the message before it.
    assert_eq!(
        reject(&mut pair, tokens[1], ReasonCode::QuotaExceeded),
        (Ok(()), vec![])
    );
    assert_eq!(
        pair.command(|s, now| s.ack(now, tokens[0])),
        (
            Ok(()),
            vec![
                puback(1),
                refused(PacketType::PubRec, 2, ReasonCode::QuotaExceeded)
            ]
        )
    );
    assert_eq!(
        reject(&mut pair, tokens[2], ReasonCode::PayloadFormatInvalid),
        (
            Ok(()),
            vec![refused(
                PacketType::PubAck,
                3,
                ReasonCode::PayloadFormatInvalid
            )]
        )
    );
    // A token is used once, refused or acknowledged.
    assert_eq!(
        reject(&mut pair, tokens[1], ReasonCode::UnspecifiedError),
        (Err(SessionError::UnknownAckToken), vec![])
    );

    // No PUBREL follows the failed PUBREC, and id 2 now names a new message: it is delivered
    // (an accepted one's resend would only be answered with PUBREC).
    let again = incoming(QosPid::ExactlyOnce(pid(2)), "new");
    assert!(pair.send(again.clone()).is_empty());
    let events = pair.events();
    let token = token_of(&events);
    assert_eq!(events, vec![message(again, Some(token))]);
    assert_eq!(
        pair.command(|s, now| s.ack(now, token)),
        (Ok(()), vec![pubrec(2)])
    );
    assert_eq!(pair.send(pubrel(2)), vec![pubcomp(2)]);
    assert!(pair.session.is_connected());
}

#[test]
fn refusing_needs_v5_and_a_reason_puback_takes_as_an_error() {
    let mut pair = connected(manual(ProtocolVersion::V311));
    assert!(pair
        .send(incoming(QosPid::AtLeastOnce(pid(1)), "1"))
        .is_empty());
    let token = token_of(&pair.events());
    let (result, sent) = pair.command(|s, now| s.reject(now, token, ReasonCode::UnspecifiedError));
    assert!(matches!(result, Err(SessionError::NotAvailable(_))));
    assert!(sent.is_empty());
    // The token is still the application's.
    assert_eq!(
        pair.command(|s, now| s.ack(now, token)),
        (Ok(()), vec![puback(1)])
    );

    let mut pair = connected(manual(ProtocolVersion::V5));
    assert!(pair
        .send(incoming(QosPid::ExactlyOnce(pid(1)), "1"))
        .is_empty());
    let token = token_of(&pair.events());
    // Success and 0x10 are not refusals; 0x82 is an error PUBREC may not carry.
    for reason in [
        ReasonCode::Success,
        ReasonCode::NoMatchingSubscribers,
        ReasonCode::ProtocolError,
    ] {
        assert_eq!(
            pair.command(|s, now| s.reject(now, token, reason)),
            (Err(SessionError::RejectReason(reason)), vec![])
        );
    }
    assert_eq!(
        pair.command(|s, now| s.reject(now, token, ReasonCode::NotAuthorized)),
        (
            Ok(()),
            vec![refused(PacketType::PubRec, 1, ReasonCode::NotAuthorized)]
        )
    );
}

/// A QoS 2 message refused while the connection is down: the server sends it again on the
/// next connection, which gets the refusing PUBREC and no second delivery; only after that is
/// its Packet Identifier free for a new message [MQTT-4.3.3-9].
#[test]
fn a_qos2_message_refused_while_offline_is_refused_after_the_reconnect() {
    let mut pair = connected(manual(ProtocolVersion::V5));
    let p = incoming(QosPid::ExactlyOnce(pid(5)), "q2");
    assert!(pair.send(p.clone()).is_empty());
    let token = token_of(&pair.events());
    pair.drop_connection();
    pair.events();
    assert_eq!(
        pair.command(|s, now| s.reject(now, token, ReasonCode::UnspecifiedError)),
        (Ok(()), vec![])
    );

    resume(&mut pair);
    let mut dup = p;
    dup.dup = true;
    assert_eq!(
        pair.send(dup.clone()),
        vec![refused(PacketType::PubRec, 5, ReasonCode::UnspecifiedError)]
    );
    assert!(pair.events().is_empty());
    // Now the id is free: the same bytes again are a new message.
    assert!(pair.send(dup.clone()).is_empty());
    let events = pair.events();
    assert_eq!(events, vec![message(dup, Some(token_of(&events)))]);
}

/// [MQTT-4.3.3-13]: a QoS 2 message whose Message Expiry Interval runs out before the
/// application acknowledges it, and before PUBREL, still gets its PUBREC and PUBCOMP.
#[test]
fn an_expired_qos2_message_still_completes_its_acknowledgements() {
    let mut pair = connected(manual(ProtocolVersion::V5));
    let mut p = incoming(QosPid::ExactlyOnce(pid(6)), "short-lived");
    p.properties.message_expiry_interval = Some(1);
    assert!(pair.send(p.clone()).is_empty());
    let events = pair.events();
    let token = token_of(&events);
    assert_eq!(events, vec![message(p, Some(token))]);
    assert!(pair.advance(std::time::Duration::from_secs(5)).is_empty());
    assert_eq!(
        pair.command(|s, now| s.ack(now, token)),
        (Ok(()), vec![pubrec(6)])
    );
    assert!(pair.advance(std::time::Duration::from_secs(5)).is_empty());
    assert_eq!(pair.send(pubrel(6)), vec![pubcomp(6)]);
    assert!(pair.events().is_empty());
    assert!(pair.session.is_connected());
}
