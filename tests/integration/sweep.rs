//! Many runs: variants on common random numbers, job-count independence, `check` verdicts.

use crate::repo_path;
use faultline::SweepOptions;

fn opts(runs: u32, jobs: usize) -> SweepOptions {
    SweepOptions {
        runs: Some(runs),
        jobs: Some(jobs),
        ..Default::default()
    }
}

/// All report files of a sweep of `rel`, as bytes, in a fixed order.
fn report_bytes(rel: &str, o: &SweepOptions, dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let study = faultline::load_study(&repo_path(rel)).unwrap();
    let (summary, agg) = faultline::study_summary(&study, o, &|| {}).unwrap();
    faultline::write_reports(dir, &summary, &agg).unwrap();
    faultline::verify_reports(dir).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn reports_are_identical_for_any_number_of_jobs() {
    let tmp = std::env::temp_dir().join(format!("faultline-jobs-{}", std::process::id()));
    let one = report_bytes("scenarios/quickstart.ron", &opts(6, 1), &tmp.join("j1"));
    let two = report_bytes("scenarios/quickstart.ron", &opts(6, 2), &tmp.join("j2"));
    let names: Vec<&str> = one.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"summary.json")
            && names.contains(&"runs.csv")
            && names.contains(&"report.md")
            && names.contains(&"report.html"),
        "{names:?}"
    );
    assert_eq!(one, two, "reports differ between --jobs 1 and --jobs 2");
    // No capacities: no section of links and disks anywhere.
    for (name, bytes) in &one {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("Links and disks"), "{name}");
        assert!(!text.contains("\"network\""), "{name}");
    }
    let _ = std::fs::remove_dir_all(tmp);
}

/// A scenario with capacities: the section of links and disks is in every report, and the same
/// bytes whatever the number of jobs.
#[test]
fn network_reports_are_identical_for_any_number_of_jobs() {
    let tmp = std::env::temp_dir().join(format!("faultline-netjobs-{}", std::process::id()));
    let rel = "scenarios/network/backup.ron";
    let one = report_bytes(rel, &opts(3, 1), &tmp.join("j1"));
    let two = report_bytes(rel, &opts(3, 2), &tmp.join("j2"));
    assert_eq!(one, two, "reports differ between --jobs 1 and --jobs 2");
    let file = |name: &str| {
        let (_, bytes) = one.iter().find(|(n, _)| n == name).unwrap();
        String::from_utf8_lossy(bytes).into_owned()
    };
    assert!(file("report.md").contains("## Links and disks"));
    assert!(file("report.md").contains("### Transfers"));
    assert!(file("report.html").contains("<h2>Links and disks</h2>"));
    assert!(file("report.html").contains("aria-label=\"dc/a/r0/h0 · disk queue\""));
    let summary: serde_json::Value = serde_json::from_str(&file("summary.json")).unwrap();
    let net = &summary["variants"][0]["network"];
    assert_eq!(net["runs"], 3);
    assert_eq!(net["transfers"][0]["name"], "backup");
    assert!(net["links"].as_array().is_some_and(|l| !l.is_empty()));
    let _ = std::fs::remove_dir_all(tmp);
}

