//! The simulator against queueing theory (`../shared/reference/queueing.md`).
//!
//! Each model runs `RUNS` independent seeds (run indices of one scenario). A per-run estimate is
//! taken after the warm-up; the mean over runs gets a 99.9% Student-t interval, and the analytic
//! value must lie inside it. The interval is the tolerance: nothing is picked by hand. To make sure
//! the test has power (a wide interval would accept anything), each interval's half-width must
//! also be below a stated fraction of the analytic value.

use crate::load;
use models::results::RunResult;
use rayon::prelude::*;
use reports::stats::Estimate;

const RUNS: u64 = 30;
const CONFIDENCE: f64 = 0.999;

fn runs(rel: &str) -> Vec<RunResult> {
    let world = load(rel);
    (0..RUNS)
        .into_par_iter()
        .map(|run| models::run_world(&world, world.seed, run).expect("run succeeds"))
        .collect()
}

/// Asserts that `analytic` lies in the interval of the per-run values, and that the interval is
/// narrower than `precision` (relative to `analytic`).
pub(crate) fn assert_agrees(what: &str, values: &[f64], analytic: f64, precision: f64) -> Estimate {
    let e = Estimate::of(values, CONFIDENCE);
    println!(
        "{what}: analytic {analytic:.6}, simulated {:.6} ± {:.6} (99.9% CI, {} runs)",
        e.mean, e.half_width, e.n
    );
    assert!(
        e.contains(analytic),
        "{what}: analytic value {analytic} is outside the 99.9% interval [{}, {}]",
        e.low(),
        e.high()
    );
    assert!(
        e.half_width <= precision * analytic,
        "{what}: the interval ±{} is wider than {}% of {analytic}; lengthen the horizon",
        e.half_width,
        precision * 100.0
    );
    e
}

fn per_run(results: &[RunResult], f: impl Fn(&RunResult) -> f64) -> Vec<f64> {
    results.iter().map(f).collect()
}

/// Erlang C: probability that an arrival waits in M/M/c with offered load `a` Erlangs.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let top = term * f64::from(c) / (f64::from(c) - a);
    top / (sum + top)
}

/// Erlang B by the recursion of the reference: B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Checks P(wait), Wq and W of an M/M/c scenario with service mean 10 ms.
fn check_mmc(rel: &str, c: u32, lambda: f64, wq_ms_table: f64, p_wait_table: f64) {
    let mu = 100.0;
    let a = lambda / mu;
    let p_wait = erlang_c(c, a);
    let wq_ms = p_wait / (f64::from(c) * mu - lambda) * 1e3;
    // The formulas reproduce the reference table; the simulation must reproduce both.
    assert!((p_wait - p_wait_table).abs() < 1e-6 && (wq_ms - wq_ms_table).abs() < 1e-4);
    let results = runs(rel);
    let s = |r: &RunResult| r.services[0].clone();
    assert_agrees(
        &format!("{rel} P(wait)"),
        &per_run(&results, |r| s(r).wait_probability),
        p_wait,
        0.05,
    );
    assert_agrees(
        &format!("{rel} Wq (ms)"),
        &per_run(&results, |r| s(r).wait_ns_mean / 1e6),
        wq_ms,
        0.08,
    );
    assert_agrees(
        &format!("{rel} W (ms)"),
        &per_run(&results, |r| s(r).latency.mean_ns / 1e6),
        wq_ms + 10.0,
        0.05,
    );
    assert_agrees(
        &format!("{rel} Lq"),
        &per_run(&results, |r| s(r).queue_len_mean),
        lambda * wq_ms / 1e3,
        0.08,
    );
    assert_agrees(
        &format!("{rel} utilization"),
        &per_run(&results, |r| s(r).utilization),
        a / f64::from(c),
        0.02,
    );
    assert_littles_law(rel);
}

/// Little's law as a sample-path identity. With no warm-up and arrivals stopped early enough
/// for the system to drain, the time-integral of the number of requests in a service equals the
/// sum of their times in it, so L = lambda W holds exactly (up to float rounding), run by run. This
/// checks that the time-averaged gauges and the per-request latencies account for the same time.
fn assert_littles_law(rel: &str) {
    let mut spec = models::validate::parse(
        rel,
        &std::fs::read_to_string(crate::repo_path(rel)).unwrap(),
    )
    .unwrap();
    let horizon = spec.horizon.0;
    spec.warmup = models::spec::Dur(sim_core::SimDuration::ZERO);
    for w in &mut spec.workload {
        let at = models::spec::Dur(sim_core::SimDuration::from_ns(horizon.as_ns() / 10 * 9));
        w.schedule.retain(|c| match c {
            models::spec::RateChange::Step { at: t, .. } => *t < at,
            models::spec::RateChange::Ramp { from, over, .. } => {
                from.0.saturating_add(over.0) < at.0
            }
        });
        w.schedule
            .push(models::spec::RateChange::Step { to_per_s: 0.0, at });
    }
    let world = models::validate::build(rel, None, spec).unwrap();
    for run in 0..3 {
        let r = models::run_world(&world, world.seed, run).unwrap();
        for svc in &r.services {
            assert_eq!(svc.ledger.in_flight, 0, "{rel} `{}` drained", svc.name);
            assert_eq!(
                svc.ledger.failed, 0,
                "{rel} `{}`: failures hold workers outside W",
                svc.name
            );
            let t = r.measured_ns as f64 / 1e9;
            let l = svc.in_system_mean;
            let lambda_w = svc.throughput_per_s * svc.latency.mean_ns / 1e9;
            println!(
                "{rel} `{}` run {run}: L = {l:.6}, lambda W = {lambda_w:.6} over {t} s",
                svc.name
            );
            assert!(
                (l - lambda_w).abs() <= 1e-9 * l.max(1.0),
                "{rel} `{}`: L = {l} but lambda W = {lambda_w}",
                svc.name
            );
        }
    }
}

