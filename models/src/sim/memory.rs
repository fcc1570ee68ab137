//! Memory of instances (`memory` on a service): every request an instance holds, queued or in
//! progress, takes `per_request` on top of `base`; a request that would take the instance over
//! its limit kills the process (OOM), so everything it holds fails; it restarts after its
//! back-off (`restart`: Kubernetes' CrashLoopBackOff) and comes back cold.
//!
//! The request path asks one question, on admission: does the instance hold `oom_at` requests
//! already (`ServiceDef::oom_at`, `u32::MAX` without a limit)? Everything else happens here.

use super::*;

impl ServiceModel<'_> {
    /// `req` arrived at instance `i`, which already holds all the requests its memory allows:
    /// the process is killed. The request fails with everything else the instance held, and the
    /// restart is scheduled after the back-off.
    #[cold]
    #[inline(never)]
    pub(super) fn out_of_memory(&mut self, sim: &mut Sim<Event>, req: u32, i: usize) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i].service_idx as usize;
        let def = self.world.services[s]
            .memory
            .expect("only a service with a memory limit runs out of it");
        self.turn_away(sim, req, Outcome::Failed);
        if self.crash_loops[i].down {
            return; // the failed request's answer killed it already (a probe's liveness verdict)
        }
        self.stats[s].recovery.oom_kills += 1;
        let name = self.instance_name(i as u32);
        self.log(now, LogKind::OomKilled, name);
        self.kill(sim, i as u32, &def.backoff);
    }
}

#[cfg(test)]
mod tests {
    use crate::world::{MemoryDef, RestartBackoff};

    #[test]
    fn an_instance_holds_what_its_memory_allows() {
        let def = MemoryDef {
            limit: 2 << 30,
            base: 500 << 20,
            per_request: 2 << 20,
            backoff: RestartBackoff {
                restart_ns: 1,
                restart_max_ns: 1,
                reset_after_ns: 1,
            },
        };
        // (2 GiB - 500 MiB) / 2 MiB = 774 requests; the 775th kills it.
        assert_eq!(def.oom_at(), 774);
    }
}
