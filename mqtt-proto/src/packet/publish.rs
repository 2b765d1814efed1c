//! PUBLISH (section 3.3) and its four acknowledgements, PUBACK, PUBREC, PUBREL and PUBCOMP
//! (sections 3.4 to 3.7), which share one shape.

use bytes::{BufMut, Bytes};

use super::{
    check_reason_to_send, encode_methods, expect_end, read_packet_id, read_reason, Body, PacketType,
};
use crate::error::{EncodeError, Error};
use crate::property::{block_len, AckProperties, PublishProperties};
use crate::string::nul_and_wildcard;
use crate::topic::TopicName;
use crate::wire::{put_binary, varint_into, Reader};
use crate::{PacketId, ProtocolVersion, QoS, ReasonCode};

/// The QoS of a PUBLISH together with its Packet Identifier, which exists exactly when the QoS
/// is 1 or 2 (section 3.3.2.2): a QoS 1 message without an id cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosPid {
    /// QoS 0, no Packet Identifier.
    AtMostOnce,
    /// QoS 1 with its Packet Identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its Packet Identifier.
    ExactlyOnce(PacketId),
}

impl QosPid {
    /// The QoS level.
    pub const fn qos(self) -> QoS {
        match self {
            QosPid::AtMostOnce => QoS::AtMostOnce,
            QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
            QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The Packet Identifier, for QoS 1 and 2.
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            QosPid::AtMostOnce => None,
            QosPid::AtLeastOnce(id) | QosPid::ExactlyOnce(id) => Some(id),
        }
    }

    /// `qos` with `id`; `id` is ignored for QoS 0.
    pub const fn new(qos: QoS, id: PacketId) -> Self {
        match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(id),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(id),
        }
    }
}

/// PUBLISH: an application message, in either direction (section 3.3).
///
/// Decoded, `topic`, `payload` and the binary properties are slices of the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a re-delivery [MQTT-3.3.1-1]; always false at QoS 0 [MQTT-3.3.1-2].
    pub dup: bool,
    /// QoS and Packet Identifier.
    pub qos_pid: QosPid,
    /// RETAIN.
    pub retain: bool,
    /// Topic Name; empty only in v5 when a Topic Alias names the topic.
    pub topic: TopicName,
    /// The payload.
    pub payload: Bytes,
    /// Properties (v5).
    pub properties: PublishProperties,
}

impl Publish {
    /// A message to `topic`, not retained, not a duplicate, without properties.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>, qos_pid: QosPid) -> Self {
        Publish {
            dup: false,
            qos_pid,
            retain: false,
            topic,
            payload: payload.into(),
            properties: PublishProperties::default(),
        }
    }

    /// The QoS level.
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    /// The Packet Identifier (QoS 1 and 2).
    pub fn packet_id(&self) -> Option<PacketId> {
        self.qos_pid.packet_id()
    }

    /// Checks the rules that tie fields together: DUP only with QoS > 0 [MQTT-3.3.1-2],
    /// [MQTT-4.3.1-1]; a topic name unless a v5 Topic Alias stands in for it [MQTT-3.3.2-1],
    /// [MQTT-4.7.3-1]. The Packet Identifier exists exactly for QoS 1 and 2 by construction of
    /// [`QosPid`] (v5 [MQTT-2.2.1-2]; v3.1.1 [MQTT-2.3.1-5]).
    fn check(&self, version: ProtocolVersion) -> Result<(), Error> {
        if self.dup && self.qos() == QoS::AtMostOnce {
            return Err(Error::DupWithQoS0);
        }
        if self.topic.is_empty()
            && (version == ProtocolVersion::V311 || self.properties.topic_alias.is_none())
        {
            return Err(Error::EmptyTopicName);
        }
        Ok(())
    }
}

encode_methods!(Publish);

impl Body for Publish {
    fn packet_type(&self) -> PacketType {
        PacketType::Publish
    }

    fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos() as u8) << 1) | u8::from(self.retain)
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        self.check(version)?;
        let mut len = self.topic.as_mqtt_str().encoded_len() + self.payload.len();
        if self.packet_id().is_some() {
            len += 2;
        }
        if version == ProtocolVersion::V5 {
            len += block_len(self.properties.encoded_len()?);
        }
        Ok(len)
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        put_binary(buf, self.topic.as_bytes());
        if let Some(id) = self.packet_id() {
            buf.put_u16(id.get());
        }
        if version == ProtocolVersion::V5 {
            let len = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(len, buf);
        }
        buf.put_slice(&self.payload);
    }

    /// In v5, a topic of up to [`SHORT_TOPIC`] bytes goes out in one write together with the
    /// fixed header and the Packet Identifier. Measured with
    /// `cargo bench -p mqtt-sansio-proto --bench codec`, that takes 0.7 of the time of separate writes for a v5 PUBLISH with properties,
    /// but 1.3 for a v3.1.1 one, which keeps the plain writes.
    fn write_whole<B: BufMut>(
        &self,
        version: ProtocolVersion,
        first: u8,
        len: usize,
        buf: &mut B,
    ) -> bool {
        let topic = self.topic.as_bytes();
        if version != ProtocolVersion::V5 || topic.len() > SHORT_TOPIC {
            return false;
        }
        let mut start = [0u8; 5 + 2 + SHORT_TOPIC + 2];
        start[0] = first;
        let mut n = 1 + varint_into(&mut start[1..5], len);
        start[n..n + 2].copy_from_slice(&(topic.len() as u16).to_be_bytes());
        n += 2;
        start[n..n + topic.len()].copy_from_slice(topic);
        n += topic.len();
        if let Some(id) = self.packet_id() {
            start[n..n + 2].copy_from_slice(&id.get().to_be_bytes());
            n += 2;
        }
        buf.put_slice(&start[..n]);
        let props = self.properties.encoded_len().unwrap_or(0);
        self.properties.write(props, buf);
        buf.put_slice(&self.payload);
        true
    }
}

/// The longest topic [`Publish`] encodes together with its fixed header.
const SHORT_TOPIC: usize = 64;

impl Publish {
    /// Reads the body and hands the packet to `wrap` in the last expression, so that the
    /// caller's enum is built in place (see [`Packet::read_body`](crate::Packet)).
    #[inline(always)]
    pub(crate) fn read_body<T>(
        r: &mut Reader,
        flags: u8,
        version: ProtocolVersion,
        from: crate::Role,
        wrap: impl FnOnce(Self) -> T,
    ) -> Result<T, Error> {
        let dup = flags & 0x08 != 0;
        let retain = flags & 0x01 != 0;
        // [MQTT-3.3.1-4]
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(Error::InvalidQoS)?;
        // [MQTT-3.3.2-2]: no wildcards in a topic name. The name is scanned for NUL and
        // wildcards in place, before it is taken as a slice of the body.
        let len = usize::from(r.u16()?);
        let found = nul_and_wildcard(r.peek().get(..len).ok_or(Error::UnexpectedEnd)?);
        let topic = TopicName::from_scanned(r.take(len)?, found)?;
        let qos_pid = match qos {
            QoS::AtMostOnce => QosPid::AtMostOnce,
            QoS::AtLeastOnce => QosPid::AtLeastOnce(read_packet_id(r)?),
            QoS::ExactlyOnce => QosPid::ExactlyOnce(read_packet_id(r)?),
        };
        let properties = match version {
            ProtocolVersion::V5 => PublishProperties::read(r)?,
            ProtocolVersion::V311 => PublishProperties::default(),
        };
        // The rules of `check`, applied before the packet is assembled so that it is built in
        // place (checking the assembled packet made the compiler copy it).
        if dup && qos == QoS::AtMostOnce {
            return Err(Error::DupWithQoS0);
        }
        if topic.is_empty()
            && (version == ProtocolVersion::V311 || properties.topic_alias.is_none())
        {
            return Err(Error::EmptyTopicName);
        }
        // [MQTT-3.3.4-6]: a client's PUBLISH carries no Subscription Identifier. The
        // identifier is valid for PUBLISH, so this is no Malformed Packet (2.2.2.2) but a
        // Protocol Error (3.3.4: "It is a Protocol Error for a PUBLISH packet to contain any
        // Subscription Identifier other than those received in SUBSCRIBE").
        if from == crate::Role::Client && !properties.subscription_identifiers().is_empty() {
            return Err(Error::PropertyNotAllowedFrom {
                packet: PacketType::Publish,
                from,
                property: crate::PropertyId::SubscriptionIdentifier,
            });
        }
        Ok(wrap(Publish {
            dup,
            qos_pid,
            retain,
            topic,
            payload: r.rest(),
            properties,
        }))
    }
}

