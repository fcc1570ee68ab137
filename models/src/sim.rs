//! The simulation of a [`World`]: requests flowing through service instances.
//!
//! ```text
//!  workload ──Arrival──▶ instance of entry service
//!                          │ free worker? ──yes──▶ Working ──WorkDone──▶ calls, step by step
//!                          │ room in queue? ─yes─▶ Queued (FIFO) ──▶ Working when a worker frees
//!                          └ otherwise ─────────▶ Rejected (answered at once)
//!  a call: child request ──Deliver (after network latency)──▶ callee instance, same rules
//!  an answer ──Reply (after network latency)──▶ parent; the step ends when all its calls answered
//!  a failed or rejected call fails the parent; the worker is held until the request finishes
//! ```
//!
//! Events: `Arrival` (next request of a workload), `Deliver` (a request reaches an instance),
//! `WorkDone` (local work finished), `Reply` (an answer reaches the caller), `Tick` (time-series
//! bucket closes), `WarmupEnd` (measurement starts).
//!
//! Randomness: `workload:<name>/arrivals`, `/client-out` and `/client-back`, `svc:<name>/work` and
//! `/balance`, `edge:<from>-><to>/request` and `/reply`. Each stream belongs to one component and purpose, so a change in
//! one component never shifts another's draws (common random numbers across variants).

use crate::results::{
    LatencySummary, Ledger, RunResult, Series, ServiceResult, WorkloadResult, SCHEMA_VERSION,
};
use crate::spec::Balancer;
use crate::world::{ArrivalKind, World};
use hdrhistogram::Histogram;
use rand::RngExt;
use rand_distr::Exp1;
use sim_core::{EngineError, Limits, Model, RngFactory, Sim, SimDuration, SimTime, Stop, Stream};
use std::collections::VecDeque;
use std::fmt;

const NONE: u32 = u32::MAX;
/// Latencies above this are clamped in the histograms (the exact maximum is kept apart).
const HIST_MAX_NS: u64 = 3_600_000_000_000;

/// One event of the service model.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Arrival { workload: u32 },
    Deliver { req: u32 },
    WorkDone { req: u32 },
    Reply { req: u32 },
    Tick,
    WarmupEnd,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Travelling to its instance.
    InNetwork,
    Queued,
    Working,
    /// Holding a worker while its calls are out.
    Calling,
    /// Answered; its reply may still be travelling back to the caller.
    Done,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Completed,
    Rejected,
    Failed,
}

#[derive(Copy, Clone, Debug)]
struct Request {
    parent: u32,
    service: u32,
    instance: u32,
    workload: u32,
    /// Host of the caller instance, where the reply goes; `NONE` for a workload's request.
    caller_host: u32,
    /// Call edge this request travels on; `NONE` for a workload's request.
    edge: u32,
    created_ns: u64,
    arrived_ns: u64,
    step: u16,
    pending: u16,
    phase: Phase,
    outcome: Outcome,
    failed_call: bool,
    measured: bool,
}

struct InstanceState {
    busy: u32,
    /// Requests queued or being served here: the load balancers' view.
    outstanding: u32,
    queue: VecDeque<u32>,
}

struct LatencyStats {
    hist: Histogram<u64>,
    sum_ns: u128,
    max_ns: u64,
}

impl LatencyStats {
    fn new() -> Self {
        LatencyStats {
            hist: new_latency_histogram(),
            sum_ns: 0,
            max_ns: 0,
        }
    }

    #[inline]
    fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns);
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    fn summary(&self) -> LatencySummary {
        let count = self.hist.len();
        if count == 0 {
            return LatencySummary::default();
        }
        let q = |p: f64| self.hist.value_at_quantile(p).min(self.max_ns);
        LatencySummary {
            count,
            mean_ns: self.sum_ns as f64 / count as f64,
            p50_ns: q(0.5),
            p90_ns: q(0.9),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: self.max_ns,
        }
    }
}

struct ServiceState {
    work_rng: Stream,
    balance_rng: Stream,
    round_robin: u32,
    measured: Ledger,
    all: Ledger,
    latency: LatencyStats,
    started: u64,
    waited: u64,
    wait_sum_ns: u128,
    busy_now: u64,
    queue_now: u64,
    busy_area: u128,
    queue_area: u128,
    last_change_ns: u64,
    series: Series,
}

