//! The validated, compiled world: names resolved to indices, distributions compiled, instances
//! placed on hosts. Built by [`crate::validate::build`]; read by the simulation. Entities are
//! indices into `Vec`s (`services[i]`, `instances[j]`), never names or pointers.

use crate::dist::Dist;
use crate::spec::Scenario;
use sim_core::{SimDuration, SimTime};

/// Most calls one `Parallel` step makes: a fan-out to hundreds of leaves ("The Tail at Scale"),
/// with a bound so that the calls a step makes fit in a fixed mask on the stack.
pub const PARALLEL_MAX: usize = 1024;

/// How far apart two hosts are; picks the latency distribution of a message between them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Distance {
    SameHost = 0,
    SameRack = 1,
    SameZone = 2,
    CrossZone = 3,
    CrossRegion = 4,
}

#[derive(Clone, Debug)]
pub struct Host {
    /// `region/zone/r<rack>/h<host>`.
    pub name: String,
    pub region_idx: u32,
    /// Index over all zones of all regions.
    pub zone_idx: u32,
    /// Index over all racks of all zones.
    pub rack_idx: u32,
    /// (host in rack, rack in zone, zone in region, region): sorting hosts by this key deals
    /// consecutive instances out to different regions, then zones, then racks.
    pub spread_key: (u32, u32, u32, u32),
}

#[derive(Clone, Debug)]
pub struct ServiceDef {
    pub name: String,
    /// Instances of this service are `instances[first_instance .. first_instance + n_instances]`.
    pub first_instance: u32,
    pub n_instances: u32,
    pub workers: u32,
    /// Most requests waiting per instance; `u32::MAX` for unbounded, 0 for none (a loss system).
    pub queue_cap: u32,
    pub work: Dist,
    /// Extra worker pools (pool 0 is the service's own `workers`, `queue_cap` and `work`).
    pub pools: Vec<PoolDef>,
    /// Steps in order; each is a range `calls[start .. start + len]` made at once.
    pub steps: Vec<(u32, u32)>,
    pub balancer: Balancer,
    pub honor_deadlines: bool,
    pub shed: Option<ShedPolicy>,
    /// Worker time a refusal at an instance costs (`reject_work`); `None`: free.
    pub reject_work: Option<Dist>,
    pub rate_limit: Option<RateLimitDef>,
    /// The adaptive concurrency limit each instance starts with.
    pub concurrency: Option<crate::defences::AimdLimit>,
    /// Instance groups by tier: `tier_groups[t] = Some((offset, count))` of the service's
    /// instances that serve tier `t` alone; `other_group` serves every other request.
    pub tier_groups: Vec<Option<(u32, u32)>>,
    pub other_group: (u32, u32),
    pub recovery: RecoveryDef,
    pub store: Option<StoreDef>,
    /// Whether its instances span more than one region (then callers prefer their own).
    pub multi_region: bool,
    /// Zone-aware routing: below this many instances, none (`zone_aware.min_cluster_size`).
    pub zone_aware: Option<u32>,
    /// Hosts its placement allows, in placement order: where the orchestrator may start a
    /// replacement when an instance's own host is dead.
    pub hosts: Vec<u32>,
    /// Its SLO, measured at the service.
    pub slo: SloDef,
    /// Memory of each instance: the OOM kill and the restart back-off.
    pub memory: Option<MemoryDef>,
    /// Queues ordered by criticality (`queue_order: Criticality`).
    pub by_criticality: bool,
    /// Workers are free while a request's calls are out (`execution: Async`).
    pub is_async: bool,
    /// Most requests an instance holds at once (`max_connections`; `u32::MAX`: no limit).
    pub max_connections: u32,
    /// The share of a limit each criticality may fill, by `Criticality as u8`.
    pub shares: [f64; 4],
    /// The most requests an instance may hold (queued and in progress) before it runs out of
    /// memory; `u32::MAX` without a memory limit. Read on the request path.
    pub oom_at: u32,
    /// The cache its instances hold.
    pub cache: Option<CacheDef>,
    /// Its queue, if it is a broker.
    pub broker: Option<BrokerDef>,
    /// The queue it consumes.
    pub consumes: Option<ConsumerDef>,
}

