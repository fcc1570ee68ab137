//! Engine micro-benchmarks: the classic *hold model* on sim-core against a plain binary heap.
//!
//! Hold model: `N` events are pending; each processed event schedules one more at
//! `now + exp(mean 1ms)`, so the queue size stays at `N`. Delays are drawn once from a ChaCha8
//! stream into a ring, and every contender reads the same ring, so only the queue differs.
//!
//! Contenders (one criterion group, throughput in events):
//! - `binaryheap`: `std::collections::BinaryHeap<Reverse<(time, seq)>>`, the floor to beat;
//! - `eventqueue`: `sim_core::EventQueue` driven directly;
//! - `sim-run`: the public engine, `sim_core::run` with a tiny `Model`, digest included.
//!
//! A second group measures cancellable timers: every job arms a timeout at `ln(100)` times the
//! mean delay, so 99% of the timers are cancelled when the job completes first (as timeouts are).
//!
//! Run: `cargo bench --bench engine -- --warm-up-time 1 --measurement-time 3`.

use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use rand_core::Rng;
use sim_core::{EventQueue, Limits, Model, RngFactory, Sim, SimDuration, SimTime, TimerId};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

mod common;

/// Mean of the exponential delays, in nanoseconds (1 ms).
const MEAN_NS: f64 = 1e6;
/// Pre-drawn delays, read round-robin (a power of two, so the index is a mask).
const RING: usize = 1 << 16;
/// Events processed per criterion iteration.
const BATCH: u64 = 10_000;
/// Pending events of the hold model.
const SIZES: [usize; 2] = [1_000, 100_000];

/// Exponential delays (mean 1 ms) in whole nanoseconds, from a named ChaCha8 stream.
fn draw_delays() -> Vec<u64> {
    let mut rng = RngFactory::new(1, 0).stream("bench:hold", "delay");
    (0..RING)
        .map(|_| {
            // Uniform in (0, 1]: 53 random bits, never zero, so ln is finite.
            let u = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
            (-u.ln() * MEAN_NS).round() as u64
        })
        .collect()
}

/// The delays as a ring with a cursor.
struct Delays {
    ring: Vec<u64>,
    i: usize,
}

impl Delays {
    fn new(ring: &[u64]) -> Self {
        Delays {
            ring: ring.to_vec(),
            i: 0,
        }
    }

    #[inline(always)]
    fn next(&mut self) -> u64 {
        let d = self.ring[self.i & (RING - 1)];
        self.i = self.i.wrapping_add(1);
        d
    }
}

/// The baseline: a plain binary heap of `(time, seq)`.
struct PlainHold {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    seq: u64,
    delays: Delays,
}

impl PlainHold {
    fn new(n: usize, ring: &[u64]) -> Self {
        let mut h = PlainHold {
            heap: BinaryHeap::with_capacity(n + 1),
            seq: 0,
            delays: Delays::new(ring),
        };
        for _ in 0..n {
            let t = h.delays.next();
            h.heap.push(Reverse((t, h.seq)));
            h.seq += 1;
        }
        h
    }

    fn steps(&mut self, k: u64) -> u64 {
        let mut last = 0;
        for _ in 0..k {
            let Reverse((t, _)) = self.heap.pop().expect("the hold model never empties");
            last = t;
            self.heap.push(Reverse((t + self.delays.next(), self.seq)));
            self.seq += 1;
        }
        last
    }
}

/// `sim_core::EventQueue` driven directly, with a small payload (the job number).
struct QueueHold {
    q: EventQueue<u32>,
    delays: Delays,
}

impl QueueHold {
    fn new(n: usize, ring: &[u64]) -> Self {
        let mut h = QueueHold {
            q: EventQueue::with_capacity(n + 1),
            delays: Delays::new(ring),
        };
        for j in 0..n as u32 {
            let t = h.delays.next();
            h.q.schedule(SimTime::from_ns(t), j);
        }
        h
    }

    fn steps(&mut self, k: u64) -> u64 {
        let mut last = 0;
        for _ in 0..k {
            let (t, j) = self.q.pop().expect("the hold model never empties");
            last = t.as_ns();
            let next = SimTime::from_ns(last + self.delays.next());
            self.q.schedule(next, j);
        }
        last
    }
}

/// The hold model as a `sim_core::Model`, run by `sim_core::run`.
struct HoldModel {
    delays: Delays,
}

impl Model for HoldModel {
    type Event = u32;

    #[inline]
    fn handle(&mut self, sim: &mut Sim<u32>, job: u32) {
        sim.schedule_in(SimDuration::from_ns(self.delays.next()), job);
    }

    fn digest_key(job: &u32) -> (u32, u64) {
        (1, u64::from(*job))
    }
}

struct SimHold {
    model: HoldModel,
    sim: Sim<u32>,
}

impl SimHold {
    fn new(n: usize, ring: &[u64]) -> Self {
        let mut model = HoldModel {
            delays: Delays::new(ring),
        };
        let mut sim = Sim::new::<HoldModel>();
        for j in 0..n as u32 {
            sim.schedule_at(SimTime::from_ns(model.delays.next()), j);
        }
        SimHold { model, sim }
    }

    fn steps(&mut self, k: u64) -> u64 {
        let limits = Limits {
            horizon: SimTime::MAX,
            events_max: k,
            pending_max: usize::MAX,
        };
        let out = sim_core::run(&mut self.model, &mut self.sim, limits).expect("no model error");
        debug_assert_eq!(out.events, k);
        out.digest.value()
    }
}

