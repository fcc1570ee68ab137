//! Retries: which failures are retried, how many attempts, and the wait before each retry
//! (constant, exponential with a cap, or decorrelated; with full or equal jitter), as the AWS
//! architecture blog's "Exponential Backoff And Jitter" defines them.

use super::{AttemptFailure, BudgetPolicy, ConcurrentBudgetPolicy, Problems};
use crate::spec::{Backoff, Jitter, RetryBudget, RetryOn, RetrySpec};
use rand::RngExt;
use sim_core::Stream;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    on: u8,
    backoff: Backoff,
    jitter: Jitter,
    /// Finagle's rate budget, or none.
    pub budget: Option<BudgetPolicy>,
    /// Envoy's concurrency budget, or none.
    pub concurrent_budget: Option<ConcurrentBudgetPolicy>,
    pub honor_retry_after: bool,
}

impl RetryPolicy {
    /// Compiles retry settings; returns the problems found (field, message).
    pub fn compile(r: &RetrySpec) -> Result<RetryPolicy, Problems> {
        let mut problems = Vec::new();
        let p = RetryPolicy::new(r, &mut problems);
        if problems.is_empty() {
            Ok(p)
        } else {
            Err(problems)
        }
    }

    /// Compiles retry settings, adding their problems to `problems` in turn: attempts, backoff,
    /// budget.
    pub(crate) fn new(r: &RetrySpec, problems: &mut Problems) -> RetryPolicy {
        check_attempts(r.attempts, problems);
        check_backoff(&r.backoff, problems);
        let (budget, concurrent_budget) = match &r.budget {
            Some(b) => budget_policies(b, problems),
            None => (None, None),
        };
        RetryPolicy {
            attempts: r.attempts,
            on: r
                .on
                .iter()
                .map(|&o| failure_of(o).bit())
                .fold(0, |a, b| a | b),
            backoff: r.backoff.clone(),
            jitter: r.jitter,
            budget,
            concurrent_budget,
            honor_retry_after: r.honor_retry_after,
        }
    }

    pub fn retries(&self, failure: AttemptFailure) -> bool {
        self.on & failure.bit() != 0
    }

    /// The wait before retry number `retry` (1 for the first retry); `previous_ns` is the wait
    /// before the previous retry (for decorrelated jitter).
    pub fn delay_ns(&self, retry: u32, previous_ns: u64, rng: &mut Stream) -> u64 {
        let d = match &self.backoff {
            Backoff::Constant(d) => d.0.as_ns() as f64,
            Backoff::Exponential {
                base,
                cap,
                multiplier,
            } => {
                let exp = multiplier.powi(retry.saturating_sub(1).min(1000) as i32);
                (base.0.as_ns() as f64 * exp).min(cap.0.as_ns() as f64)
            }
            Backoff::Decorrelated { base, cap } => {
                // AWS: `sleep = min(cap, random_between(base, sleep * 3))` with `sleep` starting
                // at `base`, so even the first wait is drawn, from U(base, 3 * base): clients
                // refused together do not retry in lockstep.
                let (base, cap) = (base.0.as_ns() as f64, cap.0.as_ns() as f64);
                let previous = if previous_ns == 0 {
                    base
                } else {
                    previous_ns as f64
                };
                let high = (previous * 3.0).max(base);
                return (base + (high - base) * rng.random::<f64>())
                    .min(cap)
                    .round() as u64;
            }
        };
        let d = match self.jitter {
            Jitter::None => d,
            Jitter::Full => d * rng.random::<f64>(),
            Jitter::Equal => d / 2.0 + d / 2.0 * rng.random::<f64>(),
        };
        d.round() as u64
    }
}

/// Attempts in all, the first included: from 1 to 100.
fn check_attempts(attempts: u32, problems: &mut Problems) {
    if attempts == 0 {
        problems.push((
            "retry.attempts",
            "`attempts` counts the first attempt too: it must be at least 1".into(),
        ));
    }
    if attempts > 100 {
        problems.push((
            "retry.attempts",
            format!("{attempts} attempts is more than the limit of 100"),
        ));
    }
}

/// An exponential backoff grows (a multiplier of at least 1) up to a cap no lower than its base;
/// a decorrelated one starts above zero, its cap no lower than its base.
fn check_backoff(backoff: &Backoff, problems: &mut Problems) {
    match backoff {
        Backoff::Exponential {
            base,
            cap,
            multiplier,
        } => {
            if !(*multiplier >= 1.0 && multiplier.is_finite()) {
                problems.push((
                    "retry.backoff",
                    format!("the multiplier must be at least 1, not `{multiplier}`"),
                ));
            }
            if cap < base {
                problems.push((
                    "retry.backoff",
                    format!("`cap` ({}) is below `base` ({})", cap.0, base.0),
                ));
            }
        }
        Backoff::Decorrelated { base, cap } if cap < base || base.0.is_zero() => {
            problems.push((
                "retry.backoff",
                "decorrelated backoff needs `base` above zero and `cap` at least `base`".into(),
            ));
        }
        _ => {}
    }
}

