//! A self-contained HTML report of a sweep, for a design review: verdicts first, then paired
//! comparisons against the baseline, per-service tables, and charts.
//!
//! The document needs nothing from the network: the style is inline and every chart is an inline
//! SVG drawn with plotters' SVG backend. Plotters is built without a font feature, so it never
//! opens a font: it writes text as SVG `<text>` elements (estimating their width only to lay out
//! label areas) and the browser renders them with its own fonts. No font file is vendored and no
//! fontconfig is needed where the report is made.
//!
//! The output is deterministic: the same inputs give the same bytes (no clock, no random ids, no
//! map iteration; plotters writes integer pixel coordinates, and every number in the text is
//! printed with a fixed precision).

use crate::summary::{MetricSummary, ServiceSummary, Summary, VariantSummary, HEADLINE};
use crate::sweep::{Aggregate, MetricKind, VariantAggregate};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours of variants, by index in the sweep (Okabe-Ito, readable by the colour-blind).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xb2),
    RGBColor(0xd5, 0x5e, 0x00),
    RGBColor(0x00, 0x9e, 0x73),
    RGBColor(0xcc, 0x79, 0xa7),
    RGBColor(0xe6, 0x9f, 0x00),
    RGBColor(0x56, 0xb4, 0xe9),
    RGBColor(0x33, 0x33, 0x33),
    RGBColor(0x99, 0x99, 0x99),
];

fn variant_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID: RGBColor = RGBColor(0xe2, 0xe2, 0xe2);

