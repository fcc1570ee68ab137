//! Many runs of several variants, folded into bounded memory as they finish.
//!
//! Per run, only a compact [`RunRecord`] is kept (for confidence intervals, paired differences and
//! `runs.csv`). Latency histograms are merged per variant and service, and time series are summed
//! per bucket; links and disks are folded per link and per disk ([`crate::network`]). Every merge
//! is integer addition, so the aggregate is the same whatever order the runs finish in: reports
//! are byte-identical for any number of jobs.

use models::results::{LatencySummary, Ledger, RunResult, Series};
use models::sparse_hist::MergedHistogram;
use models::RunHistograms;
use serde::{Deserialize, Serialize};

/// The metrics, defined in [`crate::metric`]; re-exported where they were first defined.
pub use crate::metric::MetricKind;

/// One service (or one workload's users) in one run, reduced to what reports need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRun {
    /// Requests of the measured window by outcome.
    #[serde(flatten)]
    pub counts: Ledger,
    /// Answered successfully within the SLO's latency.
    pub good: u64,
    /// In flight at the end and already older than the SLO's latency.
    pub late_in_flight: u64,
    pub throughput_per_s: f64,
    pub goodput_per_s: f64,
    pub utilization: f64,
    pub queue_len_mean: f64,
    /// NaN for users.
    pub in_system_mean: f64,
    pub wait_probability: f64,
    pub wait_ns_mean: f64,
    /// Latency of successful requests.
    pub latency: LatencySummary,
    /// Latency of every answered request, failures at the time they were given.
    pub latency_all: LatencySummary,
    /// Time waited for a worker; `None` for users.
    pub wait: Option<LatencySummary>,
    /// Time with exactly `i` instances up, at index `i`; empty for users.
    pub instances_up_ns: Vec<u64>,
    /// For a datastore: its data ledger.
    #[serde(default)]
    pub store: Option<models::results::StoreResult>,
    /// For a service that keeps sessions locally: sessions lost.
    #[serde(default)]
    pub sessions_lost: Option<u64>,
    /// For a cache service: its hit ratio (`None` without lookups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hit_ratio: Option<f64>,
    /// For a broker: (messages held at the end, dead letters, duplicates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<(u64, u64, u64)>,
}

impl ServiceRun {
    /// The metric's value in this run; NaN when undefined (no answered or completed request).
    pub fn metric(&self, kind: MetricKind) -> f64 {
        use MetricKind as M;
        let c = &self.counts;
        let answered = c.answered();
        let frac = |x: u64, of: u64| {
            if of == 0 {
                f64::NAN
            } else {
                x as f64 / of as f64
            }
        };
        let ok = |v: u64| percentile_or_nan(&self.latency, v);
        let all = |v: u64| percentile_or_nan(&self.latency_all, v);
        let wait = |f: fn(&LatencySummary) -> f64| {
            self.wait
                .as_ref()
                .filter(|w| w.count > 0)
                .map_or(f64::NAN, f)
        };
        match kind {
            M::WithinSlo => frac(self.good, answered + self.late_in_flight),
            M::SlowerThanSlo => frac(
                (c.completed + c.degraded).saturating_sub(self.good) + self.late_in_flight,
                answered + self.late_in_flight,
            ),
            M::Availability => frac(c.completed + c.degraded, answered),
            M::ErrorRate => frac(c.rejected + c.rate_limited + c.shed + c.failed, answered),
            M::DegradedRate => frac(c.degraded, answered),
            M::LatencyMean => mean_or_nan(&self.latency),
            M::LatencyP50 => ok(self.latency.p50_ns),
            M::LatencyP90 => ok(self.latency.p90_ns),
            M::LatencyP95 => ok(self.latency.p95_ns),
            M::LatencyP99 => ok(self.latency.p99_ns),
            M::LatencyP999 => ok(self.latency.p999_ns),
            M::LatencyMax => ok(self.latency.max_ns),
            M::AllLatencyMean => mean_or_nan(&self.latency_all),
            M::AllLatencyP50 => all(self.latency_all.p50_ns),
            M::AllLatencyP90 => all(self.latency_all.p90_ns),
            M::AllLatencyP95 => all(self.latency_all.p95_ns),
            M::AllLatencyP99 => all(self.latency_all.p99_ns),
            M::AllLatencyP999 => all(self.latency_all.p999_ns),
            M::AllLatencyMax => all(self.latency_all.max_ns),
            M::Throughput => self.throughput_per_s,
            M::Goodput => self.goodput_per_s,
            M::Utilization => self.utilization,
            M::QueueLenMean => self.queue_len_mean,
            M::InSystemMean => self.in_system_mean,
            M::WaitProbability => self.wait_probability_or_nan(),
            M::WaitMean => wait(|w| w.mean_ns),
            M::WaitP50 => wait(|w| w.p50_ns as f64),
            M::WaitP95 => wait(|w| w.p95_ns as f64),
            M::WaitP99 => wait(|w| w.p99_ns as f64),
            M::InstancesUp(k) => self.up_at_least(k),
            _ => self.state_metric(kind),
        }
    }

