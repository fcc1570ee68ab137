//! Checks and compiles the operational parts of a scenario: faults (and the places and links
//! they name), recovery (health checks, outlier ejection, replacement, slow start), datastores,
//! alerts and deployments.

use super::{At, Checker};
use crate::spec::{AlertRule, DatastoreSpec, FaultKind, Replication, Scenario, Service};
use crate::world::{
    AlertDef, AlertKind, CallDef, DeployDef, FaultDef, FaultEffect, Host, LinkDef, RecoveryDef,
    StoreDef,
};

/// The hosts a place name stands for: a region, a zone (`a` or `eu-west/a`), a rack
/// (`eu-west/a/r0`) or a host (`eu-west/a/r0/h3`); `None` after reporting an unknown name.
fn place_hosts(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    name: &str,
) -> Option<Vec<u32>> {
    let regions = &spec.topology.regions;
    if let Some(r) = regions.iter().position(|r| r.name == name) {
        return Some(
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].region_idx == r as u32)
                .collect(),
        );
    }
    // Zones: `zone` alone when unique, or `region/zone`.
    let mut zone_idx = 0u32;
    let mut zone_matches = Vec::new();
    let mut known: Vec<String> = regions.iter().map(|r| r.name.clone()).collect();
    for r in regions {
        for z in &r.zones {
            let full = format!("{}/{}", r.name, z.name);
            if z.name == name || full == name {
                zone_matches.push(zone_idx);
            }
            known.push(full);
            zone_idx += 1;
        }
    }
    if zone_matches.len() == 1 {
        let z = zone_matches[0];
        return Some(
            (0..hosts.len() as u32)
                .filter(|&h| hosts[h as usize].zone_idx == z)
                .collect(),
        );
    }
    if zone_matches.len() > 1 {
        ck.report(
            at,
            format!("zone `{name}` exists in several regions; write it as `region/{name}`"),
            None,
        );
        return None;
    }
    // Racks and hosts by their full names.
    let rack_hosts: Vec<u32> = (0..hosts.len() as u32)
        .filter(|&h| {
            let n = &hosts[h as usize].name;
            n.rsplit_once('/').is_some_and(|(rack, _)| rack == name)
        })
        .collect();
    if !rack_hosts.is_empty() {
        return Some(rack_hosts);
    }
    if let Some(h) = hosts.iter().position(|h| h.name == name) {
        return Some(vec![h as u32]);
    }
    let host_names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let mut all: Vec<&str> = known.iter().map(String::as_str).collect();
    all.extend(host_names);
    let suggestion = crate::error::closest(name, all.iter().copied());
    ck.report(
        at,
        format!("unknown place `{name}`; name a region, a zone (`region/zone`), a rack (`region/zone/r0`) or a host (`region/zone/r0/h0`)"),
        suggestion,
    );
    None
}

fn places(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    at: &At,
    names: &[String],
) -> Vec<u32> {
    if names.is_empty() {
        ck.report(at, "name at least one place".into(), None);
    }
    let mut out: Vec<u32> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| place_hosts(ck, spec, hosts, &at.index(i), n))
        .flatten()
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Reports `at.at` when it is not before the horizon.
fn starts_in_time(ck: &mut Checker, at: &At, what: &str, start: crate::spec::Dur, spec: &Scenario) {
    if start >= spec.horizon {
        ck.report(
            &at.field("at"),
            format!(
                "{what} starts at {}, after the horizon ({})",
                start.0, spec.horizon.0
            ),
            None,
        );
    }
}

fn rate(ck: &mut Checker, at: &At, what: &str, r: f64) {
    if !(0.0..=1.0).contains(&r) {
        ck.report(
            at,
            format!("{what} is a fraction between 0 and 1, not `{r}`"),
            None,
        );
    }
}

fn factor(ck: &mut Checker, at: &At, f: f64) {
    if !(f > 0.0 && f.is_finite()) {
        ck.report(at, format!("a factor must be above zero, not `{f}`"), None);
    }
}

