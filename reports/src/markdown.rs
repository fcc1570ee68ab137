//! `report.md`: the verdicts, the comparison and the per-variant numbers, as Markdown tables.

use crate::summary::{Summary, VariantSummary, HEADLINE};
use crate::sweep::MetricKind;
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The whole `report.md`.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    header(&mut out, s);
    answer(&mut out, s);
    expectations(&mut out, s);
    against_baseline(&mut out, s);
    for v in &s.variants {
        variant(&mut out, v);
    }
    if s.variants.len() <= 1 {
        out.push_str(LEGEND.trim_start());
    }
    edges(&mut out, s);
    network(&mut out, s);
    failure_modes(&mut out, s);
    out
}

/// Links and disks, when some variant gives them capacities: bytes by class, the hottest links,
/// the busiest disks and the transfers, per variant.
fn network(out: &mut String, s: &Summary) {
    use crate::network::{NetworkSummary, DISK_COLUMNS, TRANSFER_COLUMNS};
    let nets: Vec<(&str, &NetworkSummary)> = (s.variants.iter())
        .filter_map(|v| v.network.as_ref().map(|n| (v.name.as_str(), n)))
        .collect();
    if nets.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## Links and disks

{}
",
        crate::network::LEGEND
    );
    let classes = crate::network::classes_shown(nets.iter().map(|n| n.1));
    let _ = writeln!(
        out,
        "Bytes sent on links with a capacity, per run:
"
    );
    let _ = writeln!(out, "| variant | {} |", classes.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(classes.len()));
    for (name, n) in &nets {
        let cells = n.sent_cells();
        let _ = write!(out, "| `{}` |", cell(name));
        for c in &classes {
            let text = cells.iter().find(|x| x.0 == *c).map_or("-", |x| &x.1);
            let _ = write!(out, " {} |", cell(text));
        }
        out.push('\n');
    }
    out.push('\n');
    let rows = crate::summary::redundancy_rows(s);
    if !rows.is_empty() {
        out.push_str("Time at reduced redundancy (`redundancy-lost`), per run:\n\n| variant | datastore | redundancy lost |\n|---|---|---|\n");
        for (v, store, text) in rows {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} |",
                cell(&v),
                cell(&store),
                cell(&text)
            );
        }
        out.push('\n');
    }
    let background = crate::network::any_background(nets.iter().map(|n| n.1));
    let links = nets
        .iter()
        .map(|(v, n)| (*v, n.links.iter().map(|l| l.cells(background)).collect()));
    let columns = crate::network::link_columns(background);
    table(out, "Hottest links", &columns, links.collect());
    let disks = nets
        .iter()
        .map(|(v, n)| (*v, n.disks.iter().map(|d| d.cells()).collect()));
    table(out, "Busiest disks", &DISK_COLUMNS, disks.collect());
    let transfers = nets
        .iter()
        .map(|(v, n)| (*v, n.transfers.iter().map(|t| t.cells(n.runs)).collect()));
    table(out, "Transfers", &TRANSFER_COLUMNS, transfers.collect());
}

