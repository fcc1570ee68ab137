//! Traces of one run, for looking at it request by request: the tracer records the spans of
//! every request attempt at every instance, linked caller to callee, with the defences'
//! decisions (timeouts, retries, hedges, refusals); `finish` adds the run's fault windows,
//! circuit-breaker states, alert firings and log. The result is a [`Trace`], plain data;
//! `reports::trace` writes it as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open.
//!
//! ```text
//!  user request 11                   (id 11, no parent, correlation 11)
//!    └─▶ frontend/0: attempt 12      (parent 11, correlation 11)
//!          └─▶ db/0: attempt 14      (parent 12, correlation 11)
//! ```
//!
//! Recording never changes the run: the tracer draws no random numbers and schedules nothing,
//! so a run's digest is the same traced or not. Sampling is by user request, decided by a hash
//! of the request's id (ids are handed out in event order, so they are the same whatever the
//! options), and a sampled user request is traced through every service it reaches.
//!
//! Times: the model's integer nanoseconds.

use crate::results::{AlertFiring, BreakerTransition, LogEntry, RunResult};
use crate::world::World;

/// What a trace records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceOptions {
    /// Trace one user request in this many (1: all), chosen by a hash of its id.
    pub sample_one_in: u32,
    /// Trace only user requests that arrive in `[from, to)` ns; faults, breaker states, alerts
    /// and log entries outside it are left out too.
    pub window: Option<(u64, u64)>,
    /// Start no new user request's trace once this many spans are recorded (those under way are
    /// finished, so that every trace stays whole).
    pub max_spans: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            sample_one_in: 1,
            window: None,
            max_spans: 200_000,
        }
    }
}

impl TraceOptions {
    /// Whether what happens in `[from_ns, to_ns]` is kept: it overlaps the window, or there is
    /// none.
    pub fn in_window(&self, from_ns: u64, to_ns: u64) -> bool {
        self.window.is_none_or(|(a, b)| from_ns < b && to_ns >= a)
    }
}

/// Where a span happened.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// At an instance: the service's index and the instance's offset within the service.
    Instance { service: u32, offset: u32 },
    /// A user request as its client saw it, end to end.
    Users { workload: u32 },
}

/// One request attempt at an instance (from its arrival to its answer), or one user request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Unique in the run (request slots are reused; ids are not).
    pub id: u64,
    /// The id of the user request it serves: the same on every span one user request causes.
    pub correlation: u64,
    /// The span that sent it: the caller's attempt, or the user request. `None` for a user
    /// request.
    pub parent: Option<u64>,
    pub place: Place,
    /// When it was sent (the caller's side), arrived, and was answered.
    pub sent_ns: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Time in the instance's queue before a worker took it.
    pub queue_wait_ns: u64,
    /// The attempt of its call (1: the first); for a user request, its client's attempts.
    pub attempt: u32,
    /// `completed`, `degraded`, `failed`, `rejected`, `shed`, `rate_limited`; a user request
    /// may also end in `timeout` (its client gave up); `in_flight` at the end of the run.
    pub outcome: &'static str,
}

/// A decision of a caller's defences, or a message lost, shown as an instant on the caller's
/// track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub t_ns: u64,
    /// `timeout`, `retry`, `hedge`, `breaker_open`, `bulkhead_full`, `throttled`, `lost`.
    pub name: &'static str,
    /// The span on whose track it is shown (the caller's).
    pub on: u64,
    /// The attempt concerned, when it was sent (a retry's attempt is not sent yet).
    pub request: Option<u64>,
    pub attempt: u32,
    /// The service called (`None` for a user request's client).
    pub to: Option<u32>,
}

/// The trace of one run, as `reports::trace::write_json` reads it.
#[derive(Clone, Debug)]
pub struct Trace {
    pub options: TraceOptions,
    pub scenario: String,
    pub seed: u64,
    pub run: u64,
    pub digest: String,
    /// When the run ended.
    pub end_ns: u64,
    /// Names and instance counts of the services, names of the workloads.
    pub services: Vec<(String, u32)>,
    pub workloads: Vec<String>,
    /// In the order they were answered.
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
    /// Fault occurrences: (label, start, end).
    pub faults: Vec<(String, u64, u64)>,
    /// Per call edge: `from->to`, the caller's name, its breakers' state changes.
    pub breakers: Vec<(String, String, Vec<BreakerTransition>)>,
    pub alerts: Vec<AlertFiring>,
    pub log: Vec<LogEntry>,
    /// User requests that arrived, that were traced, and that were not because of `max_spans`.
    pub users: u64,
    pub users_traced: u64,
    pub users_over_max: u64,
}