/// Compiles `faults`. Instances are `(service, first, n)` per service, hosts of instances in
/// `instance_hosts`.
pub(super) fn build_faults(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    services: &[(u32, u32)],
    instance_hosts: &[u32],
    calls: &[CallDef],
) -> Vec<FaultDef> {
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let mut out = Vec::new();
    for (i, f) in spec.faults.iter().enumerate() {
        let at = At::root().field("faults").index(i);
        let w = at.field("what");
        let mut def = FaultDef {
            label: String::new(),
            key: String::new(),
            start_ns: f.at.0.as_ns(),
            end_ns: f
                .lasts
                .map_or(u64::MAX, |d| f.at.0.as_ns().saturating_add(d.0.as_ns())),
            effect: FaultEffect::Outage,
            service: u32::MAX,
            instances: Vec::new(),
            hosts: Vec::new(),
            edges: Vec::new(),
            link: None,
            stochastic: None,
            per_instance: false,
        };
        let service = |ck: &mut Checker, name: &str| -> Option<u32> {
            match names.iter().position(|n| *n == name) {
                Some(s) => Some(s as u32),
                None => {
                    ck.unknown(&w.field("service"), "service", name, &names);
                    None
                }
            }
        };
        let instances_of = |ck: &mut Checker, s: u32, instance: Option<u32>, def: &mut FaultDef| {
            let (first, n) = services.get(s as usize).copied().unwrap_or((0, 0));
            def.service = s;
            match instance {
                Some(k) if k >= n => ck.report(
                    &w.field("instance"),
                    format!(
                        "`{}` has {n} instances (0 to {}), so there is no instance {k}",
                        names[s as usize],
                        n.saturating_sub(1)
                    ),
                    None,
                ),
                Some(k) => def.instances = vec![first + k],
                None => def.instances = (first..first + n).collect(),
            }
        };
        let host_set = |ck: &mut Checker, field: &str, name: &str| -> Vec<u32> {
            place_hosts(ck, spec, hosts, &w.field(field), name).unwrap_or_default()
        };
        match &f.what {
            FaultKind::Slowdown {
                service: name,
                factor: k,
                instance,
            } => {
                factor(ck, &w.field("factor"), *k);
                if let Some(s) = service(ck, name) {
                    def.service = s;
                    match instance {
                        Some(_) => {
                            instances_of(ck, s, *instance, &mut def);
                            def.label = format!("{name}/{} {k}x slower", instance.unwrap_or(0));
                        }
                        None => def.label = format!("{name} {k}x slower"),
                    }
                }
                def.effect = FaultEffect::Slowdown(*k);
            }
            FaultKind::Errors {
                service: name,
                rate: r,
            } => {
                rate(ck, &w.field("rate"), "an error rate", *r);
                def.service = service(ck, name).unwrap_or(u32::MAX);
                def.label = format!("{name} errors {:.0}%", r * 100.0);
                def.effect = FaultEffect::Errors(*r);
            }
            FaultKind::Outage { service: name } => {
                def.service = service(ck, name).unwrap_or(u32::MAX);
                def.label = format!("{name} down");
                def.effect = FaultEffect::Outage;
            }
            FaultKind::Crash {
                service: name,
                instance,
            }
            | FaultKind::Hang {
                service: name,
                instance,
            } => {
                let crash = matches!(f.what, FaultKind::Crash { .. });
                if let Some(s) = service(ck, name) {
                    instances_of(ck, s, *instance, &mut def);
                }
                let which = instance.map_or(String::new(), |k| format!("/{k}"));
                def.label = format!("{} {name}{which}", if crash { "crash" } else { "hang" });
                def.effect = if crash {
                    FaultEffect::Crash
                } else {
                    FaultEffect::Hang
                };
                def.per_instance = true;
            }
            FaultKind::Leak {
                service: name,
                per_min,
                instance,
            } => {
                if !(*per_min >= 0.0 && per_min.is_finite()) {
                    ck.report(
                        &w.field("per_min"),
                        format!("a leak's growth per minute must be zero or more, not `{per_min}`"),
                        None,
                    );
                }
                if let Some(s) = service(ck, name) {
                    instances_of(ck, s, *instance, &mut def);
                }
                def.label = format!("leak {name} +{:.0}%/min", per_min * 100.0);
                def.effect = FaultEffect::Leak(*per_min);
                def.per_instance = true;
            }
            FaultKind::Pauses {
                service: name,
                every,
                pause,
            } => {
                if let Some(s) = service(ck, name) {
                    instances_of(ck, s, None, &mut def);
                }
                let every = ck.dist(&w.field("every"), every);
                let pause = ck.dist(&w.field("pause"), pause);
                def.label = format!("pauses {name}");
                def.effect = FaultEffect::Pauses(every, pause);
                def.per_instance = true;
            }
            FaultKind::HostCrash { host } | FaultKind::DiskFailure { host } => {
                def.hosts = host_set(ck, "host", host);
                let disk = matches!(f.what, FaultKind::DiskFailure { .. });
                def.label = format!("{} {host}", if disk { "disk lost" } else { "host down" });
                def.effect = if disk {
                    FaultEffect::DiskLost
                } else {
                    FaultEffect::HostDown
                };
            }
            FaultKind::SlowDisk { host, factor: k } => {
                factor(ck, &w.field("factor"), *k);
                def.hosts = host_set(ck, "host", host);
                def.label = format!("disk {host} {k}x slower");
                def.effect = FaultEffect::SlowDisk(*k);
            }
            FaultKind::CorruptDisk { host, rate: r } => {
                rate(ck, &w.field("rate"), "a corruption rate", *r);
                def.hosts = host_set(ck, "host", host);
                def.label = format!("disk {host} corrupts {:.0}%", r * 100.0);
                def.effect = FaultEffect::CorruptDisk(*r);
            }
            FaultKind::RackPower { rack } => {
                def.hosts = host_set(ck, "rack", rack);
                def.label = format!("rack {rack} power lost");
                def.effect = FaultEffect::HostDown;
            }
            FaultKind::ZoneOutage { zone } => {
                def.hosts = host_set(ck, "zone", zone);
                def.label = format!("zone {zone} down");
                def.effect = FaultEffect::HostDown;
            }
            FaultKind::RegionOutage { region } => {
                def.hosts = host_set(ck, "region", region);
                def.label = format!("region {region} down");
                def.effect = FaultEffect::HostDown;
            }
            FaultKind::Partition {
                between,
                and,
                one_way,
            } => {
                let a = places(ck, spec, hosts, &w.field("between"), between);
                let b = places(ck, spec, hosts, &w.field("and"), and);
                if a.iter().any(|h| b.binary_search(h).is_ok()) {
                    ck.report(
                        &w.field("and"),
                        "the two sides of a partition overlap".into(),
                        None,
                    );
                }
                let arrow = if *one_way { "->" } else { "<->" };
                def.label = format!("partition {} {arrow} {}", between.join(","), and.join(","));
                def.link = Some(LinkDef {
                    a,
                    b,
                    one_way: *one_way,
                });
                def.effect = FaultEffect::Partition;
            }
            FaultKind::NetworkDelay { between, and, add } => {
                let a = places(ck, spec, hosts, &w.field("between"), between);
                let b = places(ck, spec, hosts, &w.field("and"), and);
                def.label = format!(
                    "+{} between {} and {}",
                    add.0,
                    between.join(","),
                    and.join(",")
                );
                def.link = Some(LinkDef {
                    a,
                    b,
                    one_way: false,
                });
                def.effect = FaultEffect::Delay(add.0.as_ns());
            }
            FaultKind::PacketLoss {
                between,
                and,
                rate: r,
            } => {
                rate(ck, &w.field("rate"), "a loss rate", *r);
                let a = places(ck, spec, hosts, &w.field("between"), between);
                let b = places(ck, spec, hosts, &w.field("and"), and);
                def.label = format!(
                    "{:.0}% loss between {} and {}",
                    r * 100.0,
                    between.join(","),
                    and.join(",")
                );
                def.link = Some(LinkDef {
                    a,
                    b,
                    one_way: false,
                });
                def.effect = FaultEffect::Loss(*r);
            }
            FaultKind::Corrupt {
                service: name,
                rate: r,
                detected,
            } => {
                rate(ck, &w.field("rate"), "a corruption rate", *r);
                def.service = service(ck, name).unwrap_or(u32::MAX);
                def.label = format!("{name} corrupts {:.0}%", r * 100.0);
                def.effect = FaultEffect::Corrupt(*r, *detected);
            }
            FaultKind::FailFast { service: name, why } => {
                def.service = service(ck, name).unwrap_or(u32::MAX);
                def.label = format!("{name} unreachable: {why}");
                def.effect = FaultEffect::FailFast;
            }
            FaultKind::ChaosMonkey {
                services: targets,
                mean_between,
            } => {
                if targets.is_empty() {
                    ck.report(
                        &w.field("services"),
                        "a chaos monkey needs at least one service".into(),
                        None,
                    );
                }
                for (k, name) in targets.iter().enumerate() {
                    match names.iter().position(|n| n == name) {
                        Some(s) => {
                            let (first, n) = services.get(s).copied().unwrap_or((0, 0));
                            def.instances.extend(first..first + n);
                        }
                        None => ck.unknown(&w.field("services").index(k), "service", name, &names),
                    }
                }
                if mean_between.0.is_zero() {
                    ck.report(
                        &w.field("mean_between"),
                        "a chaos monkey needs `mean_between` above zero".into(),
                        None,
                    );
                }
                def.label = format!("chaos monkey on {}", targets.join(","));
                def.effect = FaultEffect::ChaosMonkey(mean_between.0.as_ns().max(1));
            }
            FaultKind::FeatureOff { from, to } => {
                let (fi, ti) = (
                    names.iter().position(|n| n == from),
                    names.iter().position(|n| n == to),
                );
                if fi.is_none() {
                    ck.unknown(&w.field("from"), "service", from, &names);
                }
                if ti.is_none() {
                    ck.unknown(&w.field("to"), "service", to, &names);
                }
                if let (Some(fi), Some(ti)) = (fi, ti) {
                    def.edges = (0..calls.len() as u32)
                        .filter(|&e| {
                            calls[e as usize].from == fi as u32 && calls[e as usize].to == ti as u32
                        })
                        .collect();
                    if def.edges.is_empty() {
                        ck.report(&w, format!("`{from}` makes no call to `{to}`"), None);
                    }
                }
                def.label = format!("feature off: {from} -> {to}");
                def.effect = FaultEffect::FeatureOff;
            }
        }
        let _ = instance_hosts;
        // The kind without its parameters, and the targets.
        let kind = format!("{:?}", f.what);
        let kind = kind.split([' ', '(', '{']).next().unwrap_or_default();
        let span = |v: &[u32]| match (v.first(), v.last()) {
            (Some(a), Some(b)) => format!("{a}-{b}x{}", v.len()),
            _ => "-".to_string(),
        };
        let link = def.link.as_ref().map_or("-".to_string(), |l| {
            format!("{}>{}{}", span(&l.a), span(&l.b), l.one_way)
        });
        def.key = format!(
            "{kind} s{} i{} h{} e{} l{link}",
            def.service,
            span(&def.instances),
            span(&def.hosts),
            span(&def.edges)
        );
        match (&f.mtbf, &f.mttr) {
            (Some(mtbf), Some(mttr)) => {
                if matches!(
                    def.effect,
                    FaultEffect::ChaosMonkey(_) | FaultEffect::Pauses(..)
                ) {
                    ck.report(
                        &at.field("mtbf"),
                        "a chaos monkey or pauses are random already; drop `mtbf` and `mttr`"
                            .into(),
                        None,
                    );
                }
                if f.lasts.is_some() {
                    ck.report(
                        &at.field("lasts"),
                        "a stochastic fault lasts as long as `mttr` draws; drop `lasts`".into(),
                        None,
                    );
                }
                let mtbf = ck.dist(&at.field("mtbf"), mtbf);
                let mttr = ck.dist(&at.field("mttr"), mttr);
                def.stochastic = Some((mtbf, mttr));
            }
            (None, None) => def.per_instance &= matches!(def.effect, FaultEffect::Pauses(..)),
            (Some(_), None) => ck.report(
                &at.field("mttr"),
                "a stochastic fault needs both `mtbf` and `mttr`".into(),
                None,
            ),
            (None, Some(_)) => ck.report(
                &at.field("mtbf"),
                "a stochastic fault needs both `mtbf` and `mttr`".into(),
                None,
            ),
        }
        starts_in_time(ck, &at, "the fault", f.at, spec);
        if f.lasts.is_some_and(|d| d.0.is_zero()) {
            ck.report(
                &at.field("lasts"),
                "a fault must last longer than zero".into(),
                None,
            );
        }
        out.push(def);
    }
    out
}

