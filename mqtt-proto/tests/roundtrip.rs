#![allow(clippy::unwrap_used, clippy::panic)]
//! Property tests of the codec: every packet kind round-trips in both versions, a stream of
//! packets decodes the same however it is split, arbitrary bytes never panic the decoder, and a
//! too-small buffer is refused without being written to.

mod fuzz_logic;

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::select;

use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Decoded, Decoder, Disconnect, DisconnectProperties, Error, MqttString, Packet, PacketType,
    PayloadFormat, ProtocolVersion, PubResponse, Publish, PublishProperties, QoS, QosPid,
    ReasonCode, RetainHandling, Role, SubAck, Subscribe, SubscribeFilter, SubscribeProperties,
    SubscriptionIdentifier, SubscriptionIdentifiers, SubscriptionOptions, TopicFilter, TopicName,
    UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperties, UserProperty, Will,
    WillProperties, MAX_VARINT,
};

use fuzz_logic::{check_roundtrip, check_small_buffers, decode_stream, normalise};

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;
const VERSIONS: [ProtocolVersion; 2] = [V311, V5];

const ALL_TYPES: [PacketType; 15] = [
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
const CONNACK_REASONS: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
/// The v5 codes of the v3.1.1 CONNACK return codes 0 to 5.
const CONNACK_V311_REASONS: &[u8] = &[0x00, 0x84, 0x85, 0x88, 0x86, 0x87];
const PUBACK_REASONS: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_REASONS: &[u8] = &[0x00, 0x92];
const SUBACK_REASONS: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK_REASONS: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT_REASONS: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH_REASONS: &[u8] = &[0x00, 0x18, 0x19];

/// Who sends each packet (v5 section 2.1.2's direction column; v3.1.1 has no DISCONNECT from a
/// server and no AUTH).
fn senders(packet_type: PacketType, version: ProtocolVersion) -> &'static [Role] {
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

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Field strategies

fn reason(codes: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    select(codes).prop_map(|c| ReasonCode::from_u8(c).unwrap())
}

/// Any character but U+0000 (which MQTT strings may not hold), biased towards ASCII and `/`.
fn text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just('/'),
        2 => any::<char>().prop_map(|c| if c == '\0' { 'x' } else { c }),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(text_char(), 0..=max).prop_map(String::from_iter)
}

fn string(max: usize) -> impl Strategy<Value = MqttString> {
    text(max).prop_map(|s| MqttString::new(s).unwrap())
}

/// A non-empty topic name without wildcards.
fn topic_name() -> impl Strategy<Value = TopicName> {
    prop::collection::vec(
        text_char().prop_map(|c| if c == '+' || c == '#' { '_' } else { c }),
        1..=16,
    )
    .prop_map(|cs| TopicName::new(String::from_iter(cs)).unwrap())
}

/// A valid topic filter: levels of `[a-z0-9]{0,4}` or `+`, perhaps a final `#`, sometimes as a
/// shared subscription `$share/{group}/...`.
fn topic_filter() -> impl Strategy<Value = TopicFilter> {
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

fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        20 => binary(48),
        4 => prop::collection::vec(any::<u8>(), 100..300).prop_map(Bytes::from),
        // Remaining lengths of three bytes.
        1 => prop::collection::vec(any::<u8>(), 16_384..16_500).prop_map(Bytes::from),
    ]
}

fn qos() -> impl Strategy<Value = QoS> {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

fn nz16() -> impl Strategy<Value = NonZeroU16> {
    prop_oneof![
        Just(NonZeroU16::MIN),
        Just(NonZeroU16::MAX),
        any::<NonZeroU16>()
    ]
}

fn nz32() -> impl Strategy<Value = NonZeroU32> {
    prop_oneof![
        Just(NonZeroU32::MIN),
        Just(NonZeroU32::MAX),
        any::<NonZeroU32>()
    ]
}

fn u32_edge() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(u32::MAX), any::<u32>()]
}

/// Subscription Identifiers of every Variable Byte Integer length.
fn subscription_id() -> impl Strategy<Value = SubscriptionIdentifier> {
    prop_oneof![
        1..128u32,
        128..16_384u32,
        16_384..2_097_152u32,
        2_097_152..=MAX_VARINT,
    ]
    .prop_map(|v| SubscriptionIdentifier::new(v).unwrap())
}

