//! Links and disks across the runs of a variant: per link its utilization (a mean with its
//! interval, the busiest bucket, the mean per bucket), per disk its busy time and queue, the bytes
//! sent by class, and the bulk transfers' times.
//!
//! Memory is per link and per disk, never per run: a sweep of thousands of runs over thousands of
//! links keeps one [`LinkSums`] per link that carried anything (a few sums and one series of
//! `n_buckets` counters). Every sum is an integer — floats are turned into fixed point
//! ([`FIXED`] units per one) before they are added — so the fold is the same whatever order the
//! runs finish in, and the summary of the same runs is the same bytes for any `--jobs`. Maps are
//! `BTreeMap`s by name: their order is the names'.
//!
//! The summary keeps only what the reports show: the [`HOTTEST`] links (by mean utilization) and
//! disks (by mean busy time) of each variant, ties by name.

use crate::format::{fmt_bytes, fmt_ns};
use crate::stats::{t_quantile, CONFIDENCE};
use models::results::{ByClass, DiskResult, LinkResult, NetworkResult, TransferResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Links and disks a variant's summary keeps: the hottest, the others only counted.
pub const HOTTEST: usize = 8;

/// Fixed-point units per one, for utilizations, flow counts and queue lengths: a billionth.
pub const FIXED: f64 = 1e9;

/// The classes of [`ByClass`], in its order.
pub const CLASSES: [&str; 5] = ["user", "replication", "recovery", "bulk", "background"];

fn fixed(x: f64) -> u64 {
    // NaN and negatives count as zero; `as` saturates above.
    (x.max(0.0) * FIXED).round() as u64
}

fn classes(b: &ByClass) -> [u64; 5] {
    [b.user, b.replication, b.recovery, b.bulk, b.background]
}

/// The sum and the sum of squares of an integer per run: a mean and its interval without the
/// values. Runs that did not add a value count as zeros (a link that carried nothing in a run).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Moments {
    pub sum: u128,
    pub sum_sq: u128,
}

impl Moments {
    pub fn add(&mut self, x: u64) {
        let x = u128::from(x);
        self.sum = self.sum.saturating_add(x);
        self.sum_sq = self.sum_sq.saturating_add(x * x);
    }

    /// The mean over `n` runs and its [`CONFIDENCE`] Student-t interval, divided by `scale`
    /// (an interval of one run is its value). The variance's numerator `n Σx² − (Σx)²` is exact
    /// while it fits in 128 bits: runs that agree give an interval of width zero.
    pub fn interval(&self, n: u64, scale: f64) -> Interval {
        assert!(n > 0, "an interval needs a run");
        let mean = self.sum as f64 / n as f64 / scale;
        if n < 2 {
            return Interval::exact(mean);
        }
        let exact = (u128::from(n).checked_mul(self.sum_sq))
            .zip(self.sum.checked_mul(self.sum))
            .map(|(a, b)| a.saturating_sub(b) as f64);
        let numerator = exact.unwrap_or_else(|| {
            let (s, q) = (self.sum as f64, self.sum_sq as f64);
            (n as f64 * q - s * s).max(0.0)
        });
        let var = numerator / (n as f64 * (n - 1) as f64) / (scale * scale);
        // The quantile at run time in every build: folded at compile time (where inlining shows
        // LLVM the constant level), its `powi`s are the compiler's `pow`, which can differ from
        // the run-time products in the last bit, and the reports of two builds with it.
        let p = std::hint::black_box(1.0 - (1.0 - CONFIDENCE) / 2.0);
        let t = t_quantile(p, (n - 1) as f64);
        let half = t * var.sqrt() / (n as f64).sqrt();
        Interval {
            mean,
            ci_low: (mean - half).max(0.0),
            ci_high: mean + half,
        }
    }
}

