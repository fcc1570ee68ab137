//! From text to a [`World`]: parse the RON (shape errors carry line and column), then check meaning
//! (names resolve, rates are positive, the call graph has no cycle) and compile. Every problem is
//! collected before returning, so a user fixes a file in one pass rather than one error per run.
//!
//! Every message names its place twice: the line and column of the text that caused it (found with
//! [`SourceMap`]) and the field path (`services.frontend.calls[0].to`), which still makes sense
//! when the text is generated or the file has been edited since.

use crate::dist::{self, Dist};
use crate::error::{closest, one_of, Problem, ScenarioError};
use crate::format::reader::{Seg, SourceMap};
use crate::policy::CallPolicy;
use crate::spec::{Arrivals, DistSpec, Placement, QueueCap, RateChange, Scenario, Step};
use crate::world::{
    ArrivalKind, CallDef, Host, InstanceDef, PoolDef, RateFn, RateLimitDef, ServiceDef, ShedPolicy,
    WorkloadDef, World,
};
use petgraph::graph::DiGraph;
use sim_core::{SimDuration, SimTime};
use std::path::Path;

pub use crate::format::{parse, read_source};

/// Most hosts a topology may have: each is simulated state, and a typo such as
/// `hosts_per_rack: 40000` should be an error, not an exhausted memory.
pub const HOSTS_MAX: u64 = 1_000_000;
/// Most instances of all services together, for the same reason.
pub const INSTANCES_MAX: u64 = 1_000_000;
/// Unknown names are followed by the list of known ones when there are at most this many.
const LIST_NAMES_MAX: usize = 12;

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

/// A place in the scenario: the path shown to the user and the structural path that finds its
/// text.
#[derive(Clone, Debug, Default)]
struct At {
    shown: String,
    segs: Vec<Seg>,
}

impl At {
    fn root() -> At {
        At::default()
    }

    fn field(&self, name: &str) -> At {
        let mut segs = self.segs.clone();
        segs.push(Seg::Field(name.to_string()));
        let shown = if self.shown.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.shown)
        };
        At { shown, segs }
    }

    fn index(&self, i: usize) -> At {
        let mut segs = self.segs.clone();
        segs.push(Seg::Index(i));
        At {
            shown: format!("{}[{i}]", self.shown),
            segs,
        }
    }

    /// Element `i` of a list whose elements have names (`services.frontend`).
    fn named(&self, i: usize, name: &str) -> At {
        if name.trim().is_empty()
            || name.len() > 64
            || name.contains(['.', '[', '`', '\\', '\n', '\r'])
        {
            return self.index(i);
        }
        let mut at = self.field(name);
        at.segs.pop();
        at.segs.push(Seg::Index(i));
        at
    }
}

/// Collects problems with their locations.
struct Checker<'a> {
    map: Option<SourceMap<'a>>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    /// The 1-based line and column of the text at `at`, or of the nearest enclosing value that the
    /// file spells out.
    fn position(&self, at: &At) -> Option<(usize, usize)> {
        let map = self.map.as_ref()?;
        map.find(&at.segs).map(|o| map.position(o))
    }

    /// The position of `at` only if the file spells it out.
    fn exact_position(&self, at: &At) -> Option<(usize, usize)> {
        let map = self.map.as_ref()?;
        map.find_exact(&at.segs).map(|o| map.position(o))
    }

    fn report(&mut self, at: &At, message: String, suggestion: Option<String>) {
        let position = self.position(at);
        self.report_at(at, position, message, suggestion);
    }

    fn report_at(
        &mut self,
        at: &At,
        position: Option<(usize, usize)>,
        message: String,
        suggestion: Option<String>,
    ) {
        // One problem, one line: names quoted in a message may hold escaped line breaks.
        let one_line = |s: String| s.replace('\r', "").replace('\n', "\\n");
        self.problems.push(Problem {
            position,
            path: Some(at.shown.clone()).filter(|p| !p.is_empty()),
            message: one_line(message),
            suggestion: suggestion.map(one_line),
        });
    }

    /// Reports an unknown name: a suggestion when one is close, else the known names when few.
    fn unknown(&mut self, at: &At, what: &str, name: &str, known: &[&str]) {
        let suggestion = closest(name, known.iter().copied());
        let message = if suggestion.is_some() || known.is_empty() {
            format!("unknown {what} `{name}`")
        } else if known.len() <= LIST_NAMES_MAX {
            format!("unknown {what} `{name}`; expected {}", one_of(known))
        } else {
            format!("unknown {what} `{name}`")
        };
        self.report(at, message, suggestion);
    }

    fn dist(&mut self, at: &At, spec: &DistSpec) -> Dist {
        match dist::check(spec) {
            Some(msg) => {
                self.report(at, msg, None);
                Dist::Constant(SimDuration::ZERO)
            }
            None => Dist::new(spec).unwrap_or(Dist::Constant(SimDuration::ZERO)),
        }
    }
}

