//! v5 properties (section 2.2.2): every identifier with its data type, one typed struct per
//! packet listing exactly the properties that packet may carry, duplicates refused except for the
//! properties the specification lets repeat (User Property everywhere, Subscription Identifier on
//! PUBLISH).
//!
//! The repeatable properties are kept as the received property block and read on demand, so that
//! decoding a PUBLISH with user properties allocates nothing.

use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};

use crate::error::{EncodeError, Error};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::wire::{
    check_binary, parse_varint, put_binary, put_varint, varint_len, Reader, VarintPrefix,
    MAX_VARINT,
};
use crate::QoS;

mod publish;
pub use publish::PublishProperties;

macro_rules! property_ids {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $kind:ident; )*) => {
        /// A v5 Property Identifier (section 2.2.2.2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum PropertyId {
            $( $(#[$doc])* $name = $value, )*
        }

        impl PropertyId {
            /// The property with this identifier, if v5.0 defines one.
            pub const fn from_u32(value: u32) -> Option<Self> {
                match value {
                    $( $value => Some(PropertyId::$name), )*
                    _ => None,
                }
            }

            const fn kind(self) -> Kind {
                match self {
                    $( PropertyId::$name => Kind::$kind, )*
                }
            }
        }
    };
}

property_ids! {
    /// 0x01 Payload Format Indicator (byte).
    PayloadFormatIndicator = 0x01, Byte;
    /// 0x02 Message Expiry Interval (four-byte integer).
    MessageExpiryInterval = 0x02, FourByte;
    /// 0x03 Content Type (UTF-8 string).
    ContentType = 0x03, Utf8;
    /// 0x08 Response Topic (UTF-8 string).
    ResponseTopic = 0x08, Utf8;
    /// 0x09 Correlation Data (binary data).
    CorrelationData = 0x09, Binary;
    /// 0x0B Subscription Identifier (variable byte integer).
    SubscriptionIdentifier = 0x0B, VarInt;
    /// 0x11 Session Expiry Interval (four-byte integer).
    SessionExpiryInterval = 0x11, FourByte;
    /// 0x12 Assigned Client Identifier (UTF-8 string).
    AssignedClientIdentifier = 0x12, Utf8;
    /// 0x13 Server Keep Alive (two-byte integer).
    ServerKeepAlive = 0x13, TwoByte;
    /// 0x15 Authentication Method (UTF-8 string).
    AuthenticationMethod = 0x15, Utf8;
    /// 0x16 Authentication Data (binary data).
    AuthenticationData = 0x16, Binary;
    /// 0x17 Request Problem Information (byte).
    RequestProblemInformation = 0x17, Byte;
    /// 0x18 Will Delay Interval (four-byte integer).
    WillDelayInterval = 0x18, FourByte;
    /// 0x19 Request Response Information (byte).
    RequestResponseInformation = 0x19, Byte;
    /// 0x1A Response Information (UTF-8 string).
    ResponseInformation = 0x1A, Utf8;
    /// 0x1C Server Reference (UTF-8 string).
    ServerReference = 0x1C, Utf8;
    /// 0x1F Reason String (UTF-8 string).
    ReasonString = 0x1F, Utf8;
    /// 0x21 Receive Maximum (two-byte integer).
    ReceiveMaximum = 0x21, TwoByte;
    /// 0x22 Topic Alias Maximum (two-byte integer).
    TopicAliasMaximum = 0x22, TwoByte;
    /// 0x23 Topic Alias (two-byte integer).
    TopicAlias = 0x23, TwoByte;
    /// 0x24 Maximum QoS (byte).
    MaximumQoS = 0x24, Byte;
    /// 0x25 Retain Available (byte).
    RetainAvailable = 0x25, Byte;
    /// 0x26 User Property (UTF-8 string pair).
    UserProperty = 0x26, Pair;
    /// 0x27 Maximum Packet Size (four-byte integer).
    MaximumPacketSize = 0x27, FourByte;
    /// 0x28 Wildcard Subscription Available (byte).
    WildcardSubscriptionAvailable = 0x28, Byte;
    /// 0x29 Subscription Identifier Available (byte).
    SubscriptionIdentifierAvailable = 0x29, Byte;
    /// 0x2A Shared Subscription Available (byte).
    SharedSubscriptionAvailable = 0x2A, Byte;
}