    /// A metric of what a service keeps (a datastore, sessions, a cache, a queue); NaN for a
    /// service that keeps no such thing.
    fn state_metric(&self, kind: MetricKind) -> f64 {
        use MetricKind as M;
        let store = |f: fn(&models::results::StoreResult) -> u64| {
            self.store.as_ref().map_or(f64::NAN, |x| f(x) as f64)
        };
        match kind {
            M::LostWrites => store(|x| x.lost_writes),
            M::WriteUnavailable => store(|x| x.write_unavailable_ns),
            M::RedundancyLost => store(|x| x.redundancy_lost_ns),
            M::StaleReads => store(|x| x.stale_reads),
            M::DivergentWrites => store(|x| x.divergent_writes),
            M::SessionsLost => self.sessions_lost.map_or(f64::NAN, |x| x as f64),
            M::HitRatio => self.hit_ratio.unwrap_or(f64::NAN),
            M::Backlog => self.queue.map_or(f64::NAN, |q| q.0 as f64),
            M::DeadLetters => self.queue.map_or(f64::NAN, |q| q.1 as f64),
            M::Duplicates => self.queue.map_or(f64::NAN, |q| q.2 as f64),
            _ => f64::NAN,
        }
    }

    fn wait_probability_or_nan(&self) -> f64 {
        match &self.wait {
            Some(w) if w.count > 0 => self.wait_probability,
            _ => f64::NAN,
        }
    }

    /// Share of the measured window with at least `k` instances up (`k` above the count: all).
    fn up_at_least(&self, k: u32) -> f64 {
        let total: u64 = self.instances_up_ns.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let n = self.instances_up_ns.len() - 1;
        let k = (k as usize).min(n);
        self.instances_up_ns.iter().skip(k).sum::<u64>() as f64 / total as f64
    }
}

fn mean_or_nan(l: &LatencySummary) -> f64 {
    if l.count == 0 {
        f64::NAN
    } else {
        l.mean_ns
    }
}

fn percentile_or_nan(l: &LatencySummary, v: u64) -> f64 {
    if l.count == 0 {
        f64::NAN
    } else {
        v as f64
    }
}

/// One run of one variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: u64,
    pub seed: u64,
    pub digest: String,
    pub events: u64,
    pub stop: String,
    /// In the order of the variant's services.
    pub services: Vec<ServiceRun>,
    /// One per injected fault (and rollout): detection, recovery and damage in this run.
    #[serde(default)]
    pub incidents: Vec<crate::timeline::IncidentRecord>,
    /// One per call edge, in the scenario's order of calls.
    #[serde(default)]
    pub edges: Vec<crate::edges::EdgeRun>,
}

