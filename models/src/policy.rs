//! The caller's defences, compiled from the spec, and their state machines: retry backoff, retry
//! budgets, circuit breakers and bulkheads. Each state machine is plain data driven by explicit
//! times and random draws, so it is tested here in isolation and the simulation only wires it.

use crate::spec::{
    Backoff, BreakerSpec, BulkheadSpec, Fallback, Jitter, RetryOn, RetrySpec, Step, ThrottleSpec,
    Window,
};
use rand::RngExt;
use sim_core::Stream;
use std::collections::VecDeque;

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
    pub hedge: Option<(Option<u64>, Option<f64>, u32)>,
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
            (h.after.map(|a| a.0.as_ns()), h.percentile, h.max)
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
    fn bit(self) -> u8 {
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

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    on: u8,
    backoff: Backoff,
    jitter: Jitter,
    pub budget: Option<BudgetPolicy>,
    pub honor_retry_after: bool,
}

impl RetryPolicy {
    /// Compiles retry settings; returns the problems found (field, message).
    pub fn compile(r: &RetrySpec) -> Result<RetryPolicy, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let p = RetryPolicy::new(r, &mut problems);
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }

    fn new(r: &RetrySpec, problems: &mut Vec<(&'static str, String)>) -> RetryPolicy {
        if r.attempts == 0 {
            problems.push((
                "retry.attempts",
                "`attempts` counts the first attempt too: it must be at least 1".into(),
            ));
        }
        if r.attempts > 100 {
            problems.push((
                "retry.attempts",
                format!("{} attempts is more than the limit of 100", r.attempts),
            ));
        }
        match &r.backoff {
            Backoff::Exponential {
                base,
                cap,
                multiplier,
            } => {
                if !(*multiplier >= 1.0 && multiplier.is_finite()) {
                    problems.push((
                        "retry.backoff",
                        format!("the multiplier must be at least 1, not `{multiplier}`"),
                    ));
                }
                if cap < base {
                    problems.push((
                        "retry.backoff",
                        format!("`cap` ({}) is below `base` ({})", cap.0, base.0),
                    ));
                }
            }
            Backoff::Decorrelated { base, cap } if cap < base || base.0.is_zero() => {
                problems.push((
                    "retry.backoff",
                    "decorrelated backoff needs `base` above zero and `cap` at least `base`".into(),
                ));
            }
            _ => {}
        }
        let budget = r.budget.as_ref().map(|b| {
            if !(b.ratio >= 0.0
                && b.ratio.is_finite()
                && b.min_per_s >= 0.0
                && b.min_per_s.is_finite())
            {
                problems.push((
                    "retry.budget",
                    "`ratio` and `min_per_s` must be zero or more".into(),
                ));
            }
            let window_s = (b.window.0.as_ns() / 1_000_000_000).max(1);
            if b.window.0.as_ns() % 1_000_000_000 != 0 {
                problems.push((
                    "retry.budget.window",
                    "the budget window is counted in whole seconds".into(),
                ));
            }
            BudgetPolicy {
                ratio: b.ratio,
                min_per_s: b.min_per_s,
                window_s,
            }
        });
        RetryPolicy {
            attempts: r.attempts,
            on: r
                .on
                .iter()
                .map(|o| {
                    match o {
                        RetryOn::Timeout => AttemptFailure::Timeout,
                        RetryOn::Error => AttemptFailure::Error,
                        RetryOn::Rejected => AttemptFailure::Rejected,
                        RetryOn::RateLimited => AttemptFailure::RateLimited,
                        RetryOn::BreakerOpen => AttemptFailure::BreakerOpen,
                        RetryOn::BulkheadFull => AttemptFailure::BulkheadFull,
                        RetryOn::Throttled => AttemptFailure::Throttled,
                    }
                    .bit()
                })
                .fold(0, |a, b| a | b),
            backoff: r.backoff.clone(),
            jitter: r.jitter,
            budget,
            honor_retry_after: r.honor_retry_after,
        }
    }

    pub fn retries(&self, failure: AttemptFailure) -> bool {
        self.on & failure.bit() != 0
    }

    /// The wait before retry number `retry` (1 for the first retry); `previous_ns` is the wait
    /// before the previous retry (for decorrelated jitter).
    pub fn delay_ns(&self, retry: u32, previous_ns: u64, rng: &mut Stream) -> u64 {
        let d = match &self.backoff {
            Backoff::Constant(d) => d.0.as_ns() as f64,
            Backoff::Exponential {
                base,
                cap,
                multiplier,
            } => {
                let exp = multiplier.powi(retry.saturating_sub(1).min(1000) as i32);
                (base.0.as_ns() as f64 * exp).min(cap.0.as_ns() as f64)
            }
            Backoff::Decorrelated { base, cap } => {
                let (base, cap) = (base.0.as_ns() as f64, cap.0.as_ns() as f64);
                let high = (previous_ns as f64 * 3.0).max(base);
                return (base + (high - base) * rng.random::<f64>())
                    .min(cap)
                    .round() as u64;
            }
        };
        let d = match self.jitter {
            Jitter::None => d,
            Jitter::Full => d * rng.random::<f64>(),
            Jitter::Equal => d / 2.0 + d / 2.0 * rng.random::<f64>(),
        };
        d.round() as u64
    }
}

