//! Load balancing: which instance of a service takes a request. The fast path (every instance in
//! rotation) is round robin, random, least outstanding or power of two choices; the slow path
//! knows rotation (health verdicts, ejections), slow start after a return, and regions (callers
//! prefer their own). A datastore routes writes to its primary.

use super::*;

/// A service's load balancer: its round-robin position, its draws (`svc:<name>/balance`), and
/// how many instances are out of rotation (the fast path needs none).
pub(super) struct Rotation {
    pub(super) round_robin: u32,
    pub(super) balance_rng: Stream,
    /// Instances out of load balancing (unhealthy or ejected).
    pub(super) out_of_rotation: u32,
}

impl Rotation {
    pub(super) fn new(rngs: &RngFactory, name: &str) -> Self {
        Rotation {
            round_robin: 0,
            balance_rng: rngs.stream(name, "balance"),
            out_of_rotation: 0,
        }
    }
}

impl ServiceModel<'_> {
    /// Chooses an instance of service `s` for a request of `workload`, within the instance
    /// group of the workload's tier when the service has tier groups, preferring instances in
    /// the caller's `region` and in load balancing. A datastore routes writes to its primary.
    #[inline]
    pub(super) fn pick_instance(&mut self, s: u32, workload: u32, region: u32, write: bool) -> u32 {
        let def = &self.world.services[s as usize];
        let tier = self.world.workloads[workload as usize].tier;
        let (first, n) = def.instances_for(tier);
        if def.store.is_some() {
            let read_replicas = def.store.as_ref().is_some_and(|d| d.reads_from_replicas);
            let picked = if !write && read_replicas {
                self.pick_balanced(s, first, n, region)
            } else {
                first
            };
            return self.store_route(s as usize, write, picked);
        }
        self.pick_balanced(s, first, n, region)
    }

    #[inline]
    pub(super) fn pick_balanced(&mut self, s: u32, first: u32, n: u32, region: u32) -> u32 {
        let def = &self.world.services[s as usize];
        if self.rotations[s as usize].out_of_rotation > 0
            || def.multi_region
            || def.recovery.slow_start.is_some()
        {
            let now = self.now_ns;
            return self.pick_slow(s as usize, first, n, region, now);
        }
        let st = &mut self.rotations[s as usize];
        let offset = match def.balancer {
            _ if n == 1 => 0,
            Balancer::RoundRobin => {
                let k = st.round_robin % n;
                st.round_robin = st.round_robin.wrapping_add(1);
                k
            }
            Balancer::Random => st.balance_rng.random_range(0..n),
            Balancer::LeastOutstanding => (0..n)
                .min_by_key(|&k| self.instances[(first + k) as usize].outstanding)
                .unwrap_or(0),
            Balancer::PowerOfTwo => {
                let a = st.balance_rng.random_range(0..n);
                let b = (a + 1 + st.balance_rng.random_range(0..n - 1)) % n;
                let load = |k: u32| self.instances[(first + k) as usize].outstanding;
                if load(b) < load(a) {
                    b
                } else {
                    a
                }
            }
        };
        first + offset
    }

    /// Whether instance `i` takes part in load balancing.
    #[inline]
    pub(super) fn in_rotation(&self, i: u32) -> bool {
        let health = &self.health[i as usize];
        !health.unhealthy && !health.ejected && self.process[i as usize].active
    }

    /// Recounts the instances of service `s` out of load balancing (the balancers' fast path
    /// needs the count to be zero).
    pub(super) fn recount_rotation(&mut self, s: usize) {
        let def = &self.world.services[s];
        self.rotations[s].out_of_rotation = (def.first_instance
            ..def.first_instance + def.n_instances)
            .filter(|&i| !self.in_rotation(i))
            .count() as u32;
    }

    /// Share of its traffic an instance takes while it ramps back (slow start).
    pub(super) fn weight(&self, s: usize, i: u32, now: u64) -> f64 {
        let Some(SlowStart {
            over_ns: over,
            steps,
        }) = self.world.services[s].recovery.slow_start
        else {
            return 1.0;
        };
        let since = now.saturating_sub(self.health[i as usize].back_since_ns);
        if since >= over {
            return 1.0;
        }
        let step = (since as u128 * u128::from(steps) / u128::from(over)) as u32 + 1;
        f64::from(step) / f64::from(steps)
    }

    /// Picks an instance among `first .. first + n` when some are out of load balancing, ramping
    /// back, or in another region: prefers instances in rotation in `region`, then in rotation
    /// anywhere, then any (Envoy's panic mode).
    #[cold]
    #[inline(never)]
    pub(super) fn pick_slow(&mut self, s: usize, first: u32, n: u32, region: u32, now: u64) -> u32 {
        let mut cands = std::mem::take(&mut self.scratch);
        cands.clear();
        let multi = self.world.services[s].multi_region && region != NONE;
        for pass in 0..3 {
            for i in first..first + n {
                let ok = match pass {
                    0 => {
                        self.in_rotation(i)
                            && (!multi
                                || self.world.hosts[self.instances[i as usize].host as usize]
                                    .region_idx
                                    == region)
                    }
                    1 => self.in_rotation(i),
                    _ => true,
                };
                if ok {
                    cands.push(i);
                }
            }
            if !cands.is_empty() {
                break;
            }
        }
        let m = cands.len() as u32;
        let pick = |model: &mut Self| -> u32 {
            let st = &mut model.rotations[s];
            let k = match model.world.services[s].balancer {
                _ if m == 1 => 0,
                Balancer::RoundRobin => {
                    let k = st.round_robin % m;
                    st.round_robin = st.round_robin.wrapping_add(1);
                    k
                }
                Balancer::Random => st.balance_rng.random_range(0..m),
                Balancer::LeastOutstanding => (0..m)
                    .min_by_key(|&k| model.instances[cands[k as usize] as usize].outstanding)
                    .unwrap_or(0),
                Balancer::PowerOfTwo => {
                    let a = st.balance_rng.random_range(0..m);
                    let b = (a + 1 + st.balance_rng.random_range(0..m - 1)) % m;
                    let load = |k: u32| model.instances[cands[k as usize] as usize].outstanding;
                    if load(b) < load(a) {
                        b
                    } else {
                        a
                    }
                }
            };
            cands[k as usize]
        };
        let mut chosen = pick(self);
        // Slow start: an instance ramping back is kept with the probability of its weight, else
        // the balancer picks again (a few times at most), so it takes about its share.
        if self.world.services[s].recovery.slow_start.is_some() && m > 1 {
            for _ in 0..4 {
                let w = self.weight(s, chosen, now);
                if w >= 1.0 || self.rotations[s].balance_rng.random::<f64>() < w {
                    break;
                }
                chosen = pick(self);
            }
        }
        self.scratch = cands;
        chosen
    }
}
