//! Faultline as a library: the operations the CLI offers, callable from Rust (for example from a
//! `cargo test` that pins an architecture decision).

use std::fmt;
use std::path::Path;

pub mod input;
pub mod replay;
pub mod report_set;
pub mod shrink;
pub mod sweep;

pub use input::{Input, Override};
pub use models::variants::Study;
pub use models::{results, RunResult, ScenarioError, World};
pub use replay::{replay, Replay, ReplayOptions};
pub use report_set::verify_reports;
pub use reports::summary::Summary;
pub use shrink::{shrink, ShrinkOptions, ShrinkOutcome};
pub use sweep::{merge_logs, sweep, Shard, SweepOptions};

/// Anything that can go wrong in an operation.
#[derive(Debug)]
pub enum Error {
    /// The scenario file is unreadable or invalid: the user's input (exit code 2).
    Scenario(ScenarioError),
    /// The simulation itself failed: a bug in Faultline (exit code 3).
    Run(models::RunError),
    /// Bad arguments to an operation (exit code 2).
    Usage(String),
    /// Reading or writing files around a run failed (exit code 2).
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Scenario(e) => e.fmt(f),
            Error::Run(e) => e.fmt(f),
            Error::Usage(m) | Error::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<ScenarioError> for Error {
    fn from(e: ScenarioError) -> Self {
        Error::Scenario(e)
    }
}

impl From<models::RunError> for Error {
    fn from(e: models::RunError) -> Self {
        Error::Run(e)
    }
}

/// Loads and validates a scenario file; its warnings go to stderr.
pub fn load(path: &Path) -> Result<World, Error> {
    let world = models::load_file(path)?;
    print_warnings(&world.warnings);
    Ok(world)
}

/// Prints a scenario's warnings (settings that cannot take effect where they are written) to
/// stderr: every command that loads a scenario says them, and none changes its exit code.
pub fn print_warnings(warnings: &models::error::ScenarioWarnings) {
    if !warnings.is_empty() {
        eprintln!("{warnings}");
    }
}

/// Runs one simulation of a scenario file; `seed` overrides the file's seed.
pub fn run_file(path: &Path, seed: Option<u64>) -> Result<RunResult, Error> {
    let world = load(path)?;
    run_world(&world, seed)
}

/// Runs one simulation of a variant of a scenario file (the scenario as written when `None`),
/// with run index `run`: the same run a sweep makes as its run `run` of that variant.
pub fn run_variant(
    path: &Path,
    variant: Option<&str>,
    seed: Option<u64>,
    run: u64,
) -> Result<RunResult, Error> {
    run_loaded(&load_study(path)?, variant, seed, run)
}

/// [`run_variant`] of a loaded scenario. The whole study is loaded (every variant and
/// expectation checked) whichever design runs, so that `run` refuses what `check` would.
pub fn run_loaded(
    loaded: &LoadedStudy,
    variant: Option<&str>,
    seed: Option<u64>,
    run: u64,
) -> Result<RunResult, Error> {
    let seed = seed.unwrap_or(loaded.study.spec.seed);
    let Some(name) = variant else {
        return run_guarded_result(&loaded.study.base, seed, run);
    };
    let design = replay::find_design(loaded, Path::new(&loaded.study.file), Some(name))?;
    run_guarded_result(&design.world, seed, run)
}

/// Runs one simulation with the scenario's wall-clock guard (`limits.wall_time_max`), if any.
pub fn run_guarded(
    world: &World,
    seed: u64,
    run: u64,
) -> Result<(RunResult, models::RunHistograms), Error> {
    let keep_going = wall_clock_guard(world);
    Ok(models::run_world_controlled(world, seed, run, &keep_going)?)
}

/// [`run_guarded`] without the latency histograms (which only sweeps merge): the run's memory
/// is then what its model holds.
pub fn run_guarded_result(world: &World, seed: u64, run: u64) -> Result<RunResult, Error> {
    let keep_going = wall_clock_guard(world);
    Ok(models::run_world_result(world, seed, run, &keep_going)?)
}

/// Whether a run started now may go on: always, or until the scenario's `limits.wall_time_max`.
/// The guard reads the host's clock, outside the simulation: nothing simulated depends on it,
/// only whether the run is cut short.
fn wall_clock_guard(world: &World) -> impl Fn() -> bool {
    let max_ns = world.wall_time_max_ns;
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    move || max_ns.is_none_or(|max| start.elapsed().as_nanos() < u128::from(max))
}

/// Runs one simulation of a loaded world; `seed` overrides the world's seed.
pub fn run_world(world: &World, seed: Option<u64>) -> Result<RunResult, Error> {
    run_guarded_result(world, seed.unwrap_or(world.seed), 0)
}

/// A scenario with its variants and expectations, and the text it was read from.
pub struct LoadedStudy {
    pub study: Study,
    pub source: String,
}

/// Loads a scenario with its variants and expectations.
pub fn load_study(path: &Path) -> Result<LoadedStudy, Error> {
    Input::read(path)?.load()
}

/// Summarizes an aggregate with the study's expectations evaluated.
pub fn summarize(study: &Study, agg: &reports::sweep::Aggregate) -> Summary {
    let verdicts = reports::check::evaluate(&study.spec.expect, agg);
    reports::summary::summarize(agg, verdicts)
}

/// Runs a sweep and summarizes it, with the scenario's expectations evaluated.
pub fn study_summary(
    loaded: &LoadedStudy,
    opts: &SweepOptions,
    on_run_done: &(dyn Fn() + Sync),
) -> Result<(Summary, reports::sweep::Aggregate), Error> {
    let agg = sweep(&loaded.study, &loaded.source, opts, on_run_done)?;
    Ok((summarize(&loaded.study, &agg), agg))
}

/// The result of `check`: every verdict, and whether all hold.
pub struct CheckOutcome {
    pub summary: Summary,
    pub all_hold: bool,
}

/// Evaluates a scenario file's `expect` assertions over its runs: what `faultline check` does,
/// callable from a `cargo test`:
///
/// ```no_run
/// let outcome = faultline::check(std::path::Path::new("scenarios/quickstart.ron"), &Default::default()).unwrap();
/// assert!(outcome.all_hold, "{}", reports::table::render_summary(&outcome.summary));
/// ```
pub fn check(path: &Path, opts: &SweepOptions) -> Result<CheckOutcome, Error> {
    let study = load_study(path)?;
    if study.study.spec.expect.is_empty() {
        return Err(Error::Usage(format!(
            "{}: the scenario has no `expect` assertions to check",
            path.display()
        )));
    }
    let (summary, _) = study_summary(&study, opts, &|| {})?;
    let all_hold = summary.expectations.iter().all(|v| v.holds);
    Ok(CheckOutcome { summary, all_hold })
}

/// Writes `text` to `path` through a temporary file (`<name>.tmp`, its own per file) and a
/// rename, so that a reader never sees a half-written report; the temporary file is removed when
/// the write fails (a full disk).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = temporary(path);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Io(format!("cannot write `{}`: {e}", path.display()))
        })
}

