//! The scenario file format. These types *are* the format: each field is defined once, here, with
//! its default, its unit and its doc comment. Files are RON; durations are strings with a unit
//! (`"250ms"`, `"1.5s"`, `"2m"`, `"1h"`); rates are per second; names refer to other entries.
//!
//! Parsing only checks shape (`deny_unknown_fields` everywhere). Meaning — names that resolve,
//! rates that are positive, a call graph without cycles — is checked afterwards by
//! [`crate::compile`], which reports every problem at once with its field path.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sim_core::SimDuration;

mod actions;
mod calls;
mod expect;
mod faults;
mod limits;
mod network;
mod ops;
mod services;
mod topology;
mod workloads;

pub use actions::*;
pub use calls::*;
pub use expect::*;
pub use faults::*;
pub use limits::*;
pub use network::*;
pub use ops::*;
pub use services::*;
pub use topology::*;
pub use workloads::*;

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

/// In the JSON Schema: a string such as `"250ms"`, `"1.5s"` or `"2m30s"`, or the number 0.
impl JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: a number with a unit (ns, us, ms, s, m or min, h, d), largest unit first when compound: \"250ms\", \"1.5s\", \"2m30s\"; or 0.",
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"const": 0}
            ]
        })
    }
}

/// What a duration string looks like (`SimDuration::parse` has the last word).
pub const DURATION_PATTERN: &str = r"^\s*(0|([0-9_.]+\s*(ns|us|µs|ms|s|min|m|h|d))+)\s*$";

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A size in bytes in a scenario file: a string with a binary or decimal unit (`"512KiB"`,
/// `"2MiB"`, `"1.5GiB"`, `"100MB"`, `"64B"`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Parses `"2MiB"` and the like.
    pub fn parse(s: &str) -> Result<Bytes, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{s}` is not a size like \"512MiB\" or \"2GiB\""))?;
        let scale: f64 = match unit {
            "B" => 1.0,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            "TiB" => 1024f64.powi(4),
            "kB" | "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "" => return Err(format!("size `{s}` has no unit; write it like \"{s}MiB\"")),
            other => {
                return Err(format!(
                "unknown size unit `{other}` in `{s}`; use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB"
            ))
            }
        };
        let bytes = value * scale;
        if !bytes.is_finite() || bytes > 1e18 {
            return Err(format!("size `{s}` is too large"));
        }
        Ok(Bytes(bytes.round() as u64))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size string with a unit, like \"512MiB\" or \"2GiB\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Bytes, E> {
                Bytes::parse(s).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Bytes, E> {
                if n == 0 {
                    Ok(Bytes(0))
                } else {
                    Err(E::custom(format!(
                        "size `{n}` has no unit; write it as a string like \"{n}MiB\""
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// In the JSON Schema: a string such as `"512MiB"`, or the number 0.
impl JsonSchema for Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes: a number with a unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB): \"512MiB\"; or 0.",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[0-9.]+\s*(B|KiB|MiB|GiB|TiB|kB|KB|MB|GB|TB)\s*$"},
                {"const": 0}
            ]
        })
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}B", self.0))
    }
}

/// One scenario: the system, its load, and how long to simulate it.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
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
    #[schemars(with = "Vec<(String, Vec<serde_json::Value>)>")]
    pub grid: Vec<(String, Vec<Box<ron::value::RawValue>>)>,
    /// Failures injected at set times; every variant sees the same ones.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Bulk transfers that share the network and the disks with users (backups, data loads).
    #[serde(default)]
    pub transfers: Vec<TransferSpec>,
    /// Assertions that `faultline check` evaluates over the runs.
    #[serde(default)]
    pub expect: Vec<Expect>,
    /// The service level objective: `slo: (latency: "300ms", target: 0.999)`. A request is
    /// *good* when it is answered successfully (completed or degraded) within `latency`; the share
    /// of good requests is the headline metric of every comparison, and `target` is the share a
    /// time-series bucket must reach for incident timelines and failure-mode tables. Workloads and
    /// services may override either field. Default: no latency threshold (every success is good),
    /// target 0.99.
    #[serde(default)]
    pub slo: Slo,
    /// Symptom-based alert rules, evaluated in simulated time at the end of every time-series
    /// bucket; every firing is recorded.
    #[serde(default)]
    pub alerts: Vec<AlertSpec>,
    /// Rollouts of new versions, possibly bad ones, possibly rolled back by an alert.
    #[serde(default)]
    pub deployments: Vec<DeploySpec>,
    /// What the operators do, at set times: switch a feature off, add capacity, shift traffic,
    /// pause or restart a service. Shown as actions taken, not as incidents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
}

/// A service level objective, or an override of one (fields left out are inherited: a workload's
/// and a service's from the scenario's, the scenario's from the defaults).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// A successful answer slower than this is not good. For a service, the time from arrival at
    /// an instance to the answer leaving it; for a workload's users, end to end.
    #[serde(default)]
    pub latency: Option<Dur>,
    /// The share of requests that must be good, in (0, 1).
    #[serde(default)]
    pub target: Option<f64>,
}
