//! Client side of a call edge: one logical call of a parent request across its attempts, and the
//! caller's defences on that edge (throttle, bulkhead, circuit breaker, timeout, retries with
//! backoff and budget, hedging, fallback).
//!
//! ```text
//!  call ─▶ throttle ─▶ bulkhead (wait or refuse) ─▶ breaker ─▶ send: child request ─Deliver▶ callee
//!          ├─ Reply ─▶ observe (breaker, outlier, throttle, hedge histogram) ─▶ done │ failed
//!          └─ Timeout ─▶ observe ─▶ failed (the child runs on, abandoned)
//!  failed attempt ─▶ Retry after backoff (attempts, retryable, budget, deadline) │ fallback │ failed
//! ```
//!
//! Randomness: `edge:<from>-><to>/request`, `/reply`, `/backoff`, `/skip`, `/throttle`.

use super::*;

mod chain;

use chain::{Admit, Transition};
pub(super) use chain::{AfterFailure, Attempt, EdgeChain, Observation};

/// Per call edge: its network draws, whether a request makes the call, its chain of defences,
/// and its counters.
pub(super) struct EdgeState {
    /// Latency of requests `[0]` and of replies `[1]`.
    pub(super) rngs: [Stream; 2],
    /// Whether a request makes this call (for `probability` below 1), drawn ahead into
    /// `ServiceModel::skips`.
    pub(super) skip_rng: Stream,
    pub(super) chain: EdgeChain,
    /// Its counters; the series of calls and attempts are in `rows` until the end of the run.
    pub(super) stats: EdgeResult,
    /// Calls and attempts per bucket, side by side (a call touches one line for both).
    pub(super) rows: Vec<EdgeRow>,
    /// Retries in progress on the edge, for `retries_active_max` and `_mean`.
    pub(super) retries_active: Gauge,
}

/// Whether requests make a call whose `probability` is below 1, decided ahead: the edge's next
/// 64 `/skip` draws, taken in the stream's order when the last are used, each kept as one bit
/// (`draw < probability`) and used one per decision, as if drawn then (a stream's values and
/// their order are those of one draw a decision). A wide step's decisions then read a few dense
/// lines (four edges a line) instead of, per edge, its call's definition and the buffer and
/// position of a cold ChaCha generator.
#[derive(Copy, Clone, Default)]
pub(super) struct Skip {
    /// The decisions left, the next in the lowest bit.
    bits: u64,
    /// How many of `bits` are left; `ALWAYS`: a probability of 1 or more (never a draw).
    left: u32,
}

impl Skip {
    const ALWAYS: u32 = u32::MAX;

    pub(super) fn new(c: &CallDef) -> Self {
        Skip {
            bits: 0,
            left: if c.policy.probability >= 1.0 {
                Self::ALWAYS
            } else {
                0
            },
        }
    }
}

/// One bucket of an edge's series while the run goes on.
#[derive(Copy, Clone, Default)]
pub(super) struct EdgeRow {
    pub(super) calls: u64,
    pub(super) attempts: u64,
}

/// A count in progress over time: now, the most since the warm-up ended, and its time-weighted
/// area since then.
#[derive(Clone, Debug, Default)]
pub(super) struct Gauge {
    now: u32,
    max: u32,
    area: u128,
    since_ns: u64,
}

impl Gauge {
    fn touch(&mut self, now_ns: u64) {
        self.area += u128::from(self.now) * u128::from(now_ns - self.since_ns);
        self.since_ns = now_ns;
    }

    /// One more (`up`) or one fewer at `now_ns`.
    pub(super) fn step(&mut self, now_ns: u64, up: bool) {
        self.touch(now_ns);
        if up {
            self.now += 1;
            self.max = self.max.max(self.now);
        } else {
            self.now.dec();
        }
    }

    /// The warm-up ends: the measured window starts with the count as it is.
    pub(super) fn restart(&mut self, now_ns: u64) {
        self.touch(now_ns);
        self.area = 0;
        self.max = self.now;
    }

    /// (most at once, mean over the `measured_ns` ending at `end_ns`).
    pub(super) fn close(&mut self, end_ns: u64, measured_ns: u64) -> (u32, f64) {
        self.touch(end_ns);
        (self.max, self.area as f64 / measured_ns.max(1) as f64)
    }
}

