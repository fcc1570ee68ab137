//! From text to a [`World`]: parse the RON (shape errors carry line and column), then check meaning
//! (names resolve, rates are positive, the call graph has no cycle) and compile. Every problem is
//! collected before returning, so a user fixes a file in one pass rather than one error per run.

use crate::dist::{self, Dist};
use crate::error::{closest, locate, Problem, ScenarioError};
use crate::spec::{Arrivals, DistSpec, Placement, QueueCap, RateChange, Scenario, Step};
use crate::world::{ArrivalKind, CallDef, Host, InstanceDef, RateFn, ServiceDef, World, WorkloadDef};
use petgraph::graph::DiGraph;
use sim_core::{SimDuration, SimTime};
use std::path::Path;

/// Reads, parses, validates and compiles a scenario file.
pub fn load_file(path: &Path) -> Result<World, ScenarioError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: file.clone(),
        problems: vec![Problem {
            position: None,
            path: None,
            message: format!("cannot read the file: {e}"),
            suggestion: None,
        }],
    })?;
    load_str(&file, &source)
}

/// Parses, validates and compiles scenario text; `file` names it in messages.
pub fn load_str(file: &str, source: &str) -> Result<World, ScenarioError> {
    let spec = parse(file, source)?;
    build(file, Some(source), spec)
}

/// Parses RON into the spec types, checking shape only.
pub fn parse(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    options.from_str::<Scenario>(source).map_err(|e| ScenarioError {
        file: file.to_string(),
        problems: vec![ron_problem(&e)],
    })
}