#[derive(Clone, Debug)]
pub struct BudgetPolicy {
    pub ratio: f64,
    pub min_per_s: f64,
    pub window_s: u64,
}

/// A retry budget's sliding window: calls and retries per second over the last `window_s` seconds.
#[derive(Clone, Debug)]
pub struct Budget {
    policy: BudgetPolicy,
    /// (second, calls, retries), oldest first.
    buckets: VecDeque<(u64, u64, u64)>,
    calls: u64,
    retries: u64,
}

impl Budget {
    pub fn new(policy: BudgetPolicy) -> Self {
        Budget {
            policy,
            buckets: VecDeque::new(),
            calls: 0,
            retries: 0,
        }
    }

    fn roll(&mut self, now_ns: u64) -> u64 {
        let second = now_ns / 1_000_000_000;
        while let Some(&(s, c, r)) = self.buckets.front() {
            if s + self.policy.window_s > second {
                break;
            }
            self.calls -= c;
            self.retries -= r;
            self.buckets.pop_front();
        }
        if self.buckets.back().is_none_or(|b| b.0 != second) {
            self.buckets.push_back((second, 0, 0));
        }
        second
    }

    /// Records a call (a first attempt).
    pub fn record_call(&mut self, now_ns: u64) {
        self.roll(now_ns);
        let b = self.buckets.back_mut().expect("rolled");
        b.1 += 1;
        self.calls += 1;
    }

    /// Takes a retry from the budget if one is left.
    pub fn try_retry(&mut self, now_ns: u64) -> bool {
        self.roll(now_ns);
        let allowed = self.policy.ratio * self.calls as f64
            + self.policy.min_per_s * self.policy.window_s as f64;
        if (self.retries as f64) < allowed.floor() {
            self.buckets.back_mut().expect("rolled").2 += 1;
            self.retries += 1;
            true
        } else {
            false
        }
    }
}

#[derive(Clone, Debug)]
pub struct BulkheadPolicy {
    pub max_concurrent: u32,
    /// How long a call may wait for a permit (`u64::MAX`: as long as it takes).
    pub max_wait_ns: u64,
    /// How many calls may wait at once.
    pub queue_cap: u32,
}

#[derive(Clone, Debug)]
pub struct BreakerPolicy {
    window: Window,
    min_calls: u32,
    failure_rate: f64,
    slow_call_rate: f64,
    pub slow_call_ns: u64,
    open_for_ns: u64,
    half_open_calls: u32,
    pub shared: bool,
}

impl BreakerPolicy {
    /// Calls let through in half-open state.
    pub fn half_open_calls(&self) -> u32 {
        self.half_open_calls
    }