/// A broker's queue, compiled.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct BrokerDef {
    /// Messages per instance at most.
    pub capacity: u32,
    pub replicated: bool,
    /// The service that consumes it (`u32::MAX`: none).
    pub consumer: u32,
}

/// A consumer group, compiled.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ConsumerDef {
    /// The broker service.
    pub broker: u32,
    /// Messages an instance processes at once.
    pub concurrency: u32,
    pub visibility_ns: u64,
    pub max_deliveries: u32,
    /// The workload its processing is counted in.
    pub workload: u32,
}

/// Memory of a service's instances, compiled: a request that would make an instance hold more
/// than `oom_at` requests kills it; it restarts after its back-off.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct MemoryDef {
    pub limit: u64,
    pub base: u64,
    pub per_request: u64,
    pub backoff: RestartBackoff,
    pub gc: Option<GcDef>,
}

/// Stop-the-world garbage collection, compiled (see `spec::GcSpec`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct GcDef {
    pub every_ns: u64,
    pub pause_ns: u64,
    pub per_mib_ns: u64,
}

/// How a killed process restarts (Kubernetes' CrashLoopBackOff): after `restart_ns`, doubling
/// per kill in a row up to `restart_max_ns`, back to `restart_ns` after `reset_after_ns` of
/// running without one.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct RestartBackoff {
    pub restart_ns: u64,
    pub restart_max_ns: u64,
    pub reset_after_ns: u64,
}

impl MemoryDef {
    /// The most requests an instance holds without running out of memory.
    pub fn oom_at(&self) -> u32 {
        let room = self.limit.saturating_sub(self.base) / self.per_request.max(1);
        room.min(u64::from(u32::MAX - 1)) as u32
    }
}

impl ServiceDef {
    /// The first instance and the number of instances that serve a request of `tier`.
    pub fn instances_for(&self, tier: Option<u32>) -> (u32, u32) {
        let (offset, count) = tier
            .and_then(|t| self.tier_groups.get(t as usize).copied().flatten())
            .unwrap_or(self.other_group);
        (self.first_instance + offset, count)
    }
}

/// Token buckets of a service: (rate per second, burst).
#[derive(Clone, Debug, Default)]
pub struct RateLimitDef {
    pub global: Option<(f64, u32)>,
    pub per_client: Option<(f64, u32)>,
    /// Indexed by tier (`World::tiers`).
    pub per_tier: Vec<Option<(f64, u32)>>,
}

/// Health checks of a service's instances (Kubernetes-style probes).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub interval_ns: u64,
    /// A probe slower than this fails.
    pub timeout_ns: u64,
    /// Consecutive failed probes that make an instance unhealthy, and good ones that bring it back.
    pub unhealthy_after: u32,
    pub healthy_after: u32,
    /// The work a probe takes at an idle instance.
    pub probe_ns: u64,
    /// Where the instance answers its probes.
    pub lane: ProbeLane,
}

/// Where an instance answers its health probes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProbeLane {
    /// Apart from the requests: a probe fails only when the instance is down, hung, or its
    /// slowdowns make the probe's work take longer than the timeout.
    Apart,
    /// As a request of worker pool `pool` (0: the service's own workers): it waits in that
    /// pool's queue behind the requests, and fails when its answer comes after the timeout.
    Pool(u8),
}

/// A liveness probe (Kubernetes): `restart_after` failed probes in a row restart the process
/// (its work is lost; it comes back after its restart back-off, cold). Probes start
/// `initial_delay_ns` after the process starts.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Liveness {
    pub interval_ns: u64,
    pub timeout_ns: u64,
    pub restart_after: u32,
    pub initial_delay_ns: u64,
    pub probe_ns: u64,
    pub lane: ProbeLane,
    pub backoff: RestartBackoff,
}

