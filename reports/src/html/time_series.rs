//! Over time: per service, throughput, errors and queue length per time bucket (mean across runs),
//! a line per variant, with the injected faults shaded and labelled along the top. The breakers'
//! chart is drawn by the same [`time_chart`].

use super::faults::fault_windows;
use super::markup::escape;
use super::palette::{GRID, INK, MUTED};
use super::svg::{
    all_services, axis_number, chart, decimals_for, font, padded_range, shorten, text_style,
    text_width, variant_line, Area, DrawResult, Key, Plot,
};
use crate::sweep::{Aggregate, VariantAggregate};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::fmt::Write;

/// Over time: per service, throughput, errors and queue length.
pub(super) fn over_time_section(out: &mut super::Page, agg: &Aggregate) {
    let services = all_services(agg);
    out.push_str("<section>\n<h2>Over time</h2>\n");
    out.push_str(
        "<p class=\"note\">Mean across runs per time bucket, over the whole run (warm-up included). Queue length is \
         the number of requests waiting for a worker at the end of each bucket, all instances together. Users' \
         answers are counted in the bucket where the answer came (or the client gave up); \
         \"within SLO\" is the share of those answered successfully within the SLO's latency.</p>\n",
    );
    for s in &services {
        let _ = writeln!(out, "<h3>{}</h3>\n<div class=\"charts three\">", escape(s));
        // Users have no queue of their own: their third chart is the share answered well.
        let third = if s.starts_with("users:") {
            SeriesKind::Good
        } else {
            SeriesKind::Queue
        };
        for kind in [SeriesKind::Throughput, SeriesKind::Errors, third] {
            out.push_str(&series_chart(agg, s, kind));
        }
        out.push_str("</div>\n");
        out.flush();
    }
    out.push_str("</section>\n");
}

#[derive(Copy, Clone)]
enum SeriesKind {
    Throughput,
    Errors,
    Queue,
    /// Users: the share of answers that were good.
    Good,
}

fn series_chart(agg: &Aggregate, service: &str, kind: SeriesKind) -> String {
    let (what, axis, empty) = match kind {
        SeriesKind::Throughput => (
            "throughput",
            "completed per second",
            "no request completed in any run",
        ),
        SeriesKind::Errors => (
            "errors",
            "rejected + failed per second",
            "no rejected or failed request in any run",
        ),
        SeriesKind::Queue => (
            "queue length",
            "requests waiting",
            "no request waiting at any bucket end",
        ),
        SeriesKind::Good => (
            "within SLO",
            "share of answers that were good (%)",
            "no answer in any run",
        ),
    };
    let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
    let mut t_end: f64 = 0.0;
    for (i, v) in agg.variants.iter().enumerate() {
        let Some(s) = v.service_idx(service) else {
            continue;
        };
        let n = v.n_finished();
        if n == 0 {
            continue;
        }
        let series = &v.series[s];
        let res_s = series.resolution_ns.max(1) as f64 / 1e9;
        let points = mean_series(v, s, kind, n, res_s);
        t_end = t_end.max(series.completed.len() as f64 * res_s);
        lines.push((i, points));
    }
    let title = format!("{service} · {what}");
    time_chart(agg, (460, 320), &title, axis, &lines, t_end, empty)
}

/// A fault window on a time chart, in seconds.
struct Band {
    label: String,
    start: f64,
    end: f64,
}

fn bands(agg: &Aggregate) -> Vec<Band> {
    fault_windows(agg)
        .iter()
        .map(|f| Band {
            label: f.label(agg),
            start: f.start_ns as f64 / 1e9,
            end: f.end_ns as f64 / 1e9,
        })
        .collect()
}

const BAND_FILL: RGBColor = RGBColor(0xd6, 0x2d, 0x20);
const BAND_INK: RGBColor = RGBColor(0x9b, 0x1c, 0x1c);

/// Band labels: text size, row pitch and number of rows (pixels).
const BAND_TEXT: f64 = 10.0;
const BAND_ROW: i32 = 13;
const BAND_ROWS: usize = 3;

/// Where a band's label goes: `x` pixels from the plot's left edge, in row `row` from the top.
#[derive(Debug, PartialEq)]
struct BandLabel {
    text: String,
    x: i32,
    row: i32,
}

