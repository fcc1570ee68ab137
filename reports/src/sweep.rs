//! Many runs of several variants, folded into bounded memory as they finish.
//!
//! Per run, only a compact [`RunRecord`] is kept (for confidence intervals, paired differences and
//! `runs.csv`). Latency histograms are merged per variant and service, and time series are summed
//! per bucket. Both merges are integer additions, so the aggregate is the same whatever order the
//! runs finish in: reports are byte-identical for any number of jobs.

use hdrhistogram::Histogram;
use models::results::{LatencySummary, Ledger, RunResult, Series};
use models::RunHistograms;
use serde::{Deserialize, Serialize};

/// A per-run number a report or an assertion can use.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    Availability,
    ErrorRate,
    DegradedRate,
    LatencyMean,
    LatencyP50,
    LatencyP90,
    LatencyP99,
    LatencyP999,
    LatencyMax,
    Throughput,
    Goodput,
    Utilization,
    QueueLenMean,
    /// A datastore's acknowledged writes lost (count per run).
    LostWrites,
    /// A datastore's time without a primary to take writes (ns per run).
    WriteUnavailable,
    /// User sessions lost with their instances (count per run).
    SessionsLost,
}

impl MetricKind {
    pub const ALL: [MetricKind; 16] = [
        MetricKind::Availability,
        MetricKind::ErrorRate,
        MetricKind::DegradedRate,
        MetricKind::LatencyMean,
        MetricKind::LatencyP50,
        MetricKind::LatencyP90,
        MetricKind::LatencyP99,
        MetricKind::LatencyP999,
        MetricKind::LatencyMax,
        MetricKind::Throughput,
        MetricKind::Goodput,
        MetricKind::Utilization,
        MetricKind::QueueLenMean,
        MetricKind::LostWrites,
        MetricKind::WriteUnavailable,
        MetricKind::SessionsLost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Availability => "availability",
            MetricKind::ErrorRate => "error rate",
            MetricKind::DegradedRate => "degraded rate",
            MetricKind::LatencyMean => "mean latency",
            MetricKind::LatencyP50 => "p50",
            MetricKind::LatencyP90 => "p90",
            MetricKind::LatencyP99 => "p99",
            MetricKind::LatencyP999 => "p99.9",
            MetricKind::LatencyMax => "max latency",
            MetricKind::Throughput => "throughput",
            MetricKind::Goodput => "goodput",
            MetricKind::Utilization => "utilization",
            MetricKind::QueueLenMean => "mean queue",
            MetricKind::LostWrites => "lost writes",
            MetricKind::WriteUnavailable => "writes unavailable",
            MetricKind::SessionsLost => "sessions lost",
        }
    }

    /// Whether a larger value is the better design.
    pub fn higher_is_better(self) -> bool {
        matches!(
            self,
            MetricKind::Availability | MetricKind::Throughput | MetricKind::Goodput
        )
    }

    pub fn is_latency(self) -> bool {
        matches!(
            self,
            MetricKind::LatencyMean
                | MetricKind::LatencyP50
                | MetricKind::LatencyP90
                | MetricKind::LatencyP99
                | MetricKind::LatencyP999
                | MetricKind::LatencyMax
        )
    }

    /// A value in this metric's unit, for people: latencies in time units, fractions in percent.
    pub fn format(self, v: f64) -> String {
        if v.is_nan() {
            return "-".into();
        }
        match self {
            k if k.is_latency() => crate::format::fmt_ns(v),
            MetricKind::Availability
            | MetricKind::ErrorRate
            | MetricKind::DegradedRate
            | MetricKind::Utilization => {
                let pct = v * 100.0;
                if pct != 0.0 && pct != 100.0 && !(0.1..=99.9).contains(&pct) {
                    format!("{pct:.4}%")
                } else {
                    format!("{pct:.2}%")
                }
            }
            MetricKind::Throughput | MetricKind::Goodput => format!("{v:.1}/s"),
            MetricKind::WriteUnavailable => crate::format::fmt_ns(v),
            MetricKind::LostWrites | MetricKind::SessionsLost => format!("{v:.1}"),
            _ => format!("{v:.3}"),
        }
    }
}

/// One service in one run, reduced to what reports need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceRun {
    /// Requests of the measured window by outcome.
    #[serde(flatten)]
    pub counts: Ledger,
    pub throughput_per_s: f64,
    pub goodput_per_s: f64,
    pub utilization: f64,
    pub queue_len_mean: f64,
    pub latency: LatencySummary,
    /// For a datastore: its data ledger.
    #[serde(default)]
    pub store: Option<models::results::StoreResult>,
    /// For a service that keeps sessions locally: sessions lost.
    #[serde(default)]
    pub sessions_lost: Option<u64>,
}

