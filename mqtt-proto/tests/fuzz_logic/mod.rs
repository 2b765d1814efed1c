//! Checks shared by the cargo-fuzz targets in `fuzz/` and the stable tests (`fuzz_corpus.rs`,
//! `roundtrip.rs`): the fuzz targets include this file with `#[path]`, the tests with `mod`.
//!
//! Not every includer uses every function.
#![allow(dead_code)]

use bytes::BytesMut;
use mqtt_proto::{
    Decoded, Decoder, Disconnect, EncodeError, Error, Packet, ProtocolVersion, PubResponse,
    ReasonCode, Role, SubscriptionOptions,
};

/// The maximum packet size a decoder is given when bit 2 of the selector byte is set.
pub const SMALL_LIMIT: u32 = 128;

/// What the first byte of a `decode` fuzz input selects: bit 0 the version (0 = v3.1.1,
/// 1 = v5), bit 1 the sending side (0 = client, 1 = server), bit 2 a maximum packet size of
/// [`SMALL_LIMIT`]. The other bits are ignored.
pub fn decoder_for(selector: u8) -> Decoder {
    let version = if selector & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let role = if selector & 2 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let decoder = Decoder::new(version, role);
    if selector & 4 == 0 {
        decoder
    } else {
        decoder.with_max_packet_size(SMALL_LIMIT)
    }
}

/// The selector byte for `version` and `role` without a size limit.
pub fn selector_for(version: ProtocolVersion, role: Role) -> u8 {
    u8::from(version == ProtocolVersion::V5) | (u8::from(role == Role::Server) << 1)
}

/// The body of the `decode` fuzz target: the first byte selects the decoder
/// ([`decoder_for`]), the rest is a byte stream fed to it at once. Returns how many packets
/// were decoded.
pub fn decode_target(data: &[u8]) -> usize {
    let Some((&selector, stream)) = data.split_first() else {
        return 0;
    };
    decode_stream(&decoder_for(selector), stream).len()
}

/// Decodes packets off the front of `stream` until the decoder needs more bytes or reports an
/// error, checking on the way that
/// * every decoded packet took at most the decoder's maximum packet size, re-encodes (for the
///   decoder's version) into no more bytes than it was decoded from, with `encoded_len` equal to
///   the bytes written, and decodes again to an equal packet that uses up the re-encoded bytes;
/// * `Incomplete` leaves the buffer as it was and asks for at least one byte;
/// * `PacketTooLarge` only reports sizes above the limit.
///
/// Returns the decoded packets.
pub fn decode_stream(decoder: &Decoder, stream: &[u8]) -> Vec<Packet> {
    let mut buf = BytesMut::from(stream);
    let mut packets = Vec::new();
    loop {
        let consumed = stream.len() - buf.len();
        match decoder.decode(&mut buf) {
            Ok(Decoded::Packet(packet)) => {
                let size = stream.len() - buf.len() - consumed;
                assert!(
                    size as u64 <= u64::from(decoder.max_packet_size()),
                    "decoded a packet of {size} bytes over the limit of {}",
                    decoder.max_packet_size()
                );
                check_reencode(decoder, &packet, size);
                packets.push(packet);
            }
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed >= 1, "Incomplete asks for no bytes");
                assert_eq!(
                    &buf[..],
                    &stream[consumed..],
                    "Incomplete changed the buffer"
                );
                return packets;
            }
            Err(Error::PacketTooLarge { size, max }) => {
                assert_eq!(max, decoder.max_packet_size());
                assert!(size > u64::from(max), "PacketTooLarge for {size} <= {max}");
                return packets;
            }
            Err(_) => return packets,
        }
    }
}

/// Re-encodes a packet decoded from `original_size` bytes and decodes it again.
fn check_reencode(decoder: &Decoder, packet: &Packet, original_size: usize) {
    let version = decoder.version();
    let len = match packet.encoded_len(version) {
        Ok(len) => len,
        Err(e) => panic!("decoded {packet:?} but its encoded_len fails: {e}"),
    };
    let mut wire = BytesMut::new();
    match packet.encode(version, &mut wire) {
        Ok(written) => assert_eq!(written, len, "encode wrote another length than encoded_len"),
        Err(e) => panic!("decoded {packet:?} but cannot re-encode it: {e}"),
    }
    assert_eq!(wire.len(), len);
    assert!(
        len <= original_size,
        "{packet:?} re-encodes into {len} bytes, more than the {original_size} it came from"
    );
    // Decode without the size limit: the re-encoding is no longer than the original anyway.
    let again = Decoder::new(version, decoder.from()).decode(&mut wire);
    match again {
        Ok(Decoded::Packet(p)) => assert_eq!(&p, packet, "re-decoded packet differs"),
        other => panic!("re-encoded {packet:?} decodes as {other:?}"),
    }
    assert!(wire.is_empty(), "re-decoding left {} bytes", wire.len());
}

