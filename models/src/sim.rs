//! The simulation of a [`World`]: requests flowing through service instances, calls guarded by the
//! caller's defences, and injected faults.
//!
//! ```text
//!  workload ──Arrival──▶ instance of the entry service
//!     instance: down? ─▶ Rejected │ free worker? ─▶ Working │ room in queue? ─▶ Queued │ else Rejected
//!     Working ──WorkDone──▶ injected error? ─▶ Failed │ else the calls, step by step
//!  a call ── breaker ─▶ bulkhead ─▶ attempt: child request ──Deliver (network)──▶ callee
//!          refused ─┘   full ─┘         ├─ Reply (network) ─▶ ok, or a failed attempt
//!                                       └─ Timeout (timer) ─▶ a failed attempt (the child runs on)
//!  a failed attempt ─▶ retry after backoff (if allowed and in budget) │ fallback ─▶ Degraded │ Failed
//!  the parent holds its worker until every call of the step is done; a failed call fails it
//! ```
//!
//! Events: `Arrival`, `Deliver` (a request reaches an instance), `WorkDone` (local work finished),
//! `Reply` (an answer reaches the caller), `Timeout` (an attempt's timer), `Retry` (a backoff
//! ends), `BulkheadWait` (a call gave up waiting for a bulkhead), `Fault` (a fault starts or ends),
//! `Tick` (a time-series bucket closes), `WarmupEnd` (measurement starts).
//!
//! Randomness: `workload:<name>/arrivals`, `/client-out` and `/client-back`; `svc:<name>/work`,
//! `/balance` and `/errors`; `edge:<from>-><to>/request`, `/reply` and `/backoff`. Each stream
//! belongs to one component and purpose, so a change in one never shifts another's draws (common
//! random numbers across variants).

use crate::policy::{AimdLimit, AttemptFailure, Breaker, BreakerState, Bucket, Budget, Throttle};
use crate::results::{
    BreakerTransition, EdgeResult, LatencySummary, Ledger, RunResult, Series, ServiceResult,
    WorkloadResult, SCHEMA_VERSION,
};
use crate::spec::Balancer;
use crate::trace::{Place, Trace, TraceOptions, Tracer};
use crate::world::{ArrivalKind, World};
use hdrhistogram::Histogram;
use ops::{AlertState, DeployState, FaultProc, HostState, ReplMsg, StoreState, Wait};
use rand::RngExt;
use rand_distr::Exp1;
use sim_core::{
    EngineError, Limits, Model, RngFactory, Sim, SimDuration, SimTime, Stop, Stream, TimerId,
};
use std::collections::VecDeque;
use std::fmt;

mod ops;

const NONE: u32 = u32::MAX;
/// Names of the breaker states, as `BreakerState::name` gives them.
const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];
/// Latencies above this are clamped in the histograms (the exact maximum is kept apart).
const HIST_MAX_NS: u64 = 3_600_000_000_000;

/// One event of the service model.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Arrival {
        workload: u32,
    },
    Deliver {
        req: u32,
    },
    WorkDone {
        req: u32,
    },
    Reply {
        req: u32,
    },
    Timeout {
        req: u32,
    },
    Retry {
        call: u32,
    },
    Hedge {
        call: u32,
    },
    /// A client's backoff before retrying a workload request ends.
    ClientRetry {
        req: u32,
    },
    BulkheadWait {
        call: u32,
    },
    /// A fault starts or ends at one of its targets: `proc` is a failure process, one per fault
    /// and target (see `ServiceModel::proc_owner`). Events stay 8 bytes: the queue moves them.
    Fault {
        proc: u32,
        start: bool,
    },
    /// Health checks of a service's instances are due.
    Health {
        service: u32,
    },
    /// Outlier ejections of a service are reviewed.
    OutlierReview {
        service: u32,
    },
    /// A replacement instance has started.
    Replaced {
        instance: u32,
    },
    /// A replication message reaches a replica.
    Replicate {
        msg: u32,
    },
    /// A replica's acknowledgement reaches the primary.
    ReplicaAck {
        msg: u32,
    },
    /// A write waited too long for its replicas.
    ReplTimeout {
        wait: u32,
    },
    /// A datastore's failover completes (if still needed).
    Failover {
        service: u32,
        /// Which loss of the primary it is for (`StoreState::down_gen`).
        epoch: u16,
    },
    /// A client gives up on its request.
    ClientTimeout {
        req: u32,
    },
    /// Step `step` of a rollout.
    Deploy {
        deploy: u16,
        step: u32,
    },
    Rollback {
        deploy: u32,
    },
    /// An autoscaler looks at a service's utilization.
    Autoscale {
        service: u32,
    },
    /// An instance the autoscaler started takes load.
    ScaleUp {
        instance: u32,
    },
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

/// How a request ended, at the service that handled it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Pending,
    Completed,
    Degraded,
    Rejected,
    RateLimited,
    Shed,
    Failed,
}

impl Outcome {
    fn is_success(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Degraded)
    }

    /// The name in traces and ledgers.
    fn name(self) -> &'static str {
        match self {
            Outcome::Pending => "in_flight",
            Outcome::Completed => "completed",
            Outcome::Degraded => "degraded",
            Outcome::Rejected => "rejected",
            Outcome::RateLimited => "rate_limited",
            Outcome::Shed => "shed",
            Outcome::Failed => "failed",
        }
    }
}

/// A request at one service: a workload's request, or one attempt of a call.
#[derive(Copy, Clone, Debug)]
struct Request {
    /// The call this request is an attempt of; `NONE` for a workload's request.
    call: u32,
    service: u32,
    instance: u32,
    workload: u32,
    /// Host of the caller instance, where the reply goes; `NONE` for a workload's request.
    caller_host: u32,
    /// Call edge this request travels on; `NONE` for a workload's request.
    edge: u32,
    created_ns: u64,
    arrived_ns: u64,
    started_ns: u64,
    /// The caller gives up at this time (`u64::MAX`: never).
    deadline_ns: u64,
    step: u16,
    pending: u16,
    phase: Phase,
    outcome: Outcome,
    failed_call: bool,
    degraded_call: bool,
    measured: bool,
    /// The caller stopped waiting for this attempt (timeout): its answer will be ignored.
    abandoned: bool,
    /// Work in progress was lost to an outage: the request fails when its work or calls end.
    doomed: bool,
    /// It holds a bulkhead permit of its caller.
    holds_permit: bool,
    /// Its local work was cut short at its deadline (the service honours deadlines).
    cut: bool,
    /// With a 429 answer: the time until the limiter has a token again.
    retry_after_ns: u64,
    /// The worker pool of its instance that serves it.
    pool: u8,
    /// For a workload's request: attempts the client has made so far, and its last backoff.
    client_attempts: u8,
    client_backoff_ns: u64,
    /// The breaker state it was let through in (for recording its outcome): an index into
    /// `BREAKER_STATES`, so that the request stays small.
    breaker_state: u8,
    /// For an attempt: its caller's timeout. For a workload's request: the client's timeout.
    timer: Option<TimerId>,
    /// The message carrying it (or its answer) was lost in the network.
    lost: bool,
    /// Its instance's host died: its answer will never leave.
    silent: bool,
    /// It carries corrupt data its callers did not detect.
    corrupt: bool,
    /// A write to a datastore.
    write: bool,
    /// The user a workload's request comes from (for sessions).
    user: u32,
    /// While a write waits for its replicas: its slot in `ServiceModel::waits` (else `NONE`).
    wait: u32,
}

/// One logical call of a parent request, across its attempts.
#[derive(Copy, Clone, Debug)]
struct Call {
    parent: u32,
    edge: u32,
    attempts: u32,
    previous_backoff_ns: u64,
    measured: bool,
    /// Index of the breaker and bulkhead used (per caller instance unless shared).
    slot: u32,
    wait_timer: Option<TimerId>,
    /// Waiting in its bulkhead's queue.
    waiting: bool,
    /// A retry scheduled after a backoff.
    retry_timer: Option<TimerId>,
    /// Attempts sent and not yet answered (more than one when hedging), and which.
    outstanding: u8,
    children: [u32; 4],
    hedges: u8,
    hedge_timer: Option<TimerId>,
}

/// One worker pool of an instance.
struct PoolState {
    busy: u32,
    queue: VecDeque<u32>,
}

struct InstanceState {
    /// The adaptive concurrency limit, if the service has one.
    limit: Option<AimdLimit>,
    /// Pool 0 is the service's main pool; the others are its named `pools`.
    pools: Vec<PoolState>,
    /// Requests queued or being served here: the load balancers' view.
    outstanding: u32,
    host: u32,
    /// Crash and hang faults in force on its current process (it is down while `crashed > 0`,
    /// hung while `hung > 0`); faults that started before its last replacement no longer count.
    crashed: u32,
    hung: u32,
    replaced_ns: Option<u64>,
    /// Product of instance-level slowdowns.
    slow: f64,
    /// A leak's growth per minute, and since when it grows.
    leak_per_min: f64,
    leak_since_ns: u64,
    /// When the process last started, and until when its cache is cold.
    started_ns: u64,
    warm_until_ns: u64,
    /// Health checks: consecutive failed and good probes, the verdict, a replacement under way.
    probe_fails: u32,
    probe_oks: u32,
    unhealthy: bool,
    replacing: bool,
    /// Outlier detection: consecutive failures seen by callers, ejection state.
    consecutive_failures: u32,
    ejected: bool,
    ejections: u32,
    ejected_until_ns: u64,
    /// When it last came back into load balancing (for slow start).
    back_since_ns: u64,
    /// Running the new version of a rollout: its error rate and work factor.
    version_errors: f64,
    version_slow: f64,
    /// Requests whose work ended while the instance hung: answered when the hang ends.
    frozen: Vec<u32>,
    /// Requests whose calls all answered while the instance hung: they go on when it ends.
    parked: Vec<u32>,
    /// Datastore replica: the last write it applied, whether its copy is complete up to it, when
    /// the last replication message to it arrives (messages keep their order), and whether its
    /// data was lost with its disk.
    applied: u64,
    in_sync: bool,
    last_ship_ns: u64,
    data_lost: bool,
    /// When its work was last lost (a crash, its host dying).
    last_down_ns: u64,
    /// Part of the service now (autoscaling adds and removes instances), and starting up.
    active: bool,
    starting: bool,
    /// Times its process restarted (broken connection pools need one).
    restarts: u32,
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
    error_rng: Stream,
    round_robin: u32,
    measured: Ledger,
    all: Ledger,
    latency: LatencyStats,
    started: u64,
    waited: u64,
    wait_sum_ns: u128,
    wasted_ns: u64,
    busy_now: u64,
    queue_now: u64,
    busy_area: u128,
    queue_area: u128,
    last_change_ns: u64,
    series: Series,
    /// Active faults: product of slowdowns, chance of an injected error, outages in force.
    slowdown: f64,
    error_rate: f64,
    outages: u32,
    /// Corrupt answers (share, and whether callers detect them); fail-fast faults in force.
    corrupt_rate: f64,
    corrupt_detected: bool,
    fail_fast: u32,
    /// Draws for instance- and host-level fault effects (corruption, new versions' errors).
    fault_rng: Stream,
    corrupt: u64,
    /// Instances up now, and time by number of instances up since the last change.
    up_now: u32,
    up_ns: Vec<u64>,
    up_since_ns: u64,
    /// Instances out of load balancing (unhealthy or ejected), and ramping back (slow start).
    out_of_rotation: u32,
    recovery: crate::results::RecoveryResult,
    /// The busy-worker time at the autoscaler's last look.
    autoscale_busy: u128,
    sessions_lost: u64,
    /// Latency over each alert's threshold, per bucket: `(alert, series)`.
    slow_series: Vec<(u32, u64, Vec<u64>)>,
    store: Option<StoreState>,
    /// Rate limiters: global, per client (workload), per tier.
    global_bucket: Option<Bucket>,
    client_buckets: Vec<Bucket>,
    tier_buckets: Vec<Option<Bucket>>,
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

