//! The error class of every "is a Malformed Packet" and "is a Protocol Error" statement of
//! MQTT v5.0 sections 1 to 3 that a packet decoder can check, one negative test (or one table
//! row) per statement, each naming its section: the exact error, and the reason code it maps
//! to (0x81 Malformed Packet, 0x82 Protocol Error, or the code the statement names). Section 1.2
//! defines the two: a Malformed Packet "cannot be parsed according to this specification", a
//! Protocol Error is found "after the packet has been parsed".
//!
//! This file: sections 1 and 2, and the properties of section 3 (every "more than once" and
//! every value range). `error_classes_packets.rs` has the rest of section 3 and the v3.1.1
//! equivalents. `docs/error-classes.tsv` lists every statement with its test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod error_classes_wire;

use error_classes_wire::*;
use mqtt_proto::{Error, PacketType, PropertyId};

fn id(raw: u8) -> PropertyId {
    PropertyId::from_u32(u32::from(raw)).unwrap()
}

// -- Section 1.5: data representation --------------------------------------------------------

/// v5 1.5.4 [MQTT-1.5.4-1]: "If the Client or Server receives an MQTT Control Packet containing
/// ill-formed UTF-8 it is a Malformed Packet." Checked in both directions, in a fixed-position
/// string (a Topic Name) and in a property.
#[test]
fn ill_formed_utf8_is_malformed() {
    let surrogate = b(&[0xED, 0xA0, 0x80]);
    for from in BOTH {
        let publish = packet(0x30, &[&surrogate, &[0]]);
        let statement = "v5 1.5.4 ill-formed UTF-8";
        rejects(V5, from, &publish, Error::InvalidUtf8, MALFORMED, statement);
        let reason_string = [&[0x1F][..], &b(&[0xC3])].concat();
        let ack = Carrier::PubAck.with(&[&reason_string]);
        rejects(V5, from, &ack, Error::InvalidUtf8, MALFORMED, statement);
    }
    let client_id = packet(0x10, &[&s("MQTT"), &[5, 2, 0, 0, 0], &b(&[0xFF])]);
    let statement = "v5 1.5.4 ill-formed UTF-8 in a Client Identifier";
    rejects(V5, C, &client_id, Error::InvalidUtf8, MALFORMED, statement);
}

/// v5 1.5.4 [MQTT-1.5.4-2]: "If a receiver (Server or Client) receives an MQTT Control Packet
/// containing U+0000 it is a Malformed Packet."
#[test]
fn null_character_is_malformed() {
    let statement = "v5 1.5.4 U+0000";
    for from in BOTH {
        let publish = packet(0x30, &[&s("a\0b"), &[0]]);
        rejects(
            V5,
            from,
            &publish,
            Error::NullCharacter,
            MALFORMED,
            statement,
        );
        let content_type = [&[0x03][..], &s("x\0")].concat();
        let publish = Carrier::Publish.with(&[&content_type]);
        rejects(
            V5,
            from,
            &publish,
            Error::NullCharacter,
            MALFORMED,
            statement,
        );
    }
    let filter = packet(0x82, &[&[0, 1, 0], &s("a/\0"), &[0]]);
    rejects(V5, C, &filter, Error::NullCharacter, MALFORMED, statement);
}

/// v5 1.5.4: a packet holding a Disallowed Unicode code point (U+0001..U+001F, U+007F..U+009F,
/// non-characters) "MAY" be treated as a Malformed Packet. This decoder does not: such strings
/// are well-formed UTF-8, and section 5.4.9 leaves them to the application.
#[test]
fn disallowed_code_points_are_accepted() {
    for from in BOTH {
        for text in ["a\u{1}b", "\u{7F}\u{9F}", "\u{FFFF}", "x\u{FDD0}"] {
            let publish = packet(0x30, &[&s(text), &[0]]);
            accepts(
                V5,
                from,
                &publish,
                "v5 1.5.4 Disallowed Unicode code points (MAY)",
            );
        }
    }
}

/// v5 1.5.5 [MQTT-1.5.5-1]: a Variable Byte Integer of more than four bytes, or not in the
/// fewest bytes, is a "Malformed Variable Byte Integer" (the decoding algorithm of 1.5.5), in the
/// Remaining Length, a Property Length or a property value.
#[test]
fn malformed_variable_byte_integers_are_malformed() {
    let statement = "v5 1.5.5 Malformed Variable Byte Integer";
    let error = Error::MalformedVariableByteInteger;
    for from in BOTH {
        let five = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        rejects(V5, from, &five, error.clone(), MALFORMED, statement);
        let long_property_length = packet(0x40, &[&[0, 1, 0], &[0x80, 0x00]]);
        rejects(
            V5,
            from,
            &long_property_length,
            error.clone(),
            MALFORMED,
            statement,
        );
    }
    let long_identifier = packet(0x82, &[&[0, 1, 3, 0x0B, 0x81, 0x00], &s("a"), &[0]]);
    rejects(V5, C, &long_identifier, error, MALFORMED, statement);
}

