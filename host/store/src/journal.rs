//! The journal of one run attempt.
//!
//! While a run is active its owner appends one small event per change to
//! `events.jsonl` (a single `write` per line with `O_APPEND`, so a killed process leaves
//! a readable prefix; the page cache outlives the process, so no fsync is needed for
//! that). The record is the fold of those events. When the attempt ends, the journal is
//! fsynced and the folded record written to `status.jsonl` as one line, atomically;
//! readers prefer it and fall back to the journal.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::status::{NodeStatus, RunState, RunStatus};

/// The journal file of an attempt.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The outputs of an attempt.
pub const OUTPUTS_FILE: &str = "outputs.json";
/// The final record of an attempt (one JSON line).
pub const STATUS_FILE: &str = "status.jsonl";

/// One change to a run record.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// The whole record, written first.
    Snapshot { status: Box<RunStatus> },
    /// Run-level fields changed.
    #[serde(rename_all = "camelCase")]
    Run {
        status: RunState,
        started_at: String,
        finished_at: String,
        error: String,
    },
    /// A step's record changed; `node.step` is left out and kept from the snapshot.
    Node { index: usize, node: Box<NodeStatus> },
    /// A handler's record changed.
    Handler { name: String, node: Box<NodeStatus> },
}

/// Applies one event to a record.
pub fn apply(status: &mut RunStatus, event: Event) {
    match event {
        Event::Snapshot { status: s } => *status = *s,
        Event::Run {
            status: state,
            started_at,
            finished_at,
            error,
        } => {
            status.status = state;
            status.started_at = started_at;
            status.finished_at = finished_at;
            status.error = error;
        }
        Event::Node { index, node } => {
            if let Some(slot) = status.nodes.get_mut(index) {
                merge_node(slot, *node);
            }
        }
        Event::Handler { name, node } => {
            if let Some(slot) = status.handler_mut(&name) {
                match slot {
                    Some(existing) => merge_node(existing, *node),
                    None => *slot = Some(*node),
                }
            }
        }
    }
}

fn merge_node(slot: &mut NodeStatus, mut update: NodeStatus) {
    if update.step.is_none() {
        update.step = slot.step.take();
    }
    *slot = update;
}

/// Appends events to an attempt's journal and keeps the folded record in memory.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    /// `None` for a detached recorder (dry runs): nothing is written.
    file: Option<File>,
    status: RunStatus,
    line: Vec<u8>,
}

impl Recorder {
    /// Starts the journal of a new attempt with its first record.
    pub fn create(dir: &Path, status: RunStatus) -> io::Result<Recorder> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(atomic::FILE_MODE)
            .open(dir.join(EVENTS_FILE))?;
        let mut rec = Recorder {
            dir: dir.to_path_buf(),
            file: Some(file),
            status: RunStatus::default(),
            line: Vec::new(),
        };
        rec.record(Event::Snapshot {
            status: Box::new(status),
        })?;
        Ok(rec)
    }

    /// A recorder that keeps the record in memory only (dry runs).
    pub fn detached(status: RunStatus) -> Recorder {
        Recorder {
            dir: PathBuf::new(),
            file: None,
            status,
            line: Vec::new(),
        }
    }

    /// The current record.
    pub fn status(&self) -> &RunStatus {
        &self.status
    }

    /// The attempt directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Follows the attempt directory after it was moved (the open journal stays valid).
    pub fn relocate(&mut self, dir: &Path) {
        self.dir = dir.to_path_buf();
    }

    /// Applies an event and appends it to the journal.
    pub fn record(&mut self, event: Event) -> io::Result<()> {
        if let Some(file) = &mut self.file {
            self.line.clear();
            serde_json::to_writer(&mut self.line, &event).map_err(io::Error::other)?;
            self.line.push(b'\n');
            file.write_all(&self.line)?;
        }
        apply(&mut self.status, event);
        Ok(())
    }

    /// Writes `outputs.json` (`{"metadata": …, "outputs": {key: value}}`).
    pub fn write_outputs(
        &self,
        outputs: &[(String, String)],
        completed_at: &str,
    ) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let map: serde_json::Map<String, serde_json::Value> = outputs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let json = serde_json::json!({
            "metadata": {
                "dagName": self.status.name,
                "dagRunId": self.status.dag_run_id,
                "attemptId": self.status.attempt_id,
                "status": self.status.status.label(),
                "completedAt": completed_at,
            },
            "outputs": map,
        });
        atomic::write(&self.dir.join(OUTPUTS_FILE), json.to_string().as_bytes())
    }

    /// Records a step update.
    pub fn node(&mut self, index: usize, mut node: NodeStatus) -> io::Result<()> {
        node.step = None;
        self.record(Event::Node {
            index,
            node: Box::new(node),
        })
    }

    /// Records a handler update.
    pub fn handler(&mut self, name: &str, mut node: NodeStatus) -> io::Result<()> {
        let first = self.status.handlers().iter().all(|(n, _)| *n != name);
        if !first {
            node.step = None;
        }
        self.record(Event::Handler {
            name: name.to_string(),
            node: Box::new(node),
        })
    }

    /// Records run-level fields.
    pub fn run(
        &mut self,
        state: RunState,
        started_at: &str,
        finished_at: &str,
        error: &str,
    ) -> io::Result<()> {
        self.record(Event::Run {
            status: state,
            started_at: started_at.into(),
            finished_at: finished_at.into(),
            error: error.into(),
        })
    }

    /// Ends the attempt: makes the journal durable (the one fsync of a run) and writes the
    /// folded record as the one-line `status.jsonl` (atomic rename; if that file is ever
    /// lost or empty, readers fold the journal instead).
    pub fn close(self) -> io::Result<RunStatus> {
        let Some(file) = &self.file else {
            return Ok(self.status);
        };
        file.sync_data()?;
        let mut line = serde_json::to_vec(&self.status).map_err(io::Error::other)?;
        line.push(b'\n');
        atomic::write(&self.dir.join(STATUS_FILE), &line)?;
        Ok(self.status)
    }
}