fn hold<M: Measurement>(c: &mut Criterion<M>) {
    let ring = draw_delays();
    let mut g = c.benchmark_group("hold");
    g.throughput(Throughput::Elements(BATCH));
    for n in SIZES {
        let mut plain = PlainHold::new(n, &ring);
        g.bench_with_input(BenchmarkId::new("binaryheap", n), &n, |b, _| {
            b.iter(|| black_box(plain.steps(BATCH)))
        });
        drop(plain);
        let mut queue = QueueHold::new(n, &ring);
        g.bench_with_input(BenchmarkId::new("eventqueue", n), &n, |b, _| {
            b.iter(|| black_box(queue.steps(BATCH)))
        });
        drop(queue);
        let mut sim = SimHold::new(n, &ring);
        g.bench_with_input(BenchmarkId::new("sim-run", n), &n, |b, _| {
            b.iter(|| black_box(sim.steps(BATCH)))
        });
    }
    g.finish();
}

/// Bit marking a timeout event; the low bits are the job number.
const TIMEOUT: u32 = 1 << 31;

/// Hold model with a timeout per job, on `EventQueue` directly. A job's completion cancels its
/// timer; the timeout is `ln(100)` mean delays, so about 99% of the timers are cancelled.
struct TimerHold {
    q: EventQueue<u32>,
    timers: Vec<TimerId>,
    delays: Delays,
    timeout_ns: u64,
    cancelled: u64,
    fired: u64,
}

fn timeout_ns() -> u64 {
    (100f64.ln() * MEAN_NS).round() as u64
}

impl TimerHold {
    fn new(n: usize, ring: &[u64]) -> Self {
        let mut h = TimerHold {
            q: EventQueue::with_capacity(4 * n),
            timers: Vec::with_capacity(n),
            delays: Delays::new(ring),
            timeout_ns: timeout_ns(),
            cancelled: 0,
            fired: 0,
        };
        for j in 0..n as u32 {
            h.q.schedule(SimTime::from_ns(h.delays.next()), j);
            let id =
                h.q.schedule_timer(SimTime::from_ns(h.timeout_ns), j | TIMEOUT);
            h.timers.push(id);
        }
        h
    }

    /// Processes events until `k` jobs completed.
    fn steps(&mut self, k: u64) -> u64 {
        let mut done = 0;
        while done < k {
            let (t, e) = self.q.pop().expect("the hold model never empties");
            if e & TIMEOUT != 0 {
                self.fired += 1;
                continue;
            }
            done += 1;
            let j = e as usize;
            if self.q.cancel(self.timers[j]) {
                self.cancelled += 1;
            }
            let now = t.as_ns();
            self.q
                .schedule(SimTime::from_ns(now + self.delays.next()), e);
            self.timers[j] = self
                .q
                .schedule_timer(SimTime::from_ns(now + self.timeout_ns), e | TIMEOUT);
        }
        self.q.len() as u64
    }
}

/// The same through the public engine: `Sim::timer_in` and `Sim::cancel`.
struct TimerModel {
    timers: Vec<TimerId>,
    delays: Delays,
    timeout: SimDuration,
}

impl Model for TimerModel {
    type Event = u32;

    #[inline]
    fn handle(&mut self, sim: &mut Sim<u32>, e: u32) {
        if e & TIMEOUT != 0 {
            return;
        }
        let j = e as usize;
        sim.cancel(self.timers[j]);
        sim.schedule_in(SimDuration::from_ns(self.delays.next()), e);
        self.timers[j] = sim.timer_in(self.timeout, e | TIMEOUT);
    }

    fn digest_key(e: &u32) -> (u32, u64) {
        (1 + (e >> 31), u64::from(e & !TIMEOUT))
    }
}

fn timers<M: Measurement>(c: &mut Criterion<M>) {
    let ring = draw_delays();
    let n = 1_000;
    // How many timers get cancelled: one warm run outside the measurement.
    let mut probe = TimerHold::new(n, &ring);
    probe.steps(1_000_000);
    eprintln!(
        "timers: {} cancelled, {} fired ({:.2}% cancelled), {} heap entries for {n} jobs",
        probe.cancelled,
        probe.fired,
        100.0 * probe.cancelled as f64 / (probe.cancelled + probe.fired) as f64,
        probe.q.len(),
    );
    drop(probe);

    let mut g = c.benchmark_group("timers");
    // Elements are completed jobs: each is one schedule, one timer armed and one cancel attempt.
    g.throughput(Throughput::Elements(BATCH));
    let mut q = TimerHold::new(n, &ring);
    g.bench_with_input(BenchmarkId::new("eventqueue-cancel99", n), &n, |b, _| {
        b.iter(|| black_box(q.steps(BATCH)))
    });
    drop(q);

    let mut model = TimerModel {
        timers: Vec::with_capacity(n),
        delays: Delays::new(&ring),
        timeout: SimDuration::from_ns(timeout_ns()),
    };
    let mut sim = Sim::new::<TimerModel>();
    for j in 0..n as u32 {
        sim.schedule_at(SimTime::from_ns(model.delays.next()), j);
        model.timers.push(sim.timer_in(model.timeout, j | TIMEOUT));
    }
    // Count jobs, not events: run until BATCH more jobs completed (timeouts are ~1% extra).
    let limits = Limits {
        horizon: SimTime::MAX,
        events_max: BATCH,
        pending_max: usize::MAX,
    };
    g.bench_with_input(BenchmarkId::new("sim-run-cancel99", n), &n, |b, _| {
        b.iter(|| {
            let out = sim_core::run(&mut model, &mut sim, limits).expect("no model error");
            black_box(out.digest.value())
        })
    });
    g.finish();
}

fn main() {
    if common::clock::use_cpu_time() {
        let mut c = Criterion::default()
            .with_measurement(common::clock::ThreadCpu::new())
            .configure_from_args();
        hold(&mut c);
        timers(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default().configure_from_args();
        hold(&mut c);
        timers(&mut c);
        c.final_summary();
    }
}
