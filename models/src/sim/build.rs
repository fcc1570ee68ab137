//! Building a run's state from the compiled world: every part's state and random streams, then
//! the first events (arrivals, ticks, warm-up end, fault schedules, health checks, reviews,
//! rollouts, autoscalers).

use super::*;

impl<'w> ServiceModel<'w> {
    pub(super) fn new(world: &'w World, rngs: RngFactory) -> Self {
        let n_buckets = world.n_buckets();
        let n_services = world.services.len();
        let n_instances = world.instances.len();
        let (stores, store_of) = stores(world, &rngs);
        let (work_rngs, reject_rngs) = service_streams(world, &rngs);
        ServiceModel {
            world,
            requests: Slab::with_capacity(1024),
            calls: Slab::with_capacity(256),
            live: 0,
            instances: per_instance(world),
            host_of: world.instances.iter().map(|i| i.host_idx).collect(),
            process: processes(world),
            health: vec![Health::default(); n_instances],
            crash_loops: vec![CrashLoop::default(); n_instances],
            probes: vec![Probes::default(); n_instances],
            outliers: outliers(world, &rngs),
            versions: vec![Version::default(); n_instances],
            replicas: vec![Replica::default(); n_instances],
            work_rngs,
            reject_rngs,
            svc_faults: service_faults(world, &rngs),
            rotations: per_service_rotation(world, &rngs),
            load: vec![0; n_instances],
            limits: rate_limits(world),
            autoscale_busy: vec![0; n_services],
            stores,
            store_of,
            caches: cache::Caches::new(world, &rngs, n_buckets),
            queues: queues::Queues::new(world, n_buckets),
            rows: contention::Rows::new(world),
            actions: actions::Actions::new(world, &rngs),
            stats: (0..n_services)
                .map(|s| ServiceStats::new(world, s, n_buckets))
                .collect(),
            workloads: per_workload(world, &rngs, n_buckets),
            edges: per_edge(world, &rngs, n_buckets),
            skips: world.calls.iter().map(Skip::new).collect(),
            bucket: 0,
            n_buckets,
            guard_hit: None,
            keep_going: None,
            hosts: vec![HostState::default(); world.hosts.len()],
            host_instances: host_instances(world),
            active_links: Vec::new(),
            edge_faults: Vec::new(),
            net_rng: rngs.stream("net", "loss"),
            schedule: FaultSchedule::new(world, &rngs),
            edge_off: vec![0; world.calls.len()],
            alert_states: vec![AlertState::default(); world.alerts.len()],
            firings: Vec::new(),
            deploy_states: vec![DeployState::default(); world.deploys.len()],
            log: Vec::new(),
            log_dropped: 0,
            msgs: Slab::with_capacity(0),
            waits: Slab::with_capacity(0),
            write_ids: 0,
            occurrences: Vec::new(),
            pending_failovers: Vec::new(),
            now_ns: 0,
            tracer: None,
            net: net::Fluid::for_world(world),
            sizes: net::Sizes::new(world, &rngs),
            disks: disk::Disk::per_host(world),
            bulk: bulk::Bulk::new(world),
            disk_waiting: 0,
            disk_series: vec![Vec::new(); world.disk.as_ref().map_or(0, |_| world.hosts.len())],
        }
    }

    pub(super) fn start(&mut self, sim: &mut Sim<Event>) {
        for s in 0..self.stats.len() {
            self.recount_rotation(s);
            self.recount_up(s, 0);
        }
        for w in 0..self.world.workloads.len() as u32 {
            if self.world.workloads[w as usize].consumes.is_some() {
                continue; // a consumer group's requests are deliveries
            }
            if let Some(t) = self.next_arrival(w, 0) {
                sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
            }
        }
        sim.schedule_at(SimTime::ZERO.after(self.world.resolution), Event::Tick);
        if self.world.warmup > SimTime::ZERO {
            sim.schedule_at(self.world.warmup, Event::WarmupEnd);
        }
        self.start_ops(sim);
        self.place_data();
        self.schedule_transfers(sim);
    }

