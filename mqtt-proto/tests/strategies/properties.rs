//! Property strategies: every field of every property struct (struct literals, so that a new
//! field is a compile error here).

use proptest::prelude::*;
use proptest::sample::select;

use mqtt_proto::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    MqttString, PublishProperties, QoS, Role, SubscribeProperties, UnsubscribeProperties,
    WillProperties,
};

use super::*;

pub fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
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
pub fn method() -> MqttString {
    MqttString::new("SCRAM-SHA-1").unwrap()
}

pub fn will_properties() -> impl Strategy<Value = WillProperties> {
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

pub fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
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
pub fn publish_properties(role: Role) -> impl Strategy<Value = PublishProperties> {
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

pub fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (opt(string(16)), user_properties()).prop_map(|(rs, up)| AckProperties {
        reason_string: rs,
        user_properties: up,
        ..Default::default()
    })
}

pub fn subscribe_properties() -> impl Strategy<Value = SubscribeProperties> {
    (opt(subscription_id()), user_properties()).prop_map(|(id, up)| SubscribeProperties {
        subscription_identifier: id,
        user_properties: up,
        ..Default::default()
    })
}

pub fn unsubscribe_properties() -> impl Strategy<Value = UnsubscribeProperties> {
    user_properties().prop_map(|up| UnsubscribeProperties {
        user_properties: up,
        ..Default::default()
    })
}

pub fn disconnect_properties() -> impl Strategy<Value = DisconnectProperties> {
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

pub fn auth_properties() -> impl Strategy<Value = AuthProperties> {
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
