//! Each defence in isolation on small deterministic scenarios, and the outcomes of the catalog's
//! cascade scenarios.

use crate::repo_path;
use models::results::RunResult;

fn run_text(text: &str) -> RunResult {
    let world = models::load_str("inline.ron", text).unwrap_or_else(|e| panic!("{e}"));
    models::run_world(&world, world.seed, 0).unwrap()
}

fn run_variant(rel: &str, variant: &str) -> RunResult {
    faultline::run_variant(&repo_path(rel), Some(variant), None, 0).unwrap()
}

/// A caller `api` and a callee `dep` doing constant work, with `call` as api's call.
fn pair(call: &str, dep_work: &str, extra: &str) -> String {
    format!(
        r#"Scenario(
    name: "pair", horizon: "20s", warmup: "1s",
    services: [
        (name: "api", workers: 1000, queue: "unbounded", work: Constant("0"), calls: [{call}]),
        (name: "dep", workers: 1000, queue: "unbounded", work: Constant("{dep_work}")),
    ],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 100))],
    {extra}
)"#
    )
}

#[test]
fn timeouts_with_retries_make_exactly_the_configured_attempts() {
    // dep always takes 50 ms; the timeout is 10 ms: every attempt times out, three per call.
    let r = run_text(&pair(
        r#"Call(to: "dep", timeout: "10ms", retry: (attempts: 3, backoff: Constant("5ms"), jitter: None))"#,
        "50ms",
        "",
    ));
    let e = &r.edges[0];
    assert!(e.calls > 1800, "{e:?}");
    // Every finished call made exactly three attempts; a few calls are still going at the end.
    assert_eq!(e.ok, 0);
    assert!(e.calls - e.failed <= 5, "{e:?}");
    assert!(
        e.attempts >= 3 * e.failed && e.attempts <= 3 * e.calls,
        "{e:?}"
    );
    assert!(
        e.timeouts >= 3 * e.failed && e.timeouts <= e.attempts,
        "{e:?}"
    );
    assert!((e.amplification - 3.0).abs() < 0.01);
    let api = &r.services[0];
    assert_eq!(
        api.measured.failed,
        api.measured.arrived - api.measured.in_flight
    );
    // Each user request waits 10 + 5 + 10 + 5 + 10 ms.
    assert_eq!(r.services[1].latency.max_ns, 50_000_000);
    // dep did all its work for callers that had left.
    let dep = &r.services[1];
    assert_eq!(
        dep.wasted_work_ns,
        50_000_000 * dep.measured.completed,
        "{}",
        dep.wasted_work_ns
    );
}

