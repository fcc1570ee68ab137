//! Fault targeting (issue 15, item 4): a pick of a service's instances (`instances: Share(..)`
//! or `Count(..)`, drawn by the fault's own stream, the same in every design), the instances in
//! a place (`in:`), one call edge (`Edge(from:, to:)`) for errors, delay and loss, and jitter.
//! On `tests/data/targeting.ron`: web calls api (10 instances, 5 per zone) then db, at 100
//! requests a second with constant work and latencies, so that a fault from 10 s to 20 s hits
//! exactly 1,000 calls.

use crate::repo_path;
use models::results::RunResult;

/// The bench with `what` as its one fault from 10 s to 20 s (and `edit` applied), and its world.
fn bench(what: &str, edit: impl Fn(&mut models::spec::Scenario)) -> models::World {
    let text = std::fs::read_to_string(repo_path("tests/data/targeting.ron")).unwrap();
    let text = text.replacen(
        "    workload:",
        &format!("    faults: [(at: \"10s\", lasts: \"10s\", what: {what})],\n    workload:"),
        1,
    );
    let mut spec = models::validate::parse("targeting.ron", &text).unwrap();
    edit(&mut spec);
    models::validate::build("targeting.ron", None, spec).unwrap()
}

fn run(what: &str) -> RunResult {
    models::run_world(&bench(what, |_| {}), 1, 0).unwrap()
}

fn svc<'a>(r: &'a RunResult, name: &str) -> &'a models::results::ServiceResult {
    r.services.iter().find(|s| s.name == name).unwrap()
}

/// The instances the log says a picked fault hit.
fn hit(r: &RunResult) -> Vec<String> {
    let start = r.log.iter().find(|l| l.kind == "fault_start").unwrap();
    let (_, names) = start.what.split_once(": ").expect("a pick is logged");
    names.split(", ").map(str::to_string).collect()
}

/// Round robin deals the 1,000 calls of the window evenly: k crashed instances of 10 refuse
/// k × 100 of them. A share is rounded up; a larger share hits the smaller one's instances and
/// more; the pick does not depend on the design, and differs from run to run.
#[test]
fn a_pick_hits_that_many_instances_chosen_by_the_fault() {
    let three = run("Crash(service: \"api\", instances: Count(3))");
    assert_eq!(svc(&three, "api").ledger.rejected, 300);
    assert_eq!(three.workloads[0].measured.failed, 300);
    let picked = hit(&three);
    assert_eq!(picked.len(), 3);
    assert!(picked.iter().all(|n| n.starts_with("api/")));
    let share = run("Crash(service: \"api\", instances: Share(0.3))");
    assert_eq!(hit(&share), picked);
    assert_eq!(share.digest, three.digest);
    let half = run("Crash(service: \"api\", instances: Share(0.5))");
    assert_eq!(svc(&half, "api").ledger.rejected, 500);
    assert_eq!(hit(&half)[..3], picked[..]);
    // Share(0.25) of 10 is 2.5: rounded up to 3.
    assert_eq!(
        hit(&run("Crash(service: \"api\", instances: Share(0.25))")),
        picked
    );
    // Another design (api's work, the callers' timeout) sees the same instances fail.
    let world = bench("Crash(service: \"api\", instances: Count(3))", |s| {
        s.services[1].work =
            models::spec::DistSpec::Constant(models::spec::Dur(sim_core::SimDuration::from_ms(4)));
    });
    assert_eq!(hit(&models::run_world(&world, 1, 0).unwrap()), picked);
    // Other runs pick otherwise.
    let world = bench("Crash(service: \"api\", instances: Count(3))", |_| {});
    let picks: Vec<Vec<String>> = (0..6)
        .map(|k| hit(&models::run_world(&world, 1, k).unwrap()))
        .collect();
    assert!(picks.iter().any(|p| *p != picked), "{picks:?}");
}

/// `in: "b"` hits the five instances in zone b; with a pick, two of them.
#[test]
fn a_service_in_a_place() {
    let r = run("Crash(service: \"api\", in: \"b\")");
    assert_eq!(svc(&r, "api").ledger.rejected, 500);
    let world = bench(
        "Hang(service: \"api\", in: \"r/b\", instances: Count(2))",
        |_| {},
    );
    let r = models::run_world(&world, 1, 0).unwrap();
    let picked = hit(&r);
    assert_eq!(picked.len(), 2);
    for name in &picked {
        let k: usize = name.trim_start_matches("api/").parse().unwrap();
        let first = world.services[1].first_instance as usize;
        let host = world.instances[first + k].host_idx as usize;
        assert!(world.hosts[host].name.starts_with("r/b/"), "{name}");
    }
    // Hung instances hold their 200 calls: each times out at 200 ms but the 4 sent in the last
    // 200 ms, answered when the hang ends.
    assert_eq!(r.edges[0].timeouts, 196);
    // Stochastic failures of a pick: only the picked instances ever fail.
    let world = bench("Crash(service: \"api\", instances: Count(2))", |s| {
        let f = &mut s.faults[0];
        f.lasts = None;
        let exp = |mean: u64| models::spec::DistSpec::Exponential {
            mean: models::spec::Dur(sim_core::SimDuration::from_secs(mean)),
        };
        f.mtbf = Some(exp(5));
        f.mttr = Some(exp(1));
    });
    let r = models::run_world(&world, 1, 0).unwrap();
    let mut failed: Vec<&str> = (r.log.iter())
        .filter(|l| l.kind == "fault_start")
        .map(|l| l.what.rsplit_once(" (").unwrap().1)
        .collect();
    assert!(failed.len() > 4, "{failed:?}");
    failed.sort_unstable();
    failed.dedup();
    assert_eq!(failed.len(), 2, "{failed:?}");
}

