//! `expect` assertions evaluated over the runs of a sweep, each with its statistical meaning.
//!
//! - With `in_runs: p`: the condition holds in at least a fraction `p` of the runs (a run where the
//!   metric is undefined — no completed request — counts as not holding).
//! - Without: the condition holds for the mean across runs at 95% confidence, i.e. the whole
//!   Student-t interval of the mean lies on the right side of the threshold.
//! - `Better`: the 95% interval of the paired difference (same seeds) lies wholly on the better side.

use crate::comparison::paired;
use crate::format::{fmt_ns, trim_pct};
use crate::stats::{estimate, CONFIDENCE};
use crate::sweep::{Aggregate, MetricKind, VariantAggregate};
use models::spec::{Expect, Metric, Of, Percentile};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The assertion in words: "p99 of `checkout` at most 400ms in at least 95% of runs".
    pub expectation: String,
    pub variant: String,
    pub holds: bool,
    /// What was measured: "97.0% of runs (97/100)", "mean 99.95% [99.93%, 99.97%]".
    pub measured: String,
    /// How far from the threshold, in the metric's unit (positive when it holds).
    pub margin: String,
}

/// Whether every occurrence of `fault` was detected within `within_ns`, in enough runs.
fn detected_verdict(v: &VariantAggregate, fault: &str, within_ns: u64, in_runs: f64) -> Verdict {
    let expectation = format!(
        "`{fault}` detected within {} in at least {:.0}% of runs",
        fmt_ns(within_ns as f64),
        in_runs * 100.0
    );
    let mut runs = 0usize;
    let mut good = 0usize;
    let mut worst: Option<u64> = None;
    let mut missed = 0usize;
    for r in v.records() {
        let hits: Vec<_> = r
            .incidents
            .iter()
            .filter(|i| i.fault.starts_with(fault))
            .collect();
        if hits.is_empty() {
            continue;
        }
        runs += 1;
        let mut ok = true;
        for i in hits {
            match i.ttd_ns {
                Some(t) => {
                    worst = Some(worst.map_or(t, |w| w.max(t)));
                    ok &= t <= within_ns;
                }
                None => {
                    missed += 1;
                    ok = false;
                }
            }
        }
        good += usize::from(ok);
    }
    if runs == 0 {
        return Verdict {
            expectation,
            variant: v.name.clone(),
            holds: false,
            measured: format!("no run injected a fault named `{fault}`"),
            margin: "-".into(),
        };
    }
    let share = good as f64 / runs as f64;
    let mut measured = format!("{:.0}% of runs ({good}/{runs})", share * 100.0);
    if let Some(w) = worst {
        measured.push_str(&format!("; slowest detection {}", fmt_ns(w as f64)));
    }
    if missed > 0 {
        measured.push_str(&format!("; {missed} occurrences never detected"));
    }
    Verdict {
        expectation,
        variant: v.name.clone(),
        holds: share + 1e-12 >= in_runs,
        measured,
        margin: format!("{:+.1} pp of runs", (share - in_runs) * 100.0),
    }
}

#[derive(Copy, Clone, PartialEq)]
enum Side {
    AtLeast,
    AtMost,
}

/// The metric of a latency percentile of successes (`Of::Successes`) or of all requests.
pub fn percentile_kind(p: Percentile, of: Of) -> MetricKind {
    use MetricKind as M;
    match (of, p) {
        (Of::Successes, Percentile::P50) => M::LatencyP50,
        (Of::Successes, Percentile::P90) => M::LatencyP90,
        (Of::Successes, Percentile::P95) => M::LatencyP95,
        (Of::Successes, Percentile::P99) => M::LatencyP99,
        (Of::Successes, Percentile::P999) => M::LatencyP999,
        (Of::Successes, Percentile::Max) => M::LatencyMax,
        (Of::Successes, Percentile::Mean) => M::LatencyMean,
        (Of::All, Percentile::P50) => M::AllLatencyP50,
        (Of::All, Percentile::P90) => M::AllLatencyP90,
        (Of::All, Percentile::P95) => M::AllLatencyP95,
        (Of::All, Percentile::P99) => M::AllLatencyP99,
        (Of::All, Percentile::P999) => M::AllLatencyP999,
        (Of::All, Percentile::Max) => M::AllLatencyMax,
        (Of::All, Percentile::Mean) => M::AllLatencyMean,
    }
}

/// The metric of a wait percentile (`validate` admits only P50, P95, P99 and Mean; the others
/// fall back to the nearest one above).
fn wait_kind(p: Percentile) -> MetricKind {
    match p {
        Percentile::P50 => MetricKind::WaitP50,
        Percentile::P90 | Percentile::P95 => MetricKind::WaitP95,
        Percentile::P99 | Percentile::P999 | Percentile::Max => MetricKind::WaitP99,
        Percentile::Mean => MetricKind::WaitMean,
    }
}

