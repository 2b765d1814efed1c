//! One negative test per validation rule: the exact error, and the v5 reason code a receiver
//! reports for it. Every case is a whole packet unless it says otherwise.
#![allow(clippy::unwrap_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use mqtt_proto::*;

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const C: Role = Role::Client;
const S: Role = Role::Server;

fn s(text: &str) -> Vec<u8> {
    let mut v = (text.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v
}

/// A packet with the remaining length filled in.
fn packet(first: u8, body: &[&[u8]]) -> Vec<u8> {
    let body = body.concat();
    assert!(body.len() < 128);
    let mut v = vec![first, body.len() as u8];
    v.extend_from_slice(&body);
    v
}

#[track_caller]
fn rejects(version: ProtocolVersion, from: Role, bytes: &[u8], error: Error, reason: ReasonCode) {
    let mut buf = BytesMut::from(bytes);
    let got = Decoder::new(version, from).decode(&mut buf);
    assert_eq!(got, Err(error.clone()), "bytes {bytes:02x?}");
    assert_eq!(error.reason_code(), reason, "{error}");
}

fn connect_v3(flags: u8, payload: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, flags, 0, 60];
    body.extend_from_slice(&payload.concat());
    packet(0x10, &[&body])
}

fn connect_v5(props: &[u8], payload: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![
        0,
        4,
        b'M',
        b'Q',
        b'T',
        b'T',
        5,
        0x02,
        0,
        60,
        props.len() as u8,
    ];
    body.extend_from_slice(props);
    body.extend_from_slice(&payload.concat());
    packet(0x10, &[&body])
}

fn publish_v5(props: &[u8]) -> Vec<u8> {
    packet(0x30, &[&s("t"), &[props.len() as u8], props])
}

// -- Fixed header -------------------------------------------------------------------------