/// The data type of a property value (section 2.2.2.2).
#[derive(Clone, Copy)]
enum Kind {
    Byte,
    TwoByte,
    FourByte,
    VarInt,
    Utf8,
    Binary,
    Pair,
}

/// The identifier of the next property in `bytes` (the rest of a block), the length of that
/// identifier and the length of the value after it. The value's extent follows from the
/// identifier's data type; a value that runs past the block is malformed (v5 2.2.2.2: a value
/// "not of the specified data type, is a Malformed Packet"), as is an identifier v5 does not
/// define.
fn entry_extent(bytes: &[u8]) -> Result<(PropertyId, usize, usize), Error> {
    let (raw_id, id_len) = match parse_varint(bytes)? {
        VarintPrefix::Done(id, len) => (id, len),
        VarintPrefix::Incomplete => return Err(Error::UnexpectedEnd),
    };
    let id = PropertyId::from_u32(raw_id).ok_or(Error::UnknownProperty(raw_id))?;
    let value = &bytes[id_len..];
    let prefixed = |at: usize| -> Result<usize, Error> {
        match value.get(at..at + 2) {
            Some(len) => Ok(2 + usize::from(u16::from_be_bytes([len[0], len[1]]))),
            None => Err(Error::UnexpectedEnd),
        }
    };
    let value_len = match id.kind() {
        Kind::Byte => 1,
        Kind::TwoByte => 2,
        Kind::FourByte => 4,
        Kind::VarInt => match parse_varint(value)? {
            VarintPrefix::Done(_, len) => len,
            VarintPrefix::Incomplete => return Err(Error::UnexpectedEnd),
        },
        Kind::Utf8 | Kind::Binary => prefixed(0)?,
        Kind::Pair => {
            let key = prefixed(0)?;
            key + prefixed(key)?
        }
    };
    if id_len + value_len > bytes.len() {
        return Err(Error::UnexpectedEnd);
    }
    Ok((id, id_len, value_len))
}

/// Splits the next property off a block: its identifier and the whole entry (identifier and
/// value).
fn next_entry(block: &mut Reader) -> Result<(PropertyId, Reader), Error> {
    let (id, id_len, value_len) = entry_extent(block.peek())?;
    let mut entry = Reader::new(block.take(id_len + value_len)?);
    entry.skip(id_len);
    Ok((id, entry))
}

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

/// The entries of one repeatable property, kept as raw property bytes and read on demand.
///
/// Decoded, `raw` is the whole property block of the packet (shared with the read buffer) and
/// only the entries with this list's identifier belong to the list. Built by hand, `raw` holds
/// only this list's entries (`dense`), so encoding it is one copy.
#[derive(Clone, Default)]
struct Entries {
    raw: Bytes,
    /// How many entries of this list's identifier `raw` holds.
    count: usize,
    /// Their encoded length, identifiers included.
    bytes: usize,
    /// Whether `raw` holds nothing but this list's entries.
    dense: bool,
}