/// A mean across runs and its interval (never below zero: every quantity here is a count, a
/// share or a time).
#[derive(Copy, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Interval {
    fn exact(x: f64) -> Interval {
        Interval {
            mean: x,
            ci_low: x,
            ci_high: x,
        }
    }

    /// Every bound at most `max` (a share at most 1).
    fn at_most(self, max: f64) -> Interval {
        Interval {
            mean: self.mean.min(max),
            ci_low: self.ci_low.min(max),
            ci_high: self.ci_high.min(max),
        }
    }
}

/// Adds `from` into `into` bucket by bucket, growing `into` as needed (a run's series is empty
/// until its link or disk first carried something).
fn add_series(into: &mut Vec<u64>, from: impl ExactSizeIterator<Item = u64>) {
    if into.len() < from.len() {
        into.resize(from.len(), 0);
    }
    for (a, b) in into.iter_mut().zip(from) {
        *a = a.saturating_add(b);
    }
}

/// One link (one direction) over the runs of a variant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkSums {
    /// Its capacity (the same in every run; the largest seen).
    pub capacity_bps: f64,
    /// Utilization over the run, fixed point.
    pub utilization: Moments,
    /// Mean flows on it over the run, fixed point.
    pub flows_mean: Moments,
    /// The most flows at once in any run, and its busiest bucket in any run.
    pub flows_max: u32,
    pub peak: f64,
    /// Bytes carried by class, summed over runs.
    pub bytes: [u128; 5],
    /// Utilization per bucket, fixed point, summed over runs.
    pub series: Vec<u64>,
}

impl LinkSums {
    fn add(&mut self, l: &LinkResult) {
        self.capacity_bps = self.capacity_bps.max(l.capacity_bps);
        self.utilization.add(fixed(l.utilization));
        self.flows_mean.add(fixed(l.flows_mean));
        self.flows_max = self.flows_max.max(l.flows_max);
        let peak = l.utilization_series.iter().copied().fold(0.0, f64::max);
        self.peak = self.peak.max(peak);
        for (a, b) in self.bytes.iter_mut().zip(classes(&l.bytes)) {
            *a = a.saturating_add(u128::from(b));
        }
        add_series(
            &mut self.series,
            l.utilization_series.iter().map(|&u| fixed(u)),
        );
    }
}

/// One host's disk over the runs of a variant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiskSums {
    /// Busy time over the run and mean operations waiting, fixed point.
    pub utilization: Moments,
    pub queue_mean: Moments,
    /// The most operations waiting at once in any run.
    pub queue_max: u32,
    /// Operations, bytes by class and writes refused (full), summed over runs.
    pub ops: u128,
    pub bytes: [u128; 5],
    pub full_refusals: u128,
    /// Operations waiting at each bucket's end, summed over runs.
    pub queue_series: Vec<u64>,
}

impl DiskSums {
    fn add(&mut self, d: &DiskResult) {
        self.utilization.add(fixed(d.utilization));
        self.queue_mean.add(fixed(d.queue_mean));
        self.queue_max = self.queue_max.max(d.queue_max);
        self.ops = self.ops.saturating_add(u128::from(d.ops));
        for (a, b) in self.bytes.iter_mut().zip(classes(&d.bytes)) {
            *a = a.saturating_add(u128::from(b));
        }
        self.full_refusals = self
            .full_refusals
            .saturating_add(u128::from(d.full_refusals));
        add_series(&mut self.queue_series, d.queue_series.iter().copied());
    }
}

/// One bulk transfer over the runs of a variant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransferSums {
    pub bytes: u64,
    pub moved_bytes: u128,
    /// Runs in which it ended, and its time from start to end in those, ns.
    pub runs_done: u64,
    pub duration_ns: Moments,
    pub duration_ns_max: u64,
}

impl TransferSums {
    fn add(&mut self, t: &TransferResult) {
        self.bytes = self.bytes.max(t.bytes);
        self.moved_bytes = self.moved_bytes.saturating_add(u128::from(t.moved_bytes));
        if let Some(done) = t.done_ns {
            let d = done.saturating_sub(t.started_ns);
            self.runs_done += 1;
            self.duration_ns.add(d);
            self.duration_ns_max = self.duration_ns_max.max(d);
        }
    }
}

