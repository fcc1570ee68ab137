//! The page around the sections: the document head with the inline style sheet, the header
//! (scenario, runs, seed, confidence, the variants with their colours) and the footer.

use super::markup::{escape, swatch};
use crate::format::trim_pct;
use crate::summary::Summary;
use std::fmt::Write;

/// The style sheet, inline: the page needs nothing from the network.
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
ul.answer { font-size: 1.05em; padding-left: 1.2em; }
ul.answer li { margin: 0.3em 0; }
ul.answer li.better { color: var(--better); }
ul.answer li.worse { color: var(--worse); }
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

/// The document up to the header: doctype, title and the inline style sheet.
pub(super) fn head(out: &mut String, summary: &Summary) {
    let title = format!("Faultline report: {}", summary.scenario);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
}

pub(super) fn header(out: &mut String, s: &Summary) {
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
         A service's latencies run from arrival at an instance to the response leaving it, users' end to end; \
         <i>(ok)</i> counts successful requests, <i>(all)</i> every answered request, a failure at the time it was given. \
         \"Within SLO\" is the share of requests answered successfully within the SLO's latency.</p>"
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

/// The footer, which says that the same scenario and seed give the same report, and the end of
/// the document.
pub(super) fn footer(out: &mut String, summary: &Summary) {
    let _ = write!(
        out,
        "<footer>Made by Faultline from scenario <code>{}</code>, seed {}. The same scenario and seed \
         give the same report.</footer>\n</main>\n</body>\n</html>\n",
        escape(&summary.scenario),
        summary.seed
    );
}
