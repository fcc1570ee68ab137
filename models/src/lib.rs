//! Faultline's models: scenario loading ([`format`](mod@format): the file format, its reader and
//! patches), its validation and compilation into a [`world::World`] ([`compile`]), the simulation
//! of that world on the engine ([`sim`]) and the per-run results ([`results`]).
//!
//! **Architecture invariant:** nothing here reads the wall clock, uses a thread-local RNG, or
//! iterates a `HashMap`; every draw comes from a named stream of [`sim_core::RngFactory`].

pub mod compile;
pub mod defences;
pub mod dist;
pub mod error;
mod estimate;
pub mod format;
pub mod network;
pub mod plan;
pub mod results;
pub mod sim;
pub mod sparse_hist;
pub mod trace;
pub mod world;

pub use compile::{load_file, load_str};
pub use error::{Problem, ScenarioError};
pub use results::{RunHistograms, RunResult};
pub use sim::{
    run_world, run_world_controlled, run_world_result, run_world_traced, run_world_with_histograms,
    RunError,
};
pub use world::World;

// The paths from before scenario loading moved into `format/` and `compile/` (issue #12); the
// simulation, the CLI, the reports and the tests use them.
pub use format::{patch, spec};

/// Loading a scenario by its names from before `format/` and `compile/`.
pub mod validate {
    pub use crate::compile::{build, load_file, load_str, HOSTS_MAX, INSTANCES_MAX};
    pub use crate::format::{parse, read_source};
}

/// Designs and studies by their names from before `compile/`.
pub mod variants {
    pub use crate::compile::expect::{metric_service, Threshold};
    pub use crate::compile::study::{
        fault_labels, load_study, load_study_file, Design, Study, SCENARIO_HASHED,
    };
    pub use crate::format::variants::DESIGNS_MAX;
}
