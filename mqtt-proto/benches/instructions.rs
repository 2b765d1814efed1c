#![allow(clippy::unwrap_used, clippy::panic)]
//! PUBLISH decoding for `valgrind --tool=callgrind`, which counts instructions the same way on
//! every run, where timings on a shared machine move by a tenth from one run to the next.
//! Instructions are not time (an atomic reference count costs more than its one instruction;
//! an allocation less than its hundred), so this is a second opinion beside `--bench codec`,
//! not a replacement.
//!
//! `instructions <ours|rumqttc|fill> <3.1.1|5> <payload bytes>` fills a buffer with 256 copies
//! of the PUBLISH of the codec bench (QoS 1, 25-byte topic; v5 with a message expiry, a content
//! type and two user properties) and decodes them all, 400 times; `fill` only fills and
//! clears the buffer. Instructions per decoded packet are a run's total minus the `fill` run's
//! total, divided by the 102,400 packets. `bash scripts/codec-instructions.sh` builds it, runs
//! every combination under callgrind and prints that table.

use std::hint::black_box;
use std::num::NonZeroU16;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Decoded, Decoder, MqttString, Packet, ProtocolVersion, Publish, QosPid, Role, TopicName,
};
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

const ROUNDS: usize = 400;
const COPIES: usize = 256;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench`: nothing to count then.
    let [decoder, version, len] = &args[..] else {
        eprintln!("usage: instructions <ours|rumqttc|fill> <3.1.1|5> <payload bytes>");
        return;
    };
    let version = match version.as_str() {
        "3.1.1" => ProtocolVersion::V311,
        "5" => ProtocolVersion::V5,
        other => panic!("unknown version {other}"),
    };
    let len: usize = len.parse().unwrap();
    let wire = publish_wire(version, len);
    let ours = Decoder::new(version, Role::Server);
    let mut buf = BytesMut::with_capacity(wire.len() * COPIES + 64);
    let mut decoded = 0usize;
    for _ in 0..ROUNDS {
        for _ in 0..COPIES {
            buf.extend_from_slice(&wire);
        }
        match (decoder.as_str(), version) {
            ("fill", _) => buf.clear(),
            ("ours", _) => {
                while !buf.is_empty() {
                    match ours.decode(&mut buf) {
                        Ok(Decoded::Packet(p)) => black_box(p),
                        other => panic!("mqtt-proto: {other:?}"),
                    };
                    decoded += 1;
                }
            }
            ("rumqttc", ProtocolVersion::V311) => {
                while !buf.is_empty() {
                    black_box(r4::Packet::read(&mut buf, usize::MAX).unwrap());
                    decoded += 1;
                }
            }
            ("rumqttc", ProtocolVersion::V5) => {
                while !buf.is_empty() {
                    black_box(r5::Packet::read(&mut buf, None).unwrap());
                    decoded += 1;
                }
            }
            (other, _) => panic!("unknown decoder {other}"),
        }
    }
    println!("{decoded}");
}

/// The codec bench's PUBLISH, encoded by mqtt-proto.
fn publish_wire(version: ProtocolVersion, len: usize) -> Vec<u8> {
    static PAYLOAD: [u8; 4096] = [b'x'; 4096];
    let topic = TopicName::try_from("sensors/building-7/temp/1").unwrap();
    let payload = Bytes::from_static(&PAYLOAD[..len]);
    let mut p = Publish::new(
        topic,
        payload,
        QosPid::AtLeastOnce(NonZeroU16::new(7).unwrap()),
    );
    if version == ProtocolVersion::V5 {
        p.properties.message_expiry_interval = Some(3600);
        p.properties
            .set_content_type(Some(MqttString::try_from("application/json").unwrap()))
            .unwrap();
        for (k, v) in [("trace-id", "4bf92f3577b34da6"), ("source", "gw-7")] {
            p.properties.push_user_property(k, v).unwrap();
        }
    }
    let mut wire = BytesMut::new();
    Packet::Publish(p).encode(version, &mut wire).unwrap();
    wire.to_vec()
}
