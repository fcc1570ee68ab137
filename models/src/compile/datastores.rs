//! A datastore's settings: replication (sync, async or a quorum) and its lag, writes, reads from
//! replicas, and failover.

use super::check::{At, Checker};
use crate::dist::Dist;
use crate::spec::{DatastoreSpec, ReadFrom, Replication, Scenario, Service};
use crate::world::StoreDef;

/// Compiles a datastore's settings.
pub(super) fn build_store(
    ck: &mut Checker,
    spec: &Scenario,
    svc: &Service,
    d: &DatastoreSpec,
    at: &At,
    work: &Dist,
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
        fsync: d.fsync,
        rebuild: super::network::build_rebuild(ck, spec, d, &d_at),
        acks_needed,
        sync: d.replication == Replication::Sync,
        lag: ck.dist(&d_at.field("lag"), &d.lag),
        write: match &d.write {
            Some(w) => ck.dist(&d_at.field("write"), w),
            None => work.clone(),
        },
        reads_from_replicas: d.reads == ReadFrom::Replicas,
        read_your_writes: d.read_your_writes,
        replication_timeout_ns: d.replication_timeout.0.as_ns().max(1),
        failover: d
            .failover
            .as_ref()
            .map(|f| (f.detect_after.0.as_ns(), f.promote_in.0.as_ns())),
        lease_ns: lease_ns(d),
    }
}

/// The primary's lease (`u64::MAX`: none).
fn lease_ns(d: &DatastoreSpec) -> u64 {
    (d.failover.as_ref())
        .and_then(|f| f.lease)
        .map_or(u64::MAX, |l| l.0.as_ns())
}
