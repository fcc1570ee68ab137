//! The operators' actions: names resolved (services, call edges, regions), amounts checked, and
//! the spare instances that `AddCapacity` starts set aside for it (`added_capacity`: the service
//! is compiled with them, inactive until the action).

use super::check::{At, Checker};
use super::faults::call_edges;
use crate::spec::{ActionKind, ActionSpec, Scenario};
use crate::world::{ActionDef, ActionEffect, CallDef, Host, InstanceDef, ServiceDef};

/// Most actions a scenario may take (an event names its action by a `u16`).
const ACTIONS_MAX: usize = 1000;

/// Instances the actions add to the service named `name`: its spare instances.
pub(super) fn added_capacity(spec: &Scenario, name: &str) -> u32 {
    (spec.actions.iter())
        .filter_map(|a| match &a.what {
            ActionKind::AddCapacity {
                service, instances, ..
            } if service == name => Some(*instances),
            _ => None,
        })
        .fold(0u32, u32::saturating_add)
}

/// Checks and compiles `actions`, given the compiled services, call edges and (when the
/// topology is valid) hosts and instances.
pub(super) fn build_actions(
    ck: &mut Checker,
    spec: &Scenario,
    services: &[ServiceDef],
    calls: &[CallDef],
    placed: Option<(&[Host], &[InstanceDef])>,
) -> Vec<ActionDef> {
    if spec.actions.len() > ACTIONS_MAX {
        let msg = format!(
            "{} actions are more than Faultline simulates (at most {ACTIONS_MAX})",
            spec.actions.len()
        );
        ck.report(&At::root().field("actions"), msg, None);
        return Vec::new();
    }
    let mut cx = Compiling {
        ck,
        spec,
        services,
        calls,
        names: spec.services.iter().map(|s| s.name.as_str()).collect(),
        spare_used: vec![0; services.len()],
        hosts: placed.map(|p| p.0),
        instances: placed.map(|p| p.1),
    };
    let out = (0..spec.actions.len()).map(|i| cx.action(i)).collect();
    check_action_names(cx.ck, &spec.actions);
    out
}

/// A name is said in reports in place of the label: it must say something, of one action.
fn check_action_names(ck: &mut Checker, actions: &[ActionSpec]) {
    for (i, a) in actions.iter().enumerate() {
        let Some(name) = &a.name else { continue };
        let at = At::root().field("actions").index(i).field("name");
        if name.trim().is_empty() {
            let msg = "an action's name must not be empty; leave `name` out for a label made from what it does";
            ck.report(&at, msg.into(), None);
        } else if actions[..i].iter().any(|o| o.name.as_ref() == Some(name)) {
            let msg = format!("two actions are named `{name}`; reports would not tell them apart");
            ck.report(&at, msg, None);
        }
    }
}

/// The actions being compiled, and how many spare instances of each service earlier
/// `AddCapacity` actions took.
struct Compiling<'c, 'a, 'x> {
    ck: &'c mut Checker<'a>,
    spec: &'x Scenario,
    services: &'x [ServiceDef],
    calls: &'x [CallDef],
    names: Vec<&'x str>,
    spare_used: Vec<u32>,
    hosts: Option<&'x [Host]>,
    instances: Option<&'x [InstanceDef]>,
}

