//! Disks: one per host (`topology.disk`), serving one operation at a time from its queue —
//! first come first served, or users' before background work (`UserFirst`) — each taking the
//! longer of `1 / iops` and its size over the throughput, times the host's `SlowDisk` factor,
//! plus a flush for a durable write. An operation larger than `MAX_IO` (1 MiB, the block
//! layer's largest request) is served a piece at a time, each piece queued again behind what
//! arrived meanwhile, so a 64 MiB rebuild chunk does not hold the disk for its whole length. Datastores read and write it (a request's I/O after its
//! work, its worker held), replicas apply replicated writes on it, rebuilds and transfers read
//! and write their chunks on it. A full disk refuses writes.
//!
//! ```text
//!  submit ─▶ queue (user │ background) ─▶ busy ─Event::DiskDone─▶ the op's owner goes on
//! ```

use super::*;
use crate::network::{DiskDef, DiskOrder};

/// The largest piece of an operation the disk serves at once.
pub(super) const MAX_IO: u64 = 1 << 20;

/// Who waits for an operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum DiskJob {
    /// A datastore request's read or write.
    Request(u32),
    /// A replica applies a replicated write (its replication message).
    Apply(u32),
    /// A chunk of a rebuild or a transfer: read at its source, or written at its target.
    Chunk(u32),
}

#[derive(Copy, Clone, Debug)]
pub(super) struct DiskOp {
    pub(super) job: DiskJob,
    pub(super) bytes: u64,
    pub(super) fsync: bool,
    pub(super) class: net::Class,
}

/// One host's disk.
#[derive(Clone, Debug, Default)]
pub(super) struct Disk {
    /// Users' operations (every operation, with `Fifo`), and background ones.
    user: VecDeque<DiskOp>,
    background: VecDeque<DiskOp>,
    /// The operation in progress.
    busy: Option<DiskOp>,
    /// Bytes it holds.
    pub(super) used: u64,
    // Results.
    pub(super) ops: u64,
    pub(super) bytes: [u64; net::CLASSES],
    pub(super) busy_ns: u64,
    pub(super) queue_area: f64,
    pub(super) queue_max: u32,
    pub(super) full_refusals: u64,
    updated_ns: u64,
}

impl Disk {
    /// A disk per host of `world` (none without `topology.disk`).
    pub(super) fn per_host(world: &World) -> Vec<Disk> {
        match world.disk {
            Some(_) => vec![Disk::default(); world.hosts.len()],
            None => Vec::new(),
        }
    }

    /// Operations waiting.
    pub(super) fn waiting(&self) -> usize {
        self.user.len() + self.background.len()
    }

    fn touch(&mut self, now: u64) {
        let dt = now.saturating_sub(self.updated_ns);
        self.queue_area += dt as f64 * self.waiting() as f64;
        self.updated_ns = now;
    }

    /// Queues `op`; returns whether the disk was idle (the caller starts it).
    fn push(&mut self, now: u64, op: DiskOp, order: DiskOrder) -> bool {
        self.touch(now);
        let background = matches!(op.class, net::Class::Recovery | net::Class::Bulk);
        if order == DiskOrder::UserFirst && background {
            self.background.push_back(op);
        } else {
            self.user.push_back(op);
        }
        self.queue_max = self.queue_max.max(self.waiting() as u32);
        self.busy.is_none()
    }

    /// The next operation to serve, now in progress.
    fn start_next(&mut self, now: u64) -> Option<DiskOp> {
        self.touch(now);
        let op = self
            .user
            .pop_front()
            .or_else(|| self.background.pop_front())?;
        self.busy = Some(op);
        Some(op)
    }

    /// The piece in progress is done: the operation is finished (`Some`), or its rest is
    /// queued again (`None`, as when the disk was idle).
    fn done(&mut self, now: u64, order: DiskOrder) -> Option<DiskOp> {
        self.touch(now);
        let mut op = self.busy.take()?;
        let piece = op.bytes.min(MAX_IO);
        self.ops += 1;
        self.bytes[op.class as usize] += piece;
        if op.bytes > piece {
            op.bytes -= piece;
            self.push(now, op, order);
            return None;
        }
        Some(op)
    }
}

