//! The default storage: heap collections that grow as needed.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt::Debug;

use super::table::{sorted_insert, sorted_remove, Full, IdSet, Table};
use super::{Sealed, Tables};

/// Tables on the heap that grow with traffic (the default): a session limited only by its
/// [`Config`](crate::Config) (`max_queued`, `receive_maximum`, `topic_alias_maximum`) and by
/// the 65,535 Packet Identifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Growable;

impl Sealed for Growable {}

impl Tables for Growable {
    // The outbound queue and the owed acknowledgements leave from the front.
    type Outbound<T: Debug> = VecDeque<T>;
    type InboundQos2<T: Debug> = Vec<T>;
    type InboundOwed<T: Debug> = VecDeque<T>;
    type Aliases<T: Debug> = Vec<T>;
    type Requests<T: Debug> = Vec<T>;
    type PacketIds = Vec<u16>;

    const OUTBOUND: usize = usize::MAX;
    const INBOUND: usize = usize::MAX;
    const ALIASES: usize = usize::MAX;
    const REQUESTS: usize = usize::MAX;
}

impl<T: Debug> Table<T> for Vec<T> {
    fn new() -> Self {
        Vec::new()
    }
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn capacity_limit(&self) -> usize {
        usize::MAX
    }
    #[inline]
    fn get(&self, index: usize) -> Option<&T> {
        <[T]>::get(self, index)
    }
    #[inline]
    fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        <[T]>::get_mut(self, index)
    }
    #[inline]
    fn push(&mut self, item: T) -> Result<(), T> {
        Vec::push(self, item);
        Ok(())
    }
    fn insert(&mut self, index: usize, item: T) -> Result<(), T> {
        if index > Vec::len(self) {
            return Err(item);
        }
        Vec::insert(self, index, item);
        Ok(())
    }
    fn remove(&mut self, index: usize) -> Option<T> {
        (index < Vec::len(self)).then(|| Vec::remove(self, index))
    }
    fn swap_remove(&mut self, index: usize) -> Option<T> {
        (index < Vec::len(self)).then(|| Vec::swap_remove(self, index))
    }
    #[inline]
    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = &'a T>
    where
        T: 'a,
    {
        <[T]>::iter(self)
    }
    #[inline]
    fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a,
    {
        <[T]>::iter_mut(self)
    }
    fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        Vec::retain(self, keep);
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn binary_search_by_key<K: Ord>(
        &self,
        key: &K,
        f: impl FnMut(&T) -> K,
    ) -> Result<usize, usize> {
        <[T]>::binary_search_by_key(self, key, f)
    }
    fn shrink_if_drained(&mut self) {
        if Vec::is_empty(self) && self.capacity() > 16 {
            self.shrink_to(4);
        }
    }
    fn free_if_empty(&mut self) {
        if Vec::is_empty(self) {
            *self = Vec::new();
        }
    }
}

impl<T: Debug> Table<T> for VecDeque<T> {
    fn new() -> Self {
        VecDeque::new()
    }
    #[inline]
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn capacity_limit(&self) -> usize {
        usize::MAX
    }
    #[inline]
    fn get(&self, index: usize) -> Option<&T> {
        VecDeque::get(self, index)
    }
    #[inline]
    fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        VecDeque::get_mut(self, index)
    }
    #[inline]
    fn push(&mut self, item: T) -> Result<(), T> {
        self.push_back(item);
        Ok(())
    }
    fn insert(&mut self, index: usize, item: T) -> Result<(), T> {
        if index > VecDeque::len(self) {
            return Err(item);
        }
        VecDeque::insert(self, index, item);
        Ok(())
    }
    #[inline]
    fn remove(&mut self, index: usize) -> Option<T> {
        VecDeque::remove(self, index)
    }
    fn swap_remove(&mut self, index: usize) -> Option<T> {
        self.swap_remove_back(index)
    }
    #[inline]
    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = &'a T>
    where
        T: 'a,
    {
        VecDeque::iter(self)
    }
    #[inline]
    fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a,
    {
        VecDeque::iter_mut(self)
    }
    fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        VecDeque::retain(self, keep);
    }
    fn clear(&mut self) {
        VecDeque::clear(self);
    }
    fn binary_search_by_key<K: Ord>(
        &self,
        key: &K,
        f: impl FnMut(&T) -> K,
    ) -> Result<usize, usize> {
        VecDeque::binary_search_by_key(self, key, f)
    }
    #[inline]
    fn front(&self) -> Option<&T> {
        VecDeque::front(self)
    }
    #[inline]
    fn back(&self) -> Option<&T> {
        VecDeque::back(self)
    }
    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        VecDeque::pop_front(self)
    }
    fn shrink_if_drained(&mut self) {
        if VecDeque::is_empty(self) && self.capacity() > 16 {
            self.shrink_to(4);
        }
    }
    fn free_if_empty(&mut self) {
        if VecDeque::is_empty(self) {
            *self = VecDeque::new();
        }
    }
}

/// Every identifier but zero: a growable set is never full before they are all in use.
impl IdSet for Vec<u16> {
    fn new() -> Self {
        Vec::new()
    }
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn capacity(&self) -> usize {
        usize::from(u16::MAX)
    }
    #[inline]
    fn insert(&mut self, id: u16) -> Result<bool, Full> {
        sorted_insert(self, id)
    }
    #[inline]
    fn remove(&mut self, id: u16) -> bool {
        sorted_remove(self, id)
    }
}
