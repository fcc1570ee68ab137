//! Property tests over generated scenarios: random topologies of services with random defences,
//! faults and load, run for a short horizon. None may panic; every run must keep its ledger and
//! state invariants (checked inside every run) and replay to the same digest. And no text —
//! mutated catalog files included — may make loading panic.

use proptest::prelude::*;

/// A random call: target (a later service), and which defences it has.
#[derive(Debug, Clone)]
struct CallGen {
    to_offset: usize,
    timeout_ms: Option<u32>,
    retries: Option<(u32, bool)>,
    breaker: bool,
    bulkhead: Option<(u32, bool)>,
    fallback: bool,
    hedge_ms: Option<u32>,
    throttle: Option<bool>,
    probability: Option<f64>,
}

#[derive(Debug, Clone)]
struct ServiceGen {
    instances: u32,
    workers: u32,
    queue: Option<u32>,
    work_ms: u32,
    lognormal: bool,
    calls: Vec<CallGen>,
    parallel: bool,
    honor_deadlines: bool,
    shed_ms: Option<u32>,
    lifo: bool,
    rate_limit: Option<u32>,
    aimd: bool,
    pool: bool,
    /// Bits: 1 health checks, 2 replacement (with health checks), 4 outlier ejection, 8 slow start.
    recovery: u8,
    /// Bits: 1 a memory limit, 2 async execution, 4 a queue ordered by criticality, 8 a liveness
    /// probe, 16 probes through the request queue, 32 a cold start, 64 a connection limit with
    /// criticality shares.
    overload: u8,
}

#[derive(Debug, Clone)]
struct FaultGen {
    service: usize,
    kind: u8,
    at_s: u32,
    lasts_s: u32,
}

#[derive(Debug, Clone)]
struct ScenarioGen {
    services: Vec<ServiceGen>,
    rate: u32,
    faults: Vec<FaultGen>,
    client_retry: bool,
    zones: u32,
    /// The last service is a datastore: 0 sync, 1 async, 2 quorum of 2; with failover or not.
    store: Option<(u8, bool)>,
    client_timeout: bool,
    /// An alert on the entry service, and a rollout rolled back by it.
    deploy: bool,
    /// Bits: 1 keys (2: uniform, else Zipf), 4 a cache tier `kc` before `kdb` (8 a TTL with
    /// jitter, 16 coalescing, 32 early expiry with the TTL), 64 a broker `kq` and its consumer
    /// group `kw` (32: replicated), 128 faults on them.
    state: u8,
}

fn call_gen() -> impl Strategy<Value = CallGen> {
    (
        0usize..4,
        proptest::option::of(1u32..200),
        proptest::option::of((1u32..5, any::<bool>())),
        any::<bool>(),
        proptest::option::of((1u32..8, any::<bool>())),
        any::<bool>(),
        proptest::option::of(1u32..50),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0.0f64..1.0),
    )
        .prop_map(
            |(
                to_offset,
                timeout_ms,
                retries,
                breaker,
                bulkhead,
                fallback,
                hedge_ms,
                throttle,
                probability,
            )| CallGen {
                to_offset,
                timeout_ms,
                retries,
                breaker,
                bulkhead,
                fallback,
                hedge_ms,
                throttle,
                probability,
            },
        )
}

fn service_gen() -> impl Strategy<Value = ServiceGen> {
    (
        (
            1u32..4,
            1u32..8,
            proptest::option::of(0u32..20),
            1u32..20,
            any::<bool>(),
        ),
        proptest::collection::vec(call_gen(), 0..3),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(1u32..100),
            any::<bool>(),
        ),
        (
            proptest::option::of(10u32..500),
            any::<bool>(),
            any::<bool>(),
            0u8..16,
            0u8..128,
        ),
    )
        .prop_map(
            |(
                (instances, workers, queue, work_ms, lognormal),
                calls,
                (parallel, honor_deadlines, shed_ms, lifo),
                (rate_limit, aimd, pool, recovery, overload),
            )| ServiceGen {
                recovery,
                overload,
                instances,
                workers,
                queue,
                work_ms,
                lognormal,
                calls,
                parallel,
                honor_deadlines,
                shed_ms,
                lifo,
                rate_limit,
                aimd,
                pool,
            },
        )
}