/// Errors, delay and loss on the edge web -> api leave web -> db alone, whatever hosts the
/// services are on.
#[test]
fn an_edge_is_a_target() {
    // Every request and answer on the edge 30 ms later: web's slowest request 12 + 2 × 30 ms.
    let r = run("NetworkDelay(edge: Edge(from: \"web\", to: \"api\"), add: \"30ms\")");
    assert_eq!(svc(&r, "web").latency.max_ns, 72_000_000);
    assert_eq!(svc(&r, "api").latency.max_ns, 5_000_000);
    assert_eq!(r.workloads[0].measured.failed, 0);
    // The 1,000 requests that leave web from 10 s to 20 s are 30 ms later, and so are the
    // answers of 997 of them (the last three answer after 20 s): 59,910 ms more in all.
    let none = bench("Outage(service: \"db\")", |s| s.faults.clear());
    let none = models::run_world(&none, 1, 0).unwrap();
    let total = |r: &RunResult| {
        let l = &svc(r, "web").latency;
        l.mean_ns * l.count as f64
    };
    let added = total(&r) - total(&none);
    assert!((added - 59_910e6).abs() < 1e3, "{added}");
    // Every message lost: 1,000 timeouts on the edge, none to db; api never sees them.
    let r = run("PacketLoss(edge: Edge(from: \"web\", to: \"api\"), rate: 1.0)");
    assert_eq!((r.edges[0].timeouts, r.edges[1].timeouts), (1000, 0));
    assert_eq!(svc(&r, "api").ledger.arrived, 2999);
    // Aborted at the caller: 1,000 errors at once, no timeout, api never sees them.
    let r = run("Errors(edge: Edge(from: \"web\", to: \"api\"), rate: 1.0)");
    assert_eq!((r.edges[0].errors, r.edges[0].timeouts), (1000, 0));
    assert_eq!(svc(&r, "api").ledger.arrived, 2999);
    assert_eq!(svc(&r, "db").ledger.arrived, 2999);
    // A quarter of them, drawn from the fault's own stream: 271 of 1,000 in this run.
    let r = run("Errors(edge: Edge(from: \"web\", to: \"api\"), rate: 0.25)");
    assert_eq!(r.edges[0].errors, 271);
}

/// Jitter: 10 ms plus a uniform draw in [0, 10 ms] each way, on the edge or between zones.
#[test]
fn a_delay_with_jitter() {
    let r = run("NetworkDelay(edge: Edge(from: \"web\", to: \"api\"), add: \"10ms\", jitter: Uniform(min: \"0ms\", max: \"10ms\"))");
    let web = svc(&r, "web");
    assert!(web.latency.max_ns > 45_000_000 && web.latency.max_ns <= 52_000_000);
    // Mean: 11 ms, and 2 × 15 ms more for 1,000 of 3,999 requests.
    let expected = 11e6 + 30e6 * 1000.0 / 3999.0;
    assert!(
        (web.latency.mean_ns - expected).abs() < 0.2e6,
        "{}",
        web.latency.mean_ns
    );
    // Between the zones, the jitter is drawn for every message that crosses.
    let r = run("NetworkDelay(between: [\"a\"], and: [\"b\"], add: \"10ms\", jitter: Uniform(min: \"0ms\", max: \"10ms\"))");
    let max = svc(&r, "web").latency.max_ns;
    assert!(max > 72_000_000 && max <= 92_000_000, "{max}");
}

/// `InZones(["a", "b"])` deals api's instances out over the two zones in turn; zone-aware
/// routing keeps every call in its caller's zone (5 ms a request, against 9 ms on average when
/// a random pick crosses zones half the time). While three of zone a's four instances are down
/// (10 s to 20 s), zone a's callers find 1 of the 5 instances in rotation in their zone, less
/// than their share (1 × 2 zones < 5): they keep 2 / 5 of their calls there and spread the
/// rest over all five, so about 1,000 × 3/5 × 4/5 = 480 calls cross zones, 8 ms more each
/// (467 in this run).
#[test]
fn zone_aware_routing_prefers_the_callers_zone_and_spills() {
    let world = crate::load("tests/data/zone-aware.ron");
    let api = &world.services[1];
    let zones: Vec<String> = (0..api.n_instances)
        .map(|k| {
            let host = world.instances[(api.first_instance + k) as usize].host_idx;
            world.hosts[host as usize].name[2..3].to_string()
        })
        .collect();
    assert_eq!(zones, ["a", "b", "a", "b", "a", "b", "a", "b"]);
    let extra_calls = |r: &RunResult| {
        let l = &svc(r, "web").latency;
        ((l.mean_ns - 5e6) * l.count as f64 / 8e6).round() as u64
    };
    let r = models::run_world(&world, 1, 0).unwrap();
    assert_eq!(extra_calls(&r), 467);
    assert_eq!(svc(&r, "api").ledger.rejected, 0);
    // Without the fault, no call leaves its zone.
    let mut spec = world.spec.clone();
    spec.faults.clear();
    let calm = models::validate::build("calm", None, spec.clone()).unwrap();
    assert_eq!(
        svc(&models::run_world(&calm, 1, 0).unwrap(), "web")
            .latency
            .max_ns,
        5_000_000
    );
    // Below `min_cluster_size`, or without zone-aware routing, a random pick crosses zones
    // about half the time.
    spec.services[1].zone_aware = Some(models::spec::ZoneAware {
        min_cluster_size: 9,
    });
    let few = models::validate::build("few", None, spec.clone()).unwrap();
    let mean = svc(&models::run_world(&few, 1, 0).unwrap(), "web")
        .latency
        .mean_ns;
    assert!((8.8e6..9.2e6).contains(&mean), "{mean}");
}
