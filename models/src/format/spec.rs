//! The scenario file format. These types *are* the format: each field is defined once, here, with
//! its default, its unit and its doc comment. Files are RON; durations are strings with a unit
//! (`"250ms"`, `"1.5s"`, `"2m"`, `"1h"`); rates are per second; names refer to other entries.
//!
//! Parsing only checks shape (`deny_unknown_fields` everywhere). Meaning — names that resolve,
//! rates that are positive, a call graph without cycles — is checked afterwards by
//! [`crate::compile`], which reports every problem at once with its field path.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sim_core::SimDuration;

/// A duration in a scenario file: a string with a unit, such as `"250ms"`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub SimDuration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration string with a unit, like \"250ms\" or \"1.5s\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Dur, E> {
                SimDuration::parse(s).map(Dur).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Dur, E> {
                if n == 0 {
                    Ok(Dur(SimDuration::ZERO))
                } else {
                    Err(E::custom(format!(
                        "duration `{n}` has no unit; write it as a string like \"{n}ms\""
                    )))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Dur, E> {
                Err(E::custom(format!("duration `{n}` is negative")))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "duration `{n}` has no unit; write it as a string like \"{n}s\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// One scenario: the system, its load, and how long to simulate it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports and file names.
    pub name: String,
    /// One or two sentences: the question this scenario answers.
    #[serde(default)]
    pub about: String,
    /// Seed of every random stream in the run. `--seed` overrides it. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated time to run for.
    pub horizon: Dur,
    /// Requests that arrive before this time are simulated but left out of the measurements
    /// (latency, throughput, utilization), so that results describe the steady state. Default 0.
    #[serde(default)]
    pub warmup: Dur,
    /// Width of one time-series bucket. Default `"1s"`.
    #[serde(default = "default_resolution")]
    pub resolution: Dur,
    /// Where instances run and what the network between them costs. Default: one host, no latency.
    #[serde(default)]
    pub topology: Topology,
    /// The services of the system.
    pub services: Vec<Service>,
    /// The open-loop load offered to entry services.
    pub workload: Vec<Workload>,
    /// Guards that keep a run bounded.
    #[serde(default)]
    pub limits: RunLimits,
    /// Runs (seeds) per variant for `check` and `compare`; `--runs` overrides it. Default 100.
    #[serde(default = "default_runs")]
    pub runs: u32,
    /// Designs to compare, each a patch on this scenario. Empty: the scenario itself is the only
    /// variant, named `base`.
    #[serde(default)]
    pub variants: Vec<Variant>,
    /// A grid of parameter values: every combination becomes a variant (of every variant in
    /// `variants`, or of the scenario itself). `[("services.db.workers", [2, 4, 8]),
    /// ("services.api.queue", [50, 200])]` makes six variants, named like `db.workers=2 api.queue=50`.
    #[serde(default)]
    pub grid: Vec<(String, Vec<Box<ron::value::RawValue>>)>,
    /// Failures injected at set times; every variant sees the same ones.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Assertions that `faultline check` evaluates over the runs.
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// The users' SLO for incident timelines and failure-mode tables: the share of a time-series
    /// bucket's answers (to the workloads' users) that must be good. Default 0.99.
    #[serde(default = "point_nine_nine")]
    pub slo: f64,
    /// Symptom-based alert rules, evaluated in simulated time at the end of every time-series
    /// bucket; every firing is recorded.
    #[serde(default)]
    pub alerts: Vec<AlertSpec>,
    /// Rollouts of new versions, possibly bad ones, possibly rolled back by an alert.
    #[serde(default)]
    pub deployments: Vec<DeploySpec>,
}

/// An alert rule: `(name: "checkout-errors", when: ErrorRate(service: "checkout", above: 0.01,
/// over: "1m"))`. The window `over` is rounded up to whole time-series buckets; the rule is
/// evaluated when a bucket closes and fires when its condition holds, after `for` when given.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    pub name: String,
    pub when: AlertRule,
    /// The condition must hold this long before the alert fires. Default 0.
    #[serde(default, rename = "for")]
    pub for_: Dur,
}

/// The condition of an alert, over the last `over` of simulated time.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum AlertRule {
    /// Share of answers that are errors (failed, rejected, shed, rate-limited) above `above`.
    ErrorRate {
        service: String,
        above: f64,
        over: Dur,
    },
    /// More than 1% of the successful answers took longer than `above` (the p99 is above it).
    LatencyP99 {
        service: String,
        above: Dur,
        over: Dur,
    },
    /// The error budget of an availability SLO (`slo: 0.999`) burns more than `factor` times
    /// faster than the rate that would spend it exactly (the Google SRE workbook's burn rate).
    BurnRate {
        service: String,
        slo: f64,
        factor: f64,
        over: Dur,
    },
}