/// Compiles a service's recovery settings.
pub(super) fn build_recovery(ck: &mut Checker, svc: &Service, at: &At) -> RecoveryDef {
    let mut def = RecoveryDef::default();
    if let Some(h) = &svc.health {
        let h_at = at.field("health");
        if h.interval.0.is_zero() {
            ck.report(
                &h_at.field("interval"),
                "health checks need an `interval` above zero".into(),
                None,
            );
        }
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
        def.health = Some((
            h.interval.0.as_ns().max(1),
            h.timeout.0.as_ns(),
            h.unhealthy_after.max(1),
            h.healthy_after.max(1),
            h.probe.0.as_ns(),
        ));
    }
    if let Some(o) = &svc.outlier {
        let o_at = at.field("outlier");
        if o.consecutive_5xx == 0 {
            ck.report(
                &o_at.field("consecutive_5xx"),
                "`consecutive_5xx` must be at least 1".into(),
                None,
            );
        }
        if o.interval.0.is_zero() {
            ck.report(
                &o_at.field("interval"),
                "`interval` must be above zero".into(),
                None,
            );
        }
        if o.max_ejection_percent > 100 {
            ck.report(
                &o_at.field("max_ejection_percent"),
                format!(
                    "`max_ejection_percent` is at most 100, not `{}`",
                    o.max_ejection_percent
                ),
                None,
            );
        }
        def.outlier = Some((
            o.consecutive_5xx.max(1),
            o.interval.0.as_ns().max(1),
            o.base_ejection_time.0.as_ns(),
            o.max_ejection_percent,
        ));
    }
    if let Some(r) = &svc.replace {
        if svc.health.is_none() {
            ck.report(
                &at.field("replace"),
                "replacement acts on the verdicts of health checks; add `health`".into(),
                None,
            );
        }
        factor(ck, &at.field("replace").field("cold_factor"), r.cold_factor);
        def.replace = Some((
            r.start_up.0.as_ns(),
            r.warm_up.map_or(0, |d| d.0.as_ns()),
            r.cold_factor,
        ));
    }
    if let Some(a) = &svc.autoscale {
        let a_at = at.field("autoscale");
        if !(a.min >= 1 && a.min <= svc.instances && svc.instances <= a.max) {
            ck.report(
                &a_at,
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
                &a_at,
                "a datastore or a service with tier groups cannot autoscale".into(),
                None,
            );
        }
        def.autoscale = Some((
            svc.instances,
            a.min.max(1),
            a.max.max(svc.instances),
            a.target_utilization,
            a.every.0.as_ns().max(1),
            a.delay.0.as_ns(),
        ));
    }
    def.sessions = svc.sessions.is_some();
    if let Some(crate::spec::SessionStore::Local { ttl }) = &svc.sessions {
        def.local_sessions_ttl_ns = Some(ttl.0.as_ns());
    }
    if let Some(s) = &svc.slow_start {
        if s.steps == 0 || s.over.0.is_zero() {
            ck.report(
                &at.field("slow_start"),
                "slow start needs `over` above zero and at least one step".into(),
                None,
            );
        }
        def.slow_start = Some((s.over.0.as_ns().max(1), s.steps.max(1)));
    }
    def
}