/// What `packet` becomes after encoding it for `version` and decoding it again: itself in v5;
/// in v3.1.1 without everything v3.1.1 cannot carry (properties, v5 reason codes of
/// acknowledgements, DISCONNECT reason codes, v5 subscription options; a SUBACK failure code
/// becomes 0x80).
pub fn normalise(version: ProtocolVersion, packet: &Packet) -> Packet {
    if version == ProtocolVersion::V5 {
        return packet.clone();
    }
    match packet {
        Packet::Connect(c) => {
            let mut c = c.clone();
            c.properties = Default::default();
            if let Some(will) = &mut c.will {
                will.properties = Default::default();
            }
            Packet::Connect(c)
        }
        Packet::ConnAck(c) => {
            let mut c = c.clone();
            c.properties = Default::default();
            Packet::ConnAck(c)
        }
        Packet::Publish(p) => {
            let mut p = p.clone();
            p.properties = Default::default();
            Packet::Publish(p)
        }
        Packet::PubAck(r) => Packet::PubAck(PubResponse::new(r.packet_id)),
        Packet::PubRec(r) => Packet::PubRec(PubResponse::new(r.packet_id)),
        Packet::PubRel(r) => Packet::PubRel(PubResponse::new(r.packet_id)),
        Packet::PubComp(r) => Packet::PubComp(PubResponse::new(r.packet_id)),
        Packet::Subscribe(s) => {
            let mut s = s.clone();
            s.properties = Default::default();
            for f in &mut s.filters {
                f.options = SubscriptionOptions::new(f.options.qos);
            }
            Packet::Subscribe(s)
        }
        Packet::SubAck(s) => {
            let mut s = s.clone();
            s.properties = Default::default();
            for code in &mut s.reason_codes {
                if code.is_error() {
                    *code = ReasonCode::UnspecifiedError;
                }
            }
            Packet::SubAck(s)
        }
        Packet::Unsubscribe(u) => {
            let mut u = u.clone();
            u.properties = Default::default();
            Packet::Unsubscribe(u)
        }
        Packet::UnsubAck(u) => {
            let mut u = u.clone();
            u.properties = Default::default();
            u.reason_codes.clear();
            Packet::UnsubAck(u)
        }
        Packet::PingReq => Packet::PingReq,
        Packet::PingResp => Packet::PingResp,
        Packet::Disconnect(_) => Packet::Disconnect(Disconnect::default()),
        // Not encodable in v3.1.1; kept so that the caller sees the encode error.
        Packet::Auth(a) => Packet::Auth(a.clone()),
    }
}

/// The body of the `roundtrip` fuzz target and of the proptest round trip: `packet`, sent by
/// `role`, encodes for `version` into exactly `encoded_len` bytes, which decode (with the
/// decoder of `role`'s packets) to [`normalise`]`(version, packet)` and are used up.
///
/// Returns the encoded bytes.
pub fn check_roundtrip(version: ProtocolVersion, role: Role, packet: &Packet) -> BytesMut {
    let expected = normalise(version, packet);
    let len = match packet.encoded_len(version) {
        Ok(len) => len,
        Err(e) => panic!("encoded_len({version}) of {packet:?}: {e}"),
    };
    let mut wire = BytesMut::new();
    match packet.encode(version, &mut wire) {
        Ok(written) => assert_eq!(written, len, "encode returned another length"),
        Err(e) => panic!("encode({version}) of {packet:?}: {e}"),
    }
    assert_eq!(
        wire.len(),
        len,
        "encoded_len differs from the bytes written"
    );
    let encoded = wire.clone();
    match Decoder::new(version, role).decode(&mut wire) {
        Ok(Decoded::Packet(decoded)) => assert_eq!(decoded, expected, "{version} round trip"),
        other => panic!("{version} {packet:?} encoded as {encoded:02x?} decodes as {other:?}"),
    }
    assert!(wire.is_empty(), "decode left {} bytes", wire.len());
    encoded
}

/// Encoding `packet` into a slice too small by any amount is refused with the size required and
/// writes nothing; a slice of exactly that size takes the same bytes as a growable buffer.
pub fn check_small_buffers(version: ProtocolVersion, packet: &Packet, expected: &[u8]) {
    const FILL: u8 = 0xA5;
    let required = expected.len();
    let mut storage = vec![FILL; required + 3];
    for available in 0..required {
        let mut slice: &mut [u8] = &mut storage[..available];
        match packet.encode(version, &mut slice) {
            Err(EncodeError::BufferTooSmall {
                required: r,
                available: a,
            }) => {
                assert_eq!(r, required, "BufferTooSmall.required");
                assert_eq!(a, available, "BufferTooSmall.available");
            }
            other => panic!("encode into {available} of {required} bytes: {other:?}"),
        }
        assert!(
            storage.iter().all(|&b| b == FILL),
            "a refused encode into {available} bytes wrote into the buffer"
        );
    }
    for extra in [0, 3] {
        storage.fill(FILL);
        let mut slice: &mut [u8] = &mut storage[..required + extra];
        assert_eq!(packet.encode(version, &mut slice), Ok(required));
        assert_eq!(
            slice.len(),
            extra,
            "the slice was not advanced by the packet"
        );
        assert_eq!(&storage[..required], expected);
        assert!(storage[required..].iter().all(|&b| b == FILL));
    }
}
