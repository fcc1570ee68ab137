//! Settings that cannot take effect where they are written. The file is not wrong — it loads and
//! runs — but a setting that never acts is a mistake its author wants to hear of: shedding on a
//! service that queues nothing, a retry of one attempt, an outlier detector that may eject no
//! instance. Each is a warning (`Checker::warn`) with its field path; every command that loads
//! the scenario prints it, and none changes its exit code.
//!
//! Settings that are surely wrong (replacement without health checks, a percentage above 100)
//! are errors where they are compiled; this module only warns.

use super::check::{At, Checker};
use crate::spec::{
    BreakerSpec, Dur, OutlierSpec, QueueCap, RetryOn, RetrySpec, Scenario, Service, Step,
    ThrottleSpec, Window,
};

/// Warns of every setting of `spec` that cannot take effect.
pub(super) fn check_inert(ck: &mut Checker, spec: &Scenario) {
    for (si, svc) in spec.services.iter().enumerate() {
        let at = At::root().field("services").named(si, &svc.name);
        shedding(ck, svc, &at);
        unreachable_memory(ck, svc, &at);
        unused_pools(ck, spec, si, &at);
        if let Some(o) = &svc.outlier {
            outlier(ck, svc, o, &at.field("outlier"));
        }
        if let Some(r) = svc.replace.as_ref().filter(|r| r.warm_up.is_some()) {
            if r.cold_factor == 1.0 {
                let msg = "a `cold_factor` of 1 makes a new instance no slower: the warm-up changes nothing".into();
                ck.warn(&at.field("replace").field("warm_up"), msg);
            }
        }
        if let Some(a) = &svc.autoscale {
            if a.min == a.max {
                let msg = format!(
                    "`min` and `max` are both {}: the autoscaler can never change the count",
                    a.min
                );
                ck.warn(&at.field("autoscale"), msg);
            }
        }
        for (k, step) in svc.calls.iter().enumerate() {
            let step_at = at.field("calls").index(k);
            match step {
                Step::Call { .. } => call(ck, step, &step_at),
                Step::Parallel(inner) => {
                    for (j, s) in inner.iter().enumerate() {
                        call(ck, s, &step_at.index(j));
                    }
                }
            }
        }
    }
    keyless(ck, spec);
    for (wi, w) in spec.workload.iter().enumerate() {
        if let Some(r) = &w.retry {
            let at = At::root().field("workload").index(wi).field("retry");
            retry(ck, r, &at, [true; 3], false);
        }
    }
}

/// Every call of service `svc`, with where it is written.
fn calls_of<'s>(svc: &'s Service, at: &At) -> Vec<(&'s Step, At)> {
    let mut out = Vec::new();
    for (k, step) in svc.calls.iter().enumerate() {
        let step_at = at.field("calls").index(k);
        match step {
            Step::Call { .. } => out.push((step, step_at)),
            Step::Parallel(inner) => {
                out.extend(inner.iter().enumerate().map(|(j, s)| (s, step_at.index(j))));
            }
        }
    }
    out
}

/// Whether some request reaching each service carries a key: a workload with `keys` enters it,
/// or a call that draws keys, or a call from a service whose requests carry one (keys travel
/// along calls). A walk over the call graph from the services keyed at first: linear in the
/// calls (a pass per service was cubic, minutes at 10,000 services).
fn keyed_services(spec: &Scenario) -> Vec<bool> {
    let index: std::collections::BTreeMap<&str, usize> = (spec.services.iter().enumerate())
        .map(|(k, s)| (s.name.as_str(), k))
        .collect();
    let mut keyed = vec![false; spec.services.len()];
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); spec.services.len()];
    for w in spec.workload.iter().filter(|w| w.keys.is_some()) {
        if let Some(&e) = index.get(w.entry.as_str()) {
            keyed[e] = true;
        }
    }
    for (si, svc) in spec.services.iter().enumerate() {
        for (step, _) in calls_of(svc, &At::root()) {
            if let Step::Call { to, keys, .. } = step {
                if let Some(&t) = index.get(to.as_str()) {
                    keyed[t] |= keys.is_some();
                    callees[si].push(t);
                }
            }
        }
    }
    let mut todo: Vec<usize> = (0..keyed.len()).filter(|&k| keyed[k]).collect();
    while let Some(si) = todo.pop() {
        for &t in &callees[si] {
            if !keyed[t] {
                keyed[t] = true;
                todo.push(t);
            }
        }
    }
    keyed
}

