//! A service's recovery: health checks, outlier ejection, replacement of failed instances, slow
//! start, autoscaling and where its sessions live. The compiled settings stay the tuples that
//! [`RecoveryDef`] holds, in the order its fields document.

use super::check::{At, Checker};
use crate::spec::{
    AutoscaleSpec, Dur, HealthSpec, LivenessSpec, OutlierSpec, ProbeLane, ReplaceSpec, Service,
    SessionStore, SlowStartSpec,
};
use crate::world::{
    Autoscale, ColdStart, HealthCheck, Liveness, OutlierDetection, RecoveryDef, Replacement,
    RestartBackoff, SlowStart,
};
use sim_core::SimDuration;

/// Compiles a service's recovery settings.
pub(super) fn build_recovery(ck: &mut Checker, svc: &Service, at: &At) -> RecoveryDef {
    let mut def = RecoveryDef::default();
    if let Some(h) = &svc.health {
        def.health = Some(health(ck, svc, h, &at.field("health")));
    }
    if let Some(l) = &svc.liveness {
        def.liveness = Some(liveness(ck, svc, l, &at.field("liveness")));
    }
    if let Some(o) = &svc.outlier {
        def.outlier = Some(outlier(ck, o, &at.field("outlier")));
    }
    if let Some(r) = &svc.replace {
        def.replace = Some(replace(ck, svc, r, at));
    }
    def.cold_start = cold_start(ck, svc, at);
    if let Some(a) = &svc.autoscale {
        def.autoscale = Some(autoscale(ck, svc, a, &at.field("autoscale")));
    }
    def.sessions = svc.sessions.is_some();
    if let Some(SessionStore::Local { ttl }) = &svc.sessions {
        def.local_sessions_ttl_ns = Some(ttl.0.as_ns());
    }
    if let Some(s) = &svc.slow_start {
        def.slow_start = Some(slow_start(ck, s, at));
    }
    def
}

/// The shortest interval of a periodic check (health checks, outlier reviews) and the shortest
/// mean time between a chaos monkey's kills: shorter ones make runs of billions of events.
pub(super) const INTERVAL_MIN: sim_core::SimDuration = sim_core::SimDuration::from_ms(1);

/// The message for an interval under [`INTERVAL_MIN`].
pub(super) fn too_often(d: crate::spec::Dur) -> String {
    format!(
        "`{}` is too short: a run would spend its events on it; it must be at least 1ms",
        d.0
    )
}

/// The interval of a periodic probe: above zero and at least [`INTERVAL_MIN`].
fn probe_interval(ck: &mut Checker, interval: Dur, at: &At) {
    if interval.0.is_zero() {
        let msg = "probes need an `interval` above zero".into();
        ck.report(&at.field("interval"), msg, None);
    } else if interval.0 < INTERVAL_MIN {
        ck.report(&at.field("interval"), too_often(interval), None);
    }
}

/// Where probes are answered: apart, or a worker pool of the service (by name).
fn lane(ck: &mut Checker, svc: &Service, lane: &ProbeLane, at: &At) -> crate::world::ProbeLane {
    use crate::world::ProbeLane as Compiled;
    match lane {
        ProbeLane::Apart => Compiled::Apart,
        ProbeLane::Queue => Compiled::Pool(0),
        ProbeLane::Pool(name) => {
            let k = super::services::pool_index(ck, svc, Some(name), &at.field("lane"));
            Compiled::Pool(u8::try_from(k).unwrap_or(0))
        }
    }
}

/// A restart back-off (CrashLoopBackOff) from its three settings, checked.
pub(super) fn backoff(
    ck: &mut Checker,
    (restart, max, reset_after): (Dur, Dur, Dur),
    at: &At,
) -> RestartBackoff {
    if restart.0.is_zero() || max.0 < restart.0 {
        let msg = "`restart` must be above zero and at most `restart_max`".into();
        ck.report(&at.field("restart"), msg, None);
    }
    RestartBackoff {
        restart_ns: restart.0.as_ns().max(1),
        restart_max_ns: max.0.as_ns().max(1),
        reset_after_ns: reset_after.0.as_ns(),
    }
}