/// A rollout of a new version of a service: at `at`, a `canary` share of its instances (at least
/// one) switch to it; after `bake`, the rest switch, one every `interval`. The new version
/// carries its own error rate and slowdown. With `rollback_on`, when that alert fires after the
/// rollout started, every instance goes back to the old version `rollback_in` later.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    pub service: String,
    pub at: Dur,
    /// Default 0.1.
    #[serde(default = "tenth")]
    pub canary: f64,
    /// Default `"2m"`.
    #[serde(default = "two_min")]
    pub bake: Dur,
    /// Default `"10s"`.
    #[serde(default = "ten_s")]
    pub interval: Dur,
    /// Share of requests that fail at the new version. Default 0.
    #[serde(default)]
    pub errors: f64,
    /// Work factor of the new version. Default 1.
    #[serde(default = "one_f")]
    pub slowdown: f64,
    #[serde(default)]
    pub rollback_on: Option<String>,
    /// Default `"30s"`.
    #[serde(default = "thirty_s")]
    pub rollback_in: Dur,
}

fn tenth() -> f64 {
    0.1
}

fn default_runs() -> u32 {
    100
}

/// A design to compare: the scenario with some fields changed. Every variant runs on the same
/// seeds, so arrivals and service times line up across variants (common random numbers).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// What this design is, in a sentence.
    #[serde(default)]
    pub about: String,
    /// Fields to change, by path: `{"services.api.workers": 64, "services.db.work":
    /// Exponential(mean: "2ms")}`. List elements are named by their `name` (calls by their `to`)
    /// or by `[index]`; a field that is absent is added.
    #[serde(default)]
    pub set: std::collections::BTreeMap<String, Box<ron::value::RawValue>>,
    /// Fields to remove (so that they take their defaults), by path.
    #[serde(default)]
    pub unset: Vec<String>,
}

/// A failure injected at `at` for `lasts` (until the end of the run when absent), or, with
/// `mtbf` and `mttr`, again and again at random: each target (each instance of a service, or the
/// host, rack, zone or region named) fails after a time drawn from `mtbf` and is repaired after a
/// time drawn from `mttr`, independently of the others. Every draw comes from the fault's own
/// random stream, so every variant of a scenario sees the same fault schedule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When the fault starts (for a stochastic fault: when its failure process starts). Default 0.
    #[serde(default)]
    pub at: Dur,
    #[serde(default)]
    pub lasts: Option<Dur>,
    pub what: FaultKind,
    /// Time between failures of each target, for a stochastic fault: `Exponential(mean: "1000h")`.
    #[serde(default)]
    pub mtbf: Option<DistSpec>,
    /// Time to repair each failure of a stochastic fault: `Exponential(mean: "10h")`.
    #[serde(default)]
    pub mttr: Option<DistSpec>,
}

/// What goes wrong. Places are named as in the topology: a region `"eu-west"`, a zone `"a"` (or
/// `"eu-west/a"` when zone names repeat), a rack `"eu-west/a/r0"`, a host `"eu-west/a/r0/h3"`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum FaultKind {
    /// Local work takes `factor` times longer, at every instance or at one:
    /// `Slowdown(service: "recs", factor: 10)`.
    Slowdown {
        service: String,
        factor: f64,
        #[serde(default)]
        instance: Option<u32>,
    },
    /// A share of requests fail after their local work: `Errors(service: "payments", rate: 0.5)`.
    Errors { service: String, rate: f64 },
    /// Every instance is down: arrivals are refused at once, and work in progress is lost.
    Outage { service: String },
    /// An instance's process dies: connections are refused at once, queued and running requests
    /// fail. It restarts when the fault ends, or when the orchestrator (`replace`) replaces it.
    /// Without `instance`, every instance of the service (with `mtbf`: each on its own).
    Crash {
        service: String,
        #[serde(default)]
        instance: Option<u32>,
    },
    /// An instance stops answering but keeps its connections: requests wait, unanswered, until
    /// the hang ends (callers see timeouts).
    Hang {
        service: String,
        #[serde(default)]
        instance: Option<u32>,
    },
    /// A leak: local work slows down by `per_min` (0.5: 50% more) for every minute since the
    /// fault started or the instance last restarted, whichever is later.
    Leak {
        service: String,
        per_min: f64,
        #[serde(default)]
        instance: Option<u32>,
    },
    /// Stop-the-world pauses (GC): every instance pauses for `pause` after gaps drawn from `every`.
    Pauses {
        service: String,
        every: DistSpec,
        pause: DistSpec,
    },
    /// A host dies: its instances stop answering, and messages to them are lost (callers time
    /// out); work in progress is lost.
    HostCrash { host: String },
    /// A disk dies: as a host crash for the instances on it, and a datastore replica there loses
    /// its data (it rejoins empty and copies it back).
    DiskFailure { host: String },
    /// A disk is slow: local work of the instances on the host takes `factor` times longer.
    SlowDisk { host: String, factor: f64 },
    /// A disk corrupts data: a share `rate` of the requests served on the host fail their checksum.
    CorruptDisk { host: String, rate: f64 },
    /// A rack loses power: every host in it crashes at once.
    RackPower { rack: String },
    /// An availability zone goes down: every host placed there.
    ZoneOutage { zone: String },
    /// A region goes down: every host placed there.
    RegionOutage { region: String },
    /// Messages between the places in `between` and those in `and` are lost (both ways, or only
    /// from `between` to `and` with `one_way: true`): `Partition(between: ["a"], and: ["b", "c"])`.
    Partition {
        between: Vec<String>,
        and: Vec<String>,
        #[serde(default)]
        one_way: bool,
    },
    /// Messages between the two sets of places take `add` longer, both ways.
    NetworkDelay {
        between: Vec<String>,
        and: Vec<String>,
        add: Dur,
    },
    /// A share `rate` of messages between the two sets of places is lost (the sender times out).
    PacketLoss {
        between: Vec<String>,
        and: Vec<String>,
        rate: f64,
    },
    /// A share `rate` of answers are wrong. Callers that check them (`detected: true`) treat them
    /// as errors; otherwise they are counted as completed and as corrupt answers.
    Corrupt {
        service: String,
        rate: f64,
        #[serde(default)]
        detected: bool,
    },
    /// Every call to the service fails at once, before it leaves the caller: an expired
    /// certificate, a DNS name that no longer resolves. `why` is shown in reports.
    FailFast { service: String, why: String },
    /// A chaos monkey: kills a random instance of the services at random, `mean_between` apart
    /// on average (Poisson). A killed instance restarts after `lasts` when given, when the
    /// orchestrator replaces it, or never.
    ChaosMonkey {
        services: Vec<String>,
        mean_between: Dur,
    },
    /// A feature flag switched off: the call `from` → `to` is no longer made.
    FeatureOff { from: String, to: String },
}