fn scenario_gen() -> impl Strategy<Value = ScenarioGen> {
    (
        proptest::collection::vec(service_gen(), 1..5),
        10u32..400,
        proptest::collection::vec((0usize..5, 0u8..20, 0u32..8, 1u32..6), 0..4),
        any::<bool>(),
        1u32..4,
        (
            proptest::option::of((0u8..3, any::<bool>())),
            any::<bool>(),
            any::<bool>(),
            any::<u8>(),
        ),
    )
        .prop_map(
            |(
                services,
                rate,
                faults,
                client_retry,
                zones,
                (store, client_timeout, deploy, state),
            )| {
                ScenarioGen {
                    state,
                    store,
                    client_timeout,
                    deploy,
                    services,
                    rate,
                    faults: faults
                        .into_iter()
                        .map(|(service, kind, at_s, lasts_s)| FaultGen {
                            service,
                            kind,
                            at_s,
                            lasts_s,
                        })
                        .collect(),
                    client_retry,
                    zones,
                }
            },
        )
}

/// The scenario as RON text. Calls go only to later services, so the graph has no cycle.
fn render(g: &ScenarioGen) -> String {
    let n = g.services.len();
    let mut services = String::new();
    for (i, s) in g.services.iter().enumerate() {
        let calls: Vec<String> = s
            .calls
            .iter()
            .filter(|_| i + 1 < n)
            .map(|c| {
                let to = i + 1 + c.to_offset % (n - i - 1);
                let mut fields = vec![format!("to: \"s{to}\"")];
                if let Some(t) = c.timeout_ms {
                    fields.push(format!("timeout: \"{t}ms\""));
                }
                if let Some((attempts, budget)) = c.retries {
                    let budget = if budget { ", budget: (ratio: 0.2)" } else { "" };
                    fields.push(format!("retry: (attempts: {attempts}, backoff: Exponential(base: \"2ms\", cap: \"50ms\"){budget})"));
                }
                if c.breaker {
                    fields.push("breaker: (window: Count(10), min_calls: 5, open_for: \"1s\", half_open_calls: 2)".into());
                }
                if let Some((k, pool)) = c.bulkhead {
                    fields.push(if pool { format!("bulkhead: Pool(workers: {k}, queue: 3)") } else { format!("bulkhead: Semaphore(max_concurrent: {k}, max_wait: \"5ms\")") });
                }
                if c.fallback {
                    fields.push("fallback: Degrade(\"cached\")".into());
                }
                if let Some(h) = c.hedge_ms {
                    fields.push(format!("hedge: (after: \"{h}ms\")"));
                }
                match c.throttle {
                    Some(true) => fields.push("throttle: GrpcRetry(max_tokens: 10, token_ratio: 0.1)".into()),
                    Some(false) => fields.push("throttle: Adaptive(k: 2, window: \"2s\")".into()),
                    None => {}
                }
                if c.timeout_ms.is_some_and(|t| t % 3 == 0) {
                    fields.push("reconnect_after: \"500ms\"".into());
                }
                if let Some(p) = c.probability {
                    fields.push(format!("probability: {p}"));
                }
                let is_store = g.store.is_some() && to == n - 1 && n > 1;
                // A callee with a pool named "side" gets some of its calls there.
                if !is_store && g.services[to].pool && c.timeout_ms.is_some_and(|t| t % 2 == 1) {
                    fields.push("pool: \"side\"".into());
                }
                if is_store && c.hedge_ms.is_none_or(|h| h % 2 == 0) {
                    fields.push("op: Write".into());
                }
                format!("Call({})", fields.join(", "))
            })
            .collect();
        let calls = if s.parallel && calls.len() > 1 {
            format!("[Parallel([{}])]", calls.join(", "))
        } else {
            format!("[{}]", calls.join(", "))
        };
        let queue = match s.queue {
            Some(0) => "\"none\"".to_string(),
            Some(q) => q.to_string(),
            None => "\"unbounded\"".into(),
        };
        let work = if s.lognormal {
            format!(
                "LogNormal(median: \"{}ms\", p99: \"{}ms\")",
                s.work_ms,
                s.work_ms * 5
            )
        } else {
            format!("Exponential(mean: \"{}ms\")", s.work_ms)
        };
        let mut extra = Vec::new();
        if s.honor_deadlines {
            extra.push("honor_deadlines: true".to_string());
        }
        if s.shed_ms.is_some() || s.lifo {
            let max_wait = s
                .shed_ms
                .map(|m| format!("max_wait: \"{m}ms\", "))
                .unwrap_or_default();
            let lifo = if s.lifo { "lifo_over: 3" } else { "" };
            extra.push(format!("shed: ({max_wait}{lifo})"));
        }
        if let Some(r) = s.rate_limit {
            extra.push(format!("rate_limit: (global: (rate_per_s: {r}, burst: 10), per_client: (rate_per_s: {r}, burst: 5))"));
        }
        if s.aimd {
            extra.push("concurrency_limit: Aimd(initial: 10, latency_over: \"50ms\")".into());
        }
        let is_store = g.store.is_some() && i == n - 1 && n > 1;
        if s.pool && !is_store {
            extra.push("pools: [(name: \"side\", workers: 2, queue: 5)]".into());
        }
        if s.recovery & 1 != 0 {
            extra.push("health: (interval: \"1s\", unhealthy_after: 2, healthy_after: 1)".into());
            if s.recovery & 2 != 0 {
                extra.push("replace: (start_up: \"2s\", warm_up: \"2s\")".into());
            }
        }
        if s.recovery & 4 != 0 {
            extra.push("outlier: (consecutive_5xx: 3, interval: \"1s\", base_ejection_time: \"1s\", max_ejection_percent: 50)".into());
        }
        if s.recovery & 8 != 0 {
            extra.push("slow_start: (over: \"2s\", steps: 2)".into());
        }
        extra.extend(overload(s));
        if let (true, Some((kind, failover))) = (is_store, g.store) {
            let replication = ["Sync", "Async", "Quorum(2)"][kind as usize % 3];
            let failover = if failover {
                ", failover: (detect_after: \"1s\", promote_in: \"500ms\")"
            } else {
                ""
            };
            extra.push(format!("datastore: (replication: {replication}, lag: Exponential(mean: \"20ms\"), reads: Replicas, read_your_writes: {}, replication_timeout: \"200ms\"{failover})", kind == 1));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {}", extra.join(", "))
        };
        let (instances, calls) = if is_store {
            (s.instances.max(2), "[]".to_string())
        } else if i == 0 {
            (s.instances, with_state_calls(g.state, calls))
        } else {
            (s.instances, calls)
        };
        services.push_str(&format!(
            "        (name: \"s{i}\", instances: {instances}, workers: {}, queue: {queue}, work: {work}, calls: {calls}{extra}),\n",
            s.workers
        ));
    }
    services.push_str(&state_services(g.state));
    let faults: Vec<String> = g
        .faults
        .iter()
        .map(|f| {
            let svc = format!("s{}", f.service % n);
            let other = if g.zones > 1 { "z1" } else { "r/z0/r1" };
            let what = match f.kind {
                0 => format!("Slowdown(service: \"{svc}\", factor: 5)"),
                1 => format!("Errors(service: \"{svc}\", rate: 0.5)"),
                2 => format!("Outage(service: \"{svc}\")"),
                3 => format!("Crash(service: \"{svc}\", instance: 0)"),
                4 => format!("Hang(service: \"{svc}\")"),
                5 => format!("Leak(service: \"{svc}\", per_min: 5.0)"),
                6 => format!("Pauses(service: \"{svc}\", every: Exponential(mean: \"500ms\"), pause: Constant(\"50ms\"))"),
                7 => "HostCrash(host: \"r/z0/r0/h0\")".into(),
                8 => "DiskFailure(host: \"r/z0/r0/h1\")".into(),
                9 => "SlowDisk(host: \"r/z0/r1/h0\", factor: 4)".into(),
                10 => "CorruptDisk(host: \"r/z0/r1/h1\", rate: 0.3)".into(),
                11 => "RackPower(rack: \"r/z0/r0\")".into(),
                12 => "ZoneOutage(zone: \"z0\")".into(),
                13 => format!("Partition(between: [\"r/z0/r0\"], and: [\"{other}\"], one_way: {})", f.at_s % 2 == 0),
                14 => format!("NetworkDelay(between: [\"r/z0/r0\"], and: [\"{other}\"], add: \"20ms\")"),
                15 => format!("PacketLoss(between: [\"r/z0/r0\"], and: [\"{other}\"], rate: 0.2)"),
                16 => format!("Corrupt(service: \"{svc}\", rate: 0.2, detected: {})", f.at_s % 2 == 0),
                17 => format!("FailFast(service: \"{svc}\", why: \"dns\")"),
                18 => format!("ChaosMonkey(services: [\"{svc}\"], mean_between: \"2s\")"),
                _ => "RegionOutage(region: \"r\")".into(),
            };
            if f.kind == 3 && f.lasts_s % 2 == 0 {
                // Stochastic: every instance fails and is repaired at random.
                return format!("(what: Crash(service: \"{svc}\"), mtbf: Exponential(mean: \"{}s\"), mttr: Exponential(mean: \"{}s\"))", f.at_s + 1, f.lasts_s);
            }
            format!(
                "(at: \"{}s\", lasts: \"{}s\", what: {what})",
                f.at_s, f.lasts_s
            )
        })
        .chain(state_faults(g.state))
        .collect();
    let zones: Vec<String> = (0..g.zones)
        .map(|z| format!("(name: \"z{z}\", racks: 2, hosts_per_rack: 2)"))
        .collect();
    let mut retry = if g.client_retry {
        ", retry: (attempts: 2)".to_string()
    } else {
        String::new()
    };
    if g.client_timeout {
        retry.push_str(", timeout: \"300ms\"");
    }
    let ops = if g.deploy {
        "    alerts: [(name: \"errors\", when: ErrorRate(service: \"s0\", above: 0.05, over: \"2s\"))],\n    deployments: [(service: \"s0\", at: \"2s\", bake: \"2s\", interval: \"1s\", errors: 0.3, rollback_on: \"errors\", rollback_in: \"1s\")],\n"
    } else {
        ""
    };
    // Some scenarios add sheddable traffic beside the critical users.
    let sheddable = if g.rate.is_multiple_of(2) {
        format!(
            ", (name: \"batch\", entry: \"s0\", arrivals: Poisson(rate_per_s: {}), criticality: Sheddable)",
            g.rate / 2 + 1
        )
    } else {
        String::new()
    };
    if g.state & 1 != 0 {
        retry.push_str(if g.state & 2 != 0 {
            ", keys: Uniform(n: 100)"
        } else {
            ", keys: Zipf(n: 1000, s: 0.9)"
        });
    }
    format!(
        "Scenario(\n    name: \"generated\",\n    horizon: \"10s\",\n    warmup: \"1s\",\n    topology: (regions: [(name: \"r\", zones: [{}])], latency: (same_zone: Constant(\"100us\"), cross_zone: Exponential(mean: \"1ms\"))),\n    services: [\n{services}    ],\n    workload: [(entry: \"s0\", tier: \"t\", arrivals: Poisson(rate_per_s: {}){retry}){sheddable}],\n    faults: [{}],\n{ops})\n",
        zones.join(", "),
        g.rate,
        faults.join(", ")
    )
}