#[test]
fn remaining_length_over_four_bytes() {
    // [MQTT-1.5.5-1], section 2.2.3: at most four bytes.
    rejects(
        V3,
        C,
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        Error::MalformedVariableByteInteger,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn remaining_length_not_minimal() {
    // [MQTT-1.5.5-1]: 0x80 0x00 spells 0 in two bytes.
    rejects(
        V5,
        C,
        &[0xC0, 0x80, 0x00],
        Error::MalformedVariableByteInteger,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn reserved_packet_types() {
    // Section 2.1.2: type 0 is reserved; 15 is reserved in v3.1.1.
    rejects(
        V5,
        C,
        &[0x00, 0x00],
        Error::ReservedPacketType(0),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V3,
        S,
        &[0xF0, 0x00],
        Error::ReservedPacketType(15),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn reserved_fixed_header_flags() {
    // [MQTT-2.2.2-1], [MQTT-2.2.2-2]; PUBREL, SUBSCRIBE, UNSUBSCRIBE carry 0b0010
    // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1].
    let cases = [
        (0x60, PacketType::PubRel, 0),
        (0x80, PacketType::Subscribe, 0),
        (0xA0, PacketType::Unsubscribe, 0),
        (0x11, PacketType::Connect, 1),
        (0xC8, PacketType::PingReq, 8),
        (0x42, PacketType::PubAck, 2),
        (0xE1, PacketType::Disconnect, 1),
        (0xF4, PacketType::Auth, 4),
    ];
    for (first, packet, flags) in cases {
        let from = if packet.is_sent_by(C, V5) { C } else { S };
        rejects(
            V5,
            from,
            &[first, 2, 0, 1],
            Error::InvalidHeaderFlags { packet, flags },
            ReasonCode::MalformedPacket,
        );
    }
}

#[test]
fn packet_too_large_from_the_fixed_header_alone() {
    // The body is not there: the header is enough to refuse it.
    let decoder = Decoder::new(V5, S).with_max_packet_size(100);
    // A body of 99 bytes makes 101 in all: refused; 98 makes 100: allowed, and waited for.
    let mut buf = BytesMut::from(&[0x30, 99][..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(Error::PacketTooLarge {
            size: 101,
            max: 100
        })
    );
    assert_eq!(
        Error::PacketTooLarge {
            size: 101,
            max: 100
        }
        .reason_code(),
        ReasonCode::PacketTooLarge
    );
    let mut ok = BytesMut::from(&[0x30, 98][..]);
    assert_eq!(
        decoder.decode(&mut ok),
        Ok(Decoded::Incomplete { needed: 98 })
    );
}

#[test]
fn packets_the_sender_never_sends() {
    // Section 2.1.2's direction column.
    let unexpected = |packet, from| Error::UnexpectedPacket { packet, from };
    rejects(
        V5,
        C,
        &[0x20, 3, 0, 0, 0],
        unexpected(PacketType::ConnAck, C),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        S,
        &connect_v5(&[], &[&s("c")]),
        unexpected(PacketType::Connect, S),
        ReasonCode::ProtocolError,
    );
    rejects(
        V3,
        S,
        &[0xE0, 0],
        unexpected(PacketType::Disconnect, S),
        ReasonCode::ProtocolError,
    );
    rejects(
        V3,
        C,
        &[0xD0, 0],
        unexpected(PacketType::PingResp, C),
        ReasonCode::ProtocolError,
    );
    rejects(
        V3,
        S,
        &[0xC0, 0],
        unexpected(PacketType::PingReq, S),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &[0x90, 3, 0, 1, 0],
        unexpected(PacketType::SubAck, C),
        ReasonCode::ProtocolError,
    );
}

// -- Lengths and data types ----------------------------------------------------------------

#[test]
fn body_shorter_than_its_fields() {
    rejects(
        V3,
        S,
        &[0x40, 1, 0],
        Error::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // A topic length running past the remaining length.
    rejects(
        V3,
        S,
        &[0x30, 3, 0, 9, b'a'],
        Error::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn trailing_bytes() {
    rejects(
        V3,
        S,
        &[0x40, 3, 0, 1, 0],
        Error::TrailingBytes {
            packet: PacketType::PubAck,
            extra: 1,
        },
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        C,
        &[0xC0, 1, 0],
        Error::TrailingBytes {
            packet: PacketType::PingReq,
            extra: 1,
        },
        ReasonCode::MalformedPacket,
    );
    rejects(
        V3,
        S,
        &[0x20, 3, 0, 0, 0],
        Error::TrailingBytes {
            packet: PacketType::ConnAck,
            extra: 1,
        },
        ReasonCode::MalformedPacket,
    );
    rejects(
        V3,
        C,
        &[0xE0, 1, 0],
        Error::TrailingBytes {
            packet: PacketType::Disconnect,
            extra: 1,
        },
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn property_length_overruns_the_packet() {
    // PUBACK with reason and a property length of 10 but 2 bytes of properties.
    rejects(
        V5,
        S,
        &[0x40, 6, 0, 1, 0, 10, 0x1F, 0],
        Error::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // A property whose value runs past the property block.
    rejects(
        V5,
        S,
        &publish_v5(&[0x02, 0, 0]),
        Error::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn strings_must_be_well_formed_utf8_without_null() {
    // [MQTT-1.5.4-1]: an encoded surrogate (U+D800) is not UTF-8.
    rejects(
        V5,
        S,
        &packet(0x30, &[&[0, 3, 0xED, 0xA0, 0x80], &[0]]),
        Error::InvalidUtf8,
        ReasonCode::MalformedPacket,
    );
    // [MQTT-1.5.4-2]
    rejects(
        V3,
        S,
        &packet(0x30, &[&[0, 3, b'a', 0, b'b']]),
        Error::NullCharacter,
        ReasonCode::MalformedPacket,
    );
    // [MQTT-1.5.7-1]: either string of a User Property pair.
    rejects(
        V5,
        S,
        &packet(0x40, &[&[0, 1, 0x10, 7, 0x26, 0, 1, b'k', 0, 1, 0xC3]]),
        Error::InvalidUtf8,
        ReasonCode::MalformedPacket,
    );
    // In a property: Reason String.
    rejects(
        V5,
        S,
        &packet(0x40, &[&[0, 1, 0x80, 4, 0x1F, 0, 1, 0xFF]]),
        Error::InvalidUtf8,
        ReasonCode::MalformedPacket,
    );
}

// -- CONNECT / CONNACK ---------------------------------------------------------------------

#[test]
fn protocol_name_and_level() {
    // [MQTT-3.1.2-1]: v3.1's "MQIsdp" is not this protocol.
    let mut body = s("MQIsdp");
    body.extend_from_slice(&[3, 0x02, 0, 60, 0, 0]);
    rejects(
        V3,
        C,
        &packet(0x10, &[&body]),
        Error::InvalidProtocolName,
        ReasonCode::MalformedPacket,
    );
    // [MQTT-3.1.2-2]
    let mut v3_level_3 = connect_v3(0x02, &[&s("c")]);
    v3_level_3[8] = 3;
    rejects(
        V3,
        C,
        &v3_level_3,
        Error::UnsupportedProtocolLevel(3),
        ReasonCode::UnsupportedProtocolVersion,
    );
    // A v5 CONNECT to a v3.1.1 decoder.
    rejects(
        V3,
        C,
        &connect_v5(&[], &[&s("c")]),
        Error::UnsupportedProtocolLevel(5),
        ReasonCode::UnsupportedProtocolVersion,
    );
}

#[test]
fn connect_reserved_flag() {
    // [MQTT-3.1.2-3]
    rejects(
        V3,
        C,
        &connect_v3(0x03, &[&s("c")]),
        Error::ReservedConnectFlag,
        ReasonCode::MalformedPacket,
    );
    let mut v5 = connect_v5(&[], &[&s("c")]);
    v5[9] |= 0x01;
    rejects(
        V5,
        C,
        &v5,
        Error::ReservedConnectFlag,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn will_qos_and_retain_need_the_will_flag() {
    // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
    rejects(
        V3,
        C,
        &connect_v3(0x0A, &[&s("c")]),
        Error::InvalidWillFlags,
        ReasonCode::MalformedPacket,
    );
    rejects(
        V3,
        C,
        &connect_v3(0x22, &[&s("c")]),
        Error::InvalidWillFlags,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn will_qos_3() {
    // [MQTT-3.1.2-14]
    rejects(
        V3,
        C,
        &connect_v3(0x1E, &[&s("c"), &s("t"), &s("m")]),
        Error::InvalidQoS,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn will_topic_without_wildcards() {
    rejects(
        V3,
        C,
        &connect_v3(0x06, &[&s("c"), &s("t/#"), &s("m")]),
        Error::WildcardInTopicName,
        ReasonCode::TopicNameInvalid,
    );
}

#[test]
fn password_without_user_name_in_v311() {
    // [MQTT-3.1.2-22]; v5 allows it (see the vectors).
    rejects(
        V3,
        C,
        &connect_v3(0x42, &[&s("c"), &s("pw")]),
        Error::PasswordWithoutUsername,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn connack_reserved_flags_and_session_present_on_error() {
    // [MQTT-3.2.2-1]
    rejects(
        V3,
        S,
        &[0x20, 2, 0x02, 0],
        Error::ReservedConnAckFlags(0x02),
        ReasonCode::MalformedPacket,
    );
    // [MQTT-3.2.2-4] (v3.1.1), [MQTT-3.2.2-6] (v5)
    rejects(
        V3,
        S,
        &[0x20, 2, 1, 5],
        Error::SessionPresentWithError,
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        S,
        &[0x20, 3, 1, 0x87, 0],
        Error::SessionPresentWithError,
        ReasonCode::ProtocolError,
    );
}

// -- Reason codes --------------------------------------------------------------------------

#[test]
fn reason_codes_the_packet_may_not_carry() {
    let invalid = |packet, code| Error::InvalidReasonCode { packet, code };
    // v3.1.1 CONNACK return codes stop at 5.
    rejects(
        V3,
        S,
        &[0x20, 2, 0, 6],
        invalid(PacketType::ConnAck, 6),
        ReasonCode::MalformedPacket,
    );
    // v3.1.1 SUBACK: 0, 1, 2 and 0x80 only [MQTT-3.9.3-2].
    rejects(
        V3,
        S,
        &[0x90, 3, 0, 1, 0x03],
        invalid(PacketType::SubAck, 3),
        ReasonCode::MalformedPacket,
    );
    // v5 PUBACK may not carry 0x92 (a PUBREL/PUBCOMP code) [MQTT-3.4.2-1].
    rejects(
        V5,
        S,
        &[0x40, 3, 0, 1, 0x92],
        invalid(PacketType::PubAck, 0x92),
        ReasonCode::MalformedPacket,
    );
    // v5 PUBREL only 0x00 and 0x92 [MQTT-3.6.2-1].
    rejects(
        V5,
        C,
        &[0x62, 3, 0, 1, 0x10],
        invalid(PacketType::PubRel, 0x10),
        ReasonCode::MalformedPacket,
    );
    // 0x05 is no reason code at all.
    rejects(
        V5,
        S,
        &[0xE0, 1, 0x05],
        invalid(PacketType::Disconnect, 5),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        C,
        &[0xF0, 2, 0x01, 0],
        invalid(PacketType::Auth, 1),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        S,
        &[0xB0, 4, 0, 1, 0, 0x02],
        invalid(PacketType::UnsubAck, 2),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        S,
        &[0x20, 3, 0, 0x10, 0],
        invalid(PacketType::ConnAck, 0x10),
        ReasonCode::MalformedPacket,
    );
}

// -- PUBLISH -------------------------------------------------------------------------------

#[test]
fn publish_qos_3() {
    // [MQTT-3.3.1-4]
    rejects(
        V3,
        S,
        &packet(0x36, &[&s("t"), &[0, 1]]),
        Error::InvalidQoS,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn publish_dup_on_qos_0() {
    // [MQTT-3.3.1-2]
    rejects(
        V3,
        S,
        &packet(0x38, &[&s("t")]),
        Error::DupWithQoS0,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn packet_identifier_zero() {
    // [MQTT-2.2.1-3] (v5), [MQTT-2.3.1-1] (v3.1.1)
    rejects(
        V3,
        S,
        &packet(0x32, &[&s("t"), &[0, 0]]),
        Error::PacketIdZero,
        ReasonCode::ProtocolError,
    );
    rejects(
        V3,
        S,
        &[0x40, 2, 0, 0],
        Error::PacketIdZero,
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &packet(0x82, &[&[0, 0, 0], &s("a"), &[0]]),
        Error::PacketIdZero,
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &packet(0xA2, &[&[0, 0, 0], &s("a")]),
        Error::PacketIdZero,
        ReasonCode::ProtocolError,
    );
}

#[test]
fn publish_topic_with_wildcards() {
    // [MQTT-3.3.2-2]
    rejects(
        V3,
        S,
        &packet(0x30, &[&s("a/+")]),
        Error::WildcardInTopicName,
        ReasonCode::TopicNameInvalid,
    );
    rejects(
        V5,
        C,
        &packet(0x30, &[&s("#"), &[0]]),
        Error::WildcardInTopicName,
        ReasonCode::TopicNameInvalid,
    );
}

#[test]
fn publish_empty_topic() {
    // [MQTT-4.7.3-1] (v3.1.1); v5: a zero-length topic needs a Topic Alias (3.3.2.1).
    rejects(
        V3,
        S,
        &packet(0x30, &[&s("")]),
        Error::EmptyTopicName,
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        S,
        &packet(0x30, &[&s(""), &[0]]),
        Error::EmptyTopicName,
        ReasonCode::ProtocolError,
    );
}

#[test]
fn topic_alias_zero() {
    // [MQTT-3.3.2-8]
    rejects(
        V5,
        S,
        &publish_v5(&[0x23, 0, 0]),
        Error::TopicAliasZero,
        ReasonCode::TopicAliasInvalid,
    );
}

#[test]
fn subscription_identifier_in_a_client_publish() {
    // [MQTT-3.3.4-6]
    rejects(
        V5,
        C,
        &publish_v5(&[0x0B, 1]),
        Error::PropertyNotAllowedFrom {
            packet: PacketType::Publish,
            from: C,
            property: PropertyId::SubscriptionIdentifier,
        },
        ReasonCode::ProtocolError,
    );
}

// -- Properties ----------------------------------------------------------------------------

#[test]
fn unknown_property_identifier() {
    rejects(
        V5,
        S,
        &[0x40, 6, 0, 1, 0x10, 2, 0x7F, 0],
        Error::UnknownProperty(0x7F),
        ReasonCode::MalformedPacket,
    );
    // 0x04 sits in the gaps of the table.
    rejects(
        V5,
        S,
        &publish_v5(&[0x04, 0]),
        Error::UnknownProperty(4),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn duplicate_properties() {
    rejects(
        V5,
        S,
        &publish_v5(&[0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2]),
        Error::DuplicateProperty(PropertyId::MessageExpiryInterval),
        ReasonCode::ProtocolError,
    );
    // One Subscription Identifier per SUBSCRIBE (3.8.2.1.2).
    rejects(
        V5,
        C,
        &packet(0x82, &[&[0, 1, 4, 0x0B, 1, 0x0B, 2], &s("a"), &[0]]),
        Error::DuplicateProperty(PropertyId::SubscriptionIdentifier),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &connect_v5(&[0x21, 0, 1, 0x21, 0, 2], &[&s("c")]),
        Error::DuplicateProperty(PropertyId::ReceiveMaximum),
        ReasonCode::ProtocolError,
    );
}

#[test]
fn repeatable_properties_may_repeat() {
    // User Property everywhere, Subscription Identifier on a server's PUBLISH.
    let props = [
        &[0x26][..],
        &s("a"),
        &s("1"),
        &[0x0B, 3],
        &[0x26],
        &s("a"),
        &s("2"),
        &[0x0B, 4],
    ]
    .concat();
    let mut buf = BytesMut::from(&publish_v5(&props)[..]);
    let Ok(Decoded::Packet(Packet::Publish(p))) = Decoder::new(V5, S).decode(&mut buf) else {
        panic!("not decoded");
    };
    let pairs: Vec<(String, String)> = p
        .properties
        .user_properties()
        .iter()
        .map(|u| (u.key.to_string(), u.value.to_string()))
        .collect();
    assert_eq!(pairs, [("a".into(), "1".into()), ("a".into(), "2".into())]);
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers()
        .iter()
        .map(|i| i.get())
        .collect();
    assert_eq!(ids, [3, 4]);
}

#[test]
fn properties_the_packet_may_not_carry() {
    // v5 2.2.2.2: an identifier not valid for the packet type is a Malformed Packet.
    let not_allowed = |context, property| Error::PropertyNotAllowed { context, property };
    rejects(
        V5,
        S,
        &publish_v5(&[0x11, 0, 0, 0, 1]),
        not_allowed("PUBLISH", PropertyId::SessionExpiryInterval),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        C,
        &connect_v5(&[0x23, 0, 1], &[&s("c")]),
        not_allowed("CONNECT", PropertyId::TopicAlias),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        S,
        &[0x40, 6, 0, 1, 0, 2, 0x24, 1],
        not_allowed("an acknowledgement", PropertyId::MaximumQoS),
        ReasonCode::MalformedPacket,
    );
    rejects(
        V5,
        C,
        &packet(0xA2, &[&[0, 1, 2, 0x0B, 1], &s("a")]),
        not_allowed("UNSUBSCRIBE", PropertyId::SubscriptionIdentifier),
        ReasonCode::MalformedPacket,
    );
    // Will properties are their own set: no Session Expiry Interval.
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x06, 0, 60, 0];
    body.extend_from_slice(&s("c"));
    body.extend_from_slice(&[5, 0x11, 0, 0, 0, 1]);
    body.extend_from_slice(&s("t"));
    body.extend_from_slice(&s("m"));
    rejects(
        V5,
        C,
        &packet(0x10, &[&body]),
        not_allowed("will properties", PropertyId::SessionExpiryInterval),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn property_values_out_of_range() {
    let invalid = Error::InvalidPropertyValue;
    // Receive Maximum 0 (3.1.2.11.3), Maximum Packet Size 0 (3.1.2.11.4), Request Problem
    // Information 2 (3.1.2.11.7), Request Response Information 2 (3.1.2.11.6).
    rejects(
        V5,
        C,
        &connect_v5(&[0x21, 0, 0], &[&s("c")]),
        invalid(PropertyId::ReceiveMaximum),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &connect_v5(&[0x27, 0, 0, 0, 0], &[&s("c")]),
        invalid(PropertyId::MaximumPacketSize),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &connect_v5(&[0x17, 2], &[&s("c")]),
        invalid(PropertyId::RequestProblemInformation),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &connect_v5(&[0x19, 2], &[&s("c")]),
        invalid(PropertyId::RequestResponseInformation),
        ReasonCode::ProtocolError,
    );
    // Payload Format Indicator 2 (3.3.2.3.2).
    rejects(
        V5,
        S,
        &publish_v5(&[0x01, 2]),
        invalid(PropertyId::PayloadFormatIndicator),
        ReasonCode::ProtocolError,
    );
    // Maximum QoS 2 and Retain Available 2 (3.2.2.3.4, 3.2.2.3.5).
    rejects(
        V5,
        S,
        &[0x20, 5, 0, 0, 2, 0x24, 2],
        invalid(PropertyId::MaximumQoS),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        S,
        &[0x20, 5, 0, 0, 2, 0x25, 2],
        invalid(PropertyId::RetainAvailable),
        ReasonCode::ProtocolError,
    );
    // Response Topic with a wildcard [MQTT-3.3.2-14].
    rejects(
        V5,
        S,
        &publish_v5(&[&[0x08][..], &s("a/#")].concat()),
        Error::WildcardInTopicName,
        ReasonCode::TopicNameInvalid,
    );
}

#[test]
fn subscription_identifier_zero() {
    rejects(
        V5,
        C,
        &packet(0x82, &[&[0, 1, 2, 0x0B, 0], &s("a"), &[0]]),
        Error::InvalidSubscriptionIdentifier,
        ReasonCode::ProtocolError,
    );
}

// -- SUBSCRIBE / UNSUBSCRIBE ---------------------------------------------------------------

#[test]
fn subscribe_and_unsubscribe_without_filters() {
    // [MQTT-3.8.3-2] (v5), [MQTT-3.8.3-3] (v3.1.1), [MQTT-3.10.3-2]
    rejects(
        V3,
        C,
        &[0x82, 2, 0, 1],
        Error::NoTopicFilters(PacketType::Subscribe),
        ReasonCode::ProtocolError,
    );
    rejects(
        V5,
        C,
        &[0x82, 3, 0, 1, 0],
        Error::NoTopicFilters(PacketType::Subscribe),
        ReasonCode::ProtocolError,
    );
    rejects(
        V3,
        C,
        &[0xA2, 2, 0, 1],
        Error::NoTopicFilters(PacketType::Unsubscribe),
        ReasonCode::ProtocolError,
    );
}

#[test]
fn topic_filter_rules() {
    let sub = |f: &str| packet(0x82, &[&[0, 1], &s(f), &[0]]);
    // [MQTT-4.7.3-1]
    rejects(
        V3,
        C,
        &sub(""),
        Error::EmptyTopicFilter,
        ReasonCode::TopicFilterInvalid,
    );
    // [MQTT-4.7.1-1], [MQTT-4.7.1-2]
    rejects(
        V3,
        C,
        &sub("a/#/b"),
        Error::InvalidWildcard,
        ReasonCode::TopicFilterInvalid,
    );
    rejects(
        V3,
        C,
        &sub("a+"),
        Error::InvalidWildcard,
        ReasonCode::TopicFilterInvalid,
    );
    // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
    rejects(
        V3,
        C,
        &sub("$share//a"),
        Error::InvalidSharedSubscription,
        ReasonCode::TopicFilterInvalid,
    );
    rejects(
        V3,
        C,
        &packet(0xA2, &[&[0, 1], &s("$share/g")]),
        Error::InvalidSharedSubscription,
        ReasonCode::TopicFilterInvalid,
    );
}

#[test]
fn subscription_options_reserved_bits_and_values() {
    let sub5 = |opts: u8| packet(0x82, &[&[0, 1, 0], &s("a"), &[opts]]);
    // [MQTT-3.8.3-5]: bits 6 and 7.
    rejects(
        V5,
        C,
        &sub5(0x40),
        Error::InvalidSubscriptionOptions(0x40),
        ReasonCode::MalformedPacket,
    );
    // Retain Handling 3: "It is a Protocol Error to send a Retain Handling value of 3"
    // (3.8.3.1).
    rejects(
        V5,
        C,
        &sub5(0x30),
        Error::InvalidRetainHandling(0x30),
        ReasonCode::ProtocolError,
    );
    // QoS 3: "It is a Protocol Error if the Maximum QoS field has the value 3" (v5 3.8.3.1).
    rejects(
        V5,
        C,
        &sub5(0x03),
        Error::InvalidSubscriptionQoS(0x03),
        ReasonCode::ProtocolError,
    );
    // v3.1.1: QoS 3 is malformed [MQTT-3-8.3-4].
    rejects(
        V3,
        C,
        &packet(0x82, &[&[0, 1], &s("a"), &[0x03]]),
        Error::InvalidQoS,
        ReasonCode::MalformedPacket,
    );
    // v3.1.1: bits 2 to 7 reserved [MQTT-3-8.3-4].
    rejects(
        V3,
        C,
        &packet(0x82, &[&[0, 1], &s("a"), &[0x04]]),
        Error::InvalidSubscriptionOptions(0x04),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn no_local_on_a_shared_subscription() {
    // [MQTT-3.8.3-4]
    rejects(
        V5,
        C,
        &packet(0x82, &[&[0, 1, 0], &s("$share/g/a"), &[0x04]]),
        Error::NoLocalOnSharedSubscription,
        ReasonCode::ProtocolError,
    );
}

#[test]
fn session_expiry_in_a_server_disconnect() {
    // [MQTT-3.14.2-2]; a client may send it.
    let with_expiry = [0xE0, 7, 0x00, 5, 0x11, 0, 0, 0, 9];
    rejects(
        V5,
        S,
        &with_expiry,
        Error::PropertyNotAllowedFrom {
            packet: PacketType::Disconnect,
            from: S,
            property: PropertyId::SessionExpiryInterval,
        },
        ReasonCode::ProtocolError,
    );
    let mut buf = BytesMut::from(&with_expiry[..]);
    assert!(matches!(
        Decoder::new(V5, C).decode(&mut buf),
        Ok(Decoded::Packet(Packet::Disconnect(_)))
    ));
}

#[test]
fn auth_does_not_exist_in_v311() {
    rejects(
        V3,
        C,
        &[0xF0, 0],
        Error::ReservedPacketType(15),
        ReasonCode::MalformedPacket,
    );
}

// -- Encoding refuses what decoding would refuse -------------------------------------------

#[test]
fn encoder_refuses_invalid_packets() {
    let pid = PacketId::new(1).unwrap();
    let mut buf = Vec::new();
    let no_filters = Subscribe::new(pid, vec![]);
    assert_eq!(
        no_filters.encode(V5, &mut buf),
        Err(EncodeError::Invalid(Error::NoTopicFilters(
            PacketType::Subscribe
        )))
    );
    let mut dup0 = Publish::new(TopicName::new("t").unwrap(), "x", QosPid::AtMostOnce);
    dup0.dup = true;
    assert_eq!(
        dup0.encode(V3, &mut buf),
        Err(EncodeError::Invalid(Error::DupWithQoS0))
    );
    let no_topic = Publish::new(TopicName::empty(), "x", QosPid::AtMostOnce);
    assert_eq!(
        no_topic.encode(V5, &mut buf),
        Err(EncodeError::Invalid(Error::EmptyTopicName))
    );
    assert_eq!(
        Auth::default().encode(V3, &mut buf),
        Err(EncodeError::NotInVersion {
            what: "AUTH",
            version: V3
        })
    );
    let banned = ConnAck {
        reason_code: ReasonCode::Banned,
        ..ConnAck::default()
    };
    assert!(matches!(
        banned.encode(V3, &mut buf),
        Err(EncodeError::NotInVersion { .. })
    ));
    let mut bad_ack = PubResponse::new(pid);
    bad_ack.reason_code = ReasonCode::PacketIdentifierNotFound;
    assert_eq!(
        bad_ack.encode(PacketType::PubAck, V5, &mut buf),
        Err(EncodeError::Invalid(Error::InvalidReasonCode {
            packet: PacketType::PubAck,
            code: 0x92
        }))
    );
    let mut big = Connect::new(V5, MqttString::empty());
    big.password = Some(Bytes::from(vec![0; 65_536]));
    assert_eq!(
        big.encode(V5, &mut buf),
        Err(EncodeError::BinaryTooLong(65_536))
    );
    let mut v3_pw = Connect::new(V3, MqttString::empty());
    v3_pw.password = Some(Bytes::from_static(b"pw"));
    assert_eq!(
        v3_pw.encode(V3, &mut buf),
        Err(EncodeError::Invalid(Error::PasswordWithoutUsername))
    );
    // [MQTT-3.1.3-7]
    let mut v3_resume = Connect::new(V3, MqttString::empty());
    v3_resume.clean_start = false;
    assert_eq!(
        v3_resume.encode(V3, &mut buf),
        Err(EncodeError::Invalid(
            Error::EmptyClientIdWithoutCleanSession
        ))
    );
    assert_eq!(
        Error::EmptyClientIdWithoutCleanSession.reason_code(),
        ReasonCode::ClientIdentifierNotValid
    );
    assert!(buf.is_empty(), "nothing written on error");
}

#[test]
fn encoder_reports_the_room_it_needs() {
    let p = Publish::new(TopicName::new("a/b").unwrap(), "hello", QosPid::AtMostOnce);
    let mut small = [0u8; 4];
    let mut slice = &mut small[..];
    assert_eq!(
        p.encode(V3, &mut slice),
        Err(EncodeError::BufferTooSmall {
            required: 12,
            available: 4
        })
    );
    assert_eq!(small, [0; 4]);
    let mut exact = [0u8; 12];
    assert_eq!(p.encode(V3, &mut &mut exact[..]), Ok(12));
}

#[test]
fn values_are_validated_at_construction() {
    assert_eq!(MqttString::new("a\0"), Err(Error::NullCharacter));
    assert_eq!(
        MqttString::new("x".repeat(70_000)),
        Err(Error::StringTooLong(70_000))
    );
    assert_eq!(TopicName::new("a/+"), Err(Error::WildcardInTopicName));
    assert_eq!(TopicFilter::new("#/a"), Err(Error::InvalidWildcard));
    assert_eq!(SubscriptionIdentifier::new(0), None);
    assert_eq!(SubscriptionIdentifier::new(268_435_456), None);
    assert!(SubscriptionIdentifier::new(268_435_455).is_some());
}
