//! The simulation of a [`World`]: the request path (the spine) and the parts that meet it.
//!
//! ```text
//!  client ──Arrival──▶ balance: pick an instance ──Deliver──▶ instance
//!     down? Rejected │ admission: deadline, rate limits, concurrency ─▶ worker │ queue │ Rejected
//!     WorkDone ─▶ faults' effects (errors, corruption) │ store (writes, reads) │ calls, step by step
//!  a call ─▶ chain: throttle ─▶ bulkhead ─▶ breaker ─▶ attempt ──Deliver──▶ callee
//!               refused ─┘      (wait) ─┘   refused ─┘      ├─ Reply ─▶ observe_attempt ─▶ ok │ failed
//!                                                           └─ Timeout ─▶ observe_attempt ─▶ failed
//!  failed attempt ─▶ chain: after_failure ─▶ Retry after backoff │ fallback ─▶ Degraded │ Failed
//!  the parent holds its worker until every call of the step is done; a failed call fails it
//! ```
//!
//! One module per part, each with its own state in `ServiceModel` (fields named after it):
//! `request` (slabs, lifecycle; `instances`), `admission` (`limits`, queues and shedding),
//! `calls` (`calls`, `edges` with their chain), `actions` (the operators': `actions`), `client` (`workloads`, sessions), `balance`
//! (`rotations`, `load`; with `members` and `least`, its sets), `faults` (`schedule`, `process`, `svc_faults`, `hosts`, links), `recovery`
//! (`health`, autoscaling), `memory` (`memory`: OOM kills and their restart back-off), `store` (`stores`, `replicas`, replication messages), `ops` (alerts,
//! rollouts: `versions`, the log), `stats` (`stats`: what is measured), `tracing`, `build`
//! (construction and the first events), `event` (the closed set of events and their digest
//! codes). ARCHITECTURE.md says which part may change what.

use crate::defences::{
    AimdLimit, AttemptFailure, BreakerPhase, BreakerState, Bucket, Budget, ConcurrentBudget,
};
use crate::results::{
    AlertFiring, BreakerTransition, EdgeResult, LatencySummary, Ledger, LogEntry, LogKind,
    RunResult, Series, ServiceResult, StopReason, WorkloadResult, LOG_MAX, SCHEMA_VERSION,
};
use crate::sparse_hist::SparseHistogram;
use crate::trace::{Place, Trace, TraceOptions, Tracer};
use crate::world::{
    AlertKind, ArrivalKind, Autoscale, Balancer, CallDef, ConsumerDef, FaultDef, FaultEffect,
    InstanceDef, RateFn, RateLimitDef, Replacement, ServiceDef, SlowStart, WorkloadDef, World,
};
use rand::RngExt;
use rand_distr::Exp1;
use sim_core::{
    EngineError, Limits, Model, RngFactory, Sim, SimDuration, SimTime, Stop, Stream, TimerId,
};
use std::collections::VecDeque;
use std::fmt;

mod actions;
mod admission;
mod balance;
mod build;
mod bulk;
mod cache;
mod calls;
mod client;
mod contention;
mod disk;
mod event;
mod faults;
mod least;
mod members;
mod memory;
mod net;
mod ops;
mod outlier;
mod probes;
mod queues;
mod recovery;
mod request;
mod restart;
mod slab;
mod stats;
mod store;
mod tracing;

use admission::*;
use balance::*;
use calls::*;
use client::*;
pub use event::Event;
use faults::*;
use ops::*;
use outlier::{Answer, Change, Detector};
use probes::*;
use recovery::*;
use request::*;
use restart::*;
use slab::Slab;
use stats::*;
use store::*;

const NONE: u32 = u32::MAX;

/// One worker pool of an instance.
struct PoolState {
    busy: u32,
    queue: VecDeque<u32>,
}

/// An instance as the request path sees it: its worker pools and queues (its host and its load,
/// which the balancers read on every pick, are dense arrays of their own:
/// `ServiceModel::host_of`, `ServiceModel::load`).
/// The other parts keep their own per-instance state, indexed alike: `process` (faults:
/// crashes, hangs, slowdowns, restarts), `health` (recovery: probes, ejection), `versions`
/// (rollouts), `replicas` (datastores).
///
/// Laid out for the request path: the main pool inline, the refusal debt and whether there is
/// a concurrency limit in one cache line (what admission, the start and the end of
/// work read); the named pools after it. The main pool in a vector of its own cost a wide
/// world a second cold line per request (ten thousand instances, each pool a small allocation
/// of its own).
#[repr(C, align(64))]
struct InstanceState {
    /// Pool 0, the service's main pool.
    main: PoolState,
    /// Requests of an async service whose calls are out (no worker held): in `load`, not in a
    /// pool.
    released: u32,
    /// Worker time owed for refusals (`reject_work`), worked off by the next request to start.
    reject_debt_ns: u64,
    /// The adaptive concurrency limit, if the service has one (boxed: 8 bytes of the line).
    limit: Option<Box<AimdLimit>>,
    /// Pools 1.. are the service's named `pools`.
    named: Vec<PoolState>,
}

