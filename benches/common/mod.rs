//! Shared by the benches: the measurement clock, and counting a run's workload requests. Each
//! bench uses a part of it.
#![allow(dead_code)]

use models::results::RunResult;

/// Requests the workloads sent in one run, warm-up included: the `arrived` count of every
/// workload's entry service (entry services are called by no other service in these scenarios, so
/// this counts workload requests only; rate-limited ones included).
pub fn workload_requests(r: &RunResult) -> u64 {
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

/// The clock of the measurements: wall time by default, or the CPU time of the benchmark thread
/// with `FAULTLINE_BENCH_CLOCK=cpu`, which is immune to other processes taking turns on the cores
/// (on a busy shared machine, wall time mostly measures the scheduler). The `ThreadCpu`
/// measurement is the one of `benches/scenarios.rs`; `Clock` adds direct readings, so that the
/// routine can keep its samples for the summary.
pub mod clock {
    use criterion::measurement::{Measurement, ValueFormatter, WallTime};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    pub fn use_cpu_time() -> bool {
        std::env::var("FAULTLINE_BENCH_CLOCK").is_ok_and(|v| v == "cpu")
    }

    /// A measurement whose clock can be read directly, in nanoseconds.
    pub trait Clock: Measurement {
        const NAME: &'static str;
        fn now_ns() -> u64;
        fn value(ns: u64) -> Self::Value;
    }

    impl Clock for WallTime {
        const NAME: &'static str = "wall time";
        // The host's wall time is what this clock measures (as criterion's `WallTime` does),
        // never simulated time: the determinism guard does not apply.
        #[allow(clippy::disallowed_methods)]
        fn now_ns() -> u64 {
            static EPOCH: OnceLock<Instant> = OnceLock::new();
            EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
        }
        fn value(ns: u64) -> Duration {
            Duration::from_nanos(ns)
        }
    }

    impl Clock for ThreadCpu {
        const NAME: &'static str = "thread CPU time";
        fn now_ns() -> u64 {
            now_ns()
        }
        fn value(ns: u64) -> u64 {
            ns
        }
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