impl ServiceModel<'_> {
    /// Queues an operation on host `h`'s disk.
    pub(super) fn disk_submit(&mut self, sim: &mut Sim<Event>, h: u32, op: DiskOp) {
        let def = self.world.disk.as_ref().expect("disks");
        let now = sim.now().as_ns();
        self.disk_waiting += 1;
        if self.disks[h as usize].push(now, op, def.order) {
            self.disk_start(sim, h);
        }
        self.check_backlog(sim);
    }

    /// Whether a write of `bytes` fits on host `h`'s disk (counting a refusal when not).
    pub(super) fn disk_room(&mut self, h: u32, bytes: u64) -> bool {
        let cap = self.world.disk.as_ref().map_or(u64::MAX, |d| d.capacity);
        let disk = &mut self.disks[h as usize];
        if disk.used.saturating_add(bytes) > cap {
            disk.full_refusals += 1;
            return false;
        }
        disk.used += bytes;
        true
    }

    fn disk_start(&mut self, sim: &mut Sim<Event>, h: u32) {
        let now = sim.now().as_ns();
        let Some(op) = self.disks[h as usize].start_next(now) else {
            return;
        };
        let def: &DiskDef = self.world.disk.as_ref().expect("disks");
        let (piece, last) = (op.bytes.min(MAX_IO), op.bytes <= MAX_IO);
        let t = def.op_time_ns(piece, op.fsync && last, self.hosts[h as usize].disk_slow);
        self.disks[h as usize].busy_ns += t;
        sim.schedule_in(SimDuration::from_ns(t), Event::DiskDone { host: h });
    }

    /// Host `h`'s disk finished its operation: its owner goes on, and the next starts.
    pub(super) fn on_disk_done(&mut self, sim: &mut Sim<Event>, h: u32) {
        let now = sim.now().as_ns();
        let order = self.world.disk.as_ref().expect("disks").order;
        let done = self.disks[h as usize].done(now, order);
        self.disk_start(sim, h);
        let Some(op) = done else {
            return;
        };
        self.disk_waiting.dec();
        match op.job {
            DiskJob::Request(req) => self.request_io_done(sim, req),
            DiskJob::Apply(msg) => self.replica_apply(sim, msg),
            DiskJob::Chunk(c) => self.chunk_io_done(sim, c),
        }
    }

    /// A datastore request's local work is done: its read or write goes to its host's disk
    /// (a write that does not fit fails at once).
    pub(super) fn request_io(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = self.requests[req];
        let s = r.service as usize;
        let host = self.host_of[r.instance as usize];
        let store = self.world.services[s].store.as_ref().expect("a datastore");
        let bytes = if r.write {
            u64::from(self.request_bytes(req))
        } else {
            u64::from(self.response_size(req))
        };
        if r.write && !self.disk_room(host, bytes) {
            self.stores[self.store_of[s] as usize].result.disk_full += 1;
            return self.finish(sim, req, Outcome::Failed);
        }
        let op = DiskOp {
            job: DiskJob::Request(req),
            bytes,
            fsync: r.write && store.fsync,
            class: net::Class::User,
        };
        self.disk_submit(sim, host, op);
    }

    /// A datastore request's I/O is done: it is stored or read (or fails, its instance lost).
    fn request_io_done(&mut self, sim: &mut Sim<Event>, req: u32) {
        if self.requests[req].doomed {
            return self.finish(sim, req, Outcome::Failed);
        }
        let now = sim.now().as_ns();
        self.stored(sim, req, now);
    }

    /// Host `h`'s disk is lost with its data (`DiskFailure`): a new one starts empty.
    pub(super) fn disk_lost(&mut self, h: u32) {
        if let Some(d) = self.disks.get_mut(h as usize) {
            d.used = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(k: u32, class: net::Class) -> DiskOp {
        DiskOp {
            job: DiskJob::Chunk(k),
            bytes: 1,
            fsync: false,
            class,
        }
    }

    #[test]
    fn user_first_serves_users_before_background_work_and_fifo_does_not() {
        for (order, expected) in [
            (DiskOrder::Fifo, [0, 1, 2]),
            (DiskOrder::UserFirst, [0, 2, 1]),
        ] {
            let mut d = Disk::default();
            assert!(d.push(0, op(0, net::Class::User), order));
            d.start_next(0);
            assert!(!d.push(0, op(1, net::Class::Recovery), order));
            assert!(!d.push(0, op(2, net::Class::User), order));
            let mut served = vec![];
            while let Some(o) = d.done(10, order) {
                served.push(match o.job {
                    DiskJob::Chunk(k) => k,
                    _ => unreachable!(),
                });
                d.start_next(10);
            }
            assert_eq!(served, expected);
            assert_eq!(d.ops, 3);
        }
    }

    #[test]
    fn the_queue_is_measured_over_time() {
        let mut d = Disk::default();
        d.push(0, op(0, net::Class::User), DiskOrder::Fifo);
        d.start_next(0);
        d.push(0, op(1, net::Class::User), DiskOrder::Fifo);
        d.push(0, op(2, net::Class::User), DiskOrder::Fifo);
        d.done(100, DiskOrder::Fifo); // two waited 100 ns
        d.start_next(100);
        assert_eq!(d.queue_area, 200.0);
        assert_eq!(d.queue_max, 2);
    }

    #[test]
    fn a_large_operation_is_served_a_piece_at_a_time_behind_newcomers() {
        let mut d = Disk::default();
        let mut big = op(0, net::Class::Recovery);
        big.bytes = 3 * MAX_IO;
        d.push(0, big, DiskOrder::Fifo);
        d.start_next(0);
        d.push(0, op(1, net::Class::User), DiskOrder::Fifo);
        // The first piece ends: the rest goes behind the user's operation.
        assert!(d.done(10, DiskOrder::Fifo).is_none());
        let next = d.start_next(10).unwrap();
        assert_eq!(next.job, DiskJob::Chunk(1));
        assert_eq!(d.done(20, DiskOrder::Fifo).unwrap().job, DiskJob::Chunk(1));
        d.start_next(20);
        assert!(d.done(30, DiskOrder::Fifo).is_none());
        d.start_next(30);
        let last = d.done(40, DiskOrder::Fifo).unwrap();
        assert_eq!((last.job, last.bytes), (DiskJob::Chunk(0), MAX_IO));
        assert_eq!(d.ops, 4);
        assert_eq!(d.bytes[net::Class::Recovery as usize], 3 * MAX_IO);
    }
}
