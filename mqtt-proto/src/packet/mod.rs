//! The fifteen control packets. One type per packet, shared by v3.1.1 and v5.0; the version is
//! an argument of encoding and decoding.

mod connect;
mod control;
mod publish;
mod subscribe;

pub use connect::{ConnAck, Connect, Will};
pub use control::{Auth, Disconnect};
pub use publish::{PubAck, PubComp, PubRec, PubRel, PubResponse, Publish, QosPid};
pub use subscribe::{
    RetainHandling, SubAck, Subscribe, SubscribeFilter, SubscriptionOptions, UnsubAck, Unsubscribe,
};

use alloc::boxed::Box;
use bytes::BufMut;
use core::fmt;

use crate::error::{EncodeError, Error};
use crate::wire::{put_varint, varint_len, Reader, MAX_VARINT};
use crate::{PacketId, ProtocolVersion, ReasonCode, Role};

/// The control packet type: the high four bits of the first byte (section 2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 1: client request to connect.
    Connect = 1,
    /// 2: connect acknowledgment.
    ConnAck = 2,
    /// 3: publish message.
    Publish = 3,
    /// 4: publish acknowledgment (QoS 1).
    PubAck = 4,
    /// 5: publish received (QoS 2 delivery part 1).
    PubRec = 5,
    /// 6: publish release (QoS 2 delivery part 2).
    PubRel = 6,
    /// 7: publish complete (QoS 2 delivery part 3).
    PubComp = 7,
    /// 8: subscribe request.
    Subscribe = 8,
    /// 9: subscribe acknowledgment.
    SubAck = 9,
    /// 10: unsubscribe request.
    Unsubscribe = 10,
    /// 11: unsubscribe acknowledgment.
    UnsubAck = 11,
    /// 12: PING request.
    PingReq = 12,
    /// 13: PING response.
    PingResp = 13,
    /// 14: disconnect notification.
    Disconnect = 14,
    /// 15: authentication exchange (v5 only).
    Auth = 15,
}

