//! Each variant against another, paired by seed: every variant runs on the same seeds as the
//! baseline (common random numbers), so a difference is measured run by run, and its Student-t
//! interval is far tighter than that of two independent means. `summary.json` holds one
//! [`Comparison`] per variant, service and metric; `Better` expectations read the same numbers.

use crate::format::signed;
use crate::stats::estimate;
use crate::sweep::{MetricKind, VariantAggregate};
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
