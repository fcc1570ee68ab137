//! A latency histogram whose memory follows what it records: the buckets of the HDR histogram
//! every run reports (`results::new_latency_histogram`: 1 ns .. 1 h, 3 significant digits, 33,792
//! counters, 270 KB when allocated whole), kept sparse.
//!
//! ```text
//!  first 512 values ─▶ the values themselves (at most 4 KB)
//!  then             ─▶ counters by HDR index, in blocks of 256 (1 KB), a block allocated when a
//!                      value first lands in it (a service's latencies span a few octaves)
//! ```
//!
//! A counter holds 32 bits: a bucket that reaches 2^32 values (a run of billions of requests)
//! moves its count to a short sorted list of wide counters, so no count is ever lost or
//! saturated, and a run's histograms take half the memory of 64-bit counters.
//!
//! The bucket of a value, the quantiles and the conversion to an `hdrhistogram::Histogram`
//! (`to_hdr`) are those of the full histogram, bit for bit (unit tests against it): a run's
//! percentiles and the histograms it hands to reports do not change. A service that is never
//! called, or never fails, holds a few bytes per histogram instead of 270 KB.

use crate::results::new_latency_histogram;
use hdrhistogram::Histogram;

/// The HDR layout of `new_latency_histogram` (lowest discernible value 1, 3 significant
/// digits): 2,048 sub-buckets, the upper half of each bucket (octave) used above the first.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 10;
const SUB_BUCKET_MASK: u64 = (1 << (SUB_BUCKET_HALF_MAGNITUDE + 1)) - 1;
/// Counters of the full histogram: 33 buckets of 1,024 (checked against it in the tests).
const COUNTS_LEN: usize = 33 << SUB_BUCKET_HALF_MAGNITUDE;
/// The largest value the full histogram tracks; larger ones are counted there (saturation).
const HIGHEST_TRACKABLE_NS: u64 = 3_600_000_000_000;

const RAW_MAX: usize = 512;
const BLOCK: usize = 256;

#[inline]
fn bucket_of(value: u64) -> u32 {
    64 - (value | SUB_BUCKET_MASK).leading_zeros() - (SUB_BUCKET_HALF_MAGNITUDE + 1)
}

/// The counter index of `value` in the full histogram, saturated as `saturating_record` does.
#[inline]
fn index_of(value: u64) -> usize {
    let at = |v: u64| {
        let b = bucket_of(v);
        let sub = (v >> b) as usize;
        (((b + 1) as usize) << SUB_BUCKET_HALF_MAGNITUDE) + sub - (1 << SUB_BUCKET_HALF_MAGNITUDE)
    };
    let index = at(value);
    if index < COUNTS_LEN {
        index
    } else {
        at(HIGHEST_TRACKABLE_NS)
    }
}

/// The lowest value counted at `index`.
#[inline]
fn value_at(index: usize) -> u64 {
    let half = 1usize << SUB_BUCKET_HALF_MAGNITUDE;
    let mut bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (index & (half - 1)) + half;
    if bucket < 0 {
        sub -= half;
        bucket = 0;
    }
    (sub as u64) << bucket
}

/// The highest value counted with `value` (what the full histogram's quantiles report).
#[inline]
fn highest_equivalent(value: u64) -> u64 {
    if value == u64::MAX {
        return u64::MAX;
    }
    let b = bucket_of(value);
    ((value >> b) << b).saturating_add(1u64 << b) - 1
}

