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

/// Names of the breaker states, as `BreakerState::name` gives them.
pub(super) const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// Per call edge: random streams, defences' state and counters.
pub(super) struct EdgeState {
    /// Latency of requests `[0]` and of replies `[1]`.
    pub(super) rngs: [Stream; 2],
    pub(super) backoff_rng: Stream,
    /// Whether a request makes this call (for `probability` below 1).
    pub(super) skip_rng: Stream,
    /// Client-side throttles, one per caller instance, and their draws.
    pub(super) throttles: Vec<Throttle>,
    pub(super) throttle_rng: Stream,
    /// Latency of good attempts as the caller sees it, for percentile hedging.
    pub(super) observed: Option<Histogram<u64>>,
    /// One per caller instance, or one if shared.
    pub(super) breakers: Vec<Breaker>,
    /// Calls in flight and calls waiting, per caller instance.
    pub(super) bulkhead_in_use: Vec<u32>,
    pub(super) bulkhead_waiting: Vec<VecDeque<u32>>,
    pub(super) budget: Option<Budget>,
    pub(super) stats: EdgeResult,
}

pub(super) fn transition(
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
    /// Makes one attempt of a call, through its breaker and bulkhead.
    pub(super) fn attempt(&mut self, sim: &mut Sim<Event>, call: u32, hedge: bool) {
        let now = sim.now().as_ns();
        let c = self.calls[call as usize];
        let policy = &self.world.calls[c.edge as usize].policy;
        let caller_offset = self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance;
        let es = &mut self.edges[c.edge as usize];
        self.calls[call as usize].attempts += 1;
        if let Some(t) = es.throttles.get_mut(caller_offset as usize) {
            let draw = es.throttle_rng.random::<f64>();
            if !t.allow(now, c.attempts == 0 && !hedge, draw) {
                if c.measured {
                    es.stats.attempts += 1;
                    es.stats.throttled += 1;
                }
                return self.attempt_failed(sim, call, AttemptFailure::Throttled, 0);
            }
        }
        if c.measured {
            es.stats.attempts += 1;
            if c.attempts > 0 {
                es.stats.retries += 1;
            }
        }
        // The bulkhead first (a call waiting for it has not asked the breaker yet), then the breaker.
        let mut took_permit = false;
        if let Some(bh) = &policy.bulkhead {
            let slot = caller_offset as usize;
            if es.bulkhead_in_use[slot] >= bh.max_concurrent {
                if bh.max_wait_ns > 0 && es.bulkhead_waiting[slot].len() < bh.queue_cap as usize {
                    es.bulkhead_waiting[slot].push_back(call);
                    // A pool bulkhead's queue has no time limit: its timer never fires first.
                    let timer = (bh.max_wait_ns < u64::MAX).then(|| {
                        sim.timer_in(
                            SimDuration::from_ns(bh.max_wait_ns),
                            Event::BulkheadWait { call },
                        )
                    });
                    // The attempt is counted when it leaves the queue, one way or the other.
                    self.calls[call as usize].attempts -= 1;
                    if c.measured {
                        es.stats.attempts -= 1;
                        if c.attempts > 0 {
                            es.stats.retries -= 1;
                        }
                    }
                    self.calls[call as usize].wait_timer = timer;
                    self.calls[call as usize].waiting = true;
                    return;
                }
                if c.measured {
                    es.stats.bulkhead_rejected += 1;
                }
                return self.attempt_failed(sim, call, AttemptFailure::BulkheadFull, 0);
            }
            es.bulkhead_in_use[slot] += 1;
            took_permit = true;
        }
        let mut breaker_state = "closed";
        if let Some(bp) = &policy.breaker {
            let breaker = &mut es.breakers[c.slot as usize];
            let (allowed, change) = breaker.try_acquire(bp, now);
            if let Some((from, to)) = change {
                es.stats
                    .breaker_transitions
                    .push(transition(now, bp.shared, c.slot, from, to));
            }
            if !allowed {
                if c.measured {
                    es.stats.breaker_rejected += 1;
                }
                self.release_permit(sim, call, took_permit);
                return self.attempt_failed(sim, call, AttemptFailure::BreakerOpen, 0);
            }
            breaker_state = breaker.state.name();
        }
        self.send(sim, call, breaker_state);
    }

    /// Sends an attempt: a child request to an instance of the callee, with its timer.
    pub(super) fn send(&mut self, sim: &mut Sim<Event>, call: u32, breaker_state: &'static str) {
        let now = sim.now().as_ns();
        let c = self.calls[call as usize];
        let def = &self.world.calls[c.edge as usize];
        let parent = self.requests[c.parent as usize];
        let caller_host = self.instances[parent.instance as usize].host;
        if self.services[def.to as usize].fail_fast > 0 {
            // The call fails before it leaves the caller (a name that does not resolve, a
            // certificate that has expired).
            let holds = def.policy.bulkhead.is_some();
            self.release_permit(sim, call, holds);
            self.record_breaker(call, now, breaker_state, true, 0);
            if c.measured {
                self.edges[c.edge as usize].stats.errors += 1;
            }
            return self.attempt_failed(sim, call, AttemptFailure::Error, 0);
        }
        let region = self.world.hosts[caller_host as usize].region_idx;
        let instance = self.pick_instance(def.to, parent.workload, region, def.write);
        if def.policy.reconnect_ns > 0 && self.reconnecting(instance, def.policy.reconnect_ns, now)
        {
            // The pooled connections to a restarted instance are broken until the pool
            // reconnects: the attempt fails at once.
            let holds = def.policy.bulkhead.is_some();
            self.release_permit(sim, call, holds);
            self.record_breaker(call, now, breaker_state, true, 0);
            if c.measured {
                self.edges[c.edge as usize].stats.errors += 1;
            }
            self.outlier_observe(instance, true, now);
            return self.attempt_failed(sim, call, AttemptFailure::Error, 0);
        }
        let mut child = self.new_request(def.to, instance, parent.workload, now);
        child.write = def.write;
        child.call = call;
        child.edge = c.edge;
        child.pool = def.pool as u8;
        child.caller_host = caller_host;
        child.measured = c.measured;
        child.holds_permit = def.policy.bulkhead.is_some();
        child.breaker_state = BREAKER_STATES
            .iter()
            .position(|&n| n == breaker_state)
            .unwrap_or(0) as u8;
        let inherited = if self.world.services[def.from as usize].honor_deadlines {
            parent.deadline_ns
        } else {
            u64::MAX
        };
        child.deadline_ns = def
            .policy
            .timeout_ns
            .map_or(inherited, |t| inherited.min(now.saturating_add(t)));
        let timeout = def.policy.timeout_ns;
        let hedge = def.policy.hedge;
        let req = self.alloc(sim, child);
        if let Some(t) = &mut self.tracer {
            t.attempt_sent(req, c.parent, self.calls[call as usize].attempts, now);
        }
        let cs = &mut self.calls[call as usize];
        if let Some(free) = cs.children.iter_mut().find(|c| **c == NONE) {
            *free = req;
        }
        cs.outstanding += 1;
        if let Some((after, percentile, max)) = hedge {
            let learned = match (percentile, &self.edges[c.edge as usize].observed) {
                (Some(p), Some(h)) if h.len() >= 50 => Some(h.value_at_quantile(p / 100.0)),
                _ => None,
            };
            let cs = &mut self.calls[call as usize];
            if let Some(delay) = learned.or(after) {
                if cs.hedge_timer.is_none() && u32::from(cs.hedges) < max {
                    cs.hedge_timer =
                        Some(sim.timer_in(SimDuration::from_ns(delay), Event::Hedge { call }));
                }
            }
        }
        if let Some(t) = timeout {
            let timer = sim.timer_in(SimDuration::from_ns(t), Event::Timeout { req });
            self.requests[req as usize].timer = Some(timer);
        }
        let callee_host = self.instances[instance as usize].host;
        let delay = self.network_delay(c.edge, false, caller_host, callee_host);
        let (lost, add) = self.link(caller_host, callee_host);
        if lost {
            return self.drop_message(req);
        }
        sim.schedule_in(
            SimDuration::from_ns(delay.as_ns() + add),
            Event::Deliver { req },
        );
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
    pub(super) fn on_reply(&mut self, sim: &mut Sim<Event>, child: u32) {
        let c = self.requests[child as usize];
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
            self.requests[self.calls[c.call as usize].parent as usize].corrupt = true;
        }
        let failure = match c.outcome {
            Outcome::Completed | Outcome::Degraded => None,
            Outcome::Rejected | Outcome::Shed => Some(AttemptFailure::Rejected),
            Outcome::RateLimited => Some(AttemptFailure::RateLimited),
            Outcome::Failed => Some(AttemptFailure::Error),
            Outcome::Pending => unreachable!("a reply carries a final outcome"),
        };
        self.record_breaker(
            c.call,
            now,
            BREAKER_STATES[c.breaker_state as usize],
            failure.is_some(),
            now - c.created_ns,
        );
        let call = self.calls[c.call as usize];
        self.outlier_observe(c.instance, failure.is_some(), now);
        self.record_throttle(c.call, now, failure.is_none());
        if failure.is_none() {
            if let Some(h) = &mut self.edges[call.edge as usize].observed {
                h.saturating_record(now - c.created_ns);
            }
        }
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
    pub(super) fn on_timeout(&mut self, sim: &mut Sim<Event>, child: u32) {
        let now = sim.now().as_ns();
        let c = &mut self.requests[child as usize];
        c.timer = None;
        c.abandoned = true;
        let (call, holds, state, created) = (
            c.call,
            c.holds_permit,
            BREAKER_STATES[c.breaker_state as usize],
            c.created_ns,
        );
        let (instance, lost) = (c.instance, c.lost);
        if let Some(t) = &mut self.tracer {
            t.mark_attempt(child, "timeout", Some(c.service), now);
        }
        self.requests[child as usize].holds_permit = false;
        self.outlier_observe(instance, true, now);
        if lost {
            self.release(child); // its message (or its answer) was lost: nothing else holds it
        }
        self.release_permit(sim, call, holds);
        self.forget_attempt(call, child);
        self.record_throttle(call, now, false);
        self.record_breaker(call, now, state, true, now - created);
        let measured = self.calls[call as usize].measured;
        if measured {
            self.edges[self.calls[call as usize].edge as usize]
                .stats
                .timeouts += 1;
        }
        self.attempt_failed(sim, call, AttemptFailure::Timeout, 0);
    }

    /// An attempt is no longer outstanding for its call.
    pub(super) fn forget_attempt(&mut self, call: u32, child: u32) {
        let c = &mut self.calls[call as usize];
        if let Some(slot) = c.children.iter_mut().find(|x| **x == child) {
            *slot = NONE;
            c.outstanding -= 1;
        }
    }

    pub(super) fn record_throttle(&mut self, call: u32, now: u64, success: bool) {
        let c = self.calls[call as usize];
        let es = &mut self.edges[c.edge as usize];
        if es.throttles.is_empty() {
            return;
        }
        let offset = self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance;
        es.throttles[offset as usize].record(now, success);
    }

    /// The hedge delay passed with the call still unanswered: send one more attempt.
    pub(super) fn on_hedge(&mut self, sim: &mut Sim<Event>, call: u32) {
        let c = &mut self.calls[call as usize];
        c.hedge_timer = None;
        if c.outstanding == 0 {
            return; // between a failure and its retry: the retry goes out by itself
        }
        c.hedges += 1;
        let (measured, edge) = (c.measured, c.edge);
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
        self.attempt(sim, call, true);
    }

    pub(super) fn record_breaker(
        &mut self,
        call: u32,
        now: u64,
        acquired_in: &'static str,
        failed: bool,
        duration_ns: u64,
    ) {
        let c = self.calls[call as usize];
        let Some(bp) = &self.world.calls[c.edge as usize].policy.breaker else {
            return;
        };
        let es = &mut self.edges[c.edge as usize];
        let slow = duration_ns >= bp.slow_call_ns;
        if let Some((from, to)) =
            es.breakers[c.slot as usize].record(bp, now, acquired_in, failed, slow)
        {
            es.stats
                .breaker_transitions
                .push(transition(now, bp.shared, c.slot, from, to));
        }
    }

    /// Gives back a bulkhead permit, letting the oldest waiting call through.
    pub(super) fn release_permit(&mut self, sim: &mut Sim<Event>, call: u32, holds: bool) {
        if !holds {
            return;
        }
        let c = self.calls[call as usize];
        let slot = (self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance)
            as usize;
        let es = &mut self.edges[c.edge as usize];
        es.bulkhead_in_use[slot] -= 1;
        if let Some(next) = es.bulkhead_waiting[slot].pop_front() {
            self.calls[next as usize].waiting = false;
            if let Some(t) = self.calls[next as usize].wait_timer.take() {
                sim.cancel(t);
            }
            self.attempt(sim, next, false);
        }
    }

    /// A call waited for its bulkhead longer than `max_wait`.
    pub(super) fn on_bulkhead_wait(&mut self, sim: &mut Sim<Event>, call: u32) {
        let c = &mut self.calls[call as usize];
        c.wait_timer = None;
        c.waiting = false;
        c.attempts += 1; // the attempt that could not start
        let c = *c;
        let slot = (self.requests[c.parent as usize].instance
            - self.world.services[self.world.calls[c.edge as usize].from as usize].first_instance)
            as usize;
        let es = &mut self.edges[c.edge as usize];
        es.bulkhead_waiting[slot].retain(|&w| w != call);
        if c.measured {
            es.stats.attempts += 1;
            es.stats.bulkhead_rejected += 1;
            if c.attempts > 1 {
                es.stats.retries += 1;
            }
        }
        self.attempt_failed(sim, call, AttemptFailure::BulkheadFull, 0);
    }

    /// An attempt failed: retry it after its backoff, or end the call.
    pub(super) fn attempt_failed(
        &mut self,
        sim: &mut Sim<Event>,
        call: u32,
        failure: AttemptFailure,
        retry_after_ns: u64,
    ) {
        if self.tracer.is_some() {
            let name = match failure {
                AttemptFailure::BreakerOpen => Some("breaker_open"),
                AttemptFailure::BulkheadFull => Some("bulkhead_full"),
                AttemptFailure::Throttled => Some("throttled"),
                _ => None,
            };
            if let Some(name) = name {
                self.trace_call(call, name, self.calls[call as usize].attempts);
            }
        }
        let c = &self.calls[call as usize];
        if c.outstanding > 0 || c.waiting || c.retry_timer.is_some() {
            // Another attempt of the call is still on its way (a hedge sent or waiting for its
            // bulkhead, or a retry after its backoff): the call goes on.
            return;
        }
        let now = sim.now().as_ns();
        let c = self.calls[call as usize];
        let policy = &self.world.calls[c.edge as usize].policy;
        let parent_deadline = self.requests[c.parent as usize].deadline_ns;
        if let Some(retry) = &policy.retry {
            if c.attempts < retry.attempts && retry.retries(failure) && now < parent_deadline {
                let es = &mut self.edges[c.edge as usize];
                let in_budget = es.budget.as_mut().is_none_or(|b| b.try_retry(now));
                if in_budget {
                    let delay =
                        retry.delay_ns(c.attempts, c.previous_backoff_ns, &mut es.backoff_rng);
                    let delay = if retry.honor_retry_after {
                        delay.max(retry_after_ns)
                    } else {
                        delay
                    };
                    self.calls[call as usize].previous_backoff_ns = delay;
                    self.calls[call as usize].retry_timer =
                        Some(sim.timer_in(SimDuration::from_ns(delay), Event::Retry { call }));
                    return;
                }
                if c.measured {
                    es.stats.retries_denied += 1;
                }
            }
        }
        let outcome = if policy.fallback.is_some() {
            Outcome::Degraded
        } else {
            Outcome::Failed
        };
        self.call_done(sim, call, outcome);
    }

    /// A call is over: `Completed`, `Degraded` (its fallback answered) or `Failed`.
    pub(super) fn call_done(&mut self, sim: &mut Sim<Event>, call: u32, outcome: Outcome) {
        let c = self.calls[call as usize];
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
        if c.waiting {
            let slot = (self.requests[c.parent as usize].instance
                - self.world.services[self.world.calls[c.edge as usize].from as usize]
                    .first_instance) as usize;
            self.edges[c.edge as usize].bulkhead_waiting[slot].retain(|&w| w != call);
        }
        // Attempts still out (hedges) lost the race: nobody waits for them any more.
        for &child in c.children.iter().filter(|&&x| x != NONE) {
            let r = &mut self.requests[child as usize];
            r.abandoned = true;
            let (timer, holds, lost) = (r.timer.take(), r.holds_permit, r.lost);
            r.holds_permit = false;
            if let Some(t) = timer {
                sim.cancel(t);
            }
            self.release_permit(sim, call, holds);
            if lost {
                self.release(child);
            }
        }
        self.free_calls.push(call);
        if c.measured {
            let stats = &mut self.edges[c.edge as usize].stats;
            match outcome {
                Outcome::Completed => stats.ok += 1,
                Outcome::Degraded => stats.degraded += 1,
                _ => stats.failed += 1,
            }
        }
        let p = &mut self.requests[c.parent as usize];
        debug_assert_eq!(p.phase, Phase::Calling);
        p.pending -= 1;
        match outcome {
            Outcome::Completed => {}
            Outcome::Degraded => p.degraded_call = true,
            _ => p.failed_call = true,
        }
        if p.pending > 0 {
            return;
        }
        let i = p.instance as usize;
        if self.instances[i].hung > 0 {
            // A hung process does nothing with the answers until the hang ends.
            self.instances[i].parked.push(c.parent);
            return;
        }
        self.after_calls(sim, c.parent);
    }
}
