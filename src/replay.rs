//! Replaying one run of a sweep: the same (design, seed, run index) a sweep simulates as run K
//! of variant V, simulated again alone, so that a surprising run can be looked at by itself.
//!
//! With the sweep's run log the replay is also a check: the log records every run's digest, and
//! a replay that does not reproduce it means the run is not the run the sweep made (another
//! scenario text, another seed, another faultline version or platform).
//!
//! Everything a replay does is in [`ReplayOptions`], so that a new way to look at the run is one
//! more option and one more branch in [`replay`]. With `trace`, the run is simulated with a
//! tracer ([`models::trace`]): the same run, same digest, plus its spans.

use crate::{Error, LoadedStudy, RunResult};
use models::trace::{Trace, TraceOptions};
use models::variants::Design;
use models::World;
use reports::runlog::ParsedLog;
use std::path::{Path, PathBuf};

/// Which run to replay, and what to compare it with.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// The variant (design) to replay; may be left out when the scenario has only one.
    pub variant: Option<String>,
    /// The run index within the sweep.
    pub run: u64,
    /// The sweep's seed; the run log's seed (or else the scenario's) when `None`.
    pub seed: Option<u64>,
    /// The sweep's run log (`runs.jsonl`), to check the replayed digest against its record.
    pub log: Option<PathBuf>,
    /// Record a trace of the run with these options.
    pub trace: Option<TraceOptions>,
}

/// A replayed run.
pub struct Replay {
    pub variant: String,
    pub seed: u64,
    pub run: u64,
    pub result: RunResult,
    /// The digest the run log records for this run, when a log was given.
    pub logged_digest: Option<String>,
    /// The run's trace, when `ReplayOptions::trace` asked for one.
    pub trace: Option<Trace>,
}

impl Replay {
    /// Whether the replay reproduces the logged run (`None` without a log).
    pub fn digest_matches(&self) -> Option<bool> {
        self.logged_digest
            .as_ref()
            .map(|logged| *logged == self.result.digest)
    }
}

/// Replays run `opts.run` of a variant of the scenario file at `path`.
pub fn replay(path: &Path, opts: &ReplayOptions) -> Result<Replay, Error> {
    replay_loaded(&crate::load_study(path)?, opts)
}

/// [`replay`] of a loaded scenario (read from standard input, or with overrides).
pub fn replay_loaded(loaded: &LoadedStudy, opts: &ReplayOptions) -> Result<Replay, Error> {
    let path = Path::new(&loaded.study.file);
    let design = find_design(loaded, path, opts.variant.as_deref())?;
    let (seed, logged_digest) = match &opts.log {
        None => (opts.seed.unwrap_or(loaded.study.spec.seed), None),
        Some(log_path) => {
            let log = crate::sweep::read_log(log_path)?;
            let seed = log_seed(loaded, path, log_path, &log, opts.seed)?;
            let digest = logged_digest(log_path, &log, &design.name, opts.run)?;
            (seed, Some(digest))
        }
    };
    let (result, trace) = match &opts.trace {
        None => (
            crate::run_guarded_result(&design.world, seed, opts.run)?,
            None,
        ),
        Some(t) => {
            let (result, trace) = run_traced(&design.world, seed, opts.run, t)?;
            (result, Some(trace))
        }
    };
    assert_eq!(result.run, opts.run, "the result names the run it replays");
    assert_eq!(result.seed, seed, "the result names the seed it replays");
    Ok(Replay {
        variant: design.name.clone(),
        seed,
        run: opts.run,
        result,
        logged_digest,
        trace,
    })
}

/// Runs one traced simulation with the scenario's wall-clock guard, as `run_guarded` does.
fn run_traced(
    world: &World,
    seed: u64,
    run: u64,
    options: &TraceOptions,
) -> Result<(RunResult, Trace), Error> {
    let outcome = match world.wall_time_max_ns {
        None => models::run_world_traced(world, seed, run, options),
        Some(max_ns) => {
            // The guard reads the host's clock, outside the simulation: nothing simulated
            // depends on it, only whether the run is cut short.
            #[allow(clippy::disallowed_methods)]
            let start = std::time::Instant::now();
            let keep_going =
                || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX) < max_ns;
            models::sim::run_world_traced_controlled(world, seed, run, options, &keep_going)
        }
    };
    Ok(outcome?)
}

/// Parses a trace window, `10s..20s` (either end may be left out: `..20s`, `10s..`).
pub fn parse_window(text: &str) -> Result<(u64, u64), String> {
    let Some((a, b)) = text.split_once("..") else {
        return Err(format!(
            "trace window `{text}` is not of the form `FROM..TO` (for example `10s..20s`)"
        ));
    };
    let parse = |part: &str, default: u64| -> Result<u64, String> {
        if part.trim().is_empty() {
            return Ok(default);
        }
        sim_core::SimDuration::parse(part)
            .map(|d| d.as_ns())
            .map_err(|e| format!("trace window `{text}`: {e}"))
    };
    let (from, to) = (parse(a, 0)?, parse(b, u64::MAX)?);
    if from >= to {
        return Err(format!(
            "trace window `{text}` is empty: its start is not before its end"
        ));
    }
    Ok((from, to))
}

