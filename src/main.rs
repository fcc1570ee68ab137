//! The `faultline` command line: parses arguments, calls the library, prints, sets the exit code.
//! No simulation logic lives here.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "Exit codes: 0 success, 1 an expectation does not hold (check), 2 bad input (scenario file or arguments), 3 internal error.\nFaultline prints no colour (NO_COLOR is honoured by having none); -v prints timings on stderr.";

/// Deterministic simulator for the resilience of distributed systems.
#[derive(Parser)]
#[command(name = "faultline", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Also print what the work took on stderr: wall time, runs or events per second, where the
    /// run log is.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    /// No progress bar or spinner on stderr (warnings and errors are still printed).
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
}

/// Changes to the scenario for this command only, by the paths variants use.
#[derive(clap::Args, Clone, Default)]
struct OverrideArgs {
    /// Set a field, as a variant's `set` does: PATH=VALUE, the value in RON
    /// (`--set services.db.workers=8`, `--set 'services[0].work=Constant("2ms")'`). Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = faultline::Override::parse_set)]
    set: Vec<faultline::Override>,
    /// Simulated time of each run (overrides the file's `horizon`): `10m`.
    #[arg(long, value_name = "DURATION")]
    horizon: Option<String>,
    /// Time left out of the measurements (overrides the file's `warmup`): `30s`.
    #[arg(long, value_name = "DURATION")]
    warmup: Option<String>,
}

impl OverrideArgs {
    /// Every override, `--horizon` and `--warmup` as `set`s of their fields.
    fn all(&self) -> Result<Vec<faultline::Override>, faultline::Error> {
        let mut out = self.set.clone();
        if let Some(h) = &self.horizon {
            out.push(faultline::Override::duration("horizon", "horizon", h)?);
        }
        if let Some(w) = &self.warmup {
            out.push(faultline::Override::duration("warmup", "warmup", w)?);
        }
        Ok(out)
    }

    /// The scenario at `file` (`-`: standard input) with these overrides, loaded.
    fn load(&self, file: &std::path::Path) -> Result<faultline::LoadedStudy, faultline::Error> {
        faultline::Input::read(file)?
            .with_overrides(&self.all()?)?
            .load()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario once and print per-service results.
    #[command(after_help = "Example: faultline run scenarios/quickstart.ron --seed 7 --format json\n\n".to_owned() + EXIT_CODES)]
    Run(RunArgs),
    /// Evaluate the scenario's `expect` assertions over many runs; exit 1 if one does not hold.
    #[command(after_help = "Example: faultline check scenarios/quickstart.ron --runs 50\n\n".to_owned() + EXIT_CODES)]
    Check(CheckArgs),
    /// Run every variant over many seeds and write a comparison report.
    #[command(after_help = "Example: faultline compare scenarios/quickstart.ron --runs 200 --out out/quickstart\n\n\
Writes report.html, report.md, summary.json, runs.csv and the run log runs.jsonl into the output folder. With\n\
--shard I/N only the run log of that slice is written; combine the slices with `faultline merge`.\n\n"
        .to_owned() + EXIT_CODES)]
    Compare(CompareArgs),
    /// Combine the run logs of shards into the report one machine would have written.
    #[command(after_help = "Example: faultline merge out/shard-0 out/shard-1 --out out/all\n\n".to_owned() + EXIT_CODES)]
    Merge {
        /// Output folders of `compare --shard` (each holds a runs.jsonl).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Folder for the merged reports.
        #[arg(long)]
        out: PathBuf,
    },
    /// Simulate one run of a sweep again (run K of variant V) and check its digest against the run log.
    #[command(after_help = "Example: faultline replay scenarios/quickstart.ron --variant db-8-workers --run 17 --log out/quickstart/runs.jsonl\n\n\
Prints the run as `faultline run` does, and its digest. With --log, the seed is the logged sweep's and the replayed\n\
digest is compared with the log's record of the run: exit 1 when they differ; exit 2 when the log has no record of\n\
the run or records a sweep of another scenario (the log hashes the parsed scenario, so an edited comment or layout\n\
still replays). With --format json the digest verdict goes to stderr.\n\n\
With --trace the run is traced (the same run: same digest) and written as Chrome trace-event JSON: open it in\n\
Perfetto (https://ui.perfetto.dev, Open trace file) or chrome://tracing. One process per service with a track per\n\
instance, the users' requests end to end, arrows from caller to callee, timeouts and retries as instants, and tracks\n\
for faults, breaker states, alerts and the run's log. Example:\n\
  faultline replay scenarios/quickstart.ron --run 3 --trace out/trace.json --trace-sample 10 --trace-window 55s..85s\n\n"
        .to_owned() + EXIT_CODES)]
    Replay(ReplayArgs),
    /// Find the fewest faults, in the shortest windows, with which a run still breaks an expectation.
    #[command(after_help = "Example: faultline shrink scenarios/defences/retry-storm.ron --variant cured --run 3\n\n\
