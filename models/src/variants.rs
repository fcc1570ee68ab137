//! Designs to compare: the base scenario and its variants, each compiled into its own [`World`],
//! and the `expect` assertions checked against the names they use.

use crate::error::{closest, Problem, ScenarioError};
use crate::format::reader::line_col;
use crate::patch;
use crate::spec::{Expect, Metric, Scenario};
use crate::validate::{build, parse};
use crate::world::World;
use std::path::Path;

/// One design: a named world.
#[derive(Clone, Debug)]
pub struct Design {
    pub name: String,
    pub about: String,
    pub world: World,
    /// For a grid point: (parameter label, value) of each grid parameter, in grid order.
    pub grid: Vec<(String, String)>,
}

/// A scenario with everything needed for many runs: its designs and its assertions.
#[derive(Clone, Debug)]
pub struct Study {
    pub file: String,
    pub spec: Scenario,
    pub designs: Vec<Design>,
}

/// Reads a scenario file and compiles every variant.
pub fn load_study_file(path: &Path) -> Result<Study, ScenarioError> {
    let file = path.display().to_string();
    let source = crate::validate::read_source(path)?;
    load_study(&file, &source)
}

/// Compiles the base scenario and each variant; checks variant names and expectations.
pub fn load_study(file: &str, source: &str) -> Result<Study, ScenarioError> {
    let spec = parse(file, source)?;
    let base = build(file, Some(source), spec.clone())?;
    let mut problems = Vec::new();
    let designs = if spec.variants.is_empty() && spec.grid.is_empty() {
        vec![Design {
            name: "base".into(),
            about: spec.about.clone(),
            world: base,
            grid: Vec::new(),
        }]
    } else {
        variant_designs(file, source, &spec, &mut problems)
    };
    check_expects(&spec, &base_names(&spec), &mut problems);
    if !problems.is_empty() {
        return Err(ScenarioError {
            file: file.to_string(),
            problems,
        });
    }
    Ok(Study {
        file: file.to_string(),
        spec,
        designs,
    })
}

fn base_names(spec: &Scenario) -> Vec<String> {
    spec.services
        .iter()
        .map(|s| s.name.clone())
        .chain(
            spec.workload
                .iter()
                .map(|w| crate::world::users_name(w.name.as_deref().unwrap_or(&w.entry))),
        )
        .collect()
}

/// A variant to build: its name, description and patch.
struct Patch {
    name: String,
    about: String,
    set: Vec<(String, String)>,
    unset: Vec<String>,
    grid: Vec<(String, String)>,
}

/// Most designs (variants times grid points) one scenario may make.
pub const DESIGNS_MAX: u64 = 1000;

/// The declared variants (or the base alone), each crossed with every point of the grid.
fn patches(spec: &Scenario, problems: &mut Vec<Problem>) -> Vec<Patch> {
    let mut out: Vec<Patch> = if spec.variants.is_empty() {
        vec![Patch {
            name: String::new(),
            about: spec.about.clone(),
            set: Vec::new(),
            unset: Vec::new(),
            grid: Vec::new(),
        }]
    } else {
        spec.variants
            .iter()
            .map(|v| Patch {
                name: v.name.clone(),
                about: v.about.clone(),
                set: v
                    .set
                    .iter()
                    .map(|(k, raw)| (k.clone(), raw.get_ron().trim().to_string()))
                    .collect(),
                unset: v.unset.clone(),
                grid: Vec::new(),
            })
            .collect()
    };
    // Each design is compiled and simulated: put a limit on how many a grid may make.
    let designs = spec.grid.iter().fold(out.len() as u64, |n, (_, values)| {
        n.saturating_mul(values.len().max(1) as u64)
    });
    if designs > DESIGNS_MAX {
        problems.push(Problem {
            position: None,
            path: Some("grid".into()),
            message: format!("the grid makes {designs} variants, more than the limit of {DESIGNS_MAX}; sweep fewer values"),
            suggestion: None,
        });
        return Vec::new();
    }
    for (i, (path, values)) in spec.grid.iter().enumerate() {
        if values.is_empty() {
            problems.push(Problem {
                position: None,
                path: Some(format!("grid[{i}]")),
                message: format!("`{path}` has no values to sweep"),
                suggestion: None,
            });
            continue;
        }
        // A short label: the last two parts of the path (`db.workers`).
        let parts: Vec<&str> = path.split('.').collect();
        let label = parts[parts.len().saturating_sub(2)..].join(".");
        out = out
            .into_iter()
            .flat_map(|p| {
                let label = &label;
                values.iter().map(move |raw| {
                    let value = raw.get_ron().trim().to_string();
                    let point = format!("{label}={}", value.trim_matches('"'));
                    let mut set = p.set.clone();
                    set.push((path.clone(), value.clone()));
                    let mut grid = p.grid.clone();
                    grid.push((label.clone(), value.trim_matches('"').to_string()));
                    let name = if p.name.is_empty() {
                        point
                    } else {
                        format!("{} {point}", p.name)
                    };
                    Patch {
                        name,
                        about: p.about.clone(),
                        set,
                        unset: p.unset.clone(),
                        grid,
                    }
                })
            })
            .collect();
    }
    out
}

