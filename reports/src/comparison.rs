//! Each variant against another, paired by seed: every variant runs on the same seeds as the
//! baseline (common random numbers), so a difference is measured run by run, and its interval is
//! far tighter than that of two independent means. `summary.json` holds one [`Comparison`] per
//! variant, service and metric; `Better` expectations read the same numbers.
//!
//! Intervals respect what the metric can be: a difference of shares is in percentage points and
//! never takes the variant outside [0, 1]; a relative difference is a ratio of means with
//! Fieller's interval (the ratio of two non-negative means is never below zero, so never below
//! −100%), and where the baseline's mean is not distinguishable from zero no relative difference
//! is given at all. A difference is judged better or worse only where the metric's direction is
//! known, and a latency of successes only between designs that fail about as many requests.

use crate::format::{fmt_ns, signed};
use crate::metric::{Better, MetricKind, Unit};
use crate::stats::{t_quantile, Estimate, CONFIDENCE};
use crate::sweep::VariantAggregate;
use serde::{Deserialize, Serialize};

/// Two designs' latencies of successes are compared only when their availabilities differ by at
/// most this much (a tenth of a percentage point): otherwise one design's successes are a
/// different, easier set of requests (it failed the slow ones).
pub const COMPARABLE_AVAILABILITY: f64 = 0.001;

/// `variant - baseline` of one metric, paired by seed (common random numbers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub variant: String,
    pub baseline: String,
    pub service: String,
    pub metric: MetricKind,
    pub n_pairs: usize,
    /// The mean paired difference and its interval, in the metric's unit, kept inside what the
    /// metric can take.
    pub diff_mean: f64,
    pub diff_ci_low: f64,
    pub diff_ci_high: f64,
    pub baseline_mean: f64,
    pub variant_mean: f64,
    /// `variant mean / baseline mean − 1` with Fieller's interval; `None` for shares (compared
    /// in points) and where the baseline's mean is not distinguishable from zero.
    pub relative: Option<Relative>,
    /// `better` or `worse` (the direction is known), `higher` or `lower` (it is not: shown, not
    /// judged), `no significant difference` (the interval contains zero), or `not comparable`
    /// (a latency of successes between designs that fail different shares of requests).
    pub outcome: String,
    /// For people: `p99 (all) -62.1% [-65.0%, -59.2%]`, `within SLO +0.41 pp [+0.38, +0.44]`.
    pub text: String,
}

impl Comparison {
    /// The text of a table cell under the metric's heading: the difference without the metric's
    /// name, or "not comparable".
    pub fn cell_text(&self) -> &str {
        if self.outcome == "not comparable" {
            return "not comparable";
        }
        let name = self.metric.name();
        self.text
            .strip_prefix(name)
            .map_or(self.text.as_str(), str::trim_start)
    }
}

/// A relative difference and its interval (fractions: −0.5 is −50%).
#[derive(Copy, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relative {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// The metric of service `s` in both designs, over the runs both finished with it defined.
fn pairs(
    variant: &VariantAggregate,
    baseline: &VariantAggregate,
    (sv, sb): (usize, usize),
    metric: MetricKind,
) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (a, b) in variant.runs.iter().zip(&baseline.runs) {
        if let (Some(a), Some(b)) = (a, b) {
            let (x, y) = (a.services[sv].metric(metric), b.services[sb].metric(metric));
            if x.is_finite() && y.is_finite() {
                out.push((x, y));
            }
        }
    }
    out
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n as f64
}

