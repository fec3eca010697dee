//! Runs one Dagu DAG: values resolved per step, steps scheduled by their dependencies,
//! each step executed by the executor of its type, every change journaled.

pub mod command;
pub mod context;
pub mod env;
pub mod executor;
pub mod lifecycle;
pub mod mask;
pub mod node;
pub mod outcome;
pub mod process;
pub mod run;
pub mod runlog;
pub mod runner;
pub mod subdag;

pub use context::Settings;
pub use executor::{Executors, StepExecutor, StepInput, StepOutput};
pub use run::{Parent, RetryOf, RunReport, RunRequest, run_dag};
