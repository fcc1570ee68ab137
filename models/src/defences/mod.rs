//! The defences, each a part with its policy (compiled from the scenario), its state machine and
//! its unit tests: per call edge on the caller's side ([`retry`] with [`budget`], [`breaker`],
//! [`bulkhead`], [`throttle`], [`hedge`]) and per service on the server's side ([`rate_limit`],
//! [`concurrency`]). Each state machine is plain data driven by explicit times and random draws,
//! so it is tested alone; the simulation composes them (`sim::calls::chain` on the caller's side,
//! `sim::admission` on the server's).

use crate::spec::{BulkheadSpec, Fallback, Step, ThrottleSpec};

pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod concurrency;
pub mod hedge;
pub mod rate_limit;
pub mod retry;
pub mod throttle;

pub use breaker::{Breaker, BreakerPolicy, BreakerState, Phase as BreakerPhase};
pub use budget::{Budget, BudgetPolicy};
pub use bulkhead::{Bulkhead, BulkheadPolicy, Take};
pub use concurrency::AimdLimit;
pub use hedge::{HedgePolicy, Observed};
pub use rate_limit::Bucket;
pub use retry::RetryPolicy;
pub use throttle::Throttle;

/// Everything a caller does around one call edge.
#[derive(Clone, Debug)]
pub struct CallPolicy {
    /// Share of requests that make the call.
    pub probability: f64,
    pub timeout_ns: Option<u64>,
    pub retry: Option<RetryPolicy>,
    pub breaker: Option<BreakerPolicy>,
    pub bulkhead: Option<BulkheadPolicy>,
    /// The label of a degraded answer, when the call has a fallback.
    pub fallback: Option<String>,
    /// Hedging: (fixed or initial delay in ns, percentile of observed latency, extra attempts).
    pub hedge: Option<HedgePolicy>,
    pub throttle: Option<ThrottleSpec>,
    /// Time the caller's connection pool takes to reconnect to a callee instance that restarted
    /// (its pooled connections broke); attempts to it fail at once meanwhile. 0: at once.
    pub reconnect_ns: u64,
}

impl CallPolicy {
    /// Compiles the defences of a call; returns the problems found (field, message).
    pub fn new(call: &Step) -> Result<CallPolicy, Vec<(&'static str, String)>> {
        let Step::Call {
            probability,
            timeout,
            retry,
            breaker,
            bulkhead,
            fallback,
            hedge,
            throttle,
            reconnect_after,
            ..
        } = call
        else {
            return Ok(CallPolicy::default());
        };
        let (probability, timeout, retry, breaker, bulkhead, fallback) = (
            *probability,
            *timeout,
            retry.as_ref(),
            breaker.as_ref(),
            bulkhead.as_ref(),
            fallback.as_ref(),
        );
        let mut problems = Vec::new();
        let hedge = hedge.as_ref().map(|h| {
            if h.after.is_some_and(|a| a.0.is_zero()) || h.max == 0 || h.max > 3 {
                problems.push((
                    "hedge",
                    "a hedge needs `after` above zero and `max` from 1 to 3".to_string(),
                ));
            }
            if h.after.is_none() && h.percentile.is_none() {
                problems.push((
                    "hedge",
                    "a hedge needs `after`, `percentile`, or both".to_string(),
                ));
            }
            if h.percentile.is_some_and(|p| !(p > 0.0 && p < 100.0)) {
                problems.push((
                    "hedge.percentile",
                    "the percentile lies between 0 and 100 (e.g. `95.0`)".to_string(),
                ));
            }
            HedgePolicy {
                after_ns: h.after.map(|a| a.0.as_ns()),
                percentile: h.percentile,
                max: h.max,
            }
        });
        match throttle {
            Some(ThrottleSpec::GrpcRetry {
                max_tokens,
                token_ratio,
            }) if *max_tokens == 0 || !(*token_ratio > 0.0 && *token_ratio <= 1.0) => {
                problems.push(("throttle", "gRPC retry throttling needs `max_tokens` of at least 1 and `token_ratio` above 0 and at most 1".to_string()));
            }
            Some(ThrottleSpec::Adaptive { k, window })
                if !(*k >= 1.0 && k.is_finite()) || window.0.as_ns() < 1_000_000_000 =>
            {
                problems.push((
                    "throttle",
                    "adaptive throttling needs `k` of at least 1 and a `window` of at least 1s"
                        .to_string(),
                ));
            }
            _ => {}
        }
        let throttle = throttle.clone();
        if !(0.0..=1.0).contains(&probability) {
            problems.push((
                "probability",
                format!("`probability` is a fraction between 0 and 1, not `{probability}`"),
            ));
        }
        let timeout_ns = timeout.map(|d| d.0.as_ns());
        if timeout_ns == Some(0) {
            problems.push(("timeout", "a timeout must be longer than zero".to_string()));
        }
        let retry = retry.map(|r| RetryPolicy::new(r, &mut problems));
        let breaker = breaker.map(|b| BreakerPolicy::new(b, &mut problems));
        let bulkhead = bulkhead.map(|b| match b {
            BulkheadSpec::Pool { workers, queue } => {
                if *workers == 0 {
                    problems.push((
                        "bulkhead",
                        "a pool bulkhead needs at least 1 worker".to_string(),
                    ));
                }
                BulkheadPolicy {
                    max_concurrent: *workers,
                    max_wait_ns: if *queue > 0 { u64::MAX } else { 0 },
                    queue_cap: *queue,
                }
            }
            BulkheadSpec::Semaphore {
                max_concurrent,
                max_wait,
            } => {
                if *max_concurrent == 0 {
                    problems.push((
                        "bulkhead",
                        "a bulkhead needs `max_concurrent` of at least 1".to_string(),
                    ));
                }
                BulkheadPolicy {
                    max_concurrent: *max_concurrent,
                    max_wait_ns: max_wait.0.as_ns(),
                    queue_cap: u32::MAX,
                }
            }
        });
        let fallback = fallback.map(|Fallback::Degrade(label)| label.clone());
        if problems.is_empty() {
            Ok(CallPolicy {
                probability,
                timeout_ns,
                retry,
                breaker,
                bulkhead,
                fallback,
                hedge,
                throttle,
                reconnect_ns: reconnect_after.map_or(0, |d| d.0.as_ns()),
            })
        } else {
            Err(problems)
        }
    }
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            probability: 1.0,
            timeout_ns: None,
            retry: None,
            breaker: None,
            bulkhead: None,
            fallback: None,
            hedge: None,
            throttle: None,
            reconnect_ns: 0,
        }
    }
}

/// Which outcome of an attempt ended it, from the caller's point of view.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AttemptFailure {
    Timeout,
    Error,
    Rejected,
    RateLimited,
    BreakerOpen,
    BulkheadFull,
    Throttled,
}

impl AttemptFailure {
    pub(crate) fn bit(self) -> u8 {
        match self {
            AttemptFailure::Timeout => 1,
            AttemptFailure::Error => 2,
            AttemptFailure::Rejected => 4,
            AttemptFailure::BreakerOpen => 8,
            AttemptFailure::BulkheadFull => 16,
            AttemptFailure::RateLimited => 32,
            AttemptFailure::Throttled => 64,
        }
    }
}

#[cfg(test)]
pub(crate) fn dur(s: &str) -> crate::spec::Dur {
    crate::spec::Dur(sim_core::SimDuration::parse(s).unwrap())
}
