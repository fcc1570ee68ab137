//! Faults: what each does (to a service, its instances, hosts and places, links between places,
//! or calls), when, and for how long or how often. A fault's key (its kind and targets, not its
//! parameters) names its random streams, so that every variant of a scenario sees the same
//! faults at the same times.

use super::check::{At, Checker};
use super::hosts::{place_hosts, places};
use crate::spec::{DistSpec, Dur, FaultKind, FaultSpec, Scenario};
use crate::world::{CallDef, FaultDef, FaultEffect, Host, LinkDef};

/// What compiling a fault needs to know of the rest of the world.
struct Context<'x> {
    spec: &'x Scenario,
    hosts: &'x [Host],
    /// `(first instance, n)` of each service.
    services: &'x [(u32, u32)],
    calls: &'x [CallDef],
    names: Vec<&'x str>,
    network: &'x crate::network::Network,
}

/// Compiles `faults`. `services` gives each service's instances as `(first, n)`.
pub(super) fn build_faults(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: &[Host],
    services: &[(u32, u32)],
    calls: &[CallDef],
    network: &crate::network::Network,
) -> Vec<FaultDef> {
    let cx = Context {
        spec,
        hosts,
        services,
        calls,
        network,
        names: spec.services.iter().map(|s| s.name.as_str()).collect(),
    };
    let faults: Vec<FaultDef> = (0..spec.faults.len())
        .map(|i| build_fault(ck, &cx, i))
        .collect();
    check_fault_names(ck, spec);
    faults
}

/// A fault's name is said in reports in place of its label: it must say something, and say it
/// of one fault only.
fn check_fault_names(ck: &mut Checker, spec: &Scenario) {
    for (i, f) in spec.faults.iter().enumerate() {
        let Some(name) = &f.name else { continue };
        let at = At::root().field("faults").index(i).field("name");
        if name.trim().is_empty() {
            ck.report(&at, "a fault's name must not be empty; leave `name` out for a label made from what it does".into(), None);
        } else if name.contains(" (") {
            ck.report(&at, format!("a fault's name must not hold ` (`, which reports put before the instance a fault hit (`crash db (db/1)`): `{name}`"), None);
        } else if spec.faults[..i]
            .iter()
            .any(|o| o.name.as_ref() == Some(name))
        {
            ck.report(
                &at,
                format!("two faults are named `{name}`; reports would not tell them apart"),
                None,
            );
        }
    }
}

/// Checks and compiles fault `i`.
fn build_fault(ck: &mut Checker, cx: &Context, i: usize) -> FaultDef {
    let f = &cx.spec.faults[i];
    let at = At::root().field("faults").index(i);
    let mut compiling = Compiling {
        ck: &mut *ck,
        cx,
        w: at.field("what"),
        def: FaultDef {
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
            net_links: Vec::new(),
            stochastic: None,
            per_instance: false,
        },
    };
    compiling.what(&f.what);
    let mut def = compiling.def;
    if let Some(name) = &f.name {
        def.label = name.clone();
    }
    def.key = fault_key(&f.what, &def);
    stochastic(ck, &at, f, &mut def);
    ck.starts_in_time(&at, "the fault", f.at, cx.spec);
    if f.lasts.is_some_and(|d| d.0.is_zero()) {
        ck.report(
            &at.field("lasts"),
            "a fault must last longer than zero".into(),
            None,
        );
    }
    def
}

/// The kind of a fault without its parameters, and its targets: what names its random streams.
fn fault_key(what: &FaultKind, def: &FaultDef) -> String {
    let kind = what.stream_name();
    let span = |v: &[u32]| match (v.first(), v.last()) {
        (Some(a), Some(b)) => format!("{a}-{b}x{}", v.len()),
        _ => "-".to_string(),
    };
    let link = def.link.as_ref().map_or("-".to_string(), |l| {
        format!("{}>{}{}", span(&l.a), span(&l.b), l.one_way)
    });
    format!(
        "{kind} s{} i{} h{} e{} l{link}",
        def.service,
        span(&def.instances),
        span(&def.hosts),
        span(&def.edges)
    )
}

