//! Overload that breaks things: instances that run out of memory, and the cascades that follow.

use crate::repo_path;
use models::results::LogKind;

/// One worker, one-second requests arriving every 10 ms from 10 ms on, memory for ten requests
/// ((120 MiB - 100 MiB) / 2 MiB): the eleventh arrival, at 110 ms, kills the instance, and the
/// ten it held fail with it. It restarts 10 s later and dies 100 ms after (ten more arrivals), then
/// waits 20 s (CrashLoopBackOff doubles), and so on; while it is down, requests are refused.
#[test]
fn an_instance_dies_at_exactly_the_request_count_its_memory_allows() {
    let r = faultline::run_file(&repo_path("tests/data/oom.ron"), None).unwrap();
    let ms = 1_000_000;
    let events: Vec<(u64, &str)> = r
        .log
        .iter()
        .map(|e| (e.t_ns / ms, e.kind.as_str()))
        .collect();
    let (kill, back) = (LogKind::OomKilled.name(), LogKind::Restarted.name());
    assert_eq!(
        events,
        [
            (110, kill),
            (10_110, back),
            (10_210, kill),
            (30_210, back),
            (30_310, kill)
        ]
    );
    let api = &r.services[0];
    assert_eq!(api.recovery.oom_kills, 3);
    // Eleven requests fail at each kill: the ten held and the one that did not fit.
    assert_eq!(api.measured.failed, 33);
    assert_eq!(
        api.measured.completed, 0,
        "no request of a second lives to finish"
    );
    assert!(api.ledger.balanced());
}

/// The death spiral emerges: one crash, and every instance of the spiral design is killed for
/// memory; none is in the designs that shed load or bound their queues.
#[test]
fn one_crash_spirals_into_every_instance_running_out_of_memory() {
    let path = repo_path("scenarios/overload/death-spiral.ron");
    for (name, spirals) in [("spiral", true), ("shed", false), ("bounded-queue", false)] {
        let r = faultline::run_variant(&path, Some(name), None, 0).unwrap();
        let api = &r.services[0];
        let killed: Vec<&str> = r
            .log
            .iter()
            .filter(|e| e.kind == LogKind::OomKilled.name())
            .map(|e| e.what.as_str())
            .collect();
        if spirals {
            for i in ["api/0", "api/1", "api/2"] {
                assert!(killed.contains(&i), "{name}: {i} never ran out of memory");
            }
            assert!(
                api.recovery.oom_kills >= 6,
                "{name}: {}",
                api.recovery.oom_kills
            );
            // A killed process leaves load balancing at once, without waiting for a probe.
            for kill in r.log.iter().filter(|e| e.kind == LogKind::OomKilled.name()) {
                assert!(
                    r.log.iter().any(|e| e.kind == LogKind::Unhealthy.name()
                        && e.what == kill.what
                        && e.t_ns == kill.t_ns),
                    "{name}: {} killed at {} ns stayed in load balancing",
                    kill.what,
                    kill.t_ns
                );
            }
        } else {
            assert!(killed.is_empty(), "{name}: {killed:?}");
        }
    }
}

/// The log of a run as (milliseconds, kind, what).
fn log_ms(r: &models::results::RunResult) -> Vec<(u64, String, String)> {
    r.log
        .iter()
        .map(|e| (e.t_ns / 1_000_000, e.kind.clone(), e.what.clone()))
        .collect()
}

/// One worker, 100 ms requests every 25 ms: the queue grows by 30 a second. The liveness probe
/// sent at 1 s through the queue waits behind some 30 requests, so it times out at 1.5 s and the
/// process is killed (`restart_after: 1`). It restarts 10 s later; the probe of 12 s again finds
/// 15 requests ahead and times out at 12.5 s; the next restart waits 20 s (CrashLoopBackOff), and
/// so on. The same probe answered apart from the requests, or by a pool of its own, never fails:
/// the instance is slow, not dead.
#[test]
fn a_probe_that_waits_in_the_queue_longer_than_its_timeout_fails() {
    let path = repo_path("tests/data/liveness.ron");
    let r = faultline::run_variant(&path, Some("queue"), None, 0).unwrap();
    let (fail, back) = (LogKind::LivenessFailed.name(), LogKind::Restarted.name());
    let expected: Vec<(u64, String, String)> = [
        (1_500, fail),
        (11_500, back),
        (12_500, fail),
        (32_500, back),
        (33_500, fail),
    ]
    .iter()
    .map(|&(t, k)| (t, k.to_string(), "api/0".to_string()))
    .collect();
    assert_eq!(log_ms(&r), expected);
    let api = &r.services[0];
    assert_eq!(api.recovery.liveness_restarts, 3);
    assert!(api.ledger.balanced());
    assert_eq!(
        api.ledger.arrived, 2_400,
        "probes are not requests: they are not counted"
    );
    for variant in ["apart", "admin-pool"] {
        let r = faultline::run_variant(&path, Some(variant), None, 0).unwrap();
        assert!(r.log.is_empty(), "{variant}: {:?}", log_ms(&r));
        let api = &r.services[0];
        assert_eq!(api.recovery.liveness_restarts, 0, "{variant}");
        assert_eq!(api.measured.completed, 599, "{variant}");
    }
}

