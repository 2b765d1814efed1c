//! The two traits the session's parts keep their state through: an ordered [`Table`] of
//! entries and a set of Packet Identifiers ([`IdSet`]). A table that is full refuses an
//! entry (handing it back) rather than growing; one that grows never is.

use core::fmt::Debug;

/// A table is full: the entry was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// An ordered table of entries, indexed from the front.
pub trait Table<T>: Debug {
    /// An empty table.
    fn new() -> Self;
    /// How many entries it holds.
    fn len(&self) -> usize;
    /// The most entries it can hold (`usize::MAX`: it grows).
    fn capacity_limit(&self) -> usize;
    /// The entry at `index`.
    fn get(&self, index: usize) -> Option<&T>;
    /// The entry at `index`, to change.
    fn get_mut(&mut self, index: usize) -> Option<&mut T>;
    /// Appends `item`, or hands it back when the table is full.
    fn push(&mut self, item: T) -> Result<(), T>;
    /// Inserts `item` at `index` (at most `len`), or hands it back when the table is full.
    fn insert(&mut self, index: usize, item: T) -> Result<(), T>;
    /// Removes the entry at `index`, keeping the order of the others.
    fn remove(&mut self, index: usize) -> Option<T>;
    /// Removes the entry at `index`, moving the last one into its place.
    fn swap_remove(&mut self, index: usize) -> Option<T>;
    /// The entries, front to back.
    fn iter<'a>(&'a self) -> impl DoubleEndedIterator<Item = &'a T>
    where
        T: 'a;
    /// The entries, front to back, to change.
    fn iter_mut<'a>(&'a mut self) -> impl Iterator<Item = &'a mut T>
    where
        T: 'a;
    /// Keeps only the entries `keep` says yes to, in order.
    fn retain(&mut self, keep: impl FnMut(&T) -> bool);
    /// Removes every entry.
    fn clear(&mut self);
    /// Binary search of a table sorted by `key`.
    fn binary_search_by_key<K: Ord>(&self, key: &K, f: impl FnMut(&T) -> K)
        -> Result<usize, usize>;
    /// Gives back the memory of a table that grew in a burst and is empty again (nothing to
    /// give back for a fixed one).
    fn shrink_if_drained(&mut self);
    /// Gives back all the memory of a table that is empty (nothing for a fixed one).
    fn free_if_empty(&mut self);

    /// Whether it holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether another entry would be refused.
    fn is_full(&self) -> bool {
        self.len() >= self.capacity_limit()
    }
    /// The first entry.
    fn front(&self) -> Option<&T> {
        self.get(0)
    }
    /// The last entry.
    fn back(&self) -> Option<&T> {
        self.len().checked_sub(1).and_then(|last| self.get(last))
    }
    /// Removes the first entry.
    fn pop_front(&mut self) -> Option<T> {
        self.remove(0)
    }
}

/// The Packet Identifiers in use: a set of non-zero `u16`.
pub trait IdSet: Debug {
    /// An empty set.
    fn new() -> Self;
    /// How many identifiers are in it.
    fn len(&self) -> usize;
    /// The most it can hold.
    fn capacity(&self) -> usize;
    /// Adds `id`: `Ok(false)` if it was there already, `Err(Full)` when there is no room.
    fn insert(&mut self, id: u16) -> Result<bool, Full>;
    /// Removes `id`; false if it was not there.
    fn remove(&mut self, id: u16) -> bool;
}

/// Adds `id` to a table kept sorted: `Ok(false)` if it was there.
pub(crate) fn sorted_insert<S: Table<u16>>(set: &mut S, id: u16) -> Result<bool, Full> {
    match set.binary_search_by_key(&id, |&x| x) {
        Ok(_) => Ok(false),
        Err(at) => set.insert(at, id).map(|()| true).map_err(|_| Full),
    }
}

/// Removes `id` from a table kept sorted; false if it was not there.
pub(crate) fn sorted_remove<S: Table<u16>>(set: &mut S, id: u16) -> bool {
    match set.binary_search_by_key(&id, |&x| x) {
        Ok(at) => set.remove(at).is_some(),
        Err(_) => false,
    }
}

/// Whether a table kept sorted holds `id`.
#[cfg(feature = "bounded")]
pub(crate) fn sorted_contains<S: Table<u16>>(set: &S, id: u16) -> bool {
    set.binary_search_by_key(&id, |&x| x).is_ok()
}
