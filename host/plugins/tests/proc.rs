//! The subprocess supervisor against a real plugin process: the Python example under
//! `examples/plugins/python-echo/`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagu_engine::RunReport;
use dagu_engine::process::Interruption;
use dagu_plugin_sdk::{LogStream, RunError, RunRequest};
use dagu_plugins::{Backoff, Diagnostics, ProcConfig, ProcPlugin, RunControl, RunEnd};
use dagu_store::NodeState;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;

/// How long any one wait in these tests may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

fn plugin_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plugins/python-echo/plugin.py")
}

/// A config for the example plugin, with its diagnostics collected in `diag`.
fn config(extra_args: &[&str], diag: &Arc<Mutex<Vec<String>>>) -> ProcConfig {
    let script = plugin_script().display().to_string();
    let mut args = vec![script.as_str()];
    args.extend_from_slice(extra_args);
    let python = common::python();
    let mut c = ProcConfig::new("python-echo", &python.program, &args);
    // Sandboxed with no grants but its interpreter's folders (see tests/sandbox.rs for
    // what the sandbox denies); without Landlock outside CI, unsandboxed.
    c.sandbox = common::landlock().is_ok();
    c.plugin_dir = plugin_script().parent().map(Path::to_path_buf);
    c.grants.fs_read = python.runtime_reads.clone();
    let sink = diag.clone();
    c.diagnostics = Diagnostics::Sink(Arc::new(move |l: &str| {
        sink.lock().unwrap().push(l.to_string())
    }));
    c.idle_timeout = None;
    c.backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
    };
    c
}

fn plugin() -> ProcPlugin {
    ProcPlugin::new(config(&[], &Arc::default()))
}

fn request(config: Value) -> RunRequest {
    RunRequest {
        run_id: "run-1".into(),
        step_name: "say".into(),
        step_type: "echo".into(),
        config,
        command: vec![],
        script: None,
        env: vec![],
        work_dir: None,
        timeout_ms: None,
    }
}

/// A run in progress on a task: its log lines arrive on `logs`, `stop` cancels it.
struct Running {
    logs: mpsc::UnboundedReceiver<(LogStream, String)>,
    stop: CancellationToken,
    end: tokio::task::JoinHandle<(RunEnd, Vec<(LogStream, String)>)>,
}

impl Running {
    fn start(plugin: &Arc<ProcPlugin>, config: Value, grace: Duration) -> Running {
        let (tx, logs) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let (plugin, token) = (plugin.clone(), stop.clone());
        let end = tokio::spawn(async move {
            let mut seen = Vec::new();
            let control = RunControl {
                stop: &token,
                timeout: None,
                grace,
            };
            let end = plugin
                .run(request(config), control, &mut |s, l| {
                    seen.push((s, l.to_string()));
                    let _ = tx.send((s, l.to_string()));
                })
                .await;
            (end, seen)
        });
        Running { logs, stop, end }
    }

