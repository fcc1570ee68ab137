//! Operations on the running system: injected faults (instances, hosts, disks, links, whole
//! places, dependency behaviour), detection and recovery (health checks, outlier ejection,
//! replacement, slow start), datastores (replication, failover, the data ledger), alerts and
//! rollouts.
//!
//! ```text
//!  Fault(start) ─▶ crash: refuse connections, fail work │ host down: messages lost, work lost
//!                  hang: hold requests │ slow/leak/pauses: longer work │ link: lose/delay messages
//!  Health (every interval) ─▶ probes ─▶ unhealthy: out of load balancing ─▶ Replaced (start-up)
//!  caller sees failures ─▶ consecutive 5xx ─▶ ejected ─▶ OutlierReview ─▶ back (slow start)
//!  write at primary ─▶ Replicate (network + lag) ─▶ replica applies ─▶ ReplicaAck (sync, quorum)
//!  primary lost ─▶ Failover (detect + promote) ─▶ best replica; acked writes it lacks are lost
//!  Tick ─▶ alert rules over the last window ─▶ firing ─▶ Rollback of a rollout
//! ```
//!
//! Randomness: `fault:<kind and targets>#<k>/<unit>` per fault and target (failure and repair
//! times, chaos-monkey picks), so every variant sees the same fault schedule, whatever its
//! parameters; `net/loss` for lost
//! messages; `store:<name>/replication` for replication delays; `svc:<name>/faults` for draws of
//! instance-level effects.

use super::{Event, Outcome, Phase, ServiceModel, NONE};
use crate::results::{AlertFiring, LogEntry, LOG_MAX};
use crate::world::{AlertKind, FaultEffect};
use rand::RngExt;
use sim_core::{Sim, SimDuration, SimTime, Stream};
use std::collections::VecDeque;

/// A host's state.
#[derive(Clone, Debug, Default)]
pub(super) struct HostState {
    /// Host-level faults in force (host crash, disk lost, rack, zone, region).
    pub down: u32,
    pub slow: f64,
    pub corrupt: f64,
}

/// One stochastic failure process: a fault's target failing and being repaired at random.
pub(super) struct FaultProc {
    pub rng: Stream,
}

/// A datastore's replication state.
pub(super) struct StoreState {
    /// The instance that takes writes.
    pub primary: u32,
    /// Bumped at every failover; replication messages of an older epoch are dropped.
    pub epoch: u32,
    /// The last write stored at the primary.
    pub written: u64,
    /// The highest acknowledged write.
    pub acked_max: u64,
    /// Whether writes `base + 1 ..` were acknowledged.
    pub base: u64,
    pub acked: VecDeque<bool>,
    pub rng: Stream,
    /// Since when the primary has been unreachable.
    pub down_since: Option<u64>,
    /// Bumped each time the primary is lost, so that the failover timer of an earlier loss
    /// (the primary came back meanwhile) does nothing.
    pub down_gen: u16,
    pub result: crate::results::StoreResult,
}

/// A replication message (and, for synchronous and quorum writes, its acknowledgement).
#[derive(Copy, Clone, Debug)]
pub(super) struct ReplMsg {
    pub service: u32,
    pub replica: u32,
    pub from: u32,
    pub seq: u64,
    pub epoch: u32,
    /// The slot of the write waiting for it in `ServiceModel::waits` (`NONE` when nobody
    /// waits), and the write's identity (slots are reused).
    pub wait: u32,
    pub write_id: u32,
    /// When the write was stored, and when its message leaves the primary (after `lag`): a
    /// primary that dies in between never sends it.
    pub stored_ns: u64,
    pub leaves_ns: u64,
}

/// A write waiting for its replicas' acknowledgements.
#[derive(Copy, Clone, Debug)]
pub(super) struct Wait {
    pub req: u32,
    pub write_id: u32,
    pub seq: u64,
    /// The store's epoch when the write was stored: a failover since then makes it fail.
    pub epoch: u32,
    /// `None` once the wait is over.
    pub timer: Option<sim_core::TimerId>,
}

pub(super) struct AlertState {
    pub firing: Option<usize>,
    /// Since when the condition has held (for `for`).
    pub holds_since: Option<u64>,
}

pub(super) struct DeployState {
    pub started: bool,
    pub rolled_back: bool,
    pub switched: u32,
}

/// Window of acknowledgement flags kept per datastore.
const ACK_WINDOW_MAX: usize = 1 << 16;