impl PacketType {
    /// The packet type of a first byte's high nibble; `None` for the reserved value 0.
    pub const fn from_u8(value: u8) -> Option<Self> {
        use PacketType::*;
        Some(match value {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The name the specification uses, e.g. `"CONNACK"`.
    pub const fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }

    /// Whether the side `from` ever sends this packet in `version` (section 2.1.2's direction
    /// column; DISCONNECT from a server exists only in v5, AUTH only in v5).
    pub const fn is_sent_by(self, from: Role, version: ProtocolVersion) -> bool {
        use PacketType::*;
        match self {
            Connect | Subscribe | Unsubscribe | PingReq => matches!(from, Role::Client),
            ConnAck | SubAck | UnsubAck | PingResp => matches!(from, Role::Server),
            Publish | PubAck | PubRec | PubRel | PubComp => true,
            Disconnect => matches!(from, Role::Client) || matches!(version, ProtocolVersion::V5),
            Auth => matches!(version, ProtocolVersion::V5),
        }
    }

    /// The fixed header flags every packet of this type carries (v5 [MQTT-2.1.3-1]; v3.1.1
    /// [MQTT-2.2.2-1]): 0b0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE ([MQTT-3.6.1-1],
    /// [MQTT-3.8.1-1], [MQTT-3.10.1-1]), zero for the rest ([MQTT-3.14.1-1], [MQTT-3.15.1-1]).
    /// PUBLISH's vary and are checked by the PUBLISH decoder.
    pub(crate) const fn fixed_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Any control packet. CONNECT and CONNACK, large and rare, are boxed so that the common packets
/// stay small to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT.
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(Box<ConnAck>),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (v5 only).
    Auth(Auth),
}

/// What every packet body knows for encoding: its type and first-byte flags, its remaining
/// length (checking everything a receiver would refuse) and how to write itself.
pub(crate) trait Body {
    /// The packet type.
    fn packet_type(&self) -> PacketType;
    /// The low four bits of the first byte.
    fn flags(&self) -> u8 {
        self.packet_type().fixed_flags().unwrap_or(0)
    }
    /// The remaining length, after checking the packet can be sent as it is.
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError>;
    /// Writes the body; `len` is what [`Body::body_len`] returned.
    fn write_body<B: BufMut>(&self, version: ProtocolVersion, len: usize, buf: &mut B);
    /// Writes the whole packet (fixed header `first` and remaining length `len`, then the
    /// body) in a way of its own and returns `true`, or returns `false` to have the fixed
    /// header and [`Body::write_body`] written the plain way.
    fn write_whole<B: BufMut>(
        &self,
        _: ProtocolVersion,
        _first: u8,
        _len: usize,
        _: &mut B,
    ) -> bool {
        false
    }
}

/// The whole encoded size of a packet with this remaining length.
fn total_len(body_len: usize) -> Result<usize, EncodeError> {
    if body_len > MAX_VARINT as usize {
        return Err(EncodeError::PacketTooLarge(body_len));
    }
    Ok(1 + varint_len(body_len) + body_len)
}

pub(crate) fn encoded_len<P: Body>(p: &P, version: ProtocolVersion) -> Result<usize, EncodeError> {
    total_len(p.body_len(version)?)
}

pub(crate) fn encode<P: Body, B: BufMut>(
    p: &P,
    version: ProtocolVersion,
    buf: &mut B,
) -> Result<usize, EncodeError> {
    let body_len = p.body_len(version)?;
    let total = total_len(body_len)?;
    if buf.remaining_mut() < total {
        return Err(EncodeError::BufferTooSmall {
            required: total,
            available: buf.remaining_mut(),
        });
    }
    let first = ((p.packet_type() as u8) << 4) | p.flags();
    if !p.write_whole(version, first, body_len, buf) {
        buf.put_u8(first);
        put_varint(buf, body_len);
        p.write_body(version, body_len, buf);
    }
    Ok(total)
}

/// Gives a packet type the public `encode` / `encoded_len` pair.
macro_rules! encode_methods {
    ($ty:ty) => {
        impl $ty {
            /// The exact number of bytes [`Self::encode`] writes for `version`, after checking
            /// that the packet can be sent as it is.
            pub fn encoded_len(
                &self,
                version: $crate::ProtocolVersion,
            ) -> Result<usize, $crate::EncodeError> {
                $crate::packet::encoded_len(self, version)
            }

            /// Encodes the packet for `version` into `buf` and returns how many bytes it wrote.
            /// A buffer without room for the whole packet is left untouched and reported as
            /// [`EncodeError::BufferTooSmall`](crate::EncodeError::BufferTooSmall) with the size
            /// required.
            pub fn encode<B: bytes::BufMut>(
                &self,
                version: $crate::ProtocolVersion,
                buf: &mut B,
            ) -> Result<usize, $crate::EncodeError> {
                $crate::packet::encode(self, version, buf)
            }
        }
    };
}
pub(crate) use encode_methods;

/// PINGREQ and PINGRESP: a fixed header and nothing else (sections 3.12, 3.13).
struct Ping(PacketType);

impl Body for Ping {
    fn packet_type(&self) -> PacketType {
        self.0
    }
    fn body_len(&self, _: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(0)
    }
    fn write_body<B: BufMut>(&self, _: ProtocolVersion, _: usize, _: &mut B) {}
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The exact number of bytes [`Packet::encode`] writes for `version`, after checking that
    /// the packet can be sent as it is.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        match self {
            Packet::Connect(p) => encoded_len(p.as_ref(), version),
            Packet::ConnAck(p) => encoded_len(p.as_ref(), version),
            Packet::Publish(p) => encoded_len(p, version),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                encoded_len(&p.as_body(self.packet_type()), version)
            }
            Packet::Subscribe(p) => encoded_len(p, version),
            Packet::SubAck(p) => encoded_len(p, version),
            Packet::Unsubscribe(p) => encoded_len(p, version),
            Packet::UnsubAck(p) => encoded_len(p, version),
            Packet::PingReq | Packet::PingResp => Ok(2),
            Packet::Disconnect(p) => encoded_len(p, version),
            Packet::Auth(p) => encoded_len(p, version),
        }
    }

    /// Encodes the packet for `version` into `buf` and returns how many bytes it wrote. A
    /// buffer without room for the whole packet is left untouched and reported as
    /// [`EncodeError::BufferTooSmall`] with the size required.
    pub fn encode<B: BufMut>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        match self {
            Packet::Connect(p) => encode(p.as_ref(), version, buf),
            Packet::ConnAck(p) => encode(p.as_ref(), version, buf),
            Packet::Publish(p) => encode(p, version, buf),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                encode(&p.as_body(self.packet_type()), version, buf)
            }
            Packet::Subscribe(p) => encode(p, version, buf),
            Packet::SubAck(p) => encode(p, version, buf),
            Packet::Unsubscribe(p) => encode(p, version, buf),
            Packet::UnsubAck(p) => encode(p, version, buf),
            Packet::PingReq => encode(&Ping(PacketType::PingReq), version, buf),
            Packet::PingResp => encode(&Ping(PacketType::PingResp), version, buf),
            Packet::Disconnect(p) => encode(p, version, buf),
            Packet::Auth(p) => encode(p, version, buf),
        }
    }

    /// Reads the body of a packet whose fixed header said `packet_type` and `flags`, sent by
    /// `from`, and hands the packet to `wrap` (e.g. `Decoded::Packet`). Each arm ends in
    /// `wrap(Packet::X(..))` with the packet's fields at hand, so that the caller's enum is built
    /// in place in its return slot: building the packet first and wrapping it after copied the
    /// 312-byte enum once per layer, which cost more than the rest of a small PUBLISH's decoding.
    #[inline(always)]
    pub(crate) fn read_body<T>(
        packet_type: PacketType,
        flags: u8,
        r: &mut Reader,
        version: ProtocolVersion,
        from: Role,
        wrap: impl FnOnce(Packet) -> T,
    ) -> Result<T, Error> {
        match packet_type {
            PacketType::Connect => {
                Connect::read_body(r, flags, version).map(|p| wrap(Packet::Connect(Box::new(p))))
            }
            PacketType::ConnAck => {
                ConnAck::read_body(r, flags, version).map(|p| wrap(Packet::ConnAck(Box::new(p))))
            }
            PacketType::Publish => {
                Publish::read_body(r, flags, version, from, |p| wrap(Packet::Publish(p)))
            }
            PacketType::PubAck => {
                PubResponse::read(r, packet_type, version).map(|p| wrap(Packet::PubAck(p)))
            }
            PacketType::PubRec => {
                PubResponse::read(r, packet_type, version).map(|p| wrap(Packet::PubRec(p)))
            }
            PacketType::PubRel => {
                PubResponse::read(r, packet_type, version).map(|p| wrap(Packet::PubRel(p)))
            }
            PacketType::PubComp => {
                PubResponse::read(r, packet_type, version).map(|p| wrap(Packet::PubComp(p)))
            }
            PacketType::Subscribe => {
                Subscribe::read_body(r, flags, version).map(|p| wrap(Packet::Subscribe(p)))
            }
            PacketType::SubAck => {
                SubAck::read_body(r, flags, version).map(|p| wrap(Packet::SubAck(p)))
            }
            PacketType::Unsubscribe => {
                Unsubscribe::read_body(r, flags, version).map(|p| wrap(Packet::Unsubscribe(p)))
            }
            PacketType::UnsubAck => {
                UnsubAck::read_body(r, flags, version).map(|p| wrap(Packet::UnsubAck(p)))
            }
            PacketType::PingReq => expect_end(r, packet_type).map(|()| wrap(Packet::PingReq)),
            PacketType::PingResp => expect_end(r, packet_type).map(|()| wrap(Packet::PingResp)),
            PacketType::Disconnect => {
                Disconnect::read_body(r, flags, version, from).map(|p| wrap(Packet::Disconnect(p)))
            }
            PacketType::Auth => Auth::read_body(r, flags, version).map(|p| wrap(Packet::Auth(p))),
        }
    }
}

