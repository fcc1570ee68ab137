//! What one run produces: plain serde structs, small and of bounded size (counters, percentile
//! summaries, time series whose length is horizon / resolution). Reports consume these and never
//! run a simulation.
//!
//! Units are in the names: `_ns` nanoseconds, `_per_s` per second of simulated time.

use crate::sparse_hist::SparseHistogram;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies above this are clamped in the histograms (the exact maximum is kept apart).
const HIST_MAX_NS: u64 = 3_600_000_000_000;

/// Latency histograms of one run (nanoseconds, the buckets of [`new_latency_histogram`]), for
/// merging across runs. Sparse, as the model kept them: a sweep folds them into its aggregate
/// without ever holding a full 270 KB histogram per service (`to_hdr` makes one when needed).
pub struct RunHistograms {
    /// One per service, in the world's order.
    pub services: Vec<SparseHistogram>,
    /// One per workload (end to end).
    pub workloads: Vec<SparseHistogram>,
}

/// An empty histogram with the bounds every run uses, so that histograms of runs merge exactly.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds")
}

/// Version of the result format; bumped when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema_version: u32,
    /// Injected faults, for shading charts: (description, start, end) in ns; `end` is the horizon
    /// for a fault that lasts to the end.
    pub faults: Vec<(String, u64, u64)>,
    pub scenario: String,
    pub seed: u64,
    pub run: u64,
    pub horizon_ns: u64,
    pub warmup_ns: u64,
    /// Length of the measured window: from the warm-up to the end of the run.
    pub measured_ns: u64,
    /// `horizon`, or the guard that stopped the run early: `events_max`, `requests_in_flight_max`,
    /// `events_pending_max`, `wall_time_max`.
    pub stop: String,
    pub events: u64,
    /// Hash of every processed event, sixteen hex digits: equal digests mean identical runs.
    pub digest: String,
    pub services: Vec<ServiceResult>,
    pub workloads: Vec<WorkloadResult>,
    /// One per call edge (caller -> dependency), in the order calls appear in the scenario.
    pub edges: Vec<EdgeResult>,
    /// Every firing of an alert rule, in order of time.
    #[serde(default)]
    pub alerts: Vec<AlertFiring>,
    /// The scenario's users' SLO (share of good answers per bucket), for incident timelines.
    #[serde(default = "default_slo")]
    pub slo: f64,
    /// Notable events of the run in order of time: faults, health verdicts, ejections,
    /// replacements, failovers, alerts, deployments, rollbacks. At most `LOG_MAX` entries.
    #[serde(default)]
    pub log: Vec<LogEntry>,
    /// Links, disks and bulk transfers, for a scenario that gives them capacities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkResult>,
}

/// Bytes by what they carry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ByClass {
    pub user: u64,
    pub replication: u64,
    pub recovery: u64,
    pub bulk: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub background: u64,
}

impl ByClass {
    pub fn from_array(a: [u64; 5]) -> ByClass {
        ByClass {
            user: a[0],
            replication: a[1],
            recovery: a[2],
            bulk: a[3],
            background: a[4],
        }
    }

    pub fn total(&self) -> u64 {
        self.user + self.replication + self.recovery + self.bulk + self.background
    }
}

/// The network's and the disks' part of a run: every link and disk that carried anything, and
/// the bulk transfers. Series are per time-series bucket over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkResult {
    /// Bytes of flows on links with a capacity: sent = delivered + in flight at the end
    /// (asserted when the result is built).
    pub sent: ByClass,
    pub delivered: ByClass,
    pub in_flight: ByClass,
    pub links: Vec<LinkResult>,
    pub disks: Vec<DiskResult>,
    pub transfers: Vec<TransferResult>,
}

/// One direction of a link, over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkResult {
    pub name: String,
    /// Bits per second.
    pub capacity_bps: f64,
    /// Bytes carried over the run, against its capacity over the run.
    pub utilization: f64,
    pub bytes: ByClass,
    /// Flows on it: their mean number and the most at once.
    pub flows_mean: f64,
    pub flows_max: u32,
    /// Utilization per bucket.
    pub utilization_series: Vec<f64>,
}

