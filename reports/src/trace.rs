//! A recorded trace ([`models::trace::Trace`]) as Chrome trace-event JSON, which Perfetto
//! (ui.perfetto.dev) and `chrome://tracing` open: the spans of every request attempt at every
//! instance, linked caller to callee by flow arrows, the defences' decisions as instants, and
//! fault windows, circuit-breaker states, alert firings and the run's log on tracks of their own.
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
//! The same trace gives the same bytes: tids are numbered in a fixed order, and events are
//! written in order of time, ties broken by kind and then by index.
//!
//! Times: the model's integer nanoseconds, written as microseconds with three decimals (exact).

use models::results::BreakerTransition;
use models::trace::{Place, Trace};
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

/// Writes `trace` as Chrome trace-event JSON: `{"traceEvents": [...], "displayTimeUnit": "ns",
/// "otherData": {...}}`, one event per line, metadata first, then events in order of time.
/// The same trace gives the same bytes.
pub fn write_json(trace: &Trace, out: &mut dyn Write) -> io::Result<()> {
    let doc = Document::new(trace);
    writeln!(out, "{{\"traceEvents\": [")?;
    let mut events = Events { out, first: true };
    doc.write_metadata(&mut events)?;
    for line in doc.lines() {
        doc.write_line(&mut events, line)?;
    }
    writeln!(events.out, "\n],")?;
    write_other_data(trace, events.out)
}

/// The trace as JSON text (see [`write_json`]).
pub fn to_json(trace: &Trace) -> String {
    let mut out = Vec::new();
    write_json(trace, &mut out).expect("writing to memory");
    String::from_utf8(out).expect("the trace is UTF-8")
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

/// The list of events in `traceEvents`: a comma and a line break before each but the first.
struct Events<'w> {
    out: &'w mut dyn Write,
    first: bool,
}

impl Events<'_> {
    /// Where the next event goes, once its separator is written.
    fn next(&mut self) -> io::Result<&mut dyn Write> {
        if !std::mem::take(&mut self.first) {
            writeln!(self.out, ",")?;
        }
        Ok(&mut *self.out)
    }
}

/// A trace with what writing it takes: its layout and its spans by id.
struct Document<'t> {
    trace: &'t Trace,
    layout: Layout,
    /// The index in `trace.spans` of every span id.
    by_id: BTreeMap<u64, usize>,
}

