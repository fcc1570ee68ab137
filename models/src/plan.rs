//! A plan: what a scenario asks of each service, worked out from the file without simulating.
//!
//! ```text
//! workload rate ──▶ entry ──(probability × fan_out)──▶ callee ──▶ …    offered load per service
//!                        └──(× attempts, or 1 + budget ratio)──▶ …    worst-case retry amplification
//! instances × workers / mean work                                       capacity per service
//! ```
//!
//! Offered load is the mean arrival rate over the measured window (after the warm-up) and the
//! peak of the workloads' schedules, carried down every call path; a service's capacity counts
//! its local work only (a worker of a thread-per-request service is also held while its calls are
//! out, so such a service that waits on slow calls is busier than this says; an async one is not). The checks are the mistakes that make a first run
//! useless: a service loaded at or over its capacity, a timeout inversion (an inner call's
//! timeout × attempts + backoff longer than its caller's timeout, so that the caller gives up
//! while retries still run, and every retry is wasted work), retries without jitter or budget
//! into a service with fan-in, and a utilization above a threshold.

use crate::dist::spec_mean_ns;
use crate::error::Problem;
use crate::format::reader::{line_col, Seg, SourceMap};
use crate::spec::{Backoff, Jitter, RetrySpec, Scenario, Step};
use crate::world::World;

/// Most (service, path) visits a plan follows: a deep graph of diamonds has exponentially many
/// paths, and the plan is a look before the run, not an enumeration.
const VISITS_MAX: usize = 100_000;

/// The utilization above which `plan` and `validate` warn, by default.
pub const UTILIZATION_WARN: f64 = 0.8;

/// One worker pool of a service (its own `workers` is pool 0): what arrives and what it can serve.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRow {
    /// `db`, or `db/write` for a pool of `db`.
    pub name: String,
    pub instances: u32,
    pub workers: u32,
    pub work_mean_ns: f64,
    /// Requests per second the pool can serve: instances × workers / mean work.
    pub capacity_per_s: f64,
    /// Mean arrivals per second over the measured window, first attempts only.
    pub offered_per_s: f64,
    /// Arrivals per second at the workloads' peak, first attempts only.
    pub peak_per_s: f64,
    /// At the peak, with every retry taken (budgets capping them): the worst case.
    pub worst_per_s: f64,
}

impl PlanRow {
    /// Expected utilization at the peak load, without retries.
    pub fn utilization(&self) -> f64 {
        self.peak_per_s / self.capacity_per_s
    }

    /// Utilization at the peak if every failure were retried.
    pub fn utilization_worst(&self) -> f64 {
        self.worst_per_s / self.capacity_per_s
    }
}

/// A call path from a workload's users, and its worst-case retry amplification.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanPath {
    /// `users:web`, `web`, `api`, `db`.
    pub hops: Vec<String>,
    /// The product of the attempts along the path (each capped at 1 + ratio by a Finagle
    /// budget): how many attempts reach the last hop per user request, at worst.
    pub amplification: f64,
}

/// A scenario's plan: one row per pool, the call paths, and what looks wrong.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub rows: Vec<PlanRow>,
    pub paths: Vec<PlanPath>,
    /// Warnings, each at its place in the file.
    pub warnings: Vec<Problem>,
    /// Whether the plan stopped following paths at [`VISITS_MAX`].
    pub truncated: bool,
}

/// The caller's side of a visit: where the load comes from and what the caller waits.
#[derive(Clone)]
struct Caller {
    mean: f64,
    peak: f64,
    amplification: f64,
    /// The timeout the caller gives this service's answer, and where it is written.
    deadline: Option<(u64, String)>,
    hops: Vec<String>,
}

/// Works out the plan of a compiled world (its scenario and workloads' rates).
/// `utilization_warn` is the utilization above which a service is warned of.
pub fn plan(world: &World, source: Option<&str>, utilization_warn: f64) -> Plan {
    let spec = &world.spec;
    let mut p = Planner {
        spec,
        map: source.map(SourceMap::new),
        plan: Plan::default(),
        visits: 0,
    };
    p.plan.rows = rows(spec);
    for (w, (workload, def)) in spec.workload.iter().zip(&world.workloads).enumerate() {
        let (mean, peak) = rate_mean_peak(&def.rate, world);
        let attempts = workload.retry.as_ref().map_or(1.0, budgeted_attempts);
        let users = crate::world::users_name(workload.name.as_deref().unwrap_or(&workload.entry));
        let at = format!("workload[{w}].timeout");
        let caller = Caller {
            mean,
            peak,
            amplification: attempts,
            deadline: workload.timeout.map(|t| (t.0.as_ns(), at)),
            hops: vec![users],
        };
        let pool = pool_index(spec, def.entry as usize, workload.pool.as_deref());
        p.visit(def.entry as usize, pool, &caller);
    }
    p.fan_in_retries();
    p.utilization(utilization_warn);
    p.plan
}

