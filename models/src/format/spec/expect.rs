//! Expectations: the metrics a scenario asserts on, and their thresholds.

use super::*;

/// A percentile of latency.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Percentile {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    /// The exact mean rather than a percentile.
    Mean,
}

/// Which requests a latency counts.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Of {
    /// Successful requests only (completed or degraded): the latency of successes.
    #[default]
    Successes,
    /// Every answered request, a failure at the time it was given (a client timeout at the
    /// timeout): the latency of all requests, which a design cannot improve by failing its slow
    /// requests.
    All,
}

/// A per-run measurement of one service (or `users:<workload>`), over the measured window.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Metric {
    /// Answered successfully (completed or degraded) out of all answered.
    Availability { service: String },
    /// Rejected, shed or failed out of all answered.
    ErrorRate { service: String },
    /// Degraded answers out of all answered.
    DegradedRate { service: String },
    /// Answered successfully within the SLO's latency, out of all answered (and those still in
    /// flight at the end that were already too late).
    WithinSlo { service: String },
    /// A latency percentile of successful answers (`of: All`: of all answers).
    Latency {
        service: String,
        percentile: Percentile,
        #[serde(default)]
        of: Of,
    },
    /// A percentile of the time requests waited for a worker (`P50`, `P95`, `P99` or `Mean`).
    Wait {
        service: String,
        percentile: Percentile,
    },
    /// Share of requests that waited for a worker.
    WaitProbability { service: String },
    /// Requests in the service (waiting or served), time-averaged: L of Little's law.
    InSystem { service: String },
    /// Share of the measured window with at least `count` instances up.
    InstancesUp { service: String, count: u32 },
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
    /// A datastore's time with a copy lacking its data (needing or doing a rebuild).
    RedundancyLost { service: String },
    /// A datastore's reads answered by a replica behind the last acknowledged write.
    StaleReads { service: String },
    /// User sessions lost with the instances that held them.
    SessionsLost { service: String },
    /// A cache's hits out of its lookups.
    HitRatio { service: String },
    /// A broker's messages waiting or out at the end of the run.
    Backlog { service: String },
    /// A broker's messages dead-lettered.
    DeadLetters { service: String },
    /// A broker's messages processed again after they were acknowledged or redelivered.
    Duplicates { service: String },
    /// Writes acknowledged by a deposed primary in a split brain.
    DivergentWrites { service: String },
}

/// An assertion over the runs of a variant, with a stated statistical meaning. Thresholds are
/// `at_least`, `at_most`, or both (each is checked).
///
/// With `in_runs: p`, the condition must hold in at least a fraction `p` of the runs. Without it,
/// it must hold for the mean across runs at 95% confidence: the whole 95% interval of the mean
/// lies on the right side of the threshold.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
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
    /// `WithinSlo(service: "users:shop", at_least: 0.999)`: answered successfully within the
    /// SLO's latency, out of all answered (and those in flight at the end already too late).
    WithinSlo {
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
    /// `Latency(service: "checkout", percentile: P99, at_most: "400ms", in_runs: 0.95)`: of
    /// successful answers; `of: All` for every answer, failures at the time they were given.
    Latency {
        service: String,
        #[serde(default)]
        variant: Option<String>,
        percentile: Percentile,
        #[serde(default)]
        of: Of,
        #[serde(default)]
        at_least: Option<Dur>,
        #[serde(default)]
        at_most: Option<Dur>,
        #[serde(default)]
        in_runs: Option<f64>,
    },
    /// `Wait(service: "db", percentile: Mean, at_most: "2ms")`: time requests waited for a
    /// worker (zero waits included); `P50`, `P95`, `P99` or `Mean`.
    Wait {
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
    /// `WaitProbability(service: "db", at_least: 0.40, at_most: 0.42)`: share of requests that
    /// waited for a worker (Erlang C for M/M/c).
    WaitProbability {
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
    /// `InSystem(service: "db", at_most: 4.2)`: requests in the service, waiting or served,
    /// time-averaged (L of Little's law).
    InSystem {
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
    /// `InstancesUp(service: "db", count: 2, at_least: 0.999)`: share of the measured window
    /// with at least `count` instances up (a count above the service's instances means all).
    InstancesUp {
        service: String,
        count: u32,
        #[serde(default)]
        variant: Option<String>,
        #[serde(default)]
        at_least: Option<f64>,
        #[serde(default)]
        at_most: Option<f64>,
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
    /// `RedundancyLost(service: "vol1", at_most: "5m")`: time a datastore had a copy lacking
    /// its data, from its loss until its rebuild ended (summed over the run).
    RedundancyLost {
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
    /// `StaleReads(service: "orders-db", at_most: 100)`: reads answered by a replica that had
    /// not yet applied the last acknowledged write (per run).
    StaleReads {
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
    /// `HitRatio(service: "cache", at_least: 0.9)`: a cache's hits out of its lookups (a
    /// service with a `cache`).
    HitRatio {
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
    /// `Backlog(service: "...", at_most: 0)`: a broker's messages waiting or out at the end of the run (per run).
    Backlog {
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
    /// `DeadLetters(service: "...", at_most: 0)`: a broker's messages dead-lettered (per run).
    DeadLetters {
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
    /// `Duplicates(service: "...", at_most: 0)`: a broker's messages processed again after they were acknowledged or redelivered (per run).
    Duplicates {
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
    /// `DivergentWrites(service: "...", at_most: 0)`: writes acknowledged by a deposed primary in a split brain (per run).
    DivergentWrites {
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
    /// fault (its `name`, or its label as reports and `faultline validate` show it; a prefix is
    /// enough, and one that starts no fault's is refused when the scenario loads) was detected — by an alert, a
    /// health verdict, an ejection or a failover — within `within` of its start, in at least
    /// `in_runs` of the runs (default: all). Rollouts are faults named `deploy <service>`, or their `name`.
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
