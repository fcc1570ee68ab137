//! Brokers (`broker` on services) and their consumer groups (`consumes`): each consumer group
//! is also a workload of its own, appended after the scenario's, whose requests are the
//! deliveries of messages.

use super::check::{At, Checker};
use super::slo::resolve;
use crate::spec::Scenario;
use crate::world::{ArrivalKind, BrokerDef, ConsumerDef, RateFn, ServiceDef, SloDef, WorkloadDef};

/// The most messages one broker instance may hold.
const CAPACITY_MAX: u64 = 100_000_000;
/// The most deliveries of one message.
const DELIVERIES_MAX: u32 = 1_000;

/// Compiles every broker and consumer group; a consumer group's workload is appended to
/// `workloads`.
pub(super) fn build_queues(
    ck: &mut Checker,
    spec: &Scenario,
    services: &mut [ServiceDef],
    workloads: &mut Vec<WorkloadDef>,
    base: &SloDef,
) {
    for (si, svc) in spec.services.iter().enumerate() {
        let Some(b) = &svc.broker else { continue };
        let at = At::root()
            .field("services")
            .named(si, &svc.name)
            .field("broker");
        if b.capacity == 0 || b.capacity > CAPACITY_MAX {
            let msg = format!(
                "a broker instance holds from 1 to {CAPACITY_MAX} messages, not {}",
                b.capacity
            );
            ck.report(&at.field("capacity"), msg, None);
        }
        if let Some(def) = services.get_mut(si) {
            def.broker = Some(BrokerDef {
                capacity: b.capacity.clamp(1, CAPACITY_MAX) as u32,
                replicated: b.replicated,
                consumer: u32::MAX,
            });
        }
    }
    for si in 0..spec.services.len() {
        consumer(ck, spec, si, services, workloads, base);
    }
}

/// Compiles service `si`'s `consumes`, if it has one.
fn consumer(
    ck: &mut Checker,
    spec: &Scenario,
    si: usize,
    services: &mut [ServiceDef],
    workloads: &mut Vec<WorkloadDef>,
    base: &SloDef,
) {
    let svc = &spec.services[si];
    let Some(c) = &svc.consumes else { return };
    let at = At::root()
        .field("services")
        .named(si, &svc.name)
        .field("consumes");
    let Some(bi) = broker_of(ck, spec, si, services, &at) else {
        return;
    };
    let concurrency = c.concurrency.unwrap_or(svc.workers);
    check_consumer(ck, spec, si, concurrency, &at);
    let workload = workloads.len() as u32;
    workloads.push(WorkloadDef {
        name: svc.name.clone(),
        tier: None,
        pool: 0,
        retry: None,
        entry: si as u32,
        kind: ArrivalKind::Poisson,
        rate: RateFn {
            points: vec![(0, 0.0)],
        },
        region: 0,
        timeout_ns: None,
        users: 1,
        slo: resolve(ck, c.slo.as_ref(), base, &at.field("slo")),
        criticality: crate::spec::Criticality::Critical as u8,
        keys: None,
        consumes: Some(bi as u32),
        request_bytes: None,
    });
    if let Some(b) = services[bi].broker.as_mut() {
        b.consumer = si as u32;
    }
    services[si].consumes = Some(ConsumerDef {
        broker: bi as u32,
        concurrency: concurrency.max(1),
        visibility_ns: c.visibility_timeout.0.as_ns().max(1),
        max_deliveries: c.max_deliveries.clamp(1, DELIVERIES_MAX),
        workload,
    });
}

/// The broker service `si` consumes: a broker, not itself, and not consumed by another group.
fn broker_of(
    ck: &mut Checker,
    spec: &Scenario,
    si: usize,
    services: &[ServiceDef],
    at: &At,
) -> Option<usize> {
    let from = &spec.services[si].consumes.as_ref()?.from;
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    let Some(bi) = names.iter().position(|n| n == from) else {
        ck.unknown(&at.field("from"), "service", from, &names);
        return None;
    };
    let problem = match services.get(bi).and_then(|b| b.broker) {
        _ if bi == si => Some("a broker cannot consume its own queue".to_string()),
        None => Some(format!(
            "`{from}` is not a broker: give it `broker: (...)` to consume its queue"
        )),
        Some(b) if b.consumer != u32::MAX => Some(format!(
            "`{}` already consumes `{from}`: a queue has one consumer group",
            spec.services[b.consumer as usize].name
        )),
        Some(_) => None,
    };
    match problem {
        Some(msg) => {
            ck.report(&at.field("from"), msg, None);
            None
        }
        None => Some(bi),
    }
}

/// A consumer group's numbers, and its workload's name free.
fn check_consumer(ck: &mut Checker, spec: &Scenario, si: usize, concurrency: u32, at: &At) {
    let svc = &spec.services[si];
    let Some(c) = &svc.consumes else { return };
    if concurrency == 0 {
        ck.report(
            &at.field("concurrency"),
            "`concurrency` is at least 1".into(),
            None,
        );
    }
    if c.max_deliveries == 0 || c.max_deliveries > DELIVERIES_MAX {
        let msg = format!(
            "`max_deliveries` is from 1 to {DELIVERIES_MAX}, not {}",
            c.max_deliveries
        );
        ck.report(&at.field("max_deliveries"), msg, None);
    }
    if c.visibility_timeout.0.as_ns() == 0 {
        let msg =
            "a `visibility_timeout` of zero delivers every message again at once: make it positive";
        ck.report(&at.field("visibility_timeout"), msg.into(), None);
    }
    let taken = (spec.workload.iter()).any(|w| w.name.as_deref().unwrap_or(&w.entry) == svc.name);
    if taken {
        let msg = format!(
            "a workload is already named `{}`, the name of this consumer group's workload: rename it",
            svc.name
        );
        ck.report(at, msg, None);
    }
}
