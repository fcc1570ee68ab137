//! Whole-scenario benchmarks: one run of a scenario per iteration, throughput in simulated
//! workload requests (warm-up included).
//!
//! - `quickstart`: `scenarios/quickstart.ron` as shipped (four services, 2 minutes simulated).
//! - `mm4-rho90`: `scenarios/queueing/mm4-rho90.ron` as shipped (360/s, 4 workers, exp 10 ms,
//!   20 minutes simulated).
//! - `game-day`: `scenarios/failures/game-day.ron` (health checks, alerts, a replicated
//!   datastore with failover, four faults; 9 minutes simulated): the cost of the operational
//!   machinery beside the plain scenarios above.
//! - `memory-off` / `memory-on`: three instances at 70% utilization without and with a memory
//!   limit that is never reached (`benches/data/memory-*.ron`): the cost of the check.
//! - `probes-on`: `memory-on` with readiness and liveness probes through the request queue and a
//!   queue ordered by criticality (`benches/data/probes-on.ron`): the cost of #16's mechanisms.
//! - `cache-off` / `cache-on`: reads through a tier balanced by key, without and with a cache
//!   of 10,000 keys per instance in front of the database (`benches/data/cache-*.ron`): the
//!   cost of keys, lookups and fills against the calls the hits save.
//! - `queue-off` / `queue-on`: orders handed to fulfil by a direct call, and through a broker
//!   and a consumer group (`benches/data/queue-*.ron`): the cost of a queue.
//! - `net-off` / `net-on`: three tiers across two zones with message sizes, on links without
//!   and with a capacity (`benches/data/net-*.ron`): the cost of bandwidth (every message a
//!   flow shared max-min).
//!
//! - `mm1`: `benches/data/mm1-rho90.ron` (M/M/1 at rho 0.9, 20 minutes simulated, ~108,000
//!   customers), beside the same queue hand-coded (`benches/hand/`): `mm1-sim-core`, a
//!   two-event model on sim-core's engine, and `mm1-heap`, a plain `BinaryHeap` loop (the
//!   issue #20 pair). Throughput in customers (arrivals, warm-up included).
//! - `wide`: `benches/data/wide.ron` (1,000 services of 10 instances, a call tree, health
//!   checks, a chaos monkey; `python3 benches/data/wide.py 1000`). Throughput in events; one
//!   iteration is one run (`faultline::run_world`: building the run's state, the events, the
//!   results); loading the file is outside the measurement. `quickstart-events` is the
//!   quickstart counted the same way, its baseline in the same run.
//!
//! Run: `cargo bench --bench scenarios -- --warm-up-time 1 --measurement-time 3`; with
//! `FAULTLINE_BENCH_CLOCK=cpu`, the figures are per CPU second of the benchmark thread.

use criterion::measurement::Measurement;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use faultline::World;
use std::hint::black_box;
use std::path::Path;

mod common;
mod hand;

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.ron");
const GAME_DAY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/failures/game-day.ron"
);
const MEMORY_OFF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/memory-off.ron");
const MEMORY_ON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/memory-on.ron");
const PROBES_ON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/probes-on.ron");
const CACHE_OFF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/cache-off.ron");
const CACHE_ON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/cache-on.ron");
const QUEUE_OFF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/queue-off.ron");
const QUEUE_ON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/queue-on.ron");
const NET_OFF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/net-off.ron");
const NET_ON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/net-on.ron");
const MM1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/mm1-rho90.ron");
const WIDE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/wide.ron");
const MM4: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/queueing/mm4-rho90.ron"
);

/// One run first, outside the measurement: its request count is the throughput unit.
fn probe(name: &str, world: &World) -> u64 {
    let r = faultline::run_world(world, None).expect("the scenario runs");
    let n = common::workload_requests(&r);
    let measured: u64 = r.workloads.iter().map(|w| w.measured.arrived).sum();
    assert!(
        n >= measured,
        "all arrivals ({n}) include the measured ones ({measured})"
    );
    eprintln!(
        "{name}: {n} workload requests and {} events per run ({:.2} events per request), \
         digest {}, stop {}",
        r.events,
        r.events as f64 / n as f64,
        r.digest,
        r.stop,
    );
    n
}