const _: () = assert!(
    std::mem::offset_of!(InstanceState, named) <= 64 && std::mem::size_of::<InstanceState>() == 128,
    "the request path's fields in one line"
);

impl InstanceState {
    /// Pool `p` (0: the main pool).
    #[inline]
    fn pool(&self, p: usize) -> &PoolState {
        match p {
            0 => &self.main,
            _ => &self.named[p - 1],
        }
    }

    #[inline]
    fn pool_mut(&mut self, p: usize) -> &mut PoolState {
        match p {
            0 => &mut self.main,
            _ => &mut self.named[p - 1],
        }
    }

    /// Every pool, the main one first.
    fn pools(&self) -> impl Iterator<Item = &PoolState> {
        std::iter::once(&self.main).chain(&self.named)
    }

    /// Takes the first queued request of the first pool with one (an outage or a crash
    /// answers them all).
    fn pop_queued(&mut self) -> Option<u32> {
        std::iter::once(&mut self.main)
            .chain(&mut self.named)
            .find_map(|p| p.queue.pop_front())
    }
}

/// A count of things in flight (requests queued or busy, permits, faults in force) never goes
/// below zero: a decrement past zero is a bug in the model, so it stops the run, in release
/// builds too (where `-= 1` would wrap silently).
trait Counter {
    fn dec(&mut self);
}

macro_rules! counter {
    ($($t:ty),*) => {$(
        impl Counter for $t {
            #[inline]
            #[track_caller]
            fn dec(&mut self) {
                *self = self.checked_sub(1).expect("a count of things in flight went below zero");
            }
        }
    )*};
}

counter!(u8, u16, u32, u64);

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
    requests: Slab<Request>,
    calls: Slab<Call>,
    live: u32,
    instances: Vec<InstanceState>,
    /// The host of each instance (it changes when a replacement moves it), a dense array apart
    /// from `instances`: a health check's probes read ten instances' hosts from one line.
    host_of: Vec<u32>,
    /// Per service: its work draws (`svc:<name>/work`), its faults in force, its balancer, its
    /// rate limiters, and the busy-worker time at its autoscaler's last look.
    work_rngs: Vec<Stream>,
    /// Per service: the draws of its refusals' cost (`svc:<name>/reject`).
    reject_rngs: Vec<Stream>,
    svc_faults: Vec<ServiceFaults>,
    rotations: Vec<Rotation>,
    /// Requests queued or being served, per instance: the load balancers' view (`balance`
    /// changes it, in `load_up` and `load_down`), a dense array apart from the pools.
    load: Vec<u32>,
    /// Per service, its rate limiters, boxed: every admission asks whether there are any, and
    /// a wide world's thousand services answer from 8 KB instead of a 100-byte record each.
    limits: Vec<Option<Box<RateLimits>>>,
    autoscale_busy: Vec<u128>,
    /// Datastores' replication state, by store; `store_of[service]` is a service's store
    /// (`NONE` for a service that stores nothing).
    stores: Vec<StoreState>,
    store_of: Vec<u32>,
    process: Vec<Process>,
    health: Vec<Health>,
    /// Restarts of killed processes (OOM, liveness) and their back-off, per instance.
    crash_loops: Vec<CrashLoop>,
    /// Probes answered through instances' queues and liveness failures, per instance.
    probes: Vec<Probes>,
    /// Per service with outlier detection: its detector (see `outlier`); empty when no service
    /// has one.
    outliers: Vec<Option<Detector>>,
    versions: Vec<Version>,
    replicas: Vec<Replica>,
    /// Caches' entries and fetches, and key draws (see `cache`).
    caches: cache::Caches,
    /// Brokers' messages and their consumers' deliveries (see `queues`).
    queues: queues::Queues,
    /// Datastore rows' versions for conditional writes (see `contention`).
    rows: contention::Rows,
    /// The operators' actions taken: paused services, traffic shifts (see `actions`).
    actions: actions::Actions,
    /// What each service measures (see `stats`).
    stats: Vec<ServiceStats>,
    workloads: Vec<WorkloadState>,
    edges: Vec<EdgeState>,
    /// Per edge, whether requests make its call: its `/skip` draws, taken ahead (`calls::Skip`).
    skips: Vec<Skip>,
    bucket: usize,
    n_buckets: usize,
    guard_hit: Option<StopReason>,
    keep_going: Option<&'w dyn Fn() -> bool>,
    hosts: Vec<HostState>,
    /// Instances on each host.
    host_instances: Vec<Vec<u32>>,
    /// Link faults in force (partitions, delays, losses).
    active_links: Vec<u32>,
    /// Faults in force on call edges (errors, delays, losses).
    edge_faults: Vec<u32>,
    net_rng: Stream,
    /// Failure processes of the faults (see `faults::FaultSchedule`).
    schedule: FaultSchedule,
    /// Feature flags in force per call edge (a call with one is not made).
    edge_off: Vec<u32>,
    alert_states: Vec<AlertState>,
    firings: Vec<crate::results::AlertFiring>,
    deploy_states: Vec<DeployState>,
    log: Vec<crate::results::LogEntry>,
    log_dropped: u64,
    msgs: Slab<ReplMsg>,
    waits: Slab<Wait>,
    write_ids: u32,
    /// Fault occurrences: (fault, unit, label, start, end).
    occurrences: Vec<(u32, u32, String, u64, u64)>,
    pending_failovers: Vec<(u64, u32, u16)>,
    /// The time of the event being handled.
    now_ns: u64,
    /// Records spans when the run is traced (`run_world_traced`); never changes the run.
    tracer: Option<Box<Tracer>>,
    /// Flows on the links with a capacity (see `net`), and message size draws.
    net: net::Fluid,
    sizes: net::Sizes,
    /// Each host's disk (see `disk`; empty without `topology.disk`), and its queue at each
    /// bucket's end (allocated when it is first used).
    disks: Vec<disk::Disk>,
    disk_series: Vec<Vec<u64>>,
    /// Operations submitted to disks and not finished (the backlog guard counts them).
    disk_waiting: u64,
    /// Rebuilds and transfers (see `bulk`).
    bulk: bulk::Bulk,
}

