//! Circuit breakers: per call edge with a breaker in some variant, how many of its breakers are
//! open or half-open at the end of each time bucket (mean across runs), and which variants have
//! no breaker there.

use super::markup::{escape, swatch};
use super::time_series::time_chart;
use crate::sweep::Aggregate;
use std::fmt::Write;

/// Call edges with a breaker in some variant, in order of first appearance.
fn breaker_edges(agg: &Aggregate) -> Vec<(String, String)> {
    let mut edges: Vec<(String, String)> = Vec::new();
    for v in &agg.variants {
        for (from, to, _) in &v.breakers {
            if !edges.iter().any(|(f, t)| f == from && t == to) {
                edges.push((from.clone(), to.clone()));
            }
        }
    }
    edges
}

/// Per call edge with a breaker, the breakers not closed over time.
pub(super) fn breakers_section(out: &mut String, agg: &Aggregate) {
    let edges = breaker_edges(agg);
    if edges.is_empty() {
        return;
    }
    out.push_str("<section>\n<h2>Circuit breakers</h2>\n");
    out.push_str(
        "<p class=\"note\">Per call edge with a breaker: how many of its breakers (one per caller instance, or one \
         shared) are open or half-open at the end of each time bucket, mean across runs. Zero: every breaker \
         closed.</p>\n",
    );
    let mut missing_notes = Vec::new();
    out.push_str("<div class=\"charts two\">\n");
    for (from, to) in &edges {
        let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
        let mut missing = Vec::new();
        let mut t_end: f64 = 0.0;
        for (i, v) in agg.variants.iter().enumerate() {
            let n = v.n_finished();
            let Some((_, _, open)) = v.breakers.iter().find(|(f, t, _)| f == from && t == to)
            else {
                if n > 0 {
                    missing.push(i);
                }
                continue;
            };
            if n == 0 {
                continue;
            }
            let res_s = v.series.first().map_or(1, |s| s.resolution_ns.max(1)) as f64 / 1e9;
            // Sampled at each bucket's end; every breaker starts closed.
            let points = std::iter::once((0.0, 0.0))
                .chain(
                    open.iter()
                        .enumerate()
                        .map(|(b, &x)| ((b + 1) as f64 * res_s, x as f64 / n as f64)),
                )
                .collect();
            t_end = t_end.max(open.len() as f64 * res_s);
            lines.push((i, points));
        }
        let title = format!("{from} → {to} · breakers open or half-open");
        out.push_str(&time_chart(
            agg,
            (640, 340),
            &title,
            "breakers (mean per run)",
            &lines,
            t_end,
            "every breaker stayed closed in every run",
        ));
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .map(|&i| format!("{}<b>{}</b>", swatch(i), escape(&agg.variants[i].name)))
                .collect();
            missing_notes.push(format!(
                "No breaker on <code>{}</code> → <code>{}</code> in {}.",
                escape(from),
                escape(to),
                names.join(", ")
            ));
        }
    }
    out.push_str("</div>\n");
    for note in missing_notes {
        let _ = writeln!(out, "<p class=\"meta\">{note}</p>");
    }
    out.push_str("</section>\n");
}
