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
    pub(super) fn take(&mut self, workload: usize, tier: Option<u32>, now: u64) -> Result<(), u64> {
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
            if let Err(w) = b.check(now) {
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
    pub(super) fn admit(&mut self, req: u32, now: u64) -> Option<Outcome> {
        let r = &self.requests[req as usize];
        let (s, i, workload) = (r.service as usize, r.instance as usize, r.workload as usize);
        let def = &self.world.services[s];
        if def.honor_deadlines && now >= r.deadline_ns {
            return Some(Outcome::Shed);
        }
        if let Some(limits) = &mut self.limits[s] {
            let tier = self.world.workloads[workload].tier;
            if let Err(wait) = limits.take(workload, tier, now) {
                self.requests[req as usize].retry_after_ns = wait;
                return Some(Outcome::RateLimited);
            }
        }
        let inst = &self.instances[i];
        if inst
            .limit
            .as_ref()
            .is_some_and(|l| !l.admits(inst.outstanding))
        {
            return Some(Outcome::Shed);
        }
        None
    }

    /// An admitted request takes a free worker of its pool, or waits in the pool's queue, or is
    /// turned away when the queue is full. A hung instance takes no work: requests queue.
    pub(super) fn serve_or_queue(&mut self, sim: &mut Sim<Event>, req: u32, now: u64) {
        let r = &self.requests[req as usize];
        let (s, i, pool) = (r.service as usize, r.instance as usize, r.pool as usize);
        let (workers, queue_cap, _) = self.world.services[s].pool(pool);
        let hung = self.process[i].hung > 0;
        let inst = &mut self.instances[i];
        if inst.pools[pool].busy < workers && !hung {
            inst.outstanding += 1;
            self.start_work(sim, req, false);
        } else if (inst.pools[pool].queue.len() as u64) < u64::from(queue_cap) {
            inst.outstanding += 1;
            inst.pools[pool].queue.push_back(req);
            let st = &mut self.stats[s];
            st.touch(now);
            st.queue_now += 1;
            self.requests[req as usize].phase = Phase::Queued;
        } else {
            self.turn_away(sim, req, Outcome::Rejected);
        }
    }

    /// Takes the next request from an instance's queue for a free worker, shedding those that
    /// waited too long or whose caller's deadline has passed.
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
                .is_some_and(|n| inst.pools[pool].queue.len() > n as usize);
            let next = if lifo {
                inst.pools[pool].queue.pop_back()
            } else {
                inst.pools[pool].queue.pop_front()
            };
            let Some(next) = next else { return };
            let st = &mut self.stats[s];
            st.touch(now);
            st.queue_now.dec();
            let r = &self.requests[next as usize];
            let too_old = def
                .shed
                .as_ref()
                .and_then(|p| p.max_wait_ns)
                .is_some_and(|w| now - r.arrived_ns > w);
            let expired = def.honor_deadlines && now >= r.deadline_ns;
            if too_old || expired {
                self.instances[i].outstanding.dec();
                self.turn_away(sim, next, Outcome::Shed);
                continue;
            }
            self.start_work(sim, next, true);
            return;
        }
    }
}