    fn new(b: &BreakerSpec, problems: &mut Vec<(&'static str, String)>) -> BreakerPolicy {
        for (name, x) in [
            ("failure_rate", b.failure_rate),
            ("slow_call_rate", b.slow_call_rate),
        ] {
            if !(x > 0.0 && x <= 1.0) {
                problems.push((
                    "breaker",
                    format!("`{name}` is a fraction above 0 and at most 1, not `{x}`"),
                ));
            }
        }
        match &b.window {
            Window::Count(0) => problems.push((
                "breaker.window",
                "a count window needs at least 1 call".into(),
            )),
            Window::Time(d) if d.0.as_ns() < 1_000_000_000 || d.0.as_ns() % 1_000_000_000 != 0 => {
                problems.push((
                    "breaker.window",
                    "a time window is a whole number of seconds, at least 1".into(),
                ))
            }
            Window::Count(n) if *n > 100_000 => problems.push((
                "breaker.window",
                "a count window holds at most 100000 calls".into(),
            )),
            _ => {}
        }
        if b.half_open_calls == 0 {
            problems.push((
                "breaker.half_open_calls",
                "half-open needs at least 1 permitted call".into(),
            ));
        }
        if b.min_calls == 0 {
            problems.push(("breaker.min_calls", "`min_calls` must be at least 1".into()));
        }
        BreakerPolicy {
            window: b.window.clone(),
            min_calls: b.min_calls,
            failure_rate: b.failure_rate,
            slow_call_rate: b.slow_call_rate,
            slow_call_ns: b.slow_call_duration.0.as_ns(),
            open_for_ns: b.open_for.0.as_ns(),
            half_open_calls: b.half_open_calls,
            shared: b.shared,
        }
    }
}

/// A breaker's state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open {
        until_ns: u64,
    },
    HalfOpen {
        permitted: u32,
        answered: u32,
        failures: u32,
        slow: u32,
    },
}

impl BreakerState {
    pub fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        }
    }
}

/// The sliding window of outcomes while closed.
#[derive(Clone, Debug)]
enum Outcomes {
    /// Last N outcomes: (failed, slow).
    Count {
        size: usize,
        ring: VecDeque<(bool, bool)>,
    },
    /// Per-second buckets: (second, calls, failures, slow).
    Time {
        seconds: u64,
        buckets: VecDeque<(u64, u32, u32, u32)>,
    },
}

/// One circuit breaker.
#[derive(Clone, Debug)]
pub struct Breaker {
    pub state: BreakerState,
    outcomes: Outcomes,
    calls: u32,
    failures: u32,
    slow: u32,
}

impl Breaker {
    pub fn new(p: &BreakerPolicy) -> Self {
        let outcomes = match &p.window {
            Window::Count(n) => Outcomes::Count {
                size: *n as usize,
                ring: VecDeque::with_capacity(*n as usize),
            },
            Window::Time(d) => Outcomes::Time {
                seconds: d.0.as_ns() / 1_000_000_000,
                buckets: VecDeque::new(),
            },
        };
        Breaker {
            state: BreakerState::Closed,
            outcomes,
            calls: 0,
            failures: 0,
            slow: 0,
        }
    }

    /// Asks to let an attempt through at `now_ns`. Returns whether it may pass, and the state
    /// change this caused (open -> half-open when the wait is over).
    pub fn try_acquire(
        &mut self,
        p: &BreakerPolicy,
        now_ns: u64,
    ) -> (bool, Option<(BreakerState, BreakerState)>) {
        let mut change = None;
        if let BreakerState::Open { until_ns } = self.state {
            if now_ns >= until_ns {
                let next = BreakerState::HalfOpen {
                    permitted: 0,
                    answered: 0,
                    failures: 0,
                    slow: 0,
                };
                change = Some((self.state, next));
                self.state = next;
            }
        }
        let allowed = match &mut self.state {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { permitted, .. } => {
                if *permitted < p.half_open_calls {
                    *permitted += 1;
                    true
                } else {
                    false
                }
            }
        };
        (allowed, change)
    }