impl Entries {
    fn values(&self, id: PropertyId) -> impl Iterator<Item = Reader> + '_ {
        let mut block = Reader::new(self.raw.clone());
        let mut left = self.count;
        core::iter::from_fn(move || {
            while left > 0 {
                // Entries were validated when the list was made; an error ends the iteration.
                let (entry_id, value) = next_entry(&mut block).ok()?;
                if entry_id == id {
                    left -= 1;
                    return Some(value);
                }
            }
            None
        })
    }

    fn write<B: BufMut>(&self, id: PropertyId, buf: &mut B) {
        if self.dense {
            buf.put_slice(&self.raw);
            return;
        }
        let mut block = Reader::new(self.raw.clone());
        let mut left = self.count;
        while left > 0 {
            let start = self.raw.len() - block.remaining();
            let Ok((entry_id, _)) = next_entry(&mut block) else {
                return;
            };
            if entry_id == id {
                let end = self.raw.len() - block.remaining();
                if let Some(entry) = self.raw.get(start..end) {
                    buf.put_slice(entry);
                }
                left -= 1;
            }
        }
    }

    /// Counts one more entry of `entry_len` bytes, found while reading a block.
    fn note_entry(&mut self, entry_len: usize) {
        self.count += 1;
        self.bytes += entry_len;
    }

    /// Makes the counted entries refer to the block they were read from.
    fn attach(&mut self, block: &Bytes) {
        if self.count > 0 {
            self.raw = block.clone();
            self.dense = self.bytes == block.len();
        }
    }

    /// Appends an entry, first copying the list out of a shared block if it lives in one.
    fn push<T: PropertyValue>(&mut self, id: PropertyId, value: &T) -> Result<(), EncodeError> {
        let value_len = value.encoded_len()?;
        let mut buf = BytesMut::with_capacity(self.bytes + 1 + value_len);
        self.write(id, &mut buf);
        buf.put_u8(id as u8);
        value.write(&mut buf);
        self.raw = buf.freeze();
        self.count += 1;
        self.bytes = self.raw.len();
        self.dense = true;
        Ok(())
    }
}

macro_rules! property_list {
    ($(#[$doc:meta])* $name:ident, $item:ty, $id:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default)]
        pub struct $name(Entries);

        impl $name {
            /// An empty list.
            pub fn new() -> Self {
                Self::default()
            }

            /// How many entries the list has.
            pub fn len(&self) -> usize {
                self.0.count
            }

            /// Whether the list is empty.
            pub fn is_empty(&self) -> bool {
                self.0.count == 0
            }

            /// The entries, in the order they were received or added.
            pub fn iter(&self) -> impl Iterator<Item = $item> + '_ {
                self.0
                    .values(PropertyId::$id)
                    .filter_map(|mut r| <$item>::read(&mut r, PropertyId::$id).ok())
            }

            /// Appends an entry. Building a list allocates; decoding one does not.
            pub fn push(&mut self, item: $item) -> Result<(), EncodeError> {
                self.0.push(PropertyId::$id, &item)
            }

            fn encoded_len(&self) -> usize {
                self.0.bytes
            }

            fn write<B: BufMut>(&self, buf: &mut B) {
                if self.0.count > 0 {
                    self.0.write(PropertyId::$id, buf);
                }
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.len() == other.len() && self.iter().eq(other.iter())
            }
        }

        impl Eq for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }

        impl FromIterator<$item> for $name {
            /// Collects entries; an entry too long to encode is left out, so prefer
            /// [`Self::push`] where that can happen.
            fn from_iter<I: IntoIterator<Item = $item>>(iter: I) -> Self {
                let mut list = Self::default();
                for item in iter {
                    let _ = list.push(item);
                }
                list
            }
        }
    };
}

property_list!(
    /// The User Properties of a packet, in order, names possibly repeated. Decoded lists share the
    /// read buffer.
    UserProperties,
    UserProperty,
    UserProperty
);

property_list!(
    /// The Subscription Identifiers of a PUBLISH sent by a server: one per matching subscription
    /// that had one (section 3.3.2.3.8).
    SubscriptionIdentifiers,
    SubscriptionIdentifier,
    SubscriptionIdentifier
);

impl UserProperties {
    /// Appends a name and value, validating both as UTF-8 Encoded Strings.
    pub fn push_pair(
        &mut self,
        key: impl Into<bytestring::ByteString>,
        value: impl Into<bytestring::ByteString>,
    ) -> Result<(), EncodeError> {
        self.push(UserProperty {
            key: MqttString::new(key)?,
            value: MqttString::new(value)?,
        })
    }
}