impl FaultKind {
    /// The kind's part of its faults' stream names (`fault:<kind and targets>#<k>/<unit>`).
    /// Written out, not derived from the variant's name, so that renaming a variant never
    /// changes a fault's draws.
    pub fn stream_name(&self) -> &'static str {
        match self {
            FaultKind::Slowdown { .. } => "Slowdown",
            FaultKind::Errors { .. } => "Errors",
            FaultKind::Outage { .. } => "Outage",
            FaultKind::Crash { .. } => "Crash",
            FaultKind::Hang { .. } => "Hang",
            FaultKind::Leak { .. } => "Leak",
            FaultKind::Pauses { .. } => "Pauses",
            FaultKind::HostCrash { .. } => "HostCrash",
            FaultKind::DiskFailure { .. } => "DiskFailure",
            FaultKind::SlowDisk { .. } => "SlowDisk",
            FaultKind::CorruptDisk { .. } => "CorruptDisk",
            FaultKind::RackPower { .. } => "RackPower",
            FaultKind::ZoneOutage { .. } => "ZoneOutage",
            FaultKind::RegionOutage { .. } => "RegionOutage",
            FaultKind::Partition { .. } => "Partition",
            FaultKind::NetworkDelay { .. } => "NetworkDelay",
            FaultKind::PacketLoss { .. } => "PacketLoss",
            FaultKind::Corrupt { .. } => "Corrupt",
            FaultKind::FailFast { .. } => "FailFast",
            FaultKind::ChaosMonkey { .. } => "ChaosMonkey",
            FaultKind::FeatureOff { .. } => "FeatureOff",
        }
    }
}

/// A percentile of latency.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Percentile {
    P50,
    P90,
    P99,
    P999,
    Max,
    /// The exact mean rather than a percentile.
    Mean,
}

/// A per-run measurement of one service, over the measured window.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Metric {
    /// Answered successfully (completed or degraded) out of all answered.
    Availability { service: String },
    /// Rejected, shed or failed out of all answered.
    ErrorRate { service: String },
    /// Degraded answers out of all answered.
    DegradedRate { service: String },
    /// A latency percentile of successful answers.
    Latency {
        service: String,
        percentile: Percentile,
    },
    /// Answers per second.
    Throughput { service: String },
    /// Full (not degraded) answers per second.
    Goodput { service: String },
    /// Busy share of the workers.
    Utilization { service: String },
    /// A datastore's acknowledged writes lost.
    LostWrites { service: String },
    /// A datastore's time without a primary to take writes.
    WriteUnavailable { service: String },
    /// User sessions lost with the instances that held them.
    SessionsLost { service: String },
}

