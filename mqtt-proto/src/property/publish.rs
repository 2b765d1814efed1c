//! The properties of PUBLISH (section 3.3.2.3), kept compact: a `Publish` is moved between the
//! decoder, the session and the application for every message, so its size is paid for in
//! copies on every message.

use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;
use core::num::NonZeroU16;

use super::{
    entry_extent, Entries, PayloadFormat, PropertyId, PropertyValue, SubscriptionIdentifiers,
    UserProperties, UserProperty,
};
use crate::error::{EncodeError, Error};
use crate::string::{check_bytes, check_topic_nul_and_wildcards, MqttString};
use crate::topic::TopicName;
use crate::wire::{parse_varint, put_varint, VarintPrefix, MAX_VARINT};

/// Bits naming the properties of [`PublishProperties`]: the three fields, then the others.
const PAYLOAD_FORMAT: u8 = 1 << 0;
const MESSAGE_EXPIRY: u8 = 1 << 1;
const TOPIC_ALIAS: u8 = 1 << 2;
const FIELDS: u8 = PAYLOAD_FORMAT | MESSAGE_EXPIRY | TOPIC_ALIAS;
const RESPONSE_TOPIC: u8 = 1 << 3;
const CORRELATION_DATA: u8 = 1 << 4;
const CONTENT_TYPE: u8 = 1 << 5;
const USER_PROPERTY: u8 = 1 << 6;
const SUBSCRIPTION_IDENTIFIER: u8 = 1 << 7;

/// The bit of a property a PUBLISH may carry, `None` for any other.
fn bit(id: PropertyId) -> Option<u8> {
    Some(match id {
        PropertyId::PayloadFormatIndicator => PAYLOAD_FORMAT,
        PropertyId::MessageExpiryInterval => MESSAGE_EXPIRY,
        PropertyId::TopicAlias => TOPIC_ALIAS,
        PropertyId::ResponseTopic => RESPONSE_TOPIC,
        PropertyId::CorrelationData => CORRELATION_DATA,
        PropertyId::ContentType => CONTENT_TYPE,
        PropertyId::UserProperty => USER_PROPERTY,
        PropertyId::SubscriptionIdentifier => SUBSCRIPTION_IDENTIFIER,
        _ => return None,
    })
}

/// Properties of PUBLISH (section 3.3.2.3).
///
/// The three properties a session reads on every message are fields. The others (Response
/// Topic, Correlation Data, Content Type, User Properties and Subscription Identifiers) stay
/// encoded in one block, which for a decoded packet is a slice of the read buffer: the methods
/// below read them on demand, and setting one encodes the block again (which allocates). That
/// keeps a [`Publish`](crate::Publish) at 120 bytes, where one with every property as a field
/// took 312, and decoding one allocates nothing and takes at most one reference to the buffer.
///
/// Decoded properties are encoded again in the order they arrived, so a packet passes through
/// byte for byte; properties set by hand go out in the order of this list.
///
/// ```
/// use mqtt_proto::{PublishProperties, TopicName};
///
/// let mut properties = PublishProperties::default();
/// properties.message_expiry_interval = Some(60);
/// properties.set_response_topic(Some(TopicName::new("replies/7")?))?;
/// properties.push_user_property("trace", "a1")?;
/// assert_eq!(properties.response_topic().unwrap().as_str(), "replies/7");
/// assert_eq!(properties.user_properties().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct PublishProperties {
    /// Payload Format Indicator (3.3.2.3.2).
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Message Expiry Interval in seconds (3.3.2.3.3).
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias (3.3.2.3.4); never 0 [MQTT-3.3.2-8].
    pub topic_alias: Option<NonZeroU16>,
    /// The other properties, encoded. Decoded with one of the fields above in an order that
    /// encoding must follow, the whole received block, those fields' entries included.
    block: Bytes,
    /// Which of the other properties `block` holds.
    others: u8,
    /// The bytes the entries of the three fields take in `block`: zero unless the block was
    /// kept whole to keep their order.
    fields_in_block: u8,
}

