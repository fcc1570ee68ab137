//! Services: instances, workers and queues, recovery (health checks, ejection, replacement,
//! autoscaling, sessions), datastores, server-side limits and placement.

use super::*;

/// A service: `instances` copies, each with `workers` concurrent workers and a FIFO queue.
///
/// A request arriving at an instance takes a free worker or waits in the queue; when the queue is
/// full it is rejected at once. A worker does `work`, then makes the service's `calls` in order,
/// and holds the worker until every call has answered (as a thread-per-request server does).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Number of instances. Default 1.
    #[serde(default = "one")]
    pub instances: u32,
    /// Where the instances run. Default `Spread`.
    #[serde(default)]
    pub placement: Placement,
    /// Concurrent requests per instance (worker threads). Default 1.
    #[serde(default = "one")]
    pub workers: u32,
    /// Requests that may wait per instance when all workers are busy: a number, `"unbounded"`, or
    /// `"none"` for a loss system. Default 1000.
    #[serde(default)]
    pub queue: QueueCap,
    /// Local work per request (service time), done before the calls.
    pub work: DistSpec,
    /// Calls made after the local work, in order: `Call(to: "db")` or
    /// `Parallel([Call(to: "a"), Call(to: "b")])`.
    #[serde(default)]
    pub calls: Vec<Step>,
    /// How callers choose among this service's instances. Default `RoundRobin`.
    #[serde(default)]
    pub balancer: Balancer,
    /// Zone-aware routing, as Envoy's: a caller prefers this service's instances in its own
    /// zone (`zone_aware: ()`), and spills to the others when its zone holds too few of those
    /// in rotation. Default: off (callers prefer their region only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_aware: Option<ZoneAware>,
    /// Whether instances honour the deadlines of their callers (gRPC deadline propagation): a
    /// request whose caller has given up is dropped from the queue instead of served, and makes
    /// no further calls after its local work; calls it makes carry the earlier of its own deadline
    /// and their timeout. Default false: the work is done, and counted as wasted.
    #[serde(default)]
    pub honor_deadlines: bool,
    /// Load shedding at this service's instances.
    #[serde(default)]
    pub shed: Option<ShedSpec>,
    /// The cost of saying no: worker (CPU) time that each refusal at a live instance takes
    /// (queue full, a rate limit's 429, shedding at admission or by the concurrency limit, a
    /// request shed from the queue), e.g. `Constant("200us")`. The refusal is answered at once;
    /// its cost is a debt of the instance that the next request to take one of its workers
    /// works off before its own work (a CPU tax: refusals slow the work that follows, and show
    /// in utilization). Default: free.
    #[serde(default)]
    pub reject_work: Option<DistSpec>,
    /// Token-bucket rate limits, enforced for the service as a whole (as a shared limiter such as
    /// Envoy's global rate limit service does). A limited request is answered 429 at once, with
    /// the time until a token is free as its Retry-After.
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    /// Extra worker pools, each with its own workers and queue (and, optionally, its own work),
    /// for a bulkhead inside the service: `[(name: "write", workers: 4, queue: 50)]`. Calls choose
    /// one with `pool: "write"`; requests that name none use the service's own `workers` and `queue`.
    #[serde(default)]
    pub pools: Vec<PoolSpec>,
    /// Instances set apart per client tier: `{"premium": 2}` makes the first two instances serve
    /// premium requests alone (requests carry the tier of the workload that caused them); the
    /// other instances serve everyone else. A bulkhead between tiers.
    #[serde(default)]
    pub tier_groups: std::collections::BTreeMap<String, u32>,
    /// An adaptive limit on requests in progress at each instance (queued or served); requests
    /// over it are shed at once.
    #[serde(default)]
    pub concurrency_limit: Option<ConcurrencyLimitSpec>,
    /// Active health checks: instances that fail them leave load balancing (Kubernetes'
    /// readiness probe).
    #[serde(default)]
    #[serde(alias = "readiness")]
    pub health: Option<HealthSpec>,
    /// A liveness probe (Kubernetes): instances that fail it `restart_after` times in a row are
    /// restarted (their work is lost; they come back after a back-off, cold).
    #[serde(default)]
    pub liveness: Option<LivenessSpec>,
    /// Passive outlier ejection (Envoy `outlier_detection`), from the callers' view of each
    /// instance's answers.
    #[serde(default)]
    pub outlier: Option<OutlierSpec>,
    /// An orchestrator that replaces instances its health checks find unhealthy (needs `health`).
    #[serde(default)]
    pub replace: Option<ReplaceSpec>,
    /// Traffic to an instance that comes back (after a restart, replacement or ejection) is
    /// ramped up in `steps` equal steps over `over` (Envoy slow start), instead of all at once.
    #[serde(default)]
    pub slow_start: Option<SlowStartSpec>,
    /// This service is a datastore: its instances are a primary (the first) and replicas.
    #[serde(default)]
    pub datastore: Option<DatastoreSpec>,
    /// Autoscaling on utilization: `instances` is where it starts.
    #[serde(default)]
    pub autoscale: Option<AutoscaleSpec>,
    /// Where the sessions of the users who come to this service live. `Local(ttl: "30m")`: on
    /// the instance that served the user (requests of a user with a session go back to it while
    /// it is in load balancing); an instance that dies loses the sessions it holds, counted as
    /// `sessions_lost`. `External`: in a shared store (model it as a call to a cache): none lost.
    /// Default: no sessions.
    #[serde(default)]
    pub sessions: Option<SessionStore>,
    /// Memory per instance: `memory: (limit: "2GiB", base: "500MiB", per_request: "2MiB")`.
    /// Each request at an instance, queued or in progress, holds `per_request` on top of `base`;
    /// a request that would take the instance over `limit` kills it (OOM): everything it holds
    /// fails, and the process restarts after a back-off (Kubernetes' CrashLoopBackOff), cold.
    /// Default: no limit.
    #[serde(default)]
    pub memory: Option<MemorySpec>,
    /// Most connections an instance accepts at once: a request that finds the instance holding
    /// this many (queued, in progress, or waiting for its calls) is refused, whatever its
    /// workers and queue could take. Connection exhaustion, apart from worker exhaustion (an
    /// async service's bound). Default: no limit.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// The share of the instance's limits (`max_connections`, `concurrency_limit`) that requests
    /// of each criticality may fill: `criticality_shares: (sheddable: 0.5, sheddable_plus: 0.8)`
    /// refuses sheddable requests once half of a limit is taken, keeping the rest for the more
    /// critical. `CriticalPlus` may always fill the whole limit. Default 1 for every class.
    #[serde(default)]
    pub criticality_shares: Option<CriticalityShares>,
    /// How an instance's workers wait for the calls a request makes. `Threads` (the default):
    /// thread per request, the worker is held until the request is answered. `Async`: an event
    /// loop (Netty, Go, Node): the worker is free while the request's calls are out, so the
    /// number of requests in progress is bounded only by memory (`memory`) or a limit
    /// (`concurrency_limit`).
    #[serde(default)]
    pub execution: Execution,
    /// The order in which an instance's workers take queued requests. `Fifo` (the default):
    /// first come, first served. `Criticality`: the most critical first (first come, first
    /// served within a class), and a full queue drops its least critical request, if it is
    /// less critical, to make room for a new one.
    #[serde(default)]
    pub queue_order: QueueOrder,
    /// Every start of a process (a restart after a crash, an OOM kill or a liveness kill; a
    /// replacement) is cold: `cold_start: (warm_up: "30s", cold_factor: 3.0)` makes its work
    /// take `cold_factor` times longer at first, falling linearly to normal over `warm_up`
    /// (caches, JIT, connection pools). `replace` may give the same as its `warm_up`.
    /// Default: a process starts warm.
    #[serde(default)]
    pub cold_start: Option<ColdStartSpec>,
    /// This service's SLO, where it differs from the scenario's `slo` (its latency is measured
    /// at the service: from arrival at an instance to the answer leaving it).
    #[serde(default)]
    pub slo: Option<Slo>,
    /// A cache in front of one of this service's calls (a read-through cache tier:
    /// memcached, Redis): each instance holds the values of up to `capacity` keys; a request
    /// whose key it holds is a hit and skips the call named by `fronts`, a miss makes it and
    /// keeps the answer. A process that starts again (crash, kill, replacement) starts empty,
    /// and its hit ratio is rebuilt by the requests that follow. Give it `balancer: KeyHash`
    /// so that each key lives on one instance. Default: none.
    #[serde(default)]
    pub cache: Option<CacheSpec>,
    /// A message broker (SQS, RabbitMQ, a Kafka topic): calls with `op: Publish` put messages
    /// on a queue partitioned over its instances (the one the balancer picks stores the
    /// message), and the service that `consumes` it takes them off. Its instances fail like any
    /// other's: a dead one stores nothing, and without `replicated` its waiting messages are
    /// lost. Default: not a broker.
    #[serde(default)]
    pub broker: Option<BrokerSpec>,
    /// This service is the consumer group of a broker's queue: each instance takes up to
    /// `concurrency` messages at once, each processed as a request (its work, then its calls).
    /// A message answered well is acknowledged and gone; one that is not (a failure, a lost
    /// instance) becomes visible again after `visibility_timeout` and is delivered again
    /// (at least once: a slow success after that is a duplicate), until `max_deliveries`, when
    /// it goes to the dead-letter queue. Its processing is a workload of its own, named after
    /// the service (`users:<service>`), whose latency runs from the publish: the consumers' lag.
    #[serde(default)]
    pub consumes: Option<ConsumesSpec>,
}