    fn count(&mut self, outcome: Outcome, measured: bool, bucket: usize) {
        let series = match outcome {
            Outcome::Completed => &mut self.series.completed,
            Outcome::Degraded => &mut self.series.degraded,
            Outcome::Rejected | Outcome::RateLimited => &mut self.series.rejected,
            Outcome::Shed => &mut self.series.shed,
            Outcome::Failed => &mut self.series.failed,
            Outcome::Pending => unreachable!("only final outcomes are counted"),
        };
        series[bucket] += 1;
        count(&mut self.all, outcome);
        if measured {
            count(&mut self.measured, outcome);
        }
    }
}

fn count(l: &mut Ledger, outcome: Outcome) {
    match outcome {
        Outcome::Completed => l.completed += 1,
        Outcome::Degraded => l.degraded += 1,
        Outcome::Rejected => l.rejected += 1,
        Outcome::RateLimited => l.rate_limited += 1,
        Outcome::Shed => l.shed += 1,
        Outcome::Failed => l.failed += 1,
        Outcome::Pending => unreachable!("only final outcomes are counted"),
    }
}

struct WorkloadState {
    arrival_rng: Stream,
    /// Client latency towards the service, and back: two streams, so that the order in which
    /// answers come back (which differs between designs) never shifts the requests' draws.
    client_out_rng: Stream,
    client_back_rng: Stream,
    retry_rng: Stream,
    /// Extra latency to an entry instance outside the clients' region.
    far_rng: Stream,
    timeouts: u64,
    corrupt: u64,
    series_ok: Vec<u64>,
    series_bad: Vec<u64>,
    /// Which user each request comes from, and each user's session: (instance, last request);
    /// only when the entry service keeps sessions locally.
    users_rng: Stream,
    sessions: Vec<(u32, u64)>,
    retries: u64,
    measured: Ledger,
    all: Ledger,
    latency: LatencyStats,
}