/// A liveness probe, checked and compiled.
fn liveness(ck: &mut Checker, svc: &Service, l: &LivenessSpec, at: &At) -> Liveness {
    probe_interval(ck, l.interval, at);
    if l.restart_after == 0 {
        let msg = "`restart_after` must be at least 1".into();
        ck.report(&at.field("restart_after"), msg, None);
    }
    Liveness {
        interval_ns: l.interval.0.as_ns().max(1),
        timeout_ns: l.timeout.0.as_ns(),
        restart_after: l.restart_after.max(1),
        initial_delay_ns: l.initial_delay.0.as_ns(),
        probe_ns: l.probe.0.as_ns(),
        lane: lane(ck, svc, &l.lane, at),
        backoff: backoff(ck, (l.restart, l.restart_max, l.reset_after), at),
    }
}

/// Health checks: (interval, timeout, unhealthy after, healthy after, probe), times in ns.
fn health(ck: &mut Checker, svc: &Service, h: &HealthSpec, h_at: &At) -> HealthCheck {
    probe_interval(ck, h.interval, h_at);
    for (field, n) in [
        ("unhealthy_after", h.unhealthy_after),
        ("healthy_after", h.healthy_after),
    ] {
        if n == 0 {
            ck.report(
                &h_at.field(field),
                format!("`{field}` must be at least 1"),
                None,
            );
        }
    }
    HealthCheck {
        interval_ns: h.interval.0.as_ns().max(1),
        timeout_ns: h.timeout.0.as_ns(),
        unhealthy_after: h.unhealthy_after.max(1),
        healthy_after: h.healthy_after.max(1),
        probe_ns: h.probe.0.as_ns(),
        lane: lane(ck, svc, &h.lane, h_at),
    }
}

/// Envoy's percentages of outlier detection: at most 100.
fn percentages(ck: &mut Checker, o: &OutlierSpec, o_at: &At) {
    for (field, pct) in [
        ("max_ejection_percent", o.max_ejection_percent),
        ("enforcing_consecutive_5xx", o.enforcing_consecutive_5xx),
        (
            "enforcing_consecutive_gateway_failure",
            o.enforcing_consecutive_gateway_failure,
        ),
        ("enforcing_success_rate", o.enforcing_success_rate),
        (
            "failure_percentage_threshold",
            o.failure_percentage_threshold,
        ),
        (
            "enforcing_failure_percentage",
            o.enforcing_failure_percentage,
        ),
    ] {
        if pct > 100 {
            let msg = format!("`{field}` is a percentage, at most 100, not `{pct}`");
            ck.report(&o_at.field(field), msg, None);
        }
    }
}

/// Envoy's outlier detection: counts at least 1, percentages at most 100, a maximum ejection time
/// no shorter than the base (Envoy refuses such a cluster).
fn outlier(ck: &mut Checker, o: &OutlierSpec, o_at: &At) -> OutlierDetection {
    for (field, n) in [
        ("consecutive_5xx", o.consecutive_5xx),
        ("consecutive_gateway_failure", o.consecutive_gateway_failure),
    ] {
        if n == 0 {
            let msg = format!("`{field}` must be at least 1");
            ck.report(&o_at.field(field), msg, None);
        }
    }
    if o.interval.0.is_zero() {
        let msg = "`interval` must be above zero".into();
        ck.report(&o_at.field("interval"), msg, None);
    } else if o.interval.0 < INTERVAL_MIN {
        ck.report(&o_at.field("interval"), too_often(o.interval), None);
    }
    percentages(ck, o, o_at);
    let base = o.base_ejection_time.0.as_ns();
    let max = o
        .max_ejection_time
        .map_or(base.max(300_000_000_000), |d| d.0.as_ns());
    if max < base {
        let msg = format!(
            "`max_ejection_time` ({}) cannot be shorter than `base_ejection_time` ({})",
            SimDuration::from_ns(max),
            o.base_ejection_time.0
        );
        ck.report(&o_at.field("max_ejection_time"), msg, None);
    }
    OutlierDetection {
        consecutive_5xx: o.consecutive_5xx.max(1),
        consecutive_gateway_failure: o.consecutive_gateway_failure.max(1),
        interval_ns: o.interval.0.as_ns().max(1),
        base_ejection_ns: base,
        max_ejection_ns: max.max(base),
        max_jitter_ms: o.max_ejection_time_jitter.0.as_ns() / 1_000_000,
        max_ejection_percent: o.max_ejection_percent,
        always_eject_one_host: o.always_eject_one_host,
        enforcing_consecutive_5xx: o.enforcing_consecutive_5xx,
        enforcing_consecutive_gateway_failure: o.enforcing_consecutive_gateway_failure,
        enforcing_success_rate: o.enforcing_success_rate,
        success_rate_minimum_hosts: o.success_rate_minimum_hosts,
        success_rate_request_volume: o.success_rate_request_volume,
        success_rate_stdev_factor: o.success_rate_stdev_factor,
        failure_percentage_threshold: o.failure_percentage_threshold,
        enforcing_failure_percentage: o.enforcing_failure_percentage,
        failure_percentage_minimum_hosts: o.failure_percentage_minimum_hosts,
        failure_percentage_request_volume: o.failure_percentage_request_volume,
        health_check_unejects: o.successful_active_health_check_uneject_host,
    }
}