/// An assertion over the runs of a variant, with a stated statistical meaning. Thresholds are
/// `at_least`, `at_most`, or both (each is checked).
///
/// With `in_runs: p`, the condition must hold in at least a fraction `p` of the runs. Without it,
/// it must hold for the mean across runs at 95% confidence: the whole 95% interval of the mean
/// lies on the right side of the threshold.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Expect {
    /// `Availability(service: "checkout", at_least: 0.999, in_runs: 0.99)`: answered
    /// successfully (completed or degraded) out of all answered.
    Availability {
        service: String,
        /// The variant it is about; all variants when absent.
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `ErrorRate(service: "checkout", at_most: 0.01)`: rejected, shed or failed out of all answered.
    ErrorRate {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `DegradedRate(service: "checkout", at_most: 0.05)`: answered degraded out of all answered.
    DegradedRate {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `Latency(service: "checkout", percentile: P99, at_most: "400ms", in_runs: 0.95)`.
    Latency {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        percentile: Percentile,
        #[serde(default)]
        at_least: Option<Dur>,
        #[serde(default)]
        at_most: Option<Dur>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `Throughput(service: "checkout", at_least: 750)`: answers per second.
    Throughput {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `LostWrites(service: "cart-db", at_most: 0, in_runs: 1.0)`: acknowledged writes of a
    /// datastore that no surviving copy held at a failover (RPO, as a count).
    LostWrites {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `WriteUnavailable(service: "cart-db", at_most: "30s")`: time a datastore had no reachable
    /// primary to take writes (RTO, summed over the run).
    WriteUnavailable {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<Dur>,
        #[serde(default)]
        at_most: Option<Dur>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `SessionsLost(service: "web", at_most: 0)`: user sessions lost with the instances that
    /// held them (`sessions: Local`).
    SessionsLost {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `Detected(fault: "zone b down", within: "1m", in_runs: 0.95)`: every occurrence of the
    /// fault (its label, as reports show it; a prefix is enough) was detected — by an alert, a
    /// health verdict, an ejection or a failover — within `within` of its start, in at least
    /// `in_runs` of the runs (default: all). Rollouts are faults named `deploy <service>`.
    Detected {
        fault: String,
        #[serde(default)]
        variant: Option<String>,
        within: Dur,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `Better(metric: Availability(service: "checkout"), variant: "defended", than: "baseline")`:
    /// the paired difference (same seeds) has a 95% interval wholly on the better side (higher
    /// availability, throughput; lower error rate, latency, utilization).
    Better {
        metric: Metric,
        variant: String,
        than: String,
    },
}

fn default_seed() -> u64 {
    1
}
fn default_resolution() -> Dur {
    Dur(SimDuration::from_secs(1))
}

/// Guards on one run. Hitting one stops the run early and is reported, never a hang.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunLimits {
    /// Most events one run may process. Default 2,000,000,000.
    #[serde(default = "default_events_max")]
    pub events_max: u64,
    /// Most requests (at all services together) in flight at once. Default 1,000,000.
    #[serde(default = "default_in_flight_max")]
    pub requests_in_flight_max: u32,
    /// Most time-series buckets per run (horizon / resolution). Default 100,000.
    #[serde(default = "default_series_points_max")]
    pub series_points_max: u32,
    /// Most memory one run may need, in MiB, as estimated before it starts from the scenario's
    /// size and the limits above (a sweep needs this per job, plus its aggregate). Default 4096.
    #[serde(default = "default_memory_mib_max")]
    pub memory_mib_max: u32,
    /// Most wall-clock time one run may take, checked at every time-series tick; a run over it
    /// stops early and says so (`stop: "wall_time_max"`). Default: no limit.
    #[serde(default)]
    pub wall_time_max: Option<Dur>,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            events_max: default_events_max(),
            requests_in_flight_max: default_in_flight_max(),
            series_points_max: default_series_points_max(),
            memory_mib_max: default_memory_mib_max(),
            wall_time_max: None,
        }
    }
}

fn default_events_max() -> u64 {
    2_000_000_000
}
fn default_in_flight_max() -> u32 {
    1_000_000
}
fn default_series_points_max() -> u32 {
    100_000
}
fn default_memory_mib_max() -> u32 {
    4096
}

/// Regions, zones, racks and hosts, and the network latency between them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Regions, each with zones. Default: region `local` with zone `a`, one rack, one host.
    #[serde(default = "default_regions")]
    pub regions: Vec<Region>,
    /// One-way network latency by distance between the two hosts.
    #[serde(default)]
    pub latency: Latency,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            regions: default_regions(),
            latency: Latency::default(),
        }
    }
}

fn default_regions() -> Vec<Region> {
    vec![Region {
        name: "local".into(),
        zones: vec![Zone {
            name: "a".into(),
            racks: 1,
            hosts_per_rack: 1,
        }],
    }]
}

/// A region: a name and its availability zones.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub zones: Vec<Zone>,
}

/// An availability zone: `racks` racks of `hosts_per_rack` hosts each. Hosts are named
/// `region/zone/r<rack>/h<host>`, e.g. `eu-west/a/r0/h3`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    /// Default 1.
    #[serde(default = "one")]
    pub racks: u32,
    /// Default 1.
    #[serde(default = "one")]
    pub hosts_per_rack: u32,
}

fn one() -> u32 {
    1
}

/// One-way latency of a message by the distance between sender and receiver. Each defaults to
/// zero, so a scenario that does not care about the network need not mention it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Both ends on one host.
    #[serde(default)]
    pub same_host: DistSpec,
    /// Different hosts in one rack.
    #[serde(default)]
    pub same_rack: DistSpec,
    /// Different racks in one zone.
    #[serde(default)]
    pub same_zone: DistSpec,
    /// Different zones of one region.
    #[serde(default)]
    pub cross_zone: DistSpec,
    /// Different regions.
    #[serde(default)]
    pub cross_region: DistSpec,
    /// From the workload's clients to an entry service, and back.
    #[serde(default)]
    pub client: DistSpec,
}