/// A host's disk, over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskResult {
    pub host: String,
    pub ops: u64,
    pub bytes: ByClass,
    /// Busy time over the run.
    pub utilization: f64,
    /// Operations waiting: their mean and the most at once, and at each bucket's end.
    pub queue_mean: f64,
    pub queue_max: u32,
    pub queue_series: Vec<u64>,
    /// Bytes it holds at the end, and writes refused because it was full.
    pub used_bytes: u64,
    pub full_refusals: u64,
}

/// A bulk transfer (`transfers`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransferResult {
    pub name: String,
    pub bytes: u64,
    pub moved_bytes: u64,
    pub started_ns: u64,
    /// When it ended (`None`: still going at the end, or abandoned).
    pub done_ns: Option<u64>,
}

fn default_slo() -> f64 {
    0.99
}

/// Most entries of a run's notable-event log (the rest are counted in a last entry).
pub const LOG_MAX: usize = 10_000;

/// Breaker transitions an edge keeps (`EdgeResult::breaker_transitions`): a breaker that flaps
/// for a long run would otherwise grow them without bound.
pub const BREAKER_TRANSITIONS_MAX: usize = 10_000;

/// What a notable event of a run's log is. Its name is the `kind` of a [`LogEntry`] (the JSON
/// keeps the names; readers compare with [`LogKind::name`], never with a literal).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogKind {
    FaultStart,
    FaultEnd,
    Healthy,
    Unhealthy,
    Replacing,
    Replaced,
    Moved,
    Ejected,
    Returned,
    Failover,
    SessionsLost,
    ScaleUp,
    ScaleDown,
    /// A process was killed for running out of memory, and restarted after its back-off.
    OomKilled,
    /// A process failed its liveness probe too often in a row and was killed, to restart after
    /// its back-off.
    LivenessFailed,
    Restarted,
    Alert,
    AlertResolved,
    Deploy,
    Rollback,
    /// A datastore copy's rebuild started, ended or was abandoned.
    Rebuild,
    /// The last entry of a log that reached `LOG_MAX`: how many more were not kept.
    Truncated,
    /// An operator's action (`actions`): a mitigation taken, not an incident.
    Action,
}

impl LogKind {
    pub fn name(self) -> &'static str {
        match self {
            LogKind::FaultStart => "fault_start",
            LogKind::FaultEnd => "fault_end",
            LogKind::Healthy => "healthy",
            LogKind::Unhealthy => "unhealthy",
            LogKind::Replacing => "replacing",
            LogKind::Replaced => "replaced",
            LogKind::Moved => "moved",
            LogKind::Ejected => "ejected",
            LogKind::Returned => "returned",
            LogKind::Failover => "failover",
            LogKind::SessionsLost => "sessions_lost",
            LogKind::ScaleUp => "scale_up",
            LogKind::ScaleDown => "scale_down",
            LogKind::OomKilled => "oom_killed",
            LogKind::LivenessFailed => "liveness_failed",
            LogKind::Restarted => "restarted",
            LogKind::Alert => "alert",
            LogKind::AlertResolved => "alert_resolved",
            LogKind::Deploy => "deploy",
            LogKind::Rollback => "rollback",
            LogKind::Rebuild => "rebuild",
            LogKind::Truncated => "truncated",
            LogKind::Action => "action",
        }
    }
}

/// Why a run stopped. Its name is [`RunResult::stop`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The whole horizon was simulated.
    Horizon,
    /// `limits.events_max` events were processed.
    EventsMax,
    /// More requests were in flight at once than `limits.requests_in_flight_max`.
    RequestsInFlightMax,
    /// The caller's wall-clock guard (`limits.wall_time_max`) said stop.
    WallTimeMax,
    /// More events were queued at once than `limits.events_pending_max`.
    EventsPendingMax,
}

