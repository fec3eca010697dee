//! What every plugin runtime does around a step the same way: the [`RunRequest`] built
//! from the [`StepInput`] (config and command expanded), the config checked against the
//! step type's schema (compiled once per schema), the log files written as lines stream
//! in, and the end of the run mapped to the engine's [`StepOutput`].

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use dagu_engine::process::Interruption;
use dagu_engine::{StepInput, StepOutput};
use dagu_eval::{Stages, expand};
use dagu_plugin_sdk::{LogStream, Manifest, RunError, RunRequest, RunResponse};
use serde_json::Value;

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEnd {
    /// The plugin's answer, or the host's own error (`internal` when the plugin died or
    /// was killed, `cancelled` when stopped before it started).
    pub result: Result<RunResponse, RunError>,
    /// Set when the host asked the run to end early.
    pub interrupted: Option<Interruption>,
}

/// Compiled config schemas by step type, each with the schema it was compiled from, so a
/// schema is compiled once per plugin, not once per step.
#[derive(Default)]
pub struct ConfigValidators {
    compiled: Mutex<HashMap<String, (Value, Arc<jsonschema::Validator>)>>,
}

impl ConfigValidators {
    /// The validator of `step_type`'s config schema.
    pub fn get(
        &self,
        step_type: &str,
        schema: &Value,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((compiled_from, validator)) = cache.get(step_type)
            && compiled_from == schema
        {
            return Ok(validator.clone());
        }
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(schema)
            .map_err(|e| e.to_string())?;
        let validator = Arc::new(validator);
        cache.insert(step_type.to_string(), (schema.clone(), validator.clone()));
        Ok(validator)
    }
}

/// The request for one execution: config and command expanded like other non-shell
/// step types (`${VAR}`, step references, backticks).
pub fn build_request(input: &StepInput) -> Result<RunRequest, String> {
    let step = &input.step;
    let ctx = input.context();
    let expand_text = |text: &str| {
        expand(text, &ctx, Stages::ALL).map_err(|e| format!("failed to expand the step: {e}"))
    };
    // A step without `config` has an empty one.
    let config = match &step.config {
        Value::Null => Value::Object(Default::default()),
        config => expand_json(config, &expand_text)?,
    };
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
pub fn check_config(
    validators: &ConfigValidators,
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
    let validator = validators
        .get(&info.name, &info.config_schema)
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

/// The step's two log files (one file when output is merged), written line by line as a
/// plugin streams them.
pub struct StepLogs {
    stdout: File,
    stderr: Option<File>,
}

impl StepLogs {
    /// Logs that go nowhere (for calls that belong to no step, like `describe`).
    pub fn discard() -> std::io::Result<StepLogs> {
        let null = Path::new("/dev/null");
        StepLogs::create(null, null)
    }

    /// Creates (truncates) the log files; `stderr == stdout` means one merged file.
    pub fn create(stdout: &Path, stderr: &Path) -> std::io::Result<StepLogs> {
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

    /// Appends one line and its newline.
    pub fn write(&mut self, stream: LogStream, line: &str) {
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
pub fn step_output(plugin: &str, input: &StepInput, end: RunEnd) -> StepOutput {
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
