//! `World::memory_estimate_bytes`: an upper bound on the memory a world and one run of it take,
//! worked out before the run from the compiled world's sizes and the run's guards, so that
//! `limits.memory_mib_max` can refuse a run that would not fit.
//!
//! Every structure a run holds is counted here, by what bounds it: the compiled world (hosts,
//! instances, the hosts each service may be placed on, faults' targets), per-instance state
//! (pools, process, health, probes, crash loops, versions, replicas, rotation sets, outlier
//! monitors), per-service and per-workload state and histograms, per-edge state (each caller's
//! breaker window, throttle, bulkhead, budget; hedging histograms; breaker transitions),
//! datastores (acknowledgement windows; replication messages, one per pending event), the
//! request and call slabs and the queues at `requests_in_flight_max`, the event queue at
//! `events_pending_max` (and the events a run schedules at its start), time series, the log,
//! fault occurrences and alert firings. A `Vec` or `VecDeque` grown by pushing can hold twice
//! what it needs, so whatever grows during a run is counted twice.
//!
//! The `memory` test target (`tests/memory/`) runs generated worlds under a counting allocator
//! and checks that the peak stays under this estimate.

use crate::results::LOG_MAX;
use crate::world::{AlertKind, World};

/// An HDR histogram of 1 ns .. 1 h at 3 significant digits: about 34k counters of 8 bytes (a
/// run that hands its histograms to a sweep builds one per service and workload).
const HISTOGRAM_BYTES: u64 = 34_000 * 8;
/// The hedging histogram of an edge with a percentile delay (2 significant digits).
const HEDGE_HISTOGRAM_BYTES: u64 = 64 * 1024;
/// A service's own state, compiled and in a run, apart from its instances, histogram and series
/// (definition, spec, stats, rotation, faults, random streams, limiters, detector, result).
const SERVICE_BYTES: u64 = 24 * 1024;
/// A workload's, likewise.
const WORKLOAD_BYTES: u64 = 12 * 1024;
/// An edge's, likewise, apart from its callers' defences.
const EDGE_BYTES: u64 = 12 * 1024;
/// Each caller instance's defences on one edge (breaker, throttle, bulkhead, budget), apart
/// from a breaker's window.
const CALLER_BYTES: u64 = 512;
/// An instance: its definition, pools' headers, process, health, crash loop, probes, version,
/// replica, load, rotation sets (per region too), outlier monitor, time up.
const INSTANCE_BYTES: u64 = 1024;
/// A pool of an instance.
const POOL_BYTES: u64 = 128;
/// A host: its definition and name, its state, its list of instances.
const HOST_BYTES: u64 = 512;
/// A fault's definition, stream name and labels, apart from its targets.
const FAULT_BYTES: u64 = 2048;
/// A fault's target unit: its failure process, owner, start time and (once it draws) stream.
const FAULT_UNIT_BYTES: u64 = 2 * 352;
/// A request in the slab (128 bytes and a free-list slot), its place in a queue, a bulkhead's
/// wait, a hung or parked process's list, and a datastore's wait; all grown by doubling.
const REQUEST_BYTES: u64 = 2 * (132 + 4 * 4 + 36);
/// A call in the slab (88 bytes and a free-list slot), grown by doubling (the in-flight guard
/// counts calls with requests).
const CALL_BYTES: u64 = 2 * 92;
/// A pending event: its heap entry (32 bytes) and timer slot (generation, liveness, free
/// list), grown by doubling.
const EVENT_BYTES: u64 = 2 * (32 + 9);
/// A replication message (48 bytes and a free-list slot), grown by doubling: at most one per
/// pending event.
const REPLICATION_BYTES: u64 = 2 * 52;
/// A datastore's acknowledgement window (`ACK_WINDOW_MAX` flags, doubled) and state.
const STORE_BYTES: u64 = 2 * (1 << 16) + 4096;
/// A log entry: the entry (doubled), its kind and its text (two names of at most 128
/// characters and the words around them).
const LOG_ENTRY_BYTES: u64 = 2 * 56 + 24 + 400;
/// Fault occurrences kept (`sim::OCCURRENCES_MAX`), each with its label.
const OCCURRENCES_MAX: u64 = crate::sim::OCCURRENCES_MAX as u64;
const OCCURRENCE_BYTES: u64 = 2 * 48 + 400;
/// Breaker transitions an edge keeps (`results::BREAKER_TRANSITIONS_MAX`), doubled.
const TRANSITION_BYTES: u64 = 2 * 32;
/// A link with a capacity: its definition and name, and its state in a run (capacities,
/// scratch space, bytes by class, flows), apart from its series.
const LINK_BYTES: u64 = 512;
/// A host's disk: its queues' headers and counters, apart from what waits and its series.
const DISK_BYTES: u64 = 256;
/// A flow on the links (88 bytes, its free-list slot, its place in the active list and its
/// scratch flag, doubled) or an operation waiting at a disk (smaller): the in-flight guard
/// bounds them.
const FLOW_BYTES: u64 = 2 * (88 + 4 + 4 + 1);
/// A rebuild's or a transfer's job.
const JOB_BYTES: u64 = 128;
/// What a run holds whatever its size: the engine, streams, the result's headers, and the
/// allocator's rounding of small blocks.
const BASE_BYTES: u64 = 1 << 20;
/// A key held by a cache instance: its entry (32 bytes, in a vector grown by doubling), its
/// slot in the hash map (8 bytes with control bytes, at 7/8 load, doubled) and its free slot.
const CACHE_KEY_BYTES: u64 = 2 * 32 + 2 * 10 + 4 + 8;
/// A cache instance's own state, and its fetches out.
const CACHE_INSTANCE_BYTES: u64 = 4096;
/// A message held by a broker instance: its slab entry (56 bytes, doubled) and its place in
/// the partition's ready list (doubled).
const MESSAGE_BYTES: u64 = 2 * 56 + 4 + 2 * 4;
/// Per request slot, what a delivery or a conditional write keeps beside it (doubled).
const REQUEST_SIDE_BYTES: u64 = 2 * (12 + 4);
/// A row's version in a datastore (a hash-map slot, doubled).
const ROW_BYTES: u64 = 2 * 10 + 8;

