//! Services: their instances placed on hosts, worker pools, queues, tier groups and the
//! server-side defences (concurrency limit, rate limits, load shedding). Their calls are compiled
//! in [`super::calls`], their recovery in [`super::recovery`], a datastore's settings in
//! [`super::datastores`].

use super::calls::{build_steps, CallGraph};
use super::check::{At, Checker};
use super::hosts::placement_hosts;
use super::{datastores, recovery, INSTANCES_MAX};
use crate::defences::AimdLimit;
use crate::dist::Dist;
use crate::spec::{ConcurrencyLimitSpec, QueueCap, Scenario, Service, TokenBucket};
use crate::world::{
    CallDef, Host, InstanceDef, MemoryDef, PoolDef, RateLimitDef, ServiceDef, ShedPolicy, SloDef,
};

/// The compiled services, their instances and their calls.
pub(super) type Built = (Vec<ServiceDef>, Vec<InstanceDef>, Vec<CallDef>);

/// What compiling one service needs to know of the others.
struct Context<'s> {
    spec: &'s Scenario,
    names: Vec<&'s str>,
    hosts: Option<&'s [Host]>,
    tiers: &'s [String],
    /// Instances of all services together, an autoscaled service counted at its `max`.
    total_instances: u64,
}

/// What compiling the services builds up, service after service.
struct Output {
    instances: Vec<InstanceDef>,
    calls: Vec<CallDef>,
    graph: CallGraph,
}

/// Checks and compiles every service; `hosts` is `None` when the topology is invalid.
pub(super) fn build_services(
    ck: &mut Checker,
    spec: &Scenario,
    hosts: Option<&[Host]>,
    tiers: &[String],
) -> Built {
    let cx = Context {
        spec,
        names: spec.services.iter().map(|s| s.name.as_str()).collect(),
        hosts,
        tiers,
        total_instances: check_total(ck, spec),
    };
    let mut out = Output {
        instances: Vec::new(),
        calls: Vec::new(),
        graph: CallGraph::new(spec.services.len()),
    };
    let mut services: Vec<ServiceDef> = (0..spec.services.len())
        .map(|si| build_service(ck, &cx, si, &mut out))
        .collect();
    // An autoscaled service, or one that operators add capacity to, balances over every
    // instance it may have (inactive ones are skipped).
    for (svc, def) in spec.services.iter().zip(services.iter_mut()) {
        if svc.autoscale.is_some() || super::actions::added_capacity(spec, &svc.name) > 0 {
            def.other_group = (0, def.n_instances);
        }
    }
    out.graph.report_cycles(ck, &cx.names);
    (services, out.instances, out.calls)
}

/// Reports no services, or more instances than Faultline simulates; returns the instances of all
/// services together, an autoscaled service counted at its `max`.
fn check_total(ck: &mut Checker, spec: &Scenario) -> u64 {
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
        .map(|s| u64::from(instances_max(spec, s)))
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
    total_instances
}

/// The most instances a service may have: its `instances`, or its autoscaler's `max` if more,
/// and those the operators' actions add (`AddCapacity`).
fn instances_max(spec: &Scenario, svc: &Service) -> u32 {
    let own = svc
        .autoscale
        .as_ref()
        .map_or(svc.instances, |a| a.max.max(svc.instances));
    own.saturating_add(super::actions::added_capacity(spec, &svc.name))
}