fn variant_designs(
    file: &str,
    source: &str,
    spec: &Scenario,
    problems: &mut Vec<Problem>,
) -> Vec<Design> {
    let root = match patch::parse(source) {
        Ok(root) => root,
        Err(e) => {
            problems.push(Problem {
                position: e.offset.map(|o| line_col(source, o)),
                path: None,
                message: e.message,
                suggestion: None,
            });
            return Vec::new();
        }
    };
    let mut designs = Vec::new();
    let all = patches(spec, problems);
    for (i, v) in all.iter().enumerate() {
        let path = format!("variants.{}", v.name);
        let problem = |message: String| Problem {
            position: None,
            path: Some(path.clone()),
            message,
            suggestion: None,
        };
        if v.name.trim().is_empty() {
            problems.push(Problem {
                position: None,
                path: Some(format!("variants[{i}].name")),
                message: "a variant needs a name".into(),
                suggestion: None,
            });
        }
        if all[..i].iter().any(|o| o.name == v.name) {
            problems.push(problem(format!("variant `{}` is defined twice", v.name)));
            continue;
        }
        let text = match patch::apply(source, &root, &v.set, &v.unset) {
            Ok(text) => text,
            Err(e) => {
                problems.push(problem(e.message));
                continue;
            }
        };
        // Positions in the patched text would mislead; the variant's path says where to look.
        let world = parse(file, &text).and_then(|vspec| build(file, None, vspec));
        match world {
            Ok(world) => designs.push(Design {
                name: v.name.clone(),
                about: v.about.clone(),
                world,
                grid: v.grid.clone(),
            }),
            Err(e) => problems.extend(e.problems.into_iter().map(|p| Problem {
                position: None,
                path: Some(match p.path {
                    Some(inner) => format!("{path}: {inner}"),
                    None => path.clone(),
                }),
                message: p.message,
                suggestion: p.suggestion,
            })),
        }
    }
    designs
}

/// The parts of a threshold assertion (every `Expect` but `Better` and `Detected`), in one shape.
pub struct Threshold<'a> {
    pub metric: crate::spec::Metric,
    pub variant: Option<&'a str>,
    /// Durations in ns.
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
    pub in_runs: Option<f64>,
    /// Whether the bounds are fractions between 0 and 1.
    pub fraction: bool,
}

impl Expect {
    /// This assertion as a threshold on a metric, or `None` for `Better` and `Detected`.
    pub fn threshold(&self) -> Option<Threshold<'_>> {
        let ns = |d: &Option<crate::spec::Dur>| d.map(|d| d.0.as_ns() as f64);
        let s = |service: &String| service.clone();
        let (metric, variant, at_least, at_most, in_runs, fraction) = match self {
            Expect::Availability {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::Availability {
                    service: s(service),
                },
                variant,
                *at_least,
                *at_most,
                in_runs,
                true,
            ),
            Expect::ErrorRate {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::ErrorRate {
                    service: s(service),
                },
                variant,
                *at_least,
                *at_most,
                in_runs,
                true,
            ),
            Expect::DegradedRate {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::DegradedRate {
                    service: s(service),
                },
                variant,
                *at_least,
                *at_most,
                in_runs,
                true,
            ),
            Expect::Latency {
                service,
                variant,
                percentile,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::Latency {
                    service: s(service),
                    percentile: *percentile,
                },
                variant,
                ns(at_least),
                ns(at_most),
                in_runs,
                false,
            ),
            Expect::Throughput {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::Throughput {
                    service: s(service),
                },
                variant,
                *at_least,
                *at_most,
                in_runs,
                false,
            ),
            Expect::LostWrites {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::LostWrites {
                    service: s(service),
                },
                variant,
                *at_least,
                *at_most,
                in_runs,
                false,
            ),
            Expect::WriteUnavailable {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::WriteUnavailable {
                    service: s(service),
                },
                variant,
                ns(at_least),
                ns(at_most),
                in_runs,
                false,
            ),
            Expect::SessionsLost {
                service,
                variant,
                at_least,
                at_most,
                in_runs,
            } => (
                crate::spec::Metric::SessionsLost {
                    service: s(service),
                },
                variant,
                *at_least,
                *at_most,
                in_runs,
                false,
            ),
            Expect::Better { .. } | Expect::Detected { .. } => return None,
        };
        Some(Threshold {
            metric,
            variant: variant.as_deref(),
            at_least,
            at_most,
            in_runs: *in_runs,
            fraction,
        })
    }
}

