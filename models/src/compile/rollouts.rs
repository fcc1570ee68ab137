//! Rollouts: a new version deployed to a canary share of a service's instances, baked, then to
//! the rest, and rolled back when an alert fires.

use super::check::{At, Checker};
use crate::spec::Scenario;
use crate::world::DeployDef;

/// Most rollouts in one scenario (their events carry a 16-bit index).
const DEPLOYS_MAX: usize = 1000;

/// Compiles the deployments.
pub(super) fn build_deploys(
    ck: &mut Checker,
    spec: &Scenario,
    services: &[(u32, u32)],
) -> Vec<DeployDef> {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let alerts: Vec<&str> = spec.alerts.iter().map(|a| a.name.as_str()).collect();
    let mut out = Vec::new();
    if spec.deployments.len() > DEPLOYS_MAX {
        ck.report(
            &At::root().field("deployments"),
            format!(
                "{} deployments are more than Faultline simulates (at most {DEPLOYS_MAX})",
                spec.deployments.len()
            ),
            None,
        );
        return out;
    }
    for (i, d) in spec.deployments.iter().enumerate() {
        let at = At::root().field("deployments").index(i);
        let Some(s) = names.iter().position(|n| *n == d.service) else {
            ck.unknown(&at.field("service"), "service", &d.service, &names);
            continue;
        };
        if !(d.canary > 0.0 && d.canary <= 1.0) {
            ck.report(
                &at.field("canary"),
                format!(
                    "the canary share is a fraction above 0 and at most 1, not `{}`",
                    d.canary
                ),
                None,
            );
        }
        ck.fraction(&at.field("errors"), "an error rate", d.errors);
        ck.factor(&at.field("slowdown"), d.slowdown);
        let rollback_on = d.rollback_on.as_ref().and_then(|name| {
            let found = alerts.iter().position(|a| a == name);
            if found.is_none() {
                ck.unknown(&at.field("rollback_on"), "alert", name, &alerts);
            }
            found.map(|a| a as u32)
        });
        ck.starts_in_time(&at, "the rollout", d.at, spec);
        let n = services.get(s).map_or(1, |x| x.1);
        rollout_name(ck, spec, i, &at);
        out.push(DeployDef {
            label: (d.name.clone()).unwrap_or_else(|| format!("deploy {}", d.service)),
            named: d.name.is_some(),
            service: s as u32,
            at_ns: d.at.0.as_ns(),
            canary: ((f64::from(n) * d.canary).ceil() as u32).clamp(1, n.max(1)),
            bake_ns: d.bake.0.as_ns(),
            interval_ns: d.interval.0.as_ns(),
            errors: d.errors,
            slowdown: d.slowdown,
            rollback_on,
            rollback_in_ns: d.rollback_in.0.as_ns(),
        });
    }
    out
}

/// A rollout's name is said in reports in place of `deploy <service>`: it must say something,
/// be its own, and hold no `:` (the log puts one after it) and no ` (`.
fn rollout_name(ck: &mut Checker, spec: &Scenario, i: usize, at: &At) {
    let Some(name) = &spec.deployments[i].name else {
        return;
    };
    let at = at.field("name");
    let taken = spec.deployments[..i]
        .iter()
        .any(|d| d.name.as_ref() == Some(name))
        || spec.faults.iter().any(|f| f.name.as_ref() == Some(name));
    let problem = if name.trim().is_empty() {
        Some("a rollout's name must not be empty; leave `name` out for `deploy <service>`".into())
    } else if name.contains(':') || name.contains(" (") {
        Some(format!("a rollout's name must not hold `:` or ` (`, which the log and reports put after and inside it: `{name}`"))
    } else if spec.services.iter().any(|s| s.name == *name) {
        Some(format!(
            "`{name}` is a service's name; reports would read it as that service's rollout"
        ))
    } else if taken {
        Some(format!(
            "`{name}` names another rollout or fault; reports would not tell them apart"
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        ck.report(&at, message, None);
    }
}
