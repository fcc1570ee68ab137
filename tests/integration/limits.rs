//! Guards hold against hostile input (issue 19): what a run may hold and how long it may take is
//! bounded, and a run stopped by a guard says which and why; counts, names, ranges and paths a
//! run cannot handle are refused up front with exit 2 and a message naming the limit.

use crate::cli::faultline;
use std::path::PathBuf;

/// Writes `text` as `<name>.ron` in a fresh temporary folder and returns its path.
pub(crate) fn scenario_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let path = dir.join(format!("{name}.ron"));
    std::fs::write(&path, text).expect("scenario written");
    path
}

/// One service and one workload; `workload` and `limits` are spliced in as RON fields.
fn one_service(name: &str, workload: &str, limits: &str) -> String {
    format!(
        r#"Scenario(
    name: "{name}",
    horizon: "10s",
    limits: ({limits}),
    services: [(name: "api", instances: 1, workers: 1, queue: 10, work: Constant("1ms"))],
    workload: [(entry: "api", {workload})],
)"#
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A flood whose client timeouts pile up (one pending timer per arrival, cancelled ones kept
/// until their time) stops at `events_pending_max`, with a message, not an abort.
#[test]
fn pending_client_timeouts_stop_the_run_at_their_limit() {
    let src = one_service(
        "flood",
        r#"arrivals: Poisson(rate_per_s: 1e9), timeout: "5s""#,
        "events_pending_max: 200000",
    );
    let world = models::load_str("flood.ron", &src).expect("the flood is a valid scenario");
    let r = models::run_world(&world, 1, 0).expect("the run ends");
    assert_eq!(r.stop, "events_pending_max");
    // One arrival, answered or refused at once, leaves its cancelled timeout behind: the queue
    // passes the limit after about that many events, long before the horizon.
    assert!(
        (100_000..=200_000).contains(&r.events),
        "{} events",
        r.events
    );
    assert!(r.measured_ns < 10_000_000_000, "stopped early");

    let path = scenario_file("flood", &src);
    let out = faultline(&["run", path.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("stop: events_pending_max"), "{table}");
    assert!(
        table.contains("more events were pending at once than `limits.events_pending_max`"),
        "{table}"
    );
}

/// The guard changes nothing in a run that stays under it: same digest with a limit just above
/// the run's largest queue and with the default.
#[test]
fn the_pending_guard_changes_no_run_under_it() {
    let workload = r#"arrivals: Poisson(rate_per_s: 500), timeout: "50ms""#;
    let tight = models::load_str(
        "a.ron",
        &one_service("a", workload, "events_pending_max: 5000"),
    )
    .expect("valid");
    let default = models::load_str("b.ron", &one_service("a", workload, "")).expect("valid");
    let a = models::run_world(&tight, 3, 0).expect("runs");
    let b = models::run_world(&default, 3, 0).expect("runs");
    assert_eq!((a.stop.as_str(), b.stop.as_str()), ("horizon", "horizon"));
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.events, b.events);
}

/// The memory estimate counts the event queue at its guard: a limit of a billion pending events
/// (72 GB) is refused before the run starts, naming both limits.
#[test]
fn the_memory_estimate_counts_pending_events() {
    let src = one_service(
        "big-queue",
        "arrivals: Poisson(rate_per_s: 10)",
        "events_pending_max: 1000000000",
    );
    let e = models::load_str("big-queue.ron", &src)
        .expect_err("a billion pending events do not fit in 4 GiB")
        .to_string();
    assert!(e.contains("`limits.memory_mib_max` (4096)"), "{e}");
    assert!(e.contains("limits.events_pending_max"), "{e}");
}

/// With the resolution equal to the horizon there is no time-series tick before the end: the
/// wall-clock guard is still asked every 65,536 events, and a run it stops says so truthfully.
#[test]
fn the_wall_clock_guard_is_asked_every_65536_events() {
    let src = r#"Scenario(
    name: "one-tick",
    horizon: "10s",
    resolution: "10s",
    services: [(name: "api", instances: 1, workers: 8, queue: 100, work: Exponential(mean: "20us"))],
    workload: [(entry: "api", arrivals: Poisson(rate_per_s: 100000))],
)"#;
    let world = models::load_str("one-tick.ron", src).expect("valid");
    let asked = std::cell::Cell::new(0u32);
    let stop_at_once = || {
        asked.set(asked.get() + 1);
        false
    };
    let (r, _) = models::run_world_controlled(&world, 1, 0, &stop_at_once).expect("runs");
    assert_eq!(
        (r.stop.as_str(), r.events, asked.get()),
        ("wall_time_max", 65_536, 1)
    );

    // Asked and never saying stop, the guard changes nothing; the whole horizon is no early stop.
    let full = models::run_world(&world, 1, 0).expect("runs");
    let asked = std::cell::Cell::new(0u64);
    let go_on = || {
        asked.set(asked.get() + 1);
        true
    };
    let (r, _) = models::run_world_controlled(&world, 1, 0, &go_on).expect("runs");
    assert_eq!((r.stop.as_str(), &r.digest), ("horizon", &full.digest));
    let polls = full.events / 65_536 + 1;
    assert_eq!(asked.get(), polls, "every 65,536 events and the one tick");

    // A stop said at the tick that ends the horizon is no early stop: the run says `horizon`.
    let asked = std::cell::Cell::new(0u64);
    let stop_at_the_end = || {
        asked.set(asked.get() + 1);
        asked.get() < polls
    };
    let (r, _) = models::run_world_controlled(&world, 1, 0, &stop_at_the_end).expect("runs");
    assert_eq!((r.stop.as_str(), &r.digest), ("horizon", &full.digest));
}

/// Two services, two variants; `api` and `variant` are the names used.
fn named(api: &str, variant: &str) -> String {
    format!(
        r#"Scenario(
    name: "names",
    horizon: "2s",
    runs: 2,
    services: [
        (name: "{api}", instances: 2, workers: 4, queue: 20, work: Exponential(mean: "2ms"), calls: [Call(to: "db")]),
        (name: "db", instances: 1, workers: 4, queue: 20, work: Exponential(mean: "1ms")),
    ],
    workload: [(entry: "{api}", arrivals: Poisson(rate_per_s: 200))],
    variants: [(name: "base"), (name: "{variant}", set: {{"services.db.workers": 8}})],
)"#
    )
}

