//! Key spaces (`keys` on workloads and calls) and caches (`cache` on services).

use super::check::{At, Checker};
use crate::spec::{CacheSpec, Keys, Service};
use crate::world::{CacheDef, CallDef, KeyDist};

/// The largest key space: keys are `u32`s, one value kept for "no key".
const KEYS_MAX: u64 = u32::MAX as u64 - 1;
/// The most keys one instance's cache may hold (its entries are allocated as it fills).
const CAPACITY_MAX: u64 = 100_000_000;

/// Checks and compiles a key space written at `at`.
pub(super) fn key_dist(ck: &mut Checker, at: &At, keys: &Keys) -> Option<KeyDist> {
    let n = match *keys {
        Keys::Zipf { n, .. } | Keys::Uniform { n } => n,
    };
    if n == 0 || n > KEYS_MAX {
        let msg = format!("a key space has from 1 to {KEYS_MAX} keys, not {n}");
        ck.report(&at.field("n"), msg, None);
        return None;
    }
    match *keys {
        Keys::Uniform { .. } => Some(KeyDist::Uniform { n: n as u32 }),
        Keys::Zipf { s, .. } => {
            if !(s.is_finite() && (0.0..=10.0).contains(&s)) {
                let msg = format!("a Zipf exponent `s` is from 0 to 10, not `{s}`");
                ck.report(&at.field("s"), msg, None);
                return None;
            }
            let z = rand_distr::Zipf::new(n as f64, s).ok()?;
            Some(KeyDist::Zipf { n: n as u32, z })
        }
    }
}

/// Checks and compiles service `svc`'s cache; its calls are `calls[steps]`, and the call it
/// fronts is marked `fronted`.
pub(super) fn build_cache(
    ck: &mut Checker,
    svc: &Service,
    names: &[&str],
    steps: &[(u32, u32)],
    calls: &mut [CallDef],
    at: &At,
) -> Option<CacheDef> {
    let spec: &CacheSpec = svc.cache.as_ref()?;
    let at = at.field("cache");
    if spec.capacity == 0 || spec.capacity > CAPACITY_MAX {
        let msg = format!(
            "a cache holds from 1 to {CAPACITY_MAX} keys per instance, not {}",
            spec.capacity
        );
        ck.report(&at.field("capacity"), msg, None);
    }
    ck.fraction(&at.field("ttl_jitter"), "`ttl_jitter`", spec.ttl_jitter);
    if let Some(beta) = spec.early_expiry {
        if spec.ttl.is_none() {
            let msg = "`early_expiry` refreshes entries before their `ttl`: give the cache a `ttl`";
            ck.report(&at.field("early_expiry"), msg.into(), None);
        } else if !(beta.is_finite() && beta > 0.0 && beta <= 100.0) {
            let msg =
                format!("`early_expiry` (XFetch's β) is above 0 and at most 100, not `{beta}`");
            ck.report(&at.field("early_expiry"), msg, None);
        }
    }
    if spec.ttl.is_some_and(|t| t.0.as_ns() == 0) {
        ck.report(
            &at.field("ttl"),
            "a `ttl` of zero keeps nothing: leave it out or make it positive".into(),
            None,
        );
    }
    let fronts = fronted_edge(ck, svc, names, steps, calls, &at)?;
    calls[fronts as usize].fronted = true;
    Some(CacheDef {
        capacity: spec.capacity.clamp(1, CAPACITY_MAX) as u32,
        fronts,
        ttl_ns: spec.ttl.map_or(u64::MAX, |t| t.0.as_ns()),
        ttl_jitter: spec.ttl_jitter,
        coalesce: spec.coalesce,
        early_expiry: spec.early_expiry,
        second_miss: spec.admission == crate::spec::Admission::SecondMiss,
    })
}

/// The one edge of the service's calls to the service `fronts` names.
fn fronted_edge(
    ck: &mut Checker,
    svc: &Service,
    names: &[&str],
    steps: &[(u32, u32)],
    calls: &[CallDef],
    at: &At,
) -> Option<u32> {
    let name = svc.cache.as_ref()?.fronts.as_str();
    let at = at.field("fronts");
    let Some(to) = names.iter().position(|n| *n == name) else {
        ck.unknown(&at, "service", name, names);
        return None;
    };
    let edges: Vec<u32> = steps
        .iter()
        .flat_map(|&(start, len)| start..start + len)
        .filter(|&e| calls[e as usize].to as usize == to)
        .collect();
    match edges.as_slice() {
        [e] => Some(*e),
        [] => {
            let msg = format!("the cache fronts `{name}`, but `{}` does not call it: add `Call(to: \"{name}\")` to its `calls`", svc.name);
            ck.report(&at, msg, None);
            None
        }
        _ => {
            let msg = format!("the cache fronts `{name}`, which `{}` calls more than once (or with a `fan_out`): a cache fronts one call", svc.name);
            ck.report(&at, msg, None);
            None
        }
    }
}
