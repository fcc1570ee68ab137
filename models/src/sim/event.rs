//! The closed set of events of the service model. An event is at most 8 bytes (checked at
//! compile time): the queue moves events on every push and pop, so rare payloads live in side
//! tables and events carry their index.

/// One event of the service model.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Arrival {
        workload: u32,
    },
    Deliver {
        req: u32,
    },
    WorkDone {
        req: u32,
    },
    Reply {
        req: u32,
    },
    Timeout {
        req: u32,
    },
    Retry {
        call: u32,
    },
    Hedge {
        call: u32,
    },
    /// A client's backoff before retrying a workload request ends.
    ClientRetry {
        req: u32,
    },
    BulkheadWait {
        call: u32,
    },
    /// A fault starts or ends at one of its targets: `proc` is a failure process, one per fault
    /// and target (see `ServiceModel::proc_owner`). Events stay 8 bytes: the queue moves them.
    Fault {
        proc: u32,
        start: bool,
    },
    /// Health checks of a service's instances are due.
    Health {
        service: u32,
    },
    /// Outlier ejections of a service are reviewed.
    OutlierReview {
        service: u32,
    },
    /// A replacement instance has started.
    Replaced {
        instance: u32,
    },
    /// A process killed (out of memory, or by its liveness probe) restarts after its back-off.
    Restart {
        instance: u32,
        /// Which kill of the instance it ends (`CrashLoop::gen`): a restart whose process was
        /// replaced meanwhile ends nothing.
        kill: u16,
    },
    /// An instance's liveness probe is due.
    Liveness {
        instance: u32,
    },
    /// A garbage-collection pause of an instance starts, or ends (`end`).
    Gc {
        instance: u32,
        end: bool,
    },
    /// A probe answered through an instance's queue (`req`) is out of time.
    ProbeTimeout {
        req: u32,
    },
    /// A replication message reaches a replica.
    Replicate {
        msg: u32,
    },
    /// A replica's acknowledgement reaches the primary.
    ReplicaAck {
        msg: u32,
    },
    /// A write waited too long for its replicas.
    ReplTimeout {
        wait: u32,
    },
    /// A datastore's failover completes (if still needed).
    Failover {
        service: u32,
        /// Which loss of the primary it is for (`StoreState::down_gen`).
        epoch: u16,
    },
    /// A client gives up on its request.
    ClientTimeout {
        req: u32,
    },
    /// Step `step` of a rollout.
    Deploy {
        deploy: u16,
        step: u32,
    },
    Rollback {
        deploy: u32,
    },
    /// An autoscaler looks at a service's utilization.
    Autoscale {
        service: u32,
    },
    /// An instance the autoscaler started takes load.
    ScaleUp {
        instance: u32,
    },
    /// A delivered message's visibility timeout (cancelled when it is acknowledged).
    Visibility {
        msg: u32,
    },
    /// Step `step` of an operator's action (a rolling restart's steps are its instances).
    Action {
        action: u16,
        step: u32,
    },
    /// The earliest of the flows on the links finishes (one cancellable timer for them all).
    Net,
    /// A host's disk finishes its operation.
    DiskDone {
        host: u32,
    },
    /// A chunk of a rebuild or a transfer reaches its target (`stage` 0), or a job may send
    /// more (`stage` 1: `chunk` is the job).
    Chunk {
        chunk: u32,
        stage: u8,
    },
    Tick,
    WarmupEnd,
}

/// Events are moved through the heap on every push and pop: keep them 8 bytes.
const _: () = assert!(std::mem::size_of::<Event>() <= 8);

impl Event {
    /// The event's code and entity, folded into the run digest. The codes are the digest's
    /// alphabet: they never change (a change rewrites every golden digest), and no two kinds
    /// share one (tested).
    #[inline]
    pub fn digest_key(&self) -> (u32, u64) {
        let entity = match *self {
            Event::Arrival { workload } => u64::from(workload),
            Event::Deliver { req }
            | Event::WorkDone { req }
            | Event::Reply { req }
            | Event::Timeout { req }
            | Event::ClientRetry { req }
            | Event::ClientTimeout { req }
            | Event::ProbeTimeout { req } => u64::from(req),
            Event::Retry { call } | Event::Hedge { call } | Event::BulkheadWait { call } => {
                u64::from(call)
            }
            Event::Fault { proc, start } => u64::from(proc) << 1 | u64::from(start),
            Event::Health { service }
            | Event::OutlierReview { service }
            | Event::Autoscale { service } => u64::from(service),
            Event::Replaced { instance }
            | Event::ScaleUp { instance }
            | Event::Restart { instance, .. }
            | Event::Liveness { instance } => u64::from(instance),
            Event::Gc { instance, end } => u64::from(instance) << 1 | u64::from(end),
            Event::Replicate { msg } | Event::ReplicaAck { msg } | Event::Visibility { msg } => {
                u64::from(msg)
            }
            Event::ReplTimeout { wait } => u64::from(wait),
            Event::Failover { service, epoch } => u64::from(service) << 32 | u64::from(epoch),
            Event::Deploy { deploy, step } => u64::from(deploy) << 32 | u64::from(step),
            Event::Action { action, step } => u64::from(action) << 32 | u64::from(step),
            Event::Rollback { deploy } => u64::from(deploy),
            Event::Tick | Event::WarmupEnd | Event::Net => 0,
            Event::DiskDone { host } => u64::from(host),
            Event::Chunk { chunk, stage } => u64::from(chunk) << 8 | u64::from(stage),
        };
        (self.code(), entity)
    }

