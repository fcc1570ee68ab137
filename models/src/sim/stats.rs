//! What a run measures while it runs: per-service ledgers, latency histograms, time-weighted
//! areas (busy workers, queue length), time series per bucket; at the end the `RunResult` and
//! the audit of the state invariants.

use super::*;

/// Latencies: their histogram (the full HDR histogram's buckets, held sparsely: memory follows
/// what is recorded), exact sum and maximum.
pub(super) struct LatencyStats {
    pub(super) hist: SparseHistogram,
    pub(super) sum_ns: u128,
    pub(super) max_ns: u64,
}

impl LatencyStats {
    pub(super) fn new() -> Self {
        LatencyStats {
            hist: SparseHistogram::new(),
            sum_ns: 0,
            max_ns: 0,
        }
    }

    #[inline]
    pub(super) fn record(&mut self, ns: u64) {
        self.hist.record(ns);
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// The summary with `zeros` more values of zero (requests that never waited, counted apart
    /// so that the request path records only the waits that happened).
    pub(super) fn summary_with_zeros(&self, zeros: u64) -> LatencySummary {
        if zeros == 0 {
            return self.summary();
        }
        let mut all = LatencyStats {
            hist: self.hist.clone(),
            sum_ns: self.sum_ns,
            max_ns: self.max_ns,
        };
        all.hist.record_n(0, zeros);
        all.summary()
    }

    /// The summary of these values and `other`'s together.
    pub(super) fn summary_with(&self, other: &LatencyStats) -> LatencySummary {
        if other.hist.is_empty() {
            return self.summary();
        }
        let mut all = LatencyStats {
            hist: self.hist.clone(),
            sum_ns: self.sum_ns + other.sum_ns,
            max_ns: self.max_ns.max(other.max_ns),
        };
        all.hist.add(&other.hist);
        all.summary()
    }

    pub(super) fn summary(&self) -> LatencySummary {
        let count = self.hist.len();
        if count == 0 {
            return LatencySummary::default();
        }
        let q = self
            .hist
            .values_at_quantiles(&[0.5, 0.9, 0.95, 0.99, 0.999]);
        let q = |k: usize| q[k].min(self.max_ns);
        LatencySummary {
            count,
            mean_ns: self.sum_ns as f64 / count as f64,
            p50_ns: q(0),
            p90_ns: q(1),
            p95_ns: q(2),
            p99_ns: q(3),
            p999_ns: q(4),
            max_ns: self.max_ns,
        }
    }
}

/// The answers of a service or of a workload's users (measured window): latency of the
/// successful ones and of all of them (a failure at the time it was given), and how many were
/// good (successful within the SLO's latency).
///
/// Failures are recorded apart and merged with the successes at the end, so that the request
/// path records one value per answer.
#[repr(C)] // what each answer reads first (`ServiceStats`' layout)
pub(super) struct Answers {
    pub(super) good: u64,
    /// The SLO's latency threshold (`u64::MAX`: none).
    pub(super) threshold_ns: u64,
    pub(super) ok: LatencyStats,
    failed: LatencyStats,
}

impl Answers {
    pub(super) fn new(slo: &crate::world::SloDef) -> Self {
        Answers {
            ok: LatencyStats::new(),
            failed: LatencyStats::new(),
            good: 0,
            threshold_ns: slo.threshold_ns(),
        }
    }

    /// An answer of the measured window, `latency_ns` after the request arrived.
    #[inline]
    pub(super) fn record(&mut self, success: bool, latency_ns: u64) {
        if success {
            self.ok.record(latency_ns);
            self.good += u64::from(latency_ns <= self.threshold_ns);
        } else {
            self.failed.record(latency_ns);
        }
    }

    /// The latency of every answer, successes and failures together.
    pub(super) fn all_summary(&self) -> LatencySummary {
        self.ok.summary_with(&self.failed)
    }

