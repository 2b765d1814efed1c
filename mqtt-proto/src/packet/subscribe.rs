//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK (sections 3.8 to 3.11).

use alloc::vec::Vec;
use bytes::BufMut;

use super::{check_reason, check_reason_to_send, encode_methods, expect_end, read_packet_id};
use super::{Body, PacketType};
use crate::error::{EncodeError, Error};
use crate::property::{block_len, AckProperties, SubscribeProperties, UnsubscribeProperties};
use crate::topic::TopicFilter;
use crate::wire::{put_binary, Reader};
use crate::{PacketId, ProtocolVersion, QoS, ReasonCode};

/// Retain Handling: whether retained messages are sent when a subscription is made (v5
/// section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription does not already exist.
    SendAtSubscribeIfNew = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

/// The Subscription Options byte (v5 section 3.8.3.1; in v3.1.1 only the QoS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local: do not receive one's own publications (v5).
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages (v5).
    pub retain_as_published: bool,
    /// Retain Handling (v5).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this maximum QoS and the defaults for the rest.
    pub fn new(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Self::default()
        }
    }

    fn to_byte(self, version: ProtocolVersion) -> u8 {
        let mut byte = self.qos as u8;
        if version == ProtocolVersion::V5 {
            byte |= u8::from(self.no_local) << 2;
            byte |= u8::from(self.retain_as_published) << 3;
            byte |= (self.retain_handling as u8) << 4;
        }
        byte
    }

    fn from_byte(byte: u8, version: ProtocolVersion) -> Result<Self, Error> {
        // Malformed: v5 bits 6 and 7 reserved [MQTT-3.8.3-5]; v3.1.1 bits 2 to 7 [MQTT-3.8.3-4]
        // (printed in the v3.1.1 text as MQTT-3-8.3-4).
        let reserved = match version {
            ProtocolVersion::V5 => 0xC0,
            ProtocolVersion::V311 => 0xFC,
        };
        if byte & reserved != 0 {
            return Err(Error::InvalidSubscriptionOptions(byte));
        }
        let qos = QoS::from_u8(byte & 0x03).ok_or(match version {
            // v5 3.8.3.1: "It is a Protocol Error if the Maximum QoS field has the value 3."
            ProtocolVersion::V5 => Error::InvalidSubscriptionQoS(byte),
            // v3.1.1 [MQTT-3.8.3-4]: malformed "if ... QoS is not 0,1 or 2".
            ProtocolVersion::V311 => Error::InvalidQoS,
        })?;
        let retain_handling = match (byte >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            // v5 3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
            _ => return Err(Error::InvalidRetainHandling(byte)),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }
}

/// One Topic Filter of a SUBSCRIBE with its options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscribeFilter {
    /// The filter.
    pub filter: TopicFilter,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl SubscribeFilter {
    /// `filter` with maximum QoS `qos` and default options.
    pub fn new(filter: TopicFilter, qos: QoS) -> Self {
        SubscribeFilter {
            filter,
            options: SubscriptionOptions::new(qos),
        }
    }

    /// [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
    fn check(&self, version: ProtocolVersion) -> Result<(), Error> {
        if version == ProtocolVersion::V5 && self.options.no_local && self.filter.is_shared() {
            return Err(Error::NoLocalOnSharedSubscription);
        }
        Ok(())
    }
}

/// SUBSCRIBE (section 3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// The filters; at least one [MQTT-3.8.3-2].
    pub filters: Vec<SubscribeFilter>,
    /// Properties (v5).
    pub properties: SubscribeProperties,
}

