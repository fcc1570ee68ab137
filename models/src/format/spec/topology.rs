//! The topology: regions, zones, racks and hosts, latency by distance, and distributions.

use super::*;

/// Regions, zones, racks and hosts, and the network latency between them.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Regions, each with zones. Default: region `local` with zone `a`, one rack, one host.
    #[serde(default = "default_regions")]
    pub regions: Vec<Region>,
    /// One-way network latency by distance between the two hosts.
    #[serde(default)]
    pub latency: Latency,
    /// The capacity of the links, each way: `bandwidth: (host: "10Gbps", oversubscription:
    /// 4.0, cross_zone: "100Gbps")`. Default: no limits (a message takes its latency only).
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
    /// Every host's disk, read and written by datastores: `disk: (iops: 20000, throughput:
    /// "500MB/s")`. Default: none (a datastore's I/O is part of its `work`).
    #[serde(default)]
    pub disk: Option<DiskSpec>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            regions: default_regions(),
            latency: Latency::default(),
            bandwidth: None,
            disk: None,
        }
    }
}

pub(super) fn default_regions() -> Vec<Region> {
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
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub zones: Vec<Zone>,
}

/// An availability zone: `racks` racks of `hosts_per_rack` hosts each. Hosts are named
/// `region/zone/r<rack>/h<host>`, e.g. `eu-west/a/r0/h3`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
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

pub(super) fn one() -> u32 {
    1
}

/// One-way latency of a message by the distance between sender and receiver. Each defaults to
/// zero, so a scenario that does not care about the network need not mention it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
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
