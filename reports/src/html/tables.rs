//! The report's tables: the expectations with their verdicts, each variant against the baseline
//! (paired differences, coloured by significance), and per variant the services' numbers with
//! their intervals.

use super::markup::{escape, rich, swatch, variant_index};
use crate::format::trim_pct;
use crate::summary::{MetricSummary, ServiceSummary, Summary, VariantSummary, HEADLINE};
use crate::sweep::MetricKind;
use std::fmt::Write;

/// The answer first: one sentence per variant on the SLO metric, coloured by its verdict, and
/// the notes a reader needs before the detail.
pub(super) fn answer(out: &mut String, s: &Summary) {
    if s.headlines.is_empty() {
        return;
    }
    out.push_str("<section>\n<h2>The answer</h2>\n<ul class=\"answer\">\n");
    for h in &s.headlines {
        let class = match h.outcome.as_str() {
            "better" => "better",
            "worse" => "worse",
            _ => "neutral",
        };
        let _ = writeln!(
            out,
            "<li class=\"{class}\">{}{}</li>",
            swatch(variant_index(s, &h.variant)),
            rich(&h.text)
        );
    }
    out.push_str("</ul>\n");
    for n in &s.notes {
        let _ = writeln!(out, "<p class=\"note warn\">{}</p>", rich(n));
    }
    out.push_str("</section>\n");
}