impl StopReason {
    pub fn name(self) -> &'static str {
        match self {
            StopReason::Horizon => "horizon",
            StopReason::EventsMax => "events_max",
            StopReason::RequestsInFlightMax => "requests_in_flight_max",
            StopReason::WallTimeMax => "wall_time_max",
            StopReason::EventsPendingMax => "events_pending_max",
        }
    }

    /// What a run stopped by the guard named `name` means, for people; `None` for `horizon`.
    pub fn explain(name: &str) -> Option<&'static str> {
        Some(match name {
            "events_max" => "the run processed `limits.events_max` events and stopped early; its results cover only part of the horizon",
            "requests_in_flight_max" => "more requests were in flight at once than `limits.requests_in_flight_max` (queues growing without bound?); the run stopped early",
            "wall_time_max" => "the run took longer than `limits.wall_time_max` on this machine and stopped early",
            "events_pending_max" => "more events were pending at once than `limits.events_pending_max` (timeouts or timers piling up faster than they expire?); the run stopped early",
            _ => return None,
        })
    }
}

/// One firing of an alert: when it fired, and when it resolved (`None`: still firing at the end).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertFiring {
    pub name: String,
    pub fired_ns: u64,
    pub resolved_ns: Option<u64>,
}

/// A notable event: `kind` is one of `fault_start`, `fault_end`, `unhealthy`, `healthy`,
/// `ejected`, `returned`, `replacing`, `replaced`, `failover`, `alert`, `alert_resolved`,
/// `deploy`, `rollback`, `breaker`, `action`; `what` names the subject (`checkout/2`, an alert, a fault).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub t_ns: u64,
    pub kind: String,
    pub what: String,
}

/// The data ledger of a datastore, over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreResult {
    /// Writes acknowledged to their callers.
    pub writes_acked: u64,
    /// Acknowledged writes that no surviving copy held when a replica was promoted (RPO as a count).
    pub lost_writes: u64,
    /// Reads answered by a replica that had not yet applied the last acknowledged write.
    pub stale_reads: u64,
    pub failovers: u32,
    /// Time with no reachable primary to take writes (RTO, summed over incidents).
    pub write_unavailable_ns: u64,
    /// Conditional writes (`op: CompareAndSet`) refused because another committed to their
    /// row after they read it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conflicts: u64,
    /// Writes acknowledged by a primary that had been replaced while cut off by a partition
    /// (split brain): lost when the partition heals (also counted in `lost_writes`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub divergent_writes: u64,
    /// Writes refused because the disk was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_full: u64,
    /// Rebuilds of copies that lost their data: started, finished, abandoned (their source
    /// or target went down), and the bytes the finished ones copied.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rebuilds: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rebuilds_done: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rebuilds_abandoned: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rebuilt_bytes: u64,
    /// Time with at least one copy lacking its data (needing or doing a rebuild): the time at
    /// reduced redundancy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redundancy_lost_ns: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a cache service's caches did (`cache`), over the measured window; the series over
/// the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheResult {
    /// Requests with a key that reached the fronted call.
    pub lookups: u64,
    /// Lookups that found their key fresh and skipped the fronted call.
    pub hits: u64,
    /// Lookups that did not (coalesced ones included); early refreshes are neither.
    pub misses: u64,
    /// Misses that waited for another request's fetch of the same key instead of calling.
    pub coalesced: u64,
    /// Misses that found their key expired.
    pub expired: u64,
    /// Fresh entries refetched early (`early_expiry`).
    pub early_refreshes: u64,
    /// Entries put in after a fetch answered.
    pub fills: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Keys held at the end, all instances together.
    pub keys_held: u64,
    /// Per time-series bucket: lookups, and hits among them.
    pub series_lookups: Vec<u64>,
    pub series_hits: Vec<u64>,
}

impl CacheResult {
    /// Hits out of lookups; `None` without lookups.
    pub fn hit_ratio(&self) -> Option<f64> {
        (self.lookups > 0).then(|| self.hits as f64 / self.lookups as f64)
    }
}