/// A broker's queue: `broker: (capacity: 100_000)`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerSpec {
    /// The most messages an instance holds (waiting and delivered, not yet acknowledged); a
    /// publish to a full instance fails. Default 100,000 (the memory estimate counts every
    /// instance full).
    #[serde(default = "hundred_thousand")]
    pub capacity: u64,
    /// Messages are replicated: a dead instance loses none (they wait until it is back).
    /// Default false: its waiting messages are lost with it.
    #[serde(default)]
    pub replicated: bool,
}

fn hundred_thousand() -> u64 {
    100_000
}

/// How a service consumes a broker's queue: `consumes: (from: "orders", concurrency: 8)`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumesSpec {
    /// The broker (a service with `broker`).
    pub from: String,
    /// Messages an instance processes at once. Default: its `workers`.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// A delivered message not acknowledged within this long is delivered again (SQS's
    /// visibility timeout). Default "30s".
    #[serde(default = "thirty_s")]
    pub visibility_timeout: Dur,
    /// Deliveries of a message at most; after the last, it goes to the dead-letter queue.
    /// Default 5.
    #[serde(default = "five")]
    pub max_deliveries: u32,
    /// The consumers' SLO (its latency from publish to processed), where it differs from the
    /// scenario's `slo`.
    #[serde(default)]
    pub slo: Option<Slo>,
}