impl Subscribe {
    /// A SUBSCRIBE for `filters`, without properties.
    pub fn new(packet_id: PacketId, filters: Vec<SubscribeFilter>) -> Self {
        Subscribe {
            packet_id,
            filters,
            properties: SubscribeProperties::default(),
        }
    }

    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let packet_id = read_packet_id(r)?;
        let properties = match version {
            ProtocolVersion::V5 => SubscribeProperties::read(r)?,
            ProtocolVersion::V311 => SubscribeProperties::default(),
        };
        let mut filters = Vec::with_capacity(count_entries(r.peek(), 1));
        while !r.is_empty() {
            // [MQTT-3.8.3-1]: UTF-8 Encoded Strings, valid filters.
            let filter = r.topic_filter()?;
            let options = SubscriptionOptions::from_byte(r.u8()?, version)?;
            let entry = SubscribeFilter { filter, options };
            entry.check(version)?;
            filters.push(entry);
        }
        // [MQTT-3.8.3-2] (v3.1.1: [MQTT-3.8.3-3])
        if filters.is_empty() {
            return Err(Error::NoTopicFilters(PacketType::Subscribe));
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

encode_methods!(Subscribe);

impl Body for Subscribe {
    fn packet_type(&self) -> PacketType {
        PacketType::Subscribe
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(Error::NoTopicFilters(PacketType::Subscribe).into());
        }
        let mut len = 2;
        if version == ProtocolVersion::V5 {
            len += block_len(self.properties.encoded_len()?);
        }
        for f in &self.filters {
            f.check(version)?;
            len += f.filter.as_mqtt_str().encoded_len() + 1;
        }
        Ok(len)
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u16(self.packet_id.get());
        if version == ProtocolVersion::V5 {
            let len = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(len, buf);
        }
        for f in &self.filters {
            put_binary(buf, f.filter.as_mqtt_str().as_bytes());
            buf.put_u8(f.options.to_byte(version));
        }
    }
}

/// How many entries of a two-byte length, that many bytes and `extra` bytes more `body` holds,
/// so that the list is allocated once. A well-formed entry takes at least `3 + extra` bytes (a
/// filter is not empty [MQTT-4.7.3-1]): the count is capped at that share of the body, so that
/// a malformed body cannot have more allocated than a well-formed one of its size.
fn count_entries(mut body: &[u8], extra: usize) -> usize {
    let cap = body.len() / (3 + extra);
    let mut n = 0;
    while let [hi, lo, rest @ ..] = body {
        n += 1;
        body = rest
            .get(usize::from(u16::from_be_bytes([*hi, *lo])) + extra..)
            .unwrap_or(&[]);
    }
    n.min(cap)
}

/// SUBACK reason codes (section 3.9.3, [MQTT-3.9.3-2]).
const SUBACK_REASONS: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];

/// SUBACK (section 3.9): one reason code per filter of the SUBSCRIBE, in order. v3.1.1 return
/// codes map onto Granted QoS 0/1/2 and Unspecified error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet Identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// One reason code per filter.
    pub reason_codes: Vec<ReasonCode>,
    /// Properties (v5).
    pub properties: AckProperties,
}

impl SubAck {
    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let packet_id = read_packet_id(r)?;
        let properties = match version {
            ProtocolVersion::V5 => AckProperties::read(r)?,
            ProtocolVersion::V311 => AckProperties::default(),
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8()?;
            reason_codes.push(match version {
                ProtocolVersion::V5 => check_reason(code, PacketType::SubAck, SUBACK_REASONS)?,
                ProtocolVersion::V311 => {
                    // [MQTT-3.9.3-2]: 0x00, 0x01, 0x02 and 0x80 only.
                    ReasonCode::from_v311_suback(code).ok_or(Error::InvalidReasonCode {
                        packet: PacketType::SubAck,
                        code,
                    })?
                }
            });
        }
        Ok(SubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }
}

encode_methods!(SubAck);

impl Body for SubAck {
    fn packet_type(&self) -> PacketType {
        PacketType::SubAck
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        let mut len = 2 + self.reason_codes.len();
        match version {
            ProtocolVersion::V5 => {
                for &code in &self.reason_codes {
                    check_reason_to_send(code, PacketType::SubAck, SUBACK_REASONS)?;
                }
                len += block_len(self.properties.encoded_len()?);
            }
            ProtocolVersion::V311 => {
                if self
                    .reason_codes
                    .iter()
                    .any(|c| c.to_v311_suback().is_none())
                {
                    return Err(EncodeError::NotInVersion {
                        what: "this SUBACK reason code",
                        version,
                    });
                }
            }
        }
        Ok(len)
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u16(self.packet_id.get());
        if version == ProtocolVersion::V5 {
            let len = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(len, buf);
            for code in &self.reason_codes {
                buf.put_u8(code.value());
            }
        } else {
            for code in &self.reason_codes {
                buf.put_u8(code.to_v311_suback().unwrap_or(0x80));
            }
        }
    }
}