impl<'t> Document<'t> {
    fn new(trace: &'t Trace) -> Document<'t> {
        Document {
            trace,
            layout: layout(trace),
            by_id: trace
                .spans
                .iter()
                .enumerate()
                .map(|(k, s)| (s.id, k))
                .collect(),
        }
    }

    /// The events after the metadata, in the order they are written: by time, then by kind.
    /// Flows and marks whose other end is not in the trace are left out.
    fn lines(&self) -> Vec<Line> {
        let trace = self.trace;
        let mut lines: Vec<(u64, Line)> = Vec::new();
        for (k, s) in trace.spans.iter().enumerate() {
            lines.push((s.start_ns, Line::Span(k)));
            if s.parent.is_some_and(|p| self.by_id.contains_key(&p)) {
                lines.push((s.sent_ns, Line::FlowOut(k)));
                lines.push((s.start_ns, Line::FlowIn(k)));
            }
        }
        for (k, m) in trace.marks.iter().enumerate() {
            if self.by_id.contains_key(&m.on) {
                lines.push((m.t_ns, Line::Mark(k)));
            }
        }
        for (k, s) in self.layout.slices.iter().enumerate() {
            lines.push((s.start_ns, Line::Slice(k)));
        }
        for (k, e) in trace.log.iter().enumerate() {
            lines.push((e.t_ns, Line::Log(k)));
        }
        lines.sort_unstable();
        lines.into_iter().map(|(_, line)| line).collect()
    }

    /// The names of the processes (each with the tid of its first thread) and of the threads.
    fn write_metadata(&self, events: &mut Events) -> io::Result<()> {
        for (pid, name) in &self.layout.processes {
            let tid = self
                .layout
                .threads
                .iter()
                .find(|t| t.pid == *pid)
                .map_or(0, |t| t.tid);
            write!(
                events.next()?,
                "{{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
                json_str(name)
            )?;
        }
        for t in &self.layout.threads {
            write!(
                events.next()?,
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{},\"tid\":{},\"args\":{{\"name\":{}}}}}",
                t.pid,
                t.tid,
                json_str(&t.name)
            )?;
        }
        Ok(())
    }

    fn write_line(&self, events: &mut Events, line: Line) -> io::Result<()> {
        let out = events.next()?;
        match line {
            Line::Span(k) => self.write_span(out, k),
            Line::FlowOut(k) => self.write_flow_out(out, k),
            Line::FlowIn(k) => self.write_flow_in(out, k),
            Line::Mark(k) => self.write_mark(out, k),
            Line::Slice(k) => self.write_slice(out, k),
            Line::Log(k) => self.write_log(out, k),
        }
    }

    /// The `"pid":..,"tid":..` of a thread.
    fn at(&self, thread: usize) -> String {
        let t = &self.layout.threads[thread];
        format!("\"pid\":{},\"tid\":{}", t.pid, t.tid)
    }

    /// A request attempt at an instance, or a user request, as a complete event.
    fn write_span(&self, out: &mut dyn Write, k: usize) -> io::Result<()> {
        let trace = self.trace;
        let s = &trace.spans[k];
        let at = self.at(self.layout.span_thread[k]);
        let (cat, base) = match s.place {
            Place::Instance { service, .. } => ("request", &trace.services[service as usize].0),
            Place::Users { workload } => ("user", &trace.workloads[workload as usize]),
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

    /// The start of the arrow from a span's caller, when it was sent.
    fn write_flow_out(&self, out: &mut dyn Write, k: usize) -> io::Result<()> {
        let s = &self.trace.spans[k];
        let parent = self.by_id[&s.parent.expect("a flow has a parent")];
        write!(
            out,
            "{{\"ph\":\"s\",\"cat\":\"call\",\"name\":\"call\",\"id\":{},{},\"ts\":{}}}",
            s.id,
            self.at(self.layout.span_thread[parent]),
            us(s.sent_ns)
        )
    }

    /// The end of the arrow to a span, when it arrived.
    fn write_flow_in(&self, out: &mut dyn Write, k: usize) -> io::Result<()> {
        let s = &self.trace.spans[k];
        write!(
            out,
            "{{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"call\",\"name\":\"call\",\"id\":{},{},\"ts\":{}}}",
            s.id,
            self.at(self.layout.span_thread[k]),
            us(s.start_ns)
        )
    }

    /// A defence's decision, or a lost message, as an instant on the caller's track.
    fn write_mark(&self, out: &mut dyn Write, k: usize) -> io::Result<()> {
        let m = &self.trace.marks[k];
        let mut args = format!("\"attempt\":{}", m.attempt);
        if let Some(r) = m.request {
            args.push_str(&format!(",\"request\":{r}"));
        }
        if let Some(to) = m.to {
            args.push_str(&format!(
                ",\"to\":{}",
                json_str(&self.trace.services[to as usize].0)
            ));
        }
        write!(
            out,
            "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"defence\",\"name\":\"{}\",{},\"ts\":{},\"args\":{{{args}}}}}",
            m.name,
            self.at(self.layout.span_thread[self.by_id[&m.on]]),
            us(m.t_ns)
        )
    }

    /// A fault, breaker state or alert firing as a complete event.
    fn write_slice(&self, out: &mut dyn Write, k: usize) -> io::Result<()> {
        let s = &self.layout.slices[k];
        write!(
            out,
            "{{\"ph\":\"X\",\"cat\":\"{}\",\"name\":{},{},\"ts\":{},\"dur\":{},\"args\":{}}}",
            s.cat,
            json_str(&s.name),
            self.at(self.layout.slice_thread[k]),
            us(s.start_ns),
            us(s.end_ns - s.start_ns),
            s.args
        )
    }

    /// An entry of the run's log as an instant on the `log` track.
    fn write_log(&self, out: &mut dyn Write, k: usize) -> io::Result<()> {
        let e = &self.trace.log[k];
        write!(
            out,
            "{{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"log\",\"name\":{},{},\"ts\":{},\"args\":{{\"what\":{}}}}}",
            json_str(&e.kind),
            self.at(self.layout.log_thread),
            us(e.t_ns),
            json_str(&e.what)
        )
    }
}

/// The end of the document: the time unit, and under `otherData` the run, the options, the rate
/// the span budget thinned the sampling to, and how many user requests were traced and left out
/// (and why, in `left_out`).
fn write_other_data(trace: &Trace, out: &mut dyn Write) -> io::Result<()> {
    let window = match trace.options.window {
        Some((a, b)) => format!("[{a},{b}]"),
        None => "null".into(),
    };
    writeln!(
        out,
        "\"displayTimeUnit\": \"ns\",\n\"otherData\": {{\"scenario\":{},\"seed\":{},\"run\":{},\"digest\":{},\"end_ns\":{},\"sample_one_in\":{},\"sample_one_in_asked\":{},\"window_ns\":{window},\"max_spans\":{},\"spans\":{},\"users\":{},\"users_traced\":{},\"users_outside_window\":{},\"users_not_sampled\":{},\"users_over_max_spans\":{},\"left_out\":{}}}\n}}",
        json_str(&trace.scenario),
        trace.seed,
        trace.run,
        json_str(&trace.digest),
        trace.end_ns,
        trace.sample_one_in,
        trace.options.sample_one_in,
        trace.options.max_spans,
        trace.spans.len(),
        trace.users,
        trace.users_traced,
        trace.users_outside_window,
        trace.users_not_sampled,
        trace.users_over_max,
        json_str(&trace.left_out())
    )
}

/// Microseconds with three decimals, from nanoseconds: exact, and the same bytes every time.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The pids of the processes: one per service from 1, then one per workload, then `faults`,
/// `breakers`, `alerts` and `events`.
struct Pids {
    n_services: u32,
    n_workloads: u32,
    faults: u32,
    breakers: u32,
    alerts: u32,
    events: u32,
}

impl Pids {
    fn new(trace: &Trace) -> Pids {
        let n_services = trace.services.len() as u32;
        let n_workloads = trace.workloads.len() as u32;
        let faults = n_services + n_workloads + 1;
        Pids {
            n_services,
            n_workloads,
            faults,
            breakers: faults + 1,
            alerts: faults + 2,
            events: faults + 3,
        }
    }

    fn service(&self, service: u32) -> u32 {
        service + 1
    }

    fn users(&self, workload: u32) -> u32 {
        self.n_services + workload + 1
    }

    /// The name of process `pid`.
    fn name(&self, trace: &Trace, pid: u32) -> String {
        match pid {
            p if p <= self.n_services => trace.services[p as usize - 1].0.clone(),
            p if p <= self.n_services + self.n_workloads => {
                format!(
                    "users:{}",
                    trace.workloads[(p - self.n_services - 1) as usize]
                )
            }
            p if p == self.faults => "faults".into(),
            p if p == self.breakers => "breakers".into(),
            p if p == self.alerts => "alerts".into(),
            _ => "events".into(),
        }
    }
}

/// Tracks: the (pid, name) of a thread before it is split into lanes, numbered in the order
/// they are first asked for.
#[derive(Default)]
struct Tracks {
    list: Vec<(u32, String)>,
    index: BTreeMap<(u32, String), usize>,
}

impl Tracks {
    /// The number of the track (pid, name), a new one if it was not asked for before.
    fn get(&mut self, pid: u32, name: String) -> usize {
        *self.index.entry((pid, name.clone())).or_insert_with(|| {
            self.list.push((pid, name));
            self.list.len() - 1
        })
    }
}

/// A span or slice on its track: its interval, and what breaks ties between equal starts (a
/// span's id, a slice's index).
struct Placed {
    track: usize,
    tie: u64,
    start_ns: u64,
    end_ns: u64,
}

/// Processes, threads and lanes: a thread per instance (and per workload, fault label,
/// breaker, alert), split into lanes where its slices overlap. Tids are numbered from 1 in
/// the order of processes, tracks and lanes, so they are unique across processes.
fn layout(trace: &Trace) -> Layout {
    let pids = Pids::new(trace);
    let mut tracks = Tracks::default();
    let span_track: Vec<usize> = trace
        .spans
        .iter()
        .map(|s| match s.place {
            Place::Instance { service, offset } => tracks.get(
                pids.service(service),
                format!("{}/{offset}", trace.services[service as usize].0),
            ),
            Place::Users { workload } => tracks.get(
                pids.users(workload),
                format!("users:{}", trace.workloads[workload as usize]),
            ),
        })
        .collect();
    let slices = other_slices(trace, &pids, &mut tracks);
    let log_track = (!trace.log.is_empty()).then(|| tracks.get(pids.events, "log".into()));
    let spans = trace
        .spans
        .iter()
        .zip(&span_track)
        .map(|(s, &track)| Placed {
            track,
            tie: s.id,
            start_ns: s.start_ns,
            end_ns: s.end_ns,
        });
    let others = slices.iter().enumerate().map(|(k, s)| Placed {
        track: s.track,
        tie: k as u64,
        start_ns: s.start_ns,
        end_ns: s.end_ns,
    });
    let placed: Vec<Placed> = spans.chain(others).collect();
    let (members, lane_of) = lanes_by_track(tracks.list.len(), &placed);
    let (threads, first_thread) = threads(&tracks.list, &lane_of);
    let thread_of = |&(t, k): &(usize, usize)| first_thread[t] + lane_of[t][k] as usize;
    let (span_members, slice_members) = members.split_at(trace.spans.len());
    Layout {
        processes: processes(trace, &pids, &threads),
        log_thread: log_track.map_or(0, |t| first_thread[t]),
        threads,
        span_thread: span_members.iter().map(thread_of).collect(),
        slices,
        slice_thread: slice_members.iter().map(thread_of).collect(),
    }
}

/// The slices on tracks other than requests': fault occurrences, breakers' non-closed periods
/// and alert firings, in that order.
fn other_slices(trace: &Trace, pids: &Pids, tracks: &mut Tracks) -> Vec<Slice> {
    let mut slices = Vec::new();
    for (label, a, b) in &trace.faults {
        slices.push(Slice {
            track: tracks.get(pids.faults, label.clone()),
            start_ns: *a,
            end_ns: *b,
            name: label.clone(),
            cat: "fault",
            args: "{}".into(),
        });
    }
    for (edge, from, transitions) in &trace.breakers {
        breaker_slices(trace, edge, from, transitions, &mut |name, slice| {
            let t = tracks.get(pids.breakers, name);
            slices.push(Slice { track: t, ..slice });
        });
    }
    for a in &trace.alerts {
        let end = a.resolved_ns.unwrap_or(trace.end_ns).max(a.fired_ns);
        slices.push(Slice {
            track: tracks.get(pids.alerts, a.name.clone()),
            start_ns: a.fired_ns,
            end_ns: end,
            name: a.name.clone(),
            cat: "alert",
            args: format!("{{\"resolved\":{}}}", a.resolved_ns.is_some()),
        });
    }
    slices
}

/// The non-closed periods of an edge's breakers, one track per breaker.
fn breaker_slices(
    trace: &Trace,
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
                if trace.options.in_window(start, end) {
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
        close(open, trace.end_ns.max(open.map_or(0, |o| o.0)));
    }
}

/// Every span and slice put on a lane of its track: returns the (track, position in the track)
/// of each, and per track the lane of each position.
fn lanes_by_track(n_tracks: usize, placed: &[Placed]) -> (Vec<(usize, usize)>, Vec<Vec<u32>>) {
    let mut intervals: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n_tracks];
    let mut ties: Vec<Vec<u64>> = vec![Vec::new(); n_tracks];
    let mut members = Vec::with_capacity(placed.len());
    for p in placed {
        members.push((p.track, intervals[p.track].len()));
        ties[p.track].push(p.tie);
        intervals[p.track].push((p.start_ns, p.end_ns));
    }
    let lane_of = (0..n_tracks)
        .map(|t| {
            let mut order: Vec<(u64, u64, usize)> = (0..intervals[t].len())
                .map(|k| (intervals[t][k].0, ties[t][k], k))
                .collect();
            order.sort_unstable();
            let order: Vec<usize> = order.into_iter().map(|o| o.2).collect();
            lanes(&intervals[t], &order)
        })
        .collect();
    (members, lane_of)
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

/// The threads, a thread per lane of each track, and the index of each track's first thread.
/// Tracks go in order of pid, then of instance (in their own order, not the order their first
/// span was answered), then of first use.
fn threads(tracks: &[(u32, String)], lane_of: &[Vec<u32>]) -> (Vec<Thread>, Vec<usize>) {
    let mut track_order: Vec<usize> = (0..tracks.len()).collect();
    track_order.sort_by_key(|&t| (tracks[t].0, instance_rank(&tracks[t].1), t));
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
    (threads, first_thread)
}

/// The processes of the threads, in their order: (pid, name).
fn processes(trace: &Trace, pids: &Pids, threads: &[Thread]) -> Vec<(u32, String)> {
    let mut processes: Vec<(u32, String)> = Vec::new();
    for t in threads {
        if processes.last().is_none_or(|p| p.0 != t.pid) {
            processes.push((t.pid, pids.name(trace, t.pid)));
        }
    }
    processes
}

/// Sorts `svc/10` after `svc/9`: the number after the last `/`, if the name ends in one.
fn instance_rank(name: &str) -> u64 {
    name.rsplit_once('/')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{json_str, lanes, us};

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
}
