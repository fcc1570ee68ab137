//! Traces (`models::trace` records them, `reports::trace` writes them, `faultline replay
//! --trace`): Chrome trace-event JSON that Perfetto opens, whose spans link caller to callee,
//! and that never changes the run it traces.

use crate::{load, root};
use models::trace::{Trace, TraceOptions};
use reports::trace::to_json;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// Timeouts, retries, hedges, breakers, a fault, an alert and client retries in twenty seconds.
const RETRY: &str = "tests/data/trace-retry.ron";

fn traced(rel: &str, options: &TraceOptions) -> (faultline::RunResult, Trace) {
    let world = load(rel);
    models::run_world_traced(&world, world.seed, 0, options).expect("the run succeeds")
}

/// A span as the JSON shows it.
#[derive(Clone, Debug)]
struct JsonSpan {
    track: (u64, u64),
    start_ns: u64,
    end_ns: u64,
    correlation: u64,
    parent: Option<u64>,
}

/// What a checked trace holds.
#[derive(Default)]
struct Checked {
    /// Request spans and user spans by id.
    spans: BTreeMap<u64, JsonSpan>,
    /// Instants by name.
    marks: BTreeMap<String, usize>,
    /// Process names.
    processes: Vec<String>,
    /// Other slices (faults, breakers, alerts) by category.
    slices: BTreeMap<String, usize>,
    flows: usize,
}

fn ns(v: &Value) -> u64 {
    let us = v.as_f64().expect("a time is a number");
    assert!(us >= 0.0, "times are not negative: {v}");
    (us * 1000.0).round() as u64
}

fn track(e: &Value) -> (u64, u64) {
    (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap())
}

