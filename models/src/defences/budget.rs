//! Retry budgets (Finagle's `RetryBudget`): retries allowed as a share of calls over a sliding
//! window of whole seconds, plus a floor of retries per second.

use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub struct BudgetPolicy {
    pub ratio: f64,
    pub min_per_s: f64,
    pub window_s: u64,
}

/// A retry budget's sliding window: calls and retries per second over the last `window_s` seconds.
#[derive(Clone, Debug)]
pub struct Budget {
    policy: BudgetPolicy,
    /// (second, calls, retries), oldest first.
    buckets: VecDeque<(u64, u64, u64)>,
    calls: u64,
    retries: u64,
}

impl Budget {
    pub fn new(policy: BudgetPolicy) -> Self {
        Budget {
            policy,
            buckets: VecDeque::new(),
            calls: 0,
            retries: 0,
        }
    }

    fn roll(&mut self, now_ns: u64) -> u64 {
        let second = now_ns / 1_000_000_000;
        while let Some(&(s, c, r)) = self.buckets.front() {
            if s + self.policy.window_s > second {
                break;
            }
            self.calls -= c;
            self.retries -= r;
            self.buckets.pop_front();
        }
        if self.buckets.back().is_none_or(|b| b.0 != second) {
            self.buckets.push_back((second, 0, 0));
        }
        second
    }

    /// Records a call (a first attempt).
    pub fn record_call(&mut self, now_ns: u64) {
        self.roll(now_ns);
        let b = self.buckets.back_mut().expect("rolled");
        b.1 += 1;
        self.calls += 1;
    }

    /// Takes a retry from the budget if one is left.
    pub fn try_retry(&mut self, now_ns: u64) -> bool {
        self.roll(now_ns);
        let allowed = self.policy.ratio * self.calls as f64
            + self.policy.min_per_s * self.policy.window_s as f64;
        if (self.retries as f64) < allowed.floor() {
            self.buckets.back_mut().expect("rolled").2 += 1;
            self.retries += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_caps_retries_at_its_ratio() {
        let mut budget = Budget::new(BudgetPolicy {
            ratio: 0.1,
            min_per_s: 0.0,
            window_s: 10,
        });
        let mut granted = 0;
        for i in 0..1000u64 {
            let now = i * 5_000_000; // 200 calls per second for 5 seconds
            budget.record_call(now);
            if budget.try_retry(now) {
                granted += 1;
            }
        }
        // 10% of 1000 calls, give or take the floor at each step.
        assert!((99..=100).contains(&granted), "{granted}");
        // With a reserve of 1/s over 10 s, ten retries pass with no calls at all.
        let mut reserve = Budget::new(BudgetPolicy {
            ratio: 0.0,
            min_per_s: 1.0,
            window_s: 10,
        });
        assert_eq!((0..20).filter(|_| reserve.try_retry(0)).count(), 10);
    }
}
