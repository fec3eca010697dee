//! The typed DAG model the loader produces and the engine runs.
//!
//! Values that are resolved at run time (commands, env, params, paths) are kept as the
//! text the user wrote; the engine expands them just before use.

use std::path::PathBuf;
use std::time::Duration;

use dagu_eval::params::Param;

/// Whether steps implicitly depend on the previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExecutionType {
    /// Each top-level step depends on the previous top-level item.
    #[default]
    Chain,
    /// Only explicit `depends`.
    Graph,
}

/// Where a step's stdout and stderr go in the run logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogOutput {
    /// One `.out` and one `.err` file.
    #[default]
    Separate,
    /// Both streams into one `.log` file.
    Merged,
}

/// A loaded DAG document, ready to run.
#[derive(Clone, Debug, Default)]
pub struct Dag {
    /// DAG name (the `name:` field, else the file stem).
    pub name: String,
    /// The file the DAG came from (absolute), if any.
    pub location: Option<PathBuf>,
    /// Index of the document in its file (0 = main DAG).
    pub document: usize,
    pub description: Option<String>,
    pub group: Option<String>,
    /// Lower-cased tags/labels.
    pub tags: Vec<String>,
    pub execution: ExecutionType,
    /// Cron expressions (validated; used by the scheduler).
    pub schedule: Vec<String>,
    pub skip_if_successful: bool,
    /// DAG env entries, evaluated in order at run start.
    pub env: Vec<(String, String)>,
    /// Parameter defaults in declaration order (maps sorted by key, as the reference does).
    pub params: Vec<Param>,
    /// dotenv files, in order (default `.env`).
    pub dotenv: Vec<String>,
    pub secrets: Vec<Secret>,
    /// `workingDir` as written (relative to the DAG file's folder).
    pub working_dir: Option<String>,
    /// Default shell of command steps.
    pub shell: Option<Shell>,
    pub log_dir: Option<String>,
    pub log_output: LogOutput,
    pub hist_retention_days: Option<i64>,
    pub max_output_size: usize,
    /// 0 = unlimited.
    pub max_active_steps: usize,
    pub max_active_runs: i64,
    pub queue: Option<String>,
    pub timeout: Option<Duration>,
    pub delay: Option<Duration>,
    pub restart_wait: Option<Duration>,
    /// Grace period between the stop signal and SIGKILL.
    pub max_clean_up_time: Duration,
    pub preconditions: Vec<Condition>,
    pub handlers: Handlers,
    pub steps: Vec<Step>,
}

/// The default `maxOutputSize`.
pub const DEFAULT_MAX_OUTPUT_SIZE: usize = 1024 * 1024;
/// The default `maxCleanUpTimeSec`.
pub const DEFAULT_MAX_CLEAN_UP_TIME: Duration = Duration::from_secs(5);

/// Lifecycle handlers; each is a full step.
#[derive(Clone, Debug, Default)]
pub struct Handlers {
    pub init: Option<Step>,
    pub success: Option<Step>,
    pub failure: Option<Step>,
    pub abort: Option<Step>,
    pub exit: Option<Step>,
    pub wait: Option<Step>,
    /// Handlers that came from `base.yaml` (sub-DAG runs do not run them).
    pub inherited: Vec<HandlerKind>,
}

impl Handlers {
    /// The handler slot of a kind.
    pub fn slot(&self, kind: HandlerKind) -> &Option<Step> {
        match kind {
            HandlerKind::Init => &self.init,
            HandlerKind::Success => &self.success,
            HandlerKind::Failure => &self.failure,
            HandlerKind::Abort => &self.abort,
            HandlerKind::Exit => &self.exit,
            HandlerKind::Wait => &self.wait,
        }
    }

    /// The handler slot of a kind, for setting.
    pub fn slot_mut(&mut self, kind: HandlerKind) -> &mut Option<Step> {
        match kind {
            HandlerKind::Init => &mut self.init,
            HandlerKind::Success => &mut self.success,
            HandlerKind::Failure => &mut self.failure,
            HandlerKind::Abort => &mut self.abort,
            HandlerKind::Exit => &mut self.exit,
            HandlerKind::Wait => &mut self.wait,
        }
    }

    /// Drops the handlers inherited from `base.yaml`.
    pub fn without_inherited(mut self) -> Handlers {
        for kind in std::mem::take(&mut self.inherited) {
            *self.slot_mut(kind) = None;
        }
        self
    }
}

/// A secret resolved at run start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub provider: String,
    pub key: String,
}

/// A shell program with its arguments (`bash -e -o pipefail` → `bash`, [`-e`, `-o`, `pipefail`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shell {
    pub program: String,
    pub args: Vec<String>,
}

/// A precondition: a command (exit 0 = met) or a value compared to `expected`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub condition: String,
    pub expected: Option<String>,
    pub negate: bool,
}

