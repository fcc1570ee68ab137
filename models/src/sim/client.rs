//! Workload clients: open-loop arrivals (Poisson by thinning over the rate function, or
//! constant), the client's latency to its entry instance (farther in another region), its
//! retries (of answered failures and of its own timeouts: backoff, jitter, Retry-After, and a
//! budget of either form over the workload's requests), its timeout per attempt, and users'
//! sessions kept on instances.
//!
//! ```text
//!  arrival ─▶ attempt ─▶ answer ─▶ good: done │ retried failure: ClientRetry after backoff
//!                  └──▶ ClientTimeout ─▶ Timeout retried: the attempt runs on unwatched, a new
//!                                        slot waits for ClientRetry │ else: failed
//! ```
//!
//! Randomness: `workload:<name>/arrivals`, `/client-out`, `/client-back`, `/retry`,
//! `/cross-region`, `/users`.

use super::*;

pub(super) struct WorkloadState {
    pub(super) arrival_rng: Stream,
    /// Client latency towards the service, and back: two streams, so that the order in which
    /// answers come back (which differs between designs) never shifts the requests' draws.
    pub(super) client_out_rng: Stream,
    pub(super) client_back_rng: Stream,
    pub(super) retry_rng: Stream,
    /// Extra latency to an entry instance outside the clients' region.
    pub(super) far_rng: Stream,
    pub(super) timeouts: u64,
    pub(super) corrupt: u64,
    pub(super) series_ok: Vec<u64>,
    pub(super) series_bad: Vec<u64>,
    /// Good answers (successful within the SLO's latency) per bucket.
    pub(super) series_good: Vec<u64>,
    /// Which user each request comes from, and each user's session: (instance, last request);
    /// only when the entry service keeps sessions locally.
    pub(super) users_rng: Stream,
    pub(super) sessions: Vec<(u32, u64)>,
    pub(super) retries: u64,
    pub(super) retries_denied: u64,
    /// The clients' retry budget: Finagle's over the workload's requests, or Envoy's over its
    /// attempts in flight (the clients as one caller).
    pub(super) budget: Option<Budget>,
    pub(super) concurrent: Option<ConcurrentBudget>,
    pub(super) measured: Ledger,
    pub(super) all: Ledger,
    pub(super) answers: Answers,
}

impl WorkloadState {
    /// The clients of workload `w`, with their streams (`workload:<name>/...`).
    pub(super) fn new(world: &World, w: &WorkloadDef, rngs: &RngFactory, n_buckets: usize) -> Self {
        let name = format!("workload:{}", w.name);
        let sticky = world.services[w.entry as usize]
            .recovery
            .local_sessions_ttl_ns
            .is_some();
        WorkloadState {
            arrival_rng: rngs.stream(&name, "arrivals"),
            client_out_rng: rngs.stream(&name, "client-out"),
            client_back_rng: rngs.stream(&name, "client-back"),
            retry_rng: rngs.stream(&name, "retry"),
            far_rng: rngs.stream(&name, "cross-region"),
            timeouts: 0,
            corrupt: 0,
            series_ok: vec![0; n_buckets],
            series_bad: vec![0; n_buckets],
            series_good: vec![0; n_buckets],
            users_rng: rngs.stream(&name, "users"),
            sessions: if sticky {
                vec![(NONE, 0); w.users as usize]
            } else {
                Vec::new()
            },
            retries: 0,
            retries_denied: 0,
            budget: w
                .retry
                .as_ref()
                .and_then(|r| r.budget.clone())
                .map(Budget::new),
            concurrent: w
                .retry
                .as_ref()
                .and_then(|r| r.concurrent_budget.clone())
                .map(ConcurrentBudget::new),
            measured: Ledger::default(),
            all: Ledger::default(),
            answers: Answers::new(&w.slo),
        }
    }
}

/// The next of evenly spaced arrivals after one at `t_ns`: spaced in operational time, so the
/// next comes when the rate's integral since `t_ns` reaches one arrival. A step in the rate takes
/// effect at the step (0.1/s stepped to 100/s at 1 s: the next arrival 9 ms after the step, not
/// 10 s after the last one). Within a ramp the rate at the start of the piece is used.
fn next_constant(rate: &RateFn, t_ns: u64, horizon: u64) -> Option<u64> {
    let mut t = t_ns;
    // The share of an arrival still to accumulate.
    let mut need = 1.0f64;
    while t <= horizon {
        let (_, end, _, _) = rate.segment(t);
        let r = rate.at(t);
        if r <= 0.0 {
            if end == u64::MAX {
                return None;
            }
            t = end; // a pause, or a ramp up from zero: start at its end
            continue;
        }
        let gap = need * 1e9 / r;
        if end == u64::MAX || (t as f64 + gap) < end as f64 {
            let next = t.saturating_add(crate::dist::round_ns(gap).max(1));
            return Some(next).filter(|&c| c <= horizon);
        }
        need -= (end - t) as f64 * r / 1e9;
        t = end;
    }
    None
}

