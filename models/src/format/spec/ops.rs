//! Operations in a scenario: alert rules and rollouts, and the variants a study compares.

use super::*;

/// An alert rule: `(name: "checkout-errors", when: ErrorRate(service: "checkout", above: 0.01,
/// over: "1m"))`. The window `over` is rounded up to whole time-series buckets; the rule is
/// evaluated when a bucket closes and fires when its condition holds, after `for` when given.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    pub name: String,
    pub when: AlertRule,
    /// The condition must hold this long before the alert fires. Default 0.
    #[serde(default, rename = "for")]
    pub for_: Dur,
}

/// The condition of an alert, over the last `over` of simulated time.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    /// What reports call this rollout (timelines, failure-mode tables, the log and
    /// `Detected(fault:)`), in place of `deploy <service>`. Default: that label.
    #[serde(default)]
    pub name: Option<String>,
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

pub(super) fn tenth() -> f64 {
    0.1
}

pub(super) fn default_runs() -> u32 {
    100
}

/// A design to compare: the scenario with some fields changed. Every variant runs on the same
/// seeds, so arrivals and service times line up across variants (common random numbers).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// What this design is, in a sentence.
    #[serde(default)]
    pub about: String,
    /// Fields to change, by path: `{"services.api.workers": 64, "services.db.work":
    /// Exponential(mean: "2ms")}`. List elements are named by their `name` (calls by their `to`)
    /// or by index (`services[2].workers`; `services.[2].workers` is read the same); a field that
    /// is absent is added, and a path to a list element replaces the whole element.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub set: std::collections::BTreeMap<String, Box<ron::value::RawValue>>,
    /// Fields to remove (so that they take their defaults), by path; a path to a list element
    /// (`faults[0]`, `services.cache`) removes that element. Indexes count the entries of the
    /// file as written, whatever else the variant removes.
    #[serde(default)]
    pub unset: Vec<String>,
}
