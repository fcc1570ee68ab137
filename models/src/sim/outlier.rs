//! Envoy's outlier detection for one service (a cluster, in Envoy's words): the state machine of
//! `source/common/upstream/outlier_detection_impl.cc`, driven by the answers callers see and by
//! a sweep every `interval`. It owns its state; `recovery.rs` applies its verdicts to load
//! balancing.
//!
//! ```text
//!  answer ─▶ counts: 5xx in a row, gateway failures in a row; this interval's (total, successes)
//!            └─ a count reaches its threshold ─▶ try to eject (max_ejection_percent, enforcing_*)
//!  sweep (every interval) ─▶ returns: ejected for min(base × k, max) + jitter
//!                         ─▶ success rate < mean − factor/1000 × stdev ─▶ try to eject
//!                         ─▶ failures ≥ failure_percentage_threshold % ─▶ try to eject
//!                         ─▶ k − 1 for instances in rotation at least an interval since return
//!  ejection ─▶ k + 1 while k × base < max + base
//! ```
//!
//! Where Envoy posts a consecutive-error detection to its main thread, this acts at once. Envoy
//! can eject an instance twice in one sweep (by success rate, then by failure percentage); here
//! the second detection finds it ejected and leaves it. Enforcement draws and jitter come from
//! the service's `svc:<name>/outlier` stream, drawn only when they can change the outcome.

use crate::world::OutlierDetection;
use rand::RngExt;
use sim_core::Stream;

/// What a caller learned from one answer of an instance, in Envoy's HTTP terms.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Not a 5xx: a completed or degraded answer, or a 429 (rate limited).
    Success,
    /// A 500: the instance failed the request.
    Error,
    /// A 502, 503 or 504: the instance refused or shed the request, the connection to it failed,
    /// or the caller's timeout fired (Envoy maps a connection failure to 503, a timeout to 504).
    GatewayFailure,
}

/// Why an instance was ejected (Envoy's `OutlierEjectionType`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Detection {
    Consecutive5xx,
    ConsecutiveGatewayFailure,
    SuccessRate,
    FailurePercentage,
}

impl Detection {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Detection::Consecutive5xx => "consecutive 5xx",
            Detection::ConsecutiveGatewayFailure => "consecutive gateway failures",
            Detection::SuccessRate => "success rate",
            Detection::FailurePercentage => "failure percentage",
        }
    }
}

/// A change of an instance's standing (instances numbered within the service).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Ejected(u32, Detection),
    Returned(u32),
}

/// Answers in one interval.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Volume {
    total: u64,
    successes: u64,
}

/// One instance's standing (Envoy's `DetectorHostMonitorImpl`).
#[derive(Clone, Debug, Default)]
struct Monitor {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    ejected: bool,
    ejected_at_ns: u64,
    jitter_ns: u64,
    /// The multiplier of the base ejection time (Envoy's `ejectTimeBackoff`).
    multiplier: u32,
    returned_at_ns: Option<u64>,
    /// The interval under way, and the last one ended (what the sweeps judge).
    current: Volume,
    last: Volume,
}

/// The outlier detector of one service.
#[derive(Clone, Debug)]
pub(crate) struct Detector {
    policy: OutlierDetection,
    hosts: Vec<Monitor>,
    n_ejected: u32,
    rng: Stream,
}

impl Detector {
    pub(crate) fn new(policy: OutlierDetection, n_hosts: u32, rng: Stream) -> Detector {
        assert!(n_hosts > 0, "a service has at least one instance");
        assert!(policy.interval_ns > 0 && policy.max_ejection_ns >= policy.base_ejection_ns);
        Detector {
            policy,
            hosts: vec![Monitor::default(); n_hosts as usize],
            n_ejected: 0,
            rng,
        }
    }

    pub(crate) fn is_ejected(&self, host: u32) -> bool {
        self.hosts[host as usize].ejected
    }

