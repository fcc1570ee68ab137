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
//! The span budget covers the whole run: a user request is traced when the hash of its id is a
//! multiple of the rate, one in `sample_one_in`. When the spans reach `max_spans`, the rate
//! doubles and the spans and marks of the user requests it no longer picks are dropped; a
//! multiple of 2N is a multiple of N, so the trace is always exactly the user requests that the
//! final rate picks, whole, from the first minute to the last (a fault late in a long run is
//! traced as densely as its start). The trace says how many were left out, and why.
//!
//! ```text
//!  spans ▲ max ─ ─ ─ ╱│─ ─ ─ ─ ─╱│─ ─ ─ ─ ─ ─
//!        │         ╱  │      ╱   │     ╱
//!        │       ╱    │   ╱      │  ╱            one in 1, then 2, then 4 ...
//!        │     ╱      │╱         │╱
//!        └──────────────────────────────▶ time
//! ```
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
    /// At most this many spans: reaching it doubles the sampling rate's `one in`, and the spans
    /// of the user requests the new rate leaves out are dropped (every trace stays whole).
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
    /// The user request it belongs to (the correlation id of its spans).
    pub correlation: u64,
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
    /// The rate the trace was thinned to: one user request in this many (a power-of-two multiple
    /// of `options.sample_one_in`).
    pub sample_one_in: u64,
    /// User requests: that arrived (`users = users_traced + users_outside_window +
    /// users_not_sampled + users_over_max`), that were traced, that arrived outside the window,
    /// that the asked rate did not pick, and that it picked but the final rate left out to stay
    /// within `max_spans`.
    pub users: u64,
    pub users_traced: u64,
    pub users_outside_window: u64,
    pub users_not_sampled: u64,
    pub users_over_max: u64,
}

impl Trace {
    /// What the trace leaves out and why, in a phrase (empty when it holds every user request).
    pub fn left_out(&self) -> String {
        let mut parts = Vec::new();
        if self.users_outside_window > 0 {
            parts.push(format!("{} outside the window", self.users_outside_window));
        }
        if self.users_not_sampled > 0 {
            parts.push(format!(
                "{} not picked by the asked one in {}",
                self.users_not_sampled, self.options.sample_one_in
            ));
        }
        if self.users_over_max > 0 {
            parts.push(format!(
                "{} to keep within {} spans (one in {} kept, spread over the whole run)",
                self.users_over_max, self.options.max_spans, self.sample_one_in
            ));
        }
        if parts.is_empty() {
            return String::new();
        }
        format!("user requests left out: {}", parts.join(", "))
    }
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
    /// The rate now: a user request is kept when the hash of its id is a multiple of it.
    one_in: u64,
    /// The ids of the user requests picked and kept so far.
    kept: Vec<u64>,
    users: u64,
    users_outside_window: u64,
    users_not_sampled: u64,
    /// User requests picked at the asked rate (in the window).
    users_picked: u64,
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
            one_in: u64::from(options.sample_one_in),
            kept: Vec::new(),
            users: 0,
            users_outside_window: 0,
            users_not_sampled: 0,
            users_picked: 0,
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

    /// Whether the user request `user`, arriving at `now`, is traced: in the window and picked
    /// by the hash of its id at the rate of now.
    fn samples(&mut self, user: u64, now: u64) -> bool {
        self.users += 1;
        if !self.options.in_window(now, now) {
            self.users_outside_window += 1;
            return false;
        }
        if !mix(user).is_multiple_of(u64::from(self.options.sample_one_in)) {
            self.users_not_sampled += 1;
            return false;
        }
        self.users_picked += 1;
        if !self.keeps(user) {
            return false;
        }
        self.kept.push(user);
        true
    }

    /// Whether the user request `user` is picked at the rate of now.
    fn keeps(&self, user: u64) -> bool {
        mix(user).is_multiple_of(self.one_in)
    }

    /// Records a span of a picked user request, unless the rate has left it out since; at the
    /// budget, thins the trace.
    fn push_span(&mut self, span: Span) {
        if !self.keeps(span.correlation) {
            return;
        }
        self.spans.push(span);
        while self.spans.len() > self.options.max_spans && self.one_in < 1 << 62 {
            self.thin();
        }
    }