/// Checks and compiles service `si`, adding its instances and calls to `out`.
fn build_service(ck: &mut Checker, cx: &Context, si: usize, out: &mut Output) -> ServiceDef {
    let svc = &cx.spec.services[si];
    let at = At::root().field("services").named(si, &svc.name);
    check_service(ck, cx, si);
    let queue_cap = queue_cap(ck, svc, &at);
    let work = ck.dist(&at.field("work"), &svc.work);
    let steps = build_steps(ck, cx.spec, si, &cx.names, &mut out.calls, &mut out.graph);
    let first_instance = out.instances.len() as u32;
    let eligible = place_instances(ck, cx, si, &mut out.instances);
    let pools = build_pools(ck, svc, &at, &work);
    let recovery = recovery::build_recovery(ck, svc, &at);
    let store = svc
        .datastore
        .as_ref()
        .map(|d| datastores::build_store(ck, cx.spec, svc, d, &at, &work));
    let tier_groups = tier_groups(ck, svc, &at, cx.tiers);
    let concurrency = concurrency(ck, svc, &at);
    let rate_limit = rate_limit(ck, svc, &at, cx.tiers);
    let shed = shed(ck, svc, &at);
    let reject_work = svc
        .reject_work
        .as_ref()
        .map(|d| ck.dist(&at.field("reject_work"), d));
    let memory = memory(ck, svc, &at);
    let cache = super::caches::build_cache(ck, svc, &cx.names, &steps, &mut out.calls, &at);
    ServiceDef {
        cache,
        broker: None, // compiled with the consumers (`queues::build_queues`)
        consumes: None,
        recovery,
        store,
        multi_region: false,
        zone_aware: svc.zone_aware.map(|z| z.min_cluster_size),
        slo: SloDef::default(), // resolved by `slo::build_slos`
        oom_at: memory.map_or(u32::MAX, |m| m.oom_at()),
        memory,
        by_criticality: queue_order(ck, svc, &at),
        is_async: svc.execution == crate::spec::Execution::Async,
        max_connections: connections(ck, svc, &at),
        shares: shares(ck, svc, &at),
        hosts: eligible.unwrap_or_default(),
        name: svc.name.clone(),
        first_instance,
        n_instances: out.instances.len() as u32 - first_instance,
        workers: svc.workers,
        queue_cap,
        work,
        pools,
        steps,
        balancer: svc.balancer.into(),
        honor_deadlines: svc.honor_deadlines,
        tier_groups,
        other_group: other_group(svc),
        concurrency,
        rate_limit,
        shed,
        reject_work,
    }
}

