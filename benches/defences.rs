//! What the defences cost: one scenario, run with and without its defences, throughput in
//! simulated workload requests (warm-up included).
//!
//! The system (`benches/data/defences-*.ron`): a frontend (4 instances) calls catalog and
//! inventory in parallel, then pricing (2-3 instances each), with 2,000 Poisson requests a second
//! for 30 simulated seconds, over a two-zone topology. Three versions, one criterion group:
//!
//! - `none`: `defences-none.ron`, no defences at all;
//! - `all-on`: `defences-all.ron`, the same system with every defence: timeouts, retries
//!   (exponential backoff, full jitter, a retry budget), circuit breakers (count window),
//!   semaphore bulkheads and fallbacks on every call; deadline propagation and load shedding
//!   (max wait, adaptive LIFO) at the dependencies; a per-client rate limit at the frontend.
//!   The load is healthy, so the defences watch every call but hardly ever act: both versions
//!   simulate the same requests, and the difference is the per-request cost of the machinery;
//! - `all-on-fault`: `all-on` with inventory slowed tenfold for the middle third of the run,
//!   so that timeouts, retries, breakers, bulkheads, shedding and fallbacks actually act.
//!
//! After the group, a summary gives each version's simulated requests per second and the ratio
//! `all-on / none` against the target: the defences cost at most 2x (ratio at least 0.5).
//!
//! Run: `cargo bench --bench defences -- --warm-up-time 1 --measurement-time 5`
//! (`FAULTLINE_BENCH_CLOCK=cpu` measures thread CPU time instead of wall time: use it on a busy
//! machine).

use criterion::{Criterion, Throughput};
use faultline::World;
use models::spec::{Dur, FaultKind, FaultSpec};
use sim_core::SimDuration;
use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;

mod common;

const NONE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/data/defences-none.ron"
);
const ALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/defences-all.ron");

/// Samples per benchmark; the summary reads the last this many (the measured ones).
const SAMPLES: usize = 10;

/// The slowed dependency and the factor of the `all-on-fault` version.
const SLOWED: &str = "inventory";
const SLOWDOWN: f64 = 10.0;

/// `all-on` with `SLOWED` slowed `SLOWDOWN` times for the middle third of the run.
fn with_fault(all: &World) -> World {
    let mut spec = all.spec.clone();
    let third = SimDuration::from_ns(spec.horizon.0.as_ns() / 3);
    spec.name = format!("{}-fault", spec.name);
    spec.faults.push(FaultSpec {
        name: None,
        at: Dur(third),
        lasts: Some(Dur(third)),
        what: FaultKind::Slowdown {
            service: SLOWED.into(),
            factor: SLOWDOWN,
            instance: None,
            instances: None,
            place: None,
        },
        mtbf: None,
        mttr: None,
    });
    models::validate::build("defences-all.ron + fault", None, spec).expect("the fault is valid")
}

/// One run first, outside the measurement: its request count is the throughput unit. Prints
/// what the defences did in it (all zero means they only watched).
fn probe(name: &str, world: &World) -> u64 {
    let r = faultline::run_world(world, None).expect("the scenario runs");
    let n = common::workload_requests(&r);
    let e = |f: fn(&models::results::EdgeResult) -> u64| r.edges.iter().map(f).sum::<u64>();
    let s = |f: fn(&models::results::Ledger) -> u64| {
        r.services.iter().map(|s| f(&s.ledger)).sum::<u64>()
    };
    eprintln!(
        "{name}: {n} workload requests and {} events per run ({:.2} events per request), \
         digest {}, stop {}\n  calls {}, timeouts {}, retries {} (denied {}), breaker \
         transitions {}, refused by breaker {} / bulkhead {}, degraded {}, shed {}, rate \
         limited {}, wasted work {:.1} s",
        r.events,
        r.events as f64 / n as f64,
        r.digest,
        r.stop,
        e(|x| x.calls),
        e(|x| x.timeouts),
        e(|x| x.retries),
        e(|x| x.retries_denied),
        r.edges
            .iter()
            .map(|x| x.breaker_transitions.len())
            .sum::<usize>(),
        e(|x| x.breaker_rejected),
        e(|x| x.bulkhead_rejected),
        e(|x| x.degraded),
        s(|l| l.shed),
        s(|l| l.rate_limited),
        r.services
            .iter()
            .map(|s| s.wasted_work_ns as f64 * 1e-9)
            .sum::<f64>(),
    );
    n
}

