//! Client-side throttling per caller instance and call edge: gRPC retry throttling (tokens) and
//! the SRE book's adaptive throttling (requests against `k` times accepts).
//!
//! gRPC retry throttling follows grpc-java (`RetriableStream.Throttle`, gRFC A6): the tokens are
//! counted in thousandths (`max_tokens` and `token_ratio` to three decimal places), start at
//! `max_tokens`, and the threshold is half of them (integer halving of the thousandths). A failed
//! attempt whose failure the retry policy retries (a "qualified failure") takes one token, not
//! below zero, and the retry is refused *then*, when the failure is learned, if the tokens left
//! are not above the threshold (with none left it is refused without taking one). A good answer
//! gives back `token_ratio`, up to `max_tokens`. A hedge is scheduled only while the tokens are
//! above the threshold. First attempts are never throttled.

use crate::spec::ThrottleSpec;
use std::collections::VecDeque;

/// Thousandths of a token: grpc-java's `THREE_DECIMAL_PLACES_SCALE_UP`.
const MILLI: u32 = 1000;

/// A client-side throttle's state (per caller instance and call edge).
#[derive(Clone, Debug)]
pub enum Throttle {
    /// gRPC retry throttling, in thousandths of a token: the tokens left, the maximum, and what a
    /// good answer gives back.
    Grpc {
        tokens_milli: u32,
        max_milli: u32,
        ratio_milli: u32,
    },
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
                tokens_milli: max_tokens.saturating_mul(MILLI),
                max_milli: max_tokens.saturating_mul(MILLI),
                // grpc-java truncates `tokenRatio * 1000` to an integer.
                ratio_milli: (token_ratio * f64::from(MILLI)) as u32,
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

