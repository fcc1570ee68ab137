//! Across runs: per service, strip charts of availability and of p99 — one dot per run, a whisker
//! from the 5th to the 95th percentile across runs, and a bar at the median run.

use super::markup::escape;
use super::palette::{variant_color, GRID, INK, MUTED};
use super::svg::{
    all_services, axis_number, chart, decimals_for, font, padded_range, shorten, text_style, Key,
};
use super::tables::metric;
use crate::summary::Summary;
use crate::sweep::{Aggregate, MetricKind};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::fmt::Write;

/// Across runs: per service, strip charts of availability and p99.
pub(super) fn across_runs_section(out: &mut String, summary: &Summary, agg: &Aggregate) {
    let services = all_services(agg);
    out.push_str("<section>\n<h2>Across runs</h2>\n");
    out.push_str(
        "<p class=\"note\">One dot per run. The vertical line spans the 5th to the 95th percentile across runs, the \
         wide bar marks the median run.</p>\n",
    );
    for s in &services {
        let _ = writeln!(out, "<h3>{}</h3>\n<div class=\"charts two\">", escape(s));
        out.push_str(&strip_chart(summary, agg, s, MetricKind::Availability));
        out.push_str(&strip_chart(summary, agg, s, MetricKind::LatencyP99));
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn strip_chart(summary: &Summary, agg: &Aggregate, service: &str, kind: MetricKind) -> String {
    let (scale, unit_title, axis) = match kind {
        MetricKind::Availability => (100.0, "availability per run", "availability (%)"),
        _ => (1e-6, "p99 latency per run", "p99 latency (ms)"),
    };
    struct Strip {
        i: usize,
        runs: Vec<f64>,
        p05: f64,
        p50: f64,
        p95: f64,
    }
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
    let title = format!("{service} · {unit_title}");
    let names: Vec<&str> = agg.variants.iter().map(|v| v.name.as_str()).collect();
    let legend: Vec<usize> = strips.iter().map(|s| s.i).collect();
    let values = || {
        strips
            .iter()
            .flat_map(|s| s.runs.iter().copied().chain([s.p05, s.p95]))
    };
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    if strips.is_empty() {
        return chart(640, 360, &title, Key::Dot, &legend, &names, |root, _| {
            root.draw(&Text::new(
                "undefined in every run",
                (240, 180),
                text_style(13.0, MUTED, HPos::Left, VPos::Top),
            ))?;
            Ok(())
        });
    }
    let (y0, mut y1) = padded_range(lo, hi, false);
    if kind == MetricKind::Availability {
        // Nothing is above 100%: runs with every request answered sit on the top edge.
        y1 = y1.min(100.0);
    }
    let decimals = decimals_for(y1 - y0);
    let n = strips.len();
    chart(640, 360, &title, Key::Dot, &legend, &names, |root, body| {
        let mut c = ChartBuilder::on(body)
            .margin_left(8)
            .margin_right(24)
            .margin_bottom(4)
            .x_label_area_size(46)
            .y_label_area_size(66)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), y0..y1)?;
        c.configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(7)
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(MUTED)
            .label_style(text_style(11.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(font(12.0).color(&INK))
            .y_label_formatter(&|v| axis_number(*v, decimals))
            .x_desc("variant")
            .y_desc(axis)
            .draw()?;
        let (left, _) = c.backend_coord(&(-0.5, y0));
        let (right, _) = c.backend_coord(&(n as f64 - 0.5, y0));
        let slot = (right - left) as f64 / n as f64;
        let max_chars = ((slot - 8.0) / (11.0 * 0.6)).max(4.0) as usize;
        for (k, s) in strips.iter().enumerate() {
            let x = k as f64;
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
            let (px, py) = c.backend_coord(&(x, y0));
            root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], MUTED))?;
            let name = shorten(&agg.variants[s.i].name, max_chars);
            root.draw(&Text::new(
                name,
                (px, py + 8),
                text_style(11.0, INK, HPos::Center, VPos::Top),
            ))?;
        }
        Ok(())
    })
}