/// Reads a property block: a Property Length, then properties. Every value is checked; a
/// property the packet may not carry, a repeated one that may not repeat, or a block that ends
/// inside a property is an error.
///
/// The values are read straight from `r`, without a `Bytes` handle per entry or on the block:
/// each handle costs an atomic reference count increment and decrement. The block is returned
/// (for the repeatable properties, which keep it) only when it holds a User Property or a
/// Subscription Identifier.
pub(crate) fn read_block(
    r: &mut Reader,
    mut each: impl FnMut(PropertyId, usize, &mut Reader) -> Result<(), Error>,
) -> Result<Option<Bytes>, Error> {
    let len = r.varint()? as usize;
    let block = r.peek().get(..len).ok_or(Error::UnexpectedEnd)?;
    // A first pass over the identifiers only, to learn whether the block must be kept.
    let mut keep = false;
    let mut at = 0;
    while at < len {
        let (id, id_len, value_len) = entry_extent(&block[at..])?;
        keep |= matches!(
            id,
            PropertyId::UserProperty | PropertyId::SubscriptionIdentifier
        );
        at += id_len + value_len;
    }
    let kept = keep.then(|| r.peek_bytes(0..len));
    let end = r.remaining() - len;
    while r.remaining() > end {
        // The extents were checked by the first pass.
        let (id, id_len, value_len) = entry_extent(r.peek())?;
        r.skip(id_len);
        let before = r.remaining();
        each(id, id_len + value_len, r)?;
        if before - r.remaining() != value_len {
            return Err(Error::UnexpectedEnd);
        }
    }
    Ok(kept)
}

/// Declares the properties of one packet: the single-valued ones as `Option`s, the repeatable
/// ones as lists, with the decoding, length and encoding that follow from the list.
macro_rules! properties {
    (
        $(#[$meta:meta])*
        $name:ident ($context:literal) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $id:ident, )*
        }
        lists { $( $(#[$lmeta:meta])* $lfield:ident : $lty:ident, )* }
    ) => {
        $(#[$meta])*
        ///
        /// Decoded properties remember the order they arrived in and are encoded again in that
        /// order, so a packet passes through byte for byte; properties set by hand follow.
        #[derive(Clone, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            $( $(#[$lmeta])* pub $lfield: $lty, )*
            /// The order the properties arrived in, which encoding follows; leave it
            /// `Default::default()` when building properties.
            pub received_order: PropertyOrder,
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                true $( && self.$field == other.$field )* $( && self.$lfield == other.$lfield )*
            }
        }

        impl Eq for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                $( if let Some(v) = &self.$field {
                    d.field(stringify!($field), v);
                } )*
                $( if !self.$lfield.is_empty() {
                    d.field(stringify!($lfield), &self.$lfield);
                } )*
                d.finish()
            }
        }

        impl $name {
            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* $( && self.$lfield.is_empty() )*
            }

            pub(crate) fn read(r: &mut Reader) -> Result<Self, Error> {
                let mut this = Self::default();
                let block = read_block(r, |id, entry_len, value| {
                    let _ = entry_len;
                    match id {
                        $( PropertyId::$id => {
                            // "It is a Protocol Error to include <property> more than once"
                            // (each property's section of chapter 3).
                            if this.$field.is_some() {
                                return Err(Error::DuplicateProperty(id));
                            }
                            this.$field = Some(<$ty as PropertyValue>::read(value, id)?);
                        } )*
                        $( _ if id == <$lty as ListItem>::ID => {
                            <$lty as ListItem>::Item::validate(value, id)?;
                            this.$lfield.0.note_entry(entry_len);
                        } )*
                        // v5 2.2.2.2: "A Control Packet which contains an Identifier which
                        // is not valid for its packet type ... is a Malformed Packet."
                        _ => return Err(Error::PropertyNotAllowed { context: $context, property: id }),
                    }
                    this.received_order.note(id);
                    Ok(())
                })?;
                if let Some(block) = &block {
                    $( this.$lfield.0.attach(block); )*
                }
                Ok(this)
            }

            /// The length of the properties, without the Property Length in front.
            pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
                let mut len = 0;
                $( if let Some(v) = &self.$field {
                    len += 1 + PropertyValue::encoded_len(v)?;
                } )*
                $( len += self.$lfield.encoded_len(); )*
                if len > MAX_VARINT as usize {
                    return Err(EncodeError::PacketTooLarge(len));
                }
                Ok(len)
            }

            /// Writes the one property (or list) with identifier `id`, if set.
            fn write_one<B: BufMut>(&self, id: PropertyId, buf: &mut B) {
                match id {
                    $( PropertyId::$id => if let Some(v) = &self.$field {
                        buf.put_u8(PropertyId::$id as u8);
                        PropertyValue::write(v, buf);
                    }, )*
                    $( _ if id == <$lty as ListItem>::ID => self.$lfield.write(buf), )*
                    _ => {}
                }
            }

            /// Writes the Property Length, present even when zero [MQTT-2.2.2-1], and the properties;
            /// `len` is [`Self::encoded_len`].
            pub(crate) fn write<B: BufMut>(&self, len: usize, buf: &mut B) {
                put_varint(buf, len);
                if len == 0 {
                    return;
                }
                // Built by hand: no received order to follow.
                if self.received_order.is_empty() {
                    $( self.write_one(PropertyId::$id, buf); )*
                    $( self.$lfield.write(buf); )*
                    return;
                }
                for id in self.received_order.ids() {
                    self.write_one(id, buf);
                }
                $( if !self.received_order.contains(PropertyId::$id) {
                    self.write_one(PropertyId::$id, buf);
                } )*
                $( if !self.received_order.contains(<$lty as ListItem>::ID) {
                    self.$lfield.write(buf);
                } )*
            }
        }
    };
}