/// A distribution of durations (service times, latencies).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum DistSpec {
    /// Always the same value: `Constant("20us")`.
    Constant(Dur),
    /// Exponential with the given mean: `Exponential(mean: "3ms")`.
    Exponential { mean: Dur },
    /// Uniform between two values: `Uniform(min: "1ms", max: "3ms")`.
    Uniform { min: Dur, max: Dur },
    /// Log-normal given by its median and 99th percentile, the two numbers a dashboard shows:
    /// `LogNormal(median: "2ms", p99: "10ms")`.
    LogNormal { median: Dur, p99: Dur },
    /// Measured percentiles, interpolated linearly between points: `Empirical([(0.0, "1ms"),
    /// (0.5, "3ms"), (0.99, "20ms"), (1.0, "40ms")])`. Quantiles rise from 0.0 to 1.0.
    Empirical(Vec<(f64, Dur)>),
}

impl Default for DistSpec {
    fn default() -> Self {
        DistSpec::Constant(Dur(SimDuration::ZERO))
    }
}

/// A service: `instances` copies, each with `workers` concurrent workers and a FIFO queue.
///
/// A request arriving at an instance takes a free worker or waits in the queue; when the queue is
/// full it is rejected at once. A worker does `work`, then makes the service's `calls` in order,
/// and holds the worker until every call has answered (as a thread-per-request server does).
#[derive(Clone, Debug, Deserialize, Serialize)]
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
    /// Whether instances honour the deadlines of their callers (gRPC deadline propagation): a
    /// request whose caller has given up is dropped from the queue instead of served, and makes
    /// no further calls after its local work; calls it makes carry the earlier of its own deadline
    /// and their timeout. Default false: the work is done, and counted as wasted.
    #[serde(default)]
    pub honor_deadlines: bool,
    /// Load shedding at this service's instances.
    #[serde(default)]
    pub shed: Option<ShedSpec>,
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
    /// Active health checks: instances that fail them leave load balancing.
    #[serde(default)]
    pub health: Option<HealthSpec>,
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
}

/// A horizontal autoscaler (Kubernetes HPA, simplified): every `every`, the desired count is
/// `ceil(active * utilization / target_utilization)` within `[min, max]`; new instances take
/// load after `delay` (scheduling and start-up); surplus ones leave load balancing at once and
/// finish what they hold.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleSpec {
    pub min: u32,
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

/// Where user sessions live.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum SessionStore {
    Local { ttl: Dur },
    External,
}

fn point_nine_nine() -> f64 {
    0.99
}
fn point_six() -> f64 {
    0.6
}
fn one_min() -> Dur {
    Dur(SimDuration::from_mins(1))
}

/// Active health checks of a service's instances (Kubernetes readiness probe, Envoy active
/// health checking): every `interval`, each instance is probed; a probe fails when the instance
/// is down, hung, unreachable, or would take longer than `timeout` to do `probe` work.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
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
    pub unhealthy_after: u32,
    /// Consecutive good probes that put it back. Default 2.
    #[serde(default = "two_u")]
    pub healthy_after: u32,
    /// Work a probe asks of the instance (scaled by its slowdowns). Default `"1ms"`.
    #[serde(default = "one_ms")]
    pub probe: Dur,
}

/// Envoy's outlier detection, consecutive-5xx flavour: an instance whose answers fail (errors,
/// refusals, timeouts) `consecutive_5xx` times in a row is ejected from load balancing for
/// `base_ejection_time` times the number of times it has been ejected; at most
/// `max_ejection_percent` of the instances are ejected at once (but at least one may be).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierSpec {
    /// Default 5.
    #[serde(default = "five")]
    pub consecutive_5xx: u32,
    /// How often ejections are reviewed (and ended). Default `"10s"`.
    #[serde(default = "ten_s")]
    pub interval: Dur,
    /// Default `"30s"`.
    #[serde(default = "thirty_s")]
    pub base_ejection_time: Dur,
    /// Default 10.
    #[serde(default = "ten_pct")]
    pub max_ejection_percent: u32,
}

/// Replacement of unhealthy instances by an orchestrator.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
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

/// Incremental recovery: a returning instance takes 1/steps, 2/steps, ... of its share of traffic.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlowStartSpec {
    pub over: Dur,
    /// Default 4.
    #[serde(default = "four")]
    pub steps: u32,
}

/// A replicated datastore. Writes go to the primary; it stores them (`write` work) and ships
/// them to the replicas over the network. It acknowledges a write according to `replication`.
/// When the primary is lost, `failover` promotes the most up-to-date replica that is up; the
/// acknowledged writes it never received are lost, and counted.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
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
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Replication {
    Sync,
    Async,
    Quorum(u32),
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub enum ReadFrom {
    #[default]
    Primary,
    Replicas,
}

/// Failover of a datastore's primary: noticed `detect_after` it became unreachable, done
/// `promote_in` later.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// Default `"10s"`.
    #[serde(default = "ten_s")]
    pub detect_after: Dur,
    /// Default `"5s"`.
    #[serde(default = "five_s")]
    pub promote_in: Dur,
}

