//! Faultline's reports: turn run results into text for people (tables) and machines (JSON).
//!
//! **Architecture invariant:** this crate never runs a simulation; it reads
//! [`models::results`] structs, which are plain data.

pub mod check;
pub mod comparison;
pub mod csv;
pub mod edges;
pub mod format;
pub mod headline;
pub mod html;
pub mod markdown;
pub mod metric;
pub mod network;
pub mod plan;
pub mod runlog;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod table;
pub mod timeline;
pub mod trace;

use models::RunResult;

/// One run as a JSON document (pretty-printed, with a final newline). Field order follows the
/// struct definitions, and floats print by the shortest round-trip rule, so the same result always
/// gives the same bytes.
pub fn run_json(result: &RunResult) -> String {
    let mut s = serde_json::to_string_pretty(result)
        .expect("results serialize: no maps with non-string keys");
    s.push('\n');
    s
}