/// A cache whose requests carry no key is never looked up; a conditional write without a key
/// is a plain write.
fn keyless(ck: &mut Checker, spec: &Scenario) {
    let keyed = keyed_services(spec);
    for (si, svc) in spec.services.iter().enumerate() {
        let at = At::root().field("services").named(si, &svc.name);
        if svc.cache.is_some() && !keyed[si] {
            let msg = "no request reaching this service carries a key (give its workloads or calls `keys`): the cache is never looked up".into();
            ck.warn(&at.field("cache"), msg);
        }
        for (step, call_at) in calls_of(svc, &at) {
            if let Step::Call { op, keys, .. } = step {
                if *op == crate::spec::Op::CompareAndSet && keys.is_none() && !keyed[si] {
                    let msg = "this conditional write carries no key (give the workload or the call `keys`): it is a plain write".into();
                    ck.warn(&call_at.field("op"), msg);
                }
            }
        }
    }
}

/// Shedding acts on requests that wait: with no queue anywhere in the service, it drops nothing;
/// LIFO starts only when more than `lifo_over` wait, which a queue of that size never holds.
fn shedding(ck: &mut Checker, svc: &Service, at: &At) {
    let Some(shed) = &svc.shed else { return };
    let room = |q: QueueCap| match q {
        QueueCap::Bounded(n) => u64::from(n),
        QueueCap::Unbounded => u64::MAX,
        QueueCap::NoQueue => 0,
    };
    let largest = (svc.pools.iter().map(|p| room(p.queue)))
        .chain([room(svc.queue)])
        .max()
        .unwrap_or(0);
    if largest == 0 {
        let msg = "shedding drops requests that wait in a queue, and this service has none (`queue` is 0 or `none`): `shed` never acts".into();
        ck.warn(&at.field("shed"), msg);
        return;
    }
    if let Some(n) = shed.lifo_over.filter(|&n| u64::from(n) >= largest) {
        let msg = format!(
            "LIFO starts when more than {n} requests wait, and the largest queue holds {largest}: it never starts"
        );
        ck.warn(&at.field("shed").field("lifo_over"), msg);
    }
}

/// A memory limit above what the instance can ever hold (its workers and queues, every pool
/// together) is never reached: no out-of-memory kill can happen.
fn unreachable_memory(ck: &mut Checker, svc: &Service, at: &At) {
    let Some(m) = &svc.memory else { return };
    let room = |q: QueueCap| match q {
        QueueCap::Bounded(n) => u64::from(n),
        QueueCap::Unbounded => u64::MAX,
        QueueCap::NoQueue => 0,
    };
    let most = (svc.pools.iter())
        .map(|p| u64::from(p.workers).saturating_add(room(p.queue)))
        .fold(
            u64::from(svc.workers).saturating_add(room(svc.queue)),
            u64::saturating_add,
        );
    let fits = m.limit.0.saturating_sub(m.base.0) / m.per_request.0.max(1);
    if most <= fits {
        let msg = format!(
            "an instance holds at most {most} requests (workers and queues) and its memory fits {fits}: it never runs out"
        );
        ck.warn(&at.field("memory").field("limit"), msg);
    }
}