    /// Records the outcome of an attempt that `try_acquire` let through while in `acquired_in`
    /// (outcomes of attempts let through in an earlier state are ignored, as resilience4j does
    /// for calls that straddle a transition). Returns a state change, if any.
    pub fn record(
        &mut self,
        p: &BreakerPolicy,
        now_ns: u64,
        acquired_in: &'static str,
        failed: bool,
        slow: bool,
    ) -> Option<(BreakerState, BreakerState)> {
        if acquired_in != self.state.name() {
            return None;
        }
        match &mut self.state {
            BreakerState::Closed => {
                self.push(now_ns, failed, slow);
                if self.calls >= p.min_calls && self.calls > 0 {
                    let calls = f64::from(self.calls);
                    if f64::from(self.failures) / calls >= p.failure_rate
                        || f64::from(self.slow) / calls >= p.slow_call_rate
                    {
                        return Some(self.open(p, now_ns));
                    }
                }
                None
            }
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen {
                answered,
                failures,
                slow: s,
                ..
            } => {
                *answered += 1;
                *failures += u32::from(failed);
                *s += u32::from(slow);
                if *answered < p.half_open_calls {
                    return None;
                }
                let n = f64::from(*answered);
                let (fr, sr) = (f64::from(*failures) / n, f64::from(*s) / n);
                if fr >= p.failure_rate || sr >= p.slow_call_rate {
                    Some(self.open(p, now_ns))
                } else {
                    let before = self.state;
                    self.state = BreakerState::Closed;
                    self.clear();
                    Some((before, self.state))
                }
            }
        }
    }

    fn open(&mut self, p: &BreakerPolicy, now_ns: u64) -> (BreakerState, BreakerState) {
        let before = self.state;
        self.state = BreakerState::Open {
            until_ns: now_ns.saturating_add(p.open_for_ns),
        };
        self.clear();
        (before, self.state)
    }

    fn clear(&mut self) {
        self.calls = 0;
        self.failures = 0;
        self.slow = 0;
        match &mut self.outcomes {
            Outcomes::Count { ring, .. } => ring.clear(),
            Outcomes::Time { buckets, .. } => buckets.clear(),
        }
    }

