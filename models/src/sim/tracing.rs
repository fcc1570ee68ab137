//! Hooks of the Chrome trace recorder that need the model's state: out of line, as tracing is
//! rare, and never a draw or an event of their own (a traced run has the same digest).

use super::*;

impl ServiceModel<'_> {
    /// The request in `req` was answered at its instance at `now`, after a worker took it
    /// (`worked`) or not.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_answer(&mut self, req: u32, now: u64, worked: bool) {
        let r = self.requests[req];
        let first = self.world.services[r.service as usize].first_instance;
        let place = Place::Instance {
            service: r.service,
            offset: r.instance - first,
        };
        // A request that never took a worker waited until it was turned away.
        let wait = if worked {
            r.started_ns - r.arrived_ns
        } else {
            now - r.arrived_ns
        };
        let outcome = if r.phase == Phase::Done {
            r.outcome.name()
        } else {
            "in_flight"
        };
        if let Some(t) = &mut self.tracer {
            t.answered(req, place, r.arrived_ns, wait, outcome, now);
        }
    }

    /// A call retries, or an attempt of it is refused before it leaves: `attempt` is its number.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_call(&mut self, call: u32, name: &'static str, attempt: u32) {
        let c = self.calls[call];
        let to = self.world.calls[c.edge as usize].to;
        if let Some(t) = &mut self.tracer {
            t.mark_call(c.parent, name, to, attempt, self.now_ns);
        }
    }

    /// At the end of a traced run, the requests still in the system end their spans there.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_in_flight(&mut self, end_ns: u64) {
        let is_free = self.requests.free_mask();
        for req in 0..is_free.len() as u32 {
            let r = self.requests[req];
            if is_free[req as usize] || r.workload == PROBE {
                continue;
            }
            if matches!(r.phase, Phase::Queued | Phase::Working | Phase::Calling) {
                self.trace_answer(req, end_ns, r.phase != Phase::Queued);
            }
            if r.call == NONE && !r.abandoned {
                if let Some(t) = &mut self.tracer {
                    t.user_done(req, r.workload, r.created_ns, "in_flight", end_ns);
                }
            }
        }
    }
}