impl ServiceModel<'_> {
    pub(super) fn log(&mut self, t_ns: u64, kind: &str, what: String) {
        if self.log.len() < LOG_MAX {
            self.log.push(LogEntry {
                t_ns,
                kind: kind.to_string(),
                what,
            });
        } else {
            self.log_dropped += 1;
        }
    }

    pub(super) fn instance_name(&self, i: u32) -> String {
        let s = self.world.instances[i as usize].service_idx as usize;
        let def = &self.world.services[s];
        format!("{}/{}", def.name, i - def.first_instance)
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

    /// A fault starts or ends at unit `unit` of its targets.
    #[cold]
    #[inline(never)]
    pub(super) fn on_fault(&mut self, sim: &mut Sim<Event>, fault: u32, unit: u32, start: bool) {
        let now = sim.now().as_ns();
        let world = self.world;
        let def = &world.faults[fault as usize];
        let horizon = world.horizon.as_ns();
        // The instances this event acts on.
        let one = |u: u32| -> &[u32] {
            if def.per_instance {
                std::slice::from_ref(&def.instances[u as usize])
            } else {
                &def.instances
            }
        };
        // When this occurrence started (for its end: whether a replacement has cleared it since).
        let p = (self.proc_base[fault as usize] + unit) as usize;
        if start {
            self.proc_started[p] = now;
        }
        let started = self.proc_started[p];
        let label = if def.per_instance && def.instances.len() > 1 {
            format!(
                "{} ({})",
                def.label,
                self.instance_name(def.instances[unit as usize])
            )
        } else {
            def.label.clone()
        };
        if !matches!(def.effect, FaultEffect::ChaosMonkey(_)) {
            if start {
                self.log(now, "fault_start", label.clone());
                self.occurrence_start(fault, unit, now, label);
            } else {
                self.log(now, "fault_end", label);
                self.occurrence_end(fault, unit, now);
            }
        }
        match &def.effect {
            FaultEffect::Slowdown(k) => {
                if def.instances.is_empty() {
                    let st = &mut self.services[def.service as usize];
                    st.slowdown = if start {
                        st.slowdown * k
                    } else {
                        st.slowdown / k
                    };
                } else {
                    for &i in one(unit) {
                        let inst = &mut self.instances[i as usize];
                        inst.slow = if start { inst.slow * k } else { inst.slow / k };
                    }
                }
            }
            FaultEffect::Errors(rate) => {
                let st = &mut self.services[def.service as usize];
                st.error_rate = combine(st.error_rate, *rate, start);
            }
            FaultEffect::Outage => {
                let s = def.service as usize;
                let st = &mut self.services[s];
                if start {
                    st.outages += 1;
                    if st.outages == 1 {
                        self.lose_work(sim, s);
                    }
                } else {
                    st.outages -= 1;
                }
            }
            FaultEffect::Crash => {
                for &i in one(unit) {
                    self.crash(sim, i, start, started);
                }
            }
            FaultEffect::Hang | FaultEffect::Pauses(..) => {
                for &i in one(unit) {
                    self.hang(sim, i, start, started);
                }
            }
            FaultEffect::Leak(rate) => {
                for &i in one(unit) {
                    let inst = &mut self.instances[i as usize];
                    if start {
                        inst.leak_per_min = *rate;
                        inst.leak_since_ns = now.max(inst.started_ns);
                    } else {
                        inst.leak_per_min = 0.0;
                    }
                }
            }
            FaultEffect::HostDown | FaultEffect::DiskLost => {
                let disk = matches!(def.effect, FaultEffect::DiskLost);
                for &h in &def.hosts {
                    self.host_down(sim, h, start, disk);
                }
            }
            FaultEffect::SlowDisk(k) => {
                for &h in &def.hosts {
                    let hs = &mut self.hosts[h as usize];
                    hs.slow = if start { hs.slow * k } else { hs.slow / k };
                }
            }
            FaultEffect::CorruptDisk(rate) => {
                for &h in &def.hosts {
                    let hs = &mut self.hosts[h as usize];
                    hs.corrupt = combine(hs.corrupt, *rate, start);
                }
            }
            FaultEffect::Partition | FaultEffect::Delay(_) | FaultEffect::Loss(_) => {
                if start {
                    self.active_links.push(fault);
                } else if let Some(k) = self.active_links.iter().position(|&x| x == fault) {
                    self.active_links.remove(k);
                }
            }
            FaultEffect::Corrupt(rate, detected) => {
                let st = &mut self.services[def.service as usize];
                st.corrupt_rate = combine(st.corrupt_rate, *rate, start);
                st.corrupt_detected = *detected;
            }
            FaultEffect::FailFast => {
                let st = &mut self.services[def.service as usize];
                if start {
                    st.fail_fast += 1;
                } else {
                    st.fail_fast -= 1;
                }
            }
            FaultEffect::ChaosMonkey(mean) => {
                let p = self.proc_base[fault as usize] as usize;
                if start && unit == 0 {
                    // A kill: a random instance among the targets.
                    let rng = &mut self.fault_procs[p].rng;
                    let k = rng.random_range(0..def.instances.len() as u32);
                    let next = now.saturating_add(exp_ns(rng, *mean));
                    let victim = def.instances[k as usize];
                    let name = self.instance_name(victim);
                    self.log(now, "fault_start", format!("{} kills {name}", def.label));
                    let end = if def.end_ns == u64::MAX {
                        u64::MAX
                    } else {
                        now.saturating_add(def.end_ns - def.start_ns)
                    };
                    self.occurrence_start(fault, k + 1, now, format!("{} ({name})", def.label));
                    if end != u64::MAX {
                        self.occurrence_end(fault, k + 1, end.min(horizon));
                    }
                    self.proc_started[p + 1 + k as usize] = now;
                    self.crash(sim, victim, true, now);
                    if end <= horizon {
                        sim.schedule_at(
                            SimTime::from_ns(end),
                            self.fault_event(fault, k + 1, false),
                        );
                    }
                    // A monkey with `lasts` restores its victims after `lasts`; it keeps
                    // killing until the end of the run.
                    if next < horizon {
                        sim.schedule_at(SimTime::from_ns(next), self.fault_event(fault, 0, true));
                    }
                } else if !start && unit > 0 {
                    let victim = def.instances[(unit - 1) as usize];
                    self.crash(sim, victim, false, started);
                }
                return;
            }
            FaultEffect::FeatureOff => {
                for &e in &def.edges {
                    let off = &mut self.edge_off[e as usize];
                    if start {
                        *off += 1;
                    } else {
                        *off -= 1;
                    }
                }
            }
        }
        // A recurring fault schedules its next transition from its own stream.
        let p = (self.proc_base[fault as usize] + unit) as usize;
        let next = match (&def.effect, &def.stochastic) {
            (FaultEffect::Pauses(every, pause), _) => Some(if start {
                pause.sample(&mut self.fault_procs[p].rng).as_ns()
            } else {
                every.sample(&mut self.fault_procs[p].rng).as_ns()
            }),
            (_, Some((mtbf, mttr))) => Some(if start {
                mttr.sample(&mut self.fault_procs[p].rng).as_ns()
            } else {
                mtbf.sample(&mut self.fault_procs[p].rng).as_ns()
            }),
            _ => None,
        };
        if let Some(gap) = next {
            let t = now.saturating_add(gap.max(1));
            let until = if def.stochastic.is_some() {
                horizon
            } else {
                def.end_ns.min(horizon)
            };
            if t <= until || (start && t <= horizon) {
                sim.schedule_at(SimTime::from_ns(t), self.fault_event(fault, unit, !start));
            }
        }
    }

    fn occurrence_start(&mut self, fault: u32, unit: u32, now: u64, label: String) {
        if self.occurrences.len() < 1000 {
            self.occurrences
                .push((fault, unit, label, now, self.world.horizon.as_ns()));
        }
    }

    fn occurrence_end(&mut self, fault: u32, unit: u32, t: u64) {
        if let Some(o) = self
            .occurrences
            .iter_mut()
            .rev()
            .find(|o| o.0 == fault && o.1 == unit)
        {
            o.4 = o.4.min(t);
        }
    }

    /// Whether instance `i` runs: its process is up, its host is up, and it is not hung.
    #[inline]
    pub(super) fn is_up(&self, i: u32) -> bool {
        let inst = &self.instances[i as usize];
        inst.active
            && inst.crashed == 0
            && inst.hung == 0
            && self.hosts[inst.host as usize].down == 0
    }

    /// Recounts the instances of service `s` that are up, folding the time since the last change.
    pub(super) fn recount_up(&mut self, s: usize, now: u64) {
        let def = &self.world.services[s];
        let up = (def.first_instance..def.first_instance + def.n_instances)
            .filter(|&i| self.is_up(i))
            .count() as u32;
        let st = &mut self.services[s];
        let from = st.up_since_ns.max(self.world.warmup.as_ns());
        if now > from {
            st.up_ns[st.up_now as usize] += now - from;
        }
        st.up_since_ns = now;
        st.up_now = up;
        if self.world.services[s].store.is_some() {
            self.check_primary(s, now);
        }
    }

    /// Whether a fault that started at `started_ns` still holds instance `i`: a replacement
    /// since then gave it a fresh process the fault no longer touches.
    fn still_holds(&self, i: u32, started_ns: u64) -> bool {
        self.instances[i as usize]
            .replaced_ns
            .is_none_or(|r| started_ns > r)
    }

    /// An instance's process dies (`start`), or a crash fault that started at `started_ns` ends.
    pub(super) fn crash(&mut self, sim: &mut Sim<Event>, i: u32, start: bool, started_ns: u64) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        let was_up = self.is_up(i);
        if start {
            let inst = &mut self.instances[i as usize];
            inst.crashed += 1;
            if inst.crashed == 1 {
                self.lose_instance(sim, i, false);
            }
        } else if self.still_holds(i, started_ns) {
            let inst = &mut self.instances[i as usize];
            inst.crashed -= 1;
            if inst.crashed == 0 && !was_up && self.is_up(i) {
                self.restarted(i, now);
            }
        }
        self.recount_up(s, now);
    }

    /// An instance stops answering (`start`), or a hang that started at `started_ns` ends.
    pub(super) fn hang(&mut self, sim: &mut Sim<Event>, i: u32, start: bool, started_ns: u64) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        if start {
            self.instances[i as usize].hung += 1;
        } else if self.still_holds(i, started_ns) {
            let inst = &mut self.instances[i as usize];
            inst.hung -= 1;
            if inst.hung == 0 {
                self.resume(sim, i);
            }
        }
        self.recount_up(s, now);
    }

    /// A hung instance resumes: held answers go out, free workers take queued requests.
    pub(super) fn resume(&mut self, sim: &mut Sim<Event>, i: u32) {
        self.unpark(sim, i);
        let frozen = std::mem::take(&mut self.instances[i as usize].frozen);
        for &req in &frozen {
            sim.schedule_in(SimDuration::ZERO, Event::WorkDone { req });
        }
        let mut frozen = frozen;
        frozen.clear();
        self.instances[i as usize].frozen = frozen;
        let pools = self.instances[i as usize].pools.len();
        let s = self.world.instances[i as usize].service_idx as usize;
        for p in 0..pools {
            let (workers, ..) = self.world.services[s].pool(p);
            while self.instances[i as usize].pools[p].busy < workers
                && !self.instances[i as usize].pools[p].queue.is_empty()
            {
                let before = self.instances[i as usize].pools[p].queue.len();
                self.next_from_queue(sim, i as usize, p);
                if self.instances[i as usize].pools[p].queue.len() == before {
                    break;
                }
            }
        }
    }

    /// A process (re)starts at `now`: fresh memory (no leak), a cold cache when the service
    /// warms up.
    fn restarted(&mut self, i: u32, now: u64) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let warm = self.world.services[s]
            .recovery
            .replace
            .map_or(0, |(_, warm, _)| warm);
        let inst = &mut self.instances[i as usize];
        inst.started_ns = now;
        inst.restarts += 1;
        inst.leak_since_ns = now;
        inst.warm_until_ns = now.saturating_add(warm);
        inst.in_sync = false;
        if inst.data_lost {
            inst.applied = 0;
            inst.data_lost = false;
        }
    }

    /// Work at an instance is lost: queued requests fail (at once, or silently when the host
    /// died and nothing leaves it), running ones fail when their work or calls end.
    #[cold]
    #[inline(never)]
    /// Requests parked at a hung instance go on (or, doomed, fail).
    fn unpark(&mut self, sim: &mut Sim<Event>, i: u32) {
        let parked = std::mem::take(&mut self.instances[i as usize].parked);
        for &req in &parked {
            self.after_calls(sim, req);
        }
    }

    pub(super) fn lose_instance(&mut self, sim: &mut Sim<Event>, i: u32, silent: bool) {
        let now = sim.now().as_ns();
        self.instances[i as usize].last_down_ns = now;
        self.lose_sessions(i, now);
        let s = self.world.instances[i as usize].service_idx as usize;
        let frozen = std::mem::take(&mut self.instances[i as usize].frozen);
        for &req in &frozen {
            sim.schedule_in(SimDuration::ZERO, Event::WorkDone { req });
        }
        while let Some(req) = self.instances[i as usize]
            .pools
            .iter_mut()
            .find_map(|p| p.queue.pop_front())
        {
            let st = &mut self.services[s];
            st.touch(now);
            st.queue_now -= 1;
            self.instances[i as usize].outstanding -= 1;
            self.requests[req as usize].silent |= silent;
            self.turn_away(sim, req, Outcome::Failed);
        }
        for r in &mut self.requests {
            if r.instance == i && matches!(r.phase, Phase::Working | Phase::Calling) {
                r.doomed = true;
                r.silent |= silent;
            }
        }
        // Requests that waited on a hung process for nothing: they fail now.
        self.unpark(sim, i);
    }

    /// A host goes down (`start`) or comes back.
    pub(super) fn host_down(&mut self, sim: &mut Sim<Event>, h: u32, start: bool, disk: bool) {
        let now = sim.now().as_ns();
        let list = std::mem::take(&mut self.host_instances[h as usize]);
        let mut ups: Vec<bool> = list.iter().map(|&i| self.is_up(i)).collect();
        let hs = &mut self.hosts[h as usize];
        if start {
            hs.down += 1;
            if hs.down == 1 {
                for &i in &list {
                    self.lose_instance(sim, i, true);
                }
            }
            if disk {
                for &i in &list {
                    let inst = &mut self.instances[i as usize];
                    inst.data_lost = true;
                    inst.in_sync = false;
                }
            }
        } else {
            hs.down -= 1;
            for (k, &i) in list.iter().enumerate() {
                if !ups[k] && self.is_up(i) {
                    self.restarted(i, now);
                }
            }
        }
        ups.clear();
        let mut services: Vec<usize> = list
            .iter()
            .map(|&i| self.world.instances[i as usize].service_idx as usize)
            .collect();
        services.dedup();
        for s in services {
            self.recount_up(s, now);
        }
        self.host_instances[h as usize] = list;
    }

    /// What the network does to a message from host `from` to host `to`: lost, or its extra delay.
    #[inline]
    pub(super) fn link(&mut self, from: u32, to: u32) -> (bool, u64) {
        if self.active_links.is_empty() {
            return (false, 0);
        }
        let mut add = 0;
        for k in 0..self.active_links.len() {
            let def = &self.world.faults[self.active_links[k] as usize];
            let Some(link) = &def.link else { continue };
            if !link.cuts(from, to) {
                continue;
            }
            match def.effect {
                FaultEffect::Partition => return (true, 0),
                FaultEffect::Delay(d) => add += d,
                FaultEffect::Loss(rate) if self.net_rng.random::<f64>() < rate => return (true, 0),
                _ => {}
            }
        }
        (false, add)
    }

    /// A message carrying `req` (or its answer) is lost. The request stays until whoever waits
    /// for it gives up: its caller's timeout, or its client's. If nobody waits any more, it goes.
    #[cold]
    #[inline(never)]
    pub(super) fn drop_message(&mut self, req: u32) {
        let r = &mut self.requests[req as usize];
        r.lost = true;
        if r.abandoned {
            self.release(req);
        } else if let Some(t) = &mut self.tracer {
            let to = (r.call != NONE).then_some(r.service);
            t.mark_attempt(req, "lost", to, self.now_ns);
        }
    }

    /// The work factor of instance `i` now: its slowdowns, its host's disk, a leak, a cold cache
    /// and a new version.
    #[inline]
    pub(super) fn instance_factor(&self, i: u32, now: u64) -> f64 {
        let inst = &self.instances[i as usize];
        let mut k = inst.slow * self.hosts[inst.host as usize].slow * inst.version_slow;
        if inst.leak_per_min > 0.0 {
            k *= 1.0 + inst.leak_per_min * (now.saturating_sub(inst.leak_since_ns) as f64 / 60e9);
        }
        if now < inst.warm_until_ns {
            let s = self.world.instances[i as usize].service_idx as usize;
            if let Some((_, warm, cold)) = self.world.services[s].recovery.replace {
                let left = (inst.warm_until_ns - now) as f64 / warm.max(1) as f64;
                k *= 1.0 + (cold - 1.0) * left;
            }
        }
        k
    }

    /// Whether callers' pooled connections to instance `i` are still broken after its restart.
    #[cold]
    #[inline(never)]
    pub(super) fn reconnecting(&self, i: u32, reconnect_ns: u64, now: u64) -> bool {
        let inst = &self.instances[i as usize];
        inst.restarts > 0 && now < inst.started_ns.saturating_add(reconnect_ns)
    }

    /// Whether instance `i` takes part in load balancing.
    #[inline]
    pub(super) fn in_rotation(&self, i: u32) -> bool {
        let inst = &self.instances[i as usize];
        !inst.unhealthy && !inst.ejected && inst.active
    }

    /// Recounts the instances of service `s` out of load balancing (the balancers' fast path
    /// needs the count to be zero).
    pub(super) fn recount_rotation(&mut self, s: usize) {
        let def = &self.world.services[s];
        self.services[s].out_of_rotation = (def.first_instance
            ..def.first_instance + def.n_instances)
            .filter(|&i| !self.in_rotation(i))
            .count() as u32;
    }

    /// Share of its traffic an instance takes while it ramps back (slow start).
    fn weight(&self, s: usize, i: u32, now: u64) -> f64 {
        let Some((over, steps)) = self.world.services[s].recovery.slow_start else {
            return 1.0;
        };
        let since = now.saturating_sub(self.instances[i as usize].back_since_ns);
        if since >= over {
            return 1.0;
        }
        let step = (since as u128 * u128::from(steps) / u128::from(over)) as u32 + 1;
        f64::from(step) / f64::from(steps)
    }

    /// Picks an instance among `first .. first + n` when some are out of load balancing, ramping
    /// back, or in another region: prefers instances in rotation in `region`, then in rotation
    /// anywhere, then any (Envoy's panic mode).
    #[cold]
    #[inline(never)]
    pub(super) fn pick_slow(&mut self, s: usize, first: u32, n: u32, region: u32, now: u64) -> u32 {
        let mut cands = std::mem::take(&mut self.scratch);
        cands.clear();
        let multi = self.world.services[s].multi_region && region != NONE;
        for pass in 0..3 {
            for i in first..first + n {
                let ok = match pass {
                    0 => {
                        self.in_rotation(i)
                            && (!multi
                                || self.world.hosts[self.instances[i as usize].host as usize]
                                    .region_idx
                                    == region)
                    }
                    1 => self.in_rotation(i),
                    _ => true,
                };
                if ok {
                    cands.push(i);
                }
            }
            if !cands.is_empty() {
                break;
            }
        }
        let m = cands.len() as u32;
        let pick = |model: &mut Self| -> u32 {
            let st = &mut model.services[s];
            let k = match model.world.services[s].balancer {
                _ if m == 1 => 0,
                crate::spec::Balancer::RoundRobin => {
                    let k = st.round_robin % m;
                    st.round_robin = st.round_robin.wrapping_add(1);
                    k
                }
                crate::spec::Balancer::Random => st.balance_rng.random_range(0..m),
                crate::spec::Balancer::LeastOutstanding => (0..m)
                    .min_by_key(|&k| model.instances[cands[k as usize] as usize].outstanding)
                    .unwrap_or(0),
                crate::spec::Balancer::PowerOfTwo => {
                    let a = st.balance_rng.random_range(0..m);
                    let b = (a + 1 + st.balance_rng.random_range(0..m - 1)) % m;
                    let load = |k: u32| model.instances[cands[k as usize] as usize].outstanding;
                    if load(b) < load(a) {
                        b
                    } else {
                        a
                    }
                }
            };
            cands[k as usize]
        };
        let mut chosen = pick(self);
        // Slow start: an instance ramping back is kept with the probability of its weight, else
        // the balancer picks again (a few times at most), so it takes about its share.
        if self.world.services[s].recovery.slow_start.is_some() && m > 1 {
            for _ in 0..4 {
                let w = self.weight(s, chosen, now);
                if w >= 1.0 || self.services[s].balance_rng.random::<f64>() < w {
                    break;
                }
                chosen = pick(self);
            }
        }
        self.scratch = cands;
        chosen
    }

    /// Schedules the next round of a periodic check, unless it would fall after the horizon.
    fn again(&self, sim: &mut Sim<Event>, every_ns: u64, event: Event) {
        if sim.now().as_ns().saturating_add(every_ns) <= self.world.horizon.as_ns() {
            sim.schedule_in(SimDuration::from_ns(every_ns), event);
        }
    }

    /// Probes every instance of service `s`.
    #[cold]
    #[inline(never)]
    pub(super) fn on_health(&mut self, sim: &mut Sim<Event>, s: u32) {
        let now = sim.now().as_ns();
        let def = &self.world.services[s as usize];
        let Some((interval, timeout, bad_after, good_after, probe)) = def.recovery.health else {
            return;
        };
        for i in def.first_instance..def.first_instance + def.n_instances {
            if !self.instances[i as usize].active {
                continue;
            }
            let ok = self.is_up(i)
                && (probe as f64
                    * self.instance_factor(i, now)
                    * self.services[s as usize].slowdown)
                    <= timeout as f64;
            let inst = &mut self.instances[i as usize];
            if ok {
                inst.probe_fails = 0;
                inst.probe_oks += 1;
                if inst.unhealthy && inst.probe_oks >= good_after {
                    inst.unhealthy = false;
                    inst.back_since_ns = now;
                    self.recount_rotation(s as usize);
                    let name = self.instance_name(i);
                    self.log(now, "healthy", name);
                }
            } else {
                inst.probe_oks = 0;
                inst.probe_fails += 1;
                if !inst.unhealthy && inst.probe_fails >= bad_after {
                    inst.unhealthy = true;
                    self.recount_rotation(s as usize);
                    self.services[s as usize].recovery.unhealthy += 1;
                    let name = self.instance_name(i);
                    self.log(now, "unhealthy", name);
                }
                let inst = &self.instances[i as usize];
                if let Some((start_up, ..)) = def.recovery.replace {
                    // On its own host, or, when that host is dead, on another one its placement
                    // allows (Kubernetes reschedules the pod).
                    let placeable = self.hosts[inst.host as usize].down == 0
                        || def.hosts.iter().any(|&h| self.hosts[h as usize].down == 0);
                    if inst.unhealthy && !inst.replacing && placeable {
                        self.instances[i as usize].replacing = true;
                        let name = self.instance_name(i);
                        self.log(now, "replacing", name);
                        sim.schedule_in(
                            SimDuration::from_ns(start_up),
                            Event::Replaced { instance: i },
                        );
                    }
                }
            }
        }
        self.again(sim, interval, Event::Health { service: s });
    }

    /// A replacement is up: a fresh process (crashes and hangs cleared, no leak, cold cache).
    #[cold]
    #[inline(never)]
    pub(super) fn on_replaced(&mut self, sim: &mut Sim<Event>, i: u32) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        self.instances[i as usize].replacing = false;
        let old_host = self.instances[i as usize].host;
        if self.hosts[old_host as usize].down > 0 {
            // Its host is dead: start it on the live host its placement allows that runs the
            // fewest instances of this service (the first such in placement order).
            let def = &self.world.services[s];
            let count = |h: u32| {
                self.host_instances[h as usize]
                    .iter()
                    .filter(|&&k| self.world.instances[k as usize].service_idx as usize == s)
                    .count()
            };
            let Some(new_host) = def
                .hosts
                .iter()
                .copied()
                .filter(|&h| self.hosts[h as usize].down == 0)
                .min_by_key(|&h| count(h))
            else {
                return; // nowhere to go: the orchestrator tries again after the next probes
            };
            self.lose_instance(sim, i, true);
            self.host_instances[old_host as usize].retain(|&k| k != i);
            self.host_instances[new_host as usize].push(i);
            let inst = &mut self.instances[i as usize];
            inst.host = new_host;
            // A datastore copy starts empty on a new host and copies the data back.
            inst.data_lost = self.world.services[s].store.is_some();
            let what = format!(
                "{} to {}",
                self.instance_name(i),
                self.world.hosts[new_host as usize].name
            );
            self.log(now, "moved", what);
        }
        // Whatever the old process held is gone.
        let was_hung = {
            let inst = &self.instances[i as usize];
            inst.hung > 0
        };
        self.lose_instance(sim, i, false);
        let inst = &mut self.instances[i as usize];
        // The new process is touched by no fault in force now (`still_holds`).
        inst.crashed = 0;
        inst.hung = 0;
        inst.replaced_ns = Some(now);
        self.restarted(i, now);
        if was_hung {
            self.resume(sim, i);
        }
        self.services[s].recovery.replacements += 1;
        let name = self.instance_name(i);
        self.log(now, "replaced", name);
        self.recount_up(s, now);
    }

    /// A caller saw an answer (or no answer) from instance `i`: outlier detection counts
    /// consecutive failures.
    #[inline]
    pub(super) fn outlier_observe(&mut self, i: u32, failed: bool, now: u64) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some((limit, _, base, max_pct)) = self.world.services[s].recovery.outlier else {
            return;
        };
        let inst = &mut self.instances[i as usize];
        if !failed {
            inst.consecutive_failures = 0;
            return;
        }
        inst.consecutive_failures += 1;
        if inst.ejected || inst.consecutive_failures < limit {
            return;
        }
        let def = &self.world.services[s];
        let ejected = (def.first_instance..def.first_instance + def.n_instances)
            .filter(|&k| self.instances[k as usize].ejected)
            .count() as u32;
        // Envoy ejects at least one host whatever the percentage.
        let allowed = (def.n_instances * max_pct / 100).max(1);
        if ejected >= allowed {
            return;
        }
        let inst = &mut self.instances[i as usize];
        inst.ejected = true;
        inst.ejections += 1;
        inst.consecutive_failures = 0;
        inst.ejected_until_ns = now.saturating_add(base.saturating_mul(u64::from(inst.ejections)));
        self.recount_rotation(s);
        self.services[s].recovery.ejections += 1;
        let name = self.instance_name(i);
        self.log(now, "ejected", name);
    }

    /// Ends the ejections that have run their time.
    #[cold]
    #[inline(never)]
    pub(super) fn on_outlier_review(&mut self, sim: &mut Sim<Event>, s: u32) {
        let now = sim.now().as_ns();
        let def = &self.world.services[s as usize];
        let Some((_, interval, ..)) = def.recovery.outlier else {
            return;
        };
        for i in def.first_instance..def.first_instance + def.n_instances {
            let inst = &mut self.instances[i as usize];
            if inst.ejected && inst.ejected_until_ns <= now {
                inst.ejected = false;
                inst.back_since_ns = now;
                self.recount_rotation(s as usize);
                let name = self.instance_name(i);
                self.log(now, "returned", name);
            }
        }
        self.again(sim, interval, Event::OutlierReview { service: s });
    }

    // ---- sessions and autoscaling ----

    /// The user of a workload's next request, and the instance holding that user's session
    /// when the entry service keeps sessions locally and that instance is in load balancing.
    #[inline]
    pub(super) fn session_of(&mut self, w: u32, now: u64) -> (u32, Option<u32>) {
        if self.workloads[w as usize].sessions.is_empty() {
            return (0, None);
        }
        self.sticky_session(w, now)
    }

    #[cold]
    #[inline(never)]
    fn sticky_session(&mut self, w: u32, now: u64) -> (u32, Option<u32>) {
        let def = &self.world.workloads[w as usize];
        let ws = &mut self.workloads[w as usize];
        let user = ws.users_rng.random_range(0..def.users);
        let ttl = self.world.services[def.entry as usize]
            .recovery
            .local_sessions_ttl_ns
            .unwrap_or(0);
        let (owner, last) = ws.sessions[user as usize];
        let live = owner != NONE && now.saturating_sub(last) <= ttl;
        (user, (live && self.in_rotation(owner)).then_some(owner))
    }

    /// Instance `i` dies: the live sessions it held are lost.
    fn lose_sessions(&mut self, i: u32, now: u64) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(ttl) = self.world.services[s].recovery.local_sessions_ttl_ns else {
            return;
        };
        let mut lost = 0;
        for (w, ws) in self.workloads.iter_mut().enumerate() {
            if self.world.workloads[w].entry as usize != s {
                continue;
            }
            for sess in ws.sessions.iter_mut().filter(|x| x.0 == i) {
                if now.saturating_sub(sess.1) <= ttl {
                    lost += 1;
                }
                *sess = (NONE, 0);
            }
        }
        self.services[s].sessions_lost += lost;
        if lost > 0 {
            let name = self.instance_name(i);
            self.log(now, "sessions_lost", format!("{name}: {lost}"));
        }
    }

    /// The autoscaler's look at service `s`: utilization over the last period against the target.
    #[cold]
    #[inline(never)]
    pub(super) fn on_autoscale(&mut self, sim: &mut Sim<Event>, s: u32) {
        let now = sim.now().as_ns();
        let si = s as usize;
        let def = &self.world.services[si];
        let Some((_, min, max, target, every, delay)) = def.recovery.autoscale else {
            return;
        };
        let range = def.first_instance..def.first_instance + def.n_instances;
        let active = range
            .clone()
            .filter(|&i| self.instances[i as usize].active)
            .count() as u32;
        let starting = range
            .clone()
            .filter(|&i| self.instances[i as usize].starting)
            .count() as u32;
        let st = &mut self.services[si];
        st.touch(now);
        // The warm-up resets the busy time: then all of it belongs to this period.
        let busy = st.busy_area;
        let delta = if busy >= st.autoscale_busy {
            busy - st.autoscale_busy
        } else {
            busy
        };
        st.autoscale_busy = busy;
        let capacity = f64::from(def.workers_total()) * f64::from(active.max(1)) * every as f64;
        let utilization = delta as f64 / capacity;
        let desired = ((f64::from(active) * utilization / target).ceil() as u32).clamp(min, max);
        let what = format!(
            "{}: {active} -> {desired} instances (utilization {:.0}%)",
            def.name,
            utilization * 100.0
        );
        if desired > active + starting {
            let mut more = desired - active - starting;
            for i in range.clone() {
                if more == 0 {
                    break;
                }
                let inst = &mut self.instances[i as usize];
                if !inst.active && !inst.starting {
                    inst.starting = true;
                    more -= 1;
                    self.services[si].recovery.scale_ups += 1;
                    sim.schedule_in(SimDuration::from_ns(delay), Event::ScaleUp { instance: i });
                }
            }
            self.log(now, "scale_up", what);
        } else if desired < active && starting == 0 {
            let mut fewer = active - desired;
            for i in range.clone().rev() {
                if fewer == 0 {
                    break;
                }
                if self.instances[i as usize].active {
                    self.instances[i as usize].active = false;
                    fewer -= 1;
                    self.services[si].recovery.scale_downs += 1;
                }
            }
            self.log(now, "scale_down", what);
            self.recount_rotation(si);
            self.recount_up(si, now);
        }
        self.again(sim, every, Event::Autoscale { service: s });
    }

    /// A new instance has started: it takes load (ramped, with slow start), cold if the service
    /// warms up.
    #[cold]
    #[inline(never)]
    pub(super) fn on_scale_up(&mut self, sim: &mut Sim<Event>, i: u32) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        let inst = &mut self.instances[i as usize];
        inst.starting = false;
        inst.active = true;
        inst.back_since_ns = now;
        self.restarted(i, now);
        self.recount_rotation(s);
        self.recount_up(s, now);
    }

    // ---- datastores ----

    /// Whether instance `i` can act as a datastore copy now.
    fn store_up(&self, i: u32) -> bool {
        self.is_up(i)
    }

    /// Tracks the primary's reachability, starting a failover when it is lost.
    fn check_primary(&mut self, s: usize, now: u64) {
        let Some(store) = &self.services[s].store else {
            return;
        };
        let (primary, down_since) = (store.primary, store.down_since);
        let up = self.store_up(primary);
        let failover = self.world.services[s]
            .store
            .as_ref()
            .and_then(|d| d.failover);
        let store = self.services[s].store.as_mut().expect("a datastore");
        match (up, down_since) {
            (false, None) => {
                store.down_since = Some(now);
                store.down_gen = store.down_gen.wrapping_add(1);
                let generation = store.down_gen;
                if let Some((detect, promote)) = failover {
                    self.pending_failovers.push((
                        now.saturating_add(detect + promote),
                        s as u32,
                        generation,
                    ));
                }
            }
            (true, Some(t)) => {
                store.result.write_unavailable_ns += now - t;
                store.down_since = None;
                if self.instances[primary as usize].applied < store.written {
                    // The primary came back without the writes it had (its disk was lost): the
                    // most up-to-date copy that is up takes over, the primary's included.
                    let def = &self.world.services[s];
                    let best = (def.first_instance..def.first_instance + def.n_instances)
                        .filter(|&i| self.store_up(i))
                        .max_by_key(|&i| (self.instances[i as usize].applied, std::cmp::Reverse(i)))
                        .unwrap_or(primary);
                    if best != primary {
                        self.services[s]
                            .store
                            .as_mut()
                            .expect("a datastore")
                            .result
                            .failovers += 1;
                    }
                    self.promote(s, best, now);
                }
            }
            _ => {}
        }
    }

    /// Schedules failovers noted while recounting (which has no access to the engine).
    #[cold]
    #[inline(never)]
    pub(super) fn flush_failovers(&mut self, sim: &mut Sim<Event>) {
        while let Some((t, service, epoch)) = self.pending_failovers.pop() {
            sim.schedule_at(SimTime::from_ns(t), Event::Failover { service, epoch });
        }
    }

    /// The failover timer ends: promote the most up-to-date replica that is up.
    #[cold]
    #[inline(never)]
    pub(super) fn on_failover(&mut self, sim: &mut Sim<Event>, s: u32, epoch: u16) {
        let now = sim.now().as_ns();
        let s = s as usize;
        let store = self.services[s].store.as_ref().expect("a datastore");
        if store.down_gen != epoch || store.down_since.is_none() {
            return;
        }
        let def = &self.world.services[s];
        let best = (def.first_instance..def.first_instance + def.n_instances)
            .filter(|&i| i != store.primary && self.store_up(i))
            .max_by_key(|&i| (self.instances[i as usize].applied, std::cmp::Reverse(i)));
        let Some(best) = best else {
            // Nothing to promote: try again after another detection delay.
            let (detect, _) = def
                .store
                .as_ref()
                .and_then(|d| d.failover)
                .unwrap_or((0, 0));
            sim.schedule_in(
                SimDuration::from_ns(detect.max(1)),
                Event::Failover {
                    service: s as u32,
                    epoch,
                },
            );
            return;
        };
        let store = self.services[s].store.as_mut().expect("a datastore");
        if let Some(t) = store.down_since.take() {
            store.result.write_unavailable_ns += now - t;
        }
        store.result.failovers += 1;
        self.promote(s, best, now);
    }

    /// Makes `new` the primary with the writes it holds; acknowledged writes beyond them are lost.
    fn promote(&mut self, s: usize, new: u32, now: u64) {
        let def = &self.world.services[s];
        let kept = self.instances[new as usize].applied;
        let store = self.services[s].store.as_mut().expect("a datastore");
        let lost = count_acked_above(store, kept);
        store.result.lost_writes += lost;
        store.written = kept;
        store.acked_max = store.acked_max.min(kept);
        let keep = kept.saturating_sub(store.base) as usize;
        store.acked.truncate(keep);
        if kept < store.base {
            store.base = kept;
            store.acked.clear();
        }
        store.epoch += 1;
        let old = store.primary;
        store.primary = new;
        for i in def.first_instance..def.first_instance + def.n_instances {
            let inst = &mut self.instances[i as usize];
            inst.applied = inst.applied.min(kept);
        }
        self.instances[new as usize].in_sync = true;
        let (from, to) = (self.instance_name(old), self.instance_name(new));
        self.log(
            now,
            "failover",
            format!("{from} -> {to}, {lost} acknowledged writes lost"),
        );
    }

    /// Routes a datastore request: writes to the primary; reads to the primary, or to a replica
    /// chosen by `pick` (one that lags passes it to the primary with read-your-writes).
    pub(super) fn store_route(&self, s: usize, write: bool, picked: u32) -> u32 {
        let def = self.world.services[s].store.as_ref().expect("a datastore");
        let store = self.services[s].store.as_ref().expect("a datastore");
        if write || !def.reads_from_replicas {
            return store.primary;
        }
        if def.read_your_writes && self.instances[picked as usize].applied < store.acked_max {
            return store.primary;
        }
        picked
    }

    /// A write finished its local work at the primary: store it and ship it. Returns whether the
    /// write is acknowledged now (otherwise it waits for replicas).
    #[cold]
    #[inline(never)]
    pub(super) fn store_write(&mut self, sim: &mut Sim<Event>, req: u32) -> Option<u64> {
        let now = sim.now().as_ns();
        let r = self.requests[req as usize];
        let s = r.service as usize;
        let def = self.world.services[s].store.as_ref().expect("a datastore");
        let svc = &self.world.services[s];
        let store = self.services[s].store.as_mut().expect("a datastore");
        store.written += 1;
        let seq = store.written;
        let epoch = store.epoch;
        store.acked.push_back(false);
        if store.acked.len() > ACK_WINDOW_MAX {
            store.acked.pop_front();
            store.base += 1;
        }
        self.instances[r.instance as usize].applied = seq;
        let sync = def.sync && svc.n_instances > 1;
        let mut shipped = 0u32;
        self.write_ids = self.write_ids.wrapping_add(1);
        let write_id = self.write_ids;
        let from_host = self.instances[r.instance as usize].host;
        let wait_for_acks = def.acks_needed > 1;
        let wait = if wait_for_acks {
            let w = Wait {
                req,
                write_id,
                seq,
                epoch,
                timer: None,
            };
            match self.free_waits.pop() {
                Some(k) => {
                    self.waits[k as usize] = w;
                    k
                }
                None => {
                    self.waits.push(w);
                    (self.waits.len() - 1) as u32
                }
            }
        } else {
            NONE
        };
        for i in svc.first_instance..svc.first_instance + svc.n_instances {
            if i == r.instance {
                continue;
            }
            if sync && !self.store_up(i) {
                // A synchronous primary drops a replica it knows is down from the set it waits for.
                self.instances[i as usize].in_sync = false;
                continue;
            }
            shipped += 1;
            let to_host = self.instances[i as usize].host;
            let (lost, add) = self.link(from_host, to_host);
            if lost {
                self.instances[i as usize].in_sync = false;
                continue;
            }
            let store = self.services[s].store.as_mut().expect("a datastore");
            // Asynchronous writes wait at the primary (batched log shipping) before they leave.
            let lag = if wait_for_acks {
                0
            } else {
                def.lag.sample(&mut store.rng).as_ns()
            };
            let delay = self.world.latency[self.world.distance(from_host, to_host) as usize]
                .sample(&mut store.rng)
                .as_ns()
                + add;
            let inst = &mut self.instances[i as usize];
            let at = now.saturating_add(lag + delay).max(inst.last_ship_ns);
            inst.last_ship_ns = at;
            let msg = ReplMsg {
                service: s as u32,
                replica: i,
                from: r.instance,
                seq,
                epoch,
                wait,
                write_id,
                stored_ns: now,
                leaves_ns: now.saturating_add(lag),
            };
            let m = match self.free_msgs.pop() {
                Some(m) => {
                    self.msgs[m as usize] = msg;
                    m
                }
                None => {
                    self.msgs.push(msg);
                    (self.msgs.len() - 1) as u32
                }
            };
            sim.schedule_at(SimTime::from_ns(at), Event::Replicate { msg: m });
        }
        let needed = if sync { shipped } else { def.acks_needed - 1 };
        if needed == 0 {
            if wait != NONE {
                self.free_waits.push(wait);
            }
            return Some(seq);
        }
        let q = &mut self.requests[req as usize];
        q.wait = wait;
        q.phase = Phase::Calling;
        q.pending = needed as u16;
        self.waits[wait as usize].timer = Some(sim.timer_in(
            SimDuration::from_ns(def.replication_timeout_ns),
            Event::ReplTimeout { wait },
        ));
        None
    }

    /// A replication message reaches its replica.
    #[cold]
    #[inline(never)]
    pub(super) fn on_replicate(&mut self, sim: &mut Sim<Event>, m: u32) {
        let msg = self.msgs[m as usize];
        let s = msg.service as usize;
        let store = self.services[s].store.as_ref().expect("a datastore");
        let current = store.epoch == msg.epoch;
        let sender = &self.instances[msg.from as usize];
        let never_sent =
            sender.last_down_ns >= msg.stored_ns && sender.last_down_ns < msg.leaves_ns;
        if !current || never_sent || !self.store_up(msg.replica) {
            if current {
                self.instances[msg.replica as usize].in_sync = false;
            }
            self.free_msgs.push(m);
            return;
        }
        // A replica that missed messages catches up from the primary's log with this one.
        let inst = &mut self.instances[msg.replica as usize];
        inst.applied = inst.applied.max(msg.seq);
        inst.in_sync = true;
        if msg.wait == NONE {
            self.free_msgs.push(m);
            return;
        }
        let (from_host, to_host) = (
            self.instances[msg.replica as usize].host,
            self.instances[msg.from as usize].host,
        );
        let (lost, add) = self.link(from_host, to_host);
        if lost {
            self.free_msgs.push(m);
            return;
        }
        let store = self.services[s].store.as_mut().expect("a datastore");
        let delay = self.world.latency[self.world.distance(from_host, to_host) as usize]
            .sample(&mut store.rng)
            .as_ns()
            + add;
        sim.schedule_in(SimDuration::from_ns(delay), Event::ReplicaAck { msg: m });
    }

    /// A replica's acknowledgement reaches the primary.
    #[cold]
    #[inline(never)]
    pub(super) fn on_replica_ack(&mut self, sim: &mut Sim<Event>, m: u32) {
        let msg = self.msgs[m as usize];
        self.free_msgs.push(m);
        let w = self.waits[msg.wait as usize];
        if w.write_id != msg.write_id || w.timer.is_none() {
            return; // the write has ended (timed out; or the slot holds another write)
        }
        let r = &mut self.requests[w.req as usize];
        r.pending -= 1;
        if r.pending > 0 {
            return;
        }
        r.wait = NONE;
        let doomed = r.doomed;
        if let Some(t) = self.waits[msg.wait as usize].timer.take() {
            sim.cancel(t);
        }
        self.free_waits.push(msg.wait);
        let s = self.requests[w.req as usize].service as usize;
        let deposed = self.services[s]
            .store
            .as_ref()
            .is_some_and(|x| x.epoch != w.epoch);
        let outcome = if doomed || deposed {
            Outcome::Failed
        } else {
            let s = self.requests[w.req as usize].service as usize;
            self.store_acked(s, w.seq);
            Outcome::Completed
        };
        self.finish(sim, w.req, outcome);
    }

    /// A write waited too long for its replicas: it fails (unacknowledged).
    #[cold]
    #[inline(never)]
    pub(super) fn on_repl_timeout(&mut self, sim: &mut Sim<Event>, wait: u32) {
        let req = self.waits[wait as usize].req;
        self.waits[wait as usize].timer = None;
        self.free_waits.push(wait);
        self.requests[req as usize].wait = NONE;
        self.finish(sim, req, Outcome::Failed);
    }

    /// Notes an acknowledged write.
    #[cold]
    #[inline(never)]
    pub(super) fn store_acked(&mut self, s: usize, seq: u64) {
        let store = self.services[s].store.as_mut().expect("a datastore");
        if seq > store.base {
            if let Some(flag) = store.acked.get_mut((seq - store.base - 1) as usize) {
                *flag = true;
            }
        }
        store.acked_max = store.acked_max.max(seq);
        store.result.writes_acked += 1;
    }

    /// A read was answered by instance `i`: stale when it lags the last acknowledged write.
    #[cold]
    #[inline(never)]
    pub(super) fn store_read(&mut self, s: usize, i: u32) {
        let applied = self.instances[i as usize].applied;
        let store = self.services[s].store.as_mut().expect("a datastore");
        if i != store.primary && applied < store.acked_max {
            store.result.stale_reads += 1;
        }
    }

    // ---- alerts and rollouts ----

    /// Evaluates the alert rules over the windows ending with bucket `b`.
    #[cold]
    #[inline(never)]
    pub(super) fn evaluate_alerts(&mut self, sim: &mut Sim<Event>, b: usize) {
        let end_ns =
            ((b as u64 + 1) * self.world.resolution.as_ns()).min(self.world.horizon.as_ns());
        for a in 0..self.world.alerts.len() {
            let def = &self.world.alerts[a];
            let st = &self.services[def.service as usize];
            let from = (b + 1).saturating_sub(def.buckets as usize);
            let sum = |v: &Vec<u64>| v[from..=b].iter().sum::<u64>();
            let series = &st.series;
            let holds = match def.rule {
                AlertKind::ErrorRate(above) | AlertKind::BurnRate(above, _) => {
                    let errors = sum(&series.failed) + sum(&series.rejected) + sum(&series.shed);
                    let answered = errors + sum(&series.completed) + sum(&series.degraded);
                    let rate = if answered == 0 {
                        0.0
                    } else {
                        errors as f64 / answered as f64
                    };
                    match def.rule {
                        AlertKind::BurnRate(allowed, factor) => rate > allowed * factor,
                        _ => rate > above,
                    }
                }
                AlertKind::LatencyP99(_) => {
                    let ok = sum(&series.completed) + sum(&series.degraded);
                    let slow = st
                        .slow_series
                        .iter()
                        .find(|x| x.0 == a as u32)
                        .map_or(0, |x| x.2[from..=b].iter().sum::<u64>());
                    ok > 0 && slow * 100 > ok
                }
            };
            let for_ns = def.for_ns;
            let state = &mut self.alert_states[a];
            if !holds {
                state.holds_since = None;
                if let Some(k) = state.firing.take() {
                    self.firings[k].resolved_ns = Some(end_ns);
                    let name = self.world.alerts[a].name.clone();
                    self.log(end_ns, "alert_resolved", name);
                }
                continue;
            }
            let since = *state.holds_since.get_or_insert(end_ns);
            if state.firing.is_none() && end_ns - since >= for_ns {
                state.firing = Some(self.firings.len());
                let name = self.world.alerts[a].name.clone();
                self.firings.push(AlertFiring {
                    name: name.clone(),
                    fired_ns: end_ns,
                    resolved_ns: None,
                });
                self.log(end_ns, "alert", name);
                for (d, dep) in self.world.deploys.iter().enumerate() {
                    let ds = &mut self.deploy_states[d];
                    if dep.rollback_on == Some(a as u32) && ds.started && !ds.rolled_back {
                        ds.rolled_back = true;
                        sim.schedule_in(
                            SimDuration::from_ns(dep.rollback_in_ns),
                            Event::Rollback { deploy: d as u32 },
                        );
                    }
                }
            }
        }
    }

    /// Step `step` of a rollout: the canary first, then one more instance per interval.
    #[cold]
    #[inline(never)]
    pub(super) fn on_deploy(&mut self, sim: &mut Sim<Event>, d: u32, step: u32) {
        let now = sim.now().as_ns();
        let def = &self.world.deploys[d as usize];
        let ds = &mut self.deploy_states[d as usize];
        if ds.rolled_back && ds.started {
            return;
        }
        ds.started = true;
        let svc = &self.world.services[def.service as usize];
        let target = if step == 0 {
            def.canary
        } else {
            (def.canary + step).min(svc.n_instances)
        };
        while ds.switched < target {
            let i = svc.first_instance + ds.switched;
            ds.switched += 1;
            let inst = &mut self.instances[i as usize];
            inst.version_errors = def.errors;
            inst.version_slow = def.slowdown;
        }
        let what = format!(
            "{}: {} of {} instances on the new version",
            svc.name, target, svc.n_instances
        );
        self.log(now, "deploy", what);
        if target < svc.n_instances {
            let wait = if step == 0 {
                def.bake_ns
            } else {
                def.interval_ns
            };
            sim.schedule_in(
                SimDuration::from_ns(wait.max(1)),
                Event::Deploy {
                    deploy: d as u16,
                    step: step + 1,
                },
            );
        }
    }

    /// Every instance goes back to the old version.
    #[cold]
    #[inline(never)]
    pub(super) fn on_rollback(&mut self, sim: &mut Sim<Event>, d: u32) {
        let now = sim.now().as_ns();
        let def = &self.world.deploys[d as usize];
        let svc = &self.world.services[def.service as usize];
        for i in svc.first_instance..svc.first_instance + svc.n_instances {
            let inst = &mut self.instances[i as usize];
            inst.version_errors = 0.0;
            inst.version_slow = 1.0;
        }
        self.deploy_states[d as usize].switched = svc.n_instances;
        let name = svc.name.clone();
        self.log(now, "rollback", name);
    }

    /// The fault occurrences, for charts: (label, start, end).
    pub(super) fn occurrence_list(&self) -> Vec<(String, u64, u64)> {
        self.occurrences
            .iter()
            .map(|o| (o.2.clone(), o.3, o.4))
            .collect()
    }
}

/// Acknowledged writes after `seq`.
fn count_acked_above(store: &StoreState, seq: u64) -> u64 {
    let mut lost = 0;
    if seq < store.base {
        // Older than the window: count them as acknowledged (the window is large; rare).
        lost += store.base - seq;
    }
    let skip = seq.saturating_sub(store.base) as usize;
    lost += store.acked.iter().skip(skip).filter(|&&a| a).count() as u64;
    lost
}

impl ServiceModel<'_> {
    fn fault_event(&self, fault: u32, unit: u32, start: bool) -> Event {
        Event::Fault {
            proc: self.proc_base[fault as usize] + unit,
            start,
        }
    }
}

fn exp_ns(rng: &mut Stream, mean_ns: u64) -> u64 {
    let x: f64 = rng.sample(rand_distr::Exp1);
    ((x * mean_ns as f64).round() as u64).max(1)
}

/// Independent error sources combine: 1 - (1 - a)(1 - b); removing one divides it out.
fn combine(current: f64, rate: f64, add: bool) -> f64 {
    if add {
        1.0 - (1.0 - current) * (1.0 - rate)
    } else if rate >= 1.0 {
        0.0
    } else {
        (1.0 - (1.0 - current) / (1.0 - rate)).max(0.0)
    }
}