    fn push(&mut self, now_ns: u64, failed: bool, slow: bool) {
        match &mut self.outcomes {
            Outcomes::Count { size, ring } => {
                if ring.len() == *size {
                    let (f, s) = ring.pop_front().expect("a full ring");
                    self.calls -= 1;
                    self.failures -= u32::from(f);
                    self.slow -= u32::from(s);
                }
                ring.push_back((failed, slow));
            }
            Outcomes::Time { seconds, buckets } => {
                let second = now_ns / 1_000_000_000;
                while let Some(&(s, c, f, sl)) = buckets.front() {
                    if s + *seconds > second {
                        break;
                    }
                    self.calls -= c;
                    self.failures -= f;
                    self.slow -= sl;
                    buckets.pop_front();
                }
                if buckets.back().is_none_or(|b| b.0 != second) {
                    buckets.push_back((second, 0, 0, 0));
                }
                let b = buckets.back_mut().expect("pushed");
                b.1 += 1;
                b.2 += u32::from(failed);
                b.3 += u32::from(slow);
            }
        }
        self.calls += 1;
        self.failures += u32::from(failed);
        self.slow += u32::from(slow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Dur, RetryBudget};
    use sim_core::{RngFactory, SimDuration};

    fn dur(s: &str) -> Dur {
        Dur(SimDuration::parse(s).unwrap())
    }

    fn breaker(window: Window, min_calls: u32, half_open: u32) -> BreakerPolicy {
        let spec = BreakerSpec {
            window,
            min_calls,
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call_duration: dur("1s"),
            open_for: dur("10s"),
            half_open_calls: half_open,
            shared: false,
        };
        let mut problems = Vec::new();
        let p = BreakerPolicy::new(&spec, &mut problems);
        assert!(problems.is_empty());
        p
    }

    #[test]
    fn breaker_opens_at_exactly_the_failure_rate() {
        let p = breaker(Window::Count(10), 10, 3);
        let mut b = Breaker::new(&p);
        // 10 calls, the first four failing: 40% < 50%, stays closed.
        for i in 0..10 {
            assert!(b.try_acquire(&p, i).0);
            assert_eq!(b.record(&p, i, "closed", i < 4, false), None);
        }
        // One more failure pushes out a success... the window is the last 10: 4 failures + this one
        // replaces the oldest (a failure), still 4. Two successes then a failure: window shifts.
        assert_eq!(b.record(&p, 10, "closed", true, false), None); // drops failure #0: 4/10
        assert_eq!(b.record(&p, 11, "closed", true, false), None); // drops #1: 4/10
        assert_eq!(b.record(&p, 12, "closed", true, false), None); // drops #2: 4/10
        assert_eq!(b.record(&p, 13, "closed", true, false), None); // drops #3: 4/10
        let change = b.record(&p, 14, "closed", true, false); // drops a success: 5/10 = 50%
        assert_eq!(
            change,
            Some((
                BreakerState::Closed,
                BreakerState::Open {
                    until_ns: 14 + 10_000_000_000
                }
            ))
        );
    }

    #[test]
    fn breaker_waits_for_min_calls() {
        let p = breaker(Window::Count(100), 20, 3);
        let mut b = Breaker::new(&p);
        for i in 0..19 {
            assert_eq!(b.record(&p, i, "closed", true, false), None, "call {i}");
        }
        assert!(
            b.record(&p, 19, "closed", true, false).is_some(),
            "the 20th failure opens it"
        );
    }

    #[test]
    fn half_open_lets_exactly_the_permitted_probes_through() {
        let p = breaker(Window::Count(4), 4, 3);
        let mut b = Breaker::new(&p);
        for i in 0..4 {
            b.record(&p, i, "closed", true, false);
        }
        assert!(matches!(b.state, BreakerState::Open { .. }));
        assert!(!b.try_acquire(&p, 5_000_000_000).0, "still open");
        let t = 3 + 10_000_000_000;
        let (ok, change) = b.try_acquire(&p, t);
        assert!(ok);
        assert_eq!(change.map(|c| c.1.name()), Some("half_open"));
        assert!(b.try_acquire(&p, t).0 && b.try_acquire(&p, t).0);
        assert!(!b.try_acquire(&p, t).0, "a fourth probe is refused");
        // Two of three probes succeed: 33% < 50%, closes once all three answered.
        assert_eq!(b.record(&p, t, "half_open", false, false), None);
        assert_eq!(b.record(&p, t, "half_open", true, false), None);
        let change = b.record(&p, t, "half_open", false, false);
        assert_eq!(change.map(|c| c.1), Some(BreakerState::Closed));
        // An outcome from an attempt let through while open... or half-open is ignored now.
        assert_eq!(b.record(&p, t, "half_open", true, false), None);
    }

    #[test]
    fn half_open_failures_reopen() {
        let p = breaker(Window::Count(2), 2, 2);
        let mut b = Breaker::new(&p);
        b.record(&p, 0, "closed", true, false);
        b.record(&p, 0, "closed", true, false);
        let t = 10_000_000_000;
        assert!(b.try_acquire(&p, t).0 && b.try_acquire(&p, t).0);
        b.record(&p, t, "half_open", true, false);
        let change = b.record(&p, t + 1, "half_open", false, false);
        assert_eq!(
            change.map(|c| c.1),
            Some(BreakerState::Open {
                until_ns: t + 1 + 10_000_000_000
            })
        );
    }

    #[test]
    fn time_window_forgets_old_seconds() {
        let p = breaker(Window::Time(dur("2s")), 4, 1);
        let mut b = Breaker::new(&p);
        let s = 1_000_000_000;
        b.record(&p, 0, "closed", true, false);
        b.record(&p, 0, "closed", true, false);
        b.record(&p, 0, "closed", true, false);
        // Three seconds later the failures have left the window: four successes keep it closed.
        for _ in 0..4 {
            assert_eq!(b.record(&p, 3 * s, "closed", false, false), None);
        }
        assert_eq!(b.state, BreakerState::Closed);
    }

    #[test]
    fn slow_calls_open_the_breaker() {
        let mut p = breaker(Window::Count(4), 4, 1);
        p.slow_call_rate = 0.5;
        let mut b = Breaker::new(&p);
        b.record(&p, 0, "closed", false, true);
        b.record(&p, 0, "closed", false, false);
        b.record(&p, 0, "closed", false, false);
        assert!(b.record(&p, 0, "closed", false, true).is_some());
    }

    #[test]
    fn budget_caps_retries_at_its_ratio() {
        let mut budget = Budget::new(BudgetPolicy {
            ratio: 0.1,
            min_per_s: 0.0,
            window_s: 10,
        });
        let mut granted = 0;
        for i in 0..1000u64 {
            let now = i * 5_000_000; // 200 calls per second for 5 seconds
            budget.record_call(now);
            if budget.try_retry(now) {
                granted += 1;
            }
        }
        // 10% of 1000 calls, give or take the floor at each step.
        assert!((99..=100).contains(&granted), "{granted}");
        // With a reserve of 1/s over 10 s, ten retries pass with no calls at all.
        let mut reserve = Budget::new(BudgetPolicy {
            ratio: 0.0,
            min_per_s: 1.0,
            window_s: 10,
        });
        assert_eq!((0..20).filter(|_| reserve.try_retry(0)).count(), 10);
    }

    #[test]
    fn backoff_follows_its_distribution() {
        let spec = |backoff, jitter| RetrySpec {
            attempts: 5,
            on: vec![RetryOn::Timeout],
            backoff,
            jitter,
            budget: None::<RetryBudget>,
            honor_retry_after: true,
        };
        let mut problems = Vec::new();
        let exp = Backoff::Exponential {
            base: dur("10ms"),
            cap: dur("100ms"),
            multiplier: 2.0,
        };
        let none = RetryPolicy::new(&spec(exp.clone(), Jitter::None), &mut problems);
        let mut rng = RngFactory::new(1, 0).stream("t", "backoff");
        let delays: Vec<u64> = (1..=5).map(|k| none.delay_ns(k, 0, &mut rng)).collect();
        assert_eq!(
            delays,
            [10_000_000, 20_000_000, 40_000_000, 80_000_000, 100_000_000]
        );
        // Full jitter: uniform on [0, d]: mean d/2, and never above d.
        let full = RetryPolicy::new(&spec(exp.clone(), Jitter::Full), &mut problems);
        let n = 100_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| full.delay_ns(3, 0, &mut rng) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        // sd of uniform[0, 40ms] is 40/sqrt(12) ms; 99.9% interval of the mean: 3.29 sd/sqrt(n).
        let half = 3.29 * 40e6 / 12f64.sqrt() / (n as f64).sqrt();
        assert!((mean - 20e6).abs() < half, "{mean}");
        assert!(xs.iter().all(|&x| (0.0..=40e6).contains(&x)));
        // Equal jitter: within [d/2, d].
        let equal = RetryPolicy::new(&spec(exp, Jitter::Equal), &mut problems);
        assert!((0..1000)
            .map(|_| equal.delay_ns(2, 0, &mut rng))
            .all(|x| (10_000_000..=20_000_000).contains(&x)));
        // Decorrelated: within [base, min(cap, 3 * previous)].
        let dec = RetryPolicy::new(
            &spec(
                Backoff::Decorrelated {
                    base: dur("10ms"),
                    cap: dur("1s"),
                },
                Jitter::None,
            ),
            &mut problems,
        );
        assert!((0..1000)
            .map(|_| dec.delay_ns(2, 50_000_000, &mut rng))
            .all(|x| (10_000_000..=150_000_000).contains(&x)));
        assert!(problems.is_empty());
        assert!(full.retries(AttemptFailure::Timeout) && !full.retries(AttemptFailure::Error));
    }
}

/// A token bucket's state: refilled continuously, starting full.
#[derive(Clone, Debug)]
pub struct Bucket {
    rate_per_ns: f64,
    burst: f64,
    tokens: f64,
    last_ns: u64,
}

impl Bucket {
    pub fn new(rate_per_s: f64, burst: u32) -> Self {
        Bucket {
            rate_per_ns: rate_per_s / 1e9,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last_ns: 0,
        }
    }