impl World {
    /// The most memory this world and one run of it can take, in bytes: see the module's doc.
    /// An upper bound by design (the `memory` test target runs generated worlds against it).
    pub fn memory_estimate_bytes(&self) -> u64 {
        [
            BASE_BYTES,
            self.places_bytes(),
            self.services_bytes(),
            self.edges_bytes(),
            self.in_flight_bytes(),
            self.series_bytes(),
            self.ledger_bytes(),
            self.state_bytes(),
            self.network_bytes(),
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Hosts, instances and faults' targets.
    fn places_bytes(&self) -> u64 {
        let hosts = self.hosts.len() as u64 * HOST_BYTES;
        let pools_of = |s: u32| self.services[s as usize].pools.len() as u64 + 1;
        let instances: u64 = (self.instances.iter())
            .map(|i| INSTANCE_BYTES + POOL_BYTES * pools_of(i.service_idx))
            .sum();
        let faults: u64 = (self.faults.iter())
            .map(|f| {
                let targets = (f.instances.len() + f.hosts.len() + f.edges.len()) as u64 * 4;
                let links = f
                    .link
                    .as_ref()
                    .map_or(0, |l| (l.a.len() + l.b.len()) as u64 * 4);
                let units = f.instances.len() as u64 + 1;
                // A pick of instances, and the stream of per-message draws (a unit's size).
                let picked = f.pick.map_or(0, |_| f.instances.len() as u64 * 4);
                FAULT_BYTES + targets + links + picked + (units + 1) * FAULT_UNIT_BYTES
            })
            .sum();
        hosts + instances + faults
    }

    /// Services' and workloads' own state, histograms, users and datastores.
    fn services_bytes(&self) -> u64 {
        let services: u64 = (self.services.iter())
            .map(|s| {
                let store = if s.store.is_some() { STORE_BYTES } else { 0 };
                // The hosts its placement allows, and its time by instances up.
                let places = s.hosts.len() as u64 * 4 + (u64::from(s.n_instances) + 1) * 8;
                SERVICE_BYTES + HISTOGRAM_BYTES + store + places + s.pools.len() as u64 * 256
            })
            .sum();
        let workloads: u64 = (self.workloads.iter())
            .map(|w| {
                let rate = w.rate.points.len() as u64 * 16;
                WORKLOAD_BYTES + HISTOGRAM_BYTES + u64::from(w.users) * 16 + rate
            })
            .sum();
        let limiters = (self.services.iter())
            .filter(|s| s.rate_limit.is_some())
            .count() as u64
            * self.workloads.len() as u64
            * 64;
        services + workloads + limiters
    }

    /// Call edges: each caller instance's defences, hedging histograms, breaker transitions.
    fn edges_bytes(&self) -> u64 {
        (self.calls.iter())
            .map(|c| {
                let callers = u64::from(self.services[c.from as usize].n_instances);
                let policy = &c.policy;
                let window = policy.breaker.as_ref().map_or(0, |b| b.window_bytes());
                let hedge = match &policy.hedge {
                    Some(h) if h.percentile.is_some() => HEDGE_HISTOGRAM_BYTES,
                    _ => 0,
                };
                let transitions = if policy.breaker.is_some() {
                    crate::results::BREAKER_TRANSITIONS_MAX as u64 * TRANSITION_BYTES
                } else {
                    0
                };
                EDGE_BYTES + callers * (CALLER_BYTES + window) + hedge + transitions
            })
            .sum()
    }

    /// What grows with the load, at its guards: requests and calls in flight, pending events
    /// (and the replication messages they carry).
    fn in_flight_bytes(&self) -> u64 {
        // The guard counts requests and calls together; a handler may add a few after it.
        let requests = u64::from(self.requests_in_flight_max) + 1024;
        let stores = self.services.iter().any(|s| s.store.is_some());
        let per_event = EVENT_BYTES + if stores { REPLICATION_BYTES } else { 0 };
        // Flows and disk operations: at most `requests_in_flight_max` of them (`check_backlog`),
        // each perhaps carrying a replication message.
        let held = if !self.network.is_empty() || self.disk.is_some() {
            requests.saturating_mul(FLOW_BYTES + if stores { REPLICATION_BYTES } else { 0 })
        } else {
            0
        };
        requests
            .saturating_mul(REQUEST_BYTES + CALL_BYTES)
            .saturating_add(self.pending_bound().saturating_mul(per_event))
            .saturating_add(held)
    }

    /// The most events pending at once: the guard, plus what a run schedules before its first
    /// event (arrivals, ticks, faults, per-instance probes and collections, per-service
    /// checks, rollouts), which the guard does not see until the run starts.
    fn pending_bound(&self) -> u64 {
        let units: u64 = self
            .faults
            .iter()
            .map(|f| f.instances.len() as u64 + 1)
            .sum();
        let start = 2 * self.instances.len() as u64
            + 4 * self.services.len() as u64
            + self.workloads.len() as u64
            + units
            + self.deploys.len() as u64
            + 64;
        self.events_pending_max.saturating_add(start)
    }

    /// Time series: per service 8 counters a bucket, per workload 3, per edge 3, and per
    /// latency alert one at its service.
    fn series_bytes(&self) -> u64 {
        let buckets = self.n_buckets() as u64 + 1;
        let alerts = (self.alerts.iter())
            .filter(|a| matches!(a.rule, AlertKind::LatencyP99(_)))
            .count() as u64;
        let per_bucket = 8 * self.services.len() as u64
            + 3 * self.workloads.len() as u64
            + 3 * self.calls.len() as u64
            + alerts;
        // Alert firings: at most one every other bucket per alert.
        let firings = self.alerts.len() as u64 * (buckets / 2 + 1) * 2 * 96;
        buckets
            .saturating_mul(per_bucket * 8)
            .saturating_add(firings)
    }

    /// Caches at capacity, brokers at capacity, rows written and what requests keep beside
    /// them for deliveries and conditional writes.
    fn state_bytes(&self) -> u64 {
        let buckets = self.n_buckets() as u64 + 1;
        let caches: u64 = (self.services.iter())
            .filter_map(|s| s.cache.map(|c| (s, c)))
            .map(|(s, c)| {
                // A doorkeeper holds as many keys again.
                let keys = u64::from(c.capacity) * if c.second_miss { 2 } else { 1 };
                let per_instance = keys * CACHE_KEY_BYTES + CACHE_INSTANCE_BYTES;
                u64::from(s.n_instances) * per_instance + buckets * 16
            })
            .sum();
        let brokers: u64 = (self.services.iter())
            .filter_map(|s| s.broker.map(|b| (s, b)))
            .map(|(s, b)| {
                u64::from(s.n_instances) * u64::from(b.capacity) * MESSAGE_BYTES + buckets * 16
            })
            .sum();
        let cas = self.calls.iter().any(|c| c.cas);
        let side = if cas || brokers > 0 {
            (u64::from(self.requests_in_flight_max) + 1024) * REQUEST_SIDE_BYTES
        } else {
            0
        };
        // Rows: at most as many as the largest key space (capped: keys are drawn per request).
        let keys = (self.workloads.iter().filter_map(|w| w.keys.as_ref()))
            .chain(self.calls.iter().filter_map(|c| c.keys.as_ref()))
            .map(|k| u64::from(k.keys()))
            .max()
            .unwrap_or(0);
        let stores = (self.calls.iter().filter(|c| c.cas)).count() as u64;
        let rows = stores * keys.min(10_000_000) * ROW_BYTES;
        caches + brokers + side + rows
    }

    /// Links and disks with their series, flows and disk operations (together at most
    /// `events_pending_max`: the backlog guard), rebuilds' and transfers' jobs and chunks, and
    /// the requests' sizes.
    fn network_bytes(&self) -> u64 {
        if self.network.is_empty() && self.disk.is_none() && self.transfers.is_empty() {
            return 0;
        }
        let buckets = self.n_buckets() as u64 + 1;
        let rebuilding: u64 = (self.services.iter())
            .filter(|s| s.store.as_ref().is_some_and(|d| d.rebuild.is_some()))
            .map(|s| u64::from(s.n_instances))
            .sum();
        // A rebuild's slot is reused once its chunks drain: twice the copies, to be safe.
        let jobs = self.transfers.len() as u64 + 2 * rebuilding;
        let parallel = (self.transfers.iter().map(|t| t.parallel))
            .chain(
                self.services
                    .iter()
                    .filter_map(|s| s.store.as_ref().and_then(|d| d.rebuild).map(|r| r.parallel)),
            )
            .max()
            .unwrap_or(0);
        let links = self.network.links.len() as u64 + jobs;
        let disks = if self.disk.is_some() {
            self.hosts.len() as u64
        } else {
            0
        };
        let sizes = (u64::from(self.requests_in_flight_max) + 1024) * 8;
        // Flows and disk operations are in `in_flight_bytes`.
        (links * (LINK_BYTES + buckets * 8))
            .saturating_add(disks * (DISK_BYTES + buckets * 8))
            .saturating_add(jobs * (JOB_BYTES + u64::from(parallel) * 32))
            .saturating_add(2 * sizes)
    }

    /// The run's log, fault occurrences.
    fn ledger_bytes(&self) -> u64 {
        let log = LOG_MAX as u64 * LOG_ENTRY_BYTES;
        // Faults recur (stochastic ones, chaos monkeys), so any fault may fill the occurrences.
        let occurrences = if self.faults.is_empty() {
            0
        } else {
            OCCURRENCES_MAX * OCCURRENCE_BYTES
        };
        log + occurrences
    }
}
