//! PUBRELs go out in the order the PUBRECs arrived; a Packet Identifier the server reuses
//! after a finished flow names a new message; a client AUTH carries only the reason codes a
//! client may send.
#![allow(clippy::unwrap_used, clippy::panic)]

use mqtt_proto::*;
use mqtt_session::testing::Pair;
use mqtt_session::{Config, Error, Event, OutboundMessage};

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn connected(version: ProtocolVersion) -> Pair {
    let mut pair = Pair::new(Config::new(version, MqttString::try_from("order").unwrap()));
    pair.connect();
    pair.events();
    pair
}

fn pubrec_bytes(version: ProtocolVersion, ids: &[u16]) -> Vec<u8> {
    let mut buf = Vec::new();
    for &id in ids {
        PubResponse::new(pid(id))
            .encode(PacketType::PubRec, version, &mut buf)
            .unwrap();
    }
    buf
}

// [MQTT-4.6.0-4]: PUBRECs for 3, 1, 2 arriving together are answered PUBREL 3, 1, 2.
#[test]
fn pubrels_follow_the_order_of_the_pubrecs() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut pair = connected(version);
        for n in 1..=3 {
            let message =
                OutboundMessage::new(TopicName::new("o/t").unwrap(), vec![n], QoS::ExactlyOnce);
            pair.command(|s, now| s.publish(now, message).unwrap());
        }
        let sent = pair.send_bytes(&pubrec_bytes(version, &[3, 1, 2]));
        let rels: Vec<u16> = sent
            .iter()
            .map(|p| match p {
                Packet::PubRel(r) => r.packet_id.get(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(rels, [3, 1, 2], "{version}");
    }
}

// [MQTT-4.3.2-5] (v3.1.1 [MQTT-4.3.2-2]): after the PUBACK, a PUBLISH with the same id, DUP
// or not, is a new message; [MQTT-4.3.3-12]: after the PUBCOMP, likewise for QoS 2.
#[test]
fn an_identifier_reused_after_a_finished_flow_is_a_new_message() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut pair = connected(version);
        let first = Publish::new(
            TopicName::new("r/1").unwrap(),
            "a",
            QosPid::AtLeastOnce(pid(9)),
        );
        assert_eq!(
            pair.send(first.clone()),
            vec![Packet::PubAck(PubResponse::new(pid(9)))]
        );
        let mut again = Publish::new(
            TopicName::new("r/1").unwrap(),
            "b",
            QosPid::AtLeastOnce(pid(9)),
        );
        again.dup = true;
        assert_eq!(
            pair.send(again.clone()),
            vec![Packet::PubAck(PubResponse::new(pid(9)))]
        );
        let delivered: Vec<_> = pair
            .events()
            .into_iter()
            .map(|e| match e {
                Event::Message(m) => m.publish.payload,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delivered, [&b"a"[..], &b"b"[..]]);

        let q2 = Publish::new(
            TopicName::new("r/2").unwrap(),
            "c",
            QosPid::ExactlyOnce(pid(4)),
        );
        assert_eq!(
            pair.send(q2.clone()),
            vec![Packet::PubRec(PubResponse::new(pid(4)))]
        );
        assert_eq!(
            pair.send_ack(PacketType::PubRel, PubResponse::new(pid(4))),
            vec![Packet::PubComp(PubResponse::new(pid(4)))]
        );
        let reused = Publish::new(
            TopicName::new("r/2").unwrap(),
            "d",
            QosPid::ExactlyOnce(pid(4)),
        );
        pair.send(reused);
        let payloads: Vec<_> = pair
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m.publish.payload),
                _ => None,
            })
            .collect();
        assert_eq!(payloads, [&b"c"[..], &b"d"[..]], "{version}");
    }
}

// [MQTT-4.12.0-3]: the client answers a server AUTH with Continue authentication; it starts a
// re-authentication with Re-authenticate only once connected; it never sends Success.
#[test]
fn a_client_auth_carries_only_client_reason_codes() {
    let mut config = Config::new(ProtocolVersion::V5, MqttString::try_from("auth").unwrap());
    config.authentication_method = Some(MqttString::try_from("SCRAM").unwrap());
    let mut pair = Pair::new(config);
    pair.open();
    let (r, sent) =
        pair.command(|s, now| s.auth(now, ReasonCode::ReAuthenticate, Default::default()));
    assert!(matches!(r, Err(Error::NotAvailable(_))), "{r:?}");
    assert_eq!(sent, vec![]);
    let (r, _) = pair.command(|s, now| s.auth(now, ReasonCode::Success, Default::default()));
    assert!(matches!(r, Err(Error::NotAvailable(_))), "{r:?}");
    let (r, sent) =
        pair.command(|s, now| s.auth(now, ReasonCode::ContinueAuthentication, Default::default()));
    r.unwrap();
    let [Packet::Auth(a)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(a.properties.authentication_method.as_deref(), Some("SCRAM"));
}
