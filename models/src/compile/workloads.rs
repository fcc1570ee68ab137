//! Workloads: the entry service and pool, the arrival process and its schedule of rate changes,
//! the clients' retries, timeout, region, users and tier.

use super::check::{At, Checker};
use super::services::pool_index;
use crate::defences::RetryPolicy;
use crate::spec::{Arrivals, RateChange, Scenario, Workload};
use crate::world::{ArrivalKind, RateFn, SloDef, WorkloadDef};
use sim_core::SimDuration;

/// Most users one workload may have.
const USERS_MAX: u32 = 1_000_000;

/// The workloads' tiers, in order of first appearance.
pub(super) fn tier_names(spec: &Scenario) -> Vec<String> {
    let mut tiers: Vec<String> = Vec::new();
    for t in spec.workload.iter().filter_map(|w| w.tier.as_ref()) {
        if !tiers.contains(t) {
            tiers.push(t.clone());
        }
    }
    tiers
}

/// Checks and compiles every workload.
pub(super) fn build_workloads(ck: &mut Checker, spec: &Scenario) -> Vec<WorkloadDef> {
    if spec.workload.is_empty() {
        ck.report(
            &At::root().field("workload"),
            "the scenario needs at least one workload".into(),
            None,
        );
    }
    (0..spec.workload.len())
        .map(|wi| build_workload(ck, spec, wi))
        .collect()
}

/// Checks and compiles workload `wi`.
fn build_workload(ck: &mut Checker, spec: &Scenario, wi: usize) -> WorkloadDef {
    let w = &spec.workload[wi];
    let at = At::root().field("workload").index(wi);
    let entry = entry(ck, spec, w, &at);
    let (kind, rate) = arrival_rate(ck, w, &at);
    let points = rate_points(ck, spec, w, &at, rate);
    let pool = match spec.services.get(entry as usize) {
        Some(svc) => pool_index(ck, svc, w.pool.as_deref(), &at.field("pool")),
        None => 0,
    };
    let retry = w
        .retry
        .as_ref()
        .and_then(|r| match RetryPolicy::compile(r) {
            Ok(p) => Some(p),
            Err(problems) => {
                for (field, message) in problems {
                    let field_at = field.split('.').fold(at.clone(), |a, f| a.field(f));
                    ck.report(&field_at, message, None);
                }
                None
            }
        });
    let region = region(ck, spec, w, &at);
    check_clients(ck, w, &at);
    WorkloadDef {
        request_bytes: super::network::size(ck, &at.field("request_bytes"), &w.request_bytes),
        consumes: None,
        keys: w
            .keys
            .as_ref()
            .and_then(|k| super::caches::key_dist(ck, &at.field("keys"), k)),
        criticality: w.criticality as u8,
        users: w.users.clamp(1, USERS_MAX),
        slo: SloDef::default(), // resolved by `slo::build_slos`
        region,
        timeout_ns: w.timeout.map(|t| t.0.as_ns()),
        pool,
        retry,
        name: w.name.clone().unwrap_or_else(|| w.entry.clone()),
        tier: w
            .tier
            .as_ref()
            .and_then(|t| tier_names(spec).iter().position(|x| x == t))
            .map(|t| t as u32),
        entry,
        kind,
        rate: RateFn { points },
    }
}

/// The index of the entry service (0 after reporting an unknown one).
fn entry(ck: &mut Checker, spec: &Scenario, w: &Workload, at: &At) -> u32 {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    match names.iter().position(|n| *n == w.entry) {
        Some(i) => i as u32,
        None => {
            // With no services at all, that is the problem, already reported.
            if !names.is_empty() {
                ck.unknown(&at.field("entry"), "service", &w.entry, &names);
            }
            0
        }
    }
}

/// The arrival process and its starting rate, a finite number above zero.
fn arrival_rate(ck: &mut Checker, w: &Workload, at: &At) -> (ArrivalKind, f64) {
    let (kind, rate) = match w.arrivals {
        Arrivals::Poisson { rate_per_s } => (ArrivalKind::Poisson, rate_per_s),
        Arrivals::Constant { rate_per_s } => (ArrivalKind::Constant, rate_per_s),
    };
    let rate_at = at.field("arrivals").field("rate_per_s");
    if !rate.is_finite() {
        ck.report(
            &rate_at,
            format!("the arrival rate must be a finite number above zero, not `{rate}`"),
            None,
        );
    } else if rate <= 0.0 {
        ck.report(
            &rate_at,
            format!("the arrival rate must be above zero, not `{rate}`"),
            None,
        );
    } else if rate > RATE_PER_S_MAX {
        ck.report(&rate_at, rate_too_high(rate), None);
    }
    (kind, rate)
}

