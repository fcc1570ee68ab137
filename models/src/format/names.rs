//! Other libraries' names for the format's fields. Where a library's name means exactly what our
//! field means (same unit, same count), the field accepts it as a serde alias (`#[serde(alias)]`
//! in `spec/`, listed again in [`ALIASES`] so that the reader finds an aliased field by either
//! name: error positions, variant patches and grid paths). Where it means something else (a
//! percentage where we take a fraction, retries where we count attempts), the name is refused and
//! the error says what to write instead ([`FALSE_FRIENDS`]).
//!
//! The `reference` test keeps [`ALIASES`] and the `alias` attributes of `spec/` the same.

/// (library's name, our field, library), one per `#[serde(alias)]` in `spec/`.
pub const ALIASES: &[(&str, &str, &str)] = &[
    ("minimum_number_of_calls", "min_calls", "resilience4j"),
    (
        "slow_call_duration_threshold",
        "slow_call_duration",
        "resilience4j",
    ),
    ("wait_duration_in_open_state", "open_for", "resilience4j"),
    (
        "permitted_number_of_calls_in_half_open_state",
        "half_open_calls",
        "resilience4j",
    ),
    ("max_attempts", "attempts", "resilience4j, gRPC"),
    ("percent_can_retry", "ratio", "Finagle"),
    ("min_retries_per_sec", "min_per_s", "Finagle"),
    ("ttl", "window", "Finagle"),
    ("max_concurrent_calls", "max_concurrent", "resilience4j"),
    ("max_wait_duration", "max_wait", "resilience4j"),
    ("max_thread_pool_size", "workers", "resilience4j"),
    ("queue_capacity", "queue", "resilience4j"),
    ("hedging_delay", "after", "gRPC"),
    ("unhealthy_threshold", "unhealthy_after", "Envoy"),
    ("healthy_threshold", "healthy_after", "Envoy"),
    ("slow_start_window", "over", "Envoy"),
    ("initial_limit", "initial", "Netflix concurrency-limits"),
    ("min_limit", "min", "Netflix concurrency-limits"),
    ("max_limit", "max", "Netflix concurrency-limits"),
    ("backoff_ratio", "decrease", "Netflix concurrency-limits"),
    ("min_replicas", "min", "Kubernetes"),
    ("readiness", "health", "Kubernetes"),
    ("period", "interval", "Kubernetes"),
    ("max_replicas", "max", "Kubernetes"),
];

/// (type, library's name, what to write here): names that a library uses for something this
/// format says otherwise. Refused as unknown fields, with this advice.
pub const FALSE_FRIENDS: &[(&str, &str, &str)] = &[
    (
        "BreakerSpec",
        "failure_rate_threshold",
        "resilience4j's `failureRateThreshold` is a percentage; here it is `failure_rate`, a fraction (50 is `failure_rate: 0.5`)",
    ),
    (
        "BreakerSpec",
        "slow_call_rate_threshold",
        "resilience4j's `slowCallRateThreshold` is a percentage; here it is `slow_call_rate`, a fraction (100 is `slow_call_rate: 1.0`)",
    ),
    (
        "BreakerSpec",
        "sliding_window_size",
        "resilience4j's sliding window is one field here: `window: Count(100)` (`COUNT_BASED`) or `window: Time(\"10s\")` (`TIME_BASED`)",
    ),
    (
        "BreakerSpec",
        "sliding_window_type",
        "resilience4j's sliding window is one field here: `window: Count(100)` (`COUNT_BASED`) or `window: Time(\"10s\")` (`TIME_BASED`)",
    ),
    (
        "BreakerSpec",
        "max_requests",
        "Envoy's circuit breaking limits requests in flight: that is a `bulkhead` here (`bulkhead: Semaphore(max_concurrent: 100)`)",
    ),
    (
        "BreakerSpec",
        "max_pending_requests",
        "Envoy's circuit breaking limits requests in flight: that is a `bulkhead` here (`bulkhead: Pool(workers: 100, queue: 50)`)",
    ),
    (
        "RetrySpec",
        "num_retries",
        "Envoy's `num_retries` counts retries only; here `attempts` counts the first try too (`num_retries: 2` is `attempts: 3`)",
    ),
    (
        "RetrySpec",
        "retry_on",
        "Envoy's `retry_on` conditions are `on` here: `on: [Timeout, Error, Rejected, RateLimited]`",
    ),
    (
        "RetrySpec",
        "wait_duration",
        "resilience4j's fixed `waitDuration` is `backoff: Constant(\"500ms\")` here, with `jitter: None`",
    ),
    (
        "HedgeSpec",
        "max_attempts",
        "gRPC's hedging `maxAttempts` counts the first attempt; here `max` counts the extra ones (`max_attempts: 2` is `max: 1`)",
    ),
];

/// Our field for `name`: itself, or the field it is an alias of.
pub fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _, _)| *alias == name)
        .map_or(name, |(_, field, _)| field)
}

/// The advice for a library's name that this format refuses in type `outer`.
pub fn false_friend(outer: &str, name: &str) -> Option<&'static str> {
    FALSE_FRIENDS
        .iter()
        .find(|(ty, n, _)| *ty == outer && *n == name)
        .map(|(_, _, advice)| *advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_unique_and_never_a_field_of_their_own() {
        for (i, (alias, field, _)) in ALIASES.iter().enumerate() {
            assert_ne!(alias, field);
            assert!(
                ALIASES[i + 1..].iter().all(|(a, _, _)| a != alias),
                "{alias}"
            );
            assert!(ALIASES.iter().all(|(_, f, _)| f != alias), "{alias}");
        }
        assert_eq!(canonical("minimum_number_of_calls"), "min_calls");
        assert_eq!(canonical("min_calls"), "min_calls");
    }

    #[test]
    fn a_scenario_in_the_libraries_names_is_the_same_scenario() {
        let text = |names: [&str; 4]| {
            format!(
                r#"Scenario(name: "x", horizon: "1m",
                services: [(name: "a", work: Constant("1ms"), calls: [Call(to: "b",
                    breaker: ({}: 10, {}: "5s"),
                    bulkhead: Semaphore({}: 4))]),
                  (name: "b", work: Constant("1ms"), health: (interval: "1s", {}: 2))],
                workload: [(entry: "a", arrivals: Poisson(rate_per_s: 1))])"#,
                names[0], names[1], names[2], names[3]
            )
        };
        let ours = ["min_calls", "open_for", "max_concurrent", "unhealthy_after"];
        let theirs = [
            "minimum_number_of_calls",
            "wait_duration_in_open_state",
            "max_concurrent_calls",
            "unhealthy_threshold",
        ];
        let read = |names| format!("{:?}", crate::format::parse("x.ron", &text(names)).unwrap());
        assert_eq!(read(ours), read(theirs));
    }
}
