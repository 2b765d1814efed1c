//! Structured round trip: the input drives the construction of a valid packet (a version, a
//! sending side and a packet that side sends in that version, every field and property chosen
//! by the input), which must encode into exactly `encoded_len` bytes and decode back to itself
//! (in v3.1.1: to what v3.1.1 can carry, `fuzz_logic::normalise`), and must be refused without
//! being written when the buffer is too small.
#![no_main]

use std::num::{NonZeroU16, NonZeroU32};

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Disconnect, DisconnectProperties, MqttString, Packet, PacketType, PayloadFormat,
    ProtocolVersion, PubResponse, Publish, PublishProperties, QoS, QosPid, ReasonCode,
    RetainHandling, Role, SubAck, Subscribe, SubscribeFilter, SubscribeProperties,
    SubscriptionIdentifier, SubscriptionIdentifiers, SubscriptionOptions, TopicFilter, TopicName,
    UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperties, UserProperty, Will,
    WillProperties, MAX_VARINT,
};

#[path = "../../mqtt-proto/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok((version, role, packet)) = case(&mut u) {
        let wire = fuzz_logic::check_roundtrip(version, role, &packet);
        // Quadratic in the packet size: only for the smaller packets.
        if wire.len() <= 512 {
            fuzz_logic::check_small_buffers(version, &packet, &wire);
        }
    }
});

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

const CONNACK_REASONS: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
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