impl ServiceState {
    /// Folds the time since the last change into the time-weighted areas.
    #[inline]
    fn touch(&mut self, now_ns: u64) {
        let dt = u128::from(now_ns - self.last_change_ns);
        self.busy_area += u128::from(self.busy_now) * dt;
        self.queue_area += u128::from(self.queue_now) * dt;
        self.last_change_ns = now_ns;
    }
}

struct WorkloadState {
    arrival_rng: Stream,
    /// Client latency towards the service, and back: two streams, so that the order in which
    /// answers come back (which differs between designs) never shifts the requests' draws.
    client_out_rng: Stream,
    client_back_rng: Stream,
    measured: Ledger,
    all: Ledger,
    latency: LatencyStats,
}

/// A failure of a run (never of the input: that is caught when the world is built).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunError {
    Engine(EngineError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Engine(e) => write!(f, "engine error: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The service model, driven by the engine.
pub struct ServiceModel<'w> {
    world: &'w World,
    requests: Vec<Request>,
    free: Vec<u32>,
    live: u32,
    instances: Vec<InstanceState>,
    services: Vec<ServiceState>,
    workloads: Vec<WorkloadState>,
    /// Per call edge, latency of requests `[0]` and of replies `[1]`.
    edge_rngs: Vec<[Stream; 2]>,
    bucket: usize,
    n_buckets: usize,
    guard_hit: Option<&'static str>,
}

/// Latency histograms of one run (nanoseconds, 3 significant digits), for merging across runs.
pub struct RunHistograms {
    /// One per service, in the world's order.
    pub services: Vec<Histogram<u64>>,
    /// One per workload (end to end).
    pub workloads: Vec<Histogram<u64>>,
}

/// Simulates one run of `world` with `seed` and returns its results.
pub fn run_world(world: &World, seed: u64, run: u64) -> Result<RunResult, RunError> {
    run_world_with_histograms(world, seed, run).map(|(r, _)| r)
}

/// Simulates one run and returns its results with the latency histograms behind them.
pub fn run_world_with_histograms(world: &World, seed: u64, run: u64) -> Result<(RunResult, RunHistograms), RunError> {
    let mut model = ServiceModel::new(world, RngFactory::new(seed, run));
    let mut sim = Sim::new::<ServiceModel>();
    model.start(&mut sim);
    let limits = Limits {
        horizon: world.horizon,
        events_max: world.events_max,
    };
    let outcome = sim_core::run(&mut model, &mut sim, limits).map_err(RunError::Engine)?;
    let stop = match (outcome.stop, model.guard_hit) {
        (Stop::Model, Some(guard)) => guard,
        (Stop::EventsMax, _) => "events_max",
        _ => "horizon",
    };
    Ok(model.into_result(
        seed,
        run,
        outcome.end,
        stop,
        outcome.events,
        outcome.digest.hex(),
    ))
}

/// An empty histogram with the bounds every run uses, so that histograms of runs merge exactly.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds")
}

impl<'w> ServiceModel<'w> {
    fn new(world: &'w World, rngs: RngFactory) -> Self {
        let n_buckets = world.n_buckets();
        let series = Series {
            resolution_ns: world.resolution.as_ns(),
            arrived: vec![0; n_buckets],
            completed: vec![0; n_buckets],
            rejected: vec![0; n_buckets],
            failed: vec![0; n_buckets],
            queue_len: vec![0; n_buckets],
            busy: vec![0; n_buckets],
        };
        let services = world
            .services
            .iter()
            .map(|s| ServiceState {
                work_rng: rngs.stream(&format!("svc:{}", s.name), "work"),
                balance_rng: rngs.stream(&format!("svc:{}", s.name), "balance"),
                round_robin: 0,
                measured: Ledger::default(),
                all: Ledger::default(),
                latency: LatencyStats::new(),
                started: 0,
                waited: 0,
                wait_sum_ns: 0,
                busy_now: 0,
                queue_now: 0,
                busy_area: 0,
                queue_area: 0,
                last_change_ns: 0,
                series: series.clone(),
            })
            .collect();
        let workloads = world
            .workloads
            .iter()
            .map(|w| WorkloadState {
                arrival_rng: rngs.stream(&format!("workload:{}", w.name), "arrivals"),
                client_out_rng: rngs.stream(&format!("workload:{}", w.name), "client-out"),
                client_back_rng: rngs.stream(&format!("workload:{}", w.name), "client-back"),
                measured: Ledger::default(),
                all: Ledger::default(),
                latency: LatencyStats::new(),
            })
            .collect();
        let edge_rngs = world
            .calls
            .iter()
            .map(|c| {
                let (from, to) = (
                    &world.services[c.from as usize].name,
                    &world.services[c.to as usize].name,
                );
                let edge = format!("edge:{from}->{to}");
                [rngs.stream(&edge, "request"), rngs.stream(&edge, "reply")]
            })
            .collect();
        let instances = world
            .instances
            .iter()
            .map(|_| InstanceState {
                busy: 0,
                outstanding: 0,
                queue: VecDeque::new(),
            })
            .collect();
        ServiceModel {
            world,
            requests: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            live: 0,
            instances,
            services,
            workloads,
            edge_rngs,
            bucket: 0,
            n_buckets,
            guard_hit: None,
        }
    }