impl From<Connect> for Packet {
    fn from(p: Connect) -> Self {
        Packet::Connect(Box::new(p))
    }
}

impl From<ConnAck> for Packet {
    fn from(p: ConnAck) -> Self {
        Packet::ConnAck(Box::new(p))
    }
}

impl From<Publish> for Packet {
    fn from(p: Publish) -> Self {
        Packet::Publish(p)
    }
}

impl From<Subscribe> for Packet {
    fn from(p: Subscribe) -> Self {
        Packet::Subscribe(p)
    }
}

impl From<SubAck> for Packet {
    fn from(p: SubAck) -> Self {
        Packet::SubAck(p)
    }
}

impl From<Unsubscribe> for Packet {
    fn from(p: Unsubscribe) -> Self {
        Packet::Unsubscribe(p)
    }
}

impl From<UnsubAck> for Packet {
    fn from(p: UnsubAck) -> Self {
        Packet::UnsubAck(p)
    }
}

impl From<Disconnect> for Packet {
    fn from(p: Disconnect) -> Self {
        Packet::Disconnect(p)
    }
}

impl From<Auth> for Packet {
    fn from(p: Auth) -> Self {
        Packet::Auth(p)
    }
}

/// Reads a Packet Identifier, refusing 0 (v5 [MQTT-2.2.1-3]; v3.1.1 [MQTT-2.3.1-1]).
pub(crate) fn read_packet_id(r: &mut Reader) -> Result<PacketId, Error> {
    PacketId::new(r.u16()?).ok_or(Error::PacketIdZero)
}

/// Refuses bytes after the last field.
pub(crate) fn expect_end(r: &Reader, packet: PacketType) -> Result<(), Error> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(Error::TrailingBytes {
            packet,
            extra: r.remaining(),
        })
    }
}

/// Reads a v5 reason code and checks that `packet` may carry it (section 2.4).
pub(crate) fn read_reason(
    r: &mut Reader,
    packet: PacketType,
    allowed: &[u8],
) -> Result<ReasonCode, Error> {
    let code = r.u8()?;
    check_reason(code, packet, allowed)
}

pub(crate) fn check_reason(
    code: u8,
    packet: PacketType,
    allowed: &[u8],
) -> Result<ReasonCode, Error> {
    match ReasonCode::from_u8(code) {
        Some(reason) if allowed.contains(&code) => Ok(reason),
        _ => Err(Error::InvalidReasonCode { packet, code }),
    }
}

/// Checks, before encoding, that `packet` may carry `reason`.
pub(crate) fn check_reason_to_send(
    reason: ReasonCode,
    packet: PacketType,
    allowed: &[u8],
) -> Result<(), EncodeError> {
    check_reason(reason.value(), packet, allowed)?;
    Ok(())
}
