//! Runs one DAG (a root run or a sub-run) from start to its final record.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use dagu_core::{Dag, DagFile, HandlerKind, Step};
use dagu_eval::Vars;
use dagu_eval::params::Param;
use dagu_store::status::timestamp;
use dagu_store::{
    NodeState, NodeStatus, PendingRun, Recorder, RunDir, RunRef, RunState, RunStatus, layout,
    liveness, runs,
};
use tokio_util::sync::CancellationToken;

use crate::context::{RunShared, Settings};
use crate::env;
use crate::executor::{BoxFuture, Executors};
use crate::lifecycle::Lifecycle;
use crate::mask::Masker;
use crate::runlog::RunLog;
use crate::runner::Slot;

/// A sub-run's place under its root run.
#[derive(Clone, Debug)]
pub struct Parent {
    pub root: RunRef,
    pub parent: RunRef,
    /// Directory of the root run's record.
    pub root_run_path: PathBuf,
}

/// A retry of an earlier run: same run directory, new attempt.
#[derive(Clone, Debug)]
pub struct RetryOf {
    pub run: RunDir,
    pub previous: RunStatus,
    /// Re-run only this step (`--step`); otherwise failed and not-run steps re-run.
    pub only_step: Option<String>,
}

/// What to run.
pub struct RunRequest {
    pub settings: Arc<Settings>,
    pub executors: Arc<Executors>,
    pub file: Arc<DagFile>,
    pub dag: Arc<Dag>,
    pub run_id: String,
    /// Params from the command line or the calling step.
    pub params: Option<Vec<Param>>,
    pub parent: Option<Parent>,
    /// Working directory when the DAG sets none (default: the DAG file's folder).
    pub default_work_dir: Option<PathBuf>,
    /// Fires on SIGTERM/SIGINT or `dagu stop`.
    pub stop: CancellationToken,
    /// Simulate: nothing executes and nothing is stored.
    pub dry: bool,
    pub retry: Option<RetryOf>,
    /// The YAML text of the DAG file, kept in the attempt's `dag.json`.
    pub source: Option<String>,
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub status: RunStatus,
    /// Output variables of the steps, in step order.
    pub outputs: Vec<(String, String)>,
    /// Key and value of each output that goes to `outputs.json`.
    pub output_keys: Vec<(String, String)>,
}

/// Runs a DAG to the end (boxed so that sub-DAG steps can recurse).
pub fn run_dag(req: RunRequest) -> BoxFuture<'static, Result<RunReport, String>> {
    Box::pin(run_inner(req))
}