fn ron_problem(e: &ron::error::SpannedError) -> Problem {
    use ron::error::Error as E;
    let position = Some((e.span.start.line, e.span.start.col));
    let within = |outer: &Option<String>| outer.as_ref().map(|o| format!(" in `{o}`")).unwrap_or_default();
    let list = |xs: &[&str]| xs.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ");
    let (message, suggestion) = match &e.code {
        E::NoSuchStructField { expected, found, outer } => (
            format!("unknown field `{found}`{}; expected one of {}", within(outer), list(expected)),
            closest(found, expected.iter().copied()),
        ),
        E::NoSuchEnumVariant { expected, found, outer } => (
            format!("unknown variant `{found}`{}; expected one of {}", within(outer), list(expected)),
            closest(found, expected.iter().copied()),
        ),
        E::MissingStructField { field, outer } => {
            (format!("missing field `{field}`{}", within(outer)), None)
        }
        E::DuplicateStructField { field, outer } => {
            (format!("field `{field}` is given twice{}", within(outer)), None)
        }
        E::Message(m) => (m.clone(), None),
        other => (lowercase_first(&other.to_string()), None),
    };
    Problem { position, path: None, message, suggestion }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Collects problems with their locations.
struct Checker<'a> {
    source: Option<&'a str>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    /// Records a problem at `path`; `anchor` and `needle` locate it in the source text.
    fn report(&mut self, path: String, anchor: Option<&str>, needle: Option<&str>, message: String, suggestion: Option<String>) {
        let position = match (self.source, needle) {
            (Some(src), Some(n)) => locate(src, anchor, n),
            _ => None,
        };
        self.problems.push(Problem { position, path: Some(path), message, suggestion });
    }

    fn dist(&mut self, path: String, anchor: Option<&str>, spec: &DistSpec) -> Dist {
        match dist::check(spec) {
            Some(msg) => {
                self.report(path, anchor, None, msg, None);
                Dist::Constant(SimDuration::ZERO)
            }
            None => Dist::new(spec).unwrap_or(Dist::Constant(SimDuration::ZERO)),
        }
    }
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// Checks the meaning of a parsed scenario and compiles it into a [`World`].
pub fn build(file: &str, source: Option<&str>, spec: Scenario) -> Result<World, ScenarioError> {
    let mut ck = Checker { source, problems: Vec::new() };
    check_times(&mut ck, &spec);
    let hosts = build_hosts(&mut ck, &spec);
    let latency_spec = &spec.topology.latency;
    let lat = |ck: &mut Checker, name: &str, d: &DistSpec| ck.dist(format!("topology.latency.{name}"), None, d);
    let latency = [
        lat(&mut ck, "same_host", &latency_spec.same_host),
        lat(&mut ck, "same_rack", &latency_spec.same_rack),
        lat(&mut ck, "same_zone", &latency_spec.same_zone),
        lat(&mut ck, "cross_zone", &latency_spec.cross_zone),
        lat(&mut ck, "cross_region", &latency_spec.cross_region),
    ];
    let client_latency = lat(&mut ck, "client", &latency_spec.client);
    let (services, instances, calls) = build_services(&mut ck, &spec, &hosts);
    let workloads = build_workloads(&mut ck, &spec);
    if !ck.problems.is_empty() {
        return Err(ScenarioError { file: file.to_string(), problems: ck.problems });
    }
    Ok(World {
        name: spec.name.clone(),
        seed: spec.seed,
        horizon: SimTime::ZERO.after(spec.horizon.0),
        warmup: SimTime::ZERO.after(spec.warmup.0),
        resolution: spec.resolution.0,
        events_max: spec.limits.events_max,
        requests_in_flight_max: spec.limits.requests_in_flight_max,
        hosts,
        services,
        instances,
        calls,
        workloads,
        latency,
        client_latency,
        spec,
    })
}

fn check_times(ck: &mut Checker, spec: &Scenario) {
    if spec.name.trim().is_empty() {
        ck.report("name".into(), None, Some("name"), "the scenario needs a name".into(), None);
    }
    if spec.horizon.0.is_zero() {
        ck.report("horizon".into(), None, Some("horizon"), "the horizon must be longer than zero".into(), None);
    }
    if spec.warmup >= spec.horizon && !spec.horizon.0.is_zero() {
        ck.report(
            "warmup".into(),
            None,
            Some("warmup"),
            format!("the warm-up ({}) must end before the horizon ({})", spec.warmup.0, spec.horizon.0),
            None,
        );
    }
    if spec.resolution.0.is_zero() {
        ck.report("resolution".into(), None, Some("resolution"), "the resolution must be longer than zero".into(), None);
    } else {
        let buckets = spec.horizon.0.as_ns().div_ceil(spec.resolution.0.as_ns());
        if buckets > u64::from(spec.limits.series_points_max) {
            ck.report(
                "resolution".into(),
                None,
                Some("resolution"),
                format!(
                    "a horizon of {} at a resolution of {} makes {buckets} time-series points, more than `limits.series_points_max` ({}); use a coarser resolution",
                    spec.horizon.0, spec.resolution.0, spec.limits.series_points_max
                ),
                None,
            );
        }
    }
    if spec.limits.events_max == 0 || spec.limits.requests_in_flight_max == 0 {
        ck.report("limits".into(), None, Some("limits"), "limits must be above zero".into(), None);
    }
}

fn build_hosts(ck: &mut Checker, spec: &Scenario) -> Vec<Host> {
    let mut hosts = Vec::new();
    let (mut zone_idx, mut rack_idx) = (0u32, 0u32);
    let regions = &spec.topology.regions;
    if regions.is_empty() {
        ck.report("topology.regions".into(), None, Some("regions"), "the topology needs at least one region".into(), None);
    }
    for (r, region) in regions.iter().enumerate() {
        let rpath = format!("topology.regions.{}", region.name);
        if regions[..r].iter().any(|o| o.name == region.name) {
            ck.report(rpath.clone(), None, Some(&quoted(&region.name)), format!("region `{}` is defined twice", region.name), None);
        }
        if region.zones.is_empty() {
            ck.report(rpath.clone(), None, Some(&quoted(&region.name)), "a region needs at least one zone".into(), None);
        }
        for (z, zone) in region.zones.iter().enumerate() {
            let zpath = format!("{rpath}.zones.{}", zone.name);
            if region.zones[..z].iter().any(|o| o.name == zone.name) {
                ck.report(zpath.clone(), Some(&quoted(&region.name)), Some(&quoted(&zone.name)), format!("zone `{}` is defined twice", zone.name), None);
            }
            if zone.racks == 0 || zone.hosts_per_rack == 0 {
                ck.report(zpath, Some(&quoted(&region.name)), Some(&quoted(&zone.name)), "a zone needs at least one rack of at least one host".into(), None);
            }
            for rack in 0..zone.racks {
                for host in 0..zone.hosts_per_rack {
                    hosts.push(Host {
                        name: format!("{}/{}/r{rack}/h{host}", region.name, zone.name),
                        region_idx: r as u32,
                        zone_idx,
                        rack_idx,
                        spread_key: (host, rack, z as u32, r as u32),
                    });
                }
                rack_idx += 1;
            }
            zone_idx += 1;
        }
    }
    hosts
}

/// Hosts eligible for a placement, in interleaved order (spread first across regions, then zones,
/// racks and hosts), or `None` after reporting an unknown region or zone.
fn placement_hosts(ck: &mut Checker, spec: &Scenario, hosts: &[Host], svc_name: &str, placement: &Placement) -> Option<Vec<u32>> {
    let path = format!("services.{svc_name}.placement");
    let anchor = quoted(svc_name);
    let mut eligible: Vec<u32> = match placement {
        Placement::Spread => (0..hosts.len() as u32).collect(),
        Placement::InRegion(name) => {
            let Some(r) = spec.topology.regions.iter().position(|r| &r.name == name) else {
                let known = spec.topology.regions.iter().map(|r| r.name.as_str());
                let suggestion = closest(name, known);
                ck.report(path, Some(&anchor), Some(&quoted(name)), format!("unknown region `{name}`"), suggestion);
                return None;
            };
            (0..hosts.len() as u32).filter(|&h| hosts[h as usize].region_idx == r as u32).collect()
        }
        Placement::InZone(name) => {
            let mut matches = Vec::new();
            let mut zone_idx = 0u32;
            let mut all_names = Vec::new();
            for region in &spec.topology.regions {
                for zone in &region.zones {
                    let full = format!("{}/{}", region.name, zone.name);
                    if &zone.name == name || &full == name {
                        matches.push(zone_idx);
                    }
                    all_names.push(full);
                    all_names.push(zone.name.clone());
                    zone_idx += 1;
                }
            }
            match matches.len() {
                1 => (0..hosts.len() as u32).filter(|&h| hosts[h as usize].zone_idx == matches[0]).collect(),
                0 => {
                    let suggestion = closest(name, all_names.iter().map(String::as_str));
                    ck.report(path, Some(&anchor), Some(&quoted(name)), format!("unknown zone `{name}`"), suggestion);
                    return None;
                }
                _ => {
                    ck.report(path, Some(&anchor), Some(&quoted(name)), format!("zone `{name}` exists in several regions; write it as `region/{name}`"), None);
                    return None;
                }
            }
        }
    };
    // Interleave: host 0 of rack 0 of zone 0 of each region, then zone 1, ...
    eligible.sort_by_key(|&h| hosts[h as usize].spread_key);
    Some(eligible)
}

type Built = (Vec<ServiceDef>, Vec<InstanceDef>, Vec<CallDef>);

fn build_services(ck: &mut Checker, spec: &Scenario, hosts: &[Host]) -> Built {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    if spec.services.is_empty() {
        ck.report("services".into(), None, Some("services"), "the scenario needs at least one service".into(), None);
    }
    let (mut services, mut instances, mut calls) = (Vec::new(), Vec::new(), Vec::new());
    let mut graph = DiGraph::<u32, ()>::new();
    let nodes: Vec<_> = (0..spec.services.len() as u32).map(|i| graph.add_node(i)).collect();
    for (si, svc) in spec.services.iter().enumerate() {
        let path = format!("services.{}", svc.name);
        let anchor = quoted(&svc.name);
        if svc.name.trim().is_empty() {
            ck.report(format!("services[{si}].name"), None, None, "a service needs a name".into(), None);
        }
        if names[..si].contains(&svc.name.as_str()) {
            ck.report(path.clone(), None, Some(&anchor), format!("service `{}` is defined twice", svc.name), None);
        }
        if svc.instances == 0 {
            ck.report(format!("{path}.instances"), Some(&anchor), Some("instances"), "a service needs at least one instance".into(), None);
        }
        if svc.workers == 0 {
            ck.report(format!("{path}.workers"), Some(&anchor), Some("workers"), "an instance needs at least one worker".into(), None);
        }
        let queue_cap = match svc.queue {
            QueueCap::Bounded(0) => {
                ck.report(
                    format!("{path}.queue"),
                    Some(&anchor),
                    Some("queue"),
                    "a queue of 0 rejects every request that finds all workers busy; give it a length of at least 1, \"unbounded\", or write \"none\" if a loss system is what you mean".into(),
                    None,
                );
                0
            }
            QueueCap::Bounded(n) => n,
            QueueCap::NoQueue => 0,
            QueueCap::Unbounded => u32::MAX,
        };
        let work = ck.dist(format!("{path}.work"), Some(&anchor), &svc.work);
        let mut steps = Vec::new();
        for (k, step) in svc.calls.iter().enumerate() {
            let start = calls.len() as u32;
            let targets: Vec<&String> = match step {
                Step::Call { to } => vec![to],
                Step::Parallel(inner) => {
                    if inner.is_empty() {
                        ck.report(format!("{path}.calls[{k}]"), Some(&anchor), Some("Parallel"), "a `Parallel` step needs at least one call".into(), None);
                    }
                    inner
                        .iter()
                        .filter_map(|s| match s {
                            Step::Call { to } => Some(to),
                            Step::Parallel(_) => {
                                ck.report(format!("{path}.calls[{k}]"), Some(&anchor), Some("Parallel"), "a `Parallel` step holds `Call`s only, not another `Parallel`".into(), None);
                                None
                            }
                        })
                        .collect()
                }
            };
            for (j, to) in targets.iter().enumerate() {
                let cpath = match step {
                    Step::Call { .. } => format!("{path}.calls[{k}].to"),
                    Step::Parallel(_) => format!("{path}.calls[{k}][{j}].to"),
                };
                match names.iter().position(|n| n == to) {
                    Some(ti) if ti == si => {
                        ck.report(cpath, Some(&anchor), Some(&format!("to: {}", quoted(to))), format!("service `{to}` calls itself"), None)
                    }
                    Some(ti) => {
                        graph.update_edge(nodes[si], nodes[ti], ());
                        calls.push(CallDef { from: si as u32, to: ti as u32 });
                    }
                    None => {
                        let suggestion = closest(to, names.iter().copied());
                        ck.report(cpath, Some(&anchor), Some(&quoted(to)), format!("unknown service `{to}`"), suggestion);
                    }
                }
            }
            let len = calls.len() as u32 - start;
            if len > 0 {
                steps.push((start, len));
            }
        }
        let first_instance = instances.len() as u32;
        if let Some(eligible) = placement_hosts(ck, spec, hosts, &svc.name, &svc.placement) {
            if eligible.is_empty() {
                ck.report(format!("{path}.placement"), Some(&anchor), None, "the placement leaves no host to run on".into(), None);
            } else {
                for i in 0..svc.instances as usize {
                    instances.push(InstanceDef { service_idx: si as u32, host_idx: eligible[i % eligible.len()] });
                }
            }
        }
        services.push(ServiceDef {
            name: svc.name.clone(),
            first_instance,
            n_instances: instances.len() as u32 - first_instance,
            workers: svc.workers,
            queue_cap,
            work,
            steps,
            balancer: svc.balancer,
        });
    }
    for scc in petgraph::algo::tarjan_scc(&graph) {
        if scc.len() > 1 {
            let mut members: Vec<u32> = scc.iter().map(|&n| graph[n]).collect();
            members.sort_unstable();
            let cycle: Vec<&str> = members.iter().map(|&i| names[i as usize]).collect();
            let first = cycle[0];
            ck.report(
                format!("services.{first}.calls"),
                None,
                Some(&quoted(first)),
                format!("the call graph has a cycle through {}; a request would call itself forever", cycle.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
                None,
            );
        }
    }
    (services, instances, calls)
}

fn build_workloads(ck: &mut Checker, spec: &Scenario) -> Vec<WorkloadDef> {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    if spec.workload.is_empty() {
        ck.report("workload".into(), None, Some("workload"), "the scenario needs at least one workload".into(), None);
    }
    let mut out = Vec::new();
    for (wi, w) in spec.workload.iter().enumerate() {
        let path = format!("workload[{wi}]");
        let entry = match names.iter().position(|n| *n == w.entry) {
            Some(i) => i as u32,
            None => {
                let suggestion = closest(&w.entry, names.iter().copied());
                ck.report(format!("{path}.entry"), Some("workload"), Some(&format!("entry: {}", quoted(&w.entry))), format!("unknown service `{}`", w.entry), suggestion);
                0
            }
        };
        let (kind, rate) = match w.arrivals {
            Arrivals::Poisson { rate_per_s } => (ArrivalKind::Poisson, rate_per_s),
            Arrivals::Constant { rate_per_s } => (ArrivalKind::Constant, rate_per_s),
        };
        if !(rate.is_finite() && rate > 0.0) {
            ck.report(format!("{path}.arrivals.rate_per_s"), Some("workload"), Some("rate_per_s"), format!("the arrival rate must be above zero, not `{rate}`"), None);
        }
        let mut points = vec![(0u64, rate)];
        let mut current = rate;
        let mut last_end = SimDuration::ZERO;
        for (k, change) in w.schedule.iter().enumerate() {
            let cpath = format!("{path}.schedule[{k}]");
            let (to, start, end) = match change {
                RateChange::Step { to_per_s, at } => (*to_per_s, at.0, at.0),
                RateChange::Ramp { to_per_s, from, over } => {
                    if over.0.is_zero() {
                        ck.report(cpath.clone(), Some("schedule"), None, "a ramp needs `over` above zero; use `Step` for a jump".into(), None);
                    }
                    (*to_per_s, from.0, from.0.saturating_add(over.0))
                }
            };
            if !(to.is_finite() && to >= 0.0) {
                ck.report(cpath.clone(), Some("schedule"), None, format!("a rate must be zero or more, not `{to}`"), None);
            }
            if start < last_end {
                ck.report(cpath.clone(), Some("schedule"), None, format!("changes must come in order of time; this one starts at {start}, before the previous one ends at {last_end}"), None);
            }
            if end > spec.horizon.0 {
                ck.report(cpath, Some("schedule"), None, format!("this change ends at {end}, after the horizon ({})", spec.horizon.0), None);
            }
            points.push((start.as_ns(), current));
            points.push((end.as_ns(), to));
            current = to;
            last_end = end;
        }
        out.push(WorkloadDef {
            name: w.name.clone().unwrap_or_else(|| w.entry.clone()),
            entry,
            kind,
            rate: RateFn { points },
        });
    }
    out
}