/// Paired difference of `metric` of service `service` between two variants, over the runs both
/// finished. `None` when there are fewer than two pairs with the metric defined on both sides.
pub fn paired(
    variant: &VariantAggregate,
    baseline: &VariantAggregate,
    service: &str,
    metric: MetricKind,
) -> Option<Comparison> {
    let idx = (
        variant.service_idx(service)?,
        baseline.service_idx(service)?,
    );
    let pairs = pairs(variant, baseline, idx, metric);
    if pairs.len() < 2 {
        return None;
    }
    let diffs: Vec<f64> = pairs.iter().map(|(x, y)| x - y).collect();
    let e = Estimate::of(&diffs, CONFIDENCE);
    let (baseline_mean, variant_mean) = (
        mean(pairs.iter().map(|p| p.1)),
        mean(pairs.iter().map(|p| p.0)),
    );
    // The difference cannot take the variant's mean outside the metric's range (the baseline's
    // mean is within it, so zero stays inside and the verdict below is unchanged).
    let (lo, hi) = metric.range();
    let (low, high) = (
        e.low().max(lo - baseline_mean),
        e.high().min(hi - baseline_mean),
    );
    let relative = match metric.unit() {
        Unit::Fraction => None,
        _ => fieller(&pairs).map(|(rl, rh)| Relative {
            mean: variant_mean / baseline_mean - 1.0,
            low: rl.max(0.0) - 1.0,
            high: rh - 1.0,
        }),
    };
    let comparable = !metric.is_success_latency() || comparable(variant, baseline, idx, e.mean);
    let outcome = outcome(metric, e.low(), e.high(), comparable);
    let text = difference_text(metric, (e.mean, low, high), relative.as_ref());
    Some(Comparison {
        variant: variant.name.clone(),
        baseline: baseline.name.clone(),
        service: service.to_string(),
        metric,
        n_pairs: e.n,
        diff_mean: e.mean,
        diff_ci_low: low,
        diff_ci_high: high,
        baseline_mean,
        variant_mean,
        relative,
        outcome: outcome.to_string(),
        text,
    })
}

/// Whether the latencies of successes of two designs can be compared (`diff`: variant − baseline
/// of the latency): when they fail about the same share of requests, so that their successes are
/// the same requests; or when the design that answers more requests successfully is also the
/// faster one, so that failing slow requests cannot explain its lead.
fn comparable(
    variant: &VariantAggregate,
    baseline: &VariantAggregate,
    idx: (usize, usize),
    diff: f64,
) -> bool {
    let a = pairs(variant, baseline, idx, MetricKind::Availability);
    if a.is_empty() {
        return false;
    }
    let (v, b) = (mean(a.iter().map(|p| p.0)), mean(a.iter().map(|p| p.1)));
    (v - b).abs() <= COMPARABLE_AVAILABILITY || (v > b) == (diff < 0.0)
}

/// The verdict of a paired difference with interval `[low, high]`.
pub fn outcome(metric: MetricKind, low: f64, high: f64, comparable: bool) -> &'static str {
    if !comparable {
        return "not comparable";
    }
    let (up, down) = (low > 0.0, high < 0.0);
    match (metric.better(), up, down) {
        (_, false, false) => "no significant difference",
        (Some(Better::Higher), true, _) | (Some(Better::Lower), _, true) => "better",
        (Some(_), _, _) => "worse",
        (None, true, _) => "higher",
        (None, _, _) => "lower",
    }
}

/// Fieller's interval for the ratio of the means of paired, non-negative data `(x, y)`:
/// `mean x / mean y`. `None` when it is unbounded (the mean of `y` is not distinguishable from
/// zero at the confidence level).
pub fn fieller(pairs: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = pairs.len() as f64;
    let (a, b) = (
        mean(pairs.iter().map(|p| p.0)),
        mean(pairs.iter().map(|p| p.1)),
    );
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxx += (x - a) * (x - a);
        syy += (y - b) * (y - b);
        sxy += (x - a) * (y - b);
    }
    // Variances and covariance of the two means.
    let d = (n - 1.0) * n;
    let (vx, vy, cxy) = (sxx / d, syy / d, sxy / d);
    let t = t_quantile(1.0 - (1.0 - CONFIDENCE) / 2.0, n - 1.0);
    let t2 = t * t;
    let qa = b * b - t2 * vy;
    if qa <= 0.0 {
        return None;
    }
    let qb = a * b - t2 * cxy;
    let qc = a * a - t2 * vx;
    let disc = (qb * qb - qa * qc).max(0.0);
    let root = disc.sqrt();
    Some(((qb - root) / qa, (qb + root) / qa))
}

/// A signed value in the metric's unit: `+1.2ms`, `-3.0`, `+0.41 pp`.
fn signed_value(metric: MetricKind, x: f64) -> String {
    match metric.unit() {
        Unit::Duration => {
            let sign = if x < 0.0 { "-" } else { "+" };
            format!("{sign}{}", fmt_ns(x.abs()))
        }
        Unit::Fraction => signed(x * 100.0, 2),
        _ => signed(x, 3),
    }
}

