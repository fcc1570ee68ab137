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
    Tick,
    WarmupEnd,
}