/// A worker pool that no call and no workload names never works.
fn unused_pools(ck: &mut Checker, spec: &Scenario, si: usize, at: &At) {
    let svc = &spec.services[si];
    for (k, pool) in svc.pools.iter().enumerate() {
        let named = |p: &Option<String>| p.as_deref() == Some(pool.name.as_str());
        let by_call = spec.services.iter().any(|s| {
            s.calls.iter().any(|step| {
                let calls: Vec<&Step> = match step {
                    Step::Call { .. } => vec![step],
                    Step::Parallel(inner) => inner.iter().collect(),
                };
                calls.iter().any(
                    |c| matches!(c, Step::Call { to, pool: p, .. } if *to == svc.name && named(p)),
                )
            })
        });
        let by_workload = (spec.workload.iter()).any(|w| w.entry == svc.name && named(&w.pool));
        let probe_lane = |l: &crate::spec::ProbeLane| matches!(l, crate::spec::ProbeLane::Pool(p) if *p == pool.name);
        let by_probes = svc.health.as_ref().is_some_and(|h| probe_lane(&h.lane))
            || svc.liveness.as_ref().is_some_and(|l| probe_lane(&l.lane));
        if !by_call && !by_workload && !by_probes {
            let msg = format!(
                "no call, workload or probe names pool `{}` (`pool: \"{}\"`, `lane: Pool(\"{}\")`): its workers never work",
                pool.name, pool.name, pool.name
            );
            ck.warn(&at.field("pools").named(k, &pool.name), msg);
        }
    }
}

/// Envoy's outlier detection with settings that can never eject.
fn outlier(ck: &mut Checker, svc: &Service, o: &OutlierSpec, at: &At) {
    let n = svc
        .autoscale
        .as_ref()
        .map_or(svc.instances, |a| a.max.max(svc.instances));
    let one_share = 100.0 / f64::from(n.max(1));
    if one_share > f64::from(o.max_ejection_percent) && !o.always_eject_one_host {
        let msg = format!(
            "no instance can ever be ejected: Envoy ejects one only while the ejected would be at most `max_ejection_percent` ({}%) of the instances, and one of {n} is {one_share:.0}%; raise it to {} or set `always_eject_one_host: true`",
            o.max_ejection_percent,
            one_share.ceil()
        );
        ck.warn(&at.field("max_ejection_percent"), msg);
    }
    let written = |ck: &Checker, f: &str| ck.written(&at.field(f));
    if written(ck, "consecutive_gateway_failure") && o.enforcing_consecutive_gateway_failure == 0 {
        let msg = "gateway failures eject nothing while `enforcing_consecutive_gateway_failure` is 0 (Envoy's default); set it to 100".into();
        ck.warn(&at.field("consecutive_gateway_failure"), msg);
    }
    let detectors = [
        (
            "success_rate",
            "success rate",
            o.enforcing_success_rate,
            o.success_rate_minimum_hosts,
        ),
        (
            "failure_percentage",
            "failure percentage",
            o.enforcing_failure_percentage,
            o.failure_percentage_minimum_hosts,
        ),
    ];
    for (prefix, what, enforcing, min_hosts) in detectors {
        let fields = [
            "threshold",
            "minimum_hosts",
            "request_volume",
            "stdev_factor",
        ];
        let Some(field) = (fields.iter())
            .map(|f| format!("{prefix}_{f}"))
            .find(|f| written(ck, f))
        else {
            continue;
        };
        let msg = if enforcing == 0 {
            format!("{what} ejection is off while `enforcing_{prefix}` is 0; set it above 0")
        } else if min_hosts > n {
            format!("{what} ejection needs `{prefix}_minimum_hosts` ({min_hosts}) instances with enough requests, and the service has {n}: it never ejects")
        } else {
            continue;
        };
        ck.warn(&at.field(&field), msg);
    }
    if written(ck, "successful_active_health_check_uneject_host") && svc.health.is_none() {
        let msg = "the service has no active `health` checks to return ejected instances".into();
        ck.warn(
            &at.field("successful_active_health_check_uneject_host"),
            msg,
        );
    }
}

