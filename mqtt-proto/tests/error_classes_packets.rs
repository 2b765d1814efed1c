//! The error classes of section 3 of MQTT v5.0 beyond the properties (see `error_classes.rs`
//! for those and for sections 1 and 2), and the v3.1.1 equivalents: one test per statement,
//! each naming its section. `docs/error-classes.tsv` lists every statement with its test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod error_classes_wire;

use bytes::BytesMut;
use error_classes_wire::*;
use mqtt_proto::{Decoder, Error, PacketType, PropertyId, ReasonCode, Role};

// -- CONNECT (3.1) ---------------------------------------------------------------------------

/// v5 3.1.2.3 [MQTT-3.1.2-3]: "If the reserved flag is not 0 it is a Malformed Packet."
#[test]
fn connect_reserved_flag_is_malformed() {
    let mut bytes = connect(&block(&[]), None);
    bytes[9] |= 0x01;
    let statement = "v5 3.1.2.3 reserved flag";
    rejects(
        V5,
        C,
        &bytes,
        Error::ReservedConnectFlag,
        MALFORMED,
        statement,
    );
}

/// v5 3.1.2.6 [MQTT-3.1.2-12]: Will QoS "A value of 3 (0x03) is a Malformed Packet."
#[test]
fn will_qos_3_is_malformed() {
    let mut bytes = connect(&block(&[]), Some(&block(&[])));
    bytes[9] |= 0x18;
    let statement = "v5 3.1.2.6 Will QoS 3";
    rejects(V5, C, &bytes, Error::InvalidQoS, MALFORMED, statement);
}

/// v5 3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
/// Authentication Method." With the method, the same data is accepted.
#[test]
fn connect_authentication_data_without_a_method_is_a_protocol_error() {
    let data = property(0x16);
    let bytes = connect(&block(&[&data]), None);
    let error = Error::MissingAuthenticationMethod(PacketType::Connect);
    let statement = "v5 3.1.2.11.10 Authentication Data without Authentication Method";
    rejects(V5, C, &bytes, error, PROTOCOL, statement);
    let with_method = connect(&block(&[&data, &property(0x15)]), None);
    accepts(V5, C, &with_method, statement);
}

/// v5 3.1.2.11.4: "If a Client receives a packet whose size exceeds this limit, this is a
/// Protocol Error, the Client uses DISCONNECT with Reason Code 0x95 (Packet too large)"; v5
/// 3.2.2.3.6 says the same of the Server. Refused from the fixed header alone.
#[test]
fn a_packet_over_the_maximum_packet_size_is_packet_too_large() {
    for (from, section) in [(S, "3.1.2.11.4"), (C, "3.2.2.3.6")] {
        let decoder = Decoder::new(V5, from).with_max_packet_size(64);
        let mut buf = BytesMut::from(&[0x30, 63][..]);
        let error = Error::PacketTooLarge { size: 65, max: 64 };
        assert_eq!(decoder.decode(&mut buf), Err(error.clone()), "{section}");
        assert_eq!(error.reason_code(), ReasonCode::PacketTooLarge, "{section}");
    }
}

// -- PUBLISH (3.3) ---------------------------------------------------------------------------

/// v5 3.3.1.2 [MQTT-3.3.1-4]: "If a Server or Client receives a PUBLISH packet which has both
/// QoS bits set to 1 it is a Malformed Packet."
#[test]
fn publish_qos_3_is_malformed() {
    for from in BOTH {
        let bytes = packet(0x36, &[&s("t"), &[0, 1], &[0]]);
        let statement = "v5 3.3.1.2 QoS 3";
        rejects(V5, from, &bytes, Error::InvalidQoS, MALFORMED, statement);
    }
}

/// v5 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is no Topic
/// Alias." With a Topic Alias it is accepted.
#[test]
fn an_empty_topic_name_without_a_topic_alias_is_a_protocol_error() {
    for from in BOTH {
        let bytes = packet(0x30, &[&s(""), &block(&[])]);
        let statement = "v5 3.3.2.1 zero-length Topic Name, no Topic Alias";
        rejects(V5, from, &bytes, Error::EmptyTopicName, PROTOCOL, statement);
        let aliased = packet(0x30, &[&s(""), &block(&[&property(0x23)])]);
        accepts(V5, from, &aliased, statement);
    }
}

