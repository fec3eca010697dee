//! One step's life: environment, preconditions, executions with retry and repeat,
//! output capture and the `continueOn` decision.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dagu_core::{Condition, Count, LogOutput, RepeatMode, Step};
use dagu_eval::{Context, Stages, StepRef, Vars, expand};
use dagu_store::{NodeState, NodeStatus, status::timestamp};

use tokio_util::sync::CancellationToken;

use crate::context::RunShared;
use crate::env::resolve_path;
use crate::executor::{StepInput, StepOutput};
use crate::process::{self, Interruption, StopPolicy};

/// What the runner hands to a step.
pub struct NodeJob {
    pub run: Arc<RunShared>,
    pub step: Arc<Step>,
    /// Outputs of upstream steps.
    pub outputs: Vars,
    /// `${id.…}` references to upstream steps.
    pub refs: HashMap<String, StepRef>,
    /// Extra variables (e.g. `DAG_RUN_STATUS` for handlers).
    pub extra: Vars,
    /// Handlers do not get the step log file variables.
    pub is_handler: bool,
    /// Fires when the step must stop.
    pub stop: tokio_util::sync::CancellationToken,
}

/// Receives a step's intermediate records (running, retrying).
pub type Progress = dyn Fn(NodeStatus) + Send + Sync;

/// How a step ended.
#[derive(Debug)]
pub struct NodeDone {
    pub node: NodeStatus,
    /// A failure that `continueOn` tolerates (dependents may run).
    pub continued: bool,
    /// Output variables: executor outputs, then the step's `output:` capture.
    pub outputs: Vec<(String, String)>,
}

/// Runs a step to its end. Progress (running, retrying) goes to `progress`.
pub async fn run(job: NodeJob, progress: &Progress) -> NodeDone {
    let step = job.step.clone();
    let run = job.run.clone();
    let started = Utc::now();
    let stem = dagu_store::layout::step_log_stem(&step.name, started, &run.run_id);
    let merged = step.log_output.unwrap_or(run.dag.log_output) == LogOutput::Merged;
    let (stdout_log, stderr_log) = if merged {
        let p = run.log_dir.join(format!("{stem}.log"));
        (p.clone(), p)
    } else {
        (
            run.log_dir.join(format!("{stem}.out")),
            run.log_dir.join(format!("{stem}.err")),
        )
    };
    let mut node = NodeStatus {
        stdout: stdout_log.to_string_lossy().into_owned(),
        stderr: stderr_log.to_string_lossy().into_owned(),
        started_at: timestamp(started),
        status: NodeState::Running,
        ..Default::default()
    };
    progress(node.clone());
    if run.dry {
        node.status = NodeState::Succeeded;
        node.finished_at = timestamp(Utc::now());
        return NodeDone {
            node,
            continued: false,
            outputs: Vec::new(),
        };
    }
    let mut vars = match StepVars::build(&job, &stdout_log, &stderr_log) {
        Ok(v) => v,
        Err(e) => return finish_failed(node, e),
    };
    let work_dir = match step_work_dir(&run, &step, &vars) {
        Ok(d) => d,
        Err(e) => return finish_failed(node, e),
    };
    match preconditions_met(&step.preconditions, &vars, &work_dir, &run, &job.stop).await {
        Ok(true) => {}
        Ok(false) => {
            node.status = NodeState::Skipped;
            node.finished_at = timestamp(Utc::now());
            return NodeDone {
                node,
                continued: step.continue_on.skipped,
                outputs: Vec::new(),
            };
        }
        Err(e) => return finish_failed(node, e),
    }
    let signal = step
        .signal_on_stop
        .as_deref()
        .and_then(process::signal_by_name)
        .unwrap_or(rustix::process::Signal::TERM);
    let mut input = StepInput {
        run: run.clone(),
        step: step.clone(),
        env: vars.env.clone(),
        lookup: vars.lookup.clone(),
        known: vars.known.clone(),
        step_refs: job.refs.clone(),
        work_dir,
        stdout_log,
        stderr_log,
        stop: job.stop.clone(),
        timeout: step.timeout,
        stop_policy: StopPolicy {
            signal,
            grace: run.dag.max_clean_up_time,
        },
    };
    let (result, output) = execute_with_policies(&mut input, &mut vars, &mut node, progress).await;
    let masker = &run.masker;
    for log in [&input.stdout_log, &input.stderr_log] {
        let _ = masker.mask_file(log);
    }
    copy_stream_files(&input, &vars);
    node.exit_code = Some(result.exit_code);
    node.children = result.children.clone();
    node.finished_at = timestamp(Utc::now());
    let outputs: Vec<(String, String)> = result.outputs.iter().cloned().chain(output).collect();
    for (name, value) in &outputs {
        // The record keeps the masked value; dependents get the real one.
        let stored = format!("{name}={}", masker.mask(value));
        node.output_variables
            .insert(name.clone(), serde_json::Value::String(stored));
    }
    let continued = match &result.error {
        None => {
            node.status = NodeState::Succeeded;
            false
        }
        Some(err) => {
            node.error = masker.mask(err).into_owned();
            let aborted = result.interrupted == Some(Interruption::Stopped);
            node.status = if aborted {
                NodeState::Aborted
            } else {
                NodeState::Failed
            };
            let tolerated = !aborted && continue_on_matches(&step, &result, &input.stdout_log);
            if tolerated && step.continue_on.mark_success {
                node.status = NodeState::Succeeded;
            }
            tolerated
        }
    };
    NodeDone {
        node,
        continued,
        outputs,
    }
}

