//! `faultline plan`: load, capacity, utilization and retry amplification worked out from the file,
//! checked against hand-computed values; every catalog scenario plans.

use crate::cli::faultline;
use crate::repo_path;

/// Worked by hand. Users: 100/s from 10 s (the warm-up) to 40 s, 300/s to 70 s: 200/s on average
/// over the measured minute, 300/s at the peak; their clients try twice. `web` (2 × 10 workers,
/// 5 ms: 4,000/s) calls `api` with probability 0.5 and a fan-out of 2 (one call per request on
/// average) with 3 attempts, and `cache` (1 × 1 worker, 5 ms: 200/s) always. `api` (1 × 4
/// workers, 10 ms mean: 400/s) calls `db` (1 × 2 workers, uniform 2-4 ms: 3 ms mean, 666.7/s)
/// with 2 attempts under a 10% budget: 1.1 attempts at worst.
const HAND: &str = r#"Scenario(
    name: "hand",
    horizon: "70s",
    warmup: "10s",
    services: [
        (name: "web", instances: 2, workers: 10, work: Constant("5ms"),
         calls: [Call(to: "api", probability: 0.5, fan_out: 2, timeout: "300ms",
                      retry: (attempts: 3, backoff: Constant("50ms"), jitter: None)),
                 Call(to: "cache")]),
        (name: "api", workers: 4, work: Exponential(mean: "10ms"),
         calls: [Call(to: "db", timeout: "200ms",
                      retry: (attempts: 2, backoff: Exponential(base: "10ms", cap: "100ms"), jitter: Full, budget: (ratio: 0.1)))]),
        (name: "cache", workers: 1, work: Constant("5ms")),
        (name: "db", workers: 2, work: Uniform(min: "2ms", max: "4ms")),
    ],
    workload: [(entry: "web", arrivals: Poisson(rate_per_s: 100), schedule: [Step(to_per_s: 300, at: "40s")],
                timeout: "1s", retry: (attempts: 2, jitter: Full))],
)"#;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

#[test]
fn plan_numbers_match_a_hand_computation() {
    let world = models::load_str("hand.ron", HAND).unwrap();
    let plan = models::plan::plan(&world, Some(HAND), models::plan::UTILIZATION_WARN);
    let row = |n: &str| plan.rows.iter().find(|r| r.name == n).unwrap();
    // (capacity, offered, peak, worst) per service.
    for (name, capacity, offered, peak, worst) in [
        ("web", 4000.0, 200.0, 300.0, 600.0),
        ("api", 400.0, 200.0, 300.0, 1800.0),
        ("cache", 200.0, 200.0, 300.0, 600.0),
        ("db", 2000.0 / 3.0, 200.0, 300.0, 1980.0),
    ] {
        let r = row(name);
        assert!(close(r.capacity_per_s, capacity), "{name}: {r:?}");
        assert!(close(r.offered_per_s, offered), "{name}: {r:?}");
        assert!(close(r.peak_per_s, peak), "{name}: {r:?}");
        assert!(close(r.worst_per_s, worst), "{name}: {r:?}");
    }
    assert!(close(row("api").utilization(), 0.75));
    assert!(close(row("cache").utilization(), 1.5));
    let paths: Vec<(String, f64)> = plan
        .paths
        .iter()
        .map(|p| (p.hops.join(" "), p.amplification))
        .collect();
    for (hops, amp) in [
        ("users:web web", 2.0),
        ("users:web web api", 6.0),
        ("users:web web api db", 6.6),
        ("users:web web cache", 2.0),
    ] {
        assert!(
            paths.iter().any(|(h, a)| h == hops && close(*a, amp)),
            "{hops} {amp}: {paths:?}"
        );
    }
    // Three warnings, each where the file says what causes it: `cache` unstable; the db call's
    // 2 × 200 ms + 10 ms longer than api's 300 ms; web's retries into api (2 instances × 2
    // copies = 4 callers) without jitter or budget. `api` at 0.75 is under the threshold, and
    // web's 3 × 300 ms + 2 × 50 ms is exactly the users' 1 s: no inversion.
    let text: Vec<String> = plan
        .warnings
        .iter()
        .map(|w| {
            format!(
                "{:?} {}: {}",
                w.position,
                w.path.as_deref().unwrap_or(""),
                w.message
            )
        })
        .collect();
    assert_eq!(plan.warnings.len(), 3, "{text:#?}");
    assert!(text[0].contains("Some((11, 18)) services.api.calls[0]: timeout inversion: 2 attempts of `200ms` and 10ms of backoff take up to 410ms, longer than the caller waits (`services.web.calls[0].timeout`: 300ms)"), "{text:#?}");
    assert!(text[1].contains("services.web.calls[0].retry: retries to `api` without jitter or a budget, and `api` has 4 callers"), "{text:#?}");
    assert!(text[2].contains("services.cache: expected utilization 1.50: 300 requests/s at the peak against a capacity of 200/s (instances 1 × workers 1 / mean work 5ms)"), "{text:#?}");
}

/// `plan` prints the table and the warnings and exits 0; `validate` prints the warnings on
/// stderr, as warnings, and exits 0.
#[test]
fn plan_and_validate_print_the_warnings() {
    let dir = std::env::temp_dir().join(format!("faultline-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hand.ron");
    std::fs::write(&file, HAND).unwrap();
    let path = file.to_str().unwrap();
    let out = faultline(&["plan", path]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cache            1        1     5.00ms"),
        "{text}"
    );
    assert!(
        text.contains("users:web -> web -> api -> db  6.60x"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{path}:11:18: warning in `services.api.calls[0]`: timeout inversion"
        )),
        "{text}"
    );
    let out = faultline(&["validate", path]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(": warning in ").count(), 3, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every catalog scenario plans without error, and every variant of it.
#[test]
fn every_catalog_scenario_plans() {
    let mut n = 0;
    for dir in [
        "scenarios",
        "scenarios/defences",
        "scenarios/failures",
        "scenarios/overload",
        "scenarios/queueing",
    ] {
        for entry in std::fs::read_dir(repo_path(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "ron") {
                continue;
            }
            let study = models::variants::load_study_file(&path).unwrap();
            let source = std::fs::read_to_string(&path).unwrap();
            for world in
                std::iter::once(&*study.base).chain(study.designs.iter().map(|d| &*d.world))
            {
                let plan = models::plan::plan(world, Some(&source), models::plan::UTILIZATION_WARN);
                assert_eq!(
                    plan.rows.len(),
                    world
                        .spec
                        .services
                        .iter()
                        .map(|s| 1 + s.pools.len())
                        .sum::<usize>()
                );
                assert!(
                    plan.rows
                        .iter()
                        .all(|r| r.capacity_per_s > 0.0 && r.offered_per_s.is_finite()),
                    "{}",
                    path.display()
                );
            }
            n += 1;
        }
    }
    assert!(n >= 20, "only {n} catalog scenarios");
}