    fn start(&mut self, sim: &mut Sim<Event>) {
        for w in 0..self.world.workloads.len() as u32 {
            if let Some(t) = self.next_arrival(w, 0) {
                sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
            }
        }
        sim.schedule_at(SimTime::ZERO.after(self.world.resolution), Event::Tick);
        if self.world.warmup > SimTime::ZERO {
            sim.schedule_at(self.world.warmup, Event::WarmupEnd);
        }
    }

    /// The time of the next arrival of workload `w` after `t_ns`, or `None` when there is none
    /// before the horizon. Poisson arrivals with a changing rate are drawn by thinning, segment by
    /// segment of the rate function (exact for steps and ramps).
    fn next_arrival(&mut self, w: u32, t_ns: u64) -> Option<u64> {
        let def = &self.world.workloads[w as usize];
        let rng = &mut self.workloads[w as usize].arrival_rng;
        let horizon = self.world.horizon.as_ns();
        let mut t = t_ns;
        while t <= horizon {
            let (_, end, r0, r1) = def.rate.segment(t);
            let r_max = r0.max(r1);
            if r_max <= 0.0 {
                if end == u64::MAX {
                    return None;
                }
                t = end;
                continue;
            }
            let candidate = match def.kind {
                ArrivalKind::Poisson => {
                    let x: f64 = rng.sample(Exp1);
                    t.saturating_add((x * 1e9 / r_max).round() as u64)
                }
                ArrivalKind::Constant => {
                    let r = def.rate.at(t);
                    if r <= 0.0 {
                        t = end; // a ramp up from zero: start at its end
                        continue;
                    }
                    return Some(t.saturating_add(((1e9 / r).round() as u64).max(1)))
                        .filter(|&c| c <= horizon);
                }
            };
            if end != u64::MAX && candidate >= end {
                t = end; // memoryless: restart at the segment boundary with the next rate
                continue;
            }
            if r0 == r1 || rng.random::<f64>() * r_max <= def.rate.at(candidate) {
                return Some(candidate).filter(|&c| c <= horizon);
            }
            t = candidate;
        }
        None
    }