/// A cache held by each instance of a service: `cache: (capacity: 100_000, ttl: "5m",
/// fronts: "db")`. Requests without a key pass through as misses that fill nothing.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// The most keys an instance holds; a new key evicts the least recently used.
    pub capacity: u64,
    /// The call (by the callee's name) that a miss makes and a hit skips.
    pub fronts: String,
    /// An entry expires this long after it was filled; the next request for it is a miss.
    /// Default: never.
    #[serde(default)]
    pub ttl: Option<Dur>,
    /// Jittered TTLs: each entry lives `ttl × (1 − ttl_jitter × u)`, `u` uniform in [0, 1), so
    /// that keys filled together do not expire together. Default 0.
    #[serde(default)]
    pub ttl_jitter: f64,
    /// Request coalescing (single flight): a miss for a key whose fetch is already out at the
    /// instance waits for that fetch instead of making its own call, and shares its answer.
    /// Default false.
    #[serde(default)]
    pub coalesce: bool,
    /// Probabilistic early expiration (XFetch; Vattani, Chierichetti and Lowenstein, 2015)
    /// with this β (1.0 is the paper's choice): a request for a fresh entry refetches it early
    /// with a probability that grows as its expiry nears, in proportion to how long the last
    /// fetch took, so that one request refreshes a hot key before the crowd finds it expired.
    /// Needs a `ttl`. Default: none.
    #[serde(default)]
    pub early_expiry: Option<f64>,
    /// Which fetched keys enter the cache. `Always` (the default): every one, evicting the least
    /// recently used. `SecondMiss`: a key enters only on its second miss while a doorkeeper of
    /// `capacity` recently missed keys still remembers the first — keys asked once (a scan, a
    /// crawler) pass through without evicting the hot set (TinyLFU's doorkeeper, simplified).
    #[serde(default)]
    pub admission: Admission,
}

/// A cache's admission policy (see `CacheSpec::admission`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Admission {
    #[default]
    Always,
    SecondMiss,
}

/// A horizontal autoscaler (Kubernetes HPA, simplified): every `every`, the desired count is
/// `ceil(active * utilization / target_utilization)` within `[min, max]`; new instances take
/// load after `delay` (scheduling and start-up); surplus ones leave load balancing at once and
/// finish what they hold.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleSpec {
    /// The fewest instances.
    #[serde(alias = "min_replicas")]
    pub min: u32,
    /// The most instances.
    #[serde(alias = "max_replicas")]
    pub max: u32,
    /// Default 0.6.
    #[serde(default = "point_six")]
    pub target_utilization: f64,
    /// Default `"30s"`.
    #[serde(default = "thirty_s")]
    pub every: Dur,
    /// Default `"1m"`.
    #[serde(default = "one_min")]
    pub delay: Dur,
}

