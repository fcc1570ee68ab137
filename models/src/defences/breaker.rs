//! The resilience4j circuit breaker: a count or time window of outcomes while closed, failure-rate
//! and slow-call-rate thresholds after `min_calls`, open for `open_for`, then half-open with a
//! number of permitted probes that decide between closing and opening again.

use crate::spec::{BreakerSpec, Window};
use std::collections::VecDeque;

#[derive(Clone, Debug)]
pub struct BreakerPolicy {
    window: Window,
    min_calls: u32,
    failure_rate: f64,
    slow_call_rate: f64,
    slow_call_ns: u64,
    open_for_ns: u64,
    half_open_calls: u32,
    pub shared: bool,
}

impl BreakerPolicy {
    /// Calls let through in half-open state.
    pub fn half_open_calls(&self) -> u32 {
        self.half_open_calls
    }

    /// Whether an attempt that took `duration_ns` counts as slow: longer than the threshold, as
    /// resilience4j's `slowCallDurationThreshold` ("calls taking longer than").
    pub fn is_slow(&self, duration_ns: u64) -> bool {
        duration_ns > self.slow_call_ns
    }

    pub(crate) fn new(
        b: &BreakerSpec,
        problems: &mut Vec<(&'static str, String)>,
    ) -> BreakerPolicy {
        for (name, x) in [
            ("failure_rate", b.failure_rate),
            ("slow_call_rate", b.slow_call_rate),
        ] {
            if !(x > 0.0 && x <= 1.0) {
                problems.push((
                    "breaker",
                    format!("`{name}` is a fraction above 0 and at most 1, not `{x}`"),
                ));
            }
        }
        match &b.window {
            Window::Count(0) => problems.push((
                "breaker.window",
                "a count window needs at least 1 call".into(),
            )),
            Window::Time(d) if d.0.as_ns() < 1_000_000_000 || d.0.as_ns() % 1_000_000_000 != 0 => {
                problems.push((
                    "breaker.window",
                    "a time window is a whole number of seconds, at least 1".into(),
                ))
            }
            Window::Count(n) if *n > 100_000 => problems.push((
                "breaker.window",
                "a count window holds at most 100000 calls".into(),
            )),
            _ => {}
        }
        if b.half_open_calls == 0 {
            problems.push((
                "breaker.half_open_calls",
                "half-open needs at least 1 permitted call".into(),
            ));
        }
        if b.min_calls == 0 {
            problems.push(("breaker.min_calls", "`min_calls` must be at least 1".into()));
        }
        BreakerPolicy {
            window: b.window.clone(),
            min_calls: b.min_calls,
            failure_rate: b.failure_rate,
            slow_call_rate: b.slow_call_rate,
            slow_call_ns: b.slow_call_duration.0.as_ns(),
            open_for_ns: b.open_for.0.as_ns(),
            half_open_calls: b.half_open_calls,
            shared: b.shared,
        }
    }
}

/// A breaker's state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open {
        until_ns: u64,
    },
    HalfOpen {
        permitted: u32,
        answered: u32,
        failures: u32,
        slow: u32,
    },
}

/// A breaker state without its counters: what an attempt remembers of the state that let it
/// through (one byte, so that a request stays small).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn phase(&self) -> Phase {
        match self {
            BreakerState::Closed => Phase::Closed,
            BreakerState::Open { .. } => Phase::Open,
            BreakerState::HalfOpen { .. } => Phase::HalfOpen,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        }
    }
}

impl BreakerPolicy {
    /// The most bytes one breaker's window of outcomes holds: the ring of the last N calls (two
    /// flags each), or a bucket a second (24 bytes, with room for the deque to double); for the
    /// memory estimate.
    pub fn window_bytes(&self) -> u64 {
        match &self.window {
            Window::Count(n) => 2 * u64::from(*n),
            Window::Time(d) => 2 * 24 * (d.0.as_ns() / 1_000_000_000 + 2),
        }
    }
}

/// The sliding window of outcomes while closed.
#[derive(Clone, Debug)]
enum Outcomes {
    /// Last N outcomes: (failed, slow).
    Count {
        size: usize,
        ring: VecDeque<(bool, bool)>,
    },
    /// Per-second buckets: (second, calls, failures, slow).
    Time {
        seconds: u64,
        buckets: VecDeque<(u64, u32, u32, u32)>,
    },
}

/// One circuit breaker.
#[derive(Clone, Debug)]
pub struct Breaker {
    state: BreakerState,
    outcomes: Outcomes,
    calls: u32,
    failures: u32,
    slow: u32,
}