/// A retry budget in one of its two forms, by its fields: Finagle's rate (`ratio`, with
/// `min_per_s` and `window`) or Envoy's concurrency (`budget_percent`, `min_retry_concurrency`),
/// not both.
fn budget_policies(
    b: &RetryBudget,
    problems: &mut Problems,
) -> (Option<BudgetPolicy>, Option<ConcurrentBudgetPolicy>) {
    let finagle = b.ratio.is_some() || b.min_per_s.is_some() || b.window.is_some();
    let envoy = b.budget_percent.is_some() || b.min_retry_concurrency.is_some();
    if finagle && envoy {
        problems.push((
            "retry.budget",
            "a budget is Finagle's (`ratio`, `min_per_s`, `window`) or Envoy's (`budget_percent`, `min_retry_concurrency`), not both".into(),
        ));
    }
    if envoy {
        return (None, Some(concurrent_budget_policy(b, problems)));
    }
    if b.ratio.is_none() {
        problems.push((
            "retry.budget",
            "a budget needs `ratio` (Finagle's, e.g. `0.1`) or `budget_percent` (Envoy's, e.g. `20.0`)".into(),
        ));
    }
    (Some(budget_policy(b, problems)), None)
}

/// Envoy's budget: a percentage from 0 to 100 (default 20) and a floor (default 3).
fn concurrent_budget_policy(b: &RetryBudget, problems: &mut Problems) -> ConcurrentBudgetPolicy {
    let percent = b.budget_percent.unwrap_or(20.0);
    if !(0.0..=100.0).contains(&percent) {
        problems.push((
            "retry.budget.budget_percent",
            format!("`budget_percent` is a percentage from 0 to 100, not `{percent}`"),
        ));
    }
    ConcurrentBudgetPolicy {
        percent,
        min_retry_concurrency: b.min_retry_concurrency.unwrap_or(3),
    }
}

/// Finagle's budget: a ratio and a floor of zero or more (defaults 10 per second), over a window
/// of whole seconds (default 10 s).
fn budget_policy(b: &RetryBudget, problems: &mut Problems) -> BudgetPolicy {
    let (ratio, min_per_s) = (b.ratio.unwrap_or(0.0), b.min_per_s.unwrap_or(10.0));
    let window = b.window.map_or(10_000_000_000, |w| w.0.as_ns());
    if !(ratio >= 0.0 && ratio.is_finite() && min_per_s >= 0.0 && min_per_s.is_finite()) {
        problems.push((
            "retry.budget",
            "`ratio` and `min_per_s` must be zero or more".into(),
        ));
    }
    let window_s = (window / 1_000_000_000).max(1);
    if !window.is_multiple_of(1_000_000_000) {
        problems.push((
            "retry.budget.window",
            "the budget window is counted in whole seconds".into(),
        ));
    }
    if window == 0 {
        // Like the breaker's and the throttle's windows: a window of nothing counts nothing.
        problems.push((
            "retry.budget.window",
            "the budget window must be at least `1s`".into(),
        ));
    }
    BudgetPolicy {
        ratio,
        min_per_s,
        window_s,
    }
}

