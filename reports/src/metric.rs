//! Every per-run metric a report, a comparison, an `expect` or `--precision` can name: its name
//! for people, its key for files and the command line, its unit, the range its values can take,
//! and which way is better — or that no direction is known, so that a report shows a difference
//! without judging it (throughput that a design sheds on purpose is not "worse").
//!
//! **Architecture invariant:** it uses nothing else of this crate but `format`; what a metric *is*
//! lives here and only here. How a run's value is computed is `sweep::ServiceRun::metric`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A per-run number of one service or one workload's users.
///
/// Latencies come in two families that must never be read one for the other: of successful
/// requests (`(ok)`), and of every answered request, failures included at the time they were
/// given (`(all)`).
///
/// In `summary.json` a metric is its [`key`](MetricKind::key): `"within-slo"`, `"all-p99"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricKind {
    /// Good requests (successful within the SLO's latency) out of all answered, plus those
    /// still in flight at the end and already too late: the SRE book's SLI.
    WithinSlo,
    /// Requests answered successfully but slower than the SLO's latency (or still in flight at
    /// the end and already that old), out of the same total as `WithinSlo`.
    SlowerThanSlo,
    Availability,
    ErrorRate,
    DegradedRate,
    LatencyMean,
    LatencyP50,
    LatencyP90,
    LatencyP95,
    LatencyP99,
    LatencyP999,
    LatencyMax,
    AllLatencyMean,
    AllLatencyP50,
    AllLatencyP90,
    AllLatencyP95,
    AllLatencyP99,
    AllLatencyP999,
    AllLatencyMax,
    Throughput,
    Goodput,
    Utilization,
    QueueLenMean,
    /// Requests in the service, waiting or served, time-averaged: L of Little's law.
    InSystemMean,
    /// Share of measured requests that waited for a worker.
    WaitProbability,
    WaitMean,
    WaitP50,
    WaitP95,
    WaitP99,
    /// Share of the measured window with at least this many instances up (`u32::MAX`: all of
    /// them).
    InstancesUp(u32),
    /// A datastore's acknowledged writes lost (count per run).
    LostWrites,
    /// A datastore's time without a primary to take writes (ns per run).
    WriteUnavailable,
    /// A datastore's time with a copy lacking its data, until its rebuild ended (ns per run).
    RedundancyLost,
    /// A datastore's reads answered by a replica behind the last acknowledged write (count per run).
    StaleReads,
    /// User sessions lost with their instances (count per run).
    SessionsLost,
    /// A cache's hits out of its lookups.
    HitRatio,
    /// A broker's messages waiting or out at the end of the run (count per run).
    Backlog,
    /// A broker's messages dead-lettered (count per run).
    DeadLetters,
    /// A broker's messages processed again after they were acknowledged or redelivered (count per run).
    Duplicates,
    /// Writes acknowledged by a deposed primary in a split brain (count per run).
    DivergentWrites,
}

/// What a metric's numbers are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A share in [0, 1]: shown in percent, differences in percentage points.
    Fraction,
    /// Nanoseconds: shown with a time unit.
    Duration,
    /// Per second of simulated time.
    Rate,
    /// A count or a mean count.
    Count,
}

/// Which way a metric is better.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

impl MetricKind {
    /// Every metric `summary.json` summarizes and compares, in its order.
    pub const ALL: [MetricKind; 41] = [
        MetricKind::WithinSlo,
        MetricKind::SlowerThanSlo,
        MetricKind::Availability,
        MetricKind::ErrorRate,
        MetricKind::DegradedRate,
        MetricKind::AllLatencyMean,
        MetricKind::AllLatencyP50,
        MetricKind::AllLatencyP90,
        MetricKind::AllLatencyP95,
        MetricKind::AllLatencyP99,
        MetricKind::AllLatencyP999,
        MetricKind::AllLatencyMax,
        MetricKind::LatencyMean,
        MetricKind::LatencyP50,
        MetricKind::LatencyP90,
        MetricKind::LatencyP95,
        MetricKind::LatencyP99,
        MetricKind::LatencyP999,
        MetricKind::LatencyMax,
        MetricKind::Throughput,
        MetricKind::Goodput,
        MetricKind::Utilization,
        MetricKind::QueueLenMean,
        MetricKind::InSystemMean,
        MetricKind::WaitProbability,
        MetricKind::WaitMean,
        MetricKind::WaitP50,
        MetricKind::WaitP95,
        MetricKind::WaitP99,
        MetricKind::InstancesUp(1),
        MetricKind::InstancesUp(u32::MAX),
        MetricKind::LostWrites,
        MetricKind::WriteUnavailable,
        MetricKind::RedundancyLost,
        MetricKind::StaleReads,
        MetricKind::SessionsLost,
        MetricKind::HitRatio,
        MetricKind::Backlog,
        MetricKind::DeadLetters,
        MetricKind::Duplicates,
        MetricKind::DivergentWrites,
    ];

