//! Alerts, incident timelines and the notable-event log of single runs.

use crate::{load, repo_path};
use reports::timeline;

const S: u64 = 1_000_000_000;

/// Worked by hand: bucket 10 (10 s to 11 s) is the first all-error bucket, so the 2 s window
/// ending at 11 s holds 100 errors of 200 answers (50%, not above it) and the one ending at 12 s
/// holds 200 of 200: the alert fires at 12 s. It resolves when the window ending at 21 s is back
/// to 50%. With `for: 3s`, the condition must hold from 12 s to 15 s first. The burn-rate rule
/// (1% budget, factor 60: above 60% errors in one bucket) fires at the end of bucket 10, 11 s.
#[test]
fn alerts_fire_at_the_simulated_time_a_hand_computed_case_predicts() {
    let world = load("tests/data/alert-timing.ron");
    let r = models::run_world(&world, 1, 0).unwrap();
    let firing = |name: &str| {
        r.alerts
            .iter()
            .filter(|a| a.name == name)
            .map(|a| (a.fired_ns, a.resolved_ns))
            .collect::<Vec<_>>()
    };
    assert_eq!(firing("errors"), vec![(12 * S, Some(21 * S))]);
    assert_eq!(firing("errors-for-3s"), vec![(15 * S, Some(21 * S))]);
    assert_eq!(firing("burn"), vec![(11 * S, Some(21 * S))]);
    // The log has them, in order of time, with the fault.
    let kinds: Vec<(&str, u64)> = r.log.iter().map(|l| (l.kind.as_str(), l.t_ns)).collect();
    assert_eq!(kinds[0], ("fault_start", 10 * S));
    assert!(kinds.contains(&("alert", 12 * S)));
    assert!(kinds.windows(2).all(|w| w[0].1 <= w[1].1), "{kinds:?}");
}