/// The reason codes of PUBACK and PUBREC (sections 3.4.2.1, 3.5.2.1; [MQTT-3.4.2-1],
/// [MQTT-3.5.2-1]).
const PUBACK_REASONS: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// The reason codes of PUBREL and PUBCOMP (sections 3.6.2.1, 3.7.2.1; [MQTT-3.6.2-1],
/// [MQTT-3.7.2-1]).
const PUBREL_REASONS: &[u8] = &[0x00, 0x92];

/// The shape PUBACK, PUBREC, PUBREL and PUBCOMP share: a Packet Identifier, a reason code and
/// properties (v5). Which of the four it is follows from the [`Packet`](crate::Packet) variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubResponse {
    /// The Packet Identifier of the PUBLISH (or PUBREL) being answered.
    pub packet_id: PacketId,
    /// Reason Code (v5; always Success in v3.1.1).
    pub reason_code: ReasonCode,
    /// Properties (v5).
    pub properties: AckProperties,
}

/// PUBACK: the answer to a QoS 1 PUBLISH (section 3.4).
pub type PubAck = PubResponse;
/// PUBREC: the first answer to a QoS 2 PUBLISH (section 3.5).
pub type PubRec = PubResponse;
/// PUBREL: the answer to PUBREC (section 3.6).
pub type PubRel = PubResponse;
/// PUBCOMP: the answer to PUBREL (section 3.7).
pub type PubComp = PubResponse;

impl PubResponse {
    /// A successful acknowledgement of `packet_id` without properties.
    pub fn new(packet_id: PacketId) -> Self {
        PubResponse {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }

    /// The acknowledgement with `reason_code`.
    pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> Self {
        PubResponse {
            reason_code,
            ..PubResponse::new(packet_id)
        }
    }

    /// Views this as the body of the given packet type (one of the four).
    pub(crate) fn as_body(&self, packet_type: PacketType) -> AckBody<'_> {
        AckBody {
            ack: self,
            packet_type,
        }
    }

    pub(crate) fn read(
        r: &mut Reader,
        packet_type: PacketType,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let packet_id = read_packet_id(r)?;
        let mut ack = PubResponse::new(packet_id);
        // v5: "If the Remaining Length is 2 there is no Reason Code and 0x00 is used; if it is
        // less than 4 there is no Property Length" (3.4.2.1, 3.4.2.2.1 and likewise).
        if version == ProtocolVersion::V5 && !r.is_empty() {
            ack.reason_code = read_reason(r, packet_type, reasons(packet_type))?;
            if !r.is_empty() {
                ack.properties = AckProperties::read(r)?;
            }
        }
        expect_end(r, packet_type)?;
        Ok(ack)
    }