fn check_expects(spec: &Scenario, services: &[String], problems: &mut Vec<Problem>) {
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
        let path = format!("expect[{i}]");
        let mut report = |message: String, suggestion: Option<String>| {
            problems.push(Problem {
                position: None,
                path: Some(path.clone()),
                message,
                suggestion,
            })
        };
        let mut service = |name: &str| {
            if !services.iter().any(|s| s == name) {
                report(
                    format!("unknown service `{name}`"),
                    closest(name, services.iter().map(String::as_str)),
                );
            }
        };
        // (service, variant, whether a bound is given, bounds that are fractions, in_runs)
        let (service_name, variant_name, bounds_given, fractions, in_runs) = match e {
            Expect::Better { metric, .. } => (
                metric_service(metric).to_string(),
                None,
                true,
                Vec::new(),
                None,
            ),
            // About faults, not a service: checked against the incidents when the runs are in.
            Expect::Detected {
                variant, in_runs, ..
            } => (
                String::new(),
                variant.as_deref(),
                true,
                Vec::new(),
                *in_runs,
            ),
            _ => {
                let t = e
                    .threshold()
                    .expect("every other expectation is a threshold");
                let fractions = if t.fraction {
                    vec![("at_least", t.at_least), ("at_most", t.at_most)]
                } else {
                    Vec::new()
                };
                (
                    metric_service(&t.metric).to_string(),
                    t.variant,
                    t.at_least.is_some() || t.at_most.is_some(),
                    fractions,
                    t.in_runs,
                )
            }
        };
        if !service_name.is_empty() {
            service(&service_name);
        }
        let mut variant = |name: &str| {
            if !variant_names.contains(&name) {
                let suggestion = closest(name, variant_names.iter().copied());
                problems.push(Problem {
                    position: None,
                    path: Some(path.clone()),
                    message: format!("unknown variant `{name}`"),
                    suggestion,
                });
            }
        };
        if let Some(v) = variant_name {
            variant(v);
        }
        if let Expect::Better {
            variant: v, than, ..
        } = e
        {
            variant(v);
            variant(than);
        }
        let mut fraction = |x: f64, what: &str| {
            if !(0.0..=1.0).contains(&x) {
                problems.push(Problem {
                    position: None,
                    path: Some(path.clone()),
                    message: format!("`{what}` is a fraction between 0 and 1, not `{x}`"),
                    suggestion: None,
                });
            }
        };
        for (name, value) in fractions {
            if let Some(x) = value {
                fraction(x, name);
            }
        }
        if let Some(r) = in_runs {
            fraction(r, "in_runs");
        }
        if !bounds_given {
            problems.push(Problem {
                position: None,
                path: Some(path.clone()),
                message: "give a threshold: `at_least`, `at_most` or both".into(),
                suggestion: None,
            });
        }
        if let Expect::Better { variant, than, .. } = e {
            if variant == than {
                problems.push(Problem {
                    position: None,
                    path: Some(path.clone()),
                    message: format!(
                        "`Better` compares two different variants, not `{variant}` with itself"
                    ),
                    suggestion: None,
                });
            }
        }
    }
}

