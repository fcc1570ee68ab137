//! A 4-ary min-heap of distinct `u128` keys, laid out so that the four children of a node share
//! one 64-byte cache line.
//!
//! Keys are stored in groups of four (`Group`, aligned to 64 bytes). The root sits in the last
//! lane of group 0, so the children of the node at logical index `h` (`4h+1 ..= 4h+4`) are exactly
//! group `h + 1`: one sift step reads one cache line. Lanes past the end hold `u128::MAX`, so the
//! least of a group is always a real child when the group has one; no key of the queue can be
//! `u128::MAX` (its slot bits would be `u32::MAX`, which is never allocated).
//!
//! A pop leaves a hole at the root and fills it later. A discrete-event model schedules about one
//! event per event it handles, so the next push usually finds the hole and goes down from the root
//! into it: one pass down the tree where a pop and a push would take two (down, then up from a
//! leaf). A pop that finds the hole still open (the event scheduled nothing) fills it the classic
//! way: the hole goes down along the least children to the bottom (three compares per level, none
//! against the moving key), and the last key rises into it from there (Floyd's bottom-up pop, as
//! `std::collections::BinaryHeap::pop` does).

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
    /// Positions in use, the hole included.
    len: usize,
    /// Whether the root was popped and its position is still to fill.
    hole: bool,
}

impl Heap4 {
    pub(super) fn with_capacity(n: usize) -> Self {
        Heap4 {
            groups: Vec::with_capacity((n + OFFSET) / ARITY + 1),
            len: 0,
            hole: false,
        }
    }

    /// Keys in the heap.
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len - usize::from(self.hole)
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
        if self.hole {
            // The least key is the least child of the root: of group 1, whose empty lanes hold
            // `EMPTY`.
            let least = self.groups.get(1)?.0.iter().copied().min()?;
            (least != EMPTY).then_some(least)
        } else if self.len == 0 {
            None
        } else {
            Some(self.groups[0].0[OFFSET])
        }
    }

    #[inline]
    pub(super) fn push(&mut self, key: u128) {
        debug_assert!(key != EMPTY);
        if self.hole {
            self.hole = false;
            self.sift_down(0, key);
            return;
        }
        let p = self.len + OFFSET;
        if p / ARITY == self.groups.len() {
            self.groups.push(EMPTY_GROUP);
        }
        self.len += 1;
        self.sift_up(self.len - 1, key);
    }

    /// The lane of the least key of the children of `hole` (which must have one), and that key.
    #[inline(always)]
    fn least_child(&self, hole: usize) -> (usize, u128) {
        let g = &self.groups[hole + 1].0;
        let (i01, k01) = if g[1] < g[0] { (1, g[1]) } else { (0, g[0]) };
        let (i23, k23) = if g[3] < g[2] { (3, g[3]) } else { (2, g[2]) };
        if k23 < k01 {
            (i23, k23)
        } else {
            (i01, k01)
        }
    }

    /// Puts `key` at logical index `hole` or below, moving lesser children up.
    #[inline(always)]
    fn sift_down(&mut self, mut hole: usize, key: u128) {
        while ARITY * hole + 1 < self.len {
            let (lane, least) = self.least_child(hole);
            if key < least {
                break;
            }
            self.set(hole, least);
            hole = ARITY * hole + 1 + lane;
        }
        self.set(hole, key);
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

    /// Removes the least key and leaves its position open for the next push. The heap must not be
    /// empty.
    #[inline(always)]
    pub(super) fn pop(&mut self) -> u128 {
        self.settle();
        assert!(self.len > 0, "pop from an empty heap");
        self.hole = true;
        self.groups[0].0[OFFSET]
    }

    /// Fills the hole at the root, if there is one, with the last key.
    #[inline(always)]
    fn settle(&mut self) {
        if !self.hole {
            return;
        }
        self.hole = false;
        self.len -= 1;
        let last = self.get(self.len);
        self.set(self.len, EMPTY);
        if self.len > 0 {
            self.sift_down_from_root(last);
        }
    }

    /// Fills the hole at the root with `key`: the hole goes down along the least children to the
    /// bottom, then `key` rises from there to its place.
    #[inline(always)]
    fn sift_down_from_root(&mut self, key: u128) {
        let mut hole = 0;
        // A node has children while its first child is a real key.
        while ARITY * hole + 1 < self.len {
            let (lane, least) = self.least_child(hole);
            self.set(hole, least);
            hole = ARITY * hole + 1 + lane;
        }
        self.sift_up(hole, key);
    }

    /// The keys in logical order (a heap order, not sorted).
    pub(super) fn keys(&mut self) -> Vec<u128> {
        self.settle();
        (0..self.len).map(|l| self.get(l)).collect()
    }

    /// Replaces every key `k` by `f(k)`; `f` must keep the order of keys (so the heap stays one).
    pub(super) fn map_keys(&mut self, f: impl Fn(u128) -> u128) {
        self.settle();
        for l in 0..self.len {
            let key = self.get(l);
            self.set(l, f(key));
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
            keys.sort_unstable();
            // Pops in runs of up to three, so that a pop also finds the hole of the last one open.
            for _ in 0..(x % 8).saturating_sub(4).min(keys.len() as u64) {
                assert_eq!(heap.peek(), Some(keys[0]), "the least key, hole or not");
                assert_eq!(heap.pop(), keys.remove(0));
                assert_eq!(heap.len(), keys.len());
                assert_eq!(heap.peek(), keys.first().copied());
            }
        }
        keys.sort_unstable();
        let popped: Vec<u128> =
            std::iter::from_fn(|| (heap.len() > 0).then(|| heap.pop())).collect();
        assert_eq!(popped, keys);
        assert_eq!(heap.peek(), None);
    }
}