    /// An answer of `host` reaches a caller (Envoy's `putHttpResponseCode`): it counts towards
    /// this interval's volume and the counts in a row. A count fires when it *reaches* its
    /// threshold; returns the detection that ejected `host`, if one did.
    pub(crate) fn observe(&mut self, host: u32, answer: Answer, now_ns: u64) -> Option<Detection> {
        let p = self.policy;
        let m = &mut self.hosts[host as usize];
        m.current.total += 1;
        let mut gateway_fired = false;
        match answer {
            Answer::Success => {
                m.current.successes += 1;
                m.consecutive_5xx = 0;
                m.consecutive_gateway = 0;
                return None;
            }
            Answer::Error => m.consecutive_gateway = 0,
            Answer::GatewayFailure => {
                m.consecutive_gateway += 1;
                gateway_fired = m.consecutive_gateway == p.consecutive_gateway_failure;
            }
        }
        m.consecutive_5xx += 1;
        let five_fired = m.consecutive_5xx == p.consecutive_5xx;
        let mut ejected = None;
        if gateway_fired {
            ejected = self.consecutive(host, Detection::ConsecutiveGatewayFailure, now_ns);
        }
        if five_fired {
            ejected = ejected.or(self.consecutive(host, Detection::Consecutive5xx, now_ns));
        }
        ejected
    }

    /// A count in a row reached its threshold (Envoy's `onConsecutiveErrorWorker`): an ejected
    /// instance is left alone (its count runs on until it returns); otherwise an ejection is
    /// tried and the count starts again, whether or not it ejected.
    fn consecutive(&mut self, host: u32, d: Detection, now_ns: u64) -> Option<Detection> {
        if self.hosts[host as usize].ejected {
            return None;
        }
        let ejected = self.try_eject(host, d, now_ns);
        let m = &mut self.hosts[host as usize];
        match d {
            Detection::ConsecutiveGatewayFailure => m.consecutive_gateway = 0,
            _ => m.consecutive_5xx = 0,
        }
        ejected.then_some(d)
    }

    /// Envoy's `ejectHost`: refused when the ejected instances would then be more than
    /// `max_ejection_percent` of all (unless none is ejected and `always_eject_one_host`), then
    /// enforced with the detection's `enforcing_*` probability. An ejection raises the
    /// multiplier while multiplier × base < max + base.
    fn try_eject(&mut self, host: u32, d: Detection, now_ns: u64) -> bool {
        let p = self.policy;
        let share_after = 100.0 * f64::from(self.n_ejected + 1) / self.hosts.len() as f64;
        let allowed = share_after <= f64::from(p.max_ejection_percent.min(100))
            || (p.always_eject_one_host && self.n_ejected == 0);
        if !allowed || !self.enforced(d) {
            return false;
        }
        let jitter_ms = if p.max_jitter_ms > 0 {
            self.rng.random_range(0..=p.max_jitter_ms)
        } else {
            0
        };
        let m = &mut self.hosts[host as usize];
        assert!(!m.ejected, "an ejected instance is not ejected again");
        m.ejected = true;
        m.ejected_at_ns = now_ns;
        m.jitter_ns = jitter_ms.saturating_mul(1_000_000);
        let (base, max) = (
            u128::from(p.base_ejection_ns),
            u128::from(p.max_ejection_ns),
        );
        if u128::from(m.multiplier) * base < max + base {
            m.multiplier += 1;
        }
        self.n_ejected += 1;
        true
    }

    /// Whether a detection is enforced: `enforcing_*` percent of them are.
    fn enforced(&mut self, d: Detection) -> bool {
        let p = self.policy;
        let percent = match d {
            Detection::Consecutive5xx => p.enforcing_consecutive_5xx,
            Detection::ConsecutiveGatewayFailure => p.enforcing_consecutive_gateway_failure,
            Detection::SuccessRate => p.enforcing_success_rate,
            Detection::FailurePercentage => p.enforcing_failure_percentage,
        };
        match percent {
            0 => false,
            100.. => true,
            _ => self.rng.random_range(0..100u32) < percent,
        }
    }

