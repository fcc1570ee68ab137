//! The run loop: pops events in order, hands each to the model, folds it into the digest, and stops
//! at the horizon, when the queue is empty, or at the event limit.
//!
//! A model is any type implementing [`Model`]; it receives the [`Sim`] context (clock and queue) with
//! every event, so nothing reaches for a global clock or RNG. Dispatch is static (generics), and the
//! event type is the model's own closed `enum`.

use crate::digest::Digest;
use crate::queue::{EventQueue, Next, TimerId};
use crate::time::{SimDuration, SimTime};
use std::fmt;

/// A simulated system driven by events of type `Self::Event`.
pub trait Model {
    type Event: Copy;

    /// Handles one event at `sim.now()`.
    fn handle(&mut self, sim: &mut Sim<Self::Event>, event: Self::Event);

    /// The (kind, entity) pair folded into the digest for `event`.
    fn digest_key(event: &Self::Event) -> (u32, u64);
}

/// Limits every run carries, so that no run can hang.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events at or before this time are processed; the run ends here.
    pub horizon: SimTime,
    /// The run stops after processing this many events.
    pub events_max: u64,
}

/// Why a run stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The next event lies beyond the horizon (the normal end).
    Horizon,
    /// Nothing was left to do before the horizon.
    QueueEmpty,
    /// The run processed `events_max` events; its results cover only part of the horizon.
    EventsMax,
    /// The model asked to stop (a guard of its own, such as too many requests in flight).
    Model,
}

/// An error the engine detects in a model: a bug in the model, never in user input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// An event was scheduled before the current time.
    ScheduledInPast {
        now: SimTime,
        at: SimTime,
        kind: u32,
        entity: u64,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::ScheduledInPast { now, at, kind, entity } => write!(
                f,
                "a model scheduled an event (kind {kind}, entity {entity}) at {at}, before the current time {now}"
            ),
        }
    }
}

impl std::error::Error for EngineError {}

/// The summary of a finished run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub stop: Stop,
    pub events: u64,
    pub digest: Digest,
    /// Simulated time at the end: the horizon, or the time of the last event for early stops.
    pub end: SimTime,
}

/// The context a model sees: the clock and the queue.
pub struct Sim<E> {
    now: SimTime,
    queue: EventQueue<E>,
    error: Option<EngineError>,
    stop_requested: bool,
    digest_key: fn(&E) -> (u32, u64),
}

impl<E: Copy> Sim<E> {
    pub fn new<M: Model<Event = E>>() -> Self {
        Sim {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(1024),
            error: None,
            stop_requested: false,
            digest_key: M::digest_key,
        }
    }

    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at the absolute time `at`, which must not be in the past.
    #[inline]
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        if at < self.now {
            self.record_past(at, &event);
            return;
        }
        self.queue.schedule(at, event);
    }

    /// Schedules `event` after `delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.queue.schedule(self.now.after(delay), event);
    }

    /// Schedules a cancellable timer after `delay`.
    #[inline]
    pub fn timer_in(&mut self, delay: SimDuration, event: E) -> TimerId {
        self.queue.schedule_timer(self.now.after(delay), event)
    }

    /// Cancels a timer; returns whether it was still pending.
    #[inline]
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.queue.cancel(id)
    }

    /// Asks the run loop to stop after this event, with `Stop::Model`.
    pub fn request_stop(&mut self) {
        self.stop_requested = true;
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    fn record_past(&mut self, at: SimTime, event: &E) {
        if self.error.is_none() {
            let (kind, entity) = (self.digest_key)(event);
            self.error = Some(EngineError::ScheduledInPast {
                now: self.now,
                at,
                kind,
                entity,
            });
        }
    }
}