async fn run_inner(req: RunRequest) -> Result<RunReport, String> {
    let now = Utc::now();
    let dag = match &req.parent {
        // Sub-DAG runs do not run the handlers of base.yaml.
        Some(_) if !req.dag.handlers.inherited.is_empty() => Arc::new(Dag {
            handlers: req.dag.handlers.clone().without_inherited(),
            ..(*req.dag).clone()
        }),
        _ => req.dag.clone(),
    };
    let store = &req.settings.store;
    let dag_dir = req
        .file
        .path
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut place = run_location(&req, now)?;
    let (run_path, run_created) = (place.run_path.clone(), place.created);
    let mut attempt = if req.dry {
        None
    } else {
        Some(runs::create_attempt(place.attempt_parent(), now).map_err(io_err)?)
    };
    let attempt_id = attempt
        .as_ref()
        .map(|a| a.attempt_id.clone())
        .unwrap_or_default();
    let logs_root = dag.log_dir.as_ref().map_or(store.dirs.logs.clone(), |d| {
        env::resolve_path(d, &dag_dir, &req.settings.host_env)
    });
    let run_log_dir = layout::run_log_dir(&logs_root, &dag.name, run_created, &req.run_id);
    let log_dir = run_log_dir.join(layout::attempt_log_dir_name(now, &attempt_id));
    let run_log_file = run_log_dir.join(layout::run_log_file_name(now, &req.run_id));
    if !req.dry {
        runs::create_private_dir_all(&log_dir).map_err(io_err)?;
    }

    let default_work_dir = req
        .default_work_dir
        .clone()
        .unwrap_or_else(|| dag_dir.clone());
    let prepared = env::prepare(
        &dag,
        &req.settings.host_env,
        &req.settings.host_lookup,
        &dag_dir,
        &default_work_dir,
        req.params.clone(),
    );
    let root = req.parent.as_ref().map_or(
        RunRef {
            name: dag.name.clone(),
            id: req.run_id.clone(),
        },
        |p| p.root.clone(),
    );
    let slots = slots_for(&req);
    let mut status = initial_status(&req, &root, &attempt_id, now, &slots);
    status.log = run_log_file.to_string_lossy().into_owned();
    if let Ok(p) = &prepared {
        status.params = p.params_list.join(" ");
        status.params_list = p.params_list.clone();
    }
    let mut recorder = match &attempt {
        Some(a) => Recorder::create(&a.path, status.clone()).map_err(io_err)?,
        None => Recorder::detached(status.clone()),
    };
    if let (Some(a), Some(source)) = (&attempt, &req.source) {
        write_snapshot(&a.path, &dag, &req.file.path, source, &status.params_list)
            .map_err(io_err)?;
    }
    if let (Some(pending), Some(a)) = (place.pending.take(), &mut attempt) {
        let run = pending.publish().map_err(io_err)?;
        a.path = run.path.join(a.path.file_name().unwrap_or_default());
        recorder.relocate(&a.path);
    }
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            let now = timestamp(Utc::now());
            return finish(recorder, RunState::Failed, e, &now, &dag);
        }
    };
    let mut specials = Vars::new();
    specials.set("DAG_NAME", dag.name.clone());
    specials.set("DAG_RUN_ID", req.run_id.clone());
    specials.set("DAG_RUN_LOG_FILE", run_log_file.to_string_lossy());
    let mut env = prepared.env;
    env.extend(&specials);
    let mut lookup = prepared.lookup;
    lookup.extend(&specials);
    let run_log = if req.dry {
        RunLog::default()
    } else {
        RunLog::open(&run_log_file).map_err(io_err)?
    };
    run_log.event(
        "DAG run started",
        &[
            ("dag", &dag.name),
            ("run-id", &req.run_id),
            ("attempt-id", &attempt_id),
        ],
    );
    let shared = Arc::new(RunShared {
        settings: req.settings.clone(),
        executors: req.executors.clone(),
        file: req.file.clone(),
        dag: dag.clone(),
        run_id: req.run_id.clone(),
        root,
        root_run_path: req
            .parent
            .as_ref()
            .map_or(run_path.clone(), |p| p.root_run_path.clone()),
        work_dir: prepared.work_dir,
        dag_dir,
        log_dir,
        run_log_file,
        run_log,
        masker: Masker::new(prepared.secrets),
        env,
        lookup,
        params: prepared.params,
        dry: req.dry,
    });
    let started = timestamp(Utc::now());
    recorder
        .run(RunState::Running, &started, "", "")
        .map_err(io_err)?;

    let only_step = req.retry.as_ref().and_then(|r| r.only_step.as_ref());
    let lifecycle = Lifecycle {
        shared: &shared,
        stop: &req.stop,
        only_step: only_step.and_then(|name| dag.steps.iter().position(|s| s.name == *name)),
    };
    let (state, error) = lifecycle.run(&mut recorder, slots).await;
    let handlers = HandlerKind::ALL.into_iter().filter_map(|k| dag.handler(k));
    let step_types = dag
        .steps
        .iter()
        .chain(handlers)
        .map(|s| s.step_type.as_str());
    shared.executors.end_run(step_types, &req.run_id).await;
    shared
        .run_log
        .event("DAG run finished", &[("status", state.label())]);
    finish(recorder, state, error, &started, &dag)
}

fn io_err(e: std::io::Error) -> String {
    e.to_string()
}

/// Where a run's attempts go.
struct Place {
    run_path: PathBuf,
    created: chrono::DateTime<Utc>,
    /// A new root run, invisible until its first record exists.
    pending: Option<PendingRun>,
}

impl Place {
    fn attempt_parent(&self) -> &std::path::Path {
        self.pending
            .as_ref()
            .map_or(&self.run_path, |p| p.staging())
    }
}

/// The run directory (staged for new root runs) and its creation time.
fn run_location(req: &RunRequest, now: chrono::DateTime<Utc>) -> Result<Place, String> {
    let place = |run_path, created| Place {
        run_path,
        created,
        pending: None,
    };
    if let Some(retry) = &req.retry {
        return Ok(place(retry.run.path.clone(), retry.run.created));
    }
    if let Some(parent) = &req.parent {
        let path = runs::child_run_path(&parent.root_run_path, &req.run_id);
        if !req.dry {
            runs::create_private_dir_all(&path).map_err(io_err)?;
        }
        return Ok(place(path, now));
    }
    if req.dry {
        return Ok(place(PathBuf::new(), now));
    }
    let pending = req
        .settings
        .store
        .begin_run(&req.dag.name, &req.run_id, now)
        .map_err(io_err)?;
    Ok(Place {
        run_path: pending.run.path.clone(),
        created: pending.run.created,
        pending: Some(pending),
    })
}

fn initial_status(
    req: &RunRequest,
    root: &RunRef,
    attempt_id: &str,
    now: chrono::DateTime<Utc>,
    slots: &[Slot],
) -> RunStatus {
    let pid = std::process::id();
    RunStatus {
        root: root.clone(),
        parent: req.parent.as_ref().map(|p| p.parent.clone()),
        name: req.dag.name.clone(),
        dag_run_id: req.run_id.clone(),
        attempt_id: attempt_id.to_string(),
        status: RunState::NotStarted,
        worker_id: "local".into(),
        pid,
        pid_start: liveness::process_start_time(pid),
        // Steps a retry keeps start with their earlier record.
        nodes: req
            .dag
            .steps
            .iter()
            .zip(slots)
            .map(|(s, slot)| NodeStatus {
                step: Some(step_json(s)),
                ..slot.status.clone()
            })
            .collect(),
        created_at: now.timestamp_millis(),
        ..Default::default()
    }
}

