//! What every step of one run shares.

use std::path::PathBuf;
use std::sync::Arc;

use dagu_core::{Dag, DagFile};
use dagu_eval::Vars;
use dagu_store::{RunRef, Store};

use crate::executor::Executors;

/// Directories and settings that come from the deployment, not the DAG.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Run records and logs.
    pub store: Store,
    /// Where `call: name` looks for DAG files.
    pub dags_dir: PathBuf,
    /// How DAG files are loaded (base config, plugin step types), also for sub-DAGs.
    pub load: dagu_core::LoadOptions,
    /// The filtered host environment steps start from.
    pub host_env: Vars,
    /// The whole host environment: what `${VAR}` in env, params, paths and conditions
    /// may read (never passed to processes).
    pub host_lookup: Vars,
    /// Default shell when neither the step nor the DAG names one.
    pub default_shell: String,
}

/// Shared, read-only state of one run (or sub-run).
pub struct RunShared {
    pub settings: Arc<Settings>,
    pub executors: Arc<Executors>,
    /// The file the DAG came from (for local sub-DAGs).
    pub file: Arc<DagFile>,
    pub dag: Arc<Dag>,
    pub run_id: String,
    pub root: RunRef,
    /// Directory of the root run's record (sub-runs are stored inside it).
    pub root_run_path: PathBuf,
    /// The DAG's working directory.
    pub work_dir: PathBuf,
    /// The folder holding the DAG file.
    pub dag_dir: PathBuf,
    /// Log directory of this attempt.
    pub log_dir: PathBuf,
    /// The run-level log file.
    pub run_log_file: PathBuf,
    /// Writer of the run-level log.
    pub run_log: crate::runlog::RunLog,
    /// Hides the run's secrets in logs and records.
    pub masker: crate::mask::Masker,
    /// The environment every step's process starts from.
    pub env: Vars,
    /// `env` over the whole host environment: what expansion may read.
    pub lookup: Vars,
    /// Params (named and positional), known to expansion.
    pub params: Vars,
    /// Dry run: nothing executes.
    pub dry: bool,
}