fn user_properties() -> impl Strategy<Value = UserProperties> {
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

fn subscription_ids() -> impl Strategy<Value = SubscriptionIdentifiers> {
    prop::collection::vec(subscription_id(), 0..4).prop_map(|ids| {
        let mut list = SubscriptionIdentifiers::new();
        for id in ids {
            list.push(id).unwrap();
        }
        list
    })
}

fn payload_format() -> impl Strategy<Value = PayloadFormat> {
    select(&[PayloadFormat::Unspecified, PayloadFormat::Utf8][..])
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::of(s)
}

// ---------------------------------------------------------------------------------------------
// Property strategies: every field of every property struct (struct literals, so that a new
// field is a compile error here).

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        opt(u32_edge()),
        opt(nz16()),
        opt(nz32()),
        opt(any::<u16>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(string(12)),
        opt(binary(16)),
        user_properties(),
    )
        .prop_map(
            |(sei, rm, mps, tam, rri, rpi, am, ad, up)| ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                // Authentication Data needs an Authentication Method (v5 3.1.2.11.10).
                authentication_method: am.or_else(|| ad.as_ref().map(|_| method())),
                authentication_data: ad,
                user_properties: up,
                ..Default::default()
            },
        )
}

/// An Authentication Method for the packets that must carry one.
fn method() -> MqttString {
    MqttString::new("SCRAM-SHA-1").unwrap()
}

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        opt(u32_edge()),
        opt(payload_format()),
        opt(u32_edge()),
        opt(string(12)),
        opt(topic_name()),
        opt(binary(16)),
        user_properties(),
    )
        .prop_map(|(wdi, pfi, mei, ct, rt, cd, up)| WillProperties {
            will_delay_interval: wdi,
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
            ..Default::default()
        })
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    (
        (
            opt(u32_edge()),
            opt(nz16()),
            opt(select(&[QoS::AtMostOnce, QoS::AtLeastOnce][..])),
            opt(any::<bool>()),
            opt(nz32()),
            opt(string(12)),
            opt(any::<u16>()),
            opt(string(12)),
        ),
        (
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(any::<u16>()),
            opt(string(12)),
            opt(string(12)),
            opt(string(12)),
            opt(binary(16)),
            user_properties(),
        ),
    )
        .prop_map(
            |((sei, rm, mq, ra, mps, aci, tam, rs), (wsa, sia, ssa, ska, ri, sr, am, ad, up))| {
                ConnAckProperties {
                    session_expiry_interval: sei,
                    receive_maximum: rm,
                    maximum_qos: mq,
                    retain_available: ra,
                    maximum_packet_size: mps,
                    assigned_client_identifier: aci,
                    topic_alias_maximum: tam,
                    reason_string: rs,
                    wildcard_subscription_available: wsa,
                    subscription_identifier_available: sia,
                    shared_subscription_available: ssa,
                    server_keep_alive: ska,
                    response_information: ri,
                    server_reference: sr,
                    authentication_method: am,
                    authentication_data: ad,
                    user_properties: up,
                    ..Default::default()
                }
            },
        )
}

/// PUBLISH properties; Subscription Identifiers only from a server [MQTT-3.3.4-6].
fn publish_properties(role: Role) -> impl Strategy<Value = PublishProperties> {
    (
        opt(payload_format()),
        opt(u32_edge()),
        opt(nz16()),
        opt(topic_name()),
        opt(binary(16)),
        opt(string(12)),
        user_properties(),
        subscription_ids(),
    )
        .prop_map(move |(pfi, mei, ta, rt, cd, ct, up, ids)| {
            let mut p = PublishProperties::default();
            p.payload_format_indicator = pfi;
            p.message_expiry_interval = mei;
            p.topic_alias = ta;
            p.set_response_topic(rt).unwrap();
            p.set_correlation_data(cd).unwrap();
            p.set_content_type(ct).unwrap();
            p.set_user_properties(up).unwrap();
            if role == Role::Server {
                p.set_subscription_identifiers(ids).unwrap();
            }
            p
        })
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (opt(string(16)), user_properties()).prop_map(|(rs, up)| AckProperties {
        reason_string: rs,
        user_properties: up,
        ..Default::default()
    })
}

fn subscribe_properties() -> impl Strategy<Value = SubscribeProperties> {
    (opt(subscription_id()), user_properties()).prop_map(|(id, up)| SubscribeProperties {
        subscription_identifier: id,
        user_properties: up,
        ..Default::default()
    })
}