/// Memory of each instance of a service, and how a process killed for running out of it restarts.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySpec {
    /// The most an instance may use (a container's memory limit).
    pub limit: Bytes,
    /// What an idle process uses. Default 0.
    #[serde(default)]
    pub base: Bytes,
    /// What each request at the instance, queued or in progress, adds.
    pub per_request: Bytes,
    /// The first restart after an OOM kill waits this long; each further one twice as long as the
    /// one before, up to `restart_max` (Kubernetes: 10 s doubling to 5 min). Default "10s".
    #[serde(default = "ten_s")]
    pub restart: Dur,
    /// The longest wait before a restart. Default "5m".
    #[serde(default = "five_min")]
    pub restart_max: Dur,
    /// A process that ran this long without an OOM kill starts the back-off again from
    /// `restart` (Kubernetes: 10 min). Default "10m".
    #[serde(default = "ten_min")]
    pub reset_after: Dur,
    /// Garbage collection: stop-the-world pauses that come more often and last longer as the
    /// heap fills. Default: none.
    #[serde(default)]
    pub gc: Option<GcSpec>,
}

/// Stop-the-world garbage collection of an instance: a pause comes every `every` while the heap
/// holds only `base`, and sooner as requests fill it (every × free share of the room above
/// `base`, at least a twentieth of `every`); each lasts `pause` plus `per_mib` for every MiB in
/// use. The instance answers nothing during a pause (as a hang).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcSpec {
    pub every: Dur,
    /// Default "0s".
    #[serde(default)]
    pub pause: Dur,
    /// Default "0s".
    #[serde(default)]
    pub per_mib: Dur,
}

pub(super) fn five_min() -> Dur {
    Dur(SimDuration::from_secs(300))
}
pub(super) fn ten_min() -> Dur {
    Dur(SimDuration::from_secs(600))
}

/// Where user sessions live.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum SessionStore {
    Local { ttl: Dur },
    External,
}

pub(super) fn point_six() -> f64 {
    0.6
}
pub(super) fn one_min() -> Dur {
    Dur(SimDuration::from_mins(1))
}

/// Active health checks of a service's instances (Kubernetes readiness probe, Envoy active
/// health checking): every `interval`, each instance is probed; a probe fails when the instance
/// is down, hung, unreachable, or would take longer than `timeout` to do `probe` work.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// Time between probes. Default `"5s"`.
    #[serde(default = "five_s")]
    pub interval: Dur,
    /// A probe slower than this fails. Default `"1s"`.
    #[serde(default = "one_s")]
    pub timeout: Dur,
    /// Consecutive failed probes that take an instance out of load balancing. Default 3.
    #[serde(default = "three")]
    #[serde(alias = "unhealthy_threshold")]
    pub unhealthy_after: u32,
    /// Consecutive good probes that put it back. Default 2.
    #[serde(default = "two_u")]
    #[serde(alias = "healthy_threshold")]
    pub healthy_after: u32,
    /// Work a probe asks of the instance (scaled by its slowdowns). Default `"1ms"`.
    #[serde(default = "one_ms")]
    pub probe: Dur,
    /// Where the instance answers probes. Default `Apart`.
    #[serde(default)]
    pub lane: ProbeLane,
}

/// Where an instance answers its health probes.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub enum ProbeLane {
    /// Apart from the requests (an admin port with a thread of its own): a probe fails only
    /// when the instance is down, hung, or slowed down so much that `probe` takes longer than
    /// `timeout`. Its load never delays a probe.
    #[default]
    Apart,
    /// Through the service's own queue and workers, as a request: behind every request queued
    /// before it; it fails when its answer comes after `timeout`, or when the queue is full.
    Queue,
    /// Through the named worker pool of the service (`pools`), with its own workers and queue.
    Pool(String),
}

/// A liveness probe (Kubernetes `livenessProbe`): every `interval`, each running instance is
/// probed; `restart_after` failures in a row kill the process, which restarts after a
/// back-off (CrashLoopBackOff, as with `memory`) and comes back cold. Probes of a process start
/// `initial_delay` after it starts.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LivenessSpec {
    /// Time between probes. Default `"10s"` (Kubernetes' `periodSeconds`).
    #[serde(default = "ten_s")]
    #[serde(alias = "period")]
    pub interval: Dur,
    /// A probe answered later than this fails. Default `"1s"`.
    #[serde(default = "one_s")]
    pub timeout: Dur,
    /// Failed probes in a row that restart the process. Default 3 (`failureThreshold`).
    #[serde(default = "three")]
    pub restart_after: u32,
    /// Time after a process starts before its first probe. Default `"0s"`.
    #[serde(default)]
    pub initial_delay: Dur,
    /// Work a probe asks of the instance. Default `"1ms"`.
    #[serde(default = "one_ms")]
    pub probe: Dur,
    /// Where the instance answers probes. Default `Apart`.
    #[serde(default)]
    pub lane: ProbeLane,
    /// The first restart waits this long, each further one in a row twice as long, up to
    /// `restart_max`; `reset_after` of running without a kill starts again. Defaults as
    /// Kubernetes: `"10s"`, `"5m"`, `"10m"`.
    #[serde(default = "ten_s")]
    pub restart: Dur,
    #[serde(default = "five_min")]
    pub restart_max: Dur,
    #[serde(default = "ten_min")]
    pub reset_after: Dur,
}