/// Envoy's outlier detection, compiled: percentages as whole percents, times in ns (see
/// `spec::OutlierSpec` and `sim::outlier`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct OutlierDetection {
    pub consecutive_5xx: u32,
    pub consecutive_gateway_failure: u32,
    pub interval_ns: u64,
    pub base_ejection_ns: u64,
    /// Already the larger of the default (300 s) and the base when the file gives none.
    pub max_ejection_ns: u64,
    pub max_jitter_ms: u64,
    pub max_ejection_percent: u32,
    pub always_eject_one_host: bool,
    pub enforcing_consecutive_5xx: u32,
    pub enforcing_consecutive_gateway_failure: u32,
    pub enforcing_success_rate: u32,
    pub success_rate_minimum_hosts: u32,
    pub success_rate_request_volume: u32,
    pub success_rate_stdev_factor: u32,
    pub failure_percentage_threshold: u32,
    pub enforcing_failure_percentage: u32,
    pub failure_percentage_minimum_hosts: u32,
    pub failure_percentage_request_volume: u32,
    pub health_check_unejects: bool,
}

/// Replacement of unhealthy instances: the new one takes `start_up_ns` to start.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Replacement {
    pub start_up_ns: u64,
}

/// A process that starts works `cold_factor` times slower, falling linearly to 1 over
/// `warm_up_ns`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ColdStart {
    pub warm_up_ns: u64,
    pub cold_factor: f64,
}

/// Slow start (Envoy): an instance back in rotation takes a growing share of load over
/// `over_ns`, in `steps` steps.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SlowStart {
    pub over_ns: u64,
    pub steps: u32,
}

/// An autoscaler on utilization: it starts with `initial` instances and keeps between `min` and
/// `max`, aiming at `target_utilization`, looking `every_ns`; a new instance takes load after
/// `delay_ns`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Autoscale {
    pub initial: u32,
    pub min: u32,
    pub max: u32,
    pub target_utilization: f64,
    pub every_ns: u64,
    pub delay_ns: u64,
}

/// How a caller picks an instance of a service (compiled from the scenario's `balancer`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Balancer {
    /// Each instance in turn.
    RoundRobin,
    /// An instance drawn uniformly at random.
    Random,
    /// The instance with the fewest requests in progress or queued (ties to the lowest index).
    LeastOutstanding,
    /// Two instances drawn at random; the one with fewer outstanding requests wins.
    PowerOfTwo,
    /// By the request's key (jump consistent hashing); at random for requests without one.
    KeyHash,
}

impl From<crate::spec::Balancer> for Balancer {
    fn from(b: crate::spec::Balancer) -> Self {
        match b {
            crate::spec::Balancer::KeyHash => Balancer::KeyHash,
            crate::spec::Balancer::RoundRobin => Balancer::RoundRobin,
            crate::spec::Balancer::Random => Balancer::Random,
            crate::spec::Balancer::LeastOutstanding => Balancer::LeastOutstanding,
            crate::spec::Balancer::PowerOfTwo => Balancer::PowerOfTwo,
        }
    }
}

/// A named worker pool of a service's instances.
#[derive(Clone, Debug)]
pub struct PoolDef {
    pub name: String,
    pub workers: u32,
    pub queue_cap: u32,
    pub work: Dist,
}

impl ServiceDef {
    /// Workers, queue capacity and work of pool `p` (0: the service's own).
    #[inline]
    pub fn pool(&self, p: usize) -> (u32, u32, &Dist) {
        match p {
            0 => (self.workers, self.queue_cap, &self.work),
            _ => {
                let x = &self.pools[p - 1];
                (x.workers, x.queue_cap, &x.work)
            }
        }
    }

    /// Workers per instance over all pools.
    pub fn workers_total(&self) -> u32 {
        self.workers + self.pools.iter().map(|p| p.workers).sum::<u32>()
    }

    /// The index of the pool named `name`.
    pub fn pool_idx(&self, name: &str) -> Option<usize> {
        self.pools
            .iter()
            .position(|p| p.name == name)
            .map(|i| i + 1)
    }
}

/// Load shedding at a service's instances.
#[derive(Clone, Debug)]
pub struct ShedPolicy {
    pub max_wait_ns: Option<u64>,
    pub lifo_over: Option<u32>,
}