fn unsubscribe_properties() -> impl Strategy<Value = UnsubscribeProperties> {
    user_properties().prop_map(|up| UnsubscribeProperties {
        user_properties: up,
        ..Default::default()
    })
}

fn disconnect_properties() -> impl Strategy<Value = DisconnectProperties> {
    (
        opt(u32_edge()),
        opt(string(16)),
        opt(string(16)),
        user_properties(),
    )
        .prop_map(|(sei, rs, sr, up)| DisconnectProperties {
            session_expiry_interval: sei,
            reason_string: rs,
            server_reference: sr,
            user_properties: up,
            ..Default::default()
        })
}

fn auth_properties() -> impl Strategy<Value = AuthProperties> {
    (
        opt(string(12)),
        opt(binary(16)),
        opt(string(16)),
        user_properties(),
    )
        .prop_map(|(am, ad, rs, up)| AuthProperties {
            // Every AUTH carries an Authentication Method (v5 3.15.2.2.2).
            authentication_method: Some(am.unwrap_or_else(method)),
            authentication_data: ad,
            reason_string: rs,
            user_properties: up,
            ..Default::default()
        })
}

// ---------------------------------------------------------------------------------------------
// Packet strategies. For v3.1.1 they still fill in the fields v3.1.1 cannot carry (properties,
// ack reason codes, v5 subscription options): `normalise` says what must come back.

fn will() -> impl Strategy<Value = Will> {
    (
        topic_name(),
        binary(32),
        qos(),
        any::<bool>(),
        will_properties(),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        any::<u16>(),
        string(23),
        opt(will()),
        opt(string(12)),
        opt(binary(16)),
        connect_properties(),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                // [MQTT-3.1.2-22]: no password without a user name in v3.1.1.
                let password = if version == V311 && username.is_none() {
                    None
                } else {
                    password
                };
                // [MQTT-3.1.3-7]: an empty v3.1.1 client id needs a clean session.
                let clean_start = clean_start || (version == V311 && client_id.is_empty());
                Packet::from(Connect {
                    protocol_version: version,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                })
            },
        )
}

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = match version {
        V311 => CONNACK_V311_REASONS,
        V5 => CONNACK_REASONS,
    };
    (any::<bool>(), reason(codes), connack_properties()).prop_map(
        |(session_present, reason_code, properties)| {
            Packet::from(ConnAck {
                // [MQTT-3.2.2-6]: no session on a refused connection.
                session_present: session_present && !reason_code.is_error(),
                reason_code,
                properties,
            })
        },
    )
}

fn publish(version: ProtocolVersion, role: Role) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        qos(),
        nz16(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        payload(),
        publish_properties(role),
    )
        .prop_map(
            move |(dup, qos, id, retain, topic, no_topic, payload, properties)| {
                // v5: a Topic Alias may stand in for the topic name (3.3.2.3.4).
                let topic = if version == V5 && no_topic && properties.topic_alias.is_some() {
                    TopicName::empty()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    // [MQTT-3.3.1-2]: DUP only with QoS 1 and 2.
                    dup: dup && qos != QoS::AtMostOnce,
                    qos_pid: QosPid::new(qos, id),
                    retain,
                    topic,
                    payload,
                    properties,
                })
            },
        )
}

fn pub_response(packet_type: PacketType) -> impl Strategy<Value = Packet> {
    let codes = match packet_type {
        PacketType::PubAck | PacketType::PubRec => PUBACK_REASONS,
        _ => PUBREL_REASONS,
    };
    (nz16(), reason(codes), ack_properties()).prop_map(move |(packet_id, reason_code, props)| {
        let r = PubResponse {
            packet_id,
            reason_code,
            properties: props,
        };
        match packet_type {
            PacketType::PubAck => Packet::PubAck(r),
            PacketType::PubRec => Packet::PubRec(r),
            PacketType::PubRel => Packet::PubRel(r),
            _ => Packet::PubComp(r),
        }
    })
}

fn subscribe_filter() -> impl Strategy<Value = SubscribeFilter> {
    (
        topic_filter(),
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(
            &[
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendAtSubscribeIfNew,
                RetainHandling::DoNotSend,
            ][..],
        ),
    )
        .prop_map(|(filter, qos, no_local, rap, rh)| SubscribeFilter {
            options: SubscriptionOptions {
                qos,
                // [MQTT-3.8.3-4]: no No Local on a shared subscription.
                no_local: no_local && !filter.is_shared(),
                retain_as_published: rap,
                retain_handling: rh,
            },
            filter,
        })
}

