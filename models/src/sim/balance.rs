//! Load balancing: which instance of a service takes a request. The fast path (every instance in
//! rotation) is round robin, random, least outstanding or power of two choices; the slow path
//! knows rotation (health verdicts, ejections), slow start after a return, and regions (callers
//! prefer their own). A datastore routes writes to its primary.
//!
//! No pick scans the instances. The rotation is a maintained set (`Members`: the instances in
//! rotation, in instance order, the `k`-th found in O(log n)), changed when a verdict changes
//! (`refresh_rotation`), one set per region for services in several; a balancer draws `k` among
//! the `m` candidates exactly as a scan over them would, so the picks are the scan's. Least
//! outstanding reads a tournament tree over (out of rotation, load, instance) (`Least`), updated
//! by one per request (`load_up`, `load_down`). The loads the balancers read are a dense array
//! of their own (`load`), apart from the instances' pools and queues.
//!
//! ```text
//!  pick: out of rotation, ramping back or multi-region?  no ─▶ fast path: first + draw, or Least
//!        yes ─▶ candidates: in rotation in the caller's region ─▶ in rotation ─▶ all (panic)
//!               each a count and a select in instance order (Members), or a Least minimum
//! ```

use super::least::Least;
use super::members::Members;
use super::*;

/// A balancer's draws: its round-robin position and its stream (`svc:<name>/balance`), boxed
/// so that a rotation's fields every pick reads share one cache line (see `Rotation`).
#[repr(C)]
pub(super) struct Draws {
    pub(super) round_robin: u32,
    pub(super) balance_rng: Box<Stream>,
}