/// The kind and service of a scenario metric.
pub fn metric_kind(m: &Metric) -> (MetricKind, &str) {
    match m {
        Metric::Availability { service } => (MetricKind::Availability, service),
        Metric::ErrorRate { service } => (MetricKind::ErrorRate, service),
        Metric::Latency {
            service,
            percentile,
            of,
        } => (percentile_kind(*percentile, *of), service),
        Metric::WithinSlo { service } => (MetricKind::WithinSlo, service),
        Metric::Wait {
            service,
            percentile,
        } => (wait_kind(*percentile), service),
        Metric::WaitProbability { service } => (MetricKind::WaitProbability, service),
        Metric::InSystem { service } => (MetricKind::InSystemMean, service),
        Metric::InstancesUp { service, count } => (MetricKind::InstancesUp(*count), service),
        Metric::DegradedRate { service } => (MetricKind::DegradedRate, service),
        Metric::Throughput { service } => (MetricKind::Throughput, service),
        Metric::Goodput { service } => (MetricKind::Goodput, service),
        Metric::Utilization { service } => (MetricKind::Utilization, service),
        Metric::LostWrites { service } => (MetricKind::LostWrites, service),
        Metric::WriteUnavailable { service } => (MetricKind::WriteUnavailable, service),
        Metric::RedundancyLost { service } => (MetricKind::RedundancyLost, service),
        Metric::StaleReads { service } => (MetricKind::StaleReads, service),
        Metric::SessionsLost { service } => (MetricKind::SessionsLost, service),
        Metric::HitRatio { service } => (MetricKind::HitRatio, service),
        Metric::Backlog { service } => (MetricKind::Backlog, service),
        Metric::DeadLetters { service } => (MetricKind::DeadLetters, service),
        Metric::Duplicates { service } => (MetricKind::Duplicates, service),
        Metric::DivergentWrites { service } => (MetricKind::DivergentWrites, service),
    }
}

/// Evaluates every expectation against every variant it names (all variants when it names none),
/// one verdict per threshold given.
pub fn evaluate(expects: &[Expect], agg: &Aggregate) -> Vec<Verdict> {
    let mut out = Vec::new();
    for e in expects {
        let t = match e {
            Expect::Better {
                metric,
                variant,
                than,
            } => {
                out.push(better(agg, metric, variant, than));
                continue;
            }
            Expect::Detected {
                fault,
                variant,
                within,
                in_runs,
            } => {
                for v in agg
                    .variants
                    .iter()
                    .filter(|v| variant.as_ref().is_none_or(|n| *n == v.name))
                {
                    out.push(detected_verdict(
                        v,
                        fault,
                        within.0.as_ns(),
                        in_runs.unwrap_or(1.0),
                    ));
                }
                continue;
            }
            _ => e
                .threshold()
                .expect("every other expectation is a threshold"),
        };
        let (kind, service) = metric_kind(&t.metric);
        for v in agg
            .variants
            .iter()
            .filter(|v| t.variant.is_none_or(|n| n == v.name))
        {
            for (side, bound) in [(Side::AtLeast, t.at_least), (Side::AtMost, t.at_most)] {
                if let Some(bound) = bound {
                    out.push(threshold_verdict(v, kind, service, side, bound, t.in_runs));
                }
            }
        }
    }
    out
}

/// One side of a threshold expectation: `kind` at least or at most `value`.
#[derive(Copy, Clone)]
struct Bound {
    kind: MetricKind,
    side: Side,
    value: f64,
}

impl Bound {
    /// Whether `x` is on the right side of the bound (the bound itself included).
    fn holds_for(self, x: f64) -> bool {
        match self.side {
            Side::AtLeast => x >= self.value,
            Side::AtMost => x <= self.value,
        }
    }

    /// How far `x` is from the bound, positive on the right side.
    fn margin(self, x: f64) -> f64 {
        match self.side {
            Side::AtLeast => x - self.value,
            Side::AtMost => self.value - x,
        }
    }

    /// A margin in the metric's unit, for people: percentage points for fractions, a duration for
    /// times.
    fn margin_text(self, m: f64) -> String {
        use crate::metric::Unit;
        match self.kind.unit() {
            _ if !m.is_finite() => "-".to_string(),
            Unit::Fraction => format!("{:+.4} pp", m * 100.0),
            Unit::Duration => format!("{}{}", if m < 0.0 { "-" } else { "+" }, fmt_ns(m.abs())),
            _ => format!("{m:+.3}"),
        }
    }
}