fn subscribe() -> impl Strategy<Value = Packet> {
    (
        nz16(),
        prop::collection::vec(subscribe_filter(), 1..6),
        subscribe_properties(),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn suback() -> impl Strategy<Value = Packet> {
    (
        nz16(),
        prop::collection::vec(reason(SUBACK_REASONS), 1..8),
        ack_properties(),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
}

fn unsubscribe() -> impl Strategy<Value = Packet> {
    (
        nz16(),
        prop::collection::vec(topic_filter(), 1..6),
        unsubscribe_properties(),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn unsuback() -> impl Strategy<Value = Packet> {
    (
        nz16(),
        prop::collection::vec(reason(UNSUBACK_REASONS), 0..8),
        ack_properties(),
    )
        .prop_map(|(packet_id, reason_codes, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reason_codes,
                properties,
            })
        })
}

fn disconnect(role: Role) -> impl Strategy<Value = Packet> {
    (reason(DISCONNECT_REASONS), disconnect_properties()).prop_map(
        move |(reason_code, mut properties)| {
            // [MQTT-3.14.2-2]: no Session Expiry Interval in a server's DISCONNECT.
            if role == Role::Server {
                properties.session_expiry_interval = None;
            }
            Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            })
        },
    )
}

fn auth() -> impl Strategy<Value = Packet> {
    (reason(AUTH_REASONS), auth_properties()).prop_map(|(reason_code, properties)| {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    })
}

/// Valid packets of `packet_type` that `role` sends in `version`.
fn packet(packet_type: PacketType, version: ProtocolVersion, role: Role) -> BoxedStrategy<Packet> {
    match packet_type {
        PacketType::Connect => connect(version).boxed(),
        PacketType::ConnAck => connack(version).boxed(),
        PacketType::Publish => publish(version, role).boxed(),
        PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
            pub_response(packet_type).boxed()
        }
        PacketType::Subscribe => subscribe().boxed(),
        PacketType::SubAck => suback().boxed(),
        PacketType::Unsubscribe => unsubscribe().boxed(),
        PacketType::UnsubAck => unsuback().boxed(),
        PacketType::PingReq => Just(Packet::PingReq).boxed(),
        PacketType::PingResp => Just(Packet::PingResp).boxed(),
        PacketType::Disconnect => disconnect(role).boxed(),
        PacketType::Auth => auth().boxed(),
    }
}

/// A version, a sender and a valid packet of `packet_type` that this sender sends in this
/// version.
fn case_of(packet_type: PacketType) -> BoxedStrategy<(ProtocolVersion, Role, Packet)> {
    let combos: Vec<(ProtocolVersion, Role)> = VERSIONS
        .iter()
        .flat_map(|&v| senders(packet_type, v).iter().map(move |&r| (v, r)))
        .collect();
    select(combos)
        .prop_flat_map(move |(v, r)| (Just(v), Just(r), packet(packet_type, v, r)))
        .boxed()
}

/// Any valid packet that `role` sends in `version`.
fn packet_from(version: ProtocolVersion, role: Role) -> BoxedStrategy<Packet> {
    let types: Vec<PacketType> = ALL_TYPES
        .into_iter()
        .filter(|&t| senders(t, version).contains(&role))
        .collect();
    select(types)
        .prop_flat_map(move |t| packet(t, version, role))
        .boxed()
}

fn version_and_role() -> impl Strategy<Value = (ProtocolVersion, Role)> {
    (
        select(&VERSIONS[..]),
        select(&[Role::Client, Role::Server][..]),
    )
}

/// Any valid packet of any version and sender.
fn any_case() -> impl Strategy<Value = (ProtocolVersion, Role, Packet)> {
    version_and_role().prop_flat_map(|(v, r)| (Just(v), Just(r), packet_from(v, r)))
}

// ---------------------------------------------------------------------------------------------
// 1. Every packet kind round-trips in every version and direction it exists in.

#[test]
fn direction_table_matches_the_crate() {
    for t in ALL_TYPES {
        for v in VERSIONS {
            for r in [Role::Client, Role::Server] {
                assert_eq!(
                    t.is_sent_by(r, v),
                    senders(t, v).contains(&r),
                    "{t} from a {r} in {v}"
                );
            }
        }
    }
}

