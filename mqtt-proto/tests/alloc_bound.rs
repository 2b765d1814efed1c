#![allow(clippy::unwrap_used, clippy::panic)]
//! What the decoder allocates, measured with a counting global allocator:
//!
//! * (a) a fixed header announcing a huge remaining length is refused (or, without a limit,
//!   waited for) without allocating anything;
//! * (b) with a maximum packet size, no input makes the decoder request a single allocation
//!   larger than a bound derived from that limit alone (not from the announced lengths, nor from
//!   the size of the input);
//! * (c) decoding PUBLISH packets in steady state, and encoding them into a reserved buffer,
//!   allocates nothing.
//!
//! The allocator counts every thread, so everything runs in one `#[test]` (this file has no
//! other test): the harness's other threads are idle while it runs.

use mqtt_test_support::alloc::{measure, Counting, Usage};
use std::mem::size_of;
use std::num::NonZeroU16;

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_proto::{
    ConnAck, Connect, Decoded, Decoder, Error, MqttString, Packet, PayloadFormat, ProtocolVersion,
    Publish, QosPid, ReasonCode, Role, SubscribeFilter, SubscriptionIdentifier, TopicFilter,
    TopicName,
};

#[global_allocator]
static GLOBAL: Counting = Counting;

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

#[test]
fn allocation_bounds() {
    the_allocator_counts();
    huge_remaining_length_allocates_nothing();
    decoding_allocates_within_a_bound_of_the_limit();
    publish_decode_and_encode_allocate_nothing();
}

/// Without this the zero-allocation checks below could pass because nothing is counted.
fn the_allocator_counts() {
    let (v, usage) = measure(|| Vec::<u8>::with_capacity(1000));
    assert_eq!(usage.allocations, 1);
    assert_eq!(usage.largest, 1000);
    assert!(usage.peak >= 1000);
    drop(v);
    let (_, usage) = measure(|| 1 + 1);
    assert_eq!(usage.allocations, 0);
}

// ---------------------------------------------------------------------------------------------
// (a)

/// A first byte and a remaining length of 268,435,455 (the largest there is): refused as
/// `PacketTooLarge` with a limit, reported `Incomplete` without one, and in neither case does the
/// decoder allocate (it never reserves room for the announced body) or touch the buffer.
fn huge_remaining_length_allocates_nothing() {
    const LIMIT: u32 = 1024;
    const ANNOUNCED: usize = 268_435_455;
    let cases = [
        (V311, Role::Client, 0x30), // PUBLISH
        (V311, Role::Server, 0x30),
        (V5, Role::Client, 0x30),
        (V5, Role::Server, 0x3B),   // PUBLISH, DUP, QoS 1, RETAIN
        (V311, Role::Client, 0x10), // CONNECT
        (V5, Role::Client, 0x82),   // SUBSCRIBE
        (V5, Role::Server, 0x90),   // SUBACK
        (V5, Role::Client, 0xF0),   // AUTH
    ];
    for (version, role, first) in cases {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_u8(first);
        buf.put_slice(&[0xFF, 0xFF, 0xFF, 0x7F]);
        let limited = Decoder::new(version, role).with_max_packet_size(LIMIT);
        let (result, usage) = measure(|| limited.decode(&mut buf));
        assert_eq!(
            result,
            Err(Error::PacketTooLarge {
                size: 1 + 4 + ANNOUNCED as u64,
                max: LIMIT
            }),
            "{version} {role} {first:#04x}"
        );
        assert_eq!(
            usage.allocations, 0,
            "{version} {role} {first:#04x}: {usage:?}"
        );

        // No limit: the decoder waits for the body, still without reserving room for it.
        let unlimited = Decoder::new(version, role);
        buf.put_slice(&[0x55; 32]);
        let capacity = buf.capacity();
        let (result, usage) = measure(|| unlimited.decode(&mut buf));
        assert_eq!(
            result,
            Ok(Decoded::Incomplete {
                needed: 1 + 4 + ANNOUNCED - 37
            })
        );
        assert_eq!(
            usage.allocations, 0,
            "{version} {role} {first:#04x}: {usage:?}"
        );
        assert_eq!((buf.len(), buf.capacity()), (37, capacity));
    }
}

// ---------------------------------------------------------------------------------------------
// (b)

