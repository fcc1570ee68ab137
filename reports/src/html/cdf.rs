//! Latency distribution: per service, the share of completed requests at or below each latency, a
//! line per variant over all its runs pooled (merged histograms), on a logarithmic latency axis.

use super::palette::{GRID, INK, MUTED};
use super::svg::{
    all_services, chart, draw_note, font, text_style, variant_line, x_tick, Area, DrawResult, Key,
    Plot,
};
use crate::sweep::Aggregate;
use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Latency distribution: a CDF chart per service.
pub(super) fn latency_section(out: &mut super::Page, agg: &Aggregate) {
    let services = all_services(agg);
    out.push_str("<section>\n<h2>Latency distribution</h2>\n");
    out.push_str(
        "<p class=\"note\">Share of successful requests (completed or degraded; failures are not in these curves: see \
         \"within SLO\" and the latency of all requests) at or below a latency, over all runs of each variant pooled \
         (merged histograms, three significant digits). The x axis is logarithmic.</p>\n<div class=\"charts two\">\n",
    );
    for s in &services {
        out.push_str(&cdf_chart(agg, s));
        out.flush();
    }
    out.push_str("</div>\n</section>\n");
}

/// Log-scale ticks (in ms) between `10^lo` and `10^hi`: 1-2-5 per decade, fewer on wide ranges.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = hi - lo;
    let mantissas: &[f64] = if decades <= 1.2 {
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0]
    } else if decades <= 2.4 {
        &[1.0, 2.0, 5.0]
    } else if decades <= 4.5 {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    let mut ticks = Vec::new();
    let mut e = lo.floor() as i32;
    while f64::from(e) <= hi.ceil() {
        for m in mantissas {
            let v = m * 10f64.powi(e);
            let l = v.log10();
            if l >= lo && l <= hi {
                ticks.push(v);
            }
        }
        e += 1;
    }
    ticks
}

/// Milliseconds for a tick label: `0.2`, `1.5`, `20`, `1000`.
fn ms_label(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        let decimals = (-(v.log10().floor()) + 1.0).clamp(0.0, 6.0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// The latency CDF of `service`, a line per variant with completed requests.
fn cdf_chart(agg: &Aggregate, service: &str) -> String {
    let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
    for (i, v) in agg.variants.iter().enumerate() {
        let Some(s) = v.service_idx(service) else {
            continue;
        };
        if !v.latency[s].is_empty() {
            // The full histogram of this one service, dropped once its points are taken.
            lines.push((i, cdf_points(&v.latency[s].to_hdr())));
        }
    }
    let title = format!("{service} · latency CDF of successes");
    let names: Vec<&str> = agg.variants.iter().map(|v| v.name.as_str()).collect();
    let legend: Vec<usize> = lines.iter().map(|(i, _)| *i).collect();
    if lines.is_empty() {
        return chart(640, 400, &title, Key::Line, &legend, &names, |root, _| {
            draw_note(root, "no completed request", (240, 200))
        });
    }
    let lo = lines
        .iter()
        .map(|(_, p)| p[0].0)
        .fold(f64::INFINITY, f64::min);
    let hi = lines
        .iter()
        .map(|(_, p)| p[p.len() - 1].0)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (hi - lo).max(0.2);
    let (x0, x1) = (lo - span * 0.03, hi + span * 0.03);
    // Thin the curves to what a 600-pixel plot can show.
    let min_dx = (x1 - x0) / 900.0;
    for (_, points) in &mut lines {
        *points = thin(points, min_dx);
    }
    let ticks = log_ticks(x0, x1);
    chart(
        640,
        400,
        &title,
        Key::Line,
        &legend,
        &names,
        |root, body| {
            let mut c = cdf_plot(body, (x0, x1))?;
            for &t in &ticks {
                let l = t.log10();
                c.draw_series(std::iter::once(PathElement::new(
                    vec![(l, 0.0), (l, 100.0)],
                    GRID,
                )))?;
                x_tick(root, c.backend_coord(&(l, 0.0)), ms_label(t))?;
            }
            draw_quantile_lines(root, &mut c, (x0, x1))?;
            for (i, points) in &lines {
                variant_line(&mut c, *i, points)?;
            }
            Ok(())
        },
    )
}

/// Lines across at 50% and 99% of requests, labelled `p50` and `p99` at the left.
fn draw_quantile_lines(root: &Area<'_>, c: &mut Plot<'_, '_>, (x0, x1): (f64, f64)) -> DrawResult {
    for q in [50.0, 99.0] {
        c.draw_series(std::iter::once(PathElement::new(
            vec![(x0, q), (x1, q)],
            RGBColor(0xb0, 0xb0, 0xb0),
        )))?;
        let (px, py) = c.backend_coord(&(x0, q));
        let label = if q == 50.0 { "p50" } else { "p99" };
        root.draw(&Text::new(
            label,
            (px + 4, py - 3),
            text_style(10.0, MUTED, HPos::Left, VPos::Bottom),
        ))?;
    }
    Ok(())
}

/// The points of a CDF: (log10 of ms, % of requests at or below), from the least latency at 0%.
fn cdf_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let total = h.len() as f64;
    let first = (h.min().max(1) as f64 / 1e6).log10();
    let mut points = vec![(first, 0.0)];
    let mut cum = 0u64;
    for it in h.iter_recorded() {
        cum += it.count_since_last_iteration();
        let x = (it.value_iterated_to().max(1) as f64 / 1e6).log10();
        points.push((x, 100.0 * cum as f64 / total));
    }
    points
}

/// `points` without those within `min_dx` across and 0.1 point up of the last one kept; the last
/// point is always kept.
fn thin(points: &[(f64, f64)], min_dx: f64) -> Vec<(f64, f64)> {
    let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(2000));
    for (k, &p) in points.iter().enumerate() {
        let last = k + 1 == points.len();
        match kept.last() {
            Some(&q) if !last && p.0 - q.0 < min_dx && (p.1 - q.1).abs() < 0.1 => {}
            _ => kept.push(p),
        }
    }
    kept
}

/// The plot of a CDF: log10 of ms from `x0` to `x1` across (ticks drawn by the caller), 0 to
/// 100% up.
fn cdf_plot<'a, 'b>(
    body: &'a Area<'b>,
    (x0, x1): (f64, f64),
) -> Result<Plot<'a, 'b>, Box<dyn std::error::Error>> {
    let mut c = ChartBuilder::on(body)
        .margin_left(8)
        .margin_right(24)
        .margin_bottom(4)
        .x_label_area_size(46)
        .y_label_area_size(58)
        .build_cartesian_2d(x0..x1, 0.0..100.0)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(11)
        .max_light_lines(0)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .label_style(text_style(11.0, INK, HPos::Center, VPos::Center))
        .axis_desc_style(font(12.0).color(&INK))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("latency (ms, log scale)")
        .y_desc("requests at or below (%)")
        .draw()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_labels() {
        let labels = |lo: f64, hi: f64| {
            log_ticks(lo, hi)
                .into_iter()
                .map(ms_label)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(labels(0.0, 2.0), "1 2 5 10 20 50 100");
        assert_eq!(labels(-1.0, 3.0), "0.1 0.3 1 3 10 30 100 300 1000");
        assert_eq!(labels(-1.0, 4.0), "0.1 1 10 100 1000 10000");
        assert_eq!(ms_label(0.2), "0.2");
        assert_eq!(ms_label(1.5), "1.5");
        assert_eq!(ms_label(5.0), "5");
        assert_eq!(ms_label(300.0), "300");
    }
}