Delta debugging (ddmin) over the scenario's faults, then a binary search of each remaining fault's window, with the\n\
run's seed and index fixed. Prints the minimal schedule as a `faults: [ ... ],` block to paste into the scenario.\n\
Exit 1 when the run breaks an expectation (after printing the minimal schedule), 0 when it breaks none.\n\n"
        .to_owned() + EXIT_CODES)]
    Shrink(ShrinkArgs),
    /// Write a commented starter scenario to NAME.ron.
    #[command(after_help = "Example: faultline new checkout\n\n".to_owned() + EXIT_CODES)]
    New {
        /// Name of the scenario; the file is NAME.ron (or NAME, if it ends in .ron).
        name: String,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example: faultline completions bash > ~/.local/share/bash-completion/completions/faultline\n\n".to_owned() + EXIT_CODES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Work out each service's load, capacity and utilization, and the retry amplification of
    /// every call path, from the file alone (nothing simulated); warn of what breaks first runs.
    #[command(after_help = "Example: faultline plan scenarios/quickstart.ron --variant db-8-workers\n\n\
Warns of a service at or over its capacity (utilization >= 1: unstable), above --utilization-warn, of timeout\n\
inversions (an inner call's timeout x attempts + backoff longer than its caller's timeout) and of retries without\n\
jitter or budget into a service with several callers. `validate` prints the same warnings. Exit 0 whatever it finds.\n\n".to_owned() + EXIT_CODES)]
    Plan(PlanArgs),
    /// Check a scenario file without running it.
    #[command(after_help = "Example: faultline validate scenarios/quickstart.ron\n\n".to_owned() + EXIT_CODES)]
    Validate {
        /// The scenario file (RON); `-` reads it from standard input.
        file: PathBuf,
        #[command(flatten)]
        overrides: OverrideArgs,
    },
    /// Print the JSON Schema of the scenario format (docs/scenario.schema.json), for editors and programs.
    #[command(after_help = "Example: faultline schema > scenario.schema.json

Every command that reads a scenario reads it as JSON too: a file whose name ends in .json, or standard input
(`-`) that starts with `{`. The JSON has the structure of the RON (serde_json's shape: enums as {\"Variant\": ...}).

".to_owned() + EXIT_CODES)]
    Schema,
    /// Print a scenario as JSON, in the shape the schema describes (the same scenario: the same digests).
    #[command(name = "to-json", after_help = "Example: faultline to-json scenarios/quickstart.ron > quickstart.json

".to_owned() + EXIT_CODES)]
    ToJson {
        /// The scenario file (RON or JSON).
        file: PathBuf,
    },
}

/// `faultline plan`: load, capacity and amplification, before any run.
#[derive(clap::Args)]
struct PlanArgs {
    /// The scenario file (RON); `-` reads it from standard input.
    file: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Plan this variant of the scenario instead of the scenario as written.
    #[arg(long)]
    variant: Option<String>,
    /// Warn of a service whose expected utilization is above this.
    #[arg(long, value_name = "FRACTION", default_value_t = models::plan::UTILIZATION_WARN)]
    utilization_warn: f64,
}

/// `faultline run`: one simulation.
#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file (RON); `-` reads it from standard input.
    file: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    /// Seed for every random stream; overrides the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Run this variant of the scenario instead of the scenario as written.
    #[arg(long)]
    variant: Option<String>,
    /// Run index within a sweep (a sweep's run K uses the same streams as `--run K`).
    #[arg(long, default_value_t = 0)]
    run: u64,
    /// Output format: a table for people, or one JSON document for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// `faultline check`: a sweep, and the verdicts of the scenario's `expect`s.
#[derive(clap::Args)]
struct CheckArgs {
    /// The scenario files (RON): each is checked in turn; the exit code is 1 if any expectation
    /// of any file fails. `-` reads one from standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    overrides: OverrideArgs,
    #[command(flatten)]
    sweep: SweepArgs,
}

/// `faultline compare`: a sweep of every variant, and its reports.
#[derive(clap::Args)]
struct CompareArgs {
    /// The scenario file (RON); `-` reads it from standard input.
    file: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    #[command(flatten)]
    sweep: SweepArgs,
    /// Folder for the reports (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Run only slice I of N of the (variant, run) list, 0-based: `--shard 0/4` … `--shard 3/4`.
    #[arg(long, value_name = "I/N")]
    shard: Option<faultline::Shard>,
    /// Continue an interrupted sweep from the run log in the output folder.
    #[arg(long)]
    resume: bool,
}

/// `faultline replay`: one run of a sweep again, with its trace, events or timeline.
#[derive(clap::Args)]
struct ReplayArgs {
    /// The scenario file (RON); `-` reads it from standard input.
    file: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    #[command(flatten)]
    pick: RunPick,
    /// The sweep's run log (`OUT/runs.jsonl`): use its seed and compare the digest with its record.
    #[arg(long, value_name = "PATH")]
    log: Option<PathBuf>,
    /// Output format: a table for people, or one JSON document for machines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write a trace of the run (Chrome trace-event JSON, for Perfetto) to PATH.
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
    /// Trace one user request in N (each traced through every service it reaches).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), requires = "trace")]
    trace_sample: u32,
    /// Trace only user requests arriving in FROM..TO (simulated time, e.g. `10s..20s`).
    #[arg(long, value_name = "FROM..TO", value_parser = faultline::replay::parse_window, requires = "trace")]
    trace_window: Option<(u64, u64)>,
    /// Most spans in the trace; reaching it halves the share of user requests traced (one in 2N, 4N, ...), over the whole run.
    #[arg(long, value_name = "N", default_value_t = models::trace::TraceOptions::default().max_spans, requires = "trace")]
    trace_spans_max: usize,
    /// Write the run's notable events (faults, health, ejections, alerts, breakers, ...) as JSON lines to PATH.
    #[arg(long, value_name = "PATH")]
    events: Option<PathBuf>,
    /// Print the run's incident timeline (per fault: detection, recovery, damage).
    #[arg(long)]
    timeline: bool,
}

/// `faultline shrink`: the smallest fault schedule that still breaks an expectation.
#[derive(clap::Args)]
struct ShrinkArgs {
    /// The scenario file (RON); `-` reads it from standard input.
    file: PathBuf,
    #[command(flatten)]
    overrides: OverrideArgs,
    #[command(flatten)]
    pick: RunPick,
    /// The expectation to keep broken: its place in the scenario's `expect` list, from 0.
    /// Default: the first one the run breaks.
    #[arg(long, value_name = "N")]
    expect: Option<usize>,
    /// Most runs the search may make; past it, the best schedule so far is printed.
    #[arg(long, default_value_t = faultline::shrink::RUNS_MAX_DEFAULT)]
    runs_max: u32,
}

#[derive(clap::Args)]
struct SweepArgs {
    /// Runs (seeds) per variant; default: the scenario's `runs`.
    #[arg(long)]
    runs: Option<u32>,
    /// Runs simulated at once; default: all cores. Results do not depend on it.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Seed of the sweep; overrides the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Keep adding runs (doubling) until the 95% interval of a metric's mean is within a share of
    /// the mean in every variant: METRIC:SERVICE:PERCENT, e.g. `p99:frontend:2%`. Metrics:
    /// availability, error-rate, mean, p50, p90, p99, p999, max, throughput, utilization.
    #[arg(long, value_name = "METRIC:SERVICE:PERCENT")]
    precision: Option<String>,
    /// The cap on runs per variant with --precision; default: ten times --runs.
    #[arg(long)]
    runs_max: Option<u32>,
}

/// One run of a sweep: which variant, which run index, which seed.
#[derive(clap::Args)]
struct RunPick {
    /// The variant; may be left out when the scenario has only one.
    #[arg(long)]
    variant: Option<String>,
    /// The run index within the sweep (0-based).
    #[arg(long, default_value_t = 0)]
    run: u64,
    /// The sweep's seed; overrides the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Copy, Clone, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(match e {
                faultline::Error::Scenario(_)
                | faultline::Error::Usage(_)
                | faultline::Error::Io(_) => 2,
                faultline::Error::Run(_) => 3,
            })
        }
    }
}