/// A broker's messages over the whole run (warm-up included): its ledger, `published = acked +
/// dead_letters + lost + ready + out`, balances in every run (audited).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueResult {
    /// Messages stored (publishes answered well).
    pub published: u64,
    /// Publishes refused by a full instance.
    pub refused: u64,
    /// Deliveries to consumers (first ones and redeliveries).
    pub delivered: u64,
    /// Messages acknowledged: processed.
    pub acked: u64,
    /// Messages delivered again after their visibility timeout.
    pub redeliveries: u64,
    /// Good answers for a message that had been answered well before: work done twice.
    pub duplicates: u64,
    /// Messages given up after `max_deliveries`.
    pub dead_letters: u64,
    /// Waiting messages lost with a broker instance (without `replicated`).
    pub lost: u64,
    /// At the end: waiting, and delivered but not acknowledged.
    pub ready: u64,
    pub out: u64,
    /// Per time-series bucket, at its end: messages held (waiting and out), and the age of the
    /// oldest waiting one (the oldest at the head of a partition).
    pub series_backlog: Vec<u64>,
    pub series_oldest_ns: Vec<u64>,
}

impl QueueResult {
    /// Whether every message published is accounted for.
    pub fn balanced(&self) -> bool {
        self.published == self.acked + self.dead_letters + self.lost + self.ready + self.out
    }
}

/// What recovery mechanisms did at a service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryResult {
    /// Instances found unhealthy by health checks.
    pub unhealthy: u64,
    /// Ejections by outlier detection.
    pub ejections: u64,
    /// Instances replaced by the orchestrator.
    pub replacements: u64,
    /// Instances the autoscaler added and removed.
    #[serde(default)]
    pub scale_ups: u64,
    #[serde(default)]
    pub scale_downs: u64,
    /// Processes killed for running out of memory (`memory`).
    #[serde(default)]
    pub oom_kills: u64,
    /// Processes killed by their liveness probe (`liveness`).
    #[serde(default)]
    pub liveness_restarts: u64,
}

/// What callers saw of one dependency, counted over calls made in the measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeResult {
    pub from: String,
    pub to: String,
    /// Logical calls (one per parent request and call step).
    pub calls: u64,
    /// Attempts sent or refused by the caller's own defences (first tries and retries).
    pub attempts: u64,
    pub retries: u64,
    /// Retries (and hedges) the retry budget refused.
    pub retries_denied: u64,
    /// Calls that ended well, in full.
    pub ok: u64,
    /// Calls that failed and were answered by their fallback.
    pub degraded: u64,
    /// Calls that failed for good (after retries, without a fallback).
    pub failed: u64,
    /// Attempt outcomes.
    pub timeouts: u64,
    pub errors: u64,
    pub rejected: u64,
    pub rate_limited: u64,
    pub breaker_rejected: u64,
    pub bulkhead_rejected: u64,
    /// Attempts the caller's adaptive throttle refused, and retries gRPC retry throttling
    /// refused when the attempt before them failed.
    pub throttled: u64,
    /// Extra attempts sent by hedging.
    pub hedges: u64,
    /// Retries in progress on the edge (all caller instances), each from the failure that
    /// decided it until its own outcome or the end of its call (through its backoff, as Envoy
    /// counts a retry active): the most at once, and the mean over the measured window.
    #[serde(default)]
    pub retries_active_max: u32,
    #[serde(default)]
    pub retries_active_mean: f64,
    /// Attempts per call: retry amplification.
    pub amplification: f64,
    /// Worker time at the dependency spent on this edge's attempts whose answer nobody used
    /// (the caller had given up, or the work was shed), in the measured window.
    #[serde(default)]
    pub wasted_work_ns: u64,
    /// Calls and attempts per time-series bucket (by the time they were made; warm-up
    /// included): their ratio is the retry amplification over time.
    #[serde(default)]
    pub series_calls: Vec<u64>,
    #[serde(default)]
    pub series_attempts: Vec<u64>,
    /// Every state change of this edge's breakers (the whole run, warm-up included), the first
    /// `BREAKER_TRANSITIONS_MAX` of them.
    pub breaker_transitions: Vec<BreakerTransition>,
    /// Breakers of this edge not closed (open or half-open) at the end of each time-series
    /// bucket; empty when the edge has no breaker.
    pub breaker_open: Vec<u32>,
}

