//! The chain of defences on one call edge, built once per edge from its `CallPolicy`, with the
//! state of every defence on it. The call path meets it at three hooks:
//!
//! ```text
//!  admit            throttle ─▶ bulkhead (permit, queue or full) ─▶ breaker     before an attempt
//!  observe_attempt  breaker, throttle, hedge histogram learn the outcome       once per attempt
//!  after_failure    throttle learns; retry (attempts, retryable, deadline,      after a failure
//!                   throttle, budget, backoff)
//! ```
//!
//! Every attempt that `admit` lets through is observed exactly once, by every defence that
//! learns: the caller's side calls `observe_attempt` whatever ended it (an answer, its timeout, a
//! failure before it left). The chain never schedules an event and never counts results: it
//! answers, and the call path acts and counts.
//!
//! Randomness: `edge:<from>-><to>/throttle` (adaptive throttling), `/backoff` (retry delays).

use crate::defences::{
    AttemptFailure, Breaker, BreakerPhase, BreakerState, Budget, Bulkhead, CallPolicy,
    ConcurrentBudget, Observed, Take, Throttle,
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
    /// Envoy's concurrency budget, one per caller instance (empty without one).
    concurrent: Vec<ConcurrentBudget>,
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
    /// A retry was allowed by the policy but refused by gRPC retry throttling.
    Throttled,
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
            concurrent: match policy
                .retry
                .as_ref()
                .and_then(|r| r.concurrent_budget.clone())
            {
                Some(c) => vec![ConcurrentBudget::new(c); callers],
                None => Vec::new(),
            },
            backoff_rng: rngs.stream(name, "backoff"),
            observed: policy.hedge.as_deref().and_then(Observed::for_policy),
        }
    }

    /// A new call (its first attempt follows): the retry budget counts it.
    #[inline]
    pub(in crate::sim) fn on_call(&mut self, now_ns: u64) {
        if let Some(b) = &mut self.budget {
            b.record_call(now_ns);
        }
    }

    /// An attempt of `caller` left (Envoy's budget counts it active).
    #[inline]
    pub(in crate::sim) fn on_sent(&mut self, caller: u32) {
        if let Some(c) = self.concurrent.get_mut(caller as usize) {
            c.request_started();
        }
    }

    /// Whether the edge counts attempts and retries in progress (Envoy's retry budget): only
    /// then do the hooks below need to know the caller.
    #[inline]
    pub(in crate::sim) fn counts_concurrency(&self) -> bool {
        !self.concurrent.is_empty()
    }

    /// An attempt of `caller` that left is over: answered, timed out, or abandoned.
    #[inline]
    pub(in crate::sim) fn on_attempt_over(&mut self, caller: u32) {
        if let Some(c) = self.concurrent.get_mut(caller as usize) {
            c.request_ended();
        }
    }

    /// A retry of `caller` that `after_failure` granted is over: its own attempt failed (and
    /// the call decides again) or the call ended.
    #[inline]
    pub(in crate::sim) fn retry_over(&mut self, caller: u32) {
        if let Some(c) = self.concurrent.get_mut(caller as usize) {
            c.retry_ended();
        }
    }

    /// Asks to send an attempt: the throttle first (adaptive throttling may refuse any attempt;
    /// gRPC throttling refuses none here), then the bulkhead (a call waiting for it has not asked
    /// the breaker yet), then the breaker.
    #[inline]
    pub(in crate::sim) fn admit(
        &mut self,
        policy: &CallPolicy,
        a: Attempt,
        now_ns: u64,
    ) -> (Admit, Transition) {
        if let Some(t) = self.throttles.get_mut(a.caller as usize) {
            let draw = self.throttle_rng.random::<f64>();
            if !t.allow(now_ns, draw) {
                let refused = Admit::Refused {
                    failure: AttemptFailure::Throttled,
                    next: None,
                };
                return (refused, None);
            }
        }
        self.resume(policy, a, now_ns)
    }

    /// Asks again for an attempt that waited in the bulkhead's queue and was handed a permit
    /// back: the throttle let it through when it first asked, so it asks the bulkhead (where a
    /// permit is free now) and the breaker only.
    #[inline]
    pub(in crate::sim) fn resume(
        &mut self,
        policy: &CallPolicy,
        a: Attempt,
        now_ns: u64,
    ) -> (Admit, Transition) {
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
    #[inline]
    pub(in crate::sim) fn release(&mut self, caller: u32) -> Option<u32> {
        self.bulkheads[caller as usize].release()
    }

    /// A waiting call stops waiting for the caller's bulkhead.
    pub(in crate::sim) fn stop_waiting(&mut self, caller: u32, call: u32) {
        self.bulkheads[caller as usize].forget(call);
    }

    /// Whether any defence on the edge learns from outcomes (the call path skips the hook's
    /// bookkeeping when none does).
    #[inline]
    pub(in crate::sim) fn learns(&self) -> bool {
        !self.throttles.is_empty() || !self.breakers.is_empty() || self.observed.is_some()
    }

    /// Every defence that learns from outcomes learns this attempt's.
    #[inline]
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

    /// A failed attempt of a call that has other attempts out (hedges): the throttle learns
    /// the failure as it learns any (see `after_failure`); returns whether the call may still
    /// hedge (gRPC throttling stops hedging when it would refuse a retry).
    #[inline]
    pub(in crate::sim) fn failed_while_out(
        &mut self,
        policy: &CallPolicy,
        caller: u32,
        failure: AttemptFailure,
    ) -> bool {
        self.throttle_after_failure(policy, caller, failure)
    }

    /// The throttle's verdict on a failed attempt of `caller` (gRPC: a failure the retry policy
    /// retries takes a token, and the retry is refused if half the tokens or fewer are left).
    fn throttle_after_failure(
        &mut self,
        policy: &CallPolicy,
        caller: u32,
        failure: AttemptFailure,
    ) -> bool {
        let Some(t) = self.throttles.get_mut(caller as usize) else {
            return true;
        };
        let qualified = policy.retry.as_ref().is_some_and(|r| r.retries(failure));
        t.after_failure(qualified)
    }

    /// After a failed attempt (the `attempts`-th of its call, by caller instance `caller`):
    /// first the throttle learns the failure (gRPC takes a token for a failure the policy
    /// retries, whatever follows, as grpc-java does before it counts attempts); then retry after
    /// a backoff, if the policy retries this failure, attempts are left, the caller's deadline
    /// has not passed, the throttle allows it and the budget has a retry (Finagle's: one in its
    /// window; Envoy's: room for one more active retry, which stays active until `retry_over`).
    /// `previous_ns` is the previous backoff (decorrelated jitter); `retry_after_ns` the
    /// server's Retry-After, if it sent one.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(in crate::sim) fn after_failure(
        &mut self,
        policy: &CallPolicy,
        caller: u32,
        failure: AttemptFailure,
        attempts: u32,
        previous_ns: u64,
        retry_after_ns: u64,
        now_ns: u64,
        deadline_ns: u64,
    ) -> AfterFailure {
        let throttle_allows = self.throttle_after_failure(policy, caller, failure);
        let Some(retry) = &policy.retry else {
            return AfterFailure::GiveUp;
        };
        if attempts >= retry.attempts || !retry.retries(failure) || now_ns >= deadline_ns {
            return AfterFailure::GiveUp;
        }
        if !throttle_allows {
            return AfterFailure::Throttled;
        }
        if !self.budget.as_mut().is_none_or(|b| b.try_retry(now_ns)) {
            return AfterFailure::Denied;
        }
        if !self
            .concurrent
            .get_mut(caller as usize)
            .is_none_or(ConcurrentBudget::try_retry)
        {
            return AfterFailure::Denied;
        }
        let delay = retry.delay_ns(attempts, previous_ns, &mut self.backoff_rng);
        if retry.honor_retry_after {
            AfterFailure::Retry(delay.max(retry_after_ns))
        } else {
            AfterFailure::Retry(delay)
        }
    }

    /// Whether a hedge due now may go out: it takes a retry from the edge's Finagle budget, if
    /// it has one (Finagle bounds backup requests with a `RetryBudget`), so that hedging feeding
    /// on its own load (queues grow, more calls pass the percentile, more hedges) stays within
    /// the budget's share of calls.
    #[inline]
    pub(in crate::sim) fn hedge_within_budget(&mut self, now_ns: u64) -> bool {
        self.budget.as_mut().is_none_or(|b| b.try_retry(now_ns))
    }

    /// The delay before the next hedge of a call by caller instance `caller`, if the edge
    /// hedges, knows a delay yet, and its throttle allows a hedge now (gRPC: tokens above half).
    #[inline]
    pub(in crate::sim) fn hedge_delay(&self, policy: &CallPolicy, caller: u32) -> Option<u64> {
        let hedge = policy.hedge.as_ref()?;
        if !self
            .throttles
            .get(caller as usize)
            .is_none_or(Throttle::hedge_allowed)
        {
            return None;
        }
        hedge.delay_ns(self.observed.as_ref())
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

#[cfg(test)]
mod tests {
    //! The chain driven attempt by attempt through its interface, as the call path drives it,
    //! with policies compiled from scenario specs by `CallPolicy::new`. Each test's doc states
    //! the rule it pins; times are in ns.

    use super::*;
    use crate::defences::dur;
    use crate::spec::{
        Backoff, BreakerSpec, BulkheadSpec, HedgeSpec, Jitter, Op, RetryBudget, RetryOn, RetrySpec,
        Step, ThrottleSpec, Window,
    };
    use AttemptFailure::{BreakerOpen, BulkheadFull, Error, RateLimited, Throttled, Timeout};
    use BreakerPhase::{Closed, HalfOpen};

    const SEED: u64 = 7;
    const EDGE: &str = "edge:api->db";
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// The defences of a test edge as a scenario writes them; none by default.
    #[derive(Default)]
    struct Defences {
        retry: Option<RetrySpec>,
        breaker: Option<BreakerSpec>,
        bulkhead: Option<BulkheadSpec>,
        hedge: Option<HedgeSpec>,
        throttle: Option<ThrottleSpec>,
    }

    /// The policy `CallPolicy::new` compiles for a call with `d`, and the chain of its edge with
    /// `n_callers` caller instances.
    fn edge(d: Defences, n_callers: usize) -> (CallPolicy, EdgeChain) {
        let call = Step::Call {
            to: "db".into(),
            pool: None,
            probability: 1.0,
            timeout: Some(dur("1s")),
            retry: d.retry,
            breaker: d.breaker,
            bulkhead: d.bulkhead,
            fallback: None,
            hedge: d.hedge,
            throttle: d.throttle,
            op: Op::Read,
            reconnect_after: None,
            fan_out: 1,
            keys: None,
            criticality: None,
            request_bytes: None,
            response_bytes: None,
        };
        let policy = CallPolicy::new(&call).expect("a valid call");
        let chain = EdgeChain::new(&policy, n_callers, &RngFactory::new(SEED, 0), EDGE);
        (policy, chain)
    }

    /// An attempt of `call` by caller instance `caller`, under the caller's own breaker.
    fn attempt(call: u32, caller: u32) -> Attempt {
        Attempt {
            call,
            caller,
            breaker: caller,
        }
    }

    fn observation(
        now_ns: u64,
        failed: bool,
        duration_ns: u64,
        phase: BreakerPhase,
    ) -> Observation {
        Observation {
            now_ns,
            failed,
            duration_ns,
            phase,
        }
    }

    /// Let through while the breaker is closed (or there is none).
    fn go(permit: bool) -> Admit {
        Admit::Go {
            permit,
            phase: Closed,
        }
    }

    fn refused(failure: AttemptFailure, next: Option<u32>) -> Admit {
        Admit::Refused { failure, next }
    }

    /// A count window of `window` calls, opening at a 50% failure rate once `min_calls` outcomes
    /// are in; open for 10 s, then `half_open_calls` probes. Slow calls never open it.
    fn breaker(window: u32, min_calls: u32, half_open_calls: u32) -> BreakerSpec {
        BreakerSpec {
            window: Window::Count(window),
            min_calls,
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call_duration: dur("60s"),
            open_for: dur("10s"),
            half_open_calls,
            shared: false,
        }
    }

    fn semaphore(max_concurrent: u32, max_wait: &str) -> BulkheadSpec {
        BulkheadSpec::Semaphore {
            max_concurrent,
            max_wait: dur(max_wait),
        }
    }

    fn grpc(max_tokens: u32, token_ratio: f64) -> ThrottleSpec {
        ThrottleSpec::GrpcRetry {
            max_tokens,
            token_ratio,
        }
    }

    /// `attempts` in all, retrying `on`, waiting `backoff` without jitter, honouring Retry-After.
    fn retry(attempts: u32, on: Vec<RetryOn>, backoff: Backoff) -> RetrySpec {
        RetrySpec {
            attempts,
            on,
            backoff,
            jitter: Jitter::None,
            budget: None,
            honor_retry_after: true,
        }
    }

    /// An edge without defences is transparent: every attempt goes out without a permit, nothing
    /// learns, no failure is retried, no hedge is sent, and there is no breaker to count.
    #[test]
    fn a_chain_without_defences_lets_everything_through() {
        let (p, mut chain) = edge(Defences::default(), 2);
        let a = attempt(1, 1);
        assert_eq!(chain.admit(&p, a, 0), (go(false), None));
        let failed = observation(1, true, MS, Closed);
        assert_eq!(chain.observe_attempt(&p, a, failed), None);
        let after = chain.after_failure(&p, 0, Timeout, 1, 0, 0, 1, S);
        assert_eq!(after, AfterFailure::GiveUp);
        assert_eq!(chain.hedge_delay(&p, 0), None);
        assert_eq!(chain.breakers_not_closed(), None);
        assert_eq!(chain.breaker_states().count(), 0);
    }

    /// The throttle is asked before the bulkhead: an attempt it refuses takes no permit. Adaptive
    /// throttling with no accepts refuses sooner or later; the one permit is free after it.
    #[test]
    fn a_throttled_attempt_takes_no_bulkhead_permit() {
        let d = Defences {
            throttle: Some(ThrottleSpec::Adaptive {
                k: 1.0,
                window: dur("10s"),
            }),
            bulkhead: Some(semaphore(1, "0")),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let throttled = (refused(Throttled, None), None);
        let mut n_sent = 0;
        while chain.admit(&p, attempt(1, 0), 0) != throttled {
            assert_eq!(chain.release(0), None, "the permit of attempt {n_sent}");
            n_sent += 1;
        }
        // The only permit is still free: a call past the throttle takes it, the next finds none.
        assert_eq!(chain.resume(&p, attempt(2, 0), 1), (go(true), None));
        let full = (refused(BulkheadFull, None), None);
        assert_eq!(chain.resume(&p, attempt(3, 0), 1), full);
    }

    /// The bulkhead is asked before the breaker, so a call waiting for a permit has not asked
    /// the breaker yet. When the breaker refuses an attempt that took a permit, the permit goes
    /// back and the oldest waiting call is returned, to ask in its turn.
    #[test]
    fn a_breaker_refusal_gives_the_permit_to_the_oldest_waiting_call() {
        let d = Defences {
            breaker: Some(breaker(2, 2, 1)),
            bulkhead: Some(semaphore(1, "1s")),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let failed = |now_ns| observation(now_ns, true, MS, Closed);
        assert_eq!(chain.admit(&p, attempt(1, 0), 0), (go(true), None));
        assert_eq!(chain.observe_attempt(&p, attempt(1, 0), failed(1)), None);
        assert_eq!(chain.release(0), None);
        assert_eq!(chain.admit(&p, attempt(2, 0), 2), (go(true), None));
        assert_eq!(chain.admit(&p, attempt(3, 0), 2), (Admit::Wait, None));
        assert_eq!(chain.admit(&p, attempt(4, 0), 2), (Admit::Wait, None));
        let open = BreakerState::Open {
            until_ns: 3 + 10 * S,
        };
        let change = chain.observe_attempt(&p, attempt(2, 0), failed(3));
        assert_eq!(change, Some((BreakerState::Closed, open)));
        assert_eq!(chain.release(0), Some(3));
        // Calls 3 and 4 meet the breaker only now: each is refused and passes the permit on.
        let refused_3 = (refused(BreakerOpen, Some(4)), None);
        assert_eq!(chain.admit(&p, attempt(3, 0), 4), refused_3);
        let refused_4 = (refused(BreakerOpen, None), None);
        assert_eq!(chain.admit(&p, attempt(4, 0), 4), refused_4);
        // The permit is free: after `open_for`, the half-open probe takes it.
        let t = 3 + 10 * S;
        let half_open = BreakerState::HalfOpen {
            permitted: 0,
            answered: 0,
            failures: 0,
            slow: 0,
        };
        let probe = Admit::Go {
            permit: true,
            phase: HalfOpen,
        };
        let admitted = chain.admit(&p, attempt(5, 0), t);
        assert_eq!(admitted, (probe, Some((open, half_open))));
    }

    /// Calls waiting for a permit get it first in, first out; a call that stops waiting loses
    /// its place; each caller instance has a bulkhead of its own.
    #[test]
    fn waiting_calls_get_permits_in_fifo_order() {
        let d = Defences {
            bulkhead: Some(semaphore(1, "1s")),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 2);
        assert_eq!(chain.admit(&p, attempt(1, 0), 0), (go(true), None));
        for call in 2..=4 {
            assert_eq!(chain.admit(&p, attempt(call, 0), 0), (Admit::Wait, None));
        }
        assert_eq!(chain.admit(&p, attempt(5, 1), 0), (go(true), None));
        chain.stop_waiting(0, 3);
        assert_eq!(chain.release(0), Some(2));
        assert_eq!(chain.admit(&p, attempt(2, 0), 1), (go(true), None));
        assert_eq!(chain.release(0), Some(4));
        assert_eq!(chain.admit(&p, attempt(4, 0), 2), (go(true), None));
        assert_eq!(chain.release(0), None);
        assert_eq!(chain.release(1), None);
    }

    /// A semaphore bulkhead with no `max_wait` refuses at once when its permits are in use; a
    /// pool bulkhead queues up to `queue` calls and refuses the next.
    #[test]
    fn a_bulkhead_without_room_to_wait_refuses_at_once() {
        let no_wait = Defences {
            bulkhead: Some(semaphore(2, "0")),
            ..Defences::default()
        };
        let pool = Defences {
            bulkhead: Some(BulkheadSpec::Pool {
                workers: 1,
                queue: 1,
            }),
            ..Defences::default()
        };
        let full = (refused(BulkheadFull, None), None);
        let (p, mut chain) = edge(no_wait, 1);
        assert_eq!(chain.admit(&p, attempt(1, 0), 0), (go(true), None));
        assert_eq!(chain.admit(&p, attempt(2, 0), 0), (go(true), None));
        assert_eq!(chain.admit(&p, attempt(3, 0), 0), full);
        let (p, mut chain) = edge(pool, 1);
        assert_eq!(chain.admit(&p, attempt(1, 0), 0), (go(true), None));
        assert_eq!(chain.admit(&p, attempt(2, 0), 0), (Admit::Wait, None));
        assert_eq!(chain.admit(&p, attempt(3, 0), 0), full);
    }

    /// The index of the outcome (true: failed) whose observation opens a breaker with a window
    /// of 10 calls, `min_calls` 4 and a failure rate of 50%, if one does.
    fn opened_at(outcomes: &[bool]) -> Option<usize> {
        let (p, mut chain) = edge(
            Defences {
                breaker: Some(breaker(10, 4, 1)),
                ..Defences::default()
            },
            1,
        );
        let a = attempt(1, 0);
        for (i, &failed) in outcomes.iter().enumerate() {
            let now_ns = i as u64;
            assert_eq!(chain.admit(&p, a, now_ns), (go(false), None));
            let o = observation(now_ns, failed, MS, Closed);
            if let Some(change) = chain.observe_attempt(&p, a, o) {
                let open = BreakerState::Open {
                    until_ns: now_ns + 10 * S,
                };
                assert_eq!(change, (BreakerState::Closed, open));
                assert_eq!(
                    chain.admit(&p, a, now_ns),
                    (refused(BreakerOpen, None), None)
                );
                return Some(i);
            }
        }
        None
    }

    /// `observe_attempt` feeds the breaker: it opens on the outcome that brings the failure rate
    /// of its window to `failure_rate` (reaching it is enough), never before `min_calls`
    /// outcomes are in, and the refusals start at once.
    #[test]
    fn the_breaker_opens_at_exactly_its_failure_rate_after_min_calls() {
        let (f, s) = (true, false);
        // 2/3 failed, but 3 calls are fewer than `min_calls`; the 4th makes 2/4.
        assert_eq!(opened_at(&[f, f, s, s]), Some(3));
        assert_eq!(opened_at(&[f, f, f]), None);
        // 1/4, 2/5, then 3/6.
        assert_eq!(opened_at(&[f, s, s, s, f, f]), Some(5));
        // 1/4, 2/5, 2/6, 3/7: always below half.
        assert_eq!(opened_at(&[s, s, s, f, f, s, f]), None);
    }

    /// An attempt that took exactly `slow_call_duration` counts as slow, and slow successes open
    /// the breaker at `slow_call_rate` as failures do at `failure_rate`.
    #[test]
    fn only_an_attempt_longer_than_the_slow_call_duration_is_slow() {
        let spec = BreakerSpec {
            window: Window::Count(2),
            min_calls: 2,
            failure_rate: 1.0,
            slow_call_rate: 0.5,
            slow_call_duration: dur("100ms"),
            ..breaker(2, 2, 1)
        };
        // resilience4j counts a call slow when it takes longer than `slowCallDurationThreshold`:
        // exactly the threshold is not slow.
        for (last_ns, opens) in [(99 * MS, false), (100 * MS, false), (100 * MS + 1, true)] {
            let d = Defences {
                breaker: Some(spec.clone()),
                ..Defences::default()
            };
            let (p, mut chain) = edge(d, 1);
            let a = attempt(1, 0);
            let fast = observation(0, false, 99 * MS, Closed);
            assert_eq!(chain.observe_attempt(&p, a, fast), None);
            let last = observation(1, false, last_ns, Closed);
            let change = chain.observe_attempt(&p, a, last);
            assert_eq!(change.is_some(), opens, "last attempt took {last_ns} ns");
        }
    }

    /// An outcome observed in a phase other than the breaker's current one is ignored, as
    /// resilience4j ignores a call that straddles a transition: a late answer to an attempt let
    /// through while closed does not decide a half-open breaker; the probe's own answer does.
    #[test]
    fn an_outcome_from_another_phase_is_ignored() {
        let d = Defences {
            breaker: Some(breaker(2, 2, 1)),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let a = attempt(1, 0);
        for now_ns in 0..3 {
            assert_eq!(chain.admit(&p, a, now_ns), (go(false), None));
        }
        let open = BreakerState::Open {
            until_ns: 2 + 10 * S,
        };
        assert_eq!(
            chain.observe_attempt(&p, a, observation(1, true, MS, Closed)),
            None
        );
        let change = chain.observe_attempt(&p, a, observation(2, true, MS, Closed));
        assert_eq!(change, Some((BreakerState::Closed, open)));
        // The third attempt's answer comes while open: ignored.
        assert_eq!(
            chain.observe_attempt(&p, a, observation(3, true, MS, Closed)),
            None
        );
        let t = 2 + 10 * S;
        let half_open = |permitted, answered| BreakerState::HalfOpen {
            permitted,
            answered,
            failures: 0,
            slow: 0,
        };
        let probe = Admit::Go {
            permit: false,
            phase: HalfOpen,
        };
        let admitted = chain.admit(&p, a, t);
        assert_eq!(admitted, (probe, Some((open, half_open(0, 0)))));
        // Another closed-phase failure arrives: it is not the probe's answer.
        assert_eq!(
            chain.observe_attempt(&p, a, observation(t, true, MS, Closed)),
            None
        );
        assert_eq!(chain.breakers_not_closed(), Some(1));
        let answer = chain.observe_attempt(&p, a, observation(t + 1, false, MS, HalfOpen));
        assert_eq!(answer, Some((half_open(1, 1), BreakerState::Closed)));
        assert_eq!(chain.breakers_not_closed(), Some(0));
    }

    /// One breaker per caller instance, or one for all of them with `shared`: a failure from
    /// each of two callers opens a shared breaker with `min_calls` 2, but neither private one.
    #[test]
    fn a_shared_breaker_counts_every_callers_outcomes() {
        for (shared, n_breakers, n_not_closed) in [(false, 2, 0), (true, 1, 1)] {
            let d = Defences {
                breaker: Some(BreakerSpec {
                    shared,
                    ..breaker(2, 2, 1)
                }),
                ..Defences::default()
            };
            let (p, mut chain) = edge(d, 2);
            assert_eq!(chain.breaker_states().count(), n_breakers);
            for caller in 0..2 {
                let a = Attempt {
                    call: caller,
                    caller,
                    breaker: if shared { 0 } else { caller },
                };
                assert_eq!(chain.admit(&p, a, 0), (go(false), None));
                chain.observe_attempt(&p, a, observation(1, true, MS, Closed));
            }
            let n = chain.breakers_not_closed();
            assert_eq!(n, Some(n_not_closed), "shared: {shared}");
        }
    }

    /// gRPC retry throttling (grpc-java) decides when the attempt fails, not when the retry is
    /// sent: `after_failure` takes a token for a failure the policy retries and refuses the retry
    /// there (`Throttled`) once half the tokens or fewer are left; a failure the policy does not
    /// retry takes none; `observe_attempt` gives back `token_ratio` for a good answer; attempts
    /// that ask to go out are never refused; no hedge is scheduled at or below half. Each caller
    /// instance has its own tokens.
    #[test]
    fn grpc_throttling_decides_when_the_attempt_fails() {
        let backoff = Backoff::Constant(dur("50ms"));
        let d = Defences {
            retry: Some(retry(5, vec![RetryOn::Timeout], backoff)),
            throttle: Some(grpc(4, 0.5)),
            hedge: Some(HedgeSpec {
                after: Some(dur("30ms")),
                percentile: None,
                max: 1,
            }),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 2);
        let retried = AfterFailure::Retry(50 * MS);
        let after = |chain: &mut EdgeChain, caller, failure, attempts| {
            chain.after_failure(&p, caller, failure, attempts, 0, 0, 0, S)
        };
        // 4 tokens, threshold 2: the first failure leaves 3 (retry), the second 2 (refused).
        assert_eq!(after(&mut chain, 0, Timeout, 1), retried);
        assert_eq!(chain.hedge_delay(&p, 0), Some(30 * MS));
        assert_eq!(after(&mut chain, 0, Timeout, 2), AfterFailure::Throttled);
        assert_eq!(chain.hedge_delay(&p, 0), None, "no hedge at 2 of 4");
        // An error is not retried: no token taken, and no verdict but the policy's.
        assert_eq!(after(&mut chain, 0, Error, 1), AfterFailure::GiveUp);
        // The retry still goes out when it asks: the throttle decided already.
        assert_eq!(chain.admit(&p, attempt(1, 0), 1), (go(false), None));
        // A good answer gives back 0.5: 2.5 tokens; the next failure leaves 1.5: refused.
        let success = observation(2, false, MS, Closed);
        assert_eq!(chain.observe_attempt(&p, attempt(1, 0), success), None);
        assert_eq!(chain.hedge_delay(&p, 0), Some(30 * MS));
        assert_eq!(after(&mut chain, 0, Timeout, 1), AfterFailure::Throttled);
        // Spent attempts give up, yet the failure takes its token (grpc-java counts first).
        assert_eq!(after(&mut chain, 1, Timeout, 5), AfterFailure::GiveUp);
        assert_eq!(after(&mut chain, 1, Timeout, 1), AfterFailure::Throttled);
        // A hedge's failure while others are out takes a token too.
        let (p2, mut other) = edge(
            Defences {
                retry: Some(retry(
                    5,
                    vec![RetryOn::Timeout],
                    Backoff::Constant(dur("1ms")),
                )),
                throttle: Some(grpc(4, 0.5)),
                ..Defences::default()
            },
            1,
        );
        assert!(other.failed_while_out(&p2, 0, Timeout));
        assert!(!other.failed_while_out(&p2, 0, Timeout));
    }

    /// Adaptive throttling (SRE book) draws one number per attempt asked from the edge's
    /// `/throttle` stream and refuses when it falls below `(requests - k * accepts) /
    /// (requests + 1)`; every attempt asked counts as a request, every success observed as an
    /// accept.
    #[test]
    fn adaptive_throttling_refuses_with_the_books_probability() {
        let d = Defences {
            throttle: Some(ThrottleSpec::Adaptive {
                k: 2.0,
                window: dur("10s"),
            }),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let mut draws = RngFactory::new(SEED, 0).stream(EDGE, "throttle");
        let (mut requests, mut accepts, mut n_refused) = (0u64, 0u64, 0);
        for i in 0..200u64 {
            let reject =
                ((requests as f64 - 2.0 * accepts as f64) / (requests as f64 + 1.0)).max(0.0);
            let sent = draws.random::<f64>() >= reject;
            requests += 1;
            let a = attempt(i as u32, 0);
            let (admit, _) = chain.admit(&p, a, i * MS);
            if !sent {
                n_refused += 1;
                assert_eq!(admit, refused(Throttled, None), "attempt {i}");
                continue;
            }
            assert_eq!(admit, go(false), "attempt {i}");
            // A sent attempt succeeds when its index is a multiple of five: about one in five,
            // too few accepts for `k` = 2, so the refusals grow as the run goes.
            let success = i % 5 == 0;
            accepts += u64::from(success);
            chain.observe_attempt(&p, a, observation(i * MS, !success, MS, Closed));
        }
        assert_eq!(n_refused, 165, "refused of 200");
    }

    /// `observe_attempt` feeds the hedging histogram with successes only: failures, however
    /// many and however slow, neither count toward the 50 good attempts a percentile needs nor
    /// move it.
    #[test]
    fn only_successes_teach_the_hedge_delay() {
        let d = Defences {
            hedge: Some(HedgeSpec {
                after: Some(dur("30ms")),
                percentile: Some(50.0),
                max: 1,
            }),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let a = attempt(1, 0);
        for i in 0..49 {
            chain.observe_attempt(&p, a, observation(i, false, 10 * MS, Closed));
        }
        for i in 49..149 {
            chain.observe_attempt(&p, a, observation(i, true, 90 * MS, Closed));
        }
        assert_eq!(chain.hedge_delay(&p, 0), Some(30 * MS));
        chain.observe_attempt(&p, a, observation(149, false, 10 * MS, Closed));
        // The median of fifty 10 ms answers: the top of the histogram bucket that holds 10 ms
        // at 2 significant digits (9_961_472 + 65_535).
        assert_eq!(chain.hedge_delay(&p, 0), Some(10_027_007));
    }

    /// `after_failure` gives up when the call's attempts are spent, when the policy does not
    /// retry the failure, or when the caller's deadline has passed (at the deadline itself
    /// too); otherwise it retries after the backoff, the k-th retry (after k attempts) waiting
    /// `base * multiplier^(k-1)`.
    #[test]
    fn after_failure_gives_up_or_retries_after_the_backoff() {
        let backoff = Backoff::Exponential {
            base: dur("10ms"),
            cap: dur("1s"),
            multiplier: 2.0,
        };
        let d = Defences {
            retry: Some(retry(3, vec![RetryOn::Timeout], backoff)),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let deadline_ns = S;
        let mut after = |failure, attempts, now_ns| {
            chain.after_failure(&p, 0, failure, attempts, 0, 0, now_ns, deadline_ns)
        };
        assert_eq!(after(Timeout, 1, 0), AfterFailure::Retry(10 * MS));
        assert_eq!(after(Timeout, 2, 0), AfterFailure::Retry(20 * MS));
        assert_eq!(after(Timeout, 3, 0), AfterFailure::GiveUp, "3 of 3 spent");
        assert_eq!(after(Error, 1, 0), AfterFailure::GiveUp, "not retried");
        assert_eq!(after(Timeout, 1, S - 1), AfterFailure::Retry(10 * MS));
        assert_eq!(
            after(Timeout, 1, S),
            AfterFailure::GiveUp,
            "at the deadline"
        );
    }

    /// With `honor_retry_after` a retry waits at least the server's Retry-After
    /// (`max(backoff, retry_after)`); without it, the backoff alone.
    #[test]
    fn retry_after_is_a_floor_on_the_wait_when_honoured() {
        for honor_retry_after in [true, false] {
            let spec = RetrySpec {
                honor_retry_after,
                ..retry(
                    3,
                    vec![RetryOn::RateLimited],
                    Backoff::Constant(dur("50ms")),
                )
            };
            let d = Defences {
                retry: Some(spec),
                ..Defences::default()
            };
            let (p, mut chain) = edge(d, 1);
            let mut after = |retry_after_ns| {
                chain.after_failure(&p, 0, RateLimited, 1, 0, retry_after_ns, 0, S)
            };
            let longer = if honor_retry_after { 80 * MS } else { 50 * MS };
            assert_eq!(after(80 * MS), AfterFailure::Retry(longer));
            assert_eq!(after(20 * MS), AfterFailure::Retry(50 * MS));
        }
    }

    /// `on_call` feeds the retry budget, and `after_failure` takes a retry from it only when the
    /// policy would retry: with `ratio` 0.5 and no floor, two calls buy one retry; a retry the
    /// budget has no room for is `Denied`; the window forgets calls and retries after it.
    #[test]
    fn the_budget_counts_calls_and_denies_retries_past_its_ratio() {
        let spec = RetrySpec {
            budget: Some(RetryBudget {
                ratio: Some(0.5),
                min_per_s: Some(0.0),
                window: Some(dur("1s")),
                ..RetryBudget::default()
            }),
            ..retry(3, vec![RetryOn::Timeout], Backoff::Constant(dur("50ms")))
        };
        let d = Defences {
            retry: Some(spec),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let retried = AfterFailure::Retry(50 * MS);
        chain.on_call(0);
        chain.on_call(0);
        let after = |chain: &mut EdgeChain, failure, attempts, now_ns| {
            chain.after_failure(&p, 0, failure, attempts, 0, 0, now_ns, 10 * S)
        };
        // Neither takes the one retry the two calls bought.
        assert_eq!(after(&mut chain, Error, 1, 1), AfterFailure::GiveUp);
        assert_eq!(after(&mut chain, Timeout, 3, 1), AfterFailure::GiveUp);
        assert_eq!(after(&mut chain, Timeout, 1, 2), retried);
        assert_eq!(after(&mut chain, Timeout, 1, 3), AfterFailure::Denied);
        chain.on_call(4);
        chain.on_call(4);
        assert_eq!(after(&mut chain, Timeout, 2, 5), retried);
        assert_eq!(after(&mut chain, Timeout, 1, 6), AfterFailure::Denied);
        // At 1 s, second 0 has left the one-second window: two new calls, one new retry.
        chain.on_call(S);
        assert_eq!(after(&mut chain, Timeout, 1, S), AfterFailure::Denied);
        chain.on_call(S);
        assert_eq!(after(&mut chain, Timeout, 1, S), retried);
    }

    /// Backoff draws come from the edge's `/backoff` stream in order, and `previous_ns` reaches
    /// decorrelated jitter: the chain's waits are the policy's own, drawn from that stream.
    #[test]
    fn backoff_draws_come_from_the_edges_backoff_stream() {
        let backoff = Backoff::Decorrelated {
            base: dur("10ms"),
            cap: dur("1s"),
        };
        let d = Defences {
            retry: Some(retry(5, vec![RetryOn::Timeout], backoff)),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let policy = p.retry.as_ref().expect("a retry policy");
        let mut draws = RngFactory::new(SEED, 0).stream(EDGE, "backoff");
        let mut previous_ns = 0;
        for attempts in 1..5 {
            let expected = policy.delay_ns(attempts, previous_ns, &mut draws);
            let after = chain.after_failure(&p, 0, Timeout, attempts, previous_ns, 0, 0, S);
            assert_eq!(
                after,
                AfterFailure::Retry(expected),
                "after attempt {attempts}"
            );
            previous_ns = expected;
        }
        assert!(previous_ns >= 10 * MS);
    }

    #[test]
    fn a_call_handed_a_permit_is_not_asked_by_the_throttle_again() {
        // The throttle stands before the bulkhead: a call that waited for a permit has passed
        // it already. Asking it again could refuse the call while the permit it was handed stays
        // free and later calls jump the queue.
        let d = Defences {
            throttle: Some(grpc(2, 0.5)),
            bulkhead: Some(semaphore(1, "1s")),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        let go = |(a, _): (Admit, Transition)| a;
        assert!(matches!(
            go(chain.admit(&p, attempt(1, 0), 0)),
            Admit::Go { .. }
        ));
        assert_eq!(go(chain.admit(&p, attempt(2, 0), 0)), Admit::Wait);
        assert_eq!(go(chain.admit(&p, attempt(3, 0), 0)), Admit::Wait);
        chain.observe_attempt(
            &p,
            attempt(1, 0),
            observation(1, true, MS, BreakerPhase::Closed),
        );
        assert_eq!(chain.release(0), Some(2));
        let resumed = go(chain.resume(&p, attempt(2, 0), 2));
        assert!(
            matches!(resumed, Admit::Go { permit: true, .. }),
            "{resumed:?}"
        );
        assert_eq!(
            go(chain.admit(&p, attempt(4, 0), 2)),
            Admit::Wait,
            "behind call 3"
        );
    }

    /// Envoy's concurrency budget through the chain: with `budget_percent` 50 and
    /// `min_retry_concurrency` 1, four attempts in flight leave room for ⌊2⌋ active retries;
    /// `after_failure` grants them and `Denied` the third; `retry_over` frees one; attempts
    /// that end shrink the room to the floor. Each caller instance counts its own.
    #[test]
    fn envoys_budget_caps_retries_in_progress() {
        let spec = RetrySpec {
            budget: Some(RetryBudget {
                budget_percent: Some(50.0),
                min_retry_concurrency: Some(1),
                ..RetryBudget::default()
            }),
            ..retry(5, vec![RetryOn::Timeout], Backoff::Constant(dur("10ms")))
        };
        let d = Defences {
            retry: Some(spec),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 2);
        let retried = AfterFailure::Retry(10 * MS);
        let after =
            |chain: &mut EdgeChain, caller| chain.after_failure(&p, caller, Timeout, 1, 0, 0, 0, S);
        for _ in 0..4 {
            chain.on_sent(0);
        }
        assert_eq!(after(&mut chain, 0), retried);
        assert_eq!(after(&mut chain, 0), retried);
        assert_eq!(after(&mut chain, 0), AfterFailure::Denied);
        assert_eq!(after(&mut chain, 1), retried, "the other caller's floor");
        assert_eq!(after(&mut chain, 1), AfterFailure::Denied);
        chain.retry_over(0);
        assert_eq!(after(&mut chain, 0), retried);
        for _ in 0..4 {
            chain.on_attempt_over(0);
        }
        chain.retry_over(0);
        assert_eq!(
            after(&mut chain, 0),
            AfterFailure::Denied,
            "1 active, floor 1"
        );
        chain.retry_over(0);
        assert_eq!(after(&mut chain, 0), retried);
    }

    /// A hedge takes a retry from the edge's Finagle budget, as a retry does: with `ratio` 0.5
    /// and no floor, two calls buy one hedge or one retry, not both; an edge without a budget
    /// hedges freely.
    #[test]
    fn hedges_draw_on_the_finagle_budget() {
        let spec = RetrySpec {
            budget: Some(RetryBudget {
                ratio: Some(0.5),
                min_per_s: Some(0.0),
                ..RetryBudget::default()
            }),
            ..retry(3, vec![RetryOn::Timeout], Backoff::Constant(dur("5ms")))
        };
        let d = Defences {
            retry: Some(spec),
            ..Defences::default()
        };
        let (p, mut chain) = edge(d, 1);
        assert!(!chain.hedge_within_budget(0), "no calls yet");
        chain.on_call(0);
        chain.on_call(0);
        assert!(chain.hedge_within_budget(1));
        assert!(!chain.hedge_within_budget(1));
        let after = chain.after_failure(&p, 0, Timeout, 1, 0, 0, 2, S);
        assert_eq!(after, AfterFailure::Denied, "the hedge took the retry");
        let (_, mut free) = edge(Defences::default(), 1);
        assert!((0..100).all(|t| free.hedge_within_budget(t)));
    }
}
