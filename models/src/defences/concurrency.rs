//! An adaptive concurrency limit per instance, as Netflix's `AIMDLimit`: grows by one on a good
//! answer while the limit is in use, shrinks by a factor on a drop or a slow answer.

/// An adaptive concurrency limit's state (per instance), as Netflix `AIMDLimit`.
#[derive(Clone, Debug)]
pub struct AimdLimit {
    pub limit: f64,
    min: f64,
    max: f64,
    decrease: f64,
    pub latency_over_ns: u64,
}

impl AimdLimit {
    pub fn new(initial: u32, min: u32, max: u32, decrease: f64, latency_over_ns: u64) -> Self {
        AimdLimit {
            limit: f64::from(initial),
            min: f64::from(min),
            max: f64::from(max),
            decrease,
            latency_over_ns,
        }
    }

    /// Whether another request may start with `in_flight` already in progress.
    pub fn admits(&self, in_flight: u32) -> bool {
        f64::from(in_flight) < self.limit.floor()
    }

    /// Whether another request may start with `in_flight` already in progress, when it may
    /// fill only `share` of the limit (its criticality's share; 1 for the whole limit).
    pub fn admits_share(&self, in_flight: u32, share: f64) -> bool {
        f64::from(in_flight) < (self.limit.floor() * share).floor()
    }

    /// Adjusts the limit after a request that took `latency_ns` (dropped: it failed or was shed).
    pub fn on_done(&mut self, latency_ns: u64, dropped: bool, in_flight: u32) {
        if dropped || latency_ns > self.latency_over_ns {
            self.limit = (self.limit * self.decrease).floor().max(self.min);
        } else if f64::from(in_flight) * 2.0 >= self.limit {
            self.limit = (self.limit + 1.0).min(self.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aimd_grows_slowly_and_falls_fast() {
        let mut l = AimdLimit::new(10, 2, 20, 0.5, 100);
        l.on_done(50, false, 6);
        assert_eq!(l.limit, 11.0);
        l.on_done(50, false, 2); // little in use: no growth
        assert_eq!(l.limit, 11.0);
        l.on_done(500, false, 6);
        assert_eq!(l.limit, 5.0);
        for _ in 0..3 {
            l.on_done(0, true, 0);
        }
        assert_eq!(l.limit, 2.0, "never below the minimum");
        assert!(l.admits(1) && !l.admits(2));
    }
}
