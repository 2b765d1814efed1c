//! v5 properties (section 2.2.2): every identifier with its data type, one typed struct per
//! packet listing exactly the properties that packet may carry, duplicates refused except for the
//! properties the specification lets repeat (User Property everywhere, Subscription Identifier on
//! PUBLISH).
//!
//! The repeatable properties are kept as the received property block and read on demand, so that
//! decoding a PUBLISH with user properties allocates nothing.
//!
//! This file holds those lists; the identifiers (`id`), the value types (`value`), a block as a
//! whole (`block`), and the per-packet structs (`packets`, and `publish` for PUBLISH) are below.

use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;

use crate::error::EncodeError;
use crate::string::MqttString;
use crate::wire::Reader;

mod block;
mod id;
mod packets;
mod publish;
mod value;

pub use block::PropertyOrder;
pub(crate) use block::{block_len, read_block};
pub use id::PropertyId;
use id::{entry_extent, next_entry};
pub use packets::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    SubscribeProperties, UnsubscribeProperties, WillProperties,
};
pub use publish::PublishProperties;
pub(crate) use value::PropertyValue;
pub use value::{PayloadFormat, SubscriptionIdentifier, UserProperty};

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
