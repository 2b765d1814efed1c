//! Outbound publishes at each QoS: QoS 0 completes once written, QoS 1 on PUBACK, QoS 2 on
//! PUBCOMP after PUBREC / PUBREL; v5 error reason codes fail the publish; unknown and duplicate
//! acknowledgements.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{
    Config, Connected, Event, OutboundMessage, PublishFailure, PublishTicket, ServerLimits,
};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn topic(name: &'static str) -> TopicName {
    TopicName::new(name).unwrap()
}

fn config(version: ProtocolVersion) -> Config {
    Config::new(version, MqttString::new("outbound").unwrap())
}

/// A configuration whose session survives a reconnect.
fn resumable(version: ProtocolVersion) -> Config {
    let mut config = config(version);
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

fn publish(pair: &mut Pair, qos: QoS) -> (PublishTicket, Vec<Packet>) {
    let (ticket, sent) =
        pair.command(|s, now| s.publish(now, OutboundMessage::new(topic("out/1"), "payload", qos)));
    (ticket.unwrap(), sent)
}

/// The PUBLISH the session writes for `publish(.., qos)` with Packet Identifier `id`.
fn expected_publish(qos: QoS, id: u16) -> Packet {
    Packet::Publish(Publish::new(
        topic("out/1"),
        "payload",
        QosPid::new(qos, pid(id)),
    ))
}

fn completed(ticket: PublishTicket, reason_code: ReasonCode) -> Event {
    Event::PublishCompleted {
        id: ticket.id,
        packet_id: ticket.packet_id,
        reason_code,
    }
}

fn ack_with(id: u16, reason_code: ReasonCode, reason_string: &'static str) -> PubResponse {
    let mut ack = PubResponse::with_reason(pid(id), reason_code);
    ack.properties.reason_string = Some(MqttString::new(reason_string).unwrap());
    ack
}

#[test]
fn qos0_completes_once_written() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let (ticket, sent) = publish(&mut pair, QoS::AtMostOnce);
        assert_eq!(ticket.packet_id, None);
        // v5 [MQTT-2.2.1-2]; v3.1.1 [MQTT-2.3.1-5]: no Packet Identifier at QoS 0.
        assert_eq!(
            sent,
            vec![Packet::Publish(Publish::new(
                topic("out/1"),
                "payload",
                QosPid::AtMostOnce
            ))]
        );
        assert_eq!(pair.events(), vec![completed(ticket, ReasonCode::Success)]);
        assert_eq!(pair.session.pending_publishes(), 0);
    }
}

#[test]
fn qos0_queued_offline_completes_when_written_after_connack() {
    for version in VERSIONS {
        let mut pair = Pair::new(config(version));
        let (ticket, sent) = publish(&mut pair, QoS::AtMostOnce);
        assert!(sent.is_empty());
        assert!(pair.events().is_empty(), "not written yet, not completed");
        assert_eq!(pair.session.queued(), 1);

        pair.open();
        let sent = pair.send(ConnAck::default());
        assert_eq!(
            sent,
            vec![Packet::Publish(Publish::new(
                topic("out/1"),
                "payload",
                QosPid::AtMostOnce
            ))]
        );
        let limits = ServerLimits {
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            wildcard_subscription_available: true,
            subscription_identifier_available: version == ProtocolVersion::V5,
            shared_subscription_available: true,
            keep_alive: core::time::Duration::from_secs(60),
            session_expiry_interval: None,
        };
        assert_eq!(
            pair.events(),
            vec![
                Event::Connected(Box::new(Connected {
                    session_present: false,
                    limits,
                    client_id: MqttString::new("outbound").unwrap(),
                    properties: ConnAckProperties::default(),
                })),
                completed(ticket, ReasonCode::Success),
            ]
        );
    }
}

#[test]
fn qos1_completes_on_puback_with_its_reason_code() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let (ticket, sent) = publish(&mut pair, QoS::AtLeastOnce);
        assert_eq!(ticket.packet_id, Some(pid(1)));
        // v5 [MQTT-4.3.2-1], [MQTT-4.3.2-2]; v3.1.1 [MQTT-4.3.2-1]: a fresh id, QoS 1, DUP 0.
        assert_eq!(sent, vec![expected_publish(QoS::AtLeastOnce, 1)]);
        // [MQTT-4.3.2-3]: unacknowledged until the PUBACK.
        assert!(pair.events().is_empty());
        assert_eq!(pair.session.inflight(), 1);

        let (ack, reason) = match version {
            ProtocolVersion::V5 => (
                PubResponse::with_reason(pid(1), ReasonCode::NoMatchingSubscribers),
                ReasonCode::NoMatchingSubscribers,
            ),
            ProtocolVersion::V311 => (PubResponse::new(pid(1)), ReasonCode::Success),
        };
        assert!(pair.send(Packet::PubAck(ack)).is_empty());
        assert_eq!(pair.events(), vec![completed(ticket, reason)]);
        assert_eq!(pair.session.inflight(), 0);
        assert_eq!(pair.session.pending_publishes(), 0);
    }
}

