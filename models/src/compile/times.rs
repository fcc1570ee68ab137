//! The scenario's name, its times (horizon, warm-up, resolution) and its limits.

use super::check::{At, Checker};
use crate::spec::Scenario;

/// Checks the name, the times and the limits of a run.
pub(super) fn check_times(ck: &mut Checker, spec: &Scenario) {
    let root = At::root();
    if spec.name.trim().is_empty() {
        ck.report(
            &root.field("name"),
            "the scenario needs a name".into(),
            None,
        );
    }
    let horizon = root.field("horizon");
    if spec.horizon.0.is_zero() {
        ck.report(
            &horizon,
            "the horizon must be longer than zero".into(),
            None,
        );
    }
    if spec.warmup >= spec.horizon && !spec.horizon.0.is_zero() {
        ck.report(
            &root.field("warmup"),
            format!(
                "the warm-up (`{}`) must end before the horizon (`{}`)",
                spec.warmup.0, spec.horizon.0
            ),
            None,
        );
    }
    check_resolution(ck, spec);
    check_limits(ck, spec);
}

/// The resolution of the time series: above zero, and not so fine that the series outgrow
/// `limits.series_points_max`.
fn check_resolution(ck: &mut Checker, spec: &Scenario) {
    let resolution = At::root().field("resolution");
    if spec.resolution.0.is_zero() {
        ck.report(
            &resolution,
            "the resolution must be longer than zero".into(),
            None,
        );
        return;
    }
    let buckets = spec.horizon.0.as_ns().div_ceil(spec.resolution.0.as_ns());
    if buckets > u64::from(spec.limits.series_points_max) {
        // Point at the resolution if the file sets it, else at the horizon.
        let position = ck
            .exact_position(&resolution)
            .or_else(|| ck.position(&At::root().field("horizon")));
        ck.report_at(
            &resolution,
            position,
            format!(
                "a horizon of `{}` at a resolution of `{}` makes {buckets} time-series points, more than `limits.series_points_max` ({}); use a coarser resolution",
                spec.horizon.0, spec.resolution.0, spec.limits.series_points_max
            ),
            None,
        );
    }
}

/// The most runs per variant a sweep may make: each is kept in the aggregate.
pub const RUNS_MAX: u32 = 1_000_000;

/// Every limit is above zero; `runs` is between 1 and [`RUNS_MAX`].
fn check_limits(ck: &mut Checker, spec: &Scenario) {
    if spec.runs == 0 || spec.runs > RUNS_MAX {
        ck.report(
            &At::root().field("runs"),
            format!(
                "`runs` is {}; it must be between 1 and {RUNS_MAX}",
                spec.runs
            ),
            None,
        );
    }
    let limits = At::root().field("limits");
    for (field, value) in [
        ("events_max", spec.limits.events_max),
        ("events_pending_max", spec.limits.events_pending_max),
        (
            "requests_in_flight_max",
            u64::from(spec.limits.requests_in_flight_max),
        ),
        (
            "series_points_max",
            u64::from(spec.limits.series_points_max),
        ),
    ] {
        if value == 0 {
            ck.report(
                &limits.field(field),
                format!("`{field}` must be above zero"),
                None,
            );
        }
    }
}

/// The longest name Faultline accepts, in characters: names are quoted in messages, table cells,
/// chart labels and file contents, which must stay readable (and finite).
pub const NAME_CHARS_MAX: usize = 128;

/// Every name (the scenario's, regions', zones', services', pools', workloads', faults', alerts',
/// variants') is at most [`NAME_CHARS_MAX`] characters long.
pub(super) fn check_name_lengths(ck: &mut Checker, spec: &Scenario) {
    let mut names: Vec<(At, &str)> = vec![(At::root().field("name"), spec.name.as_str())];
    let regions = At::root().field("topology").field("regions");
    for (r, region) in spec.topology.regions.iter().enumerate() {
        names.push((regions.index(r).field("name"), &region.name));
        for (z, zone) in region.zones.iter().enumerate() {
            names.push((
                regions.index(r).field("zones").index(z).field("name"),
                &zone.name,
            ));
        }
    }
    for (s, svc) in spec.services.iter().enumerate() {
        let at = At::root().field("services").index(s);
        names.push((at.field("name"), &svc.name));
        for (p, pool) in svc.pools.iter().enumerate() {
            names.push((at.field("pools").index(p).field("name"), &pool.name));
        }
    }
    for (w, workload) in spec.workload.iter().enumerate() {
        if let Some(name) = &workload.name {
            names.push((At::root().field("workload").index(w).field("name"), name));
        }
    }
    for (a, alert) in spec.alerts.iter().enumerate() {
        names.push((
            At::root().field("alerts").index(a).field("name"),
            &alert.name,
        ));
    }
    for (f, fault) in spec.faults.iter().enumerate() {
        if let Some(name) = &fault.name {
            names.push((At::root().field("faults").index(f).field("name"), name));
        }
    }
    for (v, variant) in spec.variants.iter().enumerate() {
        names.push((
            At::root().field("variants").index(v).field("name"),
            &variant.name,
        ));
    }
    for (at, name) in names {
        let n = name.chars().count();
        if n > NAME_CHARS_MAX {
            ck.report(
                &at,
                format!("a name of {n} characters is too long (at most {NAME_CHARS_MAX})"),
                None,
            );
        }
    }
}