/// How an attempt asks the edge's chain to go out.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Ask {
    /// A call's first attempt, or a retry after its backoff.
    New,
    /// One more attempt while the call's others are still out.
    Hedge,
    /// An attempt that waited for a bulkhead permit and was handed one: the throttle already
    /// let it through.
    Resumed,
}

impl EdgeState {
    /// The edge of call `c`, with its streams (`edge:<from>-><to>/...`) and its chain.
    pub(super) fn new(world: &World, c: &CallDef, rngs: &RngFactory, n_buckets: usize) -> Self {
        let (from, to) = (
            &world.services[c.from as usize].name,
            &world.services[c.to as usize].name,
        );
        let name = format!("edge:{from}->{to}");
        let callers = world.services[c.from as usize].n_instances as usize;
        EdgeState {
            rngs: [rngs.stream(&name, "request"), rngs.stream(&name, "reply")],
            skip_rng: rngs.stream(&name, "skip"),
            chain: EdgeChain::new(&c.policy, callers, rngs, &name),
            stats: EdgeResult {
                from: from.clone(),
                to: to.clone(),
                breaker_open: if c.policy.breaker.is_some() {
                    vec![0; n_buckets]
                } else {
                    Vec::new()
                },
                ..EdgeResult::default()
            },
            rows: vec![EdgeRow::default(); n_buckets],
            retries_active: Gauge::default(),
        }
    }
}

fn transition(
    now: u64,
    shared: bool,
    slot: u32,
    from: BreakerState,
    to: BreakerState,
) -> BreakerTransition {
    BreakerTransition {
        t_ns: now,
        instance: if shared { None } else { Some(slot) },
        from: from.name().into(),
        to: to.name().into(),
    }
}