/// Compiles a datastore's settings.
pub(super) fn build_store(
    ck: &mut Checker,
    svc: &Service,
    d: &DatastoreSpec,
    at: &At,
    work: &crate::dist::Dist,
) -> StoreDef {
    let d_at = at.field("datastore");
    let acks_needed = match d.replication {
        Replication::Sync => svc.instances,
        Replication::Async => 1,
        Replication::Quorum(k) => {
            if k == 0 || k > svc.instances {
                ck.report(
                    &d_at.field("replication"),
                    format!(
                        "a quorum counts copies, the primary's included: between 1 and the {} instances, not `{k}`",
                        svc.instances
                    ),
                    None,
                );
            }
            k.clamp(1, svc.instances.max(1))
        }
    };
    if svc.instances < 2 && d.failover.is_some() {
        ck.report(
            &d_at.field("failover"),
            "failover needs a replica to promote: give the datastore at least 2 instances".into(),
            None,
        );
    }
    if !svc.calls.is_empty() {
        ck.report(
            &at.field("calls"),
            "a datastore makes no calls of its own; put them in a service in front of it".into(),
            None,
        );
    }
    if !svc.pools.is_empty() || !svc.tier_groups.is_empty() {
        ck.report(
            &d_at,
            "a datastore routes by role (primary, replica); it cannot also have `pools` or `tier_groups`".into(),
            None,
        );
    }
    StoreDef {
        acks_needed,
        sync: d.replication == Replication::Sync,
        lag: ck.dist(&d_at.field("lag"), &d.lag),
        write: match &d.write {
            Some(w) => ck.dist(&d_at.field("write"), w),
            None => work.clone(),
        },
        reads_from_replicas: d.reads == crate::spec::ReadFrom::Replicas,
        read_your_writes: d.read_your_writes,
        replication_timeout_ns: d.replication_timeout.0.as_ns().max(1),
        failover: d
            .failover
            .as_ref()
            .map(|f| (f.detect_after.0.as_ns(), f.promote_in.0.as_ns())),
    }
}