impl Draws {
    /// Picks one of `n` candidates (0..n) by `balancer`; `load(k)` is candidate `k`'s
    /// outstanding requests, `least()` the least loaded candidate (ties to the lower index, as
    /// Envoy's least-request does for two).
    #[inline]
    pub(super) fn pick(
        &mut self,
        balancer: Balancer,
        n: u32,
        load: impl Fn(u32) -> u32,
        least: impl FnOnce() -> u32,
    ) -> u32 {
        match balancer {
            _ if n == 1 => 0,
            Balancer::RoundRobin => {
                let k = self.round_robin % n;
                self.round_robin = self.round_robin.wrapping_add(1);
                k
            }
            // Requests without a key reach a key-hashed service at random.
            Balancer::Random | Balancer::KeyHash => self.balance_rng.random_range(0..n),
            Balancer::LeastOutstanding => least(),
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
}

/// The instances of one region of a multi-region service that are in rotation there.
struct RegionSet {
    region: u32,
    members: Members,
    least: Option<Least>,
}

/// Where a pick's candidates come from, in the order the balancer prefers them.
#[derive(Copy, Clone)]
enum From {
    /// In rotation in the caller's region (the index of its `RegionSet`).
    Region(usize),
    /// In rotation.
    InRotation,
    /// Every instance of the group (none is in rotation: Envoy's panic mode).
    All,
}

/// The candidates of one pick: where from, how many, and how many of that set come before
/// the group's first position (`lo`).
#[derive(Copy, Clone)]
struct Candidates {
    from: From,
    m: u32,
    before: u32,
    lo: u32,
    hi: u32,
}

/// The rotation of a service as maintained sets, by position (`i - first`); what a pick on the
/// fast path reads (`first`, whether there is a `least` tree) first (see `Rotation`).
#[repr(C)]
struct Sets {
    first: u32,
    n: u32,
    /// Least outstanding only: the service's instances by (out of rotation, load, index).
    least: Option<Least>,
    /// Multi-region services only: a set per region their instances may run in.
    regions: Vec<RegionSet>,
    members: Members,
}

impl Sets {
    /// The sets of `n` instances from `first`, all in rotation; for a multi-region service, a
    /// set per region in `regions` (empty until `refresh_rotation` places each instance).
    fn new(first: u32, n: u32, balancer: Balancer, regions: Vec<u32>) -> Self {
        let least = || (balancer == Balancer::LeastOutstanding).then(|| Least::new(n));
        let empty_least = || {
            least().map(|mut l| {
                (0..n).for_each(|p| l.set_eligible(p, false));
                l
            })
        };
        Sets {
            first,
            n,
            members: Members::new(n, true),
            least: least(),
            regions: (regions.into_iter())
                .map(|region| RegionSet {
                    region,
                    members: Members::new(n, false),
                    least: empty_least(),
                })
                .collect(),
        }
    }

    /// The candidates among positions `lo..hi`, preferring `region` (a `RegionSet` index).
    fn candidates(&self, lo: u32, hi: u32, region: Option<usize>) -> Candidates {
        let of = |from, members: &Members| Candidates {
            from,
            m: members.count_in(lo, hi),
            before: members.rank(lo),
            lo,
            hi,
        };
        if let Some(r) = region {
            let c = of(From::Region(r), &self.regions[r].members);
            if c.m > 0 {
                return c;
            }
        }
        let c = of(From::InRotation, &self.members);
        if c.m > 0 {
            return c;
        }
        Candidates {
            from: From::All,
            m: hi - lo,
            before: lo,
            lo,
            hi,
        }
    }

    fn set_of(&self, from: From) -> Option<&Members> {
        match from {
            From::Region(r) => Some(&self.regions[r].members),
            From::InRotation => Some(&self.members),
            From::All => None,
        }
    }

    /// The instance of candidate `k` (from 0, in instance order).
    #[inline]
    fn nth(&self, c: &Candidates, k: u32) -> u32 {
        let pos = match self.set_of(c.from) {
            Some(members) => members.select(c.before + k),
            None => c.before + k,
        };
        self.first + pos
    }

    /// The least loaded candidate, as its rank `k` among the candidates.
    #[inline]
    fn least(&self, c: &Candidates) -> u32 {
        let tree = match c.from {
            From::Region(r) => self.regions[r].least.as_ref(),
            From::InRotation | From::All => self.least.as_ref(),
        };
        let (pos, _) = (tree.expect("least outstanding keeps its tree")).min_in(c.lo, c.hi);
        match self.set_of(c.from) {
            Some(members) => members.rank(pos) - c.before,
            None => pos - c.lo,
        }
    }
}

/// Where host `h` is, as service `s`'s balancer groups instances: its zone for a zone-aware
/// service, else its region.
fn locality(world: &World, s: usize, h: u32) -> u32 {
    let host = &world.hosts[h as usize];
    match world.services[s].zone_aware {
        Some(_) => host.zone_idx,
        None => host.region_idx,
    }
}

/// A service's load balancer: its draws, and the rotation as maintained sets.
///
/// Laid out for the fast path (every request's pick, `load_up`, `load_down`): the round-robin
/// position, the count out of rotation, the sets' first position and least tree in the first
/// cache line, the balancer's stream boxed apart (random and power of two draw from it; it was
/// 300 bytes between those fields: a wide world's picks and load changes missed on several
/// lines of each service's rotation).
#[repr(C, align(64))]
pub(super) struct Rotation {
    pub(super) draws: Draws,
    /// Instances out of load balancing (unhealthy, ejected or stopped).
    pub(super) out_of_rotation: u32,
    sets: Sets,
}

const _: () = assert!(
    std::mem::offset_of!(Rotation, sets) + std::mem::offset_of!(Sets, regions) <= 64,
    "a fast pick's fields in the first line (least outstanding's regions in the second)"
);

impl Rotation {
    pub(super) fn new(rngs: &RngFactory, world: &World, s: usize) -> Self {
        let def = &world.services[s];
        let name = format!("svc:{}", def.name);
        // The regions a multi-region service's instances are placed in or may move to.
        // (Zones, for a zone-aware service.)
        let mut regions: Vec<u32> = Vec::new();
        if def.multi_region || def.zone_aware.is_some() {
            let n = def.n_instances;
            let placed =
                (0..n).map(|k| world.instances[(def.first_instance + k) as usize].host_idx);
            let hosts = def.hosts.iter().copied().chain(placed);
            regions = hosts.map(|h| locality(world, s, h)).collect();
            regions.sort_unstable();
            regions.dedup();
        }
        Rotation {
            draws: Draws {
                round_robin: 0,
                balance_rng: Box::new(rngs.stream(&name, "balance")),
            },
            out_of_rotation: 0,
            sets: Sets::new(def.first_instance, def.n_instances, def.balancer, regions),
        }
    }

    /// Instance at `pos` is in rotation or not (`in_rotation`), in `region`.
    fn set(&mut self, pos: u32, in_rotation: bool, region: u32) {
        let sets = &mut self.sets;
        if sets.members.contains(pos) != in_rotation {
            sets.members.set(pos, in_rotation);
            if let Some(l) = &mut sets.least {
                l.set_eligible(pos, in_rotation);
            }
        }
        for r in &mut sets.regions {
            let here = in_rotation && r.region == region;
            if r.members.contains(pos) != here {
                r.members.set(pos, here);
                if let Some(l) = &mut r.least {
                    l.set_eligible(pos, here);
                }
            }
        }
        self.out_of_rotation = sets.n - sets.members.len();
    }

    /// Instance at `pos` now has `load` outstanding requests.
    #[inline]
    fn set_load(&mut self, pos: u32, load: u32) {
        if let Some(l) = &mut self.sets.least {
            l.set_load(pos, load);
            for r in &mut self.sets.regions {
                let tree = r.least.as_mut().expect("regions keep loads too");
                tree.set_load(pos, load);
            }
        }
    }

    /// Zone-aware routing: the caller's zone's candidates `local` while the zone holds at least
    /// its share of the instances in rotation (`L × Z ≥ T`); otherwise them with probability
    /// `L × Z / T` (a draw), else every instance in rotation.
    fn zone_spill(&mut self, local: Candidates) -> Candidates {
        let sets = &self.sets;
        let all = sets.candidates(local.lo, local.hi, None);
        let zones = sets.regions.len() as u64;
        let (l, t) = (u64::from(local.m) * zones, u64::from(all.m));
        if l >= t || self.draws.balance_rng.random::<f64>() * (t as f64) < l as f64 {
            local
        } else {
            all
        }
    }

    /// Picks one of the candidates `c` by `balancer`, with the loads by instance.
    #[inline]
    fn pick_from(&mut self, balancer: Balancer, c: &Candidates, load: &[u32]) -> u32 {
        let sets = &self.sets;
        let load_of = |k: u32| load[sets.nth(c, k) as usize];
        let k = self.draws.pick(balancer, c.m, load_of, || sets.least(c));
        sets.nth(c, k)
    }
}

impl ServiceModel<'_> {
    /// Chooses an instance of service `s` for a request of `workload`, within the instance
    /// group of the workload's tier when the service has tier groups, preferring instances in
    /// the caller's `region` and in load balancing. A datastore routes writes to its primary.
    #[inline]
    pub(super) fn pick_instance(
        &mut self,
        s: u32,
        workload: u32,
        region: u32,
        write: bool,
        key: u32,
    ) -> u32 {
        let def = &self.world.services[s as usize];
        let tier = self.world.workloads[workload as usize].tier;
        let (first, n) = def.instances_for(tier);
        if def.balancer == Balancer::KeyHash && key != NONE && def.store.is_none() {
            if let Some(i) = self.pick_by_key(first, n, key) {
                return i;
            }
        }
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
        let rotation = &mut self.rotations[s as usize];
        if rotation.out_of_rotation > 0
            || def.multi_region
            || def.zone_aware.is_some()
            || def.recovery.slow_start.is_some()
        {
            let now = self.now_ns;
            return self.pick_slow(s as usize, first, n, region, now);
        }
        if n == 1 {
            return first; // what every balancer picks of one candidate, without a draw
        }
        // Every instance of the group is a candidate: candidate `k` is instance `first + k`.
        let lo = first - rotation.sets.first;
        let c = Candidates {
            from: From::All,
            m: n,
            before: lo,
            lo,
            hi: lo + n,
        };
        rotation.pick_from(def.balancer, &c, &self.load)
    }

    /// Whether instance `i` takes part in load balancing.
    #[inline]
    pub(super) fn in_rotation(&self, i: u32) -> bool {
        let health = &self.health[i as usize];
        !health.unhealthy && !health.ejected && self.process[i as usize].active
    }

    /// Tells the balancer of instance `i`'s service whether `i` is in rotation now, and where:
    /// after a verdict (health, ejection), a start or stop, a move to another host.
    pub(super) fn refresh_rotation(&mut self, i: u32) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let in_rotation = self.in_rotation(i);
        let host = self.host_of[i as usize];
        let place = locality(self.world, s, host);
        let rotation = &mut self.rotations[s];
        rotation.set(i - rotation.sets.first, in_rotation, place);
    }

