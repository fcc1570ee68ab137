//! Golden digests: every catalog scenario (and every scenario in `tests/data/`), every variant,
//! runs 0 and 1 at the file's seed, gives the digest and the `--format json` bytes stored in
//! `tests/golden/`. A refactor keeps these values; a change of behaviour rewrites them in a commit
//! of its own that says why:
//!
//! ```text
//! UPDATE_EXPECT=1 cargo test --release --test integration golden
//! ```
//!
//! `tests/golden/digests.txt` holds one line per (file, variant, run): the digest and an FNV-1a
//! hash and length of the JSON bytes. The base design's run 0 of each catalog scenario is also
//! stored whole (`tests/golden/<file>.json`), so a change shows as a readable diff.

use crate::{determinism::walk, repo_path, root};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const RUNS: u64 = 2;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// The scenario files under golden watch, in a fixed order.
fn files() -> Vec<PathBuf> {
    let mut files = walk(&repo_path("scenarios"));
    files.extend(walk(&repo_path("tests/data")));
    files.sort();
    files
}

/// Runs every file's designs and returns the digest table and the whole JSON of each catalog
/// file's first design, run 0.
fn observe() -> (String, Vec<(String, String)>) {
    let mut table = String::new();
    let mut whole = Vec::new();
    for path in files() {
        let name = rel(&path);
        let loaded = faultline::load_study(&path).unwrap_or_else(|e| panic!("{e}"));
        let seed = loaded.study.spec.seed;
        for (d, design) in loaded.study.designs.iter().enumerate() {
            for run in 0..RUNS {
                let result = faultline::run_guarded(&design.world, seed, run)
                    .unwrap_or_else(|e| panic!("{name} {} run {run}: {e}", design.name))
                    .0;
                let json = reports::run_json(&result);
                writeln!(
                    table,
                    "{name} {} {run} {} {:016x} {}",
                    design.name,
                    result.digest,
                    fnv1a(json.as_bytes()),
                    json.len()
                )
                .unwrap();
                if d == 0 && run == 0 && name.starts_with("scenarios/") {
                    let file = name.trim_start_matches("scenarios/").replace('/', "--");
                    whole.push((file.replace(".ron", ".json"), json));
                }
            }
        }
    }
    (table, whole)
}

#[test]
fn every_scenario_keeps_its_golden_digest_and_json() {
    if crate::skip_slow("every_scenario_keeps_its_golden_digest_and_json") {
        return;
    }
    let dir = repo_path("tests/golden");
    let (table, whole) = observe();
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("digests.txt"), &table).unwrap();
        for (file, json) in &whole {
            std::fs::write(dir.join(file), json).unwrap();
        }
        return;
    }
    let stored = std::fs::read_to_string(dir.join("digests.txt"))
        .expect("tests/golden/digests.txt (create it with UPDATE_EXPECT=1)");
    let changed: Vec<String> = table
        .lines()
        .zip(stored.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  now    {a}\n  stored {b}"))
        .collect();
    assert!(
        changed.is_empty() && table.lines().count() == stored.lines().count(),
        "{} of {} golden runs changed ({} now, {} stored); a refactor must keep them, a change of \
         behaviour rewrites them with UPDATE_EXPECT=1 in a commit of its own:\n{}",
        changed.len(),
        stored.lines().count(),
        table.lines().count(),
        stored.lines().count(),
        changed.join("\n")
    );
    for (file, json) in &whole {
        let stored = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|_| panic!("tests/golden/{file} missing (UPDATE_EXPECT=1)"));
        assert!(stored == *json, "tests/golden/{file} differs from the run");
    }
}
