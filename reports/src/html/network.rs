//! Links and disks, when some variant gives them capacities: the bytes sent by class, per variant
//! its hottest links, busiest disks and transfers (means across runs with their intervals), and
//! the utilization of the hottest links and the queues of the busiest disks over time (mean across
//! runs per bucket, a line per variant, the injected faults shaded).

use super::markup::{escape, swatch};
use super::time_series::time_chart;
use crate::network::{NetworkSummary, DISK_COLUMNS, TRANSFER_COLUMNS};
use crate::summary::Summary;
use crate::sweep::Aggregate;
use std::fmt::Write;

/// The most charts of each kind (link utilization, disk queue) the section draws.
pub(super) const CHARTS_MAX: usize = 6;

pub(super) fn network_section(out: &mut super::Page, s: &Summary, agg: &Aggregate) {
    let nets: Vec<(usize, &NetworkSummary)> = (s.variants.iter().enumerate())
        .filter_map(|(i, v)| v.network.as_ref().map(|n| (i, n)))
        .collect();
    if nets.is_empty() {
        return;
    }
    out.push_str("<section>\n<h2>Links and disks</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"note\">{}</p>",
        escape(crate::network::LEGEND)
    );
    sent_table(out, s, &nets);
    redundancy_table(out, s);
    let background = crate::network::any_background(nets.iter().map(|n| n.1));
    let link_columns = crate::network::link_columns(background);
    for &(i, n) in &nets {
        let v = &s.variants[i];
        let _ = writeln!(out, "<h3>{}{}</h3>", swatch(i), escape(&v.name));
        let _ = writeln!(
            out,
            "<p class=\"meta\">The {} hottest of {} links that carried anything, the {} busiest of {} disks that served anything; {} runs.</p>",
            n.links.len(),
            n.links_used,
            n.disks.len(),
            n.disks_used,
            n.runs
        );
        let links = n.links.iter().map(|l| l.cells(background)).collect();
        table(out, &link_columns, links);
        table(
            out,
            &DISK_COLUMNS,
            n.disks.iter().map(|d| d.cells()).collect(),
        );
        let transfers = n.transfers.iter().map(|t| t.cells(n.runs)).collect();
        table(out, &TRANSFER_COLUMNS, transfers);
    }
    out.flush();
    let links = charted(&nets, |n| n.links.iter().map(|l| l.name.as_str()).collect());
    charts(out, agg, &links, Kind::Link);
    let disks = charted(&nets, |n| n.disks.iter().map(|d| d.host.as_str()).collect());
    charts(out, agg, &disks, Kind::Disk);
    out.push_str("</section>\n");
}

/// Bytes sent per run by class, a row per variant.
fn sent_table(out: &mut String, s: &Summary, nets: &[(usize, &NetworkSummary)]) {
    let classes = crate::network::classes_shown(nets.iter().map(|n| n.1));
    out.push_str("<h3>Bytes sent, by class</h3>\n<div class=\"scroll\">\n<table>\n<thead><tr><th>variant</th>");
    for c in &classes {
        let _ = write!(out, "<th class=\"num\">{}</th>", escape(c));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for &(i, n) in nets {
        let _ = write!(
            out,
            "<tr><td>{}{}</td>",
            swatch(i),
            escape(&s.variants[i].name)
        );
        let cells = n.sent_cells();
        for c in &classes {
            let text = cells.iter().find(|x| x.0 == *c).map_or("-", |x| &x.1);
            let _ = write!(out, "<td class=\"num\">{}</td>", escape(text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// Per variant and datastore that lost a copy's data, its time at reduced redundancy.
fn redundancy_table(out: &mut String, s: &Summary) {
    let rows = crate::summary::redundancy_rows(s);
    if rows.is_empty() {
        return;
    }
    out.push_str("<h3>Time at reduced redundancy</h3>\n<div class=\"scroll\">\n<table>\n<thead><tr><th>variant</th><th>datastore</th><th class=\"num\">redundancy lost</th></tr></thead>\n<tbody>\n");
    for (v, store, text) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            swatch(super::markup::variant_index(s, &v)),
            escape(&v),
            escape(&store),
            escape(&text)
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// A table of `columns` (the first a name, the others numbers); nothing without rows.
fn table(out: &mut String, columns: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        return;
    }
    out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr>");
    for (k, c) in columns.iter().enumerate() {
        let class = if k == 0 { "" } else { " class=\"num\"" };
        let _ = write!(out, "<th{class}>{}</th>", escape(c));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows {
        out.push_str("<tr>");
        for (k, c) in row.iter().enumerate() {
            let class = if k == 0 { "" } else { " class=\"num\"" };
            let _ = write!(out, "<td{class}>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// The names to chart: the hottest of each variant in turn (its first, then every variant's
/// second, ...), each once, at most [`CHARTS_MAX`].
fn charted<'a>(
    nets: &[(usize, &'a NetworkSummary)],
    names: impl Fn(&'a NetworkSummary) -> Vec<&'a str>,
) -> Vec<&'a str> {
    let lists: Vec<Vec<&str>> = nets.iter().map(|(_, n)| names(n)).collect();
    let depth = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<&str> = Vec::new();
    for rank in 0..depth {
        for name in lists.iter().filter_map(|l| l.get(rank)) {
            if out.len() < CHARTS_MAX && !out.contains(name) {
                out.push(name);
            }
        }
    }
    out
}

#[derive(Copy, Clone, PartialEq)]
enum Kind {
    Link,
    Disk,
}

/// A chart per name over time, a line per variant with capacities (zero where the link or disk
/// carried nothing).
fn charts(out: &mut super::Page, agg: &Aggregate, names: &[&str], kind: Kind) {
    if names.is_empty() {
        return;
    }
    let (heading, what, axis, empty) = match kind {
        Kind::Link => (
            "Link utilization over time",
            "utilization",
            "share of capacity (%)",
            "nothing carried in any run",
        ),
        Kind::Disk => (
            "Disk queues over time",
            "disk queue",
            "operations waiting",
            "no operation waiting at any bucket end",
        ),
    };
    let _ = writeln!(out, "<h3>{heading}</h3>\n<div class=\"charts two\">");
    for name in names {
        let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
        let mut t_end: f64 = 0.0;
        for (i, v) in agg.variants.iter().enumerate() {
            let Some(net) = v.network.as_ref().filter(|n| n.runs > 0) else {
                continue;
            };
            let (series, scale) = match kind {
                Kind::Link => (net.link_series(name), 100.0),
                Kind::Disk => (net.disk_series(name), 1.0),
            };
            let n_buckets = v.series.first().map_or(0, |s| s.completed.len());
            let res_s = v.series.first().map_or(1, |s| s.resolution_ns.max(1)) as f64 / 1e9;
            let points = (0..n_buckets.max(series.len()))
                .map(|b| {
                    let y = series.get(b).copied().unwrap_or(0.0) * scale;
                    ((b as f64 + 0.5) * res_s, y)
                })
                .collect();
            t_end = t_end.max(n_buckets.max(series.len()) as f64 * res_s);
            lines.push((i, points));
        }
        let title = format!("{name} · {what}");
        out.push_str(&time_chart(
            agg,
            (640, 340),
            &title,
            axis,
            &lines,
            t_end,
            empty,
        ));
        out.flush();
    }
    out.push_str("</div>\n");
}
