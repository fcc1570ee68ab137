//! The heatmap of a two-parameter grid: parameter 1 across, parameter 2 up, a cell per grid point
//! with its value, coloured on one viridis scale for the whole sweep (from dark, worse, to bright,
//! better; logarithmic for latencies), and the colour legend beside it.

use super::palette::{INK, MUTED};
use super::svg::{chart, font, shorten, text_style, text_width, Area, DrawResult, Key};
use crate::format::fmt_ns;
use crate::sweep::MetricKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A cell's value for people: `99.95%`, `1.01s`.
fn grid_cell_text(kind: MetricKind, v: f64) -> String {
    if kind.is_latency() {
        fmt_ns(v)
    } else {
        kind.format(v)
    }
}

/// Viridis (matplotlib), sampled at ninths: dark purple to yellow, perceptually uniform, readable
/// by the colour-blind and in grey.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x28, 0x78),
    (0x3e, 0x49, 0x89),
    (0x31, 0x68, 0x8e),
    (0x26, 0x82, 0x8e),
    (0x1f, 0x9e, 0x89),
    (0x35, 0xb7, 0x79),
    (0x6e, 0xce, 0x58),
    (0xfd, 0xe7, 0x25),
];

fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let k = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Dark text on light colours, white on dark ones.
fn ink_on(c: RGBColor) -> RGBColor {
    let l = 0.2126 * f64::from(c.0) + 0.7152 * f64::from(c.1) + 0.0722 * f64::from(c.2);
    if l > 140.0 {
        INK
    } else {
        WHITE
    }
}

/// A colour scale over `[lo, hi]` from worse (0, dark) to better (1, bright); logarithmic for
/// latencies.
pub(super) struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    higher_is_better: bool,
}

impl Scale {
    pub(super) fn new(values: &[f64], kind: MetricKind) -> Option<Scale> {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let mut lo = finite.clone().fold(f64::INFINITY, f64::min);
        let mut hi = finite.fold(f64::NEG_INFINITY, f64::max);
        if lo > hi {
            return None;
        }
        let log = kind.is_latency() && lo > 0.0;
        // A least span, so that values a rounding apart do not get opposite colours: a factor of
        // 1.26 for latencies (centred), 0.1 percentage point below the highest for fractions.
        if log {
            let (a, b) = (lo.log10(), hi.log10());
            if b - a < 0.1 {
                let c = (a + b) / 2.0;
                (lo, hi) = (10f64.powf(c - 0.05), 10f64.powf(c + 0.05));
            }
        } else if !kind.is_latency() {
            lo = lo.min(hi - 0.001);
        }
        Some(Scale {
            lo,
            hi,
            log,
            higher_is_better: kind.better() != Some(crate::metric::Better::Lower),
        })
    }

    fn f(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    fn single(&self) -> bool {
        self.f(self.hi) - self.f(self.lo) <= f64::EPSILON * self.f(self.hi).abs().max(1e-300)
    }

    /// Position of `v` on the scale, 1 the better end.
    fn t(&self, v: f64) -> f64 {
        if self.single() {
            return 0.5;
        }
        let u = (self.f(v) - self.f(self.lo)) / (self.f(self.hi) - self.f(self.lo));
        if self.higher_is_better {
            u
        } else {
            1.0 - u
        }
    }

    /// The value at position `t`.
    fn value(&self, t: f64) -> f64 {
        let u = if self.higher_is_better { t } else { 1.0 - t };
        let x = self.f(self.lo) + u * (self.f(self.hi) - self.f(self.lo));
        if self.log {
            10f64.powf(x)
        } else {
            x
        }
    }
}

/// What a heatmap shows: a value per point of a grid of `xs` across by `ys` up.
pub(super) struct Heatmap<'a> {
    pub(super) title: String,
    /// The parameters across and up.
    pub(super) params: &'a [String],
    pub(super) xs: Vec<String>,
    pub(super) ys: Vec<String>,
    /// Per grid point: index into `xs`, index into `ys`, value (NaN when it has none).
    pub(super) cells: Vec<(usize, usize, f64)>,
    /// `None` when no variant has a value.
    pub(super) scale: Option<Scale>,
    pub(super) kind: MetricKind,
}