/// A name of 65,536 characters or more crashed `run` and `compare` in the table renderer; names
/// are bounded now, with the bound and the place in the message.
#[test]
fn long_names_are_refused_with_their_bound() {
    let path = scenario_file("long-name", &named(&"a".repeat(70_000), "v"));
    let p = path.to_str().expect("UTF-8 path");
    for cmd in ["validate", "run"] {
        let out = faultline(&[cmd, p]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(":6:16: error in `services[0].name`: a name of 70000 characters is too long (at most 128)"),
            "{cmd}: {err}"
        );
        assert!(
            err.len() < 1_000,
            "the name is not echoed: {} bytes",
            err.len()
        );
    }
}

/// Names at the bound go through every renderer: the run's table, and `compare`'s reports.
#[test]
fn names_at_the_bound_render_everywhere() {
    let (api, variant) = ("s".repeat(128), "v".repeat(128));
    let path = scenario_file("bound-names", &named(&api, &variant));
    let p = path.to_str().expect("UTF-8 path");
    let out = faultline(&["run", p]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&api));
    let dir = path.with_extension("out");
    let d = dir.to_str().expect("UTF-8 path");
    let out = faultline(&["compare", p, "--quiet", "--jobs", "1", "--out", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for file in ["report.md", "report.html", "summary.json", "runs.csv"] {
        let body = std::fs::read_to_string(dir.join(file)).expect("report written");
        assert!(body.contains(&variant), "{file} names the variant");
    }
}

/// Runs `faultline args`, expects exit 2 without a crash, and returns stderr.
fn refused(args: &[&str]) -> String {
    let out = faultline(args);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "`faultline {}`: {err}",
        args.join(" ")
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Counts that would allocate gigabytes or start 100,000 threads are refused up front, naming
/// the limit (they aborted with exit 134, or hung).
#[test]
fn bad_counts_are_refused_naming_the_limit() {
    let src = one_service("counts", "arrivals: Poisson(rate_per_s: 10)", "");
    let path = scenario_file(
        "counts",
        &src.replace("horizon:", "runs: 100000000,\n    horizon:"),
    );
    let p = path.to_str().expect("UTF-8 path");
    let err = refused(&["validate", p]);
    assert!(
        err.contains("error in `runs`: `runs` is 100000000; it must be between 1 and 1000000"),
        "{err}"
    );

    let path = scenario_file("counts-ok", &src);
    let p = path.to_str().expect("UTF-8 path");
    let out = path.with_extension("out");
    let o = out.to_str().expect("UTF-8 path");
    let err = refused(&["compare", p, "-q", "--out", o, "--runs", "100000000"]);
    assert!(
        err.contains("the number of runs (100000000) must be between 1 and 1000000"),
        "{err}"
    );
    let err = refused(&[
        "compare",
        p,
        "-q",
        "--out",
        o,
        "--runs",
        "2",
        "--precision",
        "p99:api:2%",
        "--runs-max",
        "4000000000",
    ]);
    assert!(
        err.contains("--runs-max (4000000000) is more than the limit of 1000000"),
        "{err}"
    );
    for jobs in ["100000", "0"] {
        let err = refused(&["compare", p, "-q", "--out", o, "--jobs", jobs]);
        assert!(
            err.contains(&format!(
                "--jobs {jobs}: the number of jobs must be between 1 and 1024"
            )),
            "{err}"
        );
    }
    assert!(
        !out.join("runs.jsonl").exists(),
        "refused before anything is written"
    );
}

/// A 1,000-design grid over a 100,000 s horizon would need about 18 GB for the sweep's
/// aggregate (it passed `validate`, then `compare` aborted); a grid of ten million instances
/// would not even compile. Both are refused with the limit.
#[test]
fn sweeps_and_grids_too_large_are_refused() {
    let values = "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]";
    let grid = format!(
        r#"grid: [("services.api.workers", {values}), ("services.api.queue", {values}), ("services.api.instances", {values})],"#
    );
    let src = one_service("long-grid", "arrivals: Poisson(rate_per_s: 10)", "").replace(
        "horizon: \"10s\",",
        &format!("horizon: \"100000s\",\n    runs: 2,\n    {grid}"),
    );
    let path = scenario_file("long-grid", &src);
    let p = path.to_str().expect("UTF-8 path");
    let o = path.with_extension("out");
    let err = refused(&["compare", p, "-q", "--out", o.to_str().expect("UTF-8")]);
    assert!(
        err.contains("1000 designs of 2 runs each need about"),
        "{err}"
    );
    assert!(
        err.contains("more than `limits.memory_mib_max` (4096)"),
        "{err}"
    );

    let src = one_service("wide-grid", "arrivals: Poisson(rate_per_s: 10)", "")
        .replace("instances: 1,", "instances: 999999,")
        .replace("horizon: \"10s\",", "horizon: \"10s\",\n    grid: [(\"services.api.workers\", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],");
    let path = scenario_file("wide-grid", &src);
    let err = refused(&["validate", path.to_str().expect("UTF-8 path")]);
    assert!(
        err.contains("error in `variants`: the first 5 of 10 designs already place 5000000 instances and hosts, more than Faultline holds at once (at most 4000000)"),
        "{err}"
    );
}

/// A FIFO blocked `validate` forever and an endless device was read to 2 GB: only regular files
/// of at most 16 MiB are read.
#[test]
fn only_regular_files_of_at_most_16_mib_are_read() {
    let fifo = scenario_file("fifo", "").with_file_name("a-fifo.ron");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo works");
    for path in [fifo.to_str().expect("UTF-8 path"), "/dev/zero"] {
        let err = refused(&["validate", path]);
        assert!(
            err.contains(&format!(
                "{path}: error: this is not a regular file (a pipe, device or socket)"
            )),
            "{err}"
        );
    }
    let big = format!("// {}\n", "x".repeat(17 << 20));
    let path = scenario_file("big", &big);
    let err = refused(&["run", path.to_str().expect("UTF-8 path")]);
    assert!(
        err.contains("error: the file is 17825796 bytes, more than a scenario may be (at most 16777216 bytes, 16 MiB)"),
        "{err}"
    );
}

/// A small sweep of `runs.ron` (two variants, two runs) into `out`; `extra` are more arguments.
fn small_sweep(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    // A file of its own per folder: tests run at once.
    let name: Vec<String> = out
        .iter()
        .rev()
        .take(2)
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let path = scenario_file(&format!("runs-{}", name.join("-")), &named("api", "wide"));
    let mut args = vec![
        "compare",
        path.to_str().expect("UTF-8 path"),
        "-q",
        "--jobs",
        "1",
        "--out",
        out.to_str().expect("UTF-8 path"),
    ];
    args.extend_from_slice(extra);
    faultline(&args)
}

/// A crash before the run log's header was written (an empty log, or half a header) left
/// `--resume` refusing forever ("the run log is empty"): it is a fresh start now.
#[test]
fn a_sweep_killed_before_its_header_resumes() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("no-header");
    let _ = std::fs::remove_dir_all(&dir);
    let out = small_sweep(&dir.join("whole"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let whole = std::fs::read_to_string(dir.join("whole/summary.json")).expect("written");
    for (case, log) in [
        ("empty", String::new()),
        ("half", "{\"faultline_runlog\":2,\"scen".to_string()),
    ] {
        let killed = dir.join(case);
        std::fs::create_dir_all(&killed).expect("folder");
        std::fs::write(killed.join("runs.jsonl"), log).expect("log written");
        let out = small_sweep(&killed, &["--resume"]);
        assert_eq!(out.status.code(), Some(0), "{case}: {}", text(&out.stderr));
        let resumed = std::fs::read_to_string(killed.join("summary.json")).expect("written");
        assert!(
            resumed == whole,
            "{case}: the resumed sweep's summary differs"
        );
        let lines = std::fs::read_to_string(killed.join("runs.jsonl")).expect("log");
        assert_eq!(
            lines.lines().count(),
            1 + 4,
            "{case}: the header and each run once"
        );
    }
}

/// A run-log line changed after it was written, even into valid JSON, was folded into the
/// reports by `--resume` and `merge`; each line carries a checksum now.
#[test]
fn an_altered_run_log_line_is_refused() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("altered");
    let _ = std::fs::remove_dir_all(&dir);
    let out = small_sweep(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let log = dir.join("runs.jsonl");
    let text_before = std::fs::read_to_string(&log).expect("log");
    let mut lines: Vec<String> = text_before.lines().map(str::to_string).collect();
    let altered = lines[2].replacen("\"completed\":", "\"completed\":1", 1);
    assert_ne!(altered, lines[2], "the line had a count to alter");
    serde_json::from_str::<serde_json::Value>(&altered).expect("still valid JSON");
    lines[2] = altered;
    std::fs::write(&log, lines.join("\n") + "\n").expect("log written");
    let d = dir.to_str().expect("UTF-8 path");
    let out = small_sweep(&dir, &["--resume"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "line 3 of the run log was altered after it was written (its checksum does not match)"
        ),
        "{err}"
    );
    let merged = dir.with_file_name("altered-merged");
    let err = refused(&["merge", d, "--out", merged.to_str().expect("UTF-8 path")]);
    assert!(err.contains("line 3 of the run log was altered"), "{err}");
}

/// Two `compare`s into one folder both exited 0, leaving one sweep's header beside the other's
/// runs: the folder is locked now (`.faultline.lock`, the owner's pid), and a lock whose owner is
/// gone is taken over.
#[test]
fn a_second_sweep_into_a_locked_folder_is_refused() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("locked");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    let lock = dir.join(".faultline.lock");
    // This test's own process runs: its pid holds the folder.
    std::fs::write(&lock, format!("{}\n", std::process::id())).expect("lock written");
    let out = small_sweep(&dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "is in use by another faultline (pid {})",
            std::process::id()
        )),
        "{err}"
    );
    assert!(!dir.join("runs.jsonl").exists(), "nothing written");

    // A pid that no process has: the lock is stale, taken over, and removed at the end.
    std::fs::write(&lock, "4000000000\n").expect("lock written");
    let out = small_sweep(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.join("summary.json").exists());
    assert!(!lock.exists(), "the lock is released");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".tmp")),
        "no temporary files left: {names:?}"
    );
    // `merge` takes the lock of its output folder too.
    let merged = dir.with_file_name("locked-merged");
    std::fs::create_dir_all(&merged).expect("folder");
    std::fs::write(
        merged.join(".faultline.lock"),
        format!("{}\n", std::process::id()),
    )
    .expect("lock written");
    let err = refused(&[
        "merge",
        dir.to_str().expect("UTF-8"),
        "--out",
        merged.to_str().expect("UTF-8"),
    ]);
    assert!(err.contains("is in use by another faultline"), "{err}");
    assert!(!merged.join("summary.json").exists(), "nothing written");
}

