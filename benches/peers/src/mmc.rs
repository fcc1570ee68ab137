//! M/M/c (FIFO, unbounded queue) hand-coded on four engines, plus Faultline's scenario file.
//!
//! The queue logic and its draws are those of Faultline's `benches/hand/mod.rs` (two ChaCha8
//! streams from `sim_core::RngFactory`, `Exp1` gaps, `Exp` work, whole ns), generalised from one
//! server to `c`. Every hand-coded contender shares that `Queue`, so only the engine differs, and
//! all four must produce the same `Outcome` (checked in `main`).

use rand::RngExt;
use rand_distr::{Distribution, Exp, Exp1};
use sim_core::{Limits, Model, RngFactory, Sim, SimDuration, SimTime, Stream};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;

#[derive(Clone, Copy)]
pub struct Mmc {
    pub servers: u32,
    pub rate_per_s: f64,
    pub work_mean_ns: f64,
    pub horizon_ns: u64,
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    pub arrived: u64,
    pub served: u64,
    pub wait_ns_sum: u64,
}

pub struct Queue {
    servers: u32,
    gap_mean_ns: f64,
    work: Exp<f64>,
    arrivals: Stream,
    works: Stream,
    waiting: VecDeque<u64>,
    busy: u32,
    pub out: Outcome,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Queue({:?})", self.out)
    }
}

impl Queue {
    pub fn new(p: &Mmc) -> Queue {
        let rngs = RngFactory::new(p.seed, 0);
        Queue {
            servers: p.servers,
            gap_mean_ns: 1e9 / p.rate_per_s,
            work: Exp::new(1.0 / p.work_mean_ns).expect("a positive mean"),
            arrivals: rngs.stream("workload:server", "arrivals"),
            works: rngs.stream("svc:server", "work"),
            waiting: VecDeque::with_capacity(1024),
            busy: 0,
            out: Outcome::default(),
        }
    }
    #[inline(always)]
    pub fn gap_ns(&mut self) -> u64 {
        let x: f64 = self.arrivals.sample(Exp1);
        (x * self.gap_mean_ns).round() as u64
    }
    #[inline(always)]
    fn work_ns(&mut self) -> u64 {
        self.work.sample(&mut self.works).round() as u64
    }
    /// A customer arrives at `now`: the end of its work if a server was free.
    #[inline(always)]
    pub fn arrive(&mut self, now: u64) -> Option<u64> {
        self.out.arrived += 1;
        if self.busy == self.servers {
            self.waiting.push_back(now);
            return None;
        }
        self.busy += 1;
        Some(now + self.work_ns())
    }
    /// A customer leaves at `now`: the end of the next one's work if one was waiting.
    #[inline(always)]
    pub fn depart(&mut self, now: u64) -> Option<u64> {
        self.out.served += 1;
        let Some(arrived) = self.waiting.pop_front() else {
            self.busy -= 1;
            return None;
        };
        self.out.wait_ns_sum += now - arrived;
        Some(now + self.work_ns())
    }
}

// ---- raw heap (hand/mod.rs `on_heap`) ----
pub fn on_heap(p: &Mmc) -> Outcome {
    let mut q = Queue::new(p);
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    heap.push(Reverse((q.gap_ns(), 0)));
    while let Some(Reverse((now, key))) = heap.pop() {
        if now > p.horizon_ns {
            break;
        }
        let next = if key & 1 == 0 {
            seq += 1;
            heap.push(Reverse((now + q.gap_ns(), seq << 1)));
            q.arrive(now)
        } else {
            q.depart(now)
        };
        if let Some(t) = next {
            seq += 1;
            heap.push(Reverse((t, seq << 1 | 1)));
        }
    }
    q.out
}