#[test]
fn honoring_deadlines_drops_abandoned_work() {
    // With one worker at dep and 30 ms of work per request at 100 requests per second, the queue
    // grows without bound; callers give up after 100 ms.
    let call = r#"Call(to: "dep", timeout: "100ms")"#;
    let dep = |settings: &str| {
        run_text(&pair(call, "30ms", "").replace(
            r#"(name: "dep", workers: 1000, queue: "unbounded","#,
            &format!(r#"(name: "dep", workers: 1, queue: "unbounded", {settings}"#),
        ))
    };
    let ignoring = dep("");
    let honoring = dep("honor_deadlines: true,");
    let lifo = dep("honor_deadlines: true, shed: (lifo_over: 5),");
    let (i, h, l) = (
        &ignoring.services[1],
        &honoring.services[1],
        &lifo.services[1],
    );
    // Ignoring deadlines, nearly all of dep's work is for callers that have left.
    assert!(i.wasted_work_ns > 15_000_000_000, "{}", i.wasted_work_ns);
    assert_eq!(ignoring.edges[0].ok, 0);
    // Honouring them, dep drops what has expired and stops work at the deadline; but serving the
    // oldest first, it always starts on requests about to expire: nearly all work is still lost.
    assert!(h.measured.shed > 0 && i.measured.shed == 0);
    assert!(
        h.wasted_work_ns as f64 > 0.8 * i.wasted_work_ns as f64,
        "{} vs {}",
        h.wasted_work_ns,
        i.wasted_work_ns
    );
    // Newest first under overload (adaptive LIFO), fresh requests meet their deadlines: most
    // work is useful, and a third of the calls succeed (the capacity, 33 of 100 per second).
    assert!(
        l.wasted_work_ns < i.wasted_work_ns / 5,
        "{} vs {}",
        l.wasted_work_ns,
        i.wasted_work_ns
    );
    let e = &lifo.edges[0];
    assert!(e.ok as f64 > 0.3 * e.calls as f64, "{e:?}");
}

#[test]
fn a_semaphore_bulkhead_caps_concurrent_calls() {
    // One call every 10 ms, each in flight 100 ms, at most 2 at once: 2 of every 10 pass.
    let r = run_text(&pair(
        r#"Call(to: "dep", bulkhead: Semaphore(max_concurrent: 2), fallback: Degrade("cached"))"#,
        "100ms",
        "",
    ));
    let e = &r.edges[0];
    let passed = e.ok as f64 / e.calls as f64;
    assert!((passed - 0.2).abs() < 0.01, "{e:?}");
    assert_eq!(e.bulkhead_rejected, e.degraded);
    assert_eq!(
        r.services[0].measured.degraded, e.degraded,
        "each refused call is answered degraded"
    );
    // Waiting up to 100 ms for a permit, every call eventually gets one... until the wait queue
    // outgrows the wait: with 2 permits freed per 100 ms and 10 calls arriving, most still time out.
    let waiting = run_text(&pair(
        r#"Call(to: "dep", bulkhead: Semaphore(max_concurrent: 2, max_wait: "100ms"))"#,
        "100ms",
        "",
    ));
    let w = &waiting.edges[0];
    assert!(
        w.bulkhead_rejected > 0 && w.ok + 15 >= e.ok,
        "{w:?} vs {e:?}"
    );
}

#[test]
fn load_shedding_drops_requests_that_waited_too_long() {
    let text = pair(r#"Call(to: "dep")"#, "30ms", "").replace(
        r#"(name: "dep", workers: 1000, queue: "unbounded","#,
        r#"(name: "dep", workers: 1, queue: "unbounded", shed: (max_wait: "50ms"),"#,
    );
    let r = run_text(&text);
    let dep = &r.services[1];
    assert!(dep.measured.shed > 0, "{:?}", dep.measured);
    // Whatever is served waited at most 50 ms: latency at most 50 ms wait + 30 ms work.
    assert!(dep.latency.max_ns <= 80_000_000, "{:?}", dep.latency);
}

#[test]
fn injected_errors_are_retried_and_fall_back() {
    let r = run_text(&pair(
        r#"Call(to: "dep", retry: (attempts: 2, backoff: Constant("0ms"), jitter: None), fallback: Degrade("default"))"#,
        "1ms",
        r#"faults: [(at: "0s", what: Errors(service: "dep", rate: 0.5))],"#,
    ));
    let e = &r.edges[0];
    // Each attempt fails with probability 1/2: calls fail for good with probability 1/4.
    let degraded = e.degraded as f64 / e.calls as f64;
    let sd = (0.25 * 0.75 / e.calls as f64).sqrt();
    assert!(
        (degraded - 0.25).abs() < 4.0 * sd,
        "{degraded} vs 0.25 ± {}",
        4.0 * sd
    );
    assert_eq!(
        e.retries,
        e.errors - e.degraded,
        "every error but the last of a call is retried"
    );
    assert_eq!(r.services[0].measured.failed, 0);
}

#[test]
fn breaker_opens_on_failures_and_closes_after_recovery() {
    let r = run_variant("scenarios/defences/circuit-breaker.ron", "breaker");
    let t = &r.edges[0].breaker_transitions;
    for instance in 0..3 {
        let mine: Vec<(u64, &str, &str)> = t
            .iter()
            .filter(|x| x.instance == Some(instance))
            .map(|x| (x.t_ns, x.from.as_str(), x.to.as_str()))
            .collect();
        assert!(mine.len() >= 4, "instance {instance}: {mine:?}");
        // It opens only after payments starts hanging at 60 s ...
        assert_eq!((mine[0].1, mine[0].2), ("closed", "open"));
        assert!(mine[0].0 > 60_000_000_000);
        // ... alternates open -> half-open -> (open | closed) ...
        for w in mine.windows(2) {
            assert_eq!(w[0].2, w[1].1, "transitions chain: {mine:?}");
        }
        // ... and ends closed, after payments recovered at 90 s, ten seconds or so after.
        let last = mine.last().unwrap();
        assert_eq!((last.1, last.2), ("half_open", "closed"));
        assert!(
            last.0 > 90_000_000_000 && last.0 < 105_000_000_000,
            "{mine:?}"
        );
    }
    let e = &r.edges[0];
    assert!(e.breaker_rejected > 1000 && e.timeouts < 500, "{e:?}");
}

#[test]
fn a_retry_budget_caps_amplification() {
    let storm = run_variant("scenarios/defences/retry-storm.ron", "storm");
    let cured = run_variant("scenarios/defences/retry-storm.ron", "cured");
    let (s, c) = (&storm.edges[0], &cured.edges[0]);
    assert!(s.amplification > 2.0, "the storm amplifies: {s:?}");
    // Budget: retries at most 10% of calls plus 10 per second over the measured window.
    let measured_s = cured.measured_ns as f64 / 1e9;
    assert!(
        c.retries as f64 <= 0.1 * c.calls as f64 + 10.0 * (measured_s + 10.0),
        "{c:?}"
    );
    assert!(c.amplification < 1.15, "{c:?}");
    // The storm's db works mostly for callers that have left.
    assert!(storm.services[1].wasted_work_ns > 10 * cured.services[1].wasted_work_ns.max(1));
}

#[test]
fn hedging_cuts_the_tail() {
    // A dependency with a heavy tail: 1% of answers take 200 ms. A hedge after 20 ms sends a
    // second attempt for those, which is usually fast.
    let base = pair(r#"Call(to: "dep")"#, "1ms", "").replace(
        r#"work: Constant("1ms")"#,
        r#"work: Empirical([(0.0, "1ms"), (0.99, "3ms"), (0.9901, "200ms"), (1.0, "200ms")])"#,
    );
    let hedged = base.replace(
        r#"Call(to: "dep")"#,
        r#"Call(to: "dep", hedge: (after: "20ms"))"#,
    );
    let (plain, with) = (run_text(&base), run_text(&hedged));
    let p999 = |r: &RunResult| r.services[0].latency.p999_ns;
    assert!(p999(&plain) >= 200_000_000, "{}", p999(&plain));
    assert!(p999(&with) < 30_000_000, "hedged p99.9 {}", p999(&with));
    let e = &with.edges[0];
    // About 1% of calls hedge.
    assert!(
        e.hedges > 0 && (e.hedges as f64) < 0.03 * e.calls as f64,
        "{e:?}"
    );
    assert_eq!(e.ok, e.calls - (e.calls - e.ok), "every call answered once");
    assert_eq!(with.services[0].measured.failed, 0);
    // Hedging at the observed 95th percentile (learned from the answers) does the same without a
    // hand-picked delay: the p95 here is about 3 ms.
    let learned = run_text(&base.replace(
        r#"Call(to: "dep")"#,
        r#"Call(to: "dep", hedge: (percentile: 95.0))"#,
    ));
    assert!(
        p999(&learned) < 30_000_000,
        "hedged at p95: p99.9 {}",
        p999(&learned)
    );
    let e = &learned.edges[0];
    assert!(
        e.hedges as f64 > 0.02 * e.calls as f64 && (e.hedges as f64) < 0.1 * e.calls as f64,
        "{e:?}"
    );
}

#[test]
fn adaptive_throttling_refuses_calls_to_a_dependency_that_keeps_failing() {
    let failing = |throttle: &str| {
        run_text(&pair(
            &format!(r#"Call(to: "dep", fallback: Degrade("later"){throttle})"#),
            "1ms",
            r#"faults: [(at: "0s", what: Errors(service: "dep", rate: 1.0))],"#,
        ))
    };
    let open = failing("");
    let throttled = failing(r#", throttle: Adaptive(k: 2, window: "10s")"#);
    // Without throttling every call reaches the failing dependency; with it, most are refused
    // locally (accepts are zero, so the refusal probability tends to requests / (requests + 1)).
    assert_eq!(open.edges[0].throttled, 0);
    let t = &throttled.edges[0];
    assert!(t.throttled as f64 > 0.9 * t.calls as f64, "{t:?}");
    assert!(throttled.services[1].measured.arrived < open.services[1].measured.arrived / 10);
}

#[test]
fn an_aimd_limit_sheds_when_latency_grows() {
    // One worker, 12 ms of work, 100 requests per second: overloaded. An AIMD limit that backs off
    // when latency exceeds 50 ms keeps the queue short and the latency of what it serves low,
    // at the price of some idle time (the limit probes downwards, then climbs by one at a time).
    let text = pair(r#"Call(to: "dep")"#, "12ms", "").replace(
        r#"(name: "dep", workers: 1000, queue: "unbounded","#,
        r#"(name: "dep", workers: 1, queue: "unbounded", concurrency_limit: Aimd(initial: 10, min: 1, max: 50, latency_over: "50ms"),"#,
    );
    let r = run_text(&text);
    let dep = &r.services[1];
    assert!(dep.measured.shed > 0, "{:?}", dep.measured);
    assert!(dep.latency.p99_ns < 150_000_000, "{:?}", dep.latency);
    assert!(
        dep.utilization > 0.5,
        "still busy serving: {}",
        dep.utilization
    );
}

#[test]
fn clients_honour_retry_after() {
    // Two short spikes (200 requests in 0.2 s each) against a per-client limit of 100 per second.
    // Clients retry 429s up to 20 times with no backoff of their own. Honouring Retry-After, a
    // retry comes back when a token is free and some get through; retrying at once, all twenty
    // attempts meet the same empty bucket.
    let scenario = |honor: bool| {
        format!(
            r#"Scenario(
    name: "retry-after", horizon: "20s", warmup: "1s",
    services: [(name: "api", workers: 100, work: Constant("1ms"),
                rate_limit: (per_client: (rate_per_s: 100, burst: 5)))],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 20),
                schedule: [Step(to_per_s: 1000, at: "5s"), Step(to_per_s: 20, at: "5.2s"),
                           Step(to_per_s: 1000, at: "12s"), Step(to_per_s: 20, at: "12.2s")],
                retry: (attempts: 20, on: [RateLimited], backoff: Constant("0ms"), jitter: None, honor_retry_after: {honor}))],
)"#
        )
    };
    let (honoring, eager) = (run_text(&scenario(true)), run_text(&scenario(false)));
    let ok = |r: &RunResult| r.workloads[0].measured.completed;
    assert!(
        ok(&honoring) > ok(&eager) + 20,
        "{} vs {}",
        ok(&honoring),
        ok(&eager)
    );
    assert!(honoring.workloads[0].retries > 0 && eager.workloads[0].retries > 0);
    // The service counts every attempt; the workload counts each user request once.
    let (svc, wl) = (
        &honoring.services[0].measured,
        &honoring.workloads[0].measured,
    );
    assert!(svc.arrived > wl.arrived, "{svc:?} {wl:?}");
    assert_eq!(
        wl.completed, svc.completed,
        "one completion per user request"
    );
}