    /// Where a caller on host `host` is, as service `s`'s balancer prefers: its zone for a
    /// zone-aware service, else its region.
    #[inline]
    pub(super) fn locality(&self, s: u32, host: u32) -> u32 {
        locality(self.world, s as usize, host)
    }

    /// Where a client at home in `region` is, as service `s`'s balancer prefers: its region,
    /// or nowhere for a zone-aware service (users have no zone).
    #[inline]
    pub(super) fn client_locality(&self, s: u32, region: u32) -> u32 {
        match self.world.services[s as usize].zone_aware {
            Some(_) => NONE,
            None => region,
        }
    }

    /// Refreshes every instance of service `s` (at the start, and when an autoscaler stops
    /// several).
    pub(super) fn recount_rotation(&mut self, s: usize) {
        let def = &self.world.services[s];
        for i in def.first_instance..def.first_instance + def.n_instances {
            self.refresh_rotation(i);
        }
    }

    /// What the balancer of instance `i`'s service holds that the verdicts and loads do not say
    /// (for the audit at the end of a run): nothing, when the sets are right.
    pub(super) fn rotation_disagrees(&self, i: u32) -> Option<String> {
        let s = self.world.instances[i as usize].service_idx as usize;
        let sets = &self.rotations[s].sets;
        let pos = i - sets.first;
        let held = (self.in_rotation(i), self.load[i as usize]);
        let member = sets.members.contains(pos);
        let tree = sets.least.as_ref().map(|l| l.get(pos));
        (member != held.0 || tree.is_some_and(|t| t != held)).then(|| {
            format!("instance {i}: in rotation and load {held:?}, balancer {member} {tree:?}")
        })
    }