fn five_s() -> Dur {
    Dur(SimDuration::from_secs(5))
}
fn one_s() -> Dur {
    Dur(SimDuration::from_secs(1))
}
fn thirty_s() -> Dur {
    Dur(SimDuration::from_secs(30))
}
fn one_ms() -> Dur {
    Dur(SimDuration::from_ms(1))
}
fn two_u() -> u32 {
    2
}
fn four() -> u32 {
    4
}
fn five() -> u32 {
    5
}
fn ten_pct() -> u32 {
    10
}
fn three_f() -> f64 {
    3.0
}

/// Adaptive concurrency limits, as in Netflix `concurrency-limits`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ConcurrencyLimitSpec {
    /// `AIMDLimit`: after a request that took longer than `latency_over` (or was dropped), the
    /// limit is multiplied by `decrease`; after a good one, while at least half the limit is in
    /// use, it grows by one. Kept within `[min, max]`, starting at `initial`.
    Aimd {
        #[serde(default = "twenty")]
        initial: u32,
        #[serde(default = "one")]
        min: u32,
        #[serde(default = "two_hundred")]
        max: u32,
        #[serde(default = "point_nine")]
        decrease: f64,
        latency_over: Dur,
    },
}

fn twenty() -> u32 {
    20
}
fn two_hundred() -> u32 {
    200
}
fn point_nine() -> f64 {
    0.9
}

/// Rate limits of a service. Every limit that applies must have a token for a request to pass.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBucket {
    pub rate_per_s: f64,
    pub burst: u32,
}

/// Load shedding: turn work away early rather than serve it too late.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
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

impl Serialize for QueueCap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            QueueCap::Bounded(n) => s.serialize_u32(*n),
            QueueCap::Unbounded => s.serialize_str("unbounded"),
            QueueCap::NoQueue => s.serialize_str("none"),
        }
    }
}

/// Which hosts a service's instances are placed on. Instances are dealt out round-robin over
/// the eligible hosts in interleaved order (one per region, then per zone, then per rack, then
/// per host), so consecutive instances land as far apart as the topology allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
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
}

/// One step of a service's call sequence.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
// The spec is read once per file; boxing the defences would only make the format types harder to read.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// A call to another service, with the caller's defences; the step ends when it answers (or
    /// its defences give up). `Call(to: "db", timeout: "50ms", retry: (attempts: 3))`.
    Call {
        to: String,
        /// The callee's worker pool this call uses (`pools` of the callee); its main pool when
        /// absent.
        #[serde(default)]
        pool: Option<String>,
        /// Share of requests that make this call (the others skip it), e.g. `0.3` when only
        /// product pages show recommendations. Default 1.
        #[serde(default = "one_f")]
        probability: f64,
        /// Time the caller waits for one attempt before giving up on it (gRPC deadline,
        /// resilience4j TimeLimiter `timeoutDuration`). No timeout when absent: the caller waits
        /// as long as it takes.
        #[serde(default)]
        timeout: Option<Dur>,
        /// Retries of failed attempts.
        #[serde(default)]
        retry: Option<RetrySpec>,
        /// A circuit breaker in front of the dependency.
        #[serde(default)]
        breaker: Option<BreakerSpec>,
        /// A bulkhead limiting concurrent calls to the dependency.
        #[serde(default)]
        bulkhead: Option<BulkheadSpec>,
        /// What the caller does when the call fails after its retries: by default the request
        /// fails; with a fallback it is answered degraded.
        #[serde(default)]
        fallback: Option<Fallback>,
        /// Hedged requests: a second attempt when the first has not answered in time.
        #[serde(default)]
        hedge: Option<HedgeSpec>,
        /// Client-side throttling of this call.
        #[serde(default)]
        throttle: Option<ThrottleSpec>,
        /// For a call to a datastore: `Read` or `Write`. Default `Read`.
        #[serde(default)]
        op: Op,
        /// The caller's connection pool: when a callee instance restarts (after a crash, its
        /// host's return, a replacement), the pooled connections to it are broken, and attempts
        /// to it fail at once until the pool has reconnected, this long after the restart.
        /// Default: reconnects at once.
        #[serde(default)]
        reconnect_after: Option<Dur>,
    },
    /// Calls made at once; the step ends when all have answered. Holds `Call`s only.
    Parallel(Vec<Step>),
}

/// What a call asks of a datastore.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Op {
    #[default]
    Read,
    Write,
}

/// Hedging ("The Tail at Scale"): if the call has not answered after a delay — fixed (`after`),
/// or a percentile of its observed latency (`percentile`) — send another attempt (up to `max`
/// extra ones); the first good answer wins, the others are abandoned.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HedgeSpec {
    /// A fixed delay; with `percentile`, the delay used until enough answers have been seen.
    #[serde(default)]
    pub after: Option<Dur>,
    /// Hedge after this percentile of the call's observed latency (e.g. `95.0`), learned from
    /// its answers as the run goes (at least 50 of them).
    #[serde(default)]
    pub percentile: Option<f64>,
    /// Extra attempts at most. Default 1.
    #[serde(default = "one")]
    pub max: u32,
}