impl Breaker {
    pub fn new(p: &BreakerPolicy) -> Self {
        let outcomes = match &p.window {
            Window::Count(n) => Outcomes::Count {
                size: *n as usize,
                ring: VecDeque::with_capacity(*n as usize),
            },
            Window::Time(d) => Outcomes::Time {
                seconds: d.0.as_ns() / 1_000_000_000,
                buckets: VecDeque::new(),
            },
        };
        Breaker {
            state: BreakerState::Closed,
            outcomes,
            calls: 0,
            failures: 0,
            slow: 0,
        }
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Asks to let an attempt through at `now_ns`. Returns whether it may pass, and the state
    /// change this caused (open -> half-open when the wait is over).
    pub fn try_acquire(
        &mut self,
        p: &BreakerPolicy,
        now_ns: u64,
    ) -> (bool, Option<(BreakerState, BreakerState)>) {
        let mut change = None;
        if let BreakerState::Open { until_ns } = self.state {
            if now_ns >= until_ns {
                let next = BreakerState::HalfOpen {
                    permitted: 0,
                    answered: 0,
                    failures: 0,
                    slow: 0,
                };
                change = Some((self.state, next));
                self.state = next;
            }
        }
        let allowed = match &mut self.state {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { permitted, .. } => {
                if *permitted < p.half_open_calls {
                    *permitted += 1;
                    true
                } else {
                    false
                }
            }
        };
        (allowed, change)
    }

    /// Records the outcome of an attempt that `try_acquire` let through while in `acquired_in`
    /// (outcomes of attempts let through in an earlier state are ignored, as resilience4j does
    /// for calls that straddle a transition). Returns a state change, if any.
    pub fn record(
        &mut self,
        p: &BreakerPolicy,
        now_ns: u64,
        acquired_in: Phase,
        failed: bool,
        slow: bool,
    ) -> Option<(BreakerState, BreakerState)> {
        if acquired_in != self.state.phase() {
            return None;
        }
        match &mut self.state {
            BreakerState::Closed => {
                self.push(now_ns, failed, slow);
                if self.calls >= p.min_calls && self.calls > 0 {
                    let calls = f64::from(self.calls);
                    if f64::from(self.failures) / calls >= p.failure_rate
                        || f64::from(self.slow) / calls >= p.slow_call_rate
                    {
                        return Some(self.open(p, now_ns));
                    }
                }
                None
            }
            BreakerState::Open { .. } => None,
            BreakerState::HalfOpen {
                answered,
                failures,
                slow: s,
                ..
            } => {
                *answered += 1;
                *failures += u32::from(failed);
                *s += u32::from(slow);
                if *answered < p.half_open_calls {
                    return None;
                }
                let n = f64::from(*answered);
                let (fr, sr) = (f64::from(*failures) / n, f64::from(*s) / n);
                if fr >= p.failure_rate || sr >= p.slow_call_rate {
                    Some(self.open(p, now_ns))
                } else {
                    let before = self.state;
                    self.state = BreakerState::Closed;
                    self.clear();
                    Some((before, self.state))
                }
            }
        }
    }

    fn open(&mut self, p: &BreakerPolicy, now_ns: u64) -> (BreakerState, BreakerState) {
        let before = self.state;
        self.state = BreakerState::Open {
            until_ns: now_ns.saturating_add(p.open_for_ns),
        };
        self.clear();
        (before, self.state)
    }

    fn clear(&mut self) {
        self.calls = 0;
        self.failures = 0;
        self.slow = 0;
        match &mut self.outcomes {
            Outcomes::Count { ring, .. } => ring.clear(),
            Outcomes::Time { buckets, .. } => buckets.clear(),
        }
    }

    fn push(&mut self, now_ns: u64, failed: bool, slow: bool) {
        match &mut self.outcomes {
            Outcomes::Count { size, ring } => {
                if ring.len() == *size {
                    let (f, s) = ring.pop_front().expect("a full ring");
                    self.calls -= 1;
                    self.failures -= u32::from(f);
                    self.slow -= u32::from(s);
                }
                ring.push_back((failed, slow));
            }
            Outcomes::Time { seconds, buckets } => {
                let second = now_ns / 1_000_000_000;
                while let Some(&(s, c, f, sl)) = buckets.front() {
                    if s + *seconds > second {
                        break;
                    }
                    self.calls -= c;
                    self.failures -= f;
                    self.slow -= sl;
                    buckets.pop_front();
                }
                if buckets.back().is_none_or(|b| b.0 != second) {
                    buckets.push_back((second, 0, 0, 0));
                }
                let b = buckets.back_mut().expect("pushed");
                b.1 += 1;
                b.2 += u32::from(failed);
                b.3 += u32::from(slow);
            }
        }
        self.calls += 1;
        self.failures += u32::from(failed);
        self.slow += u32::from(slow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defences::dur;

    fn breaker(window: Window, min_calls: u32, half_open: u32) -> BreakerPolicy {
        let spec = BreakerSpec {
            window,
            min_calls,
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call_duration: dur("1s"),
            open_for: dur("10s"),
            half_open_calls: half_open,
            shared: false,
        };
        let mut problems = Vec::new();
        let p = BreakerPolicy::new(&spec, &mut problems);
        assert!(problems.is_empty());
        p
    }

    #[test]
    fn breaker_opens_at_exactly_the_failure_rate() {
        let p = breaker(Window::Count(10), 10, 3);
        let mut b = Breaker::new(&p);
        // 10 calls, the first four failing: 40% < 50%, stays closed.
        for i in 0..10 {
            assert!(b.try_acquire(&p, i).0);
            assert_eq!(b.record(&p, i, Phase::Closed, i < 4, false), None);
        }
        // One more failure pushes out a success... the window is the last 10: 4 failures + this one
        // replaces the oldest (a failure), still 4. Two successes then a failure: window shifts.
        assert_eq!(b.record(&p, 10, Phase::Closed, true, false), None); // drops failure #0: 4/10
        assert_eq!(b.record(&p, 11, Phase::Closed, true, false), None); // drops #1: 4/10
        assert_eq!(b.record(&p, 12, Phase::Closed, true, false), None); // drops #2: 4/10
        assert_eq!(b.record(&p, 13, Phase::Closed, true, false), None); // drops #3: 4/10
        let change = b.record(&p, 14, Phase::Closed, true, false); // drops a success: 5/10 = 50%
        assert_eq!(
            change,
            Some((
                BreakerState::Closed,
                BreakerState::Open {
                    until_ns: 14 + 10_000_000_000
                }
            ))
        );
    }

    #[test]
    fn breaker_waits_for_min_calls() {
        let p = breaker(Window::Count(100), 20, 3);
        let mut b = Breaker::new(&p);
        for i in 0..19 {
            assert_eq!(
                b.record(&p, i, Phase::Closed, true, false),
                None,
                "call {i}"
            );
        }
        assert!(
            b.record(&p, 19, Phase::Closed, true, false).is_some(),
            "the 20th failure opens it"
        );
    }

    #[test]
    fn half_open_lets_exactly_the_permitted_probes_through() {
        let p = breaker(Window::Count(4), 4, 3);
        let mut b = Breaker::new(&p);
        for i in 0..4 {
            b.record(&p, i, Phase::Closed, true, false);
        }
        assert!(matches!(b.state, BreakerState::Open { .. }));
        assert!(!b.try_acquire(&p, 5_000_000_000).0, "still open");
        let t = 3 + 10_000_000_000;
        let (ok, change) = b.try_acquire(&p, t);
        assert!(ok);
        assert_eq!(change.map(|c| c.1.name()), Some("half_open"));
        assert!(b.try_acquire(&p, t).0 && b.try_acquire(&p, t).0);
        assert!(!b.try_acquire(&p, t).0, "a fourth probe is refused");
        // Two of three probes succeed: 33% < 50%, closes once all three answered.
        assert_eq!(b.record(&p, t, Phase::HalfOpen, false, false), None);
        assert_eq!(b.record(&p, t, Phase::HalfOpen, true, false), None);
        let change = b.record(&p, t, Phase::HalfOpen, false, false);
        assert_eq!(change.map(|c| c.1), Some(BreakerState::Closed));
        // An outcome from an attempt let through while open... or half-open is ignored now.
        assert_eq!(b.record(&p, t, Phase::HalfOpen, true, false), None);
    }

    #[test]
    fn half_open_failures_reopen() {
        let p = breaker(Window::Count(2), 2, 2);
        let mut b = Breaker::new(&p);
        b.record(&p, 0, Phase::Closed, true, false);
        b.record(&p, 0, Phase::Closed, true, false);
        let t = 10_000_000_000;
        assert!(b.try_acquire(&p, t).0 && b.try_acquire(&p, t).0);
        b.record(&p, t, Phase::HalfOpen, true, false);
        let change = b.record(&p, t + 1, Phase::HalfOpen, false, false);
        assert_eq!(
            change.map(|c| c.1),
            Some(BreakerState::Open {
                until_ns: t + 1 + 10_000_000_000
            })
        );
    }

    #[test]
    fn time_window_forgets_old_seconds() {
        let p = breaker(Window::Time(dur("2s")), 4, 1);
        let mut b = Breaker::new(&p);
        let s = 1_000_000_000;
        b.record(&p, 0, Phase::Closed, true, false);
        b.record(&p, 0, Phase::Closed, true, false);
        b.record(&p, 0, Phase::Closed, true, false);
        // Three seconds later the failures have left the window: four successes keep it closed.
        for _ in 0..4 {
            assert_eq!(b.record(&p, 3 * s, Phase::Closed, false, false), None);
        }
        assert_eq!(b.state, BreakerState::Closed);
    }

    #[test]
    fn slow_calls_open_the_breaker() {
        let mut p = breaker(Window::Count(4), 4, 1);
        p.slow_call_rate = 0.5;
        let mut b = Breaker::new(&p);
        b.record(&p, 0, Phase::Closed, false, true);
        b.record(&p, 0, Phase::Closed, false, false);
        b.record(&p, 0, Phase::Closed, false, false);
        assert!(b.record(&p, 0, Phase::Closed, false, true).is_some());
    }
}
