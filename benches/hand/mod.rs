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

/// A queue as the two-event model sees it: the next gap, an arrival, a departure (each
/// returning the end of the work it starts).
trait Served {
    fn gap_ns(&mut self) -> u64;
    fn arrive(&mut self, now: u64) -> Option<u64>;
    fn depart(&mut self, now: u64) -> Option<u64>;
}

impl Served for Queue {
    #[inline(always)]
    fn gap_ns(&mut self) -> u64 {
        Queue::gap_ns(self)
    }
    #[inline(always)]
    fn arrive(&mut self, now: u64) -> Option<u64> {
        Queue::arrive(self, now)
    }
    #[inline(always)]
    fn depart(&mut self, now: u64) -> Option<u64> {
        Queue::depart(self, now)
    }
}

/// A [`Served`] queue as a `sim_core::Model`.
struct OnSim<T>(T);

impl<T: Served> Model for OnSim<T> {
    type Event = Ev;

    #[inline]
    fn handle(&mut self, sim: &mut Sim<Ev>, event: Ev) {
        let now = sim.now().as_ns();
        let next = match event {
            Ev::Arrival => {
                let gap = self.0.gap_ns();
                sim.schedule_in(SimDuration::from_ns(gap), Ev::Arrival);
                self.0.arrive(now)
            }
            Ev::Departure => self.0.depart(now),
        };
        if let Some(t) = next {
            sim.schedule_at(SimTime::from_ns(t), Ev::Departure);
        }
    }

    fn digest_key(event: &Ev) -> (u32, u64) {
        (*event as u32, 0)
    }
}

/// Runs `queue` by `sim_core::run` to `horizon_ns`, and gives it back.
fn run_on_sim_core<T: Served>(queue: T, horizon_ns: u64) -> T {
    let mut m = OnSim(queue);
    let mut sim = Sim::new::<OnSim<T>>();
    let first = m.0.gap_ns();
    sim.schedule_at(SimTime::from_ns(first), Ev::Arrival);
    let limits = Limits {
        horizon: SimTime::from_ns(horizon_ns),
        events_max: u64::MAX,
        pending_max: usize::MAX,
    };
    sim_core::run(&mut m, &mut sim, limits).expect("the queue never schedules into the past");
    m.0
}

/// M/M/1 as a `sim_core::Model`, run by `sim_core::run` to the horizon.
pub fn on_sim_core(p: &Mm1) -> Outcome {
    run_on_sim_core(Queue::new(p), p.horizon_ns).out
}

/// What a scenario file's results need of every customer, kept by hand beside the queue: the
/// floor under the cost of a file's request path. Per customer, as `models::sim` keeps them: the
/// service's and the users' latency histograms (sparse HDR, as the file's) and the wait's for
/// those that waited, with their sums and maxima; the ledgers of the service and of the users
/// (all, and the measured window after the warm-up); per-bucket series (arrived and completed at
/// the service, answered and good for the users); the SLO's good answers; the time-weighted
/// areas of busy workers and queue length.
struct Books {
    warmup_ns: u64,
    resolution_ns: u64,
    slo_ns: u64,
    service: Latency,
    users: Latency,
    wait: Latency,
    /// Arrived, completed; all and measured; the service's and the users'.
    ledgers: [[u64; 2]; 4],
    /// Per bucket: arrived, completed, users' answers, users' good answers.
    series: Vec<[u64; 4]>,
    good: u64,
    busy_area: u128,
    queue_area: u128,
    last_change_ns: u64,
    /// When the customer in service arrived.
    serving_arrived: u64,
}

#[derive(Default)]
struct Latency {
    hist: models::sparse_hist::SparseHistogram,
    sum_ns: u128,
    max_ns: u64,
}

impl Latency {
    #[inline(always)]
    fn record(&mut self, ns: u64) {
        self.hist.record(ns);
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }
}

impl Books {
    #[inline(always)]
    fn touch(&mut self, now: u64, busy: bool, queued: usize) {
        let dt = u128::from(now - self.last_change_ns);
        self.busy_area += u128::from(busy) * dt;
        self.queue_area += queued as u128 * dt;
        self.last_change_ns = now;
    }

    #[inline(always)]
    fn bucket(&mut self, now: u64) -> &mut [u64; 4] {
        let last = self.series.len() - 1;
        let b = (now / self.resolution_ns) as usize;
        &mut self.series[b.min(last)]
    }
}

/// The queue and its books, as a `sim_core::Model`.
struct Measured {
    q: Queue,
    books: Books,
}

impl Served for Measured {
    #[inline(always)]
    fn gap_ns(&mut self) -> u64 {
        self.q.gap_ns()
    }

    #[inline(always)]
    fn arrive(&mut self, now: u64) -> Option<u64> {
        let b = &mut self.books;
        b.touch(now, self.q.busy, self.q.waiting.len());
        // The service's and the users' ledgers; the measured window is by the time of arrival.
        for l in [0, 1] {
            b.ledgers[l][0] += 1;
            if now >= b.warmup_ns {
                b.ledgers[l + 2][0] += 1;
            }
        }
        b.bucket(now)[0] += 1;
        let started = self.q.arrive(now);
        if started.is_some() {
            self.books.serving_arrived = now;
        }
        started
    }

    #[inline(always)]
    fn depart(&mut self, now: u64) -> Option<u64> {
        let b = &mut self.books;
        b.touch(now, self.q.busy, self.q.waiting.len());
        let latency = now - b.serving_arrived;
        let measured = b.serving_arrived >= b.warmup_ns;
        for l in [0, 1] {
            b.ledgers[l][1] += 1;
            if measured {
                b.ledgers[l + 2][1] += 1;
            }
        }
        let good = latency <= b.slo_ns;
        let row = b.bucket(now);
        row[1] += 1;
        row[2] += 1;
        row[3] += u64::from(good);
        if measured {
            b.service.record(latency);
            b.users.record(latency);
            b.good += u64::from(good);
        }
        let next_arrived = self.q.waiting.front().copied();
        let next = self.q.depart(now);
        if let Some(arrived) = next_arrived {
            self.books.serving_arrived = arrived;
            if arrived >= self.books.warmup_ns {
                self.books.wait.record(now - arrived);
            }
        }
        next
    }
}

/// [`on_sim_core`] keeping [`Books`] as the file does (30 s warm-up, 10 s buckets, an SLO of
/// 100 ms): what the queue's draws and events cost plus what its report needs, and nothing of
/// a general request path. Returns the queue's outcome and the measured service latency's count.
pub fn on_sim_core_measured(p: &Mm1) -> (Outcome, u64) {
    let resolution_ns = 10_000_000_000;
    let books = Books {
        warmup_ns: 30_000_000_000,
        resolution_ns,
        slo_ns: 100_000_000,
        service: Latency::default(),
        users: Latency::default(),
        wait: Latency::default(),
        ledgers: [[0; 2]; 4],
        series: vec![[0; 4]; (p.horizon_ns / resolution_ns + 1) as usize],
        good: 0,
        busy_area: 0,
        queue_area: 0,
        last_change_ns: 0,
        serving_arrived: 0,
    };
    let m = Measured {
        q: Queue::new(p),
        books,
    };
    let m = run_on_sim_core(m, p.horizon_ns);
    (m.q.out, m.books.service.hist.len())
}