/// Per call edge: random streams, defences' state and counters.
struct EdgeState {
    /// Latency of requests `[0]` and of replies `[1]`.
    rngs: [Stream; 2],
    backoff_rng: Stream,
    /// Whether a request makes this call (for `probability` below 1).
    skip_rng: Stream,
    /// Client-side throttles, one per caller instance, and their draws.
    throttles: Vec<Throttle>,
    throttle_rng: Stream,
    /// Latency of good attempts as the caller sees it, for percentile hedging.
    observed: Option<Histogram<u64>>,
    /// One per caller instance, or one if shared.
    breakers: Vec<Breaker>,
    /// Calls in flight and calls waiting, per caller instance.
    bulkhead_in_use: Vec<u32>,
    bulkhead_waiting: Vec<VecDeque<u32>>,
    budget: Option<Budget>,
    stats: EdgeResult,
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
    calls: Vec<Call>,
    free_calls: Vec<u32>,
    live: u32,
    instances: Vec<InstanceState>,
    services: Vec<ServiceState>,
    workloads: Vec<WorkloadState>,
    edges: Vec<EdgeState>,
    bucket: usize,
    n_buckets: usize,
    guard_hit: Option<&'static str>,
    keep_going: Option<&'w dyn Fn() -> bool>,
    hosts: Vec<HostState>,
    /// Instances on each host.
    host_instances: Vec<Vec<u32>>,
    /// Link faults in force (partitions, delays, losses).
    active_links: Vec<u32>,
    net_rng: Stream,
    /// Failure processes: those of fault `f` are `fault_procs[proc_base[f] ..]`.
    fault_procs: Vec<FaultProc>,
    proc_base: Vec<u32>,
    /// When each failure process's current occurrence started.
    proc_started: Vec<u64>,
    /// The (fault, unit) of each failure process.
    proc_owner: Vec<(u32, u32)>,
    /// Feature flags in force per call edge (a call with one is not made).
    edge_off: Vec<u32>,
    alert_states: Vec<AlertState>,
    firings: Vec<crate::results::AlertFiring>,
    deploy_states: Vec<DeployState>,
    log: Vec<crate::results::LogEntry>,
    log_dropped: u64,
    msgs: Vec<ReplMsg>,
    free_msgs: Vec<u32>,
    waits: Vec<Wait>,
    free_waits: Vec<u32>,
    write_ids: u32,
    /// Fault occurrences: (fault, unit, label, start, end).
    occurrences: Vec<(u32, u32, String, u64, u64)>,
    scratch: Vec<u32>,
    pending_failovers: Vec<(u64, u32, u16)>,
    /// The time of the event being handled.
    now_ns: u64,
    /// Records spans when the run is traced (`run_world_traced`); never changes the run.
    tracer: Option<Box<Tracer>>,
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

/// Simulates one run; `keep_going` is asked at every time-series tick whether the run may go on
/// (the caller's wall-clock guard: the model itself never reads a clock). A `false` stops the
/// run early with `stop: "wall_time_max"`.
pub fn run_world_controlled(
    world: &World,
    seed: u64,
    run: u64,
    keep_going: &dyn Fn() -> bool,
) -> Result<(RunResult, RunHistograms), RunError> {
    run_model(world, seed, run, keep_going, None).map(|(r, h, _)| (r, h))
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
    };
    let outcome = sim_core::run(&mut model, &mut sim, limits).map_err(RunError::Engine)?;
    let stop = match (outcome.stop, model.guard_hit) {
        (Stop::Model, Some(guard)) => guard,
        (Stop::EventsMax, _) => "events_max",
        _ => "horizon",
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

/// An empty histogram with the bounds every run uses, so that histograms of runs merge exactly.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds")
}

impl<'w> ServiceModel<'w> {
    fn new(world: &'w World, rngs: RngFactory) -> Self {
        let n_buckets = world.n_buckets();
        let series = Series::zeros(world.resolution.as_ns(), n_buckets);
        let services = world
            .services
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let name = format!("svc:{}", s.name);
                ServiceState {
                    work_rng: rngs.stream(&name, "work"),
                    balance_rng: rngs.stream(&name, "balance"),
                    error_rng: rngs.stream(&name, "errors"),
                    round_robin: 0,
                    measured: Ledger::default(),
                    all: Ledger::default(),
                    latency: LatencyStats::new(),
                    started: 0,
                    waited: 0,
                    wait_sum_ns: 0,
                    wasted_ns: 0,
                    busy_now: 0,
                    queue_now: 0,
                    busy_area: 0,
                    queue_area: 0,
                    last_change_ns: 0,
                    series: series.clone(),
                    slowdown: 1.0,
                    error_rate: 0.0,
                    outages: 0,
                    corrupt_rate: 0.0,
                    corrupt_detected: false,
                    fail_fast: 0,
                    fault_rng: rngs.stream(&name, "faults"),
                    corrupt: 0,
                    up_now: s.n_instances,
                    up_ns: vec![0; s.n_instances as usize + 1],
                    up_since_ns: 0,
                    out_of_rotation: 0,
                    recovery: Default::default(),
                    autoscale_busy: 0,
                    sessions_lost: 0,
                    slow_series: world
                        .alerts
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| a.service as usize == si)
                        .filter_map(|(k, a)| match a.rule {
                            crate::world::AlertKind::LatencyP99(t) => {
                                Some((k as u32, t, vec![0; n_buckets]))
                            }
                            _ => None,
                        })
                        .collect(),
                    store: s.store.as_ref().map(|_| StoreState {
                        primary: s.first_instance,
                        epoch: 0,
                        written: 0,
                        acked_max: 0,
                        base: 0,
                        acked: VecDeque::new(),
                        rng: rngs.stream(&format!("store:{}", s.name), "replication"),
                        down_since: None,
                        down_gen: 0,
                        result: Default::default(),
                    }),
                    global_bucket: s
                        .rate_limit
                        .as_ref()
                        .and_then(|r| r.global)
                        .map(|(rate, burst)| Bucket::new(rate, burst)),
                    client_buckets: match s.rate_limit.as_ref().and_then(|r| r.per_client) {
                        Some((rate, burst)) => {
                            vec![Bucket::new(rate, burst); world.workloads.len()]
                        }
                        None => Vec::new(),
                    },
                    tier_buckets: s
                        .rate_limit
                        .as_ref()
                        .map(|r| {
                            r.per_tier
                                .iter()
                                .map(|t| t.map(|(rate, burst)| Bucket::new(rate, burst)))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect();
        let workloads = world
            .workloads
            .iter()
            .map(|w| WorkloadState {
                arrival_rng: rngs.stream(&format!("workload:{}", w.name), "arrivals"),
                client_out_rng: rngs.stream(&format!("workload:{}", w.name), "client-out"),
                client_back_rng: rngs.stream(&format!("workload:{}", w.name), "client-back"),
                retry_rng: rngs.stream(&format!("workload:{}", w.name), "retry"),
                far_rng: rngs.stream(&format!("workload:{}", w.name), "cross-region"),
                timeouts: 0,
                corrupt: 0,
                series_ok: vec![0; n_buckets],
                series_bad: vec![0; n_buckets],
                users_rng: rngs.stream(&format!("workload:{}", w.name), "users"),
                sessions: if world.services[w.entry as usize]
                    .recovery
                    .local_sessions_ttl_ns
                    .is_some()
                {
                    vec![(NONE, 0); w.users as usize]
                } else {
                    Vec::new()
                },
                retries: 0,
                measured: Ledger::default(),
                all: Ledger::default(),
                latency: LatencyStats::new(),
            })
            .collect();
        let edges = world
            .calls
            .iter()
            .map(|c| {
                let (from, to) = (
                    &world.services[c.from as usize].name,
                    &world.services[c.to as usize].name,
                );
                let name = format!("edge:{from}->{to}");
                let callers = world.services[c.from as usize].n_instances as usize;
                let breakers = match &c.policy.breaker {
                    Some(b) => vec![Breaker::new(b); if b.shared { 1 } else { callers }],
                    None => Vec::new(),
                };
                EdgeState {
                    rngs: [rngs.stream(&name, "request"), rngs.stream(&name, "reply")],
                    backoff_rng: rngs.stream(&name, "backoff"),
                    skip_rng: rngs.stream(&name, "skip"),
                    throttles: match &c.policy.throttle {
                        Some(t) => vec![Throttle::new(t); callers],
                        None => Vec::new(),
                    },
                    throttle_rng: rngs.stream(&name, "throttle"),
                    observed: c.policy.hedge.filter(|h| h.1.is_some()).map(|_| {
                        Histogram::new_with_bounds(1, HIST_MAX_NS, 2)
                            .expect("valid histogram bounds")
                    }),
                    breakers,
                    bulkhead_in_use: vec![0; callers],
                    bulkhead_waiting: vec![
                        VecDeque::new();
                        if c.policy.bulkhead.is_some() {
                            callers
                        } else {
                            0
                        }
                    ],
                    budget: c
                        .policy
                        .retry
                        .as_ref()
                        .and_then(|r| r.budget.clone())
                        .map(Budget::new),
                    stats: EdgeResult {
                        from: from.clone(),
                        to: to.clone(),
                        breaker_open: if c.policy.breaker.is_some() {
                            vec![0; n_buckets]
                        } else {
                            Vec::new()
                        },
                        ..EdgeResult::default()
                    },
                }
            })
            .collect();
        let instances = world
            .instances
            .iter()
            .enumerate()
            .map(|(k, i)| InstanceState {
                limit: world.services[i.service_idx as usize].concurrency.clone(),
                pools: (0..=world.services[i.service_idx as usize].pools.len())
                    .map(|_| PoolState {
                        busy: 0,
                        queue: VecDeque::new(),
                    })
                    .collect(),
                outstanding: 0,
                host: i.host_idx,
                crashed: 0,
                replaced_ns: None,
                hung: 0,
                slow: 1.0,
                leak_per_min: 0.0,
                leak_since_ns: 0,
                started_ns: 0,
                warm_until_ns: 0,
                probe_fails: 0,
                probe_oks: 0,
                unhealthy: false,
                replacing: false,
                consecutive_failures: 0,
                ejected: false,
                ejections: 0,
                ejected_until_ns: 0,
                back_since_ns: 0,
                version_errors: 0.0,
                version_slow: 1.0,
                frozen: Vec::new(),
                parked: Vec::new(),
                applied: 0,
                in_sync: true,
                last_ship_ns: 0,
                data_lost: false,
                last_down_ns: u64::MAX,
                active: world.services[i.service_idx as usize]
                    .recovery
                    .autoscale
                    .is_none_or(|a| {
                        (k as u32 - world.services[i.service_idx as usize].first_instance) < a.0
                    }),
                starting: false,
                restarts: 0,
            })
            .collect();
        let mut host_instances = vec![Vec::new(); world.hosts.len()];
        for (i, inst) in world.instances.iter().enumerate() {
            host_instances[inst.host_idx as usize].push(i as u32);
        }
        let mut fault_procs = Vec::new();
        let mut proc_base = Vec::new();
        let mut proc_owner = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for f in &world.faults {
            proc_base.push(fault_procs.len() as u32);
            // Streams are named by the fault's kind and targets (not its parameters) and its rank
            // among faults with that key, so adding a fault elsewhere, or changing a rate in a
            // variant, never shifts this one's draws.
            let rank = seen.iter().filter(|l| **l == f.key).count();
            seen.push(&f.key);
            // A chaos monkey's unit 0 kills; unit k + 1 ends the kill of its k-th target.
            let units = match f.effect {
                crate::world::FaultEffect::ChaosMonkey(_) => f.instances.len() + 1,
                _ if f.per_instance => f.instances.len().max(1),
                _ => 1,
            };
            for u in 0..units {
                proc_owner.push((proc_base.len() as u32 - 1, u as u32));
                fault_procs.push(FaultProc {
                    rng: rngs.stream(&format!("fault:{}#{rank}", f.key), &u.to_string()),
                });
            }
        }
        ServiceModel {
            hosts: vec![
                HostState {
                    down: 0,
                    slow: 1.0,
                    corrupt: 0.0
                };
                world.hosts.len()
            ],
            host_instances,
            active_links: Vec::new(),
            net_rng: rngs.stream("net", "loss"),
            proc_started: vec![0; fault_procs.len()],
            fault_procs,
            proc_base,
            proc_owner,
            edge_off: vec![0; world.calls.len()],
            alert_states: world
                .alerts
                .iter()
                .map(|_| AlertState {
                    firing: None,
                    holds_since: None,
                })
                .collect(),
            firings: Vec::new(),
            deploy_states: world
                .deploys
                .iter()
                .map(|_| DeployState {
                    started: false,
                    rolled_back: false,
                    switched: 0,
                })
                .collect(),
            log: Vec::new(),
            log_dropped: 0,
            msgs: Vec::new(),
            free_msgs: Vec::new(),
            waits: Vec::new(),
            free_waits: Vec::new(),
            write_ids: 0,
            occurrences: Vec::new(),
            scratch: Vec::new(),
            pending_failovers: Vec::new(),
            now_ns: 0,
            tracer: None,
            world,
            requests: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            calls: Vec::with_capacity(256),
            free_calls: Vec::with_capacity(256),
            live: 0,
            instances,
            services,
            workloads,
            edges,
            bucket: 0,
            n_buckets,
            guard_hit: None,
            keep_going: None,
        }
    }

    fn start(&mut self, sim: &mut Sim<Event>) {
        for s in 0..self.services.len() {
            self.recount_rotation(s);
            self.recount_up(s, 0);
        }
        for w in 0..self.world.workloads.len() as u32 {
            if let Some(t) = self.next_arrival(w, 0) {
                sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
            }
        }
        sim.schedule_at(SimTime::ZERO.after(self.world.resolution), Event::Tick);
        if self.world.warmup > SimTime::ZERO {
            sim.schedule_at(self.world.warmup, Event::WarmupEnd);
        }
        self.start_ops(sim);
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

    fn new_request(&self, service: u32, instance: u32, workload: u32, now_ns: u64) -> Request {
        Request {
            call: NONE,
            service,
            instance,
            workload,
            caller_host: NONE,
            edge: NONE,
            created_ns: now_ns,
            arrived_ns: now_ns,
            started_ns: now_ns,
            deadline_ns: u64::MAX,
            step: 0,
            pending: 0,
            phase: Phase::InNetwork,
            outcome: Outcome::Pending,
            failed_call: false,
            degraded_call: false,
            measured: now_ns >= self.world.warmup.as_ns(),
            abandoned: false,
            doomed: false,
            holds_permit: false,
            cut: false,
            retry_after_ns: 0,
            pool: 0,
            client_attempts: 1,
            client_backoff_ns: 0,
            breaker_state: 0,
            timer: None,
            lost: false,
            silent: false,
            corrupt: false,
            write: false,
            user: 0,
            wait: NONE,
        }
    }

    /// Chooses an instance of service `s` for a request of `workload`, within the instance
    /// group of the workload's tier when the service has tier groups, preferring instances in
    /// the caller's `region` and in load balancing. A datastore routes writes to its primary.
    fn pick_instance(&mut self, s: u32, workload: u32, region: u32, write: bool) -> u32 {
        let def = &self.world.services[s as usize];
        let tier = self.world.workloads[workload as usize].tier;
        let (first, n) = def.instances_for(tier);
        if def.store.is_some() {
            let read_replicas = def.store.as_ref().is_some_and(|d| d.reads_from_replicas);
            let picked = if !write && read_replicas {
                self.pick_balanced(s, first, n, region)
            } else {
                first
            };
            return self.store_route(s as usize, write, picked);
        }
        self.pick_balanced(s, first, n, region)
    }

    #[inline]
    fn pick_balanced(&mut self, s: u32, first: u32, n: u32, region: u32) -> u32 {
        let def = &self.world.services[s as usize];
        if self.services[s as usize].out_of_rotation > 0
            || def.multi_region
            || def.recovery.slow_start.is_some()
        {
            let now = self.now_ns;
            return self.pick_slow(s as usize, first, n, region, now);
        }
        let st = &mut self.services[s as usize];
        let offset = match def.balancer {
            _ if n == 1 => 0,
            Balancer::RoundRobin => {
                let k = st.round_robin % n;
                st.round_robin = st.round_robin.wrapping_add(1);
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
        let wdef = &self.world.workloads[w as usize];
        let entry = wdef.entry;
        let (user, sticky) = self.session_of(w, now);
        let wdef = &self.world.workloads[w as usize];
        let instance = match sticky {
            Some(i) => i,
            None => self.pick_instance(entry, w, wdef.region, false),
        };
        let wdef = &self.world.workloads[w as usize];
        let mut request = self.new_request(entry, instance, w, now);
        request.user = user;
        request.pool = wdef.pool as u8;
        let measured = request.measured;
        let req = self.alloc(sim, request);
        if let Some(t) = &mut self.tracer {
            t.user_arrived(req, now);
        }
        if let Some(t) = wdef.timeout_ns {
            let timer = sim.timer_in(SimDuration::from_ns(t), Event::ClientTimeout { req });
            self.requests[req as usize].timer = Some(timer);
        }
        let ws = &mut self.workloads[w as usize];
        ws.all.arrived += 1;
        if measured {
            ws.measured.arrived += 1;
        }
        self.send_from_client(sim, req);
        if let Some(t) = self.next_arrival(w, now) {
            sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
        }
    }

    /// A client's request travels to its entry instance (farther when that instance is in
    /// another region than the client's).
    fn send_from_client(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req as usize];
        let w = r.workload as usize;
        let host = self.instances[r.instance as usize].host;
        let far = self.world.hosts[host as usize].region_idx != self.world.workloads[w].region;
        let ws = &mut self.workloads[w];
        let mut delay = if self.world.client_latency.is_zero() {
            SimDuration::ZERO
        } else {
            self.world.client_latency.sample(&mut ws.client_out_rng)
        };
        if far {
            let extra = self.world.latency[crate::world::Distance::CrossRegion as usize]
                .sample(&mut ws.far_rng);
            delay = SimDuration::from_ns(delay.as_ns() + extra.as_ns());
        }
        if delay.is_zero() {
            self.deliver(sim, req);
        } else {
            sim.schedule_in(delay, Event::Deliver { req });
        }
    }

    /// A request reaches its instance: serve, queue or turn it away.
    fn deliver(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let inst_idx = self.requests[req as usize].instance;
        if self.hosts[self.instances[inst_idx as usize].host as usize].down > 0 {
            // Its host is dead: the message goes nowhere and nobody counts it there.
            return self.drop_message(req);
        }
        let r = &mut self.requests[req as usize];
        r.arrived_ns = now;
        let (s, i, measured, deadline) = (
            r.service as usize,
            r.instance as usize,
            r.measured,
            r.deadline_ns,
        );
        let def = &self.world.services[s];
        let bucket = self.bucket;
        let st = &mut self.services[s];
        st.all.arrived += 1;
        st.series.arrived[bucket] += 1;
        if measured {
            st.measured.arrived += 1;
        }
        if st.outages > 0 {
            return self.turn_away(sim, req, Outcome::Rejected);
        }
        let inst = &self.instances[i];
        if inst.crashed > 0 {
            // Nothing listens: the connection is refused at once.
            return self.turn_away(sim, req, Outcome::Rejected);
        }
        if def.store.is_some()
            && self.requests[req as usize].write
            && self.services[s]
                .store
                .as_ref()
                .is_some_and(|x| x.primary != i as u32)
        {
            // A write that reached a replica (the primary changed on the way): refused.
            return self.turn_away(sim, req, Outcome::Failed);
        }
        let st = &mut self.services[s];
        if def.honor_deadlines && now >= deadline {
            return self.turn_away(sim, req, Outcome::Shed);
        }
        if def.rate_limit.is_some() {
            let workload = self.requests[req as usize].workload as usize;
            let tier = self.world.workloads[workload].tier;
            if let Err(wait) = take_tokens(st, workload, tier, now) {
                self.requests[req as usize].retry_after_ns = wait;
                return self.turn_away(sim, req, Outcome::RateLimited);
            }
        }
        let inst = &mut self.instances[i];
        if inst
            .limit
            .as_ref()
            .is_some_and(|l| !l.admits(inst.outstanding))
        {
            return self.turn_away(sim, req, Outcome::Shed);
        }
        let pool = self.requests[req as usize].pool as usize;
        let (workers, queue_cap, _) = def.pool(pool);
        let hung = inst.hung > 0;
        if inst.pools[pool].busy < workers && !hung {
            inst.outstanding += 1;
            self.start_work(sim, req, false);
        } else if (inst.pools[pool].queue.len() as u64) < u64::from(queue_cap) {
            inst.outstanding += 1;
            inst.pools[pool].queue.push_back(req);
            st.touch(now);
            st.queue_now += 1;
            self.requests[req as usize].phase = Phase::Queued;
        } else {
            self.turn_away(sim, req, Outcome::Rejected);
        }
    }

    /// Answers at once a request that never took a worker.
    fn turn_away(&mut self, sim: &mut Sim<Event>, req: u32, outcome: Outcome) {
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Done;
        r.outcome = outcome;
        let (s, measured) = (r.service as usize, r.measured);
        self.services[s].count(outcome, measured, self.bucket);
        if self.tracer.is_some() {
            self.trace_answer(req, sim.now().as_ns(), false);
        }
        self.respond(sim, req);
    }

    /// A worker takes `req` (which has already been counted in `outstanding`).
    fn start_work(&mut self, sim: &mut Sim<Event>, req: u32, waited: bool) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Working;
        r.started_ns = now;
        let (s, i, pool) = (r.service as usize, r.instance as usize, r.pool as usize);
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
        self.instances[i].pools[pool].busy += 1;
        let def = &self.world.services[s];
        let dist = match &def.store {
            Some(d) if self.requests[req as usize].write => &d.write,
            _ => def.pool(pool).2,
        };
        let mut work = dist.sample(&mut st.work_rng);
        let factor = st.slowdown * self.instance_factor(i as u32, now);
        if factor != 1.0 {
            work = SimDuration::from_ns((work.as_ns() as f64 * factor).round() as u64);
        }
        // A service that honours deadlines stops local work when its caller's deadline passes
        // (a handler checking its cancelled context).
        let deadline = self.requests[req as usize].deadline_ns;
        if self.world.services[s].honor_deadlines && now.saturating_add(work.as_ns()) > deadline {
            work = SimDuration::from_ns(deadline.saturating_sub(now));
            self.requests[req as usize].cut = true;
        }
        sim.schedule_in(work, Event::WorkDone { req });
    }

    /// Takes the next request from an instance's queue for a free worker, shedding those that
    /// waited too long or whose caller's deadline has passed.
    fn next_from_queue(&mut self, sim: &mut Sim<Event>, i: usize, pool: usize) {
        let now = sim.now().as_ns();
        let inst = &self.instances[i];
        if inst.hung > 0 {
            return; // a hung process takes nothing from its queue
        }
        loop {
            let s = self.world.instances[i].service_idx as usize;
            let def = &self.world.services[s];
            let inst = &mut self.instances[i];
            let lifo = def
                .shed
                .as_ref()
                .and_then(|p| p.lifo_over)
                .is_some_and(|n| inst.pools[pool].queue.len() > n as usize);
            let next = if lifo {
                inst.pools[pool].queue.pop_back()
            } else {
                inst.pools[pool].queue.pop_front()
            };
            let Some(next) = next else { return };
            let st = &mut self.services[s];
            st.touch(now);
            st.queue_now -= 1;
            let r = &self.requests[next as usize];
            let too_old = def
                .shed
                .as_ref()
                .and_then(|p| p.max_wait_ns)
                .is_some_and(|w| now - r.arrived_ns > w);
            let expired = def.honor_deadlines && now >= r.deadline_ns;
            if too_old || expired {
                self.instances[i].outstanding -= 1;
                self.turn_away(sim, next, Outcome::Shed);
                continue;
            }
            self.start_work(sim, next, true);
            return;
        }
    }

    fn on_work_done(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let r = self.requests[req as usize];
        let s = r.service as usize;
        if r.doomed {
            return self.finish(sim, req, Outcome::Failed);
        }
        let inst = &mut self.instances[r.instance as usize];
        if inst.hung > 0 {
            inst.frozen.push(req); // answered when the hang ends
            return;
        }
        if r.cut {
            return self.finish(sim, req, Outcome::Shed);
        }
        let st = &mut self.services[s];
        if st.error_rate > 0.0 && st.error_rng.random::<f64>() < st.error_rate {
            return self.finish(sim, req, Outcome::Failed);
        }
        // Instance- and host-level effects: a bad new version, a disk that corrupts.
        let inst = &self.instances[r.instance as usize];
        let local =
            1.0 - (1.0 - inst.version_errors) * (1.0 - self.hosts[inst.host as usize].corrupt);
        if local > 0.0 && st.fault_rng.random::<f64>() < local {
            return self.finish(sim, req, Outcome::Failed);
        }
        if st.corrupt_rate > 0.0 && st.fault_rng.random::<f64>() < st.corrupt_rate {
            if st.corrupt_detected {
                return self.finish(sim, req, Outcome::Failed);
            }
            self.requests[req as usize].corrupt = true;
        }
        if self.world.services[s].honor_deadlines && now >= r.deadline_ns {
            return self.finish(sim, req, Outcome::Shed);
        }
        if self.world.services[s].store.is_some() {
            if r.write {
                if self.services[s]
                    .store
                    .as_ref()
                    .is_some_and(|x| x.primary != r.instance)
                {
                    // It lost leadership (failed over while hung): it must not take the write.
                    return self.finish(sim, req, Outcome::Failed);
                }
                // Acknowledged now (asynchronous), or when enough replicas have it.
                if let Some(seq) = self.store_write(sim, req) {
                    self.store_acked(s, seq);
                    self.finish(sim, req, Outcome::Completed);
                }
                return;
            }
            self.store_read(s, r.instance);
        }
        self.requests[req as usize].step = 0;
        self.advance(sim, req);
    }

    /// Makes the calls of the request's current step, or finishes it after the last step.
    fn advance(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req as usize];
        let steps = &self.world.services[r.service as usize].steps;
        let Some(&(start, len)) = steps.get(r.step as usize) else {
            let outcome = if r.degraded_call {
                Outcome::Degraded
            } else {
                Outcome::Completed
            };
            return self.finish(sim, req, outcome);
        };
        let now = sim.now().as_ns();
        if r.step > 0
            && self.world.services[r.service as usize].honor_deadlines
            && now >= r.deadline_ns
        {
            return self.finish(sim, req, Outcome::Shed);
        }
        // Calls made with a probability below one are drawn first; a step whose calls are all
        // skipped is over at once.
        // (A step holds at most 64 calls, so a bit mask records which are made.)
        let mut made: u64 = 0;
        for k in 0..len {
            let edge = start + k;
            let p = self.world.calls[edge as usize].policy.probability;
            if self.edge_off[edge as usize] > 0 {
                continue; // switched off by a feature flag
            }
            if p >= 1.0 || self.edges[edge as usize].skip_rng.random::<f64>() < p {
                made |= 1 << k;
            }
        }
        if made == 0 {
            self.requests[req as usize].step += 1;
            return self.advance(sim, req);
        }
        let p = &mut self.requests[req as usize];
        p.phase = Phase::Calling;
        p.pending = made.count_ones() as u16;
        let measured = now >= self.world.warmup.as_ns();
        let caller_offset = r.instance - self.world.services[r.service as usize].first_instance;
        for edge in (0..len).filter(|k| made & (1 << k) != 0).map(|k| start + k) {
            let policy = &self.world.calls[edge as usize].policy;
            let slot = match &policy.breaker {
                Some(b) if b.shared => 0,
                _ => caller_offset,
            };
            let call = Call {
                parent: req,
                edge,
                attempts: 0,
                previous_backoff_ns: 0,
                measured,
                slot,
                wait_timer: None,
                waiting: false,
                retry_timer: None,
                outstanding: 0,
                children: [NONE; 4],
                hedges: 0,
                hedge_timer: None,
            };
            let call = match self.free_calls.pop() {
                Some(c) => {
                    self.calls[c as usize] = call;
                    c
                }
                None => {
                    self.calls.push(call);
                    (self.calls.len() - 1) as u32
                }
            };
            let es = &mut self.edges[edge as usize];
            if measured {
                es.stats.calls += 1;
            }
            if let Some(b) = &mut es.budget {
                b.record_call(now);
            }
            self.attempt(sim, call, false);
        }
    }

    /// Makes one attempt of a call, through its breaker and bulkhead.
    fn attempt(&mut self, sim: &mut Sim<Event>, call: u32, hedge: bool) {
        let now = sim.now().as_ns();
        let c = self.calls[call as usize];
        let policy = &self.world.calls[c.edge as usize].policy;
        let caller_offset = self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance;
        let es = &mut self.edges[c.edge as usize];
        self.calls[call as usize].attempts += 1;
        if let Some(t) = es.throttles.get_mut(caller_offset as usize) {
            let draw = es.throttle_rng.random::<f64>();
            if !t.allow(now, c.attempts == 0 && !hedge, draw) {
                if c.measured {
                    es.stats.attempts += 1;
                    es.stats.throttled += 1;
                }
                return self.attempt_failed(sim, call, AttemptFailure::Throttled, 0);
            }
        }
        if c.measured {
            es.stats.attempts += 1;
            if c.attempts > 0 {
                es.stats.retries += 1;
            }
        }
        // The bulkhead first (a call waiting for it has not asked the breaker yet), then the breaker.
        let mut took_permit = false;
        if let Some(bh) = &policy.bulkhead {
            let slot = caller_offset as usize;
            if es.bulkhead_in_use[slot] >= bh.max_concurrent {
                if bh.max_wait_ns > 0 && es.bulkhead_waiting[slot].len() < bh.queue_cap as usize {
                    es.bulkhead_waiting[slot].push_back(call);
                    // A pool bulkhead's queue has no time limit: its timer never fires first.
                    let timer = (bh.max_wait_ns < u64::MAX).then(|| {
                        sim.timer_in(
                            SimDuration::from_ns(bh.max_wait_ns),
                            Event::BulkheadWait { call },
                        )
                    });
                    // The attempt is counted when it leaves the queue, one way or the other.
                    self.calls[call as usize].attempts -= 1;
                    if c.measured {
                        es.stats.attempts -= 1;
                        if c.attempts > 0 {
                            es.stats.retries -= 1;
                        }
                    }
                    self.calls[call as usize].wait_timer = timer;
                    self.calls[call as usize].waiting = true;
                    return;
                }
                if c.measured {
                    es.stats.bulkhead_rejected += 1;
                }
                return self.attempt_failed(sim, call, AttemptFailure::BulkheadFull, 0);
            }
            es.bulkhead_in_use[slot] += 1;
            took_permit = true;
        }
        let mut breaker_state = "closed";
        if let Some(bp) = &policy.breaker {
            let breaker = &mut es.breakers[c.slot as usize];
            let (allowed, change) = breaker.try_acquire(bp, now);
            if let Some((from, to)) = change {
                es.stats
                    .breaker_transitions
                    .push(transition(now, bp.shared, c.slot, from, to));
            }
            if !allowed {
                if c.measured {
                    es.stats.breaker_rejected += 1;
                }
                self.release_permit(sim, call, took_permit);
                return self.attempt_failed(sim, call, AttemptFailure::BreakerOpen, 0);
            }
            breaker_state = breaker.state.name();
        }
        self.send(sim, call, breaker_state);
    }

    /// Sends an attempt: a child request to an instance of the callee, with its timer.
    fn send(&mut self, sim: &mut Sim<Event>, call: u32, breaker_state: &'static str) {
        let now = sim.now().as_ns();
        let c = self.calls[call as usize];
        let def = &self.world.calls[c.edge as usize];
        let parent = self.requests[c.parent as usize];
        let caller_host = self.instances[parent.instance as usize].host;
        if self.services[def.to as usize].fail_fast > 0 {
            // The call fails before it leaves the caller (a name that does not resolve, a
            // certificate that has expired).
            let holds = def.policy.bulkhead.is_some();
            self.release_permit(sim, call, holds);
            self.record_breaker(call, now, breaker_state, true, 0);
            if c.measured {
                self.edges[c.edge as usize].stats.errors += 1;
            }
            return self.attempt_failed(sim, call, AttemptFailure::Error, 0);
        }
        let region = self.world.hosts[caller_host as usize].region_idx;
        let instance = self.pick_instance(def.to, parent.workload, region, def.write);
        if def.policy.reconnect_ns > 0 && self.reconnecting(instance, def.policy.reconnect_ns, now)
        {
            // The pooled connections to a restarted instance are broken until the pool
            // reconnects: the attempt fails at once.
            let holds = def.policy.bulkhead.is_some();
            self.release_permit(sim, call, holds);
            self.record_breaker(call, now, breaker_state, true, 0);
            if c.measured {
                self.edges[c.edge as usize].stats.errors += 1;
            }
            self.outlier_observe(instance, true, now);
            return self.attempt_failed(sim, call, AttemptFailure::Error, 0);
        }
        let mut child = self.new_request(def.to, instance, parent.workload, now);
        child.write = def.write;
        child.call = call;
        child.edge = c.edge;
        child.pool = def.pool as u8;
        child.caller_host = caller_host;
        child.measured = c.measured;
        child.holds_permit = def.policy.bulkhead.is_some();
        child.breaker_state = BREAKER_STATES
            .iter()
            .position(|&n| n == breaker_state)
            .unwrap_or(0) as u8;
        let inherited = if self.world.services[def.from as usize].honor_deadlines {
            parent.deadline_ns
        } else {
            u64::MAX
        };
        child.deadline_ns = def
            .policy
            .timeout_ns
            .map_or(inherited, |t| inherited.min(now.saturating_add(t)));
        let timeout = def.policy.timeout_ns;
        let hedge = def.policy.hedge;
        let req = self.alloc(sim, child);
        if let Some(t) = &mut self.tracer {
            t.attempt_sent(req, c.parent, self.calls[call as usize].attempts, now);
        }
        let cs = &mut self.calls[call as usize];
        if let Some(free) = cs.children.iter_mut().find(|c| **c == NONE) {
            *free = req;
        }
        cs.outstanding += 1;
        if let Some((after, percentile, max)) = hedge {
            let learned = match (percentile, &self.edges[c.edge as usize].observed) {
                (Some(p), Some(h)) if h.len() >= 50 => Some(h.value_at_quantile(p / 100.0)),
                _ => None,
            };
            let cs = &mut self.calls[call as usize];
            if let Some(delay) = learned.or(after) {
                if cs.hedge_timer.is_none() && u32::from(cs.hedges) < max {
                    cs.hedge_timer =
                        Some(sim.timer_in(SimDuration::from_ns(delay), Event::Hedge { call }));
                }
            }
        }
        if let Some(t) = timeout {
            let timer = sim.timer_in(SimDuration::from_ns(t), Event::Timeout { req });
            self.requests[req as usize].timer = Some(timer);
        }
        let callee_host = self.instances[instance as usize].host;
        let delay = self.network_delay(c.edge, false, caller_host, callee_host);
        let (lost, add) = self.link(caller_host, callee_host);
        if lost {
            return self.drop_message(req);
        }
        sim.schedule_in(
            SimDuration::from_ns(delay.as_ns() + add),
            Event::Deliver { req },
        );
    }

    #[inline]
    fn network_delay(
        &mut self,
        edge: u32,
        reply: bool,
        from_host: u32,
        to_host: u32,
    ) -> SimDuration {
        let dist = &self.world.latency[self.world.distance(from_host, to_host) as usize];
        dist.sample(&mut self.edges[edge as usize].rngs[usize::from(reply)])
    }

    /// The request leaves its worker with `outcome`; the next queued request takes the worker.
    fn finish(&mut self, sim: &mut Sim<Event>, req: u32, outcome: Outcome) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req as usize];
        r.phase = Phase::Done;
        r.outcome = outcome;
        let (s, i, measured, latency, abandoned, worked) = (
            r.service as usize,
            r.instance as usize,
            r.measured,
            now - r.arrived_ns,
            r.abandoned,
            now - r.started_ns,
        );
        let corrupt = r.corrupt;
        let st = &mut self.services[s];
        st.count(outcome, measured, self.bucket);
        if outcome.is_success() {
            for (_, threshold, series) in &mut st.slow_series {
                if latency > *threshold {
                    series[self.bucket] += 1;
                }
            }
            if corrupt && measured {
                st.corrupt += 1;
            }
        }
        if measured {
            if outcome.is_success() {
                st.latency.record(latency);
            }
            // Work whose answer nobody uses: the caller had left, or the work was dropped.
            if abandoned || outcome == Outcome::Shed {
                st.wasted_ns += worked;
            }
        }
        st.touch(now);
        st.busy_now -= 1;
        let pool = self.requests[req as usize].pool as usize;
        let inst = &mut self.instances[i];
        inst.pools[pool].busy -= 1;
        inst.outstanding -= 1;
        let in_flight = inst.outstanding;
        if let Some(l) = &mut inst.limit {
            l.on_done(latency, !outcome.is_success(), in_flight);
        }
        self.next_from_queue(sim, i, pool);
        if self.tracer.is_some() {
            self.trace_answer(req, now, true);
        }
        self.respond(sim, req);
    }

