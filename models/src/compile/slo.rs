//! Service level objectives: the scenario's, and the overrides of workloads and services, each
//! resolved to a latency threshold and a target.

use super::check::{At, Checker};
use crate::spec::{Scenario, Slo};
use crate::world::{ServiceDef, SloDef, WorkloadDef};

/// The scenario's SLO (`slo`), checked; then every workload's and service's, on top of it.
pub(super) fn build_slos(
    ck: &mut Checker,
    spec: &Scenario,
    services: &mut [ServiceDef],
    workloads: &mut [WorkloadDef],
) -> SloDef {
    let base = scenario_slo(ck, &spec.slo);
    for (i, (def, svc)) in services.iter_mut().zip(&spec.services).enumerate() {
        let at = At::root()
            .field("services")
            .named(i, &svc.name)
            .field("slo");
        def.slo = resolve(ck, svc.slo.as_ref(), &base, &at);
    }
    for (i, (def, w)) in workloads.iter_mut().zip(&spec.workload).enumerate() {
        let at = At::root().field("workload").index(i).field("slo");
        def.slo = resolve(ck, w.slo.as_ref(), &base, &at);
    }
    base
}

/// The scenario's own SLO, checked.
fn scenario_slo(ck: &mut Checker, slo: &Slo) -> SloDef {
    resolve(ck, Some(slo), &SloDef::default(), &At::root().field("slo"))
}

/// `over` (a workload's or a service's `slo`, at `at`) on top of `base`, checked.
pub(super) fn resolve(ck: &mut Checker, over: Option<&Slo>, base: &SloDef, at: &At) -> SloDef {
    let Some(over) = over else {
        return *base;
    };
    if let Some(t) = over.target {
        if !(t > 0.0 && t < 1.0) {
            ck.report(
                &at.field("target"),
                format!("an SLO's target is a fraction between 0 and 1 (0.999), not `{t}`"),
                None,
            );
        }
    }
    if over.latency.is_some_and(|l| l.0.is_zero()) {
        ck.report(
            &at.field("latency"),
            "an SLO's latency must be above zero (leave it out for an SLO on successes alone)"
                .into(),
            None,
        );
    }
    SloDef {
        latency_ns: over.latency.map(|l| l.0.as_ns()).or(base.latency_ns),
        target: over.target.unwrap_or(base.target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Dur;
    use sim_core::SimDuration;

    #[test]
    fn overrides_inherit_what_they_leave_out() {
        let mut ck = Checker::new(None);
        let base = SloDef {
            latency_ns: Some(300_000_000),
            target: 0.999,
        };
        let only_latency = Slo {
            latency: Some(Dur(SimDuration::from_ns(1_000_000_000))),
            target: None,
        };
        let r = resolve(&mut ck, Some(&only_latency), &base, &At::root());
        assert_eq!(r.latency_ns, Some(1_000_000_000));
        assert_eq!(r.target, 0.999);
        assert_eq!(resolve(&mut ck, None, &base, &At::root()), base);
        let s = scenario_slo(&mut ck, &Slo::default());
        assert_eq!((s.latency_ns, s.target), (None, 0.99));
    }
}
