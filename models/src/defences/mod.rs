//! The defences, each a part with its policy (compiled from the scenario), its state machine and
//! its unit tests: per call edge on the caller's side ([`retry`] with [`budget`] and
//! [`concurrent_budget`], [`breaker`],
//! [`bulkhead`], [`throttle`], [`hedge`]) and per service on the server's side ([`rate_limit`],
//! [`concurrency`]). Each state machine is plain data driven by explicit times and random draws,
//! so it is tested alone; the simulation composes them (`sim::calls::chain` on the caller's side,
//! `sim::admission` on the server's).

use crate::spec::{BulkheadSpec, Fallback, HedgeSpec, Step, ThrottleSpec};

pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod concurrency;
pub mod concurrent_budget;
pub mod hedge;
pub mod rate_limit;
pub mod retry;
pub mod throttle;

pub use breaker::{Breaker, BreakerPolicy, BreakerState, Phase as BreakerPhase};
pub use budget::{Budget, BudgetPolicy};
pub use bulkhead::{Bulkhead, BulkheadPolicy, Take};
pub use concurrency::AimdLimit;
pub use concurrent_budget::{ConcurrentBudget, ConcurrentBudgetPolicy};
pub use hedge::{HedgePolicy, Observed};
pub use rate_limit::Bucket;
pub use retry::RetryPolicy;
pub use throttle::Throttle;

/// Everything a caller does around one call edge. Its defences are boxed: every call asks
/// which it has, and this way the answers are in a few bytes side by side (`CallDef`).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct CallPolicy {
    /// Share of requests that make the call.
    pub probability: f64,
    pub timeout_ns: Option<u64>,
    /// Time the caller's connection pool takes to reconnect to a callee instance that restarted
    /// (its pooled connections broke); attempts to it fail at once meanwhile. 0: at once.
    pub reconnect_ns: u64,
    pub retry: Option<Box<RetryPolicy>>,
    pub breaker: Option<Box<BreakerPolicy>>,
    pub bulkhead: Option<Box<BulkheadPolicy>>,
    /// Hedging: (fixed or initial delay in ns, percentile of observed latency, extra attempts).
    pub hedge: Option<Box<HedgePolicy>>,
    pub throttle: Option<Box<ThrottleSpec>>,
    /// The label of a degraded answer, when the call has a fallback.
    pub fallback: Option<String>,
}

/// Problems found while compiling: (field, message), in the order the user reads them.
type Problems = Vec<(&'static str, String)>;

impl CallPolicy {
    /// Compiles the defences of a call; returns the problems found (field, message), each
    /// defence's in turn: hedge, throttle, probability, timeout, retry, breaker, bulkhead.
    pub fn new(call: &Step) -> Result<CallPolicy, Problems> {
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
        let mut problems = Vec::new();
        let hedge = hedge.as_ref().map(|h| hedge_policy(h, &mut problems));
        check_throttle(throttle.as_ref(), &mut problems);
        let timeout_ns = timeout.map(|d| d.0.as_ns());
        check_share_and_timeout(*probability, timeout_ns, &mut problems);
        let retry = retry.as_ref().map(|r| RetryPolicy::new(r, &mut problems));
        let breaker = breaker
            .as_ref()
            .map(|b| BreakerPolicy::new(b, &mut problems));
        let bulkhead = bulkhead.as_ref().map(|b| bulkhead_policy(b, &mut problems));
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CallPolicy {
            probability: *probability,
            timeout_ns,
            retry: retry.map(Box::new),
            breaker: breaker.map(Box::new),
            bulkhead: bulkhead.map(Box::new),
            fallback: fallback
                .as_ref()
                .map(|Fallback::Degrade(label)| label.clone()),
            hedge: hedge.map(Box::new),
            throttle: throttle.clone().map(Box::new),
            reconnect_ns: reconnect_after.map_or(0, |d| d.0.as_ns()),
        })
    }
}

/// A hedge's delay (fixed, a percentile, or both) and its number of extra attempts (1 to 3).
fn hedge_policy(h: &HedgeSpec, problems: &mut Problems) -> HedgePolicy {
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
}