/// `0.95` as `95`, `0.999` as `99.9`.
fn trim_pct(p: f64) -> String {
    let s = format!("{:.3}", p * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The whole report.
pub fn render_html(summary: &Summary, agg: &Aggregate) -> String {
    let mut out = String::new();
    let title = format!("Faultline report: {}", summary.scenario);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    header(&mut out, summary);
    verdicts(&mut out, summary);
    comparisons(&mut out, summary);
    service_tables(&mut out, summary);
    charts(&mut out, summary, agg);
    let _ = write!(
        out,
        "<footer>Made by Faultline from scenario <code>{}</code>, seed {}. The same scenario and seed \
         give the same report.</footer>\n</main>\n</body>\n</html>\n",
        escape(&summary.scenario),
        summary.seed
    );
    out
}

const STYLE: &str = r#"
:root { --ink: #222; --muted: #666; --line: #ddd; --zebra: #f7f7f8; --better: #1a7f37; --worse: #c62828; --neutral: #6b6b6b; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1340px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { margin: 6px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; background: #f2f2f4; padding: 0 3px; border-radius: 3px; }
.about { font-size: 16px; color: #333; }
.meta { color: var(--muted); }
.note { color: var(--muted); font-size: 13px; border-left: 3px solid var(--line); padding-left: 8px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
ul.variants { list-style: none; padding: 0; margin: 10px 0; }
ul.variants li { margin: 3px 0; }
.warn { color: var(--worse); }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; font-weight: 600; background: #f0f0f2; white-space: nowrap; }
tbody tr:nth-child(even) td { background: var(--zebra); }
td.num, th.num { text-align: right; white-space: nowrap; }
td .ci { display: block; color: var(--muted); font-size: 12px; }
td.mark { font-size: 16px; text-align: center; }
.pass { color: var(--better); font-weight: 600; }
.fail { color: var(--worse); font-weight: 600; }
td.better { color: var(--better); font-weight: 600; }
td.worse { color: var(--worse); font-weight: 600; }
td.neutral { color: var(--neutral); }
.charts { display: grid; gap: 14px 18px; margin: 8px 0 18px; }
.charts.two { grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); }
.charts.three { grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); }
figure { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: 4px; background: #fff; }
svg.chart { display: block; width: 100%; height: auto; }
.err { color: var(--worse); }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@media print { main { max-width: none; padding: 0; } figure, table { break-inside: avoid; } }
"#;

/// Escapes `s` and shows its `quoted` names as code.
fn rich(s: &str) -> String {
    let e = escape(s);
    if e.matches('`').count() % 2 == 1 {
        return e;
    }
    let mut out = String::with_capacity(e.len() + 16);
    for (k, part) in e.split('`').enumerate() {
        if k % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn swatch(i: usize) -> String {
    format!(
        "<span class=\"swatch\" style=\"background:{}\"></span>",
        hex(variant_color(i))
    )
}

fn variant_index(summary: &Summary, name: &str) -> usize {
    summary
        .variants
        .iter()
        .position(|v| v.name == name)
        .unwrap_or(0)
}

fn header(out: &mut String, s: &Summary) {
    let conf = trim_pct(s.confidence);
    let _ = writeln!(out, "<header>\n<h1>{}</h1>", escape(&s.scenario));
    if !s.about.trim().is_empty() {
        let _ = writeln!(out, "<p class=\"about\">{}</p>", escape(&s.about));
    }
    let baseline = s.variants.first().map_or(String::new(), |v| {
        format!(" · baseline <b>{}</b>", escape(&v.name))
    });
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} runs per variant · {} variant{} · seed {} · confidence level {conf}%{baseline}</p>",
        s.runs,
        s.variants.len(),
        if s.variants.len() == 1 { "" } else { "s" },
        s.seed
    );
    let _ = writeln!(
        out,
        "<p class=\"note\">Intervals are {conf}% Student-t intervals of the mean across runs; differences are paired by seed \
         (every variant runs on the same seeds as the baseline, so a difference is measured run by run). \
         Latencies are those of completed requests, from arrival at an instance to the response leaving it.</p>"
    );
    out.push_str("<ul class=\"variants\">\n");
    for (i, v) in s.variants.iter().enumerate() {
        let about = if v.about.trim().is_empty() {
            String::new()
        } else {
            format!(" — {}", escape(&v.about))
        };
        let early = if v.runs_stopped_early > 0 {
            format!(
                " <span class=\"warn\">{} stopped early at a guard</span>",
                v.runs_stopped_early
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<li>{}<b>{}</b>{about} <span class=\"meta\">({} of {} runs finished)</span>{early}</li>",
            swatch(i),
            escape(&v.name),
            v.runs_finished,
            s.runs
        );
    }
    out.push_str("</ul>\n</header>\n");
}

fn verdicts(out: &mut String, s: &Summary) {
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

fn comparisons(out: &mut String, s: &Summary) {
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
         baseline mean for latencies and throughput, in percentage points for availability and utilization. \
         <span class=\"pass\">Green</span>: significantly better; <span class=\"fail\">red</span>: significantly worse; \
         grey: the interval contains zero.</p>\n",
    );
    for (k, v) in others.iter().enumerate() {
        let _ = writeln!(
            out,
            "<h3>{}{} vs {}</h3>",
            swatch(k + 1),
            escape(&v.name),
            escape(&baseline.name)
        );
        out.push_str("<table>\n<thead><tr><th>service</th>");
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
                match c {
                    Some(c) => {
                        pairs = pairs.max(c.n_pairs);
                        let class = match c.outcome.as_str() {
                            "better" => "better",
                            "worse" => "worse",
                            _ => "neutral",
                        };
                        let prefix = format!("{} ", m.name());
                        let text = c.text.strip_prefix(&prefix).unwrap_or(&c.text);
                        let _ = write!(
                            out,
                            "<td class=\"num {class}\" title=\"{}\">{}</td>",
                            escape(&c.outcome),
                            escape(text)
                        );
                    }
                    None => out.push_str(
                        "<td class=\"num neutral\" title=\"fewer than two pairs\">-</td>",
                    ),
                }
            }
            let _ = writeln!(out, "<td class=\"num\">{pairs}</td></tr>");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

fn metric(svc: &ServiceSummary, kind: MetricKind) -> Option<&MetricSummary> {
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

fn service_tables(out: &mut String, s: &Summary) {
    const COLUMNS: [MetricKind; 7] = [
        MetricKind::Availability,
        MetricKind::LatencyP50,
        MetricKind::LatencyP99,
        MetricKind::LatencyP999,
        MetricKind::Throughput,
        MetricKind::Utilization,
        MetricKind::QueueLenMean,
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
    out.push_str("<table>\n<thead><tr><th>service</th>");
    for m in columns {
        let _ = write!(out, "<th class=\"num\">{}</th>", escape(m.name()));
    }
    out.push_str(
        "<th class=\"num\">arrived</th><th class=\"num\">completed</th><th class=\"num\">degraded</th><th class=\"num\">rejected</th><th class=\"num\">shed</th><th class=\"num\">failed</th></tr></thead>\n<tbody>\n",
    );
    for svc in &v.services {
        let _ = write!(out, "<tr><td>{}</td>", escape(&svc.name));
        for &m in columns {
            out.push_str(&mean_ci_cell(svc, m));
        }
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            svc.arrived, svc.completed, svc.degraded, svc.rejected, svc.shed, svc.failed
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------

type DrawResult = Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Plotters' SVG backend writes `font-size = size / 1.24`; this gives text of `px` pixels.
fn font(px: f64) -> FontDesc<'static> {
    ("sans-serif", px * 1.24).into_font()
}

fn text_style(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: font(px),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// A rough width of `text` in pixels at `px`, for layout only.
fn text_width(text: &str, px: f64) -> i32 {
    (text.chars().count() as f64 * px * 0.55).ceil() as i32
}

/// Cuts `text` to at most `max` characters, with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let keep: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{keep}…")
    }
}

/// How a variant is drawn in a legend: as its line (colour and dash) or as a dot.
#[derive(Copy, Clone, PartialEq)]
enum Key {
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

type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The line of variant `i`, in its colour and dash.
fn variant_line(c: &mut Plot<'_, '_>, i: usize, points: &[(f64, f64)]) -> DrawResult {
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
fn chart<F>(
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
        // Legend: line swatch and name per variant, wrapped to the width.
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

/// A number for an axis with `decimals` digits after the point.
fn axis_number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
        s[1..].to_string()
    } else {
        s
    }
}

/// Decimals needed to tell ticks apart on an axis spanning `span`.
fn decimals_for(span: f64) -> usize {
    if span.is_nan() || span <= 0.0 {
        return 0;
    }
    let step = span / 6.0;
    (-step.log10().floor()).clamp(0.0, 6.0) as usize
}

/// A `[low, high]` range around the values with some room; never empty.
fn padded_range(lo: f64, hi: f64, from_zero: bool) -> (f64, f64) {
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
fn all_services(agg: &Aggregate) -> Vec<String> {
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

fn charts(out: &mut String, summary: &Summary, agg: &Aggregate) {
    let services = all_services(agg);
    out.push_str("<section>\n<h2>Latency distribution</h2>\n");
    out.push_str(
        "<p class=\"note\">Share of completed requests at or below a latency, over all runs of each variant pooled \
         (merged histograms, three significant digits). The x axis is logarithmic.</p>\n<div class=\"charts two\">\n",
    );
    for s in &services {
        out.push_str(&cdf_chart(agg, s));
    }
    out.push_str("</div>\n</section>\n");

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

    out.push_str("<section>\n<h2>Over time</h2>\n");
    out.push_str(
        "<p class=\"note\">Mean across runs per time bucket, over the whole run (warm-up included). Queue length is \
         the number of requests waiting for a worker at the end of each bucket, all instances together.</p>\n",
    );
    for s in &services {
        let _ = writeln!(out, "<h3>{}</h3>\n<div class=\"charts three\">", escape(s));
        for kind in [
            SeriesKind::Throughput,
            SeriesKind::Errors,
            SeriesKind::Queue,
        ] {
            out.push_str(&series_chart(agg, s, kind));
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
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

fn cdf_chart(agg: &Aggregate, service: &str) -> String {
    // Raw points per variant: (log10 of ms, % of requests at or below).
    let mut lines: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, v) in agg.variants.iter().enumerate() {
        let Some(s) = v.service_idx(service) else {
            continue;
        };
        let h = &v.latency[s];
        if h.is_empty() {
            continue;
        }
        let total = h.len() as f64;
        let first = (h.min().max(1) as f64 / 1e6).log10();
        let mut points = vec![(first, 0.0)];
        let mut cum = 0u64;
        for it in h.iter_recorded() {
            cum += it.count_since_last_iteration();
            let x = (it.value_iterated_to().max(1) as f64 / 1e6).log10();
            points.push((x, 100.0 * cum as f64 / total));
        }
        lo = lo.min(first);
        hi = hi.max(points.last().map_or(first, |p| p.0));
        lines.push((i, points));
    }
    let title = format!("{service} · latency CDF");
    let names: Vec<&str> = agg.variants.iter().map(|v| v.name.as_str()).collect();
    let legend: Vec<usize> = lines.iter().map(|(i, _)| *i).collect();
    if lines.is_empty() {
        return chart(640, 400, &title, Key::Line, &legend, &names, |root, _| {
            root.draw(&Text::new(
                "no completed request",
                (240, 200),
                text_style(13.0, MUTED, HPos::Left, VPos::Top),
            ))?;
            Ok(())
        });
    }
    let span = (hi - lo).max(0.2);
    let (x0, x1) = (lo - span * 0.03, hi + span * 0.03);
    // Thin the curves to what a 600-pixel plot can show.
    let min_dx = (x1 - x0) / 900.0;
    for (_, points) in &mut lines {
        let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(2000));
        for (k, &p) in points.iter().enumerate() {
            let last = k + 1 == points.len();
            match kept.last() {
                Some(&q) if !last && p.0 - q.0 < min_dx && (p.1 - q.1).abs() < 0.1 => {}
                _ => kept.push(p),
            }
        }
        *points = kept;
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
            for &t in &ticks {
                let l = t.log10();
                c.draw_series(std::iter::once(PathElement::new(
                    vec![(l, 0.0), (l, 100.0)],
                    GRID,
                )))?;
                let (px, py) = c.backend_coord(&(l, 0.0));
                root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], MUTED))?;
                root.draw(&Text::new(
                    ms_label(t),
                    (px, py + 8),
                    text_style(11.0, INK, HPos::Center, VPos::Top),
                ))?;
            }
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
            for (i, points) in &lines {
                variant_line(&mut c, *i, points)?;
            }
            Ok(())
        },
    )
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

#[derive(Copy, Clone)]
enum SeriesKind {
    Throughput,
    Errors,
    Queue,
}

fn series_chart(agg: &Aggregate, service: &str, kind: SeriesKind) -> String {
    let (what, axis) = match kind {
        SeriesKind::Throughput => ("throughput", "completed per second"),
        SeriesKind::Errors => ("errors", "rejected + failed per second"),
        SeriesKind::Queue => ("queue length", "requests waiting"),
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
    let names: Vec<&str> = agg.variants.iter().map(|v| v.name.as_str()).collect();
    let legend: Vec<usize> = lines.iter().map(|(i, _)| *i).collect();
    let hi = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(0.0, f64::max);
    let (y0, y1) = padded_range(0.0, hi, true);
    let y1 = if hi <= 0.0 { 1.0 } else { y1 };
    let decimals = decimals_for(y1 - y0);
    let t_end = if t_end > 0.0 { t_end } else { 1.0 };
    let t_decimals = decimals_for(t_end);
    chart(
        460,
        320,
        &title,
        Key::Line,
        &legend,
        &names,
        |root, body| {
            let mut c = ChartBuilder::on(body)
                .margin_left(6)
                .margin_right(18)
                .margin_bottom(4)
                .x_label_area_size(40)
                .y_label_area_size(60)
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
            for (i, points) in &lines {
                variant_line(&mut c, *i, points)?;
            }
            if hi <= 0.0 && !lines.is_empty() {
                let (px, py) = c.backend_coord(&(t_end / 2.0, 0.5));
                let what = match kind {
                    SeriesKind::Throughput => "no request completed in any run",
                    SeriesKind::Errors => "no rejected or failed request in any run",
                    SeriesKind::Queue => "no request waiting at any bucket end",
                };
                root.draw(&Text::new(
                    what,
                    (px, py),
                    text_style(12.0, MUTED, HPos::Center, VPos::Center),
                ))?;
            }
            Ok(())
        },
    )
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
    (0..series.completed.len())
        .map(|b| {
            let t = (b as f64 + 0.5) * res_s;
            let y = match kind {
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
    use crate::summary::summarize;
    use crate::sweep::VariantAggregate;

    const QUICKSTART: &str = include_str!("../../scenarios/quickstart.ron");

    /// Quickstart with two variants; `short` cuts the horizon to 20s.
    fn source(short: bool) -> String {
        let mut src = QUICKSTART.to_string();
        if short {
            // The load schedule scaled to fit: ramp at 8s over 4s, back down at 15s.
            for (from, to) in [
                ("horizon: \"2m\"", "horizon: \"20s\""),
                ("warmup: \"10s\"", "warmup: \"2s\""),
                ("from: \"60s\", over: \"20s\"", "from: \"8s\", over: \"4s\""),
                ("at: \"100s\"", "at: \"15s\""),
            ] {
                src = src.replacen(from, to, 1);
            }
        }
        if !src.contains("\n    variants:") {
            let end = src.rfind(')').expect("a scenario ends with `)`");
            src.replace_range(
                end..,
                "    variants: [(name: \"base\"), (name: \"more-db\", set: {\"services.db.workers\": 8})],\n)\n",
            );
        }
        src
    }

    fn sweep(src: &str, n_runs: usize) -> (Aggregate, Vec<crate::check::Verdict>) {
        sweep_with(src, n_runs, n_runs, &[])
    }

    /// Runs `finished` of `n_runs` runs of each design; `extra` adds designs that copy the first
    /// one under other names (with no finished run when the name starts with `-`).
    fn sweep_with(
        src: &str,
        n_runs: usize,
        finished: usize,
        extra: &[&str],
    ) -> (Aggregate, Vec<crate::check::Verdict>) {
        let study =
            models::variants::load_study("quickstart.ron", src).expect("the scenario loads");
        assert!(study.designs.len() >= 2, "two variants at least");
        let world = &study.designs[0].world;
        let mut agg = Aggregate {
            scenario: study.spec.name.clone(),
            about: study.spec.about.clone(),
            seed: world.seed,
            n_runs,
            variants: Vec::new(),
        };
        let designs = study
            .designs
            .iter()
            .map(|d| (d.name.clone(), d))
            .chain(extra.iter().map(|n| (n.to_string(), &study.designs[0])));
        for (name, d) in designs {
            let w = &d.world;
            let names = w.services.iter().map(|s| s.name.clone()).collect();
            let mut v = VariantAggregate::new(
                &name,
                &d.about,
                names,
                n_runs,
                w.resolution.as_ns(),
                w.n_buckets(),
            );
            let finished = if name.starts_with('-') { 0 } else { finished };
            for run in 0..finished as u64 {
                let (result, hists) =
                    models::run_world_with_histograms(w, w.seed, run).expect("the run finishes");
                v.add(&result, &hists);
            }
            agg.variants.push(v);
        }
        let verdicts = crate::check::evaluate(&study.spec.expect, &agg);
        (agg, verdicts)
    }

    fn count(hay: &str, needle: &str) -> usize {
        hay.matches(needle).count()
    }

    #[test]
    fn renders_a_well_formed_deterministic_report() {
        let (mut agg, verdicts) = sweep(&source(true), 4);
        agg.scenario = "<script>alert('x')</script> & co".to_string();
        let summary = summarize(&agg, verdicts.clone());
        let html = render_html(&summary, &agg);

        assert!(html.starts_with("<!DOCTYPE html>"));
        for v in &agg.variants {
            assert!(html.contains(&escape(&v.name)), "names variant {}", v.name);
            for s in &v.services {
                assert!(html.contains(&escape(s)), "names service {s}");
            }
        }
        assert!(html.contains("<svg"));
        for tag in [
            "html", "head", "body", "main", "section", "table", "thead", "tbody", "tr", "svg",
            "figure", "text",
        ] {
            let open = count(&html, &format!("<{tag}>")) + count(&html, &format!("<{tag} "));
            let close = count(&html, &format!("</{tag}>"));
            assert!(open > 0, "<{tag}> is used");
            assert_eq!(
                open, close,
                "<{tag}> opened {open} times, closed {close} times"
            );
        }
        assert!(!html.contains("<script"), "user strings are escaped");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
        // Verdicts and comparisons are shown.
        assert!(!verdicts.is_empty());
        for e in &summary.expectations {
            assert!(html.contains(&rich(&e.expectation)));
        }
        assert!(html.contains("Student-t"));
        assert!(
            html.contains("class=\"num better\"")
                || html.contains("class=\"num neutral\"")
                || html.contains("class=\"num worse\"")
        );
        // Nothing to fetch.
        assert_eq!(
            count(&html, "http://"),
            count(&html, "xmlns=\"http://www.w3.org/2000/svg\""),
            "only the SVG namespace"
        );
        assert!(!html.contains("https://"));
        assert!(!html.contains("<link") && !html.contains("@import") && !html.contains("url("));

        let again = render_html(&summarize(&agg, verdicts), &agg);
        assert!(html == again, "rendering twice gives the same bytes");
    }

    /// Degenerate sweeps still give a whole document: one run (no intervals), a variant with no
    /// finished run, many variants with long names and markup in them.
    #[test]
    fn renders_degenerate_sweeps() {
        let extra = [
            "a variant with a rather long name <b>bold</b>",
            "-never-finished",
            "x",
            "y & z",
            "sixth",
        ];
        let (agg, verdicts) = sweep_with(&source(true), 3, 1, &extra);
        let html = render_html(&summarize(&agg, verdicts), &agg);
        for tag in ["html", "body", "table", "svg", "figure"] {
            let open = count(&html, &format!("<{tag}>")) + count(&html, &format!("<{tag} "));
            assert_eq!(open, count(&html, &format!("</{tag}>")), "<{tag}> balanced");
        }
        assert!(!html.contains("<b>bold"));
        assert!(html.contains("One finished run: values without an interval."));
        assert!(html.contains("No run of this variant finished."));
        assert!(!html.contains("class=\"err\""), "every chart is drawn");
        if let Ok(path) = std::env::var("FAULTLINE_HTML_STRESS_OUT") {
            std::fs::write(path, &html).expect("the report is written");
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(
            rich("p99 of `a<b>` ok"),
            "p99 of <code>a&lt;b&gt;</code> ok"
        );
        assert_eq!(rich("odd ` tick"), "odd ` tick");
    }

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
        assert_eq!(axis_number(-0.0001, 2), "0.00");
        assert_eq!(decimals_for(0.05), 3);
        assert_eq!(decimals_for(600.0), 0);
    }
}
