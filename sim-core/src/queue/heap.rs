//! A 4-ary min-heap of distinct `u128` keys, laid out so that the four children of a node share
//! one 64-byte cache line.
//!
//! Keys are stored in groups of four (`Group`, aligned to 64 bytes). The root sits in the last
//! lane of group 0, so the children of the node at logical index `h` (`4h+1 ..= 4h+4`) are exactly
//! group `h + 1`: one sift step reads one cache line. Lanes past the end hold `u128::MAX`, so the
//! least of a group is always a real child when the group has one; no key of the queue can be
//! `u128::MAX` (its slot bits would be `u32::MAX`, which is never allocated).
//!
//! A pop moves the hole left by the root down to the bottom along the least children (three
//! compares per level, no compare against the moving key), then lifts the last key into it from
//! there (Floyd's bottom-up heap pop, as `std::collections::BinaryHeap::pop` does).

/// Keys per group: the arity of the heap.
const ARITY: usize = 4;
/// Logical index `l` is stored at physical index `l + OFFSET`.
const OFFSET: usize = ARITY - 1;
/// What a lane past the end holds: greater than every key.
pub(super) const EMPTY: u128 = u128::MAX;

#[derive(Copy, Clone)]
#[repr(C, align(64))]
struct Group([u128; ARITY]);

const EMPTY_GROUP: Group = Group([EMPTY; ARITY]);

pub(super) struct Heap4 {
    groups: Vec<Group>,
    len: usize,
}

impl Heap4 {
    pub(super) fn with_capacity(n: usize) -> Self {
        Heap4 {
            groups: Vec::with_capacity((n + OFFSET) / ARITY + 1),
            len: 0,
        }
    }

    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn get(&self, l: usize) -> u128 {
        let p = l + OFFSET;
        self.groups[p / ARITY].0[p % ARITY]
    }

    #[inline(always)]
    fn set(&mut self, l: usize, key: u128) {
        let p = l + OFFSET;
        self.groups[p / ARITY].0[p % ARITY] = key;
    }

    /// The least key, if any.
    #[inline(always)]
    pub(super) fn peek(&self) -> Option<u128> {
        if self.len == 0 {
            None
        } else {
            Some(self.groups[0].0[OFFSET])
        }
    }

    #[inline]
    pub(super) fn push(&mut self, key: u128) {
        debug_assert!(key != EMPTY);
        let p = self.len + OFFSET;
        if p / ARITY == self.groups.len() {
            self.groups.push(EMPTY_GROUP);
        }
        self.len += 1;
        self.sift_up(self.len - 1, key);
    }

    /// Puts `key` at logical index `hole` or above, moving larger ancestors down.
    #[inline(always)]
    fn sift_up(&mut self, mut hole: usize, key: u128) {
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            let above = self.get(parent);
            if above < key {
                break;
            }
            self.set(hole, above);
            hole = parent;
        }
        self.set(hole, key);
    }

    /// Removes the least key. The heap must not be empty.
    #[inline]
    pub(super) fn pop(&mut self) -> u128 {
        assert!(self.len > 0, "pop from an empty heap");
        let top = self.groups[0].0[OFFSET];
        self.len -= 1;
        let last = self.get(self.len);
        self.set(self.len, EMPTY);
        if self.len > 0 {
            self.sift_down_from_root(last);
        }
        top
    }

    /// Fills the hole at the root with `key`: the hole goes down along the least children to the
    /// bottom, then `key` rises from there to its place.
    #[inline(always)]
    fn sift_down_from_root(&mut self, key: u128) {
        let mut hole = 0;
        // A node has children while its first child is a real key.
        while ARITY * hole + 1 < self.len {
            let g = &self.groups[hole + 1].0;
            let (i01, k01) = if g[1] < g[0] { (1, g[1]) } else { (0, g[0]) };
            let (i23, k23) = if g[3] < g[2] { (3, g[3]) } else { (2, g[2]) };
            let (lane, least) = if k23 < k01 { (i23, k23) } else { (i01, k01) };
            self.set(hole, least);
            hole = ARITY * hole + 1 + lane;
        }
        self.sift_up(hole, key);
    }

    /// The keys in logical order (a heap order, not sorted).
    pub(super) fn keys(&self) -> Vec<u128> {
        (0..self.len).map(|l| self.get(l)).collect()
    }

    /// Replaces the contents by `sorted`, which must be in ascending order (a valid heap).
    pub(super) fn refill_sorted(&mut self, sorted: &[u128]) {
        debug_assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(sorted.len(), self.len, "refill keeps the number of keys");
        for (l, &key) in sorted.iter().enumerate() {
            self.set(l, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_of_a_node_share_a_group() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::align_of::<Group>(), 64);
        // Children of logical h are 4h+1..=4h+4, physical 4h+4..=4h+7: group h+1.
        for h in 0..100 {
            for c in ARITY * h + 1..=ARITY * h + ARITY {
                assert_eq!((c + OFFSET) / ARITY, h + 1);
            }
        }
    }

    #[test]
    fn pops_in_ascending_order() {
        let mut heap = Heap4::with_capacity(0);
        let mut x: u64 = 3;
        let mut keys = Vec::new();
        for i in 0..3_000u128 {
            x = crate::rng::splitmix64(x);
            // Distinct keys: the low bits are the index.
            let key = (u128::from(x % 500) << 64) | i;
            keys.push(key);
            heap.push(key);
            if x.is_multiple_of(5) {
                keys.sort_unstable();
                assert_eq!(heap.pop(), keys.remove(0));
            }
        }
        keys.sort_unstable();
        let popped: Vec<u128> =
            std::iter::from_fn(|| (heap.len() > 0).then(|| heap.pop())).collect();
        assert_eq!(popped, keys);
        assert_eq!(heap.peek(), None);
    }
}
