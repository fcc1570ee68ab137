//! The request path, the spine of the model: a request's slot in the slab and its lifecycle at
//! one instance: deliver (admit, queue or serve), work, the calls of each step, finish, and the
//! answer back to its caller or client.
//!
//! ```text
//!  Deliver ─▶ down? Rejected │ admission ─▶ free worker? Working │ room? Queued │ Rejected
//!  WorkDone ─▶ injected error? Failed │ datastore write/read │ steps of calls ─▶ finish ─▶ respond
//! ```

use super::*;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Travelling to its instance.
    InNetwork,
    Queued,
    Working,
    /// Holding a worker while its calls are out.
    Calling,
    /// Answered; its reply may still be travelling back to the caller.
    Done,
}

/// How a request ended, at the service that handled it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Pending,
    Completed,
    Degraded,
    Rejected,
    RateLimited,
    Shed,
    Failed,
}

impl Outcome {
    pub(super) fn is_success(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Degraded)
    }

    /// The name in traces and ledgers.
    pub(super) fn name(self) -> &'static str {
        match self {
            Outcome::Pending => "in_flight",
            Outcome::Completed => "completed",
            Outcome::Degraded => "degraded",
            Outcome::Rejected => "rejected",
            Outcome::RateLimited => "rate_limited",
            Outcome::Shed => "shed",
            Outcome::Failed => "failed",
        }
    }
}

/// A request at one service: a workload's request, or one attempt of a call.
#[derive(Copy, Clone, Debug)]
pub(super) struct Request {
    /// The call this request is an attempt of; `NONE` for a workload's request.
    pub(super) call: u32,
    pub(super) service: u32,
    pub(super) instance: u32,
    pub(super) workload: u32,
    /// Host of the caller instance, where the reply goes; `NONE` for a workload's request.
    pub(super) caller_host: u32,
    /// Call edge this request travels on; `NONE` for a workload's request.
    pub(super) edge: u32,
    pub(super) created_ns: u64,
    pub(super) arrived_ns: u64,
    pub(super) started_ns: u64,
    /// The caller gives up at this time (`u64::MAX`: never).
    pub(super) deadline_ns: u64,
    pub(super) step: u16,
    pub(super) pending: u16,
    pub(super) phase: Phase,
    pub(super) outcome: Outcome,
    pub(super) failed_call: bool,
    pub(super) degraded_call: bool,
    pub(super) measured: bool,
    /// The caller stopped waiting for this attempt (timeout): its answer will be ignored.
    pub(super) abandoned: bool,
    /// Work in progress was lost to an outage: the request fails when its work or calls end.
    pub(super) doomed: bool,
    /// It holds a bulkhead permit of its caller.
    pub(super) holds_permit: bool,
    /// Its local work was cut short at its deadline (the service honours deadlines).
    pub(super) cut: bool,
    /// With a 429 answer: the time until the limiter has a token again.
    pub(super) retry_after_ns: u64,
    /// The worker pool of its instance that serves it.
    pub(super) pool: u8,
    /// For a workload's request: attempts the client has made so far, and its last backoff.
    pub(super) client_attempts: u8,
    pub(super) client_backoff_ns: u64,
    /// For a workload's request: its current attempt is a retry its clients' budget granted
    /// (Envoy's form counts it active until the attempt's outcome).
    pub(super) client_retry_held: bool,
    /// The breaker state it was let through in (for recording its outcome).
    pub(super) breaker_phase: BreakerPhase,
    /// For an attempt: its caller's timeout. For a workload's request: the client's timeout.
    pub(super) timer: Option<TimerId>,
    /// The message carrying it (or its answer) was lost in the network.
    pub(super) lost: bool,
    /// Its instance's host died: its answer will never leave.
    pub(super) silent: bool,
    /// It carries corrupt data its callers did not detect.
    pub(super) corrupt: bool,
    /// A write to a datastore.
    pub(super) write: bool,
    /// The user a workload's request comes from (for sessions).
    pub(super) user: u32,
    /// While a write waits for its replicas: its slot in `ServiceModel::waits` (else `NONE`).
    pub(super) wait: u32,
    /// Its criticality (`spec::Criticality as u8`: 0 sheddable … 3 critical-plus).
    pub(super) crit: u8,
    /// At an async service: its worker was freed when its calls went out (`worked_ns` holds
    /// the time it had worked).
    pub(super) released: bool,
    pub(super) worked_ns: u64,
    /// The key it asks for (`NONE`: none).
    pub(super) key: u32,
    /// What it is to its service's cache.
    pub(super) cache: cache::Role,
}