pub(super) fn verdicts(out: &mut String, s: &Summary) {
    out.push_str("<section>\n<h2>Expectations</h2>\n");
    if s.expectations.is_empty() {
        out.push_str("<p class=\"meta\">The scenario states no expectations.</p>\n</section>\n");
        return;
    }
    let failed = s.expectations.iter().filter(|e| !e.holds).count();
    let class = if failed == 0 { "pass" } else { "fail" };
    let _ = writeln!(
        out,
        "<p class=\"{class}\">{} of {} expectations hold.</p>",
        s.expectations.len() - failed,
        s.expectations.len()
    );
    out.push_str(
        "<table>\n<thead><tr><th></th><th>expectation</th><th>variant</th><th>measured</th><th>margin</th></tr></thead>\n<tbody>\n",
    );
    for e in &s.expectations {
        let (mark, class, word) = if e.holds {
            ("✔", "pass", "holds")
        } else {
            ("✘", "fail", "fails")
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"mark {class}\" title=\"{word}\">{mark}</td><td>{}</td><td>{}{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            rich(&e.expectation),
            swatch(variant_index(s, &e.variant)),
            escape(&e.variant),
            rich(&e.measured),
            escape(&e.margin)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

pub(super) fn comparisons(out: &mut String, s: &Summary) {
    let Some((baseline, others)) = s.variants.split_first() else {
        return;
    };
    if others.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<section>\n<h2>Compared with the baseline <code>{}</code></h2>",
        escape(&baseline.name)
    );
    out.push_str(
        "<p class=\"note\">Each cell: mean paired difference (variant − baseline) and its confidence interval; relative to the \
         baseline mean (a ratio of means, Fieller's interval) for latencies and throughput, in percentage points for shares. \
         <span class=\"pass\">Green</span>: significantly better; <span class=\"fail\">red</span>: significantly worse; \
         grey: no significant difference, or a metric whose better direction depends on the design (throughput is shown, not judged). \
         <i>(ok)</i>: latency of successful requests; <i>(all)</i>: of every answered request, a failure at the time it was given. \
         A latency of successes is compared only between designs whose availabilities differ by at most 0.1 point, or where the design that answers more is also the faster.</p>\n",
    );
    for (k, v) in others.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h3>{}{} vs {}</h3>",
            swatch(k + 1),
            escape(&v.name),
            escape(&baseline.name)
        );
        out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr><th>service</th>");
        for m in HEADLINE {
            let _ = write!(out, "<th class=\"num\">{}</th>", escape(m.name()));
        }
        out.push_str("<th class=\"num\">pairs</th></tr></thead>\n<tbody>\n");
        for svc in &v.services {
            let _ = write!(out, "<tr><td>{}</td>", escape(&svc.name));
            let mut pairs = 0;
            for m in HEADLINE {
                let c = s
                    .comparisons
                    .iter()
                    .find(|c| c.variant == v.name && c.service == svc.name && c.metric == m);
                pairs = pairs.max(comparison_cell(out, c));
            }
            let _ = writeln!(out, "<td class=\"num\">{pairs}</td></tr>");
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
    out.push_str("</section>\n");
}

/// One cell of a comparison table, coloured by its outcome; the number of pairs behind it.
fn comparison_cell(out: &mut String, c: Option<&crate::comparison::Comparison>) -> usize {
    let Some(c) = c else {
        out.push_str("<td class=\"num neutral\" title=\"fewer than two pairs\">-</td>");
        return 0;
    };
    let class = match c.outcome.as_str() {
        "better" => "better",
        "worse" => "worse",
        _ => "neutral",
    };
    let _ = write!(
        out,
        "<td class=\"num {class}\" title=\"{}\">{}</td>",
        escape(&c.outcome),
        escape(c.cell_text())
    );
    c.n_pairs
}

pub(super) fn metric(svc: &ServiceSummary, kind: MetricKind) -> Option<&MetricSummary> {
    svc.metrics.iter().find(|m| m.metric == kind)
}

/// `mean` with `[low, high]` below it; only the mean when there is no interval.
fn mean_ci_cell(svc: &ServiceSummary, kind: MetricKind) -> String {
    match metric(svc, kind) {
        Some(m) if m.n > 0 => {
            let ci = if m.n >= 2 {
                format!(
                    "<span class=\"ci\">[{}, {}]</span>",
                    escape(&kind.format(m.ci_low)),
                    escape(&kind.format(m.ci_high))
                )
            } else {
                String::new()
            };
            format!(
                "<td class=\"num\">{}{ci}</td>",
                escape(&kind.format(m.mean))
            )
        }
        _ => "<td class=\"num\">-</td>".to_string(),
    }
}

pub(super) fn service_tables(out: &mut String, s: &Summary) {
    const COLUMNS: [MetricKind; 11] = [
        MetricKind::WithinSlo,
        MetricKind::Availability,
        MetricKind::AllLatencyP99,
        MetricKind::LatencyP50,
        MetricKind::LatencyP95,
        MetricKind::LatencyP99,
        MetricKind::LatencyP999,
        MetricKind::Throughput,
        MetricKind::Utilization,
        MetricKind::QueueLenMean,
        MetricKind::WaitP99,
    ];
    out.push_str("<section>\n<h2>Per service</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"note\">Mean across runs with its {}% interval below. Request counts are totals over all runs of the \
         measured window (after the warm-up).</p>",
        trim_pct(s.confidence)
    );
    for (i, v) in s.variants.iter().enumerate() {
        variant_table(out, i, v, &COLUMNS);
    }
    out.push_str("</section>\n");
}

fn variant_table(out: &mut String, i: usize, v: &VariantSummary, columns: &[MetricKind]) {
    let _ = writeln!(out, "<h3>{}{}</h3>", swatch(i), escape(&v.name));
    match v.runs_finished {
        0 => out.push_str("<p class=\"warn\">No run of this variant finished.</p>\n"),
        1 => out.push_str("<p class=\"meta\">One finished run: values without an interval.</p>\n"),
        _ => {}
    }
    out.push_str("<div class=\"scroll\">\n<table>\n<thead><tr><th>service</th>");
    for m in columns {
        let _ = write!(out, "<th class=\"num\">{}</th>", escape(m.name()));
    }
    out.push_str(
        "<th class=\"num\">arrived</th><th class=\"num\">completed</th><th class=\"num\">degraded</th><th class=\"num\">rejected or 429</th><th class=\"num\">shed</th><th class=\"num\">failed</th></tr></thead>\n<tbody>\n",
    );
    for svc in &v.services {
        let _ = write!(out, "<tr><td>{}</td>", escape(&svc.name));
        for &m in columns {
            out.push_str(&mean_ci_cell(svc, m));
        }
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            svc.totals.arrived, svc.totals.completed, svc.totals.degraded, svc.totals.rejected + svc.totals.rate_limited, svc.totals.shed, svc.totals.failed
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}