/// A readiness probe through the queue fails the same way: the instance leaves load balancing
/// at 1.5 s, and is not restarted.
#[test]
fn a_readiness_probe_through_the_queue_fails_behind_the_requests() {
    let path = repo_path("tests/data/liveness.ron");
    let r = faultline::run_variant(&path, Some("readiness"), None, 0).unwrap();
    let unhealthy = LogKind::Unhealthy.name().to_string();
    assert_eq!(log_ms(&r), [(1_500, unhealthy, "api/0".to_string())]);
    assert_eq!(r.services[0].recovery.liveness_restarts, 0);
    assert!(r.services[0].ledger.balanced());
}

/// The restart storm emerges: in the design whose probes wait in the request queue, every
/// instance is restarted by its liveness probe, again and again, and the restarts go on a minute
/// after the surge is over; with a lane of their own, or readiness alone, none is.
#[test]
fn probes_through_the_busy_queue_restart_every_instance_long_after_the_surge() {
    let path = repo_path("scenarios/overload/liveness-storm.ron");
    let surge_over_ns = 120_000_000_000;
    for (name, storms) in [
        ("storm", true),
        ("admin-lane", false),
        ("readiness-only", false),
    ] {
        let r = faultline::run_variant(&path, Some(name), None, 0).unwrap();
        let kills: Vec<(u64, &str)> = r
            .log
            .iter()
            .filter(|e| e.kind == LogKind::LivenessFailed.name())
            .map(|e| (e.t_ns, e.what.as_str()))
            .collect();
        let api = &r.services[0];
        assert_eq!(api.recovery.liveness_restarts, kills.len() as u64);
        assert!(api.ledger.balanced(), "{name}");
        if !storms {
            assert!(kills.is_empty(), "{name}: {kills:?}");
            continue;
        }
        for i in ["api/0", "api/1", "api/2", "api/3"] {
            let n = kills.iter().filter(|k| k.1 == i).count();
            assert!(n >= 3, "{name}: {i} restarted {n} times: {kills:?}");
        }
        assert!(
            kills.iter().any(|k| k.0 > surge_over_ns + 60_000_000_000),
            "{name}: no restart a minute after the surge: {kills:?}"
        );
    }
}

/// Priority order of service: one worker, one-second requests, a critical one every 2 s among
/// sheddable ones every 0.5 s (2.5 times the capacity). Ordered by criticality, a critical
/// request waits only for the request in service (at most 1 s: 1.5 s from arrival to answer
/// here), none is refused, and each that finds the queue full drops a sheddable request (shed).
/// First come, first served, the same critical requests wait behind ten sheddable ones or are
/// refused with them.
#[test]
fn a_queue_ordered_by_criticality_serves_and_keeps_the_critical_first() {
    let path = repo_path("tests/data/criticality.ron");
    let run = |v: &str| faultline::run_variant(&path, Some(v), None, 0).unwrap();
    let ordered = run("by-criticality");
    let (high, low) = (&ordered.workloads[0], &ordered.workloads[1]);
    assert_eq!((high.measured.arrived, high.measured.completed), (30, 29));
    assert_eq!(high.measured.rejected + high.measured.shed, 0);
    assert_eq!(high.latency_all.max_ns, 1_500_000_000);
    assert_eq!(
        low.measured.shed, 27,
        "one sheddable request dropped per critical arrival into a full queue"
    );
    assert!(ordered.services[0].ledger.balanced());
    let fifo = run("fifo");
    let high = &fifo.workloads[0];
    assert!(high.measured.rejected > 20, "{:?}", high.measured);
    assert!(high.latency_all.max_ns > 5_000_000_000);
    assert_eq!(fifo.workloads[1].measured.shed, 0);
}

/// Criticality travels with a request along its calls: behind a front service, api still serves
/// the critical users' calls first (the numbers of the direct case), unless the call itself
/// says its requests are sheddable (then the critical users fare as first come, first served).
#[test]
fn criticality_travels_along_calls_unless_the_call_says_otherwise() {
    let path = repo_path("tests/data/criticality-calls.ron");
    let run = |v: &str| faultline::run_variant(&path, Some(v), None, 0).unwrap();
    let inherited = run("inherited");
    let high = &inherited.workloads[0];
    assert_eq!((high.measured.completed, high.measured.failed), (29, 0));
    assert_eq!(high.latency_all.max_ns, 1_500_000_000);
    let overridden = run("call-says-sheddable");
    let high = &overridden.workloads[0];
    assert_eq!((high.measured.completed, high.measured.failed), (3, 27));
}