/// The design named `variant`, or the only one when `variant` is `None`.
pub fn find_design<'a>(
    loaded: &'a LoadedStudy,
    path: &Path,
    variant: Option<&str>,
) -> Result<&'a Design, Error> {
    let designs = &loaded.study.designs;
    let names = || {
        designs
            .iter()
            .map(|d| format!("`{}`", d.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(name) = variant else {
        return match designs.as_slice() {
            [only] => Ok(only),
            _ => Err(Error::Usage(format!(
                "{}: the scenario has {} variants ({}); choose one with --variant",
                path.display(),
                designs.len(),
                names()
            ))),
        };
    };
    designs.iter().find(|d| d.name == name).ok_or_else(|| {
        let hint = models::error::closest(name, designs.iter().map(|d| d.name.as_str()))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        Error::Usage(format!(
            "{}: no variant `{name}`{hint} (variants: {})",
            path.display(),
            names()
        ))
    })
}

/// The seed the logged sweep used, after checking that the log records a sweep of this very
/// scenario text and that `--seed`, if given, agrees with it.
fn log_seed(
    loaded: &LoadedStudy,
    path: &Path,
    log_path: &Path,
    log: &ParsedLog,
    seed: Option<u64>,
) -> Result<u64, Error> {
    let ours = crate::sweep::log_header(&loaded.study, &loaded.source, 0, 0);
    // The hash is of the parsed scenario: an edited comment or layout still replays.
    match crate::sweep::same_scenario(&log.header, &ours, &loaded.source) {
        Ok(true) => {}
        Ok(false) => {
            let what = if log.header.hashed.is_empty() {
                "scenario text (the log predates hashing the parsed scenario: any edit, a comment too, counts)"
            } else {
                "scenario (values, names or expectations differ, not only comments or layout)"
            };
            return Err(Error::Usage(format!(
                "`{}` records a sweep of another {what} (`{}` as it was then, scenario `{}`) than `{}` holds now; replay the scenario the sweep ran, or run the sweep again",
                log_path.display(),
                log.header.file,
                log.header.scenario,
                path.display()
            )));
        }
        Err(why) => {
            return Err(Error::Usage(format!(
                "`{}` cannot be compared with `{}`: {why}",
                log_path.display(),
                path.display()
            )))
        }
    }
    match seed {
        Some(s) if s != log.header.seed => Err(Error::Usage(format!(
            "--seed {s} differs from the seed of the sweep in `{}` ({}); leave --seed out to use the log's",
            log_path.display(),
            log.header.seed
        ))),
        _ => Ok(log.header.seed),
    }
}

/// The digest the log records for run `run` of `variant`, or an error saying what it holds.
fn logged_digest(
    log_path: &Path,
    log: &ParsedLog,
    variant: &str,
    run: u64,
) -> Result<String, Error> {
    if let Some(r) = log
        .runs
        .iter()
        .find(|r| r.variant == variant && r.result.run == run)
    {
        return Ok(r.result.digest.clone());
    }
    Err(Error::Usage(format!(
        "`{}` has no record of run {run} of `{variant}`; it holds {} (a sweep of {} runs per variant, seed {})",
        log_path.display(),
        log_contents(log),
        log.header.runs,
        log.header.seed
    )))
}

/// What a run log holds, per variant in the header's order: "runs 0-4, 7 of `base`".
fn log_contents(log: &ParsedLog) -> String {
    let mut parts = Vec::new();
    for name in &log.header.variants {
        let mut runs: Vec<u64> = log
            .runs
            .iter()
            .filter(|r| r.variant == *name)
            .map(|r| r.result.run)
            .collect();
        runs.sort_unstable();
        runs.dedup();
        if !runs.is_empty() {
            parts.push(format!("runs {} of `{name}`", ranges(&runs)));
        }
    }
    if parts.is_empty() {
        "no finished run".into()
    } else {
        parts.join(", ")
    }
}

/// Sorted, distinct numbers as ranges: `0-4, 7, 9-10`.
fn ranges(sorted: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{parse_window, ranges};

    #[test]
    fn trace_windows_parse() {
        assert_eq!(
            parse_window("10s..20s"),
            Ok((10_000_000_000, 20_000_000_000))
        );
        assert_eq!(parse_window("..1ms"), Ok((0, 1_000_000)));
        assert_eq!(parse_window("1m.."), Ok((60_000_000_000, u64::MAX)));
        assert!(parse_window("20s..10s").unwrap_err().contains("empty"));
        assert!(parse_window("10s").unwrap_err().contains("FROM..TO"));
        assert!(parse_window("10x..20s").is_err());
    }

    #[test]
    fn runs_are_listed_as_ranges() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[3]), "3");
        assert_eq!(ranges(&[0, 1, 2, 3, 4, 7, 9, 10]), "0-4, 7, 9-10");
    }
}