impl ServiceRun {
    /// The metric's value in this run; NaN when undefined (no answered or completed request).
    pub fn metric(&self, kind: MetricKind) -> f64 {
        let c = &self.counts;
        let answered = c.answered();
        let frac = |x: u64| {
            if answered == 0 {
                f64::NAN
            } else {
                x as f64 / answered as f64
            }
        };
        let lat = |v: f64| if self.latency.count == 0 { f64::NAN } else { v };
        match kind {
            MetricKind::Availability => frac(c.completed + c.degraded),
            MetricKind::ErrorRate => frac(c.rejected + c.rate_limited + c.shed + c.failed),
            MetricKind::DegradedRate => frac(c.degraded),
            MetricKind::Goodput => self.goodput_per_s,
            MetricKind::LatencyMean => lat(self.latency.mean_ns),
            MetricKind::LatencyP50 => lat(self.latency.p50_ns as f64),
            MetricKind::LatencyP90 => lat(self.latency.p90_ns as f64),
            MetricKind::LatencyP99 => lat(self.latency.p99_ns as f64),
            MetricKind::LatencyP999 => lat(self.latency.p999_ns as f64),
            MetricKind::LatencyMax => lat(self.latency.max_ns as f64),
            MetricKind::Throughput => self.throughput_per_s,
            MetricKind::Utilization => self.utilization,
            MetricKind::QueueLenMean => self.queue_len_mean,
            MetricKind::LostWrites => self
                .store
                .as_ref()
                .map_or(f64::NAN, |x| x.lost_writes as f64),
            MetricKind::WriteUnavailable => self
                .store
                .as_ref()
                .map_or(f64::NAN, |x| x.write_unavailable_ns as f64),
            MetricKind::SessionsLost => self.sessions_lost.map_or(f64::NAN, |x| x as f64),
        }
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
            services: r
                .services
                .iter()
                .map(|s| ServiceRun {
                    counts: s.measured,
                    throughput_per_s: s.throughput_per_s,
                    goodput_per_s: s.goodput_per_s,
                    utilization: s.utilization,
                    queue_len_mean: s.queue_len_mean,
                    latency: s.latency,
                    store: s.store.clone(),
                    sessions_lost: Some(s.sessions_lost).filter(|_| s.keeps_sessions),
                })
                .chain(r.workloads.iter().map(|w| {
                    let secs = r.measured_ns.max(1) as f64 / 1e9;
                    let m = &w.measured;
                    ServiceRun {
                        counts: *m,
                        throughput_per_s: (m.completed + m.degraded) as f64 / secs,
                        goodput_per_s: m.completed as f64 / secs,
                        utilization: f64::NAN,
                        queue_len_mean: f64::NAN,
                        latency: w.latency,
                        store: None,
                        sessions_lost: None,
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
    /// Latency of completed requests, merged over runs, per service.
    pub latency: Vec<Histogram<u64>>,
    /// Per-bucket sums over runs, per service.
    pub series: Vec<Series>,
    /// For a grid point: (parameter, value) per grid parameter.
    pub grid: Vec<(String, String)>,
    /// Injected faults (the same in every run): (description, start ns, end ns).
    pub faults: Vec<(String, u64, u64)>,
    /// Per call edge with a breaker: (from, to, breakers not closed per bucket, summed over runs).
    pub breakers: Vec<(String, String, Vec<u64>)>,
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
            latency: services
                .iter()
                .map(|_| models::results::new_latency_histogram())
                .collect(),
            series: vec![series; services.len()],
            services,
            runs: vec![None; n_runs],
            grid: Vec::new(),
            faults: Vec::new(),
            breakers: Vec::new(),
        }
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
        // The users of each workload follow the services, without time series.
        for (w, h) in histograms.workloads.iter().enumerate() {
            if let Some(l) = self.latency.get_mut(result.services.len() + w) {
                l.add(h).expect("histograms share bounds");
            }
        }
        for (s, svc) in result.services.iter().enumerate() {
            self.latency[s]
                .add(&histograms.services[s])
                .expect("histograms share bounds");
            let sum = &mut self.series[s];
            let add = |into: &mut Vec<u64>, from: &[u64]| {
                for (a, b) in into.iter_mut().zip(from) {
                    *a += b;
                }
            };
            add(&mut sum.arrived, &svc.series.arrived);
            add(&mut sum.completed, &svc.series.completed);
            add(&mut sum.rejected, &svc.series.rejected);
            add(&mut sum.failed, &svc.series.failed);
            add(&mut sum.degraded, &svc.series.degraded);
            add(&mut sum.shed, &svc.series.shed);
            add(&mut sum.queue_len, &svc.series.queue_len);
            add(&mut sum.busy, &svc.series.busy);
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
