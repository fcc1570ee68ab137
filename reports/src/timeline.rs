//! One run read as an incident: the notable events as JSON lines, an incident per injected fault
//! (when users first saw errors, what detected it and how soon, what acted, when users were back
//! within the SLO, and the damage), and the same numbers per run for the failure-mode table.
//!
//! Users' view comes from the workloads' per-bucket series of good and bad answers, so a request
//! lost to a dead host counts (at the client's timeout) even though no service saw it.

use models::results::{LogEntry, LogKind, RunResult};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Share of good answers per time bucket that counts as "within the SLO" when the scenario does
/// not say (`slo`).
pub const SLO_DEFAULT: f64 = 0.99;
/// Buckets in a row within the SLO that count as recovered.
const STABLE_BUCKETS: usize = 3;

/// What happened around one fault occurrence in one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// The fault's label, as in the scenario's fault list (`zone a down`, `crash db (db/1)`).
    pub fault: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Start of the first bucket at or after the fault where users' bad answers broke the SLO.
    pub first_errors_ns: Option<u64>,
    /// The first detection after the fault started: an alert, a health verdict, an ejection or a
    /// failover; and what it was.
    pub detected_ns: Option<u64>,
    pub detected_by: Option<String>,
    /// When users were back within the SLO (and stayed for three buckets); `None` if never, or if
    /// users never saw errors.
    pub recovered_ns: Option<u64>,
    /// Bad user answers from the fault's start to recovery (or the end of the run).
    pub failed: u64,
    /// Share of the run's error budget those answers used: `failed / ((1 - slo) * answers)`.
    pub budget_burned: f64,
    /// Acknowledged writes lost in failovers during the incident.
    pub lost_writes: u64,
    /// Recovery actions and other notable events during the incident.
    pub actions: Vec<LogEntry>,
}

impl Incident {
    pub fn time_to_detect_ns(&self) -> Option<u64> {
        self.detected_ns.map(|t| t - self.start_ns)
    }

    pub fn time_to_recover_ns(&self) -> Option<u64> {
        self.recovered_ns.map(|t| t.saturating_sub(self.start_ns))
    }
}

/// Users' good and bad answers per bucket, over all workloads. Good: successful within the SLO's
/// latency (any success, in results written before SLO latencies existed); bad: the rest.
fn user_series(r: &RunResult) -> (Vec<u64>, Vec<u64>) {
    let n = r
        .workloads
        .iter()
        .map(|w| w.series_ok.len())
        .max()
        .unwrap_or(0);
    let (mut ok, mut bad) = (vec![0u64; n], vec![0u64; n]);
    for w in &r.workloads {
        let good = if w.series_good.len() == w.series_ok.len() {
            &w.series_good
        } else {
            &w.series_ok
        };
        for (b, (&g, (&o, &x))) in good
            .iter()
            .zip(w.series_ok.iter().zip(&w.series_bad))
            .enumerate()
        {
            ok[b] += g;
            // A success too slow for the SLO is not good.
            bad[b] += x + (o - g);
        }
    }
    (ok, bad)
}

fn resolution_ns(r: &RunResult) -> u64 {
    r.services
        .first()
        .map_or(1_000_000_000, |s| s.series.resolution_ns.max(1))
}

/// Whether bucket `b` breaks the SLO (an empty bucket does not).
fn breaks(ok: &[u64], bad: &[u64], b: usize, slo: f64) -> bool {
    let total = ok[b] + bad[b];
    total > 0 && bad[b] as f64 > (1.0 - slo) * total as f64
}

const DETECTIONS: [LogKind; 4] = [
    LogKind::Alert,
    LogKind::Unhealthy,
    LogKind::Ejected,
    LogKind::Failover,
];

/// What starts an incident: every fault occurrence, and every rollout (a release is an injected
/// change too), from its first step to its rollback or the end of the run.
fn triggers(r: &RunResult) -> Vec<(String, u64, u64)> {
    let mut out = r.faults.clone();
    let mut seen: Vec<&str> = Vec::new();
    for l in r.log.iter().filter(|l| l.kind == LogKind::Deploy.name()) {
        // The log says a named rollout's name, an unnamed one's service, before a `:`.
        let said = l.what.split(':').next().unwrap_or_default();
        if seen.contains(&said) {
            continue;
        }
        seen.push(said);
        let end = r
            .log
            .iter()
            .find(|x| x.kind == LogKind::Rollback.name() && x.what == said && x.t_ns >= l.t_ns)
            .map_or(r.horizon_ns, |x| x.t_ns);
        let label = if r.services.iter().any(|s| s.name == said) {
            format!("deploy {said}")
        } else {
            said.to_string()
        };
        out.push((label, l.t_ns, end));
    }
    out.sort_by_key(|t| t.1);
    out
}