/// The network's and the disks' part of a variant's runs, folded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkSums {
    /// Runs folded in.
    pub runs: u64,
    /// Bytes sent per run, by class.
    pub sent: [Moments; 5],
    pub links: BTreeMap<String, LinkSums>,
    pub disks: BTreeMap<String, DiskSums>,
    pub transfers: BTreeMap<String, TransferSums>,
}

impl NetworkSums {
    /// Folds one run's network result in.
    pub fn add(&mut self, net: &NetworkResult) {
        self.runs += 1;
        for (m, b) in self.sent.iter_mut().zip(classes(&net.sent)) {
            m.add(b);
        }
        for l in &net.links {
            self.links.entry(l.name.clone()).or_default().add(l);
        }
        for d in &net.disks {
            self.disks.entry(d.host.clone()).or_default().add(d);
        }
        for t in &net.transfers {
            self.transfers.entry(t.name.clone()).or_default().add(t);
        }
    }

    /// Names of the links, hottest first (by utilization summed over runs, exact integers; ties
    /// by name).
    pub fn hottest_links(&self) -> Vec<&str> {
        let mut names: Vec<(&String, &LinkSums)> = self.links.iter().collect();
        names.sort_by(|a, b| {
            b.1.utilization
                .sum
                .cmp(&a.1.utilization.sum)
                .then(a.0.cmp(b.0))
        });
        names.into_iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Hosts of the disks, busiest first (by busy time, then queue, summed over runs; ties by
    /// name).
    pub fn busiest_disks(&self) -> Vec<&str> {
        let key = |d: &DiskSums| (d.utilization.sum, d.queue_mean.sum);
        let mut names: Vec<(&String, &DiskSums)> = self.disks.iter().collect();
        names.sort_by(|a, b| key(b.1).cmp(&key(a.1)).then(a.0.cmp(b.0)));
        names.into_iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The mean utilization of `link` per bucket across runs (empty when unknown).
    pub fn link_series(&self, link: &str) -> Vec<f64> {
        let n = self.runs.max(1) as f64;
        self.links.get(link).map_or(Vec::new(), |l| {
            l.series.iter().map(|&s| s as f64 / FIXED / n).collect()
        })
    }

    /// The mean number of operations waiting at `host`'s disk at each bucket's end across runs.
    pub fn disk_series(&self, host: &str) -> Vec<f64> {
        let n = self.runs.max(1) as f64;
        self.disks.get(host).map_or(Vec::new(), |d| {
            d.queue_series.iter().map(|&s| s as f64 / n).collect()
        })
    }
}

/// Bytes by class, as means per run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BytesMean {
    pub user: f64,
    pub replication: f64,
    pub recovery: f64,
    pub bulk: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub background: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl BytesMean {
    fn of(sums: &[u128; 5], n: u64) -> BytesMean {
        let m = |k: usize| sums[k] as f64 / n as f64;
        BytesMean {
            user: m(0),
            replication: m(1),
            recovery: m(2),
            bulk: m(3),
            background: m(4),
        }
    }

    /// The classes in [`CLASSES`]' order.
    pub fn values(&self) -> [f64; 5] {
        [
            self.user,
            self.replication,
            self.recovery,
            self.bulk,
            self.background,
        ]
    }
}

/// What `summary.json` and the reports hold of a variant's links and disks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSummary {
    /// Runs behind the numbers.
    pub runs: u64,
    /// Bytes sent on links with a capacity per run, by class ([`CLASSES`]' order): mean and
    /// interval.
    pub sent_bytes: Vec<ClassBytes>,
    /// Links that carried anything in some run; the hottest of them, hottest first.
    pub links_used: usize,
    pub links: Vec<LinkSummary>,
    /// Disks that served anything in some run; the busiest of them, busiest first.
    pub disks_used: usize,
    pub disks: Vec<DiskSummary>,
    pub transfers: Vec<TransferSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassBytes {
    pub class: String,
    #[serde(flatten)]
    pub bytes: Interval,
}

/// One link across runs. Utilizations are shares of its capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    pub name: String,
    pub capacity_bps: f64,
    /// Over the whole run: mean across runs and its interval.
    pub utilization: Interval,
    /// The busiest bucket of the mean series, and of any run.
    pub peak_mean: f64,
    pub peak_max: f64,
    /// Mean flows on it (mean across runs), and the most at once in any run.
    pub flows_mean: f64,
    pub flows_max: u32,
    /// Bytes it carried per run, by class.
    pub bytes: BytesMean,
    /// Mean utilization per time bucket (the whole run, warm-up included).
    pub utilization_series: Vec<f64>,
}

/// One host's disk across runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskSummary {
    pub host: String,
    /// Busy time over the run: mean across runs and its interval.
    pub utilization: Interval,
    /// Operations waiting, time-averaged: mean across runs and its interval; the most at once
    /// in any run.
    pub queue_mean: Interval,
    pub queue_max: u32,
    /// Per run: operations and bytes by class; writes refused because it was full, over all runs.
    pub ops_mean: f64,
    pub bytes: BytesMean,
    pub full_refusals: u64,
    /// Mean operations waiting at each bucket's end.
    pub queue_series: Vec<f64>,
}

/// One bulk transfer across runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferSummary {
    pub name: String,
    pub bytes: u64,
    /// Bytes moved per run (mean).
    pub moved_bytes_mean: f64,
    /// Runs in which it ended; its duration over those (mean, interval, longest), ns.
    pub runs_done: u64,
    pub duration_ns: Option<Interval>,
    pub duration_ns_max: Option<u64>,
}