/// Runs a sweep with a progress bar on stderr (hidden when stderr is not a terminal or `--quiet`).
fn sweep_with_progress(
    loaded: &faultline::LoadedStudy,
    args: &SweepArgs,
    quiet: bool,
    opts: faultline::SweepOptions,
) -> Result<reports::sweep::Aggregate, faultline::Error> {
    use std::io::IsTerminal;
    let runs_per_variant = args.runs.unwrap_or(loaded.study.spec.runs);
    let precision = match &args.precision {
        Some(text) => Some(
            faultline::sweep::Precision::parse(
                text,
                args.runs_max.unwrap_or(runs_per_variant.saturating_mul(10)),
            )
            .map_err(faultline::Error::Usage)?,
        ),
        None => None,
    };
    let runs = u64::from(precision.as_ref().map_or(runs_per_variant, |p| p.runs_max))
        * loaded.study.designs.len() as u64;
    let bar = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(runs)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    let opts = faultline::SweepOptions {
        runs: args.runs,
        jobs: args.jobs,
        seed: args.seed,
        precision: precision.clone(),
        ..opts
    };
    let result = faultline::sweep(&loaded.study, &loaded.source, &opts, &|| bar.inc(1));
    bar.finish_and_clear();
    if let (Some(p), Ok(agg)) = (&precision, &result) {
        eprint!("{}", p.report(agg));
    }
    result
}

