//! Restarts of killed processes (an OOM kill, a failed liveness probe): the process is down
//! from its kill until its restart, which waits a back-off that doubles with each kill in a row,
//! up to a cap, as Kubernetes' CrashLoopBackOff does (10 s, 20 s, 40 s … 5 min, back to 10 s
//! after 10 min of running without a kill). One back-off per instance, whatever killed it: the
//! kubelet keeps one per container.

use super::*;
use crate::world::RestartBackoff;

/// An instance's standing with its restart back-off.
#[derive(Clone, Debug, Default)]
pub(super) struct CrashLoop {
    /// Kills in the current back-off sequence.
    kills_in_row: u32,
    /// When the process last started (the run's start, or its last restart after a kill).
    pub(super) started_ns: u64,
    /// When it was last killed: its restart ends the crash that began then.
    killed_ns: u64,
    /// Killed and not yet restarted (nor replaced): it cannot be killed again.
    pub(super) down: bool,
    /// Kills so far (wrapping): the restart scheduled by a kill ends that kill only.
    kill: u16,
    /// When its current garbage-collection pause started (`memory.gc`).
    pub(super) gc_since_ns: u64,
}

impl CrashLoop {
    /// The wait before the restart after a kill at `now`: `restart × 2^(kills in a row)`, at most
    /// `restart_max`; a process that ran `reset_after` since its last start begins again at
    /// `restart`.
    fn backoff(&mut self, def: &RestartBackoff, now: u64) -> u64 {
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

impl CrashLoop {
    /// The process was replaced by a new one: the restart pending for the old one ends nothing.
    pub(super) fn replaced(&mut self) {
        self.down = false;
    }
}

impl ServiceModel<'_> {
    /// Kills the process of instance `i` now: everything it holds fails, it leaves load
    /// balancing (`not_ready`), and it restarts after its back-off.
    #[cold]
    #[inline(never)]
    pub(super) fn kill(&mut self, sim: &mut Sim<Event>, i: u32, backoff: &RestartBackoff) {
        let now = sim.now().as_ns();
        let loop_ = &mut self.crash_loops[i as usize];
        if loop_.down {
            return; // already killed: nothing runs to kill
        }
        let delay = loop_.backoff(backoff, now);
        loop_.down = true;
        loop_.kill = loop_.kill.wrapping_add(1);
        let kill = loop_.kill;
        self.crash(sim, i, true, now);
        self.not_ready(i, now);
        sim.schedule_in(
            SimDuration::from_ns(delay),
            Event::Restart { instance: i, kill },
        );
    }

    /// An operator restarts the process of instance `i` (`Restart`): as a kill (everything it
    /// holds fails, it leaves load balancing), but it starts again after `down_ns`, whatever its
    /// back-off, which it leaves as it was.
    #[cold]
    #[inline(never)]
    pub(super) fn restart_process(&mut self, sim: &mut Sim<Event>, i: u32, down_ns: u64) {
        let now = sim.now().as_ns();
        let loop_ = &mut self.crash_loops[i as usize];
        if loop_.down {
            return; // killed already: it restarts after its back-off
        }
        loop_.down = true;
        loop_.killed_ns = now;
        loop_.kill = loop_.kill.wrapping_add(1);
        let kill = loop_.kill;
        self.crash(sim, i, true, now);
        self.not_ready(i, now);
        sim.schedule_in(
            SimDuration::from_ns(down_ns),
            Event::Restart { instance: i, kill },
        );
    }

    /// A killed process starts again, empty and cold.
    #[cold]
    #[inline(never)]
    pub(super) fn on_restart(&mut self, sim: &mut Sim<Event>, i: u32, kill: u16) {
        let now = sim.now().as_ns();
        let loop_ = &mut self.crash_loops[i as usize];
        if !loop_.down || loop_.kill != kill {
            return; // the killed process was replaced meanwhile
        }
        loop_.started_ns = now;
        loop_.down = false;
        let killed = loop_.killed_ns;
        self.crash(sim, i, false, killed);
        let name = self.instance_name(i);
        self.log(now, LogKind::Restarted, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn def() -> RestartBackoff {
        RestartBackoff {
            restart_ns: 10 * S,
            restart_max_ns: 300 * S,
            reset_after_ns: 600 * S,
        }
    }

    #[test]
    fn restarts_back_off_as_crash_loop_back_off() {
        // Kubernetes: 10 s, 20 s, 40 s, … capped at 5 min, while the kills come in a row.
        let (d, mut m) = (def(), CrashLoop::default());
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
        let (d, mut m) = (def(), CrashLoop::default());
        assert_eq!(m.backoff(&d, 60 * S), 10 * S);
        m.started_ns = 70 * S;
        assert_eq!(m.backoff(&d, 80 * S), 20 * S);
        m.started_ns = 100 * S;
        // Ran 10 minutes since its last start: back to 10 s.
        assert_eq!(m.backoff(&d, 700 * S), 10 * S);
    }
}