/// `report.md` and `report.html` shared the temporary name `report.tmp`, and a failed write left
/// it behind: each file has its own temporary name now, removed when the write fails.
#[test]
fn a_failed_report_write_leaves_no_temporary_file() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("failed-write");
    let _ = std::fs::remove_dir_all(&dir);
    // `report.md` is a folder that is not empty: the rename onto it fails.
    std::fs::create_dir_all(dir.join("report.md/inside")).expect("folder");
    let e = faultline::write_atomic(&dir.join("report.md"), "# report\n")
        .expect_err("a file cannot replace a folder");
    assert!(e.to_string().contains("cannot write"), "{e}");
    faultline::write_atomic(&dir.join("report.html"), "<html>").expect("written");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["report.html", "report.md"]);
}

/// A UTF-8 byte-order mark at the start of a file (some Windows editors write one) is accepted.
#[test]
fn a_byte_order_mark_is_accepted() {
    let src = one_service("bom", "arrivals: Poisson(rate_per_s: 10)", "");
    let path = scenario_file("bom", &format!("\u{feff}{src}"));
    let out = faultline(&["validate", path.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("scenario `bom`"));
}

/// `--precision` naming a service no design has was refused only after the first round of runs
/// (a run log already written); it is checked before the first run now.
#[test]
fn a_precision_target_is_checked_before_the_first_run() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("precision");
    let _ = std::fs::remove_dir_all(&dir);
    let out = small_sweep(&dir, &["--precision", "p99:nosuch:2%"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "precision: no service `nosuch` in variant `base`; expected one of api, db, users:api"
        ),
        "{err}"
    );
    assert!(!dir.join("runs.jsonl").exists(), "no run was made");
}

