#![allow(clippy::unwrap_used, clippy::panic)]
//! PUBLISH decoding for `valgrind --tool=callgrind`, which counts instructions the same way on
//! every run, where timings on a shared machine move by a tenth from one run to the next.
//! Instructions are not time (an atomic reference count costs more than its one instruction;
//! an allocation less than its hundred), so this is a second opinion beside `--bench codec`,
//! not a replacement.
//!
//! `instructions <ours|rumqttc|fill|encode> <3.1.1|5> <payload bytes>` fills a buffer with 256 copies
//! of the PUBLISH of the codec bench (QoS 1, 25-byte topic; v5 with a message expiry, a content
//! type and two user properties) and decodes them all, 400 times; `subscribe` or `connect`
//! instead of a payload size does the same with the codec bench's SUBSCRIBE or CONNECT;
//! `encode` encodes the packet 256 times into the cleared buffer, 400 times (mqtt-proto only:
//! instructions per encode are its total minus the `fill` run's, over 102,400); `fill` only fills and
//! clears the buffer. Instructions per decoded packet are a run's total minus the `fill` run's
//! total, divided by the 102,400 packets. `bash scripts/codec-instructions.sh` builds it, runs
//! every combination under callgrind and prints that table.

use std::hint::black_box;

use bytes::BytesMut;
use mqtt_proto::{Decoder, Packet, ProtocolVersion, QosPid, Role};

mod common;
use common::{our_connect, our_publish, our_subscribe, ours_decode_all, rumqttc_decode_all};

const ROUNDS: usize = 400;
const COPIES: usize = 256;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench`: nothing to count then.
    let [decoder, version, len] = &args[..] else {
        eprintln!(
            "usage: instructions <ours|rumqttc|fill|encode> <3.1.1|5> <payload bytes|subscribe|connect>"
        );
        return;
    };
    let version = match version.as_str() {
        "3.1.1" => ProtocolVersion::V311,
        "5" => ProtocolVersion::V5,
        other => panic!("unknown version {other}"),
    };
    let (packet, from) = match len.as_str() {
        "subscribe" => (our_subscribe().into(), Role::Client),
        "connect" => (our_connect(version).into(), Role::Client),
        len => (publish(version, len.parse().unwrap()), Role::Server),
    };
    let wire = wire(version, &packet);
    let ours = Decoder::new(version, from);
    let mut buf = BytesMut::with_capacity(wire.len() * COPIES + 64);
    let theirs = rumqttc_decode_all(version);
    let mut decoded = 0usize;
    for _ in 0..ROUNDS {
        for _ in 0..COPIES {
            buf.extend_from_slice(&wire);
        }
        decoded += match decoder.as_str() {
            "fill" => {
                buf.clear();
                0
            }
            "encode" => {
                buf.clear();
                for _ in 0..COPIES {
                    black_box(&packet).encode(version, &mut buf).unwrap();
                }
                buf.clear();
                COPIES
            }
            "ours" => ours_decode_all(&ours, &mut buf),
            "rumqttc" => theirs(&mut buf),
            other => panic!("unknown decoder {other}"),
        };
    }
    println!("{decoded}");
}

/// The codec bench's PUBLISH.
fn publish(version: ProtocolVersion, len: usize) -> Packet {
    let id = std::num::NonZeroU16::new(7).unwrap();
    our_publish(version, QosPid::AtLeastOnce(id), len, true).into()
}

/// `packet`, encoded by mqtt-proto.
fn wire(version: ProtocolVersion, packet: &Packet) -> Vec<u8> {
    let mut wire = BytesMut::new();
    packet.encode(version, &mut wire).unwrap();
    wire.to_vec()
}
