//! The scale series of issue 20: one service of N instances (N = 100, 10,000, 1,000,000), light
//! load, each balancer, with one instance out of rotation (crashed at 0 s, found unhealthy by
//! the first health check at 100 ms; the requests arrive after it, at 100,000/s, so every pick
//! is made with an instance out of rotation). Per N, `idle` is the same world without requests:
//! building the run's state and its health checks, the part of a run that is not picking.
//!
//! One run per iteration; the throughput unit is the run's requests, so criterion's elements/s
//! are requests (one pick each) per second of the whole run, setup included: subtract `idle`'s
//! time for the cost of the picks alone. At a million instances a run has 1,000 requests and a
//! sample is one run. `FAULTLINE_SCALE_MAX=10000` stops the series there.
//!
//! Run: `FAULTLINE_BENCH_CLOCK=cpu cargo bench --bench scale -- --warm-up-time 1
//! --measurement-time 3 --noplot`.

use criterion::measurement::Measurement;
use criterion::{Criterion, SamplingMode, Throughput};
use faultline::World;
use std::hint::black_box;

mod common;

const BALANCERS: [&str; 4] = ["RoundRobin", "Random", "LeastOutstanding", "PowerOfTwo"];

/// Requests after the health check, by number of instances: fewer at a million, where the
/// scans this series was written against take milliseconds a pick.
fn requests_for(n: u64) -> u64 {
    match n {
        0..=10_000 => 100_000,
        _ => 1_000,
    }
}

/// One service of `n` instances behind `balancer`; instance 0 crashed from the start and out of
/// rotation from 100 ms; `requests` arrive evenly from 100 ms at 100,000/s.
fn scenario(n: u64, balancer: &str, requests: u64) -> String {
    let rate = 100_000u64;
    let horizon_us = 100_000 + requests * 1_000_000 / rate;
    let hosts = n.div_ceil(100).max(1);
    let to = if requests == 0 { "0.001" } else { "100000" };
    format!(
        r#"Scenario(
    name: "scale-{n}-{balancer}",
    seed: 20,
    horizon: "{horizon_us}us",
    topology: (regions: [(name: "r", zones: [(name: "a", racks: 1, hosts_per_rack: {hosts})])]),
    services: [(
        name: "api",
        instances: {n},
        workers: 4,
        work: Constant("1ms"),
        balancer: {balancer},
        health: (interval: "100ms", unhealthy_after: 1, healthy_after: 1),
    )],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 0.001),
                schedule: [Step(to_per_s: {to}, at: "100ms")])],
    faults: [(at: "0s", what: Crash(service: "api", instance: 0))],
)"#
    )
}

fn load(n: u64, balancer: &str, requests: u64) -> World {
    let text = scenario(n, balancer, requests);
    models::load_str("scale.ron", &text).expect("the scale scenario loads")
}

/// One run outside the measurement: its request count is the throughput unit.
fn probe(name: &str, world: &World) -> u64 {
    let r = faultline::run_world(world, None).expect("the scenario runs");
    let n = common::workload_requests(&r);
    let api = &r.services[0];
    eprintln!(
        "{name}: {n} requests, {} events, {} completed, digest {}",
        r.events, api.ledger.completed, r.digest
    );
    n
}

fn scale<M: Measurement>(c: &mut Criterion<M>) {
    let max: u64 = std::env::var("FAULTLINE_SCALE_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for n in [100u64, 10_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
    {
        let mut g = c.benchmark_group(format!("scale/{n}"));
        g.sample_size(10);
        if n > 10_000 {
            // Runs of seconds: one run a sample, not criterion's 1 + 2 + ... + 10.
            g.sampling_mode(SamplingMode::Flat);
        }
        let idle = load(n, "RoundRobin", 0);
        probe(&format!("{n}/idle"), &idle);
        g.throughput(Throughput::Elements(1));
        g.bench_function("idle", |b| {
            b.iter(|| black_box(faultline::run_world(&idle, None).expect("runs")))
        });
        drop(idle);
        for balancer in BALANCERS {
            let world = load(n, balancer, requests_for(n));
            let requests = probe(&format!("{n}/{balancer}"), &world);
            g.throughput(Throughput::Elements(requests));
            g.bench_function(balancer, |b| {
                b.iter(|| black_box(faultline::run_world(&world, None).expect("runs")))
            });
        }
        g.finish();
    }
}

fn main() {
    if common::clock::use_cpu_time() {
        let mut c = Criterion::default()
            .with_measurement(common::clock::ThreadCpu::new())
            .configure_from_args();
        scale(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        scale(&mut c);
        c.final_summary();
    }
}
