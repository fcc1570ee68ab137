//! A slab: values in a `Vec` referred to by index, with a free list so that slots are reused
//! and a run's memory does not grow with the number of values it ever held. Requests, calls,
//! replication messages and waits for replicas live in slabs; events carry their index (so an
//! event stays 8 bytes).

use std::ops::{Index, IndexMut};

/// Values of `T` by `u32` slot. A freed slot is reused by the next `insert` (last freed first:
/// the order is part of the run, so it never changes).
#[derive(Clone, Debug)]
pub(super) struct Slab<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub(super) fn with_capacity(n: usize) -> Self {
        Slab {
            items: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
        }
    }

    /// Stores `value` in a free slot (or a new one) and returns the slot.
    #[inline]
    pub(super) fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(k) => {
                self.items[k as usize] = value;
                k
            }
            None => {
                self.items.push(value);
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 slots")
            }
        }
    }

    /// Frees slot `k` (its value stays until the slot is reused).
    pub(super) fn remove(&mut self, k: u32) {
        debug_assert!((k as usize) < self.items.len());
        self.free.push(k);
    }

    /// Every slot, in use or free (a free slot keeps its last value).
    pub(super) fn slots(&self) -> &[T] {
        &self.items
    }

    pub(super) fn slots_mut(&mut self) -> &mut [T] {
        &mut self.items
    }

    /// Which slots are free, by slot.
    pub(super) fn free_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.items.len()];
        for &k in &self.free {
            mask[k as usize] = true;
        }
        mask
    }

    pub(super) fn n_free(&self) -> usize {
        self.free.len()
    }

    /// Slots in use and slots free add up to the slab's length, and no slot is free twice: the
    /// audit's check. Returns the first slot freed twice, if any.
    pub(super) fn freed_twice(&self) -> Option<u32> {
        let mut free = self.free.clone();
        free.sort_unstable();
        free.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

impl<T> Index<u32> for Slab<T> {
    type Output = T;
    #[inline]
    fn index(&self, k: u32) -> &T {
        &self.items[k as usize]
    }
}

impl<T> IndexMut<u32> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, k: u32) -> &mut T {
        &mut self.items[k as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_slots_are_reused_last_freed_first() {
        let mut s = Slab::with_capacity(2);
        assert_eq!((s.insert('a'), s.insert('b'), s.insert('c')), (0, 1, 2));
        s.remove(0);
        s.remove(2);
        assert_eq!(s.insert('d'), 2);
        assert_eq!(s.insert('e'), 0);
        assert_eq!(s.insert('f'), 3);
        assert_eq!((s[0], s[1], s[2], s[3]), ('e', 'b', 'd', 'f'));
        assert_eq!(s.freed_twice(), None);
        s.remove(1);
        s.remove(1);
        assert_eq!(s.freed_twice(), Some(1));
    }
}
