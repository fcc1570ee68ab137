//! Networks and disks as resources: link bandwidth, message sizes, disks with IOPS, throughput,
//! fsync and capacity, datastore rebuilds and bulk transfers.

use super::*;

/// A bandwidth in a scenario file: a string with a unit of bits (`"10Gbps"`, `"100Mbps"`) or
/// bytes (`"200MB/s"`, `"1GiB/s"`) per second. Held as bytes per second.
#[derive(Copy, Clone, Debug, Default, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl Rate {
    /// Parses `"10Gbps"`, `"200MB/s"` and the like.
    pub fn parse(s: &str) -> Result<Rate, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a bandwidth like \"10Gbps\" or \"200MB/s\""))?;
        let bits = |k: f64| Some(k / 8.0);
        let scale = match unit {
            "bps" => bits(1.0),
            "Kbps" | "kbps" => bits(1e3),
            "Mbps" => bits(1e6),
            "Gbps" => bits(1e9),
            "Tbps" => bits(1e12),
            "B/s" => Some(1.0),
            "kB/s" | "KB/s" => Some(1e3),
            "MB/s" => Some(1e6),
            "GB/s" => Some(1e9),
            "KiB/s" => Some(1024.0),
            "MiB/s" => Some(1024.0 * 1024.0),
            "GiB/s" => Some(1024.0 * 1024.0 * 1024.0),
            _ => None,
        };
        let Some(scale) = scale else {
            return Err(format!(
                "unknown bandwidth unit in `{s}`; use bps, Kbps, Mbps, Gbps, Tbps (bits) or \
                 B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s (bytes)"
            ));
        };
        let rate = value * scale;
        if !rate.is_finite() || rate <= 0.0 || rate > 1e15 {
            return Err(format!(
                "bandwidth `{s}` must be above zero and at most 8 Pbps"
            ));
        }
        Ok(Rate(rate))
    }

    /// Bytes per nanosecond.
    pub fn per_ns(self) -> f64 {
        self.0 / 1e9
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a bandwidth string with a unit, like \"10Gbps\" or \"200MB/s\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Rate, E> {
                Rate::parse(s).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "bandwidth `{n}` has no unit; write it as a string like \"{n}Gbps\""
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "bandwidth `{n}` has no unit; write it as a string like \"{n}Gbps\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bandwidth".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A bandwidth: a number with a unit of bits (bps, Kbps, Mbps, Gbps, Tbps) or bytes (B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s) per second: \"10Gbps\", \"200MB/s\".",
            "type": "string",
            "pattern": r"^\s*[0-9.]+\s*(bps|Kbps|kbps|Mbps|Gbps|Tbps|B/s|kB/s|KB/s|MB/s|GB/s|KiB/s|MiB/s|GiB/s)\s*$"
        })
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}B/s", self.0))
    }
}

/// The capacity of the network's links, each way (links are full duplex). A link left out has
/// no limit. Messages with a size (`request_bytes`, `response_bytes`) and bulk transfers
/// (replication, rebuilds, `transfers`) cross the links of their path — the sender's NIC, its
/// rack's uplink, the zone-to-zone or region-to-region link, the receiver's rack uplink and NIC
/// — and share each link max-min fairly (each flow gets an equal share of its bottleneck, as
/// TCP flows do; SimGrid's flow model). Default: no limits anywhere.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bandwidth {
    /// Each host's network interface: `host: "10Gbps"`.
    #[serde(default)]
    pub host: Option<Rate>,
    /// Each rack's uplink to its zone's fabric: `rack_uplink: "40Gbps"`.
    #[serde(default)]
    pub rack_uplink: Option<Rate>,
    /// Or the rack uplink as an oversubscription of its hosts' NICs: `4.0` gives a rack of 16
    /// hosts at 10 Gbps an uplink of 40 Gbps. Needs `host`; not with `rack_uplink`.
    #[serde(default)]
    pub oversubscription: Option<f64>,
    /// Each pair of zones of a region: `cross_zone: "100Gbps"`. A zone-to-zone link that is
    /// down (`LinkDown`) is routed around through another zone of the region.
    #[serde(default)]
    pub cross_zone: Option<Rate>,
    /// Each pair of regions: `cross_region: "10Gbps"`.
    #[serde(default)]
    pub cross_region: Option<Rate>,
}

