//! Alert rules: an error rate, a p99 latency or an SLO's burn rate over a window, held for a
//! while, on one service.

use super::check::{At, Checker};
use crate::spec::{AlertRule, AlertSpec, Dur, Scenario};
use crate::world::{AlertDef, AlertKind};

/// Compiles the alert rules.
pub(super) fn build_alerts(ck: &mut Checker, spec: &Scenario) -> Vec<AlertDef> {
    (0..spec.alerts.len())
        .filter_map(|i| build_alert(ck, spec, i))
        .collect()
}

/// Checks and compiles alert `i`; `None` when its service is unknown.
fn build_alert(ck: &mut Checker, spec: &Scenario, i: usize) -> Option<AlertDef> {
    let a = &spec.alerts[i];
    let at = At::root().field("alerts").named(i, &a.name);
    if let Some(first) = spec.alerts[..i].iter().position(|o| o.name == a.name) {
        let alerts_at = At::root().field("alerts");
        ck.defined_twice(
            "alert",
            &a.name,
            "",
            &alerts_at.index(first),
            &alerts_at.index(i),
        );
    }
    let w = at.field("when");
    let (service, over, rule) = rule(ck, a, &w);
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let Some(s) = names.iter().position(|n| n == service) else {
        ck.unknown(&w.field("service"), "service", service, &names);
        return None;
    };
    if over.0.is_zero() {
        ck.report(
            &w.field("over"),
            "an alert needs a window `over` above zero".into(),
            None,
        );
    }
    let res = spec.resolution.0.as_ns().max(1);
    Some(AlertDef {
        name: a.name.clone(),
        service: s as u32,
        rule,
        buckets: over.0.as_ns().div_ceil(res).max(1) as u32,
        for_ns: a.for_.0.as_ns(),
    })
}

/// The rule of an alert, `when` at `w`: its service, its window and what it watches.
fn rule<'a>(ck: &mut Checker, a: &'a AlertSpec, w: &At) -> (&'a String, Dur, AlertKind) {
    match &a.when {
        AlertRule::ErrorRate {
            service,
            above,
            over,
        } => {
            ck.fraction(&w.field("above"), "an error rate", *above);
            (service, *over, AlertKind::ErrorRate(*above))
        }
        AlertRule::LatencyP99 {
            service,
            above,
            over,
        } => (service, *over, AlertKind::LatencyP99(above.0.as_ns())),
        AlertRule::BurnRate {
            service,
            slo,
            factor: k,
            over,
        } => {
            if !(*slo > 0.0 && *slo < 1.0) {
                ck.report(
                    &w.field("slo"),
                    format!("an SLO is a fraction between 0 and 1 (0.999), not `{slo}`"),
                    None,
                );
            }
            ck.factor(&w.field("factor"), *k);
            (service, *over, AlertKind::BurnRate(1.0 - slo, *k))
        }
    }
}
