//! Bulk data movement that competes with users: datastore **rebuilds** (a copy that lost its
//! data — a dead disk, a new host — or that was out of reach for longer than `rebuild.after`
//! is copied again in full from a complete copy) and **transfers** (`transfers`: backups, data
//! loads). Each is a job that moves its bytes in chunks, `parallel` at a time, each chunk read
//! from the source's disk, sent over the network (a flow of class recovery or bulk) and written
//! to the target's disk; a rate limit (`rate`) is a link of the job's own that its chunks'
//! flows cross, so that together they never exceed it and share it max-min. A job whose source
//! or target goes down is abandoned and started again from the start when it can (a rebuild
//! from another complete copy).
//!
//! ```text
//!  issue ─▶ disk read (source) ─▶ flow (source → target) ─Event::Chunk─▶ disk write (target)
//!     ▲                                                                        │
//!     └───────────────────────────── written < total ◀─────────────────────────┘
//! ```
//!
//! A datastore's redundancy is reduced from the moment a copy lacks its data until its rebuild
//! ends (`StoreResult::redundancy_lost_ns`, `rebuilds`, `rebuilt_bytes`).

use super::*;
use crate::network::{TransferDef, NO_LINK};

/// What a job moves.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum BulkKind {
    /// A copy of datastore `service`'s data for instance `target`.
    Rebuild { service: u32, target: u32 },
    /// `World::transfers[k]`.
    Transfer(u32),
}

/// One job of bulk data movement.
#[derive(Copy, Clone, Debug)]
pub(super) struct BulkJob {
    pub(super) kind: BulkKind,
    from: u32,
    to: u32,
    total: u64,
    issued: u64,
    pub(super) written: u64,
    in_flight: u32,
    parallel: u32,
    chunk: u64,
    /// Bytes per ns (`f64::INFINITY`: no limit), and the link of its own that enforces it.
    rate: f64,
    limit: u32,
    /// The rate-limit link this slot owns (kept for the next job in the slot).
    link: u32,
    class: net::Class,
    pub(super) started_ns: u64,
    /// Done, or abandoned: its chunks still in flight are dropped where they are.
    over: bool,
}

/// A chunk on its way: its job, its size, and whether it has been read.
#[derive(Copy, Clone, Debug)]
pub(super) struct ChunkRec {
    job: u32,
    bytes: u64,
    read: bool,
}

/// Why a rebuild stopped when its target's disk was full (it does not start again at once).
const DISK_FULL: &str = "its target's disk is full";

/// `Event::Chunk` stages: a chunk reached its target; a transfer starts (`chunk` is its job).
pub(super) const CHUNK_ARRIVED: u8 = 0;
pub(super) const JOB_START: u8 = 1;

/// The jobs of a run (never removed: a finished job's slot says how it ended) and the chunks
/// in flight.
#[derive(Default)]
pub(super) struct Bulk {
    pub(super) jobs: Vec<BulkJob>,
    chunks: Option<Slab<ChunkRec>>,
    /// Something changed that may start or end a rebuild (`flush_rebuilds` looks).
    pub(super) dirty: bool,
    /// Whether any datastore rebuilds.
    pub(super) any: bool,
    /// Per transfer: when it ended.
    pub(super) transfer_done: Vec<Option<u64>>,
}

impl Bulk {
    pub(super) fn new(world: &World) -> Bulk {
        Bulk {
            any: world
                .services
                .iter()
                .any(|s| s.store.as_ref().is_some_and(|d| d.rebuild.is_some())),
            transfer_done: vec![None; world.transfers.len()],
            ..Default::default()
        }
    }

    fn chunks(&mut self) -> &mut Slab<ChunkRec> {
        self.chunks.get_or_insert_with(|| Slab::with_capacity(16))
    }
}