    /// Whether a request still unanswered at `age_ns` is already too late to be good.
    pub(super) fn late(&self, age_ns: u64) -> bool {
        age_ns > self.threshold_ns
    }
}

/// What a service measures while a run goes on: ledgers, latency, time-weighted areas, series,
/// and the counters its parts report (recovery actions, sessions lost, corrupt answers).
///
/// Laid out in order, from a cache line's start, so that a request (arrival, start of work,
/// answer) touches six lines of it, read by every request in turn at a thousand services: the
/// ledgers, then the areas and counts of busy and queued requests, then the series and the
/// alerts' series, then the answers; what a request reads only when it waited, was wasted or
/// corrupt, and what recovery counts, after them.
#[repr(C, align(64))]
pub(super) struct ServiceStats {
    pub(super) all: Ledger,
    pub(super) measured: Ledger,
    pub(super) busy_area: u128,
    pub(super) queue_area: u128,
    pub(super) last_change_ns: u64,
    pub(super) busy_now: u64,
    pub(super) queue_now: u64,
    pub(super) started: u64,
    /// The series, a row per bucket (`Series` at the end of the run).
    pub(super) rows: Vec<Row>,
    /// Latency over each alert's threshold, per bucket: `(alert, series)`.
    pub(super) slow_series: Vec<(u32, u64, Vec<u64>)>,
    pub(super) waited: u64,
    pub(super) wasted_ns: u64,
    pub(super) answers: Answers,
    /// Time measured requests waited for a worker, for those that waited (the others, `started -
    /// waited`, are zeros added at the end).
    pub(super) wait: LatencyStats,
    pub(super) wait_sum_ns: u128,
    pub(super) corrupt: u64,
    /// Instances up now, and time by number of instances up since the last change.
    pub(super) up_now: u32,
    pub(super) up_ns: Vec<u64>,
    pub(super) up_since_ns: u64,
    pub(super) recovery: crate::results::RecoveryResult,
    pub(super) sessions_lost: u64,
}

const _: () = assert!(
    std::mem::offset_of!(ServiceStats, answers) == 4 * 64,
    "the answers start the fifth line"
);

impl ServiceStats {
    /// Folds the time since the last change into the time-weighted areas.
    #[inline]
    pub(super) fn touch(&mut self, now_ns: u64) {
        let dt = u128::from(now_ns - self.last_change_ns);
        self.busy_area += u128::from(self.busy_now) * dt;
        self.queue_area += u128::from(self.queue_now) * dt;
        self.last_change_ns = now_ns;
    }