/// The entry service's calls with those to the state tiers (`ScenarioGen::state`) after them.
fn with_state_calls(state: u8, calls: String) -> String {
    let mut extra = Vec::new();
    if state & 4 != 0 {
        extra.push("Call(to: \"kc\", timeout: \"100ms\")");
    }
    if state & 64 != 0 {
        extra.push("Call(to: \"kq\", op: Publish, timeout: \"50ms\")");
    }
    if extra.is_empty() {
        return calls;
    }
    let inner = &calls[1..calls.len() - 1];
    let sep = if inner.is_empty() { "" } else { ", " };
    format!("[{inner}{sep}{}]", extra.join(", "))
}

/// The state tiers of a generated scenario: a cache before its database, a broker and its
/// consumer group.
fn state_services(state: u8) -> String {
    let mut out = String::new();
    if state & 4 != 0 {
        let mut cache = vec!["capacity: 50".to_string(), "fronts: \"kdb\"".into()];
        if state & 8 != 0 {
            cache.push("ttl: \"500ms\", ttl_jitter: 0.2".into());
            if state & 32 != 0 {
                cache.push("early_expiry: 1.0".into());
            }
        }
        if state & 16 != 0 {
            cache.push("coalesce: true".into());
        }
        out.push_str(&format!("        (name: \"kc\", instances: 2, workers: 8, work: Exponential(mean: \"1ms\"), balancer: KeyHash, cache: ({}), calls: [Call(to: \"kdb\", timeout: \"50ms\")]),\n", cache.join(", ")));
        out.push_str(
            "        (name: \"kdb\", workers: 4, queue: 10, work: Exponential(mean: \"5ms\")),\n",
        );
    }
    if state & 64 != 0 {
        out.push_str(&format!("        (name: \"kq\", instances: 2, workers: 4, work: Constant(\"1ms\"), broker: (capacity: 30, replicated: {})),\n", state & 32 != 0));
        out.push_str("        (name: \"kw\", instances: 2, workers: 4, work: Exponential(mean: \"5ms\"), consumes: (from: \"kq\", concurrency: 3, visibility_timeout: \"100ms\", max_deliveries: 3)),\n");
    }
    out
}