fn run(cli: Cli) -> Result<ExitCode, faultline::Error> {
    // The wall clock measures the command for `--verbose`; nothing simulated reads it.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let verbose = cli.verbose;
    let what = verbose_subject(&cli.command);
    let printed = run_command(cli.command, cli.quiet)?;
    // A closed pipe (`faultline run ... | head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(printed.text.as_bytes());
    if verbose {
        let secs = started.elapsed().as_secs_f64();
        eprintln!("{what}: {secs:.2} s wall time");
        let per_s = |n: u64| n as f64 / secs.max(1e-9);
        if printed.events > 0 {
            eprintln!(
                "{} events simulated: {:.0} events/s",
                printed.events,
                per_s(printed.events)
            );
        }
        if printed.runs > 0 {
            let s = if printed.runs == 1 { "" } else { "s" };
            eprintln!("{} run{s}: {:.1} runs/s", printed.runs, per_s(printed.runs));
        }
        if let Some(log) = &printed.log {
            eprintln!("run log: {}", log.display());
        }
    }
    Ok(printed.code)
}

/// What `--verbose` says the time was spent on.
fn verbose_subject(command: &Command) -> String {
    match command {
        Command::Run(args) => format!("one run of {}", args.file.display()),
        Command::Replay(args) => format!("one replayed run of {}", args.file.display()),
        Command::Check(CheckArgs { files, sweep, .. }) => {
            sweep_subject(&files[0], files.len(), sweep)
        }
        Command::Compare(CompareArgs { file, sweep, .. }) => sweep_subject(file, 1, sweep),
        Command::Shrink(args) => {
            format!("shrinking run {} of {}", args.pick.run, args.file.display())
        }
        _ => "faultline".to_string(),
    }
}

/// "sweep of FILE (…)" for `--verbose`.
fn sweep_subject(file: &std::path::Path, n_files: usize, sweep: &SweepArgs) -> String {
    let more = if n_files > 1 {
        format!(" and {} more files", n_files - 1)
    } else {
        String::new()
    };
    format!(
        "sweep of {}{more} ({} runs per variant, {} jobs)",
        file.display(),
        sweep
            .runs
            .map_or("the scenario's".to_string(), |r| r.to_string()),
        sweep
            .jobs
            .map_or("all cores'".to_string(), |j| j.to_string())
    )
}

/// What a command prints on stdout, the exit code it ends with, and what `--verbose` says of
/// the work (events simulated, runs, the run log).
struct Printed {
    text: String,
    code: ExitCode,
    events: u64,
    runs: u64,
    log: Option<PathBuf>,
}

impl Printed {
    /// Exit code 0.
    fn success(text: String) -> Printed {
        Printed {
            text,
            code: ExitCode::SUCCESS,
            events: 0,
            runs: 0,
            log: None,
        }
    }

    /// Exit code 1: an expectation does not hold (`check`, `shrink`), or a replayed digest
    /// differs from the log's record.
    fn failure(text: String) -> Printed {
        Printed {
            code: ExitCode::from(1),
            ..Printed::success(text)
        }
    }

    /// The same, saying that `events` were simulated in `runs` runs.
    fn simulated(self, runs: u64, events: u64) -> Printed {
        Printed {
            runs,
            events,
            ..self
        }
    }
}