    fn refill(&mut self, now_ns: u64) {
        self.tokens =
            (self.tokens + (now_ns - self.last_ns) as f64 * self.rate_per_ns).min(self.burst);
        self.last_ns = now_ns;
    }

    /// Whether a token is there (without taking it); else the wait until one is, in ns.
    pub fn check(&mut self, now_ns: u64) -> Result<(), u64> {
        self.refill(now_ns);
        if self.tokens >= 1.0 {
            Ok(())
        } else if self.rate_per_ns > 0.0 {
            Err(((1.0 - self.tokens) / self.rate_per_ns).ceil() as u64)
        } else {
            Err(u64::MAX)
        }
    }

    pub fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod bucket_tests {
    use super::Bucket;

    #[test]
    fn a_bucket_passes_its_burst_then_its_rate() {
        let mut b = Bucket::new(10.0, 5);
        for _ in 0..5 {
            assert!(b.check(0).is_ok());
            b.take();
        }
        // Empty: the next token comes in 100 ms.
        assert_eq!(b.check(0), Err(100_000_000));
        assert!(b.check(100_000_000).is_ok());
        b.take();
        // Over ten seconds, 10 per second pass (it cannot save more than its burst).
        let passed = (1..=10_000u64)
            .filter(|i| {
                let ok = b.check(100_000_000 + i * 1_000_000).is_ok();
                if ok {
                    b.take();
                }
                ok
            })
            .count();
        assert!((99..=101).contains(&passed), "{passed}");
    }
}

/// A client-side throttle's state (per caller instance and call edge).
#[derive(Clone, Debug)]
pub enum Throttle {
    /// gRPC retry throttling: tokens, with the maximum and the ratio given back per success.
    Grpc { tokens: f64, max: f64, ratio: f64 },
    /// SRE adaptive throttling: per-second buckets of (second, requests, accepts) over the window.
    Adaptive {
        k: f64,
        window_s: u64,
        buckets: VecDeque<(u64, u64, u64)>,
        requests: u64,
        accepts: u64,
    },
}

impl Throttle {
    pub fn new(spec: &ThrottleSpec) -> Self {
        match spec {
            ThrottleSpec::GrpcRetry {
                max_tokens,
                token_ratio,
            } => Throttle::Grpc {
                tokens: f64::from(*max_tokens),
                max: f64::from(*max_tokens),
                ratio: *token_ratio,
            },
            ThrottleSpec::Adaptive { k, window } => Throttle::Adaptive {
                k: *k,
                window_s: (window.0.as_ns() / 1_000_000_000).max(1),
                buckets: VecDeque::new(),
                requests: 0,
                accepts: 0,
            },
        }
    }