fn case(u: &mut Unstructured<'_>) -> Result<(ProtocolVersion, Role, Packet)> {
    let version = if u.arbitrary()? {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let role = if u.arbitrary()? {
        Role::Server
    } else {
        Role::Client
    };
    let types: Vec<PacketType> = ALL_TYPES
        .into_iter()
        .filter(|t| t.is_sent_by(role, version))
        .collect();
    let packet_type = *u.choose(&types)?;
    Ok((version, role, packet(u, packet_type, version, role)?))
}

fn packet(
    u: &mut Unstructured<'_>,
    packet_type: PacketType,
    version: ProtocolVersion,
    role: Role,
) -> Result<Packet> {
    let v311 = version == ProtocolVersion::V311;
    Ok(match packet_type {
        PacketType::Connect => {
            let client_id = string(u, 23)?;
            let username = opt(u, |u| string(u, 12))?;
            let mut password = opt(u, |u| binary(u, 16))?;
            // [MQTT-3.1.2-22]: no password without a user name in v3.1.1.
            if v311 && username.is_none() {
                password = None;
            }
            let mut clean_start = u.arbitrary()?;
            // [MQTT-3.1.3-7]: an empty v3.1.1 client id needs a clean session.
            clean_start |= v311 && client_id.is_empty();
            Packet::from(Connect {
                protocol_version: version,
                clean_start,
                keep_alive: u.arbitrary()?,
                client_id,
                will: opt(u, will)?,
                username,
                password,
                properties: connect_properties(u)?,
            })
        }
        PacketType::ConnAck => {
            let codes = if v311 {
                CONNACK_V311_REASONS
            } else {
                CONNACK_REASONS
            };
            let reason_code = reason(u, codes)?;
            let session_present: bool = u.arbitrary()?;
            Packet::from(ConnAck {
                // [MQTT-3.2.2-6]
                session_present: session_present && !reason_code.is_error(),
                reason_code,
                properties: connack_properties(u)?,
            })
        }
        PacketType::Publish => {
            let qos = qos(u)?;
            let dup: bool = u.arbitrary()?;
            let properties = publish_properties(u, role)?;
            let mut topic = topic_name(u)?;
            // v5: a Topic Alias may stand in for the topic name.
            if !v311 && properties.topic_alias.is_some() && u.arbitrary()? {
                topic = TopicName::empty();
            }
            Packet::Publish(Publish {
                dup: dup && qos != QoS::AtMostOnce,
                qos_pid: QosPid::new(qos, nz16(u)?),
                retain: u.arbitrary()?,
                topic,
                payload: payload(u)?,
                properties,
            })
        }
        PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
            let codes = match packet_type {
                PacketType::PubAck | PacketType::PubRec => PUBACK_REASONS,
                _ => PUBREL_REASONS,
            };
            let r = PubResponse {
                packet_id: nz16(u)?,
                reason_code: reason(u, codes)?,
                properties: ack_properties(u)?,
            };
            match packet_type {
                PacketType::PubAck => Packet::PubAck(r),
                PacketType::PubRec => Packet::PubRec(r),
                PacketType::PubRel => Packet::PubRel(r),
                _ => Packet::PubComp(r),
            }
        }
        PacketType::Subscribe => {
            let mut filters = vec![subscribe_filter(u)?];
            for _ in 0..u.int_in_range(0..=5)? {
                filters.push(subscribe_filter(u)?);
            }
            let properties = SubscribeProperties {
                subscription_identifier: opt(u, subscription_id)?,
                user_properties: user_properties(u)?,
                ..Default::default()
            };
            Packet::Subscribe(Subscribe {
                packet_id: nz16(u)?,
                filters,
                properties,
            })
        }
        PacketType::SubAck => {
            let mut reason_codes = vec![reason(u, SUBACK_REASONS)?];
            for _ in 0..u.int_in_range(0..=7)? {
                reason_codes.push(reason(u, SUBACK_REASONS)?);
            }
            Packet::SubAck(SubAck {
                packet_id: nz16(u)?,
                reason_codes,
                properties: ack_properties(u)?,
            })
        }
        PacketType::Unsubscribe => {
            let mut filters = vec![topic_filter(u)?];
            for _ in 0..u.int_in_range(0..=5)? {
                filters.push(topic_filter(u)?);
            }
            let properties = UnsubscribeProperties {
                user_properties: user_properties(u)?,
                ..Default::default()
            };
            Packet::Unsubscribe(Unsubscribe {
                packet_id: nz16(u)?,
                filters,
                properties,
            })
        }
        PacketType::UnsubAck => {
            let mut reason_codes = Vec::new();
            for _ in 0..u.int_in_range(0..=7)? {
                reason_codes.push(reason(u, UNSUBACK_REASONS)?);
            }
            Packet::UnsubAck(UnsubAck {
                packet_id: nz16(u)?,
                reason_codes,
                properties: ack_properties(u)?,
            })
        }
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => {
            let properties = DisconnectProperties {
                // [MQTT-3.14.2-2]: no Session Expiry Interval in a server's DISCONNECT.
                session_expiry_interval: match role {
                    Role::Client => opt(u, u32_edge)?,
                    Role::Server => None,
                },
                reason_string: opt(u, |u| string(u, 16))?,
                server_reference: opt(u, |u| string(u, 16))?,
                user_properties: user_properties(u)?,
                ..Default::default()
            };
            Packet::Disconnect(Disconnect {
                reason_code: reason(u, DISCONNECT_REASONS)?,
                properties,
            })
        }
        PacketType::Auth => {
            let properties = AuthProperties {
                // Every AUTH carries an Authentication Method (v5 3.15.2.2.2).
                authentication_method: Some(opt(u, |u| string(u, 12))?.unwrap_or_else(method)),
                authentication_data: opt(u, |u| binary(u, 16))?,
                reason_string: opt(u, |u| string(u, 16))?,
                user_properties: user_properties(u)?,
                ..Default::default()
            };
            Packet::Auth(Auth {
                reason_code: reason(u, AUTH_REASONS)?,
                properties,
            })
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Fields

fn opt<T>(
    u: &mut Unstructured<'_>,
    f: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Option<T>> {
    Ok(if u.arbitrary()? { Some(f(u)?) } else { None })
}

fn reason(u: &mut Unstructured<'_>, codes: &[u8]) -> Result<ReasonCode> {
    let code = *u.choose(codes)?;
    Ok(ReasonCode::from_u8(code).unwrap_or_default())
}

/// Mostly lower-case ASCII and `/`, sometimes any character but U+0000.
fn text_char(u: &mut Unstructured<'_>) -> Result<char> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=3 => char::from(b'a' + u.int_in_range(0u8..=25)?),
        4 => '/',
        _ => match u.arbitrary::<char>()? {
            '\0' => 'x',
            c => c,
        },
    })
}

fn text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let len = u.int_in_range(0..=max)?;
    (0..len).map(|_| text_char(u)).collect()
}

fn string(u: &mut Unstructured<'_>, max: usize) -> Result<MqttString> {
    MqttString::new(text(u, max)?).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn topic_name(u: &mut Unstructured<'_>) -> Result<TopicName> {
    let mut name: String = text(u, 16)?
        .chars()
        .map(|c| if c == '+' || c == '#' { '_' } else { c })
        .collect();
    if name.is_empty() {
        name.push('t');
    }
    TopicName::new(name).map_err(|_| arbitrary::Error::IncorrectFormat)
}

/// Levels of `[a-z0-9]{0,4}` or `+`, perhaps a final `#`, sometimes `$share/{group}/...`.
fn topic_filter(u: &mut Unstructured<'_>) -> Result<TopicFilter> {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut levels = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        if u.ratio(1, 5)? {
            levels.push("+".to_owned());
        } else {
            let n = u.int_in_range(0..=4)?;
            let level: Result<String> = (0..n).map(|_| Ok(char::from(*u.choose(ALNUM)?))).collect();
            levels.push(level?);
        }
    }
    let mut filter = levels.join("/");
    if levels.is_empty() {
        filter.push('#');
    } else if u.arbitrary()? {
        filter.push_str("/#");
    }
    if filter.is_empty() {
        filter.push('e');
    }
    if u.ratio(1, 5)? {
        let n = u.int_in_range(1..=4)?;
        let group: Result<String> = (0..n).map(|_| Ok(char::from(*u.choose(ALNUM)?))).collect();
        filter = format!("$share/{}/{filter}", group?);
    }
    TopicFilter::new(filter).map_err(|_| arbitrary::Error::IncorrectFormat)
}

fn binary(u: &mut Unstructured<'_>, max: usize) -> Result<Bytes> {
    let len = u.int_in_range(0..=max)?;
    Ok(Bytes::copy_from_slice(u.bytes(len)?))
}

fn payload(u: &mut Unstructured<'_>) -> Result<Bytes> {
    Ok(match u.int_in_range(0u8..=19)? {
        0 => Bytes::from(vec![u.arbitrary::<u8>()?; u.int_in_range(16_384..=16_500)?]),
        1..=3 => binary(u, 300)?,
        _ => binary(u, 48)?,
    })
}

fn qos(u: &mut Unstructured<'_>) -> Result<QoS> {
    Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])?)
}

