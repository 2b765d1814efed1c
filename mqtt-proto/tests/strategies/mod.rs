//! The proptest strategies of the round-trip tests: field values here, the property structs in
//! `properties`, whole packets of every kind, version and sender in `packets`.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::select;

use mqtt_proto::{
    MqttString, PacketType, PayloadFormat, ProtocolVersion, QoS, ReasonCode, Role,
    SubscriptionIdentifier, SubscriptionIdentifiers, TopicFilter, TopicName, UserProperties,
    UserProperty, MAX_VARINT,
};

mod packets;
mod properties;

pub use packets::*;
pub use properties::*;

pub const V311: ProtocolVersion = ProtocolVersion::V311;
pub const V5: ProtocolVersion = ProtocolVersion::V5;
pub const VERSIONS: [ProtocolVersion; 2] = [V311, V5];

pub const ALL_TYPES: [PacketType; 15] = [
    PacketType::Connect,
    PacketType::ConnAck,
    PacketType::Publish,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::Subscribe,
    PacketType::SubAck,
    PacketType::Unsubscribe,
    PacketType::UnsubAck,
    PacketType::PingReq,
    PacketType::PingResp,
    PacketType::Disconnect,
    PacketType::Auth,
];

// Reason codes each packet may carry (v5 section 2.4 and the packets' own tables).
pub const CONNACK_REASONS: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
/// The v5 codes of the v3.1.1 CONNACK return codes 0 to 5.
pub const CONNACK_V311_REASONS: &[u8] = &[0x00, 0x84, 0x85, 0x88, 0x86, 0x87];
pub const PUBACK_REASONS: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
pub const PUBREL_REASONS: &[u8] = &[0x00, 0x92];
pub const SUBACK_REASONS: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
pub const UNSUBACK_REASONS: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
pub const DISCONNECT_REASONS: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
pub const AUTH_REASONS: &[u8] = &[0x00, 0x18, 0x19];

/// Who sends each packet (v5 section 2.1.2's direction column; v3.1.1 has no DISCONNECT from a
/// server and no AUTH).
pub fn senders(packet_type: PacketType, version: ProtocolVersion) -> &'static [Role] {
    use PacketType::*;
    const CLIENT: &[Role] = &[Role::Client];
    const SERVER: &[Role] = &[Role::Server];
    const BOTH: &[Role] = &[Role::Client, Role::Server];
    match (packet_type, version) {
        (Connect | Subscribe | Unsubscribe | PingReq, _) => CLIENT,
        (ConnAck | SubAck | UnsubAck | PingResp, _) => SERVER,
        (Publish | PubAck | PubRec | PubRel | PubComp, _) => BOTH,
        (Disconnect, ProtocolVersion::V311) => CLIENT,
        (Disconnect, ProtocolVersion::V5) => BOTH,
        (Auth, ProtocolVersion::V311) => &[],
        (Auth, ProtocolVersion::V5) => BOTH,
    }
}

// ---------------------------------------------------------------------------------------------
// Field strategies

pub fn reason(codes: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    select(codes).prop_map(|c| ReasonCode::from_u8(c).unwrap())
}

/// Any character but U+0000 (which MQTT strings may not hold), biased towards ASCII and `/`.
pub fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just('/'),
        2 => any::<char>().prop_map(|c| if c == '\0' { 'x' } else { c }),
    ]
}

pub fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 0..=max).prop_map(String::from_iter)
}

pub fn string(max: usize) -> impl Strategy<Value = MqttString> {
    text(max).prop_map(|s| MqttString::new(s).unwrap())
}

/// A non-empty topic name without wildcards.
pub fn topic_name() -> impl Strategy<Value = TopicName> {
    prop::collection::vec(
        text_char().prop_map(|c| if c == '+' || c == '#' { '_' } else { c }),
        1..=16,
    )
    .prop_map(|cs| TopicName::new(String::from_iter(cs)).unwrap())
}

/// A valid topic filter: levels of `[a-z0-9]{0,4}` or `+`, perhaps a final `#`, sometimes as a
/// shared subscription `$share/{group}/...`.
pub fn topic_filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![4 => "[a-z0-9]{0,4}", 1 => Just("+".to_owned())];
    (
        prop::collection::vec(level, 0..5),
        any::<bool>(),
        prop::option::weighted(0.2, "[a-z0-9]{1,4}"),
    )
        .prop_map(|(levels, hash, share)| {
            let mut filter = levels.join("/");
            if hash || levels.is_empty() {
                filter.push_str(if levels.is_empty() { "#" } else { "/#" });
            }
            if filter.is_empty() {
                filter.push('e');
            }
            if let Some(group) = share {
                filter = format!("$share/{group}/{filter}");
            }
            TopicFilter::new(filter).unwrap()
        })
}

pub fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

pub fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        20 => binary(48),
        4 => prop::collection::vec(any::<u8>(), 100..300).prop_map(Bytes::from),
        // Remaining lengths of three bytes.
        1 => prop::collection::vec(any::<u8>(), 16_384..16_500).prop_map(Bytes::from),
    ]
}

pub fn qos() -> impl Strategy<Value = QoS> {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

pub fn nz16() -> impl Strategy<Value = NonZeroU16> {
    prop_oneof![
        Just(NonZeroU16::MIN),
        Just(NonZeroU16::MAX),
        any::<NonZeroU16>()
    ]
}

pub fn nz32() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![
        Just(NonZeroU32::MIN),
        Just(NonZeroU32::MAX),
        any::<NonZeroU32>()
    ]
}

pub fn u32_edge() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(u32::MAX), any::<u32>()]
}

/// Subscription Identifiers of every Variable Byte Integer length.
pub fn subscription_id() -> impl Strategy<Value = SubscriptionIdentifier> {
    prop_oneof![
        1..128u32,
        128..16_384u32,
        16_384..2_097_152u32,
        2_097_152..=MAX_VARINT,
    ]
    .prop_map(|v| SubscriptionIdentifier::new(v).unwrap())
}

pub fn user_properties() -> impl Strategy<Value = UserProperties> {
    prop_oneof![
        1 => Just(UserProperties::new()),
        3 => prop::collection::vec((string(8), string(8)), 1..5).prop_map(|pairs| {
            let mut list = UserProperties::new();
            for (key, value) in pairs {
                list.push(UserProperty { key, value }).unwrap();
            }
            list
        }),
    ]
}

pub fn subscription_ids() -> impl Strategy<Value = SubscriptionIdentifiers> {
    prop::collection::vec(subscription_id(), 0..4).prop_map(|ids| {
        let mut list = SubscriptionIdentifiers::new();
        for id in ids {
            list.push(id).unwrap();
        }
        list
    })
}

pub fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    select(&[PayloadFormat::Unspecified, PayloadFormat::Utf8][..])
}

pub fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::of(s)
}
