//! Memory of instances (`memory` on a service): every request an instance holds, queued or in
//! progress, takes `per_request` on top of `base`; a request that would take the instance over
//! its limit kills the process (OOM), so everything it holds fails; it restarts after its
//! back-off (`restart`: Kubernetes' CrashLoopBackOff) and comes back cold.
//!
//! With `gc`, each instance also pauses for garbage collection: more often and longer as its
//! heap fills (`on_gc`).
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

impl ServiceModel<'_> {
    /// A garbage-collection pause of instance `i` starts (it hangs for a time that grows with
    /// its heap) or ends (the next is scheduled, sooner when the heap is fuller).
    #[cold]
    #[inline(never)]
    pub(super) fn on_gc(&mut self, sim: &mut Sim<Event>, i: u32, end: bool) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(def) = self.world.services[s].memory else {
            return;
        };
        let Some(gc) = def.gc else { return };
        let used = def.base + u64::from(self.load[i as usize]) * def.per_request;
        if end {
            let started = self.crash_loops[i as usize].gc_since_ns;
            self.hang(sim, i, false, started);
            let room = def.limit.saturating_sub(def.base).max(1) as f64;
            let free = 1.0 - (used.saturating_sub(def.base) as f64 / room).min(1.0);
            let next = (gc.every_ns as f64 * free.max(0.05)).round() as u64;
            self.again(
                sim,
                next.max(1),
                Event::Gc {
                    instance: i,
                    end: false,
                },
            );
            return;
        }
        let p = &self.process[i as usize];
        if p.crashed > 0 || !p.active {
            // No process, no heap: look again later.
            return self.again(
                sim,
                gc.every_ns,
                Event::Gc {
                    instance: i,
                    end: false,
                },
            );
        }
        let pause = gc.pause_ns + gc.per_mib_ns.saturating_mul(used >> 20);
        self.crash_loops[i as usize].gc_since_ns = now;
        self.hang(sim, i, true, now);
        sim.schedule_in(
            SimDuration::from_ns(pause),
            Event::Gc {
                instance: i,
                end: true,
            },
        );
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
            gc: None,
        };
        // (2 GiB - 500 MiB) / 2 MiB = 774 requests; the 775th kills it.
        assert_eq!(def.oom_at(), 774);
    }
}
