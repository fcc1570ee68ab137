//! Many runs: every (variant, run index) pair, in parallel on a rayon pool, folded into an
//! [`Aggregate`] as each finishes. Each run is single-threaded and deterministic, and the fold is
//! order-independent, so results do not depend on the number of jobs.
//!
//! With a run log (`runs.jsonl`, see [`reports::runlog`]) every finished run is appended at once:
//! an interrupted sweep resumes where it stopped, a shard runs a deterministic slice, and `merge`
//! folds shards into the aggregate one machine would have built.

use crate::Error;
use models::compile::RUNS_MAX;
use models::variants::Study;
use rayon::prelude::*;
use reports::edges::EdgeRun;
use reports::runlog::{self, LogHeader, LoggedRun};
use reports::sweep::{Aggregate, RunRecord, ServiceRun, VariantAggregate};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A slice of a sweep: the tasks whose position in the (variant, run) list is `index` modulo
/// `count`. Written `index/count`, 0-based: `0/4` … `3/4`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "shard `{s}` is not of the form INDEX/COUNT, such as `0/4` (indices start at 0)"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 {
            return Err(format!("shard `{s}`: the count must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "shard `{s}`: the index must be below the count (indices run from 0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }
}

/// How to run a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// Runs per variant; the scenario's `runs` when `None`.
    pub runs: Option<u32>,
    /// Worker threads; all cores when `None`.
    pub jobs: Option<usize>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Run only this slice of the (variant, run) list.
    pub shard: Option<Shard>,
    /// Append each finished run to this log (`runs.jsonl`).
    pub log: Option<PathBuf>,
    /// Continue the sweep recorded in `log` instead of starting it afresh.
    pub resume: bool,
    /// Keep adding runs until an interval is narrow enough (or a cap is reached).
    pub precision: Option<Precision>,
}

/// A precision target: add runs (doubling, up to `runs_max`) until the 95% interval of the mean
/// of `metric` of `service` is within `relative_half_width` of the mean, in every variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Precision {
    pub metric: reports::sweep::MetricKind,
    pub service: String,
    pub relative_half_width: f64,
    pub runs_max: u32,
}

impl Precision {
    /// Parses `METRIC:SERVICE:PERCENT`, e.g. `p99:frontend:2%`.
    pub fn parse(text: &str, runs_max: u32) -> Result<Precision, String> {
        use reports::sweep::MetricKind as M;
        let bad = || {
            format!("precision `{text}` is not of the form METRIC:SERVICE:PERCENT, such as `p99:frontend:2%`")
        };
        let mut parts = text.splitn(3, ':');
        let (metric, service, pct) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let metric = M::from_key(metric).ok_or_else(|| {
            format!(
                "unknown metric `{metric}` in precision `{text}`; expected one of {}",
                M::keys()
            )
        })?;
        let value: f64 = pct
            .strip_suffix('%')
            .ok_or_else(bad)?
            .trim()
            .parse()
            .map_err(|_| bad())?;
        if !(value > 0.0 && value.is_finite()) {
            return Err(format!(
                "precision `{text}`: the percentage must be above zero"
            ));
        }
        Ok(Precision {
            metric,
            service: service.to_string(),
            relative_half_width: value / 100.0,
            runs_max,
        })
    }

    /// One line per variant: the interval's half-width against the target.
    pub fn report(&self, agg: &Aggregate) -> String {
        let mut out = String::new();
        for v in &agg.variants {
            let e = v
                .service_idx(&self.service)
                .and_then(|s| reports::summary::estimate(&v.values(s, self.metric)));
            let line = match e {
                Some(e) => {
                    let rel = e.half_width / e.mean.abs();
                    let verdict = if rel <= self.relative_half_width {
                        "reached"
                    } else {
                        "NOT reached (raise --runs-max)"
                    };
                    format!(
                        "precision of {} of `{}` in `{}`: ±{:.2}% after {} runs, target ±{:.2}%: {verdict}\n",
                        self.metric.name(),
                        self.service,
                        v.name,
                        rel * 100.0,
                        e.n,
                        self.relative_half_width * 100.0
                    )
                }
                None => format!(
                    "precision of {} of `{}` in `{}`: undefined\n",
                    self.metric.name(),
                    self.service,
                    v.name
                ),
            };
            out.push_str(&line);
        }
        out
    }

