//! Token buckets for server-side rate limits (global, per client, per tier).

/// A token bucket's state: refilled continuously, starting full.
#[derive(Clone, Debug)]
pub struct Bucket {
    rate_per_ns: f64,
    burst: f64,
    tokens: f64,
    last_ns: u64,
}

impl Bucket {
    pub fn new(rate_per_s: f64, burst: u32) -> Self {
        Bucket {
            rate_per_ns: rate_per_s / 1e9,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last_ns: 0,
        }
    }

    fn refill(&mut self, now_ns: u64) {
        self.tokens =
            (self.tokens + (now_ns - self.last_ns) as f64 * self.rate_per_ns).min(self.burst);
        self.last_ns = now_ns;
    }

    /// Whether a token is there (without taking it); else the wait until one is, in ns.
    pub fn check(&mut self, now_ns: u64) -> Result<(), u64> {
        self.check_share(now_ns, 1.0)
    }

    /// [`Self::check`] for a request that may use only `share` of the bucket: the tokens above
    /// `(1 - share) × burst` (kept for more critical requests).
    pub fn check_share(&mut self, now_ns: u64, share: f64) -> Result<(), u64> {
        self.refill(now_ns);
        let needed = 1.0 + (1.0 - share) * self.burst;
        if self.tokens >= needed {
            Ok(())
        } else if self.rate_per_ns > 0.0 {
            Err(((needed - self.tokens) / self.rate_per_ns).ceil() as u64)
        } else {
            Err(u64::MAX)
        }
    }

    pub fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

#[cfg(test)]
mod bucket_tests {
    use super::Bucket;

    #[test]
    fn a_share_of_the_bucket_leaves_the_rest_for_the_more_critical() {
        // Half of a burst of 10: a sheddable request passes while more than 5 tokens are left.
        let mut b = Bucket::new(10.0, 10);
        let mut passed = 0;
        while b.check_share(0, 0.5).is_ok() {
            b.take();
            passed += 1;
        }
        assert_eq!(passed, 5);
        // The critical ones still find five; the wait of a sheddable one is for 1 token above 5.
        assert!(b.check(0).is_ok());
        assert_eq!(b.check_share(0, 0.5), Err(100_000_000));
    }

    #[test]
    fn a_bucket_passes_its_burst_then_its_rate() {
        let mut b = Bucket::new(10.0, 5);
        for _ in 0..5 {
            assert!(b.check(0).is_ok());
            b.take();
        }
        // Empty: the next token comes in 100 ms.
        assert_eq!(b.check(0), Err(100_000_000));
        assert!(b.check(100_000_000).is_ok());
        b.take();
        // Over ten seconds, 10 per second pass (it cannot save more than its burst).
        let passed = (1..=10_000u64)
            .filter(|i| {
                let ok = b.check(100_000_000 + i * 1_000_000).is_ok();
                if ok {
                    b.take();
                }
                ok
            })
            .count();
        assert!((99..=101).contains(&passed), "{passed}");
    }
}