mod ops;

/// Checks the meaning of a parsed scenario and compiles it into a [`World`].
pub fn build(file: &str, source: Option<&str>, spec: Scenario) -> Result<World, ScenarioError> {
    let mut ck = Checker {
        map: source.map(SourceMap::new),
        problems: Vec::new(),
    };
    check_times(&mut ck, &spec);
    let hosts = build_hosts(&mut ck, &spec);
    let latency_spec = &spec.topology.latency;
    let lat_at = At::root().field("topology").field("latency");
    let mut lat = |name: &str, d: &DistSpec| ck.dist(&lat_at.field(name), d);
    let latency = [
        lat("same_host", &latency_spec.same_host),
        lat("same_rack", &latency_spec.same_rack),
        lat("same_zone", &latency_spec.same_zone),
        lat("cross_zone", &latency_spec.cross_zone),
        lat("cross_region", &latency_spec.cross_region),
    ];
    let client_latency = lat("client", &latency_spec.client);
    let tiers = tier_names(&spec);
    let (services, instances, calls) = build_services(&mut ck, &spec, hosts.as_deref(), &tiers);
    let workloads = build_workloads(&mut ck, &spec);
    let mut services = services;
    if let Some(h) = &hosts {
        for s in &mut services {
            let range = s.first_instance as usize..(s.first_instance + s.n_instances) as usize;
            let first = instances
                .get(range.start)
                .map(|i| h[i.host_idx as usize].region_idx);
            s.multi_region = instances.get(range).is_some_and(|x| {
                x.iter()
                    .any(|i| Some(h[i.host_idx as usize].region_idx) != first)
            });
        }
    }
    let service_ranges: Vec<(u32, u32)> = services
        .iter()
        .map(|s| (s.first_instance, s.n_instances))
        .collect();
    let instance_hosts: Vec<u32> = instances.iter().map(|i| i.host_idx).collect();
    let faults = match &hosts {
        Some(h) => ops::build_faults(&mut ck, &spec, h, &service_ranges, &instance_hosts, &calls),
        None => Vec::new(),
    };
    let alerts = ops::build_alerts(&mut ck, &spec);
    let deploys = ops::build_deploys(&mut ck, &spec, &service_ranges);
    if !ck.problems.is_empty() {
        let mut problems = ck.problems;
        // In the order of the file; problems without a position last, in the order found.
        problems.sort_by_key(|p| p.position.unwrap_or((usize::MAX, usize::MAX)));
        return Err(ScenarioError {
            file: file.to_string(),
            problems,
        });
    }
    let world = World {
        name: spec.name.clone(),
        seed: spec.seed,
        horizon: SimTime::ZERO.after(spec.horizon.0),
        warmup: SimTime::ZERO.after(spec.warmup.0),
        resolution: spec.resolution.0,
        events_max: spec.limits.events_max,
        requests_in_flight_max: spec.limits.requests_in_flight_max,
        hosts: hosts.unwrap_or_default(),
        services,
        instances,
        calls,
        workloads,
        latency,
        client_latency,
        faults,
        alerts,
        deploys,
        tiers,
        wall_time_max_ns: spec.limits.wall_time_max.map(|d| d.0.as_ns()),
        spec,
    };
    // Refuse, before it starts, a run that would not fit.
    let mib = world.memory_estimate_bytes().div_ceil(1 << 20);
    if mib > u64::from(world.spec.limits.memory_mib_max) {
        let mut ck = Checker {
            map: source.map(SourceMap::new),
            problems: Vec::new(),
        };
        ck.report(
            &At::root().field("limits").field("memory_mib_max"),
            format!(
                "a run of this scenario may need about {mib} MiB, more than `limits.memory_mib_max` ({}); use a coarser `resolution` or a lower `limits.requests_in_flight_max`, or raise the limit",
                world.spec.limits.memory_mib_max
            ),
            None,
        );
        return Err(ScenarioError {
            file: file.to_string(),
            problems: ck.problems,
        });
    }
    Ok(world)
}

