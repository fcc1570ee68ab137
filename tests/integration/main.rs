//! All integration tests in one binary (it builds and links once). Most tests are scenario files
//! plus assertions: the catalog in `scenarios/` is documentation, test data and regression suite.

mod actions;
mod architecture;
mod caches;
mod cli;
mod contention;
mod defences;
mod determinism;
mod errors;
mod failures;
mod golden;
mod incidents;
mod json;
mod limits;
mod network;
mod overload;
mod plan;
mod props;
mod queueing;
mod queues;
mod readme;
mod reference;
mod replay;
mod slo;
mod sweep;
mod targeting;
mod trace;

use std::path::{Path, PathBuf};

/// Whether this is the quick edit-test loop (`FAULTLINE_QUICK=1`): the heaviest tests (every
/// catalog scenario's expectations, the golden digests, the catalog run twice) skip themselves
/// and property tests run 16 cases instead of 256, so the suite takes seconds instead of a
/// minute. `.ci/run` and the README's test command run everything.
pub fn quick() -> bool {
    std::env::var_os("FAULTLINE_QUICK").is_some_and(|v| v == "1")
}

/// In the quick loop, says that `test` is skipped and returns true.
pub fn skip_slow(test: &str) -> bool {
    let skip = quick();
    if skip {
        eprintln!("{test}: skipped in the quick loop (FAULTLINE_QUICK=1)");
    }
    skip
}

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