    fn alloc(&mut self, sim: &mut Sim<Event>, req: Request) -> u32 {
        self.live += 1;
        if self.live > self.world.requests_in_flight_max && self.guard_hit.is_none() {
            self.guard_hit = Some("requests_in_flight_max");
            sim.request_stop();
        }
        match self.free.pop() {
            Some(idx) => {
                self.requests[idx as usize] = req;
                idx
            }
            None => {
                self.requests.push(req);
                (self.requests.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, idx: u32) {
        self.live -= 1;
        self.free.push(idx);
    }

    /// Chooses an instance of service `s` by its balancer.
    fn pick_instance(&mut self, s: u32) -> u32 {
        let def = &self.world.services[s as usize];
        let st = &mut self.services[s as usize];
        let n = def.n_instances;
        let first = def.first_instance;
        let offset = match def.balancer {
            _ if n == 1 => 0,
            Balancer::RoundRobin => {
                let k = st.round_robin;
                st.round_robin = (k + 1) % n;
                k
            }
            Balancer::Random => st.balance_rng.random_range(0..n),
            Balancer::LeastOutstanding => (0..n)
                .min_by_key(|&k| self.instances[(first + k) as usize].outstanding)
                .unwrap_or(0),
            Balancer::PowerOfTwo => {
                let a = st.balance_rng.random_range(0..n);
                let b = (a + 1 + st.balance_rng.random_range(0..n - 1)) % n;
                let load = |k: u32| self.instances[(first + k) as usize].outstanding;
                if load(b) < load(a) {
                    b
                } else {
                    a
                }
            }
        };
        first + offset
    }

    fn on_arrival(&mut self, sim: &mut Sim<Event>, w: u32) {
        let now = sim.now().as_ns();
        let entry = self.world.workloads[w as usize].entry;
        let measured = sim.now() >= self.world.warmup;
        let instance = self.pick_instance(entry);
        let req = self.alloc(
            sim,
            Request {
                parent: NONE,
                service: entry,
                instance,
                workload: w,
                caller_host: NONE,
                edge: NONE,
                created_ns: now,
                arrived_ns: now,
                step: 0,
                pending: 0,
                phase: Phase::InNetwork,
                outcome: Outcome::Pending,
                failed_call: false,
                measured,
            },
        );
        let ws = &mut self.workloads[w as usize];
        ws.all.arrived += 1;
        if measured {
            ws.measured.arrived += 1;
        }
        if self.world.client_latency.is_zero() {
            self.deliver(sim, req);
        } else {
            let delay = self.world.client_latency.sample(&mut ws.client_out_rng);
            sim.schedule_in(delay, Event::Deliver { req });
        }
        if let Some(t) = self.next_arrival(w, now) {
            sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
        }
    }

    /// A request reaches its instance: serve, queue or reject it.
    fn deliver(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req as usize];
        r.arrived_ns = now;
        let (s, i, measured) = (r.service as usize, r.instance as usize, r.measured);
        let cap = self.world.services[s].queue_cap;
        let workers = self.world.services[s].workers;
        let bucket = self.bucket;
        let st = &mut self.services[s];
        st.all.arrived += 1;
        st.series.arrived[bucket] += 1;
        if measured {
            st.measured.arrived += 1;
        }
        let inst = &mut self.instances[i];
        if inst.busy < workers {
            inst.outstanding += 1;
            self.start_work(sim, req, false);
        } else if (inst.queue.len() as u64) < u64::from(cap) {
            inst.outstanding += 1;
            inst.queue.push_back(req);
            st.touch(now);
            st.queue_now += 1;
            self.requests[req as usize].phase = Phase::Queued;
        } else {
            st.all.rejected += 1;
            st.series.rejected[bucket] += 1;
            if measured {
                st.measured.rejected += 1;
            }
            let r = &mut self.requests[req as usize];
            r.phase = Phase::Done;
            r.outcome = Outcome::Rejected;
            self.respond(sim, req);
        }
    }

    /// A worker takes `req` (which has already been counted in `outstanding`).
    fn start_work(&mut self, sim: &mut Sim<Event>, req: u32, waited: bool) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Working;
        let (s, i) = (r.service as usize, r.instance as usize);
        let st = &mut self.services[s];
        if r.measured {
            st.started += 1;
            if waited {
                st.waited += 1;
                st.wait_sum_ns += u128::from(now - r.arrived_ns);
            }
        }
        st.touch(now);
        st.busy_now += 1;
        self.instances[i].busy += 1;
        let work = self.world.services[s].work.sample(&mut st.work_rng);
        sim.schedule_in(work, Event::WorkDone { req });
    }

    /// Makes the calls of the request's current step, or finishes it after the last step.
    fn advance(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req as usize];
        let steps = &self.world.services[r.service as usize].steps;
        let Some(&(start, len)) = steps.get(r.step as usize) else {
            self.finish(sim, req, Outcome::Completed);
            return;
        };
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Calling;
        r.pending = len as u16;
        let (workload, instance) = (r.workload, r.instance);
        let caller_host = self.world.instances[instance as usize].host_idx;
        let now = sim.now();
        let measured = now >= self.world.warmup;
        for edge in start..start + len {
            let to = self.world.calls[edge as usize].to;
            let instance = self.pick_instance(to);
            let child = self.alloc(
                sim,
                Request {
                    parent: req,
                    service: to,
                    instance,
                    workload,
                    caller_host,
                    edge,
                    created_ns: now.as_ns(),
                    arrived_ns: now.as_ns(),
                    step: 0,
                    pending: 0,
                    phase: Phase::InNetwork,
                    outcome: Outcome::Pending,
                    failed_call: false,
                    measured,
                },
            );
            let delay = self.network_delay(
                edge,
                false,
                caller_host,
                self.world.instances[instance as usize].host_idx,
            );
            sim.schedule_in(delay, Event::Deliver { req: child });
        }
    }

    #[inline]
    fn network_delay(&mut self, edge: u32, reply: bool, from_host: u32, to_host: u32) -> SimDuration {
        let dist = &self.world.latency[self.world.distance(from_host, to_host) as usize];
        dist.sample(&mut self.edge_rngs[edge as usize][usize::from(reply)])
    }