// ---- sim_core::run (hand/mod.rs `on_sim_core`) ----
#[derive(Clone, Copy)]
pub enum Ev {
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

pub fn on_sim_core(p: &Mmc) -> Outcome {
    let mut q = Queue::new(p);
    let mut sim = Sim::new::<Queue>();
    sim.schedule_at(SimTime::from_ns(q.gap_ns()), Ev::Arrival);
    let limits = Limits {
        horizon: SimTime::from_ns(p.horizon_ns),
        events_max: u64::MAX,
        pending_max: usize::MAX,
    };
    sim_core::run(&mut q, &mut sim, limits).expect("no event in the past");
    q.out
}

// ---- desque 0.4, as its examples/mm1_queue.rs: zero-sized event types, the queue as state ----
#[derive(Debug)]
pub struct DqStore {
    q: Queue,
    stopped: bool,
}

impl desque::SimState<u64> for DqStore {
    fn is_complete(&self, _: &u64) -> bool {
        self.stopped
    }
}

type DqSim = desque::serial::Simulation<DqStore, u64>;

#[derive(Debug)]
struct DqArrival {}
#[derive(Debug)]
struct DqDeparture {}
/// At horizon + 1 ns, scheduled first: every event at or before the horizon runs, as in `on_heap`
/// (desque's example stops on `current_time >= end`, one event late).
#[derive(Debug)]
struct DqStop {}

impl desque::serial::Event<DqStore, u64> for DqArrival {
    fn execute(&mut self, sim: &mut DqSim) -> desque::Result {
        let now = *sim.current_time();
        let gap = sim.state_mut().q.gap_ns();
        sim.schedule_with_delay(DqArrival {}, gap)?;
        if let Some(t) = sim.state_mut().q.arrive(now) {
            sim.schedule(DqDeparture {}, t)?;
        }
        Ok(())
    }
}

impl desque::serial::Event<DqStore, u64> for DqDeparture {
    fn execute(&mut self, sim: &mut DqSim) -> desque::Result {
        let now = *sim.current_time();
        if let Some(t) = sim.state_mut().q.depart(now) {
            sim.schedule(DqDeparture {}, t)?;
        }
        Ok(())
    }
}

impl desque::serial::Event<DqStore, u64> for DqStop {
    fn execute(&mut self, sim: &mut DqSim) -> desque::Result {
        sim.state_mut().stopped = true;
        Ok(())
    }
}

pub fn on_desque(p: &Mmc) -> Outcome {
    let mut sim = DqSim::new(
        DqStore {
            q: Queue::new(p),
            stopped: false,
        },
        0,
    );
    sim.schedule(DqStop {}, p.horizon_ns + 1).unwrap();
    let first = sim.state_mut().q.gap_ns();
    sim.schedule(DqArrival {}, first).unwrap();
    sim.run().unwrap();
    sim.state().q.out
}

// ---- simcore 0.1, callbacks mode: a component with its context, events emitted to itself ----
// Time is simcore's f64, counted here in ns: integer-valued below 2^53, so sums are exact and
// the run is the same as the others'.
#[derive(Clone, serde::Serialize)]
struct ScArrival {}
#[derive(Clone, serde::Serialize)]
struct ScDeparture {}

struct ScServer {
    ctx: simcore::SimulationContext,
    q: Queue,
}

impl simcore::EventHandler for ScServer {
    fn on(&mut self, event: simcore::Event) {
        let now = self.ctx.time() as u64;
        simcore::cast!(match event.data {
            ScArrival {} => {
                let gap = self.q.gap_ns();
                self.ctx.emit_self(ScArrival {}, gap as f64);
                if let Some(t) = self.q.arrive(now) {
                    self.ctx.emit_self(ScDeparture {}, (t - now) as f64);
                }
            }
            ScDeparture {} => {
                if let Some(t) = self.q.depart(now) {
                    self.ctx.emit_self(ScDeparture {}, (t - now) as f64);
                }
            }
        })
    }
}

pub fn on_simcore(p: &Mmc) -> Outcome {
    let mut sim = simcore::Simulation::new(p.seed);
    let ctx = sim.create_context("server");
    let mut q = Queue::new(p);
    let first = q.gap_ns();
    ctx.emit_self(ScArrival {}, first as f64);
    let server = Rc::new(RefCell::new(ScServer { ctx, q }));
    sim.add_handler("server", server.clone());
    sim.step_until_time(p.horizon_ns as f64);
    let out = server.borrow().q.out;
    out
}

// ---- Faultline: the scenario file, loaded once; one iteration = one run of the loaded world ----
/// Customers of a run: the entry service's arrivals (warm-up included), as benches/common counts.
pub fn customers(r: &models::RunResult) -> u64 {
    r.workloads
        .iter()
        .map(|w| {
            r.services
                .iter()
                .find(|s| s.name == w.entry)
                .expect("entry")
                .ledger
                .arrived
        })
        .sum()
}

/// `faultline::run_world(world, None)` without the root crate: the same call into `models` with
/// the same wall-clock guard (no `wall_time_max` in these files, so it always says go on).
// The guard reads the host's clock, as the CLI's does; never simulated time.
#[allow(clippy::disallowed_methods)]
pub fn run_file(world: &models::World) -> models::RunResult {
    let max_ns = world.wall_time_max_ns;
    let start = std::time::Instant::now();
    let keep_going = move || max_ns.is_none_or(|max| start.elapsed().as_nanos() < u128::from(max));
    models::run_world_result(world, world.seed, 0, &keep_going).expect("the scenario runs")
}