impl RunRecord {
    pub fn from_result(r: &RunResult) -> Self {
        RunRecord {
            run: r.run,
            seed: r.seed,
            digest: r.digest.clone(),
            events: r.events,
            stop: r.stop.clone(),
            incidents: crate::timeline::records(r),
            edges: r
                .edges
                .iter()
                .map(crate::edges::EdgeRun::from_result)
                .collect(),
            services: r
                .services
                .iter()
                .map(|s| ServiceRun {
                    counts: s.measured,
                    good: s.good,
                    late_in_flight: s.late_in_flight,
                    throughput_per_s: s.throughput_per_s,
                    goodput_per_s: s.goodput_per_s,
                    utilization: s.utilization,
                    queue_len_mean: s.queue_len_mean,
                    in_system_mean: s.in_system_mean,
                    wait_probability: s.wait_probability,
                    wait_ns_mean: s.wait_ns_mean,
                    latency: s.latency,
                    latency_all: s.latency_all,
                    wait: Some(s.wait),
                    instances_up_ns: s.instances_up_ns.clone(),
                    store: s.store.clone(),
                    sessions_lost: Some(s.sessions_lost).filter(|_| s.keeps_sessions),
                    hit_ratio: s.cache.as_ref().and_then(|c| c.hit_ratio()),
                    queue: (s.queue.as_ref())
                        .map(|q| (q.ready + q.out, q.dead_letters, q.duplicates)),
                })
                .chain(r.workloads.iter().map(|w| {
                    let secs = r.measured_ns.max(1) as f64 / 1e9;
                    let m = &w.measured;
                    ServiceRun {
                        counts: *m,
                        good: w.good,
                        late_in_flight: w.late_in_flight,
                        throughput_per_s: (m.completed + m.degraded) as f64 / secs,
                        goodput_per_s: m.completed as f64 / secs,
                        utilization: f64::NAN,
                        queue_len_mean: f64::NAN,
                        in_system_mean: f64::NAN,
                        wait_probability: f64::NAN,
                        wait_ns_mean: f64::NAN,
                        latency: w.latency,
                        latency_all: w.latency_all,
                        wait: None,
                        instances_up_ns: Vec::new(),
                        store: None,
                        sessions_lost: None,
                        hit_ratio: None,
                        queue: None,
                    }
                }))
                .collect(),
        }
    }
}

/// Everything known about one variant after its runs.
pub struct VariantAggregate {
    pub name: String,
    pub about: String,
    pub services: Vec<String>,
    /// Indexed by run index; `None` until that run has finished.
    pub runs: Vec<Option<RunRecord>>,
    /// Latency of completed requests, merged over runs, per service: the buckets used only, not
    /// the full histogram's 270 KB (bucket for bucket the full one).
    pub latency: Vec<MergedHistogram>,
    /// Per-bucket sums over runs, per service.
    pub series: Vec<Series>,
    /// For a grid point: (parameter, value) per grid parameter.
    pub grid: Vec<(String, String)>,
    /// Injected faults (the same in every run): (description, start ns, end ns).
    pub faults: Vec<(String, u64, u64)>,
    /// Per call edge with a breaker: (from, to, breakers not closed per bucket, summed over runs).
    pub breakers: Vec<(String, String, Vec<u64>)>,
    /// Good answers per bucket, summed over runs, per service; kept for users only (zeros for
    /// services).
    pub good_series: Vec<Vec<u64>>,
    /// The SLO latency of each service and users, from the first run; `None`: none set.
    pub slo_latency_ns: Vec<Option<u64>>,
    /// The scenario's SLO target (the share a bucket must reach).
    pub slo_target: f64,
    /// Call edges (from, to), in the scenario's order of calls, from the first run.
    pub edges: Vec<(String, String)>,
    /// Per edge: calls and attempts per bucket, summed over runs.
    pub edge_series: Vec<(Vec<u64>, Vec<u64>)>,
    /// Links and disks, folded over runs; `None` for a variant without capacities.
    pub network: Option<crate::network::NetworkSums>,
}

impl VariantAggregate {
    pub fn new(
        name: &str,
        about: &str,
        services: Vec<String>,
        n_runs: usize,
        resolution_ns: u64,
        n_buckets: usize,
    ) -> Self {
        let series = Series::zeros(resolution_ns, n_buckets);
        VariantAggregate {
            name: name.to_string(),
            about: about.to_string(),
            latency: vec![MergedHistogram::new(); services.len()],
            series: vec![series; services.len()],
            good_series: vec![vec![0; n_buckets]; services.len()],
            slo_latency_ns: vec![None; services.len()],
            slo_target: 0.99,
            edges: Vec::new(),
            edge_series: Vec::new(),
            services,
            runs: vec![None; n_runs],
            grid: Vec::new(),
            faults: Vec::new(),
            breakers: Vec::new(),
            network: None,
        }
    }