    /// Refuses, before the first run, a target naming a service (or users) that a design lacks.
    fn check_names(&self, study: &Study) -> Result<(), Error> {
        for d in &study.designs {
            let names = d.world.report_names();
            if !names.contains(&self.service) {
                return Err(Error::Usage(format!(
                    "precision: no service `{}` in variant `{}`; expected one of {}",
                    self.service,
                    d.name,
                    names.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether every variant's interval is narrow enough.
    fn reached(&self, agg: &Aggregate) -> Result<bool, Error> {
        for v in &agg.variants {
            let s = v.service_idx(&self.service).ok_or_else(|| {
                Error::Usage(format!(
                    "precision: no service `{}` in variant `{}`",
                    self.service, v.name
                ))
            })?;
            match reports::summary::estimate(&v.values(s, self.metric)) {
                Some(e) if e.half_width <= self.relative_half_width * e.mean.abs() => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// Whether a logged header records a sweep of the scenario `ours` describes (from `source`). A
/// log from before the hash was of the parsed scenario hashed the text: it is compared with the
/// text's hash, so that it stays readable. `Err` says why a log's hash cannot be compared.
pub fn same_scenario(logged: &LogHeader, ours: &LogHeader, source: &str) -> Result<bool, String> {
    match logged.hashed.as_str() {
        h if h == ours.hashed => Ok(logged.source_hash == ours.source_hash),
        "" => {
            let text = sim_core::rng::stable_hash(&[source.as_bytes()]);
            Ok(logged.source_hash == format!("{text:016x}"))
        }
        other => Err(format!(
            "its scenario hash is of `{other}`, which this faultline does not know (a newer version wrote it)"
        )),
    }
}

/// The header a study's run log carries.
pub fn log_header(study: &Study, source: &str, runs: u64, seed: u64) -> LogHeader {
    LogHeader {
        faultline_runlog: runlog::RUNLOG_SCHEMA_VERSION,
        scenario: study.spec.name.clone(),
        source_hash: format!("{:016x}", study.scenario_hash()),
        hashed: models::variants::SCENARIO_HASHED.to_string(),
        source: source.to_string(),
        file: study.file.clone(),
        seed,
        runs,
        variants: study.designs.iter().map(|d| d.name.clone()).collect(),
    }
}

/// Empty aggregates, one per design, for `n_runs` runs.
pub fn empty_aggregate(study: &Study, n_runs: usize, seed: u64) -> Aggregate {
    Aggregate {
        scenario: study.spec.name.clone(),
        about: study.spec.about.clone(),
        seed,
        n_runs,
        variants: study
            .designs
            .iter()
            .map(|d| {
                let services = d.world.report_names();
                let mut v = VariantAggregate::new(
                    &d.name,
                    &d.about,
                    services,
                    n_runs,
                    d.world.resolution.as_ns(),
                    d.world.n_buckets(),
                );
                v.grid = d.grid.clone();
                v
            })
            .collect(),
    }
}

/// Folds a logged run into the aggregate; `false` if that run was already there.
pub fn add_logged(agg: &mut Aggregate, run: &LoggedRun) -> Result<bool, Error> {
    let bad = |m: String| Error::Io(format!("run log: {m}"));
    let v = agg
        .variants
        .iter()
        .position(|v| v.name == run.variant)
        .ok_or_else(|| bad(format!("unknown variant `{}`", run.variant)))?;
    let k = run.result.run as usize;
    let variant = &mut agg.variants[v];
    if k >= variant.runs.len() {
        return Err(bad(format!(
            "run {k} of `{}` is beyond the sweep's {} runs",
            run.variant,
            variant.runs.len()
        )));
    }
    if let Some(existing) = &variant.runs[k] {
        if existing.digest != run.result.digest {
            return Err(bad(format!(
                "run {k} of `{}` appears twice with different digests",
                run.variant
            )));
        }
        return Ok(false);
    }
    let histograms = run.histograms().map_err(bad)?;
    variant.add(&run.result, &histograms);
    Ok(true)
}

/// Reads a run log from a file.
pub fn read_log(path: &Path) -> Result<runlog::ParsedLog, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Io(format!("cannot read `{}`: {e}", path.display())))?;
    runlog::parse(&text).map_err(|e| Error::Io(format!("{}: {e}", path.display())))
}

/// Runs every variant of `study` over the same run indices (common random numbers) and aggregates.
/// `source` is the scenario text (for the run log's header). `on_run_done` is called once per
/// finished run, from worker threads (for a progress bar).
pub fn sweep(
    study: &Study,
    source: &str,
    opts: &SweepOptions,
    on_run_done: &(dyn Fn() + Sync),
) -> Result<Aggregate, Error> {
    let (runs, capacity) = run_counts(study, opts)?;
    let seed = opts.seed.unwrap_or(study.spec.seed);
    let mut agg = empty_aggregate(study, capacity, seed);
    let header = log_header(study, source, capacity as u64, seed);
    let log = match &opts.log {
        Some(path) => Some(Mutex::new(open_log(path, &header, opts.resume, &mut agg)?)),
        None => None,
    };
    let pool = worker_pool(opts.jobs)?;
    let shard = opts.shard.unwrap_or(Shard { index: 0, count: 1 });
    if opts.precision.is_some() && shard.count > 1 {
        return Err(Error::Usage(
            "a precision target needs every run; it cannot be combined with --shard".into(),
        ));
    }
    let mut n = first_count(&agg, runs as usize, capacity);
    loop {
        run_missing(
            study,
            seed,
            n,
            shard,
            &pool,
            &mut agg,
            log.as_ref(),
            on_run_done,
        )?;
        let Some(p) = &opts.precision else { break };
        if n >= capacity || p.reached(&agg)? {
            break;
        }
        n = (2 * n).min(capacity);
    }
    end_at(&mut agg, n);
    Ok(agg)
}

/// The runs per variant a sweep starts with, and the most it may reach (with a precision
/// target, its cap): the room made in the aggregate and the run log's header.
fn run_counts(study: &Study, opts: &SweepOptions) -> Result<(u32, usize), Error> {
    check_jobs(opts.jobs)?;
    if let Some(p) = &opts.precision {
        p.check_names(study)?;
    }
    let runs = opts.runs.unwrap_or(study.spec.runs);
    if runs == 0 || runs > RUNS_MAX {
        return Err(Error::Usage(format!(
            "the number of runs ({runs}) must be between 1 and {RUNS_MAX}"
        )));
    }
    let capacity = match &opts.precision {
        Some(p) if p.runs_max < runs => {
            return Err(Error::Usage(format!(
                "--runs-max ({}) is below --runs ({runs})",
                p.runs_max
            )))
        }
        Some(p) if p.runs_max > RUNS_MAX => {
            return Err(Error::Usage(format!(
                "--runs-max ({}) is more than the limit of {RUNS_MAX} runs per variant",
                p.runs_max
            )))
        }
        Some(p) => p.runs_max,
        None => runs,
    } as usize;
    check_aggregate_fits(study, capacity)?;
    Ok((runs, capacity))
}

/// Refuses a sweep whose aggregate (every run's record, and per design the merged histograms
/// and series) would need more than the scenario's `limits.memory_mib_max`.
fn check_aggregate_fits(study: &Study, n_runs: usize) -> Result<(), Error> {
    let mib = aggregate_estimate_bytes(study, n_runs).div_ceil(1 << 20);
    let max = study.spec.limits.memory_mib_max;
    if mib > u64::from(max) {
        return Err(Error::Usage(format!(
            "{} designs of {n_runs} runs each need about {mib} MiB for the sweep's aggregate, more than `limits.memory_mib_max` ({max}); use fewer runs, variants or grid values, a coarser `resolution`, or raise the limit",
            study.designs.len()
        )));
    }
    Ok(())
}

/// An upper bound on the memory of the aggregate of `n_runs` runs of every design, in bytes.
pub fn aggregate_estimate_bytes(study: &Study, n_runs: usize) -> u64 {
    let n_runs = n_runs as u64;
    let mut total: u64 = 0;
    for d in &study.designs {
        let w = &d.world;
        let names = (w.services.len() + w.workloads.len()) as u64;
        let (edges, buckets) = (w.calls.len() as u64, w.n_buckets() as u64);
        // A record: its own size, a digest and stop, a row per service and edge.
        let record = std::mem::size_of::<Option<RunRecord>>() as u64
            + 64
            + names * (std::mem::size_of::<ServiceRun>() as u64 + 64)
            + edges * std::mem::size_of::<EdgeRun>() as u64;
        // Per name a merged latency histogram (at most a full HDR histogram's 34k counters of 8
        // bytes; the buckets used, 16 bytes each, below half of them), 10 series and good answers.
        let per_name = 34_000 * 8 + buckets * 8 * 11;
        let per_edge = buckets * 8 * 3;
        // Per link and per disk (`reports::network`): a few sums, its name and a series of
        // counters per bucket; never per run.
        let disks = if w.disk.is_some() { w.hosts.len() } else { 0 };
        let resources = (w.network.links.len() + disks + w.transfers.len()) as u64;
        let per_resource = 256 + buckets * 8;
        let design = n_runs
            .saturating_mul(record)
            .saturating_add(names * per_name)
            .saturating_add(edges * per_edge)
            .saturating_add(resources * per_resource);
        total = total.saturating_add(design);
    }
    total
}

/// The most worker threads a sweep starts (`--jobs`).
pub const JOBS_MAX: usize = 1024;

/// Refuses a number of jobs that is zero or more than [`JOBS_MAX`].
pub fn check_jobs(jobs: Option<usize>) -> Result<(), Error> {
    match jobs.filter(|&n| n == 0 || n > JOBS_MAX) {
        Some(n) => Err(Error::Usage(format!(
            "--jobs {n}: the number of jobs must be between 1 and {JOBS_MAX}"
        ))),
        None => Ok(()),
    }
}

/// A pool of `jobs` worker threads (all cores when `None`).
fn worker_pool(jobs: Option<usize>) -> Result<rayon::ThreadPool, Error> {
    check_jobs(jobs)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .map_err(|e| {
            Error::Usage(format!(
                "cannot start {} worker threads: {e}",
                jobs.unwrap_or(0)
            ))
        })
}

/// The count of runs the first round covers: `runs`, doubled (up to `capacity`) past the runs
/// already logged when resuming, so that no run beyond the final count is ever part of the
/// aggregate.
fn first_count(agg: &Aggregate, runs: usize, capacity: usize) -> usize {
    let done = agg
        .variants
        .iter()
        .flat_map(|v| v.records().map(|r| r.run as usize + 1))
        .max()
        .unwrap_or(0);
    let mut n = runs;
    while n < done {
        n = (2 * n).min(capacity);
    }
    n
}

/// Ends the sweep at `n` runs per variant: a precision cap may have left room for more.
fn end_at(agg: &mut Aggregate, n: usize) {
    agg.n_runs = n;
    for v in &mut agg.variants {
        assert!(
            v.runs[n..].iter().all(Option::is_none),
            "no run beyond the sweep's count"
        );
        v.runs.truncate(n);
    }
}

/// Simulates the runs `0..n` of every variant that are in the shard and not yet in `agg`.
#[allow(clippy::too_many_arguments)]
fn run_missing(
    study: &Study,
    seed: u64,
    n: usize,
    shard: Shard,
    pool: &rayon::ThreadPool,
    agg: &mut Aggregate,
    log: Option<&Mutex<std::fs::File>>,
    on_run_done: &(dyn Fn() + Sync),
) -> Result<(), Error> {
    let capacity = agg.n_runs as u64;
    let tasks: Vec<(usize, u64)> = (0..study.designs.len())
        .flat_map(|v| (0..capacity).map(move |k| (v, k)))
        .enumerate()
        .filter(|(t, _)| *t as u64 % u64::from(shard.count) == u64::from(shard.index))
        .map(|(_, task)| task)
        .filter(|&(v, k)| (k as usize) < n && agg.variants[v].runs[k as usize].is_none())
        .collect();
    let variants: Vec<Mutex<VariantAggregate>> = agg.variants.drain(..).map(Mutex::new).collect();
    let outcome = pool.install(|| {
        tasks.par_iter().try_for_each(|&(v, k)| {
            let design = &study.designs[v];
            let (result, histograms) = crate::run_guarded(&design.world, seed, k)?;
            if let Some(log) = log {
                let line = LoggedRun::new(&design.name, result.clone(), &histograms).to_line();
                let mut file = log.lock().expect("no thread panicked holding the log");
                file.write_all(line.as_bytes())
                    .map_err(|e| Error::Io(format!("cannot append to the run log: {e}")))?;
            }
            variants[v]
                .lock()
                .expect("no thread panicked holding the lock")
                .add(&result, &histograms);
            on_run_done();
            Ok::<(), Error>(())
        })
    });
    agg.variants = variants
        .into_iter()
        .map(|m| m.into_inner().expect("no thread panicked holding the lock"))
        .collect();
    outcome
}

/// Opens the run log: afresh (header only), or, to resume, checks its header and folds its runs
/// into `agg`, cutting off a final line that a crash left half-written.
fn open_log(
    path: &Path,
    header: &LogHeader,
    resume: bool,
    agg: &mut Aggregate,
) -> Result<std::fs::File, Error> {
    let io = |e: std::io::Error| {
        Error::Io(format!(
            "cannot write the run log `{}`: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("cannot create `{}`: {e}", dir.display())))?;
    }
    // A log without a whole header line was cut short before any run: resume is a fresh start.
    let resumable = resume && first_line(path).is_some_and(|t| runlog::has_header(&t));
    if resumable {
        let parsed = read_log(path)?;
        let mismatch = |what: &str| {
            Error::Usage(format!(
                "cannot resume from `{}`: it records a sweep with another {what}; start afresh without --resume",
                path.display()
            ))
        };
        match same_scenario(&parsed.header, header, &header.source) {
            Ok(true) => {}
            Ok(false) => return Err(mismatch("scenario")),
            Err(why) => {
                return Err(Error::Usage(format!(
                    "cannot resume from `{}`: {why}",
                    path.display()
                )))
            }
        }
        if parsed.header.seed != header.seed || parsed.header.runs != header.runs {
            return Err(mismatch("seed or number of runs"));
        }
        for run in &parsed.runs {
            add_logged(agg, run)?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        file.set_len(parsed.valid_len as u64).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        file.flush().map_err(io)?;
        return Ok(file);
    }
    let mut file = std::fs::File::create(path).map_err(io)?;
    file.write_all(header.to_line().as_bytes()).map_err(io)?;
    Ok(file)
}

/// The first line of a file (with its newline, if it has one), or `None` if it cannot be read.
fn first_line(path: &Path) -> Option<String> {
    use std::io::BufRead;
    let mut line = Vec::new();
    let file = std::fs::File::open(path).ok()?;
    std::io::BufReader::new(file)
        .read_until(b'\n', &mut line)
        .ok()?;
    Some(String::from_utf8_lossy(&line).into_owned())
}

/// Merges the run logs of several shards into one aggregate. Every (variant, run) of the sweep
/// must be present exactly once (or twice with equal digests); the headers must agree.
pub fn merge_logs(logs: &[PathBuf]) -> Result<(Study, Aggregate, LogHeader), Error> {
    let mut parsed = Vec::new();
    for path in logs {
        parsed.push((path, read_log(path)?));
    }
    let (first_path, first) = parsed
        .first()
        .ok_or_else(|| Error::Usage("merge needs at least one run log".into()))?;
    let header = first.header.clone();
    for (path, p) in &parsed[1..] {
        if p.header.source_hash != header.source_hash
            || p.header.hashed != header.hashed
            || p.header.seed != header.seed
            || p.header.runs != header.runs
        {
            return Err(Error::Usage(format!(
                "`{}` and `{}` record different sweeps (scenario text, seed or number of runs differ)",
                first_path.display(),
                path.display()
            )));
        }
    }
    let study = models::variants::load_study(&header.file, &header.source)?;
    crate::print_warnings(&study.warnings);
    let mut agg = empty_aggregate(&study, header.runs as usize, header.seed);
    for (_, p) in &parsed {
        for run in &p.runs {
            add_logged(&mut agg, run)?;
        }
    }
    let missing: usize = agg
        .variants
        .iter()
        .map(|v| v.runs.len() - v.n_finished())
        .sum();
    if missing > 0 {
        return Err(Error::Usage(format!(
            "the run logs hold {} of the sweep's {} runs; {missing} are missing (did a shard not finish? rerun it with --resume)",
            agg.variants.iter().map(|v| v.n_finished()).sum::<usize>(),
            agg.variants.len() * agg.n_runs
        )));
    }
    Ok((study, agg, header))
}