impl NetworkSums {
    /// The summary: bytes by class, the [`HOTTEST`] links and disks, every transfer. `None`
    /// before the first run.
    pub fn summary(&self) -> Option<NetworkSummary> {
        let n = self.runs;
        if n == 0 {
            return None;
        }
        let sent_bytes = CLASSES
            .iter()
            .zip(&self.sent)
            .filter(|(&c, m)| c != "background" || m.sum > 0)
            .map(|(c, m)| ClassBytes {
                class: c.to_string(),
                bytes: m.interval(n, 1.0),
            })
            .collect();
        let links = self.hottest_links().into_iter().take(HOTTEST);
        let disks = self.busiest_disks().into_iter().take(HOTTEST);
        Some(NetworkSummary {
            runs: n,
            sent_bytes,
            links_used: self.links.len(),
            links: links.map(|l| self.link_summary(l)).collect(),
            disks_used: self.disks.len(),
            disks: disks.map(|d| self.disk_summary(d)).collect(),
            transfers: self.transfer_summaries(),
        })
    }

    fn link_summary(&self, name: &str) -> LinkSummary {
        let (l, n) = (&self.links[name], self.runs);
        let series = self.link_series(name);
        LinkSummary {
            name: name.to_string(),
            capacity_bps: l.capacity_bps,
            utilization: l.utilization.interval(n, FIXED).at_most(1.0),
            peak_mean: series.iter().copied().fold(0.0, f64::max).min(1.0),
            peak_max: l.peak.min(1.0),
            flows_mean: l.flows_mean.sum as f64 / FIXED / n as f64,
            flows_max: l.flows_max,
            bytes: BytesMean::of(&l.bytes, n),
            utilization_series: series,
        }
    }

    fn disk_summary(&self, host: &str) -> DiskSummary {
        let (d, n) = (&self.disks[host], self.runs);
        DiskSummary {
            host: host.to_string(),
            utilization: d.utilization.interval(n, FIXED).at_most(1.0),
            queue_mean: d.queue_mean.interval(n, FIXED),
            queue_max: d.queue_max,
            ops_mean: d.ops as f64 / n as f64,
            bytes: BytesMean::of(&d.bytes, n),
            full_refusals: u64::try_from(d.full_refusals).unwrap_or(u64::MAX),
            queue_series: self.disk_series(host),
        }
    }