/// Fault occurrences a run keeps for its timeline; later ones are not recorded.
pub const OCCURRENCES_MAX: usize = 1000;

/// Simulates one run of `world` with `seed` and returns its results.
pub fn run_world(world: &World, seed: u64, run: u64) -> Result<RunResult, RunError> {
    run_world_result(world, seed, run, &|| true)
}

/// Simulates one run and returns its results with the latency histograms behind them.
pub fn run_world_with_histograms(
    world: &World,
    seed: u64,
    run: u64,
) -> Result<(RunResult, RunHistograms), RunError> {
    run_world_controlled(world, seed, run, &|| true)
}

/// Simulates one run and records its trace (see [`crate::trace`]). The run is the same as
/// without the trace: same events, same digest.
pub fn run_world_traced(
    world: &World,
    seed: u64,
    run: u64,
    options: &TraceOptions,
) -> Result<(RunResult, Trace), RunError> {
    run_world_traced_controlled(world, seed, run, options, &|| true)
}

/// [`run_world_traced`] with the caller's wall-clock guard (see [`run_world_controlled`]).
pub fn run_world_traced_controlled(
    world: &World,
    seed: u64,
    run: u64,
    options: &TraceOptions,
    keep_going: &dyn Fn() -> bool,
) -> Result<(RunResult, Trace), RunError> {
    let (result, _, tracer) = run_model(world, seed, run, keep_going, Some(Tracer::new(options)))?;
    let tracer = tracer.expect("a traced run keeps its tracer");
    let trace = tracer.finish(world, &result);
    Ok((result, trace))
}

/// Simulates one run; `keep_going` is asked every 65,536 events and at every time-series tick
/// whether the run may go on (the caller's wall-clock guard: the model itself never reads a
/// clock). A `false` stops the run early with `stop: "wall_time_max"`.
pub fn run_world_controlled(
    world: &World,
    seed: u64,
    run: u64,
    keep_going: &dyn Fn() -> bool,
) -> Result<(RunResult, RunHistograms), RunError> {
    run_model(world, seed, run, keep_going, None).map(|(r, h, _)| (r, h))
}

/// [`run_world_controlled`] without the histograms: a run's memory is then what its model
/// holds, never a full histogram per service.
pub fn run_world_result(
    world: &World,
    seed: u64,
    run: u64,
    keep_going: &dyn Fn() -> bool,
) -> Result<RunResult, RunError> {
    run_model(world, seed, run, keep_going, None).map(|(r, _, _)| r)
}

type ModelOutcome = (RunResult, RunHistograms, Option<Box<Tracer>>);

