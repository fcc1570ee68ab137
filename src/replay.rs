//! Replaying one run of a sweep: the same (design, seed, run index) a sweep simulates as run K
//! of variant V, simulated again alone, so that a surprising run can be looked at by itself.
//!
//! With the sweep's run log the replay is also a check: the log records every run's digest, and
//! a replay that does not reproduce it means the run is not the run the sweep made (another
//! scenario text, another seed, another faultline version or platform).
//!
//! Everything a replay does is in [`ReplayOptions`], so that a new way to look at the run (a
//! trace of its events, say) is one more option and one more branch in [`replay`].

use crate::{Error, LoadedStudy, RunResult};
use models::variants::Design;
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
}

/// A replayed run.
pub struct Replay {
    pub variant: String,
    pub seed: u64,
    pub run: u64,
    pub result: RunResult,
    /// The digest the run log records for this run, when a log was given.
    pub logged_digest: Option<String>,
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
    let loaded = crate::load_study(path)?;
    let design = find_design(&loaded, path, opts.variant.as_deref())?;
    let (seed, logged_digest) = match &opts.log {
        None => (opts.seed.unwrap_or(loaded.study.spec.seed), None),
        Some(log_path) => {
            let log = crate::sweep::read_log(log_path)?;
            let seed = log_seed(&loaded, path, log_path, &log, opts.seed)?;
            let digest = logged_digest(log_path, &log, &design.name, opts.run)?;
            (seed, Some(digest))
        }
    };
    let (result, _) = crate::run_guarded(&design.world, seed, opts.run)?;
    assert_eq!(result.run, opts.run, "the result names the run it replays");
    assert_eq!(result.seed, seed, "the result names the seed it replays");
    Ok(Replay {
        variant: design.name.clone(),
        seed,
        run: opts.run,
        result,
        logged_digest,
    })
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
    let ours = crate::sweep::log_header(&loaded.study, &loaded.source, 0, 0).source_hash;
    if log.header.source_hash != ours {
        return Err(Error::Usage(format!(
            "`{}` records a sweep of another scenario text (`{}` as it was then, scenario `{}`) than `{}` holds now; replay the text the sweep ran, or run the sweep again",
            log_path.display(),
            log.header.file,
            log.header.scenario,
            path.display()
        )));
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
    use super::ranges;

    #[test]
    fn runs_are_listed_as_ranges() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[3]), "3");
        assert_eq!(ranges(&[0, 1, 2, 3, 4, 7, 9, 10]), "0-4, 7, 9-10");
    }
}
