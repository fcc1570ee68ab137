//! Keys and caches: hit ratios against theory, exact counts of coalesced fetches, keys homed by
//! hashing, and caches that come back empty.

use crate::repo_path;
use models::results::{CacheResult, RunResult};

fn cache_of<'r>(r: &'r RunResult, service: &str) -> &'r CacheResult {
    let s = r.services.iter().find(|s| s.name == service).unwrap();
    s.cache.as_ref().expect("a cache service")
}

fn service<'r>(r: &'r RunResult, name: &str) -> &'r models::results::ServiceResult {
    r.services.iter().find(|s| s.name == name).unwrap()
}

/// Che's approximation of an LRU cache's hit ratio under the independent reference model
/// (Che, Tung and Wang 2002): the characteristic time `T` solves `Σ (1 − e^(−p_i T)) = C`, and
/// the hit ratio is `Σ p_i (1 − e^(−p_i T))`.
fn che(p: &[f64], capacity: f64) -> f64 {
    let filled = |t: f64| p.iter().map(|&q| 1.0 - (-q * t).exp()).sum::<f64>();
    let (mut lo, mut hi) = (0.0, 1.0);
    while filled(hi) < capacity {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if filled(mid) < capacity {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    p.iter().map(|&q| q * (1.0 - (-q * lo).exp())).sum()
}

fn zipf(n: usize, s: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let z: f64 = w.iter().sum();
    w.into_iter().map(|x| x / z).collect()
}

/// The catalog's `lru-zipf` states Che's values as its bounds (± 1 point): they are derived
/// here, not typed, and the simulated hit ratio of one run lies within half a point of them.
#[test]
fn lru_hit_ratios_agree_with_che_and_the_uniform_exact_value() {
    let path = repo_path("scenarios/state/lru-zipf.ron");
    let loaded = faultline::load_study(&path).unwrap();
    let expected = [
        ("zipf-0.8", che(&zipf(100_000, 0.8), 1000.0)),
        ("zipf-1.0", che(&zipf(100_000, 1.0), 1000.0)),
        ("uniform", 1000.0 / 5000.0),
    ];
    for (variant, theory) in expected {
        let bounds: Vec<(f64, f64)> = loaded
            .study
            .spec
            .expect
            .iter()
            .filter_map(|e| e.threshold())
            .filter(|t| t.variant == Some(variant))
            .map(|t| (t.at_least.unwrap(), t.at_most.unwrap()))
            .collect();
        assert_eq!(bounds.len(), 1, "{variant}");
        let (lo, hi) = bounds[0];
        assert!(
            (lo - (theory - 0.01)).abs() < 1e-4 && (hi - (theory + 0.01)).abs() < 1e-4,
            "{variant}: the file's bounds [{lo}, {hi}] are not {theory:.4} ± 0.01"
        );
        let r = faultline::run_variant(&path, Some(variant), None, 0).unwrap();
        let ratio = cache_of(&r, "cache").hit_ratio().unwrap();
        assert!(
            (ratio - theory).abs() < 0.005,
            "{variant}: hit ratio {ratio:.4}, theory {theory:.4}"
        );
    }
}

/// One key asked for every millisecond, a fetch of 100 ms: without coalescing the 100 requests
/// that arrive while the first fetch is out all fetch; with it, one fetch serves them all.
#[test]
fn coalescing_makes_one_fetch_of_a_key_where_there_were_a_hundred() {
    let path = repo_path("tests/data/cache-coalesce.ron");
    let plain = faultline::run_variant(&path, Some("plain"), None, 0).unwrap();
    let c = cache_of(&plain, "cache");
    assert_eq!(
        (c.lookups, c.hits, c.misses, c.coalesced),
        (10_000, 9_900, 100, 0)
    );
    assert_eq!(c.fills, 100, "every fetch fills");
    assert_eq!(service(&plain, "db").measured.arrived, 100);

    let one = faultline::run_variant(&path, Some("coalesced"), None, 0).unwrap();
    let c = cache_of(&one, "cache");
    assert_eq!(
        (c.lookups, c.hits, c.misses, c.coalesced),
        (10_000, 9_900, 100, 99)
    );
    assert_eq!(c.fills, 1);
    assert_eq!(service(&one, "db").measured.arrived, 1);
    // The followers answered when the one fetch did: every request succeeded.
    assert_eq!(service(&one, "cache").measured.completed, 10_000);
    assert!(service(&one, "cache").ledger.balanced());

    // With a TTL of 1 s, each expiry costs another round: 100 fetches at each (every
    // 1.1 s: 9 expiries in 10 s), one fetch each when coalesced.
    let ttl = faultline::run_variant(&path, Some("ttl-coalesced"), None, 0).unwrap();
    let c = cache_of(&ttl, "cache");
    assert_eq!((c.expired, c.misses, c.coalesced), (9, 1000, 990));
    assert_eq!(service(&ttl, "db").measured.arrived, 10);
}

/// Balanced by key, each key lives in one instance's cache; balanced at random, every instance
/// ends up holding every key.
#[test]
fn key_hashing_keeps_one_copy_of_each_key() {
    let path = repo_path("tests/data/cache-keyhash.ron");
    let hashed = faultline::run_variant(&path, Some("key-hash"), None, 0).unwrap();
    let random = faultline::run_variant(&path, Some("random"), None, 0).unwrap();
    assert_eq!(cache_of(&hashed, "cache").keys_held, 1_000);
    assert_eq!(cache_of(&random, "cache").keys_held, 4_000);
    assert!(
        cache_of(&hashed, "cache").hit_ratio() > cache_of(&random, "cache").hit_ratio(),
        "one copy per key wastes no capacity"
    );
}

/// A crashed instance comes back with an empty cache: its keys are fetched again, and the
/// lookups just after the restart miss far more often than before the crash.
#[test]
fn a_restarted_instance_starts_with_an_empty_cache() {
    let path = repo_path("tests/data/cache-keyhash.ron");
    let r = faultline::run_variant(&path, Some("crash"), None, 0).unwrap();
    let c = cache_of(&r, "cache");
    // The series are of 1 s buckets; the crash is at 20 s, for 5 s.
    let ratio = |b: usize| c.series_hits[b] as f64 / c.series_lookups[b] as f64;
    assert!(ratio(19) > 0.99, "warm before the crash: {}", ratio(19));
    assert!(
        ratio(25) < ratio(19) - 0.1,
        "cold after: {} vs {}",
        ratio(25),
        ratio(19)
    );
    assert!(ratio(40) > 0.99, "warm again: {}", ratio(40));
}

/// A scan of keys asked once, beside a hot set: admitted on every miss, the scan evicts the
/// hot keys (27% of lookups hit); admitted on a second miss only, it passes through and the hot
/// set stays (37%), with a hundredth of the evictions.
#[test]
fn a_doorkeeper_keeps_a_scan_from_evicting_the_hot_set() {
    let path = repo_path("tests/data/cache-admission.ron");
    let run = |v: &str| faultline::run_variant(&path, Some(v), None, 0).unwrap();
    let (always, doorkeeper) = (run("always"), run("second-miss"));
    let (a, d) = (cache_of(&always, "cache"), cache_of(&doorkeeper, "cache"));
    assert!(
        d.hit_ratio().unwrap() > a.hit_ratio().unwrap() + 0.05,
        "{:?} vs {:?}",
        d.hit_ratio(),
        a.hit_ratio()
    );
    assert!(
        d.evictions * 20 < a.evictions,
        "{} vs {}",
        d.evictions,
        a.evictions
    );
}

/// A cache no keyed request reaches, and a conditional write without a key, do nothing: the
/// scenario loads, with a warning for each (keys travel along calls, so a keyed workload two
/// services up counts).
#[test]
fn keyless_caches_and_conditional_writes_are_warned_of() {
    let text = |keys: &str| {
        format!(
            "Scenario(name: \"k\", horizon: \"1s\", services: [
                (name: \"web\", work: Constant(\"1ms\"), calls: [Call(to: \"cache\"), Call(to: \"db\", op: CompareAndSet)]),
                (name: \"cache\", work: Constant(\"1ms\"), cache: (capacity: 10, fronts: \"db\"), calls: [Call(to: \"db\")]),
                (name: \"db\", work: Constant(\"1ms\"), datastore: (replication: Async))],
             workload: [(entry: \"web\", arrivals: Poisson(rate_per_s: 10){keys})])"
        )
    };
    let warnings = |keys: &str| {
        models::load_str("k.ron", &text(keys))
            .unwrap()
            .warnings
            .to_string()
    };
    let none = warnings("");
    assert!(none.contains("the cache is never looked up"), "{none}");
    assert!(none.contains("it is a plain write"), "{none}");
    let keyed = warnings(", keys: Uniform(n: 10)");
    assert!(
        !keyed.contains("never looked up") && !keyed.contains("plain write"),
        "{keyed}"
    );
}
