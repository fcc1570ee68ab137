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
