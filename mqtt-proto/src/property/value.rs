//! The value types that properties carry, each with the checks the specification puts on it.

use bytes::{BufMut, Bytes};
use core::num::{NonZeroU16, NonZeroU32};

use super::PropertyId;
use crate::error::{EncodeError, Error};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::wire::{check_binary, put_binary, put_varint, varint_len, Reader, MAX_VARINT};
use crate::QoS;

/// A value type that properties carry, with the checks the specification puts on it.
pub(crate) trait PropertyValue: Sized {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Error>;
    /// Checks a value without keeping it (the entries of a decoded list stay in the block).
    fn validate(r: &mut Reader, id: PropertyId) -> Result<(), Error> {
        Self::read(r, id).map(drop)
    }
    fn encoded_len(&self) -> Result<usize, EncodeError>;
    fn write<B: BufMut>(&self, buf: &mut B);
}

/// A byte that must be 0 or 1 (Request Problem Information, Retain Available, ...): any other
/// value is a Protocol Error (sections 3.1.2.11.7, 3.2.2.3.5, ...).
impl PropertyValue for bool {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Error> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::InvalidPropertyValue(id)),
        }
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(u8::from(*self));
    }
}

impl PropertyValue for u16 {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        r.u16()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(2)
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u16(*self);
    }
}

/// Receive Maximum 0 is a Protocol Error (3.1.2.11.3, 3.2.2.3.3); Topic Alias 0 is not
/// permitted [MQTT-3.3.2-8].
impl PropertyValue for NonZeroU16 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Error> {
        NonZeroU16::new(r.u16()?).ok_or(if id == PropertyId::TopicAlias {
            Error::TopicAliasZero
        } else {
            Error::InvalidPropertyValue(id)
        })
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(2)
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u16(self.get());
    }
}

impl PropertyValue for u32 {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        r.u32()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(4)
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u32(*self);
    }
}

/// Maximum Packet Size 0 is a Protocol Error (3.1.2.11.4, 3.2.2.3.6).
impl PropertyValue for NonZeroU32 {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Error> {
        NonZeroU32::new(r.u32()?).ok_or(Error::InvalidPropertyValue(id))
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(4)
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u32(self.get());
    }
}

/// Maximum QoS: 0 or 1; anything else is a Protocol Error (3.2.2.3.4).
impl PropertyValue for QoS {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Error> {
        match r.u8()? {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            _ => Err(Error::InvalidPropertyValue(id)),
        }
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        match self {
            QoS::ExactlyOnce => Err(Error::InvalidPropertyValue(PropertyId::MaximumQoS).into()),
            _ => Ok(1),
        }
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(*self as u8);
    }
}

impl PropertyValue for MqttString {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        r.string()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(MqttString::encoded_len(self))
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        put_binary(buf, self.as_bytes());
    }
}

/// Response Topic: a UTF-8 Encoded String [MQTT-3.3.2-13] and a Topic Name, without wildcards
/// [MQTT-3.3.2-14].
impl PropertyValue for TopicName {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        let topic = r.topic_name()?;
        if topic.is_empty() {
            return Err(Error::EmptyTopicName);
        }
        Ok(topic)
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        if self.is_empty() {
            return Err(Error::EmptyTopicName.into());
        }
        Ok(self.as_mqtt_str().encoded_len())
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        put_binary(buf, self.as_bytes());
    }
}

impl PropertyValue for Bytes {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        r.binary()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        check_binary(self)?;
        Ok(2 + self.len())
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        put_binary(buf, self);
    }
}

/// The Payload Format Indicator of a PUBLISH or will (section 3.3.2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    #[default]
    Unspecified = 0,
    /// 1: UTF-8 encoded character data.
    Utf8 = 1,
}

impl PropertyValue for PayloadFormat {
    fn read(r: &mut Reader, id: PropertyId) -> Result<Self, Error> {
        match r.u8()? {
            0 => Ok(PayloadFormat::Unspecified),
            1 => Ok(PayloadFormat::Utf8),
            _ => Err(Error::InvalidPropertyValue(id)),
        }
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(1)
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(*self as u8);
    }
}

/// A Subscription Identifier: 1 to 268,435,455, encoded as a Variable Byte Integer; 0 is a
/// Protocol Error (section 3.8.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionIdentifier(NonZeroU32);

impl SubscriptionIdentifier {
    /// The identifier `value`, if it is in 1 to 268,435,455.
    pub const fn new(value: u32) -> Option<Self> {
        match NonZeroU32::new(value) {
            Some(v) if value <= MAX_VARINT => Some(SubscriptionIdentifier(v)),
            _ => None,
        }
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl PropertyValue for SubscriptionIdentifier {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        SubscriptionIdentifier::new(r.varint()?).ok_or(Error::InvalidSubscriptionIdentifier)
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(varint_len(self.get() as usize))
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        put_varint(buf, self.get() as usize);
    }
}

/// A User Property: a UTF-8 string pair (section 3.1.2.11.8 and others). Names may repeat and
/// order is kept [MQTT-3.1.3-10].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserProperty {
    /// The name.
    pub key: MqttString,
    /// The value.
    pub value: MqttString,
}

impl PropertyValue for UserProperty {
    fn read(r: &mut Reader, _: PropertyId) -> Result<Self, Error> {
        Ok(UserProperty {
            key: r.string()?,
            value: r.string()?,
        })
    }
    /// Checks both strings in place, without taking a reference to the buffer for each.
    fn validate(r: &mut Reader, _: PropertyId) -> Result<(), Error> {
        r.skip_string()?;
        r.skip_string()
    }
    fn encoded_len(&self) -> Result<usize, EncodeError> {
        Ok(self.key.encoded_len() + self.value.encoded_len())
    }
    fn write<B: BufMut>(&self, buf: &mut B) {
        put_binary(buf, self.key.as_bytes());
        put_binary(buf, self.value.as_bytes());
    }
}