    /// The name for people: "within SLO", "p99 (ok)", "p99 (all)", "wait p95".
    pub fn name(self) -> &'static str {
        use MetricKind as M;
        match self {
            M::WithinSlo => "within SLO",
            M::SlowerThanSlo => "slower than SLO",
            M::Availability => "availability",
            M::ErrorRate => "error rate",
            M::DegradedRate => "degraded rate",
            M::LatencyMean => "mean (ok)",
            M::LatencyP50 => "p50 (ok)",
            M::LatencyP90 => "p90 (ok)",
            M::LatencyP95 => "p95 (ok)",
            M::LatencyP99 => "p99 (ok)",
            M::LatencyP999 => "p99.9 (ok)",
            M::LatencyMax => "max (ok)",
            M::AllLatencyMean => "mean (all)",
            M::AllLatencyP50 => "p50 (all)",
            M::AllLatencyP90 => "p90 (all)",
            M::AllLatencyP95 => "p95 (all)",
            M::AllLatencyP99 => "p99 (all)",
            M::AllLatencyP999 => "p99.9 (all)",
            M::AllLatencyMax => "max (all)",
            M::Throughput => "throughput",
            M::Goodput => "goodput",
            M::Utilization => "utilization",
            M::QueueLenMean => "mean queue",
            M::InSystemMean => "mean in system",
            M::WaitProbability => "wait probability",
            M::WaitMean => "mean wait",
            M::WaitP50 => "wait p50",
            M::WaitP95 => "wait p95",
            M::WaitP99 => "wait p99",
            M::InstancesUp(1) => "some instance up",
            M::InstancesUp(u32::MAX) => "all instances up",
            M::InstancesUp(_) => "instances up",
            M::LostWrites => "lost writes",
            M::WriteUnavailable => "writes unavailable",
            M::RedundancyLost => "redundancy lost",
            M::StaleReads => "stale reads",
            M::SessionsLost => "sessions lost",
            M::HitRatio => "hit ratio",
            M::Backlog => "backlog",
            M::DeadLetters => "dead letters",
            M::Duplicates => "duplicates",
            M::DivergentWrites => "divergent writes",
        }
    }

    /// The name with its parameter, for a sentence: "time with at least 2 instances up".
    pub fn label(self) -> String {
        match self {
            MetricKind::InstancesUp(k) if k != u32::MAX => {
                format!("time with at least {k} instances up")
            }
            MetricKind::InstancesUp(_) => "time with all instances up".into(),
            _ => self.name().to_string(),
        }
    }

    /// The key on the command line (`--precision p99:checkout:2%`) and in `runs.csv` headers.
    pub fn key(self) -> String {
        use MetricKind as M;
        let k = match self {
            M::WithinSlo => "within-slo",
            M::SlowerThanSlo => "slower-than-slo",
            M::Availability => "availability",
            M::ErrorRate => "error-rate",
            M::DegradedRate => "degraded-rate",
            M::LatencyMean => "mean",
            M::LatencyP50 => "p50",
            M::LatencyP90 => "p90",
            M::LatencyP95 => "p95",
            M::LatencyP99 => "p99",
            M::LatencyP999 => "p999",
            M::LatencyMax => "max",
            M::AllLatencyMean => "all-mean",
            M::AllLatencyP50 => "all-p50",
            M::AllLatencyP90 => "all-p90",
            M::AllLatencyP95 => "all-p95",
            M::AllLatencyP99 => "all-p99",
            M::AllLatencyP999 => "all-p999",
            M::AllLatencyMax => "all-max",
            M::Throughput => "throughput",
            M::Goodput => "goodput",
            M::Utilization => "utilization",
            M::QueueLenMean => "queue",
            M::InSystemMean => "in-system",
            M::WaitProbability => "wait-probability",
            M::WaitMean => "wait-mean",
            M::WaitP50 => "wait-p50",
            M::WaitP95 => "wait-p95",
            M::WaitP99 => "wait-p99",
            M::InstancesUp(u32::MAX) => "all-up",
            M::InstancesUp(k) => return format!("up-{k}"),
            M::LostWrites => "lost-writes",
            M::WriteUnavailable => "write-unavailable",
            M::RedundancyLost => "redundancy-lost",
            M::StaleReads => "stale-reads",
            M::SessionsLost => "sessions-lost",
            M::HitRatio => "hit-ratio",
            M::Backlog => "backlog",
            M::DeadLetters => "dead-letters",
            M::Duplicates => "duplicates",
            M::DivergentWrites => "divergent-writes",
        };
        k.to_string()
    }

    /// The metric with this key; `up-K` is "at least K instances up".
    pub fn from_key(key: &str) -> Option<MetricKind> {
        if let Some(k) = key.strip_prefix("up-") {
            return k.parse().ok().map(MetricKind::InstancesUp);
        }
        MetricKind::ALL.into_iter().find(|m| m.key() == key)
    }

    /// Every key, for an error message.
    pub fn keys() -> String {
        let mut keys: Vec<String> = MetricKind::ALL.iter().map(|m| m.key()).collect();
        keys.push("up-K".into());
        keys.join(", ")
    }

    pub fn unit(self) -> Unit {
        use MetricKind as M;
        match self {
            M::WithinSlo
            | M::SlowerThanSlo
            | M::Availability
            | M::ErrorRate
            | M::DegradedRate
            | M::Utilization
            | M::WaitProbability
            | M::HitRatio
            | M::InstancesUp(_) => Unit::Fraction,
            M::Throughput | M::Goodput => Unit::Rate,
            M::QueueLenMean
            | M::InSystemMean
            | M::LostWrites
            | M::StaleReads
            | M::SessionsLost
            | M::Backlog
            | M::DeadLetters
            | M::Duplicates
            | M::DivergentWrites => Unit::Count,
            _ => Unit::Duration,
        }
    }

    /// Which way is better, or `None` where it depends on the design's intent: throughput and
    /// goodput (a design may shed on purpose), utilization, queues and waits (a design that
    /// refuses more work waits less).
    pub fn better(self) -> Option<Better> {
        use MetricKind as M;
        match self {
            M::WithinSlo | M::Availability | M::InstancesUp(_) | M::HitRatio => {
                Some(Better::Higher)
            }
            M::Throughput
            | M::Goodput
            | M::Utilization
            | M::QueueLenMean
            | M::InSystemMean
            | M::WaitProbability
            | M::WaitMean
            | M::WaitP50
            | M::WaitP95
            | M::WaitP99 => None,
            _ => Some(Better::Lower),
        }
    }

    /// The values the metric can take: `[0, 1]` for fractions, `[0, ∞)` for the rest.
    pub fn range(self) -> (f64, f64) {
        match self.unit() {
            Unit::Fraction => (0.0, 1.0),
            _ => (0.0, f64::INFINITY),
        }
    }

    /// A latency of successful requests only: comparable between two designs only when they
    /// fail about the same share of requests (see `comparison`).
    pub fn is_success_latency(self) -> bool {
        use MetricKind as M;
        matches!(
            self,
            M::LatencyMean
                | M::LatencyP50
                | M::LatencyP90
                | M::LatencyP95
                | M::LatencyP99
                | M::LatencyP999
                | M::LatencyMax
        )
    }

    pub fn is_latency(self) -> bool {
        self.unit() == Unit::Duration
    }

    /// A value in this metric's unit, for people: latencies in time units, fractions in percent.
    pub fn format(self, v: f64) -> String {
        if v.is_nan() {
            return "-".into();
        }
        match self.unit() {
            Unit::Duration => crate::format::fmt_ns(v),
            Unit::Fraction => {
                let pct = v * 100.0;
                if pct != 0.0 && pct != 100.0 && !(0.1..=99.9).contains(&pct) {
                    format!("{pct:.4}%")
                } else {
                    format!("{pct:.2}%")
                }
            }
            Unit::Rate => format!("{v:.1}/s"),
            Unit::Count => match self {
                MetricKind::LostWrites
                | MetricKind::StaleReads
                | MetricKind::SessionsLost
                | MetricKind::Backlog
                | MetricKind::DeadLetters
                | MetricKind::Duplicates
                | MetricKind::DivergentWrites => format!("{v:.1}"),
                _ => format!("{v:.3}"),
            },
        }
    }
}

