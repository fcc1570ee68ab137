//! The operators' actions: mitigations taken at set times (`actions` in the scenario), logged
//! as actions (`action` in the run's log), never as faults. Each acts through the part that
//! owns what it changes:
//!
//! ```text
//!  Action ─▶ FeatureOff: faults' feature flags (the call is no longer made)
//!            AddCapacity: recovery's start_instance (spare instances, ScaleUp after `delay`)
//!            ShiftTraffic: a share of a region's users enter through another region
//!            Pause: the service's instances refuse every arrival (here; asked in `deliver`)
//!            Restart: restart's restart_process, all at once or one step per instance
//! ```
//!
//! Randomness: `workload:<name>/shift` (which users a partial traffic shift moves), drawn only
//! while a shift of less than everything is in force.

use super::*;
use crate::world::ActionEffect;

/// What the actions taken so far changed: paused services and traffic shifts.
pub(super) struct Actions {
    /// Per service: whether it was paused (it refuses every request that arrives).
    paused: Vec<bool>,
    any_paused: bool,
    /// Traffic shifts in force, in the order taken: (from region, to region, share).
    shifts: Vec<(u32, u32, f64)>,
    /// Per workload: the draws of its shifted users, made when first needed.
    shift_rngs: Vec<Option<Box<Stream>>>,
    rngs: RngFactory,
}

impl Actions {
    pub(super) fn new(world: &World, rngs: &RngFactory) -> Self {
        Actions {
            paused: vec![false; world.services.len()],
            any_paused: false,
            shifts: Vec::new(),
            shift_rngs: (0..world.workloads.len()).map(|_| None).collect(),
            rngs: *rngs,
        }
    }

    /// The region a user of workload `w` (named `name`), at home in `home`, enters through: a
    /// shift from `home` moves a share of them (shifts apply in the order taken).
    fn region_for(&mut self, w: usize, name: &str, home: u32) -> u32 {
        let mut region = home;
        for &(from, to, share) in &self.shifts {
            if region != from {
                continue;
            }
            let moved = share >= 1.0 || {
                let rngs = &self.rngs;
                let rng = self.shift_rngs[w].get_or_insert_with(|| {
                    Box::new(rngs.stream(&format!("workload:{name}"), "shift"))
                });
                rng.random::<f64>() < share
            };
            if moved {
                region = to;
            }
        }
        region
    }
}

impl ServiceModel<'_> {
    /// Schedules every action at its time.
    pub(super) fn schedule_actions(&mut self, sim: &mut Sim<Event>) {
        for (a, def) in self.world.actions.iter().enumerate() {
            let event = Event::Action {
                action: a as u16,
                step: 0,
            };
            sim.schedule_at(SimTime::from_ns(def.at_ns), event);
        }
    }

    /// Step `step` of action `a`: the action itself (step 0, logged), or the next instance of a
    /// rolling restart.
    #[cold]
    #[inline(never)]
    pub(super) fn on_action(&mut self, sim: &mut Sim<Event>, a: u32, step: u32) {
        let now = sim.now().as_ns();
        let world = self.world;
        let def = &world.actions[a as usize];
        if step == 0 {
            self.log(now, LogKind::Action, def.label.clone());
        }
        match &def.effect {
            ActionEffect::FeatureOff(edges) => self.switch_features(edges, true),
            ActionEffect::AddCapacity {
                instances,
                delay_ns,
            } => {
                for &i in instances {
                    self.start_instance(sim, i, *delay_ns);
                }
            }
            ActionEffect::ShiftTraffic { from, to, share } => {
                self.actions.shifts.push((*from, *to, *share));
            }
            ActionEffect::Pause(s) => {
                self.actions.paused[*s as usize] = true;
                self.actions.any_paused = true;
            }
            ActionEffect::Restart {
                service,
                every_ns,
                takes_ns,
            } => self.restart_step(sim, a, step, *service, *every_ns, *takes_ns),
        }
    }

    /// A restart of service `s`: every instance now (`every_ns` 0), or instance `step` now and
    /// the next one `every_ns` later. Instances not part of the service (not started by an
    /// autoscaler or an action) are left alone.
    fn restart_step(
        &mut self,
        sim: &mut Sim<Event>,
        a: u32,
        step: u32,
        s: u32,
        every_ns: u64,
        takes_ns: u64,
    ) {
        let def = &self.world.services[s as usize];
        let (first, n) = (def.first_instance, def.n_instances);
        let which = if every_ns == 0 { 0..n } else { step..step + 1 };
        for k in which {
            if self.process[(first + k) as usize].active {
                self.restart_process(sim, first + k, takes_ns);
            }
        }
        if every_ns > 0 && step + 1 < n {
            let next = Event::Action {
                action: a as u16,
                step: step + 1,
            };
            sim.schedule_in(SimDuration::from_ns(every_ns), next);
        }
    }

    /// Whether service `s` was paused: it refuses every request that arrives.
    #[inline]
    pub(super) fn is_paused(&self, s: usize) -> bool {
        self.actions.any_paused && self.actions.paused[s]
    }

    /// The region a new request of workload `w` enters through (its clients' `home`, unless a
    /// traffic shift moves it).
    #[inline]
    pub(super) fn entry_region(&mut self, w: u32, home: u32) -> u32 {
        if self.actions.shifts.is_empty() {
            return home;
        }
        let name = &self.world.workloads[w as usize].name;
        self.actions.region_for(w as usize, name, home)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        crate::compile::load_str(
            "t.ron",
            r#"Scenario(name: "t", horizon: "1m",
    topology: (regions: [(name: "eu", zones: [(name: "a")]), (name: "us", zones: [(name: "b")])]),
    services: [(name: "s", instances: 2, work: Constant("1ms"))],
    workload: [(entry: "s", arrivals: Poisson(rate_per_s: 1), region: "eu")])"#,
        )
        .unwrap()
    }

    /// A whole shift moves every user without a draw; a partial one moves about its share; a
    /// region no shift starts from stays home; shifts apply in the order taken.
    #[test]
    fn shifts_move_a_share_of_a_regions_users() {
        let world = world();
        let mut a = Actions::new(&world, &RngFactory::new(1, 0));
        assert_eq!(a.region_for(0, "w", 0), 0);
        a.shifts.push((0, 1, 1.0));
        assert_eq!(a.region_for(0, "w", 0), 1);
        assert!(a.shift_rngs[0].is_none(), "a whole shift draws nothing");
        assert_eq!(a.region_for(0, "w", 1), 1);
        a.shifts.push((1, 0, 0.25));
        let back = (0..10_000).filter(|_| a.region_for(0, "w", 0) == 0).count();
        assert!((2_300..2_700).contains(&back), "{back}");
        let mut b = Actions::new(&world, &RngFactory::new(1, 0));
        b.shifts.push((0, 1, 0.5));
        let moved = (0..10_000).filter(|_| b.region_for(0, "w", 0) == 1).count();
        assert!((4_800..5_200).contains(&moved), "{moved}");
    }
}
