//! Call edges: per variant, what callers saw of each dependency across runs (retry
//! amplification, retries, retries refused, hedges, timeouts, breaker refusals, wasted work), and
//! per edge where anything was retried or hedged, the retry amplification over time.

use super::markup::{escape, swatch};
use super::time_series::time_chart;
use crate::edges::EdgeMetric;
use crate::summary::Summary;
use crate::sweep::Aggregate;
use std::fmt::Write;

pub(super) fn edges_section(out: &mut String, s: &Summary, agg: &Aggregate) {
    if s.variants.iter().all(|v| v.edges.is_empty()) {
        return;
    }
    out.push_str("<section>\n<h2>Call edges</h2>\n");
    out.push_str(
        "<p class=\"note\">Per call edge, what the callers saw, as a mean per run with its interval (measured window). \
         Retry amplification: attempts (first tries, retries and hedges) per call. Wasted work: worker time at the \
         dependency on answers nobody used (the caller had given up, or the request was shed).</p>\n",
    );
    for (i, v) in s.variants.iter().enumerate() {
        if v.edges.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h3>{}{}</h3>", swatch(i), escape(&v.name));
        out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr><th>edge</th>");
        for m in EdgeMetric::ALL {
            let _ = write!(out, "<th class=\"num\">{}</th>", escape(m.name()));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for e in &v.edges {
            let _ = write!(out, "<tr><td>{} → {}</td>", escape(&e.from), escape(&e.to));
            for m in EdgeMetric::ALL {
                let _ = write!(out, "<td class=\"num\">{}</td>", escape(&e.cell(m)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
    amplification_charts(out, agg);
    out.push_str("</section>\n");
}

/// Edges where some variant made more attempts than calls, in order of first appearance.
fn amplified_edges(agg: &Aggregate) -> Vec<(String, String)> {
    let mut edges: Vec<(String, String)> = Vec::new();
    for v in &agg.variants {
        for (k, (calls, attempts)) in v.edge_series.iter().enumerate() {
            let more = attempts.iter().sum::<u64>() > calls.iter().sum::<u64>();
            if more && !edges.iter().any(|e| *e == v.edges[k]) {
                edges.push(v.edges[k].clone());
            }
        }
    }
    edges
}

/// Per edge with retries or hedges: attempts per call in each bucket, a line per variant.
fn amplification_charts(out: &mut String, agg: &Aggregate) {
    let edges = amplified_edges(agg);
    if edges.is_empty() {
        return;
    }
    out.push_str("<div class=\"charts two\">\n");
    for (from, to) in &edges {
        let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
        let mut t_end: f64 = 0.0;
        for (i, v) in agg.variants.iter().enumerate() {
            let Some(k) = v.edges.iter().position(|(f, t)| f == from && t == to) else {
                continue;
            };
            let (calls, attempts) = &v.edge_series[k];
            let res_s = v.series.first().map_or(1, |s| s.resolution_ns.max(1)) as f64 / 1e9;
            let points = calls
                .iter()
                .zip(attempts)
                .enumerate()
                .filter(|(_, (&c, _))| c > 0)
                .map(|(b, (&c, &a))| ((b as f64 + 0.5) * res_s, a as f64 / c as f64))
                .collect();
            t_end = t_end.max(calls.len() as f64 * res_s);
            lines.push((i, points));
        }
        let title = format!("{from} → {to} · retry amplification");
        out.push_str(&time_chart(
            agg,
            (640, 340),
            &title,
            "attempts per call",
            &lines,
            t_end,
            "no call in any run",
        ));
    }
    out.push_str("</div>\n");
}