/// Envoy's outlier detection (`outlier_detection` of a cluster), with Envoy's names and defaults.
///
/// Callers report every answer of an instance: a success (any answer that is not a 5xx: a
/// completed or degraded answer, and a 429 rate-limit answer), an error (a 500: the instance
/// failed the request) or a gateway failure (a 502/503/504: the instance refused or shed it,
/// the connection to it failed, or the caller timed out). Errors and gateway failures are both
/// 5xx. An instance is ejected from load balancing when
/// - `consecutive_5xx` 5xx answers come in a row, or `consecutive_gateway_failure` gateway
///   failures in a row (enforced with probability `enforcing_consecutive_5xx` and
///   `enforcing_consecutive_gateway_failure` percent; Envoy's default for the latter is 0: off);
/// - every `interval`, over the instances that answered at least `success_rate_request_volume`
///   requests in the last interval (when there are at least `success_rate_minimum_hosts` of
///   them), its success rate is below mean − (`success_rate_stdev_factor` / 1000) × stdev;
/// - every `interval`, over the instances with at least `failure_percentage_request_volume`
///   requests (at least `failure_percentage_minimum_hosts` of them), its share of failures is at
///   least `failure_percentage_threshold` percent (`enforcing_failure_percentage`, default 0).
///
/// An ejection is refused when it would make more than `max_ejection_percent` of the instances
/// ejected (unless none is and `always_eject_one_host`). An ejected instance returns at the first
/// `interval` at least min(`base_ejection_time` × k, `max_ejection_time`) after its ejection,
/// where k is its multiplier: one more at each ejection (while k × base < max + base), one less
/// at each `interval` it ends in load balancing at least an interval after its last return.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlierSpec {
    /// 5xx answers in a row that eject an instance. Default 5.
    #[serde(default = "five")]
    pub consecutive_5xx: u32,
    /// Gateway failures (refusals, failed connections, timeouts) in a row that eject an instance.
    /// Default 5.
    #[serde(default = "five")]
    pub consecutive_gateway_failure: u32,
    /// Time between ejection sweeps: returns, success-rate and failure-percentage ejections, and
    /// the multiplier's decrease. Default `"10s"`.
    #[serde(default = "ten_s")]
    pub interval: Dur,
    /// Default `"30s"`.
    #[serde(default = "thirty_s")]
    pub base_ejection_time: Dur,
    /// The longest an instance stays ejected. Default `"300s"`, or `base_ejection_time` when that
    /// is longer.
    #[serde(default)]
    pub max_ejection_time: Option<Dur>,
    /// A random extra ejection time, drawn uniformly from 0 to this at each ejection (whole
    /// milliseconds, as Envoy). Default `"0s"`.
    #[serde(default)]
    pub max_ejection_time_jitter: Dur,
    /// Default 10.
    #[serde(default = "ten_pct")]
    pub max_ejection_percent: u32,
    /// Eject one instance even when `max_ejection_percent` allows none, as long as no other is
    /// ejected. Default false.
    #[serde(default)]
    pub always_eject_one_host: bool,
    /// Percent of consecutive-5xx detections that eject. Default 100.
    #[serde(default = "hundred")]
    pub enforcing_consecutive_5xx: u32,
    /// Percent of consecutive-gateway-failure detections that eject. Default 0.
    #[serde(default)]
    pub enforcing_consecutive_gateway_failure: u32,
    /// Percent of success-rate detections that eject. Default 100.
    #[serde(default = "hundred")]
    pub enforcing_success_rate: u32,
    /// Instances with enough requests needed for success-rate ejection. Default 5.
    #[serde(default = "five")]
    pub success_rate_minimum_hosts: u32,
    /// Requests in one interval that an instance needs to take part in success-rate ejection.
    /// Default 100.
    #[serde(default = "hundred")]
    pub success_rate_request_volume: u32,
    /// Thousandths of a standard deviation below the mean that eject. Default 1900.
    #[serde(default = "stdev_factor")]
    pub success_rate_stdev_factor: u32,
    /// Percent of failures in one interval that eject an instance. Default 85.
    #[serde(default = "eighty_five")]
    pub failure_percentage_threshold: u32,
    /// Percent of failure-percentage detections that eject. Default 0.
    #[serde(default)]
    pub enforcing_failure_percentage: u32,
    /// Instances with enough requests needed for failure-percentage ejection. Default 5.
    #[serde(default = "five")]
    pub failure_percentage_minimum_hosts: u32,
    /// Requests in one interval that an instance needs to take part in failure-percentage
    /// ejection. Default 50.
    #[serde(default = "fifty")]
    pub failure_percentage_request_volume: u32,
    /// A passing active health check (`health`) returns an ejected instance at once. Default true.
    #[serde(default = "yes")]
    pub successful_active_health_check_uneject_host: bool,
}