    /// Returns `host` to load balancing (Envoy's `unejectHost`): its counts in a row start again.
    pub(crate) fn uneject(&mut self, host: u32, now_ns: u64) {
        let m = &mut self.hosts[host as usize];
        assert!(m.ejected && self.n_ejected > 0);
        m.ejected = false;
        m.consecutive_5xx = 0;
        m.consecutive_gateway = 0;
        m.returned_at_ns = Some(now_ns);
        self.n_ejected -= 1;
    }

    /// The sweep every `interval` (Envoy's `onIntervalTimer`): instances ejected for at least
    /// min(base × multiplier, max) + jitter return; the interval that ends becomes the one judged
    /// by success rate and failure percentage; then every instance in load balancing that
    /// returned at least an interval ago has its multiplier lowered by one.
    pub(crate) fn sweep(&mut self, now_ns: u64, changes: &mut Vec<Change>) {
        let p = self.policy;
        for h in 0..self.hosts.len() as u32 {
            let m = &self.hosts[h as usize];
            let time = (p.base_ejection_ns.saturating_mul(u64::from(m.multiplier)))
                .min(p.max_ejection_ns)
                .saturating_add(m.jitter_ns);
            if m.ejected && now_ns - m.ejected_at_ns >= time {
                self.uneject(h, now_ns);
                changes.push(Change::Returned(h));
            }
            let m = &mut self.hosts[h as usize];
            m.last = std::mem::take(&mut m.current);
        }
        let by_rate = self.rates(p.success_rate_request_volume);
        let by_failures = self.rates(p.failure_percentage_request_volume);
        self.success_rate_ejections(&by_rate, now_ns, changes);
        self.failure_percentage_ejections(&by_failures, now_ns, changes);
        for m in &mut self.hosts {
            let settled = m
                .returned_at_ns
                .is_some_and(|t| now_ns - t >= p.interval_ns);
            if !m.ejected && settled {
                m.multiplier = m.multiplier.saturating_sub(1);
            }
        }
    }

    /// (instance, success rate in percent) of the instances in load balancing that answered at
    /// least `volume` requests (and at least one) in the last interval.
    fn rates(&self, volume: u32) -> Vec<(u32, f64)> {
        let enough = |m: &&Monitor| !m.ejected && m.last.total > 0 && m.last.total >= volume.into();
        (self.hosts.iter().enumerate())
            .filter(|(_, m)| enough(m))
            .map(|(h, m)| {
                (
                    h as u32,
                    m.last.successes as f64 * 100.0 / m.last.total as f64,
                )
            })
            .collect()
    }

    /// Success-rate ejection: with at least `success_rate_minimum_hosts` instances of enough
    /// volume, those below mean − (stdev_factor / 1000) × stdev.
    fn success_rate_ejections(&mut self, valid: &[(u32, f64)], now: u64, out: &mut Vec<Change>) {
        let p = self.policy;
        if valid.is_empty() || valid.len() < p.success_rate_minimum_hosts as usize {
            return;
        }
        let rates: Vec<f64> = valid.iter().map(|&(_, r)| r).collect();
        let threshold = success_rate_threshold(&rates, p.success_rate_stdev_factor);
        for &(h, rate) in valid {
            if rate < threshold && self.try_eject(h, Detection::SuccessRate, now) {
                out.push(Change::Ejected(h, Detection::SuccessRate));
            }
        }
    }

    /// Failure-percentage ejection: with at least `failure_percentage_minimum_hosts` instances of
    /// enough volume, those whose failures are at least `failure_percentage_threshold` percent.
    fn failure_percentage_ejections(
        &mut self,
        valid: &[(u32, f64)],
        now: u64,
        out: &mut Vec<Change>,
    ) {
        let p = self.policy;
        if valid.is_empty() || valid.len() < p.failure_percentage_minimum_hosts as usize {
            return;
        }
        let threshold = f64::from(p.failure_percentage_threshold);
        for &(h, rate) in valid {
            let failing = 100.0 - rate >= threshold;
            if failing
                && !self.is_ejected(h)
                && self.try_eject(h, Detection::FailurePercentage, now)
            {
                out.push(Change::Ejected(h, Detection::FailurePercentage));
            }
        }
    }

