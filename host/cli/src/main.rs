//! The `dagu` command.

mod commands;
mod paths;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Dagu: local-first workflow engine (Rust re-implementation).
#[derive(Parser, Debug)]
#[command(name = "dagu", disable_version_flag = true)]
struct Cli {
    /// Use this directory as DAGU_HOME for this call.
    #[arg(long, global = true, value_name = "DIR")]
    dagu_home: Option<PathBuf>,
    /// Explicit config file.
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// What `start` and `dry` take: flags, the DAG, and params after `--`.
#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub flags: RunFlags,
    /// DAG file or name.
    pub dag: String,
    /// Parameters after `--`.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Flags shared by the commands that start a run.
#[derive(Args, Debug, Clone, Default)]
pub struct RunFlags {
    /// Parameters, e.g. `-p 'A=1 B="x y"'` (ignored when params follow `--`).
    #[arg(short = 'p', long)]
    pub params: Option<String>,
    /// Override the DAG name.
    #[arg(short = 'N', long)]
    pub name: Option<String>,
    /// Run ID to use (letters, digits, '-' and '_').
    #[arg(short = 'r', long)]
    pub run_id: Option<String>,
    /// Working directory for DAGs that set none.
    #[arg(long)]
    pub default_working_dir: Option<PathBuf>,
    /// Run again with the DAG and params recorded by this earlier run.
    #[arg(long, value_name = "RUN_ID", conflicts_with = "params")]
    pub from_run_id: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a DAG in the foreground.
    Start(RunArgs),
    /// Show what a run would do, without running anything.
    Dry(RunArgs),
    /// Check a DAG file and report every problem.
    Validate { dag: String },
    /// Show the latest (or a given) run of a DAG.
    Status {
        #[arg(short = 'r', long)]
        run_id: Option<String>,
        /// Print the run record as JSON.
        #[arg(long)]
        json: bool,
        dag: String,
    },
    /// List runs.
    History {
        dag: Option<String>,
        /// Only these statuses (comma-separated labels).
        #[arg(long)]
        status: Option<String>,
        /// Only run IDs containing this text.
        #[arg(long)]
        run_id: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Stop a running run.
    Stop {
        #[arg(short = 'r', long)]
        run_id: Option<String>,
        dag: String,
    },
    /// Run an earlier run again as a new attempt (same run ID).
    Retry {
        #[arg(short = 'r', long, required = true)]
        run_id: String,
        /// Re-run only this step.
        #[arg(long)]
        step: Option<String>,
        dag: String,
    },
    /// Stop the running run and start a new one with the same parameters.
    Restart {
        #[arg(short = 'r', long)]
        run_id: Option<String>,
        dag: String,
    },
    /// Delete old runs of a DAG.
    Cleanup {
        /// Keep runs newer than this many days (0 = delete all finished runs).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        retention_days: i64,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        dag: String,
    },
    /// Run one command as a one-step DAG.
    Exec(commands::start::ExecSpec),
    /// Manage plugins: list, inspect, verify, lock, install.
    Plugin {
        #[command(subcommand)]
        command: commands::plugin::PluginCommand,
    },
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error; help goes to stdout with 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    // Most commands load a DAG; compile its schema while the file is read. Plugin
    // processes (`plugin serve`) load none.
    if !matches!(&cli.command, Command::Plugin { command } if command.is_serve()) {
        std::thread::spawn(dagu_core::schema::warm_up);
    }
    let ctx = commands::Ctx::new(cli.dagu_home.as_deref(), cli.config.as_deref(), cli.quiet);
    let code = match cli.command {
        Command::Start(run) => commands::start::start(&ctx, &run, false),
        Command::Dry(run) => commands::start::start(&ctx, &run, true),
        Command::Validate { dag } => commands::validate::validate(&ctx, &dag),
        Command::Status { run_id, json, dag } => {
            commands::inspect::status(&ctx, &dag, run_id.as_deref(), json)
        }
        Command::History {
            dag,
            status,
            run_id,
            limit,
            format,
        } => commands::inspect::history(
            &ctx,
            dag.as_deref(),
            status.as_deref(),
            run_id.as_deref(),
            limit,
            &format,
        ),
        Command::Stop { run_id, dag } => commands::manage::stop(&ctx, &dag, run_id.as_deref()),
        Command::Retry { run_id, step, dag } => {
            commands::start::retry(&ctx, &dag, &run_id, step.as_deref())
        }
        Command::Restart { run_id, dag } => commands::start::restart(&ctx, &dag, run_id.as_deref()),
        Command::Cleanup {
            retention_days,
            dry_run,
            yes,
            dag,
        } => commands::manage::cleanup(&ctx, &dag, retention_days, dry_run, yes),
        Command::Exec(spec) => commands::start::exec(&ctx, &spec),
        Command::Plugin { command } => commands::plugin::run(&ctx, &command),
        Command::Version => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    };
    match code {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}
