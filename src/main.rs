//! The `faultline` command line: parses arguments, calls the library, prints, sets the exit code.
//! No simulation logic lives here.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str =
    "Exit codes: 0 success, 2 bad input (scenario file or arguments), 3 internal error.";

/// Deterministic simulator for the resilience of distributed systems.
#[derive(Parser)]
#[command(name = "faultline", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario once and print per-service results.
    #[command(after_help = "Example: faultline run scenarios/quickstart.ron --seed 7 --format json\n\n".to_owned() + EXIT_CODES)]
    Run {
        /// The scenario file (RON).
        file: PathBuf,
        /// Seed for every random stream; overrides the file's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Output format: a table for people, or one JSON document for machines.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Evaluate the scenario's `expect` assertions over many runs; exit 1 if one does not hold.
    #[command(after_help = "Example: faultline check scenarios/quickstart.ron --runs 50\n\n".to_owned() + EXIT_CODES)]
    Check {
        /// The scenario file (RON).
        file: PathBuf,
        #[command(flatten)]
        sweep: SweepArgs,
    },
    /// Run every variant over many seeds and write a comparison report.
    #[command(after_help = "Example: faultline compare scenarios/quickstart.ron --runs 200 --out out/quickstart\n\nWrites report.md, summary.json and runs.csv into the output folder.\n\n".to_owned() + EXIT_CODES)]
    Compare {
        /// The scenario file (RON).
        file: PathBuf,
        #[command(flatten)]
        sweep: SweepArgs,
        /// Folder for the reports (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a scenario file without running it.
    #[command(after_help = "Example: faultline validate scenarios/quickstart.ron\n\n".to_owned() + EXIT_CODES)]
    Validate {
        /// The scenario file (RON).
        file: PathBuf,
    },
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
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

impl SweepArgs {
    fn options(&self) -> faultline::SweepOptions {
        faultline::SweepOptions { runs: self.runs, jobs: self.jobs, seed: self.seed }
    }
}

/// Runs a sweep with a progress bar on stderr (hidden when stderr is not a terminal or `--quiet`).
fn sweep_with_progress(
    study: &faultline::Study,
    args: &SweepArgs,
) -> Result<(faultline::Summary, reports::sweep::Aggregate), faultline::Error> {
    use std::io::IsTerminal;
    let runs = u64::from(args.runs.unwrap_or(study.spec.runs)) * study.designs.len() as u64;
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(runs)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}")
            .expect("valid template"),
    );
    let result = faultline::study_summary(study, &args.options(), &|| bar.inc(1));
    bar.finish_and_clear();
    result
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
                faultline::Error::Scenario(_) | faultline::Error::Usage(_) | faultline::Error::Io(_) => 2,
                faultline::Error::Run(_) => 3,
            })
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, faultline::Error> {
    let mut out = std::io::stdout().lock();
    let mut code = ExitCode::SUCCESS;
    let text = match cli.command {
        Command::Check { file, sweep } => {
            let study = faultline::load_study(&file)?;
            if study.spec.expect.is_empty() {
                return Err(faultline::Error::Usage(format!(
                    "{}: the scenario has no `expect` assertions to check; add some, or use `faultline compare`",
                    file.display()
                )));
            }
            let (summary, _) = sweep_with_progress(&study, &sweep)?;
            if !summary.expectations.iter().all(|v| v.holds) {
                code = ExitCode::from(1);
            }
            reports::table::render_summary(&summary)
        }
        Command::Compare { file, sweep, out: dir } => {
            let study = faultline::load_study(&file)?;
            let (summary, agg) = sweep_with_progress(&study, &sweep)?;
            faultline::write_reports(&dir, &summary, &agg)?;
            format!(
                "{}\nreports written to {}: report.md, summary.json, runs.csv\n",
                reports::table::render_summary(&summary),
                dir.display()
            )
        }
        Command::Run { file, seed, format } => {
            let result = faultline::run_file(&file, seed)?;
            match format {
                Format::Table => reports::table::render_run(&result),
                Format::Json => reports::run_json(&result),
            }
        }
        Command::Validate { file } => {
            let world = faultline::load(&file)?;
            format!(
                "ok: {}: scenario `{}`, {} services, {} instances on {} hosts, {} workloads\n",
                file.display(),
                world.name,
                world.services.len(),
                world.instances.len(),
                world.hosts.len(),
                world.workloads.len()
            )
        }
    };
    // A closed pipe (`faultline run ... | head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    Ok(code)
}