#[test]
fn variants_share_random_numbers() {
    // Common random numbers: a change that does not touch the workload leaves arrivals alone, so
    // the same run index offers the same requests to every variant.
    let study = faultline::load_study(&repo_path("scenarios/quickstart.ron")).unwrap();
    let (_, agg) = faultline::study_summary(&study, &opts(3, 2), &|| {}).unwrap();
    let arrivals = |v: usize| {
        agg.variants[v]
            .records()
            .map(|r| r.services[0].counts.arrived)
            .collect::<Vec<_>>()
    };
    assert_eq!(arrivals(0), arrivals(1));
    let digests = |v: usize| {
        agg.variants[v]
            .records()
            .map(|r| r.digest.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(digests(0), digests(1), "the variants do differ");
}

#[test]
fn check_fails_when_expectations_do_not_hold() {
    let outcome = faultline::check(&repo_path("tests/data/violated.ron"), &opts(8, 2)).unwrap();
    let holds: Vec<bool> = outcome
        .summary
        .expectations
        .iter()
        .map(|v| v.holds)
        .collect();
    // Overloaded: availability and latency fail; one worker is not better than two; two workers
    // (rho = 0.6) keep availability.
    assert_eq!(
        holds,
        [false, false, false, true],
        "{:#?}",
        outcome.summary.expectations
    );
    assert!(!outcome.all_hold);
    let availability = &outcome.summary.expectations[0];
    assert!(
        availability.measured.starts_with("0% of runs (0/8)"),
        "{}",
        availability.measured
    );
}

#[test]
fn every_catalog_scenario_passes_its_own_expectations() {
    if crate::skip_slow("every_catalog_scenario_passes_its_own_expectations") {
        return;
    }
    let mut files = crate::determinism::walk(&repo_path("scenarios"));
    files.sort();
    let mut checked = 0;
    for path in files {
        let study = faultline::load_study(&path).unwrap_or_else(|e| panic!("{e}"));
        if study.study.spec.expect.is_empty() {
            continue;
        }
        let outcome = faultline::check(&path, &SweepOptions::default()).unwrap();
        assert!(
            outcome.all_hold,
            "{} fails its expectations; reproduce with: faultline check {}\n{}",
            path.display(),
            path.display(),
            reports::table::render_summary(&outcome.summary)
        );
        checked += 1;
    }
    assert!(checked >= 1);
}

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn read(dir: &std::path::Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

fn tmp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn merged_shards_equal_one_machine_byte_for_byte() {
    let tmp = tmp_dir("shards");
    let file = repo_path("scenarios/quickstart.ron");
    let compare = |extra: &[&str], out: &str| {
        let status = bin()
            .arg("compare")
            .arg(&file)
            .args(["--runs", "5", "-q", "--out"])
            .arg(tmp.join(out))
            .args(extra)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    compare(&[], "all");
    for i in 0..3 {
        compare(&["--shard", &format!("{i}/3")], &format!("s{i}"));
    }
    let status = bin()
        .arg("merge")
        .args((0..3).map(|i| tmp.join(format!("s{i}"))))
        .arg("--out")
        .arg(tmp.join("merged"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for f in ["summary.json", "runs.csv", "report.md", "report.html"] {
        assert!(
            read(&tmp.join("all"), f) == read(&tmp.join("merged"), f),
            "{f} differs after merge"
        );
    }
    // A missing shard is an error that says so, not a partial report.
    let out = bin()
        .arg("merge")
        .arg(tmp.join("s0"))
        .arg(tmp.join("s1"))
        .arg("--out")
        .arg(tmp.join("partial"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(tmp);
}

#[test]
fn a_killed_sweep_resumes_to_the_same_report() {
    let tmp = tmp_dir("resume");
    let file = repo_path("scenarios/quickstart.ron");
    let args = |out: &str| {
        vec![
            "compare".to_string(),
            file.display().to_string(),
            "--runs".into(),
            "12".into(),
            "-j".into(),
            "1".into(),
            "-q".into(),
            "--out".into(),
            tmp.join(out).display().to_string(),
        ]
    };
    assert!(bin()
        .args(args("whole"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success());
    // Start the same sweep, kill it once a few runs are logged, then resume.
    let mut child = bin()
        .args(args("killed"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = tmp.join("killed/runs.jsonl");
    let deadline = std::time::Duration::from_secs(60);
    let mut waited = std::time::Duration::ZERO;
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 4 {
        assert!(waited < deadline, "no runs logged in time");
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += std::time::Duration::from_millis(20);
    }
    child.kill().unwrap();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap().lines().count() - 1;
    assert!(
        logged < 24,
        "the sweep finished before it was killed ({logged} runs); nothing was tested"
    );
    // Simulate a crash in the middle of a write: a half line at the end.
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"variant\":\"base\",\"res");
    std::fs::write(&log, text).unwrap();
    let mut resume = args("killed");
    resume.push("--resume".into());
    let status = bin()
        .args(&resume)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for f in ["summary.json", "runs.csv", "report.md", "report.html"] {
        assert!(
            read(&tmp.join("whole"), f) == read(&tmp.join("killed"), f),
            "{f} differs after resume"
        );
    }
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(lines, 1 + 24, "header plus each run once");
    let _ = std::fs::remove_dir_all(tmp);
}

#[test]
fn shard_specs_are_checked() {
    for (spec, message) in [
        ("3/2", "must be below the count"),
        ("1/0", "at least 1"),
        ("x", "INDEX/COUNT"),
    ] {
        let out = bin()
            .args([
                "compare",
                "scenarios/quickstart.ron",
                "--out",
                "/tmp/unused",
                "--shard",
                spec,
            ])
            .current_dir(crate::root())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{spec}: {err}");
    }
}

#[test]
fn precision_target_doubles_runs_until_reached() {
    let loaded = faultline::load_study(&repo_path("scenarios/quickstart.ron")).unwrap();
    let precision = faultline::sweep::Precision::parse("p99:frontend:1%", 64).unwrap();
    let o = SweepOptions {
        runs: Some(4),
        jobs: Some(2),
        precision: Some(precision.clone()),
        ..Default::default()
    };
    let agg = faultline::sweep(&loaded.study, &loaded.source, &o, &|| {}).unwrap();
    let n = agg.n_runs;
    assert!([4, 8, 16, 32, 64].contains(&n), "runs double from 4: {n}");
    let half = |agg: &reports::sweep::Aggregate| {
        agg.variants
            .iter()
            .map(|v| {
                let e = reports::summary::estimate(
                    &v.values(0, reports::sweep::MetricKind::LatencyP99),
                )
                .unwrap();
                e.half_width / e.mean
            })
            .fold(0.0, f64::max)
    };
    assert!(
        n == 64 || half(&agg) <= 0.01,
        "stopped at {n} runs without reaching the target"
    );
    // One doubling fewer would not have been enough.
    let fewer = SweepOptions {
        runs: Some((n / 2) as u32),
        jobs: Some(2),
        ..Default::default()
    };
    let agg_fewer = faultline::sweep(&loaded.study, &loaded.source, &fewer, &|| {}).unwrap();
    assert!(
        half(&agg_fewer) > 0.01,
        "{} runs were already enough",
        n / 2
    );
    assert!(faultline::sweep::Precision::parse("p98:frontend:1%", 10)
        .unwrap_err()
        .contains("unknown metric `p98`"));
}
