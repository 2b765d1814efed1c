//! Incremental decoding of whole packets off the front of a read buffer.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::Error;
use crate::packet::{Packet, PacketType, PubResponse};
use crate::wire::{parse_varint, Reader, VarintPrefix, MAX_VARINT};
use crate::{ProtocolVersion, Role};

/// The largest remaining length a fixed header can announce (section 2.2.3).
pub const MAX_REMAINING_LENGTH: u32 = MAX_VARINT;

/// The largest whole packet: a first byte, a four-byte remaining length, and the largest body.
const MAX_PACKET: u64 = 1 + 4 + MAX_VARINT as u64;

/// What [`Decoder::decode`] found at the front of the buffer.
// The packet is the common case; boxing it would cost an allocation per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole packet, now removed from the buffer.
    Packet(Packet),
    /// The buffer holds only the start of a packet and was left as it was. At least `needed`
    /// more bytes must arrive before the next call can make progress (exactly that many when
    /// the fixed header is complete).
    Incomplete {
        /// How many more bytes are needed at least.
        needed: usize,
    },
}

/// Decodes the packets one side of a connection sends.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{Decoded, Decoder, Error, Packet, ProtocolVersion, Role};
///
/// let decoder = Decoder::new(ProtocolVersion::V311, Role::Server).with_max_packet_size(1024);
/// let mut buf = BytesMut::from(&[0xD0, 0x00, 0x20][..]); // PINGRESP, then half a CONNACK
/// assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Packet(Packet::PingResp)));
/// assert_eq!(decoder.decode(&mut buf), Ok(Decoded::Incomplete { needed: 1 }));
/// buf.extend_from_slice(&[0x02, 0x00, 0x00]);
/// assert!(matches!(decoder.decode(&mut buf), Ok(Decoded::Packet(Packet::ConnAck(_)))));
///
/// // A fixed header announcing too much is refused before the body arrives.
/// let mut big = BytesMut::from(&[0x30, 0x80, 0x10][..]);
/// assert_eq!(
///     decoder.decode(&mut big),
///     Err(Error::PacketTooLarge { size: 2051, max: 1024 })
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    version: ProtocolVersion,
    from: Role,
    max_packet_size: u32,
}

impl Decoder {
    /// A decoder of the packets that `from` sends in `version`, with no size limit beyond the
    /// protocol's own.
    pub const fn new(version: ProtocolVersion, from: Role) -> Self {
        Decoder {
            version,
            from,
            max_packet_size: u32::MAX,
        }
    }

    /// Refuses packets larger than `max` bytes in all (the v5 Maximum Packet Size: fixed
    /// header included).
    pub const fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The protocol version decoded.
    pub const fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The side whose packets are decoded.
    pub const fn from(&self) -> Role {
        self.from
    }

