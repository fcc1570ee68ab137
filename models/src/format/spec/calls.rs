//! Calls and the caller's defences on them: steps, timeouts, retries and backoff, budgets,
//! breakers, bulkheads, hedging, throttling, fallbacks, and the balancer.

use super::*;

/// One step of a service's call sequence.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
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
        /// The criticality of this call's requests, where it differs from the request that
        /// makes it (a prefetch made while serving a critical page: `Sheddable`).
        #[serde(default)]
        criticality: Option<Criticality>,
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
        /// A fan-out: the call is made to this many shards of the callee at once, as if a
        /// `Parallel` step held this many copies of it (each its own edge, with its own
        /// defences' state and results); the step ends when all have answered. `fan_out: 100`
        /// for a search over 100 leaves. Default 1.
        #[serde(default = "one")]
        fan_out: u32,
        /// The keys this call asks for, drawn per call from the edge's own stream (a page that
        /// looks up one product of a catalog). Default: the key of the request that makes it.
        #[serde(default)]
        keys: Option<Keys>,
        /// Size of each attempt's request on the network (and of a write on a datastore's
        /// disk): `request_bytes: Constant("4KiB")`. Drawn from the edge's own stream. Default:
        /// none (the message takes its latency only).
        #[serde(default)]
        request_bytes: Option<SizeSpec>,
        /// Size of each answer on the network (and of a read on a datastore's disk). Default:
        /// none.
        #[serde(default)]
        response_bytes: Option<SizeSpec>,
    },
    /// Calls made at once; the step ends when all have answered. Holds `Call`s only.
    Parallel(Vec<Step>),
}

/// What a call asks of a datastore or a broker.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Op {
    #[default]
    Read,
    Write,
    /// Put a message on a broker's queue (a service with `broker`): the call is answered when
    /// the broker has stored it; its consumers process it later.
    Publish,
    /// A conditional write to a datastore's row (optimistic concurrency, compare-and-set): it
    /// reads the version of its key's row when a worker takes it, and writes only if no other
    /// conditional write to that row committed meanwhile; otherwise it fails with a conflict
    /// (an `Error`, which a `retry` retries). Rows are the keys the call carries (`keys` on the
    /// workload or the call); without a key it is a plain write.
    CompareAndSet,
}

/// Hedging ("The Tail at Scale"): if the call has not answered after a delay — fixed (`after`),
/// or a percentile of its observed latency (`percentile`) — send another attempt (up to `max`
/// extra ones); the first good answer wins, the others are abandoned.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HedgeSpec {
    /// A fixed delay; with `percentile`, the delay used until enough answers have been seen.
    #[serde(default)]
    #[serde(alias = "hedging_delay")]
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum ThrottleSpec {
    /// gRPC `retryThrottling`, as grpc-java applies it: tokens start at `max_tokens` (1 to
    /// 1000); an attempt that fails with a failure the `retry` policy retries takes one, and the
    /// retry is refused at that moment (not after the backoff) if half the tokens or fewer are
    /// left; a good answer gives back `token_ratio` (counted in thousandths). A hedge is
    /// scheduled only while more than half are left. First attempts are never throttled.
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

pub(super) fn two_min() -> Dur {
    Dur(SimDuration::from_mins(2))
}

/// What a failed call turns into.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
pub enum Fallback {
    /// Answer degraded, e.g. `Degrade("popular items")`: the request succeeds, counted as degraded.
    Degrade(String),
}

/// Retries, with the parameters of resilience4j `Retry`, Envoy retry policies and Finagle retry
/// budgets.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Attempts in all, the first included (resilience4j `maxAttempts`). Default 3.
    #[serde(default = "three")]
    #[serde(alias = "max_attempts")]
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
    /// A cap on retries: Finagle's (relative to calls) or Envoy's (retries in progress).
    #[serde(default)]
    pub budget: Option<RetryBudget>,
    /// Wait at least the Retry-After of a 429 answer before retrying. Default true.
    #[serde(default = "yes")]
    pub honor_retry_after: bool,
}

pub(super) fn yes() -> bool {
    true
}

pub(super) fn three() -> u32 {
    3
}
pub(super) fn default_retry_on() -> Vec<RetryOn> {
    vec![
        RetryOn::Timeout,
        RetryOn::Error,
        RetryOn::Rejected,
        RetryOn::RateLimited,
    ]
}
pub(super) fn default_backoff() -> Backoff {
    Backoff::Exponential {
        base: Dur(SimDuration::from_ms(25)),
        cap: Dur(SimDuration::from_secs(1)),
        multiplier: 2.0,
    }
}
pub(super) fn default_jitter() -> Jitter {
    Jitter::Full
}

/// An outcome of an attempt, for choosing what to retry.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
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

pub(super) fn two() -> f64 {
    2.0
}

/// Randomization of a backoff wait `d` (AWS architecture blog, "Exponential Backoff and Jitter").
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// `d/2` plus uniform in `[0, d/2]`.
    Equal,
}