    /// Records a mark of a picked user request, unless the rate has left it out since.
    fn push_mark(&mut self, mark: Mark) {
        if self.keeps(mark.correlation) {
            self.marks.push(mark);
        }
    }

    /// Doubles the rate's `one in` and drops what the new rate leaves out: the user requests it
    /// keeps are a subset of those it kept, so every kept trace stays whole.
    #[cold]
    fn thin(&mut self) {
        let before = self.spans.len();
        self.one_in *= 2;
        let one_in = self.one_in;
        let keeps = |user: u64| mix(user).is_multiple_of(one_in);
        self.spans.retain(|s| keeps(s.correlation));
        self.marks.retain(|m| keeps(m.correlation));
        self.kept.retain(|&u| keeps(u));
        assert!(self.spans.len() <= before, "thinning never adds spans");
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
            self.push_mark(Mark {
                t_ns: now,
                name: "retry",
                on: user,
                correlation: user,
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
        self.push_span(Span {
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
        self.push_span(Span {
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
            self.push_mark(Mark {
                t_ns: now,
                name,
                on: s.parent,
                correlation: s.user,
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
            self.push_mark(Mark {
                t_ns: now,
                name,
                on: s.span,
                correlation: s.user,
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
        let trace = Trace {
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
            sample_one_in: self.one_in,
            users: self.users,
            users_traced: self.kept.len() as u64,
            users_outside_window: self.users_outside_window,
            users_not_sampled: self.users_not_sampled,
            users_over_max: self.users_picked - self.kept.len() as u64,
            options: self.options,
        };
        assert_eq!(
            trace.users,
            trace.users_traced
                + trace.users_outside_window
                + trace.users_not_sampled
                + trace.users_over_max,
            "every user request is traced or counted as left out"
        );
        assert!(trace.spans.len() <= trace.options.max_spans || trace.sample_one_in >= 1 << 62);
        trace
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
    use super::{mix, Place, TraceOptions, Tracer};

    /// `n` user requests one after the other, each answered at one instance: two spans each, and
    /// a retry mark.
    fn users_through(tracer: &mut Tracer, n: u64) {
        let place = Place::Instance {
            service: 0,
            offset: 0,
        };
        for k in 0..n {
            let t = k * 1_000;
            tracer.user_arrived(0, t);
            tracer.attempt_sent(1, 0, 1, t);
            tracer.mark_attempt(1, "timeout", Some(0), t + 5);
            tracer.answered(1, place, t, 0, "completed", t + 10);
            tracer.user_done(0, 0, t, "completed", t + 20);
        }
    }

    #[test]
    fn the_span_budget_thins_the_rate_over_the_whole_run() {
        let options = TraceOptions {
            max_spans: 100,
            ..TraceOptions::default()
        };
        let mut tracer = Tracer::new(&options);
        users_through(&mut tracer, 1_000);
        // 2,000 spans into 100: one in 16 keeps about 125 on average, but the hash of these ids
        // keeps 44 users (88 spans); one in 8 kept more than 100.
        assert_eq!(tracer.one_in, 16);
        assert_eq!(tracer.kept.len(), 44);
        assert!(tracer.spans.len() <= 100, "{}", tracer.spans.len());
        assert_eq!(tracer.spans.len(), 2 * tracer.kept.len());
        assert_eq!(tracer.marks.len(), tracer.kept.len());
        let picked: Vec<u64> = (0..1_000u64)
            .map(|k| 1 + 3 * k)
            .filter(|&user| mix(user).is_multiple_of(16))
            .collect();
        assert_eq!(tracer.kept, picked, "exactly the users one in 16 picks");
        // The kept users are spread over the run, not bunched at its start.
        let last = tracer.spans.iter().map(|s| s.start_ns).max().unwrap();
        assert!(last > 900_000, "{last}");
        assert_eq!(tracer.users_picked, 1_000);
    }

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