/// The order in which a disk serves its queue.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum DiskQueue {
    /// First come, first served: a rebuild's reads and writes queue with users'.
    #[default]
    Fifo,
    /// Users' reads and writes (and replication) before background work (rebuilds, transfers):
    /// an I/O scheduler with a background class.
    UserFirst,
}

/// Every host's disk: `disk: (iops: 20000, throughput: "500MB/s", fsync: "1ms", capacity:
/// "2TiB")`. Datastores read and write it (a read of the answer's size, a write of the
/// request's size), one operation at a time in its queue's order; an operation takes the longer
/// of `1 / iops` and its size over `throughput`, plus `fsync` for a durable write. The disk
/// faults act on it: `SlowDisk` multiplies its operations' time (not the instances' work),
/// `DiskFailure` loses it. Default: no disks (datastore I/O is part of their `work`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// Operations per second. Default: no limit.
    #[serde(default)]
    pub iops: Option<f64>,
    /// Bytes per second.
    pub throughput: Rate,
    /// Time a durable write waits for the disk to flush (datastores with `fsync: true`).
    /// Default 0.
    #[serde(default)]
    pub fsync: Dur,
    /// Size of each disk; a write that would fill it fails (counted as `disk_full`). Default:
    /// no limit.
    #[serde(default)]
    pub capacity: Option<Bytes>,
    /// `Fifo` (default) or `UserFirst`.
    #[serde(default)]
    pub queue: DiskQueue,
}

/// A distribution of sizes (messages, reads, writes).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum SizeSpec {
    /// Always the same: `Constant("16KiB")`.
    Constant(Bytes),
    /// Exponential with the given mean: `Exponential(mean: "16KiB")`.
    Exponential { mean: Bytes },
    /// Uniform between two sizes: `Uniform(min: "1KiB", max: "64KiB")`.
    Uniform { min: Bytes, max: Bytes },
}

/// How a datastore copies its data to a copy that lost it (a new disk, a new host) or that was
/// cut off for so long that it cannot catch up from the log: chunk by chunk, each read from the
/// source's disk, sent over the network and written to the target's disk.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RebuildSpec {
    /// A copy out of reach of its primary (host down, partition) for longer than this is
    /// rebuilt in full when it is back (its log is gone: EBS's re-mirroring, a replica too far
    /// behind). Default: only a copy whose data was lost is rebuilt.
    #[serde(default)]
    pub after: Option<Dur>,
    /// Most bytes per second each rebuild sends: the recovery rate limit. Default: no limit
    /// (as fast as links and disks allow).
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Size of a chunk. Default `"64MiB"`.
    #[serde(default = "default_chunk")]
    pub chunk: Bytes,
    /// Chunks in flight at once per rebuild. Default 4.
    #[serde(default = "default_parallel")]
    pub parallel: u32,
}

impl Default for RebuildSpec {
    fn default() -> Self {
        RebuildSpec {
            after: None,
            rate: None,
            chunk: default_chunk(),
            parallel: default_parallel(),
        }
    }
}

pub(super) fn default_chunk() -> Bytes {
    Bytes(64 << 20)
}

fn default_parallel() -> u32 {
    4
}

/// A bulk transfer that shares the network and the disks with users: a backup, a rebalancing,
/// a data load. `(name: "backup", from: "db", to: "us-east/b/r0/h0", size: "500GiB", at: "10m",
/// rate: "200MB/s")`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    /// Name in reports.
    pub name: String,
    /// A host, or a service (its datastore primary's host, or its first instance's).
    pub from: String,
    /// A host, or a service (as `from`).
    pub to: String,
    pub size: Bytes,
    /// When it starts.
    pub at: Dur,
    /// Most bytes per second. Default: no limit.
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Size of a chunk. Default `"64MiB"`.
    #[serde(default = "default_chunk")]
    pub chunk: Bytes,
    /// Chunks in flight at once. Default 4.
    #[serde(default = "default_parallel")]
    pub parallel: u32,
}

/// A link of the network, named by its ends (faults on capacity name one; both directions).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum LinkRef {
    /// A host's network interface: `Host("us-east/a/r0/h3")`.
    Host(String),
    /// A rack's uplink: `RackUplink("us-east/a/r0")`.
    RackUplink(String),
    /// The link between two zones of a region: `Zones("us-east/a", "us-east/b")`.
    Zones(String, String),
    /// The link between two regions: `Regions("us-east", "eu-west")`.
    Regions(String, String),
}