/// One step of a DAG (or a handler).
#[derive(Clone, Debug, Default)]
pub struct Step {
    pub name: String,
    pub id: Option<String>,
    pub description: Option<String>,
    /// Step type: `command`, `dag`, `parallel`, or a plugin step type (`http`, `jq`, ...).
    pub step_type: String,
    /// Type-specific configuration (`config:` / `with:` / `executor.config`).
    pub config: serde_json::Value,
    pub command: Option<Command>,
    pub script: Option<String>,
    /// Shell for this step (`None` = DAG default).
    pub shell: Option<Shell>,
    pub shell_packages: Vec<String>,
    pub dir: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub log_output: Option<LogOutput>,
    pub output: Option<OutputSpec>,
    /// Names of the steps this one waits for (ids resolved to names; chain edges included).
    pub depends: Vec<String>,
    pub continue_on: ContinueOn,
    pub retry: Option<RetryPolicy>,
    pub repeat: Option<RepeatPolicy>,
    pub mail_on_error: bool,
    pub preconditions: Vec<Condition>,
    /// Signal name sent on stop (`None` = SIGTERM).
    pub signal_on_stop: Option<String>,
    pub timeout: Option<Duration>,
    pub env: Vec<(String, String)>,
    /// Sub-DAG call (`call:` / `run:`).
    pub call: Option<Call>,
}

/// What a command step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// One command line, run through the shell.
    Line(String),
    /// Several command lines run one after another, stopping at the first failure.
    List(Vec<String>),
}

/// `output:` of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    /// Variable name (leading `$` stripped).
    pub name: String,
    /// Key in `outputs.json` (default: camelCase of the name).
    pub key: Option<String>,
    /// Leave out of `outputs.json`.
    pub omit: bool,
}

/// When a failed or skipped step lets its dependents run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContinueOn {
    pub failure: bool,
    pub skipped: bool,
    pub exit_codes: Vec<i32>,
    /// Substrings or `re:` patterns matched against stdout lines.
    pub output: Vec<String>,
    pub mark_success: bool,
}

/// A number given literally or as text resolved at run time (`limit: ${N}`).
#[derive(Clone, Debug, PartialEq)]
pub enum Count {
    Fixed(u64),
    Expr(String),
}

/// `retryPolicy`.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    pub limit: Count,
    pub interval: Count,
    /// Multiplier per retry (`None` = constant interval).
    pub backoff: Option<f64>,
    pub max_interval: Option<Duration>,
    /// Retry only on these exit codes (empty = any failure).
    pub exit_codes: Vec<i32>,
}

/// `repeat:` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepeatMode {
    /// Repeat while the predicate holds (or unconditionally for legacy `repeat: true`).
    While,
    /// Repeat until the predicate holds.
    Until,
}

/// `repeatPolicy`.
#[derive(Clone, Debug, PartialEq)]
pub struct RepeatPolicy {
    pub mode: RepeatMode,
    pub condition: Option<Condition>,
    pub exit_codes: Vec<i32>,
    pub interval: Duration,
    pub backoff: Option<f64>,
    pub max_interval: Option<Duration>,
    /// Maximum total executions (0 = unlimited).
    pub limit: u64,
}

/// A sub-DAG call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// DAG name or path, expanded at run time.
    pub target: String,
    /// Params as a params string (maps are converted to `K="V"` tokens).
    pub params: Option<String>,
    pub parallel: Option<Parallel>,
}

/// `parallel:` fan-out over one sub-DAG.
#[derive(Clone, Debug, PartialEq)]
pub struct Parallel {
    pub items: ParallelItems,
    pub max_concurrent: usize,
}

/// The items of a fan-out.
#[derive(Clone, Debug, PartialEq)]
pub enum ParallelItems {
    /// Literal items (objects as JSON).
    List(Vec<serde_json::Value>),
    /// An expression evaluated at run time, then split (JSON array, lines, or words).
    Expr(String),
}

impl Dag {
    /// The handler of a kind, if any.
    pub fn handler(&self, kind: HandlerKind) -> Option<&Step> {
        self.handlers.slot(kind).as_ref()
    }
}

/// The kinds of lifecycle handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandlerKind {
    Init,
    Success,
    Failure,
    Abort,
    Exit,
    Wait,
}

impl HandlerKind {
    /// Every kind.
    pub const ALL: [HandlerKind; 6] = [
        HandlerKind::Init,
        HandlerKind::Success,
        HandlerKind::Failure,
        HandlerKind::Abort,
        HandlerKind::Exit,
        HandlerKind::Wait,
    ];

    /// The name a handler step gets (`DAG_RUN_STEP_NAME`, status field).
    pub fn step_name(self) -> &'static str {
        match self {
            HandlerKind::Init => "onInit",
            HandlerKind::Success => "onSuccess",
            HandlerKind::Failure => "onFailure",
            HandlerKind::Abort => "onCancel",
            HandlerKind::Exit => "onExit",
            HandlerKind::Wait => "onWait",
        }
    }
}
