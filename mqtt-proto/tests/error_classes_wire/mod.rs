//! Packet builders shared by `error_classes.rs` and `error_classes_packets.rs`: each builds a
//! v5 packet that is valid but for the property block it is given, so that the block alone
//! decides the error.
#![allow(dead_code)]

use bytes::BytesMut;
use mqtt_proto::{Decoder, Error, ProtocolVersion, ReasonCode, Role};

pub const V3: ProtocolVersion = ProtocolVersion::V311;
pub const V5: ProtocolVersion = ProtocolVersion::V5;
pub const C: Role = Role::Client;
pub const S: Role = Role::Server;
pub const BOTH: [Role; 2] = [C, S];

/// 0x81: the packet cannot be parsed (section 1.2).
pub const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
/// 0x82: the packet parses but holds data the protocol does not allow (section 1.2).
pub const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;

/// A Variable Byte Integer (section 1.5.5).
pub fn varint(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A UTF-8 Encoded String or Binary Data: a two-byte length, then the bytes.
pub fn s(text: &str) -> Vec<u8> {
    b(text.as_bytes())
}

pub fn b(bytes: &[u8]) -> Vec<u8> {
    let mut v = (bytes.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(bytes);
    v
}

/// A packet: the first byte, the Remaining Length, the parts.
pub fn packet(first: u8, parts: &[&[u8]]) -> Vec<u8> {
    let body = parts.concat();
    let mut v = vec![first];
    v.extend_from_slice(&varint(body.len()));
    v.extend_from_slice(&body);
    v
}

/// A property block: the Property Length, then the properties (section 2.2.2).
pub fn block(properties: &[&[u8]]) -> Vec<u8> {
    let properties = properties.concat();
    let mut v = varint(properties.len());
    v.extend_from_slice(&properties);
    v
}

/// A property of the right data type for its identifier (Table 2-4), with a value every
/// packet that may carry it accepts.
pub fn property(id: u8) -> Vec<u8> {
    let value: Vec<u8> = match id {
        // Byte: 0 or 1 are valid for every byte property; 1 also for Payload Format.
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => vec![0],
        // Four Byte Integer; never 0 (Maximum Packet Size may not be 0).
        0x02 | 0x11 | 0x18 | 0x27 => vec![0, 0, 0x10, 0],
        // UTF-8 Encoded String (a Response Topic is a Topic Name).
        0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => s("r"),
        // Binary Data.
        0x09 | 0x16 => b(b"d"),
        // Variable Byte Integer: a Subscription Identifier of 1.
        0x0B => vec![1],
        // Two Byte Integer; never 0 (Receive Maximum and Topic Alias may not be 0).
        0x13 | 0x21 | 0x22 | 0x23 => vec![0, 5],
        // UTF-8 String Pair.
        0x26 => [s("k"), s("v")].concat(),
        _ => panic!("no property {id:#04x}"),
    };
    [vec![id], value].concat()
}

/// Every Property Identifier of Table 2-4.
pub const ALL_IDS: [u8; 27] = [
    0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C,
    0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
];

/// A packet (or the Will Properties of CONNECT) with a property block of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl Carrier {
    pub const ALL: [Carrier; 14] = [
        Carrier::Connect,
        Carrier::Will,
        Carrier::ConnAck,
        Carrier::Publish,
        Carrier::PubAck,
        Carrier::PubRec,
        Carrier::PubRel,
        Carrier::PubComp,
        Carrier::Subscribe,
        Carrier::SubAck,
        Carrier::Unsubscribe,
        Carrier::UnsubAck,
        Carrier::Disconnect,
        Carrier::Auth,
    ];

    /// The sides that send it (section 2.1.2).
    pub fn senders(self) -> &'static [Role] {
        match self {
            Carrier::Connect | Carrier::Will | Carrier::Subscribe | Carrier::Unsubscribe => &[C],
            Carrier::ConnAck | Carrier::SubAck | Carrier::UnsubAck => &[S],
            _ => &BOTH,
        }
    }

    /// The Property Identifiers the specification lets it carry (Table 2-4, and each
    /// packet's properties section).
    pub fn allowed(self) -> &'static [u8] {
        match self {
            Carrier::Connect => &[0x11, 0x21, 0x27, 0x22, 0x19, 0x17, 0x26, 0x15, 0x16],
            Carrier::Will => &[0x18, 0x01, 0x02, 0x03, 0x08, 0x09, 0x26],
            Carrier::ConnAck => &[
                0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1F, 0x26, 0x28, 0x29, 0x2A, 0x13, 0x1A,
                0x1C, 0x15, 0x16,
            ],
            Carrier::Publish => &[0x01, 0x02, 0x23, 0x08, 0x09, 0x26, 0x0B, 0x03],
            Carrier::PubAck
            | Carrier::PubRec
            | Carrier::PubRel
            | Carrier::PubComp
            | Carrier::SubAck
            | Carrier::UnsubAck => &[0x1F, 0x26],
            Carrier::Subscribe => &[0x0B, 0x26],
            Carrier::Unsubscribe => &[0x26],
            Carrier::Disconnect => &[0x11, 0x1F, 0x26, 0x1C],
            Carrier::Auth => &[0x15, 0x16, 0x1F, 0x26],
        }
    }

    /// What `PropertyNotAllowed` names as the carrier.
    pub fn context(self) -> &'static str {
        match self {
            Carrier::Connect => "CONNECT",
            Carrier::Will => "will properties",
            Carrier::ConnAck => "CONNACK",
            Carrier::Publish => "PUBLISH",
            Carrier::Subscribe => "SUBSCRIBE",
            Carrier::Unsubscribe => "UNSUBSCRIBE",
            Carrier::Disconnect => "DISCONNECT",
            Carrier::Auth => "AUTH",
            _ => "an acknowledgement",
        }
    }

    /// The whole packet with `properties` as its property block (the Will Properties for
    /// [`Carrier::Will`]); an AUTH gets an Authentication Method first, which it must carry
    /// (section 3.15.2.2.2), unless `properties` is given one.
    pub fn with(self, properties: &[&[u8]]) -> Vec<u8> {
        let props = block(properties);
        let pid: &[u8] = &[0, 1];
        match self {
            Carrier::Connect => connect(&props, None),
            Carrier::Will => connect(&block(&[]), Some(&props)),
            Carrier::ConnAck => packet(0x20, &[&[0, 0], &props]),
            Carrier::Publish => packet(0x30, &[&s("t"), &props, b"payload"]),
            Carrier::PubAck => packet(0x40, &[pid, &[0], &props]),
            Carrier::PubRec => packet(0x50, &[pid, &[0], &props]),
            Carrier::PubRel => packet(0x62, &[pid, &[0], &props]),
            Carrier::PubComp => packet(0x70, &[pid, &[0], &props]),
            Carrier::Subscribe => packet(0x82, &[pid, &props, &s("a"), &[0]]),
            Carrier::SubAck => packet(0x90, &[pid, &props, &[0]]),
            Carrier::Unsubscribe => packet(0xA2, &[pid, &props, &s("a")]),
            Carrier::UnsubAck => packet(0xB0, &[pid, &props, &[0]]),
            Carrier::Disconnect => packet(0xE0, &[&[0], &props]),
            Carrier::Auth => {
                let method = property(0x15);
                let props = if properties.iter().any(|p| p.first() == Some(&0x15)) {
                    props
                } else {
                    block(&[&[&method[..]], properties].concat())
                };
                packet(0xF0, &[&[0x18], &props])
            }
        }
    }
}