/// Compiles the alert rules.
pub(super) fn build_alerts(ck: &mut Checker, spec: &Scenario) -> Vec<AlertDef> {
    if !(spec.slo > 0.0 && spec.slo < 1.0) {
        ck.report(
            &At::root().field("slo"),
            format!(
                "an SLO is a fraction between 0 and 1 (0.99), not `{}`",
                spec.slo
            ),
            None,
        );
    }
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let res = spec.resolution.0.as_ns().max(1);
    let mut out = Vec::new();
    for (i, a) in spec.alerts.iter().enumerate() {
        let at = At::root().field("alerts").named(i, &a.name);
        if spec.alerts[..i].iter().any(|o| o.name == a.name) {
            ck.report(
                &at.field("name"),
                format!("alert `{}` is defined twice", a.name),
                None,
            );
        }
        let w = at.field("when");
        let (service, over, rule) = match &a.when {
            AlertRule::ErrorRate {
                service,
                above,
                over,
            } => {
                rate(ck, &w.field("above"), "an error rate", *above);
                (service, over, AlertKind::ErrorRate(*above))
            }
            AlertRule::LatencyP99 {
                service,
                above,
                over,
            } => (service, over, AlertKind::LatencyP99(above.0.as_ns())),
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
                factor(ck, &w.field("factor"), *k);
                (service, over, AlertKind::BurnRate(1.0 - slo, *k))
            }
        };
        let s = match names.iter().position(|n| n == service) {
            Some(s) => s as u32,
            None => {
                ck.unknown(&w.field("service"), "service", service, &names);
                continue;
            }
        };
        if over.0.is_zero() {
            ck.report(
                &w.field("over"),
                "an alert needs a window `over` above zero".into(),
                None,
            );
        }
        out.push(AlertDef {
            name: a.name.clone(),
            service: s,
            rule,
            buckets: over.0.as_ns().div_ceil(res).max(1) as u32,
            for_ns: a.for_.0.as_ns(),
        });
    }
    out
}

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
        rate(ck, &at.field("errors"), "an error rate", d.errors);
        factor(ck, &at.field("slowdown"), d.slowdown);
        let rollback_on = d.rollback_on.as_ref().and_then(|name| {
            let found = alerts.iter().position(|a| a == name);
            if found.is_none() {
                ck.unknown(&at.field("rollback_on"), "alert", name, &alerts);
            }
            found.map(|a| a as u32)
        });
        starts_in_time(ck, &at, "the rollout", d.at, spec);
        let n = services.get(s).map_or(1, |x| x.1);
        out.push(DeployDef {
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
