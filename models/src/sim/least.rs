//! The least-loaded position of a range in O(log n), for the least-outstanding balancer: a
//! tournament (segment) tree over positions `0..n`, each leaf keyed by (not eligible, load,
//! position). The minimum of a range is the eligible position with the fewest outstanding
//! requests and, among equals, the lowest position — exactly what a scan in instance order
//! with `min_by_key` picks — or, when no position of the range is eligible, the least loaded of
//! all (the balancers' panic mode). A load changes by one per request, each change O(log n);
//! the whole range is the root, O(1).

/// Keys of positions `0..n` and their minimum over every aligned block.
#[derive(Clone, Debug)]
pub(super) struct Least {
    /// Leaves at `size..size + n` (padding after them is `u64::MAX`); node `j` holds the
    /// minimum of nodes `2j` and `2j + 1`.
    tree: Vec<u64>,
    /// A `u32`, so that a `Least` takes 32 bytes and fits the first line of a `Rotation`.
    size: u32,
    n: u32,
}

const INELIGIBLE: u64 = 1 << 63;
/// Loads above this would reach the eligibility bit; no run holds two billion requests.
const LOAD_MAX: u32 = (1 << 31) - 1;

#[inline]
fn key(pos: u32, eligible: bool, load: u32) -> u64 {
    assert!(load <= LOAD_MAX, "load {load} beyond the balancer's index");
    (if eligible { 0 } else { INELIGIBLE }) | (u64::from(load) << 32) | u64::from(pos)
}

impl Least {
    /// `n` positions, all eligible, none loaded.
    pub(super) fn new(n: u32) -> Self {
        let size = (n as usize).next_power_of_two().max(1);
        let mut tree = vec![u64::MAX; 2 * size];
        for pos in 0..n {
            tree[size + pos as usize] = key(pos, true, 0);
        }
        for j in (1..size).rev() {
            tree[j] = tree[2 * j].min(tree[2 * j + 1]);
        }
        Least {
            tree,
            size: size as u32,
            n,
        }
    }

    #[inline]
    fn update(&mut self, pos: u32, eligible: bool, load: u32) {
        let mut j = self.size as usize + pos as usize;
        self.tree[j] = key(pos, eligible, load);
        while j > 1 {
            j >>= 1;
            let m = self.tree[2 * j].min(self.tree[2 * j + 1]);
            if self.tree[j] == m {
                break; // the minimum above is unchanged
            }
            self.tree[j] = m;
        }
    }

    #[inline]
    fn leaf(&self, pos: u32) -> u64 {
        assert!(pos < self.n, "position {pos} of {}", self.n);
        self.tree[self.size as usize + pos as usize]
    }

    /// Whether position `pos` is eligible, and its load.
    pub(super) fn get(&self, pos: u32) -> (bool, u32) {
        let leaf = self.leaf(pos);
        (leaf & INELIGIBLE == 0, ((leaf >> 32) as u32) & LOAD_MAX)
    }

    /// Position `pos` now has `load` outstanding requests.
    #[inline]
    pub(super) fn set_load(&mut self, pos: u32, load: u32) {
        let eligible = self.leaf(pos) & INELIGIBLE == 0;
        self.update(pos, eligible, load);
    }

    /// Position `pos` is now eligible (in rotation) or not.
    pub(super) fn set_eligible(&mut self, pos: u32, eligible: bool) {
        let (_, load) = self.get(pos);
        self.update(pos, eligible, load);
    }

    /// The least loaded position of `lo..hi` (not empty), eligible ones first, lowest position
    /// among equals; and whether it is eligible.
    #[inline]
    pub(super) fn min_in(&self, lo: u32, hi: u32) -> (u32, bool) {
        assert!(lo < hi && hi <= self.n, "range {lo}..{hi} of {}", self.n);
        let best = if lo == 0 && hi == self.n {
            self.tree[1]
        } else {
            let size = self.size as usize;
            let (mut l, mut r) = (size + lo as usize, size + hi as usize);
            let mut best = u64::MAX;
            while l < r {
                if l & 1 == 1 {
                    best = best.min(self.tree[l]);
                    l += 1;
                }
                if r & 1 == 1 {
                    r -= 1;
                    best = best.min(self.tree[r]);
                }
                l >>= 1;
                r >>= 1;
            }
            best
        };
        (best as u32, best & INELIGIBLE == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use sim_core::RngFactory;

    /// The reference: eligible positions first, then the scan the balancer did before.
    fn scan(eligible: &[bool], loads: &[u32], lo: u32, hi: u32) -> (u32, bool) {
        let pick = |only: bool| {
            (lo..hi)
                .filter(|&p| !only || eligible[p as usize])
                .min_by_key(|&p| loads[p as usize])
        };
        match pick(true) {
            Some(p) => (p, true),
            None => (pick(false).unwrap(), false),
        }
    }

    #[test]
    fn finds_what_a_scan_finds_under_random_changes() {
        let mut rng = RngFactory::new(20, 0).stream("test", "least");
        for n in [1u32, 2, 3, 5, 8, 13, 33] {
            let mut t = Least::new(n);
            let (mut eligible, mut loads) = (vec![true; n as usize], vec![0u32; n as usize]);
            for _ in 0..(20 * n) {
                let p = rng.random_range(0..n);
                if rng.random_range(0..5) == 0 {
                    eligible[p as usize] = !eligible[p as usize];
                    t.set_eligible(p, eligible[p as usize]);
                } else {
                    // Loads move by one, as outstanding requests do, and stay small: many ties.
                    let l = &mut loads[p as usize];
                    *l = if *l > 0 && rng.random::<bool>() {
                        *l - 1
                    } else {
                        *l + 1
                    };
                    t.set_load(p, *l);
                }
                for lo in 0..n {
                    for hi in lo + 1..=n {
                        assert_eq!(t.min_in(lo, hi), scan(&eligible, &loads, lo, hi));
                    }
                }
            }
        }
    }
}
