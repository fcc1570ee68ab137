//! Whole-scenario benchmarks: one run of a scenario per iteration, throughput in simulated
//! workload requests (warm-up included).
//!
//! - `quickstart`: `scenarios/quickstart.ron` as shipped (four services, 2 minutes simulated).
//! - `mm4-rho90`: `scenarios/queueing/mm4-rho90.ron` as shipped (360/s, 4 workers, exp 10 ms,
//!   20 minutes simulated).
//!
//! Run: `cargo bench --bench scenarios -- --warm-up-time 1 --measurement-time 3`.

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use faultline::{RunResult, World};
use std::hint::black_box;
use std::path::Path;

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.ron");
const MM4: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scenarios/queueing/mm4-rho90.ron"
);

/// Requests the workloads sent in one run, warm-up included: the `arrived` count of every
/// workload's entry service over the whole run (entry services are not called by other services
/// in these scenarios, so this counts workload requests only).
fn workload_requests(r: &RunResult) -> u64 {
    r.workloads
        .iter()
        .map(|w| {
            r.services
                .iter()
                .find(|s| s.name == w.entry)
                .expect("the entry service is in the results")
                .ledger
                .arrived
        })
        .sum()
}

/// One run first, outside the measurement: its request count is the throughput unit.
fn probe(name: &str, world: &World) -> u64 {
    let r = faultline::run_world(world, None).expect("the scenario runs");
    let n = workload_requests(&r);
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

    let mut g = c.benchmark_group("scenarios");
    g.sample_size(10);
    for (name, world) in [("quickstart", &quickstart), ("mm4-rho90", &mm4)] {
        let n = probe(name, world);
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| {
            b.iter(|| black_box(faultline::run_world(world, None).expect("the scenario runs")))
        });
    }
    g.finish();
}

/// The clock of the measurements: wall time by default (criterion's own), or the CPU time of the
/// benchmark thread with `FAULTLINE_BENCH_CLOCK=cpu`, which is immune to other processes taking
/// turns on the cores (on a busy shared machine, wall time mostly measures the scheduler).
mod clock {
    use criterion::measurement::{Measurement, ValueFormatter, WallTime};

    pub fn use_cpu_time() -> bool {
        std::env::var("FAULTLINE_BENCH_CLOCK").is_ok_and(|v| v == "cpu")
    }

    /// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in nanoseconds.
    pub struct ThreadCpu(WallTime);

    impl ThreadCpu {
        pub fn new() -> Self {
            eprintln!("clock: thread CPU time");
            ThreadCpu(WallTime)
        }
    }

    #[cfg(target_os = "linux")]
    fn now_ns() -> u64 {
        #[repr(C)]
        struct Timespec {
            tv_sec: i64,
            tv_nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
        let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    #[cfg(not(target_os = "linux"))]
    fn now_ns() -> u64 {
        panic!("FAULTLINE_BENCH_CLOCK=cpu is only supported on Linux")
    }

    impl Measurement for ThreadCpu {
        type Intermediate = u64;
        type Value = u64;

        fn start(&self) -> u64 {
            now_ns()
        }
        fn end(&self, start: u64) -> u64 {
            now_ns() - start
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        /// Nanoseconds, like wall time: criterion's own formatter applies.
        fn formatter(&self) -> &dyn ValueFormatter {
            self.0.formatter()
        }
    }
}

fn main() {
    if clock::use_cpu_time() {
        let mut c = Criterion::default()
            .with_measurement(clock::ThreadCpu::new())
            .configure_from_args();
        scenarios(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        scenarios(&mut c);
        c.final_summary();
    }
}
