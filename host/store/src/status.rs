//! The run record: what `status.jsonl` holds and what `dagu status` shows.
//!
//! Field names follow the reference's `status.jsonl` (camelCase, integer statuses) so
//! that tools reading those files keep working.

use serde::{Deserialize, Serialize};

/// Status of a whole run (integers as persisted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum RunState {
    #[default]
    NotStarted,
    Running,
    Failed,
    Aborted,
    Succeeded,
    Queued,
    PartiallySucceeded,
    Waiting,
    Rejected,
}

/// Status of one step (integers as persisted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "u8", try_from = "u8")]
pub enum NodeState {
    #[default]
    NotStarted,
    Running,
    Failed,
    Aborted,
    Succeeded,
    Skipped,
    PartiallySucceeded,
    Waiting,
    Rejected,
    Retrying,
}

macro_rules! int_enum {
    ($ty:ident { $($variant:ident = $n:expr, $label:expr;)* }) => {
        impl From<$ty> for u8 {
            fn from(v: $ty) -> u8 { match v { $($ty::$variant => $n,)* } }
        }
        impl TryFrom<u8> for $ty {
            type Error = String;
            fn try_from(n: u8) -> Result<Self, String> {
                match n { $($n => Ok($ty::$variant),)* other => Err(format!("unknown status {other}")) }
            }
        }
        impl $ty {
            /// The lower-case label used in env vars and the API.
            pub fn label(self) -> &'static str { match self { $($ty::$variant => $label,)* } }
        }
    };
}

int_enum!(RunState {
    NotStarted = 0, "not_started";
    Running = 1, "running";
    Failed = 2, "failed";
    Aborted = 3, "aborted";
    Succeeded = 4, "succeeded";
    Queued = 5, "queued";
    PartiallySucceeded = 6, "partially_succeeded";
    Waiting = 7, "waiting";
    Rejected = 8, "rejected";
});

int_enum!(NodeState {
    NotStarted = 0, "not_started";
    Running = 1, "running";
    Failed = 2, "failed";
    Aborted = 3, "aborted";
    Succeeded = 4, "succeeded";
    Skipped = 5, "skipped";
    PartiallySucceeded = 6, "partially_succeeded";
    Waiting = 7, "waiting";
    Rejected = 8, "rejected";
    Retrying = 9, "retrying";
});

impl RunState {
    /// Whether the run can still change (running, queued, waiting).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RunState::Running | RunState::Queued | RunState::Waiting | RunState::NotStarted
        )
    }

    /// The capitalised label of the result line (`Partially Succeeded`).
    pub fn title(self) -> &'static str {
        match self {
            RunState::NotStarted => "Not Started",
            RunState::Running => "Running",
            RunState::Failed => "Failed",
            RunState::Aborted => "Aborted",
            RunState::Succeeded => "Succeeded",
            RunState::Queued => "Queued",
            RunState::PartiallySucceeded => "Partially Succeeded",
            RunState::Waiting => "Waiting",
            RunState::Rejected => "Rejected",
        }
    }
}

impl NodeState {
    /// Whether the step has reached a final state.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            NodeState::NotStarted | NodeState::Running | NodeState::Retrying
        )
    }
}

/// A `{name, id}` reference to a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub name: String,
    pub id: String,
}

/// One step's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    /// The step definition (set in the first snapshot; updates leave it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
    pub started_at: String,
    pub finished_at: String,
    pub status: NodeState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub retried_at: String,
    pub retry_count: u32,
    pub done_count: u32,
    pub repeated: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Exit code of the last execution (`-1` when it did not exit normally).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRun>,
    /// `{"VAR": "VAR=value"}` as the reference stores it.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub output_variables: serde_json::Map<String, serde_json::Value>,
}

/// A sub-DAG run started by a step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChildRun {
    pub dag_run_id: String,
    pub params: String,
}

/// The whole record of one run attempt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RunStatus {
    pub root: RunRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<RunRef>,
    pub name: String,
    pub dag_run_id: String,
    pub attempt_id: String,
    pub status: RunState,
    pub worker_id: String,
    pub pid: u32,
    /// Start time of the owner process (clock ticks since boot), to tell a reused PID apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    pub nodes: Vec<NodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_init: Option<NodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_success: Option<NodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<NodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_cancel: Option<NodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_exit: Option<NodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_wait: Option<NodeStatus>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub queued_at: String,
    pub started_at: String,
    pub finished_at: String,
    pub log: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    pub params: String,
    pub params_list: Vec<String>,
}

impl RunStatus {
    /// The handler node slot for a persisted handler name (`onExit`...).
    pub fn handler_mut(&mut self, name: &str) -> Option<&mut Option<NodeStatus>> {
        Some(match name {
            "onInit" => &mut self.on_init,
            "onSuccess" => &mut self.on_success,
            "onFailure" => &mut self.on_failure,
            "onCancel" => &mut self.on_cancel,
            "onExit" => &mut self.on_exit,
            "onWait" => &mut self.on_wait,
            _ => return None,
        })
    }

    /// Handler nodes that ran, in run order, with their names.
    pub fn handlers(&self) -> Vec<(&'static str, &NodeStatus)> {
        [
            ("onInit", &self.on_init),
            ("onWait", &self.on_wait),
            ("onSuccess", &self.on_success),
            ("onFailure", &self.on_failure),
            ("onCancel", &self.on_cancel),
            ("onExit", &self.on_exit),
        ]
        .into_iter()
        .filter_map(|(n, h)| h.as_ref().map(|h| (n, h)))
        .collect()
    }
}

/// RFC 3339 UTC with second precision, as the record stores times.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_persist_as_integers() {
        let node = NodeStatus {
            status: NodeState::Skipped,
            ..Default::default()
        };
        let json = serde_json::to_value(&node).unwrap();
        assert_eq!(json["status"], 5);
        let back: NodeStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back.status, NodeState::Skipped);
        assert_eq!(RunState::PartiallySucceeded.label(), "partially_succeeded");
        assert!(serde_json::from_str::<RunState>("42").is_err());
    }
}
