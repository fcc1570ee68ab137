//! Every command the README shows, run as a user would (with fewer runs), in the README's order.
//! If a command or flag in the README stops working, this fails; if `faultline --help` lists a
//! command the README never mentions, this fails too.

use crate::{repo_path, root};
use std::process::Command;

fn faultline(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the faultline binary runs");
    let code = out.status.code().unwrap_or(-1);
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !e.contains("panicked"),
        "`faultline {}` crashed:\n{e}",
        args.join(" ")
    );
    (code, o, e)
}

fn ok(args: &[&str]) -> String {
    let (code, o, e) = faultline(args);
    assert_eq!(
        code,
        0,
        "`faultline {}` exited {code}:\n{o}\n{e}",
        args.join(" ")
    );
    o
}

#[test]
fn every_readme_command_works() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let tmp = std::env::temp_dir().join(format!("faultline-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let t = |name: &str| tmp.join(name).display().to_string();

    // Set-up and a first run.
    assert!(ok(&["run", "scenarios/quickstart.ron"]).contains("ledger balanced"));
    let (code, _, err) = faultline(&["run", "scenarios/quickstart.ron", "-v"]);
    assert!(code == 0 && err.contains("wall time"), "{err}");
    ok(&["completions", "bash"]);
    // Changes for one command, and a scenario from standard input.
    ok(&[
        "run",
        "scenarios/quickstart.ron",
        "--set",
        "services.db.workers=8",
        "--set",
        r#"services[0].work=Exponential(mean: "3ms")"#,
    ]);
    let stdin = std::fs::File::open(repo_path("scenarios/quickstart.ron")).unwrap();
    let piped = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", "-", "--horizon", "2m", "--warmup", "10s"])
        .current_dir(root())
        .stdin(stdin)
        .output()
        .expect("the faultline binary runs");
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    // A first scenario of one's own: it runs and passes its own expectations.
    let starter = t("shop");
    ok(&["new", &starter]);
    ok(&["check", &format!("{starter}.ron"), "--runs", "3", "--quiet"]);
    ok(&["validate", "scenarios/quickstart.ron"]);
    assert!(ok(&["plan", "scenarios/quickstart.ron"]).contains("capacity/s"));
    // Scenarios from programs: the schema, a scenario as JSON, and a run of it.
    assert!(ok(&["schema"]).contains("\"$defs\""));
    let json = ok(&["to-json", "scenarios/quickstart.ron"]);
    std::fs::write(t("quickstart.json"), &json).unwrap();
    assert!(
        ok(&["run", &t("quickstart.json"), "--variant", "db-8-workers"])
            .contains("ledger balanced")
    );
    // The queueing catalog against theory, several files at once.
    let theory = ok(&[
        "check",
        "scenarios/queueing/mm1-rho50.ron",
        "scenarios/queueing/mmcc-erlang-b.ron",
        "--quiet",
    ]);
    assert!(
        theory.contains("== scenarios/queueing/mmcc-erlang-b.ron"),
        "{theory}"
    );
    // Looking inside one run.
    let out = t("q");
    ok(&[
        "compare",
        "scenarios/quickstart.ron",
        "--runs",
        "3",
        "--jobs",
        "2",
        "--out",
        &out,
    ]);
    for f in [
        "report.html",
        "report.md",
        "summary.json",
        "runs.csv",
        "runs.jsonl",
    ] {
        assert!(tmp.join("q").join(f).exists(), "{f} missing");
    }
    let log = format!("{out}/runs.jsonl");
    let replayed = ok(&[
        "replay",
        "scenarios/quickstart.ron",
        "--variant",
        "db-8-workers",
        "--run",
        "2",
        "--log",
        &log,
        "--timeline",
        "--events",
        &t("events.jsonl"),
        "--trace",
        &t("trace.json"),
        "--trace-sample",
        "10",
    ]);
    assert!(replayed.contains("Incident timeline"), "{replayed}");
    assert!(tmp.join("trace.json").exists() && tmp.join("events.jsonl").exists());
    ok(&[
        "replay",
        "scenarios/quickstart.ron",
        "--variant",
        "base",
        "--run",
        "3",
        "--trace",
        &t("trace2.json"),
        "--trace-window",
        "55s..85s",
    ]);
    // Shrinking: the run breaks an expectation, so exit 1 with the minimal schedule.
    let (code, o, _) = faultline(&["shrink", "tests/data/shrink-culprit.ron"]);
    assert_eq!(code, 1, "{o}");
    assert!(o.contains("faults: ["), "{o}");
    // One variant alone, exactly as run K of a sweep; check.
    ok(&[
        "run",
        "scenarios/quickstart.ron",
        "--variant",
        "db-8-workers",
        "--run",
        "2",
    ]);
    let (code, ..) = faultline(&[
        "check",
        "scenarios/quickstart.ron",
        "--runs",
        "3",
        "--quiet",
    ]);
    assert!(code == 0 || code == 1, "check exits 0 or 1, not {code}");
    // Interruptions and clusters: shards, merge, resume, precision.
    ok(&[
        "compare",
        "scenarios/quickstart.ron",
        "--runs",
        "4",
        "--shard",
        "0/2",
        "--out",
        &t("s1"),
        "--quiet",
    ]);
    ok(&[
        "compare",
        "scenarios/quickstart.ron",
        "--runs",
        "4",
        "--shard",
        "1/2",
        "--out",
        &t("s2"),
        "--quiet",
    ]);
    ok(&["merge", &t("s1"), &t("s2"), "--out", &t("all")]);
    assert!(tmp.join("all/report.html").exists());
    ok(&[
        "compare",
        "scenarios/quickstart.ron",
        "--runs",
        "3",
        "--out",
        &out,
        "--resume",
        "--quiet",
    ]);
    ok(&[
        "compare",
        "scenarios/queueing/mm1-rho50.ron",
        "--runs",
        "4",
        "--precision",
        "p99:server:20%",
        "--runs-max",
        "16",
        "--out",
        &t("precision"),
        "--quiet",
    ]);

    // Every command `faultline --help` lists is in the README.
    let help = ok(&["--help"]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 9, "{commands:?}");
    for c in commands {
        assert!(
            readme.contains(&format!("faultline {c}")),
            "the README never shows `faultline {c}`"
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