    fn roll(
        buckets: &mut VecDeque<(u64, u64, u64)>,
        requests: &mut u64,
        accepts: &mut u64,
        window_s: u64,
        now_ns: u64,
    ) {
        let second = now_ns / 1_000_000_000;
        while let Some(&(s, r, a)) = buckets.front() {
            if s + window_s > second {
                break;
            }
            *requests -= r;
            *accepts -= a;
            buckets.pop_front();
        }
        if buckets.back().is_none_or(|b| b.0 != second) {
            buckets.push_back((second, 0, 0));
        }
    }

    /// Whether an attempt may be sent. `first` is the first attempt of a call (gRPC throttling
    /// only limits retries and hedges); `draw` is a uniform number in [0, 1).
    pub fn allow(&mut self, now_ns: u64, first: bool, draw: f64) -> bool {
        match self {
            Throttle::Grpc { tokens, max, .. } => first || *tokens > *max / 2.0,
            Throttle::Adaptive {
                k,
                window_s,
                buckets,
                requests,
                accepts,
            } => {
                Self::roll(buckets, requests, accepts, *window_s, now_ns);
                let reject =
                    ((*requests as f64 - *k * *accepts as f64) / (*requests as f64 + 1.0)).max(0.0);
                // The attempt counts as a request whether or not it is sent (the book's rule).
                *requests += 1;
                buckets.back_mut().expect("rolled").1 += 1;
                draw >= reject
            }
        }
    }

