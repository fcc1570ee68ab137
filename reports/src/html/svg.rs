//! What every chart shares: the variants' dash patterns and lines, text sizes, the frame of a
//! chart (title, legend, and a body drawn by the caller, as an inline SVG; a note instead when
//! plotters fails), and the helpers for axes and ranges.

use super::markup::escape;
use super::palette::{variant_color, GRID, INK, MUTED};
use crate::sweep::{Aggregate, MetricKind};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(super) type DrawResult = Result<(), Box<dyn std::error::Error>>;
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Plotters' SVG backend writes `font-size = size / 1.24`; this gives text of `px` pixels.
pub(super) fn font(px: f64) -> FontDesc<'static> {
    ("sans-serif", px * 1.24).into_font()
}

pub(super) fn text_style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: font(px),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// A rough width of `text` in pixels at `px`, for layout only.
pub(super) fn text_width(text: &str, px: f64) -> i32 {
    (text.chars().count() as f64 * px * 0.55).ceil() as i32
}

/// Cuts `text` to at most `max` characters, with an ellipsis.
pub(super) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let keep: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{keep}…")
    }
}

/// How a variant is drawn in a legend: as its line (colour and dash) or as a dot.
#[derive(Copy, Clone, PartialEq)]
pub(super) enum Key {
    Line,
    Dot,
}

/// Dash pattern of a variant's lines (pixels on, off): the baseline solid, the others dashed, so
/// that lines that coincide (common random numbers make that frequent) stay visible, and so that a
/// print in grey still tells them apart.
fn dash(i: usize) -> Option<(i32, i32)> {
    match i % 4 {
        0 => None,
        1 => Some((7, 4)),
        2 => Some((2, 3)),
        _ => Some((12, 4)),
    }
}

pub(super) type Plot<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The line of variant `i`, in its colour and dash.
pub(super) fn variant_line(c: &mut Plot<'_, '_>, i: usize, points: &[(f64, f64)]) -> DrawResult {
    let style = variant_color(i).stroke_width(2);
    match dash(i) {
        None => c.draw_series(LineSeries::new(points.iter().copied(), style))?,
        Some((on, off)) => c.draw_series(DashedLineSeries::new(
            points.iter().copied(),
            on,
            off,
            style,
        ))?,
    };
    Ok(())
}