/// A fault that comes and goes at random: `mtbf` and `mttr` both, no `lasts`, and not a fault
/// that is random already.
fn stochastic(ck: &mut Checker, at: &At, f: &FaultSpec, def: &mut FaultDef) {
    let both = "a stochastic fault needs both `mtbf` and `mttr`";
    match (&f.mtbf, &f.mttr) {
        (Some(mtbf), Some(mttr)) => {
            if matches!(
                def.effect,
                FaultEffect::ChaosMonkey(_) | FaultEffect::Pauses(..)
            ) {
                ck.report(
                    &at.field("mtbf"),
                    "a chaos monkey or pauses are random already; drop `mtbf` and `mttr`".into(),
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
        (Some(_), None) => ck.report(&at.field("mttr"), both.into(), None),
        (None, Some(_)) => ck.report(&at.field("mtbf"), both.into(), None),
    }
}

/// One fault being compiled: where its `what` is written, and its definition so far.
struct Compiling<'r, 'c, 'x> {
    ck: &'r mut Checker<'c>,
    cx: &'r Context<'x>,
    w: At,
    def: FaultDef,
}

impl Compiling<'_, '_, '_> {
    /// Compiles what the fault does: its effect, its targets and its label.
    fn what(&mut self, what: &FaultKind) {
        match what {
            FaultKind::Slowdown {
                service,
                factor,
                instance,
            } => self.slowdown(service, *factor, *instance),
            FaultKind::Errors { service, rate } => self.errors(service, *rate),
            FaultKind::Outage { service } => {
                self.def.service = self.service(service).unwrap_or(u32::MAX);
                self.def.label = format!("{service} down");
                self.def.effect = FaultEffect::Outage;
            }
            FaultKind::Crash { service, instance } => self.crash(service, *instance, true),
            FaultKind::Hang { service, instance } => self.crash(service, *instance, false),
            FaultKind::Leak {
                service,
                per_min,
                instance,
            } => self.leak(service, *per_min, *instance),
            FaultKind::Pauses {
                service,
                every,
                pause,
            } => self.pauses(service, every, pause),
            FaultKind::HostCrash { host } => self.host_down(host, false),
            FaultKind::DiskFailure { host } => self.host_down(host, true),
            FaultKind::SlowDisk { host, factor } => self.slow_disk(host, *factor),
            FaultKind::CorruptDisk { host, rate } => self.corrupt_disk(host, *rate),
            FaultKind::RackPower { rack } => self.place_down("rack", rack, "power lost"),
            FaultKind::ZoneOutage { zone } => self.place_down("zone", zone, "down"),
            FaultKind::RegionOutage { region } => self.place_down("region", region, "down"),
            FaultKind::Partition {
                between,
                and,
                one_way,
            } => self.partition(between, and, *one_way),
            FaultKind::NetworkDelay { between, and, add } => self.delay(between, and, *add),
            FaultKind::PacketLoss { between, and, rate } => self.loss(between, and, *rate),
            FaultKind::Corrupt {
                service,
                rate,
                detected,
            } => self.corrupt(service, *rate, *detected),
            FaultKind::FailFast { service, why } => {
                self.def.service = self.service(service).unwrap_or(u32::MAX);
                self.def.label = format!("{service} unreachable: {why}");
                self.def.effect = FaultEffect::FailFast;
            }
            FaultKind::ChaosMonkey {
                services,
                mean_between,
            } => self.chaos_monkey(services, *mean_between),
            FaultKind::FeatureOff { from, to } => self.feature_off(from, to),
            FaultKind::LinkDegraded { link, share } => self.link_degraded(link, *share),
            FaultKind::Congestion { link, rate } => self.congestion(link, *rate),
        }
    }

    /// A link keeps a share of its bandwidth.
    fn link_degraded(&mut self, link: &crate::spec::LinkRef, share: f64) {
        if !(share > 0.0 && share <= 1.0) {
            self.ck.report(
                &self.w.field("share"),
                format!("a degraded link keeps a share of its bandwidth above 0 and at most 1, not `{share}`"),
                None,
            );
        }
        let at = self.w.field("link");
        self.def.net_links = super::network::link_ids(self.ck, self.cx.network, &at, link);
        self.def.label = format!("{} at {:.0}%", link_label(link), share * 100.0);
        self.def.effect = FaultEffect::LinkDegraded(share.clamp(1e-9, 1.0));
    }

    /// Background traffic on a link.
    fn congestion(&mut self, link: &crate::spec::LinkRef, rate: crate::spec::Rate) {
        let at = self.w.field("link");
        self.def.net_links = super::network::link_ids(self.ck, self.cx.network, &at, link);
        self.def.label = format!("{} congested", link_label(link));
        self.def.effect = FaultEffect::Congestion(rate.per_ns());
    }

    /// The index of the service `name`, or `None` after reporting an unknown one.
    fn service(&mut self, name: &str) -> Option<u32> {
        match self.cx.names.iter().position(|n| *n == name) {
            Some(s) => Some(s as u32),
            None => {
                let at = self.w.field("service");
                self.ck.unknown(&at, "service", name, &self.cx.names);
                None
            }
        }
    }

    /// Targets instance `instance` of service `s`, or all its instances.
    fn instances_of(&mut self, s: u32, instance: Option<u32>) {
        let (first, n) = self.cx.services.get(s as usize).copied().unwrap_or((0, 0));
        self.def.service = s;
        match instance {
            Some(k) if k >= n => self.ck.report(
                &self.w.field("instance"),
                format!(
                    "`{}` has {n} instances (0 to {}), so there is no instance {k}",
                    self.cx.names[s as usize],
                    n.saturating_sub(1)
                ),
                None,
            ),
            Some(k) => self.def.instances = vec![first + k],
            None => self.def.instances = (first..first + n).collect(),
        }
    }

    /// The hosts of the place `name`, written in the field `field`.
    fn host_set(&mut self, field: &str, name: &str) -> Vec<u32> {
        let at = self.w.field(field);
        place_hosts(self.ck, self.cx.spec, self.cx.hosts, &at, name).unwrap_or_default()
    }

    /// The hosts on the two sides of a link, `between` and `and`.
    fn sides(&mut self, between: &[String], and: &[String]) -> (Vec<u32>, Vec<u32>) {
        let (spec, hosts) = (self.cx.spec, self.cx.hosts);
        let a = places(self.ck, spec, hosts, &self.w.field("between"), between);
        let b = places(self.ck, spec, hosts, &self.w.field("and"), and);
        (a, b)
    }

    fn slowdown(&mut self, name: &str, k: f64, instance: Option<u32>) {
        self.ck.factor(&self.w.field("factor"), k);
        if let Some(s) = self.service(name) {
            self.def.service = s;
            match instance {
                Some(_) => {
                    self.instances_of(s, instance);
                    self.def.label = format!("{name}/{} {k}x slower", instance.unwrap_or(0));
                }
                None => self.def.label = format!("{name} {k}x slower"),
            }
        }
        self.def.effect = FaultEffect::Slowdown(k);
    }

    fn errors(&mut self, name: &str, r: f64) {
        self.ck.fraction(&self.w.field("rate"), "an error rate", r);
        self.def.service = self.service(name).unwrap_or(u32::MAX);
        self.def.label = format!("{name} errors {:.0}%", r * 100.0);
        self.def.effect = FaultEffect::Errors(r);
    }

    /// A crash (`crash`) or a hang of one instance or all.
    fn crash(&mut self, name: &str, instance: Option<u32>, crash: bool) {
        if let Some(s) = self.service(name) {
            self.instances_of(s, instance);
        }
        let which = instance.map_or(String::new(), |k| format!("/{k}"));
        self.def.label = format!("{} {name}{which}", if crash { "crash" } else { "hang" });
        self.def.effect = if crash {
            FaultEffect::Crash
        } else {
            FaultEffect::Hang
        };
        self.def.per_instance = true;
    }

    fn leak(&mut self, name: &str, per_min: f64, instance: Option<u32>) {
        if !(per_min >= 0.0 && per_min.is_finite()) {
            self.ck.report(
                &self.w.field("per_min"),
                format!("a leak's growth per minute must be zero or more, not `{per_min}`"),
                None,
            );
        }
        if let Some(s) = self.service(name) {
            self.instances_of(s, instance);
        }
        self.def.label = format!("leak {name} +{:.0}%/min", per_min * 100.0);
        self.def.effect = FaultEffect::Leak(per_min);
        self.def.per_instance = true;
    }

    fn pauses(&mut self, name: &str, every: &DistSpec, pause: &DistSpec) {
        if let Some(s) = self.service(name) {
            self.instances_of(s, None);
        }
        let every = self.ck.dist(&self.w.field("every"), every);
        let pause = self.ck.dist(&self.w.field("pause"), pause);
        self.def.label = format!("pauses {name}");
        self.def.effect = FaultEffect::Pauses(every, pause);
        self.def.per_instance = true;
    }

    /// A host that crashes, or (`disk`) loses its disk.
    fn host_down(&mut self, host: &str, disk: bool) {
        self.def.hosts = self.host_set("host", host);
        self.def.label = format!("{} {host}", if disk { "disk lost" } else { "host down" });
        self.def.effect = if disk {
            FaultEffect::DiskLost
        } else {
            FaultEffect::HostDown
        };
    }

    fn slow_disk(&mut self, host: &str, k: f64) {
        self.ck.factor(&self.w.field("factor"), k);
        self.def.hosts = self.host_set("host", host);
        self.def.label = format!("disk {host} {k}x slower");
        self.def.effect = FaultEffect::SlowDisk(k);
    }

    fn corrupt_disk(&mut self, host: &str, r: f64) {
        self.ck
            .fraction(&self.w.field("rate"), "a corruption rate", r);
        self.def.hosts = self.host_set("host", host);
        self.def.label = format!("disk {host} corrupts {:.0}%", r * 100.0);
        self.def.effect = FaultEffect::CorruptDisk(r);
    }

    /// Every host of a rack, zone or region (`field`) down; `what` says how in the label.
    fn place_down(&mut self, field: &str, name: &str, what: &str) {
        self.def.hosts = self.host_set(field, name);
        self.def.label = format!("{field} {name} {what}");
        self.def.effect = FaultEffect::HostDown;
    }

    fn partition(&mut self, between: &[String], and: &[String], one_way: bool) {
        let (a, b) = self.sides(between, and);
        if a.iter().any(|h| b.binary_search(h).is_ok()) {
            self.ck.report(
                &self.w.field("and"),
                "the two sides of a partition overlap".into(),
                None,
            );
        }
        let arrow = if one_way { "->" } else { "<->" };
        self.def.label = format!("partition {} {arrow} {}", between.join(","), and.join(","));
        self.def.link = Some(LinkDef { a, b, one_way });
        self.def.effect = FaultEffect::Partition;
    }

    fn delay(&mut self, between: &[String], and: &[String], add: Dur) {
        let (a, b) = self.sides(between, and);
        self.def.label = format!(
            "+{} between {} and {}",
            add.0,
            between.join(","),
            and.join(",")
        );
        self.def.link = Some(LinkDef {
            a,
            b,
            one_way: false,
        });
        self.def.effect = FaultEffect::Delay(add.0.as_ns());
    }

    fn loss(&mut self, between: &[String], and: &[String], r: f64) {
        self.ck.fraction(&self.w.field("rate"), "a loss rate", r);
        let (a, b) = self.sides(between, and);
        self.def.label = format!(
            "{:.0}% loss between {} and {}",
            r * 100.0,
            between.join(","),
            and.join(",")
        );
        self.def.link = Some(LinkDef {
            a,
            b,
            one_way: false,
        });
        self.def.effect = FaultEffect::Loss(r);
    }

    fn corrupt(&mut self, name: &str, r: f64, detected: bool) {
        self.ck
            .fraction(&self.w.field("rate"), "a corruption rate", r);
        self.def.service = self.service(name).unwrap_or(u32::MAX);
        self.def.label = format!("{name} corrupts {:.0}%", r * 100.0);
        self.def.effect = FaultEffect::Corrupt(r, detected);
    }

    fn chaos_monkey(&mut self, targets: &[String], mean_between: Dur) {
        if targets.is_empty() {
            self.ck.report(
                &self.w.field("services"),
                "a chaos monkey needs at least one service".into(),
                None,
            );
        }
        for (k, name) in targets.iter().enumerate() {
            match self.cx.names.iter().position(|n| n == name) {
                Some(s) => {
                    let (first, n) = self.cx.services.get(s).copied().unwrap_or((0, 0));
                    self.def.instances.extend(first..first + n);
                }
                None => {
                    let at = self.w.field("services").index(k);
                    self.ck.unknown(&at, "service", name, &self.cx.names);
                }
            }
        }
        if mean_between.0.is_zero() {
            self.ck.report(
                &self.w.field("mean_between"),
                "a chaos monkey needs `mean_between` above zero".into(),
                None,
            );
        } else if mean_between.0 < super::recovery::INTERVAL_MIN {
            let msg = super::recovery::too_often(mean_between);
            self.ck.report(&self.w.field("mean_between"), msg, None);
        }
        self.def.label = format!("chaos monkey on {}", targets.join(","));
        self.def.effect = FaultEffect::ChaosMonkey(mean_between.0.as_ns().max(1));
    }

    /// A feature turned off: every call from `from` to `to` fails.
    fn feature_off(&mut self, from: &str, to: &str) {
        let names = &self.cx.names;
        let (fi, ti) = (
            names.iter().position(|n| *n == from),
            names.iter().position(|n| *n == to),
        );
        if fi.is_none() {
            self.ck
                .unknown(&self.w.field("from"), "service", from, names);
        }
        if ti.is_none() {
            self.ck.unknown(&self.w.field("to"), "service", to, names);
        }
        if let (Some(fi), Some(ti)) = (fi, ti) {
            let calls = self.cx.calls;
            self.def.edges = (0..calls.len() as u32)
                .filter(|&e| {
                    calls[e as usize].from == fi as u32 && calls[e as usize].to == ti as u32
                })
                .collect();
            if self.def.edges.is_empty() {
                self.ck
                    .report(&self.w, format!("`{from}` makes no call to `{to}`"), None);
            }
        }
        self.def.label = format!("feature off: {from} -> {to}");
        self.def.effect = FaultEffect::FeatureOff;
    }
}

/// A link as reports name it.
fn link_label(link: &crate::spec::LinkRef) -> String {
    use crate::spec::LinkRef;
    match link {
        LinkRef::Host(h) => format!("NIC {h}"),
        LinkRef::RackUplink(r) => format!("uplink {r}"),
        LinkRef::Zones(a, b) | LinkRef::Regions(a, b) => format!("link {a} <-> {b}"),
    }
}
