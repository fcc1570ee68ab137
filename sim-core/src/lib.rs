//! Faultline's engine: a small, generic, deterministic discrete-event simulator.
//!
//! - [`time`]: `SimTime` and `SimDuration`, integer nanoseconds with human units.
//! - [`queue`]: the event queue, ordered by (time, insertion sequence), with cancellable timers.
//! - [`rng`]: one seeded ChaCha8 stream per named component and purpose.
//! - [`engine`]: the run loop with horizon and event-count guards, and the run digest.
//!
//! **Architecture invariant:** this crate knows nothing of services, scenario files, RON, clap or
//! plotters. It never reads the wall clock and never iterates a hash map.

pub mod digest;
pub mod engine;
pub mod queue;
pub mod rng;
pub mod time;

pub use digest::Digest;
pub use engine::{run, EngineError, Limits, Model, RunOutcome, Sim, Stop};
pub use queue::{EventQueue, TimerId};
pub use rng::{RngFactory, Stream};
pub use time::{ParseDurationError, SimDuration, SimTime};