/// A service has a name, given once, at least one instance and at least one worker.
fn check_service(ck: &mut Checker, cx: &Context, si: usize) {
    let svc = &cx.spec.services[si];
    let services_at = At::root().field("services");
    let at = services_at.named(si, &svc.name);
    if svc.name.trim().is_empty() {
        ck.report(&at.field("name"), "a service needs a name".into(), None);
    }
    if let Some(first) = cx.names[..si].iter().position(|&n| n == svc.name) {
        let (first_at, again) = (services_at.index(first), services_at.index(si));
        ck.defined_twice("service", &svc.name, "", &first_at, &again);
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
}

/// The most requests waiting per instance: `u32::MAX` for unbounded, 0 for none.
fn queue_cap(ck: &mut Checker, svc: &Service, at: &At) -> u32 {
    match svc.queue {
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
    }
}

/// Places the instances of service `si` on the hosts its placement allows, dealt out in turn;
/// returns those hosts, or `None` when the topology or the placement is invalid.
fn place_instances(
    ck: &mut Checker,
    cx: &Context,
    si: usize,
    instances: &mut Vec<InstanceDef>,
) -> Option<Vec<u32>> {
    let svc = &cx.spec.services[si];
    let placement_at = At::root()
        .field("services")
        .named(si, &svc.name)
        .field("placement");
    let eligible = cx
        .hosts
        .and_then(|hosts| placement_hosts(ck, cx.spec, hosts, &placement_at, &svc.placement));
    if let Some(eligible) = eligible.as_ref() {
        if eligible.is_empty() {
            ck.report(
                &placement_at,
                "the placement leaves no host to run on".into(),
                None,
            );
        } else if cx.total_instances <= INSTANCES_MAX {
            // An autoscaled service has room for `max` instances; those beyond `instances`
            // start inactive.
            for i in 0..instances_max(cx.spec, svc) as usize {
                instances.push(InstanceDef {
                    service_idx: si as u32,
                    host_idx: eligible[i % eligible.len()],
                });
            }
        }
    }
    eligible
}

/// The extra worker pools; a pool without its own `work` does the service's.
fn build_pools(ck: &mut Checker, svc: &Service, at: &At, work: &Dist) -> Vec<PoolDef> {
    svc.pools
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
            if let Some(first) = svc.pools[..k].iter().position(|o| o.name == p.name) {
                let first_at = at.field("pools").index(first);
                ck.defined_twice("pool", &p.name, "", &first_at, &p_at);
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
        .collect()
}

/// The index of a worker pool of `svc` by name (0, its main pool, when no name is given).
pub(super) fn pool_index(ck: &mut Checker, svc: &Service, name: Option<&str>, at: &At) -> u32 {
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

/// The instances that serve each tier alone: `(offset, count)` by tier, `None` for a tier
/// without a group.
fn tier_groups(
    ck: &mut Checker,
    svc: &Service,
    at: &At,
    tiers: &[String],
) -> Vec<Option<(u32, u32)>> {
    let mut groups = vec![None; tiers.len()];
    let mut offset = 0u32;
    for (name, count) in &svc.tier_groups {
        let g_at = at.field("tier_groups").field(name);
        if *count == 0 {
            ck.report(
                &g_at,
                "a tier group needs at least one instance".into(),
                None,
            );
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
}

/// The instances `(offset, count)` that serve the requests of no tier group: those after the
/// groups, at least one.
fn other_group(svc: &Service) -> (u32, u32) {
    let grouped: u32 = svc
        .tier_groups
        .values()
        .fold(0u32, |a, b| a.saturating_add(*b));
    (
        grouped.min(svc.instances),
        svc.instances
            .saturating_sub(grouped)
            .max(1)
            .min(svc.instances.max(1)),
    )
}

/// The adaptive concurrency limit each instance starts with.
fn concurrency(ck: &mut Checker, svc: &Service, at: &At) -> Option<AimdLimit> {
    let ConcurrencyLimitSpec::Aimd {
        initial,
        min,
        max,
        decrease,
        latency_over,
    } = svc.concurrency_limit.as_ref()?;
    if !(*min >= 1 && min <= initial && initial <= max && *decrease > 0.0 && *decrease < 1.0) {
        ck.report(
            &at.field("concurrency_limit"),
            "an AIMD limit needs 1 <= `min` <= `initial` <= `max` and `decrease` between 0 and 1"
                .into(),
            None,
        );
    }
    Some(AimdLimit::new(
        *initial,
        *min,
        *max,
        *decrease,
        latency_over.0.as_ns(),
    ))
}

/// The token buckets of a rate limit: global, per client and per tier.
fn rate_limit(ck: &mut Checker, svc: &Service, at: &At, tiers: &[String]) -> Option<RateLimitDef> {
    let rl = svc.rate_limit.as_ref()?;
    let rl_at = at.field("rate_limit");
    let global = rl
        .global
        .as_ref()
        .map(|b| bucket(ck, b, rl_at.field("global")));
    let per_client = rl
        .per_client
        .as_ref()
        .map(|b| bucket(ck, b, rl_at.field("per_client")));
    let mut per_tier = vec![None; tiers.len()];
    for (name, b) in &rl.per_tier {
        let limits = bucket(ck, b, rl_at.field("per_tier").field(name));
        match tiers.iter().position(|t| t == name) {
            Some(t) => per_tier[t] = Some(limits),
            None => {
                let known: Vec<&str> = tiers.iter().map(String::as_str).collect();
                ck.unknown(
                    &rl_at.field("per_tier").field(name),
                    "tier (no workload has it)",
                    name,
                    &known,
                );
            }
        }
    }
    Some(RateLimitDef {
        global,
        per_client,
        per_tier,
    })
}

/// A token bucket's (rate per second, burst), reported unless both are above zero.
fn bucket(ck: &mut Checker, b: &TokenBucket, b_at: At) -> (f64, u32) {
    if !(b.rate_per_s > 0.0 && b.rate_per_s.is_finite()) {
        ck.report(
            &b_at.field("rate_per_s"),
            format!(
                "a token bucket needs a rate above zero, not `{}`",
                b.rate_per_s
            ),
            None,
        );
    }
    if b.burst == 0 {
        ck.report(
            &b_at.field("burst"),
            "a token bucket needs a burst of at least 1".into(),
            None,
        );
    }
    (b.rate_per_s, b.burst)
}

/// Load shedding: by time waited, and newest-first over a queue length.
fn shed(ck: &mut Checker, svc: &Service, at: &At) -> Option<ShedPolicy> {
    let shed = svc.shed.as_ref()?;
    if shed.lifo_over == Some(0) {
        ck.report(
            &at.field("shed").field("lifo_over"),
            "`lifo_over` of 0 would serve every queue newest-first; give it a length of at least 1"
                .into(),
            None,
        );
    }
    Some(ShedPolicy {
        max_wait_ns: shed.max_wait.map(|d| d.0.as_ns()),
        lifo_over: shed.lifo_over,
    })
}

/// The most connections an instance accepts: at least one.
fn connections(ck: &mut Checker, svc: &Service, at: &At) -> u32 {
    match svc.max_connections {
        Some(0) => {
            let msg = "`max_connections` must be at least 1: an instance that accepts none serves nothing".into();
            ck.report(&at.field("max_connections"), msg, None);
            u32::MAX
        }
        Some(n) => n,
        None => u32::MAX,
    }
}

/// The share of each limit a class may fill, by `Criticality as u8` (sheddable first), each a
/// fraction in (0, 1].
fn shares(ck: &mut Checker, svc: &Service, at: &At) -> [f64; 4] {
    let Some(c) = &svc.criticality_shares else {
        return [1.0; 4];
    };
    let at = at.field("criticality_shares");
    for (field, x) in [
        ("sheddable", c.sheddable),
        ("sheddable_plus", c.sheddable_plus),
        ("critical", c.critical),
    ] {
        if !(x > 0.0 && x <= 1.0) {
            let msg = format!("`{field}` is a share of a limit, in (0, 1], not {x}");
            ck.report(&at.field(field), msg, None);
        }
    }
    [c.sheddable, c.sheddable_plus, c.critical, 1.0]
}

/// Whether the service's queues order by criticality; LIFO under load reorders the same queue,
/// so the two do not go together.
fn queue_order(ck: &mut Checker, svc: &Service, at: &At) -> bool {
    let by_criticality = svc.queue_order == crate::spec::QueueOrder::Criticality;
    let lifo = svc.shed.as_ref().is_some_and(|s| s.lifo_over.is_some());
    if by_criticality && lifo {
        let msg = "a queue ordered by criticality cannot also turn LIFO under load (`shed.lifo_over`): choose one".into();
        ck.report(&at.field("queue_order"), msg, None);
    }
    by_criticality
}

/// The memory of each instance, checked: a limit above the idle process and a positive cost per
/// request (else the limit could never be reached, or is reached at once).
fn memory(ck: &mut Checker, svc: &Service, at: &At) -> Option<MemoryDef> {
    let m = svc.memory.as_ref()?;
    let at = at.field("memory");
    if m.per_request.0 == 0 {
        ck.report(
            &at.field("per_request"),
            "`per_request` must be above zero, or the limit is never reached: leave `memory` out"
                .into(),
            None,
        );
    }
    if m.limit.0 <= m.base.0 {
        ck.report(
            &at.field("limit"),
            format!(
                "the limit ({} bytes) must be above `base` ({} bytes): the idle process would not fit",
                m.limit.0, m.base.0
            ),
            None,
        );
    }
    let backoff = super::recovery::backoff(ck, (m.restart, m.restart_max, m.reset_after), &at);
    Some(MemoryDef {
        limit: m.limit.0,
        base: m.base.0,
        per_request: m.per_request.0.max(1),
        backoff,
        gc: m.gc.as_ref().map(|g| {
            if g.every.0 < super::recovery::INTERVAL_MIN {
                ck.report(
                    &at.field("gc").field("every"),
                    super::recovery::too_often(g.every),
                    None,
                );
            }
            crate::world::GcDef {
                every_ns: g.every.0.as_ns().max(1),
                pause_ns: g.pause.0.as_ns(),
                per_mib_ns: g.per_mib.0.as_ns(),
            }
        }),
    })
}

/// Marks the services whose instances span more than one region (callers then prefer their own).
pub(super) fn mark_multi_region(
    services: &mut [ServiceDef],
    instances: &[InstanceDef],
    hosts: &[Host],
) {
    for s in services {
        let range = s.first_instance as usize..(s.first_instance + s.n_instances) as usize;
        let first = instances
            .get(range.start)
            .map(|i| hosts[i.host_idx as usize].region_idx);
        s.multi_region = instances.get(range).is_some_and(|x| {
            x.iter()
                .any(|i| Some(hosts[i.host_idx as usize].region_idx) != first)
        });
    }
}