impl ServiceModel<'_> {
    /// The time of the next arrival of workload `w` after `t_ns`, or `None` when there is none
    /// before the horizon. Poisson arrivals with a changing rate are drawn by thinning, segment by
    /// segment of the rate function (exact for steps and ramps).
    #[inline]
    pub(super) fn next_arrival(&mut self, w: u32, t_ns: u64) -> Option<u64> {
        let def = &self.world.workloads[w as usize];
        let rng = &mut self.workloads[w as usize].arrival_rng;
        let horizon = self.world.horizon.as_ns();
        if matches!(def.kind, ArrivalKind::Constant) {
            return next_constant(&def.rate, t_ns, horizon);
        }
        let mut t = t_ns;
        while t <= horizon {
            let (_, end, r0, r1) = def.rate.segment(t);
            let r_max = r0.max(r1);
            if r_max <= 0.0 {
                if end == u64::MAX {
                    return None;
                }
                t = end;
                continue;
            }
            let candidate = match def.kind {
                ArrivalKind::Poisson => {
                    let x: f64 = rng.sample(Exp1);
                    t.saturating_add(crate::dist::round_ns(x * 1e9 / r_max))
                }
                ArrivalKind::Constant => unreachable!("constant arrivals are spaced above"),
            };
            if end != u64::MAX && candidate >= end {
                t = end; // memoryless: restart at the segment boundary with the next rate
                continue;
            }
            if r0 == r1 || rng.random::<f64>() * r_max <= def.rate.at(candidate) {
                return Some(candidate).filter(|&c| c <= horizon);
            }
            t = candidate;
        }
        None
    }

    #[inline]
    pub(super) fn on_arrival(&mut self, sim: &mut Sim<Event>, w: u32) {
        let now = sim.now().as_ns();
        let wdef = &self.world.workloads[w as usize];
        let entry = wdef.entry;
        let (user, sticky) = self.session_of(w, now);
        let key = self.draw_workload_key(w);
        let wdef = &self.world.workloads[w as usize];
        let instance = match sticky {
            Some(i) => i,
            None => {
                let region = self.entry_region(w, wdef.region);
                let region = self.client_locality(entry, region);
                self.pick_instance(entry, w, region, false, key)
            }
        };
        let wdef = &self.world.workloads[w as usize];
        let mut request = self.new_request(entry, instance, w, now);
        request.user = user;
        request.key = key;
        request.pool = wdef.pool as u8;
        let measured = request.measured;
        let req = self.alloc(sim, request);
        self.size_workload_request(req, w);
        if let Some(t) = &mut self.tracer {
            t.user_arrived(req, now);
        }
        if let Some(t) = wdef.timeout_ns {
            let timer = sim.timer_in(SimDuration::from_ns(t), Event::ClientTimeout { req });
            self.requests[req].timer = Some(timer);
        }
        let ws = &mut self.workloads[w as usize];
        ws.all.arrived += 1;
        if measured {
            ws.measured.arrived += 1;
        }
        if let Some(b) = &mut ws.budget {
            b.record_call(now);
        }
        self.send_from_client(sim, req);
        if let Some(t) = self.next_arrival(w, now) {
            sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
        }
    }

    /// A client's request travels to its entry instance (farther when that instance is in
    /// another region than the client's).
    #[inline]
    pub(super) fn send_from_client(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req];
        let w = r.workload as usize;
        let host = self.host_of[r.instance as usize];
        let far = self.world.hosts[host as usize].region_idx != self.world.workloads[w].region;
        let ws = &mut self.workloads[w];
        if let Some(c) = &mut ws.concurrent {
            c.request_started();
        }
        let mut delay = if self.world.client_latency.is_zero() {
            SimDuration::ZERO
        } else {
            self.world.client_latency.sample(&mut ws.client_out_rng)
        };
        if far {
            let extra = self.world.latency[crate::world::Distance::CrossRegion as usize]
                .sample(&mut ws.far_rng);
            delay = SimDuration::from_ns(delay.as_ns() + extra.as_ns());
        }
        if self.net.links_down > 0 && self.no_route(NONE, host) {
            return self.drop_message(req); // its entry's NIC is down
        }
        let bytes = self.request_bytes(req);
        if bytes > 0 && !self.net.is_empty() {
            let then = Event::Deliver { req };
            return self.transmit(
                sim,
                (NONE, host),
                bytes,
                net::Class::User,
                then,
                delay.as_ns(),
            );
        }
        if delay.is_zero() {
            self.deliver(sim, req);
        } else {
            sim.schedule_in(delay, Event::Deliver { req });
        }
    }

    /// The current attempt of workload request `req` is over for its client (answered, or
    /// given up at its timeout): Envoy's budget counts it no longer in flight, nor the retry it
    /// was.
    #[inline]
    pub(super) fn client_attempt_over(&mut self, req: u32) {
        let r = &mut self.requests[req];
        let held = std::mem::take(&mut r.client_retry_held);
        if let Some(c) = &mut self.workloads[r.workload as usize].concurrent {
            c.request_ended();
            if held {
                c.retry_ended();
            }
        }
    }

    /// Whether the clients retry request `req` after `failure` of its current attempt, and after
    /// how long: attempts left, the failure retried, the budget (Finagle's: one in its window;
    /// Envoy's: room for one more retry in progress); the wait is the backoff, at least the
    /// Retry-After of a 429 when honoured. Counts the retry, or its denial.
    fn client_retry_delay(&mut self, req: u32, failure: AttemptFailure, now: u64) -> Option<u64> {
        let r = self.requests[req];
        let retry = self.world.workloads[r.workload as usize].retry.as_ref()?;
        if u32::from(r.client_attempts) >= retry.attempts || !retry.retries(failure) {
            return None;
        }
        let ws = &mut self.workloads[r.workload as usize];
        let granted = ws.budget.as_mut().is_none_or(|b| b.try_retry(now))
            && ws
                .concurrent
                .as_mut()
                .is_none_or(ConcurrentBudget::try_retry);
        if !granted {
            if r.measured {
                ws.retries_denied += 1;
            }
            return None;
        }
        let mut delay = retry.delay_ns(
            u32::from(r.client_attempts),
            r.client_backoff_ns,
            &mut ws.retry_rng,
        );
        if retry.honor_retry_after {
            delay = delay.max(r.retry_after_ns);
        }
        if r.measured {
            ws.retries += 1;
        }
        let q = &mut self.requests[req];
        q.client_attempts += 1;
        q.client_backoff_ns = delay;
        q.client_retry_held = ws.concurrent.is_some();
        Some(delay)
    }

    /// A workload's request was answered badly: if its client retries that, schedule the retry
    /// (after the backoff, and at least the Retry-After of a 429) and keep the request; the
    /// attempt's timer stops (the retry has its own).
    #[inline]
    pub(super) fn client_retries(&mut self, sim: &mut Sim<Event>, req: u32) -> bool {
        let r = self.requests[req];
        let failure = match r.outcome {
            Outcome::Completed | Outcome::Degraded | Outcome::Pending => return false,
            Outcome::Rejected | Outcome::Shed => AttemptFailure::Rejected,
            Outcome::RateLimited => AttemptFailure::RateLimited,
            Outcome::Failed => AttemptFailure::Error,
        };
        let Some(delay) = self.client_retry_delay(req, failure, sim.now().as_ns()) else {
            return false;
        };
        if let Some(t) = self.requests[req].timer.take() {
            sim.cancel(t);
        }
        sim.schedule_in(SimDuration::from_ns(delay), Event::ClientRetry { req });
        true
    }

    /// A client sends its request again: a new attempt at a (possibly other) instance, with its
    /// own timeout.
    pub(super) fn on_client_retry(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let old = self.requests[req];
        if old.abandoned {
            return self.release(req); // the client's timeout came first
        }
        let wdef = &self.world.workloads[old.workload as usize];
        let region = self.entry_region(old.workload, wdef.region);
        let region = self.client_locality(old.service, region);
        let instance = self.pick_instance(old.service, old.workload, region, false, old.key);
        let mut fresh = self.new_request(old.service, instance, old.workload, now);
        fresh.key = old.key;
        fresh.created_ns = old.created_ns;
        fresh.measured = old.measured;
        fresh.pool = old.pool;
        fresh.crit = old.crit;
        fresh.client_attempts = old.client_attempts;
        fresh.client_backoff_ns = old.client_backoff_ns;
        fresh.client_retry_held = old.client_retry_held;
        fresh.timer = wdef
            .timeout_ns
            .map(|t| sim.timer_in(SimDuration::from_ns(t), Event::ClientTimeout { req }));
        fresh.user = old.user;
        self.requests[req] = fresh;
        if let Some(t) = &mut self.tracer {
            t.client_retry(req, u32::from(old.client_attempts), now);
        }
        self.send_from_client(sim, req);
    }

    /// A client's attempt timed out and its clients retry timeouts: the attempt runs on in the
    /// system unwatched (its answer is ignored), and the user request moves to a slot of its own
    /// that waits for the retry, so the user is still counted once.
    fn retry_after_timeout(&mut self, sim: &mut Sim<Event>, req: u32, delay: u64) {
        let mut next = self.requests[req];
        next.phase = Phase::Done;
        next.lost = false;
        next.silent = false;
        next.timer = None;
        let old = &mut self.requests[req];
        old.abandoned = true;
        if old.lost {
            self.release(req); // lost on the way: nothing else will free the slot
        }
        let moved = self.alloc(sim, next);
        self.sizes.moved(req, moved);
        if let Some(t) = &mut self.tracer {
            t.moved(req, moved);
        }
        sim.schedule_in(
            SimDuration::from_ns(delay),
            Event::ClientRetry { req: moved },
        );
    }

    /// A client stops waiting for its request: counted failed now; whatever still runs in the
    /// system for it is ignored when it ends.
    #[cold]
    #[inline(never)]
    pub(super) fn on_client_timeout(&mut self, sim: &mut Sim<Event>, req: u32) {
        self.requests[req].timer = None;
        self.client_attempt_over(req);
        let now = sim.now().as_ns();
        if let Some(delay) = self.client_retry_delay(req, AttemptFailure::Timeout, now) {
            return self.retry_after_timeout(sim, req, delay);
        }
        let r = &mut self.requests[req];
        r.abandoned = true;
        let (w, measured, lost) = (r.workload as usize, r.measured, r.lost);
        if let Some(t) = &mut self.tracer {
            let (now, created) = (self.now_ns, r.created_ns);
            t.mark_attempt(req, "timeout", None, now);
            t.user_done(req, w as u32, created, "timeout", now);
        }
        let ws = &mut self.workloads[w];
        count(&mut ws.all, Outcome::Failed);
        ws.series_bad[self.bucket] += 1;
        if measured {
            count(&mut ws.measured, Outcome::Failed);
            ws.timeouts += 1;
            // The user learned of the failure at the timeout.
            let waited = self.now_ns - self.requests[req].created_ns;
            ws.answers.record(false, waited);
        }
        // Lost on the way: nothing else will free the slot. (Between a client's retries, the
        // pending retry frees it.)
        if lost {
            self.release(req);
        }
    }

    // ---- sessions and autoscaling ----
    /// The user of a workload's next request, and the instance holding that user's session
    /// when the entry service keeps sessions locally and that instance is in load balancing.
    #[inline]
    pub(super) fn session_of(&mut self, w: u32, now: u64) -> (u32, Option<u32>) {
        if self.workloads[w as usize].sessions.is_empty() {
            return (0, None);
        }
        self.sticky_session(w, now)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn sticky_session(&mut self, w: u32, now: u64) -> (u32, Option<u32>) {
        let def = &self.world.workloads[w as usize];
        let ws = &mut self.workloads[w as usize];
        let user = ws.users_rng.random_range(0..def.users);
        let ttl = self.world.services[def.entry as usize]
            .recovery
            .local_sessions_ttl_ns
            .unwrap_or(0);
        let (owner, last) = ws.sessions[user as usize];
        let live = owner != NONE && now.saturating_sub(last) <= ttl;
        (user, (live && self.in_rotation(owner)).then_some(owner))
    }

    /// Instance `i` dies: the live sessions it held are lost.
    pub(super) fn lose_sessions(&mut self, i: u32, now: u64) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(ttl) = self.world.services[s].recovery.local_sessions_ttl_ns else {
            return;
        };
        let mut lost = 0;
        for (w, ws) in self.workloads.iter_mut().enumerate() {
            if self.world.workloads[w].entry as usize != s {
                continue;
            }
            for sess in ws.sessions.iter_mut().filter(|x| x.0 == i) {
                if now.saturating_sub(sess.1) <= ttl {
                    lost += 1;
                }
                *sess = (NONE, 0);
            }
        }
        self.stats[s].sessions_lost += lost;
        if lost > 0 {
            let name = self.instance_name(i);
            self.log(now, LogKind::SessionsLost, format!("{name}: {lost}"));
        }
    }
}
