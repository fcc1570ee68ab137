//! Probes answered by the instance itself (`lane: Queue` or `lane: Pool(..)` on `health` or
//! `liveness`), and the liveness probe (Kubernetes' `livenessProbe`).
//!
//! A probe through a queue is a request of the instance's pool that no one measures: it waits
//! behind the requests queued before it, holds a worker for `probe` work (scaled by the
//! instance's slowdowns), and its answer decides the verdict. It fails when the queue is full,
//! when the instance is down, or when its answer has not come `timeout` after it was sent
//! (`ProbeTimeout`); the prober does not send another while one is out, as the kubelet waits.
//! A probe answered `Apart` fails only when the instance is down, hung or too slow for it.
//!
//! ```text
//!  Health │ Liveness (every interval) ─▶ Apart: verdict now
//!                                     └▶ Pool: probe request ─▶ queue ─▶ worker ─▶ verdict
//!                                                     └─ ProbeTimeout ─▶ verdict: failed
//!  readiness verdict: recovery (out of, back into load balancing)
//!  liveness verdict: `restart_after` failures in a row ─▶ kill ─▶ Restart after back-off
//! ```
//!
//! The request path knows one thing of probes: a request whose workload is [`PROBE`] is handed
//! here when it is turned away, starts work, or finishes.

use super::*;
use crate::world::ProbeLane;

/// The workload of a probe request (no workload has this index: `World` holds fewer).
pub(super) const PROBE: u32 = u32::MAX - 1;

/// What a probe asks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum ProbeKind {
    /// Ready for traffic? (`health`: out of or back into load balancing.)
    Readiness = 0,
    /// Alive? (`liveness`: restarted after failures in a row.)
    Liveness = 1,
}

impl ProbeKind {
    fn of(code: u32) -> ProbeKind {
        if code == ProbeKind::Liveness as u32 {
            ProbeKind::Liveness
        } else {
            ProbeKind::Readiness
        }
    }
}

/// An instance's probes in flight and its liveness failures in a row.
#[derive(Copy, Clone, Debug)]
pub(super) struct Probes {
    /// The probe request of each kind sent through the instance's queue and not yet answered
    /// or timed out (`NONE`: none).
    out: [u32; 2],
    /// Liveness probes failed in a row.
    live_fails: u32,
}

impl Default for Probes {
    fn default() -> Self {
        Probes {
            out: [NONE; 2],
            live_fails: 0,
        }
    }
}

impl Probes {
    /// A liveness verdict: whether it is the `restart_after`-th failure in a row (the count then
    /// starts again).
    fn liveness(&mut self, ok: bool, restart_after: u32) -> bool {
        if ok {
            self.live_fails = 0;
            return false;
        }
        self.live_fails += 1;
        if self.live_fails < restart_after {
            return false;
        }
        self.live_fails = 0;
        true
    }
}