fn check_times(ck: &mut Checker, spec: &Scenario) {
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
    let resolution = root.field("resolution");
    if spec.resolution.0.is_zero() {
        ck.report(
            &resolution,
            "the resolution must be longer than zero".into(),
            None,
        );
    } else {
        let buckets = spec.horizon.0.as_ns().div_ceil(spec.resolution.0.as_ns());
        if buckets > u64::from(spec.limits.series_points_max) {
            // Point at the resolution if the file sets it, else at the horizon.
            let position = ck
                .exact_position(&resolution)
                .or_else(|| ck.position(&horizon));
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
    let limits = root.field("limits");
    if spec.limits.events_max == 0 {
        ck.report(
            &limits.field("events_max"),
            "`events_max` must be above zero".into(),
            None,
        );
    }
    if spec.limits.requests_in_flight_max == 0 {
        ck.report(
            &limits.field("requests_in_flight_max"),
            "`requests_in_flight_max` must be above zero".into(),
            None,
        );
    }
    if spec.limits.series_points_max == 0 {
        ck.report(
            &limits.field("series_points_max"),
            "`series_points_max` must be above zero".into(),
            None,
        );
    }
}

/// The hosts of the topology, or `None` when it is invalid (problems reported).
fn build_hosts(ck: &mut Checker, spec: &Scenario) -> Option<Vec<Host>> {
    let regions = &spec.topology.regions;
    let regions_at = At::root().field("topology").field("regions");
    let problems_before = ck.problems.len();
    if regions.is_empty() {
        ck.report(
            &regions_at,
            "the topology needs at least one region".into(),
            None,
        );
    }
    let mut total: u64 = 0;
    let mut big_zone = false;
    for (r, region) in regions.iter().enumerate() {
        let rat = regions_at.named(r, &region.name);
        if region.name.trim().is_empty() {
            ck.report(&rat.field("name"), "a region needs a name".into(), None);
        }
        if let Some(first) = regions[..r].iter().position(|o| o.name == region.name) {
            let first_at = ck.position(&regions_at.index(first));
            ck.report(
                &regions_at.index(r).field("name"),
                format!(
                    "region `{}` is defined twice{}",
                    region.name,
                    first_mention(first_at)
                ),
                None,
            );
        }
        if region.zones.is_empty() {
            ck.report(
                &rat.field("zones"),
                format!("region `{}` needs at least one zone", region.name),
                None,
            );
        }
        let zones_at = rat.field("zones");
        for (z, zone) in region.zones.iter().enumerate() {
            let zat = zones_at.named(z, &zone.name);
            if zone.name.trim().is_empty() {
                ck.report(&zat.field("name"), "a zone needs a name".into(), None);
            } else if zone.name.contains('/') {
                ck.report(
                    &zat.field("name"),
                    format!(
                        "zone name `{}` contains `/`, which separates a region from a zone in placements",
                        zone.name
                    ),
                    None,
                );
            }
            if let Some(first) = region.zones[..z].iter().position(|o| o.name == zone.name) {
                let first_at = ck.position(&zones_at.index(first));
                ck.report(
                    &zones_at.index(z).field("name"),
                    format!(
                        "zone `{}` is defined twice in region `{}`{}",
                        zone.name,
                        region.name,
                        first_mention(first_at)
                    ),
                    None,
                );
            }
            for (field, n) in [
                ("racks", zone.racks),
                ("hosts_per_rack", zone.hosts_per_rack),
            ] {
                if n == 0 {
                    ck.report(
                        &zat.field(field),
                        format!("zone `{}` needs `{field}` of at least 1", zone.name),
                        None,
                    );
                }
            }
            let zone_hosts = u64::from(zone.racks) * u64::from(zone.hosts_per_rack);
            if zone_hosts > HOSTS_MAX {
                big_zone = true;
                ck.report(
                    &zat.field("hosts_per_rack"),
                    format!(
                        "zone `{}` has {zone_hosts} hosts ({} racks of {}); Faultline simulates at most {HOSTS_MAX}",
                        zone.name, zone.racks, zone.hosts_per_rack
                    ),
                    None,
                );
            }
            total = total.saturating_add(zone_hosts);
        }
    }
    if total > HOSTS_MAX && !big_zone {
        ck.report(
            &regions_at,
            format!("the topology has {total} hosts; Faultline simulates at most {HOSTS_MAX}"),
            None,
        );
    }
    if ck.problems.len() > problems_before {
        return None;
    }
    let mut hosts = Vec::new();
    let (mut zone_idx, mut rack_idx) = (0u32, 0u32);
    for (r, region) in regions.iter().enumerate() {
        for (z, zone) in region.zones.iter().enumerate() {
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
    Some(hosts)
}

/// `" (first at 12:9)"`, or nothing when the first is not located.
fn first_mention(position: Option<(usize, usize)>) -> String {
    position.map_or(String::new(), |(l, c)| format!(" (first at {l}:{c})"))
}

/// Hosts eligible for a placement, in interleaved order (spread first across regions, then zones,
/// racks and hosts), or `None` after reporting an unknown region or zone.
fn placement_hosts(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    placement: &Placement,
) -> Option<Vec<u32>> {
    let regions = &spec.topology.regions;
    let mut eligible: Vec<u32> = match placement {
        Placement::Spread => (0..hosts.len() as u32).collect(),
        Placement::InRegion(name) => {
            let Some(r) = regions.iter().position(|r| &r.name == name) else {
                let known: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
                ck.unknown(at, "region", name, &known);
                return None;
            };
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].region_idx == r as u32)
                .collect()
        }
        Placement::InZone(name) => {
            let zones: Vec<(&str, &str)> = regions
                .iter()
                .flat_map(|r| {
                    r.zones
                        .iter()
                        .map(move |z| (r.name.as_str(), z.name.as_str()))
                })
                .collect();
            let matches: Vec<u32> = (0..zones.len() as u32)
                .filter(|&i| {
                    let (r, z) = zones[i as usize];
                    z == name || name.split_once('/') == Some((r, z))
                })
                .collect();
            match matches[..] {
                [zone] => (0..hosts.len() as u32)
                    .filter(|&h| hosts[h as usize].zone_idx == zone)
                    .collect(),
                [] => {
                    // Zones by the shortest name that names them alone.
                    let known: Vec<String> = zones
                        .iter()
                        .map(|&(r, z)| {
                            if zones.iter().filter(|&&(_, o)| o == z).count() == 1
                                && !name.contains('/')
                            {
                                z.to_string()
                            } else {
                                format!("{r}/{z}")
                            }
                        })
                        .collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    ck.unknown(at, "zone", name, &known);
                    return None;
                }
                _ => {
                    let options: Vec<String> = matches
                        .iter()
                        .map(|&i| format!("{}/{name}", zones[i as usize].0))
                        .collect();
                    ck.report(
                        at,
                        format!(
                            "zone `{name}` exists in several regions; write {}",
                            one_of(&options)
                        ),
                        None,
                    );
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

/// The index of a worker pool of `svc` by name (0, its main pool, when no name is given).
fn pool_index(ck: &mut Checker, svc: &crate::spec::Service, name: Option<&str>, at: &At) -> u32 {
    let Some(name) = name else { return 0 };
    match svc.pools.iter().position(|p| p.name == name) {
        Some(k) => k as u32 + 1,
        None => {
            let known: Vec<&str> = svc.pools.iter().map(|p| p.name.as_str()).collect();
            ck.unknown(at, &format!("pool of `{}`", svc.name), name, &known);
            0
        }
    }
}

/// The workloads' tiers, in order of first appearance.
fn tier_names(spec: &Scenario) -> Vec<String> {
    let mut tiers: Vec<String> = Vec::new();
    for t in spec.workload.iter().filter_map(|w| w.tier.as_ref()) {
        if !tiers.contains(t) {
            tiers.push(t.clone());
        }
    }
    tiers
}

fn build_services(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: Option<&[Host]>,
    tiers: &[String],
) -> Built {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let services_at = At::root().field("services");
    if spec.services.is_empty() {
        ck.report(
            &services_at,
            "the scenario needs at least one service".into(),
            None,
        );
    }
    // An autoscaled service has room for its `max`.
    let total_instances: u64 = spec
        .services
        .iter()
        .map(|s| {
            u64::from(
                s.autoscale
                    .as_ref()
                    .map_or(s.instances, |a| a.max.max(s.instances)),
            )
        })
        .sum();
    let one_too_many = spec
        .services
        .iter()
        .any(|s| u64::from(s.instances) > INSTANCES_MAX);
    if total_instances > INSTANCES_MAX && !one_too_many {
        ck.report(
            &services_at,
            format!(
                "the services have {total_instances} instances together; Faultline simulates at most {INSTANCES_MAX}"
            ),
            None,
        );
    }
    let (mut services, mut instances, mut calls) = (Vec::new(), Vec::new(), Vec::new());
    let mut graph = DiGraph::<u32, ()>::new();
    let nodes: Vec<_> = (0..spec.services.len() as u32)
        .map(|i| graph.add_node(i))
        .collect();
    // Where each call edge is written, to point at the call that closes a cycle.
    let mut edge_at: Vec<(usize, usize, At)> = Vec::new();
    for (si, svc) in spec.services.iter().enumerate() {
        let at = services_at.named(si, &svc.name);
        if svc.name.trim().is_empty() {
            ck.report(&at.field("name"), "a service needs a name".into(), None);
        }
        if let Some(first) = names[..si].iter().position(|&n| n == svc.name) {
            let first_at = ck.position(&services_at.index(first));
            ck.report(
                &services_at.index(si).field("name"),
                format!(
                    "service `{}` is defined twice{}",
                    svc.name,
                    first_mention(first_at)
                ),
                None,
            );
        }
        if u64::from(svc.instances) > INSTANCES_MAX {
            ck.report(
                &at.field("instances"),
                format!(
                    "`{}` instances are more than Faultline simulates (at most {INSTANCES_MAX})",
                    svc.instances
                ),
                None,
            );
        }
        if svc.instances == 0 {
            ck.report(
                &at.field("instances"),
                "a service needs at least one instance".into(),
                None,
            );
        }
        if svc.workers == 0 {
            ck.report(
                &at.field("workers"),
                "an instance needs at least one worker".into(),
                None,
            );
        }
        let queue_cap = match svc.queue {
            QueueCap::Bounded(0) => {
                ck.report(
                    &at.field("queue"),
                    "a queue of `0` leaves no waiting room; write `\"none\"` if a loss system is what you mean, else a length of at least 1 or `\"unbounded\"`".into(),
                    None,
                );
                0
            }
            QueueCap::Bounded(n) => n,
            QueueCap::NoQueue => 0,
            QueueCap::Unbounded => u32::MAX,
        };
        let work = ck.dist(&at.field("work"), &svc.work);
        let mut steps = Vec::new();
        let calls_at = at.field("calls");
        for (k, step) in svc.calls.iter().enumerate() {
            let start = calls.len() as u32;
            let step_at = calls_at.index(k);
            let targets: Vec<(&Step, At)> = match step {
                Step::Call { .. } => vec![(step, step_at.clone())],
                Step::Parallel(inner) => {
                    if inner.len() > 64 {
                        ck.report(
                            &step_at,
                            format!(
                                "a `Parallel` step holds at most 64 calls, not {}",
                                inner.len()
                            ),
                            None,
                        );
                    }
                    if inner.is_empty() {
                        ck.report(
                            &step_at,
                            "a `Parallel` step needs at least one call".into(),
                            None,
                        );
                    }
                    let mut targets = Vec::new();
                    for (j, s) in inner.iter().enumerate() {
                        match s {
                            Step::Call { .. } => targets.push((s, step_at.index(j))),
                            Step::Parallel(_) => ck.report(
                                &step_at.index(j),
                                "a `Parallel` step holds `Call`s only, not another `Parallel`"
                                    .into(),
                                None,
                            ),
                        }
                    }
                    targets
                }
            };
            for (call, call_at) in targets {
                let Step::Call { to, pool, op, .. } = call else {
                    continue;
                };
                let to_at = call_at.field("to");
                let policy = match CallPolicy::new(call) {
                    Ok(policy) => policy,
                    Err(problems) => {
                        for (field, message) in problems {
                            let field_at =
                                field.split('.').fold(call_at.clone(), |a, f| a.field(f));
                            ck.report(&field_at, message, None);
                        }
                        CallPolicy::default()
                    }
                };
                match names.iter().position(|n| n == to) {
                    Some(ti) if ti == si => {
                        ck.report(&to_at, format!("service `{to}` calls itself"), None)
                    }
                    Some(ti) => {
                        graph.update_edge(nodes[si], nodes[ti], ());
                        edge_at.push((si, ti, to_at));
                        let pool = pool_index(
                            ck,
                            &spec.services[ti],
                            pool.as_deref(),
                            &call_at.field("pool"),
                        );
                        let is_store = spec.services[ti].datastore.is_some();
                        if *op == crate::spec::Op::Write && !is_store {
                            ck.report(
                                &call_at.field("op"),
                                format!("`{to}` is not a datastore; only a datastore takes writes (give it `datastore: (...)`)"),
                                None,
                            );
                        }
                        calls.push(CallDef {
                            from: si as u32,
                            to: ti as u32,
                            write: *op == crate::spec::Op::Write,
                            pool,
                            policy,
                        });
                    }
                    None => ck.unknown(&to_at, "service", to, &names),
                }
            }
            let len = calls.len() as u32 - start;
            if len > 0 {
                steps.push((start, len));
            }
        }
        let first_instance = instances.len() as u32;
        let placement_at = at.field("placement");
        let eligible =
            hosts.and_then(|hosts| placement_hosts(ck, spec, hosts, &placement_at, &svc.placement));
        if let Some(eligible) = eligible.as_ref() {
            if eligible.is_empty() {
                ck.report(
                    &placement_at,
                    "the placement leaves no host to run on".into(),
                    None,
                );
            } else if total_instances <= INSTANCES_MAX {
                // An autoscaled service has room for `max` instances; those beyond `instances`
                // start inactive.
                let n = svc
                    .autoscale
                    .as_ref()
                    .map_or(svc.instances, |a| a.max.max(svc.instances));
                for i in 0..n as usize {
                    instances.push(InstanceDef {
                        service_idx: si as u32,
                        host_idx: eligible[i % eligible.len()],
                    });
                }
            }
        }
        let pools = svc
            .pools
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let p_at = at.field("pools").index(k);
                if p.workers == 0 {
                    ck.report(
                        &p_at.field("workers"),
                        "a pool needs at least one worker".into(),
                        None,
                    );
                }
                if svc.pools[..k].iter().any(|o| o.name == p.name) {
                    ck.report(
                        &p_at.field("name"),
                        format!("pool `{}` is defined twice", p.name),
                        None,
                    );
                }
                PoolDef {
                    name: p.name.clone(),
                    workers: p.workers,
                    queue_cap: match p.queue {
                        QueueCap::Bounded(n) => n,
                        QueueCap::NoQueue => 0,
                        QueueCap::Unbounded => u32::MAX,
                    },
                    work: match &p.work {
                        Some(d) => ck.dist(&p_at.field("work"), d),
                        None => work.clone(),
                    },
                }
            })
            .collect();
        let eligible_hosts = eligible.clone().unwrap_or_default();
        let recovery = ops::build_recovery(ck, svc, &at);
        let store = svc
            .datastore
            .as_ref()
            .map(|d| ops::build_store(ck, svc, d, &at, &work));
        services.push(ServiceDef {
            recovery,
            store,
            multi_region: false,
            hosts: eligible_hosts,
            name: svc.name.clone(),
            first_instance,
            n_instances: instances.len() as u32 - first_instance,
            workers: svc.workers,
            queue_cap,
            work,
            pools,
            steps,
            balancer: svc.balancer,
            honor_deadlines: svc.honor_deadlines,
            tier_groups: {
                let mut groups = vec![None; tiers.len()];
                let mut offset = 0u32;
                for (name, count) in &svc.tier_groups {
                    let g_at = at.field("tier_groups").field(name);
                    if *count == 0 {
                        ck.report(&g_at, "a tier group needs at least one instance".into(), None);
                    }
                    match tiers.iter().position(|t| t == name) {
                        Some(t) => groups[t] = Some((offset, *count)),
                        None => {
                            let known: Vec<&str> = tiers.iter().map(String::as_str).collect();
                            ck.unknown(&g_at, "tier (no workload has it)", name, &known);
                        }
                    }
                    offset = offset.saturating_add(*count);
                }
                if offset >= svc.instances && !svc.tier_groups.is_empty() {
                    ck.report(
                        &at.field("tier_groups"),
                        format!("the tier groups take {offset} of the {} instances; leave at least one for the other requests", svc.instances),
                        None,
                    );
                }
                groups
            },
            other_group: {
                let grouped: u32 = svc.tier_groups.values().fold(0u32, |a, b| a.saturating_add(*b));
                (grouped.min(svc.instances), svc.instances.saturating_sub(grouped).max(1).min(svc.instances.max(1)))
            },
            concurrency: svc.concurrency_limit.as_ref().map(|c| {
                let crate::spec::ConcurrencyLimitSpec::Aimd { initial, min, max, decrease, latency_over } = c;
                if !(*min >= 1 && min <= initial && initial <= max && *decrease > 0.0 && *decrease < 1.0) {
                    ck.report(
                        &at.field("concurrency_limit"),
                        "an AIMD limit needs 1 <= `min` <= `initial` <= `max` and `decrease` between 0 and 1".into(),
                        None,
                    );
                }
                crate::policy::AimdLimit::new(*initial, *min, *max, *decrease, latency_over.0.as_ns())
            }),
            rate_limit: svc.rate_limit.as_ref().map(|rl| {
                let rl_at = at.field("rate_limit");
                let bucket = |ck: &mut Checker, b: &crate::spec::TokenBucket, b_at: At| {
                    if !(b.rate_per_s > 0.0 && b.rate_per_s.is_finite()) {
                        ck.report(&b_at.field("rate_per_s"), format!("a token bucket needs a rate above zero, not `{}`", b.rate_per_s), None);
                    }
                    if b.burst == 0 {
                        ck.report(&b_at.field("burst"), "a token bucket needs a burst of at least 1".into(), None);
                    }
                    (b.rate_per_s, b.burst)
                };
                let global = rl.global.as_ref().map(|b| bucket(ck, b, rl_at.field("global")));
                let per_client = rl.per_client.as_ref().map(|b| bucket(ck, b, rl_at.field("per_client")));
                let mut per_tier = vec![None; tiers.len()];
                for (name, b) in &rl.per_tier {
                    let limits = bucket(ck, b, rl_at.field("per_tier").field(name));
                    match tiers.iter().position(|t| t == name) {
                        Some(t) => per_tier[t] = Some(limits),
                        None => {
                            let known: Vec<&str> = tiers.iter().map(String::as_str).collect();
                            ck.unknown(&rl_at.field("per_tier").field(name), "tier (no workload has it)", name, &known);
                        }
                    }
                }
                RateLimitDef { global, per_client, per_tier }
            }),
            shed: svc.shed.as_ref().map(|shed| {
                if shed.lifo_over == Some(0) {
                    ck.report(&at.field("shed").field("lifo_over"), "`lifo_over` of 0 would serve every queue newest-first; give it a length of at least 1".into(), None);
                }
                ShedPolicy { max_wait_ns: shed.max_wait.map(|d| d.0.as_ns()), lifo_over: shed.lifo_over }
            }),
        });
    }
    // An autoscaled service balances over every instance it may have (inactive ones are skipped).
    for (svc, def) in spec.services.iter().zip(services.iter_mut()) {
        if svc.autoscale.is_some() {
            def.other_group = (0, def.n_instances);
        }
    }
    for scc in petgraph::algo::tarjan_scc(&graph) {
        if scc.len() > 1 {
            report_cycle(ck, &graph, &scc, &names, &edge_at);
        }
    }
    (services, instances, calls)
}

/// Reports a cycle in the call graph as the path a request would take round it, at the call that
/// leaves its first service.
fn report_cycle(
    ck: &mut Checker,
    graph: &DiGraph<u32, ()>,
    scc: &[petgraph::graph::NodeIndex],
    names: &[&str],
    edge_at: &[(usize, usize, At)],
) {
    let in_scc = |n: u32| scc.iter().any(|&m| graph[m] == n);
    let start = scc.iter().map(|&n| graph[n]).min().unwrap_or(0);
    // Breadth-first from `start` back to itself, through the cycle's members, following calls
    // in the order they are written.
    let mut came_from: Vec<Option<u32>> = vec![None; names.len()];
    let mut queue = std::collections::VecDeque::from([start]);
    let mut last = None;
    'search: while let Some(n) = queue.pop_front() {
        for &(from, to, _) in edge_at {
            let (from, to) = (from as u32, to as u32);
            if from != n || !in_scc(to) {
                continue;
            }
            if to == start {
                last = Some(n);
                break 'search;
            }
            if came_from[to as usize].is_none() {
                came_from[to as usize] = Some(n);
                queue.push_back(to);
            }
        }
    }
    let mut path = vec![start];
    let mut n = last.unwrap_or(start);
    while n != start {
        path.push(n);
        n = came_from[n as usize].unwrap_or(start);
    }
    path[1..].reverse();
    path.push(start);
    let second = path.get(1).copied().unwrap_or(start);
    let Some((_, _, at)) = edge_at
        .iter()
        .find(|(f, t, _)| *f as u32 == start && *t as u32 == second)
    else {
        return;
    };
    let mut text = format!(
        "`{}` calls `{}`",
        names[path[0] as usize], names[path[1] as usize]
    );
    for &n in &path[2..] {
        text.push_str(&format!(", which calls `{}`", names[n as usize]));
    }
    ck.report(
        at,
        format!("the calls go round in a cycle: {text}; a request would never finish"),
        None,
    );
}

fn build_workloads(ck: &mut Checker, spec: &Scenario) -> Vec<WorkloadDef> {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let workload_at = At::root().field("workload");
    if spec.workload.is_empty() {
        ck.report(
            &workload_at,
            "the scenario needs at least one workload".into(),
            None,
        );
    }
    let mut out = Vec::new();
    for (wi, w) in spec.workload.iter().enumerate() {
        let at = workload_at.index(wi);
        let entry = match names.iter().position(|n| *n == w.entry) {
            Some(i) => i as u32,
            None => {
                // With no services at all, that is the problem, already reported.
                if !names.is_empty() {
                    ck.unknown(&at.field("entry"), "service", &w.entry, &names);
                }
                0
            }
        };
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
        }
        let mut points = vec![(0u64, rate)];
        let mut current = rate;
        let mut last_end = SimDuration::ZERO;
        let schedule_at = at.field("schedule");
        for (k, change) in w.schedule.iter().enumerate() {
            let cat = schedule_at.index(k);
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
                    &cat,
                    format!(
                        "{what} at `{end}`, after the horizon (`{}`)",
                        spec.horizon.0
                    ),
                    None,
                );
            }
            points.push((start.as_ns(), current));
            points.push((end.as_ns(), to));
            current = to;
            last_end = end;
        }
        let pool = match spec.services.get(entry as usize) {
            Some(svc) => pool_index(
                ck,
                svc,
                w.pool.as_deref(),
                &workload_at.index(wi).field("pool"),
            ),
            None => 0,
        };
        let retry = w
            .retry
            .as_ref()
            .and_then(|r| match crate::policy::RetryPolicy::compile(r) {
                Ok(p) => Some(p),
                Err(problems) => {
                    for (field, message) in problems {
                        let field_at = field
                            .split('.')
                            .fold(workload_at.index(wi), |a, f| a.field(f));
                        ck.report(&field_at, message, None);
                    }
                    None
                }
            });
        let region = match &w.region {
            None => 0,
            Some(name) => match spec.topology.regions.iter().position(|r| &r.name == name) {
                Some(r) => r as u32,
                None => {
                    let known: Vec<&str> = spec
                        .topology
                        .regions
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect();
                    ck.unknown(&at.field("region"), "region", name, &known);
                    0
                }
            },
        };
        if w.timeout.is_some_and(|t| t.0.is_zero()) {
            ck.report(
                &at.field("timeout"),
                "a client timeout must be longer than zero".into(),
                None,
            );
        }
        if w.users == 0 || w.users > 1_000_000 {
            ck.report(
                &at.field("users"),
                format!("`users` is between 1 and 1,000,000, not `{}`", w.users),
                None,
            );
        }
        out.push(WorkloadDef {
            users: w.users.clamp(1, 1_000_000),
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
        });
    }
    out
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

    #[test]
    fn names_paths_like_the_file() {
        let at = At::root()
            .field("services")
            .named(2, "db")
            .field("calls")
            .index(0);
        assert_eq!(at.shown, "services.db.calls[0]");
        assert_eq!(
            at.segs,
            vec![
                Seg::Field("services".into()),
                Seg::Index(2),
                Seg::Field("calls".into()),
                Seg::Index(0)
            ]
        );
    }
}