/// Faults on the state tiers, when asked for.
fn state_faults(state: u8) -> Vec<String> {
    let mut out = Vec::new();
    if state & 128 == 0 {
        return out;
    }
    if state & 4 != 0 {
        out.push("(at: \"2s\", lasts: \"2s\", what: Crash(service: \"kc\", instance: 0))".into());
    }
    if state & 64 != 0 {
        out.push("(at: \"3s\", lasts: \"2s\", what: Crash(service: \"kq\", instance: 1))".into());
        out.push("(at: \"4s\", lasts: \"1s\", what: Hang(service: \"kw\"))".into());
    }
    out
}

/// The overload settings of a generated service (`ServiceGen::overload`): memory, execution,
/// queue order, probes and cold starts.
fn overload(s: &ServiceGen) -> Vec<String> {
    let mut extra = Vec::new();
    let bits = s.overload;
    if bits & 1 != 0 {
        let per = 1 + s.work_ms % 7;
        extra.push(format!(
            "memory: (limit: \"100MiB\", base: \"60MiB\", per_request: \"{per}MiB\", restart: \"1s\"{})",
            if s.work_ms.is_multiple_of(2) { ", gc: (every: \"2s\", pause: \"5ms\", per_mib: \"100us\")" } else { "" }
        ));
    }
    if bits & 2 != 0 {
        extra.push("execution: Async".into());
    }
    if bits & 4 != 0 && !s.lifo {
        extra.push("queue_order: Criticality".into());
    }
    let lane = if bits & 16 != 0 { "Queue" } else { "Apart" };
    if bits & 8 != 0 {
        extra.push(format!(
            "liveness: (period: \"1s\", timeout: \"50ms\", restart_after: 2, restart: \"1s\", lane: {lane})"
        ));
    }
    if bits & 16 != 0 && s.recovery & 1 == 0 {
        extra.push(format!(
            "readiness: (interval: \"1s\", timeout: \"50ms\", lane: {lane})"
        ));
    }
    if bits & 32 != 0 && s.recovery & 2 == 0 {
        extra.push("cold_start: (warm_up: \"2s\", cold_factor: 2)".into());
    }
    if bits & 64 != 0 {
        extra.push(format!(
            "max_connections: {}, criticality_shares: (sheddable: 0.5, sheddable_plus: 0.8)",
            1 + s.workers * 2
        ));
    }
    extra
}