macro_rules! roundtrip_tests {
    ($($name:ident => $packet_type:ident,)*) => {
        proptest! {
            #![proptest_config(cfg(256))]
            $(
                #[test]
                fn $name((version, role, packet) in case_of(PacketType::$packet_type)) {
                    check_roundtrip(version, role, &packet);
                }
            )*
        }
    };
}

roundtrip_tests! {
    connect_roundtrips => Connect,
    connack_roundtrips => ConnAck,
    publish_roundtrips => Publish,
    puback_roundtrips => PubAck,
    pubrec_roundtrips => PubRec,
    pubrel_roundtrips => PubRel,
    pubcomp_roundtrips => PubComp,
    subscribe_roundtrips => Subscribe,
    suback_roundtrips => SubAck,
    unsubscribe_roundtrips => Unsubscribe,
    unsuback_roundtrips => UnsubAck,
    pingreq_roundtrips => PingReq,
    pingresp_roundtrips => PingResp,
    disconnect_roundtrips => Disconnect,
    auth_roundtrips => Auth,
}

/// The normalisation of the v3.1.1 round trip is not the identity for the values the strategies
/// make, so the v3.1.1 tests above do check that v5-only fields are dropped (and not, say,
/// encoded into the v3.1.1 bytes).
#[test]
fn v311_normalisation_drops_v5_fields() {
    let mut props = PublishProperties::default();
    props.push_user_property("k", "v").unwrap();
    let publish = Packet::Publish(Publish {
        properties: props,
        ..Publish::new(TopicName::new("t").unwrap(), "x", QosPid::AtMostOnce)
    });
    let plain = Packet::Publish(Publish::new(
        TopicName::new("t").unwrap(),
        "x",
        QosPid::AtMostOnce,
    ));
    assert_eq!(normalise(V311, &publish), plain);
    assert_eq!(normalise(V5, &publish), publish);
    let wire = check_roundtrip(V311, Role::Client, &publish);
    assert_eq!(&wire[..], &[0x30, 0x04, 0x00, 0x01, b't', b'x']);
}

/// Found by the `decode` fuzz target (`fuzz/corpus/decode/crash-v311-connect-empty-client-id-not-clean`):
/// a v3.1.1 CONNECT with an empty Client Identifier and Clean Session 0 decoded, although encoding
/// it is refused [MQTT-3.1.3-7]; the decoder refuses it as well now, with the error whose reason
/// code gives the CONNACK return code 2 a server must answer with [MQTT-3.1.3-8].
#[test]
fn v311_connect_with_empty_client_id_needs_clean_session() {
    let connect = |level: u8, flags: u8| {
        let mut wire = BytesMut::from(&b"\x10\x0c\x00\x04MQTT"[..]);
        wire.extend_from_slice(&[level, flags, 0x00, 0x00]);
        if level == 5 {
            wire[1] += 1;
            wire.extend_from_slice(&[0x00]); // Property Length
        }
        wire.extend_from_slice(&[0x00, 0x00]); // Client Identifier ""
        wire
    };
    let v311 = Decoder::new(V311, Role::Client);
    assert_eq!(
        v311.decode(&mut connect(4, 0x00)),
        Err(Error::EmptyClientIdWithoutCleanSession)
    );
    assert_eq!(
        Error::EmptyClientIdWithoutCleanSession
            .reason_code()
            .to_v311_connack(),
        Some(2)
    );
    let mut clean = Connect::new(V311, MqttString::empty());
    clean.keep_alive = 0;
    let decoded = v311.decode(&mut connect(4, 0x02));
    assert_eq!(decoded, Ok(Decoded::Packet(Packet::from(clean))));
    // v5 lets a server assign an identifier whatever Clean Start says.
    let mut resume = Connect::new(V5, MqttString::empty());
    resume.clean_start = false;
    resume.keep_alive = 0;
    let decoded = Decoder::new(V5, Role::Client).decode(&mut connect(5, 0x00));
    assert_eq!(decoded, Ok(Decoded::Packet(Packet::from(resume))));
}

// ---------------------------------------------------------------------------------------------
// 2. A stream of packets decodes the same however it is split.