/// Runs and events of a sweep's aggregate, for `--verbose`.
fn sweep_work(agg: &reports::sweep::Aggregate) -> (u64, u64) {
    let runs = agg.variants.iter().map(|v| v.n_finished() as u64).sum();
    let events = agg
        .variants
        .iter()
        .flat_map(|v| v.records())
        .map(|r| r.events)
        .sum();
    (runs, events)
}

/// One function per subcommand; `run` prints what it returns.
fn run_command(command: Command, quiet: bool) -> Result<Printed, faultline::Error> {
    match command {
        Command::Run(args) => run_once(args),
        Command::Check(args) => check(args, quiet),
        Command::Compare(args) => compare(args, quiet),
        Command::Merge { dirs, out } => merge(&dirs, &out),
        Command::Replay(args) => replay(args),
        Command::Shrink(args) => shrink(args, quiet),
        Command::New { name } => new_scenario(&name),
        Command::Completions { shell } => Ok(Printed::success(completions(shell))),
        Command::Validate { file, overrides } => validate(&file, &overrides),
        Command::Plan(args) => plan(args),
        Command::Schema => Ok(Printed::success(models::format::json::schema_text())),
        Command::ToJson { file } => to_json(&file),
    }
}

/// `faultline to-json`: the scenario (which must read) as JSON.
fn to_json(file: &std::path::Path) -> Result<Printed, faultline::Error> {
    let name = file.display().to_string();
    let text = models::validate::read_source(file)?;
    models::validate::parse(&name, &text)?;
    let json = models::format::json::from_ron(&text)
        .map_err(|e| faultline::Error::Usage(format!("{name}: {e}")))?;
    Ok(Printed::success(json))
}

/// `faultline run`: the run as a table or one JSON document.
fn run_once(args: RunArgs) -> Result<Printed, faultline::Error> {
    let loaded = args.overrides.load(&args.file)?;
    let result = faultline::run_loaded(&loaded, args.variant.as_deref(), args.seed, args.run)?;
    let events = result.events;
    Ok(Printed::success(match args.format {
        Format::Table => reports::table::render_run_of(&result, args.variant.as_deref()),
        Format::Json => reports::run_json(&result),
    })
    .simulated(1, events))
}

/// `faultline check`: the summary of a sweep; exit 1 when an expectation does not hold.
fn check(args: CheckArgs, quiet: bool) -> Result<Printed, faultline::Error> {
    // Every file is loaded (and refused) before any runs.
    let mut studies = Vec::new();
    for file in &args.files {
        let loaded = args.overrides.load(file)?;
        if loaded.study.spec.expect.is_empty() {
            return Err(faultline::Error::Usage(format!(
                "{}: the scenario has no `expect` assertions to check; add some, or use `faultline compare`",
                file.display()
            )));
        }
        studies.push((file, loaded));
    }
    let mut text = String::new();
    let mut all_hold = true;
    let mut work = (0, 0);
    for (file, loaded) in &studies {
        let agg = sweep_with_progress(loaded, &args.sweep, quiet, Default::default())?;
        let (runs, events) = sweep_work(&agg);
        work = (work.0 + runs, work.1 + events);
        let summary = faultline::summarize(&loaded.study, &agg);
        if studies.len() > 1 {
            text.push_str(&format!("== {}\n", file.display()));
        }
        text.push_str(&reports::table::render_summary(&summary));
        all_hold &= summary.expectations.iter().all(|v| v.holds);
        if studies.len() > 1 {
            text.push('\n');
        }
    }
    let printed = if all_hold {
        Printed::success(text)
    } else {
        Printed::failure(text)
    };
    Ok(printed.simulated(work.0, work.1))
}

/// `faultline compare`: a sweep logged in the output folder, with its reports (or, for a shard,
/// only its run log).
fn compare(args: CompareArgs, quiet: bool) -> Result<Printed, faultline::Error> {
    let loaded = args.overrides.load(&args.file)?;
    let _lock = faultline::OutLock::take(&args.out)?;
    let log = args.out.join("runs.jsonl");
    let opts = faultline::SweepOptions {
        shard: args.shard,
        log: Some(log.clone()),
        resume: args.resume,
        ..Default::default()
    };
    let agg = sweep_with_progress(&loaded, &args.sweep, quiet, opts)?;
    let (runs, events) = sweep_work(&agg);
    let printed = Printed::success(match args.shard {
        Some(s) => format!(
            "shard {}/{}: {} runs logged in {}; combine the shards with `faultline merge`\n",
            s.index,
            s.count,
            agg.variants.iter().map(|v| v.n_finished()).sum::<usize>(),
            log.display()
        ),
        None => {
            let summary = faultline::summarize(&loaded.study, &agg);
            faultline::write_reports(&args.out, &summary, &agg)?;
            format!(
                "{}\nreports written to {}: report.html, report.md, summary.json, runs.csv (run log: runs.jsonl)\n",
                reports::table::render_summary(&summary),
                args.out.display()
            )
        }
    });
    Ok(Printed {
        log: Some(log),
        ..printed.simulated(runs, events)
    })
}

