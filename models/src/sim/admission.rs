//! Server-side admission: what an instance does with a request before a worker takes it.
//! Rate limits (global, per client, per tier: token buckets), the adaptive concurrency limit,
//! the queue discipline (FIFO, LIFO over a depth) and shedding of requests that waited too long
//! or whose caller's deadline has passed.

use super::*;

/// A service's rate limiters: global, per client (workload), per tier.
pub(super) struct RateLimits {
    global: Option<Bucket>,
    per_client: Vec<Bucket>,
    per_tier: Vec<Option<Bucket>>,
}

impl RateLimits {
    pub(super) fn new(def: &RateLimitDef, n_workloads: usize) -> Self {
        RateLimits {
            global: def.global.map(|(rate, burst)| Bucket::new(rate, burst)),
            per_client: match def.per_client {
                Some((rate, burst)) => vec![Bucket::new(rate, burst); n_workloads],
                None => Vec::new(),
            },
            per_tier: def
                .per_tier
                .iter()
                .map(|t| t.map(|(rate, burst)| Bucket::new(rate, burst)))
                .collect(),
        }
    }

    /// Takes a token from every limiter that applies to a request of `workload` (in `tier`),
    /// or from none of them: on refusal, the wait until all would have one.
    pub(super) fn take(
        &mut self,
        workload: usize,
        tier: Option<u32>,
        share: f64,
        now: u64,
    ) -> Result<(), u64> {
        let mut wait = 0;
        let tier = tier
            .and_then(|t| self.per_tier.get_mut(t as usize))
            .and_then(Option::as_mut);
        let mut limiters = [
            self.global.as_mut(),
            self.per_client.get_mut(workload),
            tier,
        ];
        for b in limiters.iter_mut().flatten() {
            if let Err(w) = b.check_share(now, share) {
                wait = wait.max(w);
            }
        }
        if wait > 0 {
            return Err(wait);
        }
        limiters.iter_mut().flatten().for_each(|b| b.take());
        Ok(())
    }
}

