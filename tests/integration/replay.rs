//! `replay` reproduces a sweep's run bit for bit; `shrink` finds the faults a failure needs.

use crate::repo_path;
use faultline::shrink::ShrinkOptions;
use faultline::{ReplayOptions, SweepOptions};
use std::path::{Path, PathBuf};

const QUICKSTART: &str = "scenarios/quickstart.ron";
const CULPRIT: &str = "tests/data/shrink-culprit.ron";

use crate::cli::faultline;

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A three-run sweep of the quickstart (both variants) with its run log; returns the log's path.
fn logged_sweep(dir: &Path) -> PathBuf {
    let log = dir.join("runs.jsonl");
    let study = faultline::load_study(&repo_path(QUICKSTART)).unwrap();
    let opts = SweepOptions {
        runs: Some(3),
        jobs: Some(2),
        log: Some(log.clone()),
        ..Default::default()
    };
    faultline::sweep(&study.study, &study.source, &opts, &|| {}).unwrap();
    log
}

#[test]
fn replayed_runs_have_the_sweeps_digests() {
    let dir = tmp_dir("replay-digests");
    let log = logged_sweep(&dir);
    let parsed = faultline::sweep::read_log(&log).unwrap();
    assert_eq!(parsed.runs.len(), 6, "two variants, three runs each");
    for logged in &parsed.runs {
        let opts = ReplayOptions {
            variant: Some(logged.variant.clone()),
            run: logged.result.run,
            log: Some(log.clone()),
            ..Default::default()
        };
        let replay = faultline::replay(&repo_path(QUICKSTART), &opts).unwrap();
        assert_eq!(replay.digest_matches(), Some(true), "{}", logged.variant);
        assert_eq!(replay.result.digest, logged.result.digest);
        // Without the log, the scenario's seed is the sweep's: the same run.
        let alone = faultline::replay(&repo_path(QUICKSTART), &ReplayOptions { log: None, ..opts })
            .unwrap();
        assert_eq!(alone.result.digest, logged.result.digest);
        assert_eq!(alone.logged_digest, None);
    }
}

#[test]
fn replay_on_the_command_line_checks_the_logged_digest() {
    let dir = tmp_dir("replay-cli");
    let log = logged_sweep(&dir);
    let log_arg = log.to_str().unwrap();
    let args = [
        "replay",
        QUICKSTART,
        "--variant",
        "db-8-workers",
        "--run",
        "1",
        "--log",
        log_arg,
    ];
    let out = faultline(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("digest matches the sweep's record"),
        "{printed}"
    );
    assert!(printed.contains("service "), "the run's table:\n{printed}");

    // A log whose record of the run holds another digest.
    let parsed = faultline::sweep::read_log(&log).unwrap();
    let record = parsed
        .runs
        .iter()
        .find(|r| r.variant == "db-8-workers" && r.result.run == 1)
        .unwrap();
    let digest = &record.result.digest;
    // Another digest of the same length: the first hex digit changed.
    let first = if digest.starts_with('0') { "1" } else { "0" };
    let tampered_digest = format!("{first}{}", &digest[1..]);
    let original = std::fs::read_to_string(&log).unwrap();
    assert_eq!(original.matches(digest.as_str()).count(), 1, "{digest}");
    // Rewritten with a valid checksum (a line merely edited is refused before replay reads it).
    let mut forged = record.clone();
    forged.result.digest = tampered_digest.clone();
    let tampered_text: String = original
        .split_inclusive('\n')
        .map(|line| match line.contains(digest.as_str()) {
            true => forged.to_line(),
            false => line.to_string(),
        })
        .collect();
    let tampered = dir.join("tampered.jsonl");
    std::fs::write(&tampered, tampered_text).unwrap();
    let mut tampered_args = args;
    tampered_args[7] = tampered.to_str().unwrap();
    let out = faultline(&tampered_args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("digest differs from the sweep's record"),
        "{printed}"
    );
    assert!(printed.contains(&tampered_digest), "{printed}");

    // A run the log does not hold: exit 2, saying what it holds.
    let mut missing_args = args;
    missing_args[5] = "7";
    let out = faultline(&missing_args);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("no record of run 7 of `db-8-workers`")
            && err.contains("runs 0-2 of `base`, runs 0-2 of `db-8-workers`"),
        "{err}"
    );

    // A log of another scenario, and a seed other than the log's: refused.
    let out = faultline(&["replay", CULPRIT, "--log", log_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("another scenario (values, names"));
    let mut seed_args = args.to_vec();
    seed_args.extend(["--seed", "7"]);
    let out = faultline(&seed_args);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--seed 7 differs"));
}