    /// A request now counts against instance `i` of service `s` (queued or being served).
    #[inline]
    pub(super) fn load_up(&mut self, s: usize, i: u32) {
        let load = &mut self.load[i as usize];
        *load += 1;
        let (load, rotation) = (*load, &mut self.rotations[s]);
        rotation.set_load(i - rotation.sets.first, load);
    }

    /// A request no longer counts against instance `i` of service `s`.
    #[inline]
    pub(super) fn load_down(&mut self, s: usize, i: u32) {
        let load = &mut self.load[i as usize];
        load.dec();
        let (load, rotation) = (*load, &mut self.rotations[s]);
        rotation.set_load(i - rotation.sets.first, load);
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
        let def = &self.world.services[s];
        let rotation = &mut self.rotations[s];
        let sets = &rotation.sets;
        // Zone-aware routing, from `min_cluster_size` instances, replaces the preference for
        // the caller's region.
        let local = def.zone_aware.map_or(def.multi_region, |min| n >= min) && region != NONE;
        let region = local
            .then(|| sets.regions.iter().position(|r| r.region == region))
            .flatten();
        let lo = first - sets.first;
        let mut c = sets.candidates(lo, lo + n, region);
        if def.zone_aware.is_some() && matches!(c.from, From::Region(_)) {
            c = rotation.zone_spill(c);
        }
        let rotation = &mut self.rotations[s];
        let mut chosen = rotation.pick_from(def.balancer, &c, &self.load);
        // Slow start: an instance ramping back is kept with the probability of its weight, else
        // the balancer picks again (a few times at most), so it takes about its share.
        if def.recovery.slow_start.is_some() && c.m > 1 {
            for _ in 0..4 {
                let w = self.weight(s, chosen, now);
                let rotation = &mut self.rotations[s];
                if w >= 1.0 || rotation.draws.balance_rng.random::<f64>() < w {
                    break;
                }
                chosen = rotation.pick_from(def.balancer, &c, &self.load);
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws() -> Draws {
        Draws {
            round_robin: 0,
            balance_rng: Box::new(RngFactory::new(7, 0).stream("svc:t", "balance")),
        }
    }

    /// The balancers' choice by a scan, as it was before the sets: `load(k)` is candidate `k`'s.
    fn scan_pick(d: &mut Draws, balancer: Balancer, n: u32, load: impl Fn(u32) -> u32) -> u32 {
        let least = || (0..n).min_by_key(|&k| load(k)).unwrap_or(0);
        d.pick(balancer, n, &load, least)
    }

    #[test]
    fn round_robin_takes_each_in_turn() {
        let mut d = draws();
        let picks: Vec<u32> = (0..7)
            .map(|_| scan_pick(&mut d, Balancer::RoundRobin, 3, |_| 0))
            .collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn least_outstanding_takes_the_lightest_and_ties_go_low() {
        let mut d = draws();
        let loads = [4, 1, 3, 1];
        let pick = scan_pick(&mut d, Balancer::LeastOutstanding, 4, |k| loads[k as usize]);
        assert_eq!(pick, 1);
        assert_eq!(scan_pick(&mut d, Balancer::LeastOutstanding, 1, |_| 9), 0);
    }

    #[test]
    fn power_of_two_never_takes_the_heavier_of_its_two() {
        // With two candidates, both are always drawn: the lighter one wins every time.
        let mut d = draws();
        let loads = [5, 2];
        for _ in 0..100 {
            let pick = scan_pick(&mut d, Balancer::PowerOfTwo, 2, |k| loads[k as usize]);
            assert_eq!(pick, 1);
        }
        // Random spreads over all candidates.
        let mut seen = [0u32; 3];
        for _ in 0..300 {
            seen[scan_pick(&mut d, Balancer::Random, 3, |_| 0) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
    }

    /// The instances of one service as the reference scan sees them.
    struct Scan {
        first: u32,
        in_rotation: Vec<bool>,
        region: Vec<u32>,
        load: Vec<u32>,
    }

    impl Scan {
        /// The pick of the scan this module replaced: candidates in instance order, in rotation
        /// in `region` first, then in rotation, then all.
        fn pick(&self, d: &mut Draws, b: Balancer, (lo, hi): (u32, u32), region: u32) -> u32 {
            let mut cands = Vec::new();
            for pass in 0..3 {
                for p in lo..hi {
                    let ok = match pass {
                        0 => self.in_rotation[p as usize] && self.region[p as usize] == region,
                        1 => self.in_rotation[p as usize],
                        _ => true,
                    };
                    if ok {
                        cands.push(p);
                    }
                }
                if !cands.is_empty() {
                    break;
                }
            }
            let load = |k: u32| self.load[cands[k as usize] as usize];
            let k = scan_pick(d, b, cands.len() as u32, load);
            self.first + cands[k as usize]
        }
    }

    /// Random verdicts, moves, loads and groups: the sets pick what the scan picks, draw for
    /// draw, for every balancer, with and without regions.
    #[test]
    fn sets_pick_what_the_scan_picks() {
        let mut rng = RngFactory::new(20, 0).stream("test", "balance");
        let balancers = [
            Balancer::RoundRobin,
            Balancer::Random,
            Balancer::LeastOutstanding,
            Balancer::PowerOfTwo,
        ];
        for (b, n, regions) in balancers.iter().flat_map(|&b| {
            [
                (b, 1, 1),
                (b, 2, 1),
                (b, 7, 1),
                (b, 40, 1),
                (b, 9, 3),
                (b, 40, 2),
            ]
        }) {
            let first = 100;
            let region_list: Vec<u32> = if regions > 1 {
                (0..regions).collect()
            } else {
                vec![]
            };
            let mut rot = Rotation {
                draws: draws(),
                out_of_rotation: 0,
                sets: Sets::new(first, n, b, region_list),
            };
            let mut scan = Scan {
                first,
                in_rotation: vec![true; n as usize],
                region: (0..n).map(|p| p % regions).collect(),
                load: vec![0; n as usize],
            };
            for p in 0..n {
                rot.set(p, true, scan.region[p as usize]);
            }
            let mut reference = draws();
            for step in 0..(30 * n) {
                let p = rng.random_range(0..n);
                match rng.random_range(0..10) {
                    0 => scan.in_rotation[p as usize] = !scan.in_rotation[p as usize],
                    1 => scan.region[p as usize] = rng.random_range(0..regions),
                    2..=5 => scan.load[p as usize] += 1,
                    _ => {
                        let l = &mut scan.load[p as usize];
                        *l = l.saturating_sub(1);
                    }
                }
                rot.set(p, scan.in_rotation[p as usize], scan.region[p as usize]);
                rot.set_load(p, scan.load[p as usize]);
                let lo = rng.random_range(0..n);
                let hi = rng.random_range(lo + 1..=n);
                let caller = rng.random_range(0..regions + 1); // `regions`: a region of none
                let load: Vec<u32> = (0..first).map(|_| 0).chain(scan.load.clone()).collect();
                let index = rot.sets.regions.iter().position(|r| r.region == caller);
                let c = rot.sets.candidates(lo, hi, index);
                let got = rot.pick_from(b, &c, &load);
                let want = scan.pick(&mut reference, b, (lo, hi), caller);
                assert_eq!(
                    got, want,
                    "{b:?}, {n} instances, step {step}, group {lo}..{hi}"
                );
                let out = scan.in_rotation.iter().filter(|&&x| !x).count() as u32;
                assert_eq!(rot.out_of_rotation, out);
            }
        }
    }
}
