//! A set of positions `0..n` kept in order, with the `k`-th member found in O(log n): the
//! instances of a service that are in rotation (or in rotation in one region). The balancers
//! draw an index `k` among the members and take the `k`-th in instance order, so the set gives
//! the same pick a scan over the instances would, without the scan.
//!
//! A Fenwick (binary indexed) tree over one bit per position: `set` and `rank` walk O(log n)
//! nodes, `select` descends from the highest power of two. Membership is also kept as a plain
//! bit per position, so that `set` is idempotent and `contains` is O(1).

/// Positions `0..n`, each in or out; counted and selected in position order.
#[derive(Clone, Debug)]
pub(super) struct Members {
    bits: Vec<bool>,
    /// Fenwick tree, 1-based: `tree[j]` counts the members in `(j - lowbit(j), j]`.
    tree: Vec<u32>,
    count: u32,
    /// The highest power of two not above `n` (0 when `n` is 0): where `select` starts.
    top: usize,
}

impl Members {
    /// `n` positions, every one a member when `all` is true, none otherwise.
    pub(super) fn new(n: u32, all: bool) -> Self {
        let n = n as usize;
        let mut tree = vec![0u32; n + 1];
        if all {
            for j in 1..=n {
                tree[j] += 1;
                let up = j + (j & j.wrapping_neg());
                if up <= n {
                    tree[up] += tree[j];
                }
            }
        }
        let top = if n == 0 { 0 } else { 1 << n.ilog2() };
        Members {
            bits: vec![all; n],
            tree,
            count: if all { n as u32 } else { 0 },
            top,
        }
    }

    /// Number of members.
    #[inline]
    pub(super) fn len(&self) -> u32 {
        self.count
    }

    #[inline]
    pub(super) fn contains(&self, pos: u32) -> bool {
        self.bits[pos as usize]
    }

    /// Makes `pos` a member (`member`) or not; O(log n) when it changes, O(1) otherwise.
    pub(super) fn set(&mut self, pos: u32, member: bool) {
        if self.bits[pos as usize] == member {
            return;
        }
        self.bits[pos as usize] = member;
        let n = self.bits.len();
        let mut j = pos as usize + 1;
        while j <= n {
            if member {
                self.tree[j] += 1;
            } else {
                self.tree[j] -= 1;
            }
            j += j & j.wrapping_neg();
        }
        if member {
            self.count += 1;
        } else {
            self.count -= 1;
        }
    }

    /// Members before position `pos` (`pos` itself excluded).
    #[inline]
    pub(super) fn rank(&self, pos: u32) -> u32 {
        let mut sum = 0;
        let mut j = pos as usize;
        while j > 0 {
            sum += self.tree[j];
            j &= j - 1;
        }
        sum
    }

    /// Members in positions `lo..hi`.
    #[inline]
    pub(super) fn count_in(&self, lo: u32, hi: u32) -> u32 {
        if lo == 0 && hi as usize == self.bits.len() {
            return self.count;
        }
        self.rank(hi) - self.rank(lo)
    }

    /// The position of the `k`-th member (from 0, in position order); `k` must be below `len`.
    #[inline]
    pub(super) fn select(&self, k: u32) -> u32 {
        assert!(k < self.count, "member {k} of {}", self.count);
        let n = self.bits.len();
        let (mut pos, mut left) = (0usize, k + 1);
        let mut step = self.top;
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] < left {
                pos = next;
                left -= self.tree[next];
            }
            step >>= 1;
        }
        debug_assert!(self.bits[pos], "select lands on a member");
        pos as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use sim_core::RngFactory;

    /// The reference: the members in order, by a scan.
    fn scan(bits: &[bool]) -> Vec<u32> {
        (0..bits.len() as u32)
            .filter(|&p| bits[p as usize])
            .collect()
    }

    fn check(m: &Members, bits: &[bool]) {
        let order = scan(bits);
        assert_eq!(m.len() as usize, order.len());
        for (k, &p) in order.iter().enumerate() {
            assert_eq!(m.select(k as u32), p, "member {k} of {bits:?}");
        }
        let n = bits.len() as u32;
        for lo in 0..=n {
            for hi in lo..=n {
                let want = order.iter().filter(|&&p| p >= lo && p < hi).count() as u32;
                assert_eq!(m.count_in(lo, hi), want, "members in {lo}..{hi}");
            }
        }
    }

    #[test]
    fn selects_what_a_scan_finds_under_random_changes() {
        let mut rng = RngFactory::new(20, 0).stream("test", "members");
        for n in [0u32, 1, 2, 3, 5, 8, 13, 31, 64] {
            let all = n % 2 == 0;
            let mut m = Members::new(n, all);
            let mut bits = vec![all; n as usize];
            check(&m, &bits);
            for _ in 0..(4 * n) {
                let p = rng.random_range(0..n);
                let b = rng.random::<bool>();
                m.set(p, b);
                m.set(p, b); // idempotent
                bits[p as usize] = b;
                assert_eq!(m.contains(p), b);
                check(&m, &bits);
            }
        }
    }
}