/// The other properties, taken out of the block to be changed and encoded again.
#[derive(Default, PartialEq)]
struct Others {
    response_topic: Option<TopicName>,
    correlation_data: Option<Bytes>,
    content_type: Option<MqttString>,
    user_properties: UserProperties,
    subscription_identifiers: SubscriptionIdentifiers,
}

impl PublishProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.topic_alias.is_none()
            && self.others == 0
    }

    /// Response Topic (3.3.2.3.5): a Topic Name, without wildcards [MQTT-3.3.2-14].
    pub fn response_topic(&self) -> Option<TopicName> {
        let value = self.value(PropertyId::ResponseTopic)?;
        TopicName::from_bytes(value.slice(2..)).ok()
    }

    /// Correlation Data (3.3.2.3.6), a slice of the block.
    pub fn correlation_data(&self) -> Option<Bytes> {
        let value = self.value(PropertyId::CorrelationData)?;
        Some(value.slice(2..))
    }

    /// Content Type (3.3.2.3.9), a UTF-8 Encoded String [MQTT-3.3.2-19].
    pub fn content_type(&self) -> Option<MqttString> {
        let value = self.value(PropertyId::ContentType)?;
        MqttString::from_bytes(value.slice(2..)).ok()
    }

    /// User Properties (3.3.2.3.7), in the order they arrived or were added; they share the
    /// block.
    pub fn user_properties(&self) -> UserProperties {
        UserProperties(self.entries(PropertyId::UserProperty))
    }

    /// User Properties (3.3.2.3.7) as name and value pairs borrowed from the block, in the
    /// order they arrived or were added; no allocation and no reference count per pair.
    pub fn user_property_pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let held = self.holds(PropertyId::UserProperty);
        self.other_entries()
            .filter(move |e| held && e.0 == PropertyId::UserProperty)
            .filter_map(|(_, _, start, end)| {
                let value = self.block.get(start..end)?;
                let (key, rest) = prefixed_str(value)?;
                let (value, _) = prefixed_str(rest)?;
                Some((key, value))
            })
    }

    /// Subscription Identifiers (3.3.2.3.8), which only a server sends [MQTT-3.3.4-6]; they
    /// share the block.
    pub fn subscription_identifiers(&self) -> SubscriptionIdentifiers {
        SubscriptionIdentifiers(self.entries(PropertyId::SubscriptionIdentifier))
    }

    /// Sets or clears the Response Topic; an empty topic is refused [MQTT-3.3.2-14].
    pub fn set_response_topic(&mut self, topic: Option<TopicName>) -> Result<(), EncodeError> {
        self.change(|o| o.response_topic = topic)
    }

    /// Sets or clears the Correlation Data; more than 65,535 bytes are refused.
    pub fn set_correlation_data(&mut self, data: Option<Bytes>) -> Result<(), EncodeError> {
        self.change(|o| o.correlation_data = data)
    }

    /// Sets or clears the Content Type.
    pub fn set_content_type(
        &mut self,
        content_type: Option<MqttString>,
    ) -> Result<(), EncodeError> {
        self.change(|o| o.content_type = content_type)
    }

    /// Replaces the User Properties.
    pub fn set_user_properties(&mut self, list: UserProperties) -> Result<(), EncodeError> {
        self.change(|o| o.user_properties = list)
    }

    /// Appends a User Property, validating name and value as UTF-8 Encoded Strings.
    pub fn push_user_property(
        &mut self,
        key: impl Into<bytestring::ByteString>,
        value: impl Into<bytestring::ByteString>,
    ) -> Result<(), EncodeError> {
        let property = UserProperty {
            key: MqttString::new(key)?,
            value: MqttString::new(value)?,
        };
        let mut o = self.others();
        o.user_properties.push(property)?;
        self.store(o)
    }

    /// Replaces the Subscription Identifiers (a server's; a client never sends them
    /// [MQTT-3.3.4-6]).
    pub fn set_subscription_identifiers(
        &mut self,
        list: SubscriptionIdentifiers,
    ) -> Result<(), EncodeError> {
        self.change(|o| o.subscription_identifiers = list)
    }

    /// The entries of the block that are not one of the three fields: identifier, and where
    /// the entry starts, where its value starts and where it ends. The block was checked when it
    /// was made; an error ends it.
    fn other_entries(&self) -> impl Iterator<Item = (PropertyId, usize, usize, usize)> + '_ {
        let mut at = 0;
        core::iter::from_fn(move || {
            while at < self.block.len() {
                let (id, id_len, value_len) = entry_extent(&self.block[at..]).ok()?;
                let entry = at;
                at += id_len + value_len;
                if bit(id).is_some_and(|b| b & FIELDS == 0) {
                    return Some((id, entry, entry + id_len, at));
                }
            }
            None
        })
    }

    /// Whether the block holds the other property `id`.
    fn holds(&self, id: PropertyId) -> bool {
        bit(id).is_some_and(|b| self.others & b != 0)
    }

    /// The value of the single property `id`, as a slice of the block.
    fn value(&self, id: PropertyId) -> Option<Bytes> {
        if !self.holds(id) {
            return None;
        }
        let (_, _, start, end) = self.other_entries().find(|e| e.0 == id)?;
        Some(self.block.slice(start..end))
    }

    /// The list of the repeatable property `id`, sharing the block.
    fn entries(&self, id: PropertyId) -> Entries {
        if !self.holds(id) {
            return Entries::default();
        }
        let mut list = Entries {
            raw: self.block.clone(),
            ..Entries::default()
        };
        for (entry_id, entry, _, end) in self.other_entries() {
            if entry_id == id {
                list.count += 1;
                list.bytes += end - entry;
            }
        }
        list.dense = list.bytes == self.block.len();
        list
    }

    fn others(&self) -> Others {
        Others {
            response_topic: self.response_topic(),
            correlation_data: self.correlation_data(),
            content_type: self.content_type(),
            user_properties: self.user_properties(),
            subscription_identifiers: self.subscription_identifiers(),
        }
    }

    /// Takes the other properties out, changes them and stores them again.
    fn change(&mut self, f: impl FnOnce(&mut Others)) -> Result<(), EncodeError> {
        let mut o = self.others();
        f(&mut o);
        self.store(o)
    }

    /// Encodes the other properties as the block, in the order of [`Others`]. The three
    /// fields no longer sit in the block afterwards: they go out first, in their order. On an
    /// error (a value that cannot be encoded) nothing changes.
    fn store(&mut self, o: Others) -> Result<(), EncodeError> {
        fn put<T: PropertyValue>(
            buf: &mut BytesMut,
            id: PropertyId,
            value: &Option<T>,
        ) -> Result<(), EncodeError> {
            if let Some(v) = value {
                buf.reserve(1 + v.encoded_len()?);
                buf.put_u8(id as u8);
                v.write(buf);
            }
            Ok(())
        }
        let lists = o.user_properties.encoded_len() + o.subscription_identifiers.encoded_len();
        let mut buf = BytesMut::with_capacity(lists);
        put(&mut buf, PropertyId::ResponseTopic, &o.response_topic)?;
        put(&mut buf, PropertyId::CorrelationData, &o.correlation_data)?;
        put(&mut buf, PropertyId::ContentType, &o.content_type)?;
        o.user_properties.write(&mut buf);
        o.subscription_identifiers.write(&mut buf);
        let others = [
            (RESPONSE_TOPIC, o.response_topic.is_some()),
            (CORRELATION_DATA, o.correlation_data.is_some()),
            (CONTENT_TYPE, o.content_type.is_some()),
            (USER_PROPERTY, !o.user_properties.is_empty()),
            (
                SUBSCRIPTION_IDENTIFIER,
                !o.subscription_identifiers.is_empty(),
            ),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .fold(0, |bits, (b, _)| bits | b);
        if buf.len() > MAX_VARINT as usize {
            return Err(EncodeError::PacketTooLarge(buf.len()));
        }
        self.block = buf.freeze();
        self.others = others;
        self.fields_in_block = 0;
        Ok(())
    }

    /// Reads a property block (Property Length, then properties), checking every value: a
    /// property a PUBLISH may not carry, a repeated one that may not repeat, or a block that
    /// ends inside a property is an error.
    ///
    /// The values are checked in place. The block is kept, as one reference to the read buffer,
    /// only when it holds one of the other properties, or when the three fields arrived in an
    /// order that encoding could not otherwise reproduce.
    pub(crate) fn read(r: &mut crate::wire::Reader) -> Result<Self, Error> {
        let len = r.varint()? as usize;
        let mut this = Self::default();
        if len == 0 {
            return Ok(this);
        }
        let block = r.peek().get(..len).ok_or(Error::UnexpectedEnd)?;
        let mut seen = 0u8;
        let mut fields_bytes = 0;
        // Whether the fields' entries come first, in the order they are encoded, with
        // one-byte identifiers, so that the block can start after them.
        let mut fields_first = true;
        let mut prefix = 0;
        let mut at = 0;
        while at < len {
            let (id, id_len, value_len) = entry_extent(&block[at..])?;
            let value = &block[at + id_len..at + id_len + value_len];
            // v5 2.2.2.2: an identifier not valid for PUBLISH is a Malformed Packet.
            let b = bit(id).ok_or(Error::PropertyNotAllowed {
                context: "PUBLISH",
                property: id,
            })?;
            if seen & b != 0 && b & (USER_PROPERTY | SUBSCRIPTION_IDENTIFIER) == 0 {
                return Err(Error::DuplicateProperty(id));
            }
            match b {
                PAYLOAD_FORMAT => {
                    this.payload_format_indicator = Some(match value {
                        [0] => PayloadFormat::Unspecified,
                        [1] => PayloadFormat::Utf8,
                        _ => return Err(Error::InvalidPropertyValue(id)),
                    });
                }
                MESSAGE_EXPIRY => {
                    let v: [u8; 4] = value.try_into().map_err(|_| Error::UnexpectedEnd)?;
                    this.message_expiry_interval = Some(u32::from_be_bytes(v));
                }
                TOPIC_ALIAS => {
                    let v: [u8; 2] = value.try_into().map_err(|_| Error::UnexpectedEnd)?;
                    this.topic_alias =
                        Some(NonZeroU16::new(u16::from_be_bytes(v)).ok_or(Error::TopicAliasZero)?);
                }
                // [MQTT-3.3.2-13], [MQTT-3.3.2-14]
                RESPONSE_TOPIC => check_topic_name(&value[2..])?,
                CORRELATION_DATA => {}
                // [MQTT-3.3.2-19]
                CONTENT_TYPE => check_bytes(&value[2..])?,
                USER_PROPERTY => {
                    let key_len = usize::from(u16::from_be_bytes([value[0], value[1]]));
                    check_bytes(&value[2..2 + key_len])?;
                    check_bytes(&value[4 + key_len..])?;
                }
                _ => match parse_varint(value)? {
                    VarintPrefix::Done(v, _) if v != 0 => {}
                    _ => return Err(Error::InvalidSubscriptionIdentifier),
                },
            }
            if b & FIELDS != 0 {
                fields_bytes += id_len + value_len;
                fields_first &= id_len == 1 && at == prefix && b > seen & FIELDS;
                if fields_first {
                    prefix = at + id_len + value_len;
                }
            } else {
                this.others |= b;
            }
            seen |= b;
            at += id_len + value_len;
        }
        if fields_first {
            if this.others != 0 {
                this.block = r.peek_bytes(prefix..len);
            }
        } else {
            this.block = r.peek_bytes(0..len);
            // At most three entries of at most eight bytes.
            this.fields_in_block = fields_bytes as u8;
        }
        r.skip(len);
        Ok(this)
    }

    /// The length of the properties, without the Property Length in front.
    pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
        let mut len = self.block.len() - usize::from(self.fields_in_block);
        len += self.fields_len(FIELDS);
        if len > MAX_VARINT as usize {
            return Err(EncodeError::PacketTooLarge(len));
        }
        Ok(len)
    }

    /// The encoded length of those of the three fields in `which` that are set.
    fn fields_len(&self, which: u8) -> usize {
        let mut len = 0;
        if which & PAYLOAD_FORMAT != 0 && self.payload_format_indicator.is_some() {
            len += 2;
        }
        if which & MESSAGE_EXPIRY != 0 && self.message_expiry_interval.is_some() {
            len += 5;
        }
        if which & TOPIC_ALIAS != 0 && self.topic_alias.is_some() {
            len += 3;
        }
        len
    }

    /// Writes those of the three fields in `which` that are set.
    fn write_fields<B: BufMut>(&self, which: u8, buf: &mut B) {
        if which & PAYLOAD_FORMAT != 0 {
            if let Some(v) = self.payload_format_indicator {
                buf.put_u8(PropertyId::PayloadFormatIndicator as u8);
                buf.put_u8(v as u8);
            }
        }
        if which & MESSAGE_EXPIRY != 0 {
            if let Some(v) = self.message_expiry_interval {
                buf.put_u8(PropertyId::MessageExpiryInterval as u8);
                buf.put_u32(v);
            }
        }
        if which & TOPIC_ALIAS != 0 {
            if let Some(v) = self.topic_alias {
                buf.put_u8(PropertyId::TopicAlias as u8);
                buf.put_u16(v.get());
            }
        }
    }

    /// Writes the Property Length, present even when zero [MQTT-2.2.2-1], and the properties;
    /// `len` is [`Self::encoded_len`].
    pub(crate) fn write<B: BufMut>(&self, len: usize, buf: &mut B) {
        put_varint(buf, len);
        if self.fields_in_block == 0 {
            self.write_fields(FIELDS, buf);
            buf.put_slice(&self.block);
            return;
        }
        // The received order: each field where it arrived, with its value now.
        let mut left = FIELDS;
        let mut at = 0;
        while at < self.block.len() {
            let Ok((id, id_len, value_len)) = entry_extent(&self.block[at..]) else {
                break;
            };
            let end = at + id_len + value_len;
            match bit(id) {
                Some(b) if b & FIELDS != 0 => {
                    self.write_fields(b & left, buf);
                    left &= !b;
                }
                _ => buf.put_slice(&self.block[at..end]),
            }
            at = end;
        }
        self.write_fields(left, buf);
    }
}