/// The service a metric is about.
pub fn metric_service(m: &Metric) -> &str {
    match m {
        Metric::Availability { service }
        | Metric::ErrorRate { service }
        | Metric::DegradedRate { service }
        | Metric::Latency { service, .. }
        | Metric::Throughput { service }
        | Metric::Goodput { service }
        | Metric::Utilization { service }
        | Metric::LostWrites { service }
        | Metric::WriteUnavailable { service }
        | Metric::SessionsLost { service } => service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"Scenario(
    name: "v",
    horizon: "10s",
    services: [
        (name: "api", workers: 2, work: Exponential(mean: "5ms"), calls: [Call(to: "db")]),
        (name: "db", workers: 1, work: Constant("1ms")),
    ],
    workload: [(entry: "api", arrivals: Poisson(rate_per_s: 100))],
    variants: [
        (name: "small"),
        (name: "big", set: {"services.api.workers": 8, "services.db.work": Exponential(mean: "2ms")}),
        (name: "lone", unset: ["services.api.calls"]),
    ],
    expect: [Better(metric: Latency(service: "api", percentile: P99), variant: "big", than: "small")],
)"#;

    #[test]
    fn variants_patch_the_base() {
        let study = load_study("v.ron", BASE).unwrap();
        let names: Vec<&str> = study.designs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["small", "big", "lone"]);
        assert_eq!(study.designs[0].world.services[0].workers, 2);
        assert_eq!(study.designs[1].world.services[0].workers, 8);
        assert!(matches!(
            study.designs[1].world.services[1].work,
            crate::dist::Dist::Exponential(_)
        ));
        assert!(study.designs[2].world.services[0].steps.is_empty());
    }

    #[test]
    fn bad_variants_and_expects_are_reported_together() {
        let text = BASE
            .replace(
                r#""services.api.workers": 8"#,
                r#""services.api.wokers": 8"#,
            )
            .replace(r#"than: "small""#, r#"than: "smal""#)
            .replace(
                r#"service: "api", percentile"#,
                r#"service: "apx", percentile"#,
            );
        let e = load_study("v.ron", &text).unwrap_err().to_string();
        assert!(
            e.contains("error in `variants.big") && e.contains("unknown field `wokers`"),
            "{e}"
        );
        assert!(!e.contains("unknown variant `big`"), "{e}");
        assert!(
            e.contains("unknown variant `smal`; did you mean `small`?"),
            "{e}"
        );
        assert!(
            e.contains("unknown service `apx`; did you mean `api`?"),
            "{e}"
        );
    }

    #[test]
    fn a_grid_crosses_every_variant() {
        let text = BASE.replace("    expect:", "    grid: [(\"services.db.workers\", [1, 2]), (\"services.api.queue\", [5, \"unbounded\"])],\n    expect:")
            .replace("than: \"small\"", "than: \"small db.workers=1 api.queue=5\"")
            .replace("variant: \"big\"", "variant: \"big db.workers=2 api.queue=unbounded\"");
        let study = load_study("v.ron", &text).unwrap();
        assert_eq!(study.designs.len(), 12);
        assert_eq!(
            study.designs[1].name,
            "small db.workers=1 api.queue=unbounded"
        );
        let d = &study.designs[7];
        assert_eq!(d.name, "big db.workers=2 api.queue=unbounded");
        assert_eq!(
            (
                d.world.services[0].workers,
                d.world.services[1].workers,
                d.world.services[0].queue_cap
            ),
            (8, 2, u32::MAX)
        );
    }

    #[test]
    fn a_grid_too_large_is_refused() {
        let values = (1..=11)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let text = BASE.replace(
            "    expect:",
            &format!("    grid: [(\"services.api.workers\", [{values}]), (\"services.db.workers\", [{values}]), (\"services.api.queue\", [{values}])],\n    expect:"),
        );
        let e = load_study("v.ron", &text).unwrap_err().to_string();
        assert!(
            e.contains("the grid makes 3993 variants, more than the limit of 1000"),
            "{e}"
        );
    }

    #[test]
    fn variants_read_any_ron_the_parser_reads() {
        // An attribute and a raw name: a second reader for patches, beside the one for error
        // positions, once refused both.
        let text = format!(
            "#![enable(implicit_some)]\n{}",
            BASE.replacen(r#"name: "v""#, r#"r#name: "v""#, 1)
        );
        let study = load_study("v.ron", &text).unwrap();
        assert_eq!(study.designs.len(), 3);
    }

    #[test]
    fn no_variants_means_one_base_design() {
        let text = BASE.split("    variants:").next().unwrap().to_string() + ")";
        let study = load_study("v.ron", &text).unwrap();
        assert_eq!(study.designs.len(), 1);
        assert_eq!(study.designs[0].name, "base");
    }
}
