//! Client-side throttling per caller instance and call edge: gRPC retry throttling (tokens) and
//! the SRE book's adaptive throttling (requests against `k` times accepts).

use crate::spec::ThrottleSpec;
use std::collections::VecDeque;

/// A client-side throttle's state (per caller instance and call edge).
#[derive(Clone, Debug)]
pub enum Throttle {
    /// gRPC retry throttling: tokens, with the maximum and the ratio given back per success.
    Grpc { tokens: f64, max: f64, ratio: f64 },
    /// SRE adaptive throttling: per-second buckets of (second, requests, accepts) over the window.
    Adaptive {
        k: f64,
        window_s: u64,
        buckets: VecDeque<(u64, u64, u64)>,
        requests: u64,
        accepts: u64,
    },
}

impl Throttle {
    pub fn new(spec: &ThrottleSpec) -> Self {
        match spec {
            ThrottleSpec::GrpcRetry {
                max_tokens,
                token_ratio,
            } => Throttle::Grpc {
                tokens: f64::from(*max_tokens),
                max: f64::from(*max_tokens),
                ratio: *token_ratio,
            },
            ThrottleSpec::Adaptive { k, window } => Throttle::Adaptive {
                k: *k,
                window_s: (window.0.as_ns() / 1_000_000_000).max(1),
                buckets: VecDeque::new(),
                requests: 0,
                accepts: 0,
            },
        }
    }

    fn roll(
        buckets: &mut VecDeque<(u64, u64, u64)>,
        requests: &mut u64,
        accepts: &mut u64,
        window_s: u64,
        now_ns: u64,
    ) {
        let second = now_ns / 1_000_000_000;
        while let Some(&(s, r, a)) = buckets.front() {
            if s + window_s > second {
                break;
            }
            *requests -= r;
            *accepts -= a;
            buckets.pop_front();
        }
        if buckets.back().is_none_or(|b| b.0 != second) {
            buckets.push_back((second, 0, 0));
        }
    }

    /// Whether an attempt may be sent. `first` is the first attempt of a call (gRPC throttling
    /// only limits retries and hedges); `draw` is a uniform number in [0, 1).
    pub fn allow(&mut self, now_ns: u64, first: bool, draw: f64) -> bool {
        match self {
            Throttle::Grpc { tokens, max, .. } => first || *tokens > *max / 2.0,
            Throttle::Adaptive {
                k,
                window_s,
                buckets,
                requests,
                accepts,
            } => {
                Self::roll(buckets, requests, accepts, *window_s, now_ns);
                let reject =
                    ((*requests as f64 - *k * *accepts as f64) / (*requests as f64 + 1.0)).max(0.0);
                // The attempt counts as a request whether or not it is sent (the book's rule).
                *requests += 1;
                buckets.back_mut().expect("rolled").1 += 1;
                draw >= reject
            }
        }
    }

    /// Records the answer of a sent attempt.
    pub fn record(&mut self, now_ns: u64, success: bool) {
        match self {
            Throttle::Grpc { tokens, max, ratio } => {
                *tokens = if success {
                    (*tokens + *ratio).min(*max)
                } else {
                    (*tokens - 1.0).max(0.0)
                };
            }
            Throttle::Adaptive {
                window_s,
                buckets,
                requests,
                accepts,
                ..
            } => {
                if success {
                    Self::roll(buckets, requests, accepts, *window_s, now_ns);
                    *accepts += 1;
                    buckets.back_mut().expect("rolled").2 += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::*;
    use crate::spec::Dur;
    use sim_core::SimDuration;

    #[test]
    fn grpc_throttling_stops_retries_below_half_the_tokens() {
        let mut t = Throttle::new(&ThrottleSpec::GrpcRetry {
            max_tokens: 10,
            token_ratio: 0.1,
        });
        for _ in 0..5 {
            assert!(t.allow(0, false, 0.5));
            t.record(0, false);
        }
        // 5 tokens left: not more than half; retries stop, first attempts still go.
        assert!(!t.allow(0, false, 0.5) && t.allow(0, true, 0.5));
        // Eleven successes give back 1.1 tokens.
        for _ in 0..11 {
            t.record(0, true);
        }
        assert!(t.allow(0, false, 0.5));
    }

    #[test]
    fn adaptive_throttling_follows_the_formula() {
        let mut t = Throttle::new(&ThrottleSpec::Adaptive {
            k: 2.0,
            window: Dur(SimDuration::from_secs(10)),
        });
        // 100 requests, 10 accepted: p = (100 - 20) / 101.
        for i in 0..100 {
            t.allow(0, true, 0.0);
            if i < 10 {
                t.record(0, true);
            }
        }
        let p = 80.0 / 101.0;
        assert!(!t.allow(0, true, p - 0.01), "a draw below p is refused");
        assert!(t.allow(0, true, 0.99));
        // After the window, the history is forgotten.
        assert!(t.allow(20_000_000_000, true, 0.0));
    }
}