/// A cap on retries, in one of two forms, told apart by their fields:
///
/// - Finagle `RetryBudget` (`ratio`, `min_per_s`, `window`): retries allowed in a sliding window
///   of `window` are at most `ratio` times the calls in it plus `min_per_s` per second of the
///   window; shared by all instances of the caller; a hedge takes from it as a retry does
///   (Finagle bounds backup requests with a `RetryBudget`). `budget: (ratio: 0.1)`.
/// - Envoy `retry_budget` (`budget_percent`, `min_retry_concurrency`): a limit on retries *in
///   progress*: a retry starts only while the retries active (from the failure that decides them
///   until their own outcome) are fewer than `max(min_retry_concurrency, budget_percent% of the
///   attempts in flight)`; per caller instance (one Envoy each).
///   `budget: (budget_percent: 20.0, min_retry_concurrency: 3)`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    /// Finagle `percentCanRetry` as a fraction, e.g. `0.1`.
    #[serde(default)]
    #[serde(alias = "percent_can_retry")]
    pub ratio: Option<f64>,
    /// Finagle `minRetriesPerSec`. Default 10.
    #[serde(default)]
    #[serde(alias = "min_retries_per_sec")]
    pub min_per_s: Option<f64>,
    /// Finagle `ttl`. Default `"10s"`.
    #[serde(default)]
    #[serde(alias = "ttl")]
    pub window: Option<Dur>,
    /// Envoy `budget_percent`, a percentage of the attempts in flight, e.g. `20.0`. Default 20
    /// when `min_retry_concurrency` is given alone.
    #[serde(default)]
    pub budget_percent: Option<f64>,
    /// Envoy `min_retry_concurrency`: retries that may be in progress whatever the share.
    /// Default 3 when `budget_percent` is given alone.
    #[serde(default)]
    pub min_retry_concurrency: Option<u32>,
}

pub(super) fn ten_s() -> Dur {
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// `Count(100)`: the last 100 calls (`COUNT_BASED`); `Time("10s")`: the calls of the last 10
    /// seconds, in one-second buckets (`TIME_BASED`). Default `Count(100)`.
    #[serde(default = "default_window")]
    pub window: Window,
    /// `minimumNumberOfCalls`. Default 100.
    #[serde(default = "hundred")]
    #[serde(alias = "minimum_number_of_calls")]
    pub min_calls: u32,
    /// `failureRateThreshold` as a fraction. Default 0.5.
    #[serde(default = "half")]
    pub failure_rate: f64,
    /// `slowCallRateThreshold` as a fraction. Default 1.0 (only when every call is slow).
    #[serde(default = "one_f")]
    pub slow_call_rate: f64,
    /// `slowCallDurationThreshold`. Default `"60s"`.
    #[serde(default = "sixty_s")]
    #[serde(alias = "slow_call_duration_threshold")]
    pub slow_call_duration: Dur,
    /// `waitDurationInOpenState`. Default `"60s"`.
    #[serde(default = "sixty_s")]
    #[serde(alias = "wait_duration_in_open_state")]
    pub open_for: Dur,
    /// `permittedNumberOfCallsInHalfOpenState`. Default 10.
    #[serde(default = "ten_u")]
    #[serde(alias = "permitted_number_of_calls_in_half_open_state")]
    pub half_open_calls: u32,
    /// One breaker per caller instance (`false`, the default, as each process of a service keeps
    /// its own), or one shared by all instances of the caller.
    #[serde(default)]
    pub shared: bool,
}

pub(super) fn default_window() -> Window {
    Window::Count(100)
}
pub(super) fn hundred() -> u32 {
    100
}
pub(super) fn half() -> f64 {
    0.5
}
pub(super) fn one_f() -> f64 {
    1.0
}
pub(super) fn sixty_s() -> Dur {
    Dur(SimDuration::from_secs(60))
}
pub(super) fn ten_u() -> u32 {
    10
}

/// The sliding window of a circuit breaker.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
pub enum Window {
    Count(u32),
    Time(Dur),
}

/// A bulkhead per caller instance and dependency.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum BulkheadSpec {
    /// resilience4j `SemaphoreBulkhead`: at most `max_concurrent` calls in flight; a call that
    /// finds none free waits up to `max_wait` (`maxWaitDuration`, default 0: refused at once).
    Semaphore {
        #[serde(alias = "max_concurrent_calls")]
        max_concurrent: u32,
        #[serde(default)]
        #[serde(alias = "max_wait_duration")]
        max_wait: Dur,
    },
    /// resilience4j `ThreadPoolBulkhead`: calls to the dependency run on their own `workers`
    /// (`maxThreadPoolSize`); when all are busy a call waits in a queue of `queue` places
    /// (`queueCapacity`), and is refused when that is full too.
    Pool {
        #[serde(alias = "max_thread_pool_size")]
        workers: u32,
        #[serde(alias = "queue_capacity")]
        queue: u32,
    },
}

/// Load-balancing policy used by callers of a service.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
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
    /// By the request's key (jump consistent hashing over the service's instances), as a
    /// memcached or Redis client shards keys: each key has a home instance, so its cache holds
    /// it; while the home instance is out of rotation the key goes to the next instance of its
    /// hash sequence. Requests without a key are spread at random.
    KeyHash,
}