impl Serialize for MetricKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for MetricKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MetricKind, D::Error> {
        let key = String::deserialize(d)?;
        MetricKind::from_key(&key).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown metric `{key}`; expected one of {}",
                MetricKind::keys()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_read_back() {
        let keys: Vec<String> = MetricKind::ALL.iter().map(|m| m.key()).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[..i].contains(k), "key `{k}` twice");
            assert_eq!(MetricKind::from_key(k).map(|m| m.key()), Some(k.clone()));
        }
        assert_eq!(
            MetricKind::from_key("up-2"),
            Some(MetricKind::InstancesUp(2))
        );
        assert_eq!(MetricKind::from_key("p100"), None);
        let json = serde_json::to_string(&MetricKind::InstancesUp(2)).unwrap();
        assert_eq!(json, "\"up-2\"");
        let back: MetricKind = serde_json::from_str("\"all-up\"").unwrap();
        assert_eq!(back, MetricKind::InstancesUp(u32::MAX));
    }

    #[test]
    fn names_say_which_requests_a_latency_counts() {
        assert_eq!(MetricKind::LatencyP99.name(), "p99 (ok)");
        assert_eq!(MetricKind::AllLatencyP99.name(), "p99 (all)");
        assert!(MetricKind::LatencyP95.is_success_latency());
        assert!(!MetricKind::AllLatencyP95.is_success_latency());
    }

    #[test]
    fn throughput_is_shown_not_judged() {
        assert_eq!(MetricKind::Throughput.better(), None);
        assert_eq!(MetricKind::WithinSlo.better(), Some(Better::Higher));
        assert_eq!(MetricKind::AllLatencyP99.better(), Some(Better::Lower));
        assert_eq!(MetricKind::Availability.range(), (0.0, 1.0));
    }
}
