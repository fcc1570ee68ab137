//! Datastores: a primary and replicas placed like any service; writes replicated synchronously,
//! asynchronously (after a lag) or to a quorum; reads from the primary or replicas; failover
//! with detection and promotion of the most up-to-date live replica; the data ledger
//! (acknowledged writes lost, stale reads, time without a writable primary).
//!
//! ```text
//!  write at primary ─▶ Replicate (network + lag) ─▶ replica applies ─▶ ReplicaAck (sync, quorum)
//!  primary lost ─▶ Failover (detect + promote) ─▶ best replica; acked writes it lacks are lost
//! ```
//!
//! Randomness: `store:<name>/replication`.

use super::*;

/// An instance's copy of its datastore's data: the last write it applied, whether its copy is
/// complete up to it, when the last replication message to it arrives (messages keep their
/// order), and whether its data was lost with its disk.
#[derive(Clone, Debug)]
pub(super) struct Replica {
    pub(super) applied: u64,
    pub(super) in_sync: bool,
    pub(super) last_ship_ns: u64,
    pub(super) data_lost: bool,
    /// It lacks its data until a rebuild copies it (`bulk`), and the rebuild under way
    /// (`NONE`: none).
    pub(super) needs_rebuild: bool,
    pub(super) rebuild: u32,
    /// Since when it has been out of its primary's reach (with `rebuild.after`).
    pub(super) cut_since: Option<u64>,
}

impl Default for Replica {
    fn default() -> Self {
        Replica {
            applied: 0,
            in_sync: true,
            last_ship_ns: 0,
            data_lost: false,
            needs_rebuild: false,
            rebuild: NONE,
            cut_since: None,
        }
    }
}

/// A datastore's replication state.
pub(super) struct StoreState {
    /// The instance that takes writes.
    pub(super) primary: u32,
    /// Bumped at every failover; replication messages of an older epoch are dropped.
    pub(super) epoch: u32,
    /// The last write stored at the primary.
    pub(super) written: u64,
    /// The highest acknowledged write.
    pub(super) acked_max: u64,
    /// Whether writes `base + 1 ..` were acknowledged.
    pub(super) base: u64,
    pub(super) acked: VecDeque<bool>,
    pub(super) rng: Stream,
    /// Since when the primary has been unreachable.
    pub(super) down_since: Option<u64>,
    /// Bumped each time the primary is lost, so that the failover timer of an earlier loss
    /// (the primary came back meanwhile) does nothing.
    pub(super) down_gen: u16,
    /// A primary replaced while a partition cut it off, alive and unaware (split brain), and
    /// since when it has been cut off; until the partition heals.
    pub(super) deposed: Option<(u32, u64, u64)>,
    /// Copies lacking their data (needing or doing a rebuild), and since when one has.
    pub(super) missing: u32,
    pub(super) missing_since: u64,
    pub(super) result: crate::results::StoreResult,
}

impl StoreState {
    /// A write is stored at the primary: its sequence number and the epoch it belongs to. The
    /// window of acknowledgement flags keeps the last `ACK_WINDOW_MAX` writes.
    pub(super) fn store_write(&mut self) -> (u64, u32) {
        self.written += 1;
        self.acked.push_back(false);
        if self.acked.len() > ACK_WINDOW_MAX {
            self.acked.pop_front();
            self.base += 1;
        }
        (self.written, self.epoch)
    }

    /// A datastore whose first instance is the primary, with nothing written yet.
    pub(super) fn new(primary: u32, rng: Stream) -> Self {
        StoreState {
            primary,
            epoch: 0,
            written: 0,
            acked_max: 0,
            base: 0,
            acked: VecDeque::new(),
            rng,
            down_since: None,
            down_gen: 0,
            deposed: None,
            missing: 0,
            missing_since: 0,
            result: Default::default(),
        }
    }
}