/// A circuit breaker changed state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerTransition {
    pub t_ns: u64,
    /// The caller instance (index within its service), or `None` for a shared breaker.
    pub instance: Option<u32>,
    pub from: String,
    pub to: String,
}

/// Counts of requests by outcome.
/// `arrived = completed + degraded + rejected + rate_limited + shed + failed + in_flight`, always.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub arrived: u64,
    /// Answered in full.
    pub completed: u64,
    /// Answered, but a call failed and its fallback stood in (`Degrade`).
    pub degraded: u64,
    /// Turned away on arrival: queue full, or the service down.
    pub rejected: u64,
    /// Turned away by a rate limiter (429).
    pub rate_limited: u64,
    /// Dropped after it was accepted, unserved: it waited too long (load shedding) or its caller's
    /// deadline had passed.
    pub shed: u64,
    /// Accepted and answered with an error: a call it depended on failed, an injected error, or
    /// work lost when the service went down.
    pub failed: u64,
    /// Still queued, working or waiting on a call when the run ended.
    pub in_flight: u64,
}

impl Ledger {
    pub fn balanced(&self) -> bool {
        self.arrived == self.answered() + self.in_flight
    }

    /// Adds another ledger's counts to this one.
    pub fn add(&mut self, o: &Ledger) {
        self.arrived += o.arrived;
        self.completed += o.completed;
        self.degraded += o.degraded;
        self.rejected += o.rejected;
        self.rate_limited += o.rate_limited;
        self.shed += o.shed;
        self.failed += o.failed;
        self.in_flight += o.in_flight;
    }

    /// Requests that got an answer, good or bad.
    pub fn answered(&self) -> u64 {
        self.completed + self.degraded + self.rejected + self.rate_limited + self.shed + self.failed
    }
}

/// Percentiles of a latency (or a wait), from the histogram (3 significant digits), with an
/// exact mean and maximum.
#[derive(Copy, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    #[serde(default)]
    pub p95_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceResult {
    pub name: String,
    pub n_instances: u32,
    pub workers: u32,
    /// Requests that arrived in the measured window, by outcome (in flight: at the end).
    pub measured: Ledger,
    /// Every request of the run, warm-up included: the conservation ledger.
    pub ledger: Ledger,
    /// Arrivals per second in the measured window.
    pub offered_per_s: f64,
    /// Answers per second in the measured window, degraded ones included.
    pub throughput_per_s: f64,
    /// Full, useful answers per second (completed, not degraded).
    pub goodput_per_s: f64,
    /// Worker time spent on requests whose answer nobody used: their caller had given up by the
    /// time they finished, or their work was cut short at a deadline. In the measured window.
    pub wasted_work_ns: u64,
    /// Busy workers / all workers, time-averaged over the measured window.
    pub utilization: f64,
    /// Requests waiting in queues (all instances together), time-averaged.
    pub queue_len_mean: f64,
    /// Requests in the service (waiting or being served), time-averaged: L of Little's law.
    pub in_system_mean: f64,
    /// Fraction of measured requests that had to wait for a worker.
    pub wait_probability: f64,
    /// Mean time measured requests waited for a worker (zero waits included).
    pub wait_ns_mean: f64,
    /// Time from arrival at an instance to the response leaving it, for requests answered
    /// successfully (completed or degraded): the latency of successes.
    pub latency: LatencySummary,
    /// The same for every answered request, failures and refusals included at the time they
    /// were given: the latency of all requests.
    #[serde(default)]
    pub latency_all: LatencySummary,
    /// Time measured requests waited in a queue before a worker took them (zero waits included).
    #[serde(default)]
    pub wait: LatencySummary,
    /// Measured requests answered successfully within the SLO's latency (`slo_latency_ns`).
    #[serde(default)]
    pub good: u64,
    /// Measured requests still in flight at the end that were already older than the SLO's
    /// latency: they count as not good.
    #[serde(default)]
    pub late_in_flight: u64,
    /// The service's SLO latency; `None`: every success is good.
    #[serde(default)]
    pub slo_latency_ns: Option<u64>,
    pub series: Series,
    /// Time (measured window) with exactly `i` instances up, at index `i`: an instance is up when
    /// its process runs, its host is up and it is not hung.
    #[serde(default)]
    pub instances_up_ns: Vec<u64>,
    /// Answers with corrupt data that their callers did not detect.
    #[serde(default)]
    pub corrupt: u64,
    #[serde(default)]
    pub recovery: RecoveryResult,
    /// User sessions lost with the instances that held them (`sessions: Local`).
    #[serde(default)]
    pub sessions_lost: u64,
    /// Whether it declares where its sessions live (then `sessions_lost` is meaningful).
    #[serde(default)]
    pub keeps_sessions: bool,
    /// For a datastore: its data ledger.
    #[serde(default)]
    pub store: Option<StoreResult>,
    /// For a cache service: what its caches did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheResult>,
    /// For a broker: its message ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueResult>,
}