    /// Sends the answer of a finished or turned-away request to its caller.
    fn respond(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req as usize];
        let host = self.instances[r.instance as usize].host;
        if r.silent || self.hosts[host as usize].down > 0 {
            return self.drop_message(req); // nothing leaves a dead host
        }
        if r.call != NONE {
            let delay = self.network_delay(r.edge, true, host, r.caller_host);
            let (lost, add) = self.link(host, r.caller_host);
            if lost {
                return self.drop_message(req);
            }
            sim.schedule_in(
                SimDuration::from_ns(delay.as_ns() + add),
                Event::Reply { req },
            );
            return;
        }
        if r.abandoned {
            // The client gave up at its timeout and counted the request then.
            return self.release(req);
        }
        if self.client_retries(sim, req) {
            return;
        }
        if let Some(t) = r.timer {
            sim.cancel(t);
        }
        if r.outcome.is_success() {
            if let Some(s) = self.workloads[r.workload as usize]
                .sessions
                .get_mut(r.user as usize)
            {
                *s = (r.instance, sim.now().as_ns());
            }
        }
        let ws = &mut self.workloads[r.workload as usize];
        let back = if self.world.client_latency.is_zero() {
            0
        } else {
            self.world
                .client_latency
                .sample(&mut ws.client_back_rng)
                .as_ns()
        };
        if let Some(t) = &mut self.tracer {
            let end = sim.now().as_ns() + back;
            t.user_done(req, r.workload, r.created_ns, r.outcome.name(), end);
        }
        count(&mut ws.all, r.outcome);
        if r.outcome.is_success() {
            ws.series_ok[self.bucket] += 1;
        } else {
            ws.series_bad[self.bucket] += 1;
        }
        if r.measured {
            if r.corrupt && r.outcome.is_success() {
                ws.corrupt += 1;
            }
            count(&mut ws.measured, r.outcome);
            if r.outcome.is_success() {
                ws.latency.record(sim.now().as_ns() - r.created_ns + back);
            }
        }
        self.release(req);
    }