    /// What every run of the variant shares, taken from the first to finish: the SLO, the call
    /// edges and the shape of their series.
    fn first_run(&mut self, result: &RunResult) {
        self.slo_target = result.slo;
        let slos = result.services.iter().map(|s| s.slo_latency_ns);
        let slos = slos.chain(result.workloads.iter().map(|w| w.slo_latency_ns));
        self.slo_latency_ns = slos.collect();
        self.edges = result
            .edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect();
        self.edge_series = result
            .edges
            .iter()
            .map(|e| {
                (
                    vec![0; e.series_calls.len()],
                    vec![0; e.series_attempts.len()],
                )
            })
            .collect();
    }

    /// Folds one finished run in.
    pub fn add(&mut self, result: &RunResult, histograms: &RunHistograms) {
        let idx = result.run as usize;
        assert!(
            self.runs[idx].is_none(),
            "run {idx} of `{}` added twice",
            self.name
        );
        if self.faults.is_empty() {
            self.faults = result.faults.clone();
        }
        let with_breaker = result.edges.iter().filter(|e| !e.breaker_open.is_empty());
        if self.breakers.is_empty() {
            self.breakers = with_breaker
                .clone()
                .map(|e| (e.from.clone(), e.to.clone(), vec![0; e.breaker_open.len()]))
                .collect();
        }
        for (sum, e) in self.breakers.iter_mut().zip(with_breaker) {
            for (a, &b) in sum.2.iter_mut().zip(&e.breaker_open) {
                *a += u64::from(b);
            }
        }
        if self.n_finished() == 0 {
            self.first_run(result);
        }
        let add = |into: &mut Vec<u64>, from: &[u64]| {
            for (a, b) in into.iter_mut().zip(from) {
                *a += b;
            }
        };
        for ((calls, attempts), e) in self.edge_series.iter_mut().zip(&result.edges) {
            add(calls, &e.series_calls);
            add(attempts, &e.series_attempts);
        }
        // The users of each workload follow the services: answers by the time of the answer.
        for (w, h) in histograms.workloads.iter().enumerate() {
            let k = result.services.len() + w;
            if let Some(l) = self.latency.get_mut(k) {
                l.add(h);
            }
            if let (Some(sum), Some(wr)) = (self.series.get_mut(k), result.workloads.get(w)) {
                add(&mut sum.arrived, &wr.series_ok);
                add(&mut sum.arrived, &wr.series_bad);
                add(&mut sum.completed, &wr.series_ok);
                add(&mut sum.failed, &wr.series_bad);
                add(&mut self.good_series[k], &wr.series_good);
            }
        }
        for (s, svc) in result.services.iter().enumerate() {
            self.latency[s].add(&histograms.services[s]);
            let sum = &mut self.series[s];
            add(&mut sum.arrived, &svc.series.arrived);
            add(&mut sum.completed, &svc.series.completed);
            add(&mut sum.rejected, &svc.series.rejected);
            add(&mut sum.failed, &svc.series.failed);
            add(&mut sum.degraded, &svc.series.degraded);
            add(&mut sum.shed, &svc.series.shed);
            add(&mut sum.queue_len, &svc.series.queue_len);
            add(&mut sum.busy, &svc.series.busy);
        }
        if let Some(net) = &result.network {
            self.network.get_or_insert_with(Default::default).add(net);
        }
        self.runs[idx] = Some(RunRecord::from_result(result));
    }

    /// Finished runs in run order.
    pub fn records(&self) -> impl Iterator<Item = &RunRecord> {
        self.runs.iter().flatten()
    }

    pub fn n_finished(&self) -> usize {
        self.runs.iter().filter(|r| r.is_some()).count()
    }

    pub fn service_idx(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s == name)
    }

    /// The metric of service `s` in every finished run, in run order (NaN where undefined).
    pub fn values(&self, s: usize, kind: MetricKind) -> Vec<f64> {
        self.records().map(|r| r.services[s].metric(kind)).collect()
    }
}

/// All variants of one sweep.
pub struct Aggregate {
    pub scenario: String,
    pub about: String,
    pub seed: u64,
    pub n_runs: usize,
    pub variants: Vec<VariantAggregate>,
}

impl Aggregate {
    /// The scenario's SLO target (from the first variant with a finished run).
    pub fn slo_target(&self) -> f64 {
        self.variants
            .iter()
            .find(|v| v.n_finished() > 0)
            .map_or(0.99, |v| v.slo_target)
    }
}
