//! Server-side admission: what an instance does with a request before a worker takes it.
//! Rate limits (global, per client, per tier: token buckets), the adaptive concurrency limit,
//! the queue discipline (FIFO, LIFO over a depth) and shedding of requests that waited too long
//! or whose caller's deadline has passed.

use super::*;

/// Takes a token from every rate limiter of a service that applies to the request, or none of
/// them: on refusal, the wait until all would have one.
pub(super) fn take_tokens(
    st: &mut ServiceState,
    workload: usize,
    tier: Option<u32>,
    now: u64,
) -> Result<(), u64> {
    let mut wait = 0;
    let mut check = |b: Option<&mut Bucket>| {
        if let Some(b) = b {
            if let Err(w) = b.check(now) {
                wait = wait.max(w);
            }
        }
    };
    check(st.global_bucket.as_mut());
    check(st.client_buckets.get_mut(workload));
    check(
        tier.and_then(|t| st.tier_buckets.get_mut(t as usize))
            .and_then(Option::as_mut),
    );
    if wait > 0 {
        return Err(wait);
    }
    st.global_bucket.iter_mut().for_each(Bucket::take);
    if let Some(b) = st.client_buckets.get_mut(workload) {
        b.take();
    }
    if let Some(b) = tier
        .and_then(|t| st.tier_buckets.get_mut(t as usize))
        .and_then(Option::as_mut)
    {
        b.take();
    }
    Ok(())
}

impl ServiceModel<'_> {
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
            let st = &mut self.services[s];
            st.touch(now);
            st.queue_now -= 1;
            let r = &self.requests[next as usize];
            let too_old = def
                .shed
                .as_ref()
                .and_then(|p| p.max_wait_ns)
                .is_some_and(|w| now - r.arrived_ns > w);
            let expired = def.honor_deadlines && now >= r.deadline_ns;
            if too_old || expired {
                self.instances[i].outstanding -= 1;
                self.turn_away(sim, next, Outcome::Shed);
                continue;
            }
            self.start_work(sim, next, true);
            return;
        }
    }
}
