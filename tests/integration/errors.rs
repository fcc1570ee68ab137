//! Bad input: every broken scenario in `tests/bad/` must give its exact error (or, for `warn-`
//! files, which load, its exact warnings).
//!
//! Each `tests/bad/NAME.ron` holds one mistake (or, for the files that test that every problem
//! is collected, several), and `tests/bad/NAME.err` holds the exact text the user gets for it.
//! Run with `UPDATE_EXPECT=1` to rewrite the `.err` files from the current messages, then read the
//! diff: every message there is one a user will meet.

use crate::{repo_path, root};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The corpus directory, relative to the repository root.
const BAD: &str = "tests/bad";

/// The fewest broken files the corpus may hold; a guard against a glob that silently finds none.
const CORPUS_MIN: usize = 30;

/// Every `.ron` file in the corpus (and `.json`: the same checks of JSON scenarios), sorted by
/// name so that reports are stable.
fn corpus() -> Vec<PathBuf> {
    let dir = repo_path(BAD);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron" || x == "json"))
        .collect();
    files.sort();
    files
}

/// `path` relative to the repository root, with `/` separators, as it appears in `.err` files.
fn relative(path: &Path) -> String {
    let rel = path.strip_prefix(root()).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The error text for one bad file, or its warnings when it loads (`warn-` files: settings that
/// cannot take effect), with the absolute path replaced by the relative one; `None` if the file
/// loads without a word (which is itself a failure).
fn error_text(path: &Path) -> Option<String> {
    // A variant's or grid's change is applied when the study (every design) is loaded.
    let loaded = faultline::load(path).and_then(|w| faultline::load_study(path).map(|_| w));
    let text = match loaded {
        Err(err) => err.to_string(),
        Ok(world) if !world.warnings.is_empty() => world.warnings.to_string(),
        Ok(_) => return None,
    };
    let abs = path.display().to_string();
    Some(text.replace(&abs, &relative(path)) + "\n")
}

/// A line-by-line diff of `expected` and `actual`, good enough to see what changed in a message.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => writeln!(out, "    {x}").unwrap(),
            (x, y) => {
                if let Some(x) = x {
                    writeln!(out, "  - {x}").unwrap();
                }
                if let Some(y) = y {
                    writeln!(out, "  + {y}").unwrap();
                }
            }
        }
    }
    out
}

#[test]
fn every_bad_file_gives_its_expected_error() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let files = corpus();
    assert!(
        files.len() >= CORPUS_MIN,
        "{BAD} holds {} scenario files; expected at least {CORPUS_MIN}",
        files.len()
    );
    let mut failures = Vec::new();
    for ron in &files {
        let rel = relative(ron);
        let Some(actual) = error_text(ron) else {
            failures.push(format!(
                "{rel}: loads without error, but every file here is broken"
            ));
            continue;
        };
        let err_path = ron.with_extension("err");
        if update {
            std::fs::write(&err_path, &actual)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", err_path.display()));
            continue;
        }
        match std::fs::read_to_string(&err_path) {
            Err(_) => failures.push(format!(
                "{rel}: no {} (run with UPDATE_EXPECT=1 to create it); the error is:\n{actual}",
                relative(&err_path)
            )),
            Ok(expected) if expected != actual => failures.push(format!(
                "{rel}: the error differs from {} (- expected, + actual):\n{}",
                relative(&err_path),
                diff(&expected, &actual)
            )),
            Ok(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad files fail (UPDATE_EXPECT=1 rewrites the .err files):\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_err_file_belongs_to_a_scenario() {
    let dir = repo_path(BAD);
    let mut orphans: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "err"))
        .filter(|p| !p.with_extension("ron").exists() && !p.with_extension("json").exists())
        .map(|p| relative(&p))
        .collect();
    orphans.sort();
    assert!(
        orphans.is_empty(),
        "expected errors without a scenario: {orphans:?}"
    );
}

#[test]
fn every_error_is_located_and_lowercase() {
    for ron in corpus() {
        let rel = relative(&ron);
        let Some(text) = error_text(&ron) else {
            continue; // reported by `every_bad_file_gives_its_expected_error`
        };
        for line in text.lines() {
            let rest = line.strip_prefix(&rel).unwrap_or_else(|| {
                panic!("{rel}: error line does not start with the file: {line}")
            });
            // `:line:col: error`, then maybe ` in `path``: the source is at hand, so every problem
            // has a line and column.
            let located =
                rest.starts_with(':') && rest[1..].starts_with(|c: char| c.is_ascii_digit());
            let severity = if rel.contains("/warn-") {
                ": warning"
            } else {
                ": error"
            };
            let (_, after) = rest
                .split_once(severity)
                .unwrap_or_else(|| panic!("{rel}: not an{severity} line: {line}"));
            let message = match after.strip_prefix(" in `") {
                Some(path_on) => path_on.split_once("`: ").map_or("", |(_, m)| m),
                None => after.strip_prefix(": ").unwrap_or(""),
            };
            assert!(located, "{rel}: error without a line and column: {line}");
            assert!(
                !message.is_empty(),
                "{rel}: error without a message: {line}"
            );
            assert!(
                !message.starts_with(|c: char| c.is_uppercase()),
                "{rel}: message starts with a capital: {line}"
            );
        }
    }
}

/// A truncated file is the most common broken input (an editor mid-save, a copy that stopped
/// short). No prefix of a valid scenario may panic the loader.
#[test]
fn truncated_scenarios_never_panic() {
    let path = repo_path("scenarios/quickstart.ron");
    let source = std::fs::read_to_string(&path).expect("quickstart.ron is readable");
    assert!(models::load_str("quickstart.ron", &source).is_ok());
    let mut cuts = 0;
    for end in (0..source.len()).step_by(37) {
        let mut end = end;
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = &source[..end];
        // Ok or Err are both fine (a prefix may end inside a comment); a panic fails the test.
        if let Err(e) = models::load_str("quickstart.ron", prefix) {
            assert!(
                !e.problems.is_empty(),
                "an error with no problem for a cut at byte {end}"
            );
        }
        cuts += 1;
    }
    assert!(cuts > 50, "only {cuts} truncations tried");
}