/// Replacement of failed instances; it needs health checks.
fn replace(ck: &mut Checker, svc: &Service, r: &ReplaceSpec, at: &At) -> Replacement {
    if svc.health.is_none() {
        ck.report(
            &at.field("replace"),
            "replacement acts on the verdicts of health checks; add `health`".into(),
            None,
        );
    }
    Replacement {
        start_up_ns: r.start_up.0.as_ns(),
    }
}

/// The warm-up of every process start: `cold_start`, or `replace`'s `warm_up` (not both).
fn cold_start(ck: &mut Checker, svc: &Service, at: &At) -> Option<ColdStart> {
    let of_replace = svc.replace.as_ref().filter(|r| r.warm_up.is_some());
    if let (Some(_), Some(_)) = (&svc.cold_start, of_replace) {
        let msg = "the warm-up is given twice: keep `cold_start` and remove `replace.warm_up`";
        ck.report(&at.field("cold_start"), msg.into(), None);
    }
    if let Some(c) = &svc.cold_start {
        ck.factor(&at.field("cold_start").field("cold_factor"), c.cold_factor);
        return Some(ColdStart {
            warm_up_ns: c.warm_up.0.as_ns(),
            cold_factor: c.cold_factor,
        });
    }
    let r = svc.replace.as_ref()?;
    ck.factor(&at.field("replace").field("cold_factor"), r.cold_factor);
    Some(ColdStart {
        warm_up_ns: r.warm_up.map_or(0, |d| d.0.as_ns()),
        cold_factor: r.cold_factor,
    })
}

/// Autoscaling, from the service's instances at the start.
fn autoscale(ck: &mut Checker, svc: &Service, a: &AutoscaleSpec, a_at: &At) -> Autoscale {
    if !(a.min >= 1 && a.min <= svc.instances && svc.instances <= a.max) {
        ck.report(
            a_at,
            format!(
                "autoscaling needs 1 <= `min` <= `instances` <= `max`; here min {}, instances {}, max {}",
                a.min, svc.instances, a.max
            ),
            None,
        );
    }
    if !(a.target_utilization > 0.0 && a.target_utilization < 1.0) {
        ck.report(
            &a_at.field("target_utilization"),
            format!(
                "the target utilization is a fraction between 0 and 1, not `{}`",
                a.target_utilization
            ),
            None,
        );
    }
    if a.every.0.is_zero() {
        ck.report(
            &a_at.field("every"),
            "`every` must be above zero".into(),
            None,
        );
    }
    if svc.datastore.is_some() || !svc.tier_groups.is_empty() {
        ck.report(
            a_at,
            "a datastore or a service with tier groups cannot autoscale".into(),
            None,
        );
    }
    Autoscale {
        initial: svc.instances,
        min: a.min.max(1),
        max: a.max.max(svc.instances),
        target_utilization: a.target_utilization,
        every_ns: a.every.0.as_ns().max(1),
        delay_ns: a.delay.0.as_ns(),
    }
}

/// Slow start of a new instance: (over, steps).
fn slow_start(ck: &mut Checker, s: &SlowStartSpec, at: &At) -> SlowStart {
    if s.steps == 0 || s.over.0.is_zero() {
        ck.report(
            &at.field("slow_start"),
            "slow start needs `over` above zero and at least one step".into(),
            None,
        );
    }
    SlowStart {
        over_ns: s.over.0.as_ns().max(1),
        steps: s.steps.max(1),
    }
}