/// `faultline merge`: the reports of the shards' run logs together.
fn merge(dirs: &[PathBuf], out: &std::path::Path) -> Result<Printed, faultline::Error> {
    let logs: Vec<PathBuf> = dirs.iter().map(|d| d.join("runs.jsonl")).collect();
    let (study, agg, _) = faultline::merge_logs(&logs)?;
    let _lock = faultline::OutLock::take(out)?;
    let summary = faultline::summarize(&study, &agg);
    faultline::write_reports(out, &summary, &agg)?;
    Ok(Printed::success(format!(
        "{}\nmerged {} run logs; reports written to {}\n",
        reports::table::render_summary(&summary),
        logs.len(),
        out.display()
    )))
}

impl ReplayArgs {
    /// The library's options for this replay.
    fn options(&self) -> faultline::ReplayOptions {
        faultline::ReplayOptions {
            variant: self.pick.variant.clone(),
            run: self.pick.run,
            seed: self.pick.seed,
            log: self.log.clone(),
            trace: self.trace.as_ref().map(|_| models::trace::TraceOptions {
                sample_one_in: self.trace_sample,
                window: self.trace_window,
                max_spans: self.trace_spans_max,
            }),
        }
    }
}

/// `faultline replay`: the run, its digest's verdict, and what was asked besides (a trace, the
/// events, the timeline); exit 1 when the digest differs from the log's.
fn replay(args: ReplayArgs) -> Result<Printed, faultline::Error> {
    let loaded = args.overrides.load(&args.file)?;
    let replayed = faultline::replay::replay_loaded(&loaded, &args.options())?;
    let (mut verdict, matches) = replay_verdict(&replayed, args.log.as_deref());
    if let (Some(path), Some(t)) = (&args.trace, &replayed.trace) {
        verdict.push_str(&write_trace(path, t)?);
    }
    if let Some(path) = &args.events {
        create_parent(path)?;
        faultline::write_atomic(path, &reports::timeline::events_jsonl(&replayed.result))?;
        verdict.push_str(&format!("events written to {}\n", path.display()));
    }
    if args.timeline {
        verdict.push_str(&format!(
            "\n{}",
            reports::timeline::render(&replayed.result)
        ));
    }
    let text = match args.format {
        Format::Table => format!(
            "{}\n{verdict}",
            reports::table::render_run(&replayed.result)
        ),
        Format::Json => {
            eprint!("{verdict}");
            reports::run_json(&replayed.result)
        }
    };
    let events = replayed.result.events;
    let printed = if matches {
        Printed::success(text)
    } else {
        Printed::failure(text)
    };
    Ok(printed.simulated(1, events))
}

/// `faultline shrink`: the minimal schedule; exit 1 when the run breaks an expectation.
fn shrink(args: ShrinkArgs, quiet: bool) -> Result<Printed, faultline::Error> {
    let loaded = args.overrides.load(&args.file)?;
    let opts = faultline::ShrinkOptions {
        variant: args.pick.variant,
        run: args.pick.run,
        seed: args.pick.seed,
        expect: args.expect,
        runs_max: args.runs_max,
    };
    let outcome = shrink_with_progress(&loaded, &opts, quiet)?;
    let text = render_shrink(&args.file, &outcome);
    Ok(match outcome.shrunk {
        Some(_) => Printed::failure(text),
        None => Printed::success(text),
    })
}

/// `faultline new`: a starter scenario in a new file (never over an existing one).
fn new_scenario(name: &str) -> Result<Printed, faultline::Error> {
    let path = PathBuf::from(if name.ends_with(".ron") {
        name.to_string()
    } else {
        format!("{name}.ron")
    });
    let stem = path
        .file_stem()
        .map_or(name.to_string(), |s| s.to_string_lossy().into_owned());
    let text = include_str!("starter.ron").replace("NAME", &stem);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            faultline::Error::Io(match e.kind() {
                std::io::ErrorKind::AlreadyExists => format!(
                    "`{}` exists already; choose another name or remove it",
                    path.display()
                ),
                _ => format!("cannot write `{}`: {e}", path.display()),
            })
        })?;
    file.write_all(text.as_bytes())
        .map_err(|e| faultline::Error::Io(format!("cannot write `{}`: {e}", path.display())))?;
    Ok(Printed::success(format!(
        "wrote {}; next: faultline validate {} && faultline check {}\n",
        path.display(),
        path.display(),
        path.display()
    )))
}