    /// The same as [`PubResponse::read`] for a body of at most three bytes (a Packet
    /// Identifier and, in v5, a Reason Code: no properties), read straight from the read buffer.
    /// Such a body holds nothing the packet keeps a reference to, so the decoder need not split
    /// it off as a shared `Bytes` (two atomic reference-count updates). `None` for a body this
    /// does not cover, which [`PubResponse::read`] then decodes.
    pub(crate) fn read_short(
        body: &[u8],
        packet_type: PacketType,
        version: ProtocolVersion,
    ) -> Option<Result<Self, Error>> {
        let (id, reason) = match (version, body) {
            (_, [hi, lo]) => (u16::from_be_bytes([*hi, *lo]), None),
            (ProtocolVersion::V5, [hi, lo, code]) => (u16::from_be_bytes([*hi, *lo]), Some(*code)),
            _ => return None,
        };
        let Some(packet_id) = PacketId::new(id) else {
            return Some(Err(Error::PacketIdZero));
        };
        let mut ack = PubResponse::new(packet_id);
        if let Some(code) = reason {
            match super::check_reason(code, packet_type, reasons(packet_type)) {
                Ok(reason_code) => ack.reason_code = reason_code,
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(ack))
    }

    /// Encodes this as a packet of `packet_type` (PUBACK, PUBREC, PUBREL or PUBCOMP).
    pub fn encode<B: BufMut>(
        &self,
        packet_type: PacketType,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        super::encode(&self.as_body(packet_type), version, buf)
    }

    /// The exact number of bytes [`PubResponse::encode`] writes.
    pub fn encoded_len(
        &self,
        packet_type: PacketType,
        version: ProtocolVersion,
    ) -> Result<usize, EncodeError> {
        super::encoded_len(&self.as_body(packet_type), version)
    }
}

impl ReasonCode {
    /// Whether a receiver can refuse a PUBLISH with this code: an error that PUBACK and PUBREC
    /// may carry (0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99; sections 3.4.2.1, 3.5.2.1).
    ///
    /// ```
    /// use mqtt_proto::ReasonCode;
    ///
    /// assert!(ReasonCode::QuotaExceeded.refuses_publish());
    /// assert!(!ReasonCode::Success.refuses_publish());
    /// assert!(!ReasonCode::ProtocolError.refuses_publish());
    /// ```
    pub fn refuses_publish(self) -> bool {
        self.is_error() && PUBACK_REASONS.contains(&self.value())
    }
}

fn reasons(packet_type: PacketType) -> &'static [u8] {
    match packet_type {
        PacketType::PubAck | PacketType::PubRec => PUBACK_REASONS,
        _ => PUBREL_REASONS,
    }
}

/// A [`PubResponse`] with the packet type it is encoded as.
pub(crate) struct AckBody<'a> {
    ack: &'a PubResponse,
    packet_type: PacketType,
}

impl AckBody<'_> {
    /// The v5 body form: 0 = id only, 1 = id and reason, 2 = id, reason and properties.
    fn v5_form(&self) -> u8 {
        if !self.ack.properties.is_empty() {
            2
        } else if self.ack.reason_code != ReasonCode::Success {
            1
        } else {
            0
        }
    }
}

impl Body for AckBody<'_> {
    fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !matches!(
            self.packet_type,
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp
        ) {
            return Err(EncodeError::NotInVersion {
                what: "a publish acknowledgement of another packet type",
                version,
            });
        }
        if version == ProtocolVersion::V311 {
            return Ok(2);
        }
        check_reason_to_send(
            self.ack.reason_code,
            self.packet_type,
            reasons(self.packet_type),
        )?;
        Ok(match self.v5_form() {
            0 => 2,
            1 => 3,
            _ => 3 + block_len(self.ack.properties.encoded_len()?),
        })
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u16(self.ack.packet_id.get());
        if version == ProtocolVersion::V311 {
            return;
        }
        let form = self.v5_form();
        if form >= 1 {
            buf.put_u8(self.ack.reason_code.value());
        }
        if form == 2 {
            let len = self.ack.properties.encoded_len().unwrap_or(0);
            self.ack.properties.write(len, buf);
        }
    }
}
