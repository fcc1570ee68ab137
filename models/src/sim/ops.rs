//! Operations around the running system: alert rules evaluated at every tick, rollouts (canary,
//! bake, one instance per interval) and their rollback when an alert fires, and the log of
//! notable events.
//!
//! ```text
//!  Tick ─▶ alert rules over the last window ─▶ firing ─▶ Rollback of a rollout
//! ```

use super::*;

/// The version an instance runs: the new version of a rollout has its own error rate and work
/// factor (the old one has none).
#[derive(Clone, Copy, Debug)]
pub(super) struct Version {
    pub(super) errors: f64,
    pub(super) slow: f64,
}

impl ServiceModel<'_> {
    /// The version instance `i` runs: the old one (no errors, no slowdown) in a world without
    /// rollouts, whose `versions` are never written; the request path then never touches them
    /// (a cache miss per request in a world of many instances).
    #[inline]
    pub(super) fn version(&self, i: u32) -> Version {
        if self.world.deploys.is_empty() {
            Version::default()
        } else {
            self.versions[i as usize]
        }
    }
}

impl Default for Version {
    fn default() -> Self {
        Version {
            errors: 0.0,
            slow: 1.0,
        }
    }
}

#[derive(Clone, Default)]
pub(super) struct AlertState {
    pub(super) firing: Option<usize>,
    /// Since when the condition has held (for `for`).
    pub(super) holds_since: Option<u64>,
}

#[derive(Clone, Default)]
pub(super) struct DeployState {
    pub(super) started: bool,
    pub(super) rolled_back: bool,
    pub(super) switched: u32,
}

impl ServiceModel<'_> {
    pub(super) fn log(&mut self, t_ns: u64, kind: LogKind, what: String) {
        if self.log.len() < LOG_MAX {
            self.log.push(LogEntry {
                t_ns,
                kind: kind.name().to_string(),
                what,
            });
        } else {
            self.log_dropped += 1;
        }
    }

    pub(super) fn instance_name(&self, i: u32) -> String {
        let s = self.world.instances[i as usize].service_idx as usize;
        let def = &self.world.services[s];
        format!("{}/{}", def.name, i - def.first_instance)
    }

    // ---- alerts and rollouts ----
    /// Evaluates the alert rules over the windows ending with bucket `b`.
    #[cold]
    #[inline(never)]
    pub(super) fn evaluate_alerts(&mut self, sim: &mut Sim<Event>, b: usize) {
        let end_ns =
            ((b as u64 + 1) * self.world.resolution.as_ns()).min(self.world.horizon.as_ns());
        for a in 0..self.world.alerts.len() {
            let def = &self.world.alerts[a];
            let st = &self.stats[def.service as usize];
            let from = (b + 1).saturating_sub(def.buckets as usize);
            let rows = &st.rows[from..=b];
            let sum = |f: fn(&Row) -> u64| rows.iter().map(f).sum::<u64>();
            let holds = match def.rule {
                AlertKind::ErrorRate(above) | AlertKind::BurnRate(above, _) => {
                    let errors = sum(|r| r.failed) + sum(|r| r.rejected) + sum(|r| r.shed);
                    let answered = errors + sum(|r| r.completed) + sum(|r| r.degraded);
                    let rate = if answered == 0 {
                        0.0
                    } else {
                        errors as f64 / answered as f64
                    };
                    match def.rule {
                        AlertKind::BurnRate(allowed, factor) => rate > allowed * factor,
                        _ => rate > above,
                    }
                }
                AlertKind::LatencyP99(_) => {
                    let ok = sum(|r| r.completed) + sum(|r| r.degraded);
                    let slow = st
                        .slow_series
                        .iter()
                        .find(|x| x.0 == a as u32)
                        .map_or(0, |x| x.2[from..=b].iter().sum::<u64>());
                    ok > 0 && slow * 100 > ok
                }
            };
            let for_ns = def.for_ns;
            let state = &mut self.alert_states[a];
            if !holds {
                state.holds_since = None;
                if let Some(k) = state.firing.take() {
                    self.firings[k].resolved_ns = Some(end_ns);
                    let name = self.world.alerts[a].name.clone();
                    self.log(end_ns, LogKind::AlertResolved, name);
                }
                continue;
            }
            let since = *state.holds_since.get_or_insert(end_ns);
            if state.firing.is_none() && end_ns - since >= for_ns {
                state.firing = Some(self.firings.len());
                let name = self.world.alerts[a].name.clone();
                self.firings.push(AlertFiring {
                    name: name.clone(),
                    fired_ns: end_ns,
                    resolved_ns: None,
                });
                self.log(end_ns, LogKind::Alert, name);
                for (d, dep) in self.world.deploys.iter().enumerate() {
                    let ds = &mut self.deploy_states[d];
                    if dep.rollback_on == Some(a as u32) && ds.started && !ds.rolled_back {
                        ds.rolled_back = true;
                        sim.schedule_in(
                            SimDuration::from_ns(dep.rollback_in_ns),
                            Event::Rollback { deploy: d as u32 },
                        );
                    }
                }
            }
        }
    }

    /// Step `step` of a rollout: the canary first, then one more instance per interval.
    #[cold]
    #[inline(never)]
    pub(super) fn on_deploy(&mut self, sim: &mut Sim<Event>, d: u32, step: u32) {
        let now = sim.now().as_ns();
        let def = &self.world.deploys[d as usize];
        let ds = &mut self.deploy_states[d as usize];
        if ds.rolled_back && ds.started {
            return;
        }
        ds.started = true;
        let svc = &self.world.services[def.service as usize];
        let target = if step == 0 {
            def.canary
        } else {
            (def.canary + step).min(svc.n_instances)
        };
        while ds.switched < target {
            let i = svc.first_instance + ds.switched;
            ds.switched += 1;
            self.versions[i as usize] = Version {
                errors: def.errors,
                slow: def.slowdown,
            };
        }
        // A named rollout says its name (and its service); an unnamed one its service.
        let what = if def.named {
            format!(
                "{}: {target} of {} instances of {} on the new version",
                def.label, svc.n_instances, svc.name
            )
        } else {
            format!(
                "{}: {target} of {} instances on the new version",
                svc.name, svc.n_instances
            )
        };
        self.log(now, LogKind::Deploy, what);
        if target < svc.n_instances {
            let wait = if step == 0 {
                def.bake_ns
            } else {
                def.interval_ns
            };
            sim.schedule_in(
                SimDuration::from_ns(wait.max(1)),
                Event::Deploy {
                    deploy: d as u16,
                    step: step + 1,
                },
            );
        }
    }

    /// Every instance goes back to the old version.
    #[cold]
    #[inline(never)]
    pub(super) fn on_rollback(&mut self, sim: &mut Sim<Event>, d: u32) {
        let now = sim.now().as_ns();
        let def = &self.world.deploys[d as usize];
        let svc = &self.world.services[def.service as usize];
        for i in svc.first_instance..svc.first_instance + svc.n_instances {
            self.versions[i as usize] = Version::default();
        }
        self.deploy_states[d as usize].switched = svc.n_instances;
        let name = if def.named {
            def.label.clone()
        } else {
            svc.name.clone()
        };
        self.log(now, LogKind::Rollback, name);
    }
}