    /// Records the answer of a sent attempt.
    pub fn record(&mut self, now_ns: u64, success: bool) {
        match self {
            Throttle::Grpc { tokens, max, ratio } => {
                *tokens = if success {
                    (*tokens + *ratio).min(*max)
                } else {
                    (*tokens - 1.0).max(0.0)
                };
            }
            Throttle::Adaptive {
                window_s,
                buckets,
                requests,
                accepts,
                ..
            } => {
                if success {
                    Self::roll(buckets, requests, accepts, *window_s, now_ns);
                    *accepts += 1;
                    buckets.back_mut().expect("rolled").2 += 1;
                }
            }
        }
    }
}

/// An adaptive concurrency limit's state (per instance), as Netflix `AIMDLimit`.
#[derive(Clone, Debug)]
pub struct AimdLimit {
    pub limit: f64,
    min: f64,
    max: f64,
    decrease: f64,
    pub latency_over_ns: u64,
}

impl AimdLimit {
    pub fn new(initial: u32, min: u32, max: u32, decrease: f64, latency_over_ns: u64) -> Self {
        AimdLimit {
            limit: f64::from(initial),
            min: f64::from(min),
            max: f64::from(max),
            decrease,
            latency_over_ns,
        }
    }

    /// Whether another request may start with `in_flight` already in progress.
    pub fn admits(&self, in_flight: u32) -> bool {
        f64::from(in_flight) < self.limit.floor()
    }

    /// Adjusts the limit after a request that took `latency_ns` (dropped: it failed or was shed).
    pub fn on_done(&mut self, latency_ns: u64, dropped: bool, in_flight: u32) {
        if dropped || latency_ns > self.latency_over_ns {
            self.limit = (self.limit * self.decrease).floor().max(self.min);
        } else if f64::from(in_flight) * 2.0 >= self.limit {
            self.limit = (self.limit + 1.0).min(self.max);
        }
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::*;
    use crate::spec::Dur;
    use sim_core::SimDuration;

    #[test]
    fn grpc_throttling_stops_retries_below_half_the_tokens() {
        let mut t = Throttle::new(&ThrottleSpec::GrpcRetry {
            max_tokens: 10,
            token_ratio: 0.1,
        });
        for _ in 0..5 {
            assert!(t.allow(0, false, 0.5));
            t.record(0, false);
        }
        // 5 tokens left: not more than half; retries stop, first attempts still go.
        assert!(!t.allow(0, false, 0.5) && t.allow(0, true, 0.5));
        // Eleven successes give back 1.1 tokens.
        for _ in 0..11 {
            t.record(0, true);
        }
        assert!(t.allow(0, false, 0.5));
    }

    #[test]
    fn adaptive_throttling_follows_the_formula() {
        let mut t = Throttle::new(&ThrottleSpec::Adaptive {
            k: 2.0,
            window: Dur(SimDuration::from_secs(10)),
        });
        // 100 requests, 10 accepted: p = (100 - 20) / 101.
        for i in 0..100 {
            t.allow(0, true, 0.0);
            if i < 10 {
                t.record(0, true);
            }
        }
        let p = 80.0 / 101.0;
        assert!(!t.allow(0, true, p - 0.01), "a draw below p is refused");
        assert!(t.allow(0, true, 0.99));
        // After the window, the history is forgotten.
        assert!(t.allow(20_000_000_000, true, 0.0));
    }

    #[test]
    fn aimd_grows_slowly_and_falls_fast() {
        let mut l = AimdLimit::new(10, 2, 20, 0.5, 100);
        l.on_done(50, false, 6);
        assert_eq!(l.limit, 11.0);
        l.on_done(50, false, 2); // little in use: no growth
        assert_eq!(l.limit, 11.0);
        l.on_done(500, false, 6);
        assert_eq!(l.limit, 5.0);
        for _ in 0..3 {
            l.on_done(0, true, 0);
        }
        assert_eq!(l.limit, 2.0, "never below the minimum");
        assert!(l.admits(1) && !l.admits(2));
    }
}
