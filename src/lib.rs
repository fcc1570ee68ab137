//! Faultline as a library: the operations the CLI offers, callable from Rust (for example from a
//! `cargo test` that pins an architecture decision).

use std::fmt;
use std::path::Path;

pub use models::{results, RunResult, ScenarioError, World};

/// Anything that can go wrong in an operation.
#[derive(Debug)]
pub enum Error {
    /// The scenario file is unreadable or invalid: the user's input (exit code 2).
    Scenario(ScenarioError),
    /// The simulation itself failed: a bug in Faultline (exit code 3).
    Run(models::RunError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Scenario(e) => e.fmt(f),
            Error::Run(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<ScenarioError> for Error {
    fn from(e: ScenarioError) -> Self {
        Error::Scenario(e)
    }
}

impl From<models::RunError> for Error {
    fn from(e: models::RunError) -> Self {
        Error::Run(e)
    }
}

/// Loads and validates a scenario file.
pub fn load(path: &Path) -> Result<World, Error> {
    Ok(models::load_file(path)?)
}

/// Runs one simulation of a scenario file; `seed` overrides the file's seed.
pub fn run_file(path: &Path, seed: Option<u64>) -> Result<RunResult, Error> {
    let world = load(path)?;
    run_world(&world, seed)
}

/// Runs one simulation of a loaded world; `seed` overrides the world's seed.
pub fn run_world(world: &World, seed: Option<u64>) -> Result<RunResult, Error> {
    Ok(models::run_world(world, seed.unwrap_or(world.seed), 0)?)
}