/// One logical call of a parent request, across its attempts.
#[derive(Copy, Clone, Debug)]
pub(super) struct Call {
    pub(super) parent: u32,
    pub(super) edge: u32,
    pub(super) attempts: u32,
    pub(super) previous_backoff_ns: u64,
    pub(super) measured: bool,
    /// Index of the breaker and bulkhead used (per caller instance unless shared).
    pub(super) slot: u32,
    pub(super) wait_timer: Option<TimerId>,
    /// Waiting in its bulkhead's queue.
    pub(super) waiting: bool,
    /// A retry scheduled after a backoff.
    pub(super) retry_timer: Option<TimerId>,
    /// A retry of the call is in progress (from the failure that decided it until its own
    /// outcome), counted by the edge's gauge and Envoy's budget.
    pub(super) holds_retry: bool,
    /// Attempts sent and not yet answered (more than one when hedging), and which.
    pub(super) outstanding: u8,
    pub(super) children: [u32; 4],
    pub(super) hedges: u8,
    pub(super) hedge_timer: Option<TimerId>,
    /// The key its attempts ask for.
    pub(super) key: u32,
}

/// Words of the mask of calls a step makes: one bit per call of the step.
const MASK_WORDS: usize = crate::world::PARALLEL_MAX.div_ceil(64);
const _: () = assert!(
    crate::world::PARALLEL_MAX <= u16::MAX as usize,
    "`pending` is a u16"
);

/// The calls of a step that are made, one bit each.
type CallMask = [u64; MASK_WORDS];

impl InstanceState {
    /// Instance `i` with idle pools and empty queues.
    pub(super) fn new(world: &World, i: &InstanceDef) -> Self {
        let def = &world.services[i.service_idx as usize];
        let pool = || PoolState {
            busy: 0,
            queue: VecDeque::new(),
        };
        InstanceState {
            main: pool(),
            released: 0,
            limit: def.concurrency.clone().map(Box::new),
            named: def.pools.iter().map(|_| pool()).collect(),
            reject_debt_ns: 0,
        }
    }
}