/// v5 1.5.7 [MQTT-1.5.7-1]: "If a receiver (Client or Server) receives a string pair which
/// does not meet these requirements it is a Malformed Packet." Name and value both.
#[test]
fn ill_formed_string_pairs_are_malformed() {
    let statement = "v5 1.5.7 UTF-8 String Pair";
    for from in BOTH {
        let bad_name = [&[0x26][..], &b(&[0xC0, 0x80]), &s("v")].concat();
        let ack = Carrier::PubComp.with(&[&bad_name]);
        rejects(V5, from, &ack, Error::InvalidUtf8, MALFORMED, statement);
        let bad_value = [&[0x26][..], &s("k"), &s("\0")].concat();
        let disconnect = Carrier::Disconnect.with(&[&bad_value]);
        rejects(
            V5,
            from,
            &disconnect,
            Error::NullCharacter,
            MALFORMED,
            statement,
        );
    }
}

// -- Section 2: packet format ----------------------------------------------------------------

/// v5 2.1.3 [MQTT-2.1.3-1]: "If invalid flags are received it is a Malformed Packet." Every
/// packet type with fixed flags, every wrong flag value, from each side that sends it; this
/// covers [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1], [MQTT-3.14.1-1] (DISCONNECT's
/// reserved bits: "Reason code of 0x81 (Malformed Packet)") and [MQTT-3.15.1-1].
#[test]
fn invalid_fixed_header_flags_are_malformed() {
    let fixed = [
        (PacketType::Connect, 0),
        (PacketType::ConnAck, 0),
        (PacketType::PubAck, 0),
        (PacketType::PubRec, 0),
        (PacketType::PubRel, 2),
        (PacketType::PubComp, 0),
        (PacketType::Subscribe, 2),
        (PacketType::SubAck, 0),
        (PacketType::Unsubscribe, 2),
        (PacketType::UnsubAck, 0),
        (PacketType::PingReq, 0),
        (PacketType::PingResp, 0),
        (PacketType::Disconnect, 0),
        (PacketType::Auth, 0),
    ];
    for (packet, expected) in fixed {
        for from in BOTH.into_iter().filter(|&f| packet.is_sent_by(f, V5)) {
            for flags in (0..16).filter(|&f| f != expected) {
                let first = ((packet as u8) << 4) | flags;
                let error = Error::InvalidHeaderFlags { packet, flags };
                let statement = "v5 2.1.3 invalid flags";
                rejects(V5, from, &[first, 0], error, MALFORMED, statement);
            }
        }
    }
}

/// v5 2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its packet
/// type ... is a Malformed Packet. If received, use a CONNACK or DISCONNECT packet with Reason
/// Code 0x81 (Malformed Packet)." Every identifier of Table 2-4 in every packet (and in the Will
/// Properties) that may not carry it, from each side that sends the packet.
#[test]
fn a_property_not_valid_for_the_packet_type_is_malformed() {
    let mut checked = 0;
    for carrier in Carrier::ALL {
        for raw in ALL_IDS
            .into_iter()
            .filter(|raw| !carrier.allowed().contains(raw))
        {
            for &from in carrier.senders() {
                let bytes = carrier.with(&[&property(raw)]);
                let error = Error::PropertyNotAllowed {
                    context: carrier.context(),
                    property: id(raw),
                };
                let statement = format!("v5 2.2.2.2 {carrier:?} with {raw:#04x}");
                rejects(V5, from, &bytes, error, MALFORMED, &statement);
                checked += 1;
            }
        }
    }
    // Each carrier's allowed list is the complement: the same bytes with an allowed identifier
    // decode (so the refusals above are about the identifier alone).
    for carrier in Carrier::ALL {
        for &raw in carrier.allowed() {
            for &from in carrier.senders() {
                if raw == 0x0B && carrier == Carrier::Publish && from == C {
                    continue; // [MQTT-3.3.4-6], see error_classes_packets.rs
                }
                if raw == 0x11 && carrier == Carrier::Disconnect && from == S {
                    continue; // [MQTT-3.14.2-2], see error_classes_packets.rs
                }
                let bytes = carrier.with(&[&property(raw)]);
                let statement = format!("{carrier:?} may carry {raw:#04x}");
                if raw == 0x16 && carrier == Carrier::Connect {
                    // Authentication Data needs the method (3.1.2.11.10).
                    let bytes = carrier.with(&[&property(0x15), &property(raw)]);
                    accepts(V5, from, &bytes, &statement);
                    continue;
                }
                accepts(V5, from, &bytes, &statement);
            }
        }
    }
    assert_eq!(checked, 479);
}

