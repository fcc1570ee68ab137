//! Faults: what each does (to a service, its instances, hosts and places, links between places,
//! or calls), when, and for how long or how often. A fault's key (its kind and targets, not its
//! parameters) names its random streams, so that every variant of a scenario sees the same
//! faults at the same times.

use super::check::{At, Checker};
use super::hosts::{place_hosts, places};
use crate::spec::{DistSpec, Dur, Edge, FaultKind, FaultSpec, InstancePick, Scenario};
use crate::world::{CallDef, FaultDef, FaultEffect, Host, InstanceDef, LinkDef};

/// What compiling a fault needs to know of the rest of the world.
struct Context<'x> {
    spec: &'x Scenario,
    hosts: &'x [Host],
    /// `(first instance, n)` of each service.
    services: &'x [(u32, u32)],
    /// Every instance's service and host.
    instances: &'x [InstanceDef],
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
    instances: &[InstanceDef],
    calls: &[CallDef],
    network: &crate::network::Network,
) -> Vec<FaultDef> {
    let cx = Context {
        spec,
        hosts,
        services,
        instances,
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
            pick: None,
            jitter: None,
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

/// A rate as a percentage for a label: whole (`5`) when it is whole, else to two decimals at
/// most three decimals (`0.4`, `0.25`).
fn percent(r: f64) -> String {
    let pct = r * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{pct:.0}")
    } else {
        let s = format!("{pct:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl Compiling<'_, '_, '_> {
    /// Compiles what the fault does: its effect, its targets and its label.
    fn what(&mut self, what: &FaultKind) {
        if self.on_instances(what) {
            return;
        }
        match what {
            FaultKind::Errors {
                service,
                rate,
                edge,
            } => self.errors(service, *rate, edge.as_ref()),
            FaultKind::Outage { service } => {
                self.def.service = self.service(service).unwrap_or(u32::MAX);
                self.def.label = format!("{service} down");
                self.def.effect = FaultEffect::Outage;
            }
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
            FaultKind::NetworkDelay {
                between,
                and,
                add,
                jitter,
                edge,
            } => self.delay(between, and, *add, jitter.as_ref(), edge.as_ref()),
            FaultKind::PacketLoss {
                between,
                and,
                rate,
                edge,
                retransmit,
            } => self.loss(between, and, (*rate, *retransmit), edge.as_ref()),
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
            FaultKind::LinkDown { link } => self.link_down(link),
            FaultKind::Slowdown { .. }
            | FaultKind::Crash { .. }
            | FaultKind::Hang { .. }
            | FaultKind::Leak { .. }
            | FaultKind::Pauses { .. } => unreachable!("compiled by on_instances"),
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

    /// Compiles a fault on a service's instances (a slowdown, a crash, a hang, a leak,
    /// pauses), with the instances it targets; false for another kind.
    fn on_instances(&mut self, what: &FaultKind) -> bool {
        let t = |instance, pick, place| Targeting::new(instance, pick, place);
        match what {
            FaultKind::Slowdown {
                service,
                factor,
                instance,
                instances,
                place,
            } => self.slowdown(service, *factor, &t(*instance, *instances, place)),
            FaultKind::Crash {
                service,
                instance,
                instances,
                place,
            } => self.crash(service, &t(*instance, *instances, place), true),
            FaultKind::Hang {
                service,
                instance,
                instances,
                place,
            } => self.crash(service, &t(*instance, *instances, place), false),
            FaultKind::Leak {
                service,
                per_min,
                instance,
                instances,
                place,
            } => self.leak(service, *per_min, &t(*instance, *instances, place)),
            FaultKind::Pauses {
                service,
                every,
                pause,
                instances,
                place,
            } => self.pauses(service, every, pause, &t(None, *instances, place)),
            _ => return false,
        }
        true
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

    /// Targets the instances of service `s` that `t` names: one, those in a place, a pick of
    /// them, or all. Returns how reports say which (`api`, `api/2`, `3 of api in a`).
    fn target(&mut self, s: u32, t: &Targeting) -> String {
        let (first, n) = self.cx.services.get(s as usize).copied().unwrap_or((0, 0));
        let name = self.cx.names[s as usize];
        self.def.service = s;
        if let Some(k) = t.instance {
            if t.pick.is_some() || t.place.is_some() {
                let msg = "`instance` names one instance; drop it to pick with `instances` or `in`";
                self.ck.report(&self.w.field("instance"), msg.into(), None);
            }
            if k >= n {
                self.ck.report(
                    &self.w.field("instance"),
                    format!(
                        "`{name}` has {n} instances (0 to {}), so there is no instance {k}",
                        n.saturating_sub(1)
                    ),
                    None,
                );
            } else {
                self.def.instances = vec![first + k];
            }
            return format!("{name}/{k}");
        }
        self.def.instances = (first..first + n).collect();
        let mut who = name.to_string();
        if let Some(place) = t.place {
            self.in_place(name, place);
            who = format!("{name} in {place}");
        }
        if let Some(pick) = t.pick {
            let k = self.pick(pick, self.def.instances.len() as u32);
            who = format!("{k} of {who}");
            self.def.pick = (k < self.def.instances.len() as u32).then_some(k);
        }
        who
    }

    /// Keeps the fault's instances of service `name` that are placed in `place`.
    fn in_place(&mut self, name: &str, place: &str) {
        let at = self.w.field("in");
        let hosts = self.host_set("in", place);
        let instances = self.cx.instances;
        self.def
            .instances
            .retain(|&i| hosts.binary_search(&instances[i as usize].host_idx).is_ok());
        if self.def.instances.is_empty() && !hosts.is_empty() {
            let msg = format!("no instance of `{name}` is placed in `{place}`");
            self.ck.report(&at, msg, None);
        }
    }

    /// How many of `n` instances `pick` takes: a share rounded up, or a count.
    fn pick(&mut self, pick: InstancePick, n: u32) -> u32 {
        let at = self.w.field("instances");
        match pick {
            InstancePick::Share(share) => {
                if !(share > 0.0 && share <= 1.0) {
                    let msg = format!(
                        "a share of instances must be above 0 and at most 1, not `{share}`"
                    );
                    self.ck.report(&at, msg, None);
                    return n;
                }
                // Rounded up, but not past a product that floats make a hair too large
                // (0.3 × 10 is 3.0000000000000004).
                ((share * f64::from(n) - 1e-9).ceil() as u32).clamp(1, n.max(1))
            }
            InstancePick::Count(k) => {
                if k == 0 || k > n {
                    let msg = format!("`Count({k})` must be at least 1 and at most the {n} instances the fault may hit");
                    self.ck.report(&at, msg, None);
                    return n;
                }
                k
            }
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

    fn slowdown(&mut self, name: &str, k: f64, t: &Targeting) {
        self.ck.factor(&self.w.field("factor"), k);
        if let Some(s) = self.service(name) {
            self.def.service = s;
            // Without a choice of instances, a slowdown of the whole service.
            let who = if t.chooses() {
                self.target(s, t)
            } else {
                name.to_string()
            };
            self.def.label = format!("{who} {k}x slower");
        }
        self.def.effect = FaultEffect::Slowdown(k);
    }

    /// Errors at a service, or on the calls of an `edge`.
    fn errors(&mut self, name: &str, r: f64, edge: Option<&Edge>) {
        self.ck.fraction(&self.w.field("rate"), "an error rate", r);
        let pct = r * 100.0;
        match (name.is_empty(), edge) {
            (false, None) => {
                self.def.service = self.service(name).unwrap_or(u32::MAX);
                self.def.label = format!("{name} errors {pct:.0}%");
            }
            (true, Some(e)) => {
                self.def.edges = self.edges(e);
                self.def.label = format!("{} -> {} errors {pct:.0}%", e.from, e.to);
            }
            (true, None) => self.ck.report(
                &self.w,
                "`Errors` needs a `service` or an `edge`".into(),
                None,
            ),
            (false, Some(_)) => self.ck.report(
                &self.w.field("edge"),
                "`Errors` takes a `service` or an `edge`, not both".into(),
                None,
            ),
        }
        self.def.effect = FaultEffect::Errors(r);
    }

    /// A crash (`crash`) or a hang of one instance, a pick of them, or all.
    fn crash(&mut self, name: &str, t: &Targeting, crash: bool) {
        let who = match self.service(name) {
            Some(s) => self.target(s, t),
            None => name.to_string(),
        };
        self.def.label = format!("{} {who}", if crash { "crash" } else { "hang" });
        self.def.effect = if crash {
            FaultEffect::Crash
        } else {
            FaultEffect::Hang
        };
        self.def.per_instance = true;
    }

    fn leak(&mut self, name: &str, per_min: f64, t: &Targeting) {
        if !(per_min >= 0.0 && per_min.is_finite()) {
            self.ck.report(
                &self.w.field("per_min"),
                format!("a leak's growth per minute must be zero or more, not `{per_min}`"),
                None,
            );
        }
        let mut who = name.to_string();
        if let Some(s) = self.service(name) {
            let chosen = self.target(s, t);
            // A leak at one instance has always been labelled by its service alone.
            if t.instance.is_none() {
                who = chosen;
            }
        }
        self.def.label = format!("leak {who} +{:.0}%/min", per_min * 100.0);
        self.def.effect = FaultEffect::Leak(per_min);
        self.def.per_instance = true;
    }

    fn pauses(&mut self, name: &str, every: &DistSpec, pause: &DistSpec, t: &Targeting) {
        let who = match self.service(name) {
            Some(s) => self.target(s, t),
            None => name.to_string(),
        };
        let every = self.ck.dist(&self.w.field("every"), every);
        let pause = self.ck.dist(&self.w.field("pause"), pause);
        self.def.label = format!("pauses {who}");
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

    /// Delay between two sets of places, or on the messages of a call edge.
    fn delay(
        &mut self,
        between: &[String],
        and: &[String],
        add: Dur,
        jitter: Option<&DistSpec>,
        edge: Option<&Edge>,
    ) {
        let what = match jitter {
            Some(j) => {
                self.def.jitter = Some(self.ck.dist(&self.w.field("jitter"), j));
                format!("+{} jittered", add.0)
            }
            None => format!("+{}", add.0),
        };
        self.def.label = match self.link_or_edge(between, and, edge) {
            Some(e) => format!("{what} on {} -> {}", e.from, e.to),
            None => format!("{what} between {} and {}", between.join(","), and.join(",")),
        };
        self.def.effect = FaultEffect::Delay(add.0.as_ns());
    }

    /// Messages lost at rate `r` or, with `retransmit`, their packets lost and sent again.
    fn loss(
        &mut self,
        between: &[String],
        and: &[String],
        (r, retransmit): (f64, Option<Dur>),
        edge: Option<&Edge>,
    ) {
        self.ck.fraction(&self.w.field("rate"), "a loss rate", r);
        let pct = percent(r);
        self.def.label = match self.link_or_edge(between, and, edge) {
            Some(e) => format!("{pct}% loss on {} -> {}", e.from, e.to),
            None => format!(
                "{pct}% loss between {} and {}",
                between.join(","),
                and.join(",")
            ),
        };
        self.def.effect = FaultEffect::Loss(r);
        if let Some(after) = retransmit {
            self.retransmit(r, after);
        }
    }

    /// A link lost (traffic routes around it where it can).
    fn link_down(&mut self, link: &crate::spec::LinkRef) {
        let at = self.w.field("link");
        self.def.net_links = super::network::link_ids(self.ck, self.cx.network, &at, link);
        self.def.label = format!("{} down", link_label(link));
        self.def.effect = FaultEffect::LinkDown;
    }

    /// Packet loss that TCP repairs: each round of retransmission costs `after`.
    fn retransmit(&mut self, rate: f64, after: Dur) {
        if after.0.as_ns() == 0 {
            let msg = "a retransmission takes some time; give it one (\"200ms\") or drop \
                       `retransmit` to lose whole messages";
            self.ck
                .report(&self.w.field("retransmit"), msg.into(), None);
        }
        self.def.label = self.def.label.replacen(" loss", " packet loss", 1)
            + &format!(", retransmitted after {}", after.0);
        self.def.effect = FaultEffect::Retransmit(rate, after.0.as_ns());
    }

    /// The target of a delay or a loss: the places `between` and `and` (a link both ways), or a
    /// call `edge`, which it returns.
    fn link_or_edge<'e>(
        &mut self,
        between: &[String],
        and: &[String],
        edge: Option<&'e Edge>,
    ) -> Option<&'e Edge> {
        match edge {
            Some(e) => {
                if !between.is_empty() || !and.is_empty() {
                    let msg = "a fault on an `edge` names no places; drop `between` and `and`";
                    self.ck.report(&self.w.field("edge"), msg.into(), None);
                }
                self.def.edges = self.edges(e);
                Some(e)
            }
            None => {
                let (a, b) = self.sides(between, and);
                self.def.link = Some(LinkDef {
                    a,
                    b,
                    one_way: false,
                });
                None
            }
        }
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

    /// A feature turned off: the calls from `from` to `to` are no longer made.
    fn feature_off(&mut self, from: &str, to: &str) {
        let (ef, et) = (self.w.field("from"), self.w.field("to"));
        self.def.edges = call_edges(
            self.ck,
            &self.cx.names,
            self.cx.calls,
            (from, &ef),
            (to, &et),
            &self.w,
        );
        self.def.label = format!("feature off: {from} -> {to}");
        self.def.effect = FaultEffect::FeatureOff;
    }

    /// The call edges of `edge` (written in the field `edge`).
    fn edges(&mut self, edge: &Edge) -> Vec<u32> {
        let at = self.w.field("edge");
        let (ef, et) = (at.field("from"), at.field("to"));
        call_edges(
            self.ck,
            &self.cx.names,
            self.cx.calls,
            (&edge.from, &ef),
            (&edge.to, &et),
            &at,
        )
    }
}

/// The call edges from service `from` to service `to` (each with where it is written), in
/// order; reports unknown services and services that make no such call (at `at`).
pub(super) fn call_edges(
    ck: &mut Checker,
    names: &[&str],
    calls: &[CallDef],
    from: (&str, &At),
    to: (&str, &At),
    at: &At,
) -> Vec<u32> {
    let fi = names.iter().position(|n| *n == from.0);
    let ti = names.iter().position(|n| *n == to.0);
    if fi.is_none() {
        ck.unknown(from.1, "service", from.0, names);
    }
    if ti.is_none() {
        ck.unknown(to.1, "service", to.0, names);
    }
    let (Some(fi), Some(ti)) = (fi, ti) else {
        return Vec::new();
    };
    let edges: Vec<u32> = (0..calls.len() as u32)
        .filter(|&e| calls[e as usize].from == fi as u32 && calls[e as usize].to == ti as u32)
        .collect();
    if edges.is_empty() {
        ck.report(
            at,
            format!("`{}` makes no call to `{}`", from.0, to.0),
            None,
        );
    }
    edges
}

/// Which instances of a service a fault names: one (`instance`), a pick of them (`instances`),
/// those in a place (`in`), or all.
struct Targeting<'a> {
    instance: Option<u32>,
    pick: Option<InstancePick>,
    place: Option<&'a str>,
}

impl<'a> Targeting<'a> {
    fn new(instance: Option<u32>, pick: Option<InstancePick>, place: &'a Option<String>) -> Self {
        Targeting {
            instance,
            pick,
            place: place.as_deref(),
        }
    }

    /// Whether it names fewer than all instances (or may: a pick, a place).
    fn chooses(&self) -> bool {
        self.instance.is_some() || self.pick.is_some() || self.place.is_some()
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