/// Whether a DAG-level precondition set holds (dry runs always pass).
pub async fn preconditions_hold(job: &NodeJob) -> Result<bool, String> {
    if job.run.dry {
        return Ok(true);
    }
    let vars = StepVars::build(job, Path::new(""), Path::new(""))?;
    preconditions_met(
        &job.step.preconditions,
        &vars,
        &job.run.work_dir,
        &job.run,
        &job.stop,
    )
    .await
}

fn finish_failed(mut node: NodeStatus, error: String) -> NodeDone {
    node.status = NodeState::Failed;
    node.error = error;
    node.finished_at = timestamp(Utc::now());
    NodeDone {
        node,
        continued: false,
        outputs: Vec::new(),
    }
}

/// The variable sets of a step: what its process sees, what expansion may read, and
/// what expansion knows as Dagu variables.
struct StepVars {
    env: Vars,
    lookup: Vars,
    known: Vars,
}

impl StepVars {
    fn build(job: &NodeJob, stdout_log: &Path, stderr_log: &Path) -> Result<StepVars, String> {
        let run = &job.run;
        let mut specials = Vars::new();
        for (k, v) in run.env.iter().filter(|(k, _)| k.starts_with("DAG_")) {
            specials.set(k, v);
        }
        specials.set("DAG_RUN_STEP_NAME", job.step.name.clone());
        if !job.is_handler {
            specials.set("DAG_RUN_STEP_STDOUT_FILE", stdout_log.to_string_lossy());
            specials.set("DAG_RUN_STEP_STDERR_FILE", stderr_log.to_string_lossy());
        }
        specials.extend(&job.extra);
        let mut vars = StepVars {
            env: run.env.clone(),
            lookup: run.lookup.clone(),
            known: run.params.clone(),
        };
        vars.set_all(&job.outputs);
        vars.set_all(&specials);
        for (key, raw) in &job.step.env {
            let value = expand(raw, &vars.ctx(&job.refs, &run.work_dir), Stages::ALL)
                .map_err(|e| format!("env {key}: {e}"))?;
            vars.set(key, &value);
        }
        Ok(vars)
    }

    fn set(&mut self, key: &str, value: &str) {
        self.env.set(key, value);
        self.lookup.set(key, value);
        self.known.set(key, value);
    }

    fn set_all(&mut self, vars: &Vars) {
        self.env.extend(vars);
        self.lookup.extend(vars);
        self.known.extend(vars);
    }

    fn ctx<'a>(&'a self, refs: &'a HashMap<String, StepRef>, dir: &'a Path) -> Context<'a> {
        Context {
            known: &self.known,
            step_refs: refs,
            env: &self.lookup,
            command_env: &self.env,
            work_dir: Some(dir),
        }
    }
}