/// Runs `model` until the horizon, an empty queue, the event limit or a model stop.
pub fn run<M: Model>(
    model: &mut M,
    sim: &mut Sim<M::Event>,
    limits: Limits,
) -> Result<RunOutcome, EngineError> {
    let mut digest = Digest::default();
    let mut events: u64 = 0;
    let stop = loop {
        if events >= limits.events_max {
            break Stop::EventsMax;
        }
        let (time, event) = match sim.queue.pop_until(limits.horizon) {
            Next::Event(time, event) => (time, event),
            Next::Later => break Stop::Horizon,
            Next::Empty => break Stop::QueueEmpty,
        };
        debug_assert!(time >= sim.now, "time went backwards");
        sim.now = time;
        let (kind, entity) = M::digest_key(&event);
        digest.fold(time.as_ns(), kind, entity);
        events += 1;
        model.handle(sim, event);
        // One well-predicted test per event; the rare cases are sorted out inside.
        if sim.error.is_some() || sim.stop_requested {
            if let Some(e) = sim.error.take() {
                return Err(e);
            }
            break Stop::Model;
        }
    };
    let end = match stop {
        Stop::Horizon | Stop::QueueEmpty => limits.horizon,
        Stop::EventsMax | Stop::Model => sim.now,
    };
    sim.now = sim.now.max(end);
    Ok(RunOutcome {
        stop,
        events,
        digest,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that records what it saw and can be told to misbehave.
    struct Recorder {
        seen: Vec<(u64, u32)>,
        spawn_past: bool,
    }

    impl Model for Recorder {
        type Event = u32;
        fn handle(&mut self, sim: &mut Sim<u32>, e: u32) {
            self.seen.push((sim.now().as_ns(), e));
            if e < 5 {
                sim.schedule_in(SimDuration::from_ns(10), e + 1);
            }
            if self.spawn_past && e == 3 {
                sim.schedule_at(SimTime::from_ns(1), 99);
            }
        }
        fn digest_key(e: &u32) -> (u32, u64) {
            (1, u64::from(*e))
        }
    }

    fn limits(horizon: u64, events_max: u64) -> Limits {
        Limits {
            horizon: SimTime::from_ns(horizon),
            events_max,
        }
    }

    #[test]
    fn runs_to_empty_queue_and_digests() {
        let mut m = Recorder {
            seen: vec![],
            spawn_past: false,
        };
        let mut sim = Sim::new::<Recorder>();
        sim.schedule_at(SimTime::ZERO, 0);
        let out = run(&mut m, &mut sim, limits(1_000, 1_000)).unwrap();
        assert_eq!(out.stop, Stop::QueueEmpty);
        assert_eq!(out.events, 6);
        assert_eq!(m.seen.last(), Some(&(50, 5)));

        let mut m2 = Recorder {
            seen: vec![],
            spawn_past: false,
        };
        let mut sim2 = Sim::new::<Recorder>();
        sim2.schedule_at(SimTime::ZERO, 0);
        assert_eq!(
            run(&mut m2, &mut sim2, limits(1_000, 1_000))
                .unwrap()
                .digest,
            out.digest
        );
    }

    #[test]
    fn horizon_and_event_guards() {
        let mut m = Recorder {
            seen: vec![],
            spawn_past: false,
        };
        let mut sim = Sim::new::<Recorder>();
        sim.schedule_at(SimTime::ZERO, 0);
        let out = run(&mut m, &mut sim, limits(25, 1_000)).unwrap();
        assert_eq!(
            (out.stop, out.events, out.end),
            (Stop::Horizon, 3, SimTime::from_ns(25))
        );

        let mut m = Recorder {
            seen: vec![],
            spawn_past: false,
        };
        let mut sim = Sim::new::<Recorder>();
        sim.schedule_at(SimTime::ZERO, 0);
        let out = run(&mut m, &mut sim, limits(1_000, 2)).unwrap();
        assert_eq!((out.stop, out.events), (Stop::EventsMax, 2));
    }

    #[test]
    fn cancelled_timers_do_not_fire_or_hide_later_events() {
        let mut m = Recorder {
            seen: vec![],
            spawn_past: false,
        };
        let mut sim = Sim::new::<Recorder>();
        let t = sim.timer_in(SimDuration::from_ns(10), 7);
        sim.schedule_at(SimTime::from_ns(30), 5);
        assert!(sim.cancel(t));
        let out = run(&mut m, &mut sim, limits(20, 1_000)).unwrap();
        assert_eq!((out.stop, out.events), (Stop::Horizon, 0));
        // The event after the horizon is still queued: a longer run picks it up.
        let out = run(&mut m, &mut sim, limits(100, 1_000)).unwrap();
        assert_eq!((out.stop, out.events), (Stop::QueueEmpty, 1));
        assert_eq!(m.seen, vec![(30, 5)]);

        // Only a cancelled timer after the horizon: the run ends at the horizon, as before.
        let t = sim.timer_in(SimDuration::from_ns(500), 7);
        assert!(sim.cancel(t));
        let out = run(&mut m, &mut sim, limits(200, 1_000)).unwrap();
        assert_eq!((out.stop, out.events), (Stop::Horizon, 0));
        let out = run(&mut m, &mut sim, limits(1_000, 1_000)).unwrap();
        assert_eq!((out.stop, out.events), (Stop::QueueEmpty, 0));
    }

    #[test]
    fn scheduling_into_the_past_is_an_error() {
        let mut m = Recorder {
            seen: vec![],
            spawn_past: true,
        };
        let mut sim = Sim::new::<Recorder>();
        sim.schedule_at(SimTime::ZERO, 0);
        let err = run(&mut m, &mut sim, limits(1_000, 1_000)).unwrap_err();
        assert_eq!(
            err,
            EngineError::ScheduledInPast {
                now: SimTime::from_ns(30),
                at: SimTime::from_ns(1),
                kind: 1,
                entity: 99
            }
        );
        assert!(err.to_string().contains("before the current time"));
    }
}
