//! Variants and grid points as patches on the scenario text: each declared variant (or the base
//! alone) crossed with every point of the grid, as the `set` and `unset` lists that
//! [`super::patch::apply`] applies.

use crate::error::Problem;
use crate::spec::Scenario;

/// Most designs (variants times grid points) one scenario may make.
pub const DESIGNS_MAX: u64 = 1000;

/// A design to build: its name, description and patch.
pub struct Patch {
    pub name: String,
    pub about: String,
    /// (path, RON text) of the values to set.
    pub set: Vec<(String, String)>,
    /// Paths of the fields to remove.
    pub unset: Vec<String>,
    /// For a grid point: (parameter label, value) of each grid parameter, in grid order.
    pub grid: Vec<(String, String)>,
}

/// The declared variants (or the base alone), each crossed with every point of the grid.
/// Problems with the grid go to `problems`.
pub fn patches(spec: &Scenario, problems: &mut Vec<Problem>) -> Vec<Patch> {
    let mut out = declared(spec);
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
                message: format!("`{}` has no values to sweep", super::patch::canonical(path)),
                suggestion: None,
            });
            continue;
        }
        let values: Vec<String> = values
            .iter()
            .map(|raw| raw.get_ron().trim().to_string())
            .collect();
        out = cross(out, path, &values);
    }
    out
}

/// The declared variants, or the base alone (with an empty name) when there are none.
fn declared(spec: &Scenario) -> Vec<Patch> {
    if spec.variants.is_empty() {
        return vec![Patch {
            name: String::new(),
            about: spec.about.clone(),
            set: Vec::new(),
            unset: Vec::new(),
            grid: Vec::new(),
        }];
    }
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
}

/// Every patch crossed with every value of the grid parameter at `path`.
fn cross(patches: Vec<Patch>, path: &str, values: &[String]) -> Vec<Patch> {
    // A short label: the last two steps of the path (`db.workers`, `calls[0].timeout`).
    let label = match super::patch::segments(path) {
        Ok(steps) => super::patch::join(&steps[steps.len().saturating_sub(2)..]),
        Err(_) => path.to_string(),
    };
    patches
        .into_iter()
        .flat_map(|p| {
            let label = &label;
            values.iter().map(move |value| {
                let point = format!("{label}={}", value.trim_matches('"'));
                let mut set = p.set.clone();
                set.push((path.to_string(), value.clone()));
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
        .collect()
}
