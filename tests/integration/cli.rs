//! The command line as a user meets it: exit codes, output formats, and what bad input prints.

use crate::{load, repo_path, root};
use std::process::{Command, Output};

const QUICKSTART: &str = "scenarios/quickstart.ron";

/// Runs the built `faultline` binary from the repository root, so that paths in its messages are
/// the relative ones given here.
pub(crate) fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the faultline binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// What a crash looks like on stderr; a user must never see it, whatever the input.
fn assert_no_panic(args: &[&str], out: &Output) {
    let err = stderr(out);
    for sign in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(
            !err.contains(sign),
            "`faultline {}` crashed:\n{err}",
            args.join(" ")
        );
    }
    assert_ne!(
        out.status.code(),
        Some(101),
        "`faultline {}` panicked",
        args.join(" ")
    );
}

fn json(args: &[&str]) -> (Vec<u8>, serde_json::Value) {
    let out = faultline(args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("`faultline {}` does not print JSON: {e}", args.join(" ")));
    (out.stdout, doc)
}

#[test]
fn run_prints_a_table_naming_every_service() {
    let out = faultline(&["run", QUICKSTART]);
    assert_no_panic(&["run", QUICKSTART], &out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    let world = load(QUICKSTART);
    assert!(!world.services.is_empty());
    for service in &world.services {
        assert!(
            table.contains(&service.name),
            "the table does not name service `{}`:\n{table}",
            service.name
        );
    }
}

#[test]
fn json_output_is_deterministic_and_versioned() {
    let args = ["run", QUICKSTART, "--format", "json"];
    let (first, doc) = json(&args);
    let (second, _) = json(&args);
    assert!(
        first == second,
        "two runs of the same seed print different JSON"
    );
    assert_eq!(doc["schema_version"], 1, "{doc:#}");
    assert!(doc["digest"].is_string(), "no digest in {doc:#}");
}

#[test]
fn seed_flag_changes_the_digest() {
    let (_, base) = json(&["run", QUICKSTART, "--format", "json"]);
    let (_, seven) = json(&["run", QUICKSTART, "--format", "json", "--seed", "7"]);
    assert_eq!(seven["seed"], 7);
    assert_ne!(
        base["digest"], seven["digest"],
        "--seed 7 did not change the run"
    );
}

#[test]
fn validate_accepts_a_good_file() {
    let out = faultline(&["validate", QUICKSTART]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn validate_rejects_a_bad_file_with_its_location() {
    let file = "tests/bad/call-unknown-service.ron";
    let out = faultline(&["validate", file]);
    assert_no_panic(&["validate", file], &out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    // The first line of the expected error: file:line:col, field path, message, suggestion.
    let expected = std::fs::read_to_string(repo_path("tests/bad/call-unknown-service.err"))
        .expect("the expected error exists");
    let first = expected
        .lines()
        .next()
        .expect("the expected error is not empty");
    assert!(first.starts_with(&format!("{file}:10:30: ")), "{first}");
    assert!(err.contains(first), "stderr lacks `{first}`:\n{err}");
    assert!(err.contains("did you mean `catalog`?"), "{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

/// Every broken file of the corpus, through both commands that read a scenario: exit code 2, a
/// located message on stderr, never a crash.
/// A setting that cannot take effect is a warning: every command that loads the file prints it
/// to stderr (with file, line, column and field path) and goes on, with its usual exit code.
#[test]
fn warnings_go_to_stderr_and_leave_the_exit_code_alone() {
    let file = "tests/bad/warn-shed-no-queue.ron";
    let warning = format!("{file}:12:19: warning in `services.catalog.shed`: ");
    for args in [
        vec!["validate", file],
        vec!["run", file],
        vec![
            "compare",
            file,
            "--runs",
            "2",
            "--out",
            "target/warn-compare",
        ],
    ] {
        let out = faultline(&args);
        assert_no_panic(&args, &out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&warning),
            "`{args:?}`: {}",
            stderr(&out)
        );
    }
}

#[test]
fn every_bad_file_exits_2_without_a_panic() {
    let dir = repo_path("tests/bad");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/bad is readable")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".ron") && !n.starts_with("warn-"))
        .map(|n| format!("tests/bad/{n}"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in &files {
        for command in ["validate", "run"] {
            let args = [command, file.as_str()];
            let out = faultline(&args);
            assert_no_panic(&args, &out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "`faultline {command} {file}`:\n{}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.starts_with(&format!("{file}:")),
                "`faultline {command} {file}` does not name the file first:\n{err}"
            );
        }
    }
}

#[test]
fn a_missing_file_exits_2_with_a_clear_message() {
    let file = "scenarios/no-such-scenario.ron";
    for command in ["run", "validate"] {
        let args = [command, file];
        let out = faultline(&args);
        assert_no_panic(&args, &out);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with(&format!("{file}: ")), "{err}");
        assert!(err.to_lowercase().contains("no such file"), "{err}");
    }
}

#[test]
fn a_directory_is_not_a_scenario() {
    let out = faultline(&["run", "scenarios"]);
    assert_no_panic(&["run", "scenarios"], &out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("directory"), "{}", stderr(&out));
}

#[test]
fn an_unknown_flag_exits_2() {
    let args = ["run", QUICKSTART, "--sed", "7"];
    let out = faultline(&args);
    assert_no_panic(&args, &out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--sed"), "{err}");
    assert!(err.contains("--seed"), "no suggestion of `--seed`:\n{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn a_bad_seed_value_exits_2() {
    let args = ["run", QUICKSTART, "--seed", "seven"];
    let out = faultline(&args);
    assert_no_panic(&args, &out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("seven"), "{}", stderr(&out));
}

#[test]
fn new_writes_a_starter_that_passes_its_own_check() {
    let dir = std::env::temp_dir().join(format!("faultline-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_faultline");
    let out = std::process::Command::new(bin)
        .args(["new", "shop"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = std::process::Command::new(bin)
        .args(["check", "shop.ron", "--quiet", "--runs", "8"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // It never overwrites a file.
    let again = std::process::Command::new(bin)
        .args(["new", "shop"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let completions = std::process::Command::new(bin)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(
        completions.status.success()
            && String::from_utf8_lossy(&completions.stdout).contains("faultline")
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `validate` lists what reports and `Detected(fault:)` call each fault: its name, or its label.
#[test]
fn validate_lists_the_faults_by_name_or_label() {
    let file = "scenarios/failures/game-day.ron";
    let out = faultline(&["validate", file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("faults and rollouts, as reports and `Detected(fault:)` name them: ")
        })
        .unwrap_or_else(|| panic!("no list of faults in\n{text}"));
    let study = models::variants::load_study_file(&repo_path(file)).unwrap();
    for f in &study.designs[0].world.faults {
        assert!(line.contains(&format!("`{}`", f.label)), "{line}");
    }
}

/// Runs the binary with `input` on standard input.
fn faultline_with_stdin(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the faultline binary runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input)
        .expect("stdin takes the scenario");
    child.wait_with_output().expect("faultline finishes")
}

/// `--set` takes the paths and values a variant's `set` takes: the quickstart's `db-8-workers`
/// variant is `--set services.db.workers=8`, in either spelling of an index; `--horizon` and
/// `--warmup` are `set`s of their fields.
#[test]
fn set_on_the_command_line_is_a_variant() {
    let (_, variant) = json(&[
        "run",
        QUICKSTART,
        "--variant",
        "db-8-workers",
        "--format",
        "json",
    ]);
    for set in [
        "services.db.workers=8",
        "services[3].workers=8",
        "services.[3].workers=8",
    ] {
        let (_, set) = json(&["run", QUICKSTART, "--set", set, "--format", "json"]);
        assert_eq!(set["digest"], variant["digest"]);
    }
    let (_, base) = json(&["run", QUICKSTART, "--format", "json"]);
    assert_ne!(base["digest"], variant["digest"]);
    let short = [
        "run",
        "scenarios/queueing/mm1-rho50.ron",
        "--format",
        "json",
    ];
    let (_, h) = json(&[&short[..], &["--horizon", "2m", "--warmup", "10s"]].concat());
    let (_, s) = json(
        &[
            &short[..],
            &["--set", r#"horizon="2m""#, "--set", r#"warmup="10s""#],
        ]
        .concat(),
    );
    assert_eq!(h["horizon_ns"], 120_000_000_000u64);
    assert_eq!(h["warmup_ns"], 10_000_000_000u64);
    assert_eq!(h["digest"], s["digest"]);
}

/// A bad override is bad input: exit 2, a message naming the flag and what is wrong.
#[test]
fn bad_overrides_exit_2_with_what_is_wrong() {
    for (args, needle) in [
        (vec!["--set", "services.dbb.workers=2"], "--set services.dbb.workers=2: path `services.dbb.workers`: nothing named `dbb` in `services`; did you mean `db`?"),
        (vec!["--set", r#"services.db.workers="x""#], "error in `services.db.workers`: expected a whole number, found `\"x\"` (with --set services.db.workers=\"x\")"),
        (vec!["--set", "services.db.workers=(("], "the value is not RON text"),
        (vec!["--set", "workers"], "is not PATH=VALUE"),
        (vec!["--horizon", "5parsecs"], "--horizon `5parsecs`: duration `5parsecs` has unknown unit `parsecs`"),
    ] {
        let all = [&["run", QUICKSTART][..], &args[..]].concat();
        let out = faultline(&all);
        assert_no_panic(&all, &out);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{all:?}: {}", stderr(&out));
    }
}

/// `-` reads the scenario from standard input; its errors name `<stdin>`.
#[test]
fn a_scenario_from_standard_input() {
    let text = std::fs::read(repo_path(QUICKSTART)).unwrap();
    let (file, _) = json(&["run", QUICKSTART, "--format", "json"]);
    let out = faultline_with_stdin(&["run", "-", "--format", "json"], &text);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, file);
    let bad = std::fs::read(repo_path("tests/bad/call-unknown-service.ron")).unwrap();
    let out = faultline_with_stdin(&["validate", "-"], &bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("<stdin>:10:30: error in `services.frontend.calls[0].to`"),
        "{}",
        stderr(&out)
    );
}

/// `-v` says what its help promises: wall time, events or runs per second, and the run log;
/// `run --variant` names the variant in its header; `-q` is taken anywhere.
#[test]
fn verbose_says_what_it_promises_and_run_names_its_variant() {
    let out = faultline(&["run", QUICKSTART, "--variant", "db-8-workers", "-v"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("scenario `quickstart`  variant `db-8-workers`  seed 42"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("s wall time") && err.contains("events/s"),
        "{err}"
    );
    let dir = std::env::temp_dir().join(format!("faultline-verbose-{}", std::process::id()));
    let dir_s = dir.display().to_string();
    let args = [
        "-q",
        "compare",
        "scenarios/queueing/mm1-rho50.ron",
        "--runs",
        "2",
        "--horizon",
        "1m",
        "--out",
        &dir_s,
        "-v",
    ];
    let out = faultline(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("2 runs: ") && err.contains("runs/s"), "{err}");
    assert!(
        err.contains(&format!("run log: {}", dir.join("runs.jsonl").display())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
