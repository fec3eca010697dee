//! The records of the `dagu:plugin` contract as serde types.
//!
//! Field names are the WIT names with `-` replaced by `_`. Fields that the WIT carries as
//! JSON text (`config-schema`, `output-schema`, `config`, `result-json`) are JSON values here,
//! so a subprocess plugin never has to encode JSON inside a JSON string.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a plugin is and what it offers: the answer to `describe`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The plugin's name (lowercase, `[a-z0-9-]`), e.g. `python-echo`.
    pub name: String,
    /// The plugin's own version (semver).
    pub version: String,
    /// The contract version the plugin was written for, e.g. `dagu-plugin/1`.
    pub protocol: String,
    /// The step types the plugin runs.
    pub step_types: Vec<StepTypeInfo>,
    /// What the plugin asks to be allowed to do.
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// One step type a plugin provides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepTypeInfo {
    /// The name DAGs use in `type:`, e.g. `echo`.
    pub name: String,
    /// One line for `dagu plugin inspect`.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the step's `config`.
    pub config_schema: Value,
    /// JSON Schema of `result_json`, when the step returns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

/// Capabilities a plugin requests. What it gets is the intersection with the deployment's
/// grants; everything is denied by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// Hosts for outgoing HTTP (`api.example.com`, `*.example.com`).
    pub http_hosts: Vec<String>,
    /// Paths the plugin may read.
    pub fs_read: Vec<String>,
    /// Paths the plugin may write.
    pub fs_write: Vec<String>,
    /// Names of environment variables the plugin may read.
    pub env: Vec<String>,
    /// TCP targets (`host:port`) the plugin may connect to.
    pub tcp: Vec<String>,
    /// Whether the plugin may start processes.
    pub exec: bool,
}

/// One execution of a step, as the host hands it to the plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The DAG run's id.
    pub run_id: String,
    /// The step's name in the DAG.
    pub step_name: String,
    /// Which of the plugin's step types to run.
    pub step_type: String,
    /// The step's `config`, already expanded by the host.
    #[serde(default)]
    pub config: Value,
    /// The step's `command`, if any.
    #[serde(default)]
    pub command: Vec<String>,
    /// The step's `script`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The step's environment, in order.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// The step's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<String>,
    /// The step's timeout in milliseconds (the host enforces it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// A step that ran to the end.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResponse {
    /// `0` for success; anything else fails the step.
    #[serde(default)]
    pub exit_code: i32,
    /// Named output values, in order.
    #[serde(default)]
    pub outputs: Vec<(String, String)>,
    /// A structured result, when the step type has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_json: Option<Value>,
}

/// Why a step did not run to the end. In JSON the case is the `kind` key:
/// `{"kind": "failed", "exit_code": 2, "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunError {
    /// The config does not fit the step type.
    InvalidConfig { message: String },
    /// The step ran and failed.
    Failed { exit_code: i32, message: String },
    /// The step stopped because the host asked it to.
    Cancelled,
    /// The step needed something it was not granted.
    Denied { message: String },
    /// The plugin (or the host's side of it) broke.
    Internal { message: String },
}

impl RunError {
    /// `internal` with a message.
    pub fn internal(message: impl Into<String>) -> RunError {
        RunError::Internal {
            message: message.into(),
        }
    }

    /// `invalid_config` with a message.
    pub fn invalid_config(message: impl Into<String>) -> RunError {
        RunError::InvalidConfig {
            message: message.into(),
        }
    }

    /// `failed` with an exit code and a message.
    pub fn failed(exit_code: i32, message: impl Into<String>) -> RunError {
        RunError::Failed {
            exit_code,
            message: message.into(),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::InvalidConfig { message } => write!(f, "invalid config: {message}"),
            RunError::Failed { exit_code, message } => {
                write!(f, "failed (exit code {exit_code}): {message}")
            }
            RunError::Cancelled => f.write_str("cancelled"),
            RunError::Denied { message } => write!(f, "denied: {message}"),
            RunError::Internal { message } => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Which log of the step a line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T>(value: &T, expected: Value)
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug,
    {
        let json = serde_json::to_value(value).unwrap();
        assert_eq!(json, expected);
        let back: T = serde_json::from_value(json).unwrap();
        assert_eq!(&back, value);
    }

    #[test]
    fn manifest_round_trips_with_snake_case_keys() {
        let m = Manifest {
            name: "python-echo".into(),
            version: "0.1.0".into(),
            protocol: "dagu-plugin/1".into(),
            step_types: vec![StepTypeInfo {
                name: "echo".into(),
                description: "echoes".into(),
                config_schema: json!({"type": "object"}),
                output_schema: None,
            }],
            capabilities: Capabilities {
                http_hosts: vec!["example.com".into()],
                exec: true,
                ..Default::default()
            },
        };
        round_trip(
            &m,
            json!({
                "name": "python-echo", "version": "0.1.0", "protocol": "dagu-plugin/1",
                "step_types": [{"name": "echo", "description": "echoes",
                                "config_schema": {"type": "object"}}],
                "capabilities": {"http_hosts": ["example.com"], "fs_read": [], "fs_write": [],
                                 "env": [], "tcp": [], "exec": true}
            }),
        );
    }

    #[test]
    fn capabilities_default_when_left_out() {
        let m: Manifest = serde_json::from_value(json!({
            "name": "a", "version": "1", "protocol": "dagu-plugin/1",
            "step_types": [{"name": "x", "config_schema": true}]
        }))
        .unwrap();
        assert_eq!(m.capabilities, Capabilities::default());
        assert_eq!(m.step_types[0].description, "");
    }

    #[test]
    fn run_request_round_trips() {
        let r = RunRequest {
            run_id: "r1".into(),
            step_name: "say".into(),
            step_type: "echo".into(),
            config: json!({"message": "hi"}),
            command: vec!["a".into()],
            script: Some("s".into()),
            env: vec![("A".into(), "1".into())],
            work_dir: Some("/tmp".into()),
            timeout_ms: Some(5000),
        };
        round_trip(
            &r,
            json!({"run_id": "r1", "step_name": "say", "step_type": "echo",
                   "config": {"message": "hi"}, "command": ["a"], "script": "s",
                   "env": [["A", "1"]], "work_dir": "/tmp", "timeout_ms": 5000}),
        );
    }

    #[test]
    fn run_response_round_trips() {
        let r = RunResponse {
            exit_code: 0,
            outputs: vec![("MESSAGE".into(), "hi".into())],
            result_json: Some(json!([1, 2])),
        };
        round_trip(
            &r,
            json!({"exit_code": 0, "outputs": [["MESSAGE", "hi"]], "result_json": [1, 2]}),
        );
    }

    #[test]
    fn run_errors_are_tagged_by_kind() {
        round_trip(
            &RunError::failed(2, "boom"),
            json!({"kind": "failed", "exit_code": 2, "message": "boom"}),
        );
        round_trip(&RunError::Cancelled, json!({"kind": "cancelled"}));
        round_trip(
            &RunError::invalid_config("x"),
            json!({"kind": "invalid_config", "message": "x"}),
        );
        round_trip(
            &RunError::Denied {
                message: "no".into(),
            },
            json!({"kind": "denied", "message": "no"}),
        );
        round_trip(
            &RunError::internal("bug"),
            json!({"kind": "internal", "message": "bug"}),
        );
    }

    #[test]
    fn unknown_error_kind_is_rejected() {
        let e = serde_json::from_value::<RunError>(json!({"kind": "exploded"}));
        assert!(e.is_err());
    }
}