proptest! {
    // A fixed seed: CI runs the same cases every time (a failure prints the minimal scenario).
    #![proptest_config(ProptestConfig {
        cases: if crate::quick() { 16 } else { 256 },
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0fa1_7115),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_scenarios_run_and_keep_their_invariants(g in scenario_gen()) {
        let text = render(&g);
        let world = models::load_str("generated.ron", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // The ledger and the state invariants are asserted inside every run.
        let a = models::run_world(&world, 7, 0).unwrap();
        let b = models::run_world(&world, 7, 0).unwrap();
        prop_assert_eq!(&a.digest, &b.digest, "not deterministic:\n{}", text);
        for s in &a.services {
            prop_assert!(s.ledger.balanced() && s.measured.balanced());
            prop_assert!(s.utilization <= 1.0 + 1e-9, "utilization {} of {}", s.utilization, s.name);
        }
        for w in &a.workloads {
            prop_assert!(w.measured.balanced(), "{:?}", w.measured);
        }
        for c in a.services.iter().filter_map(|s| s.cache.as_ref()) {
            prop_assert!(c.hits + c.misses + c.early_refreshes == c.lookups, "{:?}", c);
        }
        for q in a.services.iter().filter_map(|s| s.queue.as_ref()) {
            prop_assert!(q.balanced() && q.acked <= q.delivered, "{:?}", q);
        }
        for st in a.services.iter().filter_map(|s| s.store.as_ref()) {
            prop_assert!(st.lost_writes <= st.writes_acked, "{:?}", st);
        }
        for e in &a.edges {
            prop_assert!(e.ok + e.degraded + e.failed <= e.calls);
            prop_assert!(e.timeouts + e.errors + e.rejected + e.rate_limited + e.breaker_rejected + e.bulkhead_rejected + e.throttled <= e.attempts + e.calls);
        }
    }

    #[test]
    fn mutated_scenario_text_never_panics(
        file in prop::sample::select(vec!["quickstart.ron", "defences/circuit-breaker.ron", "defences/retry-storm.ron", "defences/noisy-client.ron"]),
        cuts in proptest::collection::vec((0usize..4000, 0usize..3, any::<u8>()), 1..6),
    ) {
        let mut text = std::fs::read(crate::repo_path(&format!("scenarios/{file}"))).unwrap();
        for (at, op, byte) in cuts {
            let at = at % (text.len() + 1);
            match op {
                0 if at < text.len() => { text.remove(at); }
                1 => text.insert(at, byte),
                _ => text.truncate(at),
            }
        }
        let text = String::from_utf8_lossy(&text);
        // Loading returns Ok or Err; a valid mutant must also run.
        if let Ok(world) = models::load_str("mutant.ron", &text) {
            if world.horizon.as_ns() <= 300_000_000_000 {
                let _ = models::run_world(&world, 1, 0);
            }
        }
    }
}

