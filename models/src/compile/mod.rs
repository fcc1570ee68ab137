//! From a parsed [`Scenario`] to a [`World`]: check meaning (names resolve, rates are positive,
//! the call graph has no cycle) and compile (names become indices, instances are placed on
//! hosts). Every problem is collected before returning, so a user fixes a file in one pass rather
//! than one error per run.
//!
//! Every message names its place twice: the line and column of the text that caused it (found
//! with [`SourceMap`](crate::format::reader::SourceMap)) and the field path
//! (`services.frontend.calls[0].to`), which still makes sense when the text is generated or the
//! file has been edited since.
//!
//! One module per part of the scenario, each checking and compiling its part: `times` (horizon,
//! warm-up, resolution, limits), `hosts` (topology, latency, placements, places by name),
//! `services`, `calls` (steps and the call graph), `workloads`, `faults`, `recovery`,
//! `datastores`, `alerts`, `rollouts`, `actions` (the operators'), [`expect`] (assertions) and [`study`], which compiles
//! every variant of a scenario. `check` holds what they share: `At`, a place in the scenario, and
//! the `Checker` that collects problems.

mod actions;
mod alerts;
mod caches;
mod calls;
mod check;
mod datastores;
pub mod expect;
mod faults;
mod hosts;
mod inert;
mod network;
mod queues;
mod recovery;
mod rollouts;
mod services;
mod slo;
pub mod study;
mod times;
pub use times::{NAME_CHARS_MAX, RUNS_MAX};
mod workloads;

use crate::dist::Dist;
use crate::error::ScenarioError;
use crate::format::{parse, read_source};
use crate::spec::Scenario;
use crate::world::{
    ActionDef, AlertDef, CallDef, DeployDef, FaultDef, Host, InstanceDef, ServiceDef, SloDef,
    WorkloadDef, World,
};
use check::{At, Checker};
use sim_core::SimTime;
use std::path::Path;

/// Most hosts a topology may have: each is simulated state, and a typo such as
/// `hosts_per_rack: 40000` should be an error, not an exhausted memory.
pub const HOSTS_MAX: u64 = 1_000_000;
/// Most instances of all services together, for the same reason.
pub const INSTANCES_MAX: u64 = 1_000_000;

/// Reads, parses, validates and compiles a scenario file.
pub fn load_file(path: &Path) -> Result<World, ScenarioError> {
    let source = read_source(path)?;
    load_str(&path.display().to_string(), &source)
}

/// Parses, validates and compiles scenario text; `file` names it in messages.
pub fn load_str(file: &str, source: &str) -> Result<World, ScenarioError> {
    let spec = parse(file, source)?;
    build(file, Some(source), spec)
}

/// Checks the meaning of a parsed scenario and compiles it into a [`World`]. With the `source`
/// text, problems have a line and column; without it (a variant's patched text), a path only.
pub fn build(file: &str, source: Option<&str>, spec: Scenario) -> Result<World, ScenarioError> {
    let mut ck = Checker::new(source);
    let parts = compile_parts(&mut ck, &spec);
    if !ck.problems.is_empty() {
        return Err(ck.into_error(file));
    }
    let mut world = assemble(spec, parts);
    world.warnings = ck.take_warnings(file);
    // Refuse, before it starts, a run that would not fit.
    let mib = world.memory_estimate_bytes().div_ceil(1 << 20);
    if mib > u64::from(world.spec.limits.memory_mib_max) {
        let mut ck = Checker::new(source);
        ck.report(
            &At::root().field("limits").field("memory_mib_max"),
            format!(
                "a run of this scenario may need about {mib} MiB, more than `limits.memory_mib_max` ({}); use a coarser `resolution` or a lower `limits.requests_in_flight_max` or `limits.events_pending_max`, or raise the limit",
                world.spec.limits.memory_mib_max
            ),
            None,
        );
        return Err(ck.into_error(file));
    }
    Ok(world)
}

/// The compiled parts of a world, before they are put together.
struct Parts {
    hosts: Option<Vec<Host>>,
    latency: [Dist; 5],
    client_latency: Dist,
    network: crate::network::Network,
    disk: Option<crate::network::DiskDef>,
    transfers: Vec<crate::network::TransferDef>,
    tiers: Vec<String>,
    services: Vec<ServiceDef>,
    instances: Vec<InstanceDef>,
    calls: Vec<CallDef>,
    workloads: Vec<WorkloadDef>,
    faults: Vec<FaultDef>,
    alerts: Vec<AlertDef>,
    deploys: Vec<DeployDef>,
    actions: Vec<ActionDef>,
    slo: SloDef,
}