/// An injected failure, active in `[start_ns, end_ns)`, or recurring at random (`stochastic`).
#[derive(Clone, Debug)]
pub struct FaultDef {
    /// What it is, for reports: `crash checkout/2`, `zone eu-west/b down`.
    pub label: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub effect: FaultEffect,
    /// The service it acts on (`u32::MAX` when it acts on places or links).
    pub service: u32,
    /// Instances it acts on (instance-level effects).
    pub instances: Vec<u32>,
    /// Hosts it acts on (host-level effects).
    pub hosts: Vec<u32>,
    /// Call edges it acts on (`FeatureOff`; errors, delay and loss on an `edge`), sorted.
    pub edges: Vec<u32>,
    /// Hosts on each side of a link fault, and whether only `a → b` is affected.
    pub link: Option<LinkDef>,
    /// Links with a capacity it acts on (`LinkDegraded`, `Congestion`, `LinkDown`), by
    /// `Network::links`.
    pub net_links: Vec<u32>,
    /// Names the fault's random streams: its kind and targets, not its parameters, so that a
    /// variant changing a rate or a factor keeps the same failure and repair times.
    pub key: String,
    /// Time between failures and time to repair, for a stochastic fault.
    pub stochastic: Option<(Dist, Dist)>,
    /// Whether each instance fails on its own (instance-level stochastic faults, pauses);
    /// otherwise the targets fail together.
    pub per_instance: bool,
    /// How many of `instances` it hits (`instances: Share(..)` or `Count(..)`), picked in each
    /// run by the fault's own stream; `None`: all of them.
    pub pick: Option<u32>,
    /// A delay drawn for each message and added to a `Delay`'s (jitter).
    pub jitter: Option<Dist>,
}

/// The two sides of a network fault, as sorted host lists.
#[derive(Clone, Debug)]
pub struct LinkDef {
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    pub one_way: bool,
}

impl LinkDef {
    /// Whether a message from host `from` to host `to` crosses this link.
    pub fn cuts(&self, from: u32, to: u32) -> bool {
        let (fa, tb) = (
            self.a.binary_search(&from).is_ok(),
            self.b.binary_search(&to).is_ok(),
        );
        if fa && tb {
            return true;
        }
        !self.one_way && self.b.binary_search(&from).is_ok() && self.a.binary_search(&to).is_ok()
    }
}

#[derive(Clone, Debug)]
pub enum FaultEffect {
    Slowdown(f64),
    Errors(f64),
    Outage,
    Crash,
    Hang,
    /// Extra work factor per minute of uptime.
    Leak(f64),
    /// Gaps between pauses, and their lengths.
    Pauses(Dist, Dist),
    HostDown,
    DiskLost,
    SlowDisk(f64),
    CorruptDisk(f64),
    Partition,
    Delay(u64),
    Loss(f64),
    /// A share of packets lost, each round of retransmission costing this many ns (no message
    /// is lost).
    Retransmit(f64, u64),
    /// Rate, and whether callers detect it.
    Corrupt(f64, bool),
    FailFast,
    /// Mean time between kills, in ns.
    ChaosMonkey(u64),
    FeatureOff,
    /// The share of their bandwidth the links keep.
    LinkDegraded(f64),
    /// Background traffic on the links, in bytes per ns.
    Congestion(f64),
    /// The links are lost (traffic routes around them where it can).
    LinkDown,
}

/// Health checking, outlier ejection, replacement and slow start of a service, compiled.
#[derive(Clone, Debug, Default)]
pub struct RecoveryDef {
    pub health: Option<HealthCheck>,
    pub liveness: Option<Liveness>,
    pub outlier: Option<OutlierDetection>,
    pub replace: Option<Replacement>,
    /// Every process start is cold (`cold_start`, or `replace.warm_up`).
    pub cold_start: Option<ColdStart>,
    pub slow_start: Option<SlowStart>,
    pub autoscale: Option<Autoscale>,
    /// Sessions kept on the instances, with their time to live.
    pub local_sessions_ttl_ns: Option<u64>,
    /// Whether the service declares where its sessions live (locally or not).
    pub sessions: bool,
}

