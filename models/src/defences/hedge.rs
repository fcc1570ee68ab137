//! Hedging: after a fixed delay, or after a percentile of the latency the caller has observed on
//! the edge, one more attempt is sent while the first is still out (at most `max` hedges).

use hdrhistogram::Histogram;

/// Good attempts observed before a percentile delay is trusted.
const LEARNED_AFTER: u64 = 50;
/// Latencies above this are clamped in the observed histogram.
const OBSERVED_MAX_NS: u64 = 3_600_000_000_000;

/// When a call sends one more attempt.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct HedgePolicy {
    /// A fixed delay, or the delay until enough latency has been observed for `percentile`.
    pub after_ns: Option<u64>,
    /// A percentile (0–100, exclusive) of the latency of good attempts on the edge.
    pub percentile: Option<f64>,
    /// Hedges per call, at most.
    pub max: u32,
}

/// The latency of good attempts as the caller sees it (2 significant digits), kept only when
/// the hedge delay is a percentile.
#[derive(Clone, Debug)]
pub struct Observed {
    hist: Histogram<u64>,
}

impl Observed {
    /// The histogram an edge keeps for `policy`, if its delay is a percentile.
    pub fn for_policy(policy: &HedgePolicy) -> Option<Observed> {
        policy.percentile.map(|_| Observed {
            hist: Histogram::new_with_bounds(1, OBSERVED_MAX_NS, 2)
                .expect("valid histogram bounds"),
        })
    }

    /// A good attempt answered after `ns`.
    pub fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns);
    }
}

impl HedgePolicy {
    /// The delay before the next hedge: the learned percentile once enough good attempts were
    /// observed, else the fixed delay (none: no hedge yet).
    pub fn delay_ns(&self, observed: Option<&Observed>) -> Option<u64> {
        let learned = match (self.percentile, observed) {
            (Some(p), Some(o)) if o.hist.len() >= LEARNED_AFTER => {
                Some(o.hist.value_at_quantile(p / 100.0))
            }
            _ => None,
        };
        learned.or(self.after_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentile_is_trusted_after_fifty_good_attempts() {
        let p = HedgePolicy {
            after_ns: Some(30_000_000),
            percentile: Some(90.0),
            max: 1,
        };
        let mut o = Observed::for_policy(&p).unwrap();
        for k in 1..=49 {
            o.record(k * 1_000_000);
        }
        assert_eq!(
            p.delay_ns(Some(&o)),
            Some(30_000_000),
            "49 seen: the fixed delay"
        );
        o.record(50_000_000);
        let d = p.delay_ns(Some(&o)).unwrap();
        assert!(
            (44_000_000..=46_000_000).contains(&d),
            "p90 of 1..50 ms: {d}"
        );
    }

    #[test]
    fn without_a_percentile_nothing_is_kept_and_the_delay_is_fixed() {
        let p = HedgePolicy {
            after_ns: Some(5),
            percentile: None,
            max: 2,
        };
        assert!(Observed::for_policy(&p).is_none());
        assert_eq!(p.delay_ns(None), Some(5));
        let q = HedgePolicy {
            after_ns: None,
            percentile: Some(99.0),
            max: 1,
        };
        assert_eq!(
            q.delay_ns(Observed::for_policy(&q).as_ref()),
            None,
            "nothing learned yet"
        );
    }
}