/// The largest single allocation the decoder may request for packets of at most `limit` bytes.
///
/// The decoder copies nothing out of the read buffer (packets are `Bytes` slices of it; the first
/// `split_to` of a `BytesMut` allocates only the small shared control block of `bytes`), so the
/// only allocations whose size depends on the input are the lists:
/// * SUBSCRIBE: one `SubscribeFilter` per at least 4 bytes on the wire (a 2-byte length, one
///   character or more, the options byte);
/// * UNSUBSCRIBE: one `TopicFilter` per at least 3 bytes;
/// * SUBACK and UNSUBACK: one `ReasonCode` per byte (reserved up front from the bytes left).
///
/// Each list is allocated once, for as many entries as the body can hold (SUBSCRIBE and
/// UNSUBSCRIBE count them from their lengths, capped at the shares above). The other
/// allocations have fixed sizes: a boxed `Connect` or `ConnAck`, the control block of `bytes`.
/// Neither the size of the input nor any length a packet announces appears in the bound.
fn largest_allowed(limit: usize) -> usize {
    let list = [
        (limit / 4) * size_of::<SubscribeFilter>(),
        (limit / 3) * size_of::<TopicFilter>(),
        limit * size_of::<ReasonCode>(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let fixed = [
        size_of::<Connect>(),
        size_of::<ConnAck>(),
        4 * size_of::<SubscribeFilter>(),
        4 * size_of::<TopicFilter>(),
        64,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    list.max(fixed)
}

/// A small deterministic generator (xorshift64*), so that the inputs are the same on every run and
/// no test framework allocates between the measurements.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn put_varint(wire: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        wire.push(if value > 0 { byte | 0x80 } else { byte });
        if value == 0 {
            return;
        }
    }
}

/// A fixed header (usually with valid flags) and a body: the remaining length is usually the
/// body's, sometimes any value up to the largest; the body is random, zeros, or built for the
/// packet type (a packet id, perhaps an empty v5 property block, then entries of the type's list
/// repeated, or a topic and a random payload for PUBLISH) so that the list decoders run long.
fn framed_input(rng: &mut Rng, limit: usize) -> Vec<u8> {
    let packet_type = 1 + rng.below(15) as u8;
    let flags = match rng.below(4) {
        0 => rng.next() as u8 & 0x0F,
        _ if matches!(packet_type, 6 | 8 | 10) => 0b0010,
        _ if packet_type == 3 => rng.next() as u8 & 0x07,
        _ => 0,
    };
    let body_len = if rng.below(4) == 0 {
        rng.below(2 * limit)
    } else {
        rng.below(limit)
    };
    let body = match rng.below(4) {
        0 => rng.bytes(body_len),
        1 => vec![0; body_len],
        _ => {
            let mut body = vec![0x00, 0x01];
            if packet_type == 3 {
                // Topic "a", the packet id (for QoS 1 and 2) and a random payload.
                body = vec![0x00, 0x01, b'a'];
                if flags & 0x06 != 0 {
                    body.extend_from_slice(&[0x00, 0x01]);
                }
            }
            if rng.below(2) == 0 {
                body.push(0x00); // An empty v5 property block.
            }
            let entry: &[u8] = match packet_type {
                8 => &[0x00, 0x01, b'a', 0x01],
                10 => &[0x00, 0x01, b'a'],
                9 => &[0x01],
                11 => &[0x11],
                _ => &[],
            };
            if entry.is_empty() {
                let n = body_len.saturating_sub(body.len());
                body.extend(rng.bytes(n));
            } else {
                while body.len() + entry.len() <= body_len {
                    body.extend_from_slice(entry);
                }
            }
            body
        }
    };
    let mut wire = vec![(packet_type << 4) | flags];
    if rng.below(8) == 0 {
        // Announce anything up to the largest remaining length.
        put_varint(&mut wire, rng.below(268_435_456));
    } else {
        put_varint(&mut wire, body.len());
    }
    wire.extend_from_slice(&body);
    wire
}

/// The longest lists that fit in `limit` bytes: SUBSCRIBE, UNSUBSCRIBE, SUBACK and UNSUBACK made
/// of the shortest entries. Each must decode (so the bound is approached, not just respected).
fn worst_cases(limit: usize) -> Vec<(ProtocolVersion, Role, Vec<u8>)> {
    let mut cases = Vec::new();
    for version in [V311, V5] {
        let props: &[u8] = if version == V5 { &[0x00] } else { &[] };
        let shapes: [(u8, Role, &[u8]); 4] = [
            (0x82, Role::Client, &[0x00, 0x01, b'a', 0x01]),
            (0xA2, Role::Client, &[0x00, 0x01, b'a']),
            (0x90, Role::Server, &[0x01]),
            (0xB0, Role::Server, &[0x11]),
        ];
        for (first, role, entry) in shapes {
            if first == 0xB0 && version == V311 {
                continue; // A v3.1.1 UNSUBACK has no list.
            }
            // Fixed header of up to 3 bytes, packet id, property block.
            let room = limit - 3 - 2 - props.len();
            let mut body = vec![0x00, 0x01];
            body.extend_from_slice(props);
            body.extend(entry.iter().cycle().take(room / entry.len() * entry.len()));
            let mut wire = vec![first];
            put_varint(&mut wire, body.len());
            wire.extend_from_slice(&body);
            assert!(wire.len() <= limit);
            cases.push((version, role, wire));
        }
    }
    cases
}

/// Decodes `input` with `decoder` until it needs more bytes or fails, inside a measurement.
fn decode_all(decoder: &Decoder, input: &[u8]) -> (usize, Usage) {
    let mut buf = BytesMut::from(input);
    measure(|| {
        let mut packets = 0;
        while let Ok(Decoded::Packet(packet)) = decoder.decode(&mut buf) {
            drop(packet);
            packets += 1;
        }
        packets
    })
}

fn decoding_allocates_within_a_bound_of_the_limit() {
    const LIMIT: usize = 1024;
    let bound = largest_allowed(LIMIT);
    // The peak: the largest list while it grows, plus the few fixed-size objects alive with it.
    let peak_bound = bound + size_of::<Connect>().max(size_of::<ConnAck>()) + 256;
    let decoders: Vec<Decoder> = [V311, V5]
        .into_iter()
        .flat_map(|v| [Role::Client, Role::Server].map(|r| Decoder::new(v, r)))
        .map(|d| d.with_max_packet_size(LIMIT as u32))
        .collect();
    let check = |decoder: &Decoder, input: &[u8], what: &str| -> (usize, Usage) {
        let (packets, usage) = decode_all(decoder, input);
        assert!(
            usage.largest <= bound,
            "{what}: one allocation of {} bytes > {bound} ({decoder:?}, input {input:02x?})",
            usage.largest
        );
        assert!(
            usage.peak <= peak_bound,
            "{what}: peak of {} bytes > {peak_bound} ({decoder:?}, input {input:02x?})",
            usage.peak
        );
        (packets, usage)
    };

    let (mut largest_seen, mut peak_seen) = (0, 0);
    for (version, role, wire) in worst_cases(LIMIT) {
        let decoder = Decoder::new(version, role).with_max_packet_size(LIMIT as u32);
        let (packets, usage) = check(&decoder, &wire, "worst case");
        assert_eq!(
            packets,
            1,
            "the worst case {:02x?}.. does not decode",
            &wire[..8]
        );
        largest_seen = largest_seen.max(usage.largest);
        peak_seen = peak_seen.max(usage.peak);
    }
    // The worst cases do come near the bound: it is not loose by orders of magnitude.
    assert!(
        largest_seen * 2 > bound,
        "largest {largest_seen}, bound {bound}"
    );

    // Real packet streams: the mosquitto recordings, below mutated.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mosquitto");
    let mut recordings: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "bin"))
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    recordings.sort();
    assert!(recordings.len() > 10, "no recordings in {}", dir.display());

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0;
    for i in 0..6000 {
        // Inputs up to four times the limit: the bound does not grow with them.
        let input = if i % 3 == 0 {
            let n = rng.below(4 * LIMIT);
            rng.bytes(n)
        } else if i % 3 == 1 {
            let mut input = recordings[rng.below(recordings.len())].clone();
            for _ in 0..rng.below(4).min(input.len()) {
                let at = rng.below(input.len());
                input[at] = rng.next() as u8;
            }
            input
        } else {
            let mut input = framed_input(&mut rng, LIMIT);
            while input.len() < 2 * LIMIT && rng.below(2) == 0 {
                input.extend(framed_input(&mut rng, LIMIT));
            }
            input
        };
        for decoder in &decoders {
            let (packets, usage) = check(decoder, &input, "generated");
            decoded += packets;
            peak_seen = peak_seen.max(usage.peak);
        }
    }
    println!(
        "limit {LIMIT}: largest single allocation {largest_seen} (allowed {bound}), \
         peak {peak_seen} (allowed {peak_bound}); {decoded} packets decoded from generated inputs"
    );
    // The generated inputs are not all refused at the first byte.
    assert!(decoded > 1000, "only {decoded} packets decoded");
}

