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
//!
//! One file per part of the page: [`page`] the document around the sections, [`tables`] the
//! verdicts, comparisons and per-service tables, [`failure_modes`] the failure-mode table,
//! [`grid`] and [`heatmap`] parameter grids, [`cdf`] latency distributions, [`strip`] the spread
//! across runs, [`time_series`] and [`breakers`] charts over time, [`edges`] what callers saw of
//! each dependency, [`network`] the hottest links and busiest disks. They share [`svg`] (the chart
//! frame, axes), [`palette`] (colours), [`faults`] (the injected faults' windows) and [`markup`]
//! (escaping).
//!
//! The page is written as it is made ([`write_html`]): each section, and each service of the
//! sections drawn per service, goes to the writer when done, so that the report of a world of a
//! thousand services (90 MB of SVG) is never whole in memory.

mod breakers;
mod cdf;
mod edges;
mod failure_modes;
mod faults;
mod grid;
mod heatmap;
mod markup;
mod network;
mod page;
mod palette;
mod strip;
mod svg;
mod tables;
mod time_series;

pub use markup::escape;

use crate::summary::Summary;
use crate::sweep::Aggregate;

/// The whole report, its sections in the order a reader needs them, as one string.
pub fn render_html(summary: &Summary, agg: &Aggregate) -> String {
    let mut bytes = Vec::new();
    write_html(summary, agg, &mut bytes).expect("writing to a Vec cannot fail");
    String::from_utf8(bytes).expect("the page is UTF-8")
}

/// Writes the whole report to `sink`, a section (or a service's charts) at a time.
pub fn write_html(
    summary: &Summary,
    agg: &Aggregate,
    sink: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut out = Page::new(sink);
    page::head(&mut out, summary);
    page::header(&mut out, summary);
    faults::faults_line(&mut out, agg);
    out.push_str("</header>\n");
    tables::answer(&mut out, summary);
    tables::verdicts(&mut out, summary);
    grid::grid_section(&mut out, summary, agg);
    tables::comparisons(&mut out, summary);
    tables::service_tables(&mut out, summary);
    failure_modes::failure_modes(&mut out, summary);
    out.flush();
    cdf::latency_section(&mut out, agg);
    strip::across_runs_section(&mut out, summary, agg);
    time_series::over_time_section(&mut out, agg);
    edges::edges_section(&mut out, summary, agg);
    network::network_section(&mut out, summary, agg);
    breakers::breakers_section(&mut out, agg);
    page::footer(&mut out, summary);
    out.finish()
}

/// The page being written: text gathers in a string, which goes to the writer at each `flush`
/// (the sections write to it as to a `String`). The first write error is kept and returned by
/// `finish`; nothing is written after it.
pub(super) struct Page<'w> {
    text: String,
    sink: &'w mut dyn std::io::Write,
    error: Option<std::io::Error>,
}

impl<'w> Page<'w> {
    fn new(sink: &'w mut dyn std::io::Write) -> Self {
        Page {
            text: String::new(),
            sink,
            error: None,
        }
    }

    /// Writes what has gathered and empties the string (keeping its capacity).
    pub(super) fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.sink.write_all(self.text.as_bytes()) {
                self.error = Some(e);
            }
        }
        self.text.clear();
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.flush();
        match self.error.take() {
            Some(e) => Err(e),
            None => self.sink.flush(),
        }
    }
}

impl std::ops::Deref for Page<'_> {
    type Target = String;
    fn deref(&self) -> &String {
        &self.text
    }
}

impl std::ops::DerefMut for Page<'_> {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.text
    }
}

#[cfg(test)]
mod tests {
    use super::grid::variant_metric;
    use super::markup::rich;
    use super::*;
    use crate::format::fmt_ns;
    use crate::summary::summarize;
    use crate::sweep::{MetricKind, VariantAggregate};

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
            for what in ["mean within SLO", "mean p99 (all)"] {
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
        let p99 = variant_metric(&summary, &agg, 0, "checkout", MetricKind::AllLatencyP99)
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
        assert!(html.contains("aria-label=\"frontend · mean within SLO by cart.workers\""));
        assert!(html.contains("aria-label=\"frontend · mean p99 (all) by cart.workers\""));
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
        assert!(
            !html.contains("Links and disks"),
            "no capacities, no section"
        );
    }

    /// A scenario with capacities: the section of links and disks, with each variant's links
    /// (a rebuild of 1 GB over two 1 Gbps links in 60 s: 13.3% of each) and a chart per link,
    /// a line per variant; balanced and deterministic.
    #[test]
    fn renders_links_and_disks() {
        let src = include_str!("../../tests/data/rebuild-exact.ron");
        let (agg, verdicts) = sweep_study("rebuild-exact.ron", src, 2);
        let summary = summarize(&agg, verdicts.clone());
        let html = render_html(&summary, &agg);
        assert_balanced(&html, &["section", "table", "tr", "svg", "figure", "h3"]);
        let section = &html[html.find("<h2>Links and disks</h2>").expect("the section")..];
        let section = &section[..section.find("</section>").unwrap()];
        assert_eq!(
            count(section, "<td>dc/a/r0/h0 out</td>"),
            2,
            "a row per variant"
        );
        assert_eq!(count(section, "<td class=\"num\">13.3%</td>"), 4);
        assert_eq!(count(section, "<td class=\"num\">100.0% / 100.0%</td>"), 2);
        assert_eq!(count(section, "<td class=\"num\">40.0% / 40.0%</td>"), 2);
        assert!(section.contains("The 2 hottest of 2 links that carried anything"));
        assert_eq!(
            count(section, "<figure>"),
            2,
            "a chart per link, none for disks"
        );
        assert!(section.contains("aria-label=\"dc/a/r0/h1 in · utilization\""));
        assert!(!section.contains("Disk queues over time"));
        assert_eq!(
            count(section, "\nfull-speed\n</text>"),
            2,
            "a legend per chart"
        );
        // The rebuild's time at reduced redundancy: 18 s at full speed, 30 s at 50 MB/s.
        let lost = |v: &str, t: &str| format!("{v}</td><td>db</td><td class=\"num\">{t}</td>");
        assert!(section.contains(&lost("full-speed", "18.0s")));
        assert!(section.contains(&lost("rate-limited", "30.0s")));
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
}