    fn transfer_summaries(&self) -> Vec<TransferSummary> {
        let n = self.runs;
        self.transfers
            .iter()
            .map(|(name, t)| TransferSummary {
                name: name.clone(),
                bytes: t.bytes,
                moved_bytes_mean: t.moved_bytes as f64 / n as f64,
                runs_done: t.runs_done,
                duration_ns: (t.runs_done > 0).then(|| t.duration_ns.interval(t.runs_done, 1.0)),
                duration_ns_max: (t.runs_done > 0).then_some(t.duration_ns_max),
            })
            .collect()
    }
}

/// Column headings of the tables of links, disks and transfers (the variant's column apart).
pub const LINK_COLUMNS: [&str; 9] = [
    "link",
    "capacity",
    "utilization",
    "peak (mean / any run)",
    "flows (mean / max)",
    "user",
    "replication",
    "recovery",
    "bulk",
];
pub const DISK_COLUMNS: [&str; 10] = [
    "disk",
    "utilization",
    "queue",
    "queue max",
    "ops",
    "user",
    "replication",
    "recovery",
    "bulk",
    "refused (full)",
];
pub const TRANSFER_COLUMNS: [&str; 6] = [
    "transfer",
    "size",
    "moved per run",
    "ended in",
    "time to end",
    "longest",
];

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

impl Interval {
    /// `mean [low, high]`, each by `f`; the mean alone when the interval is a point.
    pub fn text(&self, f: impl Fn(f64) -> String) -> String {
        if self.ci_low == self.ci_high {
            f(self.mean)
        } else {
            format!("{} [{}, {}]", f(self.mean), f(self.ci_low), f(self.ci_high))
        }
    }
}

fn capacity(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.1} Gbps", bps / 1e9)
    } else {
        format!("{:.1} Mbps", bps / 1e6)
    }
}

fn bytes_cells(b: &BytesMean) -> impl Iterator<Item = String> {
    b.values().into_iter().take(4).map(fmt_bytes)
}

/// The columns of the tables of links: [`LINK_COLUMNS`], and `background` when some link
/// carried background traffic (a `Congestion` fault's).
pub fn link_columns(background: bool) -> Vec<&'static str> {
    let mut columns = LINK_COLUMNS.to_vec();
    if background {
        columns.push(CLASSES[4]);
    }
    columns
}

/// Whether some link of some variant carried background traffic.
pub fn any_background<'a>(mut nets: impl Iterator<Item = &'a NetworkSummary>) -> bool {
    nets.any(|n| n.links.iter().any(|l| l.bytes.background > 0.0))
}

impl LinkSummary {
    /// The row's cells as text, in the order of [`link_columns`]`(background)`.
    pub fn cells(&self, background: bool) -> Vec<String> {
        let mut cells = vec![
            self.name.clone(),
            capacity(self.capacity_bps),
            self.utilization.text(pct),
            format!("{} / {}", pct(self.peak_mean), pct(self.peak_max)),
            format!("{:.2} / {}", self.flows_mean, self.flows_max),
        ];
        cells.extend(bytes_cells(&self.bytes));
        if background {
            cells.push(fmt_bytes(self.bytes.background));
        }
        cells
    }
}

impl DiskSummary {
    /// The row's cells as text, in the order of [`DISK_COLUMNS`].
    pub fn cells(&self) -> Vec<String> {
        let mut cells = vec![
            self.host.clone(),
            self.utilization.text(pct),
            self.queue_mean.text(|x| format!("{x:.2}")),
            self.queue_max.to_string(),
            format!("{:.0}", self.ops_mean),
        ];
        cells.extend(bytes_cells(&self.bytes));
        cells.push(self.full_refusals.to_string());
        cells
    }
}

