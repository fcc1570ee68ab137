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
    /// Picks one of `n` candidates (0..n) by `balancer`; `load(k)` is candidate `k`'s
    /// outstanding requests (ties go to the lower index, as Envoy's least-request does for two).
    #[inline]
    pub(super) fn pick(&mut self, balancer: Balancer, n: u32, load: impl Fn(u32) -> u32) -> u32 {
        match balancer {
            _ if n == 1 => 0,
            Balancer::RoundRobin => {
                let k = self.round_robin % n;
                self.round_robin = self.round_robin.wrapping_add(1);
                k
            }
            Balancer::Random => self.balance_rng.random_range(0..n),
            Balancer::LeastOutstanding => (0..n).min_by_key(|&k| load(k)).unwrap_or(0),
            Balancer::PowerOfTwo => {
                let a = self.balance_rng.random_range(0..n);
                let b = (a + 1 + self.balance_rng.random_range(0..n - 1)) % n;
                if load(b) < load(a) {
                    b
                } else {
                    a
                }
            }
        }
    }

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
        let instances = &self.instances;
        let load = |k: u32| instances[(first + k) as usize].outstanding;
        let offset = self.rotations[s as usize].pick(def.balancer, n, load);
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
            let instances = &model.instances;
            let load = |k: u32| instances[cands[k as usize] as usize].outstanding;
            let k = model.rotations[s].pick(model.world.services[s].balancer, m, load);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation() -> Rotation {
        Rotation::new(&RngFactory::new(7, 0), "svc:t")
    }

    #[test]
    fn round_robin_takes_each_in_turn() {
        let mut r = rotation();
        let picks: Vec<u32> = (0..7)
            .map(|_| r.pick(Balancer::RoundRobin, 3, |_| 0))
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn least_outstanding_takes_the_lightest_and_ties_go_low() {
        let mut r = rotation();
        let loads = [4, 1, 3, 1];
        assert_eq!(
            r.pick(Balancer::LeastOutstanding, 4, |k| loads[k as usize]),
            1
        );
        assert_eq!(r.pick(Balancer::LeastOutstanding, 1, |_| 9), 0);
    }

    #[test]
    fn power_of_two_never_takes_the_heavier_of_its_two() {
        // With two candidates, both are always drawn: the lighter one wins every time.
        let mut r = rotation();
        let loads = [5, 2];
        for _ in 0..100 {
            assert_eq!(r.pick(Balancer::PowerOfTwo, 2, |k| loads[k as usize]), 1);
        }
        // Random spreads over all candidates.
        let mut seen = [0u32; 3];
        for _ in 0..300 {
            seen[r.pick(Balancer::Random, 3, |_| 0) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
    }
}