impl ServiceModel<'_> {
    /// Whether this request makes the call over `edge` (see `Skip`).
    #[inline]
    pub(super) fn makes_call(&mut self, edge: usize) -> bool {
        let skip = &mut self.skips[edge];
        if skip.left == Skip::ALWAYS {
            return true;
        }
        if skip.left == 0 {
            self.draw_skips(edge);
        }
        let skip = &mut self.skips[edge];
        let made = skip.bits & 1 != 0;
        skip.bits >>= 1;
        skip.left -= 1;
        made
    }

    /// The next 64 decisions of `edge`, from its `/skip` stream.
    #[cold]
    #[inline(never)]
    fn draw_skips(&mut self, edge: usize) {
        let p = self.world.calls[edge].policy.probability;
        let rng = &mut self.edges[edge].skip_rng;
        let mut bits = 0u64;
        for k in 0..64 {
            if rng.random::<f64>() < p {
                bits |= 1 << k;
            }
        }
        self.skips[edge] = Skip { bits, left: 64 };
    }

    /// Makes one attempt of a call, through the chain of defences of its edge.
    #[inline]
    pub(super) fn attempt(&mut self, sim: &mut Sim<Event>, call: u32, ask: Ask) {
        let now = sim.now().as_ns();
        let c = self.calls[call];
        let a = self.attempt_of(call);
        let policy = &self.world.calls[c.edge as usize].policy;
        self.calls[call].attempts += 1;
        let es = &mut self.edges[c.edge as usize];
        let (admit, change) = match ask {
            Ask::Resumed => es.chain.resume(policy, a, now),
            _ => es.chain.admit(policy, a, now),
        };
        self.record_transition(c.edge, a.breaker, now, change);
        let bucket = self.bucket;
        let EdgeState { stats, rows, .. } = &mut self.edges[c.edge as usize];
        match admit {
            Admit::Wait => {
                // The attempt is counted when it leaves the queue, one way or the other.
                self.calls[call].attempts.dec();
                let bh = policy
                    .bulkhead
                    .as_ref()
                    .expect("only a bulkhead queues a call");
                // A pool bulkhead's queue has no time limit: its timer never fires first.
                let wait = SimDuration::from_ns(bh.max_wait_ns);
                let timer = (bh.max_wait_ns < u64::MAX)
                    .then(|| sim.timer_in(wait, Event::BulkheadWait { call }));
                let cs = &mut self.calls[call];
                cs.wait_timer = timer;
                cs.waiting = true;
                return;
            }
            Admit::Refused {
                failure: AttemptFailure::Throttled,
                ..
            } => {
                rows[bucket].attempts += 1;
                if c.measured {
                    stats.attempts += 1;
                    stats.throttled += 1;
                }
                return self.attempt_failed(sim, call, AttemptFailure::Throttled, 0);
            }
            _ => {}
        }
        rows[bucket].attempts += 1;
        if c.measured {
            stats.attempts += 1;
            if c.attempts > 0 {
                stats.retries += 1;
            }
        }
        match admit {
            Admit::Go { phase, .. } => self.send(sim, call, phase),
            Admit::Refused { failure, next } => {
                if c.measured {
                    match failure {
                        AttemptFailure::BulkheadFull => stats.bulkhead_rejected += 1,
                        _ => stats.breaker_rejected += 1,
                    }
                }
                self.let_through(sim, next);
                self.attempt_failed(sim, call, failure, 0)
            }
            Admit::Wait => unreachable!("handled above"),
        }
    }

    /// The chain's view of a call's current attempt: its caller instance and its breaker.
    #[inline]
    pub(super) fn attempt_of(&self, call: u32) -> Attempt {
        let c = &self.calls[call];
        let from = self.world.calls[c.edge as usize].from;
        let caller =
            self.requests[c.parent].instance - self.world.services[from as usize].first_instance;
        Attempt {
            call,
            caller,
            breaker: c.slot,
        }
    }

    /// A breaker of `edge` changed state: the change joins the edge's results.
    fn record_transition(&mut self, edge: u32, slot: u32, now: u64, change: Transition) {
        let Some((from, to)) = change else { return };
        let policy = &self.world.calls[edge as usize].policy;
        let shared = policy.breaker.as_ref().is_some_and(|b| b.shared);
        let t = transition(now, shared, slot, from, to);
        let transitions = &mut self.edges[edge as usize].stats.breaker_transitions;
        if transitions.len() < crate::results::BREAKER_TRANSITIONS_MAX {
            transitions.push(t);
        }
    }

    /// The single hook where an attempt's outcome is learned: every defence of its edge that
    /// learns (breaker, throttle, hedging) and, when the attempt reached an instance, outlier
    /// detection at that instance, with the answer in Envoy's terms. Every attempt the chain let
    /// through comes here exactly once.
    #[inline]
    pub(super) fn observe_attempt(
        &mut self,
        call: u32,
        reached: Option<(u32, Answer)>,
        o: Observation,
    ) {
        let edge = self.calls[call].edge;
        if self.edges[edge as usize].chain.learns() {
            let a = self.attempt_of(call);
            let policy = &self.world.calls[edge as usize].policy;
            let change = self.edges[edge as usize]
                .chain
                .observe_attempt(policy, a, o);
            self.record_transition(edge, a.breaker, o.now_ns, change);
        }
        if let Some((i, answer)) = reached {
            self.outlier_observe(i, answer, o.now_ns);
        }
    }

    /// Sends an attempt: a child request to an instance of the callee, with its timers.
    #[inline]
    pub(super) fn send(&mut self, sim: &mut Sim<Event>, call: u32, phase: BreakerPhase) {
        let now = sim.now().as_ns();
        let c = self.calls[call];
        let def = &self.world.calls[c.edge as usize];
        let parent = self.requests[c.parent];
        let caller_host = self.host_of[parent.instance as usize];
        if self.svc_faults[def.to as usize].fail_fast > 0 || self.edge_aborts(c.edge) {
            // The call fails before it leaves the caller (a name that does not resolve, a
            // certificate that has expired).
            return self.fail_before_leaving(sim, call, None, phase);
        }
        let region = self.locality(def.to, caller_host);
        let mut instance = self.pick_instance(def.to, parent.workload, region, def.write, c.key);
        if def.write && !self.active_links.is_empty() {
            instance = self.split_brain_route(def.to as usize, instance, caller_host);
        }
        if def.policy.reconnect_ns > 0 && self.reconnecting(instance, def.policy.reconnect_ns, now)
        {
            // The pooled connections to a restarted instance are broken until the pool
            // reconnects: the attempt fails at once.
            return self.fail_before_leaving(sim, call, Some(instance), phase);
        }
        let child = self.child_request(call, instance, caller_host, phase, now);
        let req = self.alloc(sim, child);
        self.size_attempt(req, c.edge);
        if let Some(t) = &mut self.tracer {
            t.attempt_sent(req, c.parent, self.calls[call].attempts, now);
        }
        let cs = &mut self.calls[call];
        if let Some(free) = cs.children.iter_mut().find(|c| **c == NONE) {
            *free = req;
        }
        cs.outstanding += 1;
        let caller = self.attempt_of(call).caller;
        self.edges[c.edge as usize].chain.on_sent(caller);
        self.arm_attempt_timers(sim, call, req);
        let callee_host = self.host_of[instance as usize];
        let delay = self.network_delay(c.edge, false, caller_host, callee_host);
        let bytes = self.request_bytes(req);
        let size = MsgSize::Bytes(bytes);
        let (lost, add) = self.call_link(c.edge, caller_host, callee_host, size);
        if lost {
            return self.drop_message(req);
        }
        let then = Event::Deliver { req };
        let delay = delay.as_ns() + add;
        self.transmit(
            sim,
            (caller_host, callee_host),
            bytes,
            net::Class::User,
            then,
            delay,
        );
    }

    /// An attempt the chain let through fails before it leaves the caller (at `instance`, if it
    /// had picked one): an error, observed like any other outcome.
    fn fail_before_leaving(
        &mut self,
        sim: &mut Sim<Event>,
        call: u32,
        instance: Option<u32>,
        phase: BreakerPhase,
    ) {
        let now = sim.now().as_ns();
        let c = self.calls[call];
        let holds = self.world.calls[c.edge as usize].policy.bulkhead.is_some();
        self.release_permit(sim, call, holds);
        let o = Observation {
            now_ns: now,
            failed: true,
            duration_ns: 0,
            phase,
        };
        // A connection that fails is a 503 to Envoy's outlier detection.
        let reached = instance.map(|i| (i, Answer::GatewayFailure));
        self.observe_attempt(call, reached, o);
        if c.measured {
            self.edges[c.edge as usize].stats.errors += 1;
        }
        self.attempt_failed(sim, call, AttemptFailure::Error, 0)
    }

    /// The request an attempt of `call` sends to `instance`, with the caller's deadline.
    fn child_request(
        &self,
        call: u32,
        instance: u32,
        caller_host: u32,
        phase: BreakerPhase,
        now: u64,
    ) -> Request {
        let c = self.calls[call];
        let def = &self.world.calls[c.edge as usize];
        let parent = &self.requests[c.parent];
        let mut child = self.new_request(def.to, instance, parent.workload, now);
        child.crit = def.criticality.unwrap_or(parent.crit);
        child.write = def.write;
        child.call = call;
        child.edge = c.edge;
        child.pool = def.pool as u8;
        child.caller_host = caller_host;
        child.measured = c.measured;
        child.holds_permit = def.policy.bulkhead.is_some();
        child.breaker_phase = phase;
        child.key = c.key;
        let inherited = if self.world.services[def.from as usize].honor_deadlines {
            parent.deadline_ns
        } else {
            u64::MAX
        };
        child.deadline_ns = def
            .policy
            .timeout_ns
            .map_or(inherited, |t| inherited.min(now.saturating_add(t)));
        child
    }

    /// The call's hedge timer (if it hedges, knows a delay and has hedges left) and the
    /// attempt's timeout.
    fn arm_attempt_timers(&mut self, sim: &mut Sim<Event>, call: u32, req: u32) {
        let edge = self.calls[call].edge;
        let policy = &self.world.calls[edge as usize].policy;
        if let Some(h) = &policy.hedge {
            let caller = self.attempt_of(call).caller;
            let delay = self.edges[edge as usize].chain.hedge_delay(policy, caller);
            let cs = &mut self.calls[call];
            if let Some(delay) = delay {
                if cs.hedge_timer.is_none() && u32::from(cs.hedges) < h.max {
                    cs.hedge_timer =
                        Some(sim.timer_in(SimDuration::from_ns(delay), Event::Hedge { call }));
                }
            }
        }
        if let Some(t) = policy.timeout_ns {
            let timer = sim.timer_in(SimDuration::from_ns(t), Event::Timeout { req });
            self.requests[req].timer = Some(timer);
        }
    }

    #[inline]
    pub(super) fn network_delay(
        &mut self,
        edge: u32,
        reply: bool,
        from_host: u32,
        to_host: u32,
    ) -> SimDuration {
        let dist = &self.world.latency[self.world.distance(from_host, to_host) as usize];
        dist.sample(&mut self.edges[edge as usize].rngs[usize::from(reply)])
    }

    /// An attempt's answer reaches the caller.
    #[inline]
    pub(super) fn on_reply(&mut self, sim: &mut Sim<Event>, child: u32) {
        let c = self.requests[child];
        self.release(child);
        if c.abandoned {
            return; // the caller stopped waiting at its timeout; nobody reads this answer
        }
        if let Some(t) = c.timer {
            sim.cancel(t);
        }
        let now = sim.now().as_ns();
        self.release_permit(sim, c.call, c.holds_permit);
        self.forget_attempt(c.call, child);
        if c.corrupt {
            self.requests[self.calls[c.call].parent].corrupt = true;
        }
        let failure = match c.outcome {
            Outcome::Completed | Outcome::Degraded => None,
            Outcome::Rejected | Outcome::Shed => Some(AttemptFailure::Rejected),
            Outcome::RateLimited => Some(AttemptFailure::RateLimited),
            Outcome::Failed => Some(AttemptFailure::Error),
            Outcome::Pending => unreachable!("a reply carries a final outcome"),
        };
        let o = Observation {
            now_ns: now,
            failed: failure.is_some(),
            duration_ns: now - c.created_ns,
            phase: c.breaker_phase,
        };
        // To outlier detection a refusal is a 503, a 429 no 5xx at all, a failure a 500.
        let answer = match failure {
            None | Some(AttemptFailure::RateLimited) => Answer::Success,
            Some(AttemptFailure::Rejected) => Answer::GatewayFailure,
            Some(_) => Answer::Error,
        };
        self.observe_attempt(c.call, Some((c.instance, answer)), o);
        let call = self.calls[c.call];
        if call.measured {
            let stats = &mut self.edges[call.edge as usize].stats;
            match failure {
                Some(AttemptFailure::Rejected) => stats.rejected += 1,
                Some(AttemptFailure::RateLimited) => stats.rate_limited += 1,
                Some(_) => stats.errors += 1,
                None => {}
            }
        }
        match failure {
            None => self.call_done(sim, c.call, Outcome::Completed),
            Some(f) => self.attempt_failed(sim, c.call, f, c.retry_after_ns),
        }
    }

    /// The caller's timer for an attempt fired: it stops waiting (the callee carries on).
    #[inline]
    pub(super) fn on_timeout(&mut self, sim: &mut Sim<Event>, child: u32) {
        let now = sim.now().as_ns();
        let c = &mut self.requests[child];
        c.timer = None;
        c.abandoned = true;
        let (call, holds, phase, created) = (c.call, c.holds_permit, c.breaker_phase, c.created_ns);
        let (instance, lost) = (c.instance, c.lost);
        if let Some(t) = &mut self.tracer {
            t.mark_attempt(child, "timeout", Some(c.service), now);
        }
        self.requests[child].holds_permit = false;
        if lost {
            self.release(child); // its message (or its answer) was lost: nothing else holds it
        }
        self.release_permit(sim, call, holds);
        self.forget_attempt(call, child);
        let o = Observation {
            now_ns: now,
            failed: true,
            duration_ns: now - created,
            phase,
        };
        // A timeout is a 504 to outlier detection.
        self.observe_attempt(call, Some((instance, Answer::GatewayFailure)), o);
        let measured = self.calls[call].measured;
        if measured {
            self.edges[self.calls[call].edge as usize].stats.timeouts += 1;
        }
        self.attempt_failed(sim, call, AttemptFailure::Timeout, 0);
    }

    /// An attempt is no longer outstanding for its call.
    #[inline]
    pub(super) fn forget_attempt(&mut self, call: u32, child: u32) {
        let c = &mut self.calls[call];
        if let Some(slot) = c.children.iter_mut().find(|x| **x == child) {
            *slot = NONE;
            c.outstanding.dec();
            let edge = c.edge as usize;
            if self.edges[edge].chain.counts_concurrency() {
                let caller = self.attempt_of(call).caller;
                self.edges[edge].chain.on_attempt_over(caller);
            }
        }
    }

    /// The call's retry in progress (if it has one) is over: its attempt failed and the call
    /// decides again, or the call ended.
    #[inline]
    fn end_retry(&mut self, call: u32, now_ns: u64) {
        if !self.calls[call].holds_retry {
            return;
        }
        self.calls[call].holds_retry = false;
        let (edge, caller) = (self.calls[call].edge, self.attempt_of(call).caller);
        let es = &mut self.edges[edge as usize];
        es.chain.retry_over(caller);
        es.retries_active.step(now_ns, false);
    }

    /// The hedge delay passed with the call still unanswered: send one more attempt.
    pub(super) fn on_hedge(&mut self, sim: &mut Sim<Event>, call: u32) {
        let c = &mut self.calls[call];
        c.hedge_timer = None;
        if c.outstanding == 0 {
            return; // between a failure and its retry: the retry goes out by itself
        }
        let (measured, edge) = (c.measured, c.edge);
        let es = &mut self.edges[edge as usize];
        if !es.chain.hedge_within_budget(self.now_ns) {
            if measured {
                es.stats.retries_denied += 1;
            }
            return;
        }
        let c = &mut self.calls[call];
        c.hedges += 1;
        if let Some(t) = &mut self.tracer {
            let (parent, attempt) = (c.parent, c.attempts + 1);
            t.mark_call(
                parent,
                "hedge",
                self.world.calls[edge as usize].to,
                attempt,
                self.now_ns,
            );
        }
        if measured {
            self.edges[edge as usize].stats.hedges += 1;
        }
        self.attempt(sim, call, Ask::Hedge);
    }

    /// Gives back a bulkhead permit, letting the oldest waiting call through.
    #[inline]
    pub(super) fn release_permit(&mut self, sim: &mut Sim<Event>, call: u32, holds: bool) {
        if !holds {
            return;
        }
        let a = self.attempt_of(call);
        let edge = self.calls[call].edge;
        let next = self.edges[edge as usize].chain.release(a.caller);
        self.let_through(sim, next);
    }

    /// A call that waited for a bulkhead permit asks again (after a permit was given back).
    fn let_through(&mut self, sim: &mut Sim<Event>, next: Option<u32>) {
        let Some(next) = next else { return };
        self.calls[next].waiting = false;
        if let Some(t) = self.calls[next].wait_timer.take() {
            sim.cancel(t);
        }
        self.attempt(sim, next, Ask::Resumed);
    }

    /// A call waited for its bulkhead longer than `max_wait`.
    pub(super) fn on_bulkhead_wait(&mut self, sim: &mut Sim<Event>, call: u32) {
        let c = &mut self.calls[call];
        c.wait_timer = None;
        c.waiting = false;
        c.attempts += 1; // the attempt that could not start
        let c = *c;
        let caller = self.attempt_of(call).caller;
        let es = &mut self.edges[c.edge as usize];
        es.chain.stop_waiting(caller, call);
        es.rows[self.bucket].attempts += 1;
        if c.measured {
            es.stats.attempts += 1;
            es.stats.bulkhead_rejected += 1;
            if c.attempts > 1 {
                es.stats.retries += 1;
            }
        }
        self.attempt_failed(sim, call, AttemptFailure::BulkheadFull, 0);
    }

    /// Traces a refusal of the chain (an open breaker, a full bulkhead, a throttle).
    #[cold]
    fn trace_refusal(&mut self, call: u32, failure: AttemptFailure) {
        let name = match failure {
            AttemptFailure::BreakerOpen => "breaker_open",
            AttemptFailure::BulkheadFull => "bulkhead_full",
            AttemptFailure::Throttled => "throttled",
            _ => return,
        };
        self.trace_call(call, name, self.calls[call].attempts);
    }

    /// An attempt failed: retry it after its backoff, or end the call.
    #[inline]
    pub(super) fn attempt_failed(
        &mut self,
        sim: &mut Sim<Event>,
        call: u32,
        failure: AttemptFailure,
        retry_after_ns: u64,
    ) {
        if self.tracer.is_some() {
            self.trace_refusal(call, failure);
        }
        let c = self.calls[call];
        let policy = &self.world.calls[c.edge as usize].policy;
        let caller = self.attempt_of(call).caller;
        let es = &mut self.edges[c.edge as usize];
        if c.outstanding > 0 || c.waiting || c.retry_timer.is_some() {
            // Another attempt of the call is still on its way (a hedge sent or waiting for its
            // bulkhead, or a retry after its backoff): the call goes on. The throttle learns the
            // failure all the same, and may stop the call's hedging.
            if !es.chain.failed_while_out(policy, caller, failure) {
                if let Some(t) = self.calls[call].hedge_timer.take() {
                    sim.cancel(t);
                }
            }
            return;
        }
        let now = sim.now().as_ns();
        self.end_retry(call, now);
        let deadline = self.requests[c.parent].deadline_ns;
        let (attempts, previous) = (c.attempts, c.previous_backoff_ns);
        let es = &mut self.edges[c.edge as usize];
        let after = es.chain.after_failure(
            policy,
            caller,
            failure,
            attempts,
            previous,
            retry_after_ns,
            now,
            deadline,
        );
        match after {
            AfterFailure::Retry(delay) => {
                es.retries_active.step(now, true);
                let timer = sim.timer_in(SimDuration::from_ns(delay), Event::Retry { call });
                let cs = &mut self.calls[call];
                cs.previous_backoff_ns = delay;
                cs.retry_timer = Some(timer);
                cs.holds_retry = true;
                return;
            }
            AfterFailure::Denied if c.measured => es.stats.retries_denied += 1,
            AfterFailure::Throttled if c.measured => es.stats.throttled += 1,
            AfterFailure::Denied | AfterFailure::Throttled | AfterFailure::GiveUp => {}
        }
        if after == AfterFailure::Throttled && self.tracer.is_some() {
            // gRPC retry throttling refused the retry when this attempt failed.
            self.trace_call(call, "throttled", attempts);
        }
        let outcome = if policy.fallback.is_some() {
            Outcome::Degraded
        } else {
            Outcome::Failed
        };
        self.call_done(sim, call, outcome);
    }

    /// A call is over: `Completed`, `Degraded` (its fallback answered) or `Failed`.
    #[inline]
    pub(super) fn call_done(&mut self, sim: &mut Sim<Event>, call: u32, outcome: Outcome) {
        let c = self.calls[call];
        if let Some(t) = c.hedge_timer {
            sim.cancel(t);
        }
        // An attempt (a hedge) may still be waiting for a bulkhead permit: it is not needed now.
        if let Some(t) = c.wait_timer {
            sim.cancel(t);
        }
        if let Some(t) = c.retry_timer {
            sim.cancel(t);
        }
        let caller = self.attempt_of(call).caller;
        if c.waiting {
            self.edges[c.edge as usize].chain.stop_waiting(caller, call);
        }
        self.end_retry(call, sim.now().as_ns());
        // Attempts still out (hedges) lost the race: nobody waits for them any more.
        for &child in c.children.iter().filter(|&&x| x != NONE) {
            let r = &mut self.requests[child];
            r.abandoned = true;
            let (timer, holds, lost) = (r.timer.take(), r.holds_permit, r.lost);
            r.holds_permit = false;
            self.edges[c.edge as usize].chain.on_attempt_over(caller);
            if let Some(t) = timer {
                sim.cancel(t);
            }
            self.release_permit(sim, call, holds);
            if lost {
                self.release(child);
            }
        }
        self.calls.remove(call);
        if c.measured {
            let stats = &mut self.edges[c.edge as usize].stats;
            match outcome {
                Outcome::Completed => stats.ok += 1,
                Outcome::Degraded => stats.degraded += 1,
                _ => stats.failed += 1,
            }
        }
        if self.world.calls[c.edge as usize].fronted {
            self.cache_fetched(sim, c.parent, outcome);
        }
        self.call_answered(sim, c.parent, outcome);
    }

    /// One call of `parent`'s step is over with `outcome` (or, for a cache's follower, the
    /// fetch it waited for): once every call of the step is, the parent goes on.
    #[inline]
    pub(super) fn call_answered(&mut self, sim: &mut Sim<Event>, parent: u32, outcome: Outcome) {
        let p = &mut self.requests[parent];
        debug_assert_eq!(p.phase, Phase::Calling);
        p.pending.dec();
        match outcome {
            Outcome::Completed => {}
            Outcome::Degraded => p.degraded_call = true,
            _ => p.failed_call = true,
        }
        if p.pending > 0 {
            return;
        }
        let i = p.instance as usize;
        if self.process[i].hung > 0 {
            // A hung process does nothing with the answers until the hang ends.
            self.process[i].parked.push(parent);
            return;
        }
        self.after_calls(sim, parent);
    }
}