/// A datastore, compiled.
#[derive(Clone, Debug)]
pub struct StoreDef {
    /// Copies that must hold a write before it is acknowledged, the primary's included
    /// (1: asynchronous; all instances: synchronous).
    pub acks_needed: u32,
    /// Synchronous: every replica the primary believes up (a quorum counts copies instead).
    pub sync: bool,
    pub lag: Dist,
    pub write: Dist,
    pub reads_from_replicas: bool,
    pub read_your_writes: bool,
    pub replication_timeout_ns: u64,
    /// (detect after, promote in), ns.
    pub failover: Option<(u64, u64)>,
    /// The primary's lease (`u64::MAX`: none): how long a primary cut off from the majority
    /// keeps taking writes.
    pub lease_ns: u64,
    /// Writes wait for their disk's flush.
    pub fsync: bool,
    /// How copies that lost their data are rebuilt (`None`: the datastore gives no data size).
    pub rebuild: Option<crate::network::RebuildDef>,
}

/// An alert rule, compiled.
#[derive(Clone, Debug)]
pub struct AlertDef {
    pub name: String,
    pub service: u32,
    pub rule: AlertKind,
    /// Window in buckets.
    pub buckets: u32,
    pub for_ns: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AlertKind {
    ErrorRate(f64),
    /// Latency threshold in ns.
    LatencyP99(u64),
    /// Allowed error share (1 - SLO) and burn factor.
    BurnRate(f64, f64),
}

/// An operator's action, compiled.
#[derive(Clone, Debug)]
pub struct ActionDef {
    /// What reports call it: its `name`, or `add 4 instances to api`.
    pub label: String,
    pub at_ns: u64,
    pub effect: ActionEffect,
}

/// What an action does, with names resolved to indices.
#[derive(Clone, Debug)]
pub enum ActionEffect {
    /// The call edges no longer called.
    FeatureOff(Vec<u32>),
    /// The spare instances of a service it starts, and when they take load after the action.
    AddCapacity {
        instances: Vec<u32>,
        delay_ns: u64,
    },
    /// Regions `from` and `to`, and the share of `from`'s users moved.
    ShiftTraffic {
        from: u32,
        to: u32,
        share: f64,
    },
    Pause(u32),
    /// A service's restart: each instance down for `takes_ns`, `every_ns` apart (0: at once).
    Restart {
        service: u32,
        every_ns: u64,
        takes_ns: u64,
    },
}

/// A rollout, compiled.
#[derive(Clone, Debug)]
pub struct DeployDef {
    /// What reports call it: its `name`, or `deploy <service>`.
    pub label: String,
    /// Its `name`, if it has one (the log says it in place of the service's).
    pub named: bool,
    pub service: u32,
    pub at_ns: u64,
    pub canary: u32,
    pub bake_ns: u64,
    pub interval_ns: u64,
    pub errors: f64,
    pub slowdown: f64,
    pub rollback_on: Option<u32>,
    pub rollback_in_ns: u64,
}

#[derive(Clone, Debug)]
pub struct InstanceDef {
    pub service_idx: u32,
    pub host_idx: u32,
}

/// A call edge: service `from` calls service `to`, with the caller's defences.
///
/// Laid out in order from a cache line's start: what every call reads (its ends, flags, policy
/// and keys) in the first two lines; its sizes after. The policy's defences are boxed, so that
/// an edge without them reads only their absence.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct CallDef {
    pub from: u32,
    pub to: u32,
    /// The callee's worker pool.
    pub pool: u32,
    /// The criticality of its requests (`Criticality as u8`), where it differs from the caller's.
    pub criticality: Option<u8>,
    /// A write to a datastore.
    pub write: bool,
    /// The call its caller's cache fronts: a hit skips it, a miss fills the cache when it
    /// answers.
    pub fronted: bool,
    /// A publish to a broker.
    pub publish: bool,
    /// A conditional write (compare-and-set) to a datastore's row.
    pub cas: bool,
    pub policy: crate::defences::CallPolicy,
    /// The keys it draws for its requests; `None`: its caller's key.
    pub keys: Option<KeyDist>,
    /// Sizes of its requests and answers on the network (and on a datastore's disk).
    pub request_bytes: Option<crate::network::SizeDist>,
    pub response_bytes: Option<crate::network::SizeDist>,
}

