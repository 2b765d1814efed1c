//! A first conversation through the scripted broker: connect, subscribe, publish at every QoS
//! both ways, for both protocol versions.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{Config, Event, OutboundMessage};

fn config(version: ProtocolVersion) -> Config {
    Config::new(version, MqttString::try_from("smoke").unwrap())
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

#[test]
fn a_whole_conversation_in_both_versions() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut pair = Pair::new(config(version));
        let connect = pair.open();
        assert_eq!(connect.protocol_version, version);
        assert!(connect.clean_start);
        assert!(pair.send(ConnAck::default()).is_empty());
        assert!(matches!(pair.events()[..], [Event::Connected(_)]));

        let ((_, keys), sent) = pair.command(|s, now| {
            s.subscribe(
                now,
                vec![SubscribeFilter::new(
                    TopicFilter::new("a/#").unwrap(),
                    QoS::ExactlyOnce,
                )],
                Default::default(),
            )
            .unwrap()
        });
        let [Packet::Subscribe(sub)] = &sent[..] else {
            panic!("{sent:?}")
        };
        assert_eq!(sub.packet_id, pid(1));
        let suback = SubAck {
            packet_id: pid(1),
            reason_codes: vec![ReasonCode::GrantedQoS2],
            properties: Default::default(),
        };
        pair.send(suback);
        let events = pair.events();
        let [Event::Subscribed {
            keys: got, results, ..
        }] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(got, &keys);
        assert_eq!(results, &[Ok(QoS::ExactlyOnce)]);

        // QoS 1 out.
        let (ticket, sent) = pair.command(|s, now| {
            s.publish(
                now,
                OutboundMessage::new(TopicName::new("a/1").unwrap(), "x", QoS::AtLeastOnce),
            )
            .unwrap()
        });
        assert_eq!(ticket.packet_id, Some(pid(2)));
        assert!(matches!(&sent[..], [Packet::Publish(p)] if p.packet_id() == Some(pid(2))));
        pair.send(Packet::PubAck(PubResponse::new(pid(2))));
        let events = pair.events();
        assert!(
            matches!(&events[..], [Event::PublishCompleted { id, .. }] if *id == ticket.id),
            "{events:?}"
        );

        // QoS 2 out.
        let (ticket, _) = pair.command(|s, now| {
            s.publish(
                now,
                OutboundMessage::new(TopicName::new("a/2").unwrap(), "y", QoS::ExactlyOnce),
            )
            .unwrap()
        });
        let id = ticket.packet_id.unwrap();
        let sent = pair.send(Packet::PubRec(PubResponse::new(id)));
        assert!(
            matches!(&sent[..], [Packet::PubRel(r)] if r.packet_id == id),
            "{sent:?}"
        );
        assert!(pair.events().is_empty());
        pair.send(Packet::PubComp(PubResponse::new(id)));
        assert!(matches!(
            &pair.events()[..],
            [Event::PublishCompleted { .. }]
        ));

        // QoS 2 in, with a duplicate before PUBREL: delivered once.
        let incoming = Publish::new(
            TopicName::new("a/3").unwrap(),
            "z",
            QosPid::ExactlyOnce(pid(7)),
        );
        let sent = pair.send(incoming.clone());
        assert!(matches!(&sent[..], [Packet::PubRec(r)] if r.packet_id == pid(7)));
        let mut dup = incoming.clone();
        dup.dup = true;
        let sent = pair.send(dup);
        assert!(matches!(&sent[..], [Packet::PubRec(_)]));
        let events = pair.events();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Message(_)))
                .count(),
            1,
            "{events:?}"
        );
        let Event::Message(m) = &events[0] else {
            panic!()
        };
        assert_eq!(pair.session.route(&m.publish).collect::<Vec<_>>(), keys);
        let sent = pair.send(Packet::PubRel(PubResponse::new(pid(7))));
        assert!(
            matches!(&sent[..], [Packet::PubComp(c)] if c.packet_id == pid(7) && c.reason_code == ReasonCode::Success)
        );
    }
}