impl TransferSummary {
    /// The row's cells as text, in the order of [`TRANSFER_COLUMNS`].
    pub fn cells(&self, runs: u64) -> Vec<String> {
        let ns = |x: f64| fmt_ns(x);
        vec![
            self.name.clone(),
            fmt_bytes(self.bytes as f64),
            fmt_bytes(self.moved_bytes_mean),
            format!("{} of {runs} runs", self.runs_done),
            self.duration_ns.map_or("-".into(), |d| d.text(ns)),
            self.duration_ns_max
                .map_or("-".into(), |d| fmt_ns(d as f64)),
        ]
    }
}

impl NetworkSummary {
    /// The classes that carried anything in some run, with their bytes per run as text.
    pub fn sent_cells(&self) -> Vec<(String, String)> {
        self.sent_bytes
            .iter()
            .map(|c| (c.class.clone(), c.bytes.text(fmt_bytes)))
            .collect()
    }
}

/// How to read the section, in every report that shows it.
pub const LEGEND: &str = "Mean per run [95% interval] across runs, over the whole run (warm-up included). A link is one direction \
of a host's NIC, a rack's uplink or a zone or region link; its utilization is the bytes it carried against its capacity; \
peak: its busiest time bucket, in the mean across runs / in any run. A disk's utilization is its busy time; its queue, the \
operations waiting (time-averaged), and the most at once in any run. Bytes by class: user (calls and workloads), \
replication, recovery (rebuilds), bulk (transfers), background (a `Congestion` fault's traffic).";