    #[cfg(test)]
    fn multiplier(&self, host: u32) -> u32 {
        self.hosts[host as usize].multiplier
    }
}

/// Envoy's success-rate threshold: mean − (stdev_factor / 1000) × stdev, over success rates in
/// percent, with the population standard deviation.
pub(crate) fn success_rate_threshold(rates: &[f64], stdev_factor: u32) -> f64 {
    assert!(!rates.is_empty());
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n;
    let variance = rates.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
    mean - f64::from(stdev_factor) / 1000.0 * variance.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::RngFactory;

    const S: u64 = 1_000_000_000;

    /// Envoy's defaults, but for smaller thresholds and every detection enforced.
    fn policy() -> OutlierDetection {
        OutlierDetection {
            consecutive_5xx: 3,
            consecutive_gateway_failure: 2,
            interval_ns: 10 * S,
            base_ejection_ns: 30 * S,
            max_ejection_ns: 300 * S,
            max_jitter_ms: 0,
            max_ejection_percent: 100,
            always_eject_one_host: false,
            enforcing_consecutive_5xx: 100,
            enforcing_consecutive_gateway_failure: 100,
            enforcing_success_rate: 100,
            success_rate_minimum_hosts: 5,
            success_rate_request_volume: 100,
            success_rate_stdev_factor: 1900,
            failure_percentage_threshold: 85,
            enforcing_failure_percentage: 0,
            failure_percentage_minimum_hosts: 5,
            failure_percentage_request_volume: 50,
            health_check_unejects: true,
        }
    }

    fn detector(p: OutlierDetection, n_hosts: u32) -> Detector {
        Detector::new(
            p,
            n_hosts,
            RngFactory::new(7, 0).stream("svc:test", "outlier"),
        )
    }

    /// Sends `answers` from `host` at `t`; the detections that ejected it.
    fn answers(d: &mut Detector, host: u32, t: u64, answers: &[Answer]) -> Vec<Detection> {
        (answers.iter())
            .filter_map(|&a| d.observe(host, a, t))
            .collect()
    }

    /// Sweeps at every interval from `from` (a multiple of it) until `host` returns; the time of
    /// its return.
    fn sweep_until_return(d: &mut Detector, host: u32, from: u64) -> u64 {
        let mut t = from;
        loop {
            let mut changes = Vec::new();
            d.sweep(t, &mut changes);
            if changes.contains(&Change::Returned(host)) {
                return t;
            }
            assert!(t < 10_000 * S, "never returned");
            t += d.policy.interval_ns;
        }
    }

    use Answer::{Error, GatewayFailure as Gateway, Success};

    #[test]
    fn envoy_consecutive_5xx_ejects_when_the_count_reaches_the_threshold_and_success_resets_it() {
        let mut d = detector(policy(), 2);
        assert!(answers(&mut d, 0, S, &[Error, Error, Success, Error, Error]).is_empty());
        assert_eq!(answers(&mut d, 0, S, &[Error]), [Detection::Consecutive5xx]);
        assert!(d.is_ejected(0) && !d.is_ejected(1));
        // Answers from an ejected instance (in flight) count on but eject nothing more.
        assert!(answers(&mut d, 0, S, &[Error, Error, Error, Error]).is_empty());
    }

    #[test]
    fn envoy_ejection_lasts_base_times_multiplier_and_ends_at_the_first_sweep_after() {
        let mut d = detector(policy(), 2);
        answers(&mut d, 0, 11 * S, &[Error, Error, Error]);
        // Ejected at 11 s for 30 s: the sweeps at 20, 30 and 40 s find it ejected; 50 s frees it.
        assert_eq!(sweep_until_return(&mut d, 0, 20 * S), 50 * S);
        assert!(!d.is_ejected(0));
        assert_eq!(d.multiplier(0), 1);
    }

    #[test]
    fn envoy_multiplier_grows_per_ejection_while_k_times_base_is_below_max_plus_base_and_time_is_capped_at_max_ejection_time(
    ) {
        // Ejected again at once on each return (no interval in rotation, so no decrease).
        let mut d = detector(policy(), 2);
        let (mut t, mut times, mut multipliers) = (10 * S, Vec::new(), Vec::new());
        for _ in 0..13 {
            assert_eq!(answers(&mut d, 0, t, &[Error, Error, Error]).len(), 1);
            multipliers.push(d.multiplier(0));
            let back = sweep_until_return(&mut d, 0, t + 10 * S);
            times.push((back - t) / S);
            t = back;
        }
        assert_eq!(multipliers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 11]);
        assert_eq!(
            times,
            [30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300]
        );
    }

    #[test]
    fn envoy_multiplier_falls_one_step_per_interval_in_rotation_after_a_return() {
        let mut d = detector(policy(), 2);
        let mut t = 10 * S;
        for _ in 0..3 {
            answers(&mut d, 0, t, &[Error, Error, Error]);
            t = sweep_until_return(&mut d, 0, t + 10 * S);
        }
        assert_eq!(d.multiplier(0), 3);
        let mut seen = Vec::new();
        for k in 1..=4 {
            d.sweep(t + k * 10 * S, &mut Vec::new());
            seen.push(d.multiplier(0));
        }
        assert_eq!(seen, [2, 1, 0, 0]);
        // Back to the base ejection time.
        let at = t + 40 * S;
        answers(&mut d, 0, at, &[Error, Error, Error]);
        assert_eq!(sweep_until_return(&mut d, 0, at + 10 * S) - at, 30 * S);
    }

    #[test]
    fn envoy_gateway_failures_count_apart_a_500_breaks_their_run_and_both_are_5xx() {
        let mut d = detector(policy(), 2);
        // Gateway, 500, gateway: no two gateway failures in a row, but three 5xx.
        assert_eq!(
            answers(&mut d, 0, S, &[Gateway, Error, Gateway]),
            [Detection::Consecutive5xx]
        );
        assert_eq!(
            answers(&mut d, 1, S, &[Gateway, Gateway]),
            [Detection::ConsecutiveGatewayFailure]
        );
    }

    #[test]
    fn envoy_enforcing_consecutive_gateway_failure_defaults_to_0_so_gateway_failures_eject_only_as_5xx(
    ) {
        let p = OutlierDetection {
            enforcing_consecutive_gateway_failure: 0,
            ..policy()
        };
        let mut d = detector(p, 2);
        assert!(answers(&mut d, 0, S, &[Gateway, Gateway]).is_empty());
        assert_eq!(
            answers(&mut d, 0, S, &[Gateway]),
            [Detection::Consecutive5xx]
        );
    }

    #[test]
    fn envoy_max_ejection_percent_refuses_when_ejected_would_exceed_it_and_the_count_starts_again()
    {
        let p = OutlierDetection {
            max_ejection_percent: 25,
            ..policy()
        };
        let mut d = detector(p, 4);
        assert_eq!(answers(&mut d, 0, S, &[Error; 3]).len(), 1);
        // A second would be 50% of 4: refused; the count starts again from zero.
        assert!(answers(&mut d, 1, S, &[Error; 5]).is_empty());
        assert!(!d.is_ejected(1));
        d.sweep(40 * S, &mut Vec::new()); // host 0 returns
        assert_eq!(
            answers(&mut d, 1, 41 * S, &[Error]),
            [Detection::Consecutive5xx]
        );
    }

    #[test]
    fn envoy_always_eject_one_host_ejects_one_whatever_the_percent() {
        let p = OutlierDetection {
            max_ejection_percent: 10,
            ..policy()
        };
        let mut d = detector(p, 4);
        assert!(answers(&mut d, 0, S, &[Error; 3]).is_empty());
        let mut d = detector(
            OutlierDetection {
                always_eject_one_host: true,
                ..p
            },
            4,
        );
        assert_eq!(answers(&mut d, 0, S, &[Error; 3]).len(), 1);
        assert!(answers(&mut d, 1, S, &[Error; 3]).is_empty());
    }

    #[test]
    fn envoy_success_rate_threshold_is_mean_minus_stdev_factor_over_1000_times_stdev() {
        // Envoy's own example: {50, 100, 100, 100, 100}: mean 90, stdev 20, 90 - 1.9 × 20 = 52.
        let t = success_rate_threshold(&[50.0, 100.0, 100.0, 100.0, 100.0], 1900);
        assert!((t - 52.0).abs() < 1e-9, "{t}");
        assert_eq!(success_rate_threshold(&[80.0, 80.0], 1900), 80.0);
    }

    /// `n` answers from `host` at `t`: `failures` errors spread so that no two come in a row.
    fn volume(d: &mut Detector, host: u32, t: u64, n: u32, failures: u32) {
        assert!(2 * failures <= n);
        for k in 0..n {
            let a = if k < 2 * failures && k % 2 == 0 {
                Error
            } else {
                Success
            };
            d.observe(host, a, t);
        }
    }

    #[test]
    fn envoy_success_rate_ejects_below_the_threshold_among_hosts_with_enough_volume() {
        let mut d = detector(policy(), 6);
        // Rates 50% (host 0) and 100% (hosts 1-4), 100 requests each: threshold 52.
        volume(&mut d, 0, S, 100, 50);
        for h in 1..5 {
            volume(&mut d, h, S, 100, 0);
        }
        // Host 5: 99 requests, all failing, stays out of the judgement (too little volume).
        volume(&mut d, 5, S, 99, 49);
        let mut changes = Vec::new();
        d.sweep(10 * S, &mut changes);
        assert_eq!(changes, [Change::Ejected(0, Detection::SuccessRate)]);
        // The next interval had no answers: nothing to judge.
        let mut changes = Vec::new();
        d.sweep(20 * S, &mut changes);
        assert!(changes.is_empty());
    }

    #[test]
    fn envoy_success_rate_needs_success_rate_minimum_hosts_with_volume() {
        let mut d = detector(policy(), 5);
        volume(&mut d, 0, S, 100, 50);
        for h in 1..4 {
            volume(&mut d, h, S, 100, 0);
        }
        volume(&mut d, 4, S, 99, 0);
        let mut changes = Vec::new();
        d.sweep(10 * S, &mut changes);
        assert!(changes.is_empty(), "4 hosts with volume, 5 needed");
    }

    #[test]
    fn envoy_failure_percentage_ejects_at_or_above_the_threshold() {
        let p = OutlierDetection {
            enforcing_success_rate: 0,
            enforcing_failure_percentage: 100,
            consecutive_5xx: 1000,
            ..policy()
        };
        let mut d = detector(p, 5);
        // 50 requests each: 44 failures is 88%, 42 is 84%.
        for (h, failures) in [(0, 44), (1, 42), (2, 0), (3, 0), (4, 0)] {
            for k in 0..50 {
                d.observe(h, if k < failures { Error } else { Success }, S);
            }
        }
        let mut changes = Vec::new();
        d.sweep(10 * S, &mut changes);
        assert_eq!(changes, [Change::Ejected(0, Detection::FailurePercentage)]);
    }

    #[test]
    fn envoy_enforcing_percent_draws_from_the_detectors_own_stream() {
        let p = OutlierDetection {
            enforcing_consecutive_5xx: 50,
            consecutive_5xx: 1,
            ..policy()
        };
        let run = |seed| {
            let mut d = Detector::new(p, 1, RngFactory::new(seed, 0).stream("svc:a", "outlier"));
            (0..64)
                .map(|k| {
                    let ejected = d.observe(0, Error, k).is_some();
                    if ejected {
                        d.uneject(0, k);
                    }
                    ejected
                })
                .collect::<Vec<bool>>()
        };
        let (a, b) = (run(1), run(1));
        assert_eq!(a, b);
        let n = a.iter().filter(|&&e| e).count();
        assert!((16..=48).contains(&n), "{n} of 64 at 50%");
    }
}
