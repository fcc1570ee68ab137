//! The chain of defences on one call edge, built once per edge from its `CallPolicy`, with the
//! state of every defence on it. The call path meets it at three hooks:
//!
//! ```text
//!  admit            throttle ─▶ bulkhead (permit, queue or full) ─▶ breaker     before an attempt
//!  observe_attempt  breaker, throttle, hedge histogram learn the outcome       once per attempt
//!  after_failure    retry (attempts, retryable, deadline, budget, backoff)      after a failure
//! ```
//!
//! Every attempt that `admit` lets through is observed exactly once, by every defence that
//! learns: the caller's side calls `observe_attempt` whatever ended it (an answer, its timeout, a
//! failure before it left). The chain never schedules an event and never counts results: it
//! answers, and the call path acts and counts.
//!
//! Randomness: `edge:<from>-><to>/throttle` (adaptive throttling), `/backoff` (retry delays).

use crate::defences::{
    AttemptFailure, Breaker, BreakerPhase, BreakerState, Budget, Bulkhead, CallPolicy, Observed,
    Take, Throttle,
};
use rand::RngExt;
use sim_core::{RngFactory, Stream};

/// The defences' state on one edge.
pub(in crate::sim) struct EdgeChain {
    /// Client-side throttles, one per caller instance, and their draws.
    throttles: Vec<Throttle>,
    throttle_rng: Stream,
    /// One per caller instance, or one if shared.
    breakers: Vec<Breaker>,
    /// One per caller instance (empty without a bulkhead).
    bulkheads: Vec<Bulkhead>,
    budget: Option<Budget>,
    backoff_rng: Stream,
    /// Latency of good attempts, for percentile hedging.
    observed: Option<Observed>,
}

/// Which attempt the chain is asked about: its call, its caller instance (the offset within the
/// calling service) and its breaker (the caller's, or 0 when the breaker is shared).
#[derive(Copy, Clone, Debug)]
pub(in crate::sim) struct Attempt {
    pub call: u32,
    pub caller: u32,
    pub breaker: u32,
}

/// The chain's answer to an attempt that asks to go out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(in crate::sim) enum Admit {
    /// It goes out, holding a bulkhead permit or not, let through by the breaker in `phase`.
    Go { permit: bool, phase: BreakerPhase },
    /// It waits in the bulkhead's queue (the caller arms the wait timer).
    Wait,
    /// It is refused before it leaves; the permit it gave back lets `next` (a waiting call) ask.
    Refused {
        failure: AttemptFailure,
        next: Option<u32>,
    },
}

/// The outcome of an attempt that went out, as the caller saw it.
#[derive(Copy, Clone, Debug)]
pub(in crate::sim) struct Observation {
    pub now_ns: u64,
    pub failed: bool,
    /// From sending to the answer (or the timeout); 0 for a failure before it left.
    pub duration_ns: u64,
    /// The breaker phase that let it through.
    pub phase: BreakerPhase,
}

/// What to do after a failed attempt.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(in crate::sim) enum AfterFailure {
    /// Retry after this many nanoseconds.
    Retry(u64),
    /// A retry was allowed by the policy but refused by the budget.
    Denied,
    /// No retry: out of attempts, not retryable, past the deadline, or no retry policy.
    GiveUp,
}

/// A breaker changed state: (from, to).
pub(in crate::sim) type Transition = Option<(BreakerState, BreakerState)>;

impl EdgeChain {
    /// The chain of an edge named `name` (`edge:<from>-><to>`) with `callers` caller instances.
    pub(in crate::sim) fn new(
        policy: &CallPolicy,
        callers: usize,
        rngs: &RngFactory,
        name: &str,
    ) -> Self {
        EdgeChain {
            throttles: match &policy.throttle {
                Some(t) => vec![Throttle::new(t); callers],
                None => Vec::new(),
            },
            throttle_rng: rngs.stream(name, "throttle"),
            breakers: match &policy.breaker {
                Some(b) => vec![Breaker::new(b); if b.shared { 1 } else { callers }],
                None => Vec::new(),
            },
            bulkheads: match &policy.bulkhead {
                Some(_) => vec![Bulkhead::default(); callers],
                None => Vec::new(),
            },
            budget: policy
                .retry
                .as_ref()
                .and_then(|r| r.budget.clone())
                .map(Budget::new),
            backoff_rng: rngs.stream(name, "backoff"),
            observed: policy.hedge.as_ref().and_then(Observed::for_policy),
        }
    }

    /// A new call (its first attempt follows): the retry budget counts it.
    pub(in crate::sim) fn on_call(&mut self, now_ns: u64) {
        if let Some(b) = &mut self.budget {
            b.record_call(now_ns);
        }
    }