/// A compiled key space (`spec::Keys`): keys `1..=n`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum KeyDist {
    Uniform { n: u32 },
    Zipf { n: u32, z: rand_distr::Zipf<f64> },
}

impl KeyDist {
    /// How many keys it draws from.
    pub fn keys(&self) -> u32 {
        match self {
            KeyDist::Uniform { n } => *n,
            KeyDist::Zipf { n, .. } => *n,
        }
    }

    /// One key, in `1..=n`.
    #[inline]
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        use rand::RngExt;
        match self {
            KeyDist::Uniform { n } => rng.random_range(1..=*n),
            KeyDist::Zipf { z, .. } => rand::distr::Distribution::sample(z, rng) as u32,
        }
    }
}

/// A service's cache, compiled (see `spec::CacheSpec`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct CacheDef {
    pub capacity: u32,
    /// The edge (index into `World::calls`) a miss makes and a hit skips.
    pub fronts: u32,
    /// `u64::MAX`: entries never expire.
    pub ttl_ns: u64,
    pub ttl_jitter: f64,
    pub coalesce: bool,
    /// XFetch's β.
    pub early_expiry: Option<f64>,
    /// Keys enter only on their second miss (`Admission::SecondMiss`).
    pub second_miss: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArrivalKind {
    Poisson,
    Constant,
}

/// A service level objective, resolved: a request is good when it is answered successfully
/// within `latency_ns` (any success, when `None`); `target` is the share of good requests a
/// time-series bucket must reach.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SloDef {
    pub latency_ns: Option<u64>,
    pub target: f64,
}

impl Default for SloDef {
    fn default() -> Self {
        SloDef {
            latency_ns: None,
            target: 0.99,
        }
    }
}

impl SloDef {
    /// The latency above which a success is not good (`u64::MAX`: none), for the hot path.
    pub fn threshold_ns(&self) -> u64 {
        self.latency_ns.unwrap_or(u64::MAX)
    }
}

#[derive(Clone, Debug)]
pub struct WorkloadDef {
    pub name: String,
    /// Index into `World::tiers`.
    pub tier: Option<u32>,
    /// The entry service's worker pool.
    pub pool: u32,
    /// The clients' retries.
    pub retry: Option<crate::defences::RetryPolicy>,
    pub entry: u32,
    pub kind: ArrivalKind,
    pub rate: RateFn,
    pub region: u32,
    pub timeout_ns: Option<u64>,
    pub users: u32,
    pub slo: SloDef,
    /// Its requests' criticality (`spec::Criticality as u8`: 0 sheddable … 3 critical-plus).
    pub criticality: u8,
    /// The keys its requests ask for; `None`: no key.
    pub keys: Option<KeyDist>,
    /// A consumer group's processing (no arrivals of its own: messages are delivered): the
    /// broker service it consumes.
    pub consumes: Option<u32>,
    /// Sizes of its requests at the entry instance's NIC.
    pub request_bytes: Option<crate::network::SizeDist>,
}

/// A piecewise-linear arrival rate over time: breakpoints `(t_ns, rate_per_s)`, constant after
/// the last. Two breakpoints at the same time make a step.
#[derive(Clone, Debug, PartialEq)]
pub struct RateFn {
    pub points: Vec<(u64, f64)>,
}

impl RateFn {
    /// The segment `[start, end)` that contains `t`, with the rates at its two ends. The last
    /// segment has `end == u64::MAX` and the same rate at both ends.
    pub fn segment(&self, t: u64) -> (u64, u64, f64, f64) {
        let p = &self.points;
        // Few breakpoints: a linear scan from the end finds the last point at or before t.
        let i = p.iter().rposition(|&(pt, _)| pt <= t).unwrap_or(0);
        if i + 1 >= p.len() {
            return (p[i].0, u64::MAX, p[i].1, p[i].1);
        }
        (p[i].0, p[i + 1].0, p[i].1, p[i + 1].1)
    }