/// A heatmap over a two-parameter grid: parameter 1 across, parameter 2 up, one cell per grid
/// point with its value, and a colour legend.
pub(super) fn heatmap(map: &Heatmap<'_>) -> String {
    let l = Layout::new(map);
    chart(
        l.w as u32,
        l.h as u32,
        &map.title,
        Key::Dot,
        &[],
        &[],
        |root, _| {
            draw_cells(root, map, &l)?;
            draw_axes(root, map, &l)?;
            match &map.scale {
                Some(scale) => draw_legend(root, scale, map.kind, &l),
                None => Ok(()),
            }
        },
    )
}

/// Where the parts of a heatmap go, in pixels: the cells between `left` and the legend at
/// `legend_x`, from `top` down to `bottom`, the tick labels of parameter 2 in `y_tick_w` pixels.
struct Layout {
    w: i32,
    h: i32,
    top: i32,
    bottom: i32,
    left: i32,
    legend_x: i32,
    y_tick_w: i32,
    cell_w: i32,
    cell_h: i32,
}

impl Layout {
    fn new(map: &Heatmap<'_>) -> Layout {
        let w: i32 = 560;
        let top = 48;
        let y_tick_w = map
            .ys
            .iter()
            .map(|v| text_width(v, 11.0))
            .max()
            .unwrap_or(0)
            .min(120);
        let left = 30 + y_tick_w + 8;
        let legend_x = w - 98;
        let right = legend_x - 20;
        let nx = map.xs.len().max(1) as i32;
        let ny = map.ys.len().max(1) as i32;
        let cell_w = (right - left) / nx;
        let cell_h = ((f64::from(cell_w) * 0.5) as i32).clamp(30, 46);
        let bottom = top + ny * cell_h;
        Layout {
            w,
            h: (bottom + 50).max(top + 150),
            top,
            bottom,
            left,
            legend_x,
            y_tick_w,
            cell_w,
            cell_h,
        }
    }

    /// The left edge of column `k`.
    fn x_at(&self, k: usize) -> i32 {
        self.left + k as i32 * self.cell_w
    }

    /// The top edge of row `k`; row 0 at the bottom, as on an axis.
    fn y_at(&self, k: usize) -> i32 {
        self.bottom - (k as i32 + 1) * self.cell_h
    }
}

/// Each cell in the colour of its value (grey without one), with the value written in it.
fn draw_cells(root: &Area<'_>, map: &Heatmap<'_>, l: &Layout) -> DrawResult {
    for &(x, y, v) in &map.cells {
        let (x0, y0) = (l.x_at(x), l.y_at(y));
        let fill = match &map.scale {
            Some(s) if v.is_finite() => viridis(s.t(v)),
            _ => RGBColor(0xee, 0xee, 0xee),
        };
        root.draw(&Rectangle::new(
            [(x0 + 1, y0 + 1), (x0 + l.cell_w - 1, y0 + l.cell_h - 1)],
            fill.filled(),
        ))?;
        let (text, color) = if v.is_finite() {
            (grid_cell_text(map.kind, v), ink_on(fill))
        } else {
            ("-".to_string(), MUTED)
        };
        let size = if text_width(&text, 12.0) <= l.cell_w - 8 {
            12.0
        } else {
            10.0
        };
        let max_chars = ((f64::from(l.cell_w) - 6.0) / (size * 0.55)).max(2.0) as usize;
        root.draw(&Text::new(
            shorten(&text, max_chars),
            (x0 + l.cell_w / 2, y0 + l.cell_h / 2),
            text_style(size, color, HPos::Center, VPos::Center),
        ))?;
    }
    Ok(())
}

