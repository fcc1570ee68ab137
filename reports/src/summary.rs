//! From an [`Aggregate`] to the numbers a report shows: per-metric distributions across runs with
//! confidence intervals, paired differences between variants, and `expect` verdicts. This is what
//! `summary.json` holds; every renderer reads it.

use crate::comparison::{paired, Comparison};
use crate::format::fmt_ns;
/// Re-exported: the sweep's precision target and the integration tests call it by this path.
pub use crate::stats::estimate;
use crate::stats::CONFIDENCE;
use crate::sweep::{Aggregate, MetricKind, VariantAggregate};
use models::results::Ledger;
use serde::{Deserialize, Serialize};

/// Version of `summary.json`; bumped when a field changes meaning or goes away.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub scenario: String,
    pub about: String,
    pub seed: u64,
    /// Runs per variant.
    pub runs: usize,
    /// Confidence level of the intervals (0.95).
    pub confidence: f64,
    /// The answer first: per variant and users' workload, how it compares with the baseline on
    /// the SLO metric (or, alone, how it did).
    pub headlines: Vec<crate::headline::Headline>,
    /// What a reader must know before the detail: latencies of successes not comparable.
    pub notes: Vec<String>,
    pub variants: Vec<VariantSummary>,
    /// Each variant against the first (the baseline), paired by seed.
    pub comparisons: Vec<Comparison>,
    pub expectations: Vec<crate::check::Verdict>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    pub name: String,
    pub about: String,
    pub runs_finished: usize,
    /// Runs stopped early by a guard (`events_max`, `requests_in_flight_max`).
    pub runs_stopped_early: usize,
    pub services: Vec<ServiceSummary>,
    /// Failure-mode analysis: one row per injected fault (and rollout), across runs.
    #[serde(default)]
    pub failure_modes: Vec<FailureMode>,
    /// What callers saw of each dependency, across runs.
    #[serde(default)]
    pub edges: Vec<crate::edges::EdgeSummary>,
    /// Links and disks across runs (the hottest), for a variant that gives them capacities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::network::NetworkSummary>,
}

/// How one fault played out across the runs of a variant: how it was detected and how soon, what
/// it cost users, and how long until they were back within the scenario's SLO (`slo`: the share
/// of good answers per bucket, 99% by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureMode {
    pub fault: String,
    /// Occurrences over all runs (a stochastic fault may strike several times a run).
    pub occurrences: usize,
    /// The most frequent first detection (`health check`, `outlier ejection`, `alert <name>`,
    /// `failover`), and the share of occurrences detected at all.
    pub detected_by: Option<String>,
    pub detected_share: f64,
    /// Time to detect, over detected occurrences: median and 95th percentile, ns.
    pub ttd_ns_p50: Option<f64>,
    pub ttd_ns_p95: Option<f64>,
    /// Share of occurrences with errors users could see beyond the SLO.
    pub user_visible_share: f64,
    /// Failed user requests per occurrence: mean and 95th percentile.
    pub failed_mean: f64,
    pub failed_p95: f64,
    /// Time to recover (back within the SLO), over occurrences users saw and recovered from.
    pub ttr_ns_p50: Option<f64>,
    pub ttr_ns_p95: Option<f64>,
    /// Occurrences users saw that had not recovered by the end of their run.
    pub unrecovered: usize,
}

/// Column headings of the failure-mode table.
pub const FAILURE_MODE_COLUMNS: [&str; 7] = [
    "fault",
    "occurrences",
    "detected by",
    "time to detect p50 / p95",
    "users saw errors",
    "failed user requests mean / p95",
    "time to recover p50 / p95",
];

impl FailureMode {
    /// The row's cells as text, in the order of `FAILURE_MODE_COLUMNS`.
    pub fn cells(&self) -> Vec<String> {
        let t = |x: Option<f64>| x.map_or("-".to_string(), fmt_ns);
        let detected = match &self.detected_by {
            Some(by) => format!("{by} ({:.0}%)", self.detected_share * 100.0),
            None => "not detected".into(),
        };
        let mut recover = format!("{} / {}", t(self.ttr_ns_p50), t(self.ttr_ns_p95));
        if self.unrecovered > 0 {
            recover.push_str(&format!(" ({} not recovered)", self.unrecovered));
        }
        vec![
            self.fault.clone(),
            self.occurrences.to_string(),
            detected,
            format!("{} / {}", t(self.ttd_ns_p50), t(self.ttd_ns_p95)),
            format!("{:.0}%", self.user_visible_share * 100.0),
            format!("{:.1} / {:.0}", self.failed_mean, self.failed_p95),
            recover,
        ]
    }
}

