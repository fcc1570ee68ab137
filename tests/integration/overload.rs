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
        } else {
            assert!(killed.is_empty(), "{name}: {killed:?}");
        }
    }
}