    /// A workload's request was answered badly: if its client retries that, schedule the retry
    /// (after the backoff, and at least the Retry-After of a 429) and keep the request.
    fn client_retries(&mut self, sim: &mut Sim<Event>, req: u32) -> bool {
        let r = self.requests[req as usize];
        let Some(retry) = &self.world.workloads[r.workload as usize].retry else {
            return false;
        };
        let failure = match r.outcome {
            Outcome::Completed | Outcome::Degraded | Outcome::Pending => return false,
            Outcome::Rejected | Outcome::Shed => AttemptFailure::Rejected,
            Outcome::RateLimited => AttemptFailure::RateLimited,
            Outcome::Failed => AttemptFailure::Error,
        };
        if u32::from(r.client_attempts) >= retry.attempts || !retry.retries(failure) {
            return false;
        }
        let ws = &mut self.workloads[r.workload as usize];
        let mut delay = retry.delay_ns(
            u32::from(r.client_attempts),
            r.client_backoff_ns,
            &mut ws.retry_rng,
        );
        if retry.honor_retry_after {
            delay = delay.max(r.retry_after_ns);
        }
        if r.measured {
            ws.retries += 1;
        }
        let q = &mut self.requests[req as usize];
        q.client_attempts += 1;
        q.client_backoff_ns = delay;
        sim.schedule_in(SimDuration::from_ns(delay), Event::ClientRetry { req });
        true
    }