/// v5 3.3.4 [MQTT-3.3.4-6]: "It is a Protocol Error for a PUBLISH packet to contain any
/// Subscription Identifier other than those received in SUBSCRIBE packet which caused it to
/// flow. A PUBLISH packet sent from a Client to a Server MUST NOT contain a Subscription
/// Identifier." The identifier is valid for PUBLISH (2.2.2.2), so this is no Malformed Packet.
#[test]
fn a_subscription_identifier_in_a_client_publish_is_a_protocol_error() {
    let bytes = Carrier::Publish.with(&[&property(0x0B)]);
    let error = Error::PropertyNotAllowedFrom {
        packet: PacketType::Publish,
        from: C,
        property: PropertyId::SubscriptionIdentifier,
    };
    let statement = "v5 3.3.4 Subscription Identifier from a Client";
    rejects(V5, C, &bytes, error, PROTOCOL, statement);
    accepts(V5, S, &bytes, statement);
}

/// v5 3.3.4: "A Topic Alias value of 0 or greater than the Maximum Topic Alias is a Protocol
/// Error, the receiver uses DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)." The
/// decoder sees 0; the maximum is the session's to check.
#[test]
fn topic_alias_0_is_topic_alias_invalid() {
    for from in BOTH {
        let bytes = Carrier::Publish.with(&[&[0x23, 0, 0]]);
        let class = ReasonCode::TopicAliasInvalid;
        let statement = "v5 3.3.4 Topic Alias 0";
        rejects(V5, from, &bytes, Error::TopicAliasZero, class, statement);
    }
}

// -- SUBSCRIBE and UNSUBSCRIBE (3.8, 3.10) ---------------------------------------------------

fn subscribe(options: u8) -> Vec<u8> {
    packet(0x82, &[&[0, 1], &block(&[]), &s("a/b"), &[options]])
}

/// v5 3.8.3 [MQTT-3.8.3-2]: "A SUBSCRIBE packet with no Payload is a Protocol Error."
#[test]
fn subscribe_without_a_payload_is_a_protocol_error() {
    let bytes = packet(0x82, &[&[0, 1], &block(&[])]);
    let error = Error::NoTopicFilters(PacketType::Subscribe);
    rejects(V5, C, &bytes, error, PROTOCOL, "v5 3.8.3 no Payload");
}

/// v5 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3." With the other
/// options (No Local, Retain As Published, Retain Handling) set or not.
#[test]
fn subscription_maximum_qos_3_is_a_protocol_error() {
    for options in [0x03, 0x07, 0x0B, 0x13, 0x23, 0x2F] {
        let error = Error::InvalidSubscriptionQoS(options);
        let statement = format!("v5 3.8.3.1 Maximum QoS 3 in {options:#04x}");
        rejects(V5, C, &subscribe(options), error, PROTOCOL, &statement);
    }
}

/// v5 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
#[test]
fn retain_handling_3_is_a_protocol_error() {
    for options in [0x30, 0x31, 0x32, 0x34, 0x38, 0x3E] {
        let error = Error::InvalidRetainHandling(options);
        let statement = format!("v5 3.8.3.1 Retain Handling 3 in {options:#04x}");
        rejects(V5, C, &subscribe(options), error, PROTOCOL, &statement);
    }
}

/// v5 3.8.3.1 [MQTT-3.8.3-4]: "It is a Protocol Error to set the No Local bit to 1 on a Shared
/// Subscription."
#[test]
fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let bytes = packet(0x82, &[&[0, 1], &block(&[]), &s("$share/g/a"), &[0x04]]);
    let error = Error::NoLocalOnSharedSubscription;
    rejects(
        V5,
        C,
        &bytes,
        error,
        PROTOCOL,
        "v5 3.8.3.1 No Local, shared",
    );
}

