//! Calls: each service's steps (a `Call`, or calls made at once in `Parallel`), their policies,
//! and the call graph, which must have no cycle (a request would never finish).

use super::check::{At, Checker};
use super::services::pool_index;
use crate::defences::CallPolicy;
use crate::spec::{Op, Scenario, Step};
use crate::world::{CallDef, PARALLEL_MAX};
use petgraph::graph::{DiGraph, NodeIndex};

/// The call graph between services, and where each call is written, to point at the call that
/// closes a cycle.
pub(super) struct CallGraph {
    graph: DiGraph<u32, ()>,
    nodes: Vec<NodeIndex>,
    /// (caller, callee, where the call's `to` is), in the order the calls are written.
    edge_at: Vec<(usize, usize, At)>,
}

impl CallGraph {
    pub(super) fn new(n_services: usize) -> CallGraph {
        let mut graph = DiGraph::<u32, ()>::new();
        let nodes = (0..n_services as u32).map(|i| graph.add_node(i)).collect();
        CallGraph {
            graph,
            nodes,
            edge_at: Vec::new(),
        }
    }

    fn add(&mut self, from: usize, to: usize, at: At) {
        self.graph.update_edge(self.nodes[from], self.nodes[to], ());
        self.edge_at.push((from, to, at));
    }

    /// Reports every cycle of the graph.
    pub(super) fn report_cycles(&self, ck: &mut Checker, names: &[&str]) {
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            if scc.len() > 1 {
                self.report_cycle(ck, &scc, names);
            }
        }
    }

    /// Reports a cycle in the call graph as the path a request would take round it, at the call
    /// that leaves its first service.
    fn report_cycle(&self, ck: &mut Checker, scc: &[NodeIndex], names: &[&str]) {
        let (graph, edge_at) = (&self.graph, &self.edge_at);
        let in_scc = |n: u32| scc.iter().any(|&m| graph[m] == n);
        let start = scc.iter().map(|&n| graph[n]).min().unwrap_or(0);
        // Breadth-first from `start` back to itself, through the cycle's members, following calls
        // in the order they are written.
        let mut came_from: Vec<Option<u32>> = vec![None; names.len()];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        'search: while let Some(n) = queue.pop_front() {
            for &(from, to, _) in edge_at {
                let (from, to) = (from as u32, to as u32);
                if from != n || !in_scc(to) {
                    continue;
                }
                if to == start {
                    last = Some(n);
                    break 'search;
                }
                if came_from[to as usize].is_none() {
                    came_from[to as usize] = Some(n);
                    queue.push_back(to);
                }
            }
        }
        let mut path = vec![start];
        let mut n = last.unwrap_or(start);
        while n != start {
            path.push(n);
            n = came_from[n as usize].unwrap_or(start);
        }
        path[1..].reverse();
        path.push(start);
        let second = path.get(1).copied().unwrap_or(start);
        let Some((_, _, at)) = edge_at
            .iter()
            .find(|(f, t, _)| *f as u32 == start && *t as u32 == second)
        else {
            return;
        };
        let mut text = format!(
            "`{}` calls `{}`",
            names[path[0] as usize], names[path[1] as usize]
        );
        for &n in &path[2..] {
            text.push_str(&format!(", which calls `{}`", names[n as usize]));
        }
        ck.report(
            at,
            format!("the calls go round in a cycle: {text}; a request would never finish"),
            None,
        );
    }
}

/// Compiles the steps of service `si`, adding its calls to `calls` and the call graph. Each step
/// is a range `calls[start .. start + len]` made at once.
pub(super) fn build_steps(
    ck: &mut Checker,
    spec: &Scenario,
    si: usize,
    names: &[&str],
    calls: &mut Vec<CallDef>,
    graph: &mut CallGraph,
) -> Vec<(u32, u32)> {
    let svc = &spec.services[si];
    let calls_at = At::root()
        .field("services")
        .named(si, &svc.name)
        .field("calls");
    let mut steps = Vec::new();
    for (k, step) in svc.calls.iter().enumerate() {
        let start = calls.len() as u32;
        for (call, call_at) in step_calls(ck, step, &calls_at.index(k)) {
            if let Some(def) = build_call(ck, spec, si, names, call, &call_at, graph) {
                // A fan-out is that many copies of the call, each its own edge.
                let n_copies = fan_out(call).clamp(1, PARALLEL_MAX as u32 + 1) as usize;
                calls.extend(std::iter::repeat_n(def, n_copies));
            }
        }
        let len = calls.len() as u32 - start;
        if len as usize > PARALLEL_MAX {
            ck.report(
                &calls_at.index(k),
                format!(
                    "a step makes at most {PARALLEL_MAX} calls at once (`Parallel` and `fan_out` together), not {len}"
                ),
                None,
            );
        }
        if len > 0 {
            steps.push((start, len));
        }
    }
    steps
}