impl ServiceModel<'_> {
    /// Whether a probe answered apart from the requests passes at instance `i` now: the instance
    /// is up and its slowdowns leave the probe's work within the timeout.
    pub(super) fn probe_apart(&self, i: u32, probe_ns: u64, timeout_ns: u64, now: u64) -> bool {
        let s = self.world.instances[i as usize].service_idx as usize;
        self.is_up(i)
            && (probe_ns as f64 * self.instance_factor(i, now) * self.svc_faults[s].slowdown)
                <= timeout_ns as f64
    }

    /// Probes instance `i` (`kind`) on `lane`: a verdict now, or a probe request sent.
    pub(super) fn probe(&mut self, sim: &mut Sim<Event>, i: u32, kind: ProbeKind, lane: ProbeLane) {
        let now = sim.now().as_ns();
        let (probe_ns, timeout_ns) = self.probe_settings(i, kind);
        match lane {
            ProbeLane::Apart => {
                let ok = self.probe_apart(i, probe_ns, timeout_ns, now);
                self.probe_verdict(sim, i, kind, ok);
            }
            ProbeLane::Pool(pool) => self.send_probe(sim, i, kind, pool, timeout_ns),
        }
    }

    /// (work, timeout) of a probe of `kind` at instance `i`.
    fn probe_settings(&self, i: u32, kind: ProbeKind) -> (u64, u64) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let r = &self.world.services[s].recovery;
        match (kind, r.health, r.liveness) {
            (ProbeKind::Readiness, Some(h), _) => (h.probe_ns, h.timeout_ns),
            (ProbeKind::Liveness, _, Some(l)) => (l.probe_ns, l.timeout_ns),
            _ => unreachable!("a probe is sent only by a service that has it"),
        }
    }

    /// The work of a probe request at its instance (before the instance's slowdowns).
    pub(super) fn probe_work(&self, req: u32) -> u64 {
        let r = &self.requests[req];
        self.probe_settings(r.instance, ProbeKind::of(r.user)).0
    }

    /// Sends a probe request to pool `pool` of instance `i`, unless the last is still out.
    fn send_probe(
        &mut self,
        sim: &mut Sim<Event>,
        i: u32,
        kind: ProbeKind,
        pool: u8,
        timeout: u64,
    ) {
        if self.probes[i as usize].out[kind as usize] != NONE {
            return; // the prober waits for the probe it sent
        }
        let now = sim.now().as_ns();
        let process = &self.process[i as usize];
        if process.crashed > 0 || self.hosts[self.host_of[i as usize] as usize].down > 0 {
            // Nothing listens: the connection is refused at once.
            return self.probe_verdict(sim, i, kind, false);
        }
        let s = self.world.instances[i as usize].service_idx;
        let mut r = self.new_request(s, i, PROBE, now);
        r.measured = false;
        r.pool = pool;
        r.user = kind as u32;
        let req = self.alloc(sim, r);
        let timer = sim.timer_in(SimDuration::from_ns(timeout), Event::ProbeTimeout { req });
        self.requests[req].timer = Some(timer);
        self.probes[i as usize].out[kind as usize] = req;
        self.serve_or_queue(sim, req, now);
    }

    /// A probe request's worker is done with it: the worker takes the next request, and the
    /// probe is answered.
    #[cold]
    #[inline(never)]
    pub(super) fn probe_finished(&mut self, sim: &mut Sim<Event>, req: u32, outcome: Outcome) {
        let now = sim.now().as_ns();
        let r = &self.requests[req];
        let (s, i, pool) = (r.service as usize, r.instance as usize, r.pool as usize);
        let st = &mut self.stats[s];
        st.touch(now);
        st.busy_now.dec();
        self.instances[i].pool_mut(pool).busy.dec();
        self.load_down(s, i as u32);
        self.next_from_queue(sim, i, pool);
        self.probe_over(sim, req, outcome.is_success());
    }

    /// A probe request is answered (`ok`), turned away or dropped (not `ok`): unless it already
    /// timed out, its verdict counts. Its slot is freed.
    #[cold]
    #[inline(never)]
    pub(super) fn probe_over(&mut self, sim: &mut Sim<Event>, req: u32, ok: bool) {
        let r = &mut self.requests[req];
        r.phase = Phase::Done;
        let (i, kind, abandoned, timer) = (r.instance, ProbeKind::of(r.user), r.abandoned, r.timer);
        self.release(req);
        if !abandoned {
            if let Some(t) = timer {
                sim.cancel(t);
            }
            self.probes[i as usize].out[kind as usize] = NONE;
            self.probe_verdict(sim, i, kind, ok);
        }
    }

    /// A probe request is out of time: it failed. It stays where it is (the instance does not
    /// know) and is ignored when it is answered.
    #[cold]
    #[inline(never)]
    pub(super) fn on_probe_timeout(&mut self, sim: &mut Sim<Event>, req: u32) {
        let r = &mut self.requests[req];
        r.timer = None;
        r.abandoned = true;
        let (i, kind) = (r.instance, ProbeKind::of(r.user));
        self.probes[i as usize].out[kind as usize] = NONE;
        self.probe_verdict(sim, i, kind, false);
    }

    fn probe_verdict(&mut self, sim: &mut Sim<Event>, i: u32, kind: ProbeKind, ok: bool) {
        match kind {
            ProbeKind::Readiness => self.readiness_verdict(sim, i, ok),
            ProbeKind::Liveness => self.liveness_verdict(sim, i, ok),
        }
    }

    /// Instance `i`'s liveness probe is due: it is sent when the process runs and is past its
    /// initial delay.
    #[cold]
    #[inline(never)]
    pub(super) fn on_liveness(&mut self, sim: &mut Sim<Event>, i: u32) {
        let now = sim.now().as_ns();
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(l) = self.world.services[s].recovery.liveness else {
            return;
        };
        let p = &self.process[i as usize];
        let started = p.started_ns.saturating_add(l.initial_delay_ns);
        if p.active && p.crashed == 0 && now >= started {
            self.probe(sim, i, ProbeKind::Liveness, l.lane);
        }
        self.again(sim, l.interval_ns, Event::Liveness { instance: i });
    }

    /// A liveness verdict on instance `i`: `restart_after` failures in a row kill its process,
    /// which restarts after its back-off. A process that is not running is not judged.
    fn liveness_verdict(&mut self, sim: &mut Sim<Event>, i: u32, ok: bool) {
        let s = self.world.instances[i as usize].service_idx as usize;
        let Some(l) = self.world.services[s].recovery.liveness else {
            return;
        };
        if self.process[i as usize].crashed > 0 || !self.process[i as usize].active {
            return;
        }
        if self.probes[i as usize].liveness(ok, l.restart_after) {
            let now = sim.now().as_ns();
            self.stats[s].recovery.liveness_restarts += 1;
            let name = self.instance_name(i);
            self.log(now, LogKind::LivenessFailed, name);
            self.kill(sim, i, &l.backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_third_failure_in_a_row_restarts_and_a_pass_forgives() {
        let mut p = Probes::default();
        let verdicts: Vec<bool> = [false, false, true, false, false, false, false]
            .iter()
            .map(|&ok| p.liveness(ok, 3))
            .collect();
        assert_eq!(verdicts, [false, false, false, false, false, true, false]);
    }

    #[test]
    fn a_kind_survives_its_code() {
        for k in [ProbeKind::Readiness, ProbeKind::Liveness] {
            assert_eq!(ProbeKind::of(k as u32), k);
        }
    }
}
