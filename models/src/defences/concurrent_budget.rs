//! Envoy's retry budget (`retry_budget` in a cluster's circuit-breaker thresholds): a limit on
//! the retries in progress, as a share of the requests in progress, not a rate.
//!
//! Envoy's rule (`ResourceManagerImpl::RetryBudgetImpl`): a retry may start only while the
//! retries active are fewer than `max(min_retry_concurrency, ⌊budget_percent / 100 × active
//! requests⌋)`. A retry is active from the moment it is decided (when the attempt before it
//! fails; `RetryStateImpl::shouldRetry` takes the resource before the backoff) until its own
//! outcome is known or the call ends. Active requests are the attempts in flight to the
//! upstream, retries and hedges included. Envoy keeps these counts per proxy and cluster; here
//! per caller instance and call edge.

/// The budget's parameters: Envoy `budget_percent` (a percentage) and `min_retry_concurrency`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConcurrentBudgetPolicy {
    pub percent: f64,
    pub min_retry_concurrency: u32,
}

/// One caller instance's counts on one edge.
#[derive(Clone, Debug)]
pub struct ConcurrentBudget {
    policy: ConcurrentBudgetPolicy,
    /// Attempts in flight (sent, not yet answered or given up on).
    active_requests: u32,
    /// Retries decided and not yet over.
    active_retries: u32,
}

impl ConcurrentBudget {
    pub fn new(policy: ConcurrentBudgetPolicy) -> Self {
        ConcurrentBudget {
            policy,
            active_requests: 0,
            active_retries: 0,
        }
    }

    /// The most retries that may be active now.
    fn max_retries(&self) -> u64 {
        // Envoy truncates `budget_percent / 100 * active` to an integer.
        let share = (self.policy.percent / 100.0 * f64::from(self.active_requests)) as u64;
        share.max(u64::from(self.policy.min_retry_concurrency))
    }

    /// An attempt is sent.
    #[inline]
    pub fn request_started(&mut self) {
        self.active_requests += 1;
    }

    /// An attempt is over (answered, timed out or abandoned).
    #[inline]
    pub fn request_ended(&mut self) {
        assert!(self.active_requests > 0, "more attempts ended than sent");
        self.active_requests -= 1;
    }

    /// A retry is decided: it becomes active if the budget has room.
    pub fn try_retry(&mut self) -> bool {
        if u64::from(self.active_retries) < self.max_retries() {
            self.active_retries += 1;
            true
        } else {
            false
        }
    }

    /// A retry that `try_retry` let through is over.
    pub fn retry_ended(&mut self) {
        assert!(self.active_retries > 0, "more retries ended than began");
        self.active_retries -= 1;
    }

    /// (active requests, active retries), for tests and the audit.
    pub fn active(&self) -> (u32, u32) {
        (self.active_requests, self.active_retries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(percent: f64, min_retry_concurrency: u32) -> ConcurrentBudget {
        ConcurrentBudget::new(ConcurrentBudgetPolicy {
            percent,
            min_retry_concurrency,
        })
    }

    /// Envoy's defaults (20%, at least 3): with 10 requests active, ⌊2⌋ < 3, so 3 retries at
    /// once; with 20 active, 4; with 26, ⌊5.2⌋ = 5. A retry that ends makes room for one more.
    #[test]
    fn retries_active_are_capped_at_a_share_of_requests_active_with_a_floor() {
        let mut b = budget(20.0, 3);
        for _ in 0..10 {
            b.request_started();
        }
        let granted: Vec<bool> = (0..4).map(|_| b.try_retry()).collect();
        assert_eq!(granted, [true, true, true, false]);
        for _ in 0..10 {
            b.request_started();
        }
        assert!(b.try_retry(), "20 active: room for 4");
        assert!(!b.try_retry());
        for _ in 0..6 {
            b.request_started();
        }
        assert!(b.try_retry(), "26 active: room for 5");
        assert!(!b.try_retry());
        assert_eq!(b.active(), (26, 5));
        b.retry_ended();
        assert!(b.try_retry());
        // Requests that end shrink the room: at 10 active the 5 retries stay, no new one starts.
        for _ in 0..16 {
            b.request_ended();
        }
        assert!(!b.try_retry());
        for _ in 0..2 {
            b.retry_ended();
        }
        assert_eq!(b.active(), (10, 3));
        assert!(
            !b.try_retry(),
            "3 active retries: the floor of 3 is reached"
        );
        b.retry_ended();
        assert!(b.try_retry());
    }

    /// With no requests active only `min_retry_concurrency` retries may be active; with a floor
    /// of zero and nothing active, none.
    #[test]
    fn the_floor_alone_when_nothing_is_active() {
        let mut b = budget(20.0, 1);
        assert!(b.try_retry() && !b.try_retry());
        let mut none = budget(50.0, 0);
        assert!(!none.try_retry());
        none.request_started();
        assert!(!none.try_retry(), "⌊0.5⌋ = 0");
        none.request_started();
        assert!(none.try_retry() && !none.try_retry(), "⌊1⌋ = 1");
    }
}