/// `p99 (all) -62.1% [-65.0%, -59.2%]` where a relative difference is defined;
/// `within SLO +0.41 pp [+0.38, +0.44]` for shares (percentage points); the absolute difference
/// otherwise (`lost writes -15.000 [-20.000, -10.000]`).
pub fn difference_text(
    metric: MetricKind,
    (mean, low, high): (f64, f64, f64),
    relative: Option<&Relative>,
) -> String {
    let name = metric.name();
    if metric.unit() == Unit::Fraction {
        let pp = |x: f64| signed(x * 100.0, 2);
        return format!("{name} {} pp [{}, {}]", pp(mean), pp(low), pp(high));
    }
    if let Some(r) = relative {
        let rel = |x: f64| format!("{}%", signed(100.0 * x, 1));
        return format!("{name} {} [{}, {}]", rel(r.mean), rel(r.low), rel(r.high));
    }
    let v = |x: f64| signed_value(metric, x);
    format!("{name} {} [{}, {}]", v(mean), v(low), v(high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_texts() {
        let r = Relative {
            mean: -0.62,
            low: -0.65,
            high: -0.59,
        };
        assert_eq!(
            difference_text(MetricKind::AllLatencyP99, (-62.0, -65.0, -59.0), Some(&r)),
            "p99 (all) -62.0% [-65.0%, -59.0%]"
        );
        assert_eq!(
            difference_text(MetricKind::WithinSlo, (0.0041, 0.0038, 0.0044), None),
            "within SLO +0.41 pp [+0.38, +0.44]"
        );
        assert_eq!(
            difference_text(MetricKind::LostWrites, (-15.0, -20.0, -10.0), None),
            "lost writes -15.000 [-20.000, -10.000]"
        );
    }

    #[test]
    fn fieller_of_exact_ratios_is_the_ratio() {
        // Every run's variant is exactly half the baseline: no doubt about the ratio.
        let pairs: Vec<(f64, f64)> = (1..=10).map(|k| (k as f64, 2.0 * k as f64)).collect();
        let (lo, hi) = fieller(&pairs).unwrap();
        assert!(
            (lo - 0.5).abs() < 1e-12 && (hi - 0.5).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn fieller_is_unbounded_when_the_baseline_may_be_zero() {
        let pairs = [(1.0, 0.0), (2.0, 1.0), (1.5, -1.0)];
        assert_eq!(fieller(&pairs), None);
    }

    #[test]
    fn fieller_matches_a_hand_computation() {
        // x = (2, 4, 6), y = (1, 2, 4): a = 4, b = 7/3; var of the means: vx = 4/3, vy = 7/9,
        // cov = 5/3; t(0.975, 2) = 4.302653 (to the Cornish-Fisher accuracy of t_quantile).
        let pairs = [(2.0, 1.0), (4.0, 2.0), (6.0, 4.0)];
        let t2 = t_quantile(0.975, 2.0).powi(2);
        let (a, b, vx, vy, c) = (4.0, 7.0 / 3.0, 4.0 / 3.0, 7.0 / 9.0, 5.0 / 3.0);
        let (qa, qb, qc) = (b * b - t2 * vy, a * b - t2 * c, a * a - t2 * vx);
        if qa > 0.0 {
            let r = (qb * qb - qa * qc).sqrt();
            let (lo, hi) = fieller(&pairs).unwrap();
            assert!((lo - (qb - r) / qa).abs() < 1e-9 && (hi - (qb + r) / qa).abs() < 1e-9);
        } else {
            assert_eq!(fieller(&pairs), None);
        }
    }

    #[test]
    fn outcomes_judge_only_known_directions() {
        assert_eq!(outcome(MetricKind::WithinSlo, 0.01, 0.02, true), "better");
        assert_eq!(
            outcome(MetricKind::AllLatencyP99, 0.01, 0.02, true),
            "worse"
        );
        assert_eq!(outcome(MetricKind::Throughput, -2.0, -1.0, true), "lower");
        assert_eq!(
            outcome(MetricKind::Throughput, -2.0, 1.0, true),
            "no significant difference"
        );
        assert_eq!(
            outcome(MetricKind::LatencyP99, -2.0, -1.0, false),
            "not comparable"
        );
    }
}
