//! Byte-exact vectors: every packet of both versions decodes from these bytes to this value and
//! encodes from this value to these bytes. Where the specifications give an example (the CONNECT
//! variable headers of 3.1.2.10 / 3.1.2.11, the PUBLISH variable header of 3.3.2, the SUBSCRIBE
//! and UNSUBSCRIBE payloads of 3.8.3 / 3.10.3, the SUBACK payload of 3.9.3), the vector contains
//! it byte for byte.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use mqtt_proto::*;
use std::num::{NonZeroU16, NonZeroU32};

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// Joins byte pieces, so a vector reads field by field.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A length-prefixed string or binary field.
fn s(text: &str) -> Vec<u8> {
    let mut v = (text.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn name(t: &'static str) -> TopicName {
    TopicName::try_from(t).unwrap()
}

fn filter(t: &'static str) -> TopicFilter {
    TopicFilter::try_from(t).unwrap()
}

fn mstr(t: &'static str) -> MqttString {
    MqttString::try_from(t).unwrap()
}

fn users(pairs: &[(&'static str, &'static str)]) -> UserProperties {
    let mut list = UserProperties::new();
    for (k, v) in pairs {
        list.push_pair(*k, *v).unwrap();
    }
    list
}

/// Decodes `bytes` (sent by `from`) and expects `packet`; encodes `packet` and expects `bytes`.
#[track_caller]
fn vector(version: ProtocolVersion, from: Role, bytes: &[u8], packet: Packet) {
    let mut buf = BytesMut::from(bytes);
    let decoded = Decoder::new(version, from).decode(&mut buf);
    assert_eq!(
        decoded,
        Ok(Decoded::Packet(packet.clone())),
        "decoding {bytes:02x?}"
    );
    assert!(buf.is_empty(), "left over: {buf:02x?}");
    let mut out = Vec::new();
    assert_eq!(packet.encode(version, &mut out), Ok(bytes.len()));
    assert_eq!(out, bytes, "encoding {packet:?}");
    assert_eq!(packet.encoded_len(version), Ok(bytes.len()));
}

// ---------------------------------------------------------------- v3.1.1

#[test]
fn v311_connect_with_will_and_credentials() {
    // Variable header of the v3.1.1 example (3.1.2.10): "MQTT", level 4, flags 0xCE (user name,
    // password, will QoS 1, will flag, clean session), keep alive 10.
    let variable_header: &[u8] = &[0, 4, b'M', b'Q', b'T', b'T', 4, 0xCE, 0, 10];
    let payload = cat(&[&s("cid"), &s("w/t"), &s("bye"), &s("user"), &s("pass")]);
    let bytes = cat(&[
        &[0x10, (10 + payload.len()) as u8],
        variable_header,
        &payload,
    ]);
    let mut connect = Connect::new(V3, mstr("cid"));
    connect.keep_alive = 10;
    connect.will = Some(Will {
        qos: QoS::AtLeastOnce,
        ..Will::new(name("w/t"), "bye")
    });
    connect.username = Some(mstr("user"));
    connect.password = Some(Bytes::from_static(b"pass"));
    vector(V3, Role::Client, &bytes, connect.into());
}

#[test]
fn v311_connect_minimal() {
    // Clean session, keep alive 60, empty client id.
    let bytes = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 0];
    vector(
        V3,
        Role::Client,
        &bytes,
        Connect::new(V3, MqttString::empty()).into(),
    );
}

#[test]
fn v311_connect_will_retain_qos2_without_credentials() {
    let payload = cat(&[&s("c"), &s("t"), &s("")]);
    // flags: will retain 0x20 | will QoS 2 0x10 | will 0x04 = 0x34 (no clean session).
    let bytes = cat(&[
        &[
            0x10,
            (10 + payload.len()) as u8,
            0,
            4,
            b'M',
            b'Q',
            b'T',
            b'T',
            4,
            0x34,
            0,
            0,
        ],
        &payload,
    ]);
    let mut connect = Connect::new(V3, mstr("c"));
    connect.clean_start = false;
    connect.keep_alive = 0;
    connect.will = Some(Will {
        qos: QoS::ExactlyOnce,
        retain: true,
        ..Will::new(name("t"), Bytes::new())
    });
    vector(V3, Role::Client, &bytes, connect.into());
}

#[test]
fn v311_connack_return_codes() {
    vector(
        V3,
        Role::Server,
        &[0x20, 2, 1, 0],
        ConnAck {
            session_present: true,
            ..ConnAck::default()
        }
        .into(),
    );
    for (code, reason) in [
        (1, ReasonCode::UnsupportedProtocolVersion),
        (2, ReasonCode::ClientIdentifierNotValid),
        (3, ReasonCode::ServerUnavailable),
        (4, ReasonCode::BadUserNameOrPassword),
        (5, ReasonCode::NotAuthorized),
    ] {
        let ack = ConnAck {
            reason_code: reason,
            ..ConnAck::default()
        };
        vector(V3, Role::Server, &[0x20, 2, 0, code], ack.into());
    }
}

#[test]
fn v311_publish_all_qos() {
    // The example of 3.3.2.3 (v3.1.1): topic "a/b", packet identifier 10.
    let bytes = cat(&[&[0x32, 9], &s("a/b"), &[0, 10], b"hi"]);
    vector(
        V3,
        Role::Client,
        &bytes,
        Publish::new(name("a/b"), "hi", QosPid::AtLeastOnce(pid(10))).into(),
    );

    let bytes = cat(&[&[0x30, 5], &s("a/b")]);
    vector(
        V3,
        Role::Server,
        &bytes,
        Publish::new(name("a/b"), Bytes::new(), QosPid::AtMostOnce).into(),
    );

    // DUP, QoS 2, RETAIN: 0x3D.
    let bytes = cat(&[&[0x3D, 8], &s("x"), &[0xFF, 0xFF], b"abc"]);
    let mut p = Publish::new(name("x"), "abc", QosPid::ExactlyOnce(pid(0xFFFF)));
    p.dup = true;
    p.retain = true;
    vector(V3, Role::Server, &bytes, p.into());
}

#[test]
fn v311_publish_with_long_payload_has_two_byte_remaining_length() {
    let payload = vec![0xAB; 200];
    // Remaining length 3 + 200 = 203: 203 % 128 = 0x4B with the continuation bit (0xCB), then
    // 203 / 128 = 1.
    let bytes = cat(&[&[0x30, 0xCB, 0x01], &s("t"), &payload]);
    vector(
        V3,
        Role::Client,
        &bytes,
        Publish::new(name("t"), payload, QosPid::AtMostOnce).into(),
    );
}

#[test]
fn v311_publish_acknowledgements() {
    let ack = PubResponse::new(pid(0x1234));
    vector(
        V3,
        Role::Server,
        &[0x40, 2, 0x12, 0x34],
        Packet::PubAck(ack.clone()),
    );
    vector(
        V3,
        Role::Server,
        &[0x50, 2, 0x12, 0x34],
        Packet::PubRec(ack.clone()),
    );
    // PUBREL carries the fixed flags 0b0010 [MQTT-3.6.1-1].
    vector(
        V3,
        Role::Client,
        &[0x62, 2, 0x12, 0x34],
        Packet::PubRel(ack.clone()),
    );
    vector(
        V3,
        Role::Server,
        &[0x70, 2, 0x12, 0x34],
        Packet::PubComp(ack),
    );
}

#[test]
fn v311_subscribe_and_suback() {
    // The payload example of 3.8.3 (v3.1.1): "a/b" QoS 1, "c/d" QoS 2.
    let bytes = cat(&[&[0x82, 14, 0, 10], &s("a/b"), &[1], &s("c/d"), &[2]]);
    let sub = Subscribe::new(
        pid(10),
        vec![
            SubscribeFilter::new(filter("a/b"), QoS::AtLeastOnce),
            SubscribeFilter::new(filter("c/d"), QoS::ExactlyOnce),
        ],
    );
    vector(V3, Role::Client, &bytes, sub.into());
    // The payload example of 3.9.3 (v3.1.1): granted QoS 0, granted QoS 2, failure.
    let ack = SubAck {
        packet_id: pid(10),
        reason_codes: vec![
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ],
        properties: AckProperties::default(),
    };
    vector(
        V3,
        Role::Server,
        &[0x90, 5, 0, 10, 0x00, 0x02, 0x80],
        ack.into(),
    );
}

#[test]
fn v311_unsubscribe_and_unsuback() {
    // The payload example of 3.10.3 (v3.1.1): "a/b", "c/d".
    let bytes = cat(&[&[0xA2, 12, 0, 11], &s("a/b"), &s("c/d")]);
    vector(
        V3,
        Role::Client,
        &bytes,
        Unsubscribe::new(pid(11), vec![filter("a/b"), filter("c/d")]).into(),
    );
    let ack = UnsubAck {
        packet_id: pid(11),
        reason_codes: vec![],
        properties: AckProperties::default(),
    };
    vector(V3, Role::Server, &[0xB0, 2, 0, 11], ack.into());
}

#[test]
fn v311_ping_and_disconnect() {
    vector(V3, Role::Client, &[0xC0, 0], Packet::PingReq);
    vector(V3, Role::Server, &[0xD0, 0], Packet::PingResp);
    vector(V3, Role::Client, &[0xE0, 0], Disconnect::default().into());
}

// ---------------------------------------------------------------- v5.0

#[test]
fn v5_connect_spec_example_with_will_properties() {
    // The variable header example of 3.1.2.11 (v5): "MQTT", level 5, flags 0xCE, keep alive 10,
    // properties: length 5, Session Expiry Interval (0x11) 10.
    let variable_header: &[u8] = &[
        0, 4, b'M', b'Q', b'T', b'T', 5, 0xCE, 0, 10, 5, 0x11, 0, 0, 0, 10,
    ];
    // Will properties: Will Delay Interval 5, Payload Format UTF-8, Content Type "t".
    let will_props: &[u8] = &[11, 0x18, 0, 0, 0, 5, 0x01, 1, 0x03, 0, 1, b't'];
    let payload = cat(&[
        &s("cid"),
        will_props,
        &s("w/t"),
        &s("bye"),
        &s("user"),
        &s("pass"),
    ]);
    let bytes = cat(&[
        &[0x10, (variable_header.len() + payload.len()) as u8],
        variable_header,
        &payload,
    ]);
    let mut connect = Connect::new(V5, mstr("cid"));
    connect.keep_alive = 10;
    connect.properties.session_expiry_interval = Some(10);
    let mut will = Will {
        qos: QoS::AtLeastOnce,
        ..Will::new(name("w/t"), "bye")
    };
    will.properties.will_delay_interval = Some(5);
    will.properties.payload_format_indicator = Some(PayloadFormat::Utf8);
    will.properties.content_type = Some(mstr("t"));
    connect.will = Some(will);
    connect.username = Some(mstr("user"));
    connect.password = Some(Bytes::from_static(b"pass"));
    vector(V5, Role::Client, &bytes, connect.into());
}

#[test]
fn v5_connect_every_property() {
    let props = cat(&[
        &[0x11, 0, 0, 0x0E, 0x10], // Session Expiry Interval 3600
        &[0x21, 0, 20],            // Receive Maximum 20
        &[0x27, 0, 0, 0x10, 0],    // Maximum Packet Size 4096
        &[0x22, 0, 10],            // Topic Alias Maximum 10
        &[0x19, 1],                // Request Response Information
        &[0x17, 0],                // Request Problem Information off
        &[0x15],
        &s("SCRAM-SHA-1"), // Authentication Method
        &[0x16],
        &s("data"), // Authentication Data
        &[0x26],
        &s("k"),
        &s("v"), // User Property
    ]);
    // A password without a user name is allowed in v5 (flags 0x40 | clean 0x02).
    let body = cat(&[
        &[
            0,
            4,
            b'M',
            b'Q',
            b'T',
            b'T',
            5,
            0x42,
            0,
            30,
            props.len() as u8,
        ],
        &props,
        &s("id"),
        &s("pw"),
    ]);
    let bytes = cat(&[&[0x10, body.len() as u8], &body]);
    let mut c = Connect::new(V5, mstr("id"));
    c.keep_alive = 30;
    c.password = Some(Bytes::from_static(b"pw"));
    let p = &mut c.properties;
    p.session_expiry_interval = Some(3600);
    p.receive_maximum = NonZeroU16::new(20);
    p.maximum_packet_size = NonZeroU32::new(4096);
    p.topic_alias_maximum = Some(10);
    p.request_response_information = Some(true);
    p.request_problem_information = Some(false);
    p.authentication_method = Some(mstr("SCRAM-SHA-1"));
    p.authentication_data = Some(Bytes::from_static(b"data"));
    p.user_properties = users(&[("k", "v")]);
    vector(V5, Role::Client, &bytes, c.into());
}

#[test]
fn v5_connack_every_property() {
    let props = cat(&[
        &[0x11, 0, 0, 0, 60], // Session Expiry Interval
        &[0x21, 0, 100],      // Receive Maximum
        &[0x24, 1],           // Maximum QoS 1
        &[0x25, 0],           // Retain Available: no
        &[0x27, 0, 1, 0, 0],  // Maximum Packet Size 65536
        &[0x12],
        &s("auto-1"),  // Assigned Client Identifier
        &[0x22, 0, 5], // Topic Alias Maximum
        &[0x1F],
        &s("ok"),       // Reason String
        &[0x28, 0],     // Wildcard Subscription Available: no
        &[0x29, 0],     // Subscription Identifiers Available: no
        &[0x2A, 0],     // Shared Subscription Available: no
        &[0x13, 0, 30], // Server Keep Alive
        &[0x1A],
        &s("resp/"), // Response Information
        &[0x1C],
        &s("other:1883"), // Server Reference
        &[0x15],
        &s("m"), // Authentication Method
        &[0x16],
        &s("d"), // Authentication Data
        &[0x26],
        &s("a"),
        &s("b"), // User Property
        &[0x26],
        &s("a"),
        &s("c"), // ... repeated name
    ]);
    let body = cat(&[&[1, 0, props.len() as u8], &props]);
    let bytes = cat(&[&[0x20, body.len() as u8], &body]);
    let mut ack = ConnAck {
        session_present: true,
        ..ConnAck::default()
    };
    let p = &mut ack.properties;
    p.session_expiry_interval = Some(60);
    p.receive_maximum = NonZeroU16::new(100);
    p.maximum_qos = Some(QoS::AtLeastOnce);
    p.retain_available = Some(false);
    p.maximum_packet_size = NonZeroU32::new(65536);
    p.assigned_client_identifier = Some(mstr("auto-1"));
    p.topic_alias_maximum = Some(5);
    p.reason_string = Some(mstr("ok"));
    p.wildcard_subscription_available = Some(false);
    p.subscription_identifier_available = Some(false);
    p.shared_subscription_available = Some(false);
    p.server_keep_alive = Some(30);
    p.response_information = Some(mstr("resp/"));
    p.server_reference = Some(mstr("other:1883"));
    p.authentication_method = Some(mstr("m"));
    p.authentication_data = Some(Bytes::from_static(b"d"));
    p.user_properties = users(&[("a", "b"), ("a", "c")]);
    vector(V5, Role::Server, &bytes, ack.into());
}

#[test]
fn v5_connack_refused() {
    let ack = ConnAck {
        reason_code: ReasonCode::Banned,
        ..ConnAck::default()
    };
    vector(V5, Role::Server, &[0x20, 3, 0, 0x8A, 0], ack.into());
}

#[test]
fn v5_publish_spec_example_and_every_property() {
    // The example of 3.3.2.3 (v5): topic "a/b", packet identifier 10, no properties.
    let bytes = cat(&[&[0x32, 10], &s("a/b"), &[0, 10, 0], b"hi"]);
    vector(
        V5,
        Role::Client,
        &bytes,
        Publish::new(name("a/b"), "hi", QosPid::AtLeastOnce(pid(10))).into(),
    );

    let props = cat(&[
        &[0x01, 1],           // Payload Format Indicator
        &[0x02, 0, 0, 0, 30], // Message Expiry Interval
        &[0x23, 0, 3],        // Topic Alias
        &[0x08],
        &s("re/ply"), // Response Topic
        &[0x09],
        &s("id-1"), // Correlation Data
        &[0x03],
        &s("text/plain"), // Content Type
        &[0x26],
        &s("k"),
        &s("v"),             // User Property
        &[0x0B, 0x80, 0x01], // Subscription Identifier 128
        &[0x0B, 0x05],       // Subscription Identifier 5
    ]);
    let body = cat(&[&s("t/1"), &[0, 7, props.len() as u8], &props, b"payload"]);
    let bytes = cat(&[&[0x34, body.len() as u8], &body]);
    let mut p = Publish::new(name("t/1"), "payload", QosPid::ExactlyOnce(pid(7)));
    let pr = &mut p.properties;
    pr.payload_format_indicator = Some(PayloadFormat::Utf8);
    pr.message_expiry_interval = Some(30);
    pr.topic_alias = NonZeroU16::new(3);
    pr.set_response_topic(Some(name("re/ply"))).unwrap();
    pr.set_correlation_data(Some(Bytes::from_static(b"id-1")))
        .unwrap();
    pr.set_content_type(Some(mstr("text/plain"))).unwrap();
    pr.set_user_properties(users(&[("k", "v")])).unwrap();
    let ids = [128, 5]
        .into_iter()
        .map(|id| SubscriptionIdentifier::new(id).unwrap())
        .collect();
    pr.set_subscription_identifiers(ids).unwrap();
    // Subscription Identifiers come only from a server [MQTT-3.3.4-6].
    vector(V5, Role::Server, &bytes, p.into());
}

#[test]
fn v5_publish_alias_only_has_empty_topic() {
    let bytes = [0x30, 6, 0, 0, 3, 0x23, 0, 1];
    let mut p = Publish::new(TopicName::empty(), Bytes::new(), QosPid::AtMostOnce);
    p.properties.topic_alias = NonZeroU16::new(1);
    vector(V5, Role::Client, &bytes, p.into());
}

#[test]
fn v5_publish_acknowledgement_forms() {
    // Success without properties: the reason code is left out (3.4.2.1).
    vector(
        V5,
        Role::Server,
        &[0x40, 2, 0, 1],
        Packet::PubAck(PubResponse::new(pid(1))),
    );
    // A reason code without properties: the property length is left out (3.4.2.2.1).
    vector(
        V5,
        Role::Server,
        &[0x40, 3, 0, 1, 0x10],
        Packet::PubAck(PubResponse::with_reason(
            pid(1),
            ReasonCode::NoMatchingSubscribers,
        )),
    );
    let mut rec = PubResponse::with_reason(pid(2), ReasonCode::QuotaExceeded);
    rec.properties.reason_string = Some(mstr("full"));
    vector(
        V5,
        Role::Server,
        &cat(&[&[0x50, 11, 0, 2, 0x97, 7, 0x1F], &s("full")]),
        Packet::PubRec(rec),
    );
    vector(
        V5,
        Role::Client,
        &[0x62, 3, 0, 3, 0x92],
        Packet::PubRel(PubResponse::with_reason(
            pid(3),
            ReasonCode::PacketIdentifierNotFound,
        )),
    );
    let mut comp = PubResponse::new(pid(4));
    comp.properties.user_properties = users(&[("x", "y")]);
    vector(
        V5,
        Role::Server,
        &cat(&[&[0x70, 11, 0, 4, 0, 7, 0x26], &s("x"), &s("y")]),
        Packet::PubComp(comp),
    );
}

#[test]
fn v5_subscribe_with_options_and_identifier() {
    let body = cat(&[
        &[0, 9],        // packet identifier
        &[2, 0x0B, 42], // properties: Subscription Identifier 42
        &s("a/+"),
        &[0b0010_1101], // QoS 1, No Local, Retain As Published, Retain Handling 2
        &s("$share/g/b"),
        &[0b0001_0010], // QoS 2, Retain Handling 1
    ]);
    let bytes = cat(&[&[0x82, body.len() as u8], &body]);
    let mut sub = Subscribe::new(
        pid(9),
        vec![
            SubscribeFilter {
                filter: filter("a/+"),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            },
            SubscribeFilter {
                filter: filter("$share/g/b"),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    retain_handling: RetainHandling::SendAtSubscribeIfNew,
                    ..SubscriptionOptions::default()
                },
            },
        ],
    );
    sub.properties.subscription_identifier = SubscriptionIdentifier::new(42);
    vector(V5, Role::Client, &bytes, sub.into());
}