/// `faultline completions`: the completion script for `shell`.
fn completions(shell: clap_complete::Shell) -> String {
    use clap::CommandFactory;
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "faultline", &mut buffer);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// `faultline validate`: what the scenario holds, once it loads.
fn validate(file: &std::path::Path, overrides: &OverrideArgs) -> Result<Printed, faultline::Error> {
    let loaded = overrides.load(file)?;
    let world = &loaded.study.designs[0].world;
    let mut text = format!(
        "ok: {}: scenario `{}`, {} services, {} instances on {} hosts, {} workloads, {} variants, {} expectations\n",
        file.display(),
        loaded.study.spec.name,
        world.services.len(),
        world.instances.len(),
        world.hosts.len(),
        world.workloads.len(),
        loaded.study.designs.len(),
        loaded.study.spec.expect.len()
    );
    let plan = models::plan::plan(
        &loaded.study.base,
        Some(&loaded.source),
        models::plan::UTILIZATION_WARN,
    );
    faultline::print_warnings(&models::error::ScenarioWarnings {
        file: loaded.study.file.clone(),
        problems: plan.warnings,
    });
    let labels = models::variants::fault_labels(loaded.study.designs.iter().map(|d| &*d.world));
    if !labels.is_empty() {
        let list: Vec<String> = labels.iter().map(|l| format!("`{l}`")).collect();
        text.push_str(&format!(
            "faults and rollouts, as reports and `Detected(fault:)` name them: {}\n",
            list.join(", ")
        ));
    }
    Ok(Printed::success(text))
}

/// `faultline plan`: the plan of the scenario as written, or of one variant.
fn plan(args: PlanArgs) -> Result<Printed, faultline::Error> {
    if args.utilization_warn.is_nan() || args.utilization_warn <= 0.0 {
        return Err(faultline::Error::Usage(format!(
            "--utilization-warn {} is not a utilization above 0",
            args.utilization_warn
        )));
    }
    let loaded = args.overrides.load(&args.file)?;
    let world = match &args.variant {
        None => &loaded.study.base,
        Some(v) => {
            let file = std::path::Path::new(&loaded.study.file);
            &faultline::replay::find_design(&loaded, file, Some(v))?.world
        }
    };
    // Positions are the file's only when the world was built from its text as written.
    let source = args.variant.is_none().then_some(loaded.source.as_str());
    let plan = models::plan::plan(world, source, args.utilization_warn);
    Ok(Printed::success(reports::plan::render(
        &plan,
        &loaded.study.spec.name,
        &loaded.study.file,
    )))
}

/// Creates the folder a file goes into, if it is missing.
fn create_parent(path: &std::path::Path) -> Result<(), faultline::Error> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| faultline::Error::Io(format!("cannot create `{}`: {e}", dir.display()))),
        _ => Ok(()),
    }
}

