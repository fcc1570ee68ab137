//! Across runs: per service, strip charts of availability and of p99 — one dot per run, a whisker
//! from the 5th to the 95th percentile across runs, and a bar at the median run.

use super::markup::escape;
use super::palette::{variant_color, INK};
use super::svg::{
    all_services, category_plot, chart, decimals_for, draw_note, extent, metric_range, shorten,
    x_tick, DrawResult, Key, Plot,
};
use super::tables::metric;
use crate::summary::Summary;
use crate::sweep::{Aggregate, MetricKind};
use plotters::prelude::*;
use std::fmt::Write;

/// Across runs: per service, strip charts of availability and p99.
pub(super) fn across_runs_section(out: &mut super::Page, summary: &Summary, agg: &Aggregate) {
    let services = all_services(agg);
    out.push_str("<section>\n<h2>Across runs</h2>\n");
    out.push_str(
        "<p class=\"note\">One dot per run. The vertical line spans the 5th to the 95th percentile across runs, the \
         wide bar marks the median run.</p>\n",
    );
    for s in &services {
        let _ = writeln!(out, "<h3>{}</h3>\n<div class=\"charts two\">", escape(s));
        out.push_str(&strip_chart(summary, agg, s, MetricKind::WithinSlo));
        out.push_str(&strip_chart(summary, agg, s, MetricKind::AllLatencyP99));
        out.push_str("</div>\n");
        out.flush();
    }
    out.push_str("</section>\n");
}

/// One variant's strip: the values of its runs, and their 5th, 50th and 95th percentiles, in the
/// axis' unit.
struct Strip {
    i: usize,
    runs: Vec<f64>,
    p05: f64,
    p50: f64,
    p95: f64,
}

/// `kind` of `service` per run, a strip per variant.
fn strip_chart(summary: &Summary, agg: &Aggregate, service: &str, kind: MetricKind) -> String {
    let (scale, unit_title, axis) = match kind {
        MetricKind::WithinSlo => (100.0, "within SLO per run", "answered well (%)"),
        MetricKind::Availability => (100.0, "availability per run", "availability (%)"),
        MetricKind::AllLatencyP99 => (
            1e-6,
            "p99 of all requests per run",
            "p99 latency, all requests (ms)",
        ),
        _ => (
            1e-6,
            "p99 of successes per run",
            "p99 latency, successes (ms)",
        ),
    };
    let strips = strips(summary, agg, (service, kind), scale);
    let title = format!("{service} · {unit_title}");
    let names: Vec<&str> = agg.variants.iter().map(|v| v.name.as_str()).collect();
    let legend: Vec<usize> = strips.iter().map(|s| s.i).collect();
    if strips.is_empty() {
        return chart(640, 360, &title, Key::Dot, &legend, &names, |root, _| {
            draw_note(root, "undefined in every run", (240, 180))
        });
    }
    let (lo, hi) = extent(
        strips
            .iter()
            .flat_map(|s| s.runs.iter().copied().chain([s.p05, s.p95])),
    );
    let (y0, y1) = metric_range(lo, hi, kind);
    let decimals = decimals_for(y1 - y0);
    let n = strips.len();
    chart(640, 360, &title, Key::Dot, &legend, &names, |root, body| {
        let mut c = category_plot(body, n, (y0, y1), ("variant", axis), decimals)?;
        let (left, _) = c.backend_coord(&(-0.5, y0));
        let (right, _) = c.backend_coord(&(n as f64 - 0.5, y0));
        let slot = (right - left) as f64 / n as f64;
        let max_chars = ((slot - 8.0) / (11.0 * 0.6)).max(4.0) as usize;
        for (k, s) in strips.iter().enumerate() {
            draw_strip(&mut c, k as f64, s)?;
            let name = shorten(&agg.variants[s.i].name, max_chars);
            x_tick(root, c.backend_coord(&(k as f64, y0)), name)?;
        }
        Ok(())
    })
}

/// The strips of the variants with `kind` of `service` defined in some run, values times `scale`.
fn strips(
    summary: &Summary,
    agg: &Aggregate,
    (service, kind): (&str, MetricKind),
    scale: f64,
) -> Vec<Strip> {
    let mut strips = Vec::new();
    for (i, v) in agg.variants.iter().enumerate() {
        let Some(s) = v.service_idx(service) else {
            continue;
        };
        let runs: Vec<f64> = v
            .values(s, kind)
            .into_iter()
            .filter(|x| x.is_finite())
            .map(|x| x * scale)
            .collect();
        let m = summary
            .variants
            .iter()
            .find(|sv| sv.name == v.name)
            .and_then(|sv| sv.services.iter().find(|x| x.name == service))
            .and_then(|x| metric(x, kind));
        let Some(m) = m.filter(|m| m.n > 0) else {
            continue;
        };
        strips.push(Strip {
            i,
            runs,
            p05: m.p05 * scale,
            p50: m.p50 * scale,
            p95: m.p95 * scale,
        });
    }
    strips
}

/// Strip `s` at `x`: a dot per run, the whisker from the 5th to the 95th percentile, and a wide
/// bar at the median in the variant's colour.
fn draw_strip(c: &mut Plot<'_, '_>, x: f64, s: &Strip) -> DrawResult {
    let color = variant_color(s.i);
    // Runs, spread sideways by a fixed low-discrepancy sequence (deterministic).
    c.draw_series(s.runs.iter().enumerate().map(|(r, &v)| {
        let jitter = (((r as f64 + 0.5) * 0.618_033_988_75).fract() * 2.0 - 1.0) * 0.28;
        Circle::new((x + jitter, v), 3, color.mix(0.6).filled())
    }))?;
    let whisker = INK.stroke_width(2);
    c.draw_series([
        PathElement::new(vec![(x, s.p05), (x, s.p95)], whisker),
        PathElement::new(vec![(x - 0.08, s.p05), (x + 0.08, s.p05)], whisker),
        PathElement::new(vec![(x - 0.08, s.p95), (x + 0.08, s.p95)], whisker),
        PathElement::new(
            vec![(x - 0.2, s.p50), (x + 0.2, s.p50)],
            color.stroke_width(4),
        ),
    ])?;
    Ok(())
}