/// One chart as an inline SVG: a title, a legend row (the variants `legend` lists by index), and a
/// body drawn by `draw` on the area below them (`draw` gets the whole image too, for text at
/// absolute positions).
pub(super) fn chart<F>(
    w: u32,
    h: u32,
    title: &str,
    key: Key,
    legend: &[usize],
    names: &[&str],
    draw: F,
) -> String
where
    F: FnOnce(&Area<'_>, &Area<'_>) -> DrawResult,
{
    let mut buf = String::new();
    let result = (|| -> DrawResult {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(
            title.to_string(),
            (12, 8),
            TextStyle::from(("sans-serif", 14.0 * 1.24, FontStyle::Bold).into_font())
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
        let y = draw_legend(&root, key, legend, names, w)?;
        let header = if legend.is_empty() { 36 } else { y + 28 };
        let (_, body) = root.split_vertically(header as u32);
        draw(&root, &body)?;
        root.present()?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            let svg = buf.replacen(
                "<svg ",
                &format!(
                    "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" ",
                    escape(title)
                ),
                1,
            );
            format!("<figure>\n{}</figure>\n", svg.trim_end())
        }
        Err(e) => format!(
            "<figure><p class=\"err\">The chart “{}” could not be drawn: {}</p></figure>\n",
            escape(title),
            escape(&e.to_string())
        ),
    }
}

/// The legend below the title: a swatch (the variant's line, or a dot) and the name of each
/// variant `legend` lists, wrapped to the width `w`. Returns the top of the last row.
fn draw_legend(
    root: &Area<'_>,
    key: Key,
    legend: &[usize],
    names: &[&str],
    w: u32,
) -> Result<i32, Box<dyn std::error::Error>> {
    let (mut x, mut y) = (12, 32);
    for &i in legend {
        let name = shorten(names[i], 40);
        let width = 26 + text_width(&name, 12.0) + 14;
        if x > 12 && x + width > w as i32 - 8 {
            x = 12;
            y += 18;
        }
        let color = variant_color(i);
        let swatch = vec![(x, y + 7), (x + 20, y + 7)];
        match (key, dash(i)) {
            (Key::Dot, _) => root.draw(&Circle::new((x + 10, y + 7), 4, color.filled()))?,
            (Key::Line, None) => root.draw(&PathElement::new(swatch, color.stroke_width(2)))?,
            (Key::Line, Some((on, off))) => root.draw(&DashedPathElement::new(
                swatch,
                on,
                off,
                color.stroke_width(2),
            ))?,
        }
        root.draw(&Text::new(
            name.clone(),
            (x + 26, y),
            text_style(12.0, INK, HPos::Left, VPos::Top),
        ))?;
        x += width;
    }
    Ok(y)
}

/// `text` across a chart that has nothing to show, at `at`.
pub(super) fn draw_note(root: &Area<'_>, text: &str, at: (i32, i32)) -> DrawResult {
    root.draw(&Text::new(
        text,
        at,
        text_style(13.0, MUTED, HPos::Left, VPos::Top),
    ))?;
    Ok(())
}

/// The plot of a chart over `n` categories side by side (at x = 0, 1, ...; the caller writes
/// their labels with [`x_tick`]) and `y0..y1`: light horizontal grid lines, the y axis with
/// `decimals` decimals, and the axes' descriptions `x_desc` and `y_desc`.
pub(super) fn category_plot<'a, 'b>(
    body: &'a Area<'b>,
    n: usize,
    (y0, y1): (f64, f64),
    (x_desc, y_desc): (&str, &str),
    decimals: usize,
) -> Result<Plot<'a, 'b>, Box<dyn std::error::Error>> {
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
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()?;
    Ok(c)
}

/// A tick below the x axis at `(px, py)` (pixels) and its label `text` under it.
pub(super) fn x_tick(root: &Area<'_>, (px, py): (i32, i32), text: String) -> DrawResult {
    root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], MUTED))?;
    root.draw(&Text::new(
        text,
        (px, py + 8),
        text_style(11.0, INK, HPos::Center, VPos::Top),
    ))?;
    Ok(())
}

/// The least and the greatest of `values`, NaN left out; (inf, -inf) when there is none.
pub(super) fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// The y range of a chart of `kind` over values from `lo` to `hi`, padded; availability (in
/// percent, as every share) stops at 100, so that runs with every request answered sit on the top edge.
pub(super) fn metric_range(lo: f64, hi: f64, kind: MetricKind) -> (f64, f64) {
    let (y0, y1) = padded_range(lo, hi, false);
    if kind.unit() == crate::metric::Unit::Fraction {
        (y0.max(0.0), y1.min(100.0))
    } else {
        (y0, y1)
    }
}

/// A number for an axis with `decimals` digits after the point.
pub(super) fn axis_number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

/// Decimals needed to tell ticks apart on an axis spanning `span`.
pub(super) fn decimals_for(span: f64) -> usize {
    if span.is_nan() || span <= 0.0 {
        return 0;
    }
    let step = span / 6.0;
    (-step.log10().floor()).clamp(0.0, 6.0) as usize
}

/// A `[low, high]` range around the values with some room; never empty.
pub(super) fn padded_range(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
    let (mut lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if from_zero {
        lo = lo.min(0.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = (hi.abs() * 0.01).max(1e-3);
        return (if from_zero { lo } else { lo - pad }, hi + pad);
    }
    let pad = span * 0.08;
    (if from_zero { lo } else { lo - pad }, hi + pad)
}

/// Services of all variants, the baseline's first, in their order.
pub(super) fn all_services(agg: &Aggregate) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for v in &agg.variants {
        for s in &v.services {
            if !names.contains(s) {
                names.push(s.clone());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers() {
        assert_eq!(axis_number(-0.0001, 2), "0.00");
        assert_eq!(decimals_for(0.05), 3);
        assert_eq!(decimals_for(600.0), 0);
    }
}