/// v5 2.2.2.2: "A Control Packet which ... contains a value not of the specified data type, is
/// a Malformed Packet." A value cut short by the end of the property block, a string value
/// that is not UTF-8, a Variable Byte Integer value that is not minimal.
#[test]
fn a_property_value_not_of_its_data_type_is_malformed() {
    let statement = "v5 2.2.2.2 value not of the specified data type";
    for from in BOTH {
        // Message Expiry Interval is a Four Byte Integer: two bytes are not one.
        let short = Carrier::Publish.with(&[&[0x02, 0, 0]]);
        rejects(V5, from, &short, Error::UnexpectedEnd, MALFORMED, statement);
        // Reason String is a UTF-8 Encoded String.
        let not_utf8 = Carrier::Disconnect.with(&[&[&[0x1F][..], &b(&[0xFE])].concat()]);
        rejects(
            V5,
            from,
            &not_utf8,
            Error::InvalidUtf8,
            MALFORMED,
            statement,
        );
        // A string length that runs past the block.
        let overrun = Carrier::Auth.with(&[&[0x1F, 0, 9, b'x']]);
        rejects(
            V5,
            from,
            &overrun,
            Error::UnexpectedEnd,
            MALFORMED,
            statement,
        );
    }
    let session_expiry = packet(0x20, &[&[0, 0, 3, 0x11, 0, 0]]);
    rejects(
        V5,
        S,
        &session_expiry,
        Error::UnexpectedEnd,
        MALFORMED,
        statement,
    );
    let non_minimal = Carrier::Subscribe.with(&[&[0x0B, 0x80, 0x80, 0x00]]);
    let error = Error::MalformedVariableByteInteger;
    rejects(V5, C, &non_minimal, error, MALFORMED, statement);
}

// -- Section 3: "It is a Protocol Error to include X more than once" -------------------------

/// Every single-valued property's "It is a Protocol Error to include ... more than once", by
/// section, from each side that sends the packet. (PUBLISH's Payload Format Indicator and
/// Message Expiry Interval, 3.3.2.3.2 and 3.3.2.3.3, say nothing of repeating; they are
/// refused the same way and are not counted here.)
#[test]
fn a_property_included_more_than_once_is_a_protocol_error() {
    use Carrier::*;
    let rows: &[(&str, Carrier, u8)] = &[
        ("3.1.2.11.2 Session Expiry Interval", Connect, 0x11),
        ("3.1.2.11.3 Receive Maximum", Connect, 0x21),
        ("3.1.2.11.4 Maximum Packet Size", Connect, 0x27),
        ("3.1.2.11.5 Topic Alias Maximum", Connect, 0x22),
        ("3.1.2.11.6 Request Response Information", Connect, 0x19),
        ("3.1.2.11.7 Request Problem Information", Connect, 0x17),
        ("3.1.2.11.9 Authentication Method", Connect, 0x15),
        ("3.1.2.11.10 Authentication Data", Connect, 0x16),
        ("3.1.3.2.2 Will Delay Interval", Will, 0x18),
        ("3.1.3.2.3 Payload Format Indicator", Will, 0x01),
        ("3.1.3.2.4 Message Expiry Interval", Will, 0x02),
        ("3.1.3.2.5 Content Type", Will, 0x03),
        ("3.1.3.2.6 Response Topic", Will, 0x08),
        ("3.1.3.2.7 Correlation Data", Will, 0x09),
        ("3.2.2.3.2 Session Expiry Interval", ConnAck, 0x11),
        ("3.2.2.3.3 Receive Maximum", ConnAck, 0x21),
        ("3.2.2.3.4 Maximum QoS", ConnAck, 0x24),
        ("3.2.2.3.5 Retain Available", ConnAck, 0x25),
        ("3.2.2.3.6 Maximum Packet Size", ConnAck, 0x27),
        ("3.2.2.3.7 Assigned Client Identifier", ConnAck, 0x12),
        ("3.2.2.3.8 Topic Alias Maximum", ConnAck, 0x22),
        ("3.2.2.3.9 Reason String", ConnAck, 0x1F),
        ("3.2.2.3.11 Wildcard Subscription Available", ConnAck, 0x28),
        (
            "3.2.2.3.12 Subscription Identifier Available",
            ConnAck,
            0x29,
        ),
        ("3.2.2.3.13 Shared Subscription Available", ConnAck, 0x2A),
        ("3.2.2.3.14 Server Keep Alive", ConnAck, 0x13),
        ("3.2.2.3.15 Response Information", ConnAck, 0x1A),
        ("3.2.2.3.16 Server Reference", ConnAck, 0x1C),
        ("3.2.2.3.17 Authentication Method", ConnAck, 0x15),
        ("3.2.2.3.18 Authentication Data", ConnAck, 0x16),
        ("3.3.2.3.4 Topic Alias", Publish, 0x23),
        ("3.3.2.3.5 Response Topic", Publish, 0x08),
        ("3.3.2.3.6 Correlation Data", Publish, 0x09),
        ("3.3.2.3.9 Content Type", Publish, 0x03),
        ("3.4.2.2.2 Reason String", PubAck, 0x1F),
        ("3.5.2.2.2 Reason String", PubRec, 0x1F),
        ("3.6.2.2.2 Reason String", PubRel, 0x1F),
        ("3.7.2.2.2 Reason String", PubComp, 0x1F),
        ("3.8.2.1.2 Subscription Identifier", Subscribe, 0x0B),
        ("3.9.2.1.2 Reason String", SubAck, 0x1F),
        ("3.11.2.1.2 Reason String", UnsubAck, 0x1F),
        ("3.14.2.2.2 Session Expiry Interval", Disconnect, 0x11),
        ("3.14.2.2.3 Reason String", Disconnect, 0x1F),
        ("3.14.2.2.5 Server Reference", Disconnect, 0x1C),
        ("3.15.2.2.2 Authentication Method", Auth, 0x15),
        ("3.15.2.2.3 Authentication Data", Auth, 0x16),
        ("3.15.2.2.4 Reason String", Auth, 0x1F),
    ];
    assert_eq!(rows.len(), 47);
    for &(section, carrier, raw) in rows {
        let twice = property(raw);
        // Authentication Data comes with its method (3.1.2.11.10); the method is given once.
        let method = if raw == 0x16 { property(0x15) } else { vec![] };
        for &from in carrier.senders() {
            if raw == 0x11 && carrier == Disconnect && from == S {
                continue; // a server sends none at all [MQTT-3.14.2-2]
            }
            let bytes = carrier.with(&[&method, &twice, &twice]);
            let error = Error::DuplicateProperty(id(raw));
            let statement = format!("v5 {section}: more than once");
            rejects(V5, from, &bytes, error, PROTOCOL, &statement);
        }
    }
}