/// The q-quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[k - 1])
}

/// Failure modes of a variant, in order of first appearance.
pub fn failure_modes(v: &VariantAggregate) -> Vec<FailureMode> {
    let mut faults: Vec<String> = Vec::new();
    for r in v.records() {
        for i in &r.incidents {
            if !faults.contains(&i.fault) {
                faults.push(i.fault.clone());
            }
        }
    }
    faults
        .into_iter()
        .map(|fault| {
            let all: Vec<&crate::timeline::IncidentRecord> = v
                .records()
                .flat_map(|r| r.incidents.iter())
                .filter(|i| i.fault == fault)
                .collect();
            let n = all.len().max(1) as f64;
            let sorted = |mut x: Vec<f64>| {
                x.sort_by(f64::total_cmp);
                x
            };
            let ttd = sorted(
                all.iter()
                    .filter_map(|i| i.ttd_ns)
                    .map(|t| t as f64)
                    .collect(),
            );
            let ttr = sorted(
                all.iter()
                    .filter_map(|i| i.ttr_ns)
                    .map(|t| t as f64)
                    .collect(),
            );
            let failed = sorted(all.iter().map(|i| i.failed as f64).collect());
            let mut by: Vec<(String, usize)> = Vec::new();
            for d in all.iter().filter_map(|i| i.detected_by.clone()) {
                match by.iter_mut().find(|x| x.0 == d) {
                    Some(x) => x.1 += 1,
                    None => by.push((d, 1)),
                }
            }
            // Most frequent; ties to the first seen.
            let detected_by = by
                .iter()
                .enumerate()
                .max_by_key(|(k, x)| (x.1, std::cmp::Reverse(*k)))
                .map(|(_, x)| x.0.clone());
            FailureMode {
                occurrences: all.len(),
                detected_by,
                detected_share: ttd.len() as f64 / n,
                ttd_ns_p50: quantile(&ttd, 0.5),
                ttd_ns_p95: quantile(&ttd, 0.95),
                user_visible_share: all.iter().filter(|i| i.user_visible).count() as f64 / n,
                failed_mean: failed.iter().sum::<f64>() / n,
                failed_p95: quantile(&failed, 0.95).unwrap_or(0.0),
                ttr_ns_p50: quantile(&ttr, 0.5),
                ttr_ns_p95: quantile(&ttr, 0.95),
                unrecovered: all
                    .iter()
                    .filter(|i| i.user_visible && i.ttr_ns.is_none())
                    .count(),
                fault,
            }
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    /// Requests over all runs, by outcome (in flight: at the ends of the runs).
    #[serde(flatten)]
    pub totals: Ledger,
    /// Latency percentiles of the successful requests of all runs pooled (merged histograms), ns.
    pub pooled_latency_ns: PooledLatency,
    pub metrics: Vec<MetricSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PooledLatency {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    #[serde(default)]
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// The distribution of one per-run metric across runs. Latencies in ns, rates per second,
/// fractions in [0, 1]. `ci_low`/`ci_high` bound the mean (Student t); `p05`..`p95` are
/// percentiles across runs. Runs where the metric is undefined are left out (`n` counts the rest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    pub metric: MetricKind,
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p05: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn metric_summary(values: &[f64], metric: MetricKind) -> MetricSummary {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let n = finite.len();
    let mean = if n == 0 {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / n as f64
    };
    let (sd, mut low, mut high) = match estimate(&finite) {
        Some(e) => (e.sd, e.low(), e.high()),
        None => (f64::NAN, mean, mean),
    };
    // A mean cannot leave the metric's range (a share [0, 1], a latency [0, ∞)); the t
    // interval can, near the ends.
    let (lo, hi) = metric.range();
    (low, high) = (low.clamp(lo, hi), high.clamp(lo, hi));
    MetricSummary {
        metric,
        n,
        mean,
        sd,
        ci_low: low,
        ci_high: high,
        p05: percentile(&finite, 0.05),
        p50: percentile(&finite, 0.5),
        p95: percentile(&finite, 0.95),
    }
}

fn variant_summary(v: &VariantAggregate) -> VariantSummary {
    let services = v
        .services
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let mut totals = Ledger::default();
            for r in v.records() {
                totals.add(&r.services[s].counts);
            }
            let h = &v.latency[s];
            // The full histogram's quantiles, bit for bit (0 when empty, as before).
            let q = h.values_at_quantiles(&[0.5, 0.9, 0.95, 0.99, 0.999]);
            ServiceSummary {
                name: name.clone(),
                totals,
                pooled_latency_ns: PooledLatency {
                    count: h.len(),
                    p50: q[0],
                    p90: q[1],
                    p95: q[2],
                    p99: q[3],
                    p999: q[4],
                    max: h.max(),
                },
                metrics: MetricKind::ALL
                    .iter()
                    .map(|&m| metric_summary(&v.values(s, m), m))
                    .collect(),
            }
        })
        .collect();
    VariantSummary {
        name: v.name.clone(),
        about: v.about.clone(),
        runs_finished: v.n_finished(),
        runs_stopped_early: v.records().filter(|r| r.stop != "horizon").count(),
        failure_modes: failure_modes(v),
        edges: crate::edges::summaries(v),
        network: v.network.as_ref().and_then(|n| n.summary()),
        services,
    }
}

/// Per variant and datastore that lost a copy's data in some run of some variant, its time at
/// reduced redundancy (`redundancy-lost`: mean [interval] across runs) as (variant, datastore,
/// text): beside the links and disks, the price of a recovery rate limit.
pub fn redundancy_rows(s: &Summary) -> Vec<(String, String, String)> {
    let kind = MetricKind::RedundancyLost;
    let lost = |svc: &ServiceSummary| {
        let m = svc.metrics.iter().find(|m| m.metric == kind);
        m.filter(|m| m.n > 0).cloned()
    };
    let mut stores: Vec<&str> = Vec::new();
    for svc in s.variants.iter().flat_map(|v| &v.services) {
        if lost(svc).is_some_and(|m| m.mean > 0.0) && !stores.contains(&svc.name.as_str()) {
            stores.push(&svc.name);
        }
    }
    let mut rows = Vec::new();
    for v in &s.variants {
        for svc in v
            .services
            .iter()
            .filter(|x| stores.contains(&x.name.as_str()))
        {
            let Some(m) = lost(svc) else { continue };
            let text = if m.n < 2 || m.ci_low == m.ci_high {
                kind.format(m.mean)
            } else {
                let f = |x: f64| kind.format(x);
                format!("{} [{}, {}]", f(m.mean), f(m.ci_low), f(m.ci_high))
            };
            rows.push((v.name.clone(), svc.name.clone(), text));
        }
    }
    rows
}

/// The metrics compared between variants in reports (the full list is in `summary.json`): the
/// SLO first, then availability, the latency of all requests, the latency of successes, and
/// throughput (shown, not judged).
pub const HEADLINE: [MetricKind; 6] = [
    MetricKind::WithinSlo,
    MetricKind::Availability,
    MetricKind::AllLatencyP99,
    MetricKind::LatencyP50,
    MetricKind::LatencyP99,
    MetricKind::Throughput,
];

/// Summarizes an aggregate; `verdicts` come from [`crate::check::evaluate`].
pub fn summarize(agg: &Aggregate, verdicts: Vec<crate::check::Verdict>) -> Summary {
    let variants: Vec<VariantSummary> = agg.variants.iter().map(variant_summary).collect();
    let mut comparisons = Vec::new();
    if let Some((baseline, others)) = agg.variants.split_first() {
        for v in others {
            for service in &v.services {
                for &m in MetricKind::ALL.iter() {
                    comparisons.extend(paired(v, baseline, service, m));
                }
            }
        }
    }
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: agg.scenario.clone(),
        about: agg.about.clone(),
        seed: agg.seed,
        runs: agg.n_runs,
        confidence: CONFIDENCE,
        headlines: crate::headline::headlines(agg, &comparisons),
        notes: crate::headline::notes(&comparisons),
        variants,
        comparisons,
        expectations: verdicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&xs, 0.05), 5.0);
        assert_eq!(percentile(&xs, 0.5), 50.0);
        assert_eq!(percentile(&xs, 0.95), 95.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