/// A table with a variant's column first, under a heading; nothing when it has no row.
fn table(out: &mut String, title: &str, columns: &[&str], rows: Vec<(&str, Vec<Vec<String>>)>) {
    if rows.iter().all(|r| r.1.is_empty()) {
        return;
    }
    let _ = writeln!(out, "### {title}\n\n| variant | {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
    for (variant, cells) in rows {
        for row in cells {
            let row: Vec<String> = row.iter().map(|c| cell(c)).collect();
            let _ = writeln!(out, "| `{}` | {} |", cell(variant), row.join(" | "));
        }
    }
    out.push('\n');
}

/// What callers saw of each dependency, per variant, when the scenario has calls.
fn edges(out: &mut String, s: &Summary) {
    use crate::edges::EdgeMetric;
    if s.variants.iter().all(|v| v.edges.is_empty()) {
        return;
    }
    out.push_str("## Call edges\n\nMean per run [interval]. Retry amplification: attempts (first tries, retries, hedges) per call; wasted work: worker time at the dependency on answers nobody used.\n\n");
    let _ = write!(out, "| variant | edge |");
    for m in EdgeMetric::ALL {
        let _ = write!(out, " {} |", m.name());
    }
    let _ = writeln!(out, "\n|---|---|{}", "---|".repeat(EdgeMetric::ALL.len()));
    for v in &s.variants {
        for e in &v.edges {
            let _ = write!(
                out,
                "| `{}` | `{}` → `{}` |",
                cell(&v.name),
                cell(&e.from),
                cell(&e.to)
            );
            for m in EdgeMetric::ALL {
                let _ = write!(out, " {} |", cell(&e.cell(m)));
            }
            out.push('\n');
        }
    }
    out.push('\n');
}

/// The title, what the scenario is about, and how to read the numbers.
fn header(out: &mut String, s: &Summary) {
    let _ = writeln!(out, "# {}\n", cell(&s.scenario));
    if !s.about.is_empty() {
        let _ = writeln!(out, "{}\n", cell(&s.about));
    }
    let variants: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
    let _ = writeln!(
        out,
        "{} runs per variant (seed {}); variants: {}. Intervals are {:.0}% Student-t intervals of the mean across runs; differences are paired by seed (common random numbers).\n",
        s.runs,
        s.seed,
        variants.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
        s.confidence * 100.0
    );
}

/// The answer first: one sentence per variant on the SLO metric, and the notes a reader needs.
fn answer(out: &mut String, s: &Summary) {
    if s.headlines.is_empty() {
        return;
    }
    out.push_str("## The answer\n\n");
    for h in &s.headlines {
        let mark = match h.outcome.as_str() {
            "better" => "**better**: ",
            "worse" => "**worse**: ",
            _ => "",
        };
        let _ = writeln!(out, "- {mark}{}", cell(&h.text));
    }
    for n in &s.notes {
        let _ = writeln!(out, "- Note: {}", cell(n));
    }
    out.push('\n');
}

/// The verdicts of the expectations, when the scenario states any.
fn expectations(out: &mut String, s: &Summary) {
    if s.expectations.is_empty() {
        return;
    }
    out.push_str("## Expectations\n\n| | expectation | variant | measured | margin |\n|---|---|---|---|---|\n");
    for e in &s.expectations {
        let mark = if e.holds { "pass" } else { "**FAIL**" };
        let _ = writeln!(
            out,
            "| {mark} | {} | `{}` | {} | {} |",
            cell(&e.expectation),
            cell(&e.variant),
            cell(&e.measured),
            cell(&e.margin)
        );
    }
    out.push('\n');
}

/// Each variant against the first, paired by seed, on the headline metrics.
fn against_baseline(out: &mut String, s: &Summary) {
    let Some(baseline) = s.variants.first().filter(|_| s.variants.len() > 1) else {
        return;
    };
    let _ = writeln!(out, "## Against `{}`\n", cell(&baseline.name));
    out.push_str("| variant | service |");
    for m in HEADLINE {
        let _ = write!(out, " {} |", m.name());
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(HEADLINE.len()));
    out.push('\n');
    for v in &s.variants[1..] {
        for svc in &v.services {
            let _ = write!(out, "| `{}` | `{}` |", cell(&v.name), cell(&svc.name));
            for m in HEADLINE {
                let c = s
                    .comparisons
                    .iter()
                    .find(|c| c.variant == v.name && c.service == svc.name && c.metric == m);
                let text = c.map_or("-".to_string(), |c| {
                    let t = c.cell_text();
                    match c.outcome.as_str() {
                        "better" => format!("{t} (better)"),
                        "worse" => format!("{t} (**worse**)"),
                        _ => t.to_string(),
                    }
                });
                let _ = write!(out, " {} |", cell(&text));
            }
            out.push('\n');
        }
    }
    out.push_str(LEGEND);
}

/// How to read the latencies and the judgements, under every table that shows them.
const LEGEND: &str = "\n*(ok)*: latency of successful requests; *(all)*: of every answered request, a failure at the time it was given. \
\"within SLO\": share of requests answered successfully within the SLO's latency. Better or worse only where the direction is known \
(throughput is shown, not judged); a latency of successes is compared only between designs whose availabilities differ by at most 0.1 point, or where the design that answers more is also the faster.\n\n";

/// Columns of a variant's table of services.
const COLUMNS: [MetricKind; 8] = [
    MetricKind::WithinSlo,
    MetricKind::Availability,
    MetricKind::LatencyP50,
    MetricKind::LatencyP95,
    MetricKind::LatencyP99,
    MetricKind::AllLatencyP99,
    MetricKind::Throughput,
    MetricKind::Utilization,
];

/// One variant's numbers per service, with their intervals.
fn variant(out: &mut String, v: &VariantSummary) {
    let _ = writeln!(out, "## Variant `{}`\n", cell(&v.name));
    if !v.about.is_empty() {
        let _ = writeln!(out, "{}\n", cell(&v.about));
    }
    if v.runs_stopped_early > 0 {
        let _ = writeln!(
            out,
            "**{} of {} runs stopped early at a guard** (see `runs.csv`, column `stop`).\n",
            v.runs_stopped_early, v.runs_finished
        );
    }
    out.push_str("| service | requests |");
    for m in COLUMNS {
        let _ = write!(out, " {} |", m.name());
    }
    let _ = writeln!(out, "\n|---|---|{}", "---|".repeat(COLUMNS.len()));
    for svc in &v.services {
        let _ = write!(out, "| `{}` | {} |", cell(&svc.name), svc.totals.arrived);
        for m in COLUMNS {
            let ms = svc.metrics.iter().find(|x| x.metric == m);
            let text = ms.map_or("-".into(), |x| {
                format!(
                    "{} [{}, {}]",
                    m.format(x.mean),
                    m.format(x.ci_low),
                    m.format(x.ci_high)
                )
            });
            let _ = write!(out, " {} |", cell(&text));
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The failure-mode table, when some variant had a fault.
fn failure_modes(out: &mut String, s: &Summary) {
    if s.variants.iter().all(|v| v.failure_modes.is_empty()) {
        return;
    }
    out.push_str("## Failure modes

One row per injected fault (and rollout), across runs. Users are within the SLO while a bucket's share of good answers is at least the scenario's `slo` (99% by default).\n\n");
    let cols = crate::summary::FAILURE_MODE_COLUMNS;
    let _ = writeln!(out, "| variant | {} |", cols.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(cols.len()));
    for v in &s.variants {
        for f in &v.failure_modes {
            let cells: Vec<String> = f.cells().iter().map(|c| cell(c)).collect();
            let _ = writeln!(out, "| `{}` | {} |", cell(&v.name), cells.join(" | "));
        }
    }
    out.push('\n');
}