    /// The rate at time `t`, per second.
    pub fn at(&self, t: u64) -> f64 {
        let (start, end, r0, r1) = self.segment(t);
        if end == u64::MAX || end == start {
            return r0;
        }
        r0 + (r1 - r0) * ((t - start) as f64 / (end - start) as f64)
    }
}

/// The name under which reports and expectations show a workload's users (end to end, as the
/// clients see it, client latency, timeouts and lost requests included): `users:<workload>`.
pub fn users_name(workload: &str) -> String {
    format!("users:{workload}")
}

/// Everything a run needs, resolved and checked.
#[derive(Clone, Debug)]
pub struct World {
    pub name: String,
    pub seed: u64,
    pub horizon: SimTime,
    pub warmup: SimTime,
    pub resolution: SimDuration,
    pub events_max: u64,
    pub requests_in_flight_max: u32,
    pub events_pending_max: u64,
    /// Wall-clock limit of one run, in ns (checked every 65,536 events and at time-series ticks).
    pub wall_time_max_ns: Option<u64>,
    pub hosts: Vec<Host>,
    pub services: Vec<ServiceDef>,
    pub instances: Vec<InstanceDef>,
    pub calls: Vec<CallDef>,
    pub workloads: Vec<WorkloadDef>,
    /// Indexed by `Distance as usize`.
    pub latency: [Dist; 5],
    pub client_latency: Dist,
    /// The links that have a capacity (empty: messages take their latency only).
    pub network: crate::network::Network,
    /// Every host's disk (`None`: datastores' I/O is part of their work).
    pub disk: Option<crate::network::DiskDef>,
    /// Bulk transfers.
    pub transfers: Vec<crate::network::TransferDef>,
    pub faults: Vec<FaultDef>,
    pub alerts: Vec<AlertDef>,
    pub deploys: Vec<DeployDef>,
    /// The operators' actions, in the order written.
    pub actions: Vec<ActionDef>,
    /// Names of the clients' tiers, in order of first appearance among the workloads.
    pub tiers: Vec<String>,
    /// The scenario's SLO (workloads and services have theirs, resolved against it).
    pub slo: SloDef,
    /// Settings that cannot take effect where they are written (the loader prints them).
    pub warnings: crate::error::ScenarioWarnings,
    /// The spec this world was built from, for the tools that rebuild it (`shrink`) and the
    /// checks that quote it; the simulation never reads it.
    pub spec: Scenario,
}

impl World {
    pub fn distance(&self, a: u32, b: u32) -> Distance {
        let (ha, hb) = (&self.hosts[a as usize], &self.hosts[b as usize]);
        if a == b {
            Distance::SameHost
        } else if ha.rack_idx == hb.rack_idx {
            Distance::SameRack
        } else if ha.zone_idx == hb.zone_idx {
            Distance::SameZone
        } else if ha.region_idx == hb.region_idx {
            Distance::CrossZone
        } else {
            Distance::CrossRegion
        }
    }

    /// Number of time-series buckets.
    pub fn n_buckets(&self) -> usize {
        let res = self.resolution.as_ns().max(1);
        self.horizon.as_ns().div_ceil(res).max(1) as usize
    }

    /// Names of what reports show per run: the services, then the users of each workload.
    pub fn report_names(&self) -> Vec<String> {
        self.services
            .iter()
            .map(|s| s.name.clone())
            .chain(self.workloads.iter().map(|w| users_name(&w.name)))
            .collect()
    }

    pub fn service_idx(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_fn_steps_and_ramps() {
        // 100/s, step to 200 at 10s, ramp to 400 between 20s and 30s.
        let s = 1_000_000_000u64;
        let f = RateFn {
            points: vec![
                (0, 100.0),
                (10 * s, 100.0),
                (10 * s, 200.0),
                (20 * s, 200.0),
                (30 * s, 400.0),
            ],
        };
        assert_eq!(f.at(0), 100.0);
        assert_eq!(f.at(10 * s - 1), 100.0);
        assert_eq!(f.at(10 * s), 200.0);
        assert_eq!(f.at(25 * s), 300.0);
        assert_eq!(f.at(99 * s), 400.0);
        assert_eq!(f.segment(10 * s), (10 * s, 20 * s, 200.0, 200.0));
    }
}