impl Compiling<'_, '_, '_> {
    /// Checks and compiles action `i`.
    fn action(&mut self, i: usize) -> ActionDef {
        let a = &self.spec.actions[i];
        let at = At::root().field("actions").index(i);
        self.ck.starts_in_time(&at, "the action", a.at, self.spec);
        let w = at.field("do");
        let (label, effect) = match &a.what {
            ActionKind::FeatureOff { from, to } => {
                let (f, t) = (w.field("from"), w.field("to"));
                let edges = call_edges(self.ck, &self.names, self.calls, (from, &f), (to, &t), &w);
                (
                    format!("feature off: {from} -> {to}"),
                    ActionEffect::FeatureOff(edges),
                )
            }
            ActionKind::AddCapacity {
                service,
                instances,
                delay,
            } => self.add_capacity(&w, service, *instances, delay.0.as_ns()),
            ActionKind::ShiftTraffic { from, to, share } => self.shift(&w, from, to, *share),
            ActionKind::Pause { service } => {
                let s = self.service(&w, service);
                (format!("pause {service}"), ActionEffect::Pause(s))
            }
            ActionKind::Restart {
                service,
                every,
                takes,
            } => {
                let s = self.service(&w, service);
                if takes.0.is_zero() {
                    let msg = "a restart takes longer than zero".into();
                    self.ck.report(&w.field("takes"), msg, None);
                }
                let how = if every.is_some() { " one by one" } else { "" };
                let effect = ActionEffect::Restart {
                    service: s,
                    every_ns: every.map_or(0, |d| d.0.as_ns()),
                    takes_ns: takes.0.as_ns().max(1),
                };
                (format!("restart {service}{how}"), effect)
            }
        };
        ActionDef {
            label: a.name.clone().unwrap_or(label),
            at_ns: a.at.0.as_ns(),
            effect,
        }
    }

    /// The index of the service `name` (in the field `service` of `w`), or 0 after reporting
    /// an unknown one.
    fn service(&mut self, w: &At, name: &str) -> u32 {
        match self.names.iter().position(|n| *n == name) {
            Some(s) => s as u32,
            None => {
                self.ck
                    .unknown(&w.field("service"), "service", name, &self.names);
                0
            }
        }
    }

    /// `AddCapacity`: the next `n` spare instances of the service.
    fn add_capacity(
        &mut self,
        w: &At,
        name: &str,
        n: u32,
        delay_ns: u64,
    ) -> (String, ActionEffect) {
        let label = format!(
            "add {n} instance{} to {name}",
            if n == 1 { "" } else { "s" }
        );
        let s = self.service(w, name) as usize;
        let svc = self.spec.services.iter().find(|x| x.name == name);
        let mut instances = Vec::new();
        if n == 0 {
            let msg = "`AddCapacity` adds at least one instance".into();
            self.ck.report(&w.field("instances"), msg, None);
        } else if let Some(svc) = svc {
            if svc.datastore.is_some() || !svc.tier_groups.is_empty() {
                let msg =
                    "a datastore or a service with tier groups cannot be given instances".into();
                self.ck.report(&w.field("service"), msg, None);
            }
            // The spare instances are the last of the service's, in the order the actions take them.
            let def = &self.services[s];
            let spare = added_capacity(self.spec, name);
            let first = def.first_instance + def.n_instances - spare + self.spare_used[s];
            instances = (first..first + n).collect();
            self.spare_used[s] += n;
        }
        (
            label,
            ActionEffect::AddCapacity {
                instances,
                delay_ns,
            },
        )
    }

    /// Reports a workload at home in region `from` whose entry service has no instance in
    /// region `to`, where the shift would send its users.
    fn check_entries_in(&mut self, w: &At, from: u32, to: u32) {
        let (Some(hosts), Some(instances)) = (self.hosts, self.instances) else {
            return;
        };
        let regions = &self.spec.topology.regions;
        for wl in &self.spec.workload {
            let home = wl.region.as_ref().map_or(Some(0), |r| {
                regions.iter().position(|x| &x.name == r).map(|r| r as u32)
            });
            let entry = self.names.iter().position(|n| *n == wl.entry);
            let (Some(home), Some(entry)) = (home, entry) else {
                continue;
            };
            let def = &self.services[entry];
            let range = def.first_instance..def.first_instance + def.n_instances;
            let there = range
                .map(|i| instances[i as usize].host_idx)
                .any(|h| hosts[h as usize].region_idx == to);
            if home == from && !there {
                let msg = format!(
                    "`{}` has no instance in `{}`, so the users of workload `{}` cannot enter there",
                    wl.entry,
                    regions[to as usize].name,
                    wl.name.as_deref().unwrap_or(&wl.entry)
                );
                self.ck.report(&w.field("to"), msg, None);
            }
        }
    }

    /// `ShiftTraffic`: two regions of the topology and a share.
    fn shift(&mut self, w: &At, from: &str, to: &str, share: f64) -> (String, ActionEffect) {
        let regions: Vec<&str> = (self.spec.topology.regions.iter())
            .map(|r| r.name.as_str())
            .collect();
        let mut region = |field: &str, name: &str| match regions.iter().position(|r| *r == name) {
            Some(r) => r as u32,
            None => {
                self.ck.unknown(&w.field(field), "region", name, &regions);
                0
            }
        };
        let (f, t) = (region("from", from), region("to", to));
        if from == to {
            let msg = format!("traffic shifted from `{from}` to itself goes nowhere");
            self.ck.report(&w.field("to"), msg, None);
        }
        if !(share > 0.0 && share <= 1.0) {
            let msg = format!("a share of traffic must be above 0 and at most 1, not `{share}`");
            self.ck.report(&w.field("share"), msg, None);
        }
        self.check_entries_in(w, f, t);
        let label = format!("shift {:.0}% of {from}'s users to {to}", share * 100.0);
        let effect = ActionEffect::ShiftTraffic {
            from: f,
            to: t,
            share,
        };
        (label, effect)
    }
}