    /// The size limit.
    pub const fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Takes one whole packet off the front of `buf`, or reports how many more bytes it needs.
    ///
    /// The first byte and the remaining length are checked as soon as they arrive: a reserved
    /// packet type, wrong fixed header flags, a packet this side never sends, a malformed
    /// remaining length or a size over the limit are errors before the body is buffered. On
    /// success the packet's bytes are split off `buf` without copying; on
    /// [`Decoded::Incomplete`] `buf` is untouched. After an error the connection is unusable
    /// and `buf` should be dropped.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        let Some(&first) = buf.first() else {
            return Ok(Decoded::Incomplete { needed: 2 });
        };
        // PUBLISH, the packet most read, is sent by both sides in both versions and its flags
        // are the PUBLISH decoder's to check: nothing of `check_first_byte` applies to it.
        let packet_type = if first >> 4 == PacketType::Publish as u8 {
            PacketType::Publish
        } else {
            self.check_first_byte(first)?
        };
        let flags = first & 0x0F;
        let (remaining, len_bytes) = match parse_varint(&buf[1..])? {
            VarintPrefix::Done(value, len) => (value, len),
            VarintPrefix::Incomplete => return Ok(Decoded::Incomplete { needed: 1 }),
        };
        let header = 1 + len_bytes;
        let total = header + remaining as usize;
        if total as u64 > u64::from(self.max_packet_size).min(MAX_PACKET) {
            return Err(Error::PacketTooLarge {
                size: total as u64,
                max: self.max_packet_size,
            });
        }
        if buf.len() < total {
            return Ok(Decoded::Incomplete {
                needed: total - buf.len(),
            });
        }
        // Bodies that nothing is kept from are read in place, without splitting them off as a
        // shared `Bytes`: the short acknowledgements, which make up most of what a publishing
        // client reads, and empty bodies (PINGREQ, PINGRESP, a bare DISCONNECT).
        if let Some(ack) = self.read_short_ack(packet_type, &buf[header..total]) {
            buf.advance(total);
            return ack;
        }
        let mut reader = if remaining == 0 {
            buf.advance(header);
            Reader::new(Bytes::new())
        } else {
            split_frame(buf, header, total)
        };
        Packet::read_body(
            packet_type,
            flags,
            &mut reader,
            self.version,
            self.from,
            Decoded::Packet,
        )
    }

    /// PUBACK, PUBREC, PUBREL or PUBCOMP with a body of at most three bytes, read in place;
    /// `None` for any other packet.
    #[inline]
    fn read_short_ack(
        &self,
        packet_type: PacketType,
        body: &[u8],
    ) -> Option<Result<Decoded, Error>> {
        let ack = match packet_type {
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
                PubResponse::read_short(body, packet_type, self.version)?
            }
            _ => return None,
        };
        Some(ack.map(|ack| {
            Decoded::Packet(match packet_type {
                PacketType::PubAck => Packet::PubAck(ack),
                PacketType::PubRec => Packet::PubRec(ack),
                PacketType::PubRel => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            })
        }))
    }

    /// Section 2.1.2: the packet type must exist in this version and be one this side sends;
    /// its flags must be the fixed ones (v5 [MQTT-2.1.3-1]; v3.1.1 [MQTT-2.2.2-1],
    /// [MQTT-2.2.2-2]), which for PUBREL, SUBSCRIBE and UNSUBSCRIBE are 0b0010 ([MQTT-3.6.1-1],
    /// [MQTT-3.8.1-1], [MQTT-3.10.1-1]) and for DISCONNECT and AUTH zero ([MQTT-3.14.1-1],
    /// [MQTT-3.15.1-1]).
    fn check_first_byte(&self, first: u8) -> Result<PacketType, Error> {
        let raw_type = first >> 4;
        let packet_type = match PacketType::from_u8(raw_type) {
            Some(PacketType::Auth) if self.version == ProtocolVersion::V311 => None,
            other => other,
        }
        .ok_or(Error::ReservedPacketType(raw_type))?;
        if !packet_type.is_sent_by(self.from, self.version) {
            return Err(Error::UnexpectedPacket {
                packet: packet_type,
                from: self.from,
            });
        }
        let flags = first & 0x0F;
        if let Some(expected) = packet_type.fixed_flags() {
            if flags != expected {
                return Err(Error::InvalidHeaderFlags {
                    packet: packet_type,
                    flags,
                });
            }
        }
        Ok(packet_type)
    }
}

/// Splits the whole packet (`total` bytes, the fixed header `header` of them) off `buf` and
/// returns a reader of its body, whose fields may be kept as slices of it.
fn split_frame(buf: &mut BytesMut, header: usize, total: usize) -> Reader {
    let mut frame = buf.split_to(total).freeze();
    frame.advance(header);
    Reader::new(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// The in-place reading of short acknowledgements and empty bodies gives exactly what the
    /// general path (the body split off as `Bytes`) gives: the same packet or the same error,
    /// for every body of up to three bytes the four acknowledgements can have (all reason
    /// codes; Packet Identifiers 0, 1, 0x1234, 0xFFFF), and for every empty body.
    #[test]
    fn in_place_reading_agrees_with_the_general_path() {
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new(), vec![0x12]];
        for id in [0u16, 1, 0x1234, 0xFFFF] {
            let [hi, lo] = id.to_be_bytes();
            bodies.push(vec![hi, lo]);
            for code in 0..=255u8 {
                bodies.push(vec![hi, lo, code]);
            }
        }
        let mut compared = 0;
        for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
            for from in [Role::Client, Role::Server] {
                let decoder = Decoder::new(version, from);
                for first in 0..=255u8 {
                    for body in &bodies {
                        let len = u8::try_from(body.len()).unwrap();
                        let mut wire = vec![first, len];
                        wire.extend_from_slice(body);
                        let mut fast = BytesMut::from(&wire[..]);
                        let got = decoder.decode(&mut fast);
                        let mut general = BytesMut::from(&wire[..]);
                        let expected = decoder.check_first_byte(first).and_then(|packet_type| {
                            let mut reader = split_frame(&mut general, 2, wire.len());
                            Packet::read_body(
                                packet_type,
                                first & 0x0F,
                                &mut reader,
                                version,
                                from,
                                Decoded::Packet,
                            )
                        });
                        assert_eq!(got, expected, "{version:?} from {from:?}: {wire:02X?}");
                        if got.is_ok() {
                            assert!(fast.is_empty() && general.is_empty());
                        }
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 2 * 2 * 256 * (2 + 4 * 257));
    }
}