/// The timeline of a zone outage reads as a postmortem: the fault, first user-visible errors, the
/// health checks that noticed, and users back within the SLO, with the damage.
#[test]
fn a_zone_outage_reads_as_a_postmortem() {
    let study = models::variants::load_study_file(&repo_path("scenarios/failures/zone-outage.ron"))
        .unwrap();
    let r = models::run_world(&study.designs[0].world, 1, 0).unwrap();
    let incidents = timeline::incidents(&r, timeline::SLO_DEFAULT);
    assert_eq!(incidents.len(), 1);
    let i = &incidents[0];
    assert_eq!(i.fault, "zone a down");
    assert_eq!(i.first_errors_ns, Some(120 * S));
    let ttd = i.time_to_detect_ns().expect("health checks notice");
    assert!(ttd <= 6 * S, "detected after {ttd} ns");
    assert!(i.detected_by.as_deref().unwrap().starts_with("unhealthy"));
    let ttr = i.time_to_recover_ns().expect("users recover");
    assert!(ttr <= 20 * S, "recovered after {ttr} ns");
    assert!(i.failed > 0 && i.failed < 2_000, "{}", i.failed);
    let text = timeline::render(&r);
    for needle in [
        "## Incident 1: zone a down",
        "first user-visible errors",
        "<- detected",
        "back within the SLO",
        "damage:",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    // The one-zone design never recovers while the zone is down.
    let r = models::run_world(&study.designs[1].world, 1, 0).unwrap();
    let i = &timeline::incidents(&r, timeline::SLO_DEFAULT)[0];
    assert!(i.time_to_recover_ns().unwrap() >= 120 * S);
}

/// The event log as JSON lines: one object per line, in order of time, breaker changes included.
#[test]
fn notable_events_as_json_lines() {
    let r = faultline::run_variant(
        &repo_path("scenarios/defences/circuit-breaker.ron"),
        Some("breaker"),
        None,
        0,
    )
    .unwrap();
    let text = timeline::events_jsonl(&r);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert!(events.iter().any(|e| e["kind"] == "fault_start"));
    assert!(events.iter().any(|e| e["kind"] == "breaker"));
    let times: Vec<u64> = events.iter().map(|e| e["t_ns"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(events.iter().enumerate().all(|(k, e)| e["id"] == k));
}

/// A fault's `name` is what every report calls it: the run's log and events, the timeline, the
/// failure-mode table and `Detected(fault:)`. `validate` lists it.
#[test]
fn a_named_fault_is_called_by_its_name_everywhere() {
    let path = repo_path("scenarios/failures/zone-outage.ron");
    let source = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            r#"faults: [(at: "2m", lasts: "2m","#,
            r#"faults: [(name: "lost zone a", at: "2m", lasts: "2m","#,
        )
        .replace(
            "    expect: [",
            "    expect: [\n        Detected(fault: \"lost zone a\", variant: \"three-zones\", within: \"10s\"),",
        );
    assert!(source.contains("Detected(fault: \"lost zone a\""));
    let study = models::variants::load_study("zone.ron", &source).unwrap();
    assert_eq!(
        models::variants::fault_labels([&*study.designs[0].world]),
        ["lost zone a"]
    );
    let r = models::run_world(&study.designs[0].world, 1, 0).unwrap();
    assert_eq!(r.faults[0].0, "lost zone a");
    assert!(r
        .log
        .iter()
        .any(|l| l.kind == "fault_start" && l.what == "lost zone a"));
    let events = timeline::events_jsonl(&r);
    assert!(events.lines().any(|l| {
        let e: serde_json::Value = serde_json::from_str(l).unwrap();
        e["kind"] == "fault_start" && e["what"] == "lost zone a"
    }));
    assert!(timeline::render(&r).contains("## Incident 1: lost zone a"));
    let opts = faultline::SweepOptions {
        runs: Some(2),
        jobs: Some(1),
        ..Default::default()
    };
    let agg = faultline::sweep(&study, &source, &opts, &|| {}).unwrap();
    let summary = faultline::summarize(&study, &agg);
    let modes = &summary.variants[0].failure_modes;
    assert_eq!(modes[0].fault, "lost zone a");
    let detected = &summary.expectations[0];
    assert!(
        detected.expectation.contains("`lost zone a` detected"),
        "{}",
        detected.expectation
    );
    assert!(detected.holds, "{} {}", detected.measured, detected.margin);
}

/// A `Detected` that names no fault is refused when the scenario loads, with the labels there
/// are and the closest one, not found out after every run by `check`.
#[test]
fn detected_naming_no_fault_is_refused_at_load() {
    let path = repo_path("scenarios/failures/zone-outage.ron");
    let source = std::fs::read_to_string(&path).unwrap().replace(
        "    expect: [",
        "    expect: [\n        Detected(fault: \"zone b down\", within: \"10s\"),",
    );
    let e = models::variants::load_study("zone.ron", &source)
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("error in `expect[0].fault`: no fault or rollout is called `zone b down` (faults and rollouts: `zone a down`); did you mean `zone a down`?"),
        "{e}"
    );
}

/// A rollout's `name` is what reports call it, as a fault's: the log says it (and its service),
/// the timeline's incident and the rollback, and `Detected(fault:)`'s labels. A name that is a
/// service's, holds a `:` or says nothing is refused.
#[test]
fn a_named_rollout_is_called_by_its_name() {
    let path = repo_path("scenarios/failures/bad-deploy.ron");
    let source = std::fs::read_to_string(&path).unwrap().replace(
        r#"(service: "api", at: "2m", canary: 0.1,"#,
        r#"(name: "api v2", service: "api", at: "2m", canary: 0.1,"#,
    );
    assert!(source.contains("api v2"));
    let study = models::variants::load_study("deploy.ron", &source).unwrap();
    let world = &*study.designs[0].world;
    assert_eq!(models::variants::fault_labels([world]), ["api v2"]);
    let r = models::run_world(world, 1, 0).unwrap();
    assert!(r.log.iter().any(|l| l.kind == "deploy"
        && l.what.starts_with("api v2: 1 of ")
        && l.what.contains("instances of api")));
    let rollback = r
        .log
        .iter()
        .find(|l| l.kind == "rollback")
        .expect("the alert rolls it back");
    assert_eq!(rollback.what, "api v2");
    let text = timeline::render(&r);
    assert!(text.contains("## Incident 1: api v2"), "{text}");
    for bad in [r#""api""#, r#""a: b""#, r#""""#] {
        let broken = source.replace(r#"name: "api v2""#, &format!("name: {bad}"));
        let e = models::variants::load_study("deploy.ron", &broken).unwrap_err();
        assert!(e.to_string().contains("deployments[0].name"), "{bad}: {e}");
    }
}