/// Thread per request against an event loop under a dependency slowed 200-fold: the threads run
/// out (requests refused, none killed); the event loop refuses none and stays within memory; the
/// event loop without a timeout holds ever more requests until every instance is killed for
/// memory.
#[test]
fn an_event_loop_frees_its_workers_and_only_memory_bounds_it() {
    let path = repo_path("scenarios/overload/async-vs-threads.ron");
    let run = |v: &str| faultline::run_variant(&path, Some(v), None, 0).unwrap();
    let threads = run("threads");
    let front = &threads.services[0];
    assert!(front.measured.rejected > 20_000, "{:?}", front.measured);
    assert_eq!(front.recovery.oom_kills, 0);
    let async_ = run("async");
    let front = &async_.services[0];
    assert_eq!(front.measured.rejected + front.measured.failed, 0);
    assert_eq!(front.recovery.oom_kills, 0);
    assert!(
        front.utilization < 0.05,
        "only its own work keeps an event loop busy: {}",
        front.utilization
    );
    let unbounded = run("async-no-timeout");
    let killed: std::collections::BTreeSet<&str> = unbounded
        .log
        .iter()
        .filter(|e| e.kind == LogKind::OomKilled.name())
        .map(|e| e.what.as_str())
        .collect();
    assert_eq!(killed.len(), 4, "{killed:?}");
    for r in [&threads, &async_, &unbounded] {
        assert!(r.services.iter().all(|s| s.ledger.balanced()));
    }
}

/// A process killed by its liveness probe (1.1 s) is replaced (4 s) before its restart is due
/// (11.1 s), and the new process is killed in turn (5.1 s): each restart ends only the kill that
/// scheduled it, so none of them ends anything here (every killed process is replaced first), no
/// process comes back early, and the crash count never goes below zero (the run's audit).
#[test]
fn a_restart_ends_only_its_own_kill() {
    let r = faultline::run_file(&repo_path("tests/data/kill-replace.ron"), None).unwrap();
    let kinds = |k: &str| r.log.iter().filter(|e| e.kind == k).count();
    assert_eq!(kinds(LogKind::LivenessFailed.name()), 10);
    assert_eq!(kinds(LogKind::Replaced.name()), 10);
    assert_eq!(kinds(LogKind::Restarted.name()), 0, "{:?}", log_ms(&r));
    assert!(r.services[0].ledger.balanced());
}

/// Connections as a resource apart from workers: an async api with 10 connections, each request
/// holding one for the second its dependency takes, answers 10 a second (280 in 30 s, its first
/// second filling up) and refuses the rest, while its one worker is idle 99% of the time. With
/// sheddable requests allowed half of the connections, the critical ones (5 a second, 5
/// connections) are never refused and the sheddable ones are shed instead.
#[test]
fn connections_run_out_apart_from_workers_and_the_critical_keep_theirs() {
    let path = repo_path("tests/data/connections.ron");
    let run = |v: &str| faultline::run_variant(&path, Some(v), None, 0).unwrap();
    let plain = run("no-shares");
    let api = &plain.services[0];
    assert_eq!((api.measured.completed, api.measured.rejected), (280, 460));
    assert!(api.utilization < 0.02, "{}", api.utilization);
    assert!(
        plain.workloads[0].measured.rejected > 50,
        "critical requests refused with the rest"
    );
    let shares = run("shares");
    let (high, low) = (&shares.workloads[0], &shares.workloads[1]);
    assert_eq!(high.measured.rejected + high.measured.shed, 0);
    assert_eq!(high.measured.completed, 144);
    assert_eq!(low.measured.shed, 596);
    assert!(shares.services[0].ledger.balanced());
    // A rate limit of 10 a second with the same shares: the sheddable requests take only the
    // tokens above half the burst, so the critical ones (5 a second) always find one.
    let limited = run("rate-limited");
    let (high, low) = (&limited.workloads[0], &limited.workloads[1]);
    assert_eq!(high.measured.rate_limited, 0);
    assert_eq!(
        (low.measured.completed, low.measured.rate_limited),
        (150, 445)
    );
}

/// Garbage collection that grows with the heap: idle (100 MiB in use), each pause lasts 10 ms +
/// 100 × 1 ms, so a request that arrives as one starts waits 110 ms; busy (three 300 ms requests
/// held, 130 MiB), pauses last 140 ms and come every 0.7 s instead of every second, so there are
/// more of them (two events each).
#[test]
fn gc_pauses_grow_longer_and_closer_as_the_heap_fills() {
    let path = repo_path("tests/data/gc.ron");
    let run = |v: &str| faultline::run_variant(&path, Some(v), None, 0).unwrap();
    let max_ms = |r: &models::results::RunResult| r.services[0].latency.max_ns / 1_000_000;
    let (idle, no_gc) = (run("idle"), run("no-gc"));
    assert_eq!((max_ms(&idle), max_ms(&no_gc)), (111, 1));
    let (busy, busy_no_gc) = (run("busy"), run("busy-no-gc"));
    assert_eq!((max_ms(&busy), max_ms(&busy_no_gc)), (440, 300));
    let pauses = |with: &models::results::RunResult, without: &models::results::RunResult| {
        (with.events - without.events) / 2
    };
    let (idle_pauses, busy_pauses) = (pauses(&idle, &no_gc), pauses(&busy, &busy_no_gc));
    assert!(
        (18..=20).contains(&idle_pauses) && busy_pauses > idle_pauses * 2,
        "{idle_pauses} pauses idle, {busy_pauses} busy"
    );
}