fn threshold_verdict(
    v: &VariantAggregate,
    kind: MetricKind,
    service: &str,
    side: Side,
    threshold: f64,
    in_runs: Option<f64>,
) -> Verdict {
    let b = Bound {
        kind,
        side,
        value: threshold,
    };
    let word = match side {
        Side::AtLeast => "at least",
        Side::AtMost => "at most",
    };
    let what = format!(
        "{} of `{service}` {word} {}",
        kind.label(),
        kind.format(threshold)
    );
    let Some(s) = v.service_idx(service) else {
        return Verdict {
            expectation: what,
            variant: v.name.clone(),
            holds: false,
            measured: "no such service in this variant".into(),
            margin: "-".into(),
        };
    };
    let values = v.values(s, kind);
    match in_runs {
        Some(p) if values.is_empty() => Verdict {
            expectation: format!("{what} in at least {}% of runs", trim_pct(p)),
            variant: v.name.clone(),
            holds: false,
            measured: "no finished run".into(),
            margin: "-".into(),
        },
        Some(p) => in_runs_verdict(v, b, &what, &values, p),
        None => mean_verdict(v, b, &what, &values),
    }
}

/// The verdict on the share of runs (`values`, one per finished run) on the right side of the
/// bound: at least `p`. A run where the metric is undefined counts as not holding.
fn in_runs_verdict(v: &VariantAggregate, b: Bound, what: &str, values: &[f64], p: f64) -> Verdict {
    let n = values.len();
    let k = values
        .iter()
        .filter(|&&x| x.is_finite() && b.holds_for(x))
        .count();
    let frac = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let worst = values
        .iter()
        .copied()
        .map(|x| {
            if x.is_finite() {
                b.margin(x)
            } else {
                f64::NEG_INFINITY
            }
        })
        .fold(f64::INFINITY, f64::min);
    Verdict {
        expectation: format!("{what} in at least {}% of runs", trim_pct(p)),
        variant: v.name.clone(),
        holds: n > 0 && frac >= p,
        measured: format!(
            "{}% of runs ({k}/{n}); worst run {}",
            trim_pct(frac),
            b.kind.format(
                b.value
                    + match b.side {
                        Side::AtLeast => worst,
                        Side::AtMost => -worst,
                    }
            )
        ),
        margin: format!("{:+.1} pp of runs", (frac - p) * 100.0),
    }
}

/// The verdict on the mean across runs: its whole confidence interval on the right side of the
/// bound; with one run, that run's value. A run where the metric is undefined fails it.
fn mean_verdict(v: &VariantAggregate, b: Bound, what: &str, values: &[f64]) -> Verdict {
    let kind = b.kind;
    let undefined = values.iter().filter(|x| !x.is_finite()).count();
    let (holds, measured, margin) = match estimate(values) {
        _ if undefined > 0 => (
            false,
            format!(
                "undefined in {undefined} of {} runs (no completed request)",
                values.len()
            ),
            "-".to_string(),
        ),
        Some(e) => {
            // The interval, kept inside the values the metric can take (a share is never below
            // 0): a normal interval around a mean near a bound would cross it.
            let (lo, hi) = kind.range();
            let (low, high) = (e.low().max(lo), e.high().min(hi));
            let bound = match b.side {
                Side::AtLeast => low,
                Side::AtMost => high,
            };
            let measured = format!(
                "mean {} [{}, {}]",
                kind.format(e.mean),
                kind.format(low),
                kind.format(high)
            );
            (b.holds_for(bound), measured, b.margin_text(b.margin(bound)))
        }
        None => {
            // One run: no interval; the single value must hold.
            let x = values.first().copied().unwrap_or(f64::NAN);
            let measured = if x.is_finite() {
                format!("{} (one run: no interval)", kind.format(x))
            } else {
                "no finished run with the metric defined".into()
            };
            (
                x.is_finite() && b.holds_for(x),
                measured,
                b.margin_text(b.margin(x)),
            )
        }
    };
    Verdict {
        expectation: format!("{what} (mean, {}% confidence)", trim_pct(CONFIDENCE)),
        variant: v.name.clone(),
        holds,
        measured,
        margin,
    }
}

fn better(agg: &Aggregate, metric: &Metric, variant: &str, than: &str) -> Verdict {
    let (kind, service) = metric_kind(metric);
    // Where reports do not judge a direction (throughput, waits), `Better` states one: higher
    // rates, lower queues, waits and utilization.
    let wanted = match kind.better() {
        Some(_) => "better",
        None if matches!(kind, MetricKind::Throughput | MetricKind::Goodput) => "higher",
        None => "lower",
    };
    let expectation = format!(
        "{} of `{service}` {wanted} in `{variant}` than in `{than}` (paired, {}% confidence)",
        kind.label(),
        trim_pct(CONFIDENCE)
    );
    let find = |n: &str| agg.variants.iter().find(|v| v.name == n);
    let comparison = find(variant)
        .zip(find(than))
        .and_then(|(a, b)| paired(a, b, service, kind));
    match comparison {
        Some(c) => Verdict {
            expectation,
            variant: variant.to_string(),
            holds: c.outcome == wanted,
            measured: c.text.clone(),
            margin: c.outcome.clone(),
        },
        None => Verdict {
            expectation,
            variant: variant.to_string(),
            holds: false,
            measured: "fewer than two runs with the metric defined in both variants".into(),
            margin: "-".into(),
        },
    }
}