/// The step definition as stored in the record.
pub fn step_json(step: &Step) -> serde_json::Value {
    let command = match &step.command {
        Some(dagu_core::Command::Line(l)) => serde_json::Value::String(l.clone()),
        Some(dagu_core::Command::List(l)) => serde_json::json!(l),
        None => serde_json::Value::Null,
    };
    let mut v = serde_json::json!({ "name": step.name, "type": step.step_type });
    let obj = v.as_object_mut().expect("object");
    if !command.is_null() {
        obj.insert("command".into(), command);
    }
    if let Some(s) = &step.script {
        obj.insert("script".into(), s.clone().into());
    }
    if let Some(id) = &step.id {
        obj.insert("id".into(), id.clone().into());
    }
    if !step.depends.is_empty() {
        obj.insert("depends".into(), serde_json::json!(step.depends));
    }
    if let Some(o) = &step.output {
        obj.insert("output".into(), o.name.clone().into());
    }
    if let Some(c) = &step.call {
        obj.insert("call".into(), c.target.clone().into());
    }
    v
}

/// Slots of a new attempt: earlier results for a retry, else all not started.
fn slots_for(req: &RunRequest) -> Vec<Slot> {
    let n = req.dag.steps.len();
    let Some(retry) = &req.retry else {
        return vec![Slot::default(); n];
    };
    req.dag
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let prev = retry.previous.nodes.get(i).cloned().unwrap_or_default();
            let rerun = match &retry.only_step {
                Some(name) => *name == step.name,
                None => !matches!(
                    prev.status,
                    NodeState::Succeeded | NodeState::Skipped | NodeState::PartiallySucceeded
                ),
            };
            if rerun {
                return Slot::default();
            }
            Slot {
                continued: prev.status == NodeState::Failed,
                outputs: recorded_outputs(&prev),
                status: prev,
            }
        })
        .collect()
}

/// Records the final state, writes `outputs.json`, and closes the journal.
fn finish(
    mut recorder: Recorder,
    state: RunState,
    error: String,
    started: &str,
    dag: &Dag,
) -> Result<RunReport, String> {
    let finished = timestamp(Utc::now());
    recorder
        .run(state, started, &finished, &error)
        .map_err(io_err)?;
    let (outputs, output_keys) = collect_outputs(recorder.status(), dag);
    if !output_keys.is_empty() {
        recorder
            .write_outputs(&output_keys, &finished)
            .map_err(io_err)?;
    }
    let status = recorder.close().map_err(io_err)?;
    Ok(RunReport {
        status,
        outputs,
        output_keys,
    })
}

/// Name/value pairs, in order.
type Pairs = Vec<(String, String)>;

/// The output variables a step's record holds (`{"VAR": "VAR=value"}`).
fn recorded_outputs(node: &NodeStatus) -> Pairs {
    node.output_variables
        .iter()
        .filter_map(|(name, stored)| {
            let stored = stored.as_str()?;
            Some((
                name.clone(),
                stored.split_once('=').map_or("", |(_, v)| v).to_string(),
            ))
        })
        .collect()
}

/// Output variables of the record's steps, and their `outputs.json` keys (the step's
/// `output:` spec decides its own key and `omit`; other outputs get the camelCase key).
fn collect_outputs(status: &RunStatus, dag: &Dag) -> (Pairs, Pairs) {
    let mut outputs = Vec::new();
    let mut keys = Vec::new();
    for (node, step) in status.nodes.iter().zip(&dag.steps) {
        for (name, value) in recorded_outputs(node) {
            let spec = step.output.as_ref().filter(|o| o.name == name);
            if !spec.is_some_and(|o| o.omit) {
                let key = spec
                    .and_then(|o| o.key.clone())
                    .unwrap_or_else(|| dagu_eval::names::output_key(&name));
                keys.push((key, value.clone()));
            }
            outputs.push((name, value));
        }
    }
    (outputs, keys)
}

/// `dag.json`: what retry and `--from-run-id` need to run the same DAG again.
fn write_snapshot(
    dir: &std::path::Path,
    dag: &Dag,
    location: &std::path::Path,
    source: &str,
    params: &[String],
) -> std::io::Result<()> {
    let json = serde_json::json!({
        "name": dag.name,
        "location": location,
        "document": dag.document,
        "params": params,
        "yaml": source,
    });
    dagu_store::atomic::write(&dir.join("dag.json"), json.to_string().as_bytes())
}