/// The values at quantiles `qs` (each in 0..=1, in increasing order) of the histogram whose
/// non-zero counters are `counts` (by index, increasing) and sum to `total`, as the full
/// histogram's `value_at_quantile` gives them: the highest value of the first bucket whose
/// cumulative count reaches `ceil(q * total)` (at least 1); 0 when empty.
fn values_at_quantiles(counts: &[(usize, u64)], total: u64, qs: &[f64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(qs.len());
    let (mut at, mut below) = (0usize, 0u64);
    for &q in qs {
        assert!((0.0..=1.0).contains(&q), "quantile {q}");
        let target = ((q * total as f64).ceil() as u64).max(1);
        while at < counts.len() && below + counts[at].1 < target {
            below += counts[at].1;
            at += 1;
        }
        let value = match counts.get(at) {
            None => 0,
            Some(&(index, _)) if q == 0.0 => value_at(index),
            Some(&(index, _)) => highest_equivalent(value_at(index)),
        };
        out.push(value);
    }
    out
}

/// Latencies in nanoseconds, bucketed as the run's full HDR histogram, stored sparsely.
#[derive(Clone, Debug, Default)]
pub struct SparseHistogram {
    /// The values recorded, while there are at most `RAW_MAX` of them (then empty).
    raw: Vec<u64>,
    /// Once past `RAW_MAX` values: counters by index, `blocks[index / BLOCK]`, each allocated
    /// when first needed (the vector itself only as long as the highest block used).
    blocks: Vec<Option<Box<[u32; BLOCK]>>>,
    /// The counts of buckets that outgrew their 32-bit counter (which is then 0), by index,
    /// sorted; empty in any run of fewer than 2^32 values.
    wide: Vec<(usize, u64)>,
    total: u64,
}

impl SparseHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// Values recorded.
    #[inline]
    pub fn len(&self) -> u64 {
        self.total
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Records one value (a value above an hour counts as an hour, as in the full histogram).
    #[inline]
    pub fn record(&mut self, value: u64) {
        self.total += 1;
        if self.blocks.is_empty() {
            if self.raw.len() < RAW_MAX {
                self.raw.push(value);
                return;
            }
            self.spill();
        }
        self.add_at(index_of(value), 1);
    }

    /// Records `value` `n` times.
    pub fn record_n(&mut self, value: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.total += n;
        self.spill();
        self.add_at(index_of(value), n);
    }

    /// Adds every value of `other`.
    pub fn add(&mut self, other: &SparseHistogram) {
        for (index, n) in other.counts() {
            self.total += n;
            self.spill();
            self.add_at(index, n);
        }
    }

    /// Moves the raw values into counters (once past `RAW_MAX`, or for a count of many).
    #[cold]
    #[inline(never)]
    fn spill_raw(&mut self) {
        for value in std::mem::take(&mut self.raw) {
            self.add_at(index_of(value), 1);
        }
    }

    /// [`Self::spill_raw`] when there is something to spill.
    #[inline]
    fn spill(&mut self) {
        if !self.raw.is_empty() {
            self.spill_raw();
        }
    }

    #[inline]
    fn add_at(&mut self, index: usize, n: u64) {
        let (b, k) = (index / BLOCK, index % BLOCK);
        if b >= self.blocks.len() {
            self.blocks.resize_with(b + 1, || None);
        }
        let block = self.blocks[b].get_or_insert_with(|| Box::new([0; BLOCK]));
        let sum = u64::from(block[k]) + n;
        if let Ok(count) = u32::try_from(sum) {
            block[k] = count;
            return;
        }
        block[k] = 0;
        self.add_wide(index, sum);
    }

    /// Adds `n` to the wide counter of `index` (a bucket past 2^32 values).
    #[cold]
    #[inline(never)]
    fn add_wide(&mut self, index: usize, n: u64) {
        match self.wide.binary_search_by_key(&index, |&(i, _)| i) {
            Ok(at) => self.wide[at].1 += n,
            Err(at) => self.wide.insert(at, (index, n)),
        }
    }

    /// The counters that are not zero, by index, in increasing order.
    pub fn counts(&self) -> Vec<(usize, u64)> {
        if !self.raw.is_empty() {
            let mut indices: Vec<usize> = self.raw.iter().map(|&v| index_of(v)).collect();
            indices.sort_unstable();
            let mut counts: Vec<(usize, u64)> = Vec::new();
            for index in indices {
                match counts.last_mut() {
                    Some((last, n)) if *last == index => *n += 1,
                    _ => counts.push((index, 1)),
                }
            }
            return counts;
        }
        let blocks = self.blocks.iter().enumerate();
        let present = blocks.filter_map(|(b, block)| Some((b, block.as_ref()?)));
        let mut counts: Vec<(usize, u64)> = present
            .flat_map(|(b, block)| {
                let nonzero = block.iter().enumerate().filter(|(_, &n)| n > 0);
                nonzero.map(move |(k, &n)| (b * BLOCK + k, u64::from(n)))
            })
            .collect();
        if !self.wide.is_empty() {
            counts.extend_from_slice(&self.wide);
            counts.sort_unstable_by_key(|&(index, _)| index);
            counts.dedup_by(|next, kept| {
                let same = next.0 == kept.0;
                if same {
                    kept.1 += next.1;
                }
                same
            });
        }
        counts
    }

    /// The values at quantiles `qs` (each in 0..=1, in increasing order), as the full
    /// histogram's `value_at_quantile` gives them (see [`values_at_quantiles`]).
    pub fn values_at_quantiles(&self, qs: &[f64]) -> Vec<u64> {
        values_at_quantiles(&self.counts(), self.total, qs)
    }

    /// The histogram of the values `h` counts, bucket for bucket (`h` has the layout of
    /// `new_latency_histogram`: a run log's histograms are rebuilt into it first).
    pub fn from_hdr(h: &Histogram<u64>) -> Self {
        let mut out = SparseHistogram::new();
        for it in h.iter_recorded() {
            out.record_n(it.value_iterated_to(), it.count_at_value());
        }
        out
    }

    /// The full HDR histogram of these values (the one reports merge and write).
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = new_latency_histogram();
        for (index, n) in self.counts() {
            h.record_n(value_at(index), n)
                .expect("an index of the full histogram is in its range");
        }
        h
    }

    /// Bytes this histogram holds on the heap (for the memory tests).
    pub fn heap_bytes(&self) -> usize {
        let present = self.blocks.iter().filter(|b| b.is_some()).count();
        self.raw.capacity() * 8
            + self.blocks.capacity() * 8
            + present * BLOCK * 4
            + self.wide.capacity() * 16
    }
}

