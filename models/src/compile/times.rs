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

/// Every limit is above zero.
fn check_limits(ck: &mut Checker, spec: &Scenario) {
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
