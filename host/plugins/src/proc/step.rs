//! [`ProcPlugin`] as a [`StepExecutor`]: the step's config expanded and checked against the
//! plugin's schema, a [`RunRequest`] built from the [`StepInput`], log lines written to the
//! step's log files as they arrive, and the end mapped to a [`StepOutput`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use dagu_engine::executor::BoxFuture;
use dagu_engine::process::Interruption;
use dagu_engine::{Executors, StepExecutor, StepInput, StepOutput};
use dagu_eval::{Stages, expand};
use dagu_plugin_sdk::{LogStream, Manifest, RunError, RunRequest};
use serde_json::Value;

use crate::proc::connection::StartError;
use crate::proc::supervisor::{ProcPlugin, RunControl, RunEnd};

impl StepExecutor for ProcPlugin {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(run_step(self, input))
    }
}

impl ProcPlugin {
    /// Starts the plugin, reads its manifest and registers `plugin` for each of its step
    /// types; returns the step types.
    pub async fn register_all(
        plugin: &std::sync::Arc<ProcPlugin>,
        executors: &mut Executors,
    ) -> Result<Vec<String>, StartError> {
        let manifest = plugin.manifest().await?;
        let names: Vec<String> = manifest.step_types.iter().map(|t| t.name.clone()).collect();
        for name in &names {
            executors.register(name, plugin.clone());
        }
        Ok(names)
    }
}

async fn run_step(plugin: &ProcPlugin, input: &StepInput) -> StepOutput {
    let mut logs = match StepLogs::create(&input.stdout_log, &input.stderr_log) {
        Ok(l) => l,
        Err(e) => return StepOutput::failed(1, format!("failed to open log files: {e}")),
    };
    let request = match build_request(input) {
        Ok(r) => r,
        Err(e) => return StepOutput::failed(1, e),
    };
    // First use starts the process; its manifest has the schema to check the config with.
    let manifest = tokio::select! {
        m = plugin.manifest() => m,
        _ = input.stop.cancelled() => return StepOutput::stopped(),
    };
    let checked = match manifest {
        Ok(m) => check_config(plugin, &m, &request),
        Err(e) => Err(format!("plugin error: {e}")),
    };
    if let Err(e) = checked {
        return StepOutput::failed(1, e);
    }
    let control = RunControl {
        stop: &input.stop,
        timeout: input.timeout,
        grace: input.stop_policy.grace,
    };
    let end = plugin
        .run(request, control, &mut |stream, line| {
            logs.write(stream, line)
        })
        .await;
    step_output(plugin.name(), input, end)
}

/// The request for one execution: config and command expanded like other non-shell
/// step types (`${VAR}`, step references, backticks).
fn build_request(input: &StepInput) -> Result<RunRequest, String> {
    let step = &input.step;
    let ctx = input.context();
    let expand_text = |text: &str| {
        expand(text, &ctx, Stages::ALL).map_err(|e| format!("failed to expand the step: {e}"))
    };
    let config = expand_json(&step.config, &expand_text)?;
    let command = match &step.command {
        None => Vec::new(),
        Some(c) => command_lines(c)
            .iter()
            .map(|c| expand_text(c))
            .collect::<Result<_, _>>()?,
    };
    Ok(RunRequest {
        run_id: input.run.run_id.clone(),
        step_name: step.name.clone(),
        step_type: step.step_type.clone(),
        config,
        command,
        script: step.script.clone(),
        env: input
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        work_dir: Some(input.work_dir.display().to_string()),
        timeout_ms: input.timeout.map(|t| t.as_millis() as u64),
    })
}

fn command_lines(command: &dagu_core::Command) -> Vec<String> {
    match command {
        dagu_core::Command::Line(l) => vec![l.clone()],
        dagu_core::Command::List(l) => l.clone(),
    }
}

/// Expands every string in a JSON value (keys stay as written).
fn expand_json(
    value: &Value,
    expand_text: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(expand_text(s)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| expand_json(v, expand_text))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), expand_json(v, expand_text)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Checks the expanded config against the step type's schema in the manifest.
fn check_config(
    plugin: &ProcPlugin,
    manifest: &Manifest,
    request: &RunRequest,
) -> Result<(), String> {
    let Some(info) = manifest
        .step_types
        .iter()
        .find(|t| t.name == request.step_type)
    else {
        return Err(format!(
            "plugin '{}' does not provide step type '{}'",
            manifest.name, request.step_type
        ));
    };
    let validator = plugin
        .config_validator(&info.name, &info.config_schema)
        .map_err(|e| {
            format!(
                "plugin '{}' has an invalid config schema for '{}': {e}",
                manifest.name, info.name
            )
        })?;
    let problems: Vec<String> = validator
        .iter_errors(&request.config)
        .map(|e| {
            let at = e.instance_path().as_str().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "invalid config for step type '{}': {}",
            request.step_type,
            problems.join("; ")
        ))
    }
}

/// The step's two log files (one file when output is merged).
struct StepLogs {
    stdout: File,
    stderr: Option<File>,
}

impl StepLogs {
    fn create(stdout: &Path, stderr: &Path) -> std::io::Result<StepLogs> {
        let open = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(p)
        };
        Ok(StepLogs {
            stdout: open(stdout)?,
            stderr: if stderr == stdout {
                None
            } else {
                Some(open(stderr)?)
            },
        })
    }

    fn write(&mut self, stream: LogStream, line: &str) {
        let file = match (stream, &mut self.stderr) {
            (LogStream::Stderr, Some(f)) => f,
            _ => &mut self.stdout,
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let _ = file.write_all(&bytes);
    }
}

/// Maps the end of a run to what the engine records.
fn step_output(plugin: &str, input: &StepInput, end: RunEnd) -> StepOutput {
    let step = &input.step.name;
    let interrupted_error = match end.interrupted {
        Some(Interruption::Stopped) => Some("stopped on request".to_string()),
        Some(Interruption::TimedOut) => Some(format!(
            "step timed out after {}s (timeout: {}s)",
            input.timeout.map_or(0, |t| t.as_secs()),
            input.timeout.map_or(0, |t| t.as_secs())
        )),
        None => None,
    };
    let outputs = end
        .result
        .as_ref()
        .map(|r| r.outputs.clone())
        .unwrap_or_default();
    let (exit_code, error) = match end.result {
        Ok(r) if r.exit_code == 0 => (0, interrupted_error),
        Ok(r) => (
            r.exit_code,
            Some(format!(
                "failed to execute step \"{step}\": exit status {}",
                r.exit_code
            )),
        ),
        Err(RunError::Cancelled) => (
            -1,
            Some(
                interrupted_error
                    .unwrap_or_else(|| format!("plugin '{plugin}' cancelled the step on its own")),
            ),
        ),
        Err(RunError::Failed { exit_code, message }) => (
            exit_code,
            Some(format!(
                "failed to execute step \"{step}\": {message} (exit status {exit_code})"
            )),
        ),
        Err(RunError::InvalidConfig { message }) => (
            1,
            Some(format!(
                "invalid config for step type '{}': {message}",
                input.step.step_type
            )),
        ),
        Err(RunError::Denied { message }) => (1, Some(format!("permission denied: {message}"))),
        Err(RunError::Internal { message }) => (1, Some(format!("plugin error: {message}"))),
    };
    StepOutput {
        exit_code,
        error,
        interrupted: end.interrupted,
        outputs,
        ..Default::default()
    }
}