/// A replication message (and, for synchronous and quorum writes, its acknowledgement).
#[derive(Copy, Clone, Debug)]
pub(super) struct ReplMsg {
    pub(super) service: u32,
    pub(super) replica: u32,
    pub(super) from: u32,
    pub(super) seq: u64,
    pub(super) epoch: u32,
    /// The slot of the write waiting for it in `ServiceModel::waits` (`NONE` when nobody
    /// waits), and the write's identity (slots are reused).
    pub(super) wait: u32,
    pub(super) write_id: u32,
    /// When the write was stored, and when its message leaves the primary (after `lag`): a
    /// primary that dies in between never sends it.
    pub(super) stored_ns: u64,
    pub(super) leaves_ns: u64,
    /// The write's size (on the network and on the replica's disk).
    pub(super) bytes: u32,
    /// On links with a capacity: it waits for its lag and must still be put on the wire (its
    /// latency is drawn then).
    pub(super) to_wire: bool,
}

/// A replication message stays as small as it was before links had capacities (the memory
/// estimate counts one per pending event).
const _: () = assert!(std::mem::size_of::<ReplMsg>() <= 56);

/// A write waiting for its replicas' acknowledgements.
#[derive(Copy, Clone, Debug)]
pub(super) struct Wait {
    pub(super) req: u32,
    pub(super) write_id: u32,
    pub(super) seq: u64,
    /// The store's epoch when the write was stored: a failover since then makes it fail.
    pub(super) epoch: u32,
    /// `None` once the wait is over.
    pub(super) timer: Option<sim_core::TimerId>,
}

/// Window of acknowledgement flags kept per datastore.
pub(super) const ACK_WINDOW_MAX: usize = 1 << 16;

/// Acknowledged writes after `seq`.
pub(super) fn count_acked_above(store: &StoreState, seq: u64) -> u64 {
    let mut lost = 0;
    if seq < store.base {
        // Older than the window: count them as acknowledged (the window is large; rare).
        lost += store.base - seq;
    }
    let skip = seq.saturating_sub(store.base) as usize;
    lost += store.acked.iter().skip(skip).filter(|&&a| a).count() as u64;
    lost
}

/// The replication state of every datastore, by store, and each service's store (`NONE`: it
/// stores nothing).
pub(super) fn stores(world: &World, rngs: &RngFactory) -> (Vec<StoreState>, Vec<u32>) {
    let mut stores = Vec::new();
    let mut store_of = vec![NONE; world.services.len()];
    for (s, def) in world.services.iter().enumerate() {
        if def.store.is_some() {
            store_of[s] = stores.len() as u32;
            let rng = rngs.stream(&format!("store:{}", def.name), "replication");
            stores.push(StoreState::new(def.first_instance, rng));
        }
    }
    (stores, store_of)
}