#[test]
fn mm1_rho_05() {
    check_mmc("scenarios/queueing/mm1-rho50.ron", 1, 50.0, 10.0, 0.5);
}

#[test]
fn mm1_rho_08() {
    check_mmc("scenarios/queueing/mm1-rho80.ron", 1, 80.0, 40.0, 0.8);
}

#[test]
fn mm2_rho_08() {
    check_mmc(
        "scenarios/queueing/mm2-rho80.ron",
        2,
        160.0,
        17.77778,
        0.711111,
    );
}

#[test]
fn mm4_rho_09() {
    check_mmc(
        "scenarios/queueing/mm4-rho90.ron",
        4,
        360.0,
        19.69383,
        0.787753,
    );
}

#[test]
fn md1_pollaczek_khinchine() {
    let rel = "scenarios/queueing/md1-rho80.ron";
    let (rho, mu) = (0.8, 100.0);
    let wq_ms = rho / (2.0 * mu * (1.0 - rho)) * 1e3;
    let results = runs(rel);
    assert_agrees(
        "M/D/1 Wq (ms)",
        &per_run(&results, |r| r.services[0].wait_ns_mean / 1e6),
        wq_ms,
        0.08,
    );
    assert_agrees(
        "M/D/1 P(wait)",
        &per_run(&results, |r| r.services[0].wait_probability),
        rho,
        0.05,
    );
    assert_littles_law(rel);
}

#[test]
fn erlang_b_loss_system() {
    let rel = "scenarios/queueing/mmcc-erlang-b.ron";
    let blocking = erlang_b(4, 3.0);
    assert!((blocking - 0.206_115).abs() < 1e-5);
    let results = runs(rel);
    let blocked = per_run(&results, |r| {
        let m = &r.services[0].measured;
        m.rejected as f64 / m.arrived as f64
    });
    assert_agrees("M/M/4/4 blocking", &blocked, blocking, 0.05);
    // Carried load: utilization = a (1 - B) / c.
    let util = per_run(&results, |r| r.services[0].utilization);
    assert_agrees(
        "M/M/4/4 utilization",
        &util,
        3.0 * (1.0 - blocking) / 4.0,
        0.02,
    );
}

#[test]
fn littles_law_in_a_call_graph() {
    // Services that hold a worker while their calls are out, with network latency and a schedule.
    assert_littles_law("scenarios/quickstart.ron");
}

/// Evenly spaced arrivals follow a step in the rate at the step: 0.1/s stepped to 100/s at 1 s
/// gives its first arrival 9 ms after the step (the tenth of an arrival accumulated before it
/// counts), then one every 10 ms: exactly 100 arrivals by 2 s. Before, the gap of the old rate
/// (10 s) ran out first and the step showed no arrival within the run.
#[test]
fn constant_arrivals_follow_a_step_at_the_step() {
    let text = r#"Scenario(
    name: "step", horizon: "2s",
    services: [(name: "api", workers: 4, work: Constant("1ms"))],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 0.1),
                schedule: [Step(to_per_s: 100, at: "1s")])],
)"#;
    let world = models::load_str("step.ron", text).unwrap_or_else(|e| panic!("{e}"));
    let r = models::run_world(&world, 1, 0).unwrap();
    assert_eq!(r.workloads[0].measured.arrived, 100);
    assert_eq!(r.services[0].ledger.arrived, 100);
}

/// Two async services in series are two independent M/M/1 queues (Jackson's theorem): front's
/// worker is free while back serves the call, so front waits as an M/M/1 at rho 0.5 and back as
/// one at rho 0.8, and a user's time is the sum of the two sojourns. Front's utilization is its
/// own work only (0.5), not the time its requests spend in back.
#[test]
fn two_async_services_in_series_are_a_jackson_network() {
    let rel = "scenarios/queueing/jackson-async-tandem.ron";
    let lambda = 50.0;
    let (mu_front, mu_back) = (100.0, 62.5);
    let wq = |mu: f64| (lambda / mu) / (mu - lambda) * 1e3; // ms
    let w = |mu: f64| 1e3 / (mu - lambda);
    let results = runs(rel);
    let svc = |r: &RunResult, k: usize| r.services[k].clone();
    assert_agrees(
        "front Wq (ms)",
        &per_run(&results, |r| svc(r, 0).wait_ns_mean / 1e6),
        wq(mu_front),
        0.05,
    );
    assert_agrees(
        "back Wq (ms)",
        &per_run(&results, |r| svc(r, 1).wait_ns_mean / 1e6),
        wq(mu_back),
        0.08,
    );
    assert_agrees(
        "front utilization",
        &per_run(&results, |r| svc(r, 0).utilization),
        lambda / mu_front,
        0.02,
    );
    assert_agrees(
        "end to end W (ms)",
        &per_run(&results, |r| r.workloads[0].latency.mean_ns / 1e6),
        w(mu_front) + w(mu_back),
        0.05,
    );
}
