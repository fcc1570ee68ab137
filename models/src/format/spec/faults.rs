//! Faults: what goes wrong, where, and when (a window, or MTBF/MTTR draws).

use super::*;

/// A failure injected at `at` for `lasts` (until the end of the run when absent), or, with
/// `mtbf` and `mttr`, again and again at random: each target (each instance of a service, or the
/// host, rack, zone or region named) fails after a time drawn from `mtbf` and is repaired after a
/// time drawn from `mttr`, independently of the others. Every draw comes from the fault's own
/// random stream, so every variant of a scenario sees the same fault schedule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// What reports call the fault: incident timelines, failure-mode tables, the run's log and
    /// events, and `Detected(fault:)`. Default: a label made from what it does (`zone a down`,
    /// `db 10x slower`); `faultline validate` lists every fault's.
    #[serde(default)]
    pub name: Option<String>,
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum FaultKind {
    /// Local work takes `factor` times longer, at every instance or at one:
    /// `Slowdown(service: "recs", factor: 10)`.
    Slowdown {
        service: String,
        factor: f64,
        #[serde(default)]
        instance: Option<u32>,
        /// Which of its instances, as chaos tools pick targets: `Share(0.3)` or `Count(2)`,
        /// drawn by the fault's own stream (see `InstancePick`). Default: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instances: Option<InstancePick>,
        /// Only its instances placed in this region, zone, rack or host: `in: "eu-west/a"`.
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
    },
    /// A share of requests fail after their local work: `Errors(service: "payments", rate: 0.5)`.
    /// With `edge` in place of `service`, a share of the calls on that edge fail at the caller
    /// before they leave, as a service mesh's injected abort does: `Errors(edge: Edge(from:
    /// "api", to: "payments"), rate: 0.5)`.
    Errors {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        service: String,
        rate: f64,
        /// The call edge whose calls fail, in place of `service`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edge: Option<Edge>,
    },
    /// Every instance is down: arrivals are refused at once, and work in progress is lost.
    Outage { service: String },
    /// An instance's process dies: connections are refused at once, queued and running requests
    /// fail. It restarts when the fault ends, or when the orchestrator (`replace`) replaces it.
    /// Without `instance`, every instance of the service (with `mtbf`: each on its own).
    Crash {
        service: String,
        #[serde(default)]
        instance: Option<u32>,
        /// Which of its instances, as chaos tools pick targets: `Share(0.3)` or `Count(2)`,
        /// drawn by the fault's own stream (see `InstancePick`). Default: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instances: Option<InstancePick>,
        /// Only its instances placed in this region, zone, rack or host: `in: "eu-west/a"`.
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
    },
    /// An instance stops answering but keeps its connections: requests wait, unanswered, until
    /// the hang ends (callers see timeouts).
    Hang {
        service: String,
        #[serde(default)]
        instance: Option<u32>,
        /// Which of its instances, as chaos tools pick targets: `Share(0.3)` or `Count(2)`,
        /// drawn by the fault's own stream (see `InstancePick`). Default: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instances: Option<InstancePick>,
        /// Only its instances placed in this region, zone, rack or host: `in: "eu-west/a"`.
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
    },
    /// A leak: local work slows down by `per_min` (0.5: 50% more) for every minute since the
    /// fault started or the instance last restarted, whichever is later.
    Leak {
        service: String,
        per_min: f64,
        #[serde(default)]
        instance: Option<u32>,
        /// Which of its instances, as chaos tools pick targets: `Share(0.3)` or `Count(2)`,
        /// drawn by the fault's own stream (see `InstancePick`). Default: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instances: Option<InstancePick>,
        /// Only its instances placed in this region, zone, rack or host: `in: "eu-west/a"`.
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
    },
    /// Stop-the-world pauses (GC): every instance pauses for `pause` after gaps drawn from `every`.
    Pauses {
        service: String,
        every: DistSpec,
        pause: DistSpec,
        /// Which of its instances, as chaos tools pick targets: `Share(0.3)` or `Count(2)`,
        /// drawn by the fault's own stream (see `InstancePick`). Default: all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instances: Option<InstancePick>,
        /// Only its instances placed in this region, zone, rack or host: `in: "eu-west/a"`.
        #[serde(rename = "in", default, skip_serializing_if = "Option::is_none")]
        place: Option<String>,
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
    /// Messages between the two sets of places take `add` longer, both ways (a call's round
    /// trip grows by twice `add`). With `edge` in place of `between` and `and`, the messages of
    /// one call edge only (the requests and their answers), whatever hosts the two services are
    /// on: `NetworkDelay(edge: Edge(from: "api", to: "db"), add: "50ms")`.
    NetworkDelay {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        between: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        and: Vec<String>,
        add: Dur,
        /// A delay drawn for each message and added to `add` (jitter, as netem's and
        /// Toxiproxy's): `jitter: Uniform(min: "0ms", max: "20ms")`. Default: none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jitter: Option<DistSpec>,
        /// The call edge whose messages are delayed, in place of `between` and `and`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edge: Option<Edge>,
    },
    /// A share `rate` of messages between the two sets of places is lost (the sender times out).
    /// With `edge` in place of `between` and `and`, the messages of one call edge only.
    /// With `retransmit`, `rate` is the share of *packets* lost and no message is: TCP sends the
    /// lost ones again, and each round of retransmission delays the message by `retransmit`.
    PacketLoss {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        between: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        and: Vec<String>,
        rate: f64,
        /// The call edge whose messages are lost, in place of `between` and `and`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edge: Option<Edge>,
        /// What a round of retransmission costs (a retransmission timeout, "200ms" for Linux's
        /// minimum; about a round trip where fast retransmit recovers): a message of `b` bytes
        /// is ceil(b / 1,460) packets (one without a size), each lost at `rate`; the lost ones
        /// go again together, and may be lost again. Large messages wait, small ones rarely.
        /// Default: none (whole messages are lost).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retransmit: Option<Dur>,
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
    /// A link keeps only `share` of its bandwidth (a failed member of a link aggregate, a
    /// misconfigured port): `LinkDegraded(link: RackUplink("us-east/a/r0"), share: 0.25)`.
    /// Needs the topology's `bandwidth` for that link.
    LinkDegraded { link: LinkRef, share: f64 },
    /// Background traffic each way on a link (another tenant, a misbehaving job): a flow of its
    /// own, capped at `rate`, sharing the link max-min with everything else (so it takes no
    /// more than its fair share when many flows cross the link): `Congestion(link: Zones("a",
    /// "b"), rate: "80Gbps")`. Needs the topology's `bandwidth` for that link.
    Congestion { link: LinkRef, rate: Rate },
    /// A link is lost, both ways: messages route around it where a path is left (a zone-to-zone
    /// link, through another zone of the region) and are lost where none is (a host's NIC, a
    /// rack's uplink, the link between two regions); flows already on it move to a route
    /// around it with the bytes they have left, or wait at no rate until a route is back.
    /// `LinkDown(link: Zones("us-east/a", "us-east/b"))`. Needs the topology's `bandwidth` for
    /// that link.
    LinkDown { link: LinkRef },
}

/// Which of a service's instances a fault hits, as chaos tools pick their targets (Chaos Mesh's
/// `fixed-percent` and `fixed` modes, Gremlin's percentage of targets). The pick is drawn once per
/// run from the fault's own stream (`fault:<kind and targets>#<k>/pick`), as a shuffle whose
/// first instances are taken: it depends on the seed, the run and the fault, never on the design,
/// and a larger share takes the smaller share's instances and more.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum InstancePick {
    /// A share of the instances, in (0, 1], rounded up: `Share(0.3)` of 10 instances is 3, of 4
    /// it is 2.
    Share(f64),
    /// That many instances, at least one and at most all of them: `Count(2)`.
    Count(u32),
}

/// A call edge: the calls `from` makes to `to` (every step that calls it), whatever hosts the
/// two services are on.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The calling service.
    pub from: String,
    /// The called service.
    pub to: String,
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
            FaultKind::LinkDegraded { .. } => "LinkDegraded",
            FaultKind::Congestion { .. } => "Congestion",
            FaultKind::LinkDown { .. } => "LinkDown",
        }
    }
}