#[test]
fn guards_refuse_what_would_not_fit_and_cut_runs_that_take_too_long() {
    // Memory: a fine resolution over a long horizon with a huge in-flight guard is refused before
    // anything runs, with the estimate and what to change.
    let huge = r#"Scenario(name: "m", horizon: "1h", resolution: "100ms",
        limits: (requests_in_flight_max: 100000000, memory_mib_max: 1000),
        services: [(name: "a", work: Constant("1ms"))], workload: [(entry: "a", arrivals: Poisson(rate_per_s: 1))])"#;
    let e = models::load_str("huge.ron", huge).unwrap_err().to_string();
    assert!(
        e.contains("may need about") && e.contains("`limits.memory_mib_max` (1000)"),
        "{e}"
    );
    // Wall clock: a run of an hour of simulated traffic with a 1 ms wall-clock budget stops at
    // the first tick past its budget, and says so.
    let long = r#"Scenario(name: "w", horizon: "1h", limits: (wall_time_max: "1ms"),
        services: [(name: "a", workers: 10, work: Exponential(mean: "1ms"))],
        workload: [(entry: "a", arrivals: Poisson(rate_per_s: 2000))])"#;
    let world = models::load_str("long.ron", long).unwrap();
    let (r, _) = faultline::run_guarded(&world, 1, 0).unwrap();
    assert_eq!(r.stop, "wall_time_max");
    assert!(r.measured_ns < 3_600_000_000_000);
    assert!(r.services[0].ledger.balanced());
}