// ---------------------------------------------------------------------------------------------
// (c)

fn sample_publish(version: ProtocolVersion, role: Role) -> Publish {
    let mut p = Publish::new(
        TopicName::new("sensors/kitchen/temperature").unwrap(),
        Bytes::from(vec![0x5A; 64]),
        QosPid::AtLeastOnce(NonZeroU16::new(7).unwrap()),
    );
    if version == V5 {
        let props = &mut p.properties;
        props.payload_format_indicator = Some(PayloadFormat::Utf8);
        props.message_expiry_interval = Some(3600);
        props.topic_alias = NonZeroU16::new(3);
        props
            .set_content_type(Some(MqttString::new("text/plain").unwrap()))
            .unwrap();
        props
            .set_response_topic(Some(TopicName::new("replies/kitchen").unwrap()))
            .unwrap();
        props
            .set_correlation_data(Some(Bytes::from_static(b"req-42")))
            .unwrap();
        props.push_user_property("unit", "celsius").unwrap();
        props.push_user_property("sensor", "dht22").unwrap();
        props.push_user_property("unit", "again").unwrap();
        if role == Role::Server {
            let ids = [1, 300, 70_000]
                .into_iter()
                .map(|id| SubscriptionIdentifier::new(id).unwrap())
                .collect();
            props.set_subscription_identifiers(ids).unwrap();
        }
    }
    p
}