/// The axes: values of parameter 1 below the cells, of parameter 2 on their left, and the
/// parameters' names.
fn draw_axes(root: &Area<'_>, map: &Heatmap<'_>, l: &Layout) -> DrawResult {
    let max_x_chars = ((f64::from(l.cell_w) - 4.0) / (11.0 * 0.55)).max(3.0) as usize;
    for (k, v) in map.xs.iter().enumerate() {
        let cx = l.x_at(k) + l.cell_w / 2;
        root.draw(&PathElement::new(
            vec![(cx, l.bottom), (cx, l.bottom + 4)],
            MUTED,
        ))?;
        root.draw(&Text::new(
            shorten(v, max_x_chars),
            (cx, l.bottom + 7),
            text_style(11.0, INK, HPos::Center, VPos::Top),
        ))?;
    }
    let max_y_chars = ((f64::from(l.y_tick_w)) / (11.0 * 0.55)).max(3.0) as usize;
    for (k, v) in map.ys.iter().enumerate() {
        let cy = l.y_at(k) + l.cell_h / 2;
        root.draw(&PathElement::new(
            vec![(l.left - 4, cy), (l.left, cy)],
            MUTED,
        ))?;
        root.draw(&Text::new(
            shorten(v, max_y_chars),
            (l.left - 7, cy),
            text_style(11.0, INK, HPos::Right, VPos::Center),
        ))?;
    }
    let grid_right = l.x_at(map.xs.len());
    root.draw(&Text::new(
        map.params[0].clone(),
        ((l.left + grid_right) / 2, l.bottom + 26),
        text_style(12.0, INK, HPos::Center, VPos::Top),
    ))?;
    root.draw(&Text::new(
        map.params[1].clone(),
        (14, (l.top + l.bottom) / 2),
        font(12.0)
            .color(&INK)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

/// The legend: the colour bar, better at the top, with values beside it.
fn draw_legend(root: &Area<'_>, scale: &Scale, kind: MetricKind, l: &Layout) -> DrawResult {
    let (lt, lb) = (l.top, l.bottom.max(l.top + 100));
    root.draw(&Text::new(
        "better",
        (l.legend_x, lt - 14),
        text_style(10.0, MUTED, HPos::Left, VPos::Top),
    ))?;
    let steps = 40;
    for k in 0..steps {
        let ya = lt + (lb - lt) * k / steps;
        let yb = lt + (lb - lt) * (k + 1) / steps;
        let t = 1.0 - (f64::from(k) + 0.5) / f64::from(steps);
        let color = if scale.single() {
            viridis(0.5)
        } else {
            viridis(t)
        };
        root.draw(&Rectangle::new(
            [(l.legend_x, ya), (l.legend_x + 14, yb)],
            color.filled(),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(l.legend_x, lt), (l.legend_x + 14, lb)],
        MUTED,
    ))?;
    draw_legend_values(root, scale, kind, l.legend_x, (lt, lb))?;
    if scale.log {
        root.draw(&Text::new(
            "log scale",
            (l.legend_x, lb + 6),
            text_style(10.0, MUTED, HPos::Left, VPos::Top),
        ))?;
    }
    Ok(())
}

/// Values along the colour bar from `lt` to `lb` (two to five; one for a single value), each
/// written once.
fn draw_legend_values(
    root: &Area<'_>,
    scale: &Scale,
    kind: MetricKind,
    legend_x: i32,
    (lt, lb): (i32, i32),
) -> DrawResult {
    let n_labels = if scale.single() {
        1
    } else {
        ((lb - lt) / 24).clamp(2, 5)
    };
    let mut last = String::new();
    for k in 0..n_labels {
        let (t, y) = if n_labels == 1 {
            (0.5, (lt + lb) / 2)
        } else {
            let t = 1.0 - f64::from(k) / f64::from(n_labels - 1);
            (t, lt + (lb - lt) * k / (n_labels - 1))
        };
        let v = if n_labels == 1 {
            scale.lo
        } else {
            scale.value(t)
        };
        let text = grid_cell_text(kind, v);
        if text == last {
            continue;
        }
        last = text.clone();
        root.draw(&PathElement::new(
            vec![(legend_x + 14, y), (legend_x + 18, y)],
            MUTED,
        ))?;
        root.draw(&Text::new(
            text,
            (legend_x + 21, y),
            text_style(10.0, INK, HPos::Left, VPos::Center),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_scales() {
        assert_eq!(viridis(0.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(ink_on(viridis(0.0)), WHITE);
        assert_eq!(ink_on(viridis(1.0)), INK);
        // Latency: lower is better, logarithmic.
        let s = Scale::new(&[1e6, f64::NAN, 100e6], MetricKind::LatencyP99).unwrap();
        assert!(s.log);
        assert_eq!(s.t(1e6), 1.0);
        assert_eq!(s.t(100e6), 0.0);
        assert!((s.t(10e6) - 0.5).abs() < 1e-12);
        assert!((s.value(0.5) - 10e6).abs() < 1e-3);
        // Availability: higher is better, at least 0.1 pp wide.
        let s = Scale::new(&[1.0, 1.0], MetricKind::Availability).unwrap();
        assert_eq!(s.t(1.0), 1.0);
        assert!((s.lo - 0.999).abs() < 1e-12);
        assert!(Scale::new(&[f64::NAN], MetricKind::Availability).is_none());
    }
}
