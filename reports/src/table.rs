//! Plain-text tables for the terminal.

use crate::format::fmt_ns;
use crate::summary::Summary;
use models::results::{LatencySummary, RunResult};
use std::fmt::Write;

/// A table with a header row; columns after the first are right-aligned.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let widths: Vec<usize> = (0..n)
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let mut text = String::new();
            // Padded by hand: `{:w$}` panics for a width of 65,536 or more, and a cell may
            // hold text that long (a name).
            for (c, cell) in cells.iter().enumerate() {
                let pad = " ".repeat(widths[c].saturating_sub(cell.chars().count()));
                if c == 0 {
                    text.push_str(cell);
                    text.push_str(&pad);
                } else {
                    text.push_str("  ");
                    text.push_str(&pad);
                    text.push_str(cell);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&mut out, &self.header);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        line(&mut out, &rule);
        for r in &self.rows {
            line(&mut out, r);
        }
        out
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// p50, p95, p99, p99.9 and max of successes, then p99 of all requests.
fn latency_cells(ok: &LatencySummary, all: &LatencySummary) -> Vec<String> {
    let mut cells: Vec<String> = if ok.count == 0 {
        vec!["-".into(); 5]
    } else {
        [ok.p50_ns, ok.p95_ns, ok.p99_ns, ok.p999_ns, ok.max_ns]
            .iter()
            .map(|&v| fmt_ns(v as f64))
            .collect()
    };
    cells.push(if all.count == 0 {
        "-".into()
    } else {
        fmt_ns(all.p99_ns as f64)
    });
    cells
}

/// Good answers out of all answered and those in flight already too late.
fn within_slo(m: &models::results::Ledger, good: u64, late: u64) -> String {
    let of = m.answered() + late;
    if of == 0 {
        "-".into()
    } else {
        format!("{:.4}%", 100.0 * good as f64 / of as f64)
    }
}

/// Column headings of the latencies, in the order of [`latency_cells`].
const LATENCY_HEADS: [&str; 6] = ["p50", "p95", "p99", "p99.9", "max", "p99 all"];

/// The summary of one run: a header, one row per service, one per workload.
pub fn render_run(r: &RunResult) -> String {
    render_run_of(r, None)
}

/// [`render_run`] of a variant of the scenario, named in the first line.
pub fn render_run_of(r: &RunResult, variant: Option<&str>) -> String {
    let mut out = String::new();
    let variant = variant.map_or(String::new(), |v| format!("  variant `{v}`"));
    let _ = writeln!(
        out,
        "scenario `{}`{variant}  seed {}  horizon {}  measured {} (after warm-up {})",
        r.scenario,
        r.seed,
        fmt_ns(r.horizon_ns as f64),
        fmt_ns(r.measured_ns as f64),
        fmt_ns(r.warmup_ns as f64)
    );
    out.push_str(&services_table(r).render());
    out.push('\n');
    out.push_str(&workloads_table(r).render());
    if r.services.iter().any(|s| s.cache.is_some()) {
        out.push('\n');
        out.push_str(&caches_table(r).render());
    }
    if r.services.iter().any(|s| s.queue.is_some()) {
        out.push('\n');
        out.push_str(&queues_table(r).render());
    }
    network_tables(r, &mut out);
    out.push_str(
        "\np50 .. max: latency of successful requests; p99 all: of every answered request (a failure at the time it was given).\n",
    );
    let _ = writeln!(
        out,
        "\n{} events, stop: {}, ledger balanced, digest {}",
        r.events, r.stop, r.digest
    );
    if let Some(why) = models::results::StopReason::explain(&r.stop) {
        let _ = writeln!(out, "warning: {why}");
    }
    out
}

/// One row per service of a run: its requests by outcome, throughput, utilization, queue and
/// latency percentiles.
fn services_table(r: &RunResult) -> Table {
    let mut heads = vec![
        "service",
        "arrived",
        "ok",
        "degraded",
        "rejected",
        "429",
        "shed",
        "failed",
        "in flight",
        "ok/s",
        "util",
        "queue",
        "within SLO",
    ];
    heads.extend(LATENCY_HEADS);
    let mut t = Table::new(&heads);
    for s in &r.services {
        let m = &s.measured;
        let mut row = vec![
            s.name.clone(),
            m.arrived.to_string(),
            m.completed.to_string(),
            m.degraded.to_string(),
            m.rejected.to_string(),
            m.rate_limited.to_string(),
            m.shed.to_string(),
            m.failed.to_string(),
            m.in_flight.to_string(),
            format!("{:.1}", s.throughput_per_s),
            pct(s.utilization),
            format!("{:.2}", s.queue_len_mean),
            within_slo(m, s.good, s.late_in_flight),
        ];
        row.extend(latency_cells(&s.latency, &s.latency_all));
        t.row(row);
    }
    t
}

/// One row per cache service of a run: lookups, hit ratio, and what reached the service it
/// fronts.
fn caches_table(r: &RunResult) -> Table {
    let mut t = Table::new(&[
        "cache",
        "lookups",
        "hit ratio",
        "misses",
        "coalesced",
        "expired",
        "early refreshes",
        "evictions",
        "keys held",
    ]);
    for s in &r.services {
        let Some(c) = &s.cache else { continue };
        t.row(vec![
            s.name.clone(),
            c.lookups.to_string(),
            c.hit_ratio().map_or("-".into(), pct),
            c.misses.to_string(),
            c.coalesced.to_string(),
            c.expired.to_string(),
            c.early_refreshes.to_string(),
            c.evictions.to_string(),
            c.keys_held.to_string(),
        ]);
    }
    t
}

/// One row per broker of a run: its message ledger over the whole run.
fn queues_table(r: &RunResult) -> Table {
    let mut t = Table::new(&[
        "queue",
        "published",
        "refused",
        "acked",
        "redelivered",
        "duplicates",
        "dead letters",
        "lost",
        "waiting",
        "out",
        "oldest at end",
    ]);
    for s in &r.services {
        let Some(q) = &s.queue else { continue };
        let oldest = q.series_oldest_ns.last().copied().unwrap_or(0);
        t.row(vec![
            s.name.clone(),
            q.published.to_string(),
            q.refused.to_string(),
            q.acked.to_string(),
            q.redeliveries.to_string(),
            q.duplicates.to_string(),
            q.dead_letters.to_string(),
            q.lost.to_string(),
            q.ready.to_string(),
            q.out.to_string(),
            fmt_ns(oldest as f64),
        ]);
    }
    t
}

/// A size in bytes for people: `1.50 GB`, `64.0 kB`.
fn fmt_bytes(b: u64) -> String {
    crate::format::fmt_bytes(b as f64)
}

/// How many of the hottest links and busiest disks a run shows.
const HOTTEST: usize = 5;

/// Datastores' rebuilds, the hottest links, the busiest disks and the transfers, for a
/// scenario that gives the network or the disks a capacity.
fn network_tables(r: &RunResult, out: &mut String) {
    let rebuilding = r.services.iter().any(|s| {
        s.store
            .as_ref()
            .is_some_and(|x| x.rebuilds > 0 || x.disk_full > 0 || x.redundancy_lost_ns > 0)
    });
    if rebuilding {
        let mut t = Table::new(&[
            "datastore",
            "rebuilds",
            "done",
            "abandoned",
            "copied",
            "redundancy lost",
            "disk full",
        ]);
        for s in &r.services {
            let Some(x) = &s.store else { continue };
            t.row(vec![
                s.name.clone(),
                x.rebuilds.to_string(),
                x.rebuilds_done.to_string(),
                x.rebuilds_abandoned.to_string(),
                fmt_bytes(x.rebuilt_bytes),
                fmt_ns(x.redundancy_lost_ns as f64),
                x.disk_full.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    let Some(net) = &r.network else { return };
    if !net.links.is_empty() {
        out.push('\n');
        out.push_str(&links_table(net).render());
    }
    if !net.disks.is_empty() {
        out.push('\n');
        out.push_str(&disks_table(net).render());
    }
    if !net.transfers.is_empty() {
        let mut t = Table::new(&["transfer", "size", "moved", "started", "done"]);
        for x in &net.transfers {
            t.row(vec![
                x.name.clone(),
                fmt_bytes(x.bytes),
                fmt_bytes(x.moved_bytes),
                fmt_ns(x.started_ns as f64),
                x.done_ns.map_or("-".into(), |d| fmt_ns(d as f64)),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
}

/// The hottest links: by utilization over the run, with their busiest bucket.
fn links_table(net: &models::results::NetworkResult) -> Table {
    let mut t = Table::new(&[
        "hottest links",
        "capacity",
        "util",
        "peak",
        "flows",
        "max",
        "user",
        "replication",
        "recovery",
        "bulk",
    ]);
    let mut links: Vec<_> = net.links.iter().collect();
    links.sort_by(|a, b| b.utilization.total_cmp(&a.utilization));
    for l in links.into_iter().take(HOTTEST) {
        let peak = l.utilization_series.iter().copied().fold(0.0, f64::max);
        t.row(vec![
            l.name.clone(),
            format!("{:.1} Gbps", l.capacity_bps / 1e9),
            pct(l.utilization),
            pct(peak.min(1.0)),
            format!("{:.2}", l.flows_mean),
            l.flows_max.to_string(),
            fmt_bytes(l.bytes.user),
            fmt_bytes(l.bytes.replication),
            fmt_bytes(l.bytes.recovery),
            fmt_bytes(l.bytes.bulk),
        ]);
    }
    t
}

/// The busiest disks: by busy time over the run.
fn disks_table(net: &models::results::NetworkResult) -> Table {
    let mut t = Table::new(&[
        "busiest disks",
        "ops",
        "util",
        "queue",
        "max",
        "user",
        "replication",
        "recovery",
        "bulk",
        "refused (full)",
    ]);
    let mut disks: Vec<_> = net.disks.iter().collect();
    disks.sort_by(|a, b| b.utilization.total_cmp(&a.utilization));
    for d in disks.into_iter().take(HOTTEST) {
        t.row(vec![
            d.host.clone(),
            d.ops.to_string(),
            pct(d.utilization),
            format!("{:.2}", d.queue_mean),
            d.queue_max.to_string(),
            fmt_bytes(d.bytes.user),
            fmt_bytes(d.bytes.replication),
            fmt_bytes(d.bytes.recovery),
            fmt_bytes(d.bytes.bulk),
            d.full_refusals.to_string(),
        ]);
    }
    t
}

/// One row per workload of a run: what its users saw, end to end.
fn workloads_table(r: &RunResult) -> Table {
    let mut heads = vec![
        "workload (end to end)",
        "requests",
        "ok",
        "degraded",
        "refused",
        "failed",
        "availability",
        "within SLO",
    ];
    heads.extend(LATENCY_HEADS);
    let mut t = Table::new(&heads);
    for w in &r.workloads {
        let m = &w.measured;
        let answered = m.answered();
        let availability = if answered == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.4}%",
                100.0 * (m.completed + m.degraded) as f64 / answered as f64
            )
        };
        let mut row = vec![
            if w.name == w.entry {
                w.name.clone()
            } else {
                format!("{} -> {}", w.name, w.entry)
            },
            m.arrived.to_string(),
            m.completed.to_string(),
            m.degraded.to_string(),
            (m.rejected + m.rate_limited + m.shed).to_string(),
            m.failed.to_string(),
            availability,
            within_slo(m, w.good, w.late_in_flight),
        ];
        row.extend(latency_cells(&w.latency, &w.latency_all));
        t.row(row);
    }
    t
}

/// The terminal summary of a sweep: per variant and service the headline numbers with their
/// intervals, then the verdicts.
pub fn render_summary(s: &Summary) -> String {
    use crate::sweep::MetricKind as M;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario `{}`  {} runs per variant  seed {}  (mean [95% CI] across runs)",
        s.scenario, s.runs, s.seed
    );
    for h in &s.headlines {
        let _ = writeln!(out, "{}", h.text);
    }
    for n in &s.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if !s.headlines.is_empty() {
        out.push('\n');
    }
    let mut t = Table::new(&[
        "variant",
        "service",
        "requests",
        "within SLO",
        "availability",
        "p99 (all)",
        "p50 (ok)",
        "p99 (ok)",
        "throughput",
        "util",
    ]);
    for v in &s.variants {
        for svc in &v.services {
            let get = |m: M| svc.metrics.iter().find(|x| x.metric == m);
            let ci = |m: M| {
                get(m).map_or("-".into(), |x| {
                    format!(
                        "{} [{}, {}]",
                        m.format(x.mean),
                        m.format(x.ci_low),
                        m.format(x.ci_high)
                    )
                })
            };
            let mean = |m: M| get(m).map_or("-".into(), |x| m.format(x.mean));
            t.row(vec![
                v.name.clone(),
                svc.name.clone(),
                svc.totals.arrived.to_string(),
                ci(M::WithinSlo),
                mean(M::Availability),
                ci(M::AllLatencyP99),
                mean(M::LatencyP50),
                mean(M::LatencyP99),
                mean(M::Throughput),
                mean(M::Utilization),
            ]);
        }
    }
    out.push_str(&t.render());
    for v in s.variants.iter().filter(|v| v.runs_stopped_early > 0) {
        let _ = writeln!(
            out,
            "warning: {} of {} runs of `{}` stopped early at a guard",
            v.runs_stopped_early, v.runs_finished, v.name
        );
    }
    verdicts(&mut out, s);
    out
}

/// The verdicts of the expectations, one with its measurement under it, and how many hold.
fn verdicts(out: &mut String, s: &Summary) {
    if s.expectations.is_empty() {
        return;
    }
    out.push('\n');
    for e in &s.expectations {
        let mark = if e.holds { "pass" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{mark}  [{}] {}\n      measured {}; margin {}",
            e.variant, e.expectation, e.measured, e.margin
        );
    }
    let failed = s.expectations.iter().filter(|e| !e.holds).count();
    let _ = writeln!(
        out,
        "\n{} of {} expectations hold",
        s.expectations.len() - failed,
        s.expectations.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["name", "n"]);
        t.row(vec!["a".into(), "100".into()]);
        t.row(vec!["bbbb".into(), "7".into()]);
        assert_eq!(t.render(), "name    n\n----  ---\na     100\nbbbb    7\n");
    }

    #[test]
    fn cells_longer_than_a_format_width_are_aligned() {
        // `{:w$}` panics for w >= 65,536: a 70,000-character name crashed `run` and `compare`.
        let long = "x".repeat(70_000);
        let mut t = Table::new(&["name", "n"]);
        t.row(vec![long.clone(), "1".into()]);
        t.row(vec!["b".into(), "22".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], format!("{long}   1"));
        assert_eq!(lines[3], format!("b{}  22", " ".repeat(69_999)));
    }
}