/// A v5 CONNECT from client "c" with Clean Start, these properties and, if given, a will
/// (topic "t", payload "m") with these Will Properties.
pub fn connect(props: &[u8], will: Option<&[u8]>) -> Vec<u8> {
    let flags = if will.is_some() { 0x06 } else { 0x02 };
    let mut body = [&s("MQTT")[..], &[5, flags, 0, 60], props, &s("c")].concat();
    if let Some(will) = will {
        body.extend_from_slice(will);
        body.extend_from_slice(&s("t"));
        body.extend_from_slice(&s("m"));
    }
    packet(0x10, &[&body])
}

/// The decoder of what `from` sends in `version` refuses `bytes` with exactly `error`, whose
/// reason code is `class`.
#[track_caller]
pub fn rejects(
    version: ProtocolVersion,
    from: Role,
    bytes: &[u8],
    error: Error,
    class: ReasonCode,
    statement: &str,
) {
    let mut buf = BytesMut::from(bytes);
    let got = Decoder::new(version, from).decode(&mut buf);
    assert_eq!(
        got,
        Err(error.clone()),
        "{statement}: {version} from {from}: {bytes:02x?}"
    );
    assert_eq!(error.reason_code(), class, "{statement}: {error}");
}

/// The decoder of what `from` sends in `version` takes `bytes` as one whole packet.
#[track_caller]
pub fn accepts(version: ProtocolVersion, from: Role, bytes: &[u8], statement: &str) {
    let mut buf = BytesMut::from(bytes);
    let got = Decoder::new(version, from).decode(&mut buf);
    assert!(
        matches!(got, Ok(mqtt_proto::Decoded::Packet(_))) && buf.is_empty(),
        "{statement}: {version} from {from}: {bytes:02x?} gave {got:?}"
    );
}