/// The pools of every service, with their capacity; no load yet.
fn rows(spec: &Scenario) -> Vec<PlanRow> {
    let mut out = Vec::new();
    for s in &spec.services {
        let main_ns = spec_mean_ns(&s.work);
        let row = |name: String, workers: u32, work_mean_ns: f64| PlanRow {
            name,
            instances: s.instances,
            workers,
            work_mean_ns,
            capacity_per_s: f64::from(s.instances) * f64::from(workers) * 1e9 / work_mean_ns,
            offered_per_s: 0.0,
            peak_per_s: 0.0,
            worst_per_s: 0.0,
        };
        out.push(row(s.name.clone(), s.workers, main_ns));
        for pool in &s.pools {
            let work = pool.work.as_ref().map_or(main_ns, spec_mean_ns);
            out.push(row(format!("{}/{}", s.name, pool.name), pool.workers, work));
        }
    }
    out
}

/// The row of pool `pool` (0: the service's own workers) of service `s`.
fn row_index(spec: &Scenario, s: usize, pool: usize) -> usize {
    spec.services[..s]
        .iter()
        .map(|x| 1 + x.pools.len())
        .sum::<usize>()
        + pool
}

/// The pool a call or workload names (0 when none, or when the name is unknown).
fn pool_index(spec: &Scenario, s: usize, pool: Option<&str>) -> usize {
    pool.and_then(|name| spec.services[s].pools.iter().position(|p| p.name == name))
        .map_or(0, |k| k + 1)
}

/// The mean rate over the measured window and the peak rate in it, per second.
fn rate_mean_peak(rate: &crate::world::RateFn, world: &World) -> (f64, f64) {
    let (from, to) = (world.warmup.as_ns(), world.horizon.as_ns());
    let mut times: Vec<u64> = rate
        .points
        .iter()
        .map(|&(t, _)| t)
        .filter(|&t| t > from && t < to)
        .collect();
    times.insert(0, from);
    times.push(to);
    let mut area = 0.0;
    let mut peak = rate.at(from);
    for pair in times.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // The rate is linear between breakpoints: its value at the middle is its mean there.
        area += rate.at(a + (b - a) / 2) * (b - a) as f64;
        peak = peak.max(rate.at(a)).max(rate.at(b.saturating_sub(1)));
    }
    let span = to.saturating_sub(from).max(1) as f64;
    (area / span, peak)
}

/// Attempts per call at worst: `attempts`, or fewer under a Finagle budget (`1 + ratio`).
fn budgeted_attempts(r: &RetrySpec) -> f64 {
    let attempts = f64::from(r.attempts.max(1));
    match r.budget.as_ref().and_then(|b| b.ratio) {
        Some(ratio) => attempts.min(1.0 + ratio),
        None => attempts,
    }
}

/// The longest a call's retries may wait in all, ns: no jitter, every wait at its largest.
fn backoff_total_ns(r: &RetrySpec) -> u64 {
    let retries = r.attempts.saturating_sub(1);
    let wait = |k: u32| -> u64 {
        match &r.backoff {
            Backoff::Constant(d) => d.0.as_ns(),
            Backoff::Exponential {
                base,
                cap,
                multiplier,
            } => {
                let grown = base.0.as_ns() as f64 * multiplier.powi(k as i32);
                (grown.min(cap.0.as_ns() as f64)) as u64
            }
            Backoff::Decorrelated { cap, .. } => cap.0.as_ns(),
        }
    };
    (0..retries).map(wait).fold(0u64, u64::saturating_add)
}

/// The calls of a service's steps, with where each is written: (call, `[i]` or `[i][j]`, segs).
fn calls_of(steps: &[Step]) -> Vec<(&Step, String, Vec<Seg>)> {
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Parallel(inner) => {
                for (j, call) in inner.iter().enumerate() {
                    out.push((
                        call,
                        format!("[{i}][{j}]"),
                        vec![Seg::Index(i), Seg::Index(j)],
                    ));
                }
            }
            call => out.push((call, format!("[{i}]"), vec![Seg::Index(i)])),
        }
    }
    out
}