/// Parses a trace and checks its structure: the top-level shape, complete events with a
/// duration, slices on a thread that never overlap (Perfetto needs them nested), every thread
/// and process named, flows with both ends on the tracks of the spans they join, instants on a
/// named track, parents that are spans of the trace with the same correlation id.
fn check(json: &str) -> Checked {
    let doc: Value = serde_json::from_str(json).expect("the trace is JSON");
    assert_eq!(doc["displayTimeUnit"], "ns");
    let events = doc["traceEvents"]
        .as_array()
        .expect("traceEvents is a list");
    let mut out = Checked::default();
    let mut named_threads = Vec::new();
    let mut named_pids = Vec::new();
    let mut slices: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
    let mut flow_out: BTreeMap<u64, ((u64, u64), u64)> = BTreeMap::new();
    let mut flow_in: BTreeMap<u64, ((u64, u64), u64)> = BTreeMap::new();
    let mut instants = Vec::new();
    for e in events {
        let ph = e["ph"].as_str().expect("every event has a phase");
        match ph {
            "M" => {
                let name = e["args"]["name"].as_str().unwrap().to_string();
                match e["name"].as_str().unwrap() {
                    "process_name" => {
                        named_pids.push(e["pid"].as_u64().unwrap());
                        out.processes.push(name);
                    }
                    "thread_name" => named_threads.push(track(e)),
                    other => panic!("unexpected metadata {other}"),
                }
            }
            "X" => {
                let (start, dur) = (ns(&e["ts"]), ns(&e["dur"]));
                slices
                    .entry(track(e))
                    .or_default()
                    .push((start, start + dur));
                let cat = e["cat"].as_str().unwrap();
                if cat == "request" || cat == "user" {
                    let args = &e["args"];
                    let id = args["request"].as_u64().unwrap();
                    let span = JsonSpan {
                        track: track(e),
                        start_ns: start,
                        end_ns: start + dur,
                        correlation: args["correlation"].as_u64().unwrap(),
                        parent: args["parent"].as_u64(),
                    };
                    assert_eq!(cat == "user", span.parent.is_none(), "{e}");
                    assert!(args["attempt"].as_u64().unwrap() >= 1, "{e}");
                    assert!(args["queue_wait_ns"].as_u64().unwrap() <= dur, "{e}");
                    let outcome = args["outcome"].as_str().unwrap();
                    assert!(
                        [
                            "completed",
                            "degraded",
                            "failed",
                            "rejected",
                            "shed",
                            "rate_limited",
                            "timeout",
                            "in_flight"
                        ]
                        .contains(&outcome),
                        "{e}"
                    );
                    assert!(
                        out.spans.insert(id, span).is_none(),
                        "span ids are unique: {e}"
                    );
                } else {
                    *out.slices.entry(cat.to_string()).or_default() += 1;
                }
            }
            "i" => {
                assert_eq!(e["s"], "t", "instants are on a thread: {e}");
                *out.marks
                    .entry(e["name"].as_str().unwrap().to_string())
                    .or_default() += 1;
                instants.push(track(e));
            }
            "s" | "f" => {
                assert_eq!((&e["cat"], &e["name"]), (&"call".into(), &"call".into()));
                let id = e["id"].as_u64().unwrap();
                let end = (track(e), ns(&e["ts"]));
                let ends = if ph == "s" {
                    &mut flow_out
                } else {
                    assert_eq!(e["bp"], "e", "{e}");
                    &mut flow_in
                };
                assert!(ends.insert(id, end).is_none(), "one {ph} per flow: {e}");
            }
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    for (t, list) in &mut slices {
        assert!(named_threads.contains(t), "thread {t:?} is named");
        list.sort_unstable();
        for w in list.windows(2) {
            assert!(w[0].1 <= w[1].0, "slices on {t:?} overlap: {w:?}");
        }
    }
    for t in &instants {
        assert!(
            named_threads.contains(t),
            "thread {t:?} of an instant is named"
        );
    }
    for (pid, _) in &named_threads {
        assert!(named_pids.contains(pid), "process {pid} is named");
    }
    let keys = |m: &BTreeMap<u64, _>| m.keys().copied().collect::<Vec<_>>();
    assert_eq!(keys(&flow_out), keys(&flow_in), "every flow has both ends");
    for (id, (t, ts)) in &flow_in {
        let child = &out.spans[id];
        assert_eq!(
            (child.track, child.start_ns),
            (*t, *ts),
            "a flow ends at its span"
        );
        let parent = &out.spans[&child.parent.expect("a flow's span has a parent")];
        let (pt, sent) = flow_out[id];
        assert_eq!(parent.track, pt, "a flow starts on its parent's track");
        assert!(
            parent.start_ns <= sent && sent <= parent.end_ns,
            "a flow starts inside its parent"
        );
    }
    out.flows = flow_in.len();
    for (id, s) in &out.spans {
        match s.parent {
            None => assert_eq!(s.correlation, *id, "a user request correlates with itself"),
            Some(p) => {
                if let Some(parent) = out.spans.get(&p) {
                    assert_eq!(parent.correlation, s.correlation, "span {id}");
                    assert!(
                        flow_in.contains_key(id),
                        "span {id} has a flow from its parent"
                    );
                }
            }
        }
    }
    out
}

/// Every span's parent is in the trace.
fn assert_linked(c: &Checked) {
    for (id, s) in &c.spans {
        if let Some(p) = s.parent {
            assert!(
                c.spans.contains_key(&p),
                "the parent {p} of span {id} is in the trace"
            );
        }
    }
}

#[test]
fn a_trace_has_linked_spans_defences_and_tracks() {
    let (result, trace) = traced(RETRY, &TraceOptions::default());
    let c = check(&to_json(&trace));
    assert_linked(&c);
    assert_eq!(c.spans.len(), trace.spans.len());
    assert_eq!(
        trace.users, trace.users_traced,
        "sampling 1 traces every user request"
    );
    let users: u64 = result.workloads.iter().map(|w| w.measured.arrived).sum();
    assert_eq!(trace.users, users);
    assert_eq!(
        c.flows,
        c.spans.values().filter(|s| s.parent.is_some()).count()
    );
    // Spans at instances: one per request answered at a service (or in flight at the end).
    let arrived: u64 = result.services.iter().map(|s| s.ledger.arrived).sum();
    assert_eq!(trace.spans.len() as u64, arrived + users);
    for mark in ["timeout", "retry", "hedge", "breaker_open"] {
        assert!(
            c.marks.get(mark).is_some_and(|&n| n > 0),
            "{mark}: {:?}",
            c.marks
        );
    }
    for process in [
        "api",
        "db",
        "cache",
        "users:api",
        "faults",
        "breakers",
        "alerts",
        "events",
    ] {
        assert!(
            c.processes.iter().any(|p| p == process),
            "{process}: {:?}",
            c.processes
        );
    }
    assert_eq!(c.slices["fault"], result.faults.len());
    assert_eq!(c.slices["alert"], result.alerts.len());
    assert!(c.slices["breaker"] > 0);
    let edge = &result.edges[0];
    assert_eq!(
        edge.timeouts,
        c.marks["timeout"] as u64 - result.workloads[0].timeouts
    );
}

#[test]
fn tracing_never_changes_the_run() {
    for rel in [RETRY, "scenarios/defences/circuit-breaker.ron"] {
        let world = load(rel);
        let plain = models::run_world(&world, world.seed, 1).unwrap();
        for sample_one_in in [1, 7] {
            let options = TraceOptions {
                sample_one_in,
                ..TraceOptions::default()
            };
            let (result, _) = models::run_world_traced(&world, world.seed, 1, &options).unwrap();
            assert_eq!(result.digest, plain.digest, "{rel}");
            assert_eq!(result, plain, "{rel}: the whole result");
        }
    }
}

#[test]
fn the_same_run_gives_the_same_trace_bytes() {
    let options = TraceOptions {
        sample_one_in: 3,
        ..TraceOptions::default()
    };
    let a = to_json(&traced(RETRY, &options).1);
    let b = to_json(&traced(RETRY, &options).1);
    assert!(a == b, "two traces of one run differ");
}

#[test]
fn sampling_keeps_whole_user_requests() {
    let (_, all) = traced(RETRY, &TraceOptions::default());
    let options = TraceOptions {
        sample_one_in: 10,
        ..TraceOptions::default()
    };
    let (_, some) = traced(RETRY, &options);
    let c = check(&to_json(&some));
    assert_linked(&c);
    let share = some.spans.len() as f64 / all.spans.len() as f64;
    assert!(
        (0.07..0.13).contains(&share),
        "1 in 10 keeps {share} of the spans"
    );
    let share = some.users_traced as f64 / some.users as f64;
    assert!(
        (0.08..0.12).contains(&share),
        "1 in 10 traces {share} of users"
    );
    // A sampled span is the span of the full trace with that id: ids do not depend on sampling.
    let by_id: BTreeMap<u64, &models::trace::Span> = all.spans.iter().map(|s| (s.id, s)).collect();
    for s in &some.spans {
        assert_eq!(Some(&s), by_id.get(&s.id), "span {}", s.id);
    }
}

#[test]
fn a_window_and_a_span_cap_bound_the_trace() {
    let (from, to) = (6_000_000_000, 8_000_000_000);
    let options = TraceOptions {
        window: Some((from, to)),
        ..TraceOptions::default()
    };
    let (_, trace) = traced(RETRY, &options);
    let c = check(&to_json(&trace));
    assert_linked(&c);
    assert!(trace.users_traced > 0);
    for s in trace.spans.iter().filter(|s| s.parent.is_none()) {
        assert!(
            (from..to).contains(&s.start_ns),
            "user request at {}",
            s.start_ns
        );
    }
    assert!(trace.log.iter().all(|e| (from..=to).contains(&e.t_ns)));

    let options = TraceOptions {
        max_spans: 500,
        ..TraceOptions::default()
    };
    let (_, trace) = traced(RETRY, &options);
    let c = check(&to_json(&trace));
    assert_linked(&c);
    assert!(trace.users_over_max > 0);
    assert!(trace.spans.len() <= 500, "{}", trace.spans.len());
    // The budget thins the sampling over the whole run: the kept user requests reach its end.
    let last = trace
        .spans
        .iter()
        .filter(|s| s.parent.is_none())
        .map(|s| s.start_ns)
        .max();
    assert!(last > Some(18_000_000_000), "{last:?}");
}

/// A fault at 2m, in a run whose spans would fill the default budget in its first 25 seconds.
const LATE: &str = "tests/data/trace-late-fault.ron";

#[test]
fn the_default_trace_covers_a_late_fault() {
    let world = load(LATE);
    let plain = models::run_world(&world, world.seed, 0).unwrap();
    let (result, trace) = traced(LATE, &TraceOptions::default());
    assert_eq!(result, plain, "tracing never changes the run");
    // 359,771 user requests of four spans each (users, web, api, db), 1.44 million spans: one in
    // 8 keeps about 180,000 of them, within the budget of 200,000.
    assert_eq!(trace.users, 359_771);
    assert_eq!(trace.sample_one_in, 8);
    assert!(
        (150_000..=200_000).contains(&trace.spans.len()),
        "{}",
        trace.spans.len()
    );
    assert_eq!(trace.users_traced + trace.users_over_max, trace.users);
    assert_eq!(
        (trace.users_outside_window, trace.users_not_sampled),
        (0, 0)
    );
    let c = check(&to_json(&trace));
    assert_linked(&c);
    // As many user requests are traced in the fault's 20 seconds as in the first 20 (2,000 a
    // second, one in 8: about 5,000), and db's errors are among them.
    let users_in = |from_s: u64, to_s: u64| {
        trace
            .spans
            .iter()
            .filter(|s| s.parent.is_none())
            .filter(|s| (from_s * 1_000_000_000..to_s * 1_000_000_000).contains(&s.start_ns))
            .count()
    };
    let (first, fault) = (users_in(0, 20), users_in(120, 140));
    assert!((4_500..5_500).contains(&fault), "{fault}");
    assert!(first.abs_diff(fault) < 300, "{first} and {fault}");
    let failed_in_fault = trace
        .spans
        .iter()
        .filter(|s| matches!(s.place, models::trace::Place::Instance { service: 2, .. }))
        .filter(|s| (120_000_000_000..140_000_000_000).contains(&s.start_ns))
        .filter(|s| s.outcome == "failed")
        .count();
    assert!(failed_in_fault > 1_000, "{failed_in_fault}");
    let left_out = trace.left_out();
    assert!(
        left_out.starts_with(&format!(
            "user requests left out: {} to keep within 200000 spans (one in 8 kept",
            trace.users_over_max
        )),
        "{left_out}"
    );
}

#[test]
fn replay_writes_a_trace_events_and_a_timeline() {
    let dir = std::env::temp_dir().join(format!("faultline-trace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (trace_path, events_path) = (dir.join("t/trace.json"), dir.join("events.jsonl"));
    let output = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["replay", RETRY, "--run", "1", "--trace"])
        .arg(&trace_path)
        .args([
            "--trace-sample",
            "2",
            "--trace-window",
            "4s..12s",
            "--events",
        ])
        .arg(&events_path)
        .arg("--timeline")
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("trace written to"), "{stdout}");
    assert!(stdout.contains("Incident timeline"), "{stdout}");
    let json = std::fs::read_to_string(&trace_path).unwrap();
    let c = check(&json);
    assert_linked(&c);
    assert!(!c.spans.is_empty());
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["otherData"]["sample_one_in"], 2);
    assert_eq!(doc["otherData"]["sample_one_in_asked"], 2);
    let other = &doc["otherData"];
    let users = other["users"].as_u64().unwrap();
    let parts = [
        "users_traced",
        "users_outside_window",
        "users_not_sampled",
        "users_over_max_spans",
    ];
    assert_eq!(
        users,
        parts
            .iter()
            .map(|k| other[k].as_u64().unwrap())
            .sum::<u64>()
    );
    assert!(other["users_outside_window"].as_u64().unwrap() > 0);
    assert!(other["left_out"]
        .as_str()
        .unwrap()
        .contains("outside the window"));
    assert_eq!(doc["otherData"]["run"], 1);
    let events = std::fs::read_to_string(&events_path).unwrap();
    assert!(events.lines().count() > 0);
    for line in events.lines() {
        serde_json::from_str::<Value>(line).expect("each events line is JSON");
    }

    let bad = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "replay",
            RETRY,
            "--trace",
            "x.json",
            "--trace-window",
            "9s..2s",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("trace window `9s..2s` is empty"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
