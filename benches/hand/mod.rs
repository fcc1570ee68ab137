//! Hand-coded M/M/1 queues, the baselines of the `mm1` scenario file in `benches/scenarios.rs`
//! (issue #20 measured a peer's hand-coded M/M/1 against a raw `BinaryHeap` loop; this is the
//! same pair, written here so that both run in the same criterion run as the file).
//!
//! Both draw exactly what the file's model draws, from the same kind of streams: a ChaCha8
//! stream for the arrivals (exponential gaps, `rand_distr::Exp1` scaled by the mean gap) and one
//! for the work (`rand_distr::Exp`), each rounded to whole nanoseconds. Both keep what a
//! hand-written study of the queue would: customers arrived and served, and the sum of their
//! waits (FIFO, one server, unbounded queue).
//!
//! - [`on_heap`]: a plain `BinaryHeap<Reverse<(time, seq << 1 | kind)>>` loop, the limit;
//! - [`on_sim_core`]: a two-event `sim_core::Model` run by `sim_core::run` (digest included).

use rand::RngExt;
use rand_distr::{Distribution, Exp, Exp1};
use sim_core::{Limits, Model, RngFactory, Sim, SimDuration, SimTime, Stream};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The queue: arrival rate, mean work, horizon, seed.
#[derive(Clone, Copy)]
pub struct Mm1 {
    pub rate_per_s: f64,
    pub work_mean_ns: f64,
    pub horizon_ns: u64,
    pub seed: u64,
}

/// What a run found.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    pub arrived: u64,
    pub served: u64,
    pub wait_ns_sum: u64,
}

/// The queue's state and draws, shared by both loops.
struct Queue {
    gap_mean_ns: f64,
    work: Exp<f64>,
    arrivals: Stream,
    works: Stream,
    /// Arrival times of the customers waiting (the one in service is not here).
    waiting: VecDeque<u64>,
    busy: bool,
    out: Outcome,
}

impl Queue {
    fn new(p: &Mm1) -> Queue {
        let rngs = RngFactory::new(p.seed, 0);
        Queue {
            gap_mean_ns: 1e9 / p.rate_per_s,
            work: Exp::new(1.0 / p.work_mean_ns).expect("a positive mean"),
            arrivals: rngs.stream("workload:server", "arrivals"),
            works: rngs.stream("svc:server", "work"),
            waiting: VecDeque::with_capacity(1024),
            busy: false,
            out: Outcome::default(),
        }
    }

    #[inline(always)]
    fn gap_ns(&mut self) -> u64 {
        let x: f64 = self.arrivals.sample(Exp1);
        (x * self.gap_mean_ns).round() as u64
    }

    #[inline(always)]
    fn work_ns(&mut self) -> u64 {
        self.work.sample(&mut self.works).round() as u64
    }

    /// A customer arrives at `now`: returns the end of its work if the server was free.
    #[inline(always)]
    fn arrive(&mut self, now: u64) -> Option<u64> {
        self.out.arrived += 1;
        if self.busy {
            self.waiting.push_back(now);
            return None;
        }
        self.busy = true;
        Some(now + self.work_ns())
    }

    /// The customer in service leaves at `now`: returns the end of the next one's work.
    #[inline(always)]
    fn depart(&mut self, now: u64) -> Option<u64> {
        self.out.served += 1;
        let Some(arrived) = self.waiting.pop_front() else {
            self.busy = false;
            return None;
        };
        self.out.wait_ns_sum += now - arrived;
        Some(now + self.work_ns())
    }
}

const ARRIVAL: u64 = 0;
const DEPARTURE: u64 = 1;

/// M/M/1 on a plain binary heap: pop, handle, push; nothing else.
pub fn on_heap(p: &Mm1) -> Outcome {
    let mut q = Queue::new(p);
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    let first = q.gap_ns();
    heap.push(Reverse((first, ARRIVAL)));
    while let Some(Reverse((now, key))) = heap.pop() {
        if now > p.horizon_ns {
            break;
        }
        // As the sim-core model does: the next arrival first, then the departure it starts.
        let next = if key & 1 == ARRIVAL {
            seq += 1;
            heap.push(Reverse((now + q.gap_ns(), seq << 1 | ARRIVAL)));
            q.arrive(now)
        } else {
            q.depart(now)
        };
        if let Some(t) = next {
            seq += 1;
            heap.push(Reverse((t, seq << 1 | DEPARTURE)));
        }
    }
    q.out
}

#[derive(Clone, Copy)]
enum Ev {
    Arrival,
    Departure,
}

impl Model for Queue {
    type Event = Ev;

    #[inline]
    fn handle(&mut self, sim: &mut Sim<Ev>, event: Ev) {
        let now = sim.now().as_ns();
        let next = match event {
            Ev::Arrival => {
                let gap = self.gap_ns();
                sim.schedule_in(SimDuration::from_ns(gap), Ev::Arrival);
                self.arrive(now)
            }
            Ev::Departure => self.depart(now),
        };
        if let Some(t) = next {
            sim.schedule_at(SimTime::from_ns(t), Ev::Departure);
        }
    }

    fn digest_key(event: &Ev) -> (u32, u64) {
        (*event as u32, 0)
    }
}

/// M/M/1 as a `sim_core::Model`, run by `sim_core::run` to the horizon.
pub fn on_sim_core(p: &Mm1) -> Outcome {
    let mut q = Queue::new(p);
    let mut sim = Sim::new::<Queue>();
    let first = q.gap_ns();
    sim.schedule_at(SimTime::from_ns(first), Ev::Arrival);
    let limits = Limits {
        horizon: SimTime::from_ns(p.horizon_ns),
        events_max: u64::MAX,
        pending_max: usize::MAX,
    };
    sim_core::run(&mut q, &mut sim, limits).expect("the queue never schedules into the past");
    q.out
}