/// UNSUBSCRIBE (section 3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet Identifier.
    pub packet_id: PacketId,
    /// The filters; at least one [MQTT-3.10.3-2].
    pub filters: Vec<TopicFilter>,
    /// Properties (v5).
    pub properties: UnsubscribeProperties,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE for `filters`, without properties.
    pub fn new(packet_id: PacketId, filters: Vec<TopicFilter>) -> Self {
        Unsubscribe {
            packet_id,
            filters,
            properties: UnsubscribeProperties::default(),
        }
    }

    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let packet_id = read_packet_id(r)?;
        let properties = match version {
            ProtocolVersion::V5 => UnsubscribeProperties::read(r)?,
            ProtocolVersion::V311 => UnsubscribeProperties::default(),
        };
        let mut filters = Vec::with_capacity(count_entries(r.peek(), 0));
        while !r.is_empty() {
            // [MQTT-3.10.3-1]
            filters.push(r.topic_filter()?);
        }
        // [MQTT-3.10.3-2]
        if filters.is_empty() {
            return Err(Error::NoTopicFilters(PacketType::Unsubscribe));
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

encode_methods!(Unsubscribe);

impl Body for Unsubscribe {
    fn packet_type(&self) -> PacketType {
        PacketType::Unsubscribe
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(Error::NoTopicFilters(PacketType::Unsubscribe).into());
        }
        let mut len = 2;
        if version == ProtocolVersion::V5 {
            len += block_len(self.properties.encoded_len()?);
        }
        for f in &self.filters {
            len += f.as_mqtt_str().encoded_len();
        }
        Ok(len)
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u16(self.packet_id.get());
        if version == ProtocolVersion::V5 {
            let len = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(len, buf);
        }
        for f in &self.filters {
            put_binary(buf, f.as_mqtt_str().as_bytes());
        }
    }
}

/// UNSUBACK reason codes (section 3.11.3, [MQTT-3.11.3-2]).
const UNSUBACK_REASONS: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];

/// UNSUBACK (section 3.11). In v3.1.1 it carries no reason codes and `reason_codes` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// One reason code per filter (v5).
    pub reason_codes: Vec<ReasonCode>,
    /// Properties (v5).
    pub properties: AckProperties,
}

impl UnsubAck {
    pub(crate) fn read_body(
        r: &mut Reader,
        _: u8,
        version: ProtocolVersion,
    ) -> Result<Self, Error> {
        let packet_id = read_packet_id(r)?;
        let mut ack = UnsubAck {
            packet_id,
            reason_codes: Vec::new(),
            properties: AckProperties::default(),
        };
        if version == ProtocolVersion::V5 {
            ack.properties = AckProperties::read(r)?;
            ack.reason_codes.reserve(r.remaining());
            while !r.is_empty() {
                let code = r.u8()?;
                ack.reason_codes
                    .push(check_reason(code, PacketType::UnsubAck, UNSUBACK_REASONS)?);
            }
        }
        expect_end(r, PacketType::UnsubAck)?;
        Ok(ack)
    }
}

encode_methods!(UnsubAck);

impl Body for UnsubAck {
    fn packet_type(&self) -> PacketType {
        PacketType::UnsubAck
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version == ProtocolVersion::V311 {
            return Ok(2);
        }
        for &code in &self.reason_codes {
            check_reason_to_send(code, PacketType::UnsubAck, UNSUBACK_REASONS)?;
        }
        Ok(2 + block_len(self.properties.encoded_len()?) + self.reason_codes.len())
    }

    fn write_body<B: BufMut>(&self, version: ProtocolVersion, _: usize, buf: &mut B) {
        buf.put_u16(self.packet_id.get());
        if version == ProtocolVersion::V5 {
            let len = self.properties.encoded_len().unwrap_or(0);
            self.properties.write(len, buf);
            for code in &self.reason_codes {
                buf.put_u8(code.value());
            }
        }
    }
}