fn publish_decode_and_encode_allocate_nothing() {
    const N: usize = 64;
    for (version, role) in [
        (V311, Role::Client),
        (V311, Role::Server),
        (V5, Role::Client),
        (V5, Role::Server),
    ] {
        let what = format!("{version} PUBLISH from a {role}");
        let publish = Packet::Publish(sample_publish(version, role));
        let len = publish.encoded_len(version).unwrap();
        let decoder = Decoder::new(version, role);

        // Encoding N packets into a buffer reserved for them.
        let mut wire = BytesMut::with_capacity(N * len);
        let (written, usage) = measure(|| {
            (0..N)
                .map(|_| publish.encode(version, &mut wire).unwrap())
                .sum::<usize>()
        });
        assert_eq!(written, N * len);
        assert_eq!(
            usage.allocations, 0,
            "{what}: encoding allocated: {usage:?}"
        );

        // Decoding them. The first `split_to` turns the vector-backed `BytesMut` into a shared
        // one (one small allocation: the control block of `bytes`); after that nothing.
        let (first, warm_up) = measure(|| decoder.decode(&mut wire));
        assert_eq!(first, Ok(Decoded::Packet(publish.clone())));
        assert!(
            warm_up.allocations <= 1 && warm_up.largest <= 64,
            "{what}: the first decode allocated {warm_up:?}"
        );
        let (decoded, usage) = measure(|| {
            let mut decoded = Vec::with_capacity(N);
            while let Ok(Decoded::Packet(p)) = decoder.decode(&mut wire) {
                decoded.push(p);
            }
            decoded
        });
        assert_eq!(decoded.len(), N - 1);
        assert!(decoded.iter().all(|p| *p == publish));
        // The one allocation is `decoded` itself.
        assert_eq!(
            (usage.allocations, usage.largest),
            (1, N * size_of::<Packet>()),
            "{what}: decoding allocated: {usage:?}"
        );

        // Re-encoding a decoded PUBLISH (whose user properties and subscription identifiers are
        // read from the received property block) into a reserved buffer.
        let mut out = BytesMut::with_capacity(len);
        let (result, usage) = measure(|| decoded[0].encode(version, &mut out));
        assert_eq!(result, Ok(len));
        assert_eq!(
            usage.allocations, 0,
            "{what}: re-encoding allocated: {usage:?}"
        );
        drop(decoded);

        // A read loop in steady state: bytes arrive in the buffer, a packet is decoded and
        // dropped. Once the buffer is shared and every packet dropped, `bytes` reuses its space.
        let mut single = Vec::new();
        publish.encode(version, &mut single).unwrap();
        let mut buf = BytesMut::with_capacity(4 * len);
        let read_one = |buf: &mut BytesMut| {
            buf.extend_from_slice(&single);
            match decoder.decode(buf) {
                Ok(Decoded::Packet(Packet::Publish(p))) => p.payload.len(),
                other => panic!("{other:?}"),
            }
        };
        for _ in 0..4 {
            read_one(&mut buf);
        }
        let (payload_bytes, usage) =
            measure(|| (0..256).map(|_| read_one(&mut buf)).sum::<usize>());
        assert_eq!(payload_bytes, 256 * 64);
        assert_eq!(
            usage.allocations, 0,
            "{what}: the read loop allocated: {usage:?}"
        );
    }
}