/// Settings at and past the edges of what a scenario may say (issue 19): huge and tiny rates,
/// intervals of a nanosecond, long names (at the bound of 128 characters and past it), and big
/// counts. Loading never panics; a scenario that loads has a memory estimate within its limit
/// and runs (clamped to 200,000 events) to an ordinary end.
#[derive(Debug, Clone)]
struct ExtremeGen {
    rate: &'static str,
    interval: &'static str,
    monkey: &'static str,
    name_len: usize,
    instances: u64,
    workers: u64,
    racks: u64,
    hosts_per_rack: u64,
    runs: u64,
    timeout: &'static str,
}

const RATES: [&str; 9] = [
    "1e-300",
    "0.001",
    "1",
    "1e6",
    "1e9",
    "1000000001",
    "1e308",
    "inf",
    "NaN",
];
const INTERVALS: [&str; 6] = ["1ns", "999us", "1ms", "1s", "18446744073s", "0s"];
const COUNTS: [u64; 6] = [0, 1, 1000, 1_000_000, 4_000_000_000, u64::MAX];
const NAME_LENS: [usize; 6] = [1, 127, 128, 129, 1000, 70_000];

/// A scenario that loads, with up to three of its settings pushed to an extreme (swarm
/// testing: most cases change one or two things, so that both refusals and runs are common).
fn extreme_gen() -> impl Strategy<Value = ExtremeGen> {
    proptest::collection::vec((0usize..10, 0usize..9), 0..4).prop_map(|pushes| {
        let mut g = ExtremeGen {
            rate: "100",
            interval: "100ms",
            monkey: "100ms",
            name_len: 5,
            instances: 2,
            workers: 2,
            racks: 1,
            hosts_per_rack: 4,
            runs: 2,
            timeout: "100ms",
        };
        for (field, k) in pushes {
            match field {
                0 => g.rate = RATES[k % RATES.len()],
                1 => g.interval = INTERVALS[k % INTERVALS.len()],
                2 => g.monkey = INTERVALS[k % INTERVALS.len()],
                3 => g.name_len = NAME_LENS[k % NAME_LENS.len()],
                4 => g.instances = COUNTS[k % COUNTS.len()],
                5 => g.workers = COUNTS[k % COUNTS.len()],
                6 => g.racks = COUNTS[k % COUNTS.len()],
                7 => g.hosts_per_rack = COUNTS[k % COUNTS.len()],
                8 => g.runs = COUNTS[k % COUNTS.len()],
                _ => g.timeout = INTERVALS[k % INTERVALS.len()],
            }
        }
        g
    })
}