/// The order in which the properties of a decoded packet arrived (each identifier once, at its
/// first appearance), so that encoding reproduces it. Opaque; it never affects equality.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct PropertyOrder {
    ids: [u8; ORDER_CAPACITY],
    len: u8,
}

/// More than the number of distinct properties any one packet may carry (CONNACK: 17).
const ORDER_CAPACITY: usize = 20;

impl PropertyOrder {
    fn note(&mut self, id: PropertyId) {
        let len = usize::from(self.len);
        if len < ORDER_CAPACITY && !self.contains(id) {
            self.ids[len] = id as u8;
            self.len += 1;
        }
    }

    fn contains(&self, id: PropertyId) -> bool {
        self.ids[..usize::from(self.len)].contains(&(id as u8))
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn ids(&self) -> impl Iterator<Item = PropertyId> + '_ {
        self.ids[..usize::from(self.len)]
            .iter()
            .filter_map(|&id| PropertyId::from_u32(u32::from(id)))
    }
}

/// Links a list type to its identifier and item type, for the `properties!` macro.
trait ListItem {
    const ID: PropertyId;
    type Item: PropertyValue;
}

impl ListItem for UserProperties {
    const ID: PropertyId = PropertyId::UserProperty;
    type Item = UserProperty;
}

impl ListItem for SubscriptionIdentifiers {
    const ID: PropertyId = PropertyId::SubscriptionIdentifier;
    type Item = SubscriptionIdentifier;
}