/// A histogram merged over many runs (a sweep's pooled latency of one service): its non-zero
/// counters only, by index, in a sorted list. Merged latencies spread over more octaves than
/// one run's, where the blocks of a [`SparseHistogram`] would be mostly zeros: a list of the
/// buckets used (16 bytes each) holds a service of a thousand answers in 16 KB at most. Past
/// half the full histogram's counters the list becomes the full array of counters, so that it
/// never holds more than the full histogram (270 KB). Quantiles, the maximum and `to_hdr` are
/// the full histogram's, bit for bit.
#[derive(Clone, Debug, Default)]
pub struct MergedHistogram {
    /// (index in the full histogram, count), indices increasing, counts above zero; empty once
    /// `dense` is used.
    list: Vec<(usize, u64)>,
    /// Every counter of the full histogram, by index, once the list would pass half of them.
    dense: Vec<u64>,
    total: u64,
}

impl MergedHistogram {
    pub fn new() -> Self {
        Self::default()
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds every value of one run's histogram (a merge of two sorted lists).
    pub fn add(&mut self, run: &SparseHistogram) {
        let theirs = run.counts();
        self.total += run.len();
        if !self.dense.is_empty() {
            for (index, n) in theirs {
                self.dense[index] += n;
            }
            return;
        }
        if theirs.is_empty() {
            return;
        }
        let ours = std::mem::take(&mut self.list);
        let mut merged = Vec::with_capacity(ours.len() + theirs.len());
        let (mut a, mut b) = (ours.into_iter().peekable(), theirs.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&(i, m)), Some(&(j, n))) if i == j => {
                    a.next();
                    b.next();
                    (i, m + n)
                }
                (Some(&(i, _)), Some(&(j, _))) if i < j => a.next().expect("peeked"),
                (_, Some(_)) => b.next().expect("peeked"),
                (Some(_), None) => a.next().expect("peeked"),
                (None, None) => break,
            };
            merged.push(next);
        }
        if merged.len() > COUNTS_LEN / 2 {
            self.dense = vec![0; COUNTS_LEN];
            for (index, n) in merged {
                self.dense[index] = n;
            }
        } else {
            merged.shrink_to_fit();
            self.list = merged;
        }
        assert_eq!(self.counts().iter().map(|c| c.1).sum::<u64>(), self.total);
    }

    /// The counters that are not zero, by index, in increasing order.
    fn counts(&self) -> std::borrow::Cow<'_, [(usize, u64)]> {
        if self.dense.is_empty() {
            return std::borrow::Cow::Borrowed(&self.list);
        }
        let nonzero = self.dense.iter().enumerate().filter(|(_, &n)| n > 0);
        std::borrow::Cow::Owned(nonzero.map(|(index, &n)| (index, n)).collect())
    }

    /// The values at quantiles `qs`, as [`SparseHistogram::values_at_quantiles`].
    pub fn values_at_quantiles(&self, qs: &[f64]) -> Vec<u64> {
        values_at_quantiles(&self.counts(), self.total, qs)
    }

    /// The highest value recorded, as the full histogram's `max` gives it (the highest value of
    /// the highest bucket used); 0 when empty.
    pub fn max(&self) -> u64 {
        self.counts()
            .last()
            .map_or(0, |&(index, _)| highest_equivalent(value_at(index)))
    }

    /// The full HDR histogram of these values.
    pub fn to_hdr(&self) -> Histogram<u64> {
        let mut h = new_latency_histogram();
        for &(index, n) in self.counts().iter() {
            h.record_n(value_at(index), n)
                .expect("an index of the full histogram is in its range");
        }
        h
    }

    /// Bytes this histogram holds on the heap: never more than the full histogram's counters.
    pub fn heap_bytes(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<(usize, u64)>() + self.dense.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use sim_core::RngFactory;

    const QS: [f64; 8] = [0.0, 0.001, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

    /// Values over the whole range: zeros, small ones, latencies, and past the hour.
    fn values(n: usize, seed: u64) -> Vec<u64> {
        let mut rng = RngFactory::new(seed, 0).stream("test", "hist");
        (0..n)
            .map(|_| match rng.random_range(0..6) {
                0 => 0,
                1 => rng.random_range(1..5_000),
                2 => rng.random_range(1..u64::MAX),
                3 => HIGHEST_TRACKABLE_NS + rng.random_range(0..HIGHEST_TRACKABLE_NS),
                _ => (rng.random::<f64>() * 30.0).exp() as u64,
            })
            .collect()
    }

    /// Records `vals` both ways and checks that the sparse one is the full one.
    fn check(vals: &[u64], zeros: u64) {
        let (mut sparse, mut full) = (SparseHistogram::new(), new_latency_histogram());
        for &v in vals {
            sparse.record(v);
            full.saturating_record(v);
        }
        sparse.record_n(0, zeros);
        full.saturating_record_n(0, zeros);
        assert_eq!(sparse.len(), full.len());
        let want: Vec<u64> = QS.iter().map(|&q| full.value_at_quantile(q)).collect();
        assert_eq!(
            sparse.values_at_quantiles(&QS),
            want,
            "{} values",
            vals.len()
        );
        assert!(
            sparse.to_hdr() == full,
            "the same histogram, {} values",
            vals.len()
        );
        let mut merged = MergedHistogram::new();
        merged.add(&sparse);
        assert_eq!(merged.max(), full.max(), "{} values", vals.len());
        assert_eq!(merged.len(), full.len());
        assert_eq!(merged.values_at_quantiles(&QS), want);
        assert!(merged.to_hdr() == full, "merged, {} values", vals.len());
        let back = SparseHistogram::from_hdr(&full);
        assert!(back.to_hdr() == full, "rebuilt, {} values", vals.len());
        assert_eq!(
            back.values_at_quantiles(&QS),
            sparse.values_at_quantiles(&QS)
        );
    }

    #[test]
    fn the_layout_is_the_full_histograms() {
        let full = new_latency_histogram();
        assert_eq!(full.distinct_values(), COUNTS_LEN);
        assert_eq!(full.high(), HIGHEST_TRACKABLE_NS);
        for v in values(20_000, 1) {
            assert_eq!(highest_equivalent(v), full.highest_equivalent(v), "{v}");
            let v = v.min(HIGHEST_TRACKABLE_NS);
            assert_eq!(value_at(index_of(v)), full.lowest_equivalent(v), "{v}");
        }
    }

    #[test]
    fn quantiles_and_counts_are_the_full_histograms() {
        for (n, seed) in [(0, 1), (1, 2), (7, 3), (512, 4), (513, 5), (20_000, 6)] {
            let vals = values(n, seed);
            check(&vals, 0);
            check(&vals, 40);
        }
    }

    #[test]
    fn merged_histograms_hold_both() {
        let (a, b) = (values(300, 7), values(3_000, 8));
        let (mut x, mut y) = (SparseHistogram::new(), SparseHistogram::new());
        a.iter().for_each(|&v| x.record(v));
        b.iter().for_each(|&v| y.record(v));
        let mut merged = MergedHistogram::new();
        merged.add(&x);
        merged.add(&y);
        x.add(&y);
        let mut full = new_latency_histogram();
        a.iter().chain(&b).for_each(|&v| full.saturating_record(v));
        assert!(x.to_hdr() == full);
        assert!(merged.to_hdr() == full);
        assert_eq!(merged.max(), full.max());
        assert_eq!(merged.values_at_quantiles(&QS), x.values_at_quantiles(&QS));
    }

    #[test]
    fn a_bucket_past_32_bits_keeps_its_whole_count() {
        let big = u64::from(u32::MAX);
        let mut h = SparseHistogram::new();
        h.record(7_000);
        h.record_n(5_000_000, big);
        h.record(5_000_000);
        h.record(5_000_001);
        h.record_n(5_000_000, big);
        let mut full = new_latency_histogram();
        full.record_n(7_000, 1).unwrap();
        full.record_n(5_000_000, 2 * big + 2).unwrap();
        assert_eq!(h.len(), 2 * big + 3);
        assert_eq!(h.counts().len(), 2, "{:?}", h.counts());
        assert_eq!(h.counts()[1].1, 2 * big + 2);
        assert!(h.to_hdr() == full);
        assert_eq!(h.values_at_quantiles(&QS)[2], full.value_at_quantile(0.5));
    }

    #[test]
    fn memory_follows_what_is_recorded() {
        let mut h = SparseHistogram::new();
        assert_eq!(h.heap_bytes(), 0);
        for _ in 0..RAW_MAX {
            h.record(5);
        }
        assert!(h.heap_bytes() <= RAW_MAX * 8, "{}", h.heap_bytes());
        // Latencies between 1 and 8 ms touch four octaves (2^19 .. 2^23 ns): sixteen blocks
        // of 1 KB at most and the directory, never 270 KB.
        for k in 0..100_000u64 {
            h.record(1_000_000 + k * 70);
        }
        let most = 16 * BLOCK * 4 + COUNTS_LEN / BLOCK * 8;
        assert!(h.heap_bytes() <= most, "{} > {most}", h.heap_bytes());
    }

    #[test]
    fn a_merged_histogram_never_holds_more_than_the_full_one() {
        let vals = values(200_000, 9);
        let mut merged = MergedHistogram::new();
        let mut full = new_latency_histogram();
        for chunk in vals.chunks(20_000) {
            let mut run = SparseHistogram::new();
            chunk.iter().for_each(|&v| run.record(v));
            chunk.iter().for_each(|&v| full.saturating_record(v));
            merged.add(&run);
            assert!(
                merged.heap_bytes() <= COUNTS_LEN * 8,
                "{}",
                merged.heap_bytes()
            );
        }
        assert!(
            !merged.dense.is_empty(),
            "values over the whole range fill the array"
        );
        assert!(merged.to_hdr() == full);
        assert_eq!(merged.max(), full.max());
        let want: Vec<u64> = QS.iter().map(|&q| full.value_at_quantile(q)).collect();
        assert_eq!(merged.values_at_quantiles(&QS), want);
    }
}
