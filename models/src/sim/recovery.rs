//! Detection and recovery: health checks (probes, unhealthy and healthy thresholds), Envoy's
//! outlier ejection (the detector is `outlier.rs`; this applies its verdicts to load balancing),
//! replacement of unhealthy instances after a start-up delay, and the autoscaler.
//!
//! ```text
//!  Health (every interval) ─▶ probes ─▶ unhealthy: out of load balancing ─▶ Replaced (start-up)
//!  caller sees answers ─▶ outlier::Detector ─▶ ejected ─▶ OutlierReview (sweep) ─▶ back (slow start)
//! ```

use super::*;

/// An instance's standing with detection and recovery.
#[derive(Clone, Debug, Default)]
pub(super) struct Health {
    /// Health checks: consecutive failed and good probes, the verdict, a replacement under way.
    pub(super) probe_fails: u32,
    pub(super) probe_oks: u32,
    pub(super) unhealthy: bool,
    pub(super) replacing: bool,
    /// Out of load balancing by outlier detection (the detector's verdict, for the balancer).
    pub(super) ejected: bool,
    /// When it last came back into load balancing (for slow start).
    pub(super) back_since_ns: u64,
}

impl ServiceModel<'_> {
    /// Schedules the next round of a periodic check, unless it would fall after the horizon.
    pub(super) fn again(&self, sim: &mut Sim<Event>, every_ns: u64, event: Event) {
        if sim.now().as_ns().saturating_add(every_ns) <= self.world.horizon.as_ns() {
            sim.schedule_in(SimDuration::from_ns(every_ns), event);
        }
    }

    /// Probes every instance of service `s` (readiness: `health`).
    #[cold]
    #[inline(never)]
    pub(super) fn on_health(&mut self, sim: &mut Sim<Event>, s: u32) {
        let def = &self.world.services[s as usize];
        let Some(h) = def.recovery.health else {
            return;
        };
        for i in def.first_instance..def.first_instance + def.n_instances {
            if self.process[i as usize].active {
                self.probe(sim, i, ProbeKind::Readiness, h.lane);
            }
        }
        self.again(sim, h.interval_ns, Event::Health { service: s });
    }

    /// A readiness verdict on instance `i`: `unhealthy_after` failures in a row take it out of
    /// load balancing (and start its replacement), `healthy_after` passes put it back.
    pub(super) fn readiness_verdict(&mut self, sim: &mut Sim<Event>, i: u32, ok: bool) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        let def = &self.world.services[s];
        let Some(h) = def.recovery.health else {
            return;
        };
        let inst = &mut self.health[i as usize];
        if ok {
            inst.probe_fails = 0;
            inst.probe_oks += 1;
            if inst.unhealthy && inst.probe_oks >= h.healthy_after {
                inst.unhealthy = false;
                inst.back_since_ns = now;
                self.refresh_rotation(i);
                let name = self.instance_name(i);
                self.log(now, LogKind::Healthy, name);
            }
            return self.uneject_on_good_probe(s, i, now);
        }
        inst.probe_oks = 0;
        inst.probe_fails += 1;
        if !inst.unhealthy && inst.probe_fails >= h.unhealthy_after {
            inst.unhealthy = true;
            self.refresh_rotation(i);
            self.stats[s].recovery.unhealthy += 1;
            let name = self.instance_name(i);
            self.log(now, LogKind::Unhealthy, name);
        }
        self.start_replacement(sim, i);
    }

    /// Instance `i`'s process was killed: with readiness probes, it leaves load balancing at
    /// once (Kubernetes marks a pod whose container terminated not ready without waiting for a
    /// probe) and comes back after `healthy_after` passing probes once it runs again.
    pub(super) fn not_ready(&mut self, i: u32, now: u64) {
        let s = self.world.instances[i as usize].service_idx as usize;
        if self.world.services[s].recovery.health.is_none() || self.health[i as usize].unhealthy {
            return;
        }
        let inst = &mut self.health[i as usize];
        inst.unhealthy = true;
        inst.probe_oks = 0;
        self.refresh_rotation(i);
        self.stats[s].recovery.unhealthy += 1;
        let name = self.instance_name(i);
        self.log(now, LogKind::Unhealthy, name);
    }

    /// Starts replacing instance `i` when it is unhealthy and the service has a replacement,
    /// unless one is under way.
    fn start_replacement(&mut self, sim: &mut Sim<Event>, i: u32) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let def = &self.world.services[s];
        let (host, inst) = (self.host_of[i as usize], &self.health[i as usize]);
        let Some(Replacement {
            start_up_ns: start_up,
            ..
        }) = def.recovery.replace
        else {
            return;
        };
        // On its own host, or, when that host is dead, on another one its placement allows
        // (Kubernetes reschedules the pod).
        let placeable = self.hosts[host as usize].down == 0
            || def.hosts.iter().any(|&h| self.hosts[h as usize].down == 0);
        if inst.unhealthy && !inst.replacing && placeable {
            self.health[i as usize].replacing = true;
            let name = self.instance_name(i);
            self.log(sim.now().as_ns(), LogKind::Replacing, name);
            sim.schedule_in(
                SimDuration::from_ns(start_up),
                Event::Replaced { instance: i },
            );
        }
    }

    /// A replacement is up: a fresh process (crashes and hangs cleared, no leak, cold cache).
    #[cold]
    #[inline(never)]
    pub(super) fn on_replaced(&mut self, sim: &mut Sim<Event>, i: u32) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        self.health[i as usize].replacing = false;
        let old_host = self.host_of[i as usize];
        if self.hosts[old_host as usize].down > 0 {
            // Its host is dead: start it on the live host its placement allows that runs the
            // fewest instances of this service (the first such in placement order).
            let def = &self.world.services[s];
            let count = |h: u32| {
                self.host_instances[h as usize]
                    .iter()
                    .filter(|&&k| self.world.instances[k as usize].service_idx as usize == s)
                    .count()
            };
            let Some(new_host) = def
                .hosts
                .iter()
                .copied()
                .filter(|&h| self.hosts[h as usize].down == 0)
                .min_by_key(|&h| count(h))
            else {
                return; // nowhere to go: the orchestrator tries again after the next probes
            };
            self.lose_instance(sim, i, true);
            self.host_instances[old_host as usize].retain(|&k| k != i);
            self.host_instances[new_host as usize].push(i);
            self.host_of[i as usize] = new_host;
            self.refresh_rotation(i); // perhaps in another region
                                      // A datastore copy starts empty on a new host and copies the data back.
            self.replicas[i as usize].data_lost = self.world.services[s].store.is_some();
            let what = format!(
                "{} to {}",
                self.instance_name(i),
                self.world.hosts[new_host as usize].name
            );
            self.log(now, LogKind::Moved, what);
        }
        // Whatever the old process held is gone.
        let was_hung = self.process[i as usize].hung > 0;
        self.lose_instance(sim, i, false);
        let inst = &mut self.process[i as usize];
        // The new process is touched by no fault in force now (`still_holds`).
        inst.crashed = 0;
        inst.hung = 0;
        inst.replaced_ns = Some(now);
        self.crash_loops[i as usize].replaced();
        self.restarted(i, now);
        if was_hung {
            self.resume(sim, i);
        }
        self.stats[s].recovery.replacements += 1;
        let name = self.instance_name(i);
        self.log(now, LogKind::Replaced, name);
        self.recount_up(s, now);
    }

    /// A caller saw an answer (or no answer) from instance `i`: its service's outlier detector
    /// learns it, and may eject the instance.
    #[inline]
    pub(super) fn outlier_observe(&mut self, i: u32, answer: Answer, now: u64) {
        if self.outliers.is_empty() {
            return; // no service detects outliers: nothing of the callee is touched
        }
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(detector) = &mut self.outliers[s] else {
            return;
        };
        let host = i - self.world.services[s].first_instance;
        if let Some(d) = detector.observe(host, answer, now) {
            self.apply_outlier(s, Change::Ejected(host, d), now);
        }
    }

    /// A passing probe returns an instance that outlier detection ejected, when the active health
    /// check finds it healthy (Envoy's `successful_active_health_check_uneject_host`).
    fn uneject_on_good_probe(&mut self, s: usize, i: u32, now: u64) {
        let host = i - self.world.services[s].first_instance;
        let unhealthy = self.health[i as usize].unhealthy;
        let Some(detector) = self.outliers.get_mut(s).and_then(Option::as_mut) else {
            return;
        };
        let unejects = self.world.services[s]
            .recovery
            .outlier
            .is_some_and(|o| o.health_check_unejects);
        if unejects && !unhealthy && detector.is_ejected(host) {
            detector.uneject(host, now);
            self.apply_outlier(s, Change::Returned(host), now);
        }
    }

    /// Applies a verdict of service `s`'s outlier detector to load balancing, counts and the log.
    fn apply_outlier(&mut self, s: usize, change: Change, now: u64) {
        let first = self.world.services[s].first_instance;
        let (host, ejected) = match change {
            Change::Ejected(h, _) => (h, true),
            Change::Returned(h) => (h, false),
        };
        let i = first + host;
        let inst = &mut self.health[i as usize];
        assert_ne!(inst.ejected, ejected, "a verdict changes the standing");
        inst.ejected = ejected;
        let name = self.instance_name(i);
        match change {
            Change::Ejected(_, d) => {
                self.stats[s].recovery.ejections += 1;
                self.log(now, LogKind::Ejected, format!("{name} ({})", d.name()));
            }
            Change::Returned(_) => {
                self.health[i as usize].back_since_ns = now;
                self.log(now, LogKind::Returned, name);
            }
        }
        self.refresh_rotation(i);
    }

    /// The outlier detector's sweep: returns, success-rate and failure-percentage ejections.
    #[cold]
    #[inline(never)]
    pub(super) fn on_outlier_review(&mut self, sim: &mut Sim<Event>, s: u32) {
        let now = sim.now().as_ns();
        let Some(detector) = self.outliers.get_mut(s as usize).and_then(Option::as_mut) else {
            return;
        };
        let mut changes = Vec::new();
        detector.sweep(now, &mut changes);
        for change in changes {
            self.apply_outlier(s as usize, change, now);
        }
        let Some(o) = self.world.services[s as usize].recovery.outlier else {
            return;
        };
        self.again(sim, o.interval_ns, Event::OutlierReview { service: s });
    }

    /// The autoscaler's look at service `s`: utilization over the last period against the target.
    #[cold]
    #[inline(never)]
    pub(super) fn on_autoscale(&mut self, sim: &mut Sim<Event>, s: u32) {
        let now = sim.now().as_ns();
        let si = s as usize;
        let def = &self.world.services[si];
        let Some(Autoscale {
            min,
            max,
            target_utilization: target,
            every_ns: every,
            delay_ns: delay,
            ..
        }) = def.recovery.autoscale
        else {
            return;
        };
        let range = def.first_instance..def.first_instance + def.n_instances;
        let active = range
            .clone()
            .filter(|&i| self.process[i as usize].active)
            .count() as u32;
        let starting = range
            .clone()
            .filter(|&i| self.process[i as usize].starting)
            .count() as u32;
        let utilization = self.utilization_since_last_look(si, now, active, every);
        let desired = ((f64::from(active) * utilization / target).ceil() as u32).clamp(min, max);
        let what = format!(
            "{}: {active} -> {desired} instances (utilization {:.0}%)",
            def.name,
            utilization * 100.0
        );
        if desired > active + starting {
            let mut more = desired - active - starting;
            for i in range.clone() {
                if more == 0 {
                    break;
                }
                if self.start_instance(sim, i, delay) {
                    more.dec();
                    self.stats[si].recovery.scale_ups += 1;
                }
            }
            self.log(now, LogKind::ScaleUp, what);
        } else if desired < active && starting == 0 {
            let mut fewer = active - desired;
            for i in range.clone().rev() {
                if fewer == 0 {
                    break;
                }
                if self.process[i as usize].active {
                    self.process[i as usize].active = false;
                    fewer.dec();
                    self.stats[si].recovery.scale_downs += 1;
                }
            }
            self.log(now, LogKind::ScaleDown, what);
            self.recount_rotation(si);
            self.recount_up(si, now);
        }
        self.again(sim, every, Event::Autoscale { service: s });
    }

    /// The utilization of service `si`'s `active` instances over the autoscaler's last period
    /// (`every_ns`): busy-worker time since its last look over the capacity.
    fn utilization_since_last_look(
        &mut self,
        si: usize,
        now: u64,
        active: u32,
        every_ns: u64,
    ) -> f64 {
        let st = &mut self.stats[si];
        st.touch(now);
        // The warm-up resets the busy time: then all of it belongs to this period.
        let busy = st.busy_area;
        let last = self.autoscale_busy[si];
        let delta = if busy >= last { busy - last } else { busy };
        self.autoscale_busy[si] = busy;
        let workers = f64::from(self.world.services[si].workers_total());
        delta as f64 / (workers * f64::from(active.max(1)) * every_ns as f64)
    }

    /// Starts instance `i`, not part of its service yet (an autoscaler's, or one an operator
    /// adds): it takes load `delay_ns` from now. Whether it was not started already.
    pub(super) fn start_instance(&mut self, sim: &mut Sim<Event>, i: u32, delay_ns: u64) -> bool {
        let inst = &mut self.process[i as usize];
        if inst.active || inst.starting {
            return false;
        }
        inst.starting = true;
        sim.schedule_in(
            SimDuration::from_ns(delay_ns),
            Event::ScaleUp { instance: i },
        );
        true
    }

    /// A new instance has started: it takes load (ramped, with slow start), cold if the service
    /// warms up.
    #[cold]
    #[inline(never)]
    pub(super) fn on_scale_up(&mut self, sim: &mut Sim<Event>, i: u32) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        let inst = &mut self.process[i as usize];
        inst.starting = false;
        inst.active = true;
        self.health[i as usize].back_since_ns = now;
        self.restarted(i, now);
        self.refresh_rotation(i);
        self.recount_up(s, now);
    }
}