/// Hosts were not counted in the memory estimate (10⁶ hosts ran at 142 MB under
/// `memory_mib_max: 10`): 512 bytes a host are now (and, since the estimate counts every
/// structure of a run, the log and the fault occurrences too).
#[test]
fn the_memory_estimate_counts_hosts() {
    let src = r#"Scenario(
    name: "many-hosts",
    horizon: "10s",
    limits: (memory_mib_max: 100, requests_in_flight_max: 1000, events_pending_max: 10000),
    topology: (regions: [(name: "r", zones: [(name: "a", racks: 200, hosts_per_rack: 5000)])]),
    services: [(name: "api", instances: 1, work: Constant("1ms"))],
    workload: [(entry: "api", arrivals: Poisson(rate_per_s: 10))],
)"#;
    let e = models::load_str("many-hosts.ron", src)
        .expect_err("a million hosts do not fit in 100 MiB")
        .to_string();
    assert!(
        e.contains("may need about 501 MiB, more than `limits.memory_mib_max` (100)"),
        "{e}"
    );
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A set of reports whose texts say which sweep wrote them.
fn set_of(sweep: &str) -> Vec<(&'static str, String)> {
    faultline::report_set::REPORT_FILES
        .iter()
        .map(|f| (*f, format!("{f} of sweep {sweep}\n")))
        .collect()
}