/// A `Parallel` step of 1,000 calls (past the one 64-bit word of the mask): every call of every
/// request is made, the request finishes when the last answers, and the calls made with a
/// probability are drawn on the right edges; 1,025 calls are refused with the limit.
#[test]
fn a_parallel_step_fans_out_to_a_thousand_leaves() {
    let calls: Vec<String> = (0..1000)
        .map(|k| {
            let p = if k == 999 { ", probability: 0.0" } else { "" };
            format!(r#"Call(to: "leaf"{p})"#)
        })
        .collect();
    let text = |calls: &[String]| {
        format!(
            r#"Scenario(
    name: "fan-out", horizon: "2s",
    services: [
        (name: "root", workers: 100, queue: "unbounded", work: Constant("0"), calls: [Parallel([{}])]),
        (name: "leaf", workers: 10000, queue: "unbounded", work: Constant("1ms")),
    ],
    workload: [(entry: "root", arrivals: Constant(rate_per_s: 10))],
)"#,
            calls.join(", ")
        )
    };
    let r = run_text(&text(&calls));
    let root = &r.services[0].measured;
    assert!(root.arrived >= 19 && root.completed + root.in_flight == root.arrived);
    assert_eq!(r.edges.len(), 1000);
    for (k, e) in r.edges.iter().enumerate() {
        let expected = if k == 999 { 0 } else { root.arrived };
        assert_eq!(e.calls, expected, "edge {k}");
    }
    let leaf = &r.services[1].measured;
    assert_eq!(leaf.arrived, 999 * root.arrived);
    let mut too_many = calls.clone();
    too_many.extend((0..25).map(|_| r#"Call(to: "leaf")"#.to_string()));
    let err = models::load_str("inline.ron", &text(&too_many)).expect_err("1,025 calls");
    let limit =
        "a step makes at most 1024 calls at once (`Parallel` and `fan_out` together), not 1025";
    assert!(err.to_string().contains(limit), "{err}");
    // `fan_out` makes the same step: 999 calls made, one call of probability 0 beside them.
    let fanned = [
        r#"Call(to: "leaf", fan_out: 999)"#.to_string(),
        r#"Call(to: "leaf", probability: 0.0)"#.to_string(),
    ];
    let f = run_text(&text(&fanned));
    assert_eq!(f.digest, r.digest, "the same calls, the same run");
    let err = models::load_str(
        "inline.ron",
        &text(&[r#"Call(to: "leaf", fan_out: 0)"#.into()]),
    );
    let err = err.expect_err("no copies").to_string();
    assert!(err.contains("`fan_out` is from 1 to 1024, not 0"), "{err}");
    let over = [
        r#"Call(to: "leaf", fan_out: 1000)"#.to_string(),
        calls[0].clone(),
        calls[0].clone(),
    ];
    models::load_str("inline.ron", &text(&over)).expect("1,002 calls are allowed");
    let over = [
        r#"Call(to: "leaf", fan_out: 1024)"#.to_string(),
        calls[0].clone(),
    ];
    let err = models::load_str("inline.ron", &text(&over)).expect_err("1,025 calls");
    assert!(err.to_string().contains(limit), "{err}");
}

/// Envoy's retry budget caps the retries in progress, not their rate: every call to a failing
/// dependency fails; each attempt takes 10 ms and each retry waits 40 ms, so without a budget
/// about 100/s × 2 retries × 50 ms ≈ 10 retries are in progress at once; with
/// `min_retry_concurrency: 2` and a share of requests in flight too small to matter, never
/// more than 2, and the rest are denied. Without a retry nothing is ever in progress.
#[test]
fn envoys_retry_budget_caps_retries_in_progress() {
    let run = |budget: &str| {
        let call = format!(
            r#"Call(to: "dep", retry: (attempts: 3, on: [Error], backoff: Constant("40ms"), jitter: None{budget}))"#
        );
        let r = run_text(&pair(
            &call,
            "10ms",
            r#"faults: [(at: "0s", what: Errors(service: "dep", rate: 1.0))],"#,
        ));
        r.edges[0].clone()
    };
    let free = run("");
    assert!(free.retries_active_max >= 10, "{free:?}");
    assert!((free.retries_active_mean - 10.0).abs() < 1.0, "{free:?}");
    assert_eq!(free.retries_denied, 0);
    let capped = run(", budget: (budget_percent: 20.0, min_retry_concurrency: 2)");
    assert_eq!(capped.retries_active_max, 2, "{capped:?}");
    assert!(capped.retries_active_mean <= 2.0 && capped.retries_active_mean > 1.5);
    assert!(capped.retries_denied > capped.retries, "{capped:?}");
    let none = run_text(&pair(r#"Call(to: "dep")"#, "10ms", "")).edges[0].clone();
    assert_eq!(
        (none.retries_active_max, none.retries_active_mean),
        (0, 0.0)
    );
}

/// Refusals cost the server `reject_work`: a rate limit of 50/s against 100 requests a second
/// refuses every other one; each refusal owes 2 ms of worker time, paid by the next request to
/// start, so every request served works 6 + 2 ms instead of 6, and the worker is busy 40% of
/// the time instead of 30%. Without `reject_work`, refusals are free.
#[test]
fn refusals_cost_the_server_its_reject_work() {
    let run = |reject: &str| {
        let text = format!(
            r#"Scenario(
    name: "no", horizon: "10s", warmup: "1s",
    services: [(name: "api", workers: 1, queue: "none", work: Constant("6ms"){reject},
                rate_limit: (global: (rate_per_s: 50, burst: 1)))],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 100))],
)"#
        );
        run_text(&text).services[0].clone()
    };
    let free = run("");
    let costly = run(r#", reject_work: Constant("2ms")"#);
    for (svc, work_ms) in [(&free, 6), (&costly, 8)] {
        let m = &svc.measured;
        assert_eq!((m.completed, m.rate_limited), (450, 451), "{m:?}");
        assert_eq!(svc.latency.max_ns, work_ms * 1_000_000);
        let busy = 50.0 * work_ms as f64 / 1000.0;
        assert!(
            (svc.utilization - busy).abs() < 0.005,
            "{}",
            svc.utilization
        );
    }
}

/// Clients retry their own timeouts like a caller: the entry always takes 50 ms and the client
/// waits 20 ms per attempt, retrying timeouts three times in all after 5 ms each: every user
/// request fails after three attempts, each attempt reaches the service (and runs on
/// unwatched), and the user is counted once. A budget on the clients' retries holds: Finagle's
/// with no ratio and no reserve grants none; Envoy's with `min_retry_concurrency: 1` lets one
/// retry be in progress at a time.
#[test]
fn clients_retry_their_own_timeouts_within_their_budget() {
    let run = |budget: &str| {
        let text = format!(
            r#"Scenario(
    name: "impatient", horizon: "10s", warmup: "1s",
    services: [(name: "api", workers: 100, queue: "unbounded", work: Constant("50ms"))],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 100), timeout: "20ms",
                retry: (attempts: 3, on: [Timeout], backoff: Constant("5ms"), jitter: None{budget}))],
)"#
        );
        run_text(&text)
    };
    let r = run("");
    let (users, api) = (&r.workloads[0], &r.services[0].measured);
    let m = &users.measured;
    assert!(
        m.arrived >= 899 && m.failed + m.in_flight == m.arrived,
        "{m:?}"
    );
    assert_eq!(users.timeouts, m.failed);
    let r_max = 2 * m.arrived;
    assert!(
        users.retries >= 2 * m.failed && users.retries <= r_max,
        "{users:?}"
    );
    assert!(
        api.arrived >= 3 * m.failed && api.arrived <= 3 * m.arrived,
        "{api:?}"
    );
    let none = run(", budget: (ratio: 0.0, min_per_s: 0.0)");
    let u = &none.workloads[0];
    assert_eq!(u.retries, 0, "{u:?}");
    let m = &u.measured;
    assert!(u.retries_denied + m.in_flight >= m.arrived && u.retries_denied <= m.arrived);
    let one = run(", budget: (budget_percent: 0.0, min_retry_concurrency: 1)");
    let u = &one.workloads[0];
    // A retry is in progress for 25 ms (its backoff and its attempt), one at a time: at most
    // 40 a second over the 9 measured seconds (and a few from the warm-up), far from the 200 a
    // second the clients ask for.
    assert!(u.retries > 200 && u.retries <= 9 * 40 + 2, "{u:?}");
    assert!(u.retries_denied > 2 * u.retries, "{u:?}");
}