/// Writes a trace to `path` (through a buffer; a trace can be tens of megabytes) and says what it
/// holds.
fn write_trace(
    path: &std::path::Path,
    trace: &models::trace::Trace,
) -> Result<String, faultline::Error> {
    create_parent(path)?;
    let io_error =
        |e: std::io::Error| faultline::Error::Io(format!("cannot write `{}`: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(io_error)?;
    let mut out = std::io::BufWriter::new(file);
    reports::trace::write_json(trace, &mut out).map_err(io_error)?;
    out.flush().map_err(io_error)?;
    let left_out = match trace.left_out() {
        text if text.is_empty() => String::new(),
        text => format!("; {text}"),
    };
    Ok(format!(
        "trace written to {}: {} spans of {} user requests (of {}, one in {}){left_out}; open it at https://ui.perfetto.dev\n",
        path.display(),
        trace.spans.len(),
        trace.users_traced,
        trace.users,
        trace.sample_one_in
    ))
}

/// The lines that name the replayed run and its digest, and whether the digest matches the log's
/// record (`true` without a log).
fn replay_verdict(replay: &faultline::Replay, log: Option<&std::path::Path>) -> (String, bool) {
    let mut out = format!(
        "replayed run {} of `{}` (seed {}): digest {}\n",
        replay.run, replay.variant, replay.seed, replay.result.digest
    );
    let log = log.map_or(String::new(), |p| p.display().to_string());
    match (replay.digest_matches(), &replay.logged_digest) {
        (Some(true), _) => {
            out.push_str(&format!("digest matches the sweep's record in {log}\n"));
            (out, true)
        }
        (Some(false), Some(logged)) => {
            out.push_str(&format!(
                "digest differs from the sweep's record in {log} ({logged}): this is not the run the sweep made (another faultline version or platform?)\n"
            ));
            (out, false)
        }
        _ => (out, true),
    }
}

/// Shrinks with a spinner on stderr when it is a terminal; stdout is left alone.
fn shrink_with_progress(
    loaded: &faultline::LoadedStudy,
    opts: &faultline::ShrinkOptions,
    quiet: bool,
) -> Result<faultline::ShrinkOutcome, faultline::Error> {
    use std::io::IsTerminal;
    let bar = if !quiet && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let outcome = faultline::shrink::shrink_loaded(loaded, opts, &|runs, faults| {
        bar.set_message(format!(
            "{runs} runs, smallest failing schedule so far: {faults} faults"
        ));
        bar.tick();
    });
    bar.finish_and_clear();
    outcome
}

/// What `faultline shrink` prints: the run's verdicts, then the minimal schedule and its cost.
fn render_shrink(file: &std::path::Path, o: &faultline::ShrinkOutcome) -> String {
    let mut out = String::new();
    let run = format!(
        "run {} of `{}` (seed {}, digest {})",
        o.run, o.variant, o.seed, o.digest
    );
    if !o.skipped.is_empty() {
        let list: Vec<String> = o.skipped.iter().map(|i| format!("expect[{i}]")).collect();
        out.push_str(&format!(
            "note: left out {}: `Better` compares variants over many runs, which one run cannot break\n",
            list.join(", ")
        ));
    }
    let Some(s) = &o.shrunk else {
        out.push_str(&if o.verdicts.is_empty() {
            format!(
                "{run}: no expectation that one run can break applies to `{}`: nothing to shrink\n",
                o.variant
            )
        } else {
            format!("{run} breaks no expectation that one run can break: nothing to shrink\n")
        });
        for (i, v) in &o.verdicts {
            out.push_str(&render_verdict(*i, v));
        }
        return out;
    };
    out.push_str(&format!("{run} breaks expect[{}]:\n", s.expect));
    for (i, v) in o.verdicts.iter().filter(|(i, _)| *i == s.expect) {
        out.push_str(&render_verdict(*i, v));
    }
    out.push_str(&render_shrunk(file, o, s));
    out
}

/// The minimal schedule, the caveats of the search, the verdicts with the schedule, and the
/// command that replays the run.
fn render_shrunk(
    file: &std::path::Path,
    o: &faultline::ShrinkOutcome,
    s: &faultline::shrink::Shrunk,
) -> String {
    let mut out = format!(
        "\nminimal schedule: {} of {} faults, found in {} runs; paste it into the scenario:\n\n{}\n",
        s.faults.len(),
        s.original.len(),
        s.runs,
        s.text
    );
    if s.limit_hit {
        out.push_str(&format!(
            "the search stopped at its limit of {} runs (--runs-max): the schedule still breaks the expectation, but a smaller one may exist\n",
            s.runs
        ));
    }
    if !s.text_verified {
        out.push_str("note: this text does not read back as the schedule found; check it against the scenario before pasting\n");
    }
    if s.faults.is_empty() {
        out.push_str("the run breaks the expectation without any fault\n");
    }
    out.push_str("with the minimal schedule:\n");
    for v in &s.verdicts {
        out.push_str(&render_verdict(s.expect, v));
    }
    out.push_str(&format!(
        "after pasting, `faultline run {} --variant {} --run {} --seed {}` replays it\n",
        file.display(),
        o.variant,
        o.run,
        o.seed
    ));
    out
}

/// One expectation's verdict on a run: pass or FAIL, what was measured, and the margin.
fn render_verdict(i: usize, v: &reports::check::Verdict) -> String {
    format!(
        "{}  expect[{i}] [{}] {}\n      measured {}; margin {}\n",
        if v.holds { "pass" } else { "FAIL" },
        v.variant,
        v.expectation,
        v.measured,
        v.margin
    )
}