    /// A client sends its request again: a new attempt at a (possibly other) instance.
    fn on_client_retry(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let old = self.requests[req as usize];
        if old.abandoned {
            return self.release(req); // the client's timeout came first
        }
        let region = self.world.workloads[old.workload as usize].region;
        let instance = self.pick_instance(old.service, old.workload, region, false);
        let mut fresh = self.new_request(old.service, instance, old.workload, now);
        fresh.created_ns = old.created_ns;
        fresh.measured = old.measured;
        fresh.pool = old.pool;
        fresh.client_attempts = old.client_attempts;
        fresh.client_backoff_ns = old.client_backoff_ns;
        fresh.timer = old.timer;
        fresh.user = old.user;
        self.requests[req as usize] = fresh;
        if let Some(t) = &mut self.tracer {
            t.client_retry(req, u32::from(old.client_attempts), now);
        }
        self.send_from_client(sim, req);
    }

    /// A client stops waiting for its request: counted failed now; whatever still runs in the
    /// system for it is ignored when it ends.
    #[cold]
    #[inline(never)]
    fn on_client_timeout(&mut self, req: u32) {
        let r = &mut self.requests[req as usize];
        r.timer = None;
        r.abandoned = true;
        let (w, measured, lost) = (r.workload as usize, r.measured, r.lost);
        if let Some(t) = &mut self.tracer {
            let (now, created) = (self.now_ns, r.created_ns);
            t.mark_attempt(req, "timeout", None, now);
            t.user_done(req, w as u32, created, "timeout", now);
        }
        let ws = &mut self.workloads[w];
        count(&mut ws.all, Outcome::Failed);
        ws.series_bad[self.bucket] += 1;
        if measured {
            count(&mut ws.measured, Outcome::Failed);
            ws.timeouts += 1;
        }
        // Lost on the way: nothing else will free the slot. (Between a client's retries, the
        // pending retry frees it.)
        if lost {
            self.release(req);
        }
    }

    /// An attempt's answer reaches the caller.
    fn on_reply(&mut self, sim: &mut Sim<Event>, child: u32) {
        let c = self.requests[child as usize];
        self.release(child);
        if c.abandoned {
            return; // the caller stopped waiting at its timeout; nobody reads this answer
        }
        if let Some(t) = c.timer {
            sim.cancel(t);
        }
        let now = sim.now().as_ns();
        self.release_permit(sim, c.call, c.holds_permit);
        self.forget_attempt(c.call, child);
        if c.corrupt {
            self.requests[self.calls[c.call as usize].parent as usize].corrupt = true;
        }
        let failure = match c.outcome {
            Outcome::Completed | Outcome::Degraded => None,
            Outcome::Rejected | Outcome::Shed => Some(AttemptFailure::Rejected),
            Outcome::RateLimited => Some(AttemptFailure::RateLimited),
            Outcome::Failed => Some(AttemptFailure::Error),
            Outcome::Pending => unreachable!("a reply carries a final outcome"),
        };
        self.record_breaker(
            c.call,
            now,
            BREAKER_STATES[c.breaker_state as usize],
            failure.is_some(),
            now - c.created_ns,
        );
        let call = self.calls[c.call as usize];
        self.outlier_observe(c.instance, failure.is_some(), now);
        self.record_throttle(c.call, now, failure.is_none());
        if failure.is_none() {
            if let Some(h) = &mut self.edges[call.edge as usize].observed {
                h.saturating_record(now - c.created_ns);
            }
        }
        if call.measured {
            let stats = &mut self.edges[call.edge as usize].stats;
            match failure {
                Some(AttemptFailure::Rejected) => stats.rejected += 1,
                Some(AttemptFailure::RateLimited) => stats.rate_limited += 1,
                Some(_) => stats.errors += 1,
                None => {}
            }
        }
        match failure {
            None => self.call_done(sim, c.call, Outcome::Completed),
            Some(f) => self.attempt_failed(sim, c.call, f, c.retry_after_ns),
        }
    }

    /// The caller's timer for an attempt fired: it stops waiting (the callee carries on).
    fn on_timeout(&mut self, sim: &mut Sim<Event>, child: u32) {
        let now = sim.now().as_ns();
        let c = &mut self.requests[child as usize];
        c.timer = None;
        c.abandoned = true;
        let (call, holds, state, created) = (
            c.call,
            c.holds_permit,
            BREAKER_STATES[c.breaker_state as usize],
            c.created_ns,
        );
        let (instance, lost) = (c.instance, c.lost);
        if let Some(t) = &mut self.tracer {
            t.mark_attempt(child, "timeout", Some(c.service), now);
        }
        self.requests[child as usize].holds_permit = false;
        self.outlier_observe(instance, true, now);
        if lost {
            self.release(child); // its message (or its answer) was lost: nothing else holds it
        }
        self.release_permit(sim, call, holds);
        self.forget_attempt(call, child);
        self.record_throttle(call, now, false);
        self.record_breaker(call, now, state, true, now - created);
        let measured = self.calls[call as usize].measured;
        if measured {
            self.edges[self.calls[call as usize].edge as usize]
                .stats
                .timeouts += 1;
        }
        self.attempt_failed(sim, call, AttemptFailure::Timeout, 0);
    }

    /// An attempt is no longer outstanding for its call.
    fn forget_attempt(&mut self, call: u32, child: u32) {
        let c = &mut self.calls[call as usize];
        if let Some(slot) = c.children.iter_mut().find(|x| **x == child) {
            *slot = NONE;
            c.outstanding -= 1;
        }
    }

    fn record_throttle(&mut self, call: u32, now: u64, success: bool) {
        let c = self.calls[call as usize];
        let es = &mut self.edges[c.edge as usize];
        if es.throttles.is_empty() {
            return;
        }
        let offset = self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance;
        es.throttles[offset as usize].record(now, success);
    }

    /// The hedge delay passed with the call still unanswered: send one more attempt.
    fn on_hedge(&mut self, sim: &mut Sim<Event>, call: u32) {
        let c = &mut self.calls[call as usize];
        c.hedge_timer = None;
        if c.outstanding == 0 {
            return; // between a failure and its retry: the retry goes out by itself
        }
        c.hedges += 1;
        let (measured, edge) = (c.measured, c.edge);
        if let Some(t) = &mut self.tracer {
            let (parent, attempt) = (c.parent, c.attempts + 1);
            t.mark_call(
                parent,
                "hedge",
                self.world.calls[edge as usize].to,
                attempt,
                self.now_ns,
            );
        }
        if measured {
            self.edges[edge as usize].stats.hedges += 1;
        }
        self.attempt(sim, call, true);
    }

    fn record_breaker(
        &mut self,
        call: u32,
        now: u64,
        acquired_in: &'static str,
        failed: bool,
        duration_ns: u64,
    ) {
        let c = self.calls[call as usize];
        let Some(bp) = &self.world.calls[c.edge as usize].policy.breaker else {
            return;
        };
        let es = &mut self.edges[c.edge as usize];
        let slow = duration_ns >= bp.slow_call_ns;
        if let Some((from, to)) =
            es.breakers[c.slot as usize].record(bp, now, acquired_in, failed, slow)
        {
            es.stats
                .breaker_transitions
                .push(transition(now, bp.shared, c.slot, from, to));
        }
    }