impl Default for OutlierSpec {
    /// Envoy's defaults.
    fn default() -> Self {
        OutlierSpec {
            consecutive_5xx: five(),
            consecutive_gateway_failure: five(),
            interval: ten_s(),
            base_ejection_time: thirty_s(),
            max_ejection_time: None,
            max_ejection_time_jitter: Dur(SimDuration::ZERO),
            max_ejection_percent: ten_pct(),
            always_eject_one_host: false,
            enforcing_consecutive_5xx: hundred(),
            enforcing_consecutive_gateway_failure: 0,
            enforcing_success_rate: hundred(),
            success_rate_minimum_hosts: five(),
            success_rate_request_volume: hundred(),
            success_rate_stdev_factor: stdev_factor(),
            failure_percentage_threshold: eighty_five(),
            enforcing_failure_percentage: 0,
            failure_percentage_minimum_hosts: five(),
            failure_percentage_request_volume: fifty(),
            successful_active_health_check_uneject_host: yes(),
        }
    }
}

pub(super) fn stdev_factor() -> u32 {
    1900
}
pub(super) fn eighty_five() -> u32 {
    85
}
pub(super) fn fifty() -> u32 {
    50
}

/// Replacement of unhealthy instances by an orchestrator.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSpec {
    /// Time from the unhealthy verdict until the replacement is up (scheduling, image pull,
    /// start-up). Default `"30s"`.
    #[serde(default = "thirty_s")]
    pub start_up: Dur,
    /// A fresh instance has a cold cache: its work takes `cold_factor` times longer at first,
    /// falling linearly to normal over `warm_up`. Default: no warm-up.
    #[serde(default)]
    pub warm_up: Option<Dur>,
    /// Default 3.
    #[serde(default = "three_f")]
    pub cold_factor: f64,
}

/// The share of a limit each criticality may fill (fractions in (0, 1]).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CriticalityShares {
    /// Default 1.
    #[serde(default = "one_f")]
    pub sheddable: f64,
    /// Default 1.
    #[serde(default = "one_f")]
    pub sheddable_plus: f64,
    /// Default 1.
    #[serde(default = "one_f")]
    pub critical: f64,
}

/// How a service's workers wait for calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Execution {
    #[default]
    Threads,
    Async,
}

/// The order of an instance's queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum QueueOrder {
    #[default]
    Fifo,
    Criticality,
}

/// How long a process that starts is slower than a warm one, and by how much at first.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColdStartSpec {
    pub warm_up: Dur,
    /// Default 3.
    #[serde(default = "three_f")]
    pub cold_factor: f64,
}

/// Incremental recovery: a returning instance takes 1/steps, 2/steps, ... of its share of traffic.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowStartSpec {
    /// The time until a returning instance takes its full share.
    #[serde(alias = "slow_start_window")]
    pub over: Dur,
    /// Default 4.
    #[serde(default = "four")]
    pub steps: u32,
}

