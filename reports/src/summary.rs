//! From an [`Aggregate`] to the numbers a report shows: per-metric distributions across runs with
//! confidence intervals, paired differences between variants, and `expect` verdicts. This is what
//! `summary.json` holds; every renderer reads it.

use crate::stats::Estimate;
use crate::sweep::{Aggregate, MetricKind, VariantAggregate};
use models::results::Ledger;
use serde::{Deserialize, Serialize};

/// Version of `summary.json`; bumped when a field changes meaning or goes away.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;
/// Confidence level of every interval in a summary.
pub const CONFIDENCE: f64 = 0.95;

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
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    /// Requests over all runs, by outcome (in flight: at the ends of the runs).
    #[serde(flatten)]
    pub totals: Ledger,
    /// Latency percentiles of all completed requests of all runs pooled (merged histograms), ns.
    pub pooled_latency_ns: PooledLatency,
    pub metrics: Vec<MetricSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PooledLatency {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
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

/// `variant - baseline` of one metric, paired by seed (common random numbers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub variant: String,
    pub baseline: String,
    pub service: String,
    pub metric: MetricKind,
    pub n_pairs: usize,
    pub diff_mean: f64,
    pub diff_ci_low: f64,
    pub diff_ci_high: f64,
    pub baseline_mean: f64,
    /// `better`, `worse` or `no significant difference` (the interval contains zero).
    pub outcome: String,
    /// For people: `p99 -62.1% [-65.0%, -59.2%]`, `availability +0.41 pp [+0.38, +0.44]`.
    pub text: String,
}

/// Mean and interval of finite values; `None` below two values.
pub fn estimate(values: &[f64]) -> Option<Estimate> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    (finite.len() >= 2).then(|| Estimate::of(&finite, CONFIDENCE))
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
    // A share cannot leave [0, 1]; the t interval of its mean can, near the ends.
    if matches!(
        metric,
        MetricKind::Availability
            | MetricKind::ErrorRate
            | MetricKind::DegradedRate
            | MetricKind::Utilization
    ) {
        (low, high) = (low.clamp(0.0, 1.0), high.clamp(0.0, 1.0));
    }
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
            let q = |p: f64| {
                if h.is_empty() {
                    0
                } else {
                    h.value_at_quantile(p)
                }
            };
            ServiceSummary {
                name: name.clone(),
                totals,
                pooled_latency_ns: PooledLatency {
                    count: h.len(),
                    p50: q(0.5),
                    p90: q(0.9),
                    p99: q(0.99),
                    p999: q(0.999),
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
        services,
    }
}

/// Paired difference of `metric` of service `service` between two variants, over the runs both
/// finished. `None` when there are fewer than two pairs with the metric defined on both sides.
pub fn paired(
    variant: &VariantAggregate,
    baseline: &VariantAggregate,
    service: &str,
    metric: MetricKind,
) -> Option<Comparison> {
    let (sv, sb) = (
        variant.service_idx(service)?,
        baseline.service_idx(service)?,
    );
    let mut diffs = Vec::new();
    let mut base_values = Vec::new();
    for (a, b) in variant.runs.iter().zip(&baseline.runs) {
        if let (Some(a), Some(b)) = (a, b) {
            let (x, y) = (a.services[sv].metric(metric), b.services[sb].metric(metric));
            if x.is_finite() && y.is_finite() {
                diffs.push(x - y);
                base_values.push(y);
            }
        }
    }
    let e = estimate(&diffs)?;
    let baseline_mean = base_values.iter().sum::<f64>() / base_values.len() as f64;
    let better_if_positive = metric.higher_is_better();
    let outcome = if e.low() > 0.0 {
        if better_if_positive {
            "better"
        } else {
            "worse"
        }
    } else if e.high() < 0.0 {
        if better_if_positive {
            "worse"
        } else {
            "better"
        }
    } else {
        "no significant difference"
    };
    Some(Comparison {
        variant: variant.name.clone(),
        baseline: baseline.name.clone(),
        service: service.to_string(),
        metric,
        n_pairs: e.n,
        diff_mean: e.mean,
        diff_ci_low: e.low(),
        diff_ci_high: e.high(),
        baseline_mean,
        outcome: outcome.to_string(),
        text: difference_text(metric, e.mean, e.low(), e.high(), baseline_mean),
    })
}

/// `p99 -62.1% [-65.0%, -59.2%]` for most metrics (relative to the baseline mean);
/// `availability +0.41 pp [+0.38, +0.44]` for fractions (percentage points).
pub fn difference_text(
    metric: MetricKind,
    mean: f64,
    low: f64,
    high: f64,
    baseline_mean: f64,
) -> String {
    let name = metric.name();
    match metric {
        MetricKind::Availability
        | MetricKind::ErrorRate
        | MetricKind::DegradedRate
        | MetricKind::Utilization => {
            let pp = |x: f64| signed(x * 100.0, 2);
            format!("{name} {} pp [{}, {}]", pp(mean), pp(low), pp(high))
        }
        _ if baseline_mean.abs() > 0.0 => {
            let rel = |x: f64| format!("{}%", signed(100.0 * x / baseline_mean, 1));
            format!("{name} {} [{}, {}]", rel(mean), rel(low), rel(high))
        }
        _ => format!(
            "{name} {} [{}, {}]",
            signed(mean, 3),
            signed(low, 3),
            signed(high, 3)
        ),
    }
}

/// `x` with a sign and `decimals` decimals, never `-0.0`: a value that rounds to zero is `+0.0`.
pub fn signed(x: f64, decimals: usize) -> String {
    let text = format!("{x:+.decimals$}");
    if text[1..].chars().all(|c| c == '0' || c == '.') {
        format!("+{}", &text[1..])
    } else {
        text
    }
}

/// The metrics compared between variants in reports (the full list is in `summary.json`).
pub const HEADLINE: [MetricKind; 5] = [
    MetricKind::Availability,
    MetricKind::LatencyP50,
    MetricKind::LatencyP99,
    MetricKind::Throughput,
    MetricKind::Utilization,
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

    #[test]
    fn difference_texts() {
        assert_eq!(
            difference_text(MetricKind::LatencyP99, -62.0, -65.0, -59.0, 100.0),
            "p99 -62.0% [-65.0%, -59.0%]"
        );
        assert_eq!(
            difference_text(MetricKind::Availability, 0.0041, 0.0038, 0.0044, 0.99),
            "availability +0.41 pp [+0.38, +0.44]"
        );
        assert_eq!(
            difference_text(MetricKind::Throughput, -0.0001, -0.2, 0.2, 100.0),
            "throughput +0.0% [-0.2%, +0.2%]"
        );
    }
}