/// The defences of one call that can never act given the rest of the call.
fn call(ck: &mut Checker, step: &Step, at: &At) {
    let Step::Call {
        probability,
        timeout,
        retry: r,
        breaker,
        bulkhead,
        hedge,
        throttle,
        ..
    } = step
    else {
        return;
    };
    if *probability == 0.0 {
        ck.warn(&at.field("probability"), "the call is never made".into());
    }
    if let Some(r) = r {
        let present = [breaker.is_some(), bulkhead.is_some(), throttle.is_some()];
        retry(ck, r, &at.field("retry"), present, hedge.is_some());
    }
    if let Some(b) = breaker {
        breaker_window(ck, b, &at.field("breaker"));
        if let Some(t) = timeout {
            never_slow(ck, b, *t, &at.field("breaker"));
        }
    }
    let retries = r.as_ref().is_some_and(|r| r.attempts > 1);
    if matches!(throttle, Some(ThrottleSpec::GrpcRetry { .. })) && !retries && hedge.is_none() {
        let msg = "gRPC retry throttling holds back retries and hedges, and this call makes neither: it never acts".into();
        ck.warn(&at.field("throttle"), msg);
    }
    if hedge.as_ref().is_some_and(|h| h.max == 0) {
        let msg = "`max: 0` allows no extra attempt: the call never hedges".into();
        ck.warn(&at.field("hedge").field("max"), msg);
    }
}

/// A retry of one attempt (unless its budget bounds the call's hedges), of nothing, or of
/// refusals by a defence the caller does not have.
/// `present`: whether the call has a breaker, a bulkhead, a throttle (a workload's client has
/// none of its own to refuse with, so its retries are not judged on that).
/// `hedged`: the call hedges, so that a budget here bounds its hedges even with one attempt.
fn retry(ck: &mut Checker, r: &RetrySpec, at: &At, present: [bool; 3], hedged: bool) {
    if r.attempts == 1 {
        if !(hedged && r.budget.is_some()) {
            let msg = "one attempt in all makes no retry: `attempts` counts the first try (Envoy's `num_retries: 1` is `attempts: 2`)".into();
            ck.warn(&at.field("attempts"), msg);
        }
        return;
    }
    if r.on.is_empty() {
        ck.warn(&at.field("on"), "nothing is retried: `on` is empty".into());
    }
    let needs = [
        (RetryOn::BreakerOpen, "breaker"),
        (RetryOn::BulkheadFull, "bulkhead"),
        (RetryOn::Throttled, "throttle"),
    ];
    for ((on, defence), has) in needs.into_iter().zip(present) {
        if r.on.contains(&on) && !has {
            let msg = format!("`{on:?}` is retried, but the call has no `{defence}` to refuse it");
            ck.warn(&at.field("on"), msg);
        }
    }
}

/// An attempt lasts at most the call's `timeout`: with a longer `slow_call_duration`, no call is
/// ever slow, and the slow-call settings written never act.
fn never_slow(ck: &mut Checker, b: &BreakerSpec, timeout: Dur, at: &At) {
    let written = ["slow_call_duration", "slow_call_rate"]
        .into_iter()
        .find(|f| ck.written(&at.field(f)));
    if let Some(field) = written.filter(|_| b.slow_call_duration > timeout) {
        let msg = format!(
            "no call is ever slow: attempts end at the call's `timeout` ({}), and a call is slow only when it lasts longer than `slow_call_duration` ({})",
            timeout.0, b.slow_call_duration.0
        );
        ck.warn(&at.field(field), msg);
    }
}

/// A count window never holds more calls than its size: a larger `min_calls` is never reached.
fn breaker_window(ck: &mut Checker, b: &BreakerSpec, at: &At) {
    if let Window::Count(n) = b.window {
        if b.min_calls > n {
            let msg = format!(
                "the breaker never opens: its window holds the last {n} calls, fewer than `min_calls` ({})",
                b.min_calls
            );
            ck.warn(&at.field("min_calls"), msg);
        }
    }
}