// -- Section 3: property values the specification rules out ---------------------------------

/// "It is a Protocol Error ... for it to have the value 0" / "to have a value other than 0 or
/// 1" / "if the Subscription Identifier has a value of 0", by section.
#[test]
fn a_property_value_out_of_range_is_a_protocol_error() {
    use Carrier::*;
    let rows: &[(&str, Carrier, &[u8])] = &[
        ("3.1.2.11.3 Receive Maximum 0", Connect, &[0x21, 0, 0]),
        (
            "3.1.2.11.4 Maximum Packet Size 0",
            Connect,
            &[0x27, 0, 0, 0, 0],
        ),
        (
            "3.1.2.11.6 Request Response Information 2",
            Connect,
            &[0x19, 2],
        ),
        (
            "3.1.2.11.7 Request Problem Information 2",
            Connect,
            &[0x17, 2],
        ),
        ("3.2.2.3.3 Receive Maximum 0", ConnAck, &[0x21, 0, 0]),
        ("3.2.2.3.4 Maximum QoS 2", ConnAck, &[0x24, 2]),
        ("3.2.2.3.5 Retain Available 2", ConnAck, &[0x25, 2]),
        (
            "3.2.2.3.6 Maximum Packet Size 0",
            ConnAck,
            &[0x27, 0, 0, 0, 0],
        ),
        (
            "3.2.2.3.11 Wildcard Subscription Available 2",
            ConnAck,
            &[0x28, 2],
        ),
        (
            "3.2.2.3.12 Subscription Identifier Available 2",
            ConnAck,
            &[0x29, 2],
        ),
        (
            "3.2.2.3.13 Shared Subscription Available 2",
            ConnAck,
            &[0x2A, 0xFF],
        ),
        ("3.3.2.3.8 Subscription Identifier 0", Publish, &[0x0B, 0]),
        ("3.8.2.1.2 Subscription Identifier 0", Subscribe, &[0x0B, 0]),
    ];
    assert_eq!(rows.len(), 13);
    for &(section, carrier, value) in rows {
        let raw = value[0];
        let error = if raw == 0x0B {
            Error::InvalidSubscriptionIdentifier
        } else {
            Error::InvalidPropertyValue(id(raw))
        };
        // A PUBLISH from a client may carry no Subscription Identifier at all.
        let from = if carrier == Publish {
            S
        } else {
            carrier.senders()[0]
        };
        let bytes = carrier.with(&[value]);
        let statement = format!("v5 {section}");
        rejects(V5, from, &bytes, error, PROTOCOL, &statement);
    }
}