impl ServiceModel<'_> {
    /// The replication state of service `s`'s datastore, if it is one.
    #[inline]
    pub(super) fn store(&self, s: usize) -> Option<&StoreState> {
        let k = *self.store_of.get(s)?;
        self.stores.get(k as usize)
    }

    pub(super) fn store_mut(&mut self, s: usize) -> Option<&mut StoreState> {
        let k = *self.store_of.get(s)?;
        self.stores.get_mut(k as usize)
    }

    // ---- datastores ----
    /// Whether instance `i` can act as a datastore copy now.
    pub(super) fn store_up(&self, i: u32) -> bool {
        self.is_up(i)
    }

    /// Whether copy `i` of datastore `s` is up and reaches a majority of the store's copies
    /// that are up (itself included) through the partitions in force. Only a store with
    /// failover asks about partitions: without it nobody is there to notice them.
    pub(super) fn store_reachable(&self, s: usize, i: u32) -> bool {
        if !self.store_up(i) {
            return false;
        }
        let def = &self.world.services[s];
        let partition = self
            .active_links
            .iter()
            .any(|&f| matches!(self.world.faults[f as usize].effect, FaultEffect::Partition));
        if !partition || def.store.as_ref().is_none_or(|d| d.failover.is_none()) {
            return true;
        }
        let host = self.host_of[i as usize];
        let copies = def.first_instance..def.first_instance + def.n_instances;
        let (mut up, mut reached) = (0u32, 0u32);
        for j in copies.filter(|&j| self.store_up(j)) {
            up += 1;
            reached += u32::from(!self.partitioned(host, self.host_of[j as usize]));
        }
        // A majority of the copies that are up: crashes alone never depose a primary.
        reached * 2 > up
    }

    /// A partition came or went: each datastore with failover looks at its primary again, and a
    /// split brain ends when its old primary reaches the new one.
    pub(super) fn stores_after_link_change(&mut self, now: u64) {
        for s in 0..self.world.services.len() {
            let Some(store) = self.store(s) else { continue };
            if let Some((old, _, before)) = store.deposed {
                let (a, b) = (
                    self.host_of[old as usize],
                    self.host_of[store.primary as usize],
                );
                if !self.partitioned(a, b) {
                    let divergent = store.result.divergent_writes - before;
                    self.stores[self.store_of[s] as usize].deposed = None;
                    let name = self.instance_name(old);
                    self.log(
                        now,
                        LogKind::Failover,
                        format!("{name} rejoins as a replica: {divergent} divergent writes lost"),
                    );
                }
            }
            self.check_primary(s, now);
        }
        self.bulk.dirty |= self.bulk.any;
    }

    /// Where a write from a caller on host `from` to datastore `s` goes: its primary, or in a
    /// split brain, the old primary when only that one is reachable from the caller's side.
    pub(super) fn split_brain_route(&self, s: usize, picked: u32, from: u32) -> u32 {
        let Some(store) = self.store(s) else {
            return picked;
        };
        let Some((old, ..)) = store.deposed else {
            return picked;
        };
        let host = |i: u32| self.host_of[i as usize];
        if self.partitioned(from, host(store.primary)) && !self.partitioned(from, host(old)) {
            old
        } else {
            picked
        }
    }

    /// A write reached instance `i`, which is not the primary: a deposed primary in a split
    /// brain takes it (`Some(true)`: acknowledge it, divergent) while it believes it leads —
    /// without a lease, and with asynchronous replication (it cannot reach a quorum) — and
    /// refuses it once its lease is over (`Some(false)`); `None`: not a deposed primary.
    pub(super) fn deposed_takes(&self, s: usize, i: u32, now: u64) -> Option<bool> {
        let store = self.store(s)?;
        let (old, since, _) = store.deposed?;
        if old != i {
            return None;
        }
        let def = self.world.services[s].store.as_ref().expect("a datastore");
        Some(def.acks_needed <= 1 && now < since.saturating_add(def.lease_ns))
    }

    /// Whether datastore `s`'s primary has been cut off from the majority for longer than its
    /// lease: it refuses writes.
    pub(super) fn lease_over(&self, s: usize, now: u64) -> bool {
        let lease = self.world.services[s]
            .store
            .as_ref()
            .map_or(u64::MAX, |d| d.lease_ns);
        lease != u64::MAX
            && self
                .store(s)
                .and_then(|x| x.down_since)
                .is_some_and(|t| now >= t.saturating_add(lease))
    }

    /// A deposed primary acknowledged a write: divergent, lost when the partition heals.
    pub(super) fn divergent_write(&mut self, s: usize) {
        let result = &mut self.stores[self.store_of[s] as usize].result;
        result.writes_acked += 1;
        result.lost_writes += 1;
        result.divergent_writes += 1;
    }

    /// Tracks the primary's reachability, starting a failover when it is lost.
    pub(super) fn check_primary(&mut self, s: usize, now: u64) {
        let Some(store) = self.store(s) else {
            return;
        };
        let (primary, down_since) = (store.primary, store.down_since);
        let up = self.store_reachable(s, primary);
        let failover = self.world.services[s]
            .store
            .as_ref()
            .and_then(|d| d.failover);
        let store = &mut self.stores[self.store_of[s] as usize];
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
                if self.replicas[primary as usize].applied < store.written {
                    // The primary came back without the writes it had (its disk was lost): the
                    // most up-to-date copy that is up takes over, the primary's included.
                    let def = &self.world.services[s];
                    let best = (def.first_instance..def.first_instance + def.n_instances)
                        .filter(|&i| self.store_up(i))
                        .max_by_key(|&i| (self.replicas[i as usize].applied, std::cmp::Reverse(i)))
                        .unwrap_or(primary);
                    if best != primary {
                        self.stores[self.store_of[s] as usize].result.failovers += 1;
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
        let store = &self.stores[self.store_of[s] as usize];
        if store.down_gen != epoch || store.down_since.is_none() {
            return;
        }
        let def = &self.world.services[s];
        let best = (def.first_instance..def.first_instance + def.n_instances)
            .filter(|&i| i != store.primary && self.store_reachable(s, i))
            .max_by_key(|&i| (self.replicas[i as usize].applied, std::cmp::Reverse(i)));
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
        let store = &mut self.stores[self.store_of[s] as usize];
        let (old, since) = (store.primary, store.down_since.unwrap_or(now));
        if let Some(t) = store.down_since.take() {
            store.result.write_unavailable_ns += now - t;
        }
        store.result.failovers += 1;
        self.promote(s, best, now);
        let up = self.store_up(old);
        let store = &mut self.stores[self.store_of[s] as usize];
        if up && store.deposed.is_none() {
            // Cut off, not dead: it does not know it was replaced. (One deposed primary at a
            // time: a second failover within the same split brain is not tracked.)
            store.deposed = Some((old, since, store.result.divergent_writes));
        }
    }

    /// Makes `new` the primary with the writes it holds; acknowledged writes beyond them are lost.
    pub(super) fn promote(&mut self, s: usize, new: u32, now: u64) {
        self.bulk.dirty |= self.bulk.any;
        let def = &self.world.services[s];
        let kept = self.replicas[new as usize].applied;
        let store = &mut self.stores[self.store_of[s] as usize];
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
            let replica = &mut self.replicas[i as usize];
            replica.applied = replica.applied.min(kept);
        }
        self.replicas[new as usize].in_sync = true;
        let (from, to) = (self.instance_name(old), self.instance_name(new));
        self.log(
            now,
            LogKind::Failover,
            format!("{from} -> {to}, {lost} acknowledged writes lost"),
        );
    }

    /// Routes a datastore request: writes to the primary; reads to the primary, or to a replica
    /// chosen by `pick` (one that lags passes it to the primary with read-your-writes).
    pub(super) fn store_route(&self, s: usize, write: bool, picked: u32) -> u32 {
        let def = self.world.services[s].store.as_ref().expect("a datastore");
        let store = &self.stores[self.store_of[s] as usize];
        if write || !def.reads_from_replicas {
            return store.primary;
        }
        if def.read_your_writes && self.replicas[picked as usize].applied < store.acked_max {
            return store.primary;
        }
        picked
    }

    /// A write finished its local work at the primary: store it and ship it. Returns whether the
    /// write is acknowledged now (otherwise it waits for replicas).
    #[cold]
    #[inline(never)]
    pub(super) fn store_write(&mut self, sim: &mut Sim<Event>, req: u32) -> Option<u64> {
        let r = self.requests[req];
        let s = r.service as usize;
        let def = self.world.services[s].store.as_ref().expect("a datastore");
        let svc = &self.world.services[s];
        let (seq, epoch) = self.stores[self.store_of[s] as usize].store_write();
        self.replicas[r.instance as usize].applied = seq;
        let sync = def.sync && svc.n_instances > 1;
        self.write_ids = self.write_ids.wrapping_add(1);
        let write_id = self.write_ids;
        let wait = if def.acks_needed > 1 {
            let timer = None;
            self.waits.insert(Wait {
                req,
                write_id,
                seq,
                epoch,
                timer,
            })
        } else {
            NONE
        };
        let mut shipped = 0u32;
        for i in svc.first_instance..svc.first_instance + svc.n_instances {
            if i == r.instance {
                continue;
            }
            if sync && !self.store_up(i) {
                // A synchronous primary drops a replica it knows is down from the set it waits for.
                self.replicas[i as usize].in_sync = false;
                continue;
            }
            shipped += 1;
            let msg = ReplMsg {
                service: s as u32,
                replica: i,
                from: r.instance,
                seq,
                epoch,
                wait,
                write_id,
                stored_ns: sim.now().as_ns(),
                leaves_ns: 0,
                bytes: self.request_bytes(req),
                to_wire: false,
            };
            self.ship(sim, msg, def.acks_needed > 1);
        }
        let needed = if sync { shipped } else { def.acks_needed - 1 };
        if needed == 0 {
            if wait != NONE {
                self.waits.remove(wait);
            }
            return Some(seq);
        }
        let q = &mut self.requests[req];
        q.wait = wait;
        q.phase = Phase::Calling;
        q.pending = needed as u16;
        let timeout = SimDuration::from_ns(def.replication_timeout_ns);
        self.waits[wait].timer = Some(sim.timer_in(timeout, Event::ReplTimeout { wait }));
        None
    }

    /// Sends a write's replication message to its replica, over the network, after the
    /// store's lag when writes are asynchronous (batched log shipping: the message waits at the
    /// primary before it leaves); a message lost on the way leaves the replica behind.
    fn ship(&mut self, sim: &mut Sim<Event>, mut msg: ReplMsg, acks_awaited: bool) {
        let now = sim.now().as_ns();
        let s = msg.service as usize;
        let def = self.world.services[s].store.as_ref().expect("a datastore");
        let (from_host, to_host) = (
            self.host_of[msg.from as usize],
            self.host_of[msg.replica as usize],
        );
        let (lost, add) = self.link(from_host, to_host, MsgSize::Bytes(msg.bytes));
        if lost {
            self.replicas[msg.replica as usize].in_sync = false;
            return;
        }
        let store = &mut self.stores[self.store_of[s] as usize];
        let lag = if acks_awaited {
            0
        } else {
            def.lag.sample(&mut store.rng).as_ns()
        };
        let delay = self.world.latency[self.world.distance(from_host, to_host) as usize]
            .sample(&mut store.rng)
            .as_ns()
            + add;
        msg.leaves_ns = now.saturating_add(lag);
        if msg.bytes > 0 && !self.net.is_empty() {
            // On links with a capacity its time depends on the others' (replicas apply a
            // message that overtakes an earlier one as they would any: up to its sequence).
            // It leaves after the lag: `Replicate` then puts it on the wire (`to_wire`), and
            // again when its last byte has crossed and its latency passed.
            msg.to_wire = true;
            let m = self.msgs.insert(msg);
            let then = Event::Replicate { msg: m };
            return sim.schedule_in(SimDuration::from_ns(lag), then);
        }
        let replica = &mut self.replicas[msg.replica as usize];
        let at = now.saturating_add(lag + delay).max(replica.last_ship_ns);
        replica.last_ship_ns = at;
        let m = self.msgs.insert(msg);
        sim.schedule_at(SimTime::from_ns(at), Event::Replicate { msg: m });
    }

    /// A replication message reaches its replica.
    #[cold]
    #[inline(never)]
    pub(super) fn on_replicate(&mut self, sim: &mut Sim<Event>, m: u32) {
        let msg = self.msgs[m];
        let s = msg.service as usize;
        let store = &self.stores[self.store_of[s] as usize];
        let current = store.epoch == msg.epoch;
        let sender = &self.process[msg.from as usize];
        let never_sent =
            sender.last_down_ns >= msg.stored_ns && sender.last_down_ns < msg.leaves_ns;
        if !current || never_sent || !self.store_up(msg.replica) {
            if current {
                self.replicas[msg.replica as usize].in_sync = false;
            }
            self.msgs.remove(m);
            return;
        }
        if msg.to_wire {
            // Its lag is over and its primary sent it: now it crosses the links.
            self.msgs[m].to_wire = false;
            let hosts = (
                self.host_of[msg.from as usize],
                self.host_of[msg.replica as usize],
            );
            let then = Event::Replicate { msg: m };
            let class = net::Class::Replication;
            let (lost, add) = self.link(hosts.0, hosts.1, MsgSize::Bytes(msg.bytes));
            if lost {
                self.replicas[msg.replica as usize].in_sync = false;
                self.msgs.remove(m);
                return;
            }
            let distance = self.world.distance(hosts.0, hosts.1) as usize;
            let store = &mut self.stores[self.store_of[s] as usize];
            let latency = self.world.latency[distance].sample(&mut store.rng).as_ns() + add;
            return self.transmit(sim, hosts, msg.bytes, class, then, latency);
        }
        if !self.disks.is_empty() {
            let host = self.host_of[msg.replica as usize];
            if !self.disk_room(host, u64::from(msg.bytes)) {
                // A full disk: the replica cannot apply it and falls behind.
                self.replicas[msg.replica as usize].in_sync = false;
                self.msgs.remove(m);
                return;
            }
            let op = disk::DiskOp {
                job: disk::DiskJob::Apply(m),
                bytes: u64::from(msg.bytes),
                fsync: self.world.services[s]
                    .store
                    .as_ref()
                    .is_some_and(|d| d.fsync),
                class: net::Class::Replication,
            };
            return self.disk_submit(sim, host, op);
        }
        self.replica_apply(sim, m);
    }

    /// A replica applies a replicated write (after its disk wrote it, with disks) and, when
    /// the primary waits for it, acknowledges it.
    pub(super) fn replica_apply(&mut self, sim: &mut Sim<Event>, m: u32) {
        let msg = self.msgs[m];
        let s = msg.service as usize;
        let current = self.stores[self.store_of[s] as usize].epoch == msg.epoch;
        if !current || !self.store_up(msg.replica) {
            // The replica died (or a failover came) while its disk wrote: nothing applied,
            // nothing acknowledged.
            if current {
                self.replicas[msg.replica as usize].in_sync = false;
            }
            self.msgs.remove(m);
            return;
        }
        // A replica that missed messages catches up from the primary's log with this one; one
        // being rebuilt keeps the write in its log and catches up when its rebuild ends.
        let replica = &mut self.replicas[msg.replica as usize];
        if !replica.needs_rebuild {
            replica.applied = replica.applied.max(msg.seq);
            replica.in_sync = true;
        }
        if msg.wait == NONE {
            self.msgs.remove(m);
            return;
        }
        let (from_host, to_host) = (
            self.host_of[msg.replica as usize],
            self.host_of[msg.from as usize],
        );
        let (lost, add) = self.link(from_host, to_host, MsgSize::Bytes(0));
        if lost {
            self.msgs.remove(m);
            return;
        }
        let store = &mut self.stores[self.store_of[s] as usize];
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
        let msg = self.msgs[m];
        self.msgs.remove(m);
        let w = self.waits[msg.wait];
        if w.write_id != msg.write_id || w.timer.is_none() {
            return; // the write has ended (timed out; or the slot holds another write)
        }
        let r = &mut self.requests[w.req];
        r.pending.dec();
        if r.pending > 0 {
            return;
        }
        r.wait = NONE;
        let doomed = r.doomed;
        if let Some(t) = self.waits[msg.wait].timer.take() {
            sim.cancel(t);
        }
        self.waits.remove(msg.wait);
        let s = self.requests[w.req].service as usize;
        let deposed = self.store(s).is_some_and(|x| x.epoch != w.epoch);
        let outcome = if doomed || deposed {
            Outcome::Failed
        } else {
            let s = self.requests[w.req].service as usize;
            self.store_acked(s, w.seq);
            Outcome::Completed
        };
        self.finish(sim, w.req, outcome);
    }

    /// A write waited too long for its replicas: it fails (unacknowledged).
    #[cold]
    #[inline(never)]
    pub(super) fn on_repl_timeout(&mut self, sim: &mut Sim<Event>, wait: u32) {
        let req = self.waits[wait].req;
        self.waits[wait].timer = None;
        self.waits.remove(wait);
        self.requests[req].wait = NONE;
        self.finish(sim, req, Outcome::Failed);
    }

    /// Notes an acknowledged write.
    #[cold]
    #[inline(never)]
    pub(super) fn store_acked(&mut self, s: usize, seq: u64) {
        let store = &mut self.stores[self.store_of[s] as usize];
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
        let applied = self.replicas[i as usize].applied;
        let store = &mut self.stores[self.store_of[s] as usize];
        if i != store.primary && applied < store.acked_max {
            store.result.stale_reads += 1;
        }
    }
}