/// A UTF-8 Encoded String at the start of `bytes` (a two-byte length, then the string), and
/// what follows it.
fn prefixed_str(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let len = usize::from(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]));
    let string = bytes.get(2..2 + len)?;
    Some((core::str::from_utf8(string).ok()?, &bytes[2 + len..]))
}

/// Checks a Topic Name received as a property value: UTF-8 [MQTT-1.5.4-1], no U+0000
/// [MQTT-1.5.4-2], no wildcards and not empty [MQTT-3.3.2-14].
fn check_topic_name(bytes: &[u8]) -> Result<(), Error> {
    core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?;
    check_topic_nul_and_wildcards(bytes)?;
    if bytes.is_empty() {
        return Err(Error::EmptyTopicName);
    }
    Ok(())
}

impl PartialEq for PublishProperties {
    fn eq(&self, other: &Self) -> bool {
        self.payload_format_indicator == other.payload_format_indicator
            && self.message_expiry_interval == other.message_expiry_interval
            && self.topic_alias == other.topic_alias
            && self.others == other.others
            && (self.others == 0
                || (self.fields_in_block == 0
                    && other.fields_in_block == 0
                    && self.block == other.block)
                || self.others() == other.others())
    }
}

impl Eq for PublishProperties {}

impl fmt::Debug for PublishProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PublishProperties");
        if let Some(v) = &self.payload_format_indicator {
            d.field("payload_format_indicator", v);
        }
        if let Some(v) = &self.message_expiry_interval {
            d.field("message_expiry_interval", v);
        }
        if let Some(v) = &self.topic_alias {
            d.field("topic_alias", v);
        }
        if self.others != 0 {
            let o = self.others();
            if let Some(v) = &o.response_topic {
                d.field("response_topic", v);
            }
            if let Some(v) = &o.correlation_data {
                d.field("correlation_data", v);
            }
            if let Some(v) = &o.content_type {
                d.field("content_type", v);
            }
            if !o.user_properties.is_empty() {
                d.field("user_properties", &o.user_properties);
            }
            if !o.subscription_identifiers.is_empty() {
                d.field("subscription_identifiers", &o.subscription_identifiers);
            }
        }
        d.finish()
    }
}