fn run_model(
    world: &World,
    seed: u64,
    run: u64,
    keep_going: &dyn Fn() -> bool,
    tracer: Option<Box<Tracer>>,
) -> Result<ModelOutcome, RunError> {
    let mut model = ServiceModel::new(world, RngFactory::new(seed, run));
    model.keep_going = Some(keep_going);
    model.tracer = tracer;
    let mut sim = Sim::new::<ServiceModel>();
    model.start(&mut sim);
    let limits = Limits {
        horizon: world.horizon,
        events_max: world.events_max,
        pending_max: usize::try_from(world.events_pending_max).unwrap_or(usize::MAX),
    };
    let outcome = sim_core::run(&mut model, &mut sim, limits).map_err(RunError::Engine)?;
    let stop = match (outcome.stop, model.guard_hit) {
        (Stop::Model, Some(guard)) => guard,
        (Stop::EventsMax, _) => StopReason::EventsMax,
        (Stop::PendingMax, _) => StopReason::EventsPendingMax,
        _ => StopReason::Horizon,
    };
    if model.tracer.is_some() {
        model.trace_in_flight(outcome.end.as_ns());
    }
    let mut tracer = model.tracer.take();
    let (result, histograms) = model.into_result(
        seed,
        run,
        outcome.end,
        stop,
        outcome.events,
        outcome.digest.hex(),
    );
    Ok((result, histograms, tracer.take()))
}

use crate::results::RunHistograms;

/// The request slab is copied and scanned on every event: keep a request small.
const _: () = assert!(std::mem::size_of::<Request>() <= 128);

impl Model for ServiceModel<'_> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, sim: &mut Sim<Event>, event: Event) {
        self.now_ns = sim.now().as_ns();
        match event {
            Event::Arrival { workload } => self.on_arrival(sim, workload),
            Event::Deliver { req } => self.deliver(sim, req),
            Event::WorkDone { req } => self.on_work_done(sim, req),
            Event::Reply { req } => self.on_reply(sim, req),
            Event::Timeout { req } => self.on_timeout(sim, req),
            Event::Retry { call } => {
                self.calls[call].retry_timer = None;
                if self.tracer.is_some() {
                    self.trace_call(call, "retry", self.calls[call].attempts + 1);
                }
                self.attempt(sim, call, Ask::New)
            }
            Event::Hedge { call } => self.on_hedge(sim, call),
            Event::ClientRetry { req } => self.on_client_retry(sim, req),
            Event::BulkheadWait { call } => self.on_bulkhead_wait(sim, call),
            Event::Fault { proc, start } => {
                let (fault, unit) = self.schedule.owner[proc as usize];
                self.on_fault(sim, fault, unit, start)
            }
            Event::Health { service } => self.on_health(sim, service),
            Event::OutlierReview { service } => self.on_outlier_review(sim, service),
            Event::Replaced { instance } => self.on_replaced(sim, instance),
            Event::Restart { instance, kill } => self.on_restart(sim, instance, kill),
            Event::Liveness { instance } => self.on_liveness(sim, instance),
            Event::ProbeTimeout { req } => self.on_probe_timeout(sim, req),
            Event::Gc { instance, end } => self.on_gc(sim, instance, end),
            Event::Visibility { msg } => self.on_visibility(sim, msg),
            Event::Replicate { msg } => self.on_replicate(sim, msg),
            Event::ReplicaAck { msg } => self.on_replica_ack(sim, msg),
            Event::ReplTimeout { wait } => self.on_repl_timeout(sim, wait),
            Event::Failover { service, epoch } => self.on_failover(sim, service, epoch),
            Event::ClientTimeout { req } => self.on_client_timeout(sim, req),
            Event::Deploy { deploy, step } => self.on_deploy(sim, u32::from(deploy), step),
            Event::Rollback { deploy } => self.on_rollback(sim, deploy),
            Event::Autoscale { service } => self.on_autoscale(sim, service),
            Event::ScaleUp { instance } => self.on_scale_up(sim, instance),
            Event::Action { action, step } => self.on_action(sim, u32::from(action), step),
            Event::Tick => self.on_tick(sim),
            Event::WarmupEnd => self.on_warmup_end(sim.now().as_ns()),
            Event::Net => self.on_net(sim),
            Event::DiskDone { host } => self.on_disk_done(sim, host),
            Event::Chunk { chunk, stage } => self.on_chunk(sim, chunk, stage),
        }
        if self.bulk.dirty {
            self.flush_rebuilds(sim);
        }
        if !self.pending_failovers.is_empty() {
            self.flush_failovers(sim);
        }
        if self.queues.dirty {
            self.flush_dispatch(sim);
        }
    }

    #[inline]
    fn digest_key(event: &Event) -> (u32, u64) {
        event.digest_key()
    }

    fn keep_going(&mut self) -> bool {
        self.poll_wall_clock()
    }
}