impl ServiceModel<'_> {
    /// Inlined into its callers, so that the request they build is written into its slot
    /// directly: a copy from the stack read the fields back wider than they were written (a
    /// stalled store forward, 5% of an M/M/1 run).
    #[inline(always)]
    pub(super) fn alloc(&mut self, sim: &mut Sim<Event>, req: Request) -> u32 {
        self.live += 1;
        self.check_in_flight(sim);
        let slot = self.requests.insert(req);
        if self.sizes.any {
            self.sizes.clear(slot); // a reused slot keeps no size of its last request
        }
        slot
    }

    /// The guard `requests_in_flight_max` counts requests and calls together: a call waiting
    /// for its retry or in a bulkhead's queue holds memory as a request does, and a fan-out
    /// holds a call per branch (the memory estimate relies on this bound).
    #[inline]
    fn check_in_flight(&mut self, sim: &mut Sim<Event>) {
        let calls = self.calls.slots().len() - self.calls.n_free();
        let in_flight = u64::from(self.live) + calls as u64;
        if in_flight > u64::from(self.world.requests_in_flight_max) && self.guard_hit.is_none() {
            self.guard_hit = Some(StopReason::RequestsInFlightMax);
            sim.request_stop();
        }
    }

    #[inline]
    pub(super) fn release(&mut self, idx: u32) {
        if self.is_delivery(idx) {
            self.delivery_released(idx);
        }
        self.live.dec();
        self.requests.remove(idx);
    }

    #[inline]
    pub(super) fn new_request(
        &self,
        service: u32,
        instance: u32,
        workload: u32,
        now_ns: u64,
    ) -> Request {
        Request {
            call: NONE,
            service,
            instance,
            workload,
            caller_host: NONE,
            edge: NONE,
            created_ns: now_ns,
            arrived_ns: now_ns,
            started_ns: now_ns,
            deadline_ns: u64::MAX,
            step: 0,
            pending: 0,
            phase: Phase::InNetwork,
            outcome: Outcome::Pending,
            failed_call: false,
            degraded_call: false,
            measured: now_ns >= self.world.warmup.as_ns(),
            abandoned: false,
            doomed: false,
            holds_permit: false,
            cut: false,
            retry_after_ns: 0,
            pool: 0,
            client_attempts: 1,
            client_backoff_ns: 0,
            client_retry_held: false,
            breaker_phase: BreakerPhase::Closed,
            timer: None,
            lost: false,
            silent: false,
            corrupt: false,
            write: false,

            user: 0,
            wait: NONE,
            crit: self
                .world
                .workloads
                .get(workload as usize)
                .map_or(2, |w| w.criticality),
            released: false,
            worked_ns: 0,
            key: NONE,
            cache: cache::Role::None,
        }
    }

    /// A request reaches its instance: serve, queue or turn it away.
    #[inline]
    pub(super) fn deliver(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let inst_idx = self.requests[req].instance;
        if self.hosts[self.host_of[inst_idx as usize] as usize].down > 0 {
            // Its host is dead: the message goes nowhere and nobody counts it there.
            return self.drop_message(req);
        }
        let r = &mut self.requests[req];
        r.arrived_ns = now;
        let (s, i, measured) = (r.service as usize, r.instance as usize, r.measured);
        let def = &self.world.services[s];
        let bucket = self.bucket;
        let st = &mut self.stats[s];
        st.all.arrived += 1;
        st.rows[bucket].arrived += 1;
        if measured {
            st.measured.arrived += 1;
        }
        if self.svc_faults[s].outages > 0 || self.is_paused(s) {
            return self.turn_away(sim, req, Outcome::Rejected);
        }
        if self.process[i].crashed > 0 {
            // Nothing listens: the connection is refused at once.
            return self.turn_away(sim, req, Outcome::Rejected);
        }
        if def.store.is_some()
            && self.requests[req].write
            && self.store(s).is_some_and(|x| x.primary != i as u32)
            && self.deposed_takes(s, i as u32, now) != Some(true)
        {
            // A write that reached a replica (the primary changed on the way): refused.
            return self.turn_away(sim, req, Outcome::Failed);
        }
        if let Some(refused) = self.admit(req, now) {
            self.charge_refusal(i);
            return self.turn_away(sim, req, refused);
        }
        self.serve_or_queue(sim, req, now);
    }

    /// Answers at once a request that never took a worker.
    #[inline]
    pub(super) fn turn_away(&mut self, sim: &mut Sim<Event>, req: u32, outcome: Outcome) {
        if self.requests[req].workload == PROBE {
            return self.probe_over(sim, req, false);
        }
        let r = &mut self.requests[req];
        r.phase = Phase::Done;
        r.outcome = outcome;
        let (s, measured) = (r.service as usize, r.measured);
        let latency = sim.now().as_ns() - r.arrived_ns;
        let st = &mut self.stats[s];
        st.count(outcome, measured, self.bucket);
        if measured {
            st.answers.record(false, latency);
        }
        if self.tracer.is_some() {
            self.trace_answer(req, sim.now().as_ns(), false);
        }
        self.respond(sim, req);
    }

    /// A worker takes `req` (which has already been counted in `outstanding`).
    #[inline]
    pub(super) fn start_work(&mut self, sim: &mut Sim<Event>, req: u32, waited: bool) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req];
        r.phase = Phase::Working;
        r.started_ns = now;
        let (s, i, pool) = (r.service as usize, r.instance as usize, r.pool as usize);
        let st = &mut self.stats[s];
        if r.measured {
            st.started += 1;
            if waited {
                st.waited += 1;
                st.wait_sum_ns += u128::from(now - r.arrived_ns);
                st.wait.record(now - r.arrived_ns);
            }
        }
        st.touch(now);
        st.busy_now += 1;
        self.instances[i].pool_mut(pool).busy += 1;
        let def = &self.world.services[s];
        let mut work = if self.requests[req].workload == PROBE {
            SimDuration::from_ns(self.probe_work(req))
        } else {
            let dist = match &def.store {
                Some(d) if self.requests[req].write => {
                    if self.is_cas(req) {
                        self.cas_read(req);
                    }
                    &d.write
                }
                _ => def.pool(pool).2,
            };
            dist.sample(&mut self.work_rngs[s])
        };
        let factor = self.svc_faults[s].slowdown * self.instance_factor(i as u32, now);
        if factor != 1.0 {
            work = SimDuration::from_ns(crate::dist::round_ns(work.as_ns() as f64 * factor));
        }
        // The worker first pays what the instance's refusals cost (`reject_work`).
        work = SimDuration::from_ns(work.as_ns() + self.take_refusal_debt(i));
        // A service that honours deadlines stops local work when its caller's deadline passes
        // (a handler checking its cancelled context).
        let deadline = self.requests[req].deadline_ns;
        if self.world.services[s].honor_deadlines && now.saturating_add(work.as_ns()) > deadline {
            work = SimDuration::from_ns(deadline.saturating_sub(now));
            self.requests[req].cut = true;
        }
        sim.schedule_in(work, Event::WorkDone { req });
    }

    #[inline]
    pub(super) fn on_work_done(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let r = self.requests[req];
        let s = r.service as usize;
        if r.doomed {
            return self.finish(sim, req, Outcome::Failed);
        }
        let process = &mut self.process[r.instance as usize];
        if process.hung > 0 {
            process.frozen.push(req); // answered when the hang ends
            return;
        }
        if r.workload == PROBE {
            return self.finish(sim, req, Outcome::Completed);
        }
        if r.cut {
            return self.finish(sim, req, Outcome::Shed);
        }
        // Instance- and host-level effects: a bad new version, a disk that corrupts.
        let version_errors = self.version(r.instance).errors;
        let st = &mut self.svc_faults[s];
        if st.error_rate > 0.0 && st.error_rng.random::<f64>() < st.error_rate {
            return self.finish(sim, req, Outcome::Failed);
        }
        let host = self.host_of[r.instance as usize];
        let corrupt = self.hosts[host as usize].corrupt;
        // Both zero (no bad version, no corrupting disk) make `local` exactly 0: no draw.
        let local = if version_errors > 0.0 || corrupt > 0.0 {
            1.0 - (1.0 - version_errors) * (1.0 - corrupt)
        } else {
            0.0
        };
        if local > 0.0 && st.fault_rng.random::<f64>() < local {
            return self.finish(sim, req, Outcome::Failed);
        }
        if st.corrupt_rate > 0.0 && st.fault_rng.random::<f64>() < st.corrupt_rate {
            if st.corrupt_detected {
                return self.finish(sim, req, Outcome::Failed);
            }
            self.requests[req].corrupt = true;
        }
        if self.world.services[s].honor_deadlines && now >= r.deadline_ns {
            return self.finish(sim, req, Outcome::Shed);
        }
        if self.world.services[s].broker.is_some()
            && r.edge != NONE
            && self.world.calls[r.edge as usize].publish
        {
            let outcome = self.publish(sim, req);
            return self.finish(sim, req, outcome);
        }
        if self.world.services[s].store.is_some() {
            if !self.disks.is_empty() {
                return self.request_io(sim, req);
            }
            return self.stored(sim, req, now);
        }
        let r = &mut self.requests[req];
        r.step = 0;
        r.cache = cache::Role::None;
        self.advance(sim, req);
    }

    /// A datastore request's work (and I/O) is done: a write is stored, a read answered.
    pub(super) fn stored(&mut self, sim: &mut Sim<Event>, req: u32, now: u64) {
        let r = self.requests[req];
        let s = r.service as usize;
        if r.write {
            return self.write_done(sim, req, now);
        }
        self.store_read(s, r.instance);
        let r = &mut self.requests[req];
        r.step = 0;
        r.cache = cache::Role::None;
        self.advance(sim, req);
    }

    /// A write's work at a datastore is done: it is stored and acknowledged (now, or when
    /// enough replicas have it), or refused.
    fn write_done(&mut self, sim: &mut Sim<Event>, req: u32, now: u64) {
        let r = self.requests[req];
        let s = r.service as usize;
        if self.store(s).is_some_and(|x| x.primary != r.instance) {
            if self.deposed_takes(s, r.instance, now) == Some(true) {
                // A split brain: the old primary acknowledges a write the new one will never
                // have (a conditional write still checks its row as that side sees it).
                if self.is_cas(req) && !self.cas_commit(req) {
                    return self.finish(sim, req, Outcome::Failed);
                }
                self.divergent_write(s);
                return self.finish(sim, req, Outcome::Completed);
            }
            // It lost leadership (failed over while hung): it must not take the write.
            return self.finish(sim, req, Outcome::Failed);
        }
        if self.lease_over(s, now) {
            // Cut off from the majority past its lease: it no longer takes writes.
            return self.finish(sim, req, Outcome::Failed);
        }
        if self.is_cas(req) && !self.cas_commit(req) {
            return self.finish(sim, req, Outcome::Failed); // a conflict
        }
        if let Some(seq) = self.store_write(sim, req) {
            self.store_acked(s, seq);
            self.finish(sim, req, Outcome::Completed);
        }
    }

    /// Which calls of a step are made (bit `k % 64` of word `k / 64` for the step's `k`-th
    /// call), and how many: calls made with a probability below one are drawn first, in the
    /// order they are written, and a call switched off by a feature flag is not made. A step
    /// holds at most `PARALLEL_MAX` calls, so the mask is a fixed array on the stack: no
    /// allocation, and a step of up to 64 calls touches one word.
    #[inline]
    fn calls_made(&mut self, start: u32, len: u32) -> (CallMask, u32) {
        let mut made = [0u64; MASK_WORDS];
        if len <= 64 {
            let (word, n) = self.calls_made_64(start, len);
            made[0] = word;
            return (made, n);
        }
        let mut n_made = 0;
        for k in 0..len {
            let edge = start + k;
            if self.edge_off[edge as usize] > 0 {
                continue; // switched off by a feature flag
            }
            if self.makes_call(edge as usize) {
                made[(k / 64) as usize] |= 1 << (k % 64);
                n_made += 1;
            }
        }
        (made, n_made)
    }

    /// `calls_made` for a step of at most 64 calls (nearly every step): one word.
    #[inline]
    fn calls_made_64(&mut self, start: u32, len: u32) -> (u64, u32) {
        let mut made = 0u64;
        for k in 0..len {
            let edge = (start + k) as usize;
            if self.edge_off[edge] == 0 && self.makes_call(edge) {
                made |= 1 << k;
            }
        }
        (made, made.count_ones())
    }

    /// At a cache service, when the step makes the fronted call (its `k`-th): the lookup, which
    /// may skip the call (a hit, or a follower of a fetch out); returns 1 when the request waits
    /// for another's fetch.
    #[cold]
    #[inline(never)]
    fn cache_step(
        &mut self,
        req: u32,
        k: u32,
        len: u32,
        made: &mut CallMask,
        n_made: &mut u32,
    ) -> u32 {
        if k >= len || made[(k / 64) as usize] & (1 << (k % 64)) == 0 {
            return 0;
        }
        let (skip, follow) = self.cache_lookup(req, self.now_ns);
        if skip {
            made[(k / 64) as usize] &= !(1 << (k % 64));
            *n_made -= 1;
        }
        u32::from(follow)
    }

    /// Makes the calls of the request's current step, or finishes it after the last step.
    #[inline]
    pub(super) fn advance(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req];
        let steps = &self.world.services[r.service as usize].steps;
        let Some(&(start, len)) = steps.get(r.step as usize) else {
            let outcome = if r.degraded_call {
                Outcome::Degraded
            } else {
                Outcome::Completed
            };
            return self.finish(sim, req, outcome);
        };
        let now = sim.now().as_ns();
        if r.step > 0
            && self.world.services[r.service as usize].honor_deadlines
            && now >= r.deadline_ns
        {
            return self.finish(sim, req, Outcome::Shed);
        }
        let (mut made, mut n_made) = self.calls_made(start, len);
        let waits = match self.world.services[r.service as usize].cache {
            Some(c) => self.cache_step(
                req,
                c.fronts.wrapping_sub(start),
                len,
                &mut made,
                &mut n_made,
            ),
            None => 0,
        };
        if n_made + waits == 0 {
            // Every call of the step was skipped: the step is over at once.
            self.requests[req].step += 1;
            return self.advance(sim, req);
        }
        if self.world.services[r.service as usize].is_async && !r.released {
            self.release_worker(sim, req);
        }
        let p = &mut self.requests[req];
        p.phase = Phase::Calling;
        p.pending = u16::try_from(n_made + waits).expect("a step makes at most PARALLEL_MAX calls");
        let measured = now >= self.world.warmup.as_ns();
        let caller_offset = r.instance - self.world.services[r.service as usize].first_instance;
        let is_made = |k: &u32| made[(k / 64) as usize] & (1 << (k % 64)) != 0;
        for edge in (0..len).filter(is_made).map(|k| start + k) {
            self.make_call(sim, req, edge, measured, caller_offset);
        }
    }

    /// Request `req` calls over `edge`: the call's first attempt goes out.
    #[inline]
    fn make_call(
        &mut self,
        sim: &mut Sim<Event>,
        req: u32,
        edge: u32,
        measured: bool,
        caller_offset: u32,
    ) {
        let key = self.draw_call_key(edge, self.requests[req].key);
        let policy = &self.world.calls[edge as usize].policy;
        let slot = match &policy.breaker {
            Some(b) if b.shared => 0,
            _ => caller_offset,
        };
        let call = Call {
            parent: req,
            edge,
            attempts: 0,
            previous_backoff_ns: 0,
            measured,
            slot,
            wait_timer: None,
            waiting: false,
            retry_timer: None,
            holds_retry: false,
            outstanding: 0,
            children: [NONE; 4],
            hedges: 0,
            hedge_timer: None,
            key,
        };
        let call = self.calls.insert(call);
        self.check_in_flight(sim);
        let es = &mut self.edges[edge as usize];
        es.rows[self.bucket].calls += 1;
        if measured {
            es.stats.calls += 1;
        }
        es.chain.on_call(sim.now().as_ns());
        self.attempt(sim, call, Ask::New);
    }

    /// The request leaves its worker with `outcome`; the next queued request takes the worker.
    #[inline]
    pub(super) fn finish(&mut self, sim: &mut Sim<Event>, req: u32, outcome: Outcome) {
        if self.requests[req].workload == PROBE {
            return self.probe_finished(sim, req, outcome);
        }
        let now = sim.now().as_ns();
        let r = &mut self.requests[req];
        r.phase = Phase::Done;
        r.outcome = outcome;
        let (s, i, measured, latency, abandoned, released) = (
            r.service as usize,
            r.instance as usize,
            r.measured,
            now - r.arrived_ns,
            r.abandoned,
            r.released,
        );
        let worked = if released {
            r.worked_ns
        } else {
            now - r.started_ns
        };
        let corrupt = r.corrupt;
        let st = &mut self.stats[s];
        st.count(outcome, measured, self.bucket);
        if outcome.is_success() {
            for (_, threshold, series) in &mut st.slow_series {
                if latency > *threshold {
                    series[self.bucket] += 1;
                }
            }
            if corrupt && measured {
                st.corrupt += 1;
            }
        }
        if measured {
            st.answers.record(outcome.is_success(), latency);
            // Work whose answer nobody uses: the caller had left, or the work was dropped.
            if abandoned || outcome == Outcome::Shed {
                st.wasted_ns += worked;
                if let Some(e) = self.edges.get_mut(self.requests[req].edge as usize) {
                    e.stats.wasted_work_ns += worked;
                }
            }
        }
        st.touch(now);
        let pool = self.requests[req].pool as usize;
        let inst = &mut self.instances[i];
        if released {
            inst.released.dec();
        } else {
            st.busy_now.dec();
            inst.pool_mut(pool).busy.dec();
        }
        self.load_down(s, i as u32);
        let in_flight = self.load[i];
        if let Some(l) = &mut self.instances[i].limit {
            l.on_done(latency, !outcome.is_success(), in_flight);
        }
        if !released {
            self.next_from_queue(sim, i, pool);
        }
        if self.tracer.is_some() {
            self.trace_answer(req, now, true);
        }
        self.respond(sim, req);
    }

    /// At an async service, a request whose calls go out frees its worker, which takes the next
    /// queued request; the request stays in progress (`outstanding`) until it is answered.
    #[cold]
    #[inline(never)]
    fn release_worker(&mut self, sim: &mut Sim<Event>, req: u32) {
        let now = sim.now().as_ns();
        let r = &mut self.requests[req];
        r.released = true;
        r.worked_ns = now - r.started_ns;
        let (s, i, pool) = (r.service as usize, r.instance as usize, r.pool as usize);
        let st = &mut self.stats[s];
        st.touch(now);
        st.busy_now.dec();
        let inst = &mut self.instances[i];
        inst.pool_mut(pool).busy.dec();
        inst.released += 1;
        self.next_from_queue(sim, i, pool);
    }

    /// Sends the answer of a finished or turned-away request to its caller.
    #[inline]
    pub(super) fn respond(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req];
        let host = self.host_of[r.instance as usize];
        if r.silent || self.hosts[host as usize].down > 0 {
            return self.drop_message(req); // nothing leaves a dead host
        }
        if r.call != NONE {
            let delay = self.network_delay(r.edge, true, host, r.caller_host);
            let size = MsgSize::AnswerOf(req);
            let (lost, add) = self.call_link(r.edge, host, r.caller_host, size);
            if lost {
                return self.drop_message(req);
            }
            let bytes = self.response_size(req);
            let then = Event::Reply { req };
            let delay = delay.as_ns() + add;
            self.transmit(
                sim,
                (host, r.caller_host),
                bytes,
                net::Class::User,
                then,
                delay,
            );
            return;
        }
        if r.abandoned {
            // The client gave up at its timeout and counted the request then.
            return self.release(req);
        }
        self.client_attempt_over(req);
        if self.client_retries(sim, req) {
            return;
        }
        if let Some(t) = r.timer {
            sim.cancel(t);
        }
        if r.outcome.is_success() {
            if let Some(s) = self.workloads[r.workload as usize]
                .sessions
                .get_mut(r.user as usize)
            {
                *s = (r.instance, sim.now().as_ns());
            }
        }
        if self.world.workloads[r.workload as usize].consumes.is_some() {
            self.delivery_answered(sim, req);
        }
        self.user_answered(sim, req);
        self.release(req);
    }

    /// The answer of a user request reaches its client: the workload counts it.
    #[inline]
    fn user_answered(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req];
        let ws = &mut self.workloads[r.workload as usize];
        let back = if self.world.client_latency.is_zero() {
            0
        } else {
            self.world
                .client_latency
                .sample(&mut ws.client_back_rng)
                .as_ns()
        };
        if let Some(t) = &mut self.tracer {
            let end = sim.now().as_ns() + back;
            t.user_done(req, r.workload, r.created_ns, r.outcome.name(), end);
        }
        count(&mut ws.all, r.outcome);
        let (success, latency) = (
            r.outcome.is_success(),
            sim.now().as_ns() - r.created_ns + back,
        );
        if success {
            ws.series_ok[self.bucket] += 1;
            if !ws.answers.late(latency) {
                ws.series_good[self.bucket] += 1;
            }
        } else {
            ws.series_bad[self.bucket] += 1;
        }
        if r.measured {
            if r.corrupt && success {
                ws.corrupt += 1;
            }
            count(&mut ws.measured, r.outcome);
            ws.answers.record(success, latency);
        }
    }

    /// Every call of the request's step has answered: fail it, or go on to its next step.
    #[inline]
    pub(super) fn after_calls(&mut self, sim: &mut Sim<Event>, req: u32) {
        let p = &mut self.requests[req];
        if p.failed_call || p.doomed {
            self.finish(sim, req, Outcome::Failed);
        } else {
            p.step += 1;
            self.advance(sim, req);
        }
    }
}
