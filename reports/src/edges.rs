//! What callers saw of each dependency, across runs: retry amplification, retries, retries the
//! budget refused, hedges, timeouts, breaker refusals and the work wasted at the dependency on
//! answers nobody used — per call edge, as a mean with its interval over the runs.

use crate::format::fmt_ns;
use crate::stats::estimate;
use crate::sweep::VariantAggregate;
use models::results::EdgeResult;
use serde::{Deserialize, Serialize};

/// One call edge in one run, reduced to what reports need (measured window).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeRun {
    pub calls: u64,
    pub attempts: u64,
    pub retries: u64,
    pub retries_denied: u64,
    pub hedges: u64,
    pub timeouts: u64,
    pub breaker_rejected: u64,
    pub wasted_work_ns: u64,
    #[serde(default)]
    pub retries_active_max: u32,
    #[serde(default)]
    pub retries_active_mean: f64,
}

impl EdgeRun {
    pub fn from_result(e: &EdgeResult) -> Self {
        EdgeRun {
            calls: e.calls,
            attempts: e.attempts,
            retries: e.retries,
            retries_denied: e.retries_denied,
            hedges: e.hedges,
            timeouts: e.timeouts,
            breaker_rejected: e.breaker_rejected,
            wasted_work_ns: e.wasted_work_ns,
            retries_active_max: e.retries_active_max,
            retries_active_mean: e.retries_active_mean,
        }
    }

    /// The metric's value in this run; NaN when undefined (amplification without calls).
    pub fn metric(&self, m: EdgeMetric) -> f64 {
        match m {
            EdgeMetric::Amplification if self.calls == 0 => f64::NAN,
            EdgeMetric::Amplification => self.attempts as f64 / self.calls as f64,
            EdgeMetric::Calls => self.calls as f64,
            EdgeMetric::Retries => self.retries as f64,
            EdgeMetric::RetriesDenied => self.retries_denied as f64,
            EdgeMetric::Hedges => self.hedges as f64,
            EdgeMetric::Timeouts => self.timeouts as f64,
            EdgeMetric::BreakerRejected => self.breaker_rejected as f64,
            EdgeMetric::WastedWork => self.wasted_work_ns as f64,
            EdgeMetric::RetriesActiveMean => self.retries_active_mean,
            EdgeMetric::RetriesActiveMax => f64::from(self.retries_active_max),
        }
    }
}

/// A per-run number of one call edge.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeMetric {
    /// Attempts per call (first tries, retries and hedges).
    Amplification,
    Calls,
    Retries,
    /// Retries the retry budget refused.
    RetriesDenied,
    Hedges,
    /// Attempts that timed out.
    Timeouts,
    /// Attempts the caller's breaker refused.
    BreakerRejected,
    /// Worker time at the dependency on answers nobody used, ns.
    WastedWork,
    /// Retries in progress at once (Envoy's count for its retry budget): time-averaged, and the
    /// most.
    RetriesActiveMean,
    RetriesActiveMax,
}

impl EdgeMetric {
    pub const ALL: [EdgeMetric; 10] = [
        EdgeMetric::Amplification,
        EdgeMetric::Calls,
        EdgeMetric::Retries,
        EdgeMetric::RetriesDenied,
        EdgeMetric::Hedges,
        EdgeMetric::Timeouts,
        EdgeMetric::BreakerRejected,
        EdgeMetric::WastedWork,
        EdgeMetric::RetriesActiveMean,
        EdgeMetric::RetriesActiveMax,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EdgeMetric::Amplification => "retry amplification",
            EdgeMetric::Calls => "calls",
            EdgeMetric::Retries => "retries",
            EdgeMetric::RetriesDenied => "retries refused",
            EdgeMetric::Hedges => "hedges",
            EdgeMetric::Timeouts => "timeouts",
            EdgeMetric::BreakerRejected => "breaker refusals",
            EdgeMetric::WastedWork => "wasted work",
            EdgeMetric::RetriesActiveMean => "retries in progress",
            EdgeMetric::RetriesActiveMax => "most retries in progress",
        }
    }

    /// A value for people: amplification to three decimals, work as a duration, counts to one.
    pub fn format(self, v: f64) -> String {
        match self {
            _ if v.is_nan() => "-".into(),
            EdgeMetric::Amplification | EdgeMetric::RetriesActiveMean => format!("{v:.3}"),
            EdgeMetric::WastedWork => fmt_ns(v),
            _ => format!("{v:.1}"),
        }
    }
}

/// One edge of one variant across its runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeSummary {
    pub from: String,
    pub to: String,
    /// Per metric: the mean per run and its interval (the mean alone below two runs).
    pub metrics: Vec<EdgeMetricSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeMetricSummary {
    pub metric: EdgeMetric,
    pub n: usize,
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl EdgeSummary {
    pub fn get(&self, m: EdgeMetric) -> Option<&EdgeMetricSummary> {
        self.metrics.iter().find(|x| x.metric == m)
    }

    /// `mean [low, high]`, or `-`.
    pub fn cell(&self, m: EdgeMetric) -> String {
        match self.get(m) {
            Some(x) if x.n >= 2 => format!(
                "{} [{}, {}]",
                m.format(x.mean),
                m.format(x.ci_low),
                m.format(x.ci_high)
            ),
            Some(x) if x.n == 1 => m.format(x.mean),
            _ => "-".into(),
        }
    }
}

/// Every edge of a variant, in the scenario's order of calls.
pub fn summaries(v: &VariantAggregate) -> Vec<EdgeSummary> {
    v.edges
        .iter()
        .enumerate()
        .map(|(k, (from, to))| EdgeSummary {
            from: from.clone(),
            to: to.clone(),
            metrics: EdgeMetric::ALL
                .iter()
                .map(|&m| {
                    let values: Vec<f64> = v
                        .records()
                        .filter_map(|r| r.edges.get(k))
                        .map(|e| e.metric(m))
                        .filter(|x| x.is_finite())
                        .collect();
                    let n = values.len();
                    let mean = if n == 0 {
                        f64::NAN
                    } else {
                        values.iter().sum::<f64>() / n as f64
                    };
                    // Counts and amplification are never negative.
                    let (lo, hi) =
                        estimate(&values).map_or((mean, mean), |e| (e.low().max(0.0), e.high()));
                    EdgeMetricSummary {
                        metric: m,
                        n,
                        mean,
                        ci_low: lo,
                        ci_high: hi,
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplification_is_attempts_per_call() {
        let e = EdgeRun {
            calls: 100,
            attempts: 250,
            ..EdgeRun::default()
        };
        assert_eq!(e.metric(EdgeMetric::Amplification), 2.5);
        assert!(EdgeRun::default()
            .metric(EdgeMetric::Amplification)
            .is_nan());
        assert_eq!(EdgeMetric::WastedWork.format(1.5e9), "1.50s");
    }
}
