//! One running plugin process: spawn, handshake (`hello`, `describe`), runs multiplexed
//! by id, and the end of the process (every run still in flight then fails).
//!
//! Three tasks serve a connection: a writer that owns the plugin's stdin, a reader that
//! owns its stdout and dispatches messages to runs, and a stderr reader feeding the
//! diagnostics. The reader also reaps the process when its stdout ends.

use std::collections::HashMap;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use dagu_plugin_sdk::protocol::encode;
use dagu_plugin_sdk::{HostMessage, LogStream, Manifest, Outcome, PluginMessage, RunRequest};
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::proc::SUPPORTED_PROTOCOLS;
use crate::proc::config::ProcConfig;
use crate::proc::diagnostics::{Diagnostics, StderrTail};
use crate::proc::lines::LineReader;
use crate::proc::sandbox;

/// How long the reaper waits for the rest of a dead plugin's stderr.
const STDERR_DRAIN: Duration = Duration::from_millis(500);

/// Why a plugin process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("plugin '{plugin}': could not start '{program}': {source}")]
    Spawn {
        plugin: String,
        program: String,
        source: std::io::Error,
    },
    #[error(
        "plugin '{plugin}' speaks protocol {offered}, but this host speaks only {supported}; \
         use a plugin version built for {supported}"
    )]
    UnsupportedProtocol {
        plugin: String,
        offered: String,
        supported: String,
    },
    #[error("plugin '{plugin}' broke the handshake: {message}")]
    Handshake { plugin: String, message: String },
    #[error("plugin '{plugin}' did not finish its handshake within {timeout:?}")]
    HandshakeTimeout { plugin: String, timeout: Duration },
}

/// What a run hears from its connection.
#[derive(Debug)]
pub enum RunEvent {
    Log(LogStream, String),
    Done(Outcome),
    /// The process ended before the run did; the text says why.
    Lost(String),
}

/// Runs in flight, and whether the process has ended (both under one lock, so a run is
/// never registered with a process that has already been reaped).
#[derive(Default)]
struct Table {
    runs: HashMap<String, mpsc::UnboundedSender<RunEvent>>,
    ended: Option<String>,
}

/// State the reader task shares with the connection handle.
struct Shared {
    name: String,
    pid: u32,
    table: Mutex<Table>,
    /// Why the host killed the process, if it did.
    kill_reason: Mutex<Option<String>>,
    /// Set when the host itself ended the process (shutdown, idle stop).
    expected: AtomicBool,
    exited: watch::Sender<bool>,
    tail: StderrTail,
    diagnostics: Diagnostics,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn note(&self, text: &str) {
        self.diagnostics.emit(&self.name, &format!("host: {text}"));
    }