fn step_work_dir(run: &RunShared, step: &Step, vars: &StepVars) -> Result<PathBuf, String> {
    let Some(raw) = &step.dir else {
        return Ok(run.work_dir.clone());
    };
    let refs = HashMap::new();
    let expanded = expand(raw, &vars.ctx(&refs, &run.work_dir), Stages::ALL)
        .map_err(|e| format!("dir: {e}"))?;
    let dir = resolve_path(&expanded, &run.work_dir, &vars.env);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("failed to create directory {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Checks preconditions; all must hold.
async fn preconditions_met(
    conditions: &[Condition],
    vars: &StepVars,
    dir: &Path,
    run: &RunShared,
    stop: &CancellationToken,
) -> Result<bool, String> {
    for cond in conditions {
        if !condition_holds(cond, vars, &HashMap::new(), dir, run, stop).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One condition: compared to `expected`, or run as a command (exit 0 = true).
async fn condition_holds(
    cond: &Condition,
    vars: &StepVars,
    refs: &HashMap<String, StepRef>,
    dir: &Path,
    run: &RunShared,
    stop: &CancellationToken,
) -> Result<bool, String> {
    let holds = match &cond.expected {
        Some(expected) => {
            let actual = expand(&cond.condition, &vars.ctx(refs, dir), Stages::ALL)
                .map_err(|e| e.to_string())?;
            let expected =
                expand(expected, &vars.ctx(refs, dir), Stages::ALL).map_err(|e| e.to_string())?;
            dagu_eval::condition::matches(&actual, &expected).map_err(|e| e.to_string())?
        }
        None => {
            let text = expand(&cond.condition, &vars.ctx(refs, dir), Stages::COMMAND)
                .map_err(|e| e.to_string())?;
            let mut cmd = tokio::process::Command::new(&run.settings.default_shell);
            cmd.arg("-c")
                .arg(&text)
                .env_clear()
                .envs(vars.env.iter())
                .current_dir(dir)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let policy = StopPolicy {
                signal: rustix::process::Signal::TERM,
                grace: run.dag.max_clean_up_time,
            };
            let exit = process::run(cmd, stop, None, policy)
                .await
                .map_err(|e| e.to_string())?;
            exit.code == 0
        }
    };
    Ok(holds != cond.negate)
}

/// Runs the step with its retry and repeat policies; returns the last result and output.
async fn execute_with_policies(
    input: &mut StepInput,
    vars: &mut StepVars,
    node: &mut NodeStatus,
    progress: &Progress,
) -> (StepOutput, Option<(String, String)>) {
    let step = input.step.clone();
    let executor = input.run.executors.get(&step.step_type).cloned();
    let mut repeat_delay = step.repeat.as_ref().map(|r| r.interval);
    loop {
        let result = match &executor {
            Some(ex) => run_with_retries(ex.as_ref(), input, node, progress).await,
            None => StepOutput::failed(
                1,
                format!("executor type \"{}\" is not registered", step.step_type),
            ),
        };
        node.done_count += 1;
        let mut result = result;
        let output = match capture_output(&step, input) {
            Ok(output) => output,
            Err(e) => {
                result.error.get_or_insert(e);
                None
            }
        };
        if let Some((name, value)) = &output {
            vars.set(name, value);
        }
        let Some(policy) = &step.repeat else {
            return (result, output);
        };
        if input.stop.is_cancelled() || result.interrupted.is_some() {
            return (result, output);
        }
        if policy.limit > 0 && u64::from(node.done_count) >= policy.limit {
            return (result, output);
        }
        let predicate = match &policy.condition {
            Some(c) => condition_holds(
                c,
                vars,
                &input.step_refs,
                &input.work_dir,
                &input.run,
                &input.stop,
            )
            .await
            .unwrap_or(false),
            None if !policy.exit_codes.is_empty() => policy.exit_codes.contains(&result.exit_code),
            None => true,
        };
        let again = match policy.mode {
            RepeatMode::While => predicate,
            RepeatMode::Until => !predicate,
        };
        if !again {
            return (result, output);
        }
        node.repeated = true;
        let delay = repeat_delay.unwrap_or_default();
        if !sleep_unless_stopped(delay, &input.stop).await {
            return (result, output);
        }
        repeat_delay = Some(next_interval(delay, policy.backoff, policy.max_interval));
    }
}

async fn run_with_retries(
    executor: &dyn crate::executor::StepExecutor,
    input: &StepInput,
    node: &mut NodeStatus,
    progress: &Progress,
) -> StepOutput {
    let step = &input.step;
    let (limit, interval) = match &step.retry {
        Some(r) => match (
            resolve_count(&r.limit, &input.env),
            resolve_count(&r.interval, &input.env),
        ) {
            (Ok(l), Ok(i)) => (l, Duration::from_secs(i)),
            (Err(e), _) => {
                return StepOutput::failed(1, format!("failed to substitute retry limit \"{e}\""));
            }
            (_, Err(e)) => {
                return StepOutput::failed(
                    1,
                    format!("failed to substitute retry interval \"{e}\""),
                );
            }
        },
        None => (0, Duration::ZERO),
    };
    let mut delay = interval;
    loop {
        let result = executor.run(input).await;
        let Some(policy) = &step.retry else {
            return result;
        };
        let retryable = result.error.is_some()
            && result.interrupted.is_none()
            && !input.stop.is_cancelled()
            && u64::from(node.retry_count) < limit
            && (policy.exit_codes.is_empty() || policy.exit_codes.contains(&result.exit_code));
        if !retryable {
            return result;
        }
        node.retry_count += 1;
        node.retried_at = timestamp(Utc::now());
        node.error = result.error.clone().unwrap_or_default();
        progress(node.clone());
        if !sleep_unless_stopped(delay, &input.stop).await {
            return result;
        }
        delay = next_interval(delay, policy.backoff, policy.max_interval);
    }
}

/// A retry/repeat count given literally or as `${VAR}` text (process env only).
fn resolve_count(count: &Count, env: &Vars) -> Result<u64, String> {
    match count {
        Count::Fixed(n) => Ok(*n),
        Count::Expr(text) => {
            let value = dagu_eval::shell::expand_shell(text, env);
            value.trim().parse().map_err(|_| text.clone())
        }
    }
}

fn next_interval(current: Duration, backoff: Option<f64>, cap: Option<Duration>) -> Duration {
    let next = match backoff {
        Some(b) => current.mul_f64(b),
        None => current,
    };
    cap.map_or(next, |c| next.min(c))
}

/// Waits `delay`; false when the run was stopped meanwhile.
async fn sleep_unless_stopped(delay: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = stop.cancelled() => false,
    }
}

/// Reads the step's stdout into its output variable (trimmed), if it declares one; more
/// than `maxOutputSize` bytes fails the step.
fn capture_output(step: &Step, input: &StepInput) -> Result<Option<(String, String)>, String> {
    let Some(spec) = step.output.as_ref() else {
        return Ok(None);
    };
    let limit = input.run.dag.max_output_size;
    let bytes = std::fs::read(&input.stdout_log).unwrap_or_default();
    if bytes.len() > limit {
        return Err(format!(
            "output exceeded maximum size limit of {limit} bytes"
        ));
    }
    Ok(Some((
        spec.name.clone(),
        String::from_utf8_lossy(&bytes).trim().to_string(),
    )))
}

/// Whether `continueOn` tolerates this failure.
fn continue_on_matches(step: &Step, result: &StepOutput, stdout_log: &Path) -> bool {
    let c = &step.continue_on;
    if c.failure || c.exit_codes.contains(&result.exit_code) {
        return true;
    }
    if c.output.is_empty() {
        return false;
    }
    let text = std::fs::read_to_string(stdout_log).unwrap_or_default();
    text.lines().any(|line| {
        c.output.iter().any(|pattern| {
            if pattern.starts_with("re:") {
                dagu_eval::condition::matches(line, pattern).unwrap_or(false)
            } else {
                line.contains(pattern.as_str())
            }
        })
    })
}

/// Appends the step's streams to its `stdout:`/`stderr:` files (relative to the DAG's
/// working directory).
fn copy_stream_files(input: &StepInput, vars: &StepVars) {
    let step = &input.step;
    let refs = HashMap::new();
    let targets = [
        (&step.stdout, &input.stdout_log),
        (&step.stderr, &input.stderr_log),
    ];
    for (target, log) in targets {
        let Some(raw) = target else { continue };
        let Ok(expanded) = expand(raw, &vars.ctx(&refs, &input.run.work_dir), Stages::ALL) else {
            continue;
        };
        let path = resolve_path(&expanded, &input.run.work_dir, &vars.env);
        if let Ok(bytes) = std::fs::read(log) {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
            {
                let _ = f.write_all(&bytes);
            }
        }
    }
}