    /// Waits for a log line equal to `line`.
    async fn wait_for_line(&mut self, line: &str) {
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some((_, l)) = self.logs.recv().await {
                if l == line {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "no log line {line:?}");
    }

    async fn finish(self) -> (RunEnd, Vec<(LogStream, String)>) {
        tokio::time::timeout(DEADLINE, self.end)
            .await
            .expect("the run did not end")
            .unwrap()
    }
}

/// Polls `check` until it holds (bounded by [`DEADLINE`]).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn internal_message(end: &RunEnd) -> &str {
    match &end.result {
        Err(RunError::Internal { message }) => message,
        other => panic!("expected an internal error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_describe() {
    let p = plugin();
    let m = p.manifest().await.unwrap();
    assert_eq!(m.name, "python-echo");
    assert_eq!(m.protocol, "dagu-plugin/1");
    assert_eq!(m.step_types.len(), 1);
    let echo = &m.step_types[0];
    assert_eq!(echo.name, "echo");
    assert_eq!(echo.config_schema["required"], json!(["message"]));
    assert_eq!(
        echo.config_schema["properties"]["message"]["type"],
        "string"
    );
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/plugin-manifest.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&schema)
        .unwrap();
    let as_json = serde_json::to_value(&m).unwrap();
    assert!(
        validator.is_valid(&as_json),
        "the example's manifest fits the schema"
    );
    assert_eq!(p.starts(), 1);
    let pid = p.pid().await.expect("the process runs");
    assert!(process_exists(pid));
    // Asking again reuses the process.
    p.manifest().await.unwrap();
    assert_eq!(p.starts(), 1);
    p.shutdown().await;
    assert_eq!(p.pid().await, None);
    assert!(
        !process_exists(pid),
        "the process was reaped after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_streams_logs_and_returns_outputs() {
    let p = Arc::new(plugin());
    let run = Running::start(&p, json!({"message": "hello"}), DEADLINE);
    let (end, logs) = run.finish().await;
    assert_eq!(end.interrupted, None);
    let response = end.result.expect("the run succeeded");
    assert_eq!(response.exit_code, 0);
    assert_eq!(response.outputs, vec![("MESSAGE".into(), "hello".into())]);
    assert_eq!(response.result_json, Some(json!({"message": "hello"})));
    assert_eq!(logs, vec![(LogStream::Stdout, "hello".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_concurrent_runs_share_one_process() {
    let p = Arc::new(plugin());
    // Each run waits at a barrier until all three are in progress at once, so they can
    // only finish if the one process serves them concurrently.
    let runs: Vec<Running> = ["a", "b", "c"]
        .iter()
        .map(|m| Running::start(&p, json!({"message": m, "barrier": 3}), DEADLINE))
        .collect();
    for (run, message) in runs.into_iter().zip(["a", "b", "c"]) {
        let (end, logs) = run.finish().await;
        let response = end.result.unwrap_or_else(|e| panic!("run {message}: {e}"));
        assert_eq!(response.outputs, vec![("MESSAGE".into(), message.into())]);
        let lines: Vec<&str> = logs.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            lines,
            vec![message, "waiting at the barrier", "passed the barrier"],
            "each run sees only its own lines"
        );
    }
    assert_eq!(p.starts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_honoured_and_the_process_carries_on() {
    let p = Arc::new(plugin());
    let mut run = Running::start(&p, json!({"message": "m", "mode": "slow"}), DEADLINE);
    run.wait_for_line("waiting for cancel").await;
    let pid = p.pid().await.unwrap();
    run.stop.cancel();
    let (end, logs) = run.finish().await;
    assert_eq!(end.result, Err(RunError::Cancelled));
    assert_eq!(end.interrupted, Some(Interruption::Stopped));
    assert!(logs.contains(&(LogStream::Stderr, "cancelled, cleaning up".into())));
    // The same process serves the next run.
    let (end, _) = Running::start(&p, json!({"message": "next"}), DEADLINE)
        .finish()
        .await;
    assert!(end.result.is_ok());
    assert_eq!(p.pid().await, Some(pid));
    assert_eq!(p.starts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_cancel_kills_the_process() {
    let p = Arc::new(plugin());
    let mut run = Running::start(
        &p,
        json!({"message": "m", "mode": "stubborn"}),
        Duration::from_millis(200),
    );
    run.wait_for_line("ignoring cancel").await;
    let pid = p.pid().await.unwrap();
    run.stop.cancel();
    let (end, _) = run.finish().await;
    assert_eq!(end.interrupted, Some(Interruption::Stopped));
    let message = internal_message(&end);
    assert!(
        message.contains("did not end step 'say'") && message.contains("was killed"),
        "{message}"
    );
    eventually("the killed process is reaped", async || {
        !process_exists(pid)
    })
    .await;
    // The next run starts a new process.
    let (end, _) = Running::start(&p, json!({"message": "again"}), DEADLINE)
        .finish()
        .await;
    assert!(end.result.is_ok(), "{:?}", end.result);
    assert_eq!(p.starts(), 2);
    assert_ne!(p.pid().await, Some(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_fails_runs_in_flight_and_the_next_run_restarts() {
    let diag = Arc::default();
    let p = Arc::new(ProcPlugin::new(config(&[], &diag)));
    let mut bystander = Running::start(&p, json!({"message": "b", "mode": "slow"}), DEADLINE);
    bystander.wait_for_line("waiting for cancel").await;
    let pid = p.pid().await.unwrap();
    let crash = Running::start(&p, json!({"message": "c", "mode": "crash"}), DEADLINE);
    let (end, logs) = crash.finish().await;
    assert_eq!(logs, vec![(LogStream::Stdout, "c".to_string())]);
    let message = internal_message(&end);
    assert!(message.contains("exited unexpectedly"), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(
        message.contains("crashing on purpose"),
        "stderr tail: {message}"
    );
    let (end, _) = bystander.finish().await;
    assert!(internal_message(&end).contains("exited unexpectedly"));
    assert!(
        diag.lock()
            .unwrap()
            .iter()
            .any(|l| l == "[python-echo] python-echo: crashing on purpose"),
        "stderr went to the diagnostics"
    );
    let (end, _) = Running::start(&p, json!({"message": "after"}), DEADLINE)
        .finish()
        .await;
    assert_eq!(end.result.unwrap().outputs[0].1, "after");
    assert_eq!(p.starts(), 2);
    assert_ne!(p.pid().await, Some(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_protocol_version_is_refused() {
    let p = Arc::new(ProcPlugin::new(config(
        &["--protocols", "dagu-plugin/9"],
        &Arc::default(),
    )));
    let err = p.manifest().await.unwrap_err().to_string();
    assert!(
        err.contains("speaks protocol dagu-plugin/9")
            && err.contains("this host speaks only dagu-plugin/1"),
        "{err}"
    );
    let (end, _) = Running::start(&p, json!({"message": "x"}), DEADLINE)
        .finish()
        .await;
    assert!(internal_message(&end).contains("dagu-plugin/9"));
    assert_eq!(p.starts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_process_stops_and_starts_again_on_use() {
    let mut c = config(&[], &Arc::default());
    c.idle_timeout = Some(Duration::from_millis(50));
    let p = Arc::new(ProcPlugin::new(c));
    let (end, _) = Running::start(&p, json!({"message": "one"}), DEADLINE)
        .finish()
        .await;
    assert!(end.result.is_ok());
    eventually("the idle process stops", async || p.pid().await.is_none()).await;
    let (end, _) = Running::start(&p, json!({"message": "two"}), DEADLINE)
        .finish()
        .await;
    assert!(end.result.is_ok());
    assert_eq!(p.starts(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_supervisor_shuts_the_process_down() {
    let p = plugin();
    p.manifest().await.unwrap();
    let pid = p.pid().await.unwrap();
    drop(p);
    eventually("the process exits after drop", async || {
        !process_exists(pid)
    })
    .await;
}

// ---- through the engine: ProcPlugin as the executor of `type: echo` ----

/// Runs `yaml` with `echo` served by the plugin; `stop` stops the run.
async fn run_dag(
    dir: &Path,
    yaml: &str,
    plugin: Arc<ProcPlugin>,
    stop: CancellationToken,
) -> RunReport {
    common::run_dag_with_plugin(dir, "plugin-dag.yaml", yaml, plugin, stop, DEADLINE).await
}

/// Files under `dir` whose text contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(needle)) {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_step_writes_plugin_logs_into_its_log_files() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = r#"
params:
  - WHO: plugins
steps:
  - name: say
    type: echo
    config:
      message: "hello ${WHO}"
    output: GREETING
  - name: after
    command: echo "got ${GREETING}"
"#;
    let report = run_dag(
        dir.path(),
        yaml,
        Arc::new(plugin()),
        CancellationToken::new(),
    )
    .await;
    let nodes = &report.status.nodes;
    assert_eq!(nodes[0].status, NodeState::Succeeded, "{}", nodes[0].error);
    assert_eq!(nodes[0].exit_code, Some(0));
    assert_eq!(
        std::fs::read_to_string(&nodes[0].stdout).unwrap(),
        "hello plugins\n"
    );
    assert_eq!(nodes[1].status, NodeState::Succeeded, "{}", nodes[1].error);
    assert_eq!(
        std::fs::read_to_string(&nodes[1].stdout).unwrap(),
        "got hello plugins\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_step_with_bad_config_fails_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "steps:\n  - name: say\n    type: echo\n    config:\n      mesage: typo\n";
    let report = run_dag(
        dir.path(),
        yaml,
        Arc::new(plugin()),
        CancellationToken::new(),
    )
    .await;
    let node = &report.status.nodes[0];
    assert_eq!(node.status, NodeState::Failed);
    assert!(
        node.error.contains("invalid config for step type 'echo'")
            && node.error.contains("message"),
        "{}",
        node.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_dag_cancels_its_plugin_step_after_its_logs_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "steps:\n  - name: wait\n    type: echo\n    config:\n      message: slow\n      mode: slow\n";
    let stop = CancellationToken::new();
    let logs = dir.path().join("logs");
    let (canceller, token) = (
        async {
            // The line reaches the step's log file while the step still runs.
            eventually("the log line is streamed", async || {
                !files_containing(&logs, "waiting for cancel").is_empty()
            })
            .await;
            stop.cancel();
        },
        stop.clone(),
    );
    let (report, ()) = tokio::join!(
        run_dag(dir.path(), yaml, Arc::new(plugin()), token),
        canceller
    );
    let node = &report.status.nodes[0];
    assert_eq!(node.status, NodeState::Aborted, "{}", node.error);
    assert_eq!(node.error, "stopped on request");
    let stdout = std::fs::read_to_string(&node.stdout).unwrap();
    assert_eq!(stdout, "slow\nwaiting for cancel\n");
    let stderr = std::fs::read_to_string(&node.stderr).unwrap();
    assert_eq!(stderr, "cancelled, cleaning up\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_step_that_ignores_its_timeout_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "maxCleanUpTimeSec: 1\nsteps:\n  - name: stuck\n    type: echo\n    timeoutSec: 1\n    config:\n      message: m\n      mode: stubborn\n";
    let report = run_dag(
        dir.path(),
        yaml,
        Arc::new(plugin()),
        CancellationToken::new(),
    )
    .await;
    let node = &report.status.nodes[0];
    assert_eq!(node.status, NodeState::Failed);
    assert!(
        node.error.contains("did not end step 'stuck'") && node.error.contains("was killed"),
        "{}",
        node.error
    );
}
