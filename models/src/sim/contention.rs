//! Rows with versions, and conditional writes that contend for them (`op: CompareAndSet`):
//! optimistic concurrency at a datastore.
//!
//! ```text
//!  start_work of a conditional write ─▶ cas_read: the version of its row, kept by request slot
//!  on_work_done ─▶ cas_commit: the row still has that version? its version moves on, and the
//!     write goes on as any other : it fails with a conflict (counted in the data ledger)
//! ```
//!
//! The part owns `Rows`: per datastore the version of each row written so far (a `KeyMap`,
//! never iterated), and per request slot the version a conditional write read.

use super::cache::KeyMap;
use super::*;

/// The state of this part (`ServiceModel::rows`).
#[derive(Default)]
pub(super) struct Rows {
    /// By service: its rows' versions (empty for services that take no conditional write).
    versions: Vec<KeyMap<u32>>,
    /// By request slot: the version a conditional write read when it started.
    read: Vec<u32>,
    /// By service: conditional writes refused.
    pub(super) conflicts: Vec<u64>,
}

impl Rows {
    pub(super) fn new(world: &World) -> Rows {
        if !world.calls.iter().any(|c| c.cas) {
            return Rows::default();
        }
        Rows {
            versions: world.services.iter().map(|_| KeyMap::default()).collect(),
            read: Vec::new(),
            conflicts: vec![0; world.services.len()],
        }
    }
}

impl ServiceModel<'_> {
    /// Whether request `req` is a conditional write to a row.
    #[inline]
    pub(super) fn is_cas(&self, req: u32) -> bool {
        let r = &self.requests[req];
        r.key != NONE && r.edge != NONE && self.world.calls[r.edge as usize].cas
    }

    /// A conditional write starts: it reads its row's version.
    #[cold]
    #[inline(never)]
    pub(super) fn cas_read(&mut self, req: u32) {
        let r = self.requests[req];
        let rows = &mut self.rows;
        let version = rows.versions[r.service as usize]
            .get(&r.key)
            .copied()
            .unwrap_or(0);
        if rows.read.len() <= req as usize {
            rows.read.resize(req as usize + 1, 0);
        }
        rows.read[req as usize] = version;
    }

    /// A conditional write's work is done: it commits (its row's version moves on) if no other
    /// committed since it read the row; returns false on a conflict.
    #[cold]
    #[inline(never)]
    pub(super) fn cas_commit(&mut self, req: u32) -> bool {
        let r = self.requests[req];
        let rows = &mut self.rows;
        let s = r.service as usize;
        let now = rows.versions[s].get(&r.key).copied().unwrap_or(0);
        if now != rows.read[req as usize] {
            rows.conflicts[s] += 1;
            return false;
        }
        rows.versions[s].insert(r.key, now.wrapping_add(1));
        true
    }
}
