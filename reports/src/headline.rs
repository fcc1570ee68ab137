//! The answer first: one sentence per variant and users' workload on the SLO metric (how many
//! more of the users' requests a design answered well than the baseline, with its interval),
//! and the notes a reader needs before the detail (latencies of successes that cannot be
//! compared). Reports print these at the top; `compare` prints them in the terminal.

use crate::comparison::Comparison;
use crate::format::{fmt_ns, signed};
use crate::metric::MetricKind;
use crate::stats::estimate;
use crate::sweep::{Aggregate, VariantAggregate};
use serde::{Deserialize, Serialize};

/// One sentence about one variant and one users' workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub variant: String,
    pub service: String,
    /// The comparison's outcome on the SLO metric (`better`, `worse`, `no significant
    /// difference`), or `alone` for a study of one design.
    pub outcome: String,
    /// Markdown-ish text (names in backticks).
    pub text: String,
}

/// "successfully within 300ms", or what good means without an SLO latency.
fn good_means(v: &VariantAggregate, s: usize) -> String {
    match v.slo_latency_ns.get(s).copied().flatten() {
        Some(ns) => format!("successfully within {}", fmt_ns(ns as f64)),
        None => "successfully; no SLO latency set".into(),
    }
}

/// The users' entries of a variant (`users:<workload>`), or every service when there are none.
fn audiences(v: &VariantAggregate) -> Vec<(usize, &str)> {
    let users: Vec<(usize, &str)> = v
        .services
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("users:"))
        .map(|(i, n)| (i, n.as_str()))
        .collect();
    if users.is_empty() {
        v.services
            .iter()
            .enumerate()
            .map(|(i, n)| (i, n.as_str()))
            .collect()
    } else {
        users
    }
}

/// The headline sentences: each variant against the first, or the only variant alone.
pub fn headlines(agg: &Aggregate, comparisons: &[Comparison]) -> Vec<Headline> {
    let Some((baseline, others)) = agg.variants.split_first() else {
        return Vec::new();
    };
    if others.is_empty() {
        return alone(baseline, agg.slo_target());
    }
    let mut out = Vec::new();
    for v in others {
        for (s, service) in audiences(v) {
            let c = comparisons.iter().find(|c| {
                c.variant == v.name && c.service == service && c.metric == MetricKind::WithinSlo
            });
            let good = good_means(v, s);
            let (outcome, text) = match c {
                Some(c) => (c.outcome.clone(), compared_text(c, &good)),
                None => (
                    "undefined".to_string(),
                    format!(
                        "`{}` and `{}` cannot be compared on `{service}`: fewer than two runs \
                         answered any of its requests in both.",
                        v.name, baseline.name
                    ),
                ),
            };
            out.push(Headline {
                variant: v.name.clone(),
                service: service.to_string(),
                outcome,
                text,
            });
        }
    }
    out
}

fn compared_text(c: &Comparison, good: &str) -> String {
    let pts = |x: f64| signed(x * 100.0, 2);
    let interval = format!(
        "[{}, {}], {} paired runs",
        pts(c.diff_ci_low),
        pts(c.diff_ci_high),
        c.n_pairs
    );
    if c.outcome == "no significant difference" {
        return format!(
            "`{}` answered about as many of `{}`'s requests well ({good}) as `{}`: {} points \
             {interval}.",
            c.variant,
            c.service,
            c.baseline,
            pts(c.diff_mean)
        );
    }
    let more = if c.diff_mean >= 0.0 { "more" } else { "fewer" };
    format!(
        "`{}` answered {:.2} points {more} of `{}`'s requests well ({good}) than `{}` {interval}.",
        c.variant,
        (c.diff_mean * 100.0).abs(),
        c.service,
        c.baseline
    )
}

fn alone(v: &VariantAggregate, target: f64) -> Vec<Headline> {
    audiences(v)
        .into_iter()
        .map(|(s, service)| {
            let m = MetricKind::WithinSlo;
            let values = v.values(s, m);
            let text = match estimate(&values) {
                Some(e) => format!(
                    "`{}` answered {} [{}, {}] of `{service}`'s requests well ({}), {} runs; the \
                     SLO's target is {}.",
                    v.name,
                    m.format(e.mean),
                    m.format(e.low().max(0.0)),
                    m.format(e.high().min(1.0)),
                    good_means(v, s),
                    e.n,
                    m.format(target)
                ),
                None => format!(
                    "`{}`: fewer than two runs answered any of `{service}`'s requests.",
                    v.name
                ),
            };
            Headline {
                variant: v.name.clone(),
                service: service.to_string(),
                outcome: "alone".into(),
                text,
            }
        })
        .collect()
}

/// Notes on latencies of successes that cannot be compared: one per variant and service where
/// the designs' availabilities differ too much.
pub fn notes(comparisons: &[Comparison]) -> Vec<String> {
    comparisons
        .iter()
        .filter(|c| c.metric == MetricKind::LatencyP99 && c.outcome == "not comparable")
        .map(|c| {
            let avail = |variant: &str| {
                comparisons
                    .iter()
                    .find(|o| {
                        o.variant == c.variant
                            && o.service == c.service
                            && o.metric == MetricKind::Availability
                    })
                    .map(|o| {
                        if variant == c.variant {
                            o.variant_mean
                        } else {
                            o.baseline_mean
                        }
                    })
            };
            let pct = |x: Option<f64>| x.map_or("-".into(), |x| MetricKind::Availability.format(x));
            format!(
                "The latency of successes of `{}` at `{}` is not comparable with `{}`'s: it \
                 answers {} of requests successfully against {}, so its successes are a \
                 different set of requests. Read \"within SLO\" and the latency of all \
                 requests instead.",
                c.variant,
                c.service,
                c.baseline,
                pct(avail(&c.variant)),
                pct(avail(&c.baseline))
            )
        })
        .collect()
}
