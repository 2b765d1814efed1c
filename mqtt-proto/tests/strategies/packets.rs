//! Packet strategies. For v3.1.1 they still fill in the fields v3.1.1 cannot carry (properties,
//! ack reason codes, v5 subscription options): `normalise` says what must come back.

use proptest::prelude::*;
use proptest::sample::select;

use mqtt_proto::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, ProtocolVersion, PubResponse, Publish,
    QoS, QosPid, RetainHandling, Role, SubAck, Subscribe, SubscribeFilter, SubscriptionOptions,
    TopicName, UnsubAck, Unsubscribe, Will,
};

use super::*;

pub fn will() -> impl Strategy<Value = Will> {
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

pub fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
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

pub fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
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

pub fn publish(version: ProtocolVersion, role: Role) -> impl Strategy<Value = Packet> {
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

pub fn pub_response(packet_type: PacketType) -> impl Strategy<Value = Packet> {
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

pub fn subscribe_filter() -> impl Strategy<Value = SubscribeFilter> {
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

pub fn subscribe() -> impl Strategy<Value = Packet> {
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

pub fn suback() -> impl Strategy<Value = Packet> {
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

pub fn unsubscribe() -> impl Strategy<Value = Packet> {
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

pub fn unsuback() -> impl Strategy<Value = Packet> {
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

pub fn disconnect(role: Role) -> impl Strategy<Value = Packet> {
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

pub fn auth() -> impl Strategy<Value = Packet> {
    (reason(AUTH_REASONS), auth_properties()).prop_map(|(reason_code, properties)| {
        Packet::Auth(Auth {
            reason_code,
            properties,
        })
    })
}

/// Valid packets of `packet_type` that `role` sends in `version`.
pub fn packet(
    packet_type: PacketType,
    version: ProtocolVersion,
    role: Role,
) -> BoxedStrategy<Packet> {
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
pub fn case_of(packet_type: PacketType) -> BoxedStrategy<(ProtocolVersion, Role, Packet)> {
    let combos: Vec<(ProtocolVersion, Role)> = VERSIONS
        .iter()
        .flat_map(|&v| senders(packet_type, v).iter().map(move |&r| (v, r)))
        .collect();
    select(combos)
        .prop_flat_map(move |(v, r)| (Just(v), Just(r), packet(packet_type, v, r)))
        .boxed()
}

/// Any valid packet that `role` sends in `version`.
pub fn packet_from(version: ProtocolVersion, role: Role) -> BoxedStrategy<Packet> {
    let types: Vec<PacketType> = ALL_TYPES
        .into_iter()
        .filter(|&t| senders(t, version).contains(&role))
        .collect();
    select(types)
        .prop_flat_map(move |t| packet(t, version, role))
        .boxed()
}

pub fn version_and_role() -> impl Strategy<Value = (ProtocolVersion, Role)> {
    (
        select(&VERSIONS[..]),
        select(&[Role::Client, Role::Server][..]),
    )
}

/// Any valid packet of any version and sender.
pub fn any_case() -> impl Strategy<Value = (ProtocolVersion, Role, Packet)> {
    version_and_role().prop_flat_map(|(v, r)| (Just(v), Just(r), packet_from(v, r)))
}
