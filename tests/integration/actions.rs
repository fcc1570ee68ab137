//! Operator actions (issue 15, item 3): each takes effect at its time, exactly, and is logged as
//! an action (not a fault); the timeline shows it as an action taken. On
//! `tests/data/targeting.ron` (web calls api, ten instances, then db, 100 requests a second,
//! constant work and latencies) and `tests/data/shift-traffic.ron` (web in two regions).

use crate::repo_path;
use models::results::RunResult;

/// `file` with `actions` (RON list entries) added, run once.
fn run_with(file: &str, actions: &str) -> RunResult {
    let text = std::fs::read_to_string(repo_path(file)).unwrap();
    let text = text.replacen(
        "    workload:",
        &format!("    actions: [{actions}],\n    workload:"),
        1,
    );
    let world = models::validate::load_str(file, &text).unwrap();
    models::run_world(&world, 1, 0).unwrap()
}

fn run(actions: &str) -> RunResult {
    run_with("tests/data/targeting.ron", actions)
}

fn svc<'a>(r: &'a RunResult, name: &str) -> &'a models::results::ServiceResult {
    r.services.iter().find(|s| s.name == name).unwrap()
}

/// The log's action lines: (time in s, what).
fn taken(r: &RunResult) -> Vec<(u64, String)> {
    (r.log.iter())
        .filter(|l| l.kind == "action")
        .map(|l| (l.t_ns / 1_000_000_000, l.what.clone()))
        .collect()
}

/// A feature switched off at 10 s: db is called by the first 999 requests only; nothing fails.
/// A pause at 10 s: db refuses the 3,000 calls after it.
#[test]
fn feature_off_and_pause_take_effect_at_their_time() {
    let r = run("(at: \"10s\", do: FeatureOff(from: \"web\", to: \"db\"))");
    assert_eq!(svc(&r, "db").ledger.arrived, 999);
    assert_eq!(r.workloads[0].measured.failed, 0);
    assert_eq!(taken(&r), [(10, "feature off: web -> db".to_string())]);
    assert!(r.faults.is_empty(), "an action is no fault occurrence");
    let r = run("(name: \"stop the db\", at: \"10s\", do: Pause(service: \"db\"))");
    assert_eq!(svc(&r, "db").ledger.rejected, 3000);
    assert_eq!(svc(&r, "db").ledger.completed, 999);
    assert_eq!(taken(&r), [(10, "stop the db".to_string())]);
}

/// A restart of api's ten instances: all at once, each down 10 s, refuses the 1,000 calls of
/// those 10 s; one by one every 2 s, each down 1 s, refuses a tenth of a second's calls ten
/// times: 100.
#[test]
fn a_restart_all_at_once_or_rolling() {
    let r = run("(at: \"10s\", do: Restart(service: \"api\"))");
    assert_eq!(svc(&r, "api").ledger.rejected, 1000);
    let back = r.log.iter().filter(|l| l.kind == "restarted").count();
    assert_eq!(back, 10);
    let r = run("(at: \"10s\", do: Restart(service: \"api\", every: \"2s\", takes: \"1s\"))");
    assert_eq!(svc(&r, "api").ledger.rejected, 100);
    let restarted: Vec<u64> = (r.log.iter())
        .filter(|l| l.kind == "restarted")
        .map(|l| l.t_ns / 1_000_000_000)
        .collect();
    assert_eq!(restarted, [11, 13, 15, 17, 19, 21, 23, 25, 27, 29]);
    assert_eq!(taken(&r), [(10, "restart api one by one".to_string())]);
}

/// Two more api instances at 10 s, taking load 5 s later: 10 up for the first 15 s, 12 after.
#[test]
fn added_capacity_takes_load_after_its_delay() {
    let r = run("(at: \"10s\", do: AddCapacity(service: \"api\", instances: 2, delay: \"5s\"))");
    let api = svc(&r, "api");
    assert_eq!(api.n_instances, 12);
    let up: Vec<(usize, u64)> = (api.instances_up_ns.iter().enumerate())
        .filter(|(_, &t)| t > 0)
        .map(|(k, &t)| (k, t / 1_000_000_000))
        .collect();
    assert_eq!(up, [(10, 15), (12, 25)]);
    assert_eq!(taken(&r), [(10, "add 2 instances to api".to_string())]);
    // Without the action, nothing else changed: the same answers.
    let none = models::run_world(&crate::load("tests/data/targeting.ron"), 1, 0).unwrap();
    assert_eq!(
        svc(&none, "api").ledger.completed,
        svc(&r, "api").ledger.completed
    );
}

/// eu's users move to us at 10 s: all of them (52 ms instead of 12 ms for the 2,996 answered of
/// those that arrive from 10 s on: the action at 10 s comes before the arrival at 10 s, scheduled
/// later), or half, drawn from the workload's own stream (1,473 of the 2,998 answered in this
/// run).
#[test]
fn shifted_traffic_enters_through_the_other_region() {
    let total = |r: &RunResult| {
        let l = &r.workloads[0].latency;
        (l.mean_ns * l.count as f64 / 1e6).round() as u64
    };
    let file = "tests/data/shift-traffic.ron";
    let r = run_with(
        file,
        "(at: \"10s\", do: ShiftTraffic(from: \"eu\", to: \"us\", share: 1.0))",
    );
    assert_eq!(r.workloads[0].latency.count, 3995);
    assert_eq!(total(&r), 999 * 12 + 2996 * 52);
    let r = run_with(
        file,
        "(at: \"10s\", do: ShiftTraffic(from: \"eu\", to: \"us\", share: 0.5))",
    );
    assert_eq!(r.workloads[0].latency.count, 3997);
    assert_eq!(total(&r), 999 * 12 + (2998 - 1473) * 12 + 1473 * 52);
}

/// The postmortem shows an action among the actions taken during the incident, and in a section
/// of its own.
#[test]
fn the_timeline_shows_actions_taken() {
    let text = std::fs::read_to_string(repo_path("tests/data/targeting.ron")).unwrap();
    let text = text.replacen(
        "    workload:",
        "    faults: [(at: \"10s\", what: Crash(service: \"api\", instances: Count(5)))],\n    actions: [(name: \"restart api\", at: \"15s\", do: Restart(service: \"api\", takes: \"1s\"))],\n    workload:",
        1,
    );
    let world = models::validate::load_str("t.ron", &text).unwrap();
    let r = models::run_world(&world, 1, 0).unwrap();
    let timeline = reports::timeline::render(&r);
    assert!(
        timeline.contains("15.000s  action taken: restart api"),
        "{timeline}"
    );
    assert!(
        timeline.contains("## Actions taken\n      15.000s  restart api\n"),
        "{timeline}"
    );
    assert_eq!(timeline.matches("## Incident").count(), 1, "{timeline}");
}