/// A throttle's parameters: gRPC tokens and their ratio, or the adaptive `k` and window. The
/// throttle keeps its spec as its policy.
fn check_throttle(throttle: Option<&ThrottleSpec>, problems: &mut Problems) {
    match throttle {
        Some(ThrottleSpec::GrpcRetry {
            max_tokens,
            token_ratio,
        }) if !((1..=1000).contains(max_tokens) && (0.001..=1.0).contains(token_ratio)) => {
            problems.push(("throttle", "gRPC retry throttling needs `max_tokens` from 1 to 1000 and `token_ratio` from 0.001 to 1 (counted in thousandths)".to_string()));
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
}

/// The call's own settings: the share of requests that make it, and its timeout.
fn check_share_and_timeout(probability: f64, timeout_ns: Option<u64>, problems: &mut Problems) {
    if !(0.0..=1.0).contains(&probability) {
        problems.push((
            "probability",
            format!("`probability` is a fraction between 0 and 1, not `{probability}`"),
        ));
    }
    if timeout_ns == Some(0) {
        problems.push(("timeout", "a timeout must be longer than zero".to_string()));
    }
}

/// A bulkhead of either kind as permits, a wait and a queue: a pool's calls wait as long as it
/// takes (if it has a queue), a semaphore's up to `max_wait` with no cap on how many.
fn bulkhead_policy(b: &BulkheadSpec, problems: &mut Problems) -> BulkheadPolicy {
    match b {
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

#[cfg(test)]
mod tests {
    //! What `CallPolicy::new` makes of a call's defences: the policy of a valid call, and every
    //! problem of a broken one, in the order the user reads them.

    use super::*;
    use crate::spec::{
        Backoff, BreakerSpec, HedgeSpec, Jitter, Op, RetryBudget, RetrySpec, Window,
    };

    /// The defences of a test call; a valid call without any by default.
    struct Call {
        probability: f64,
        timeout: Option<&'static str>,
        retry: Option<RetrySpec>,
        breaker: Option<BreakerSpec>,
        bulkhead: Option<BulkheadSpec>,
        fallback: Option<&'static str>,
        hedge: Option<HedgeSpec>,
        throttle: Option<ThrottleSpec>,
        reconnect_after: Option<&'static str>,
    }

    impl Default for Call {
        fn default() -> Self {
            Call {
                probability: 1.0,
                timeout: None,
                retry: None,
                breaker: None,
                bulkhead: None,
                fallback: None,
                hedge: None,
                throttle: None,
                reconnect_after: None,
            }
        }
    }

    fn compile(c: Call) -> Result<CallPolicy, Vec<(&'static str, String)>> {
        CallPolicy::new(&Step::Call {
            to: "db".into(),
            pool: None,
            probability: c.probability,
            timeout: c.timeout.map(dur),
            retry: c.retry,
            breaker: c.breaker,
            bulkhead: c.bulkhead,
            fallback: c.fallback.map(|l| Fallback::Degrade(l.into())),
            hedge: c.hedge,
            throttle: c.throttle,
            op: Op::Read,
            reconnect_after: c.reconnect_after.map(dur),
            fan_out: 1,
            keys: None,
            criticality: None,
            request_bytes: None,
            response_bytes: None,
        })
    }

    /// The problems `CallPolicy::new` reports for `c`, in order, against `expected`.
    fn check(c: Call, expected: &[(&str, &str)]) {
        let problems = compile(c).expect_err("a broken call");
        let problems: Vec<(&str, &str)> = problems.iter().map(|(f, m)| (*f, m.as_str())).collect();
        assert_eq!(problems, expected);
    }

    fn retry(attempts: u32, backoff: Backoff, budget: Option<RetryBudget>) -> RetrySpec {
        RetrySpec {
            attempts,
            on: vec![crate::spec::RetryOn::Timeout],
            backoff,
            jitter: Jitter::None,
            budget,
            honor_retry_after: true,
        }
    }

    fn breaker(failure_rate: f64, window: Window) -> BreakerSpec {
        BreakerSpec {
            window,
            min_calls: 1,
            failure_rate,
            slow_call_rate: 1.0,
            slow_call_duration: dur("1s"),
            open_for: dur("1s"),
            half_open_calls: 1,
            shared: false,
        }
    }

    /// A valid call compiles to its policy: durations in ns, a pool bulkhead as a bulkhead
    /// whose calls wait without a time limit (or not at all without a queue), a semaphore
    /// bulkhead as one whose queue has no cap.
    #[test]
    fn a_valid_call_compiles_to_its_policy() {
        let p = compile(Call {
            probability: 0.25,
            timeout: Some("50ms"),
            bulkhead: Some(BulkheadSpec::Pool {
                workers: 4,
                queue: 2,
            }),
            fallback: Some("cached"),
            hedge: Some(HedgeSpec {
                after: Some(dur("20ms")),
                percentile: Some(95.0),
                max: 2,
            }),
            reconnect_after: Some("3s"),
            ..Call::default()
        })
        .expect("a valid call");
        assert_eq!(p.probability, 0.25);
        assert_eq!(p.timeout_ns, Some(50_000_000));
        let bh = p.bulkhead.expect("a bulkhead");
        let bh = (bh.max_concurrent, bh.max_wait_ns, bh.queue_cap);
        assert_eq!(bh, (4, u64::MAX, 2));
        assert_eq!(p.fallback.as_deref(), Some("cached"));
        let hedge = HedgePolicy {
            after_ns: Some(20_000_000),
            percentile: Some(95.0),
            max: 2,
        };
        assert_eq!(p.hedge.as_deref(), Some(&hedge));
        assert_eq!(p.reconnect_ns, 3_000_000_000);
        assert!(p.retry.is_none() && p.breaker.is_none() && p.throttle.is_none());
        let queueless = |bulkhead| {
            let p = compile(Call {
                bulkhead: Some(bulkhead),
                ..Call::default()
            });
            let bh = p.expect("a valid call").bulkhead.expect("a bulkhead");
            (bh.max_concurrent, bh.max_wait_ns, bh.queue_cap)
        };
        let pool = BulkheadSpec::Pool {
            workers: 1,
            queue: 0,
        };
        assert_eq!(queueless(pool), (1, 0, 0));
        let semaphore = BulkheadSpec::Semaphore {
            max_concurrent: 3,
            max_wait: dur("10ms"),
        };
        assert_eq!(queueless(semaphore), (3, 10_000_000, u32::MAX));
    }

    /// A step that is not a call has no defences.
    #[test]
    fn a_step_that_is_not_a_call_has_the_default_policy() {
        let p = CallPolicy::new(&Step::Parallel(Vec::new())).expect("no problems");
        assert_eq!(p.probability, 1.0);
        assert!(p.timeout_ns.is_none() && p.retry.is_none() && p.hedge.is_none());
    }

    /// Every problem of a call is reported, in the order of its defences: hedge, throttle,
    /// probability, timeout, retry (attempts, backoff, budget), breaker, bulkhead.
    #[test]
    fn every_problem_of_a_call_is_reported_in_order() {
        let exponential = Backoff::Exponential {
            base: dur("1s"),
            cap: dur("10ms"),
            multiplier: 0.5,
        };
        let budget = RetryBudget {
            ratio: Some(-1.0),
            min_per_s: Some(0.0),
            window: Some(dur("1500ms")),
            ..RetryBudget::default()
        };
        check(
            Call {
                probability: 1.5,
                timeout: Some("0"),
                retry: Some(retry(0, exponential, Some(budget))),
                breaker: Some(breaker(0.0, Window::Count(1))),
                bulkhead: Some(BulkheadSpec::Pool {
                    workers: 0,
                    queue: 1,
                }),
                hedge: Some(HedgeSpec {
                    after: Some(dur("0")),
                    percentile: Some(100.0),
                    max: 1,
                }),
                throttle: Some(ThrottleSpec::GrpcRetry {
                    max_tokens: 0,
                    token_ratio: 0.5,
                }),
                ..Call::default()
            },
            &[
                (
                    "hedge",
                    "a hedge needs `after` above zero and `max` from 1 to 3",
                ),
                (
                    "hedge.percentile",
                    "the percentile lies between 0 and 100 (e.g. `95.0`)",
                ),
                ("throttle", "gRPC retry throttling needs `max_tokens` from 1 to 1000 and `token_ratio` from 0.001 to 1 (counted in thousandths)"),
                (
                    "probability",
                    "`probability` is a fraction between 0 and 1, not `1.5`",
                ),
                ("timeout", "a timeout must be longer than zero"),
                (
                    "retry.attempts",
                    "`attempts` counts the first attempt too: it must be at least 1",
                ),
                (
                    "retry.backoff",
                    "the multiplier must be at least 1, not `0.5`",
                ),
                ("retry.backoff", "`cap` (10ms) is below `base` (1s)"),
                (
                    "retry.budget",
                    "`ratio` and `min_per_s` must be zero or more",
                ),
                (
                    "retry.budget.window",
                    "the budget window is counted in whole seconds",
                ),
                (
                    "breaker",
                    "`failure_rate` is a fraction above 0 and at most 1, not `0`",
                ),
                ("bulkhead", "a pool bulkhead needs at least 1 worker"),
            ],
        );
    }

    /// The other problems each defence can have, in the same order.
    #[test]
    fn the_other_problems_are_reported_in_order() {
        let decorrelated = Backoff::Decorrelated {
            base: dur("0"),
            cap: dur("1s"),
        };
        check(
            Call {
                retry: Some(retry(101, decorrelated, None)),
                bulkhead: Some(BulkheadSpec::Semaphore {
                    max_concurrent: 0,
                    max_wait: dur("0"),
                }),
                hedge: Some(HedgeSpec {
                    after: None,
                    percentile: None,
                    max: 4,
                }),
                throttle: Some(ThrottleSpec::Adaptive {
                    k: 0.5,
                    window: dur("999ms"),
                }),
                ..Call::default()
            },
            &[
                (
                    "hedge",
                    "a hedge needs `after` above zero and `max` from 1 to 3",
                ),
                ("hedge", "a hedge needs `after`, `percentile`, or both"),
                (
                    "throttle",
                    "adaptive throttling needs `k` of at least 1 and a `window` of at least 1s",
                ),
                (
                    "retry.attempts",
                    "101 attempts is more than the limit of 100",
                ),
                (
                    "retry.backoff",
                    "decorrelated backoff needs `base` above zero and `cap` at least `base`",
                ),
                (
                    "bulkhead",
                    "a bulkhead needs `max_concurrent` of at least 1",
                ),
            ],
        );
    }
}
