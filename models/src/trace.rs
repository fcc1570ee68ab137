//! Traces of one run, for looking at it request by request: the spans of every request attempt
//! at every instance, linked caller to callee, with the defences' decisions (timeouts, retries,
//! hedges, refusals), fault windows, circuit-breaker states, alert firings and the run's log on
//! tracks of their own. Written as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open.
//!
//! ```text
//!  pid 1 .. S          a process per service; a thread per instance (`checkout/2`), and more
//!                      lanes (`checkout/2 lane 1`) while its spans overlap (a thread's slices
//!                      must nest, and concurrent requests do not)
//!  pid S+1 .. S+W      `users:<workload>`: each user request end to end, as its client saw it
//!  then                `faults`, `breakers` (a thread per edge and breaker), `alerts`, `events`
//!  users:web  [─────── user request 11 ────────]
//!                 └─flow─▶ frontend/0 [── request 12 ──]   (parent 11, correlation 11)
//!                                      └─flow─▶ db/0 [─ 14 ─] (parent 12, correlation 11)
//! ```
//!
//! Recording never changes the run: the tracer draws no random numbers and schedules nothing,
//! so a run's digest is the same traced or not. Sampling is by user request, decided by a hash
//! of the request's id (ids are handed out in event order, so they are the same whatever the
//! options), and a sampled user request is traced through every service it reaches.
//!
//! Times: the model's integer nanoseconds, written as microseconds with three decimals (exact).

use crate::results::{AlertFiring, BreakerTransition, LogEntry, RunResult};
use crate::world::World;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

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
    fn in_window(&self, from_ns: u64, to_ns: u64) -> bool {
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

/// The trace of one run.
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

/// What a line of the JSON is, in the order lines with equal times are written: slices before
/// the instants and flows that bind to them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Line {
    Span(usize),
    Slice(usize),
    Mark(usize),
    Log(usize),
    FlowOut(usize),
    FlowIn(usize),
}

/// A slice on a track other than a request's: a fault, a breaker state, an alert firing.
struct Slice {
    track: usize,
    start_ns: u64,
    end_ns: u64,
    name: String,
    cat: &'static str,
    /// The `args` object, as JSON.
    args: String,
}

/// A thread of the output: a process, a name, and its tid.
struct Thread {
    pid: u32,
    tid: u32,
    name: String,
}

/// Microseconds with three decimals, from nanoseconds: exact, and the same bytes every time.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// Lanes for intervals on one track so that no two on a lane overlap: taken in order of start,
/// each gets the lowest lane free by then. `order` lists the intervals by (start, tie-break).
fn lanes(intervals: &[(u64, u64)], order: &[usize]) -> Vec<u32> {
    use std::cmp::Reverse;
    let mut lane = vec![0; intervals.len()];
    let mut busy: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mut free: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
    let mut n_lanes = 0;
    for &k in order {
        let (start, end) = intervals[k];
        while let Some(&Reverse((busy_end, l))) = busy.peek() {
            if busy_end > start {
                break;
            }
            busy.pop();
            free.push(Reverse(l));
        }
        let l = match free.pop() {
            Some(Reverse(l)) => l,
            None => {
                n_lanes += 1;
                n_lanes - 1
            }
        };
        lane[k] = l;
        busy.push(Reverse((end, l)));
    }
    lane
}

/// The layout of a trace: processes, threads, where each span and slice goes.
struct Layout {
    /// (pid, name) in pid order.
    processes: Vec<(u32, String)>,
    threads: Vec<Thread>,
    /// The thread (index into `threads`) of every span and slice.
    span_thread: Vec<usize>,
    slices: Vec<Slice>,
    slice_thread: Vec<usize>,
    log_thread: usize,
}