#[test]
fn v5_suback_unsubscribe_unsuback() {
    let ack = SubAck {
        packet_id: pid(9),
        reason_codes: vec![
            ReasonCode::GrantedQoS1,
            ReasonCode::SharedSubscriptionsNotSupported,
        ],
        properties: AckProperties::default(),
    };
    vector(
        V5,
        Role::Server,
        &[0x90, 5, 0, 9, 0, 0x01, 0x9E],
        ack.into(),
    );

    let mut unsub = Unsubscribe::new(pid(12), vec![filter("a/b"), filter("c/d")]);
    unsub.properties.user_properties = users(&[("u", "1")]);
    let props = cat(&[&[0x26], &s("u"), &s("1")]);
    let body = cat(&[&[0, 12, props.len() as u8], &props, &s("a/b"), &s("c/d")]);
    vector(
        V5,
        Role::Client,
        &cat(&[&[0xA2, body.len() as u8], &body]),
        unsub.into(),
    );

    let ack = UnsubAck {
        packet_id: pid(12),
        reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        properties: AckProperties::default(),
    };
    vector(
        V5,
        Role::Server,
        &[0xB0, 5, 0, 12, 0, 0x00, 0x11],
        ack.into(),
    );
}

#[test]
fn v5_ping_disconnect_auth() {
    vector(V5, Role::Client, &[0xC0, 0], Packet::PingReq);
    vector(V5, Role::Server, &[0xD0, 0], Packet::PingResp);
    // Normal disconnection without properties: remaining length 0 (3.14.2.1).
    vector(V5, Role::Client, &[0xE0, 0], Disconnect::default().into());
    vector(
        V5,
        Role::Client,
        &[0xE0, 1, 0x04],
        Disconnect::new(ReasonCode::DisconnectWithWillMessage).into(),
    );
    let mut d = Disconnect::new(ReasonCode::UseAnotherServer);
    d.properties.server_reference = Some(mstr("b:1883"));
    d.properties.reason_string = Some(mstr("move"));
    let props = cat(&[&[0x1F], &s("move"), &[0x1C], &s("b:1883")]);
    // Properties set by hand follow the struct's order: Session Expiry, Reason String, Server
    // Reference.
    vector(
        V5,
        Role::Server,
        &cat(&[
            &[0xE0, (2 + props.len()) as u8, 0x9C, props.len() as u8],
            &props,
        ]),
        d.into(),
    );
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.session_expiry_interval = Some(0);
    vector(
        V5,
        Role::Client,
        &[0xE0, 7, 0, 5, 0x11, 0, 0, 0, 0],
        d.into(),
    );

    // The short form of 3.15.2.1 (Remaining Length 0) has no Authentication Method, which
    // 3.15.2.2.2 makes a Protocol Error to omit; the shortest AUTH names its method.
    assert_eq!(
        Decoder::new(V5, Role::Server).decode(&mut BytesMut::from(&[0xF0, 0][..])),
        Err(Error::MissingAuthenticationMethod(PacketType::Auth))
    );
    let mut success = Auth::default();
    success.properties.authentication_method = Some(mstr("SCRAM"));
    let props = cat(&[&[0x15], &s("SCRAM")]);
    vector(
        V5,
        Role::Server,
        &cat(&[
            &[0xF0, (2 + props.len()) as u8, 0x00, props.len() as u8],
            &props,
        ]),
        success.into(),
    );
    let mut auth = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        ..Auth::default()
    };
    auth.properties.authentication_method = Some(mstr("SCRAM"));
    auth.properties.authentication_data = Some(Bytes::from_static(b"c1"));
    let props = cat(&[&[0x15], &s("SCRAM"), &[0x16], &s("c1")]);
    vector(
        V5,
        Role::Client,
        &cat(&[
            &[0xF0, (2 + props.len()) as u8, 0x18, props.len() as u8],
            &props,
        ]),
        auth.into(),
    );
}