impl ServiceModel<'_> {
    /// Server-side admission of a request that reached a live instance, before it takes a
    /// worker or a place in the queue: its caller's deadline (if the service honours deadlines),
    /// the rate limits, the adaptive concurrency limit. Returns the refusal, if any.
    #[inline]
    pub(super) fn admit(&mut self, req: u32, now: u64) -> Option<Outcome> {
        let r = &self.requests[req];
        let (s, i, workload) = (r.service as usize, r.instance as usize, r.workload as usize);
        let def = &self.world.services[s];
        if def.honor_deadlines && now >= r.deadline_ns {
            return Some(Outcome::Shed);
        }
        let share = def.shares[r.crit as usize];
        if let Some(limits) = &mut self.limits[s] {
            let tier = self.world.workloads[workload].tier;
            if let Err(wait) = limits.take(workload, tier, share, now) {
                self.requests[req].retry_after_ns = wait;
                return Some(Outcome::RateLimited);
            }
        }
        let load = self.load[i];
        if load >= def.max_connections {
            // Every connection is taken: the new one is refused, whatever its criticality.
            return Some(Outcome::Rejected);
        }
        if share < 1.0 && f64::from(load) >= (f64::from(def.max_connections) * share).floor() {
            return Some(Outcome::Shed); // the rest of the connections are kept for the critical
        }
        if self.instances[i]
            .limit
            .as_ref()
            .is_some_and(|l| !l.admits_share(load, share))
        {
            return Some(Outcome::Shed);
        }
        None
    }

    /// An admitted request takes a free worker of its pool, or waits in the pool's queue, or is
    /// turned away when the queue is full. A hung instance takes no work: requests queue.
    #[inline]
    pub(super) fn serve_or_queue(&mut self, sim: &mut Sim<Event>, req: u32, now: u64) {
        let r = &self.requests[req];
        let (s, i, pool) = (r.service as usize, r.instance as usize, r.pool as usize);
        let (workers, queue_cap, _) = self.world.services[s].pool(pool);
        let hung = self.process[i].hung > 0;
        if self.load[i] >= self.world.services[s].oom_at {
            return self.out_of_memory(sim, req, i);
        }
        let inst = &mut self.instances[i];
        if inst.pool(pool).busy < workers && !hung {
            self.load_up(s, i as u32);
            self.start_work(sim, req, false);
        } else if (inst.pool(pool).queue.len() as u64) < u64::from(queue_cap)
            || (self.world.services[s].by_criticality && self.evict_for(sim, req))
        {
            self.enqueue(req);
            self.load_up(s, i as u32);
            let st = &mut self.stats[s];
            st.touch(now);
            st.queue_now += 1;
            self.requests[req].phase = Phase::Queued;
        } else {
            self.charge_refusal(i);
            self.turn_away(sim, req, Outcome::Rejected);
        }
    }

    /// Puts `req` in its pool's queue: at the back, or, in a queue ordered by criticality,
    /// behind every request at least as critical (first come, first served within a class).
    #[inline]
    fn enqueue(&mut self, req: u32) {
        let r = &self.requests[req];
        let (s, i, pool, crit) = (r.service, r.instance, r.pool, r.crit);
        let queue = &mut self.instances[i as usize].pool_mut(pool as usize).queue;
        if !self.world.services[s as usize].by_criticality {
            return queue.push_back(req);
        }
        let mut k = queue.len();
        while k > 0 && self.requests[queue[k - 1]].crit < crit {
            k -= 1;
        }
        queue.insert(k, req);
    }

    /// A full queue ordered by criticality makes room for `req` by dropping its least critical
    /// request (the last: the newest of the lowest class), if that is less critical than `req`.
    #[cold]
    #[inline(never)]
    fn evict_for(&mut self, sim: &mut Sim<Event>, req: u32) -> bool {
        let r = &self.requests[req];
        let (s, i, pool, crit) = (r.service as usize, r.instance as usize, r.pool, r.crit);
        let queue = &mut self.instances[i].pool_mut(pool as usize).queue;
        let Some(&last) = queue.back() else {
            return false; // a loss system: no queue to make room in
        };
        if self.requests[last].crit >= crit {
            return false;
        }
        queue.pop_back();
        let st = &mut self.stats[s];
        st.touch(sim.now().as_ns());
        st.queue_now.dec();
        self.load_down(s, i as u32);
        self.turn_away(sim, last, Outcome::Shed);
        true
    }

    /// A refusal at instance `i` costs it its service's `reject_work`: a debt the next request
    /// to take one of its workers works off first (`take_refusal_debt`).
    #[inline]
    pub(super) fn charge_refusal(&mut self, i: usize) {
        let s = self.world.instances[i].service_idx as usize;
        if let Some(cost) = &self.world.services[s].reject_work {
            let ns = cost.sample(&mut self.reject_rngs[s]).as_ns();
            let debt = &mut self.instances[i].reject_debt_ns;
            *debt = debt.saturating_add(ns);
        }
    }

    /// The worker time instance `i` owes for its refusals, now paid by a request starting work.
    #[inline]
    pub(super) fn take_refusal_debt(&mut self, i: usize) -> u64 {
        std::mem::take(&mut self.instances[i].reject_debt_ns)
    }

    /// Takes the next request from an instance's queue for a free worker, shedding those that
    /// waited too long or whose caller's deadline has passed.
    #[inline]
    pub(super) fn next_from_queue(&mut self, sim: &mut Sim<Event>, i: usize, pool: usize) {
        let now = sim.now().as_ns();
        if self.process[i].hung > 0 {
            return; // a hung process takes nothing from its queue
        }
        loop {
            let s = self.world.instances[i].service_idx as usize;
            let def = &self.world.services[s];
            let inst = &mut self.instances[i];
            let lifo = def
                .shed
                .as_ref()
                .and_then(|p| p.lifo_over)
                .is_some_and(|n| inst.pool(pool).queue.len() > n as usize);
            let next = if lifo {
                inst.pool_mut(pool).queue.pop_back()
            } else {
                inst.pool_mut(pool).queue.pop_front()
            };
            let Some(next) = next else { return };
            let st = &mut self.stats[s];
            st.touch(now);
            st.queue_now.dec();
            let r = &self.requests[next];
            let too_old = def
                .shed
                .as_ref()
                .and_then(|p| p.max_wait_ns)
                .is_some_and(|w| now - r.arrived_ns > w);
            let expired = def.honor_deadlines && now >= r.deadline_ns;
            if too_old || expired {
                self.load_down(s, i as u32);
                self.charge_refusal(i);
                self.turn_away(sim, next, Outcome::Shed);
                continue;
            }
            self.start_work(sim, next, true);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    //! `RateLimits` driven request by request: which limiters a request meets, what a refusal
    //! leaves behind, and the wait it reports (times in ns).

    use super::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// The limits of a service with `n_workloads` workloads; each limit is (rate per second,
    /// burst).
    fn limits(def: RateLimitDef, n_workloads: usize) -> RateLimits {
        RateLimits::new(&def, n_workloads)
    }

    /// A refused request takes no token from any limiter, not even from those that had one:
    /// the take is all or nothing.
    #[test]
    fn a_refused_request_takes_no_token() {
        let def = RateLimitDef {
            global: Some((10.0, 2)),
            per_client: Some((1.0, 1)),
            per_tier: Vec::new(),
        };
        let mut l = limits(def, 2);
        assert_eq!(l.take(0, None, 1.0, 0), Ok(()));
        // Workload 0's own bucket is empty; the global one still has a token, and keeps it.
        assert_eq!(l.take(0, None, 1.0, 0), Err(S));
        assert_eq!(l.take(1, None, 1.0, 0), Ok(()));
        assert_eq!(l.take(1, None, 1.0, 0), Err(S));
    }

    /// A refusal reports the longest wait of the limiters that refused it (the time until every
    /// one of them has a token); a limiter with a token adds no wait.
    #[test]
    fn the_wait_is_the_longest_of_the_refusing_limiters() {
        let def = RateLimitDef {
            global: Some((10.0, 1)),
            per_client: None,
            per_tier: vec![Some((2.0, 1)), None],
        };
        let mut l = limits(def, 2);
        assert_eq!(l.take(0, Some(0), 1.0, 0), Ok(()));
        // Global (a token in 100 ms) and tier 0 (in 500 ms) refuse; tier 1 has no limit.
        assert_eq!(l.take(0, Some(0), 1.0, 0), Err(500 * MS));
        assert_eq!(l.take(1, Some(1), 1.0, 0), Err(100 * MS));
        // At 100 ms the global bucket has its token again; tier 0 still needs 400 ms.
        assert_eq!(l.take(0, Some(0), 1.0, 100 * MS), Err(400 * MS));
        assert_eq!(l.take(1, Some(1), 1.0, 100 * MS), Ok(()));
        // At 200 ms the global bucket has refilled: tier 0 alone refuses.
        assert_eq!(l.take(0, Some(0), 1.0, 200 * MS), Err(300 * MS));
        assert_eq!(l.take(0, Some(0), 1.0, 500 * MS), Ok(()));
    }

    /// Each workload (client) has a bucket of its own: one client spending its burst does not
    /// limit another.
    #[test]
    fn per_client_buckets_are_separate_per_workload() {
        let def = RateLimitDef {
            global: None,
            per_client: Some((1.0, 2)),
            per_tier: Vec::new(),
        };
        let mut l = limits(def, 3);
        assert_eq!(l.take(0, None, 1.0, 0), Ok(()));
        assert_eq!(l.take(0, None, 1.0, 0), Ok(()));
        assert_eq!(l.take(0, None, 1.0, 0), Err(S));
        for workload in 1..3 {
            assert_eq!(l.take(workload, None, 1.0, 0), Ok(()));
            assert_eq!(l.take(workload, None, 1.0, 0), Ok(()));
        }
        assert_eq!(l.take(2, None, 1.0, 0), Err(S));
        assert_eq!(l.take(0, None, 1.0, S), Ok(()));
    }

    /// A tier without a limit, and a workload without a tier, are not limited by the per-tier
    /// buckets; a limited tier is.
    #[test]
    fn a_tier_without_a_limit_is_not_limited() {
        let def = RateLimitDef {
            global: None,
            per_client: None,
            per_tier: vec![Some((1.0, 1)), None],
        };
        let mut l = limits(def, 3);
        assert_eq!(l.take(0, Some(0), 1.0, 0), Ok(()));
        assert_eq!(l.take(0, Some(0), 1.0, 0), Err(S));
        for _ in 0..1000 {
            assert_eq!(l.take(1, Some(1), 1.0, 0), Ok(()));
            assert_eq!(l.take(2, None, 1.0, 0), Ok(()));
        }
        assert_eq!(l.take(0, Some(0), 1.0, 0), Err(S), "tier 0 is still empty");
    }
}