    /// Gives back a bulkhead permit, letting the oldest waiting call through.
    fn release_permit(&mut self, sim: &mut Sim<Event>, call: u32, holds: bool) {
        if !holds {
            return;
        }
        let c = self.calls[call as usize];
        let slot = (self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance)
            as usize;
        let es = &mut self.edges[c.edge as usize];
        es.bulkhead_in_use[slot] -= 1;
        if let Some(next) = es.bulkhead_waiting[slot].pop_front() {
            self.calls[next as usize].waiting = false;
            if let Some(t) = self.calls[next as usize].wait_timer.take() {
                sim.cancel(t);
            }
            self.attempt(sim, next, false);
        }
    }

    /// A call waited for its bulkhead longer than `max_wait`.
    fn on_bulkhead_wait(&mut self, sim: &mut Sim<Event>, call: u32) {
        let c = &mut self.calls[call as usize];
        c.wait_timer = None;
        c.waiting = false;
        c.attempts += 1; // the attempt that could not start
        let c = *c;
        let slot = (self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance)
            as usize;
        let es = &mut self.edges[c.edge as usize];
        es.bulkhead_waiting[slot].retain(|&w| w != call);
        if c.measured {
            es.stats.attempts += 1;
            es.stats.bulkhead_rejected += 1;
            if c.attempts > 1 {
                es.stats.retries += 1;
            }
        }
        self.attempt_failed(sim, call, AttemptFailure::BulkheadFull, 0);
    }

    /// An attempt failed: retry it after its backoff, or end the call.
    fn attempt_failed(
        &mut self,
        sim: &mut Sim<Event>,
        call: u32,
        failure: AttemptFailure,
        retry_after_ns: u64,
    ) {
        if self.tracer.is_some() {
            let name = match failure {
                AttemptFailure::BreakerOpen => Some("breaker_open"),
                AttemptFailure::BulkheadFull => Some("bulkhead_full"),
                AttemptFailure::Throttled => Some("throttled"),
                _ => None,
            };
            if let Some(name) = name {
                self.trace_call(call, name, self.calls[call as usize].attempts);
            }
        }
        let c = &self.calls[call as usize];
        if c.outstanding > 0 || c.waiting || c.retry_timer.is_some() {
            // Another attempt of the call is still on its way (a hedge sent or waiting for its
            // bulkhead, or a retry after its backoff): the call goes on.
            return;
        }
        let now = sim.now().as_ns();
        let c = self.calls[call as usize];
        let policy = &self.world.calls[c.edge as usize].policy;
        let parent_deadline = self.requests[c.parent as usize].deadline_ns;
        if let Some(retry) = &policy.retry {
            if c.attempts < retry.attempts && retry.retries(failure) && now < parent_deadline {
                let es = &mut self.edges[c.edge as usize];
                let in_budget = es.budget.as_mut().is_none_or(|b| b.try_retry(now));
                if in_budget {
                    let delay =
                        retry.delay_ns(c.attempts, c.previous_backoff_ns, &mut es.backoff_rng);
                    let delay = if retry.honor_retry_after {
                        delay.max(retry_after_ns)
                    } else {
                        delay
                    };
                    self.calls[call as usize].previous_backoff_ns = delay;
                    self.calls[call as usize].retry_timer =
                        Some(sim.timer_in(SimDuration::from_ns(delay), Event::Retry { call }));
                    return;
                }
                if c.measured {
                    es.stats.retries_denied += 1;
                }
            }
        }
        let outcome = if policy.fallback.is_some() {
            Outcome::Degraded
        } else {
            Outcome::Failed
        };
        self.call_done(sim, call, outcome);
    }

    /// A call is over: `Completed`, `Degraded` (its fallback answered) or `Failed`.
    fn call_done(&mut self, sim: &mut Sim<Event>, call: u32, outcome: Outcome) {
        let c = self.calls[call as usize];
        if let Some(t) = c.hedge_timer {
            sim.cancel(t);
        }
        // An attempt (a hedge) may still be waiting for a bulkhead permit: it is not needed now.
        if let Some(t) = c.wait_timer {
            sim.cancel(t);
        }
        if let Some(t) = c.retry_timer {
            sim.cancel(t);
        }
        if c.waiting {
            let slot = (self.requests[c.parent as usize].instance
                - self.world.services[self.world.calls[c.edge as usize].from as usize]
                    .first_instance) as usize;
            self.edges[c.edge as usize].bulkhead_waiting[slot].retain(|&w| w != call);
        }
        // Attempts still out (hedges) lost the race: nobody waits for them any more.
        for &child in c.children.iter().filter(|&&x| x != NONE) {
            let r = &mut self.requests[child as usize];
            r.abandoned = true;
            let (timer, holds, lost) = (r.timer.take(), r.holds_permit, r.lost);
            r.holds_permit = false;
            if let Some(t) = timer {
                sim.cancel(t);
            }
            self.release_permit(sim, call, holds);
            if lost {
                self.release(child);
            }
        }
        self.free_calls.push(call);
        if c.measured {
            let stats = &mut self.edges[c.edge as usize].stats;
            match outcome {
                Outcome::Completed => stats.ok += 1,
                Outcome::Degraded => stats.degraded += 1,
                _ => stats.failed += 1,
            }
        }
        let p = &mut self.requests[c.parent as usize];
        debug_assert_eq!(p.phase, Phase::Calling);
        p.pending -= 1;
        match outcome {
            Outcome::Completed => {}
            Outcome::Degraded => p.degraded_call = true,
            _ => p.failed_call = true,
        }
        if p.pending > 0 {
            return;
        }
        let i = p.instance as usize;
        if self.instances[i].hung > 0 {
            // A hung process does nothing with the answers until the hang ends.
            self.instances[i].parked.push(c.parent);
            return;
        }
        self.after_calls(sim, c.parent);
    }

    /// Every call of the request's step has answered: fail it, or go on to its next step.
    fn after_calls(&mut self, sim: &mut Sim<Event>, req: u32) {
        let p = &mut self.requests[req as usize];
        if p.failed_call || p.doomed {
            self.finish(sim, req, Outcome::Failed);
        } else {
            p.step += 1;
            self.advance(sim, req);
        }
    }

    /// A service goes down: its queued requests are answered with an error at once, and the work
    /// in progress is lost (those requests fail when their work or calls end).
    fn lose_work(&mut self, sim: &mut Sim<Event>, s: usize) {
        let def = &self.world.services[s];
        for i in def.first_instance..def.first_instance + def.n_instances {
            while let Some(req) = self.instances[i as usize]
                .pools
                .iter_mut()
                .find_map(|p| p.queue.pop_front())
            {
                let st = &mut self.services[s];
                st.touch(sim.now().as_ns());
                st.queue_now -= 1;
                self.instances[i as usize].outstanding -= 1;
                self.turn_away(sim, req, Outcome::Failed);
            }
        }
        for r in &mut self.requests {
            if r.service as usize == s && matches!(r.phase, Phase::Working | Phase::Calling) {
                r.doomed = true;
            }
        }
    }