/// Places the labels of `bands` along the top of a plot `width` pixels wide showing `[x0, x1]`
/// seconds: each at its band's left edge (moved left when it would run off the plot), in the first
/// of three rows where it overlaps no other label. When every row is taken there, it goes after
/// the label that ends first, cut to the room left, if that is still within its band; else it is
/// left out (the header lists every fault).
fn layout_band_labels(bands: &[Band], x0: f64, x1: f64, width: i32) -> Vec<BandLabel> {
    let span = (x1 - x0).max(f64::MIN_POSITIVE);
    let px = |t: f64| (((t - x0) / span).clamp(0.0, 1.0) * f64::from(width)).round() as i32;
    let chars_in = |room: i32| (f64::from(room) / (BAND_TEXT * 0.55)).floor().max(0.0) as usize;
    let mut order: Vec<usize> = (0..bands.len()).collect();
    order.sort_by(|&a, &b| bands[a].start.total_cmp(&bands[b].start).then(a.cmp(&b)));
    let mut free = [i32::MIN; BAND_ROWS];
    let mut out = Vec::new();
    for k in order {
        let b = &bands[k];
        if b.end <= x0 || b.start >= x1 {
            continue;
        }
        let (left, right) = (px(b.start), px(b.end));
        let text = shorten(&b.label, chars_in(width - 6));
        let full = text_width(&text, BAND_TEXT);
        let x = (left + 3).min(width - 3 - full).max(2);
        if let Some(row) = free.iter().position(|&f| f <= x) {
            free[row] = x + full + 8;
            out.push(BandLabel {
                text,
                x,
                row: row as i32,
            });
            continue;
        }
        let (row, f) = free
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(r, f)| (f, r))
            .expect("rows");
        let chars = chars_in(width - 3 - f);
        if f < right && chars >= 4 {
            let text = shorten(&b.label, chars);
            free[row] = f + text_width(&text, BAND_TEXT) + 8;
            out.push(BandLabel {
                text,
                x: f,
                row: row as i32,
            });
        }
    }
    out
}

/// A chart over time: one line per variant (`lines` by variant index, in seconds), the fault
/// windows shaded and labelled at the top, `empty` written across when every value is zero.
pub(super) fn time_chart(
    agg: &Aggregate,
    (w, h): (u32, u32),
    title: &str,
    axis: &str,
    lines: &[(usize, Vec<(f64, f64)>)],
    t_end: f64,
    empty: &str,
) -> String {
    let names: Vec<&str> = agg.variants.iter().map(|v| v.name.as_str()).collect();
    let legend: Vec<usize> = lines.iter().map(|(i, _)| *i).collect();
    let hi = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(0.0, f64::max);
    let (y0, y1) = padded_range(0.0, hi, true);
    let y1 = if hi <= 0.0 { 1.0 } else { y1 };
    let t_end = if t_end > 0.0 { t_end } else { 1.0 };
    let bands = bands(agg);
    chart(w, h, title, Key::Line, &legend, &names, |root, body| {
        let (bw, bh) = body.dim_in_pixel();
        let plot_w = bw as i32 - MARGIN_LEFT - MARGIN_RIGHT - Y_AREA;
        let plot_h = bh as i32 - MARGIN_BOTTOM - X_AREA;
        let labels = layout_band_labels(&bands, 0.0, t_end, plot_w);
        let y1 = with_room_for_labels(&labels, plot_h, (y0, y1));
        let mut c = time_plot(body, t_end, (y0, y1), axis)?;
        draw_bands(&mut c, &bands, t_end, (y0, y1))?;
        for (i, points) in lines {
            variant_line(&mut c, *i, points)?;
        }
        draw_band_labels(root, &c, &labels)?;
        if hi <= 0.0 && !lines.is_empty() {
            let (px, py) = c.backend_coord(&(t_end / 2.0, 0.5));
            root.draw(&Text::new(
                empty.to_string(),
                (px, py),
                text_style(12.0, MUTED, HPos::Center, VPos::Center),
            ))?;
        }
        Ok(())
    })
}

/// Margins of the plot of a chart over time and the sizes of its label areas, in pixels: known
/// before the chart is built, so that the band labels can be laid out first.
const MARGIN_LEFT: i32 = 6;
const MARGIN_RIGHT: i32 = 18;
const MARGIN_BOTTOM: i32 = 4;
const X_AREA: i32 = 40;
const Y_AREA: i32 = 60;

/// The top of the y range raised so that the rows of `labels` fit above the data, when the plot
/// (`plot_h` pixels high) has the room.
fn with_room_for_labels(labels: &[BandLabel], plot_h: i32, (y0, y1): (f64, f64)) -> f64 {
    let rows = labels.iter().map(|l| l.row + 1).max().unwrap_or(0);
    let need = if rows > 0 { rows * BAND_ROW + 4 } else { 0 };
    if need > 0 && plot_h > 2 * need {
        y0 + (y1 - y0) * f64::from(plot_h) / f64::from(plot_h - need)
    } else {
        y1
    }
}

/// The plot of a chart over time: seconds from 0 to `t_end` across, `y0..y1` up.
fn time_plot<'a, 'b>(
    body: &'a Area<'b>,
    t_end: f64,
    (y0, y1): (f64, f64),
    axis: &str,
) -> Result<Plot<'a, 'b>, Box<dyn std::error::Error>> {
    let t_decimals = decimals_for(t_end);
    let decimals = decimals_for(y1 - y0);
    let mut c = ChartBuilder::on(body)
        .margin_left(MARGIN_LEFT)
        .margin_right(MARGIN_RIGHT)
        .margin_bottom(MARGIN_BOTTOM)
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(0.0..t_end, y0..y1)?;
    c.configure_mesh()
        .x_labels(7)
        .y_labels(6)
        .max_light_lines(0)
        .bold_line_style(GRID)
        .axis_style(MUTED)
        .label_style(text_style(11.0, INK, HPos::Center, VPos::Center))
        .axis_desc_style(font(12.0).color(&INK))
        .x_label_formatter(&|v| axis_number(*v, t_decimals))
        .y_label_formatter(&|v| axis_number(*v, decimals))
        .x_desc("time (s)")
        .y_desc(axis)
        .draw()?;
    Ok(c)
}

