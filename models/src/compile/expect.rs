//! Expectations (`expect`): each names services and variants that must exist, and bounds that
//! must make sense. [`Threshold`] is the one view of a threshold assertion that both this check
//! and `reports::check` read.

use crate::error::{closest, Problem};
use crate::format::variants::patches;
use crate::spec::{Dur, Expect, Metric, Percentile, Scenario};

/// The parts of a threshold assertion (every `Expect` but `Better` and `Detected`), in one shape.
pub struct Threshold<'a> {
    pub metric: Metric,
    pub variant: Option<&'a str>,
    /// Durations in ns.
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
    pub in_runs: Option<f64>,
    /// Whether the bounds are fractions between 0 and 1.
    pub fraction: bool,
}

/// The variant, at least, at most, and in runs of a threshold assertion.
type Bounds<'a> = (Option<&'a str>, Option<f64>, Option<f64>, Option<f64>);

impl Expect {
    /// This assertion as a threshold on a metric, or `None` for `Better` and `Detected`.
    pub fn threshold(&self) -> Option<Threshold<'_>> {
        let (variant, at_least, at_most, in_runs) = self.bounds()?;
        Some(Threshold {
            metric: self.threshold_metric()?,
            variant,
            at_least,
            at_most,
            in_runs,
            fraction: matches!(
                self,
                Expect::Availability { .. }
                    | Expect::WithinSlo { .. }
                    | Expect::ErrorRate { .. }
                    | Expect::DegradedRate { .. }
                    | Expect::WaitProbability { .. }
                    | Expect::InstancesUp { .. }
                    | Expect::HitRatio { .. }
            ),
        })
    }

    /// The variant, the bounds (durations in ns) and the share of runs of a threshold assertion.
    fn bounds(&self) -> Option<Bounds<'_>> {
        let ns = |d: &Option<Dur>| d.map(|d| d.0.as_ns() as f64);
        // The threshold assertions share their fields; the macro spells the match once.
        macro_rules! fields {
            ($($kind:ident),* => $f:expr) => {
                match self {
                    $(Expect::$kind { variant, at_least, at_most, in_runs, .. } => {
                        return Some((variant.as_deref(), $f(at_least), $f(at_most), *in_runs))
                    })*
                    _ => {}
                }
            };
        }
        let plain = |x: &Option<f64>| *x;
        fields!(Availability, WithinSlo, WaitProbability, InSystem, InstancesUp, ErrorRate,
            DegradedRate, Throughput, LostWrites, StaleReads, SessionsLost, HitRatio, Backlog, DeadLetters,
            Duplicates, DivergentWrites => plain);
        fields!(Latency, WriteUnavailable, RedundancyLost, Wait => ns);
        None
    }

    /// The metric a threshold assertion bounds.
    fn threshold_metric(&self) -> Option<Metric> {
        // The assertions that name only a service map to the metric of the same name.
        macro_rules! same {
            ($($kind:ident),*) => {
                match self {
                    $(Expect::$kind { service, .. } => {
                        return Some(Metric::$kind { service: service.clone() })
                    })*
                    _ => {}
                }
            };
        }
        same!(
            Availability,
            ErrorRate,
            DegradedRate,
            WithinSlo,
            WaitProbability,
            InSystem,
            Throughput,
            LostWrites,
            WriteUnavailable,
            RedundancyLost,
            StaleReads,
            SessionsLost,
            HitRatio,
            Backlog,
            DeadLetters,
            Duplicates,
            DivergentWrites
        );
        Some(match self {
            Expect::Latency {
                service,
                percentile,
                of,
                ..
            } => Metric::Latency {
                service: service.clone(),
                percentile: *percentile,
                of: *of,
            },
            Expect::Wait {
                service,
                percentile,
                ..
            } => Metric::Wait {
                service: service.clone(),
                percentile: *percentile,
            },
            Expect::InstancesUp { service, count, .. } => Metric::InstancesUp {
                service: service.clone(),
                count: *count,
            },
            _ => return None,
        })
    }
}

/// The service a metric is about.
pub fn metric_service(m: &Metric) -> &str {
    match m {
        Metric::Availability { service }
        | Metric::WithinSlo { service }
        | Metric::Wait { service, .. }
        | Metric::WaitProbability { service }
        | Metric::InSystem { service }
        | Metric::InstancesUp { service, .. }
        | Metric::ErrorRate { service }
        | Metric::DegradedRate { service }
        | Metric::Latency { service, .. }
        | Metric::Throughput { service }
        | Metric::Goodput { service }
        | Metric::Utilization { service }
        | Metric::LostWrites { service }
        | Metric::WriteUnavailable { service }
        | Metric::RedundancyLost { service }
        | Metric::StaleReads { service }
        | Metric::SessionsLost { service }
        | Metric::HitRatio { service }
        | Metric::Backlog { service }
        | Metric::DeadLetters { service }
        | Metric::Duplicates { service }
        | Metric::DivergentWrites { service } => service,
    }
}

