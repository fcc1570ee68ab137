//! All integration tests in one binary (it builds and links once). Most tests are scenario files
//! plus assertions: the catalog in `scenarios/` is documentation, test data and regression suite.

mod cli;
mod defences;
mod determinism;
mod errors;
mod failures;
mod golden;
mod incidents;
mod props;
mod queueing;
mod readme;
mod reference;
mod replay;
mod sweep;
mod trace;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path below the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    root().join(rel)
}

/// Loads a scenario from the catalog, panicking with the error text if it is invalid.
pub fn load(rel: &str) -> faultline::World {
    faultline::load(&repo_path(rel)).unwrap_or_else(|e| panic!("{rel} does not load:\n{e}"))
}