/// The fault windows, shaded over the whole height, with lines at their edges inside the plot.
fn draw_bands(
    c: &mut Plot<'_, '_>,
    bands: &[Band],
    t_end: f64,
    (y0, y1): (f64, f64),
) -> DrawResult {
    let clip = |t: f64| t.clamp(0.0, t_end);
    for b in bands {
        let (a, z) = (clip(b.start), clip(b.end));
        if z <= a {
            continue;
        }
        c.draw_series(std::iter::once(Rectangle::new(
            [(a, y0), (z, y1)],
            BAND_FILL.mix(0.1).filled(),
        )))?;
        let edge = BAND_FILL.mix(0.45);
        for t in [a, z] {
            if t > 0.0 && t < t_end {
                c.draw_series(std::iter::once(PathElement::new(
                    vec![(t, y0), (t, y1)],
                    edge,
                )))?;
            }
        }
    }
    Ok(())
}

/// The band labels along the top of the plot, each on a light backing over the lines.
fn draw_band_labels(root: &Area<'_>, c: &Plot<'_, '_>, labels: &[BandLabel]) -> DrawResult {
    let (xs, ys) = c.plotting_area().get_pixel_range();
    for l in labels {
        let (x, y) = (xs.start + l.x, ys.start + 3 + l.row * BAND_ROW);
        root.draw(&Rectangle::new(
            [
                (x - 2, y - 1),
                (x + text_width(&l.text, BAND_TEXT) + 2, y + 11),
            ],
            WHITE.mix(0.75).filled(),
        ))?;
        root.draw(&Text::new(
            l.text.clone(),
            (x, y),
            text_style(BAND_TEXT, BAND_INK, HPos::Left, VPos::Top),
        ))?;
    }
    Ok(())
}

/// Mean across `n` runs per bucket, at the bucket's middle: (seconds, value).
fn mean_series(
    v: &VariantAggregate,
    s: usize,
    kind: SeriesKind,
    n: usize,
    res_s: f64,
) -> Vec<(f64, f64)> {
    let series = &v.series[s];
    let n = n as f64;
    let good = &v.good_series[s];
    (0..series.completed.len())
        .filter(|&b| !matches!(kind, SeriesKind::Good) || series.arrived[b] > 0)
        .map(|b| {
            let t = (b as f64 + 0.5) * res_s;
            let y = match kind {
                SeriesKind::Good => 100.0 * good[b] as f64 / series.arrived[b] as f64,
                SeriesKind::Throughput => {
                    (series.completed[b] + series.degraded[b]) as f64 / n / res_s
                }
                SeriesKind::Errors => {
                    (series.rejected[b] + series.shed[b] + series.failed[b]) as f64 / n / res_s
                }
                SeriesKind::Queue => series.queue_len[b] as f64 / n,
            };
            (t, y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_labels_do_not_overlap() {
        let band = |label: &str, start: f64, end: f64| Band {
            label: label.to_string(),
            start,
            end,
        };
        let bands = [
            band("payments 100x slower", 60.0, 90.0),
            band("checkout errors 20%", 62.0, 70.0),
            band("late", 170.0, 200.0),
            band("payments down", 64.0, 66.0),
            band("a fourth fault in the same place", 65.0, 67.0),
            band("before the start", -10.0, -5.0),
        ];
        let labels = layout_band_labels(&bands, 0.0, 180.0, 360);
        let texts: Vec<&str> = labels.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "payments 100x slower",
                "checkout errors 20%",
                "payments down",
                "late"
            ]
        );
        assert_eq!(
            labels.iter().map(|l| l.row).collect::<Vec<_>>(),
            [0, 1, 2, 0]
        );
        assert_eq!(labels[0].x, 123, "at the band's left edge");
        assert!(
            labels[3].x + text_width("late", BAND_TEXT) <= 360,
            "kept inside the plot"
        );
        for (k, a) in labels.iter().enumerate() {
            for b in &labels[k + 1..] {
                let (ea, eb) = (
                    a.x + text_width(&a.text, BAND_TEXT),
                    b.x + text_width(&b.text, BAND_TEXT),
                );
                assert!(a.row != b.row || ea <= b.x || eb <= a.x, "{a:?} {b:?}");
            }
        }
        // A label longer than the plot is cut.
        let long = layout_band_labels(&[band(&"x".repeat(200), 10.0, 20.0)], 0.0, 100.0, 200);
        assert!(long[0].text.ends_with('…'));
        assert!(long[0].x + text_width(&long[0].text, BAND_TEXT) <= 200);
    }
}