/// What an expectation asks of the names and numbers of a scenario.
struct Asks<'e> {
    /// The service it is about; empty for one about faults.
    service: String,
    variant: Option<&'e str>,
    /// Whether it gives a bound (or needs none).
    bounds_given: bool,
    /// Bounds that are fractions, by name.
    fractions: Vec<(&'static str, Option<f64>)>,
    in_runs: Option<f64>,
}

fn asks(e: &Expect) -> Asks<'_> {
    match e {
        Expect::Better { metric, .. } => Asks {
            service: metric_service(metric).to_string(),
            variant: None,
            bounds_given: true,
            fractions: Vec::new(),
            in_runs: None,
        },
        // About faults, not a service: checked against the incidents when the runs are in.
        Expect::Detected {
            variant, in_runs, ..
        } => Asks {
            service: String::new(),
            variant: variant.as_deref(),
            bounds_given: true,
            fractions: Vec::new(),
            in_runs: *in_runs,
        },
        _ => {
            let t = e
                .threshold()
                .expect("every other expectation is a threshold");
            let fractions = if t.fraction {
                vec![("at_least", t.at_least), ("at_most", t.at_most)]
            } else {
                Vec::new()
            };
            Asks {
                service: metric_service(&t.metric).to_string(),
                variant: t.variant,
                bounds_given: t.at_least.is_some() || t.at_most.is_some(),
                fractions,
                in_runs: t.in_runs,
            }
        }
    }
}

/// Checks every expectation against the names of the scenario's services (and workloads' users)
/// and of its designs.
pub(super) fn check_expects(spec: &Scenario, services: &[String], problems: &mut Vec<Problem>) {
    let names: Vec<String> = if spec.variants.is_empty() && spec.grid.is_empty() {
        vec!["base".to_string()]
    } else {
        patches(spec, &mut Vec::new())
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    let variant_names: Vec<&str> = names.iter().map(String::as_str).collect();
    for (i, e) in spec.expect.iter().enumerate() {
        check_expect(
            e,
            &format!("expect[{i}]"),
            services,
            &variant_names,
            problems,
        );
    }
}

/// Whether an expectation about a wait names a percentile that is measured (P50, P95, P99, Mean).
fn wait_percentile_measured(e: &Expect) -> bool {
    let wait = match e {
        Expect::Wait { percentile, .. } => *percentile,
        Expect::Better {
            metric: Metric::Wait { percentile, .. },
            ..
        } => *percentile,
        _ => return true,
    };
    matches!(
        wait,
        Percentile::P50 | Percentile::P95 | Percentile::P99 | Percentile::Mean
    )
}

/// Checks one expectation, written at `path`.
fn check_expect(
    e: &Expect,
    path: &str,
    services: &[String],
    variants: &[&str],
    problems: &mut Vec<Problem>,
) {
    let mut report = |message: String, suggestion: Option<String>| {
        problems.push(Problem {
            position: None,
            path: Some(path.to_string()),
            message,
            suggestion,
        })
    };
    let asks = asks(e);
    let name = asks.service.as_str();
    if !name.is_empty() && !services.iter().any(|s| s == name) {
        report(
            format!("unknown service `{name}`"),
            closest(name, services.iter().map(String::as_str)),
        );
    }
    let compared = match e {
        Expect::Better { variant, than, .. } => vec![variant.as_str(), than.as_str()],
        _ => Vec::new(),
    };
    for v in asks.variant.into_iter().chain(compared) {
        if !variants.contains(&v) {
            report(
                format!("unknown variant `{v}`"),
                closest(v, variants.iter().copied()),
            );
        }
    }
    let fractions = asks
        .fractions
        .into_iter()
        .chain([("in_runs", asks.in_runs)]);
    for (what, x) in fractions.filter_map(|(what, x)| Some((what, x?))) {
        if !(0.0..=1.0).contains(&x) {
            report(
                format!("`{what}` is a fraction between 0 and 1, not `{x}`"),
                None,
            );
        }
    }
    if !asks.bounds_given {
        report(
            "give a threshold: `at_least`, `at_most` or both".into(),
            None,
        );
    }
    if !wait_percentile_measured(e) {
        report(
            "a wait is measured at `P50`, `P95`, `P99` or `Mean`".into(),
            None,
        );
    }
    if let Expect::Better { variant, than, .. } = e {
        if variant == than {
            report(
                format!("`Better` compares two different variants, not `{variant}` with itself"),
                None,
            );
        }
    }
}