struct Planner<'s> {
    spec: &'s Scenario,
    map: Option<SourceMap<'s>>,
    plan: Plan,
    visits: usize,
}

impl Planner<'_> {
    /// A warning at `path` (printed) and `segs` (for its line and column).
    fn warn(&mut self, path: String, segs: &[Seg], message: String) {
        if self
            .plan
            .warnings
            .iter()
            .any(|w| w.path.as_deref() == Some(&path) && w.message == message)
        {
            return;
        }
        let position = self
            .map
            .as_ref()
            .and_then(|m| m.find(segs).map(|o| line_col(m.text(), o)));
        self.plan.warnings.push(Problem {
            position,
            path: Some(path),
            message,
            suggestion: None,
        });
    }

    /// Adds the load `caller` sends to pool `pool` of service `s`, and follows its calls.
    fn visit(&mut self, s: usize, pool: usize, caller: &Caller) {
        self.visits += 1;
        if self.visits > VISITS_MAX {
            self.plan.truncated = true;
            return;
        }
        let row = &mut self.plan.rows[row_index(self.spec, s, pool)];
        row.offered_per_s += caller.mean;
        row.peak_per_s += caller.peak;
        row.worst_per_s += caller.peak * caller.amplification;
        let svc = &self.spec.services[s];
        let mut hops = caller.hops.clone();
        hops.push(svc.name.clone());
        self.record_path(&hops, caller.amplification);
        for (call, index, mut segs) in calls_of(&svc.calls) {
            let Step::Call {
                to,
                probability,
                fan_out,
                timeout,
                retry,
                pool,
                ..
            } = call
            else {
                continue;
            };
            let Some(t) = self.spec.services.iter().position(|x| &x.name == to) else {
                continue;
            };
            let path = format!("services.{}.calls{index}", svc.name);
            let mut at = vec![
                Seg::Field("services".into()),
                Seg::Index(s),
                Seg::Field("calls".into()),
            ];
            at.append(&mut segs);
            if let (Some(t_ns), Some((deadline_ns, deadline_at))) = (timeout, &caller.deadline) {
                self.inversion(
                    &path,
                    &at,
                    t_ns.0.as_ns(),
                    retry.as_ref(),
                    *deadline_ns,
                    deadline_at,
                );
            }
            let k = probability * f64::from((*fan_out).max(1));
            let attempts = retry.as_ref().map_or(1.0, budgeted_attempts);
            let next = Caller {
                mean: caller.mean * k,
                peak: caller.peak * k,
                amplification: caller.amplification * attempts,
                deadline: timeout.map(|d| (d.0.as_ns(), format!("{path}.timeout"))),
                hops: hops.clone(),
            };
            let pool = pool_index(self.spec, t, pool.as_deref());
            self.visit(t, pool, &next);
        }
    }

    fn record_path(&mut self, hops: &[String], amplification: f64) {
        if let Some(p) = self.plan.paths.iter_mut().find(|p| p.hops == hops) {
            p.amplification = p.amplification.max(amplification);
        } else {
            self.plan.paths.push(PlanPath {
                hops: hops.to_vec(),
                amplification,
            });
        }
    }

    /// A call whose attempts and waits take longer than its caller waits for the answer.
    fn inversion(
        &mut self,
        path: &str,
        at: &[Seg],
        timeout_ns: u64,
        retry: Option<&RetrySpec>,
        deadline_ns: u64,
        deadline_at: &str,
    ) {
        let attempts = retry.map_or(1, |r| r.attempts.max(1));
        let backoff = retry.map_or(0, backoff_total_ns);
        let total = timeout_ns
            .saturating_mul(u64::from(attempts))
            .saturating_add(backoff);
        if total <= deadline_ns {
            return;
        }
        let ns = |v: u64| sim_core::SimDuration::from_ns(v).to_string();
        self.warn(
            path.to_string(),
            at,
            format!(
                "timeout inversion: {attempts} attempt{} of `{}` and {} of backoff take up to {}, longer than the caller waits (`{deadline_at}`: {}); the caller gives up first, and the work after that is wasted",
                if attempts == 1 { "" } else { "s" },
                ns(timeout_ns),
                ns(backoff),
                ns(total),
                ns(deadline_ns)
            ),
        );
    }

    /// Retries without jitter or without a budget into a service that several callers (instances
    /// of callers, copies of a fan-out, workloads) send to: they arrive together and multiply the load when it is already failing.
    fn fan_in_retries(&mut self) {
        let spec = self.spec;
        let mut fan_in = vec![0u32; spec.services.len()];
        for w in &spec.workload {
            if let Some(e) = spec.services.iter().position(|s| s.name == w.entry) {
                fan_in[e] += 1;
            }
        }
        // Every instance of a caller retries on its own: each is a caller here.
        for s in &spec.services {
            for (call, _, _) in calls_of(&s.calls) {
                if let Step::Call { to, fan_out, .. } = call {
                    if let Some(t) = spec.services.iter().position(|x| &x.name == to) {
                        fan_in[t] =
                            fan_in[t].saturating_add(s.instances.saturating_mul((*fan_out).max(1)));
                    }
                }
            }
        }
        for (s, svc) in spec.services.iter().enumerate() {
            for (call, index, segs) in calls_of(&svc.calls) {
                let Step::Call {
                    to, retry: Some(r), ..
                } = call
                else {
                    continue;
                };
                let Some(t) = spec.services.iter().position(|x| &x.name == to) else {
                    continue;
                };
                if r.attempts < 2 || fan_in[t] < 2 {
                    continue;
                }
                let mut missing = Vec::new();
                if r.jitter == Jitter::None {
                    missing.push("jitter");
                }
                if r.budget.is_none() {
                    missing.push("a budget");
                }
                if missing.is_empty() {
                    continue;
                }
                let mut at = vec![
                    Seg::Field("services".into()),
                    Seg::Index(s),
                    Seg::Field("calls".into()),
                ];
                at.extend(segs);
                at.push(Seg::Field("retry".into()));
                self.warn(
                    format!("services.{}.calls{index}.retry", svc.name),
                    &at,
                    format!(
                        "retries to `{to}` without {}, and `{to}` has {} callers (instances and fan-out copies): when it slows down, their retries arrive together and multiply its load up to {}x",
                        missing.join(" or "),
                        fan_in[t],
                        r.attempts
                    ),
                );
            }
        }
    }

    /// Pools loaded at or over capacity, or above `warn`.
    fn utilization(&mut self, warn: f64) {
        for k in 0..self.plan.rows.len() {
            let row = self.plan.rows[k].clone();
            let u = row.utilization();
            let (s, pool) = self.locate_row(k);
            let (path, segs) = match pool {
                None => (
                    format!("services.{}", self.spec.services[s].name),
                    vec![Seg::Field("services".into()), Seg::Index(s)],
                ),
                Some(p) => (
                    format!("services.{}.pools[{p}]", self.spec.services[s].name),
                    vec![
                        Seg::Field("services".into()),
                        Seg::Index(s),
                        Seg::Field("pools".into()),
                        Seg::Index(p),
                    ],
                ),
            };
            // Behind a cache the plan cannot know the hit ratio: its load is the cold case.
            let name = &self.spec.services[s].name;
            let cached = (self.spec.services.iter())
                .any(|c| c.cache.as_ref().is_some_and(|k| &k.fronts == name));
            let head = format!(
                "{:.0} requests/s at the peak against a capacity of {:.0}/s (instances {} × workers {} / mean work {}){}",
                row.peak_per_s,
                row.capacity_per_s,
                row.instances,
                row.workers,
                sim_core::SimDuration::from_ns(row.work_mean_ns as u64),
                if cached { ", if every lookup of the cache in front of it missed (a cold cache)" } else { "" }
            );
            if u >= 1.0 {
                self.warn(path, &segs, format!("expected utilization {u:.2}: {head}; at 1 or more the queue grows without bound (unstable)"));
            } else if u > warn {
                self.warn(path, &segs, format!("expected utilization {u:.2}, above {warn:.2}: {head}; queues and latency grow steeply near 1"));
            }
        }
    }

    /// The service and pool (`None`: its own workers) of row `k`.
    fn locate_row(&self, k: usize) -> (usize, Option<usize>) {
        let mut first = 0;
        for (s, svc) in self.spec.services.iter().enumerate() {
            let n = 1 + svc.pools.len();
            if k < first + n {
                return (s, (k > first).then(|| k - first - 1));
            }
            first += n;
        }
        unreachable!("row {k} is past the last service's pools")
    }
}