/// A replicated datastore. Writes go to the primary; it stores them (`write` work) and ships
/// them to the replicas over the network. It acknowledges a write according to `replication`.
/// When the primary is lost, `failover` promotes the most up-to-date replica that is up; the
/// acknowledged writes it never received are lost, and counted.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatastoreSpec {
    /// `Sync` (every replica has it), `Async` (acknowledged at once; replicas follow with the
    /// network's lag plus `lag`) or `Quorum(2)` (that many copies, the primary's included).
    pub replication: Replication,
    /// Asynchronous replication only: how long a write waits at the primary before it is shipped
    /// (log batching, a busy replica); a primary that dies meanwhile never sends it. Default 0.
    #[serde(default)]
    pub lag: DistSpec,
    /// Local work of a write. Default: the service's `work`.
    #[serde(default)]
    pub write: Option<DistSpec>,
    /// Where reads go: `Primary`, or `Replicas` (any instance, by the balancer). Default `Primary`.
    #[serde(default)]
    pub reads: ReadFrom,
    /// With reads from replicas: a replica that lags behind the last acknowledged write passes
    /// the read to the primary (read-your-writes, conservatively). Default false: it answers
    /// with stale data, counted as a stale read.
    #[serde(default)]
    pub read_your_writes: bool,
    /// A write waiting for replicas fails after this long. Default `"1s"`.
    #[serde(default = "one_s")]
    pub replication_timeout: Dur,
    /// Automatic failover. Without it, writes wait for the primary to come back.
    #[serde(default)]
    pub failover: Option<FailoverSpec>,
    /// The data each copy holds: what a rebuild copies (`"200GiB"`), and what it takes of its
    /// host's disk. Default: none (a copy that lost its data catches up from the log at once).
    #[serde(default)]
    pub data: Option<Bytes>,
    /// Writes are durable: each waits for its disk's `fsync` (at the primary, and at each
    /// replica that applies it). Needs the topology's `disk`. Default false.
    #[serde(default)]
    pub fsync: bool,
    /// How copies that lost their data are rebuilt (needs `data`): `rebuild: (after: "30s",
    /// rate: "100MB/s")`. Default: a copy that lost its data is rebuilt at full speed, chunks of
    /// 64 MiB, 4 at a time.
    #[serde(default)]
    pub rebuild: Option<RebuildSpec>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
pub enum Replication {
    Sync,
    Async,
    Quorum(u32),
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
pub enum ReadFrom {
    #[default]
    Primary,
    Replicas,
}

/// Failover of a datastore's primary: noticed `detect_after` it became unreachable, done
/// `promote_in` later.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// Default `"10s"`.
    #[serde(default = "ten_s")]
    pub detect_after: Dur,
    /// Default `"5s"`.
    #[serde(default = "five_s")]
    pub promote_in: Dur,
    /// The primary's lease: a primary cut off from the majority of its copies (a partition)
    /// stops taking writes this long after it lost them — before a new primary is promoted on
    /// the other side when the lease is shorter than `detect_after`. Without a lease (the
    /// default) a cut-off primary that does not know it was replaced keeps acknowledging the
    /// writes of the clients on its side: two primaries (split brain), and those writes are
    /// lost when the partition heals (`divergent_writes`). Quorum and synchronous replication
    /// refuse them anyway (a cut-off primary cannot reach enough copies).
    #[serde(default)]
    pub lease: Option<Dur>,
}

pub(super) fn five_s() -> Dur {
    Dur(SimDuration::from_secs(5))
}
pub(super) fn one_s() -> Dur {
    Dur(SimDuration::from_secs(1))
}
pub(super) fn thirty_s() -> Dur {
    Dur(SimDuration::from_secs(30))
}
pub(super) fn one_ms() -> Dur {
    Dur(SimDuration::from_ms(1))
}
pub(super) fn two_u() -> u32 {
    2
}
pub(super) fn four() -> u32 {
    4
}
pub(super) fn five() -> u32 {
    5
}
pub(super) fn ten_pct() -> u32 {
    10
}
pub(super) fn three_f() -> f64 {
    3.0
}

/// Adaptive concurrency limits, as in Netflix `concurrency-limits`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum ConcurrencyLimitSpec {
    /// `AIMDLimit`: after a request that took longer than `latency_over` (or was dropped), the
    /// limit is multiplied by `decrease`; after a good one, while at least half the limit is in
    /// use, it grows by one. Kept within `[min, max]`, starting at `initial`.
    Aimd {
        #[serde(default = "twenty")]
        #[serde(alias = "initial_limit")]
        initial: u32,
        #[serde(default = "one")]
        #[serde(alias = "min_limit")]
        min: u32,
        #[serde(default = "two_hundred")]
        #[serde(alias = "max_limit")]
        max: u32,
        #[serde(default = "point_nine")]
        #[serde(alias = "backoff_ratio")]
        decrease: f64,
        latency_over: Dur,
    },
}

pub(super) fn twenty() -> u32 {
    20
}
pub(super) fn two_hundred() -> u32 {
    200
}
pub(super) fn point_nine() -> f64 {
    0.9
}

/// Rate limits of a service. Every limit that applies must have a token for a request to pass.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// One bucket for all requests.
    #[serde(default)]
    pub global: Option<TokenBucket>,
    /// One bucket per client (per workload: each workload is one client, and the calls its
    /// requests cause carry its identity downstream).
    #[serde(default)]
    pub per_client: Option<TokenBucket>,
    /// One bucket per tier (workloads name their `tier`): `{"free": (rate_per_s: 100, burst: 20)}`.
    #[serde(default)]
    pub per_tier: std::collections::BTreeMap<String, TokenBucket>,
}