    /// The event's code in the digest.
    #[inline]
    pub fn code(&self) -> u32 {
        match self {
            Event::Arrival { .. } => 1,
            Event::Deliver { .. } => 2,
            Event::WorkDone { .. } => 3,
            Event::Reply { .. } => 4,
            Event::Tick => 5,
            Event::WarmupEnd => 6,
            Event::Timeout { .. } => 7,
            Event::Retry { .. } => 8,
            Event::BulkheadWait { .. } => 9,
            Event::Fault { .. } => 10,
            Event::Hedge { .. } => 11,
            Event::ClientRetry { .. } => 12,
            Event::Health { .. } => 13,
            Event::OutlierReview { .. } => 14,
            Event::Replaced { .. } => 15,
            Event::Replicate { .. } => 16,
            Event::ReplicaAck { .. } => 17,
            Event::ReplTimeout { .. } => 18,
            Event::Failover { .. } => 19,
            Event::ClientTimeout { .. } => 20,
            Event::Deploy { .. } => 21,
            Event::Rollback { .. } => 22,
            Event::Autoscale { .. } => 23,
            Event::ScaleUp { .. } => 24,
            Event::Restart { .. } => 25,
            Event::Liveness { .. } => 26,
            Event::ProbeTimeout { .. } => 27,
            Event::Gc { .. } => 28,
            Event::Visibility { .. } => 29,
            Event::Action { .. } => 30,
            Event::Net => 31,
            Event::DiskDone { .. } => 32,
            Event::Chunk { .. } => 33,
        }
    }

    /// The event kind's name, as ARCHITECTURE.md lists it.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Arrival { .. } => "Arrival",
            Event::Deliver { .. } => "Deliver",
            Event::WorkDone { .. } => "WorkDone",
            Event::Reply { .. } => "Reply",
            Event::Tick => "Tick",
            Event::WarmupEnd => "WarmupEnd",
            Event::Timeout { .. } => "Timeout",
            Event::Retry { .. } => "Retry",
            Event::BulkheadWait { .. } => "BulkheadWait",
            Event::Fault { .. } => "Fault",
            Event::Hedge { .. } => "Hedge",
            Event::ClientRetry { .. } => "ClientRetry",
            Event::Health { .. } => "Health",
            Event::OutlierReview { .. } => "OutlierReview",
            Event::Replaced { .. } => "Replaced",
            Event::Restart { .. } => "Restart",
            Event::Liveness { .. } => "Liveness",
            Event::ProbeTimeout { .. } => "ProbeTimeout",
            Event::Gc { .. } => "Gc",
            Event::Replicate { .. } => "Replicate",
            Event::ReplicaAck { .. } => "ReplicaAck",
            Event::ReplTimeout { .. } => "ReplTimeout",
            Event::Failover { .. } => "Failover",
            Event::ClientTimeout { .. } => "ClientTimeout",
            Event::Deploy { .. } => "Deploy",
            Event::Rollback { .. } => "Rollback",
            Event::Autoscale { .. } => "Autoscale",
            Event::ScaleUp { .. } => "ScaleUp",
            Event::Visibility { .. } => "Visibility",
            Event::Action { .. } => "Action",
            Event::Net => "Net",
            Event::DiskDone { .. } => "DiskDone",
            Event::Chunk { .. } => "Chunk",
        }
    }

    /// One event of every kind (for tests and for checking ARCHITECTURE.md's list).
    pub fn one_of_each() -> Vec<Event> {
        vec![
            Event::Arrival { workload: 0 },
            Event::Deliver { req: 0 },
            Event::WorkDone { req: 0 },
            Event::Reply { req: 0 },
            Event::Tick,
            Event::WarmupEnd,
            Event::Timeout { req: 0 },
            Event::Retry { call: 0 },
            Event::BulkheadWait { call: 0 },
            Event::Fault {
                proc: 0,
                start: true,
            },
            Event::Hedge { call: 0 },
            Event::ClientRetry { req: 0 },
            Event::Health { service: 0 },
            Event::OutlierReview { service: 0 },
            Event::Replaced { instance: 0 },
            Event::Restart {
                instance: 0,
                kill: 0,
            },
            Event::Liveness { instance: 0 },
            Event::ProbeTimeout { req: 0 },
            Event::Gc {
                instance: 0,
                end: false,
            },
            Event::Replicate { msg: 0 },
            Event::ReplicaAck { msg: 0 },
            Event::ReplTimeout { wait: 0 },
            Event::Failover {
                service: 0,
                epoch: 0,
            },
            Event::ClientTimeout { req: 0 },
            Event::Deploy { deploy: 0, step: 0 },
            Event::Rollback { deploy: 0 },
            Event::Autoscale { service: 0 },
            Event::ScaleUp { instance: 0 },
            Event::Visibility { msg: 0 },
            Event::Action { action: 0, step: 0 },
            Event::Net,
            Event::DiskDone { host: 0 },
            Event::Chunk { chunk: 0, stage: 0 },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code_and_name() {
        let all = Event::one_of_each();
        let mut codes: Vec<u32> = all.iter().map(Event::code).collect();
        let mut names: Vec<&str> = all.iter().map(Event::name).collect();
        codes.sort_unstable();
        codes.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!(codes.len(), all.len(), "two kinds share a digest code");
        assert_eq!(names.len(), all.len(), "one_of_each lists a kind twice");
        assert_eq!(
            codes,
            (1..=all.len() as u32).collect::<Vec<_>>(),
            "codes are 1..=n"
        );
    }

    #[test]
    fn the_entity_tells_apart_what_the_code_does_not() {
        let a = Event::Fault {
            proc: 3,
            start: true,
        }
        .digest_key();
        let b = Event::Fault {
            proc: 3,
            start: false,
        }
        .digest_key();
        assert_ne!(a, b);
        assert_eq!(
            Event::Deploy { deploy: 1, step: 2 }.digest_key(),
            (21, 1 << 32 | 2)
        );
    }
}