/// The log hashes the parsed scenario, not its text: an edited comment or layout still replays;
/// a changed value does not. A log from before (its hash of the text, no `hashed`) still replays
/// the text it ran; one whose hash is of something unknown is refused, saying so.
#[test]
fn replay_survives_an_edited_comment_and_old_logs_stay_readable() {
    let dir = tmp_dir("replay-comment");
    let log = logged_sweep(&dir);
    let source = std::fs::read_to_string(repo_path(QUICKSTART)).unwrap();
    let replay = |text: &str, log: &Path| {
        let loaded = faultline::Input::from_text(QUICKSTART, text)
            .load()
            .unwrap();
        let opts = ReplayOptions {
            variant: Some("base".into()),
            run: 2,
            log: Some(log.to_path_buf()),
            ..Default::default()
        };
        faultline::replay::replay_loaded(&loaded, &opts).map(|r| r.digest_matches())
    };
    assert_eq!(replay(&source, &log).unwrap(), Some(true));
    let edited = format!(
        "// a new first line
{}",
        source.replace("    ", "      ")
    );
    assert_eq!(replay(&edited, &log).unwrap(), Some(true));
    let changed = source.replacen("seed: 42", "seed: 43", 1);
    assert_ne!(changed, source);
    let e = replay(&changed, &log).unwrap_err().to_string();
    assert!(
        e.contains("records a sweep of another scenario (values"),
        "{e}"
    );

    // An old log: the header without `hashed`, its hash of the text.
    let parsed = faultline::sweep::read_log(&log).unwrap();
    let rest: String = std::fs::read_to_string(&log)
        .unwrap()
        .split_inclusive('\n')
        .skip(1)
        .collect();
    let with_header = |header: reports::runlog::LogHeader, name: &str| {
        let path = dir.join(name);
        std::fs::write(&path, header.to_line() + &rest).unwrap();
        path
    };
    let mut old = parsed.header.clone();
    old.hashed = String::new();
    old.source_hash = format!("{:016x}", sim_core::rng::stable_hash(&[source.as_bytes()]));
    let old_log = with_header(old, "old.jsonl");
    assert_eq!(replay(&source, &old_log).unwrap(), Some(true));
    let e = replay(&edited, &old_log).unwrap_err().to_string();
    assert!(
        e.contains("the log predates hashing the parsed scenario"),
        "{e}"
    );
    let mut future = parsed.header.clone();
    future.hashed = "bytecode".into();
    let e = replay(&source, &with_header(future, "future.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("its scenario hash is of `bytecode`, which this faultline does not know"),
        "{e}"
    );
}

/// The scenario's text with its `faults: [ ... ],` block replaced by `block`.
fn with_faults(source: &str, block: &str) -> String {
    let start = source.find("    faults: [").expect("a faults block");
    let end = start + source[start..].find("\n    ],\n").expect("its end") + "\n    ],\n".len();
    format!("{}{block}{}", &source[..start], &source[end..])
}

#[test]
fn shrinking_finds_the_one_culprit_among_harmless_faults() {
    let path = repo_path(CULPRIT);
    let outcome = faultline::shrink(&path, &ShrinkOptions::default(), &|_, _| {}).unwrap();
    // The run shrunk is the run a sweep makes.
    let run = faultline::run_variant(&path, Some("base"), None, 0).unwrap();
    assert_eq!(outcome.digest, run.digest);
    let s = outcome.shrunk.expect("the culprit breaks availability");

    assert_eq!(
        s.expect, 1,
        "the availability expectation (the latency one holds)"
    );
    assert_eq!(s.original.len(), 11);
    assert!(!s.limit_hit);
    assert!(s.runs <= 30, "{} runs", s.runs);
    let outage = &s.original[6];
    assert!(matches!(
        outage.what,
        models::spec::FaultKind::Outage { .. }
    ));
    let [found] = s.faults.as_slice() else {
        panic!("not one fault: {:?}", s.faults)
    };
    assert_eq!(found.what, outage.what);
    let (was_at, was_end) = (
        outage.at.0.as_ns(),
        outage.at.0.as_ns() + outage.lasts.unwrap().0.as_ns(),
    );
    let (at, end) = (
        found.at.0.as_ns(),
        found.at.0.as_ns() + found.lasts.unwrap().0.as_ns(),
    );
    assert!(
        was_at <= at && end <= was_end && end - at < was_end - was_at,
        "{found:?}"
    );
    assert!(
        s.verdicts.iter().any(|v| !v.holds),
        "it still breaks the expectation"
    );
    assert!(s.text_verified);

    // Pasted into the scenario, the printed schedule reads back as the one found, still breaks
    // the expectation, and cannot be shrunk further.
    let dir = tmp_dir("shrink-paste");
    let pasted = dir.join("pasted.ron");
    let source = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&pasted, with_faults(&source, &s.text)).unwrap();
    let study = faultline::load_study(&pasted).unwrap();
    assert_eq!(study.study.spec.faults, s.faults, "{}", s.text);
    let again = faultline::shrink(&pasted, &ShrinkOptions::default(), &|_, _| {}).unwrap();
    let again = again.shrunk.expect("the pasted schedule still breaks it");
    assert_eq!(again.faults, s.faults);
}

#[test]
fn shrinking_stops_at_its_limit_on_runs() {
    let opts = ShrinkOptions {
        runs_max: 4,
        ..Default::default()
    };
    let outcome = faultline::shrink(&repo_path(CULPRIT), &opts, &|_, _| {}).unwrap();
    let s = outcome.shrunk.expect("the culprit breaks availability");
    assert!(s.limit_hit);
    assert_eq!(s.runs, 4);
    assert!(s.faults.len() < 11 && s.verdicts.iter().any(|v| !v.holds));
}

#[test]
fn shrink_on_the_command_line() {
    let out = faultline(&["shrink", CULPRIT]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains(
            "    faults: [\n        (at: \"20s\", lasts: \"1s\", what: Outage(service: \"api\")),\n    ],\n"
        ),
        "{printed}"
    );
    assert!(printed.contains("1 of 11 faults, found in"), "{printed}");
    assert_eq!(
        faultline(&["shrink", CULPRIT]).stdout,
        out.stdout,
        "deterministic"
    );

    // An expectation the run keeps: nothing to shrink.
    let out = faultline(&["shrink", CULPRIT, "--expect", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("nothing to shrink"));

    let out = faultline(&["shrink", CULPRIT, "--expect", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the scenario has 2 expectations"));
}