/// Per-run times (nanoseconds of the bench clock) recorded by the routine: `(iterations, ns)`
/// of every call criterion made, warm-up first.
type Samples = RefCell<Vec<(u64, u64)>>;

fn defences<M: common::clock::Clock>(c: &mut Criterion<M>) {
    let none = faultline::load(Path::new(NONE)).expect("defences-none loads");
    let all = faultline::load(Path::new(ALL)).expect("defences-all loads");
    let fault = with_fault(&all);
    let versions = [("none", &none), ("all-on", &all), ("all-on-fault", &fault)];

    let counts: Vec<u64> = versions.iter().map(|(n, w)| probe(n, w)).collect();
    assert_eq!(
        counts[0], counts[1],
        "both healthy versions simulate the same workload requests"
    );

    let mut per_run_ns = Vec::new();
    let mut g = c.benchmark_group("defences");
    g.sample_size(SAMPLES);
    for ((name, world), &n) in versions.iter().zip(&counts) {
        let samples = Samples::default();
        g.throughput(Throughput::Elements(n));
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let start = M::now_ns();
                for _ in 0..iters {
                    black_box(faultline::run_world(world, None).expect("the scenario runs"));
                }
                let ns = M::now_ns() - start;
                samples.borrow_mut().push((iters, ns));
                M::value(ns)
            })
        });
        per_run_ns.push(median_per_run(&samples.into_inner()));
    }
    g.finish();

    // Median of the measured samples; absent when the benchmark was filtered out.
    let rate = |i: usize| per_run_ns[i].map(|(ns, _)| counts[i] as f64 / (ns * 1e-9));
    eprintln!("\ndefences summary ({}):", M::NAME);
    for (i, (name, _)) in versions.iter().enumerate() {
        if let (Some((ns, k)), Some(r)) = (per_run_ns[i], rate(i)) {
            eprintln!(
                "  {name:<13} {:>8.1} ms per run, {:>10.0} simulated requests/s \
                 (median of {k} samples)",
                ns * 1e-6,
                r
            );
        }
    }
    let ratio = |i: usize| Some(rate(i)? / rate(0)?);
    if let Some(r) = ratio(1) {
        eprintln!(
            "  all-on / none: {r:.3} of the requests/s (cost {:.2}x); target at least 0.5: {}",
            1.0 / r,
            if r >= 0.5 { "met" } else { "NOT MET" }
        );
    }
    if let Some(r) = ratio(2) {
        eprintln!(
            "  all-on-fault / none: {r:.3} of the requests/s (cost {:.2}x)",
            1.0 / r
        );
    }
}

/// Median time per run over the last `SAMPLES` calls (criterion's measured samples; a single
/// run in `--test` mode) and how many calls that is, or `None` when the routine never ran.
fn median_per_run(samples: &[(u64, u64)]) -> Option<(f64, usize)> {
    let mut per_run: Vec<f64> = samples[samples.len().saturating_sub(SAMPLES)..]
        .iter()
        .map(|&(iters, ns)| ns as f64 / iters as f64)
        .collect();
    if per_run.is_empty() {
        return None;
    }
    per_run.sort_by(f64::total_cmp);
    let mid = per_run.len() / 2;
    let median = if per_run.len() % 2 == 1 {
        per_run[mid]
    } else {
        (per_run[mid - 1] + per_run[mid]) / 2.0
    };
    Some((median, per_run.len()))
}

fn main() {
    if common::clock::use_cpu_time() {
        let mut c = Criterion::default()
            .with_measurement(common::clock::ThreadCpu::new())
            .configure_from_args();
        defences(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        defences(&mut c);
        c.final_summary();
    }
}
