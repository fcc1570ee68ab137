//! Designs to compare: the base scenario and its variants (and grid points), each compiled into
//! its own [`World`], and the `expect` assertions checked against the names they use.

use super::build;
use super::expect::check_expects;
use crate::error::{Problem, ScenarioError, ScenarioWarnings};
use crate::format::reader::{line_col, Node};
use crate::format::variants::{patches, Patch};
use crate::format::{parse, patch, read_source};
use crate::spec::Scenario;
use crate::world::World;
use std::path::Path;
use std::sync::Arc;

/// One design: a named world.
#[derive(Clone, Debug)]
pub struct Design {
    pub name: String,
    pub about: String,
    /// Shared with [`Study::base`] when the design is the scenario as written (a world of a
    /// thousand services is megabytes).
    pub world: Arc<World>,
    /// For a grid point: (parameter label, value) of each grid parameter, in grid order.
    pub grid: Vec<(String, String)>,
}

/// A scenario with everything needed for many runs: its designs and its assertions.
#[derive(Clone, Debug)]
pub struct Study {
    pub file: String,
    pub spec: Scenario,
    pub designs: Vec<Design>,
    /// The scenario as written, without any variant's changes (`faultline run` without
    /// `--variant`).
    pub base: Arc<World>,
    /// The base scenario's warnings, then those a variant adds.
    pub warnings: ScenarioWarnings,
}

/// Reads a scenario file and compiles every variant.
pub fn load_study_file(path: &Path) -> Result<Study, ScenarioError> {
    let file = path.display().to_string();
    let source = read_source(path)?;
    load_study(&file, &source)
}

/// Compiles the base scenario and each variant; checks variant names and expectations.
pub fn load_study(file: &str, source: &str) -> Result<Study, ScenarioError> {
    let spec = parse(file, source)?;
    let base = Arc::new(build(file, Some(source), spec.clone())?);
    let mut labels = fault_labels([&*base]);
    let mut warnings = base.warnings.clone();
    let mut problems = Vec::new();
    let designs = if spec.variants.is_empty() && spec.grid.is_empty() {
        vec![Design {
            name: "base".into(),
            about: spec.about.clone(),
            world: Arc::clone(&base),
            grid: Vec::new(),
        }]
    } else {
        variant_designs(file, source, &spec, &mut problems)
    };
    check_expects(&spec, &base_names(&spec), &mut problems);
    for label in fault_labels(designs.iter().map(|d| &*d.world)) {
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    check_detected(&spec, &labels, &mut problems);
    locate_expects(source, &mut problems);
    if !problems.is_empty() {
        return Err(ScenarioError {
            file: file.to_string(),
            problems,
        });
    }
    variant_warnings(&mut warnings, &designs);
    Ok(Study {
        file: file.to_string(),
        spec,
        designs,
        base,
        warnings,
    })
}

/// What [`Study::scenario_hash`] hashes, as the run log names it.
pub const SCENARIO_HASHED: &str = "scenario";

impl Study {
    /// A hash of what the study simulates, not of its text: the parsed scenario of every design
    /// (each variant and grid point as its changes made it), by name, in order. Comments,
    /// layout, the order of a `set`'s entries and the spelling of a path leave it alone; a
    /// changed value, name, description or expectation changes it.
    pub fn scenario_hash(&self) -> u64 {
        let plain = |spec: &Scenario| {
            // The designs carry the variants' changes; their text (`RawValue`s) is left out.
            let mut spec = spec.clone();
            spec.variants.clear();
            spec.grid.clear();
            ron::to_string(&spec).expect("a parsed scenario serializes")
        };
        let mut parts: Vec<String> = vec![plain(&self.spec)];
        for d in &self.designs {
            parts.push(d.name.clone());
            parts.push(plain(&d.world.spec));
        }
        let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        sim_core::rng::stable_hash(&bytes)
    }
}

/// Adds to the base's warnings those a variant's changes bring, each said of its variant.
fn variant_warnings(warnings: &mut ScenarioWarnings, designs: &[Design]) {
    let base = warnings.problems.clone();
    for d in designs {
        for w in &d.world.warnings.problems {
            let known = |b: &Problem| b.path == w.path && b.message == w.message;
            if !base.iter().any(known) {
                warnings.problems.push(Problem {
                    position: None,
                    message: format!("in variant `{}`: {}", d.name, w.message),
                    ..w.clone()
                });
            }
        }
    }
}

/// What reports call the faults and rollouts of these worlds (a variant may change a fault's
/// label), each once, in order: what `Detected(fault:)` names.
pub fn fault_labels<'w>(worlds: impl IntoIterator<Item = &'w World>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in worlds {
        let faults = w.faults.iter().map(|f| f.label.clone());
        let rollouts = w.deploys.iter().map(|d| d.label.clone());
        for label in faults.chain(rollouts) {
            if !out.contains(&label) {
                out.push(label);
            }
        }
    }
    out
}