/// The ids a request slot carries now (slots are reused: the tracer keeps its own table, so that
/// a `Request` stays small).
#[derive(Copy, Clone, Debug, Default)]
struct Slot {
    span: u64,
    user: u64,
    parent: u64,
    sent_ns: u64,
    attempt: u32,
    sampled: bool,
}

/// Records spans and marks while the model runs. Every entry point is out of line and cold: the
/// model calls them behind one `if let Some(..)`, so a run without a tracer pays one branch per
/// hook.
pub(crate) struct Tracer {
    options: TraceOptions,
    next_id: u64,
    slots: Vec<Slot>,
    spans: Vec<Span>,
    marks: Vec<Mark>,
    users: u64,
    users_traced: u64,
    users_over_max: u64,
}

impl Tracer {
    pub(crate) fn new(options: &TraceOptions) -> Box<Tracer> {
        assert!(
            options.sample_one_in >= 1,
            "sample one request in at least 1"
        );
        Box::new(Tracer {
            options: options.clone(),
            next_id: 0,
            slots: Vec::new(),
            spans: Vec::new(),
            marks: Vec::new(),
            users: 0,
            users_traced: 0,
            users_over_max: 0,
        })
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn slot(&mut self, slot: u32) -> &mut Slot {
        let k = slot as usize;
        if k >= self.slots.len() {
            self.slots.resize(k + 1, Slot::default());
        }
        &mut self.slots[k]
    }

    /// Whether the user request `user`, arriving at `now`, is traced: in the window, picked by
    /// the hash of its id, and while there is room.
    fn samples(&mut self, user: u64, now: u64) -> bool {
        self.users += 1;
        let picked = self.options.in_window(now, now)
            && mix(user).is_multiple_of(u64::from(self.options.sample_one_in));
        if !picked {
            return false;
        }
        if self.spans.len() >= self.options.max_spans {
            self.users_over_max += 1;
            return false;
        }
        self.users_traced += 1;
        true
    }

    /// A user request arrives in slot `slot`; its first attempt goes to the entry service.
    #[cold]
    #[inline(never)]
    pub(crate) fn user_arrived(&mut self, slot: u32, now: u64) {
        let user = self.fresh_id();
        let span = self.fresh_id();
        let sampled = self.samples(user, now);
        *self.slot(slot) = Slot {
            span,
            user,
            parent: user,
            sent_ns: now,
            attempt: 1,
            sampled,
        };
    }

    /// The user request in slot `from` moves to slot `to` (its attempt timed out and runs on
    /// in `from`, unwatched, while the request waits in `to` for its retry).
    #[cold]
    #[inline(never)]
    pub(crate) fn moved(&mut self, from: u32, to: u32) {
        let s = *self.slot(from);
        *self.slot(to) = s;
    }

    /// The client of the user request in `slot` sends attempt `attempt`.
    #[cold]
    #[inline(never)]
    pub(crate) fn client_retry(&mut self, slot: u32, attempt: u32, now: u64) {
        let span = self.fresh_id();
        let s = self.slot(slot);
        s.span = span;
        s.attempt = attempt;
        s.sent_ns = now;
        let (user, sampled) = (s.user, s.sampled);
        if sampled {
            self.marks.push(Mark {
                t_ns: now,
                name: "retry",
                on: user,
                request: Some(span),
                attempt,
                to: None,
            });
        }
    }

    /// The request in `parent` sends attempt `attempt` of a call, in slot `slot`.
    #[cold]
    #[inline(never)]
    pub(crate) fn attempt_sent(&mut self, slot: u32, parent: u32, attempt: u32, now: u64) {
        let p = *self.slot(parent);
        let span = self.fresh_id();
        *self.slot(slot) = Slot {
            span,
            user: p.user,
            parent: p.span,
            sent_ns: now,
            attempt,
            sampled: p.sampled,
        };
    }

    /// The request in `slot` is answered at its instance.
    #[cold]
    #[inline(never)]
    pub(crate) fn answered(
        &mut self,
        slot: u32,
        place: Place,
        start_ns: u64,
        queue_wait_ns: u64,
        outcome: &'static str,
        end_ns: u64,
    ) {
        let s = *self.slot(slot);
        if !s.sampled {
            return;
        }
        self.spans.push(Span {
            id: s.span,
            correlation: s.user,
            parent: Some(s.parent),
            place,
            sent_ns: s.sent_ns,
            start_ns,
            end_ns,
            queue_wait_ns,
            attempt: s.attempt,
            outcome,
        });
    }

    /// The user request in `slot` ends for its client (answered, or given up on).
    #[cold]
    #[inline(never)]
    pub(crate) fn user_done(
        &mut self,
        slot: u32,
        workload: u32,
        start_ns: u64,
        outcome: &'static str,
        end_ns: u64,
    ) {
        let s = *self.slot(slot);
        if !s.sampled {
            return;
        }
        self.spans.push(Span {
            id: s.user,
            correlation: s.user,
            parent: None,
            place: Place::Users { workload },
            sent_ns: start_ns,
            start_ns,
            end_ns,
            queue_wait_ns: 0,
            attempt: s.attempt,
            outcome,
        });
    }

    /// Something happened to the attempt in `slot`: shown on its caller's track.
    #[cold]
    #[inline(never)]
    pub(crate) fn mark_attempt(
        &mut self,
        slot: u32,
        name: &'static str,
        to: Option<u32>,
        now: u64,
    ) {
        let s = *self.slot(slot);
        if s.sampled {
            self.marks.push(Mark {
                t_ns: now,
                name,
                on: s.parent,
                request: Some(s.span),
                attempt: s.attempt,
                to,
            });
        }
    }

    /// A call of the request in `parent` retries, hedges or is refused (attempt `attempt`, not
    /// sent).
    #[cold]
    #[inline(never)]
    pub(crate) fn mark_call(
        &mut self,
        parent: u32,
        name: &'static str,
        to: u32,
        attempt: u32,
        now: u64,
    ) {
        let s = *self.slot(parent);
        if s.sampled {
            self.marks.push(Mark {
                t_ns: now,
                name,
                on: s.span,
                request: None,
                attempt,
                to: Some(to),
            });
        }
    }

    /// The trace, with the run's faults, breaker states, alerts and log.
    pub(crate) fn finish(self, world: &World, result: &RunResult) -> Trace {
        let end_ns = result
            .horizon_ns
            .min(result.warmup_ns.saturating_add(result.measured_ns));
        let keep = |a: u64, b: u64| self.options.in_window(a, b);
        Trace {
            scenario: result.scenario.clone(),
            seed: result.seed,
            run: result.run,
            digest: result.digest.clone(),
            end_ns,
            services: world
                .services
                .iter()
                .map(|s| (s.name.clone(), s.n_instances))
                .collect(),
            workloads: world.workloads.iter().map(|w| w.name.clone()).collect(),
            faults: result
                .faults
                .iter()
                .filter(|f| keep(f.1, f.2))
                .map(|(l, a, b)| (l.clone(), *a, (*b).min(end_ns).max(*a)))
                .collect(),
            breakers: result
                .edges
                .iter()
                .map(|e| {
                    (
                        format!("{}->{}", e.from, e.to),
                        e.from.clone(),
                        e.breaker_transitions.clone(),
                    )
                })
                .collect(),
            alerts: result
                .alerts
                .iter()
                .filter(|a| keep(a.fired_ns, a.resolved_ns.unwrap_or(end_ns)))
                .cloned()
                .collect(),
            log: result
                .log
                .iter()
                .filter(|e| keep(e.t_ns, e.t_ns))
                .cloned()
                .collect(),
            spans: self.spans,
            marks: self.marks,
            users: self.users,
            users_traced: self.users_traced,
            users_over_max: self.users_over_max,
            options: self.options,
        }
    }
}

/// A bijective mix of a request id (SplitMix64's finalizer): ids are consecutive, their hashes
/// spread evenly over the residues that sampling takes.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::{mix, TraceOptions};

    #[test]
    fn sampling_picks_about_one_in_n_of_consecutive_ids() {
        let picked = (1..=100_000u64)
            .filter(|&id| mix(id).is_multiple_of(10))
            .count();
        assert!((9_500..10_500).contains(&picked), "{picked}");
    }

    #[test]
    fn a_window_keeps_what_overlaps_it() {
        let o = TraceOptions {
            window: Some((10, 20)),
            ..TraceOptions::default()
        };
        assert!(o.in_window(10, 10) && o.in_window(5, 10) && o.in_window(19, 30));
        assert!(!o.in_window(20, 25) && !o.in_window(0, 9));
        assert!(TraceOptions::default().in_window(0, u64::MAX));
    }
}
