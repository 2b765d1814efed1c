//! A property block as a whole: reading one, its encoded size, and the order its properties
//! arrived in.

use bytes::Bytes;
use core::fmt;

use super::{entry_extent, PropertyId};
use crate::error::Error;
use crate::wire::{varint_len, Reader};

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
    pub(super) fn note(&mut self, id: PropertyId) {
        let len = usize::from(self.len);
        if len < ORDER_CAPACITY && !self.contains(id) {
            self.ids[len] = id as u8;
            self.len += 1;
        }
    }

    pub(super) fn contains(&self, id: PropertyId) -> bool {
        self.ids[..usize::from(self.len)].contains(&(id as u8))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn ids(&self) -> impl Iterator<Item = PropertyId> + '_ {
        self.ids[..usize::from(self.len)]
            .iter()
            .filter_map(|&id| PropertyId::from_u32(u32::from(id)))
    }
}

impl fmt::Debug for PropertyOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

/// The encoded size of a property block: Property Length and properties.
pub(crate) fn block_len(props_len: usize) -> usize {
    varint_len(props_len) + props_len
}