    /// Whether an attempt may be sent; `draw` is a uniform number in [0, 1). Adaptive
    /// throttling decides here, for every attempt; gRPC throttling never refuses an attempt
    /// that asks to go out (it refuses the retry when the failure is learned, in
    /// [`Throttle::after_failure`], and the hedge when it would be scheduled).
    pub fn allow(&mut self, now_ns: u64, draw: f64) -> bool {
        match self {
            Throttle::Grpc { .. } => true,
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

    /// A failed attempt: `qualified` when the retry policy retries its failure. Returns whether
    /// the throttle lets the call retry. gRPC: a qualified failure takes a token (none when
    /// none is left), and the retry is allowed only if the tokens left are above half the
    /// maximum; an unqualified failure changes nothing. Adaptive throttling decides nothing here.
    pub fn after_failure(&mut self, qualified: bool) -> bool {
        match self {
            Throttle::Grpc {
                tokens_milli,
                max_milli,
                ..
            } if qualified => {
                if *tokens_milli == 0 {
                    return false;
                }
                *tokens_milli = tokens_milli.saturating_sub(MILLI);
                *tokens_milli > *max_milli / 2
            }
            _ => true,
        }
    }

    /// Whether a hedge may be scheduled: gRPC only while the tokens are above half the maximum
    /// (grpc-java asks when it schedules the next hedge); adaptive throttling asks when the hedge
    /// is sent, like any attempt.
    pub fn hedge_allowed(&self) -> bool {
        match self {
            Throttle::Grpc {
                tokens_milli,
                max_milli,
                ..
            } => *tokens_milli > *max_milli / 2,
            Throttle::Adaptive { .. } => true,
        }
    }

    /// Records the answer of a sent attempt. gRPC: a good answer gives back `token_ratio` (up to
    /// the maximum); failures count in [`Throttle::after_failure`]. Adaptive: a good answer is an
    /// accept.
    pub fn record(&mut self, now_ns: u64, success: bool) {
        match self {
            Throttle::Grpc {
                tokens_milli,
                max_milli,
                ratio_milli,
            } => {
                if success {
                    *tokens_milli = tokens_milli.saturating_add(*ratio_milli).min(*max_milli);
                }
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

    /// gRPC tokens left, in thousandths (tests and traces).
    #[cfg(test)]
    fn tokens_milli(&self) -> u32 {
        match self {
            Throttle::Grpc { tokens_milli, .. } => *tokens_milli,
            Throttle::Adaptive { .. } => 0,
        }
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::*;
    use crate::spec::Dur;
    use sim_core::SimDuration;

    fn grpc(max_tokens: u32, token_ratio: f64) -> Throttle {
        Throttle::new(&ThrottleSpec::GrpcRetry {
            max_tokens,
            token_ratio,
        })
    }

    /// grpc-java's rule, failure by failure: with 10 tokens (threshold 5), each qualified
    /// failure takes one and the retry is refused when the count left is not above 5: the 4th
    /// failure leaves 6 (retry), the 5th leaves 5 (refused at once). Attempts are never refused
    /// when they ask to go out.
    #[test]
    fn grpc_refuses_the_retry_when_the_failure_leaves_half_the_tokens_or_fewer() {
        let mut t = grpc(10, 0.1);
        let verdicts: Vec<(bool, u32)> = (0..6)
            .map(|_| (t.after_failure(true), t.tokens_milli()))
            .collect();
        let expected = [
            (true, 9000),
            (true, 8000),
            (true, 7000),
            (true, 6000),
            (false, 5000),
            (false, 4000),
        ];
        assert_eq!(verdicts, expected);
        assert!(
            t.allow(0, 0.0),
            "an attempt that asks to go out is never refused"
        );
        assert!(
            !t.hedge_allowed(),
            "no hedge is scheduled at 4 of 10 tokens"
        );
    }

    /// A failure the retry policy does not retry takes no token and lets the throttle say yes.
    #[test]
    fn grpc_ignores_unqualified_failures() {
        let mut t = grpc(2, 0.5);
        for _ in 0..10 {
            assert!(t.after_failure(false));
        }
        assert_eq!(t.tokens_milli(), 2000);
    }

    /// Tokens do not go below zero; with none left the retry is refused without taking one; a
    /// good answer gives back `token_ratio` (counted in thousandths, so ten answers at 0.1 give
    /// back exactly one token), never above the maximum.
    #[test]
    fn grpc_tokens_stay_between_zero_and_the_maximum() {
        let mut t = grpc(3, 0.1);
        for _ in 0..5 {
            assert!(!t.after_failure(true) || t.tokens_milli() > 1500);
        }
        assert_eq!(t.tokens_milli(), 0);
        assert!(!t.after_failure(true));
        assert_eq!(t.tokens_milli(), 0);
        for _ in 0..10 {
            t.record(0, true);
        }
        assert_eq!(t.tokens_milli(), 1000);
        t.record(0, false);
        assert_eq!(t.tokens_milli(), 1000, "a failed answer gives nothing back");
        for _ in 0..100 {
            t.record(0, true);
        }
        assert_eq!(t.tokens_milli(), 3000);
        // 3 of 3 (threshold 1500): one failure leaves 2000, above; the next leaves 1000.
        assert!(t.after_failure(true) && t.hedge_allowed());
        assert!(!t.after_failure(true) && !t.hedge_allowed());
    }

    /// `token_ratio` is truncated to thousandths, as grpc-java truncates `tokenRatio * 1000`.
    #[test]
    fn grpc_token_ratio_is_counted_in_thousandths() {
        let mut t = grpc(10, 0.0015);
        for _ in 0..5 {
            t.after_failure(true);
        }
        t.record(0, true);
        assert_eq!(t.tokens_milli(), 5001);
    }

    #[test]
    fn adaptive_throttling_follows_the_formula() {
        let mut t = Throttle::new(&ThrottleSpec::Adaptive {
            k: 2.0,
            window: Dur(SimDuration::from_secs(10)),
        });
        // 100 requests, 10 accepted: p = (100 - 20) / 101.
        for i in 0..100 {
            t.allow(0, 0.0);
            if i < 10 {
                t.record(0, true);
            }
        }
        let p = 80.0 / 101.0;
        assert!(!t.allow(0, p - 0.01), "a draw below p is refused");
        assert!(t.allow(0, 0.99));
        assert!(
            t.after_failure(true) && t.hedge_allowed(),
            "decides only at `allow`"
        );
        // After the window, the history is forgotten.
        assert!(t.allow(20_000_000_000, 0.0));
    }
}