/// Client-side throttling, per caller instance.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ThrottleSpec {
    /// gRPC `retryThrottling`: tokens start at `max_tokens`; a failed attempt takes one, a good
    /// answer gives back `token_ratio`; retries (and hedges) are sent only while more than half
    /// the tokens are left.
    GrpcRetry { max_tokens: u32, token_ratio: f64 },
    /// The adaptive throttling of the Google SRE book: over the last `window`, with `requests`
    /// attempted and `accepts` answered well, refuse a new attempt locally with probability
    /// `max(0, (requests - k * accepts) / (requests + 1))`.
    Adaptive {
        #[serde(default = "two")]
        k: f64,
        #[serde(default = "two_min")]
        window: Dur,
    },
}

fn two_min() -> Dur {
    Dur(SimDuration::from_mins(2))
}

/// What a failed call turns into.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Fallback {
    /// Answer degraded, e.g. `Degrade("popular items")`: the request succeeds, counted as degraded.
    Degrade(String),
}

/// Retries, with the parameters of resilience4j `Retry`, Envoy retry policies and Finagle retry
/// budgets.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included (resilience4j `maxAttempts`). Default 3.
    #[serde(default = "three")]
    pub attempts: u32,
    /// Outcomes of an attempt that are retried. Default `[Timeout, Error, Rejected, RateLimited]`.
    #[serde(default = "default_retry_on")]
    pub on: Vec<RetryOn>,
    /// Wait before each retry. Default `Exponential(base: "25ms", cap: "1s")`.
    #[serde(default = "default_backoff")]
    pub backoff: Backoff,
    /// Randomization of the wait. Default `Full`.
    #[serde(default = "default_jitter")]
    pub jitter: Jitter,
    /// A cap on retries relative to calls, shared by all instances of the caller.
    #[serde(default)]
    pub budget: Option<RetryBudget>,
    /// Wait at least the Retry-After of a 429 answer before retrying. Default true.
    #[serde(default = "yes")]
    pub honor_retry_after: bool,
}

fn yes() -> bool {
    true
}

fn three() -> u32 {
    3
}
fn default_retry_on() -> Vec<RetryOn> {
    vec![
        RetryOn::Timeout,
        RetryOn::Error,
        RetryOn::Rejected,
        RetryOn::RateLimited,
    ]
}
fn default_backoff() -> Backoff {
    Backoff::Exponential {
        base: Dur(SimDuration::from_ms(25)),
        cap: Dur(SimDuration::from_secs(1)),
        multiplier: 2.0,
    }
}
fn default_jitter() -> Jitter {
    Jitter::Full
}

/// An outcome of an attempt, for choosing what to retry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum RetryOn {
    /// The attempt's timeout expired.
    Timeout,
    /// The dependency answered with an error (a 5xx), including a failure of its own dependencies.
    Error,
    /// The dependency turned the request away: queue full, shed, down (503 / connection refused).
    Rejected,
    /// The dependency's rate limiter answered 429.
    RateLimited,
    /// The caller's circuit breaker refused the attempt.
    BreakerOpen,
    /// The caller's bulkhead refused the attempt.
    BulkheadFull,
    /// The caller's own throttle refused the attempt.
    Throttled,
}

/// Wait before a retry (resilience4j `IntervalFunction`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Backoff {
    /// The same wait each time: `Constant("50ms")`.
    Constant(Dur),
    /// `base * multiplier^(retry - 1)`, at most `cap`: `Exponential(base: "10ms", cap: "1s")`;
    /// `multiplier` defaults to 2.
    Exponential {
        base: Dur,
        cap: Dur,
        #[serde(default = "two")]
        multiplier: f64,
    },
    /// AWS "decorrelated jitter": `min(cap, uniform(base, 3 * previous wait))`, the first wait
    /// from `uniform(base, 3 * base)`. Random by itself; `jitter` is not applied on top.
    Decorrelated { base: Dur, cap: Dur },
}

fn two() -> f64 {
    2.0
}

/// Randomization of a backoff wait `d` (AWS architecture blog, "Exponential Backoff and Jitter").
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// `d/2` plus uniform in `[0, d/2]`.
    Equal,
}

/// Finagle `RetryBudget`: retries allowed in a sliding window of `window` are at most
/// `ratio` times the calls in it plus `min_per_s` per second of the window.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    /// Finagle `percentCanRetry` as a fraction; Envoy `budget_percent`. E.g. `0.1`.
    pub ratio: f64,
    /// Finagle `minRetriesPerSec`. Default 10.
    #[serde(default = "ten")]
    pub min_per_s: f64,
    /// Finagle `ttl`. Default `"10s"`.
    #[serde(default = "ten_s")]
    pub window: Dur,
}

fn ten() -> f64 {
    10.0
}
fn ten_s() -> Dur {
    Dur(SimDuration::from_secs(10))
}