/// The reports are written as a set: a writer stopped between two renames (here after
/// `runs.csv`, as a kill would stop it) leaves sweep B's `summary.json` beside sweep A's
/// `report.md`, but no manifest, so the set is not taken for whole; the next writer removes what
/// a killed one left (its temporary folder, `*.tmp` files), and its set verifies. A file altered
/// or swapped after the manifest was written is found out.
#[test]
fn a_report_set_stopped_between_renames_is_never_taken_whole() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("report-set");
    let _ = std::fs::remove_dir_all(&dir);
    let write = |sweep: &str, stop_after: Option<&str>| {
        faultline::report_set::write_set(&dir, &set_of(sweep), &mut |name| match stop_after {
            Some(n) if n == name => Err(faultline::Error::Io("killed".into())),
            _ => Ok(()),
        })
    };
    write("A", None).expect("written");
    faultline::verify_reports(&dir).expect("sweep A's set is whole");
    write("B", Some("runs.csv")).expect_err("stopped");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("a report");
    assert_eq!(read("summary.json"), "summary.json of sweep B\n");
    assert_eq!(read("report.md"), "report.md of sweep A\n");
    let e = faultline::verify_reports(&dir)
        .expect_err("a mixed set")
        .to_string();
    assert!(
        e.contains("manifest.json") && e.contains("not known to be one set"),
        "{e}"
    );
    // What a killed writer leaves: its temporary folder and a half-written manifest.
    std::fs::create_dir_all(dir.join(".reports-4242.tmp")).expect("folder");
    std::fs::write(dir.join(".reports-4242.tmp/report.md"), "half").expect("file");
    std::fs::write(dir.join("manifest.json.tmp"), "{").expect("file");
    write("B", None).expect("written");
    faultline::verify_reports(&dir).expect("sweep B's set is whole");
    let mut expected = vec!["manifest.json"];
    expected.extend(faultline::report_set::REPORT_FILES);
    expected.sort();
    assert_eq!(names_in(&dir), expected);
    assert_eq!(read("report.md"), "report.md of sweep B\n");
    std::fs::write(dir.join("report.md"), "report.md of sweep A\n").expect("file");
    let e = faultline::verify_reports(&dir)
        .expect_err("an altered file")
        .to_string();
    assert!(e.contains("is not the file"), "{e}");
}

