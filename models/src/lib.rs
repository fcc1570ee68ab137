//! Faultline's models: the scenario format ([`spec`]), its validation into a [`world::World`]
//! ([`validate`]), the simulation of that world on the engine ([`sim`]) and the per-run results
//! ([`results`]).
//!
//! **Architecture invariant:** nothing here reads the wall clock, uses a thread-local RNG, or
//! iterates a `HashMap`; every draw comes from a named stream of [`sim_core::RngFactory`].

pub mod dist;
pub mod error;
pub mod format;
pub mod policy;
pub mod results;
pub mod sim;
pub mod trace;
pub mod validate;
pub mod variants;
pub mod world;

pub use error::{Problem, ScenarioError};
pub use results::RunResult;
pub use sim::{
    run_world, run_world_controlled, run_world_traced, run_world_with_histograms, RunError,
    RunHistograms,
};
pub use validate::{load_file, load_str};
pub use world::World;

// Paths from before scenario loading moved into `format/` and `compile/` (issue #12); the
// simulation, the CLI, the reports and the tests use them.
pub use format::{patch, spec};
