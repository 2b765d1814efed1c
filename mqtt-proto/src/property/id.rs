//! The Property Identifiers of v5 (section 2.2.2.2), each with the data type of its value, and
//! the extent of one property in a block, which follows from that type.

use crate::error::Error;
use crate::wire::{parse_varint, Reader, VarintPrefix};

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
pub(super) fn entry_extent(bytes: &[u8]) -> Result<(PropertyId, usize, usize), Error> {
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
pub(super) fn next_entry(block: &mut Reader) -> Result<(PropertyId, Reader), Error> {
    let (id, id_len, value_len) = entry_extent(block.peek())?;
    let mut entry = Reader::new(block.take(id_len + value_len)?);
    entry.skip(id_len);
    Ok((id, entry))
}