/// Writes a file as [`write_atomic`] does, its bytes from `write` (through a buffer).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    use std::io::Write;
    let tmp = temporary(path);
    let written = std::fs::File::create(&tmp).and_then(|file| {
        let mut w = std::io::BufWriter::new(file);
        write(&mut w)?;
        w.flush()
    });
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Io(format!("cannot write `{}`: {e}", path.display()))
        })
}

/// The temporary name of `path` while it is written: `report.md.tmp`.
fn temporary(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// An output folder held by this process: `OUT/.faultline.lock` holds its pid, and is removed
/// when the lock is dropped. A second `compare` or `merge` into the same folder is refused
/// while the first runs (two at once left one sweep's header beside the other's runs).
pub struct OutLock {
    path: std::path::PathBuf,
}

impl OutLock {
    /// Takes the lock on `dir` (created if missing); a lock left by a process that no longer
    /// runs is taken over.
    pub fn take(dir: &Path) -> Result<OutLock, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create `{}`: {e}", dir.display())))?;
        let path = dir.join(".faultline.lock");
        for _ in 0..2 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut f) => {
                    use std::io::Write;
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(OutLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    match owner.trim().parse::<u32>() {
                        Ok(pid) if pid_runs(pid) => {
                            return Err(Error::Usage(format!(
                                "`{}` is in use by another faultline (pid {pid}); wait for it to finish or choose another --out (if no faultline runs, remove `{}`)",
                                dir.display(),
                                path.display()
                            )))
                        }
                        // Its owner is gone (or the file is half-written): take it over.
                        _ => {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => {
                    return Err(Error::Io(format!(
                        "cannot create `{}`: {e}",
                        path.display()
                    )))
                }
            }
        }
        Err(Error::Usage(format!(
            "`{}` is in use by another faultline (its lock `{}` came back at once)",
            dir.display(),
            path.display()
        )))
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether process `pid` runs (on Linux, `/proc/<pid>` exists; elsewhere every pid is assumed
/// to run, so a stale lock must be removed by hand).
fn pid_runs(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Writes the reports of a sweep into `dir` as one set (`report_set`): `report.html`,
/// `report.md`, `summary.json`, `runs.csv`, then `manifest.json`.
pub fn write_reports(
    dir: &Path,
    summary: &Summary,
    agg: &reports::sweep::Aggregate,
) -> Result<(), Error> {
    use report_set::Content;
    // The JSON and the page go to their files as they are made: for a world of a thousand
    // services they are tens of megabytes, which a sweep need not hold besides its aggregate.
    let files: Vec<(&str, Content)> = vec![
        (
            "summary.json",
            Content::Stream(Box::new(|w| {
                serde_json::to_writer_pretty(&mut *w, summary).map_err(std::io::Error::from)?;
                w.write_all(b"\n")
            })),
        ),
        ("runs.csv", Content::Text(reports::csv::render(agg))),
        (
            "report.md",
            Content::Text(reports::markdown::render(summary)),
        ),
        (
            "report.html",
            Content::Stream(Box::new(|w| reports::html::write_html(summary, agg, w))),
        ),
    ];
    debug_assert!(files.iter().map(|f| f.0).eq(report_set::REPORT_FILES));
    report_set::write_set_of(dir, files, &mut |_| Ok(()))
}