/// A circuit breaker with the semantics of resilience4j `CircuitBreaker`.
///
/// Closed: attempts pass and their outcomes fill a sliding window. Once the window holds at least
/// `min_calls` calls and the failure rate (errors, rejections and timeouts) reaches
/// `failure_rate`, or the share of calls slower than `slow_call_duration` reaches
/// `slow_call_rate`, it opens. Open: attempts are refused at once for `open_for`. Then half-open:
/// `half_open_calls` attempts pass; when all have answered, their failure and slow rates decide
/// between closed and open again; further attempts are refused meanwhile.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// `Count(100)`: the last 100 calls (`COUNT_BASED`); `Time("10s")`: the calls of the last 10
    /// seconds, in one-second buckets (`TIME_BASED`). Default `Count(100)`.
    #[serde(default = "default_window")]
    pub window: Window,
    /// `minimumNumberOfCalls`. Default 100.
    #[serde(default = "hundred")]
    pub min_calls: u32,
    /// `failureRateThreshold` as a fraction. Default 0.5.
    #[serde(default = "half")]
    pub failure_rate: f64,
    /// `slowCallRateThreshold` as a fraction. Default 1.0 (only when every call is slow).
    #[serde(default = "one_f")]
    pub slow_call_rate: f64,
    /// `slowCallDurationThreshold`. Default `"60s"`.
    #[serde(default = "sixty_s")]
    pub slow_call_duration: Dur,
    /// `waitDurationInOpenState`. Default `"60s"`.
    #[serde(default = "sixty_s")]
    pub open_for: Dur,
    /// `permittedNumberOfCallsInHalfOpenState`. Default 10.
    #[serde(default = "ten_u")]
    pub half_open_calls: u32,
    /// One breaker per caller instance (`false`, the default, as each process of a service keeps
    /// its own), or one shared by all instances of the caller.
    #[serde(default)]
    pub shared: bool,
}

fn default_window() -> Window {
    Window::Count(100)
}
fn hundred() -> u32 {
    100
}
fn half() -> f64 {
    0.5
}
fn one_f() -> f64 {
    1.0
}
fn sixty_s() -> Dur {
    Dur(SimDuration::from_secs(60))
}
fn ten_u() -> u32 {
    10
}

/// The sliding window of a circuit breaker.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum Window {
    Count(u32),
    Time(Dur),
}

/// A bulkhead per caller instance and dependency.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum BulkheadSpec {
    /// resilience4j `SemaphoreBulkhead`: at most `max_concurrent` calls in flight; a call that
    /// finds none free waits up to `max_wait` (`maxWaitDuration`, default 0: refused at once).
    Semaphore {
        max_concurrent: u32,
        #[serde(default)]
        max_wait: Dur,
    },
    /// resilience4j `ThreadPoolBulkhead`: calls to the dependency run on their own `workers`
    /// (`maxThreadPoolSize`); when all are busy a call waits in a queue of `queue` places
    /// (`queueCapacity`), and is refused when that is full too.
    Pool { workers: u32, queue: u32 },
}

/// Load-balancing policy used by callers of a service.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum Balancer {
    /// Each instance in turn.
    #[default]
    RoundRobin,
    /// An instance drawn uniformly at random.
    Random,
    /// The instance with the fewest requests in progress or queued (ties to the lowest index).
    LeastOutstanding,
    /// Two instances drawn at random; the one with fewer outstanding requests wins.
    PowerOfTwo,
}

/// Open-loop load at an entry service.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Name in reports. Default: the entry service's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The service that receives the requests.
    pub entry: String,
    /// The arrival process and its initial rate.
    pub arrivals: Arrivals,
    /// The clients retry an answer that is an error, a rejection or a 429 (honouring its
    /// Retry-After): the same `retry` settings as a call's, without `budget`. A user request is
    /// counted once, with its final answer and its latency from the first attempt.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// The entry service's worker pool these requests use; its main pool when absent.
    #[serde(default)]
    pub pool: Option<String>,
    /// The client's tier, for per-tier rate limits (`"premium"`, `"free"`). Default: none.
    #[serde(default)]
    pub tier: Option<String>,
    /// Changes of rate over time, applied in order of time.
    #[serde(default)]
    pub schedule: Vec<RateChange>,
    /// The clients' home region: global routing sends them to entry instances there while any
    /// is in load balancing, else to the other regions (paying cross-region latency). Default:
    /// the first region.
    #[serde(default)]
    pub region: Option<String>,
    /// The client gives up waiting after this long and counts the request failed (its answer, if
    /// it ever comes, is ignored). Default: it waits as long as it takes.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Distinct users the requests come from (each request from one drawn at random), for
    /// sessions. Default 10,000; at most 1,000,000.
    #[serde(default = "ten_thousand")]
    pub users: u32,
}

fn ten_thousand() -> u32 {
    10_000
}

/// An arrival process.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Arrivals {
    /// Poisson arrivals (exponential gaps): `Poisson(rate_per_s: 800)`.
    Poisson { rate_per_s: f64 },
    /// Evenly spaced arrivals: `Constant(rate_per_s: 100)`.
    Constant { rate_per_s: f64 },
}

/// A change of arrival rate.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum RateChange {
    /// Jump to `to_per_s` at time `at`: `Step(to_per_s: 1600, at: "10m")`.
    Step { to_per_s: f64, at: Dur },
    /// Change linearly to `to_per_s`, starting at `from` and taking `over`:
    /// `Ramp(to_per_s: 1600, from: "10m", over: "2m")`.
    Ramp { to_per_s: f64, from: Dur, over: Dur },
}
