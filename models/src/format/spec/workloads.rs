//! Workloads: open-loop arrivals at an entry service and their schedules.

use super::*;

/// Open-loop load at an entry service.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Name in reports. Default: the entry service's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The service that receives the requests.
    pub entry: String,
    /// The arrival process and its initial rate.
    pub arrivals: Arrivals,
    /// The clients retry what `retry.on` names, with the same settings as a call's `retry`
    /// (backoff, jitter, Retry-After, `budget` of either form, counted over this workload's
    /// requests and attempts): answers that are errors (`Error`), rejections or sheds
    /// (`Rejected`), 429s (`RateLimited`), and their own timeouts (`Timeout`, with `timeout`:
    /// the attempt is abandoned, its request runs on unwatched, and a new one is sent after the
    /// backoff). A user request is counted once, with its final answer and its latency from the
    /// first attempt.
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
    /// The client gives up waiting for an attempt after this long (each attempt has its own
    /// timeout, as on a call): it retries if its `retry` retries `Timeout`, else counts the
    /// request failed (an answer that comes later is ignored). Default: it waits as long as it
    /// takes.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Distinct users the requests come from (each request from one drawn at random), for
    /// sessions. Default 10,000; at most 1,000,000.
    #[serde(default = "ten_thousand")]
    pub users: u32,
    /// This workload's SLO, where it differs from the scenario's `slo`: `slo: (latency: "1s")`.
    #[serde(default)]
    pub slo: Option<Slo>,
    /// How much its requests matter when there is not enough capacity for all (the SRE book's
    /// classes); the calls they cause carry it on. Default `Critical`.
    #[serde(default)]
    pub criticality: Criticality,
    /// The keys its requests ask for (a product, a user's row, a cache entry), drawn per request
    /// from this workload's own stream, so every design sees the same keys; the calls a request
    /// makes carry its key unless a call draws its own. Caches (`cache`) and services balanced
    /// by key (`balancer: KeyHash`) read it. Default: requests carry no key.
    #[serde(default)]
    pub keys: Option<Keys>,
    /// Size of each request as it enters the entry instance's host (its NIC, when the
    /// topology gives it a bandwidth). Default: none.
    #[serde(default)]
    pub request_bytes: Option<SizeSpec>,
}

/// A key space: keys `1..=n`, drawn independently for each request (the independent reference
/// model).
#[derive(Copy, Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Keys {
    /// Key `k` with probability proportional to `1 / k^s`: a few hot keys and a long tail
    /// (`Zipf(n: 1_000_000, s: 0.99)`; web caches measure `s` from 0.6 to 1.0).
    Zipf { n: u64, s: f64 },
    /// Every key equally likely: `Uniform(n: 10_000)`.
    Uniform { n: u64 },
}

pub(super) fn ten_thousand() -> u32 {
    10_000
}

/// An arrival process.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Arrivals {
    /// Poisson arrivals (exponential gaps): `Poisson(rate_per_s: 800)`.
    Poisson { rate_per_s: f64 },
    /// Evenly spaced arrivals: `Constant(rate_per_s: 100)`.
    Constant { rate_per_s: f64 },
}

/// A change of arrival rate.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum RateChange {
    /// Jump to `to_per_s` at time `at`: `Step(to_per_s: 1600, at: "10m")`.
    Step { to_per_s: f64, at: Dur },
    /// Change linearly to `to_per_s`, starting at `from` and taking `over`:
    /// `Ramp(to_per_s: 1600, from: "10m", over: "2m")`.
    Ramp { to_per_s: f64, from: Dur, over: Dur },
}

/// The criticality of a request (the Google SRE book, "Handling Overload"): services whose
/// queues order by it (`queue_order: Criticality`) serve the more critical first and drop the
/// least critical first. It travels with a request along its calls unless a call says
/// otherwise.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
pub enum Criticality {
    /// Dropped first: batch, prefetch, analytics.
    Sheddable,
    /// Retried later by its client without harm.
    SheddablePlus,
    /// The default: a user waits for it.
    #[default]
    Critical,
    /// Dropped last: what the product cannot do without.
    CriticalPlus,
}