impl ServiceResult {
    /// Fraction of the measured window with at least `k` instances up.
    pub fn up_at_least(&self, k: usize) -> f64 {
        let total: u64 = self.instances_up_ns.iter().sum();
        if total == 0 {
            return 0.0;
        }
        self.instances_up_ns.iter().skip(k).sum::<u64>() as f64 / total as f64
    }
}

/// User-facing view of a workload: end-to-end, including the client's network latency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkloadResult {
    pub name: String,
    pub entry: String,
    /// User requests by final outcome.
    pub measured: Ledger,
    /// Retries the clients sent (measured user requests).
    pub retries: u64,
    /// Retries of the clients refused by their budget.
    #[serde(default)]
    pub retries_denied: u64,
    /// End to end, for requests answered successfully: the latency of successes.
    pub latency: LatencySummary,
    /// End to end, for every request the users got an answer to or gave up on: a failure at the
    /// time the user learned of it (a client timeout at the timeout).
    #[serde(default)]
    pub latency_all: LatencySummary,
    /// Measured user requests answered successfully within the SLO's latency.
    #[serde(default)]
    pub good: u64,
    /// Measured user requests unanswered at the end and already older than the SLO's latency.
    #[serde(default)]
    pub late_in_flight: u64,
    /// The workload's SLO latency; `None`: every success is good.
    #[serde(default)]
    pub slo_latency_ns: Option<u64>,
    /// Requests the clients gave up on at their `timeout` (counted as failed).
    #[serde(default)]
    pub timeouts: u64,
    /// Answers that carried corrupt data nobody detected (counted as completed).
    #[serde(default)]
    pub corrupt: u64,
    /// Per time-series bucket (by the time of the answer): good answers (completed or degraded)
    /// and bad ones (failed, refused, timed out).
    #[serde(default)]
    pub series_ok: Vec<u64>,
    #[serde(default)]
    pub series_bad: Vec<u64>,
    /// Per bucket: good answers (successful within the SLO's latency).
    #[serde(default)]
    pub series_good: Vec<u64>,
}

impl Series {
    /// `n_buckets` empty buckets of `resolution_ns`.
    pub fn zeros(resolution_ns: u64, n_buckets: usize) -> Series {
        let z = vec![0; n_buckets];
        Series {
            resolution_ns,
            arrived: z.clone(),
            completed: z.clone(),
            rejected: z.clone(),
            failed: z.clone(),
            degraded: z.clone(),
            shed: z.clone(),
            queue_len: z.clone(),
            busy: z,
        }
    }
}

/// Time series at the scenario's resolution; bucket `i` covers `[i * resolution_ns, (i+1) * resolution_ns)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub resolution_ns: u64,
    pub arrived: Vec<u64>,
    pub completed: Vec<u64>,
    pub rejected: Vec<u64>,
    pub failed: Vec<u64>,
    pub degraded: Vec<u64>,
    /// Requests dropped unserved (load shedding, passed deadlines).
    pub shed: Vec<u64>,
    /// Requests waiting at the end of the bucket.
    pub queue_len: Vec<u64>,
    /// Busy workers at the end of the bucket.
    pub busy: Vec<u64>,
}
