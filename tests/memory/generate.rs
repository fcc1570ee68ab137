//! Generated scenarios for the memory test: each a function of its case number (SplitMix64), so
//! that a case over its estimate is rebuilt from the number alone. Loads run into their guards
//! (`requests_in_flight_max`, `events_pending_max`) often, since that is where a run holds most.

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `lo..=hi`, spread over orders of magnitude when `hi / lo` is large.
    fn log_between(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((a + (b - a) * u).exp().round() as u64).clamp(lo, hi)
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// The sizes of one world.
#[derive(Clone, Copy)]
struct Shape {
    zones: u64,
    racks: u64,
    hosts_per_rack: u64,
    services: u64,
    instances_max: u64,
    replicas: u64,
    workloads: u64,
    users_max: u64,
    rate: u64,
    buckets: u64,
    in_flight_max: u64,
    pending_max: u64,
}

fn shape(rng: &mut Rng) -> Shape {
    Shape {
        zones: rng.log_between(1, 4),
        racks: rng.log_between(1, 40),
        hosts_per_rack: rng.log_between(1, 100),
        services: rng.log_between(1, 30),
        instances_max: rng.log_between(1, 300),
        replicas: if rng.one_in(2) {
            rng.log_between(2, 300)
        } else {
            0
        },
        workloads: rng.log_between(1, 5),
        users_max: if rng.one_in(3) {
            rng.log_between(10, 20_000)
        } else {
            0
        },
        rate: rng.log_between(10, 300_000),
        buckets: rng.log_between(1, 20_000),
        in_flight_max: rng.log_between(100, 30_000),
        pending_max: rng.log_between(1_000, 300_000),
    }
}

/// The defences of a call from a service to a later one, by the bits of `r`.
fn call(to: u64, r: u64, store: bool) -> String {
    let mut fields = vec![
        format!("to: \"s{to}\""),
        format!("timeout: \"{}ms\"", 5 + r % 200),
    ];
    if r & 1 != 0 {
        fields.push("retry: (attempts: 3, backoff: Exponential(base: \"2ms\", cap: \"50ms\"), budget: (ratio: 0.2))".into());
    }
    if r & 2 != 0 {
        fields.push(
            "breaker: (window: Count(50), min_calls: 5, open_for: \"1s\", half_open_calls: 2)"
                .into(),
        );
    }
    if r & 4 != 0 {
        fields.push("bulkhead: Semaphore(max_concurrent: 20, max_wait: \"5ms\")".into());
    }
    if r & 8 != 0 {
        fields.push(format!("hedge: (after: \"{}ms\")", 1 + (r >> 8) % 20));
    }
    if r & 16 != 0 {
        fields.push("throttle: Adaptive(k: 2, window: \"2s\")".into());
    }
    if store && r & 32 != 0 {
        fields.push("op: Write".into());
    }
    if r & 64 != 0 {
        fields.push(
            "request_bytes: Exponential(mean: \"4KiB\"), response_bytes: Constant(\"16KiB\")"
                .into(),
        );
    }
    format!("Call({})", fields.join(", "))
}

/// The recovery and overload settings of a service, by the bits of `r`.
fn extras(r: u64, instances: u64) -> Vec<String> {
    let mut extra = Vec::new();
    if r & 1 != 0 {
        extra.push("health: (interval: \"100ms\", unhealthy_after: 2, healthy_after: 1)".into());
        if r & 2 != 0 {
            extra.push("replace: (start_up: \"200ms\", warm_up: \"200ms\")".into());
        }
    }
    if r & 4 != 0 {
        extra.push("outlier: (consecutive_5xx: 3, interval: \"100ms\", base_ejection_time: \"1s\", max_ejection_percent: 50)".into());
    }
    if r & 8 != 0 {
        extra.push("memory: (limit: \"100MiB\", base: \"60MiB\", per_request: \"3MiB\", restart: \"100ms\", gc: (every: \"200ms\", pause: \"5ms\", per_mib: \"100us\"))".into());
    }
    if r & 16 != 0 {
        extra.push("liveness: (period: \"100ms\", timeout: \"50ms\", restart_after: 2, restart: \"100ms\", lane: Queue)".into());
    }
    if r & 32 != 0 && r & 1 == 0 {
        extra.push("readiness: (interval: \"100ms\", timeout: \"50ms\", lane: Queue)".into());
    }
    if r & 64 != 0 {
        extra.push("rate_limit: (global: (rate_per_s: 5000, burst: 10), per_client: (rate_per_s: 1000, burst: 5))".into());
    }
    if r & 128 != 0 {
        extra.push("execution: Async".into());
    }
    if r & 256 != 0 {
        extra.push("sessions: Local(ttl: \"30s\")".into());
    }
    if r & 512 != 0 {
        extra.push(format!(
            "autoscale: (min: 1, max: {}, target_utilization: 0.5, every: \"200ms\", delay: \"100ms\")",
            instances * 2
        ));
    }
    if r & 1024 != 0 {
        extra.push("pools: [(name: \"side\", workers: 2, queue: 5)]".into());
    }
    extra
}

fn service(rng: &mut Rng, i: u64, sh: &Shape) -> String {
    let n = sh.services;
    let is_store = sh.replicas > 0 && i == n - 1 && n > 1;
    let instances = if is_store {
        sh.replicas
    } else {
        rng.log_between(1, sh.instances_max)
    };
    let calls: Vec<String> = (0..rng.next() % 3)
        .filter(|_| i + 1 < n)
        .map(|_| {
            let to = i + 1 + rng.next() % (n - i - 1);
            call(to, rng.next(), sh.replicas > 0 && to == n - 1)
        })
        .collect();
    let mut extra = if is_store {
        Vec::new()
    } else {
        extras(rng.next(), instances)
    };
    if is_store {
        let replication = ["Sync", "Async", "Quorum(2)"][(rng.next() % 3) as usize];
        // Half the datastores (by the shape, no new draw) hold data that rebuilds.
        let data = if sh.racks.is_multiple_of(2) {
            ", data: \"200MB\", rebuild: (after: \"100ms\", chunk: \"4MiB\")"
        } else {
            ""
        };
        extra.push(format!("datastore: (replication: {replication}, lag: Exponential(mean: \"20ms\"), reads: Replicas, replication_timeout: \"200ms\", failover: (detect_after: \"100ms\", promote_in: \"50ms\"){data})"));
    }
    let queue = if rng.one_in(3) {
        "\"unbounded\"".to_string()
    } else {
        (1 + rng.next() % 100).to_string()
    };
    let extra: String = extra.iter().map(|e| format!(", {e}")).collect();
    format!(
        "        (name: \"s{i}\", instances: {instances}, workers: {}, queue: {queue}, work: Exponential(mean: \"{}ms\"), calls: [{}]{extra}),\n",
        1 + rng.next() % 16,
        1 + rng.next() % 20,
        calls.join(", ")
    )
}

fn faults(rng: &mut Rng, sh: &Shape, horizon_s: u64) -> String {
    let at = format!("{}ms", horizon_s * 250);
    let mut faults = Vec::new();
    for _ in 0..rng.next() % 4 {
        let s = rng.next() % sh.services;
        faults.push(match rng.next() % 6 {
            0 => format!("(what: ChaosMonkey(services: [\"s{s}\"], mean_between: \"20ms\"), lasts: \"100ms\")"),
            1 => format!("(what: Crash(service: \"s{s}\"), mtbf: Exponential(mean: \"500ms\"), mttr: Exponential(mean: \"200ms\"))"),
            2 => format!("(at: \"{at}\", lasts: \"1s\", what: ZoneOutage(zone: \"z0\"))"),
            3 => format!("(at: \"{at}\", lasts: \"1s\", what: Hang(service: \"s{s}\"))"),
            4 => format!("(at: \"{at}\", lasts: \"1s\", what: HostCrash(host: \"r/z0/r0/h0\"))"),
            _ => format!("(at: \"{at}\", lasts: \"2s\", what: Errors(service: \"s{s}\", rate: 0.5))"),
        });
    }
    faults.join(", ")
}

fn render(rng: &mut Rng, sh: &Shape, horizon_s: u64) -> String {
    let services: String = (0..sh.services).map(|i| service(rng, i, sh)).collect();
    let zones: Vec<String> = (0..sh.zones)
        .map(|z| {
            format!(
                "(name: \"z{z}\", racks: {}, hosts_per_rack: {})",
                sh.racks, sh.hosts_per_rack
            )
        })
        .collect();
    let workloads: Vec<String> = (0..sh.workloads)
        .map(|w| {
            let users = if sh.users_max > 0 { format!(", users: {}", rng.log_between(1, sh.users_max)) } else { String::new() };
            let timeout = if rng.one_in(2) { ", timeout: \"300ms\", retry: (attempts: 2)" } else { "" };
            format!("(name: \"w{w}\", entry: \"s0\", tier: \"t{w}\", arrivals: Poisson(rate_per_s: {}){users}{timeout})", rng.log_between(1, sh.rate))
        })
        .collect();
    let resolution_us = (horizon_s * 1_000_000 / sh.buckets).max(1);
    // Half the worlds (by the shape, no new draw) have links with a capacity and disks.
    let network = if sh.hosts_per_rack.is_multiple_of(2) {
        ", bandwidth: (host: \"1Gbps\", oversubscription: 4.0, cross_zone: \"10Gbps\"), disk: (iops: 2000, throughput: \"200MB/s\", capacity: \"10GB\")"
    } else {
        ""
    };
    format!(
        "Scenario(\n    name: \"generated\",\n    horizon: \"{horizon_s}s\",\n    resolution: \"{resolution_us}us\",\n    topology: (regions: [(name: \"r\", zones: [{}])], latency: (same_zone: Constant(\"100us\"), cross_zone: Exponential(mean: \"1ms\")){network}),\n    services: [\n{services}    ],\n    workload: [{}],\n    faults: [{}],\n    limits: (events_max: 400000, requests_in_flight_max: {}, events_pending_max: {}),\n)\n",
        zones.join(", "),
        workloads.join(", "),
        faults(rng, sh, horizon_s),
        sh.in_flight_max,
        sh.pending_max,
    )
}

/// The scenario of generated case `case`.
pub fn scenario(case: u64) -> String {
    let mut rng = Rng(0x6d65_6d6f_7279 ^ case.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let sh = shape(&mut rng);
    let horizon_s = rng.log_between(1, 20);
    render(&mut rng, &sh, horizon_s)
}

/// Worlds far out in one dimension each, named.
pub fn extremes() -> Vec<(&'static str, String)> {
    let base = Shape {
        zones: 1,
        racks: 2,
        hosts_per_rack: 2,
        services: 2,
        instances_max: 2,
        replicas: 0,
        workloads: 1,
        users_max: 0,
        rate: 100,
        buckets: 10,
        in_flight_max: 1000,
        pending_max: 10_000,
    };
    type Push = fn(&mut Shape);
    let pushes: [(&'static str, Push); 7] = [
        ("a million hosts", |s| {
            (s.zones, s.racks, s.hosts_per_rack) = (4, 250, 1000)
        }),
        ("2,000 replicas", |s| {
            (s.replicas, s.rate, s.in_flight_max, s.pending_max) = (2000, 50_000, 20_000, 200_000)
        }),
        ("20,000 instances", |s| {
            (s.services, s.instances_max, s.rate) = (4, 20_000, 20_000)
        }),
        ("200 services", |s| {
            (s.services, s.instances_max, s.rate) = (200, 3, 10_000)
        }),
        ("100,000 users", |s| {
            (s.users_max, s.rate, s.workloads) = (100_000, 100_000, 2)
        }),
        ("100,000 points", |s| {
            (s.buckets, s.services) = (100_000, 10)
        }),
        ("guards full", |s| {
            (s.rate, s.in_flight_max, s.pending_max) = (1_000_000, 100_000, 1_000_000)
        }),
    ];
    let mut rng = Rng(19);
    let mut out: Vec<(&'static str, String)> = (pushes.iter())
        .map(|(what, push)| {
            let mut sh = base;
            push(&mut sh);
            (*what, render(&mut rng, &sh, 2))
        })
        .collect();
    out.extend(hand_made());
    out
}

/// Asynchronous writes of 1 MiB to three replicas over 100 Mbps links onto slow disks: flows
/// and disk operations pile up to the backlog guard, while two copies whose disks die are
/// rebuilt (with and without a rate limit) and a transfer runs.
const NET_WORLD: &str = r#"Scenario(name: "net", horizon: "60s", resolution: "10ms",
 topology: (regions: [(name: "r", zones: [(name: "z", racks: 4, hosts_per_rack: 4)])],
   bandwidth: (host: "100Mbps", oversubscription: 2.0), disk: (iops: 100, throughput: "10MB/s")),
 services: [
   (name: "api", instances: 4, workers: 1000, work: Constant("1us"),
    calls: [Call(to: "db", op: Write, timeout: "1s", request_bytes: Exponential(mean: "1MiB")),
            Call(to: "db2", timeout: "1s", response_bytes: Constant("64KiB"))]),
   (name: "db", instances: 3, workers: 1000, work: Constant("1us"),
    datastore: (replication: Async, data: "2GB", rebuild: (chunk: "8MiB", parallel: 8))),
   (name: "db2", instances: 3, workers: 1000, work: Constant("1us"),
    datastore: (replication: Async, data: "2GB", rebuild: (rate: "5MB/s")))],
 workload: [(entry: "api", arrivals: Poisson(rate_per_s: 300), request_bytes: Constant("1KiB"))],
 transfers: [(name: "t", from: "db", to: "r/z/r3/h3", size: "5GB", at: "1s", rate: "50MB/s")],
 faults: [(at: "2s", lasts: "1s", what: DiskFailure(host: "r/z/r1/h0")),
          (at: "2s", lasts: "1s", what: DiskFailure(host: "r/z/r2/h0"))],
 limits: (events_max: 3000000, requests_in_flight_max: 20000, events_pending_max: 30000))"#;

/// Worlds that fill what generated ones rarely do: a datastore's acknowledgement window, a
/// write to 2,000 replicas, queues at their guard, timeouts piling up in the event queue.
fn hand_made() -> Vec<(&'static str, String)> {
    let world = |services: &str, rate: u64, extra: &str, limits: &str| {
        format!(
            "Scenario(name: \"hand\", horizon: \"20s\", resolution: \"10ms\",\n topology: (regions: [(name: \"r\", zones: [(name: \"z\", racks: 10, hosts_per_rack: 10)])]),\n services: [{services}],\n workload: [(entry: \"api\", arrivals: Poisson(rate_per_s: {rate}){extra})],\n limits: ({limits}))"
        )
    };
    let store = |replicas: u32, replication: &str| {
        format!(
            "(name: \"api\", instances: 4, workers: 1000, work: Constant(\"1us\"), calls: [Call(to: \"db\", op: Write, timeout: \"1s\")]), (name: \"db\", instances: {replicas}, workers: 1000, work: Constant(\"1us\"), datastore: (replication: {replication}, lag: Exponential(mean: \"50ms\"), replication_timeout: \"2s\"))"
        )
    };
    vec![
        ("an acknowledgement window full", world(&store(3, "Async"), 20_000, "", "events_max: 3000000, requests_in_flight_max: 10000, events_pending_max: 100000")),
        ("writes to 2,000 replicas", world(&store(2000, "Sync"), 1000, "", "events_max: 3000000, requests_in_flight_max: 10000, events_pending_max: 500000")),
        ("queues at their guard", world("(name: \"api\", instances: 2, workers: 1, queue: \"unbounded\", work: Constant(\"10ms\"), calls: [Call(to: \"db\", timeout: \"10s\"), Call(to: \"db\")]), (name: \"db\", instances: 2, workers: 100, work: Constant(\"1ms\"))", 200_000, ", timeout: \"10s\"", "requests_in_flight_max: 100000, events_pending_max: 300000, events_max: 3000000")),
        ("caches at capacity", world("(name: \"api\", instances: 2, workers: 1000, work: Constant(\"1us\"), calls: [Call(to: \"kc\")]), (name: \"kc\", instances: 2, workers: 1000, work: Constant(\"1us\"), balancer: Random, cache: (capacity: 200000, fronts: \"db\", coalesce: true), calls: [Call(to: \"db\")]), (name: \"db\", workers: 1000, work: Constant(\"1us\"))", 50_000, ", keys: Uniform(n: 1000000)", "events_max: 5000000")),
        ("a broker at capacity, rows written", world("(name: \"api\", instances: 2, workers: 1000, work: Constant(\"1us\"), calls: [Call(to: \"kq\", op: Publish), Call(to: \"db\", op: CompareAndSet)]), (name: \"kq\", instances: 2, workers: 1000, work: Constant(\"1us\"), broker: (capacity: 100000)), (name: \"kw\", workers: 1, work: Constant(\"1s\"), consumes: (from: \"kq\", concurrency: 1)), (name: \"db\", workers: 1000, work: Constant(\"1us\"), datastore: (replication: Async))", 20_000, ", keys: Uniform(n: 1000000)", "events_max: 5000000")),
        ("flows and disk operations at their guard, rebuilds", NET_WORLD.into()),
        ("timeouts piling up", world("(name: \"api\", instances: 2, workers: 1000, work: Constant(\"1us\"))", 1_000_000, ", timeout: \"5s\"", "events_pending_max: 1000000, requests_in_flight_max: 10000, events_max: 3000000")),
    ]
}