    #[inline]
    pub(super) fn count(&mut self, outcome: Outcome, measured: bool, bucket: usize) {
        let row = &mut self.rows[bucket];
        let n = match outcome {
            Outcome::Completed => &mut row.completed,
            Outcome::Degraded => &mut row.degraded,
            Outcome::Rejected | Outcome::RateLimited => &mut row.rejected,
            Outcome::Shed => &mut row.shed,
            Outcome::Failed => &mut row.failed,
            Outcome::Pending => unreachable!("only final outcomes are counted"),
        };
        *n += 1;
        count(&mut self.all, outcome);
        if measured {
            count(&mut self.measured, outcome);
        }
    }
}

/// One bucket of a service's series while the run goes on: its eight counters in one cache
/// line, so that a request's arrival and answer touch one line instead of a line in each of
/// `Series`' vectors. `series` turns the rows into the results' `Series` at the end.
#[derive(Copy, Clone, Default)]
#[repr(C, align(64))]
pub(super) struct Row {
    pub(super) arrived: u64,
    pub(super) completed: u64,
    pub(super) rejected: u64,
    pub(super) failed: u64,
    pub(super) degraded: u64,
    pub(super) shed: u64,
    pub(super) queue_len: u64,
    pub(super) busy: u64,
}

const _: () = assert!(std::mem::size_of::<Row>() == 64, "a row is one cache line");

/// The results' `Series` (a vector per counter) of a service's rows.
pub(super) fn series(rows: &[Row], resolution_ns: u64) -> Series {
    let column = |f: fn(&Row) -> u64| rows.iter().map(f).collect();
    Series {
        resolution_ns,
        arrived: column(|r| r.arrived),
        completed: column(|r| r.completed),
        rejected: column(|r| r.rejected),
        failed: column(|r| r.failed),
        degraded: column(|r| r.degraded),
        shed: column(|r| r.shed),
        queue_len: column(|r| r.queue_len),
        busy: column(|r| r.busy),
    }
}

pub(super) fn count(l: &mut Ledger, outcome: Outcome) {
    match outcome {
        Outcome::Completed => l.completed += 1,
        Outcome::Degraded => l.degraded += 1,
        Outcome::Rejected => l.rejected += 1,
        Outcome::RateLimited => l.rate_limited += 1,
        Outcome::Shed => l.shed += 1,
        Outcome::Failed => l.failed += 1,
        Outcome::Pending => unreachable!("only final outcomes are counted"),
    }
}

pub(super) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The conservation ledger: every request that arrived is accounted for. A failure is a bug in
/// the model, never in the input, so it is an assertion.
pub(super) fn check_ledger(l: &Ledger, name: &str, seed: u64, run: u64) {
    assert!(
        l.balanced(),
        "conservation ledger of `{name}` does not balance in seed {seed} run {run}: {l:?}"
    );
}

impl ServiceStats {
    /// Nothing measured yet for service `s`; every instance up.
    pub(super) fn new(world: &World, s: usize, n_buckets: usize) -> Self {
        let def = &world.services[s];
        ServiceStats {
            measured: Ledger::default(),
            all: Ledger::default(),
            answers: Answers::new(&def.slo),
            wait: LatencyStats::new(),
            started: 0,
            waited: 0,
            wait_sum_ns: 0,
            wasted_ns: 0,
            busy_now: 0,
            queue_now: 0,
            busy_area: 0,
            queue_area: 0,
            last_change_ns: 0,
            rows: vec![Row::default(); n_buckets],
            corrupt: 0,
            up_now: def.n_instances,
            up_ns: vec![0; def.n_instances as usize + 1],
            up_since_ns: 0,
            recovery: Default::default(),
            sessions_lost: 0,
            slow_series: world
                .alerts
                .iter()
                .enumerate()
                .filter(|(_, a)| a.service as usize == s)
                .filter_map(|(k, a)| match a.rule {
                    AlertKind::LatencyP99(t) => Some((k as u32, t, vec![0; n_buckets])),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// Requests in flight at the end, per service or per workload.
#[derive(Copy, Clone, Default)]
struct InFlight {
    all: u64,
    measured: u64,
    /// Measured ones already older than the SLO's latency: they can no longer be good.
    late: u64,
}

impl ServiceModel<'_> {
    /// Asks the caller's wall-clock guard whether the run may go on; a no is remembered as the
    /// reason the run stopped.
    pub(super) fn poll_wall_clock(&mut self) -> bool {
        if self.keep_going.is_some_and(|f| !f()) {
            self.guard_hit.get_or_insert(StopReason::WallTimeMax);
            return false;
        }
        true
    }

    pub(super) fn on_tick(&mut self, sim: &mut Sim<Event>) {
        if !self.poll_wall_clock() {
            sim.request_stop();
        }
        let b = self.bucket;
        if self.queues.any {
            self.queues_tick(sim, b);
        }
        for st in &mut self.stats {
            let row = &mut st.rows[b];
            (row.queue_len, row.busy) = (st.queue_now, st.busy_now);
        }
        if !self.world.alerts.is_empty() {
            self.evaluate_alerts(sim, b);
        }
        for e in &mut self.edges {
            if let Some(n) = e.chain.breakers_not_closed() {
                e.stats.breaker_open[b] = n;
            }
        }
        if !self.net.is_empty() || !self.disks.is_empty() {
            self.net_tick(sim.now().as_ns(), b);
        }
        if b + 1 < self.n_buckets {
            self.bucket = b + 1;
            sim.schedule_in(self.world.resolution, Event::Tick);
        }
    }

    pub(super) fn on_warmup_end(&mut self, now_ns: u64) {
        for st in &mut self.stats {
            st.touch(now_ns);
            st.busy_area = 0;
            st.queue_area = 0;
        }
        for e in &mut self.edges {
            e.retries_active.restart(now_ns);
        }
    }

    /// The run's results, after the audit of the state invariants and the conservation ledger
    /// of every service and workload.
    pub(super) fn into_result(
        mut self,
        seed: u64,
        run: u64,
        end: SimTime,
        stop: StopReason,
        events: u64,
        digest: String,
    ) -> (RunResult, RunHistograms) {
        self.audit(seed, run);
        let end_ns = end.as_ns();
        let measured_ns = end_ns.saturating_sub(self.world.warmup.as_ns()).max(1);
        let (in_flight, wl_in_flight) = self.count_in_flight(end_ns);
        self.close_books(end_ns);
        let services = self.service_results(&in_flight, (end_ns, measured_ns), (seed, run));
        let workloads = self.workload_results(&wl_in_flight, (seed, run));
        let edges = self
            .edges
            .iter_mut()
            .map(|e| {
                let mut stats = std::mem::take(&mut e.stats);
                let rows = std::mem::take(&mut e.rows);
                stats.series_calls = rows.iter().map(|r| r.calls).collect();
                stats.series_attempts = rows.iter().map(|r| r.attempts).collect();
                stats.amplification = ratio(stats.attempts, stats.calls);
                let (max, mean) = e.retries_active.close(end_ns, measured_ns);
                (stats.retries_active_max, stats.retries_active_mean) = (max, mean);
                stats
            })
            .collect();
        let faults = self.occurrence_list();
        if self.log_dropped > 0 {
            let what = format!("{} more entries not kept", self.log_dropped);
            self.log.push(LogEntry {
                t_ns: end_ns,
                kind: LogKind::Truncated.name().into(),
                what,
            });
        }
        let network = self.network_result(end_ns, seed, run);
        let histograms = RunHistograms {
            services: self.stats.into_iter().map(|s| s.answers.ok.hist).collect(),
            workloads: self
                .workloads
                .into_iter()
                .map(|w| w.answers.ok.hist)
                .collect(),
        };
        let result = RunResult {
            schema_version: SCHEMA_VERSION,
            faults,
            scenario: self.world.name.clone(),
            seed,
            run,
            horizon_ns: self.world.horizon.as_ns(),
            warmup_ns: self.world.warmup.as_ns(),
            measured_ns,
            stop: stop.name().to_string(),
            events,
            digest,
            services,
            workloads,
            edges,
            slo: self.world.slo.target,
            alerts: std::mem::take(&mut self.firings),
            log: std::mem::take(&mut self.log),
            network,
        };
        (result, histograms)
    }

    /// What is still in flight at the end, per service and per workload (all, measured),
    /// counted from the live requests themselves, so that the ledger is a real check and not
    /// arithmetic that balances by construction.
    fn count_in_flight(&self, end_ns: u64) -> (Vec<InFlight>, Vec<InFlight>) {
        let mut in_flight = vec![InFlight::default(); self.stats.len()];
        let mut wl_in_flight = vec![InFlight::default(); self.workloads.len()];
        let is_free = self.requests.free_mask();
        let add = |f: &mut InFlight, measured: bool, late: bool| {
            f.all += 1;
            f.measured += u64::from(measured);
            f.late += u64::from(measured && late);
        };
        for (idx, r) in self.requests.slots().iter().enumerate() {
            if is_free[idx] || r.workload == PROBE {
                continue;
            }
            if matches!(r.phase, Phase::Queued | Phase::Working | Phase::Calling) {
                let s = r.service as usize;
                let late = self.stats[s].answers.late(end_ns - r.arrived_ns);
                add(&mut in_flight[s], r.measured, late);
            }
            if r.call == NONE && !r.abandoned {
                let w = r.workload as usize;
                let late = self.workloads[w].answers.late(end_ns - r.created_ns);
                add(&mut wl_in_flight[w], r.measured, late);
            }
        }
        (in_flight, wl_in_flight)
    }

    /// Closes the last bucket of the series, the time by instances up, and the time without a
    /// writable primary.
    fn close_books(&mut self, end_ns: u64) {
        if self.bucket < self.n_buckets {
            let b = self.bucket;
            for st in &mut self.stats {
                let row = &mut st.rows[b];
                if row.busy == 0 && row.queue_len == 0 {
                    (row.queue_len, row.busy) = (st.queue_now, st.busy_now);
                }
            }
        }
        for s in 0..self.stats.len() {
            self.recount_up(s, end_ns);
            if let Some(store) = self.store_mut(s) {
                if let Some(t) = store.down_since.take() {
                    store.result.write_unavailable_ns += end_ns - t;
                }
                if store.missing > 0 {
                    store.result.redundancy_lost_ns += end_ns - store.missing_since;
                }
            }
        }
    }

    /// Every service's results; its ledger must balance with what is still in flight.
    fn service_results(
        &mut self,
        in_flight: &[InFlight],
        (end_ns, measured_ns): (u64, u64),
        (seed, run): (u64, u64),
    ) -> Vec<ServiceResult> {
        let secs = measured_ns as f64 / 1e9;
        let resolution_ns = self.world.resolution.as_ns();
        let (world, stores, store_of) = (self.world, &self.stores, &self.store_of);
        let caches = &mut self.caches;
        let queues = &mut self.queues;
        let conflicts = &self.rows.conflicts;
        let per_s = |n: u64| n as f64 / secs;
        let mean = |area: u128| area as f64 / measured_ns as f64;
        let results = self.stats.iter_mut().enumerate().map(|(s, st)| {
            st.touch(end_ns);
            let def = &world.services[s];
            st.all.in_flight = in_flight[s].all;
            st.measured.in_flight = in_flight[s].measured;
            check_ledger(&st.all, &def.name, seed, run);
            check_ledger(&st.measured, &def.name, seed, run);
            let capacity = f64::from(def.workers_total()) * f64::from(def.n_instances);
            ServiceResult {
                name: def.name.clone(),
                n_instances: def.n_instances,
                workers: def.workers_total(),
                measured: st.measured,
                ledger: st.all,
                offered_per_s: per_s(st.measured.arrived),
                throughput_per_s: per_s(st.measured.completed + st.measured.degraded),
                goodput_per_s: per_s(st.measured.completed),
                wasted_work_ns: st.wasted_ns,
                utilization: mean(st.busy_area) / capacity,
                queue_len_mean: mean(st.queue_area),
                in_system_mean: mean(st.busy_area + st.queue_area),
                wait_probability: ratio(st.waited, st.started),
                wait_ns_mean: if st.started == 0 {
                    0.0
                } else {
                    st.wait_sum_ns as f64 / st.started as f64
                },
                latency: st.answers.ok.summary(),
                latency_all: st.answers.all_summary(),
                wait: st.wait.summary_with_zeros(st.started - st.waited),
                good: st.answers.good,
                late_in_flight: in_flight[s].late,
                slo_latency_ns: def.slo.latency_ns,
                series: series(&std::mem::take(&mut st.rows), resolution_ns),
                instances_up_ns: std::mem::take(&mut st.up_ns),
                corrupt: st.corrupt,
                recovery: st.recovery.clone(),
                sessions_lost: st.sessions_lost,
                keeps_sessions: def.recovery.sessions,
                store: (store_of[s] != NONE).then(|| crate::results::StoreResult {
                    conflicts: conflicts.get(s).copied().unwrap_or(0),
                    ..stores[store_of[s] as usize].result.clone()
                }),
                cache: def.cache.map(|_| caches.result(world, s)),
                queue: def.broker.map(|_| queues.result(world, s, (seed, run))),
            }
        });
        results.collect()
    }

    /// Every workload's results, as its users saw them; their ledgers must balance.
    fn workload_results(
        &mut self,
        in_flight: &[InFlight],
        (seed, run): (u64, u64),
    ) -> Vec<WorkloadResult> {
        let world = self.world;
        let results = self.workloads.iter_mut().enumerate().map(|(w, ws)| {
            let def = &world.workloads[w];
            ws.all.in_flight = in_flight[w].all;
            ws.measured.in_flight = in_flight[w].measured;
            check_ledger(&ws.all, &def.name, seed, run);
            WorkloadResult {
                name: def.name.clone(),
                entry: world.services[def.entry as usize].name.clone(),
                measured: ws.measured,
                retries: ws.retries,
                retries_denied: ws.retries_denied,
                latency: ws.answers.ok.summary(),
                latency_all: ws.answers.all_summary(),
                good: ws.answers.good,
                late_in_flight: in_flight[w].late,
                slo_latency_ns: def.slo.latency_ns,
                series_good: std::mem::take(&mut ws.series_good),
                timeouts: ws.timeouts,
                corrupt: ws.corrupt,
                series_ok: std::mem::take(&mut ws.series_ok),
                series_bad: std::mem::take(&mut ws.series_bad),
            }
        });
        results.collect()
    }

    /// Checks the state invariants at the end of a run: no pool has more busy workers than it
    /// has, no queue holds more than its bound, the load balancers' counts match what is queued
    /// and served, the live-request count matches the slab, and no breaker has let more half-open
    /// probes through than configured. A failure is a bug in the model, so it is an assertion.
    pub(super) fn audit(&self, seed: u64, run: u64) {
        let fail = |what: String| panic!("invariant broken in seed {seed} run {run}: {what}");
        for (i, inst) in self.instances.iter().enumerate() {
            let def = &self.world.services[self.world.instances[i].service_idx as usize];
            let mut held = 0;
            for (p, pool) in inst.pools().enumerate() {
                let (workers, queue_cap, _) = def.pool(p);
                if pool.busy > workers {
                    fail(format!(
                        "instance {i} of `{}` pool {p}: {} busy of {workers} workers",
                        def.name, pool.busy
                    ));
                }
                if pool.queue.len() as u64 > u64::from(queue_cap) {
                    fail(format!(
                        "instance {i} of `{}` pool {p}: {} queued, bound {queue_cap}",
                        def.name,
                        pool.queue.len()
                    ));
                }
                held += u64::from(pool.busy) + pool.queue.len() as u64;
            }
            held += u64::from(inst.released);
            if let Some(what) = self.rotation_disagrees(i as u32) {
                fail(what);
            }
            if held != u64::from(self.load[i]) {
                fail(format!(
                    "instance {i} of `{}`: outstanding {} but {held} queued or busy",
                    def.name, self.load[i]
                ));
            }
        }
        if let Some(k) = self.requests.freed_twice() {
            fail(format!("request slot {k} released twice"));
        }
        if let Some(k) = self.calls.freed_twice() {
            fail(format!("call slot {k} released twice"));
        }
        if self.live as usize + self.requests.n_free() != self.requests.slots().len() {
            fail(format!(
                "{} live + {} free requests, slab of {}",
                self.live,
                self.requests.n_free(),
                self.requests.slots().len()
            ));
        }
        for (e, es) in self.edges.iter().enumerate() {
            let Some(bp) = &self.world.calls[e].policy.breaker else {
                continue;
            };
            for state in es.chain.breaker_states() {
                if let BreakerState::HalfOpen { permitted, .. } = state {
                    if permitted > bp.half_open_calls() {
                        fail(format!(
                            "edge {e}: {permitted} half-open probes of {}",
                            bp.half_open_calls()
                        ));
                    }
                }
            }
        }
    }
}