/// The outcome of an attempt that a scenario's `RetryOn` names.
fn failure_of(on: RetryOn) -> AttemptFailure {
    match on {
        RetryOn::Timeout => AttemptFailure::Timeout,
        RetryOn::Error => AttemptFailure::Error,
        RetryOn::Rejected => AttemptFailure::Rejected,
        RetryOn::RateLimited => AttemptFailure::RateLimited,
        RetryOn::BreakerOpen => AttemptFailure::BreakerOpen,
        RetryOn::BulkheadFull => AttemptFailure::BulkheadFull,
        RetryOn::Throttled => AttemptFailure::Throttled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defences::dur;
    use crate::spec::RetryBudget;
    use sim_core::RngFactory;

    #[test]
    fn backoff_follows_its_distribution() {
        let spec = |backoff, jitter| RetrySpec {
            attempts: 5,
            on: vec![RetryOn::Timeout],
            backoff,
            jitter,
            budget: None::<RetryBudget>,
            honor_retry_after: true,
        };
        let mut problems = Vec::new();
        let exp = Backoff::Exponential {
            base: dur("10ms"),
            cap: dur("100ms"),
            multiplier: 2.0,
        };
        let none = RetryPolicy::new(&spec(exp.clone(), Jitter::None), &mut problems);
        let mut rng = RngFactory::new(1, 0).stream("t", "backoff");
        let delays: Vec<u64> = (1..=5).map(|k| none.delay_ns(k, 0, &mut rng)).collect();
        assert_eq!(
            delays,
            [10_000_000, 20_000_000, 40_000_000, 80_000_000, 100_000_000]
        );
        // Full jitter: uniform on [0, d]: mean d/2, and never above d.
        let full = RetryPolicy::new(&spec(exp.clone(), Jitter::Full), &mut problems);
        let n = 100_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| full.delay_ns(3, 0, &mut rng) as f64)
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        // sd of uniform[0, 40ms] is 40/sqrt(12) ms; 99.9% interval of the mean: 3.29 sd/sqrt(n).
        let half = 3.29 * 40e6 / 12f64.sqrt() / (n as f64).sqrt();
        assert!((mean - 20e6).abs() < half, "{mean}");
        assert!(xs.iter().all(|&x| (0.0..=40e6).contains(&x)));
        // Equal jitter: within [d/2, d].
        let equal = RetryPolicy::new(&spec(exp, Jitter::Equal), &mut problems);
        assert!((0..1000)
            .map(|_| equal.delay_ns(2, 0, &mut rng))
            .all(|x| (10_000_000..=20_000_000).contains(&x)));
        // Decorrelated: within [base, min(cap, 3 * previous)].
        let dec = RetryPolicy::new(
            &spec(
                Backoff::Decorrelated {
                    base: dur("10ms"),
                    cap: dur("1s"),
                },
                Jitter::None,
            ),
            &mut problems,
        );
        assert!((0..1000)
            .map(|_| dec.delay_ns(2, 50_000_000, &mut rng))
            .all(|x| (10_000_000..=150_000_000).contains(&x)));
        // The first wait (no previous one) is drawn from [base, 3 * base], as the AWS formula
        // starts from `sleep = base`: not `base` every time.
        let first: Vec<u64> = (0..1000).map(|_| dec.delay_ns(1, 0, &mut rng)).collect();
        assert!(first.iter().all(|x| (10_000_000..=30_000_000).contains(x)));
        assert!(first.iter().any(|&x| x > 25_000_000) && first.iter().any(|&x| x < 15_000_000));
        assert!(problems.is_empty());
        assert!(full.retries(AttemptFailure::Timeout) && !full.retries(AttemptFailure::Error));
    }

    /// A retry spec with `attempts`, `backoff` and `budget`, retrying timeouts without jitter.
    fn spec(attempts: u32, backoff: Backoff, budget: Option<RetryBudget>) -> RetrySpec {
        RetrySpec {
            attempts,
            on: vec![RetryOn::Timeout],
            backoff,
            jitter: Jitter::None,
            budget,
            honor_retry_after: true,
        }
    }

    /// The problems `RetryPolicy::compile` reports for `r`, in order, against `expected`.
    fn check(r: RetrySpec, expected: &[(&str, &str)]) {
        let problems = RetryPolicy::compile(&r).expect_err("a broken retry");
        let problems: Vec<(&str, &str)> = problems.iter().map(|(f, m)| (*f, m.as_str())).collect();
        assert_eq!(problems, expected);
    }

    /// Every problem of a retry is reported, in order: attempts, backoff, budget, budget window.
    /// A multiplier that is not a number, or a floor that is infinite, is a problem too.
    #[test]
    fn compile_reports_every_problem_in_order() {
        let exponential = Backoff::Exponential {
            base: dur("10ms"),
            cap: dur("5ms"),
            multiplier: f64::NAN,
        };
        let budget = RetryBudget {
            ratio: Some(0.1),
            min_per_s: Some(f64::INFINITY),
            window: Some(dur("0")),
            ..RetryBudget::default()
        };
        check(
            spec(101, exponential, Some(budget)),
            &[
                (
                    "retry.attempts",
                    "101 attempts is more than the limit of 100",
                ),
                (
                    "retry.backoff",
                    "the multiplier must be at least 1, not `NaN`",
                ),
                ("retry.backoff", "`cap` (5ms) is below `base` (10ms)"),
                (
                    "retry.budget",
                    "`ratio` and `min_per_s` must be zero or more",
                ),
                (
                    "retry.budget.window",
                    "the budget window must be at least `1s`",
                ),
            ],
        );
        let decorrelated = Backoff::Decorrelated {
            base: dur("1s"),
            cap: dur("10ms"),
        };
        let budget = RetryBudget {
            ratio: Some(0.1),
            min_per_s: Some(1.0),
            window: Some(dur("2500ms")),
            ..RetryBudget::default()
        };
        check(
            spec(0, decorrelated, Some(budget)),
            &[
                (
                    "retry.attempts",
                    "`attempts` counts the first attempt too: it must be at least 1",
                ),
                (
                    "retry.backoff",
                    "decorrelated backoff needs `base` above zero and `cap` at least `base`",
                ),
                (
                    "retry.budget.window",
                    "the budget window is counted in whole seconds",
                ),
            ],
        );
    }

    /// A valid retry compiles to its policy: the budget window in whole seconds, and exactly
    /// the listed failures retried.
    #[test]
    fn compile_keeps_the_budget_and_the_failures_retried() {
        let budget = RetryBudget {
            ratio: Some(0.2),
            min_per_s: Some(3.0),
            window: Some(dur("3s")),
            ..RetryBudget::default()
        };
        let mut r = spec(100, Backoff::Constant(dur("1ms")), Some(budget));
        r.on = vec![
            RetryOn::RateLimited,
            RetryOn::BreakerOpen,
            RetryOn::Throttled,
        ];
        r.honor_retry_after = false;
        let p = RetryPolicy::compile(&r).expect("a valid retry");
        let b = p.budget.as_ref().expect("a budget");
        assert_eq!((b.ratio, b.min_per_s, b.window_s), (0.2, 3.0, 3));
        assert_eq!((p.attempts, p.honor_retry_after), (100, false));
        let all = [
            AttemptFailure::Timeout,
            AttemptFailure::Error,
            AttemptFailure::Rejected,
            AttemptFailure::RateLimited,
            AttemptFailure::BreakerOpen,
            AttemptFailure::BulkheadFull,
            AttemptFailure::Throttled,
        ];
        let retried: Vec<AttemptFailure> = all.into_iter().filter(|&f| p.retries(f)).collect();
        let expected = [
            AttemptFailure::RateLimited,
            AttemptFailure::BreakerOpen,
            AttemptFailure::Throttled,
        ];
        assert_eq!(retried, expected);
    }

    /// A budget is Finagle's or Envoy's by its fields: `ratio` alone takes Finagle's defaults
    /// (10 per second over 10 s); `budget_percent` or `min_retry_concurrency` alone takes Envoy's
    /// (20%, 3); both forms at once, neither, or a percentage past 100 are refused.
    #[test]
    fn a_budget_is_finagles_or_envoys_by_its_fields() {
        let with =
            |b: RetryBudget| RetryPolicy::compile(&spec(3, Backoff::Constant(dur("1ms")), Some(b)));
        let p = with(RetryBudget {
            ratio: Some(0.1),
            ..RetryBudget::default()
        })
        .expect("Finagle's");
        let b = p.budget.expect("a rate budget");
        assert_eq!((b.ratio, b.min_per_s, b.window_s), (0.1, 10.0, 10));
        assert!(p.concurrent_budget.is_none());
        let envoy = |budget_percent, min_retry_concurrency| {
            with(RetryBudget {
                budget_percent,
                min_retry_concurrency,
                ..RetryBudget::default()
            })
        };
        let p = envoy(None, Some(5)).expect("Envoy's");
        assert!(p.budget.is_none());
        let c = p.concurrent_budget.expect("a concurrency budget");
        assert_eq!((c.percent, c.min_retry_concurrency), (20.0, 5));
        let c = envoy(Some(50.0), None).expect("Envoy's").concurrent_budget;
        assert_eq!(
            c.map(|c| (c.percent, c.min_retry_concurrency)),
            Some((50.0, 3))
        );
        let problems = |r: Result<RetryPolicy, Problems>| r.expect_err("refused");
        assert_eq!(
            problems(envoy(Some(120.0), None)),
            [(
                "retry.budget.budget_percent",
                "`budget_percent` is a percentage from 0 to 100, not `120`".to_string()
            )]
        );
        let both = with(RetryBudget {
            window: Some(dur("1s")),
            budget_percent: Some(20.0),
            ..RetryBudget::default()
        });
        assert_eq!(problems(both).len(), 1);
        let neither = problems(with(RetryBudget::default()));
        assert_eq!(neither[0].1, "a budget needs `ratio` (Finagle's, e.g. `0.1`) or `budget_percent` (Envoy's, e.g. `20.0`)");
    }
}