impl Trace {
    /// The trace as Chrome trace-event JSON: `{"traceEvents": [...], "displayTimeUnit": "ns",
    /// "otherData": {...}}`, one event per line, metadata first, then events in order of time.
    /// The same trace gives the same bytes.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let layout = self.layout();
        let by_id: BTreeMap<u64, usize> = self
            .spans
            .iter()
            .enumerate()
            .map(|(k, s)| (s.id, k))
            .collect();
        let mut lines: Vec<(u64, Line)> = Vec::new();
        for (k, s) in self.spans.iter().enumerate() {
            lines.push((s.start_ns, Line::Span(k)));
            if s.parent.is_some_and(|p| by_id.contains_key(&p)) {
                lines.push((s.sent_ns, Line::FlowOut(k)));
                lines.push((s.start_ns, Line::FlowIn(k)));
            }
        }
        for (k, m) in self.marks.iter().enumerate() {
            if by_id.contains_key(&m.on) {
                lines.push((m.t_ns, Line::Mark(k)));
            }
        }
        for (k, s) in layout.slices.iter().enumerate() {
            lines.push((s.start_ns, Line::Slice(k)));
        }
        for (k, e) in self.log.iter().enumerate() {
            lines.push((e.t_ns, Line::Log(k)));
        }
        lines.sort_unstable();
        writeln!(out, "{{\"traceEvents\": [")?;
        let mut first = true;
        let mut sep = |out: &mut dyn Write| -> io::Result<()> {
            if !std::mem::take(&mut first) {
                writeln!(out, ",")?;
            }
            Ok(())
        };
        for (pid, name) in &layout.processes {
            let tid = layout
                .threads
                .iter()
                .find(|t| t.pid == *pid)
                .map_or(0, |t| t.tid);
            sep(out)?;
            write!(
                out,
                "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
                json_str(name)
            )?;
        }
        for t in &layout.threads {
            sep(out)?;
            write!(
                out,
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{},\"tid\":{},\"args\":{{\"name\":{}}}}}",
                t.pid,
                t.tid,
                json_str(&t.name)
            )?;
        }
        let at = |thread: usize| {
            let t = &layout.threads[thread];
            format!("\"pid\":{},\"tid\":{}", t.pid, t.tid)
        };
        for &(_, line) in &lines {
            sep(out)?;
            match line {
                Line::Span(k) => self.write_span(out, k, &at(layout.span_thread[k]))?,
                Line::FlowOut(k) => {
                    let s = &self.spans[k];
                    let parent = by_id[&s.parent.expect("a flow has a parent")];
                    write!(
                        out,
                        "{{\"ph\":\"s\",\"cat\":\"call\",\"name\":\"call\",\"id\":{},{},\"ts\":{}}}",
                        s.id,
                        at(layout.span_thread[parent]),
                        us(s.sent_ns)
                    )?;
                }
                Line::FlowIn(k) => {
                    let s = &self.spans[k];
                    write!(
                        out,
                        "{{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"call\",\"name\":\"call\",\"id\":{},{},\"ts\":{}}}",
                        s.id,
                        at(layout.span_thread[k]),
                        us(s.start_ns)
                    )?;
                }
                Line::Mark(k) => {
                    let m = &self.marks[k];
                    let mut args = format!("\"attempt\":{}", m.attempt);
                    if let Some(r) = m.request {
                        args.push_str(&format!(",\"request\":{r}"));
                    }
                    if let Some(to) = m.to {
                        args.push_str(&format!(
                            ",\"to\":{}",
                            json_str(&self.services[to as usize].0)
                        ));
                    }
                    write!(
                        out,
                        "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"defence\",\"name\":\"{}\",{},\"ts\":{},\"args\":{{{args}}}}}",
                        m.name,
                        at(layout.span_thread[by_id[&m.on]]),
                        us(m.t_ns)
                    )?;
                }
                Line::Slice(k) => {
                    let s = &layout.slices[k];
                    write!(
                        out,
                        "{{\"ph\":\"X\",\"cat\":\"{}\",\"name\":{},{},\"ts\":{},\"dur\":{},\"args\":{}}}",
                        s.cat,
                        json_str(&s.name),
                        at(layout.slice_thread[k]),
                        us(s.start_ns),
                        us(s.end_ns - s.start_ns),
                        s.args
                    )?;
                }
                Line::Log(k) => {
                    let e = &self.log[k];
                    write!(
                        out,
                        "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"log\",\"name\":{},{},\"ts\":{},\"args\":{{\"what\":{}}}}}",
                        json_str(&e.kind),
                        at(layout.log_thread),
                        us(e.t_ns),
                        json_str(&e.what)
                    )?;
                }
            }
        }
        writeln!(out, "\n],")?;
        let window = match self.options.window {
            Some((a, b)) => format!("[{a},{b}]"),
            None => "null".into(),
        };
        writeln!(
            out,
            "\"displayTimeUnit\": \"ns\",\n\"otherData\": {{\"scenario\":{},\"seed\":{},\"run\":{},\"digest\":{},\"end_ns\":{},\"sample_one_in\":{},\"window_ns\":{window},\"max_spans\":{},\"spans\":{},\"users\":{},\"users_traced\":{},\"users_over_max_spans\":{}}}\n}}",
            json_str(&self.scenario),
            self.seed,
            self.run,
            json_str(&self.digest),
            self.end_ns,
            self.options.sample_one_in,
            self.options.max_spans,
            self.spans.len(),
            self.users,
            self.users_traced,
            self.users_over_max
        )
    }

    /// The trace as JSON text (see [`Trace::write_json`]).
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("the trace is UTF-8")
    }

    fn write_span(&self, out: &mut dyn Write, k: usize, at: &str) -> io::Result<()> {
        let s = &self.spans[k];
        let (cat, base) = match s.place {
            Place::Instance { service, .. } => ("request", &self.services[service as usize].0),
            Place::Users { workload } => ("user", &self.workloads[workload as usize]),
        };
        let name = if matches!(s.outcome, "completed") {
            base.clone()
        } else {
            format!("{base} ({})", s.outcome)
        };
        let parent = s
            .parent
            .map_or(String::new(), |p| format!(",\"parent\":{p}"));
        write!(
            out,
            "{{\"ph\":\"X\",\"cat\":\"{cat}\",\"name\":{},{at},\"ts\":{},\"dur\":{},\"args\":{{\"request\":{},\"correlation\":{}{parent},\"attempt\":{},\"outcome\":\"{}\",\"queue_wait_ns\":{}}}}}",
            json_str(&name),
            us(s.start_ns),
            us(s.end_ns - s.start_ns),
            s.id,
            s.correlation,
            s.attempt,
            s.outcome,
            s.queue_wait_ns
        )
    }

    /// Processes, threads and lanes: a thread per instance (and per workload, fault label,
    /// breaker, alert), split into lanes where its slices overlap. Tids are numbered from 1 in
    /// the order of processes, tracks and lanes, so they are unique across processes.
    fn layout(&self) -> Layout {
        let n_services = self.services.len() as u32;
        let n_workloads = self.workloads.len() as u32;
        let pid_faults = n_services + n_workloads + 1;
        let (pid_breakers, pid_alerts, pid_events) =
            (pid_faults + 1, pid_faults + 2, pid_faults + 3);
        // Tracks: (pid, name) of a thread before it is split into lanes.
        let mut tracks: Vec<(u32, String)> = Vec::new();
        let mut track_of: BTreeMap<(u32, String), usize> = BTreeMap::new();
        let mut track = |pid: u32, name: String| -> usize {
            *track_of.entry((pid, name.clone())).or_insert_with(|| {
                tracks.push((pid, name));
                tracks.len() - 1
            })
        };
        let span_track: Vec<usize> = self
            .spans
            .iter()
            .map(|s| match s.place {
                Place::Instance { service, offset } => track(
                    service + 1,
                    format!("{}/{offset}", self.services[service as usize].0),
                ),
                Place::Users { workload } => track(
                    n_services + workload + 1,
                    format!("users:{}", self.workloads[workload as usize]),
                ),
            })
            .collect();
        let mut slices = Vec::new();
        for (label, a, b) in &self.faults {
            slices.push(Slice {
                track: track(pid_faults, label.clone()),
                start_ns: *a,
                end_ns: *b,
                name: label.clone(),
                cat: "fault",
                args: "{}".into(),
            });
        }
        for (edge, from, transitions) in &self.breakers {
            self.breaker_slices(edge, from, transitions, &mut |name, slice| {
                let t = track(pid_breakers, name);
                slices.push(Slice { track: t, ..slice });
            });
        }
        for a in &self.alerts {
            let end = a.resolved_ns.unwrap_or(self.end_ns).max(a.fired_ns);
            slices.push(Slice {
                track: track(pid_alerts, a.name.clone()),
                start_ns: a.fired_ns,
                end_ns: end,
                name: a.name.clone(),
                cat: "alert",
                args: format!("{{\"resolved\":{}}}", a.resolved_ns.is_some()),
            });
        }
        let log_track = (!self.log.is_empty()).then(|| track(pid_events, "log".into()));
        // Lanes per track, then threads in (pid, track, lane) order.
        let mut intervals: Vec<Vec<(u64, u64)>> = vec![Vec::new(); tracks.len()];
        let mut seq: Vec<Vec<(u64, usize)>> = vec![Vec::new(); tracks.len()];
        let mut members: Vec<(usize, usize)> = Vec::new(); // (track, position in the track)
        for (k, s) in self.spans.iter().enumerate() {
            let t = span_track[k];
            members.push((t, intervals[t].len()));
            seq[t].push((s.id, intervals[t].len()));
            intervals[t].push((s.start_ns, s.end_ns));
        }
        for (k, s) in slices.iter().enumerate() {
            let t = s.track;
            members.push((t, intervals[t].len()));
            seq[t].push((k as u64, intervals[t].len()));
            intervals[t].push((s.start_ns, s.end_ns));
        }
        let lane_of: Vec<Vec<u32>> = (0..tracks.len())
            .map(|t| {
                let mut order: Vec<(u64, u64, usize)> = seq[t]
                    .iter()
                    .map(|&(tie, k)| (intervals[t][k].0, tie, k))
                    .collect();
                order.sort_unstable();
                let order: Vec<usize> = order.into_iter().map(|o| o.2).collect();
                lanes(&intervals[t], &order)
            })
            .collect();
        let mut track_order: Vec<usize> = (0..tracks.len()).collect();
        // Instances in their own order, not the order their first span was answered.
        track_order.sort_by(|&a, &b| {
            let key = |t: usize| (tracks[t].0, instance_rank(&tracks[t].1), t);
            key(a).cmp(&key(b))
        });
        let mut threads = Vec::new();
        let mut first_thread = vec![0; tracks.len()];
        for &t in &track_order {
            let n_lanes = lane_of[t].iter().max().map_or(1, |&m| m + 1);
            first_thread[t] = threads.len();
            for l in 0..n_lanes {
                threads.push(Thread {
                    pid: tracks[t].0,
                    tid: threads.len() as u32 + 1,
                    name: if l == 0 {
                        tracks[t].1.clone()
                    } else {
                        format!("{} lane {l}", tracks[t].1)
                    },
                });
            }
        }
        let thread_of = |(t, k): (usize, usize)| first_thread[t] + lane_of[t][k] as usize;
        let span_thread = members[..self.spans.len()]
            .iter()
            .map(|&m| thread_of(m))
            .collect();
        let slice_thread = members[self.spans.len()..]
            .iter()
            .map(|&m| thread_of(m))
            .collect();
        let mut processes: Vec<(u32, String)> = Vec::new();
        for t in &threads {
            if processes.last().is_none_or(|p| p.0 != t.pid) {
                let name = match t.pid {
                    p if p <= n_services => self.services[p as usize - 1].0.clone(),
                    p if p <= n_services + n_workloads => {
                        format!("users:{}", self.workloads[(p - n_services - 1) as usize])
                    }
                    p if p == pid_faults => "faults".into(),
                    p if p == pid_breakers => "breakers".into(),
                    p if p == pid_alerts => "alerts".into(),
                    _ => "events".into(),
                };
                processes.push((t.pid, name));
            }
        }
        Layout {
            processes,
            log_thread: log_track.map_or(0, |t| first_thread[t]),
            threads,
            span_thread,
            slices,
            slice_thread,
        }
    }

    /// The non-closed periods of an edge's breakers, one track per breaker.
    fn breaker_slices(
        &self,
        edge: &str,
        from: &str,
        transitions: &[BreakerTransition],
        emit: &mut dyn FnMut(String, Slice),
    ) {
        let mut slots: Vec<Option<u32>> = transitions.iter().map(|t| t.instance).collect();
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            let (track, caller) = match slot {
                None => (edge.to_string(), "shared".to_string()),
                Some(i) => (format!("{edge} @{from}/{i}"), format!("{from}/{i}")),
            };
            let mut open: Option<(u64, &str)> = None;
            let mut close = |open: Option<(u64, &str)>, end: u64| {
                if let Some((start, state)) = open {
                    if self.options.in_window(start, end) {
                        emit(
                            track.clone(),
                            Slice {
                                track: 0,
                                start_ns: start,
                                end_ns: end,
                                name: state.to_string(),
                                cat: "breaker",
                                args: format!(
                                    "{{\"edge\":{},\"caller\":{}}}",
                                    json_str(edge),
                                    json_str(&caller)
                                ),
                            },
                        );
                    }
                }
            };
            for t in transitions.iter().filter(|t| t.instance == slot) {
                close(open.take(), t.t_ns);
                if t.to != "closed" {
                    open = Some((t.t_ns, t.to.as_str()));
                }
            }
            close(open, self.end_ns.max(open.map_or(0, |o| o.0)));
        }
    }
}

/// Sorts `svc/10` after `svc/9`: the number after the last `/`, if the name ends in one.
fn instance_rank(name: &str) -> u64 {
    name.rsplit_once('/')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{json_str, lanes, mix, us, TraceOptions};

    #[test]
    fn times_are_exact_microseconds() {
        assert_eq!(us(0), "0.000");
        assert_eq!(us(999), "0.999");
        assert_eq!(us(1_234_567), "1234.567");
        assert_eq!(us(u64::MAX), "18446744073709551.615");
    }

    #[test]
    fn overlapping_slices_get_lanes_and_touching_ones_share() {
        let intervals = [(0, 10), (5, 15), (10, 20), (12, 13), (15, 16), (30, 30)];
        let order: Vec<usize> = (0..intervals.len()).collect();
        assert_eq!(lanes(&intervals, &order), vec![0, 1, 0, 2, 1, 0]);
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(json_str("db \"primary\"\n"), "\"db \\\"primary\\\"\\n\"");
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