/// A report that cannot be written (a full disk; here `report.md` is a folder that is not
/// empty) fails the write with a message, leaves no temporary file or folder and no manifest.
#[test]
fn a_failed_report_set_leaves_no_temporary_file() {
    let dir = std::env::temp_dir()
        .join(format!("faultline-limits-{}", std::process::id()))
        .join("report-set-failed");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("report.md/inside")).expect("folder");
    let e = faultline::report_set::write_set(&dir, &set_of("A"), &mut |_| Ok(()))
        .expect_err("a file cannot replace a folder")
        .to_string();
    assert!(e.contains("cannot write") && e.contains("report.md"), "{e}");
    assert_eq!(names_in(&dir), ["report.md", "runs.csv", "summary.json"]);
    assert!(faultline::verify_reports(&dir).is_err());
}

/// `requests_in_flight_max` counts the calls requests have out: a request that fans out to 50
/// calls, all waiting 5 s to retry, held 50 calls (88 bytes each, uncounted) for one request
/// in flight. At 120, the second arrival (its 50 attempts and 50 calls on top of the first
/// request's 50 calls) stops the run; counting requests alone, it ran its 3 s to the end.
#[test]
fn the_in_flight_guard_counts_calls() {
    let calls = vec![r#"Call(to: "db", retry: (attempts: 3, backoff: Constant("5s")))"#; 50];
    let src = format!(
        r#"Scenario(
    name: "fan",
    horizon: "3s",
    limits: (requests_in_flight_max: 120),
    services: [
        (name: "api", workers: 100, work: Constant("1ms"), calls: [Parallel([{}])]),
        (name: "db", workers: 100, work: Constant("1ms")),
    ],
    workload: [(entry: "api", arrivals: Constant(rate_per_s: 10))],
    faults: [(at: "0s", lasts: "3s", what: Errors(service: "db", rate: 1.0))],
)"#,
        calls.join(", ")
    );
    let world = models::load_str("fan.ron", &src).expect("loads");
    let r = models::run_world(&world, 1, 0).expect("runs");
    assert_eq!(
        r.stop,
        models::results::StopReason::RequestsInFlightMax.name()
    );
    assert_eq!(
        r.services[0].ledger.arrived, 2,
        "{:?}",
        r.services[0].ledger
    );
}