#[test]
fn decoded_fields_share_the_read_buffer() {
    let bytes = cat(&[&[0x30, 10], &s("a/b"), b"hello"]);
    let mut buf = BytesMut::from(&bytes[..]);
    let Ok(Decoded::Packet(Packet::Publish(p))) = Decoder::new(V3, Role::Server).decode(&mut buf)
    else {
        panic!("not a publish");
    };
    // The payload and topic point into one allocation: the packet's own bytes.
    let topic = p.topic.as_bytes().as_ptr() as usize;
    let payload = p.payload.as_ptr() as usize;
    assert_eq!(
        payload - topic,
        3,
        "payload follows the topic in the same buffer"
    );
    assert_eq!(&p.payload[..], b"hello");
}

/// Topics short enough to be written together with the fixed header and longer ones, around
/// the boundary, at every QoS and in both versions: the bytes are the ones section 3.3 lays
/// out, built here field by field.
#[test]
fn publish_topic_lengths_around_the_merged_write() {
    for len in (1..=80).chain([127, 128, 300, 20_000]) {
        let topic: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        for qos_pid in [
            QosPid::AtMostOnce,
            QosPid::AtLeastOnce(pid(0x1234)),
            QosPid::ExactlyOnce(pid(7)),
        ] {
            for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
                let payload = b"payload";
                let mut body = cat(&[&(len as u16).to_be_bytes(), topic.as_bytes()]);
                if let Some(id) = qos_pid.packet_id() {
                    body.extend_from_slice(&id.get().to_be_bytes());
                }
                if version == ProtocolVersion::V5 {
                    body.push(0); // no properties
                }
                body.extend_from_slice(payload);
                let mut remaining = Vec::new();
                let mut n = body.len();
                loop {
                    let byte = (n % 128) as u8;
                    n /= 128;
                    remaining.push(if n > 0 { byte | 0x80 } else { byte });
                    if n == 0 {
                        break;
                    }
                }
                let first = 0x30 | ((qos_pid.qos() as u8) << 1);
                let bytes = cat(&[&[first], &remaining, &body]);
                let publish = Publish::new(
                    TopicName::new(topic.clone()).unwrap(),
                    Bytes::from_static(payload),
                    qos_pid,
                );
                vector(version, Role::Client, &bytes, Packet::Publish(publish));
            }
        }
    }
}