/// One incident per fault occurrence, in order of time.
pub fn incidents(r: &RunResult, slo: f64) -> Vec<Incident> {
    let (ok, bad) = user_series(r);
    let res = resolution_ns(r);
    let answers: u64 = ok.iter().sum::<u64>() + bad.iter().sum::<u64>();
    let budget = (1.0 - slo) * answers as f64;
    let mut out = Vec::new();
    let all = triggers(r);
    for (k, (label, start, end)) in all.iter().cloned().enumerate() {
        let first_bucket = (start / res) as usize;
        // Errors caused by this trigger show up before the next one strikes.
        let next = all
            .get(k + 1)
            .map_or(ok.len(), |t| ((t.1 / res) as usize + 1).min(ok.len()));
        let first_errors =
            (first_bucket..next.max(first_bucket)).find(|&b| breaks(&ok, &bad, b, slo));
        let recovered = first_errors.and_then(|e| {
            (e + 1..ok.len()).find(|&b| {
                (b..(b + STABLE_BUCKETS).min(ok.len())).all(|k| !breaks(&ok, &bad, k, slo))
            })
        });
        let detection = r
            .log
            .iter()
            .find(|l| l.t_ns >= start && DETECTIONS.iter().any(|k| k.name() == l.kind));
        // Until users recovered; if they never saw errors, until the trigger ended.
        let until_bucket = match (first_errors, recovered) {
            (_, Some(b)) => b,
            (Some(_), None) => ok.len(),
            (None, None) => (end.min(r.horizon_ns).div_ceil(res) as usize).min(ok.len()),
        };
        let failed: u64 = bad
            .get(first_bucket..until_bucket.max(first_bucket))
            .map_or(0, |x| x.iter().sum());
        let until_ns = recovered.map_or(u64::MAX, |b| b as u64 * res);
        let actions: Vec<LogEntry> = r
            .log
            .iter()
            .filter(|l| l.t_ns >= start && l.t_ns <= until_ns.max(end.min(r.horizon_ns)))
            .filter(|l| !(l.t_ns == start && (l.what == label || l.kind == LogKind::Deploy.name())))
            .take(50)
            .cloned()
            .collect();
        let window_end = until_ns.max(end.min(r.horizon_ns));
        let lost_writes = writes_lost_in_failovers(r, start, window_end);
        out.push(Incident {
            fault: label.clone(),
            start_ns: start,
            end_ns: end,
            first_errors_ns: first_errors.map(|b| (b as u64 * res).max(start)),
            detected_ns: detection.map(|l| l.t_ns),
            detected_by: detection.map(|l| format!("{} {}", l.kind, l.what)),
            recovered_ns: recovered.map(|b| b as u64 * res),
            failed,
            budget_burned: if budget > 0.0 {
                failed as f64 / budget
            } else {
                0.0
            },
            lost_writes,
            actions,
        });
    }
    out
}