/// Reads an attempt's record: the final line of `status.jsonl`, else the fold of the
/// journal (ignoring a torn last line). `None` when the attempt has neither.
pub fn read(dir: &Path) -> io::Result<Option<RunStatus>> {
    if let Some(status) = last_parseable_line(&dir.join(STATUS_FILE))? {
        return Ok(Some(status));
    }
    let path = dir.join(EVENTS_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut status: Option<RunStatus> = None;
    for line in BufReader::new(file).split(b'\n') {
        let Ok(event) = serde_json::from_slice::<Event>(&line?) else {
            continue;
        };
        match (&mut status, event) {
            (None, Event::Snapshot { status: s }) => status = Some(*s),
            (Some(st), ev) => apply(st, ev),
            (None, _) => {}
        }
    }
    Ok(status)
}

fn last_parseable_line(path: &Path) -> io::Result<Option<RunStatus>> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(text
        .split(|b| *b == b'\n')
        .rev()
        .find_map(|l| serde_json::from_slice(l).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::NodeState;
    use std::io::Write;

    fn record_with_nodes(n: usize) -> RunStatus {
        RunStatus {
            name: "d".into(),
            nodes: (0..n)
                .map(|i| NodeStatus {
                    step: Some(serde_json::json!({"name": format!("s{i}")})),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn fold_of_journal_equals_in_memory_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = Recorder::create(dir.path(), record_with_nodes(2)).unwrap();
        rec.run(RunState::Running, "t0", "", "").unwrap();
        rec.node(
            1,
            NodeStatus {
                status: NodeState::Succeeded,
                ..Default::default()
            },
        )
        .unwrap();
        let folded = read(dir.path()).unwrap().unwrap();
        assert_eq!(&folded, rec.status());
        assert_eq!(folded.nodes[1].step.as_ref().unwrap()["name"], "s1");
        let closed = rec.close().unwrap();
        assert_eq!(read(dir.path()).unwrap().unwrap(), closed);
    }

    #[test]
    fn torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = Recorder::create(dir.path(), record_with_nodes(1)).unwrap();
        rec.node(
            0,
            NodeStatus {
                status: NodeState::Running,
                ..Default::default()
            },
        )
        .unwrap();
        drop(rec);
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(EVENTS_FILE))
            .unwrap();
        f.write_all(b"{\"event\":\"node\",\"index\":0,\"node\":{\"sta")
            .unwrap();
        let folded = read(dir.path()).unwrap().unwrap();
        assert_eq!(folded.nodes[0].status, NodeState::Running);
    }
}
