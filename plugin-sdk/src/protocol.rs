//! The messages of the subprocess protocol `dagu-plugin/1`: one JSON object per line on
//! the plugin's stdin (host to plugin) and stdout (plugin to host), tagged by `type`.
//! Unknown fields are ignored, so later minor revisions can add optional fields.

use serde::{Deserialize, Serialize};

use crate::records::{LogStream, Manifest, RunError, RunRequest, RunResponse};

/// The protocol version this crate speaks.
pub const PROTOCOL_V1: &str = "dagu-plugin/1";

/// A message from the host to the plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostMessage {
    /// The answer to the plugin's `hello`: the protocol version both will speak.
    Hello { protocol: String },
    /// Asks for the manifest (answered by `manifest`).
    Describe,
    /// Starts one execution of a step, named by `id` in every later message about it.
    Run {
        id: String,
        request: Box<RunRequest>,
    },
    /// Asks the plugin to stop the execution `id` (answered by its `done`).
    Cancel { id: String },
    /// Says that the DAG run `run_id` has ended, so the plugin may release what it kept
    /// for the run's steps (pooled connections, the run's container). No answer; a plugin
    /// that keeps nothing ignores it.
    EndRun { run_id: String },
    /// Asks the plugin to exit once its executions have ended.
    Shutdown,
}

/// A message from the plugin to the host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PluginMessage {
    /// The plugin's first line: the protocol versions it speaks.
    Hello { protocols: Vec<String> },
    /// The answer to `describe`.
    Manifest { manifest: Manifest },
    /// One line of a step's output.
    Log {
        id: String,
        stream: LogStream,
        line: String,
    },
    /// The end of the execution `id`: `"ok": response` or `"err": run-error`.
    Done {
        id: String,
        #[serde(flatten)]
        outcome: Outcome,
    },
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok(RunResponse),
    Err(RunError),
}

impl From<Result<RunResponse, RunError>> for Outcome {
    fn from(r: Result<RunResponse, RunError>) -> Outcome {
        match r {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err(e),
        }
    }
}

impl From<Outcome> for Result<RunResponse, RunError> {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok(v) => Ok(v),
            Outcome::Err(e) => Err(e),
        }
    }
}

/// One message as one line of JSON, newline included.
pub fn encode<T: Serialize>(message: &T) -> String {
    // Serialising these types cannot fail: every key is a string and no value is a float
    // that JSON cannot hold.
    let mut line = serde_json::to_string(message)
        .unwrap_or_else(|e| format!("{{\"type\":\"invalid\",\"error\":{:?}}}", e.to_string()));
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn round_trip<T>(value: &T, expected: Value)
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let line = encode(value);
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), expected);
        let back: T = serde_json::from_str(&line).unwrap();
        assert_eq!(&back, value);
    }

    #[test]
    fn host_messages_round_trip() {
        round_trip(
            &HostMessage::Hello {
                protocol: PROTOCOL_V1.into(),
            },
            json!({"type": "hello", "protocol": "dagu-plugin/1"}),
        );
        round_trip(&HostMessage::Describe, json!({"type": "describe"}));
        round_trip(
            &HostMessage::Cancel { id: "7".into() },
            json!({"type": "cancel", "id": "7"}),
        );
        round_trip(&HostMessage::Shutdown, json!({"type": "shutdown"}));
        let request = RunRequest {
            run_id: "r".into(),
            step_name: "s".into(),
            step_type: "echo".into(),
            config: json!({"message": "hi"}),
            command: vec![],
            script: None,
            env: vec![],
            work_dir: None,
            timeout_ms: None,
        };
        round_trip(
            &HostMessage::Run {
                id: "1".into(),
                request: Box::new(request),
            },
            json!({"type": "run", "id": "1", "request": {
                "run_id": "r", "step_name": "s", "step_type": "echo",
                "config": {"message": "hi"}, "command": [], "env": []}}),
        );
    }

    #[test]
    fn plugin_messages_round_trip() {
        round_trip(
            &PluginMessage::Hello {
                protocols: vec!["dagu-plugin/1".into(), "dagu-plugin/2".into()],
            },
            json!({"type": "hello", "protocols": ["dagu-plugin/1", "dagu-plugin/2"]}),
        );
        round_trip(
            &PluginMessage::Log {
                id: "1".into(),
                stream: LogStream::Stderr,
                line: "oops".into(),
            },
            json!({"type": "log", "id": "1", "stream": "stderr", "line": "oops"}),
        );
        round_trip(
            &PluginMessage::Done {
                id: "1".into(),
                outcome: Outcome::Ok(RunResponse {
                    exit_code: 0,
                    outputs: vec![("A".into(), "b".into())],
                    result_json: None,
                }),
            },
            json!({"type": "done", "id": "1", "ok": {"exit_code": 0, "outputs": [["A", "b"]]}}),
        );
        round_trip(
            &PluginMessage::Done {
                id: "2".into(),
                outcome: Outcome::Err(RunError::Cancelled),
            },
            json!({"type": "done", "id": "2", "err": {"kind": "cancelled"}}),
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let m: HostMessage =
            serde_json::from_str(r#"{"type":"cancel","id":"3","reason":"later field"}"#).unwrap();
        assert_eq!(m, HostMessage::Cancel { id: "3".into() });
    }

    #[test]
    fn done_needs_ok_or_err() {
        let m = serde_json::from_str::<PluginMessage>(r#"{"type":"done","id":"3"}"#);
        assert!(m.is_err());
    }

    #[test]
    fn unknown_message_type_is_rejected() {
        let m = serde_json::from_str::<PluginMessage>(r#"{"type":"progress","id":"3"}"#);
        assert!(m.is_err());
    }
}