/// The highest arrival rate: one a nanosecond, the clock's resolution.
pub const RATE_PER_S_MAX: f64 = 1e9;

fn rate_too_high(rate: f64) -> String {
    format!("the arrival rate must be at most 1e9 per second (one a nanosecond, the clock's resolution), not `{rate:e}`")
}

/// The points (time in ns, rate) of the piecewise-linear rate: the starting `rate`, then each
/// change of the schedule, in order of time and before the horizon.
fn rate_points(
    ck: &mut Checker,
    spec: &Scenario,
    w: &Workload,
    at: &At,
    rate: f64,
) -> Vec<(u64, f64)> {
    let mut points = vec![(0u64, rate)];
    let mut current = rate;
    let mut last_end = SimDuration::ZERO;
    let schedule_at = at.field("schedule");
    for (k, change) in w.schedule.iter().enumerate() {
        let (start, end, to) = rate_change(ck, spec, &schedule_at.index(k), change, last_end);
        points.push((start.as_ns(), current));
        points.push((end.as_ns(), to));
        current = to;
        last_end = end;
    }
    points
}

/// Checks one change of the rate, the previous one ending at `last_end`; returns when it starts
/// and ends, and the rate it goes to.
fn rate_change(
    ck: &mut Checker,
    spec: &Scenario,
    cat: &At,
    change: &RateChange,
    last_end: SimDuration,
) -> (SimDuration, SimDuration, f64) {
    let (to, start, end, start_field) = match change {
        RateChange::Step { to_per_s, at } => (*to_per_s, at.0, at.0, "at"),
        RateChange::Ramp {
            to_per_s,
            from,
            over,
        } => {
            if over.0.is_zero() {
                ck.report(
                    &cat.field("over"),
                    "a ramp needs `over` above zero; use `Step` for a jump".into(),
                    None,
                );
            }
            (*to_per_s, from.0, from.0.saturating_add(over.0), "from")
        }
    };
    if !(to.is_finite() && to >= 0.0) {
        ck.report(
            &cat.field("to_per_s"),
            format!("a rate must be a finite number of zero or more, not `{to}`"),
            None,
        );
    } else if to > RATE_PER_S_MAX {
        ck.report(&cat.field("to_per_s"), rate_too_high(to), None);
    }
    if start < last_end {
        ck.report(
            &cat.field(start_field),
            format!(
                "changes must come in order of time; this one starts at `{start}`, before the previous one ends at `{last_end}`"
            ),
            None,
        );
    }
    if end > spec.horizon.0 {
        let what = match change {
            RateChange::Step { .. } => "this step comes",
            RateChange::Ramp { .. } => "this ramp ends",
        };
        ck.report(
            cat,
            format!(
                "{what} at `{end}`, after the horizon (`{}`)",
                spec.horizon.0
            ),
            None,
        );
    }
    (start, end, to)
}

/// The index of the clients' region (0, the first, when none is given or after reporting an
/// unknown one).
fn region(ck: &mut Checker, spec: &Scenario, w: &Workload, at: &At) -> u32 {
    let Some(name) = &w.region else { return 0 };
    let regions = &spec.topology.regions;
    match regions.iter().position(|r| &r.name == name) {
        Some(r) => r as u32,
        None => {
            let known: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
            ck.unknown(&at.field("region"), "region", name, &known);
            0
        }
    }
}

/// The clients' timeout is above zero, and their number between 1 and [`USERS_MAX`].
fn check_clients(ck: &mut Checker, w: &Workload, at: &At) {
    if w.timeout.is_some_and(|t| t.0.is_zero()) {
        ck.report(
            &at.field("timeout"),
            "a client timeout must be longer than zero".into(),
            None,
        );
    }
    if w.users == 0 || w.users > USERS_MAX {
        ck.report(
            &at.field("users"),
            format!("`users` is between 1 and 1,000,000, not `{}`", w.users),
            None,
        );
    }
}