    /// SIGKILL to the process group, unless the process has been reaped already.
    fn kill(&self, reason: Option<String>) {
        let table = self.table();
        if table.ended.is_some() {
            return;
        }
        if let Some(reason) = reason {
            self.kill_reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(reason);
        }
        if let Some(pgid) = Pid::from_raw(self.pid as i32) {
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
}

/// A live plugin process. Dropping the last handle asks the process to shut down.
pub struct Connection {
    shared: Arc<Shared>,
    outbound: mpsc::UnboundedSender<HostMessage>,
    next_id: AtomicU64,
    manifest: Manifest,
    protocol: String,
    shutdown_grace: Duration,
}

impl Connection {
    /// Starts the plugin and completes the handshake.
    pub async fn start(config: &ProcConfig) -> Result<Arc<Connection>, StartError> {
        let mut cmd = Command::new(&config.program);
        cmd.args(&config.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if config.clear_env {
            cmd.env_clear();
        }
        cmd.envs(config.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &config.work_dir {
            cmd.current_dir(dir);
        }
        let mut child = sandbox::spawn(&mut cmd, config).map_err(|source| StartError::Spawn {
            plugin: config.name.clone(),
            program: config.program.display().to_string(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        let (stdin, stdout, stderr) = (
            child.stdin.take().expect("stdin is piped"),
            child.stdout.take().expect("stdout is piped"),
            child.stderr.take().expect("stderr is piped"),
        );
        let shared = Arc::new(Shared {
            name: config.name.clone(),
            pid,
            table: Mutex::default(),
            kill_reason: Mutex::default(),
            expected: AtomicBool::new(false),
            exited: watch::channel(false).0,
            tail: StderrTail::default(),
            diagnostics: config.diagnostics.clone(),
        });
        let stderr = tokio::spawn(read_stderr(shared.clone(), stderr, config.max_line_bytes));

        let mut stdin = stdin;
        let mut lines = LineReader::new(stdout, config.max_line_bytes);
        let handshake = handshake(config, &mut stdin, &mut lines);
        let outcome = match tokio::time::timeout(config.handshake_timeout, handshake).await {
            Ok(r) => r,
            Err(_) => Err(StartError::HandshakeTimeout {
                plugin: config.name.clone(),
                timeout: config.handshake_timeout,
            }),
        };
        let (protocol, manifest) = match outcome {
            Ok(ok) => ok,
            Err(e) => {
                shared.note(&e.to_string());
                shared.expected.store(true, Ordering::SeqCst);
                drop(stdin);
                tokio::spawn(reap(shared, child, lines, stderr));
                return Err(e);
            }
        };
        let (outbound, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_messages(stdin, queue));
        tokio::spawn(read_messages(shared.clone(), child, lines, stderr));
        Ok(Arc::new(Connection {
            shared,
            outbound,
            next_id: AtomicU64::new(1),
            manifest,
            protocol,
            shutdown_grace: config.shutdown_grace,
        }))
    }

    /// The manifest the plugin described itself with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The protocol version agreed on.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// Whether the process is still running and usable: one the host has decided to kill
    /// is not, even before it is reaped (a run sent to it would only be lost).
    pub fn is_alive(&self) -> bool {
        self.shared.table().ended.is_none()
            && self
                .shared
                .kill_reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
    }

    /// Whether the process ended without the host asking it to.
    pub fn died_unexpectedly(&self) -> bool {
        !self.is_alive() && !self.shared.expected.load(Ordering::SeqCst)
    }

    /// How many runs are in flight.
    pub fn in_flight(&self) -> usize {
        self.shared.table().runs.len()
    }

    /// Sends `request` as a new run; its events arrive on the receiver. Fails with the
    /// reason when the process has already ended.
    pub fn begin(
        &self,
        request: RunRequest,
    ) -> Result<(RunHandle, mpsc::UnboundedReceiver<RunEvent>), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        {
            let mut table = self.shared.table();
            if let Some(reason) = &table.ended {
                return Err(reason.clone());
            }
            table.runs.insert(id.clone(), tx);
        }
        let _ = self.outbound.send(HostMessage::Run {
            id: id.clone(),
            request: Box::new(request),
        });
        let handle = RunHandle {
            shared: self.shared.clone(),
            outbound: self.outbound.clone(),
            id,
            settled: false,
        };
        Ok((handle, rx))
    }

    /// Says that the DAG run `run_id` has ended (no answer is expected).
    pub fn end_run(&self, run_id: &str) {
        let _ = self.outbound.send(HostMessage::EndRun {
            run_id: run_id.to_string(),
        });
    }

    /// Kills the process group (every run in flight fails with `reason`).
    pub fn kill(&self, reason: String) {
        self.shared.kill(Some(reason));
    }

    /// Asks the process to exit and waits for it; kills it after the shutdown grace.
    pub async fn shutdown(&self) {
        // (A process being killed is still waited for.)
        if self.shared.table().ended.is_some() {
            return;
        }
        self.shared.expected.store(true, Ordering::SeqCst);
        let _ = self.outbound.send(HostMessage::Shutdown);
        let mut exited = self.shared.exited.subscribe();
        let waited = tokio::time::timeout(self.shutdown_grace, exited.wait_for(|e| *e))
            .await
            .is_ok();
        if !waited {
            self.shared.note(&format!(
                "the process did not exit within {:?} of shutdown; killing it",
                self.shutdown_grace
            ));
            self.shared.kill(None);
            let _ = exited.wait_for(|e| *e).await;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.is_alive() {
            return;
        }
        self.shared.expected.store(true, Ordering::SeqCst);
        let _ = self.outbound.send(HostMessage::Shutdown);
        // The writer task closes stdin once every sender is gone; a plugin that still has
        // not exited after the grace period is killed.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (shared, grace) = (self.shared.clone(), self.shutdown_grace);
            rt.spawn(async move {
                let mut exited = shared.exited.subscribe();
                if tokio::time::timeout(grace, exited.wait_for(|e| *e))
                    .await
                    .is_err()
                {
                    shared.kill(None);
                }
            });
        }
    }
}

/// One run in flight. Dropping it before the run is settled sends `cancel`.
pub struct RunHandle {
    shared: Arc<Shared>,
    outbound: mpsc::UnboundedSender<HostMessage>,
    id: String,
    settled: bool,
}

impl RunHandle {
    /// The run's id on the wire.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends `cancel` for this run.
    pub fn cancel(&self) {
        let _ = self.outbound.send(HostMessage::Cancel {
            id: self.id.clone(),
        });
    }

    /// Marks the run as ended (no `cancel` on drop).
    pub fn settle(&mut self) {
        self.settled = true;
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        let was_running = self.shared.table().runs.remove(&self.id).is_some();
        if was_running && !self.settled {
            self.cancel();
        }
    }
}

/// `hello` from the plugin, the host's choice, `describe`, `manifest`.
async fn handshake<R: AsyncRead + Unpin>(
    config: &ProcConfig,
    stdin: &mut ChildStdin,
    lines: &mut LineReader<R>,
) -> Result<(String, Manifest), StartError> {
    let broken = |message: String| StartError::Handshake {
        plugin: config.name.clone(),
        message,
    };
    let protocols = match next_message(lines).await.map_err(broken)? {
        PluginMessage::Hello { protocols } => protocols,
        other => {
            return Err(broken(format!(
                "expected hello first, got {}",
                kind(&other)
            )));
        }
    };
    let Some(chosen) = SUPPORTED_PROTOCOLS
        .iter()
        .find(|p| protocols.iter().any(|o| o == *p))
    else {
        return Err(StartError::UnsupportedProtocol {
            plugin: config.name.clone(),
            offered: if protocols.is_empty() {
                "no version".into()
            } else {
                protocols.join(", ")
            },
            supported: SUPPORTED_PROTOCOLS.join(", "),
        });
    };
    for message in [
        HostMessage::Hello {
            protocol: chosen.to_string(),
        },
        HostMessage::Describe,
    ] {
        write_line(stdin, &message)
            .await
            .map_err(|e| broken(format!("could not write to the plugin: {e}")))?;
    }
    match next_message(lines).await.map_err(broken)? {
        PluginMessage::Manifest { manifest } => Ok((chosen.to_string(), manifest)),
        other => Err(broken(format!(
            "expected the manifest after describe, got {}",
            kind(&other)
        ))),
    }
}

/// The next message during the handshake, where anything else is an error.
async fn next_message<R: AsyncRead + Unpin>(
    lines: &mut LineReader<R>,
) -> Result<PluginMessage, String> {
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|e| format!("could not read from the plugin: {e}"))?
            .ok_or("the plugin closed its stdout (did it exit? see its stderr)")?;
        if line.trim().is_empty() {
            continue;
        }
        return serde_json::from_str(&line)
            .map_err(|e| format!("not a dagu-plugin message ({e}): {}", clip(&line)));
    }
}

fn kind(m: &PluginMessage) -> &'static str {
    match m {
        PluginMessage::Hello { .. } => "hello",
        PluginMessage::Manifest { .. } => "manifest",
        PluginMessage::Log { .. } => "log",
        PluginMessage::Done { .. } => "done",
    }
}

async fn write_line(stdin: &mut ChildStdin, message: &HostMessage) -> std::io::Result<()> {
    stdin.write_all(encode(message).as_bytes()).await?;
    stdin.flush().await
}

/// Owns stdin: writes queued messages until every sender is gone, then closes it.
async fn write_messages(mut stdin: ChildStdin, mut queue: mpsc::UnboundedReceiver<HostMessage>) {
    while let Some(message) = queue.recv().await {
        if write_line(&mut stdin, &message).await.is_err() {
            break;
        }
    }
}

/// Owns stdout: dispatches messages to runs until it ends, then reaps the process.
async fn read_messages(
    shared: Arc<Shared>,
    child: Child,
    mut lines: LineReader<ChildStdout>,
    stderr: JoinHandle<()>,
) {
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => dispatch(&shared, &line),
            Ok(None) => break,
            Err(e) => {
                let reason = format!("the plugin broke the protocol: {e}");
                shared.note(&reason);
                shared.kill(Some(reason));
                break;
            }
        }
    }
    reap(shared, child, lines, stderr).await;
}

/// Routes one line from the plugin to its run.
fn dispatch(shared: &Shared, line: &str) {
    if line.trim().is_empty() {
        return;
    }
    let message = match serde_json::from_str::<PluginMessage>(line) {
        Ok(m) => m,
        Err(e) => {
            shared.note(&format!(
                "ignoring a line that is not a message ({e}): {}",
                clip(line)
            ));
            return;
        }
    };
    let (id, event) = match message {
        PluginMessage::Log { id, stream, line } => (id, RunEvent::Log(stream, line)),
        PluginMessage::Done { id, outcome } => (id, RunEvent::Done(outcome)),
        other => {
            shared.note(&format!("ignoring an unexpected {} message", kind(&other)));
            return;
        }
    };
    let mut table = shared.table();
    let done = matches!(event, RunEvent::Done(_));
    let target = if done {
        table.runs.remove(&id)
    } else {
        table.runs.get(&id).cloned()
    };
    drop(table);
    match target {
        Some(tx) => {
            let _ = tx.send(event);
        }
        None => shared.note(&format!("ignoring a message for unknown run id {id}")),
    }
}

/// Makes sure the process group is gone, waits for the process, and fails every run
/// still in flight.
async fn reap<R>(
    shared: Arc<Shared>,
    mut child: Child,
    lines: LineReader<R>,
    stderr: JoinHandle<()>,
) {
    drop(lines);
    // Nothing of a plugin whose stdout is closed is of use; its group goes with it.
    shared.kill(None);
    let status = child.wait().await;
    // Its last stderr lines explain a crash; wait briefly for them (a grandchild outside
    // the group could hold the pipe open).
    let _ = tokio::time::timeout(STDERR_DRAIN, stderr).await;
    let reason = shared
        .kill_reason
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| describe_exit(&shared, status));
    let runs = {
        let mut table = shared.table();
        table.ended = Some(reason.clone());
        std::mem::take(&mut table.runs)
    };
    if !shared.expected.load(Ordering::SeqCst) {
        shared.note(&reason);
    }
    for tx in runs.into_values() {
        let _ = tx.send(RunEvent::Lost(reason.clone()));
    }
    shared.exited.send_replace(true);
}

fn describe_exit(shared: &Shared, status: std::io::Result<ExitStatus>) -> String {
    let status = match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("status unknown: {e}"),
    };
    let mut text = format!(
        "the plugin process '{}' (pid {}) exited unexpectedly ({status})",
        shared.name, shared.pid
    );
    let tail = shared.tail.text();
    if !tail.is_empty() {
        text.push_str("; last stderr lines:\n");
        text.push_str(&tail);
    }
    text
}

/// Forwards stderr lines to the diagnostics and remembers the last ones.
async fn read_stderr(
    shared: Arc<Shared>,
    stderr: tokio::process::ChildStderr,
    max_line_bytes: usize,
) {
    let mut lines = LineReader::new(stderr, max_line_bytes);
    while let Ok(Some(line)) = lines.next_line().await {
        shared.tail.push(&line);
        shared.diagnostics.emit(&shared.name, &line);
    }
}

/// At most 200 characters of a line, for messages.
fn clip(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}