/// The classes to give a column: the first four always, background when some variant has it.
pub fn classes_shown<'a>(mut nets: impl Iterator<Item = &'a NetworkSummary>) -> Vec<&'static str> {
    let mut shown = CLASSES[..4].to_vec();
    if nets.any(|n| n.sent_bytes.iter().any(|c| c.class == "background")) {
        shown.push(CLASSES[4]);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(name: &str, utilization: f64, series: &[f64]) -> LinkResult {
        LinkResult {
            name: name.into(),
            capacity_bps: 1e9,
            utilization,
            bytes: ByClass {
                user: 10,
                recovery: 1000,
                ..ByClass::default()
            },
            flows_mean: utilization * 2.0,
            flows_max: 3,
            utilization_series: series.to_vec(),
        }
    }

    fn run(links: Vec<LinkResult>) -> NetworkResult {
        NetworkResult {
            sent: ByClass {
                user: 100,
                recovery: 2000,
                ..ByClass::default()
            },
            links,
            ..NetworkResult::default()
        }
    }

    /// Two runs: the means, the interval (t with one degree of freedom: 12.706), the peaks,
    /// the mean series (a link absent from a run counts as zero there) and the order, hottest
    /// first with ties by name.
    #[test]
    fn folds_links_across_runs() {
        let mut sums = NetworkSums::default();
        sums.add(&run(vec![
            link("b", 0.5, &[0.25, 0.75]),
            link("a", 0.5, &[1.0, 0.0]),
            link("c", 0.25, &[0.5]),
        ]));
        sums.add(&run(vec![
            link("b", 0.25, &[]),
            link("a", 0.25, &[0.5, 0.0]),
        ]));
        let s = sums.summary().expect("two runs");
        assert_eq!(s.runs, 2);
        let names: Vec<&str> = s.links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let b = &s.links[1];
        assert_eq!(b.utilization.mean, 0.375);
        // sd of {0.5, 0.25} is 0.25 / sqrt(2); half-width t * sd / sqrt(2) = 12.7 / 8: the
        // interval is clamped to [0, 1].
        assert_eq!((b.utilization.ci_low, b.utilization.ci_high), (0.0, 1.0));
        assert_eq!(b.utilization_series, [0.125, 0.375]);
        assert_eq!((b.peak_mean, b.peak_max), (0.375, 0.75));
        assert_eq!(s.links[0].utilization_series, [0.75, 0.0]);
        assert_eq!(s.links[0].peak_max, 1.0);
        let c = &s.links[2];
        assert_eq!(c.utilization.mean, 0.125, "absent from a run: zero there");
        assert_eq!(c.bytes.recovery, 500.0);
        assert_eq!(b.bytes.recovery, 1000.0);
        assert_eq!(b.flows_mean, 0.75);
        assert_eq!(s.links_used, 3);
        let sent: Vec<(&str, f64)> = s
            .sent_bytes
            .iter()
            .map(|c| (c.class.as_str(), c.bytes.mean))
            .collect();
        assert_eq!(
            sent,
            [
                ("user", 100.0),
                ("replication", 0.0),
                ("recovery", 2000.0),
                ("bulk", 0.0)
            ]
        );
        assert_eq!(s.sent_bytes[0].bytes.ci_low, 100.0, "runs that agree");
        assert_eq!(s.sent_bytes[0].bytes.ci_high, 100.0);
    }

    /// The fold is integer addition: any order of runs gives the same sums, bit for bit.
    #[test]
    fn the_fold_does_not_depend_on_the_order_of_runs() {
        let runs: Vec<NetworkResult> = (0..5)
            .map(|k| {
                let u = 0.1 + 0.07 * f64::from(k);
                run(vec![link("x", u, &[u / 3.0, u, 0.3])])
            })
            .collect();
        let mut forward = NetworkSums::default();
        runs.iter().for_each(|r| forward.add(r));
        let mut backward = NetworkSums::default();
        runs.iter().rev().for_each(|r| backward.add(r));
        assert_eq!(forward, backward);
        assert_eq!(forward.summary(), backward.summary());
        // The same mean and interval as the per-run values give.
        let values: Vec<f64> = (0..5).map(|k| 0.1 + 0.07 * f64::from(k)).collect();
        let e = crate::stats::Estimate::of(&values, CONFIDENCE);
        let u = forward.summary().unwrap().links[0].utilization;
        assert!((u.mean - 0.24).abs() < 1e-12, "{}", u.mean);
        assert!((u.ci_low - e.low()).abs() < 1e-9 && (u.ci_high - e.high()).abs() < 1e-9);
    }

    #[test]
    fn disks_and_transfers() {
        let disk = |host: &str, utilization: f64, queue: &[u64]| DiskResult {
            host: host.into(),
            ops: 10,
            utilization,
            queue_mean: 1.5,
            queue_max: 4,
            queue_series: queue.to_vec(),
            ..DiskResult::default()
        };
        let transfer = |done: Option<u64>| TransferResult {
            name: "backup".into(),
            bytes: 100,
            moved_bytes: if done.is_some() { 100 } else { 40 },
            started_ns: 1_000,
            done_ns: done,
        };
        let mut sums = NetworkSums::default();
        for (u, done) in [(0.5, Some(3_000)), (0.25, None), (0.75, Some(5_000))] {
            sums.add(&NetworkResult {
                disks: vec![disk("h1", u, &[1, 2]), disk("h0", u, &[0, 3])],
                transfers: vec![transfer(done)],
                ..NetworkResult::default()
            });
        }
        let s = sums.summary().unwrap();
        let hosts: Vec<&str> = s.disks.iter().map(|d| d.host.as_str()).collect();
        assert_eq!(hosts, ["h0", "h1"], "ties by name");
        assert_eq!(s.disks[0].utilization.mean, 0.5);
        assert_eq!(s.disks[0].queue_mean, Interval::exact(1.5));
        assert_eq!(s.disks[0].queue_series, [0.0, 3.0]);
        assert_eq!(s.disks[0].ops_mean, 10.0);
        let t = &s.transfers[0];
        assert_eq!((t.runs_done, t.duration_ns_max), (2, Some(4_000)));
        assert_eq!(t.duration_ns.unwrap().mean, 3_000.0);
        assert_eq!(t.moved_bytes_mean, 80.0);
    }
}
