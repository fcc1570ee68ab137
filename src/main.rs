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
    /// Check a scenario file without running it.
    #[command(after_help = "Example: faultline validate scenarios/quickstart.ron\n\n".to_owned() + EXIT_CODES)]
    Validate {
        /// The scenario file (RON).
        file: PathBuf,
    },
}

#[derive(Copy, Clone, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(match e {
                faultline::Error::Scenario(_) => 2,
                faultline::Error::Run(_) => 3,
            })
        }
    }
}

fn run(cli: Cli) -> Result<(), faultline::Error> {
    let mut out = std::io::stdout().lock();
    let text = match cli.command {
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
    Ok(())
}