/// How many copies of a call a step makes (its `fan_out`).
fn fan_out(call: &Step) -> u32 {
    match call {
        Step::Call { fan_out, .. } => *fan_out,
        Step::Parallel(_) => 1,
    }
}

/// The calls of a step, with where each is written; a `Parallel` step holds at least one
/// call, and no other `Parallel`. A call's `fan_out` is from 1 to [`PARALLEL_MAX`].
fn step_calls<'s>(ck: &mut Checker, step: &'s Step, step_at: &At) -> Vec<(&'s Step, At)> {
    let inner = match step {
        Step::Call { fan_out, .. } => {
            check_fan_out(ck, *fan_out, step_at);
            return vec![(step, step_at.clone())];
        }
        Step::Parallel(inner) => inner,
    };
    if inner.is_empty() {
        ck.report(
            step_at,
            "a `Parallel` step needs at least one call".into(),
            None,
        );
    }
    let mut calls = Vec::new();
    for (j, s) in inner.iter().enumerate() {
        match s {
            Step::Call { fan_out, .. } => {
                check_fan_out(ck, *fan_out, &step_at.index(j));
                calls.push((s, step_at.index(j)));
            }
            Step::Parallel(_) => ck.report(
                &step_at.index(j),
                "a `Parallel` step holds `Call`s only, not another `Parallel`".into(),
                None,
            ),
        }
    }
    calls
}

/// A write goes to a datastore, a publish to a broker.
fn check_op(ck: &mut Checker, to: &crate::spec::Service, op: Op, at: &At) {
    let name = &to.name;
    if op == Op::Publish && to.broker.is_none() {
        let msg = format!(
            "`{name}` is not a broker; only a broker takes a publish (give it `broker: (...)`)"
        );
        ck.report(at, msg, None);
    }
    if matches!(op, Op::Write | Op::CompareAndSet) && to.datastore.is_none() {
        let msg = format!("`{name}` is not a datastore; only a datastore takes writes (give it `datastore: (...)`)");
        ck.report(at, msg, None);
    }
}

/// A call's `fan_out` lies between 1 and [`PARALLEL_MAX`].
fn check_fan_out(ck: &mut Checker, fan_out: u32, call_at: &At) {
    if fan_out == 0 || fan_out as usize > PARALLEL_MAX {
        ck.report(
            &call_at.field("fan_out"),
            format!("`fan_out` is from 1 to {PARALLEL_MAX}, not {fan_out}"),
            None,
        );
    }
}

/// Compiles one call of service `si`, adding it to the call graph; `None` when it calls no
/// other service.
fn build_call(
    ck: &mut Checker,
    spec: &Scenario,
    si: usize,
    names: &[&str],
    call: &Step,
    call_at: &At,
    graph: &mut CallGraph,
) -> Option<CallDef> {
    let Step::Call {
        to,
        pool,
        op,
        criticality,
        keys,
        request_bytes,
        response_bytes,
        ..
    } = call
    else {
        return None;
    };
    let to_at = call_at.field("to");
    let policy = match CallPolicy::new(call) {
        Ok(policy) => policy,
        Err(problems) => {
            for (field, message) in problems {
                let field_at = field.split('.').fold(call_at.clone(), |a, f| a.field(f));
                ck.report(&field_at, message, None);
            }
            CallPolicy::default()
        }
    };
    let Some(ti) = names.iter().position(|n| n == to) else {
        ck.unknown(&to_at, "service", to, names);
        return None;
    };
    if ti == si {
        ck.report(&to_at, format!("service `{to}` calls itself"), None);
        return None;
    }
    graph.add(si, ti, to_at);
    let pool = pool_index(
        ck,
        &spec.services[ti],
        pool.as_deref(),
        &call_at.field("pool"),
    );
    check_op(ck, &spec.services[ti], *op, &call_at.field("op"));
    Some(CallDef {
        from: si as u32,
        to: ti as u32,
        write: matches!(op, Op::Write | Op::CompareAndSet),
        pool,
        policy,
        criticality: criticality.map(|c| c as u8),
        keys: keys
            .as_ref()
            .and_then(|k| super::caches::key_dist(ck, &call_at.field("keys"), k)),
        fronted: false,
        publish: *op == Op::Publish,
        cas: *op == Op::CompareAndSet,
        request_bytes: super::network::size(ck, &call_at.field("request_bytes"), request_bytes),
        response_bytes: super::network::size(ck, &call_at.field("response_bytes"), response_bytes),
    })
}