    /// The request leaves its worker with `outcome`; the next queued request takes the worker.
    fn finish(&mut self, sim: &mut Sim<Event>, req: u32, outcome: Outcome) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Done;
        r.outcome = outcome;
        let (s, i, measured, latency) = (
            r.service as usize,
            r.instance as usize,
            r.measured,
            now - r.arrived_ns,
        );
        let bucket = self.bucket;
        let st = &mut self.services[s];
        match outcome {
            Outcome::Completed => {
                st.all.completed += 1;
                st.series.completed[bucket] += 1;
                if measured {
                    st.measured.completed += 1;
                    st.latency.record(latency);
                }
            }
            Outcome::Failed => {
                st.all.failed += 1;
                st.series.failed[bucket] += 1;
                if measured {
                    st.measured.failed += 1;
                }
            }
            Outcome::Pending | Outcome::Rejected => {
                unreachable!("finish is for requests that held a worker")
            }
        }
        st.touch(now);
        st.busy_now -= 1;
        let inst = &mut self.instances[i];
        inst.busy -= 1;
        inst.outstanding -= 1;
        if let Some(next) = inst.queue.pop_front() {
            st.queue_now -= 1;
            self.start_work(sim, next, true);
        }
        self.respond(sim, req);
    }

    /// Sends the answer of a finished or rejected request to its caller.
    fn respond(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req as usize];
        if r.parent != NONE {
            let host = self.world.instances[r.instance as usize].host_idx;
            let delay = self.network_delay(r.edge, true, host, r.caller_host);
            sim.schedule_in(delay, Event::Reply { req });
            return;
        }
        let ws = &mut self.workloads[r.workload as usize];
        let back = if self.world.client_latency.is_zero() {
            0
        } else {
            self.world.client_latency.sample(&mut ws.client_back_rng).as_ns()
        };
        let counts = |l: &mut Ledger| match r.outcome {
            Outcome::Completed => l.completed += 1,
            Outcome::Rejected => l.rejected += 1,
            Outcome::Failed => l.failed += 1,
            Outcome::Pending => unreachable!("a pending request does not respond"),
        };
        counts(&mut ws.all);
        if r.measured {
            counts(&mut ws.measured);
            if r.outcome == Outcome::Completed {
                ws.latency.record(sim.now().as_ns() - r.created_ns + back);
            }
        }
        self.release(req);
    }

    fn on_reply(&mut self, sim: &mut Sim<Event>, child: u32) {
        let c = self.requests[child as usize];
        self.release(child);
        let p = &mut self.requests[c.parent as usize];
        debug_assert_eq!(p.phase, Phase::Calling);
        p.pending -= 1;
        if c.outcome != Outcome::Completed {
            p.failed_call = true;
        }
        if p.pending > 0 {
            return;
        }
        if p.failed_call {
            self.finish(sim, c.parent, Outcome::Failed);
        } else {
            p.step += 1;
            self.advance(sim, c.parent);
        }
    }

    fn on_tick(&mut self, sim: &mut Sim<Event>) {
        let b = self.bucket;
        for st in &mut self.services {
            st.series.queue_len[b] = st.queue_now;
            st.series.busy[b] = st.busy_now;
        }
        if b + 1 < self.n_buckets {
            self.bucket = b + 1;
            sim.schedule_in(self.world.resolution, Event::Tick);
        }
    }

    fn on_warmup_end(&mut self, now_ns: u64) {
        for st in &mut self.services {
            st.touch(now_ns);
            st.busy_area = 0;
            st.queue_area = 0;
        }
    }

    fn into_result(
        mut self,
        seed: u64,
        run: u64,
        end: SimTime,
        stop: &str,
        events: u64,
        digest: String,
    ) -> (RunResult, RunHistograms) {
        let end_ns = end.as_ns();
        let measured_ns = end_ns.saturating_sub(self.world.warmup.as_ns()).max(1);
        let secs = measured_ns as f64 / 1e9;
        // Count what is still in flight by looking at the live requests themselves, so that the
        // ledger is a real check and not arithmetic that balances by construction.
        let mut in_flight = vec![(0u64, 0u64); self.services.len()];
        let mut wl_in_flight = vec![(0u64, 0u64); self.workloads.len()];
        let mut is_free = vec![false; self.requests.len()];
        for &f in &self.free {
            is_free[f as usize] = true;
        }
        for (idx, r) in self.requests.iter().enumerate() {
            if is_free[idx] {
                continue;
            }
            if matches!(r.phase, Phase::Queued | Phase::Working | Phase::Calling) {
                in_flight[r.service as usize].0 += 1;
                in_flight[r.service as usize].1 += u64::from(r.measured);
            }
            if r.parent == NONE {
                wl_in_flight[r.workload as usize].0 += 1;
                wl_in_flight[r.workload as usize].1 += u64::from(r.measured);
            }
        }
        if self.bucket < self.n_buckets {
            let b = self.bucket;
            for st in &mut self.services {
                if st.series.busy[b] == 0 && st.series.queue_len[b] == 0 {
                    st.series.queue_len[b] = st.queue_now;
                    st.series.busy[b] = st.busy_now;
                }
            }
        }
        let services = self
            .services
            .iter_mut()
            .enumerate()
            .map(|(s, st)| {
                st.touch(end_ns);
                let def = &self.world.services[s];
                st.all.in_flight = in_flight[s].0;
                st.measured.in_flight = in_flight[s].1;
                check_ledger(&st.all, &def.name, seed, run);
                check_ledger(&st.measured, &def.name, seed, run);
                let capacity = f64::from(def.workers) * f64::from(def.n_instances);
                ServiceResult {
                    name: def.name.clone(),
                    n_instances: def.n_instances,
                    workers: def.workers,
                    measured: st.measured,
                    ledger: st.all,
                    offered_per_s: st.measured.arrived as f64 / secs,
                    throughput_per_s: st.measured.completed as f64 / secs,
                    utilization: st.busy_area as f64 / measured_ns as f64 / capacity,
                    queue_len_mean: st.queue_area as f64 / measured_ns as f64,
                    in_system_mean: (st.busy_area + st.queue_area) as f64 / measured_ns as f64,
                    wait_probability: ratio(st.waited, st.started),
                    wait_ns_mean: if st.started == 0 {
                        0.0
                    } else {
                        st.wait_sum_ns as f64 / st.started as f64
                    },
                    latency: st.latency.summary(),
                    series: std::mem::take(&mut st.series),
                }
            })
            .collect();
        let workloads = self
            .workloads
            .iter_mut()
            .enumerate()
            .map(|(w, ws)| {
                let def = &self.world.workloads[w];
                ws.all.in_flight = wl_in_flight[w].0;
                ws.measured.in_flight = wl_in_flight[w].1;
                check_ledger(&ws.all, &def.name, seed, run);
                WorkloadResult {
                    name: def.name.clone(),
                    entry: self.world.services[def.entry as usize].name.clone(),
                    measured: ws.measured,
                    latency: ws.latency.summary(),
                }
            })
            .collect();
        let histograms = RunHistograms {
            services: self.services.into_iter().map(|s| s.latency.hist).collect(),
            workloads: self.workloads.into_iter().map(|w| w.latency.hist).collect(),
        };
        let result = RunResult {
            schema_version: SCHEMA_VERSION,
            scenario: self.world.name.clone(),
            seed,
            run,
            horizon_ns: self.world.horizon.as_ns(),
            warmup_ns: self.world.warmup.as_ns(),
            measured_ns,
            stop: stop.to_string(),
            events,
            digest,
            services,
            workloads,
        };
        (result, histograms)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The conservation ledger: every request that arrived is accounted for. A failure is a bug in
/// the model, never in the input, so it is an assertion.
fn check_ledger(l: &Ledger, name: &str, seed: u64, run: u64) {
    assert!(
        l.balanced(),
        "conservation ledger of `{name}` does not balance in seed {seed} run {run}: {l:?}"
    );
}

impl Model for ServiceModel<'_> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, sim: &mut Sim<Event>, event: Event) {
        match event {
            Event::Arrival { workload } => self.on_arrival(sim, workload),
            Event::Deliver { req } => self.deliver(sim, req),
            Event::WorkDone { req } => {
                self.requests[req as usize].step = 0;
                self.advance(sim, req);
            }
            Event::Reply { req } => self.on_reply(sim, req),
            Event::Tick => self.on_tick(sim),
            Event::WarmupEnd => self.on_warmup_end(sim.now().as_ns()),
        }
    }

    fn digest_key(event: &Event) -> (u32, u64) {
        match *event {
            Event::Arrival { workload } => (1, u64::from(workload)),
            Event::Deliver { req } => (2, u64::from(req)),
            Event::WorkDone { req } => (3, u64::from(req)),
            Event::Reply { req } => (4, u64::from(req)),
            Event::Tick => (5, 0),
            Event::WarmupEnd => (6, 0),
        }
    }
}