#[test]
fn v5_puback_with_an_error_fails_the_publish() {
    let mut pair = connected(resumable(ProtocolVersion::V5));
    let (ticket, _) = publish(&mut pair, QoS::AtLeastOnce);
    let ack = ack_with(1, ReasonCode::QuotaExceeded, "over quota");
    assert!(pair.send(Packet::PubAck(ack.clone())).is_empty());
    assert_eq!(
        pair.events(),
        vec![Event::PublishFailed {
            id: ticket.id,
            packet_id: Some(pid(1)),
            reason: PublishFailure::Rejected(ReasonCode::QuotaExceeded, ack.properties),
        }]
    );
    assert_eq!(pair.session.inflight(), 0);
    assert_eq!(pair.session.pending_publishes(), 0);

    // [MQTT-4.4.0-2]: a PUBLISH answered with 0x80 or more counts as acknowledged and is never
    // sent again, not even when the session is resumed.
    pair.drop_connection();
    pair.events();
    pair.open();
    let sent = pair.send(ConnAck {
        session_present: true,
        ..ConnAck::default()
    });
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn v5_pubrec_with_an_error_fails_the_publish_and_sends_no_pubrel() {
    let mut pair = connected(resumable(ProtocolVersion::V5));
    let (ticket, sent) = publish(&mut pair, QoS::ExactlyOnce);
    assert_eq!(sent, vec![expected_publish(QoS::ExactlyOnce, 1)]);
    let rec = ack_with(1, ReasonCode::NotAuthorized, "no");
    // [MQTT-4.3.3-4]: PUBREL only answers a PUBREC below 0x80.
    assert!(pair.send(Packet::PubRec(rec.clone())).is_empty());
    assert_eq!(
        pair.events(),
        vec![Event::PublishFailed {
            id: ticket.id,
            packet_id: Some(pid(1)),
            reason: PublishFailure::Rejected(ReasonCode::NotAuthorized, rec.properties),
        }]
    );
    assert_eq!(pair.session.inflight(), 0);
    assert_eq!(pair.session.pending_publishes(), 0);

    // [MQTT-4.4.0-2]: neither the PUBLISH nor a PUBREL is sent again after a resumed session.
    pair.drop_connection();
    pair.events();
    pair.open();
    let sent = pair.send(ConnAck {
        session_present: true,
        ..ConnAck::default()
    });
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn qos2_full_flow() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let (ticket, sent) = publish(&mut pair, QoS::ExactlyOnce);
        assert_eq!(ticket.packet_id, Some(pid(1)));
        // v5 [MQTT-4.3.3-1], [MQTT-4.3.3-2]; v3.1.1 [MQTT-4.3.3-1].
        assert_eq!(sent, vec![expected_publish(QoS::ExactlyOnce, 1)]);
        assert!(pair.events().is_empty());

        // [MQTT-4.3.3-4]: PUBREL with the same Packet Identifier.
        assert_eq!(
            pair.send(Packet::PubRec(PubResponse::new(pid(1)))),
            vec![Packet::PubRel(PubResponse::new(pid(1)))]
        );
        // [MQTT-4.3.3-5]: unacknowledged until the PUBCOMP.
        assert!(pair.events().is_empty());
        assert_eq!(pair.session.inflight(), 1);

        assert!(pair
            .send(Packet::PubComp(PubResponse::new(pid(1))))
            .is_empty());
        assert_eq!(pair.events(), vec![completed(ticket, ReasonCode::Success)]);
        assert_eq!(pair.session.inflight(), 0);
        assert_eq!(pair.session.pending_publishes(), 0);
    }
}

#[test]
fn v5_qos2_completion_reports_the_pubrec_reason_code() {
    let mut pair = connected(config(ProtocolVersion::V5));
    let (ticket, _) = publish(&mut pair, QoS::ExactlyOnce);
    assert_eq!(
        pair.send(Packet::PubRec(PubResponse::with_reason(
            pid(1),
            ReasonCode::NoMatchingSubscribers
        ))),
        vec![Packet::PubRel(PubResponse::new(pid(1)))]
    );
    pair.send(Packet::PubComp(PubResponse::new(pid(1))));
    assert_eq!(
        pair.events(),
        vec![completed(ticket, ReasonCode::NoMatchingSubscribers)]
    );
}

#[test]
fn qos2_after_pubrel_only_the_pubrel_is_resent() {
    for version in VERSIONS {
        let mut pair = connected(resumable(version));
        let (ticket, _) = publish(&mut pair, QoS::ExactlyOnce);
        pair.send(Packet::PubRec(PubResponse::new(pid(1))));
        pair.drop_connection();
        pair.events();
        assert!(!pair.open().clean_start);
        // [MQTT-4.4.0-1]: the PUBREL is sent again; [MQTT-4.3.3-6]: the PUBLISH never is.
        let sent = pair.send(ConnAck {
            session_present: true,
            ..ConnAck::default()
        });
        assert_eq!(sent, vec![Packet::PubRel(PubResponse::new(pid(1)))]);
        pair.events();
        pair.send(Packet::PubComp(PubResponse::new(pid(1))));
        assert_eq!(pair.events(), vec![completed(ticket, ReasonCode::Success)]);
    }
}

