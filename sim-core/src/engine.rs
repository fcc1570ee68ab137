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

    /// Asked once every [`POLL_EVERY`] events whether the run may go on (a wall-clock guard kept
    /// by the caller, say); `false` stops the run with [`Stop::Model`]. Never changes a run that
    /// goes on.
    fn keep_going(&mut self) -> bool {
        true
    }
}

/// Limits every run carries, so that no run can hang.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events at or before this time are processed; the run ends here.
    pub horizon: SimTime,
    /// The run stops after processing this many events.
    pub events_max: u64,
    /// The run stops when more entries than this are queued at once (cancelled timers included,
    /// as they hold memory until their time comes).
    pub pending_max: usize,
}

/// The run loop polls [`Model::keep_going`] once every this many events: often enough to stop a
/// runaway run within milliseconds, rarely enough to cost nothing measurable.
pub const POLL_EVERY: u64 = 1 << 16;

/// Why a run stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The next event lies beyond the horizon (the normal end).
    Horizon,
    /// Nothing was left to do before the horizon.
    QueueEmpty,
    /// The run processed `events_max` events; its results cover only part of the horizon.
    EventsMax,
    /// The model asked to stop (a guard of its own, such as too many requests in flight), or
    /// said no when polled ([`Model::keep_going`]).
    Model,
    /// More than `pending_max` entries (live events and cancelled timers not yet skipped) were
    /// queued at once: the queue's memory is bounded.
    PendingMax,
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
        if sim.error.is_some()
            || sim.stop_requested
            || sim.queue.len() > limits.pending_max
            || (events.is_multiple_of(POLL_EVERY) && !model.keep_going())
        {
            if let Some(e) = sim.error.take() {
                return Err(e);
            }
            if sim.queue.len() > limits.pending_max {
                break Stop::PendingMax;
            }
            break Stop::Model;
        }
    };
    // A stop asked for after the last event before the horizon is no early stop: the whole
    // horizon was simulated, and the outcome says so.
    let stop = match stop {
        Stop::Model | Stop::PendingMax => match sim.queue.pop_until(limits.horizon) {
            Next::Event(..) => stop,
            Next::Later => Stop::Horizon,
            Next::Empty => Stop::QueueEmpty,
        },
        _ => stop,
    };
    let end = match stop {
        Stop::Horizon | Stop::QueueEmpty => limits.horizon,
        Stop::EventsMax | Stop::Model | Stop::PendingMax => sim.now,
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
            pending_max: usize::MAX,
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

    /// Schedules two events per event (a flood), and says stop when polled after `stop_after`.
    struct Flood {
        polls: u64,
        stop_at_poll: u64,
    }

    impl Model for Flood {
        type Event = u32;
        fn handle(&mut self, sim: &mut Sim<u32>, e: u32) {
            sim.schedule_in(SimDuration::from_ns(1), e);
            sim.schedule_in(SimDuration::from_ns(1_000_000), e);
        }
        fn digest_key(e: &u32) -> (u32, u64) {
            (1, u64::from(*e))
        }
        fn keep_going(&mut self) -> bool {
            self.polls += 1;
            self.polls < self.stop_at_poll
        }
    }

    #[test]
    fn pending_entries_are_bounded() {
        let mut m = Flood {
            polls: 0,
            stop_at_poll: u64::MAX,
        };
        let mut sim = Sim::new::<Flood>();
        sim.schedule_at(SimTime::ZERO, 0);
        let limits = Limits {
            pending_max: 1_000,
            ..limits(u64::MAX, u64::MAX)
        };
        let out = run(&mut m, &mut sim, limits).unwrap();
        assert_eq!((out.stop, out.events), (Stop::PendingMax, 1_000));
        assert_eq!(out.end, SimTime::from_ns(999));
    }

    #[test]
    fn the_model_is_polled_every_65536_events() {
        let mut m = Flood {
            polls: 0,
            stop_at_poll: 3,
        };
        let mut sim = Sim::new::<Flood>();
        sim.schedule_at(SimTime::ZERO, 0);
        let out = run(&mut m, &mut sim, limits(u64::MAX - 1, u64::MAX)).unwrap();
        assert_eq!(
            (out.stop, out.events, m.polls),
            (Stop::Model, 3 * POLL_EVERY, 3)
        );
    }

    #[test]
    fn a_stop_after_the_last_event_is_the_horizon() {
        // Stopped at the poll after event 65,536, which is the last before the horizon.
        let mut m = Flood {
            polls: 0,
            stop_at_poll: 1,
        };
        let mut sim = Sim::new::<Flood>();
        sim.schedule_at(SimTime::ZERO, 0);
        let out = run(&mut m, &mut sim, limits(POLL_EVERY - 1, u64::MAX)).unwrap();
        assert_eq!((out.stop, out.events), (Stop::Horizon, POLL_EVERY));
        assert_eq!(out.end, SimTime::from_ns(POLL_EVERY - 1));
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
