//! Memory of instances (`memory` on a service): every request an instance holds, queued or in
//! progress, takes `per_request` on top of `base`; a request that would take the instance over
//! its limit kills the process (OOM), so everything it holds fails; it restarts after a back-off
//! that doubles with each kill in a row, up to a cap, as Kubernetes' CrashLoopBackOff does
//! (10 s, 20 s, 40 s … 5 min, reset after 10 min of running without one), and comes back cold.
//!
//! The request path asks one question, on admission: does the instance hold `oom_at` requests
//! already (`ServiceDef::oom_at`, `u32::MAX` without a limit)? Everything else happens here.

use super::*;
use crate::world::MemoryDef;

/// An instance's standing with its memory limit.
#[derive(Clone, Debug, Default)]
pub(super) struct Memory {
    /// OOM kills in the current back-off sequence.
    kills_in_row: u32,
    /// When the process last started (the run's start, or its last restart after a kill).
    started_ns: u64,
    /// When it was last killed: its restart ends the crash that began then.
    killed_ns: u64,
}

impl Memory {
    /// The wait before the restart after a kill at `now`: `restart × 2^(kills in a row)`, at most
    /// `restart_max`; a process that ran `reset_after` since its last start begins again at
    /// `restart`.
    fn backoff(&mut self, def: &MemoryDef, now: u64) -> u64 {
        if now.saturating_sub(self.started_ns) >= def.reset_after_ns {
            self.kills_in_row = 0;
        }
        let doubled = def
            .restart_ns
            .saturating_mul(1u64 << self.kills_in_row.min(40));
        self.kills_in_row += 1;
        self.killed_ns = now;
        doubled.min(def.restart_max_ns)
    }
}

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
        let delay = self.memory[i].backoff(&def, now);
        self.turn_away(sim, req, Outcome::Failed);
        self.stats[s].recovery.oom_kills += 1;
        let name = self.instance_name(i as u32);
        self.log(now, LogKind::OomKilled, name);
        self.crash(sim, i as u32, true, now);
        sim.schedule_in(
            SimDuration::from_ns(delay),
            Event::OomRestart { instance: i as u32 },
        );
    }

    /// A process killed for running out of memory starts again, empty and cold.
    #[cold]
    #[inline(never)]
    pub(super) fn on_oom_restart(&mut self, sim: &mut Sim<Event>, i: u32) {
        let now = sim.now().as_ns();
        let m = &mut self.memory[i as usize];
        m.started_ns = now;
        let killed = m.killed_ns;
        self.crash(sim, i, false, killed);
        let name = self.instance_name(i);
        self.log(now, LogKind::Restarted, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn def() -> MemoryDef {
        MemoryDef {
            limit: 2 << 30,
            base: 500 << 20,
            per_request: 2 << 20,
            restart_ns: 10 * S,
            restart_max_ns: 300 * S,
            reset_after_ns: 600 * S,
        }
    }

    #[test]
    fn an_instance_holds_what_its_memory_allows() {
        // (2 GiB - 500 MiB) / 2 MiB = 774 requests; the 775th kills it.
        assert_eq!(def().oom_at(), 774);
    }

    #[test]
    fn restarts_back_off_as_crash_loop_back_off() {
        // Kubernetes: 10 s, 20 s, 40 s, … capped at 5 min, while the kills come in a row.
        let (d, mut m) = (def(), Memory::default());
        let mut now = 60 * S;
        let mut waits = Vec::new();
        for _ in 0..7 {
            let w = m.backoff(&d, now);
            waits.push(w / S);
            // It restarts after the wait and dies again a second later.
            now += w;
            m.started_ns = now;
            now += S;
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn ten_minutes_without_a_kill_start_the_back_off_again() {
        let (d, mut m) = (def(), Memory::default());
        assert_eq!(m.backoff(&d, 60 * S), 10 * S);
        m.started_ns = 70 * S;
        assert_eq!(m.backoff(&d, 80 * S), 20 * S);
        m.started_ns = 100 * S;
        // Ran 10 minutes since its last start: back to 10 s.
        assert_eq!(m.backoff(&d, 700 * S), 10 * S);
    }
}
