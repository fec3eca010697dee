//! The step-executor interface every step type implements, and dispatch by type.
//!
//! `command` (local processes) and `dag`/`parallel` (sub-DAGs) are built in; the plugin
//! runtimes register further step types behind the same trait.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dagu_core::Step;
use dagu_eval::{StepRef, Vars};
use dagu_store::ChildRun;
use tokio_util::sync::CancellationToken;

use crate::context::RunShared;
use crate::process::{Interruption, StopPolicy};

impl StepInput {
    /// The expansion context of this step.
    pub fn context(&self) -> dagu_eval::Context<'_> {
        dagu_eval::Context {
            known: &self.known,
            step_refs: &self.step_refs,
            env: &self.lookup,
            command_env: &self.env,
            work_dir: Some(&self.work_dir),
        }
    }
}

/// A boxed future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything an executor needs to run one execution of a step.
pub struct StepInput {
    pub run: Arc<RunShared>,
    pub step: Arc<Step>,
    /// The process environment of the step.
    pub env: Vars,
    /// `env` over the whole host environment: what expansion may read (never passed on).
    pub lookup: Vars,
    /// Variables known to expansion (params, upstream outputs, step env, specials).
    pub known: Vars,
    /// `${id.stdout}`-style references to upstream steps.
    pub step_refs: HashMap<String, StepRef>,
    /// The step's working directory (exists).
    pub work_dir: PathBuf,
    /// Log files (equal when output is merged).
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
    /// Fires when the run stops.
    pub stop: CancellationToken,
    pub timeout: Option<Duration>,
    pub stop_policy: StopPolicy,
}

/// The result of one execution.
#[derive(Clone, Debug, Default)]
pub struct StepOutput {
    pub exit_code: i32,
    /// `None` on success; otherwise why the step failed.
    pub error: Option<String>,
    /// Set when the engine ended the step early.
    pub interrupted: Option<Interruption>,
    /// Sub-DAG runs this step started.
    pub children: Vec<ChildRun>,
    /// Named outputs the executor produced (plugins' `outputs`): like an `output:`
    /// variable, each is visible to the step's dependents and recorded.
    pub outputs: Vec<(String, String)>,
}

impl StepOutput {
    /// Ended because the run is stopping (the step counts as aborted).
    pub fn stopped() -> StepOutput {
        StepOutput {
            exit_code: -1,
            error: Some("stopped on request".into()),
            interrupted: Some(Interruption::Stopped),
            ..Default::default()
        }
    }

    /// A failure with a message.
    pub fn failed(exit_code: i32, error: impl Into<String>) -> StepOutput {
        StepOutput {
            exit_code,
            error: Some(error.into()),
            ..Default::default()
        }
    }
}

/// Runs steps of one or more types.
pub trait StepExecutor: Send + Sync {
    /// Runs one execution of a step. Must end promptly after `input.stop` fires.
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput>;

    /// Called once the DAG run `run_id` has ended, for each executor its steps or handlers
    /// used, so that state kept across its steps (pooled connections, the run's container)
    /// can go. The default keeps nothing.
    fn end_run<'a>(&'a self, _run_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Called before the host exits: ends whatever runs on the executor's behalf (plugin
    /// processes), waiting until it has released what it holds. The default has nothing.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The step types this host can run.
#[derive(Default, Clone)]
pub struct Executors {
    by_type: HashMap<String, Arc<dyn StepExecutor>>,
}

impl Executors {
    /// The built-in step types: `command`, `dag`, `parallel`.
    pub fn builtin() -> Executors {
        let mut e = Executors::default();
        e.register("command", Arc::new(crate::command::CommandExecutor));
        let sub: Arc<dyn StepExecutor> = Arc::new(crate::subdag::SubDagExecutor);
        e.register("dag", sub.clone());
        e.register("parallel", sub);
        e
    }

    /// Adds (or replaces) the executor of a step type.
    pub fn register(&mut self, step_type: &str, executor: Arc<dyn StepExecutor>) {
        self.by_type.insert(step_type.to_string(), executor);
    }

    /// The executor of a step type.
    pub fn get(&self, step_type: &str) -> Option<&Arc<dyn StepExecutor>> {
        self.by_type.get(step_type)
    }

    /// Tells each executor of `step_types` (once, however many of the types it runs) that
    /// the run `run_id` has ended.
    pub async fn end_run<'a>(&self, step_types: impl IntoIterator<Item = &'a str>, run_id: &str) {
        for executor in self.distinct(step_types.into_iter().filter_map(|t| self.get(t))) {
            executor.end_run(run_id).await;
        }
    }

    /// Shuts every executor down (once each), e.g. before the host exits.
    pub async fn shutdown(&self) {
        for executor in self.distinct(self.by_type.values()) {
            executor.shutdown().await;
        }
    }

    /// Each executor once (one may be registered for several step types).
    fn distinct<'a>(
        &self,
        executors: impl Iterator<Item = &'a Arc<dyn StepExecutor>>,
    ) -> Vec<&'a Arc<dyn StepExecutor>> {
        let mut seen: Vec<&Arc<dyn StepExecutor>> = Vec::new();
        for executor in executors {
            if !seen.iter().any(|s| Arc::ptr_eq(s, executor)) {
                seen.push(executor);
            }
        }
        seen
    }
}