properties! {
    /// Properties of CONNECT (section 3.1.2.11).
    ConnectProperties ("CONNECT") {
        /// Session Expiry Interval in seconds; absent means 0 (3.1.2.11.2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum: how many QoS 1 and 2 publishes the client accepts at once
        /// (3.1.2.11.3).
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum Packet Size the client accepts (3.1.2.11.4).
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Topic Alias Maximum the client accepts (3.1.2.11.5).
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Request Response Information (3.1.2.11.6).
        request_response_information: bool = RequestResponseInformation,
        /// Request Problem Information (3.1.2.11.7).
        request_problem_information: bool = RequestProblemInformation,
        /// Authentication Method for enhanced authentication (3.1.2.11.9).
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data (3.1.2.11.10).
        authentication_data: Bytes = AuthenticationData,
    }
    lists {
        /// User Properties (3.1.2.11.8).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of the will in CONNECT's payload (section 3.1.3.2).
    WillProperties ("will properties") {
        /// Will Delay Interval in seconds (3.1.3.2.2).
        will_delay_interval: u32 = WillDelayInterval,
        /// Payload Format Indicator (3.1.3.2.3).
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds (3.1.3.2.4).
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Content Type (3.1.3.2.5).
        content_type: MqttString = ContentType,
        /// Response Topic (3.1.3.2.6).
        response_topic: TopicName = ResponseTopic,
        /// Correlation Data (3.1.3.2.7).
        correlation_data: Bytes = CorrelationData,
    }
    lists {
        /// User Properties (3.1.3.2.8).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of CONNACK (section 3.2.2.3).
    ConnAckProperties ("CONNACK") {
        /// Session Expiry Interval the server uses instead of the client's (3.2.2.3.2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum of the server (3.2.2.3.3); absent means 65,535.
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum QoS the server supports (3.2.2.3.4); absent means 2.
        maximum_qos: QoS = MaximumQoS,
        /// Retain Available (3.2.2.3.5); absent means true.
        retain_available: bool = RetainAvailable,
        /// Maximum Packet Size the server accepts (3.2.2.3.6).
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Assigned Client Identifier (3.2.2.3.7).
        assigned_client_identifier: MqttString = AssignedClientIdentifier,
        /// Topic Alias Maximum of the server (3.2.2.3.8); absent means 0.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Reason String (3.2.2.3.9).
        reason_string: MqttString = ReasonString,
        /// Wildcard Subscription Available (3.2.2.3.11); absent means true.
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// Subscription Identifiers Available (3.2.2.3.12); absent means true.
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// Shared Subscription Available (3.2.2.3.13); absent means true.
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// Server Keep Alive, overriding the client's (3.2.2.3.14).
        server_keep_alive: u16 = ServerKeepAlive,
        /// Response Information (3.2.2.3.15).
        response_information: MqttString = ResponseInformation,
        /// Server Reference (3.2.2.3.16).
        server_reference: MqttString = ServerReference,
        /// Authentication Method (3.2.2.3.17).
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data (3.2.2.3.18).
        authentication_data: Bytes = AuthenticationData,
    }
    lists {
        /// User Properties (3.2.2.3.10).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK (sections 3.4.2.2,
    /// 3.5.2.2, 3.6.2.2, 3.7.2.2, 3.9.2.1, 3.11.2.1).
    AckProperties ("an acknowledgement") {
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    lists {
        /// User Properties.
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of SUBSCRIBE (section 3.8.2.1).
    SubscribeProperties ("SUBSCRIBE") {
        /// Subscription Identifier (3.8.2.1.2); at most one.
        subscription_identifier: SubscriptionIdentifier = SubscriptionIdentifier,
    }
    lists {
        /// User Properties (3.8.2.1.3).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of UNSUBSCRIBE (section 3.10.2.1).
    UnsubscribeProperties ("UNSUBSCRIBE") {
    }
    lists {
        /// User Properties (3.10.2.1.2).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of DISCONNECT (section 3.14.2.2).
    DisconnectProperties ("DISCONNECT") {
        /// Session Expiry Interval (3.14.2.2.2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Reason String (3.14.2.2.3).
        reason_string: MqttString = ReasonString,
        /// Server Reference (3.14.2.2.5).
        server_reference: MqttString = ServerReference,
    }
    lists {
        /// User Properties (3.14.2.2.4).
        user_properties: UserProperties,
    }
}

properties! {
    /// Properties of AUTH (section 3.15.2.2).
    AuthProperties ("AUTH") {
        /// Authentication Method (3.15.2.2.2).
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data (3.15.2.2.3).
        authentication_data: Bytes = AuthenticationData,
        /// Reason String (3.15.2.2.4).
        reason_string: MqttString = ReasonString,
    }
    lists {
        /// User Properties (3.15.2.2.5).
        user_properties: UserProperties,
    }
}

/// The encoded size of a property block: Property Length and properties.
pub(crate) fn block_len(props_len: usize) -> usize {
    varint_len(props_len) + props_len
}

impl fmt::Debug for PropertyOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}