/// A token bucket: `rate_per_s` tokens a second, holding at most `burst`; starts full.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBucket {
    pub rate_per_s: f64,
    pub burst: u32,
}

/// Load shedding: turn work away early rather than serve it too late.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShedSpec {
    /// Drop a request that has waited in the queue longer than this (CoDel-like), when it
    /// reaches the head of the queue.
    #[serde(default)]
    pub max_wait: Option<Dur>,
    /// Serve the newest request first while more than this many wait (adaptive LIFO, as at
    /// Facebook): under overload fresh requests still meet their deadlines.
    #[serde(default)]
    pub lifo_over: Option<u32>,
}

/// A separate worker pool of a service's instances (e.g. writes apart from reads).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub name: String,
    /// Workers of this pool per instance. Default 1.
    #[serde(default = "one")]
    pub workers: u32,
    /// Waiting room of this pool per instance. Default 1000.
    #[serde(default)]
    pub queue: QueueCap,
    /// Local work of requests in this pool; the service's `work` when absent.
    #[serde(default)]
    pub work: Option<DistSpec>,
}

/// Capacity of an instance's queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum QueueCap {
    Bounded(u32),
    Unbounded,
    /// No waiting room: a request that finds every worker busy is rejected (a loss system,
    /// Erlang B). Written `"none"`.
    NoQueue,
}

impl Default for QueueCap {
    fn default() -> Self {
        QueueCap::Bounded(1000)
    }
}

impl<'de> Deserialize<'de> for QueueCap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<QueueCap, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = QueueCap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a queue length (a whole number), \"unbounded\" or \"none\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<QueueCap, E> {
                u32::try_from(n).map(QueueCap::Bounded).map_err(|_| {
                    E::custom(format!(
                        "queue length `{n}` is too large; use \"unbounded\""
                    ))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<QueueCap, E> {
                Err(E::custom(format!("queue length `{n}` is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<QueueCap, E> {
                match s {
                    "unbounded" => Ok(QueueCap::Unbounded),
                    "none" => Ok(QueueCap::NoQueue),
                    _ => Err(E::custom(format!(
                        "queue `{s}` is not a length; write a whole number, \"unbounded\" or \"none\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// In the JSON Schema: a whole number, `"unbounded"` or `"none"`.
impl JsonSchema for QueueCap {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "QueueCap".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A queue length (a whole number), \"unbounded\" or \"none\" (no waiting room).",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": u32::MAX},
                {"type": "string", "enum": ["unbounded", "none"]}
            ]
        })
    }
}

impl Serialize for QueueCap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            QueueCap::Bounded(n) => s.serialize_u32(*n),
            QueueCap::Unbounded => s.serialize_str("unbounded"),
            QueueCap::NoQueue => s.serialize_str("none"),
        }
    }
}

/// Zone-aware routing (Envoy's `zone_aware_lb_config`). Let `L` be the instances of the service
/// in the caller's zone that are in rotation, `T` all those in rotation and `Z` the zones its
/// instances run in: when `L × Z ≥ T` (the caller's zone holds at least its share), the call
/// goes to an instance there; otherwise to one there with probability `L × Z / T`, else to any
/// in rotation — so that a zone that lost instances is not drowned by its own callers, as
/// Envoy spills the residual. Envoy weighs by where the callers run; here callers are taken to
/// be spread evenly over the zones. Users' requests (no zone) and services with fewer than
/// `min_cluster_size` instances are balanced over every zone.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneAware {
    /// Below this many instances, no zone is preferred. Default 6 (Envoy's).
    #[serde(default = "six")]
    pub min_cluster_size: u32,
}

fn six() -> u32 {
    6
}

/// Which hosts a service's instances are placed on. Instances are dealt out round-robin over
/// the eligible hosts in interleaved order (one per region, then per zone, then per rack, then
/// per host), so consecutive instances land as far apart as the topology allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Placement {
    /// All hosts of the topology.
    #[default]
    Spread,
    /// Only the hosts of one region: `InRegion("eu-west")`.
    InRegion(String),
    /// Only the hosts of one zone: `InZone("a")`, or `InZone("eu-west/a")` when zone names repeat
    /// across regions.
    InZone(String),
    /// Only the hosts of the zones listed, instances dealt out across them in turn:
    /// `InZones(["a", "b"])`.
    InZones(Vec<String>),
}