/// v5 3.8.3.1 [MQTT-3.8.3-5]: "The Server MUST treat a SUBSCRIBE packet as malformed if any of
/// Reserved bits in the Payload are non-zero." Reserved bits win over a QoS or Retain Handling
/// of 3 in the same byte.
#[test]
fn subscription_options_reserved_bits_are_malformed() {
    for options in [0x40, 0x80, 0xC0, 0x43, 0xB1, 0xFF] {
        let error = Error::InvalidSubscriptionOptions(options);
        let statement = format!("v5 3.8.3.1 reserved bits in {options:#04x}");
        rejects(V5, C, &subscribe(options), error, MALFORMED, &statement);
    }
}

/// v5 3.10.3 [MQTT-3.10.3-2]: "An UNSUBSCRIBE packet with no Payload is a Protocol Error."
#[test]
fn unsubscribe_without_a_payload_is_a_protocol_error() {
    let bytes = packet(0xA2, &[&[0, 1], &block(&[])]);
    let error = Error::NoTopicFilters(PacketType::Unsubscribe);
    rejects(V5, C, &bytes, error, PROTOCOL, "v5 3.10.3 no Payload");
}

// -- DISCONNECT (3.14) -----------------------------------------------------------------------

/// v5 3.14.2.2.2 [MQTT-3.14.2-2]: "The Session Expiry Interval MUST NOT be sent on a DISCONNECT
/// by the Server." The section names no class; the identifier is valid for DISCONNECT, so it is
/// no Malformed Packet (2.2.2.2) but, like the other rules about what the packet holds, a
/// Protocol Error (section 1.2). A client's DISCONNECT may carry it.
#[test]
fn session_expiry_in_a_server_disconnect_is_a_protocol_error() {
    let bytes = Carrier::Disconnect.with(&[&property(0x11)]);
    let error = Error::PropertyNotAllowedFrom {
        packet: PacketType::Disconnect,
        from: S,
        property: PropertyId::SessionExpiryInterval,
    };
    let statement = "v5 3.14.2.2.2 Session Expiry Interval from a Server";
    rejects(V5, S, &bytes, error, PROTOCOL, statement);
    accepts(V5, C, &bytes, statement);
}

// -- AUTH (3.15) -----------------------------------------------------------------------------

/// v5 3.15.2.2.2: "It is a Protocol Error to omit the Authentication Method" from an AUTH, from
/// either side: with other properties, with none, and in the short form of 3.15.2.1 (Remaining
/// Length 0), which has no properties at all ([MQTT-4.12.0-5] wants the method in every AUTH).
#[test]
fn auth_without_an_authentication_method_is_a_protocol_error() {
    let statement = "v5 3.15.2.2.2 AUTH without Authentication Method";
    let error = Error::MissingAuthenticationMethod(PacketType::Auth);
    for from in BOTH {
        let data_only = packet(0xF0, &[&[0x18], &block(&[&property(0x16)])]);
        rejects(V5, from, &data_only, error.clone(), PROTOCOL, statement);
        let no_properties = packet(0xF0, &[&[0x19], &block(&[])]);
        rejects(V5, from, &no_properties, error.clone(), PROTOCOL, statement);
        rejects(V5, from, &[0xF0, 0], error.clone(), PROTOCOL, statement);
        accepts(V5, from, &Carrier::Auth.with(&[]), statement);
    }
}

// -- MQTT v3.1.1 -----------------------------------------------------------------------------
//
// v3.1.1 has no reason codes for these: a receiver closes the Network Connection. Its text calls
// some errors "malformed" and others a "protocol violation"; the v5 reason code of the error
// (which a v3.1.1 receiver does not send) follows the same line.

/// v3.1.1 1.5.3 [MQTT-1.5.3-1], [MQTT-1.5.3-2]: ill-formed UTF-8 or U+0000 in a string: the
/// receiver closes the connection (v5: Malformed Packet).
#[test]
fn v311_ill_formed_strings() {
    for from in BOTH {
        let surrogate = packet(0x30, &[&b(&[0xED, 0xB0, 0x80])]);
        let statement = "v3.1.1 1.5.3 ill-formed UTF-8";
        rejects(
            V3,
            from,
            &surrogate,
            Error::InvalidUtf8,
            MALFORMED,
            statement,
        );
        let null = packet(0x30, &[&s("\0")]);
        let statement = "v3.1.1 1.5.3 U+0000";
        rejects(V3, from, &null, Error::NullCharacter, MALFORMED, statement);
    }
}