fn scenarios<M: Measurement>(c: &mut Criterion<M>) {
    let quickstart = faultline::load(Path::new(QUICKSTART)).expect("quickstart loads");

    // M/M/4 at rho 0.9 as shipped: 20 minutes simulated, ~432k customers, ~70 ms a run.
    let mm4 = faultline::load(Path::new(MM4)).expect("mm4-rho90 loads");

    let game_day = faultline::load(Path::new(GAME_DAY)).expect("game-day loads");

    // The same three instances without and with a memory limit (never reached): the cost of
    // the out-of-memory check on every admission.
    let memory_off = faultline::load(Path::new(MEMORY_OFF)).expect("memory-off loads");
    let memory_on = faultline::load(Path::new(MEMORY_ON)).expect("memory-on loads");
    let probes_on = faultline::load(Path::new(PROBES_ON)).expect("probes-on loads");
    let load = |path: &str| faultline::load(Path::new(path)).expect("bench data loads");
    let (cache_off, cache_on) = (load(CACHE_OFF), load(CACHE_ON));
    let (queue_off, queue_on) = (load(QUEUE_OFF), load(QUEUE_ON));
    let (net_off, net_on) = (load(NET_OFF), load(NET_ON));

    let mut g = c.benchmark_group("scenarios");
    g.sample_size(10);
    for (name, world) in [
        ("quickstart", &quickstart),
        ("mm4-rho90", &mm4),
        ("game-day", &game_day),
        ("memory-off", &memory_off),
        ("memory-on", &memory_on),
        ("probes-on", &probes_on),
        ("cache-off", &cache_off),
        ("cache-on", &cache_on),
        ("queue-off", &queue_off),
        ("queue-on", &queue_on),
        ("net-off", &net_off),
        ("net-on", &net_on),
    ] {
        let n = probe(name, world);
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| {
            b.iter(|| black_box(faultline::run_world(world, None).expect("the scenario runs")))
        });
    }
    mm1(&mut g);
    wide(&mut g, &quickstart);
    g.finish();
}

/// The M/M/1 file beside the same queue hand-coded on sim-core and on a plain heap.
fn mm1<M: Measurement>(g: &mut BenchmarkGroup<'_, M>) {
    let world = faultline::load(Path::new(MM1)).expect("mm1-rho90 loads");
    let n = probe("mm1", &world);
    let p = hand::Mm1 {
        rate_per_s: 90.0,
        work_mean_ns: 10e6,
        horizon_ns: world.horizon.as_ns(),
        seed: 1,
    };
    let (heap, core) = (hand::on_heap(&p), hand::on_sim_core(&p));
    eprintln!("mm1 hand-coded: {heap:?} on a heap, {core:?} on sim-core");
    assert_eq!(heap, core, "both hand-coded loops simulate the same queue");
    let ratio = heap.arrived as f64 / n as f64;
    assert!((0.97..1.03).contains(&ratio), "the same load as the file");
    g.throughput(Throughput::Elements(n));
    g.bench_function("mm1", |b| {
        b.iter(|| black_box(faultline::run_world(&world, None).expect("the scenario runs")))
    });
    g.throughput(Throughput::Elements(heap.arrived));
    g.bench_function("mm1-sim-core", |b| {
        b.iter(|| black_box(hand::on_sim_core(black_box(&p))))
    });
    let (measured, _) = hand::on_sim_core_measured(&p);
    assert_eq!(
        measured, core,
        "keeping the books does not change the queue"
    );
    g.bench_function("mm1-sim-core-measured", |b| {
        b.iter(|| black_box(hand::on_sim_core_measured(black_box(&p))))
    });
    g.bench_function("mm1-heap", |b| {
        b.iter(|| black_box(hand::on_heap(black_box(&p))))
    });
}

/// The wide world, and the quickstart as its baseline, in events per second.
fn wide<M: Measurement>(g: &mut BenchmarkGroup<'_, M>, quickstart: &World) {
    let world = faultline::load(Path::new(WIDE)).expect("wide loads");
    for (name, world) in [("wide", &world), ("quickstart-events", quickstart)] {
        probe(name, world);
        let events = faultline::run_world(world, None)
            .expect("the scenario runs")
            .events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| {
            b.iter(|| black_box(faultline::run_world(world, None).expect("the scenario runs")))
        });
    }
}

fn main() {
    if common::clock::use_cpu_time() {
        let mut c = Criterion::default()
            .with_measurement(common::clock::ThreadCpu::new())
            .configure_from_args();
        scenarios(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        scenarios(&mut c);
        c.final_summary();
    }
}
