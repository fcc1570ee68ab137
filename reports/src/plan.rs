//! `faultline plan` as text: per pool the load and the capacity, the call paths with their
//! worst-case retry amplification, and the warnings ([`models::plan`] works them out).

use crate::format::fmt_ns;
use crate::table::Table;
use models::error::ScenarioWarnings;
use models::plan::Plan;
use std::fmt::Write;

/// The plan of scenario `scenario` in file `file`, as a table, the paths and the warnings.
pub fn render(plan: &Plan, scenario: &str, file: &str) -> String {
    let mut out = format!(
        "plan of scenario `{scenario}` (worked out from the file, nothing simulated): requests per second over the measured window (offered) and at the workloads' peak; capacity = instances × workers / mean work\n"
    );
    let mut t = Table::new(&[
        "service",
        "instances",
        "workers",
        "mean work",
        "capacity/s",
        "offered/s",
        "peak/s",
        "util",
        "worst/s",
        "worst util",
    ]);
    for r in &plan.rows {
        t.row(vec![
            r.name.clone(),
            r.instances.to_string(),
            r.workers.to_string(),
            fmt_ns(r.work_mean_ns),
            rate(r.capacity_per_s),
            rate(r.offered_per_s),
            rate(r.peak_per_s),
            format!("{:.2}", r.utilization()),
            rate(r.worst_per_s),
            format!("{:.2}", r.utilization_worst()),
        ]);
    }
    out.push_str(&t.render());
    out.push_str("util: at the peak, first attempts only, local work only (a thread-per-request worker is also held while its calls are out, so it is busier; an async one is not); worst: every attempt a retry policy allows, capped by budgets\n");
    out.push_str(
        "\ncall paths, with the attempts one user request may make at the last hop at worst:\n",
    );
    for p in &plan.paths {
        let _ = writeln!(out, "  {}  {:.2}x", p.hops.join(" -> "), p.amplification);
    }
    if plan.truncated {
        out.push_str("  (stopped following paths at 100,000: the graph has more)\n");
    }
    if plan.warnings.is_empty() {
        out.push_str("\nno warnings\n");
    } else {
        let warnings = ScenarioWarnings {
            file: file.to_string(),
            problems: plan.warnings.clone(),
        };
        let _ = write!(out, "\n{warnings}\n");
    }
    out
}

/// A rate per second: whole numbers from 100 up, else three significant digits.
fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