impl ServiceModel<'_> {
    /// Schedules the transfers.
    pub(super) fn schedule_transfers(&mut self, sim: &mut Sim<Event>) {
        for (k, t) in self.world.transfers.iter().enumerate() {
            let job = self.new_job(sim, BulkKind::Transfer(k as u32), transfer_job(t, self));
            sim.schedule_at(
                SimTime::from_ns(t.at_ns),
                Event::Chunk {
                    chunk: job,
                    stage: JOB_START,
                },
            );
        }
    }

    /// A new job, in the slot of a finished rebuild whose chunks have all drained (so that
    /// the jobs of a run are bounded by its transfers and the rebuilds under way), with its
    /// rate-limit link (that slot's, set anew).
    fn new_job(&mut self, sim: &mut Sim<Event>, kind: BulkKind, mut job: BulkJob) -> u32 {
        job.kind = kind;
        let free =
            self.bulk.jobs.iter().position(|j| {
                j.over && j.in_flight == 0 && matches!(j.kind, BulkKind::Rebuild { .. })
            });
        let slot = free.unwrap_or(self.bulk.jobs.len());
        job.link = self.bulk.jobs.get(slot).map_or(NO_LINK, |j| j.link);
        if job.rate.is_finite() {
            if job.link == NO_LINK {
                job.link = self.net.add_link(job.rate);
            } else {
                self.set_link_capacity(sim, job.link, job.rate);
            }
            job.limit = job.link;
        }
        if free.is_some() {
            self.bulk.jobs[slot] = job;
        } else {
            self.bulk.jobs.push(job);
        }
        slot as u32
    }

    /// Starts chunks while the job has room and bytes are left.
    fn issue(&mut self, sim: &mut Sim<Event>, j: u32) {
        loop {
            let job = &mut self.bulk.jobs[j as usize];
            if job.over || job.in_flight >= job.parallel || job.issued >= job.total {
                return;
            }
            let bytes = job.chunk.min(job.total - job.issued);
            job.issued += bytes;
            job.in_flight += 1;
            let (from, class) = (job.from, job.class);
            let c = self.bulk.chunks().insert(ChunkRec {
                job: j,
                bytes,
                read: false,
            });
            if self.world.disk.is_some() {
                let op = disk::DiskOp {
                    job: disk::DiskJob::Chunk(c),
                    bytes,
                    fsync: false,
                    class,
                };
                self.disk_submit(sim, from, op);
            } else {
                self.chunk_read(sim, c);
            }
        }
    }

    /// `Event::Chunk`: a chunk reached its target, or a transfer starts.
    pub(super) fn on_chunk(&mut self, sim: &mut Sim<Event>, chunk: u32, stage: u8) {
        if stage == JOB_START {
            self.bulk.jobs[chunk as usize].started_ns = sim.now().as_ns();
            return self.issue(sim, chunk);
        }
        let rec = self.bulk.chunks()[chunk];
        let job = self.bulk.jobs[rec.job as usize];
        if job.over {
            return self.drop_chunk(chunk);
        }
        if self.hosts[job.to as usize].down > 0 {
            return self.abandon(sim, rec.job, chunk, "its target went down");
        }
        if self.world.disk.is_some() {
            if !self.disk_room(job.to, rec.bytes) {
                return self.abandon(sim, rec.job, chunk, DISK_FULL);
            }
            let op = disk::DiskOp {
                job: disk::DiskJob::Chunk(chunk),
                bytes: rec.bytes,
                fsync: false,
                class: job.class,
            };
            self.disk_submit(sim, job.to, op);
        } else {
            self.chunk_written(sim, chunk);
        }
    }

    /// A chunk's disk operation is done: read (send it) or written.
    pub(super) fn chunk_io_done(&mut self, sim: &mut Sim<Event>, c: u32) {
        let rec = &mut self.bulk.chunks()[c];
        if rec.read {
            return self.chunk_written(sim, c);
        }
        rec.read = true;
        self.chunk_read(sim, c);
    }

    /// A chunk was read at the source: it goes over the network.
    fn chunk_read(&mut self, sim: &mut Sim<Event>, c: u32) {
        let rec = self.bulk.chunks()[c];
        let job = self.bulk.jobs[rec.job as usize];
        if job.over {
            return self.drop_chunk(c);
        }
        if self.hosts[job.from as usize].down > 0 {
            return self.abandon(sim, rec.job, c, "its source went down");
        }
        let then = Event::Chunk {
            chunk: c,
            stage: CHUNK_ARRIVED,
        };
        self.transmit_bulk(
            sim,
            (job.from, job.to),
            rec.bytes,
            job.limit,
            job.class,
            then,
        );
    }

    fn chunk_written(&mut self, sim: &mut Sim<Event>, c: u32) {
        let rec = self.bulk.chunks()[c];
        self.bulk.chunks().remove(c);
        let job = &mut self.bulk.jobs[rec.job as usize];
        job.in_flight.dec();
        if job.over {
            return;
        }
        job.written += rec.bytes;
        if job.written >= job.total {
            job.over = true;
            return self.job_done(sim, rec.job);
        }
        self.issue(sim, rec.job);
    }

    fn drop_chunk(&mut self, c: u32) {
        let rec = self.bulk.chunks()[c];
        self.bulk.chunks().remove(c);
        self.bulk.jobs[rec.job as usize].in_flight.dec();
    }

    /// The job's source or target is gone (or the target's disk is full): it stops here.
    fn abandon(&mut self, sim: &mut Sim<Event>, j: u32, c: u32, why: &str) {
        self.drop_chunk(c);
        self.stop_job(sim, j, why);
    }

    /// Job `j` stops (its source or target went down, its copy lost its data again, or its
    /// target's disk is full): the bytes it wrote are freed on the target's disk, and a
    /// rebuild is started again at the next change — at once, unless the disk was full.
    fn stop_job(&mut self, sim: &mut Sim<Event>, j: u32, why: &str) {
        let job = &mut self.bulk.jobs[j as usize];
        if job.over {
            return;
        }
        job.over = true;
        let (to, written) = (job.to, job.written);
        if let Some(d) = self.disks.get_mut(to as usize) {
            d.used = d.used.saturating_sub(written);
        }
        if let BulkKind::Rebuild { service, target } = job.kind {
            self.replicas[target as usize].rebuild = NONE;
            self.stores[self.store_of[service as usize] as usize]
                .result
                .rebuilds_abandoned += 1;
            self.bulk.dirty |= why != DISK_FULL;
            let what = format!("rebuild of {} abandoned: {why}", self.instance_name(target));
            self.log(sim.now().as_ns(), LogKind::Rebuild, what);
        }
    }

    fn job_done(&mut self, sim: &mut Sim<Event>, j: u32) {
        let now = sim.now().as_ns();
        let job = self.bulk.jobs[j as usize];
        match job.kind {
            BulkKind::Rebuild { service, target } => self.rebuild_done(service, target, j, now),
            BulkKind::Transfer(k) => self.bulk.transfer_done[k as usize] = Some(now),
        }
    }

    // ---- rebuilds ----

    /// Copy `i` of datastore `s` lacks its data from `now` (lost, or too stale to catch up).
    /// `since`: when its data stopped being whole (its loss, or the start of its absence).
    fn mark_missing(&mut self, sim: &mut Sim<Event>, s: usize, i: u32, since: u64) {
        let data = self.world.services[s]
            .store
            .as_ref()
            .and_then(|d| d.rebuild)
            .map_or(0, |r| r.data);
        let host = self.host_of[i as usize];
        let replica = &mut self.replicas[i as usize];
        replica.data_lost = false;
        if replica.needs_rebuild {
            // Lost again while a rebuild ran: what it copied is gone; it starts over.
            let j = replica.rebuild;
            if j != NONE {
                self.stop_job(sim, j, "lost its data again");
            }
            return;
        }
        replica.needs_rebuild = true;
        replica.applied = 0;
        replica.in_sync = false;
        if let Some(d) = self.disks.get_mut(host as usize) {
            d.used = d.used.saturating_sub(data);
        }
        let store = &mut self.stores[self.store_of[s] as usize];
        if store.missing == 0 {
            store.missing_since = since;
        }
        store.missing += 1;
    }

    fn rebuild_done(&mut self, s: u32, i: u32, j: u32, now: u64) {
        let s = s as usize;
        let written = self.bulk.jobs[j as usize].written;
        let store = &mut self.stores[self.store_of[s] as usize];
        let caught_up = store.written;
        store.result.rebuilds_done += 1;
        store.result.rebuilt_bytes += written;
        store.missing.dec();
        if store.missing == 0 {
            store.result.redundancy_lost_ns += now - store.missing_since;
        }
        let replica = &mut self.replicas[i as usize];
        replica.needs_rebuild = false;
        replica.rebuild = NONE;
        replica.applied = caught_up;
        replica.in_sync = true;
        let what = format!("{} rebuilt ({} bytes)", self.instance_name(i), written);
        self.log(now, LogKind::Rebuild, what);
    }

    /// Starts and ends rebuilds after a change (a restart, a lost disk, a partition that came
    /// or went, a failover, an abandoned rebuild).
    #[cold]
    #[inline(never)]
    pub(super) fn flush_rebuilds(&mut self, sim: &mut Sim<Event>) {
        self.bulk.dirty = false;
        let now = sim.now().as_ns();
        for s in 0..self.world.services.len() {
            let Some(r) = self.world.services[s]
                .store
                .as_ref()
                .and_then(|d| d.rebuild)
            else {
                continue;
            };
            let def = &self.world.services[s];
            for i in def.first_instance..def.first_instance + def.n_instances {
                self.copy_state(sim, s, i, r.after_ns);
                let replica = &self.replicas[i as usize];
                if replica.needs_rebuild && replica.rebuild == NONE && self.store_up(i) {
                    self.start_rebuild(sim, s, i, now);
                }
            }
        }
    }

    /// Notes copy `i` losing its data, or coming back within reach after too long away.
    fn copy_state(&mut self, sim: &mut Sim<Event>, s: usize, i: u32, after_ns: u64) {
        let now = sim.now().as_ns();
        if self.replicas[i as usize].data_lost {
            self.mark_missing(sim, s, i, now);
        }
        let j = self.replicas[i as usize].rebuild;
        if j != NONE && self.bulk.jobs[j as usize].to != self.host_of[i as usize] {
            self.stop_job(sim, j, "its copy moved to another host");
        }
        if after_ns == u64::MAX {
            return;
        }
        let primary = self.stores[self.store_of[s] as usize].primary;
        if i == primary || !self.store_up(primary) {
            // A copy is away when it is down or cut off from a primary that is up; a primary
            // that is away itself misses nothing while no write reaches it.
            if i == primary {
                self.replicas[i as usize].cut_since = None;
            }
            return;
        }
        let (ph, h) = (self.host_of[primary as usize], self.host_of[i as usize]);
        let reachable = self.store_up(i) && !self.partitioned(ph, h);
        match (reachable, self.replicas[i as usize].cut_since) {
            (false, None) => self.replicas[i as usize].cut_since = Some(now),
            (true, Some(t)) => {
                self.replicas[i as usize].cut_since = None;
                if now - t >= after_ns {
                    // Away too long to catch up from the log: its redundancy was lost from
                    // when it went away.
                    self.mark_missing(sim, s, i, t);
                }
            }
            _ => {}
        }
    }

    /// A rebuild of copy `i` from a complete copy that is up and reaches it: the one sourcing
    /// the fewest rebuilds now (the primary first among equals, then in order), so that a
    /// rack's rebuilds draw on many hosts, as HDFS and Ceph spread recovery.
    fn start_rebuild(&mut self, sim: &mut Sim<Event>, s: usize, i: u32, now: u64) {
        let def = &self.world.services[s];
        let r = def
            .store
            .as_ref()
            .and_then(|d| d.rebuild)
            .expect("rebuilds");
        let host = |k: u32| self.host_of[k as usize];
        let primary = self.stores[self.store_of[s] as usize].primary;
        let complete = |k: u32| {
            k != i
                && self.store_up(k)
                && !self.replicas[k as usize].needs_rebuild
                && !self.partitioned(host(k), host(i))
        };
        let sourcing = |k: u32| {
            let h = host(k);
            let busy = |j: &&BulkJob| !j.over && j.from == h && j.class == net::Class::Recovery;
            self.bulk.jobs.iter().filter(busy).count()
        };
        let copies = def.first_instance..def.first_instance + def.n_instances;
        let source = std::iter::once(primary)
            .chain(copies.filter(|&k| k != primary))
            .filter(|&k| complete(k))
            .min_by_key(|&k| sourcing(k));
        let Some(source) = source else {
            return; // nothing to copy from yet: tried again at the next change
        };
        let job = BulkJob {
            kind: BulkKind::Rebuild {
                service: s as u32,
                target: i,
            },
            from: host(source),
            to: host(i),
            total: r.data,
            issued: 0,
            written: 0,
            in_flight: 0,
            parallel: r.parallel,
            chunk: r.chunk,
            rate: r.rate,
            limit: NO_LINK,
            link: NO_LINK,
            class: net::Class::Recovery,
            started_ns: now,
            over: false,
        };
        let j = self.new_job(sim, job.kind, job);
        self.replicas[i as usize].rebuild = j;
        self.stores[self.store_of[s] as usize].result.rebuilds += 1;
        let what = format!(
            "rebuild of {} from {}",
            self.instance_name(i),
            self.instance_name(source)
        );
        self.log(now, LogKind::Rebuild, what);
        self.issue(sim, j);
    }

    /// Each datastore copy's data on its host's disk, at the start.
    pub(super) fn place_data(&mut self) {
        for def in &self.world.services {
            let Some(r) = def.store.as_ref().and_then(|d| d.rebuild) else {
                continue;
            };
            for i in def.first_instance..def.first_instance + def.n_instances {
                let h = self.host_of[i as usize] as usize;
                if let Some(d) = self.disks.get_mut(h) {
                    d.used += r.data;
                }
            }
        }
    }
}