/// The encodings of `packets`, with the length of each one's fixed header.
fn encode_all(version: ProtocolVersion, packets: &[Packet]) -> Vec<(Vec<u8>, usize)> {
    packets
        .iter()
        .map(|p| {
            let mut wire = Vec::new();
            p.encode(version, &mut wire).unwrap();
            let varint = wire[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
            (wire, 1 + varint)
        })
        .collect()
}

/// Feeds the encoded `packets` to a decoder `chunks` bytes at a time (cycling through `chunks`),
/// decoding after each chunk until `Incomplete`, and checks what comes out and every
/// `Incomplete` on the way.
fn feed(version: ProtocolVersion, role: Role, packets: &[Packet], chunks: &[usize]) {
    let decoder = Decoder::new(version, role);
    let encoded = encode_all(version, packets);
    let wire: Vec<u8> = encoded
        .iter()
        .flat_map(|(w, _)| w.iter().copied())
        .collect();
    let expected: Vec<Packet> = packets.iter().map(|p| normalise(version, p)).collect();
    let mut buf = BytesMut::new();
    let mut decoded = Vec::new();
    let (mut fed, mut consumed) = (0, 0);
    let mut chunk_sizes = chunks.iter().copied().cycle();
    while fed < wire.len() {
        let n = chunk_sizes.next().unwrap().clamp(1, wire.len() - fed);
        buf.extend_from_slice(&wire[fed..fed + n]);
        fed += n;
        loop {
            let (ptr, len, cap) = (buf.as_ptr(), buf.len(), buf.capacity());
            match decoder.decode(&mut buf) {
                Ok(Decoded::Packet(p)) => {
                    let (bytes, _) = &encoded[decoded.len()];
                    consumed += bytes.len();
                    assert_eq!(buf.len(), fed - consumed, "the packet took other bytes");
                    decoded.push(p);
                }
                Ok(Decoded::Incomplete { needed }) => {
                    // The buffer is left exactly as it was.
                    assert_eq!((buf.as_ptr(), buf.len(), buf.capacity()), (ptr, len, cap));
                    let have = fed - consumed;
                    // Comparing every byte at every step would be quadratic in big packets.
                    if have <= 512 || fed == wire.len() {
                        assert_eq!(&buf[..], &wire[consumed..fed]);
                    }
                    assert!(needed >= 1);
                    if let Some((bytes, header)) = encoded.get(decoded.len()) {
                        let total = bytes.len();
                        assert!(
                            have + needed <= total,
                            "needed {needed} with {have} of {total} bytes: more than the packet"
                        );
                        if have >= *header {
                            assert_eq!(needed, total - have, "needed is not exact");
                        }
                    } else {
                        assert!(buf.is_empty());
                    }
                    break;
                }
                Err(e) => panic!("error {e:?} after {consumed} of {fed} bytes"),
            }
        }
    }
    assert_eq!(decoded, expected);
    assert!(buf.is_empty());
    assert_eq!(consumed, wire.len());
}

fn stream() -> impl Strategy<Value = (ProtocolVersion, Role, Vec<Packet>)> {
    version_and_role().prop_flat_map(|(v, r)| {
        (
            Just(v),
            Just(r),
            prop::collection::vec(packet_from(v, r), 1..6),
        )
    })
}

proptest! {
    #![proptest_config(cfg(256))]

    /// One byte at a time: the decoder sees the stream cut at every byte boundary.
    #[test]
    fn stream_fed_byte_by_byte((version, role, packets) in stream()) {
        feed(version, role, &packets, &[1]);
    }

    /// Chunks of random sizes, so that several packets and partial packets share a read.
    #[test]
    fn stream_fed_in_random_chunks(
        (version, role, packets) in stream(),
        chunks in prop::collection::vec(1usize..80, 1..8),
    ) {
        feed(version, role, &packets, &chunks);
    }

    /// Cut once at every byte boundary: the first part, then all the rest in one read.
    #[test]
    fn stream_cut_once_at_every_boundary((version, role, packets) in stream()) {
        let len: usize = encode_all(version, &packets).iter().map(|(w, _)| w.len()).sum();
        // Quadratic: only for streams of moderate size.
        if len <= 2048 {
            for cut in 1..len {
                feed(version, role, &packets, &[cut, len]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PUBLISH properties in any order: a decoded block goes out again byte for byte, and so does
// what is left of it when one of the fields is changed.

/// A Variable Byte Integer, written by hand.
fn varint(mut v: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v % 128) as u8;
        v /= 128;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A string or binary value with its two-byte length.
fn prefixed(bytes: &[u8]) -> Vec<u8> {
    [&(bytes.len() as u16).to_be_bytes()[..], bytes].concat()
}

/// The entries of a PUBLISH property block, each encoded by hand, in a random order.
fn shuffled_publish_entries() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        opt(0u8..=1),
        opt(any::<u32>()),
        opt(1u16..),
        opt(topic_name()),
        opt(binary(8)),
        opt(string(6)),
        prop::collection::vec((string(4), string(4)), 0..3),
        prop::collection::vec(1usize..=MAX_VARINT as usize, 0..3),
    )
        .prop_flat_map(|(pfi, mei, ta, rt, cd, ct, up, ids)| {
            let mut entries: Vec<Vec<u8>> = Vec::new();
            entries.extend(pfi.map(|v| vec![0x01, v]));
            entries.extend(mei.map(|v| [&[0x02][..], &v.to_be_bytes()].concat()));
            entries.extend(ta.map(|v| [&[0x23][..], &v.to_be_bytes()].concat()));
            entries.extend(rt.map(|t| [&[0x08][..], &prefixed(t.as_bytes())].concat()));
            entries.extend(cd.map(|d| [&[0x09][..], &prefixed(&d)].concat()));
            entries.extend(ct.map(|c| [&[0x03][..], &prefixed(c.as_bytes())].concat()));
            for (k, v) in up {
                entries.push(
                    [
                        &[0x26][..],
                        &prefixed(k.as_bytes()),
                        &prefixed(v.as_bytes()),
                    ]
                    .concat(),
                );
            }
            for id in ids {
                entries.push([&[0x0B][..], &varint(id)].concat());
            }
            Just(entries).prop_shuffle()
        })
}

/// A QoS 0 PUBLISH to `t` with the property block `block` and payload `p`, as a server sends it.
fn publish_with_block(block: &[u8]) -> Vec<u8> {
    let body = [&prefixed(b"t")[..], &varint(block.len()), block, b"p"].concat();
    [&[0x30][..], &varint(body.len()), &body].concat()
}

/// The property entries of a PUBLISH made by [`publish_with_block`], split by hand.
fn block_entries(publish: &[u8]) -> Vec<Vec<u8>> {
    let mut at = 1;
    while publish[at] & 0x80 != 0 {
        at += 1;
    }
    at += 1 + 3; // the remaining length's last byte, then the topic "t"
    let (mut len, mut shift) = (0, 0);
    loop {
        let b = publish[at];
        at += 1;
        len |= usize::from(b & 0x7F) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let block = &publish[at..at + len];
    let prefixed_len = |at: usize| 2 + usize::from(u16::from_be_bytes([block[at], block[at + 1]]));
    let mut entries = Vec::new();
    let mut at = 0;
    while at < block.len() {
        let value_len = match block[at] {
            0x01 => 1,
            0x02 => 4,
            0x23 => 2,
            0x03 | 0x08 | 0x09 => prefixed_len(at + 1),
            0x26 => {
                let key = prefixed_len(at + 1);
                key + prefixed_len(at + 1 + key)
            }
            0x0B => {
                1 + block[at + 1..]
                    .iter()
                    .take_while(|b| **b & 0x80 != 0)
                    .count()
            }
            other => panic!("unexpected property {other:#x}"),
        };
        entries.push(block[at..at + 1 + value_len].to_vec());
        at += 1 + value_len;
    }
    entries
}

fn decode_one_publish(bytes: &[u8]) -> Publish {
    let mut buf = BytesMut::from(bytes);
    match Decoder::new(V5, Role::Server).decode(&mut buf) {
        Ok(Decoded::Packet(Packet::Publish(p))) if buf.is_empty() => p,
        other => panic!("decoding {bytes:02x?}: {other:?}"),
    }
}

proptest! {
    #![proptest_config(cfg(512))]

    #[test]
    fn publish_properties_keep_their_order(entries in shuffled_publish_entries(), expiry in opt(any::<u32>())) {
        let bytes = publish_with_block(&entries.concat());
        prop_assert_eq!(block_entries(&bytes), entries.clone());
        let decoded = decode_one_publish(&bytes);
        let mut out = Vec::new();
        Packet::Publish(decoded.clone()).encode(V5, &mut out).unwrap();
        prop_assert_eq!(&out, &bytes);

        // Changing one field writes it where it was (or leaves it out, or adds it), the rest
        // where they were.
        let mut changed = decoded.clone();
        changed.properties.message_expiry_interval = expiry;
        let mut out = Vec::new();
        Packet::Publish(changed.clone()).encode(V5, &mut out).unwrap();
        prop_assert_eq!(decode_one_publish(&out), changed);
        let written = block_entries(&out);
        let is_expiry = |e: &&Vec<u8>| e[0] == 0x02;
        prop_assert!(written.iter().filter(is_expiry).eq(expiry
            .map(|v| [&[0x02][..], &v.to_be_bytes()].concat())
            .iter()));
        let others = |es: &[Vec<u8>]| es.iter().filter(|e| e[0] != 0x02).cloned().collect::<Vec<_>>();
        prop_assert_eq!(others(&written), others(&entries));
        if let (Some(at), true) = (entries.iter().position(|e| e[0] == 0x02), expiry.is_some()) {
            prop_assert_eq!(written.iter().position(|e| e[0] == 0x02), Some(at));
        }

        // The same properties built by hand compare equal, whatever the order they arrived in.
        let p = &decoded.properties;
        let mut built = PublishProperties::default();
        built.payload_format_indicator = p.payload_format_indicator;
        built.message_expiry_interval = p.message_expiry_interval;
        built.topic_alias = p.topic_alias;
        built.set_response_topic(p.response_topic()).unwrap();
        built.set_correlation_data(p.correlation_data()).unwrap();
        built.set_content_type(p.content_type()).unwrap();
        built.set_user_properties(p.user_properties()).unwrap();
        built.set_subscription_identifiers(p.subscription_identifiers()).unwrap();
        prop_assert_eq!(&built, p);
        prop_assert_eq!(built.is_empty(), entries.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Arbitrary bytes never panic the decoder; decoded packets re-encode.

fn all_decoders() -> impl Iterator<Item = Decoder> {
    VERSIONS.into_iter().flat_map(|v| {
        [Role::Client, Role::Server].into_iter().flat_map(move |r| {
            let d = Decoder::new(v, r);
            [d, d.with_max_packet_size(64)]
        })
    })
}

/// A fixed header of one of the fifteen packet types with the flags it usually carries, a
/// correct remaining length and a random body: gets past the fixed header checks to the body
/// decoders far more often than random bytes.
fn framed_garbage() -> impl Strategy<Value = Vec<u8>> {
    (
        1u8..16,
        prop_oneof![Just(None), Just(Some(0b0010)), any::<u8>().prop_map(Some)],
        binary(300),
    )
        .prop_map(|(ty, flags, body)| {
            let flags = flags.unwrap_or(0) & 0x0F;
            let mut wire = vec![(ty << 4) | flags];
            let mut len = body.len();
            loop {
                let byte = (len % 128) as u8;
                len /= 128;
                wire.push(if len > 0 { byte | 0x80 } else { byte });
                if len == 0 {
                    break;
                }
            }
            wire.extend_from_slice(&body);
            wire
        })
}

/// A valid packet with one byte changed, one byte removed or the bytes cut short.
fn mutated_packet() -> impl Strategy<Value = Vec<u8>> {
    (
        any_case(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0u8..3,
    )
        .prop_map(|((version, _, packet), at, byte, how)| {
            let mut wire = Vec::new();
            packet.encode(version, &mut wire).unwrap();
            let at = at.index(wire.len());
            match how {
                0 => wire[at] = byte,
                1 => {
                    wire.remove(at);
                }
                _ => wire.truncate(at),
            }
            wire
        })
}

proptest! {
    #![proptest_config(cfg(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for decoder in all_decoders() {
            decode_stream(&decoder, &bytes);
        }
    }

    #[test]
    fn framed_garbage_never_panics(frames in prop::collection::vec(framed_garbage(), 1..4)) {
        let bytes = frames.concat();
        for decoder in all_decoders() {
            decode_stream(&decoder, &bytes);
        }
    }

    #[test]
    fn mutated_packets_never_panic(bytes in mutated_packet()) {
        for decoder in all_decoders() {
            decode_stream(&decoder, &bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A buffer too small is refused with the size required and left untouched.

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn too_small_buffers_are_refused((version, role, packet) in any_case()) {
        let wire = check_roundtrip(version, role, &packet);
        check_small_buffers(version, &packet, &wire);
    }
}