#[test]
fn a_repeated_pubrec_is_answered_with_the_pubrel_again() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let (ticket, _) = publish(&mut pair, QoS::ExactlyOnce);
        let pubrel = vec![Packet::PubRel(PubResponse::new(pid(1)))];
        assert_eq!(pair.send(Packet::PubRec(PubResponse::new(pid(1)))), pubrel);
        assert_eq!(pair.send(Packet::PubRec(PubResponse::new(pid(1)))), pubrel);
        assert!(pair.events().is_empty());
        pair.send(Packet::PubComp(PubResponse::new(pid(1))));
        assert_eq!(pair.events(), vec![completed(ticket, ReasonCode::Success)]);
    }
}

#[test]
fn pubrec_for_an_unknown_id_is_answered_with_pubrel_not_found() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let sent = pair.send(Packet::PubRec(PubResponse::new(pid(7))));
        // v5 section 4.3.3: PUBREL 0x92 Packet Identifier not found lets the server finish;
        // v3.1.1 has no reason code.
        let expected = match version {
            ProtocolVersion::V5 => {
                PubResponse::with_reason(pid(7), ReasonCode::PacketIdentifierNotFound)
            }
            ProtocolVersion::V311 => PubResponse::new(pid(7)),
        };
        assert_eq!(sent, vec![Packet::PubRel(expected)]);
        assert!(pair.events().is_empty());
        assert!(pair.session.is_connected());

        // A PUBREC for a completed QoS 2 publish is unknown too.
        let (ticket, _) = publish(&mut pair, QoS::ExactlyOnce);
        let id = ticket.packet_id.unwrap();
        pair.send(Packet::PubRec(PubResponse::new(id)));
        pair.send(Packet::PubComp(PubResponse::new(id)));
        assert_eq!(pair.events(), vec![completed(ticket, ReasonCode::Success)]);
        let sent = pair.send(Packet::PubRec(PubResponse::new(id)));
        let expected = match version {
            ProtocolVersion::V5 => {
                PubResponse::with_reason(id, ReasonCode::PacketIdentifierNotFound)
            }
            ProtocolVersion::V311 => PubResponse::new(id),
        };
        assert_eq!(sent, vec![Packet::PubRel(expected)]);
        assert!(pair.events().is_empty());
    }
}

#[test]
fn duplicate_and_unknown_acknowledgements_are_ignored() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let (q1, _) = publish(&mut pair, QoS::AtLeastOnce);
        let (q2, _) = publish(&mut pair, QoS::ExactlyOnce);
        let q1_id = q1.packet_id.unwrap();
        let q2_id = q2.packet_id.unwrap();

        // A PUBACK for the QoS 2 publish, a PUBCOMP before its PUBREL, acknowledgements of ids
        // never used: nothing written, nothing reported, nothing completed.
        assert!(pair
            .send(Packet::PubAck(PubResponse::new(q2_id)))
            .is_empty());
        assert!(pair
            .send(Packet::PubComp(PubResponse::new(q2_id)))
            .is_empty());
        assert!(pair
            .send(Packet::PubAck(PubResponse::new(pid(99))))
            .is_empty());
        assert!(pair
            .send(Packet::PubComp(PubResponse::new(pid(99))))
            .is_empty());
        assert!(pair.events().is_empty());
        assert_eq!(pair.session.inflight(), 2);

        assert!(pair
            .send(Packet::PubAck(PubResponse::new(q1_id)))
            .is_empty());
        assert_eq!(pair.events(), vec![completed(q1, ReasonCode::Success)]);
        // The duplicate PUBACK.
        assert!(pair
            .send(Packet::PubAck(PubResponse::new(q1_id)))
            .is_empty());
        assert!(pair.events().is_empty());

        pair.send(Packet::PubRec(PubResponse::new(q2_id)));
        pair.send(Packet::PubComp(PubResponse::new(q2_id)));
        assert_eq!(pair.events(), vec![completed(q2, ReasonCode::Success)]);
        // The duplicate PUBCOMP.
        assert!(pair
            .send(Packet::PubComp(PubResponse::new(q2_id)))
            .is_empty());
        assert!(pair.events().is_empty());
        assert!(pair.session.is_connected());
        assert_eq!(pair.session.inflight(), 0);
    }
}

#[test]
fn acknowledgements_out_of_order_complete_the_right_publishes() {
    for version in VERSIONS {
        let mut pair = connected(config(version));
        let tickets: Vec<PublishTicket> = (0..3)
            .map(|_| publish(&mut pair, QoS::AtLeastOnce).0)
            .collect();
        for &i in &[2usize, 0, 1] {
            let id = tickets[i].packet_id.unwrap();
            assert!(pair.send(Packet::PubAck(PubResponse::new(id))).is_empty());
            assert_eq!(
                pair.events(),
                vec![completed(tickets[i], ReasonCode::Success)]
            );
        }
    }
}