/// Checks and compiles each part of the scenario in turn, reporting into `ck`.
fn compile_parts(ck: &mut Checker, spec: &Scenario) -> Parts {
    times::check_times(ck, spec);
    times::check_name_lengths(ck, spec);
    let hosts = hosts::build_hosts(ck, spec);
    let (latency, client_latency) = hosts::build_latency(ck, spec);
    let tiers = workloads::tier_names(spec);
    let (mut services, instances, calls) =
        services::build_services(ck, spec, hosts.as_deref(), &tiers);
    let mut workloads = workloads::build_workloads(ck, spec);
    let slo = slo::build_slos(ck, spec, &mut services, &mut workloads);
    queues::build_queues(ck, spec, &mut services, &mut workloads, &slo);
    if let Some(h) = &hosts {
        services::mark_multi_region(&mut services, &instances, h);
    }
    let service_ranges: Vec<(u32, u32)> = services
        .iter()
        .map(|s| (s.first_instance, s.n_instances))
        .collect();
    let network = match &hosts {
        Some(h) => network::build_network(ck, spec, h),
        None => Default::default(),
    };
    let disk = network::build_disk(ck, spec);
    let transfers = match &hosts {
        Some(h) => network::build_transfers(ck, spec, h),
        None => Vec::new(),
    };
    let faults = match &hosts {
        Some(h) => faults::build_faults(ck, spec, h, &service_ranges, &instances, &calls, &network),
        None => Vec::new(),
    };
    let alerts = alerts::build_alerts(ck, spec);
    let deploys = rollouts::build_deploys(ck, spec, &service_ranges);
    let actions = actions::build_actions(
        ck,
        spec,
        &services,
        &calls,
        hosts.as_deref().map(|h| (h, &instances[..])),
    );
    inert::check_inert(ck, spec);
    network::warn_inert(ck, spec);
    Parts {
        hosts,
        latency,
        client_latency,
        network,
        disk,
        transfers,
        tiers,
        services,
        instances,
        calls,
        workloads,
        faults,
        alerts,
        deploys,
        actions,
        slo,
    }
}

/// The world of a scenario whose parts compiled without a problem.
fn assemble(spec: Scenario, parts: Parts) -> World {
    World {
        name: spec.name.clone(),
        seed: spec.seed,
        horizon: SimTime::ZERO.after(spec.horizon.0),
        warmup: SimTime::ZERO.after(spec.warmup.0),
        resolution: spec.resolution.0,
        events_max: spec.limits.events_max,
        requests_in_flight_max: spec.limits.requests_in_flight_max,
        events_pending_max: spec.limits.events_pending_max,
        hosts: parts.hosts.unwrap_or_default(),
        services: parts.services,
        instances: parts.instances,
        calls: parts.calls,
        workloads: parts.workloads,
        latency: parts.latency,
        client_latency: parts.client_latency,
        network: parts.network,
        disk: parts.disk,
        transfers: parts.transfers,
        faults: parts.faults,
        alerts: parts.alerts,
        deploys: parts.deploys,
        actions: parts.actions,
        tiers: parts.tiers,
        wall_time_max_ns: spec.limits.wall_time_max.map(|d| d.0.as_ns()),
        slo: parts.slo,
        warnings: Default::default(),
        spec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        // Each problem is on a line with non-ASCII text before it: `é`, `☕` and `𝄞` take 2, 3
        // and 4 bytes, but one column each.
        let text = |horizon: &str| {
            format!(
                r#"Scenario(name: "café ☕ 𝄞", horizon: {horizon},
    services: [(name: "s", work: Constant("1ms"))],
    workload: [(entry: "s", arrivals: Poisson(rate_per_s: 1))])"#
            )
        };
        let error = |horizon: &str| load_str("t.ron", &text(horizon)).unwrap_err().to_string();
        assert_eq!(
            error(r#""0s""#),
            "t.ron:1:37: error in `horizon`: the horizon must be longer than zero"
        );
        assert!(
            error(r#""1 parsec""#).starts_with("t.ron:1:37: error in `horizon`: "),
            "{}",
            error(r#""1 parsec""#)
        );
    }
}