/// v3.1.1 2.2.2 [MQTT-2.2.2-2]: "If invalid flags are received, the receiver MUST close the
/// Network Connection", with [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1] ("MUST treat any
/// other value as malformed") and [MQTT-3.14.1-1] (DISCONNECT's reserved bits).
#[test]
fn v311_invalid_fixed_header_flags_are_malformed() {
    let cases: [(u8, Role); 6] = [
        (0x60, C),
        (0x63, S),
        (0x80, C),
        (0xA6, C),
        (0xE2, C),
        (0x41, S),
    ];
    for (first, from) in cases {
        let packet = PacketType::from_u8(first >> 4).unwrap();
        let error = Error::InvalidHeaderFlags {
            packet,
            flags: first & 0x0F,
        };
        let statement = format!("v3.1.1 2.2.2 flags of {packet}");
        rejects(V3, from, &[first, 2, 0, 1], error, MALFORMED, &statement);
    }
}

/// v3.1.1 3.1.2.3 [MQTT-3.1.2-3]: the Server disconnects a Client whose reserved flag is not
/// zero (v5: Malformed Packet).
#[test]
fn v311_connect_reserved_flag_is_malformed() {
    let bytes = packet(0x10, &[&s("MQTT"), &[4, 0x03, 0, 60], &s("c")]);
    let statement = "v3.1.1 3.1.2.3 reserved flag";
    rejects(
        V3,
        C,
        &bytes,
        Error::ReservedConnectFlag,
        MALFORMED,
        statement,
    );
}

/// v3.1.1 3.3.1.2 [MQTT-3.3.1-4]: a PUBLISH with both QoS bits set: the receiver closes the
/// connection (v5: Malformed Packet).
#[test]
fn v311_publish_qos_3_is_malformed() {
    for from in BOTH {
        let bytes = packet(0x36, &[&s("t"), &[0, 1]]);
        let statement = "v3.1.1 3.3.1.2 QoS 3";
        rejects(V3, from, &bytes, Error::InvalidQoS, MALFORMED, statement);
    }
}

/// v3.1.1 3.8.3 [MQTT-3.8.3-3] and 3.10.3 [MQTT-3.10.3-2]: a SUBSCRIBE or UNSUBSCRIBE "with no
/// payload is a protocol violation".
#[test]
fn v311_subscribe_and_unsubscribe_without_a_payload_are_protocol_violations() {
    let error = Error::NoTopicFilters(PacketType::Subscribe);
    let statement = "v3.1.1 3.8.3 no payload";
    rejects(V3, C, &[0x82, 2, 0, 1], error, PROTOCOL, statement);
    let error = Error::NoTopicFilters(PacketType::Unsubscribe);
    let statement = "v3.1.1 3.10.3 no payload";
    rejects(V3, C, &[0xA2, 2, 0, 1], error, PROTOCOL, statement);
}

/// v3.1.1 3.8.3.1 [MQTT-3.8.3-4] (printed "MQTT-3-8.3-4"): "The Server MUST treat a SUBSCRIBE
/// packet as malformed and close the Network Connection if any of Reserved bits in the payload
/// are non-zero, or QoS is not 0,1 or 2." Unlike v5, a QoS of 3 is malformed here.
#[test]
fn v311_subscription_reserved_bits_and_qos_3_are_malformed() {
    let sub = |options: u8| packet(0x82, &[&[0, 1], &s("a"), &[options]]);
    for options in [0x04, 0x10, 0x30, 0x80, 0xFC] {
        let error = Error::InvalidSubscriptionOptions(options);
        let statement = format!("v3.1.1 3.8.3.1 reserved bits in {options:#04x}");
        rejects(V3, C, &sub(options), error, MALFORMED, &statement);
    }
    let statement = "v3.1.1 3.8.3.1 QoS 3";
    rejects(V3, C, &sub(0x03), Error::InvalidQoS, MALFORMED, statement);
}