    fn on_tick(&mut self, sim: &mut Sim<Event>) {
        if self.keep_going.is_some_and(|f| !f()) && self.guard_hit.is_none() {
            self.guard_hit = Some("wall_time_max");
            sim.request_stop();
        }
        let b = self.bucket;
        for st in &mut self.services {
            st.series.queue_len[b] = st.queue_now;
            st.series.busy[b] = st.busy_now;
        }
        if !self.world.alerts.is_empty() {
            self.evaluate_alerts(sim, b);
        }
        for e in &mut self.edges {
            if !e.breakers.is_empty() {
                e.stats.breaker_open[b] = e
                    .breakers
                    .iter()
                    .filter(|x| x.state != BreakerState::Closed)
                    .count() as u32;
            }
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
        self.audit(seed, run);
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
            if r.call == NONE && !r.abandoned {
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
        for s in 0..self.services.len() {
            self.recount_up(s, end_ns);
            let st = &mut self.services[s];
            if let Some(store) = &mut st.store {
                if let Some(t) = store.down_since.take() {
                    store.result.write_unavailable_ns += end_ns - t;
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
                let capacity = f64::from(def.workers_total()) * f64::from(def.n_instances);
                ServiceResult {
                    name: def.name.clone(),
                    n_instances: def.n_instances,
                    workers: def.workers_total(),
                    measured: st.measured,
                    ledger: st.all,
                    offered_per_s: st.measured.arrived as f64 / secs,
                    throughput_per_s: (st.measured.completed + st.measured.degraded) as f64 / secs,
                    goodput_per_s: st.measured.completed as f64 / secs,
                    wasted_work_ns: st.wasted_ns,
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
                    instances_up_ns: std::mem::take(&mut st.up_ns),
                    corrupt: st.corrupt,
                    recovery: st.recovery.clone(),
                    sessions_lost: st.sessions_lost,
                    keeps_sessions: def.recovery.sessions,
                    store: st.store.as_ref().map(|x| x.result.clone()),
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
                    retries: ws.retries,
                    latency: ws.latency.summary(),
                    timeouts: ws.timeouts,
                    corrupt: ws.corrupt,
                    series_ok: std::mem::take(&mut ws.series_ok),
                    series_bad: std::mem::take(&mut ws.series_bad),
                }
            })
            .collect();
        let edges = self
            .edges
            .iter_mut()
            .map(|e| {
                let mut stats = std::mem::take(&mut e.stats);
                stats.amplification = ratio(stats.attempts, stats.calls);
                stats
            })
            .collect();
        let faults = self.occurrence_list();
        if self.log_dropped > 0 {
            let what = format!("{} more entries not kept", self.log_dropped);
            self.log.push(crate::results::LogEntry {
                t_ns: end_ns,
                kind: "truncated".into(),
                what,
            });
        }
        let histograms = RunHistograms {
            services: self.services.into_iter().map(|s| s.latency.hist).collect(),
            workloads: self.workloads.into_iter().map(|w| w.latency.hist).collect(),
        };
        let result = RunResult {
            schema_version: SCHEMA_VERSION,
            faults,
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
            edges,
            slo: self.world.spec.slo,
            alerts: std::mem::take(&mut self.firings),
            log: std::mem::take(&mut self.log),
        };
        (result, histograms)
    }
}

/// Takes a token from every rate limiter of a service that applies to the request, or none of
/// them: on refusal, the wait until all would have one.
fn take_tokens(
    st: &mut ServiceState,
    workload: usize,
    tier: Option<u32>,
    now: u64,
) -> Result<(), u64> {
    let mut wait = 0;
    let mut check = |b: Option<&mut Bucket>| {
        if let Some(b) = b {
            if let Err(w) = b.check(now) {
                wait = wait.max(w);
            }
        }
    };
    check(st.global_bucket.as_mut());
    check(st.client_buckets.get_mut(workload));
    check(
        tier.and_then(|t| st.tier_buckets.get_mut(t as usize))
            .and_then(Option::as_mut),
    );
    if wait > 0 {
        return Err(wait);
    }
    st.global_bucket.iter_mut().for_each(Bucket::take);
    if let Some(b) = st.client_buckets.get_mut(workload) {
        b.take();
    }
    if let Some(b) = tier
        .and_then(|t| st.tier_buckets.get_mut(t as usize))
        .and_then(Option::as_mut)
    {
        b.take();
    }
    Ok(())
}

impl ServiceModel<'_> {
    /// Checks the state invariants at the end of a run: no pool has more busy workers than it
    /// has, no queue holds more than its bound, the load balancers' counts match what is queued
    /// and served, the live-request count matches the slab, and no breaker has let more half-open
    /// probes through than configured. A failure is a bug in the model, so it is an assertion.
    fn audit(&self, seed: u64, run: u64) {
        let fail = |what: String| panic!("invariant broken in seed {seed} run {run}: {what}");
        for (i, inst) in self.instances.iter().enumerate() {
            let def = &self.world.services[self.world.instances[i].service_idx as usize];
            let mut held = 0;
            for (p, pool) in inst.pools.iter().enumerate() {
                let (workers, queue_cap, _) = def.pool(p);
                if pool.busy > workers {
                    fail(format!(
                        "instance {i} of `{}` pool {p}: {} busy of {workers} workers",
                        def.name, pool.busy
                    ));
                }
                if pool.queue.len() as u64 > u64::from(queue_cap) {
                    fail(format!(
                        "instance {i} of `{}` pool {p}: {} queued, bound {queue_cap}",
                        def.name,
                        pool.queue.len()
                    ));
                }
                held += u64::from(pool.busy) + pool.queue.len() as u64;
            }
            if held != u64::from(inst.outstanding) {
                fail(format!(
                    "instance {i} of `{}`: outstanding {} but {held} queued or busy",
                    def.name, inst.outstanding
                ));
            }
        }
        let mut free = self.free.clone();
        free.sort_unstable();
        if let Some(w) = free.windows(2).find(|w| w[0] == w[1]) {
            fail(format!("request slot {} released twice", w[0]));
        }
        let mut free_calls = self.free_calls.clone();
        free_calls.sort_unstable();
        if let Some(w) = free_calls.windows(2).find(|w| w[0] == w[1]) {
            fail(format!("call slot {} released twice", w[0]));
        }
        if self.live as usize + self.free.len() != self.requests.len() {
            fail(format!(
                "{} live + {} free requests, slab of {}",
                self.live,
                self.free.len(),
                self.requests.len()
            ));
        }
        for (e, es) in self.edges.iter().enumerate() {
            let Some(bp) = &self.world.calls[e].policy.breaker else {
                continue;
            };
            for b in &es.breakers {
                if let BreakerState::HalfOpen { permitted, .. } = b.state {
                    if permitted > bp.half_open_calls() {
                        fail(format!(
                            "edge {e}: {permitted} half-open probes of {}",
                            bp.half_open_calls()
                        ));
                    }
                }
            }
        }
    }
}

/// Hooks of the tracer that need the model's state: out of line, as tracing is rare.
impl ServiceModel<'_> {
    /// The request in `req` was answered at its instance at `now`, after a worker took it
    /// (`worked`) or not.
    #[cold]
    #[inline(never)]
    fn trace_answer(&mut self, req: u32, now: u64, worked: bool) {
        let r = self.requests[req as usize];
        let first = self.world.services[r.service as usize].first_instance;
        let place = Place::Instance {
            service: r.service,
            offset: r.instance - first,
        };
        // A request that never took a worker waited until it was turned away.
        let wait = if worked {
            r.started_ns - r.arrived_ns
        } else {
            now - r.arrived_ns
        };
        let outcome = if r.phase == Phase::Done {
            r.outcome.name()
        } else {
            "in_flight"
        };
        if let Some(t) = &mut self.tracer {
            t.answered(req, place, r.arrived_ns, wait, outcome, now);
        }
    }

    /// A call retries, or an attempt of it is refused before it leaves: `attempt` is its number.
    #[cold]
    #[inline(never)]
    fn trace_call(&mut self, call: u32, name: &'static str, attempt: u32) {
        let c = self.calls[call as usize];
        let to = self.world.calls[c.edge as usize].to;
        if let Some(t) = &mut self.tracer {
            t.mark_call(c.parent, name, to, attempt, self.now_ns);
        }
    }

    /// At the end of a traced run, the requests still in the system end their spans there.
    #[cold]
    #[inline(never)]
    fn trace_in_flight(&mut self, end_ns: u64) {
        let mut is_free = vec![false; self.requests.len()];
        for &f in &self.free {
            is_free[f as usize] = true;
        }
        for req in 0..self.requests.len() as u32 {
            let r = self.requests[req as usize];
            if is_free[req as usize] {
                continue;
            }
            if matches!(r.phase, Phase::Queued | Phase::Working | Phase::Calling) {
                self.trace_answer(req, end_ns, r.phase != Phase::Queued);
            }
            if r.call == NONE && !r.abandoned {
                if let Some(t) = &mut self.tracer {
                    t.user_done(req, r.workload, r.created_ns, "in_flight", end_ns);
                }
            }
        }
    }
}

/// The request slab is copied and scanned on every event: keep a request small.
const _: () = assert!(std::mem::size_of::<Request>() <= 128);
/// Events are moved through the heap on every push and pop: keep them 8 bytes.
const _: () = assert!(std::mem::size_of::<Event>() <= 8);

fn transition(
    now: u64,
    shared: bool,
    slot: u32,
    from: BreakerState,
    to: BreakerState,
) -> BreakerTransition {
    BreakerTransition {
        t_ns: now,
        instance: if shared { None } else { Some(slot) },
        from: from.name().into(),
        to: to.name().into(),
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
        self.now_ns = sim.now().as_ns();
        match event {
            Event::Arrival { workload } => self.on_arrival(sim, workload),
            Event::Deliver { req } => self.deliver(sim, req),
            Event::WorkDone { req } => self.on_work_done(sim, req),
            Event::Reply { req } => self.on_reply(sim, req),
            Event::Timeout { req } => self.on_timeout(sim, req),
            Event::Retry { call } => {
                self.calls[call as usize].retry_timer = None;
                if self.tracer.is_some() {
                    self.trace_call(call, "retry", self.calls[call as usize].attempts + 1);
                }
                self.attempt(sim, call, false)
            }
            Event::Hedge { call } => self.on_hedge(sim, call),
            Event::ClientRetry { req } => self.on_client_retry(sim, req),
            Event::BulkheadWait { call } => self.on_bulkhead_wait(sim, call),
            Event::Fault { proc, start } => {
                let (fault, unit) = self.proc_owner[proc as usize];
                self.on_fault(sim, fault, unit, start)
            }
            Event::Health { service } => self.on_health(sim, service),
            Event::OutlierReview { service } => self.on_outlier_review(sim, service),
            Event::Replaced { instance } => self.on_replaced(sim, instance),
            Event::Replicate { msg } => self.on_replicate(sim, msg),
            Event::ReplicaAck { msg } => self.on_replica_ack(sim, msg),
            Event::ReplTimeout { wait } => self.on_repl_timeout(sim, wait),
            Event::Failover { service, epoch } => self.on_failover(sim, service, epoch),
            Event::ClientTimeout { req } => self.on_client_timeout(req),
            Event::Deploy { deploy, step } => self.on_deploy(sim, u32::from(deploy), step),
            Event::Rollback { deploy } => self.on_rollback(sim, deploy),
            Event::Autoscale { service } => self.on_autoscale(sim, service),
            Event::ScaleUp { instance } => self.on_scale_up(sim, instance),
            Event::Tick => self.on_tick(sim),
            Event::WarmupEnd => self.on_warmup_end(sim.now().as_ns()),
        }
        if !self.pending_failovers.is_empty() {
            self.flush_failovers(sim);
        }
    }

    #[inline]
    fn digest_key(event: &Event) -> (u32, u64) {
        match *event {
            Event::Arrival { workload } => (1, u64::from(workload)),
            Event::Deliver { req } => (2, u64::from(req)),
            Event::WorkDone { req } => (3, u64::from(req)),
            Event::Reply { req } => (4, u64::from(req)),
            Event::Timeout { req } => (7, u64::from(req)),
            Event::Retry { call } => (8, u64::from(call)),
            Event::Hedge { call } => (11, u64::from(call)),
            Event::ClientRetry { req } => (12, u64::from(req)),
            Event::BulkheadWait { call } => (9, u64::from(call)),
            Event::Fault { proc, start } => (10, u64::from(proc) << 1 | u64::from(start)),
            Event::Health { service } => (13, u64::from(service)),
            Event::OutlierReview { service } => (14, u64::from(service)),
            Event::Replaced { instance } => (15, u64::from(instance)),
            Event::Replicate { msg } => (16, u64::from(msg)),
            Event::ReplicaAck { msg } => (17, u64::from(msg)),
            Event::ReplTimeout { wait } => (18, u64::from(wait)),
            Event::Failover { service, epoch } => (19, u64::from(service) << 32 | u64::from(epoch)),
            Event::ClientTimeout { req } => (20, u64::from(req)),
            Event::Deploy { deploy, step } => (21, u64::from(deploy) << 32 | u64::from(step)),
            Event::Rollback { deploy } => (22, u64::from(deploy)),
            Event::Autoscale { service } => (23, u64::from(service)),
            Event::ScaleUp { instance } => (24, u64::from(instance)),
            Event::Tick => (5, 0),
            Event::WarmupEnd => (6, 0),
        }
    }
}