/// A `Detected(fault:)` must name a fault or rollout that some design has (its label, or the
/// start of one), or `check` would only find out after every run.
fn check_detected(spec: &Scenario, labels: &[String], problems: &mut Vec<Problem>) {
    for (i, e) in spec.expect.iter().enumerate() {
        let crate::spec::Expect::Detected { fault, .. } = e else {
            continue;
        };
        if fault.is_empty() || labels.iter().any(|l| l.starts_with(fault.as_str())) {
            continue;
        }
        let known = if labels.is_empty() {
            "the scenario has no faults or rollouts".to_string()
        } else {
            format!(
                "faults and rollouts: {}",
                labels
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        problems.push(Problem {
            position: None,
            path: Some(format!("expect[{i}].fault")),
            message: format!("no fault or rollout is called `{fault}` ({known})"),
            suggestion: crate::error::closest(fault, labels.iter().map(String::as_str))
                .or_else(|| same_words(fault, labels)),
        });
    }
}

/// The label with the same words as `name` in another order (`slow catalog`, `catalog slow`).
fn same_words(name: &str, labels: &[String]) -> Option<String> {
    let words = |s: &str| {
        let mut w: Vec<String> = s.split_whitespace().map(str::to_lowercase).collect();
        w.sort();
        w
    };
    labels.iter().find(|l| words(l) == words(name)).cloned()
}

/// Gives the problems of `expect[i]` (which the checks of expectations find by path) the line
/// and column of the text they are about.
fn locate_expects(source: &str, problems: &mut [Problem]) {
    use crate::format::reader::{Seg, SourceMap};
    let map = SourceMap::new(source);
    for p in problems.iter_mut().filter(|p| p.position.is_none()) {
        let Some(rest) = p.path.as_deref().and_then(|s| s.strip_prefix("expect[")) else {
            continue;
        };
        let Some((i, field)) = rest.split_once(']') else {
            continue;
        };
        let Ok(i) = i.parse::<usize>() else { continue };
        let mut path = vec![Seg::Field("expect".into()), Seg::Index(i)];
        if let Some(f) = field.strip_prefix('.') {
            path.push(Seg::Field(f.into()));
        }
        p.position = map.find(&path).map(|o| line_col(source, o));
    }
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
        // A consumer group's processing is a workload named after it.
        .chain(
            (spec.services.iter())
                .filter(|s| s.consumes.is_some())
                .map(|s| crate::world::users_name(&s.name)),
        )
        .collect()
}

/// The most instances and hosts all the designs of a study may place together: every design's
/// world is held at once.
pub const PLACED_MAX: u64 = 4_000_000;

/// Compiles each design of a scenario with variants or a grid, from the text patched for it.
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
    let mut placed: u64 = 0;
    for (i, v) in all.iter().enumerate() {
        if placed > PLACED_MAX {
            problems.push(Problem {
                position: None,
                path: Some("variants".into()),
                message: format!(
                    "the first {i} of {} designs already place {placed} instances and hosts, more than Faultline holds at once (at most {PLACED_MAX}); use fewer variants or grid values, or smaller designs",
                    all.len()
                ),
                suggestion: None,
            });
            break;
        }
        if v.name.trim().is_empty() {
            problems.push(Problem {
                position: None,
                path: Some(format!("variants[{i}].name")),
                message: "a variant needs a name".into(),
                suggestion: None,
            });
        }
        if let Some(first) = all[..i].iter().position(|o| o.name == v.name) {
            // Without a grid, the designs are the file's variants, in its order.
            let in_file = spec.grid.is_empty() && all.len() == spec.variants.len();
            let line = |k: usize| variant_name_at(&root, source, k).filter(|_| in_file);
            let lines = match (line(first), line(i)) {
                (Some((a, _)), Some((b, _))) => format!(" (lines {a} and {b})"),
                _ => String::new(),
            };
            problems.push(Problem {
                position: line(i),
                path: Some(format!("variants.{}", v.name)),
                message: format!("variant `{}` is defined twice{lines}", v.name),
                suggestion: None,
            });
            continue;
        }
        match variant_design(file, source, &root, v) {
            Ok(design) => {
                placed += (design.world.instances.len() + design.world.hosts.len()) as u64;
                designs.push(design)
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    designs
}

/// Compiles the design that a patch makes of the text; its problems are at the variant's path.
fn variant_design(
    file: &str,
    source: &str,
    root: &Node,
    v: &Patch,
) -> Result<Design, Vec<Problem>> {
    let path = format!("variants.{}", v.name);
    let text = patch::apply(source, root, &v.set, &v.unset).map_err(|e| {
        vec![Problem {
            position: e
                .path
                .as_deref()
                .and_then(|p| path_written_at(root, p))
                .map(|o| line_col(source, o)),
            path: Some(path.clone()),
            message: e.message,
            suggestion: None,
        }]
    })?;
    // Positions in the patched text would mislead; the variant's path says where to look.
    let world = parse(file, &text)
        .and_then(|vspec| build(file, None, vspec))
        .map_err(|e| {
            e.problems
                .into_iter()
                .map(|p| Problem {
                    position: None,
                    path: Some(match p.path {
                        Some(inner) => format!("{path}: {inner}"),
                        None => path.clone(),
                    }),
                    message: p.message,
                    suggestion: p.suggestion,
                })
                .collect::<Vec<_>>()
        })?;
    Ok(Design {
        name: v.name.clone(),
        about: v.about.clone(),
        world: Arc::new(world),
        grid: v.grid.clone(),
    })
}

/// Where the file writes `path` as a variant's or the grid's path, to point an error at it.
fn path_written_at(root: &Node, path: &str) -> Option<usize> {
    ["variants", "grid"]
        .iter()
        .filter_map(|f| root.field(f))
        .find_map(|f| f.value.find_string(path))
        .map(|n| n.span().start)
}

/// Where the name of the `k`-th variant of the file is (a grid point's name is not written).
fn variant_name_at(root: &Node, source: &str, k: usize) -> Option<(usize, usize)> {
    let variants = root.field("variants")?.value.elements();
    let name = variants.get(k)?.field("name")?;
    Some(line_col(source, name.value.span().start))
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
    fn an_index_reads_with_or_without_a_dot_and_unset_removes_a_list_entry() {
        let text = BASE
            .replace(
                "    variants: [",
                "    faults: [(at: \"1s\", lasts: \"1s\", what: Outage(service: \"db\")),\n              (at: \"5s\", what: Slowdown(service: \"api\", factor: 2))],\n    variants: [",
            )
            .replace(
                r#"(name: "lone", unset: ["services.api.calls"]),"#,
                r#"(name: "dot", set: {"services.[1].workers": 3}), (name: "bare", set: {"services[1].workers": 3}),
        (name: "calm", unset: ["faults[0]"]), (name: "quiet", unset: ["faults.[1]", "faults[0]"]),"#,
            );
        let study = load_study("v.ron", &text).unwrap();
        let design = |n: &str| &study.designs.iter().find(|d| d.name == n).unwrap().world;
        assert_eq!(design("dot").services[1].workers, 3);
        assert_eq!(design("bare").services[1].workers, 3);
        assert_eq!(design("small").faults.len(), 2);
        assert_eq!(design("calm").faults.len(), 1);
        assert_eq!(
            design("calm").spec.faults[0].at,
            design("small").spec.faults[1].at
        );
        assert!(design("quiet").faults.is_empty());
    }

    #[test]
    fn no_variants_means_one_base_design() {
        let text = BASE.split("    variants:").next().unwrap().to_string() + ")";
        let study = load_study("v.ron", &text).unwrap();
        assert_eq!(study.designs.len(), 1);
        assert_eq!(study.designs[0].name, "base");
    }
}