impl ServiceModel<'_> {
    /// Each transfer's result.
    pub(super) fn transfer_results(&self) -> Vec<crate::results::TransferResult> {
        let jobs = self.bulk.jobs.iter().filter_map(|j| match j.kind {
            BulkKind::Transfer(k) => Some((k, j)),
            BulkKind::Rebuild { .. } => None,
        });
        jobs.map(|(k, j)| {
            let t = &self.world.transfers[k as usize];
            let done = self.bulk.transfer_done[k as usize];
            crate::results::TransferResult {
                name: t.name.clone(),
                bytes: t.size,
                moved_bytes: j.written,
                started_ns: j.started_ns.max(t.at_ns),
                done_ns: done,
            }
        })
        .collect()
    }
}

/// A transfer's job (its ends resolved at the start of the run: a service's primary or first
/// instance).
fn transfer_job(t: &TransferDef, m: &ServiceModel) -> BulkJob {
    let end = |(host, service): (u32, u32)| {
        if host != u32::MAX {
            return host;
        }
        let s = service as usize;
        let i = m
            .store(s)
            .map_or(m.world.services[s].first_instance, |x| x.primary);
        m.host_of[i as usize]
    };
    BulkJob {
        kind: BulkKind::Transfer(0),
        from: end(t.from),
        to: end(t.to),
        total: t.size,
        issued: 0,
        written: 0,
        in_flight: 0,
        parallel: t.parallel,
        chunk: t.chunk,
        rate: t.rate,
        limit: NO_LINK,
        link: NO_LINK,
        class: net::Class::Bulk,
        started_ns: 0,
        over: false,
    }
}