fn nz16(u: &mut Unstructured<'_>) -> Result<NonZeroU16> {
    Ok(NonZeroU16::new(u.arbitrary()?).unwrap_or(NonZeroU16::MIN))
}

fn nz32(u: &mut Unstructured<'_>) -> Result<NonZeroU32> {
    Ok(NonZeroU32::new(u.arbitrary()?).unwrap_or(NonZeroU32::MAX))
}

fn u32_edge(u: &mut Unstructured<'_>) -> Result<u32> {
    u.arbitrary()
}

fn subscription_id(u: &mut Unstructured<'_>) -> Result<SubscriptionIdentifier> {
    let value = u.int_in_range(1..=MAX_VARINT)?;
    SubscriptionIdentifier::new(value).ok_or(arbitrary::Error::IncorrectFormat)
}

fn user_properties(u: &mut Unstructured<'_>) -> Result<UserProperties> {
    let mut list = UserProperties::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let property = UserProperty {
            key: string(u, 8)?,
            value: string(u, 8)?,
        };
        list.push(property)
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
    }
    Ok(list)
}

fn payload_format(u: &mut Unstructured<'_>) -> Result<PayloadFormat> {
    Ok(*u.choose(&[PayloadFormat::Unspecified, PayloadFormat::Utf8])?)
}

fn will(u: &mut Unstructured<'_>) -> Result<Will> {
    let properties = WillProperties {
        will_delay_interval: opt(u, u32_edge)?,
        payload_format_indicator: opt(u, payload_format)?,
        message_expiry_interval: opt(u, u32_edge)?,
        content_type: opt(u, |u| string(u, 12))?,
        response_topic: opt(u, topic_name)?,
        correlation_data: opt(u, |u| binary(u, 16))?,
        user_properties: user_properties(u)?,
        ..Default::default()
    };
    Ok(Will {
        topic: topic_name(u)?,
        payload: binary(u, 32)?,
        qos: qos(u)?,
        retain: u.arbitrary()?,
        properties,
    })
}

