//! What the codec benches share: the PUBLISH they measure, built the same way, and the loops
//! that decode a whole buffer with mqtt-proto and with rumqttc.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use std::num::NonZeroU16;

use mqtt_proto::{
    Connect, Decoded, Decoder, MqttString, ProtocolVersion, Publish, QoS, QosPid, Subscribe,
    SubscribeFilter, TopicFilter, TopicName, Will,
};
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

/// 25 bytes.
pub const TOPIC: &str = "sensors/building-7/temp/1";
pub const CONTENT_TYPE: &str = "application/json";
pub const USER_PROPS: [(&str, &str); 2] = [("trace-id", "4bf92f3577b34da6"), ("source", "gw-7")];
pub const EXPIRY: u32 = 3600;
pub const CLIENT_ID: &str = "bench-client-0001";
pub const WILL_TOPIC: &str = "clients/bench-client-0001/status";
pub const WILL_PAYLOAD: &[u8] = b"offline";
pub const USERNAME: &str = "bench-user";
pub const PASSWORD: &str = "correct-horse-battery-staple";
pub const FILTERS: [(&str, QoS); 3] = [
    ("sensors/+/temp/#", QoS::AtLeastOnce),
    ("home/kitchen/lights", QoS::ExactlyOnce),
    ("alerts/#", QoS::AtMostOnce),
];

/// The payload bytes: one static array, so that both libraries encode from the same memory.
pub static PAYLOAD: [u8; 4096] = {
    let mut a = [0u8; 4096];
    let mut i = 0;
    while i < a.len() {
        a[i] = b'a' + (i % 26) as u8;
        i += 1;
    }
    a
};

pub fn payload(len: usize) -> Bytes {
    Bytes::from_static(&PAYLOAD[..len])
}

/// The PUBLISH of the benches: `TOPIC`, `len` bytes of payload and, in v5 with `props`, a
/// message expiry, a content type and two user properties.
pub fn our_publish(v: ProtocolVersion, qos_pid: QosPid, len: usize, props: bool) -> Publish {
    let mut p = Publish::new(TopicName::try_from(TOPIC).unwrap(), payload(len), qos_pid);
    if props && v == ProtocolVersion::V5 {
        p.properties.message_expiry_interval = Some(EXPIRY);
        p.properties
            .set_content_type(Some(MqttString::try_from(CONTENT_TYPE).unwrap()))
            .unwrap();
        for (k, val) in USER_PROPS {
            p.properties.push_user_property(k, val).unwrap();
        }
    }
    p
}

/// Decodes every packet in `buf` with mqtt-proto; returns how many there were.
#[inline(always)]
pub fn ours_decode_all(decoder: &Decoder, buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        match decoder.decode(buf) {
            Ok(Decoded::Packet(p)) => {
                black_box(p);
                n += 1;
            }
            other => panic!("mqtt-proto: {other:?}"),
        }
    }
    n
}

#[inline(always)]
pub fn r4_decode_all(buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        black_box(r4::Packet::read(buf, usize::MAX).unwrap());
        n += 1;
    }
    n
}

#[inline(always)]
pub fn r5_decode_all(buf: &mut BytesMut) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        black_box(r5::Packet::read(buf, None).unwrap());
        n += 1;
    }
    n
}

/// rumqttc's decoder of version `v`, as [`ours_decode_all`] is ours.
pub fn rumqttc_decode_all(v: ProtocolVersion) -> fn(&mut BytesMut) -> usize {
    match v {
        ProtocolVersion::V311 => r4_decode_all,
        ProtocolVersion::V5 => r5_decode_all,
    }
}

/// The id of the benches' SUBSCRIBE.
pub fn pid(id: u16) -> NonZeroU16 {
    NonZeroU16::new(id).unwrap()
}

/// The CONNECT of the benches: a client id, a will (v5: with properties), user name and password.
pub fn our_connect(v: ProtocolVersion) -> Connect {
    let mut c = Connect::new(v, MqttString::try_from(CLIENT_ID).unwrap());
    c.keep_alive = 30;
    let mut will = Will::new(TopicName::try_from(WILL_TOPIC).unwrap(), WILL_PAYLOAD);
    will.qos = QoS::AtLeastOnce;
    will.retain = true;
    if v == ProtocolVersion::V5 {
        c.properties.session_expiry_interval = Some(EXPIRY);
        c.properties.receive_maximum = Some(pid(100));
        will.properties.will_delay_interval = Some(10);
        will.properties.message_expiry_interval = Some(EXPIRY);
    }
    c.will = Some(will);
    c.username = Some(MqttString::try_from(USERNAME).unwrap());
    c.password = Some(Bytes::from_static(PASSWORD.as_bytes()));
    c
}

/// The SUBSCRIBE of the benches: [`FILTERS`].
pub fn our_subscribe() -> Subscribe {
    let filters = FILTERS
        .iter()
        .map(|&(f, q)| SubscribeFilter::new(TopicFilter::try_from(f).unwrap(), q))
        .collect();
    Subscribe::new(pid(42), filters)
}
