//! Building a run's state from the compiled world: every part's state and random streams, then
//! the first events (arrivals, ticks, warm-up end, fault schedules, health checks, reviews,
//! rollouts, autoscalers).

use super::*;

impl<'w> ServiceModel<'w> {
    pub(super) fn new(world: &'w World, rngs: RngFactory) -> Self {
        let n_buckets = world.n_buckets();
        let series = Series::zeros(world.resolution.as_ns(), n_buckets);
        let services = world
            .services
            .iter()
            .enumerate()
            .map(|(si, s)| ServiceStats {
                measured: Ledger::default(),
                all: Ledger::default(),
                latency: LatencyStats::new(),
                started: 0,
                waited: 0,
                wait_sum_ns: 0,
                wasted_ns: 0,
                busy_now: 0,
                queue_now: 0,
                busy_area: 0,
                queue_area: 0,
                last_change_ns: 0,
                series: series.clone(),
                corrupt: 0,
                up_now: s.n_instances,
                up_ns: vec![0; s.n_instances as usize + 1],
                up_since_ns: 0,
                recovery: Default::default(),
                sessions_lost: 0,
                slow_series: world
                    .alerts
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.service as usize == si)
                    .filter_map(|(k, a)| match a.rule {
                        crate::world::AlertKind::LatencyP99(t) => {
                            Some((k as u32, t, vec![0; n_buckets]))
                        }
                        _ => None,
                    })
                    .collect(),
            })
            .collect();
        let workloads = world
            .workloads
            .iter()
            .map(|w| WorkloadState {
                arrival_rng: rngs.stream(&format!("workload:{}", w.name), "arrivals"),
                client_out_rng: rngs.stream(&format!("workload:{}", w.name), "client-out"),
                client_back_rng: rngs.stream(&format!("workload:{}", w.name), "client-back"),
                retry_rng: rngs.stream(&format!("workload:{}", w.name), "retry"),
                far_rng: rngs.stream(&format!("workload:{}", w.name), "cross-region"),
                timeouts: 0,
                corrupt: 0,
                series_ok: vec![0; n_buckets],
                series_bad: vec![0; n_buckets],
                users_rng: rngs.stream(&format!("workload:{}", w.name), "users"),
                sessions: if world.services[w.entry as usize]
                    .recovery
                    .local_sessions_ttl_ns
                    .is_some()
                {
                    vec![(NONE, 0); w.users as usize]
                } else {
                    Vec::new()
                },
                retries: 0,
                measured: Ledger::default(),
                all: Ledger::default(),
                latency: LatencyStats::new(),
            })
            .collect();
        let edges = world
            .calls
            .iter()
            .map(|c| {
                let (from, to) = (
                    &world.services[c.from as usize].name,
                    &world.services[c.to as usize].name,
                );
                let name = format!("edge:{from}->{to}");
                let callers = world.services[c.from as usize].n_instances as usize;
                EdgeState {
                    rngs: [rngs.stream(&name, "request"), rngs.stream(&name, "reply")],
                    skip_rng: rngs.stream(&name, "skip"),
                    chain: EdgeChain::new(&c.policy, callers, &rngs, &name),
                    stats: EdgeResult {
                        from: from.clone(),
                        to: to.clone(),
                        breaker_open: if c.policy.breaker.is_some() {
                            vec![0; n_buckets]
                        } else {
                            Vec::new()
                        },
                        ..EdgeResult::default()
                    },
                }
            })
            .collect();
        let instances = world
            .instances
            .iter()
            .map(|i| InstanceState {
                limit: world.services[i.service_idx as usize].concurrency.clone(),
                pools: (0..=world.services[i.service_idx as usize].pools.len())
                    .map(|_| PoolState {
                        busy: 0,
                        queue: VecDeque::new(),
                    })
                    .collect(),
                outstanding: 0,
                host: i.host_idx,
            })
            .collect();
        let process = world
            .instances
            .iter()
            .enumerate()
            .map(|(k, i)| {
                let def = &world.services[i.service_idx as usize];
                let n_initial = def.recovery.autoscale.map_or(def.n_instances, |a| a.0);
                Process::new((k as u32 - def.first_instance) < n_initial)
            })
            .collect();
        let svc_name = |s: &crate::world::ServiceDef| format!("svc:{}", s.name);
        let work_rngs = world
            .services
            .iter()
            .map(|s| rngs.stream(&svc_name(s), "work"))
            .collect();
        let svc_faults = world
            .services
            .iter()
            .map(|s| ServiceFaults::new(&rngs, &svc_name(s)))
            .collect();
        let rotations = world
            .services
            .iter()
            .map(|s| Rotation::new(&rngs, &svc_name(s)))
            .collect();
        let limits = world
            .services
            .iter()
            .map(|s| {
                let r = s.rate_limit.as_ref()?;
                Some(RateLimits::new(r, world.workloads.len()))
            })
            .collect();
        let mut stores = Vec::new();
        let mut store_of = vec![NONE; world.services.len()];
        for (s, def) in world.services.iter().enumerate() {
            if def.store.is_some() {
                store_of[s] = stores.len() as u32;
                let rng = rngs.stream(&format!("store:{}", def.name), "replication");
                stores.push(StoreState::new(def.first_instance, rng));
            }
        }
        let mut host_instances = vec![Vec::new(); world.hosts.len()];
        for (i, inst) in world.instances.iter().enumerate() {
            host_instances[inst.host_idx as usize].push(i as u32);
        }
        let mut fault_procs = Vec::new();
        let mut proc_base = Vec::new();
        let mut proc_owner = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for f in &world.faults {
            proc_base.push(fault_procs.len() as u32);
            // Streams are named by the fault's kind and targets (not its parameters) and its rank
            // among faults with that key, so adding a fault elsewhere, or changing a rate in a
            // variant, never shifts this one's draws.
            let rank = seen.iter().filter(|l| **l == f.key).count();
            seen.push(&f.key);
            // A chaos monkey's unit 0 kills; unit k + 1 ends the kill of its k-th target.
            let units = match f.effect {
                crate::world::FaultEffect::ChaosMonkey(_) => f.instances.len() + 1,
                _ if f.per_instance => f.instances.len().max(1),
                _ => 1,
            };
            for u in 0..units {
                proc_owner.push((proc_base.len() as u32 - 1, u as u32));
                fault_procs.push(FaultProc {
                    rng: rngs.stream(&format!("fault:{}#{rank}", f.key), &u.to_string()),
                });
            }
        }
        ServiceModel {
            hosts: vec![
                HostState {
                    down: 0,
                    slow: 1.0,
                    corrupt: 0.0
                };
                world.hosts.len()
            ],
            host_instances,
            active_links: Vec::new(),
            net_rng: rngs.stream("net", "loss"),
            proc_started: vec![0; fault_procs.len()],
            fault_procs,
            proc_base,
            proc_owner,
            edge_off: vec![0; world.calls.len()],
            alert_states: world
                .alerts
                .iter()
                .map(|_| AlertState {
                    firing: None,
                    holds_since: None,
                })
                .collect(),
            firings: Vec::new(),
            deploy_states: world
                .deploys
                .iter()
                .map(|_| DeployState {
                    started: false,
                    rolled_back: false,
                    switched: 0,
                })
                .collect(),
            log: Vec::new(),
            log_dropped: 0,
            msgs: Vec::new(),
            free_msgs: Vec::new(),
            waits: Vec::new(),
            free_waits: Vec::new(),
            write_ids: 0,
            occurrences: Vec::new(),
            scratch: Vec::new(),
            pending_failovers: Vec::new(),
            now_ns: 0,
            tracer: None,
            world,
            requests: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            calls: Vec::with_capacity(256),
            free_calls: Vec::with_capacity(256),
            live: 0,
            instances,
            work_rngs,
            svc_faults,
            rotations,
            limits,
            autoscale_busy: vec![0; world.services.len()],
            stores,
            store_of,
            process,
            health: vec![Health::default(); world.instances.len()],
            versions: vec![Version::default(); world.instances.len()],
            replicas: vec![Replica::default(); world.instances.len()],
            stats: services,
            workloads,
            edges,
            bucket: 0,
            n_buckets,
            guard_hit: None,
            keep_going: None,
        }
    }

    pub(super) fn start(&mut self, sim: &mut Sim<Event>) {
        for s in 0..self.stats.len() {
            self.recount_rotation(s);
            self.recount_up(s, 0);
        }
        for w in 0..self.world.workloads.len() as u32 {
            if let Some(t) = self.next_arrival(w, 0) {
                sim.schedule_at(SimTime::from_ns(t), Event::Arrival { workload: w });
            }
        }
        sim.schedule_at(SimTime::ZERO.after(self.world.resolution), Event::Tick);
        if self.world.warmup > SimTime::ZERO {
            sim.schedule_at(self.world.warmup, Event::WarmupEnd);
        }
        self.start_ops(sim);
    }

    /// Schedules faults, health checks, outlier reviews and rollouts.
    pub(super) fn start_ops(&mut self, sim: &mut Sim<Event>) {
        let horizon = self.world.horizon.as_ns();
        for (f, def) in self.world.faults.iter().enumerate() {
            let f = f as u32;
            let units = if def.per_instance {
                def.instances.len() as u32
            } else {
                1
            };
            match (&def.effect, &def.stochastic) {
                (FaultEffect::ChaosMonkey(mean), _) => {
                    let p = self.proc_base[f as usize] as usize;
                    let gap = exp_ns(&mut self.fault_procs[p].rng, *mean);
                    let t = def.start_ns.saturating_add(gap);
                    if t < def.end_ns.min(horizon) {
                        sim.schedule_at(SimTime::from_ns(t), self.fault_event(f, 0, true));
                    }
                }
                (FaultEffect::Pauses(every, _), _) => {
                    for u in 0..units {
                        let p = (self.proc_base[f as usize] + u) as usize;
                        let gap = every.sample(&mut self.fault_procs[p].rng).as_ns();
                        let t = def.start_ns.saturating_add(gap);
                        if t < def.end_ns.min(horizon) {
                            sim.schedule_at(SimTime::from_ns(t), self.fault_event(f, u, true));
                        }
                    }
                }
                (_, Some((mtbf, _))) => {
                    for u in 0..units {
                        let p = (self.proc_base[f as usize] + u) as usize;
                        let gap = mtbf.sample(&mut self.fault_procs[p].rng).as_ns();
                        let t = def.start_ns.saturating_add(gap);
                        if t < horizon {
                            sim.schedule_at(SimTime::from_ns(t), self.fault_event(f, u, true));
                        }
                    }
                }
                (_, None) => {
                    sim.schedule_at(SimTime::from_ns(def.start_ns), self.fault_event(f, 0, true));
                    if def.end_ns <= horizon {
                        sim.schedule_at(
                            SimTime::from_ns(def.end_ns),
                            self.fault_event(f, 0, false),
                        );
                    }
                }
            }
        }
        for (s, def) in self.world.services.iter().enumerate() {
            if let Some((.., every, _)) = def.recovery.autoscale {
                sim.schedule_at(
                    SimTime::from_ns(every),
                    Event::Autoscale { service: s as u32 },
                );
            }
            if let Some((interval, ..)) = def.recovery.health {
                sim.schedule_at(
                    SimTime::from_ns(interval),
                    Event::Health { service: s as u32 },
                );
            }
            if let Some((_, interval, ..)) = def.recovery.outlier {
                sim.schedule_at(
                    SimTime::from_ns(interval),
                    Event::OutlierReview { service: s as u32 },
                );
            }
        }
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