    /// Schedules faults, health checks, outlier reviews, autoscalers, actions and rollouts.
    pub(super) fn start_ops(&mut self, sim: &mut Sim<Event>) {
        for f in 0..self.world.faults.len() as u32 {
            self.schedule_fault(sim, f);
        }
        for (s, def) in self.world.services.iter().enumerate() {
            if let Some(a) = def.recovery.autoscale {
                sim.schedule_at(
                    SimTime::from_ns(a.every_ns),
                    Event::Autoscale { service: s as u32 },
                );
            }
            if let Some(h) = def.recovery.health {
                sim.schedule_at(
                    SimTime::from_ns(h.interval_ns),
                    Event::Health { service: s as u32 },
                );
            }
            if let Some(gc) = def.memory.and_then(|m| m.gc) {
                // Each instance collects on its own: the first pauses spread over `every`.
                for k in 0..def.n_instances {
                    let phase = gc.every_ns / u64::from(def.n_instances) * u64::from(k + 1);
                    sim.schedule_at(
                        SimTime::from_ns(phase),
                        Event::Gc {
                            instance: def.first_instance + k,
                            end: false,
                        },
                    );
                }
            }
            if let Some(l) = def.recovery.liveness {
                // Each instance's prober runs on its own: the first probes are spread over the
                // first interval, as pods started apart are.
                for k in 0..def.n_instances {
                    let phase = l.interval_ns / u64::from(def.n_instances) * u64::from(k + 1);
                    sim.schedule_at(
                        SimTime::from_ns(l.initial_delay_ns.saturating_add(phase)),
                        Event::Liveness {
                            instance: def.first_instance + k,
                        },
                    );
                }
            }
            if let Some(o) = def.recovery.outlier {
                sim.schedule_at(
                    SimTime::from_ns(o.interval_ns),
                    Event::OutlierReview { service: s as u32 },
                );
            }
        }
        self.schedule_actions(sim);
        for (d, def) in self.world.deploys.iter().enumerate() {
            sim.schedule_at(
                SimTime::from_ns(def.at_ns),
                Event::Deploy {
                    deploy: d as u16,
                    step: 0,
                },
            );
        }
    }
}

/// The outlier detector of each service that has one, with its `svc:<name>/outlier` stream;
/// empty when none has one (then no answer looks up its callee's service for it).
fn outliers(world: &World, rngs: &RngFactory) -> Vec<Option<Detector>> {
    if world.services.iter().all(|s| s.recovery.outlier.is_none()) {
        return Vec::new();
    }
    (world.services.iter())
        .map(|s| {
            let policy = s.recovery.outlier?;
            let rng = rngs.stream(&format!("svc:{}", s.name), "outlier");
            Some(Detector::new(policy, s.n_instances, rng))
        })
        .collect()
}

/// The rate limiters of each service that has them.
fn rate_limits(world: &World) -> Vec<Option<Box<RateLimits>>> {
    (world.services.iter())
        .map(|s| {
            let def = s.rate_limit.as_ref()?;
            Some(Box::new(RateLimits::new(def, world.workloads.len())))
        })
        .collect()
}

/// The instances on each host, by host.
fn host_instances(world: &World) -> Vec<Vec<u32>> {
    let mut host_instances = vec![Vec::new(); world.hosts.len()];
    for (i, inst) in world.instances.iter().enumerate() {
        host_instances[inst.host_idx as usize].push(i as u32);
    }
    host_instances
}

/// Per service, its work draws (`svc:<name>/work`) and its refusals' (`/reject`).
fn service_streams(world: &World, rngs: &RngFactory) -> (Vec<Stream>, Vec<Stream>) {
    let name = |s: &ServiceDef| format!("svc:{}", s.name);
    let work = (world.services.iter())
        .map(|s| rngs.stream(&name(s), "work"))
        .collect();
    let reject = (world.services.iter())
        .map(|s| rngs.stream(&name(s), "reject"))
        .collect();
    (work, reject)
}

/// Per service: no fault in force yet, and the streams of its faults' effects.
fn service_faults(world: &World, rngs: &RngFactory) -> Vec<ServiceFaults> {
    (world.services.iter())
        .map(|s| ServiceFaults::new(rngs, &format!("svc:{}", s.name)))
        .collect()
}

/// Each workload's state: its arrivals, clients and users.
fn per_workload(world: &World, rngs: &RngFactory, n_buckets: usize) -> Vec<WorkloadState> {
    (world.workloads.iter())
        .map(|w| WorkloadState::new(world, w, rngs, n_buckets))
        .collect()
}

/// Each call edge's state: its draws, its chain of defences, its counters.
fn per_edge(world: &World, rngs: &RngFactory, n_buckets: usize) -> Vec<EdgeState> {
    (world.calls.iter())
        .map(|c| EdgeState::new(world, c, rngs, n_buckets))
        .collect()
}

/// Each instance as the request path sees it.
fn per_instance(world: &World) -> Vec<InstanceState> {
    (world.instances.iter())
        .map(|i| InstanceState::new(world, i))
        .collect()
}

/// Each service's rotation (its balancer's sets and draws).
fn per_service_rotation(world: &World, rngs: &RngFactory) -> Vec<Rotation> {
    (0..world.services.len())
        .map(|s| Rotation::new(rngs, world, s))
        .collect()
}