fn render_extreme(g: &ExtremeGen) -> String {
    let name = "n".repeat(g.name_len);
    format!(
        "Scenario(name: \"{name}\", horizon: \"2s\", runs: {},\n topology: (regions: [(name: \"r\", zones: [(name: \"z\", racks: {}, hosts_per_rack: {})])]),\n services: [(name: \"{name}\", instances: {}, workers: {}, work: Exponential(mean: \"1ms\"), health: (interval: \"{}\"), replace: (start_up: \"1ms\"))],\n workload: [(entry: \"{name}\", arrivals: Poisson(rate_per_s: {}), timeout: \"{}\")],\n faults: [(what: ChaosMonkey(services: [\"{name}\"], mean_between: \"{}\"), lasts: \"{}\")],\n)",
        g.runs, g.racks, g.hosts_per_rack, g.instances, g.workers, g.interval, g.rate, g.timeout, g.monkey, g.interval
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if crate::quick() { 16 } else { 128 },
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0fa1_7119),
        ..ProptestConfig::default()
    })]

    #[test]
    fn extreme_settings_load_or_are_refused(g in extreme_gen()) {
        let text = render_extreme(&g);
        if let Ok(mut world) = models::load_str("extreme.ron", &text) {
            let mib = world.memory_estimate_bytes().div_ceil(1 << 20);
            prop_assert!(mib <= u64::from(world.spec.limits.memory_mib_max), "{mib} MiB");
            world.events_max = world.events_max.min(200_000);
            let r = models::run_world(&world, 1, 0).unwrap();
            prop_assert!(r.services[0].ledger.balanced());
        }
    }
}

#[test]
fn fuzz_regressions_load_without_panic_or_blowup() {
    // Inputs found harmful while fuzzing (fuzz/regressions/): each must now load (or be refused)
    // at once, and run when valid.
    let dir = crate::repo_path("fuzz/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        if let Ok(study) = models::variants::load_study("regression.ron", &text) {
            for d in &study.designs {
                let _ = models::run_world(&d.world, 1, 0);
            }
        }
    }
}