fn connect_properties(u: &mut Unstructured<'_>) -> Result<ConnectProperties> {
    let mut p = ConnectProperties {
        session_expiry_interval: opt(u, u32_edge)?,
        receive_maximum: opt(u, nz16)?,
        maximum_packet_size: opt(u, nz32)?,
        topic_alias_maximum: opt(u, |u| u.arbitrary())?,
        request_response_information: opt(u, |u| u.arbitrary())?,
        request_problem_information: opt(u, |u| u.arbitrary())?,
        authentication_method: opt(u, |u| string(u, 12))?,
        authentication_data: opt(u, |u| binary(u, 16))?,
        user_properties: user_properties(u)?,
        ..Default::default()
    };
    // Authentication Data needs an Authentication Method (v5 3.1.2.11.10).
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        p.authentication_method = Some(method());
    }
    Ok(p)
}

/// An Authentication Method for the packets that must carry one.
fn method() -> MqttString {
    MqttString::new("SCRAM-SHA-1").unwrap_or_else(|_| MqttString::empty())
}

fn connack_properties(u: &mut Unstructured<'_>) -> Result<ConnAckProperties> {
    Ok(ConnAckProperties {
        session_expiry_interval: opt(u, u32_edge)?,
        receive_maximum: opt(u, nz16)?,
        maximum_qos: opt(u, |u| Ok(*u.choose(&[QoS::AtMostOnce, QoS::AtLeastOnce])?))?,
        retain_available: opt(u, |u| u.arbitrary())?,
        maximum_packet_size: opt(u, nz32)?,
        assigned_client_identifier: opt(u, |u| string(u, 12))?,
        topic_alias_maximum: opt(u, |u| u.arbitrary())?,
        reason_string: opt(u, |u| string(u, 12))?,
        wildcard_subscription_available: opt(u, |u| u.arbitrary())?,
        subscription_identifier_available: opt(u, |u| u.arbitrary())?,
        shared_subscription_available: opt(u, |u| u.arbitrary())?,
        server_keep_alive: opt(u, |u| u.arbitrary())?,
        response_information: opt(u, |u| string(u, 12))?,
        server_reference: opt(u, |u| string(u, 12))?,
        authentication_method: opt(u, |u| string(u, 12))?,
        authentication_data: opt(u, |u| binary(u, 16))?,
        user_properties: user_properties(u)?,
        ..Default::default()
    })
}

/// Subscription Identifiers only from a server [MQTT-3.3.4-6].
fn publish_properties(u: &mut Unstructured<'_>, role: Role) -> Result<PublishProperties> {
    let mut subscription_identifiers = SubscriptionIdentifiers::new();
    if role == Role::Server {
        for _ in 0..u.int_in_range(0..=3)? {
            subscription_identifiers
                .push(subscription_id(u)?)
                .map_err(|_| arbitrary::Error::IncorrectFormat)?;
        }
    }
    // Drawn in the order of the fields before PublishProperties kept the others encoded, so
    // that the corpus still makes the same packets.
    let mut p = PublishProperties::default();
    p.payload_format_indicator = opt(u, payload_format)?;
    p.message_expiry_interval = opt(u, u32_edge)?;
    p.topic_alias = opt(u, nz16)?;
    let response_topic = opt(u, topic_name)?;
    let correlation_data = opt(u, |u| binary(u, 16))?;
    let content_type = opt(u, |u| string(u, 12))?;
    let user_properties = user_properties(u)?;
    let built = p
        .set_response_topic(response_topic)
        .and_then(|()| p.set_correlation_data(correlation_data))
        .and_then(|()| p.set_content_type(content_type))
        .and_then(|()| p.set_user_properties(user_properties))
        .and_then(|()| p.set_subscription_identifiers(subscription_identifiers));
    built.map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(p)
}

fn ack_properties(u: &mut Unstructured<'_>) -> Result<AckProperties> {
    Ok(AckProperties {
        reason_string: opt(u, |u| string(u, 16))?,
        user_properties: user_properties(u)?,
        ..Default::default()
    })
}

fn subscribe_filter(u: &mut Unstructured<'_>) -> Result<SubscribeFilter> {
    let filter = topic_filter(u)?;
    let no_local: bool = u.arbitrary()?;
    Ok(SubscribeFilter {
        options: SubscriptionOptions {
            qos: qos(u)?,
            // [MQTT-3.8.3-4]: no No Local on a shared subscription.
            no_local: no_local && !filter.is_shared(),
            retain_as_published: u.arbitrary()?,
            retain_handling: *u.choose(&[
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendAtSubscribeIfNew,
                RetainHandling::DoNotSend,
            ])?,
        },
        filter,
    })
}
