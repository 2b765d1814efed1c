#![allow(clippy::unwrap_used, clippy::panic)]
//! Property tests of the codec: every packet kind round-trips in both versions, a stream of
//! packets decodes the same however it is split, arbitrary bytes never panic the decoder, and a
//! too-small buffer is refused without being written to.

mod fuzz_logic;

use bytes::BytesMut;
use proptest::prelude::*;

use mqtt_proto::{
    Connect, Decoded, Decoder, Error, MqttString, Packet, PacketType, ProtocolVersion, Publish,
    PublishProperties, QosPid, Role, TopicName, MAX_VARINT,
};

use fuzz_logic::{check_roundtrip, check_small_buffers, decode_stream, normalise};

mod strategies;
use strategies::*;

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
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
