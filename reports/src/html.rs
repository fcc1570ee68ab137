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

use crate::format::{fmt_ns, trim_pct};
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
    faults_line(&mut out, agg);
    out.push_str("</header>\n");
    verdicts(&mut out, summary);
    grid_section(&mut out, summary, agg);
    comparisons(&mut out, summary);
    service_tables(&mut out, summary);
    failure_modes(&mut out, summary);
    charts(&mut out, summary, agg);
    breakers_section(&mut out, agg);
    let _ = write!(
        out,
        "<footer>Made by Faultline from scenario <code>{}</code>, seed {}. The same scenario and seed \
         give the same report.</footer>\n</main>\n</body>\n</html>\n",
        escape(&summary.scenario),
        summary.seed
    );
    out
}

/// One row per injected fault and variant: detection, user impact, recovery, across runs.
fn failure_modes(out: &mut String, s: &Summary) {
    if s.variants.iter().all(|v| v.failure_modes.is_empty()) {
        return;
    }
    out.push_str("<section>\n<h2>Failure modes</h2>\n");
    out.push_str(
        "<p class=\"note\">One row per injected fault (and rollout), across runs: what detected it first \
         and how soon, whether users saw errors (a bucket below the scenario's <code>slo</code>, 99% good answers by default), what it cost \
         them, and how long until they were back within that SLO.</p>\n<table>\n<tr><th>variant</th>",
    );
    for c in crate::summary::FAILURE_MODE_COLUMNS {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for v in &s.variants {
        for f in &v.failure_modes {
            let _ = write!(out, "<tr><td><code>{}</code></td>", escape(&v.name));
            for c in f.cells() {
                let _ = write!(out, "<td>{}</td>", escape(&c));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</table>\n</section>\n");
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
.scroll { max-width: 100%; overflow-x: auto; }
.faults .band { display: inline-block; width: 16px; height: 12px; margin-right: 6px; vertical-align: -1px; background: rgba(214, 45, 32, 0.14); border-left: 1px solid rgba(214, 45, 32, 0.5); border-right: 1px solid rgba(214, 45, 32, 0.5); }
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
    out.push_str("</ul>\n");
}

/// A time in the run for people: `60s`, `90s`, `2m`, `2m30s`, `1.5s`, `250ms`.
fn fmt_time(ns: u64) -> String {
    if !ns.is_multiple_of(1_000_000_000) {
        if ns < 1_000_000_000 {
            return format!("{}ms", trim_decimals(ns as f64 / 1e6, 3));
        }
        return format!("{}s", trim_decimals(ns as f64 / 1e9, 3));
    }
    let s = ns / 1_000_000_000;
    if s < 120 {
        return format!("{s}s");
    }
    let (h, m, sec) = (s / 3600, (s / 60) % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if m > 0 {
        let _ = write!(out, "{m}m");
    }
    if sec > 0 {
        let _ = write!(out, "{sec}s");
    }
    out
}

/// `x` with at most `decimals` decimals, trailing zeros cut.
fn trim_decimals(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One injected fault of the sweep, with the variants (indices) that have it.
struct FaultWindow {
    what: String,
    start_ns: u64,
    end_ns: u64,
    variants: Vec<usize>,
}

impl FaultWindow {
    /// Whether some variant (with a finished run) lacks this fault.
    fn partial(&self, agg: &Aggregate) -> bool {
        agg.variants
            .iter()
            .enumerate()
            .any(|(i, v)| v.n_finished() > 0 && !self.variants.contains(&i))
    }

    /// The label of its band on a chart: the description, and which variants have it when not all.
    fn label(&self, agg: &Aggregate) -> String {
        if !self.partial(agg) {
            return self.what.clone();
        }
        match self.variants.as_slice() {
            [i] => format!("{} (only {})", self.what, agg.variants[*i].name),
            many => format!("{} ({} variants)", self.what, many.len()),
        }
    }
}

/// The union of the faults of every variant, in order of first appearance (baseline first). A
/// variant with no finished run has no known faults and counts for none.
fn fault_windows(agg: &Aggregate) -> Vec<FaultWindow> {
    let mut out: Vec<FaultWindow> = Vec::new();
    for (i, v) in agg.variants.iter().enumerate() {
        for (what, start, end) in &v.faults {
            match out
                .iter_mut()
                .find(|f| f.what == *what && f.start_ns == *start && f.end_ns == *end)
            {
                Some(f) => {
                    if !f.variants.contains(&i) {
                        f.variants.push(i);
                    }
                }
                None => out.push(FaultWindow {
                    what: what.clone(),
                    start_ns: *start,
                    end_ns: *end,
                    variants: vec![i],
                }),
            }
        }
    }
    out
}

/// `Injected faults: payments 100x slower, 60s–90s.` under the variants, when there are any.
fn faults_line(out: &mut String, agg: &Aggregate) {
    let faults = fault_windows(agg);
    if faults.is_empty() {
        return;
    }
    let items: Vec<String> = faults
        .iter()
        .map(|f| {
            let only = if f.partial(agg) {
                let names: Vec<String> = f
                    .variants
                    .iter()
                    .map(|&i| format!("<b>{}</b>", escape(&agg.variants[i].name)))
                    .collect();
                format!(
                    " <span class=\"meta\">(only in {})</span>",
                    names.join(", ")
                )
            } else {
                String::new()
            };
            format!(
                "{}, {}–{}{only}",
                escape(&f.what),
                fmt_time(f.start_ns),
                fmt_time(f.end_ns)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<p class=\"faults\"><span class=\"band\"></span>Injected fault{}: {}. <span class=\"meta\">Shaded on the \
         charts over time.</span></p>",
        if faults.len() == 1 { "" } else { "s" },
        items.join("; ")
    );
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

// ---------------------------------------------------------------------------------------------
// Parameter grids
// ---------------------------------------------------------------------------------------------

/// Variants of a parameter grid that differ only in the grid point (indices into the sweep).
struct GridGroup {
    name: String,
    members: Vec<usize>,
}

/// A grid variant's name without its grid point: `breaker` for `breaker a.b=1 c.d=2`, empty for
/// a grid over the base scenario alone.
fn grid_group_name(v: &VariantAggregate) -> String {
    let point: Vec<String> = v.grid.iter().map(|(l, x)| format!("{l}={x}")).collect();
    if let Some(prefix) = v.name.strip_suffix(&point.join(" ")) {
        return prefix.trim_end().to_string();
    }
    if let Some((label, _)) = v.grid.first() {
        if let Some(k) = v.name.find(&format!("{label}=")) {
            return v.name[..k].trim_end().to_string();
        }
    }
    v.name.clone()
}

/// The grid's parameters and its groups of variants, when every variant is a point of the same
/// grid of one or two parameters.
fn grid_groups(agg: &Aggregate) -> Option<(Vec<String>, Vec<GridGroup>)> {
    let params: Vec<String> = agg
        .variants
        .first()?
        .grid
        .iter()
        .map(|p| p.0.clone())
        .collect();
    if !(1..=2).contains(&params.len()) {
        return None;
    }
    let same = |v: &VariantAggregate| {
        v.grid.len() == params.len() && v.grid.iter().zip(&params).all(|(g, p)| g.0 == *p)
    };
    if !agg.variants.iter().all(same) {
        return None;
    }
    let mut groups: Vec<GridGroup> = Vec::new();
    for (i, v) in agg.variants.iter().enumerate() {
        let name = grid_group_name(v);
        match groups.iter_mut().find(|g| g.name == name) {
            Some(g) => g.members.push(i),
            None => groups.push(GridGroup {
                name,
                members: vec![i],
            }),
        }
    }
    Some((params, groups))
}

/// Distinct values of grid parameter `p` among `members`, in order of appearance.
fn grid_values(agg: &Aggregate, members: &[usize], p: usize) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for &i in members {
        let x = &agg.variants[i].grid[p].1;
        if !values.contains(x) {
            values.push(x.clone());
        }
    }
    values
}

/// The summary of `kind` for `service` in variant `i`, when some run defines it.
fn variant_metric<'a>(
    summary: &'a Summary,
    agg: &Aggregate,
    i: usize,
    service: &str,
    kind: MetricKind,
) -> Option<&'a MetricSummary> {
    let name = &agg.variants[i].name;
    summary
        .variants
        .iter()
        .find(|v| v.name == *name)?
        .services
        .iter()
        .find(|s| s.name == service)
        .and_then(|s| metric(s, kind))
        .filter(|m| m.n > 0 && m.mean.is_finite())
}

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
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    higher_is_better: bool,
}

impl Scale {
    fn new(values: &[f64], kind: MetricKind) -> Option<Scale> {
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
            higher_is_better: kind.higher_is_better(),
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

/// A heatmap of `kind` of `service` over a two-parameter grid: parameter 1 across, parameter 2
/// up, one cell per grid point with its value, and a colour legend (one scale for the whole sweep).
fn heatmap(
    summary: &Summary,
    agg: &Aggregate,
    group: &GridGroup,
    params: &[String],
    service: &str,
    kind: MetricKind,
) -> String {
    let xs = grid_values(agg, &group.members, 0);
    let ys = grid_values(agg, &group.members, 1);
    let cells: Vec<(usize, usize, f64)> = group
        .members
        .iter()
        .map(|&i| {
            let g = &agg.variants[i].grid;
            let x = xs.iter().position(|v| *v == g[0].1).unwrap_or(0);
            let y = ys.iter().position(|v| *v == g[1].1).unwrap_or(0);
            let v = variant_metric(summary, agg, i, service, kind).map_or(f64::NAN, |m| m.mean);
            (x, y, v)
        })
        .collect();
    // One scale for every group, so that a colour means the same value in each heatmap.
    let values: Vec<f64> = (0..agg.variants.len())
        .map(|i| variant_metric(summary, agg, i, service, kind).map_or(f64::NAN, |m| m.mean))
        .collect();
    let scale = Scale::new(&values, kind);
    let what = format!("mean {}", kind.name());
    let title = if group.name.is_empty() {
        format!("{service} · {what}")
    } else {
        format!("{} · {service} · {what}", group.name)
    };
    // Layout, in pixels.
    let w: i32 = 560;
    let top = 48;
    let y_tick_w = ys
        .iter()
        .map(|v| text_width(v, 11.0))
        .max()
        .unwrap_or(0)
        .min(120);
    let left = 30 + y_tick_w + 8;
    let legend_x = w - 98;
    let right = legend_x - 20;
    let nx = xs.len().max(1) as i32;
    let ny = ys.len().max(1) as i32;
    let cell_w = (right - left) / nx;
    let cell_h = ((f64::from(cell_w) * 0.5) as i32).clamp(30, 46);
    let bottom = top + ny * cell_h;
    let h = (bottom + 50).max(top + 150);
    chart(w as u32, h as u32, &title, Key::Dot, &[], &[], |root, _| {
        let x_at = |k: usize| left + k as i32 * cell_w;
        // Row 0 at the bottom, as on an axis.
        let y_at = |k: usize| bottom - (k as i32 + 1) * cell_h;
        for &(x, y, v) in &cells {
            let (x0, y0) = (x_at(x), y_at(y));
            let fill = match &scale {
                Some(s) if v.is_finite() => viridis(s.t(v)),
                _ => RGBColor(0xee, 0xee, 0xee),
            };
            root.draw(&Rectangle::new(
                [(x0 + 1, y0 + 1), (x0 + cell_w - 1, y0 + cell_h - 1)],
                fill.filled(),
            ))?;
            let (text, color) = if v.is_finite() {
                (grid_cell_text(kind, v), ink_on(fill))
            } else {
                ("-".to_string(), MUTED)
            };
            let size = if text_width(&text, 12.0) <= cell_w - 8 {
                12.0
            } else {
                10.0
            };
            let max_chars = ((f64::from(cell_w) - 6.0) / (size * 0.55)).max(2.0) as usize;
            root.draw(&Text::new(
                shorten(&text, max_chars),
                (x0 + cell_w / 2, y0 + cell_h / 2),
                text_style(size, color, HPos::Center, VPos::Center),
            ))?;
        }
        // Axes: values of parameter 1 below, of parameter 2 on the left.
        let max_x_chars = ((f64::from(cell_w) - 4.0) / (11.0 * 0.55)).max(3.0) as usize;
        for (k, v) in xs.iter().enumerate() {
            let cx = x_at(k) + cell_w / 2;
            root.draw(&PathElement::new(
                vec![(cx, bottom), (cx, bottom + 4)],
                MUTED,
            ))?;
            root.draw(&Text::new(
                shorten(v, max_x_chars),
                (cx, bottom + 7),
                text_style(11.0, INK, HPos::Center, VPos::Top),
            ))?;
        }
        let max_y_chars = ((f64::from(y_tick_w)) / (11.0 * 0.55)).max(3.0) as usize;
        for (k, v) in ys.iter().enumerate() {
            let cy = y_at(k) + cell_h / 2;
            root.draw(&PathElement::new(vec![(left - 4, cy), (left, cy)], MUTED))?;
            root.draw(&Text::new(
                shorten(v, max_y_chars),
                (left - 7, cy),
                text_style(11.0, INK, HPos::Right, VPos::Center),
            ))?;
        }
        let grid_right = x_at(xs.len());
        root.draw(&Text::new(
            params[0].clone(),
            ((left + grid_right) / 2, bottom + 26),
            text_style(12.0, INK, HPos::Center, VPos::Top),
        ))?;
        root.draw(&Text::new(
            params[1].clone(),
            (14, (top + bottom) / 2),
            font(12.0)
                .color(&INK)
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
        // Legend: the colour bar, better at the top.
        let Some(scale) = &scale else {
            return Ok(());
        };
        let (lt, lb) = (top, bottom.max(top + 100));
        root.draw(&Text::new(
            "better",
            (legend_x, lt - 14),
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
                [(legend_x, ya), (legend_x + 14, yb)],
                color.filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(legend_x, lt), (legend_x + 14, lb)],
            MUTED,
        ))?;
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
        if scale.log {
            root.draw(&Text::new(
                "log scale",
                (legend_x, lb + 6),
                text_style(10.0, MUTED, HPos::Left, VPos::Top),
            ))?;
        }
        Ok(())
    })
}

/// `kind` of `service` against the one grid parameter (values in order), one line per group,
/// with each point's confidence interval.
fn grid_line_chart(
    summary: &Summary,
    agg: &Aggregate,
    groups: &[GridGroup],
    param: &str,
    service: &str,
    kind: MetricKind,
) -> String {
    let all: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.members.iter().copied())
        .collect();
    let xs = grid_values(agg, &all, 0);
    let (scale, axis) = if kind.is_latency() {
        (1e-6, format!("mean {} (ms)", kind.name()))
    } else {
        (100.0, format!("mean {} (%)", kind.name()))
    };
    /// A grid point: x, mean, interval low and high.
    type Point = (f64, f64, f64, f64);
    let mut lines: Vec<(usize, Vec<Point>)> = Vec::new();
    for (k, g) in groups.iter().enumerate() {
        let mut points = Vec::new();
        for &i in &g.members {
            let x = xs
                .iter()
                .position(|v| *v == agg.variants[i].grid[0].1)
                .unwrap_or(0) as f64;
            if let Some(m) = variant_metric(summary, agg, i, service, kind) {
                let (lo, hi) = if m.n >= 2 {
                    (m.ci_low, m.ci_high)
                } else {
                    (m.mean, m.mean)
                };
                points.push((x, m.mean * scale, lo * scale, hi * scale));
            }
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        lines.push((k, points));
    }
    let title = format!("{service} · mean {} by {param}", kind.name());
    let names: Vec<String> = groups
        .iter()
        .map(|g| {
            if g.name.is_empty() {
                "grid".to_string()
            } else {
                g.name.clone()
            }
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let legend: Vec<usize> = if groups.len() > 1 {
        (0..groups.len()).collect()
    } else {
        Vec::new()
    };
    let values = || {
        lines
            .iter()
            .flat_map(|(_, p)| p.iter().flat_map(|q| [q.2, q.3]))
    };
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(f64::NEG_INFINITY, f64::max);
    let (y0, mut y1) = padded_range(lo, hi, false);
    if kind == MetricKind::Availability {
        y1 = y1.min(100.0);
    }
    let decimals = decimals_for(y1 - y0);
    let n = xs.len().max(1);
    chart(
        640,
        360,
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
                .x_desc(param)
                .y_desc(axis.as_str())
                .draw()?;
            let (left, _) = c.backend_coord(&(-0.5, y0));
            let (right, _) = c.backend_coord(&(n as f64 - 0.5, y0));
            let max_chars =
                ((f64::from(right - left) / n as f64 - 6.0) / (11.0 * 0.55)).max(3.0) as usize;
            for (k, v) in xs.iter().enumerate() {
                let (px, py) = c.backend_coord(&(k as f64, y0));
                root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], MUTED))?;
                root.draw(&Text::new(
                    shorten(v, max_chars),
                    (px, py + 8),
                    text_style(11.0, INK, HPos::Center, VPos::Top),
                ))?;
            }
            for (k, points) in &lines {
                let color = variant_color(*k);
                // Groups side by side, so that their intervals do not hide each other.
                let offset = if lines.len() > 1 {
                    (*k as f64 - (lines.len() - 1) as f64 / 2.0) * 0.06
                } else {
                    0.0
                };
                let line: Vec<(f64, f64)> = points.iter().map(|p| (p.0 + offset, p.1)).collect();
                variant_line(&mut c, *k, &line)?;
                c.draw_series(points.iter().map(|p| {
                    PathElement::new(
                        vec![(p.0 + offset, p.2), (p.0 + offset, p.3)],
                        color.stroke_width(2),
                    )
                }))?;
                c.draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
            }
            Ok(())
        },
    )
}

/// Heatmaps (two parameters) or line charts (one) of the first service over the grid.
fn grid_section(out: &mut String, summary: &Summary, agg: &Aggregate) {
    let Some((params, groups)) = grid_groups(agg) else {
        return;
    };
    let services = all_services(agg);
    let Some(service) = services.first() else {
        return;
    };
    out.push_str("<section>\n<h2>Parameter grid</h2>\n");
    if params.len() == 2 {
        let _ = writeln!(
            out,
            "<p class=\"note\">One cell per grid point: the mean across runs of <code>{}</code>, the first service, \
             with <code>{}</code> across and <code>{}</code> up. Colours run from dark (worse) to bright (better) \
             on one scale for every heatmap of a metric; the latency scale is logarithmic. A grey cell has no value.</p>",
            escape(service),
            escape(&params[0]),
            escape(&params[1])
        );
        for g in &groups {
            if groups.len() > 1 || !g.name.is_empty() {
                let _ = writeln!(out, "<h3>{}</h3>", escape(&g.name));
            }
            out.push_str("<div class=\"charts two\">\n");
            for kind in [MetricKind::Availability, MetricKind::LatencyP99] {
                out.push_str(&heatmap(summary, agg, g, &params, service, kind));
            }
            out.push_str("</div>\n");
        }
    } else {
        let _ = writeln!(
            out,
            "<p class=\"note\">The mean across runs of <code>{}</code>, the first service, at each value of \
             <code>{}</code>, with its {}% interval.</p>",
            escape(service),
            escape(&params[0]),
            trim_pct(summary.confidence)
        );
        out.push_str("<div class=\"charts two\">\n");
        for kind in [MetricKind::Availability, MetricKind::LatencyP99] {
            out.push_str(&grid_line_chart(
                summary, agg, &groups, &params[0], service, kind,
            ));
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
fn time_chart(
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
    let t_decimals = decimals_for(t_end);
    let bands = bands(agg);
    // Plot margins, to place the band labels before the chart is built.
    let (margin_left, margin_right, margin_bottom, x_area, y_area) = (6, 18, 4, 40, 60);
    chart(w, h, title, Key::Line, &legend, &names, |root, body| {
        let (bw, bh) = body.dim_in_pixel();
        let plot_w = bw as i32 - margin_left - margin_right - y_area;
        let plot_h = bh as i32 - margin_bottom - x_area;
        let labels = layout_band_labels(&bands, 0.0, t_end, plot_w);
        // Room above the data for the labels.
        let rows = labels.iter().map(|l| l.row + 1).max().unwrap_or(0);
        let need = if rows > 0 { rows * BAND_ROW + 4 } else { 0 };
        let y1 = if need > 0 && plot_h > 2 * need {
            y0 + (y1 - y0) * f64::from(plot_h) / f64::from(plot_h - need)
        } else {
            y1
        };
        let decimals = decimals_for(y1 - y0);
        let mut c = ChartBuilder::on(body)
            .margin_left(margin_left)
            .margin_right(margin_right)
            .margin_bottom(margin_bottom)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
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
        let clip = |t: f64| t.clamp(0.0, t_end);
        for b in &bands {
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
        for (i, points) in lines {
            variant_line(&mut c, *i, points)?;
        }
        let (xs, ys) = c.plotting_area().get_pixel_range();
        for l in &labels {
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
fn breakers_section(out: &mut String, agg: &Aggregate) {
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
            v.grid = d.grid.clone();
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

    /// Every tag in `tags` is used and closed as often as it is opened.
    fn assert_balanced(html: &str, tags: &[&str]) {
        for tag in tags {
            let open = count(html, &format!("<{tag}>")) + count(html, &format!("<{tag} "));
            let close = count(html, &format!("</{tag}>"));
            assert!(open > 0, "<{tag}> is used");
            assert_eq!(
                open, close,
                "<{tag}> opened {open} times, closed {close} times"
            );
        }
    }

    /// The circuit-breaker scenario cut to 30 s (payments hangs from 10 s to 20 s), crossed with a
    /// 2x2 grid of worker counts.
    fn breaker_grid_source() -> String {
        let src = include_str!("../../scenarios/defences/circuit-breaker.ron");
        let mut src = src[..src.find("    expect: [").expect("expectations")].to_string();
        for (from, to) in [
            ("horizon: \"3m\"", "horizon: \"30s\""),
            ("warmup: \"30s\"", "warmup: \"5s\""),
            ("at: \"60s\", lasts: \"30s\"", "at: \"10s\", lasts: \"10s\""),
        ] {
            assert!(src.contains(from), "{from}");
            src = src.replacen(from, to, 1);
        }
        src.push_str(
            "    grid: [(\"services.checkout.workers\", [32, 64]), (\"services.payments.workers\", [16, 32])],\n    \
             expect: [Availability(service: \"checkout\", at_least: 0.5, in_runs: 1.0)],\n)\n",
        );
        src
    }

    /// Every design of a study, `n_runs` runs each, aggregated as the sweep does.
    fn sweep_study(
        file: &str,
        src: &str,
        n_runs: usize,
    ) -> (Aggregate, Vec<crate::check::Verdict>) {
        let study = models::variants::load_study(file, src).expect("the scenario loads");
        let world = &study.designs[0].world;
        let mut agg = Aggregate {
            scenario: study.spec.name.clone(),
            about: study.spec.about.clone(),
            seed: world.seed,
            n_runs,
            variants: Vec::new(),
        };
        for d in &study.designs {
            let w = &d.world;
            let names = w.services.iter().map(|s| s.name.clone()).collect();
            let mut v = VariantAggregate::new(
                &d.name,
                &d.about,
                names,
                n_runs,
                w.resolution.as_ns(),
                w.n_buckets(),
            );
            v.grid = d.grid.clone();
            for run in 0..n_runs as u64 {
                let (result, hists) =
                    models::run_world_with_histograms(w, w.seed, run).expect("the run finishes");
                v.add(&result, &hists);
            }
            agg.variants.push(v);
        }
        let verdicts = crate::check::evaluate(&study.spec.expect, &agg);
        (agg, verdicts)
    }

    /// Faults, breakers and a two-parameter grid: bands on every chart over time, a breaker
    /// chart, a heatmap per group and metric; escaped, balanced and deterministic.
    #[test]
    fn renders_faults_breakers_and_a_grid_heatmap() {
        let (mut agg, verdicts) = sweep_study("circuit-breaker.ron", &breaker_grid_source(), 2);
        assert_eq!(agg.variants.len(), 8);
        assert_eq!(
            agg.variants[4].name,
            "breaker checkout.workers=32 payments.workers=16"
        );
        for v in &agg.variants {
            assert_eq!(v.grid.len(), 2);
            assert_eq!(v.faults.len(), 1, "{}", v.name);
        }
        assert!(agg.variants[..4].iter().all(|v| v.breakers.is_empty()));
        assert!(agg.variants[4..].iter().all(|v| v.breakers.len() == 1));
        // Markup in a group's name and in a fault's description.
        for v in &mut agg.variants[4..] {
            v.name = v.name.replacen("breaker", "<i>br</i> & co", 1);
        }
        for v in &mut agg.variants {
            v.faults[0].0 = format!("<b>{}</b>", v.faults[0].0);
        }
        let summary = summarize(&agg, verdicts.clone());
        let html = render_html(&summary, &agg);
        assert_balanced(
            &html,
            &[
                "html", "head", "body", "main", "header", "section", "table", "thead", "tbody",
                "tr", "svg", "figure", "text", "div", "p", "h2", "h3",
            ],
        );
        assert!(!html.contains("<i>br") && !html.contains("<b>payments"));
        assert!(html.contains("&lt;i&gt;br&lt;/i&gt; &amp; co checkout.workers=32"));

        // Faults: in the header, and a labelled band on each of the 6 charts over time and the
        // breaker chart.
        assert!(
            html.contains("Injected fault: &lt;b&gt;payments 100x slower&lt;/b&gt;, 10s–20s."),
            "the header lists the fault"
        );
        assert!(!html.contains("(only in"), "every variant has the fault");
        assert_eq!(
            count(&html, "&gt;payments 100x slower&lt;/b&gt;\n</text>"),
            7
        );
        assert_eq!(
            count(&html, "fill=\"#D62D20\""),
            7,
            "one band per time chart"
        );

        // Breakers: one chart, with lines for the variants that have one, and a note for others.
        assert_eq!(count(&html, "<h2>Circuit breakers</h2>"), 1);
        assert!(html.contains("checkout → payments · breakers open or half-open"));
        assert!(html.contains("breakers (mean per run)"));
        assert!(html.contains("No breaker on <code>checkout</code> → <code>payments</code> in"));

        // The grid: a heatmap of each metric per group, the first service, four cells each.
        assert_eq!(count(&html, "<h2>Parameter grid</h2>"), 1);
        for group in ["no-breaker", "&lt;i&gt;br&lt;/i&gt; &amp; co"] {
            assert!(html.contains(&format!("<h3>{group}</h3>")), "{group}");
            for what in ["mean availability", "mean p99"] {
                let title = format!("aria-label=\"{group} · checkout · {what}\"");
                assert_eq!(count(&html, &title), 1, "{title}");
            }
        }
        assert_eq!(count(&html, "\nbetter\n</text>"), 4, "a legend per heatmap");
        let grid = &html[html.find("<h2>Parameter grid</h2>").unwrap()..];
        let grid = &grid[..grid.find("</section>").unwrap()];
        for axis in ["checkout.workers", "payments.workers"] {
            assert_eq!(count(grid, &format!("\n{axis}\n</text>")), 4, "{axis}");
        }
        // Cell labels: the means of the summary.
        let p99 = variant_metric(&summary, &agg, 0, "checkout", MetricKind::LatencyP99)
            .expect("p99 is defined")
            .mean;
        assert!(grid.contains(&format!("\n{}\n</text>", fmt_ns(p99))));

        let again = render_html(&summarize(&agg, verdicts), &agg);
        assert!(html == again, "rendering twice gives the same bytes");
    }

    /// Variants that differ in their faults: the union is shaded, the partial one says where it is;
    /// a one-parameter grid gets line charts instead of heatmaps.
    #[test]
    fn renders_partial_faults_and_a_one_parameter_grid() {
        let src = source(true);
        let cut = src.find("    // What must hold").expect("expectations");
        let src = format!(
            "{}    grid: [(\"services.cart.workers\", [8, 16, 32])],\n)\n",
            &src[..cut]
        );
        let (mut agg, verdicts) = sweep_study("quickstart.ron", &src, 2);
        assert_eq!(agg.variants.len(), 6);
        assert_eq!(agg.variants[3].name, "db-8-workers cart.workers=8");
        let s = 1_000_000_000;
        agg.variants[0].faults = vec![("db down".into(), 5 * s, 7 * s)];
        agg.variants[1].faults = vec![
            ("db down".into(), 5 * s, 7 * s),
            ("cart 3x slower".into(), 6 * s, 18 * s),
        ];
        let html = render_html(&summarize(&agg, verdicts), &agg);
        assert_balanced(&html, &["section", "svg", "figure", "text", "div", "p"]);
        assert!(html.contains(
            "Injected faults: db down, 5s–7s <span class=\"meta\">(only in <b>base cart.workers=8</b>, \
             <b>base cart.workers=16</b>)</span>; cart 3x slower, 6s–18s <span class=\"meta\">(only in \
             <b>base cart.workers=16</b>)</span>."
        ));
        let n_time_charts = 4 * 3;
        assert_eq!(
            count(&html, "\ndb down (2 variants)\n</text>"),
            n_time_charts
        );
        assert_eq!(
            count(
                &html,
                "\ncart 3x slower (only base cart.workers=16)\n</text>"
            ),
            n_time_charts
        );
        assert!(!html.contains("Circuit breakers"));
        assert_eq!(count(&html, "<h2>Parameter grid</h2>"), 1);
        assert!(!html.contains("\nbetter\n</text>"), "no heatmap");
        assert!(html.contains("aria-label=\"frontend · mean availability by cart.workers\""));
        assert!(html.contains("aria-label=\"frontend · mean p99 by cart.workers\""));
    }

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

    #[test]
    fn grid_group_names_and_times() {
        let mut v = VariantAggregate::new("breaker a.b=1 c.d=x y", "", Vec::new(), 0, 1, 0);
        v.grid = vec![("a.b".into(), "1".into()), ("c.d".into(), "x y".into())];
        assert_eq!(grid_group_name(&v), "breaker");
        v.name = "a.b=1 c.d=x y".into();
        assert_eq!(grid_group_name(&v), "");
        v.name = "odd a.b=1 renamed".into();
        assert_eq!(grid_group_name(&v), "odd");
        assert_eq!(fmt_time(60_000_000_000), "60s");
        assert_eq!(fmt_time(90_000_000_000), "90s");
        assert_eq!(fmt_time(120_000_000_000), "2m");
        assert_eq!(fmt_time(150_000_000_000), "2m30s");
        assert_eq!(fmt_time(3_600_000_000_000), "1h");
        assert_eq!(fmt_time(1_500_000_000), "1.5s");
        assert_eq!(fmt_time(250_000_000), "250ms");
        assert_eq!(fmt_time(0), "0s");
    }

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