/// Acknowledged writes lost in the failovers from `start` to `end` (ns), as the failovers' log
/// lines count them (`db/0 -> db/1, 3 acknowledged writes lost`).
fn writes_lost_in_failovers(r: &RunResult, start: u64, end: u64) -> u64 {
    r.log
        .iter()
        .filter(|l| l.t_ns >= start && l.t_ns <= end && l.kind == LogKind::Failover.name())
        .filter_map(|l| {
            l.what
                .split(", ")
                .nth(1)
                .and_then(|x| x.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum()
}

/// A simulated time as `1m02.500s`.
pub fn clock(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let (m, s, milli) = (ms / 60_000, (ms / 1000) % 60, ms % 1000);
    if m > 0 {
        format!("{m}m{s:02}.{milli:03}s")
    } else {
        format!("{s}.{milli:03}s")
    }
}

fn span(ns: u64) -> String {
    crate::format::fmt_ns(ns as f64)
}

/// The run as a blameless postmortem: per injected fault, in order of time.
pub fn render(r: &RunResult) -> String {
    let slo = r.slo;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Incident timeline: scenario `{}`, seed {}, run {} (digest {})",
        r.scenario, r.seed, r.run, r.digest
    );
    let _ = writeln!(
        s,
        "Users: every workload's answers; within the SLO while at least {:.1}% of a {} bucket's answers are good (successful, and within the SLO's latency where one is set).",
        slo * 100.0,
        span(resolution_ns(r))
    );
    let list = incidents(r, slo);
    if list.is_empty() {
        let _ = writeln!(s, "\nNo fault was injected in this run.");
    }
    for (k, i) in list.iter().enumerate() {
        incident_section(&mut s, k + 1, i);
    }
    actions_section(&mut s, r);
    s
}

/// The operators' actions of the run (`actions`), whether or not an incident was on: what was
/// done, and when.
fn actions_section(s: &mut String, r: &RunResult) {
    let taken: Vec<&LogEntry> = (r.log.iter())
        .filter(|l| l.kind == LogKind::Action.name())
        .collect();
    if taken.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Actions taken");
    for a in taken {
        let _ = writeln!(s, "  {:>11}  {}", clock(a.t_ns), a.what);
    }
}

/// Incident `n` as a section of the postmortem: its events in order of time, what was missing
/// (detection, recovery), the damage and the times to detect and to recover.
fn incident_section(s: &mut String, n: usize, i: &Incident) {
    let _ = writeln!(
        s,
        "\n## Incident {}: {} ({} to {})",
        n,
        i.fault,
        clock(i.start_ns),
        clock(i.end_ns)
    );
    // Lines with their times, printed in order of time (ties in the order written).
    let mut lines = incident_lines(i);
    lines.sort_by_key(|l| l.0);
    for (t, text) in &lines {
        let _ = writeln!(s, "  {:>11}  {text}", clock(*t));
    }
    if i.detected_ns.is_none() {
        let _ = writeln!(
            s,
            "  {:>11}  not detected: no alert, health verdict, ejection or failover",
            ""
        );
    }
    if i.first_errors_ns.is_some() && i.recovered_ns.is_none() {
        let _ = writeln!(
            s,
            "  {:>11}  not back within the SLO by the end of the run",
            ""
        );
    }
    let _ = writeln!(
        s,
        "  damage: {} failed user requests ({:.1}% of the run's error budget), {} acknowledged writes lost",
        i.failed,
        i.budget_burned * 100.0,
        i.lost_writes
    );
    let ttd = i.time_to_detect_ns().map_or("-".to_string(), span);
    let ttr = i.time_to_recover_ns().map_or("-".to_string(), span);
    let _ = writeln!(s, "  time to detect {ttd}, time to recover {ttr}");
}

/// The events of an incident with their times, in the order written: the fault, the first errors
/// users saw, what the system did (the first detection marked), and the recovery.
fn incident_lines(i: &Incident) -> Vec<(u64, String)> {
    let mut lines: Vec<(u64, String)> = Vec::new();
    lines.push((i.start_ns, format!("injected: {}", i.fault)));
    match i.first_errors_ns {
        Some(t) => lines.push((t, "first user-visible errors".into())),
        None => lines.push((i.start_ns, "users saw no errors beyond the SLO".into())),
    }
    for a in &i.actions {
        let marker = if Some(a.t_ns) == i.detected_ns
            && i.detected_by.as_deref() == Some(&format!("{} {}", a.kind, a.what))
        {
            format!(
                "  <- detected, {} after the fault",
                span(a.t_ns - i.start_ns)
            )
        } else {
            String::new()
        };
        // An operator's action is an action taken, not something the system did by itself.
        let kind = if a.kind == LogKind::Action.name() {
            "action taken".to_string()
        } else {
            a.kind.replace('_', " ")
        };
        lines.push((a.t_ns, format!("{kind}: {}{marker}", a.what)));
    }
    if let (Some(_), Some(t)) = (i.first_errors_ns, i.recovered_ns) {
        lines.push((
            t,
            format!(
                "back within the SLO, {} after the fault",
                span(t.saturating_sub(i.start_ns))
            ),
        ));
    }
    lines
}

/// The run's notable events as JSON lines, in order of time: the model's log plus every breaker
/// state change. Each line has the simulated time in ns and as text, a sequence id, the kind and
/// the subject.
pub fn events_jsonl(r: &RunResult) -> String {
    let mut events: Vec<(u64, String, String)> = r
        .log
        .iter()
        .map(|l| (l.t_ns, l.kind.clone(), l.what.clone()))
        .collect();
    for e in &r.edges {
        for t in &e.breaker_transitions {
            let who = t
                .instance
                .map_or(String::new(), |i| format!(" (caller instance {i})"));
            events.push((
                t.t_ns,
                "breaker".into(),
                format!("{} -> {}{who}: {} -> {}", e.from, e.to, t.from, t.to),
            ));
        }
    }
    // Stable: events at the same time keep the model's order, breakers after.
    events.sort_by_key(|e| e.0);
    let mut out = String::new();
    for (id, (t, kind, what)) in events.into_iter().enumerate() {
        let line = serde_json::json!({
            "id": id,
            "t_ns": t,
            "t": clock(t),
            "kind": kind,
            "what": what,
            "scenario": r.scenario,
            "seed": r.seed,
            "run": r.run,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Per-run numbers of one incident, kept for the failure-mode table across runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// The fault's label without the instance a stochastic fault hit (`crash db`), so that
    /// occurrences group by fault.
    pub fault: String,
    pub detected_by: Option<String>,
    pub ttd_ns: Option<u64>,
    pub ttr_ns: Option<u64>,
    pub failed: u64,
    pub user_visible: bool,
}

/// The incidents of a run, reduced for aggregation.
pub fn records(r: &RunResult) -> Vec<IncidentRecord> {
    incidents(r, r.slo)
        .into_iter()
        .map(|i| IncidentRecord {
            fault: i.fault.split(" (").next().unwrap_or(&i.fault).to_string(),
            // The kind of detection (alert name, or the mechanism) rather than the instance.
            detected_by: i.detected_by.as_ref().map(|d| {
                let mut parts = d.splitn(2, ' ');
                let kind = parts.next().unwrap_or_default();
                match kind {
                    "alert" => format!("alert {}", parts.next().unwrap_or_default()),
                    "unhealthy" => "health check".to_string(),
                    "ejected" => "outlier ejection".to_string(),
                    other => other.to_string(),
                }
            }),
            ttd_ns: i.time_to_detect_ns(),
            ttr_ns: i.time_to_recover_ns(),
            failed: i.failed,
            user_visible: i.first_errors_ns.is_some(),
        })
        .collect()
}