    /// Asks to send an attempt: the throttle first (`first` is a call's first attempt, not a
    /// retry or a hedge), then the bulkhead (a call waiting for it has not asked the breaker yet),
    /// then the breaker.
    pub(in crate::sim) fn admit(
        &mut self,
        policy: &CallPolicy,
        a: Attempt,
        first: bool,
        now_ns: u64,
    ) -> (Admit, Transition) {
        if let Some(t) = self.throttles.get_mut(a.caller as usize) {
            let draw = self.throttle_rng.random::<f64>();
            if !t.allow(now_ns, first, draw) {
                let refused = Admit::Refused {
                    failure: AttemptFailure::Throttled,
                    next: None,
                };
                return (refused, None);
            }
        }
        let mut permit = false;
        if let Some(bh) = &policy.bulkhead {
            match self.bulkheads[a.caller as usize].take(bh, a.call) {
                Take::Taken => permit = true,
                Take::Queued => return (Admit::Wait, None),
                Take::Full => {
                    let refused = Admit::Refused {
                        failure: AttemptFailure::BulkheadFull,
                        next: None,
                    };
                    return (refused, None);
                }
            }
        }
        let Some(bp) = &policy.breaker else {
            let phase = BreakerPhase::Closed;
            return (Admit::Go { permit, phase }, None);
        };
        let breaker = &mut self.breakers[a.breaker as usize];
        let (allowed, change) = breaker.try_acquire(bp, now_ns);
        if allowed {
            let phase = breaker.state().phase();
            return (Admit::Go { permit, phase }, change);
        }
        let next = if permit { self.release(a.caller) } else { None };
        let failure = AttemptFailure::BreakerOpen;
        (Admit::Refused { failure, next }, change)
    }

    /// Gives back the caller's bulkhead permit; returns the oldest waiting call, which must ask
    /// again.
    pub(in crate::sim) fn release(&mut self, caller: u32) -> Option<u32> {
        self.bulkheads[caller as usize].release()
    }

    /// A waiting call stops waiting for the caller's bulkhead.
    pub(in crate::sim) fn stop_waiting(&mut self, caller: u32, call: u32) {
        self.bulkheads[caller as usize].forget(call);
    }

    /// Every defence that learns from outcomes learns this attempt's.
    pub(in crate::sim) fn observe_attempt(
        &mut self,
        policy: &CallPolicy,
        a: Attempt,
        o: Observation,
    ) -> Transition {
        if let Some(t) = self.throttles.get_mut(a.caller as usize) {
            t.record(o.now_ns, !o.failed);
        }
        if !o.failed {
            if let Some(h) = &mut self.observed {
                h.record(o.duration_ns);
            }
        }
        let bp = policy.breaker.as_ref()?;
        let slow = bp.is_slow(o.duration_ns);
        self.breakers[a.breaker as usize].record(bp, o.now_ns, o.phase, o.failed, slow)
    }

    /// After a failed attempt (the `attempts`-th of its call): retry after a backoff, if the
    /// policy retries this failure, attempts are left, the caller's deadline has not passed and
    /// the budget has a retry. `previous_ns` is the previous backoff (decorrelated jitter);
    /// `retry_after_ns` the server's Retry-After, if it sent one.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::sim) fn after_failure(
        &mut self,
        policy: &CallPolicy,
        failure: AttemptFailure,
        attempts: u32,
        previous_ns: u64,
        retry_after_ns: u64,
        now_ns: u64,
        deadline_ns: u64,
    ) -> AfterFailure {
        let Some(retry) = &policy.retry else {
            return AfterFailure::GiveUp;
        };
        if attempts >= retry.attempts || !retry.retries(failure) || now_ns >= deadline_ns {
            return AfterFailure::GiveUp;
        }
        if !self.budget.as_mut().is_none_or(|b| b.try_retry(now_ns)) {
            return AfterFailure::Denied;
        }
        let delay = retry.delay_ns(attempts, previous_ns, &mut self.backoff_rng);
        if retry.honor_retry_after {
            AfterFailure::Retry(delay.max(retry_after_ns))
        } else {
            AfterFailure::Retry(delay)
        }
    }

    /// The delay before the next hedge of a call, if the edge hedges and knows one yet.
    pub(in crate::sim) fn hedge_delay(&self, policy: &CallPolicy) -> Option<u64> {
        policy.hedge.as_ref()?.delay_ns(self.observed.as_ref())
    }

    /// Breakers not closed now (`None` when the edge has no breaker).
    pub(in crate::sim) fn breakers_not_closed(&self) -> Option<u32> {
        if self.breakers.is_empty() {
            return None;
        }
        let n = self
            .breakers
            .iter()
            .filter(|b| b.state() != BreakerState::Closed);
        Some(n.count() as u32)
    }

    /// The breakers' states, for the end-of-run audit.
    pub(in crate::sim) fn breaker_states(&self) -> impl Iterator<Item = BreakerState> + '_ {
        self.breakers.iter().map(Breaker::state)
    }
}
