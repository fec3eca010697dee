//! [`ProcPlugin`]: the supervisor of one subprocess plugin. It starts the process on first
//! use, shares it between concurrent runs, restarts it with backoff after a crash, stops it
//! when idle, cancels runs on request and kills the process when a cancel is ignored.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use dagu_engine::process::Interruption;
use dagu_plugin_sdk::{LogStream, Manifest, RunError, RunRequest};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::proc::config::ProcConfig;
use crate::proc::connection::{Connection, RunEvent, StartError};
use crate::step_io::{ConfigValidators, RunEnd};

/// How one run is to be bounded.
#[derive(Clone, Copy, Debug)]
pub struct RunControl<'a> {
    /// Fires when the run must stop (`cancel` is sent).
    pub stop: &'a CancellationToken,
    /// The run's own time limit (`cancel` is sent when it passes).
    pub timeout: Option<Duration>,
    /// How long the plugin has to answer a `cancel` before its process group is killed.
    pub grace: Duration,
}

/// The supervisor of one subprocess plugin. Cheap to share behind an `Arc`; register it
/// for each of its step types with `Executors::register`.
pub struct ProcPlugin {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProcConfig,
    /// The current process; the lock also serialises starts.
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// Consecutive crashes and failed starts; reset by a run that gets its `done`.
    failures: AtomicU32,
    /// When the last failure happened.
    last_failure: Mutex<Option<Instant>>,
    /// Bumped whenever a run starts, so a pending idle stop knows it is stale.
    activity: AtomicU64,
    /// How many processes have been started.
    starts: AtomicU64,
    /// The latest manifest.
    manifest: Mutex<Option<Manifest>>,
    /// Compiled config schemas.
    validators: ConfigValidators,
}

impl ProcPlugin {
    /// A supervisor for the plugin `config` describes; nothing starts until first use.
    pub fn new(config: ProcConfig) -> ProcPlugin {
        ProcPlugin {
            inner: Arc::new(Inner {
                config,
                conn: tokio::sync::Mutex::new(None),
                failures: AtomicU32::new(0),
                last_failure: Mutex::new(None),
                activity: AtomicU64::new(0),
                starts: AtomicU64::new(0),
                manifest: Mutex::new(None),
                validators: ConfigValidators::default(),
            }),
        }
    }

    /// The plugin's name from its config.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The plugin's manifest, starting the process if none ran yet.
    pub async fn manifest(&self) -> Result<Manifest, StartError> {
        if let Some(m) = self.cached_manifest() {
            return Ok(m);
        }
        let conn = self.connection().await?;
        Ok(conn.manifest().clone())
    }

    /// The manifest of the last process that started, if any did.
    pub fn cached_manifest(&self) -> Option<Manifest> {
        lock(&self.inner.manifest).clone()
    }

    /// The plugin's compiled config schemas.
    pub fn config_validators(&self) -> &ConfigValidators {
        &self.inner.validators
    }

    /// The pid of the running process, if one runs.
    pub async fn pid(&self) -> Option<u32> {
        let conn = self.inner.conn.lock().await;
        conn.as_ref().filter(|c| c.is_alive()).map(|c| c.pid())
    }

    /// How many processes this supervisor has started.
    pub fn starts(&self) -> u64 {
        self.inner.starts.load(Ordering::SeqCst)
    }

    /// Asks the running process (if any) to exit and waits for it, killing it after the
    /// shutdown grace. The next use starts a new one.
    pub async fn shutdown(&self) {
        let conn = self.inner.conn.lock().await.take();
        if let Some(conn) = conn {
            conn.shutdown().await;
        }
    }

    /// Tells the running process (if any: none is started for this) that the DAG run
    /// `run_id` has ended.
    pub async fn end_run(&self, run_id: &str) {
        let conn = self.inner.conn.lock().await.clone();
        if let Some(conn) = conn.filter(|c| c.is_alive()) {
            conn.end_run(run_id);
        }
    }

    /// Runs one request, passing its log lines to `log` as they arrive.
    pub async fn run(
        &self,
        request: RunRequest,
        control: RunControl<'_>,
        log: &mut (dyn FnMut(LogStream, &str) + Send),
    ) -> RunEnd {
        let conn = tokio::select! {
            conn = self.connection() => conn,
            _ = control.stop.cancelled() => return stopped_before_start(),
        };
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                return RunEnd {
                    result: Err(RunError::internal(e.to_string())),
                    interrupted: None,
                };
            }
        };
        let step = request.step_name.clone();
        let end = self.drive(&conn, request, control, log, &step).await;
        if end.interrupted.is_none() && !matches!(&end.result, Err(RunError::Internal { .. })) {
            self.inner.failures.store(0, Ordering::SeqCst);
        }
        self.arm_idle_stop(&conn);
        end
    }

    /// Sends the run and follows it to its end.
    async fn drive(
        &self,
        conn: &Arc<Connection>,
        request: RunRequest,
        control: RunControl<'_>,
        log: &mut (dyn FnMut(LogStream, &str) + Send),
        step: &str,
    ) -> RunEnd {
        let (mut run, mut events) = match conn.begin(request) {
            Ok(r) => r,
            Err(reason) => {
                return RunEnd {
                    result: Err(RunError::internal(reason)),
                    interrupted: None,
                };
            }
        };
        let deadline = control.timeout.map(|t| Instant::now() + t);
        let mut interrupted = None;
        let mut kill_at: Option<Instant> = None;
        let result = loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(RunEvent::Log(stream, line)) => log(stream, &line),
                    Some(RunEvent::Done(outcome)) => {
                        run.settle();
                        break outcome.into();
                    }
                    Some(RunEvent::Lost(reason)) => break Err(RunError::internal(reason)),
                    None => break Err(RunError::internal("the plugin connection closed")),
                },
                _ = control.stop.cancelled(), if interrupted.is_none() => {
                    interrupted = Some(Interruption::Stopped);
                    run.cancel();
                    kill_at = Some(Instant::now() + control.grace);
                }
                _ = at(deadline), if interrupted.is_none() => {
                    interrupted = Some(Interruption::TimedOut);
                    run.cancel();
                    kill_at = Some(Instant::now() + control.grace);
                }
                _ = at(kill_at) => {
                    let message = format!(
                        "plugin '{}' did not end step '{step}' within {:?} of the cancel \
                         request; its process (pid {}) was killed",
                        self.name(), control.grace, conn.pid()
                    );
                    run.settle();
                    conn.kill(message.clone());
                    break Err(RunError::internal(message));
                }
            }
        };
        RunEnd {
            result,
            interrupted,
        }
    }

    /// The live connection, started (after the backoff delay) if there is none.
    async fn connection(&self) -> Result<Arc<Connection>, StartError> {
        let inner = &self.inner;
        let mut slot = inner.conn.lock().await;
        inner.activity.fetch_add(1, Ordering::SeqCst);
        if let Some(conn) = slot.as_ref() {
            if conn.is_alive() {
                return Ok(conn.clone());
            }
            if conn.died_unexpectedly() {
                inner.failed();
            }
            *slot = None;
        }
        let failures = inner.failures.load(Ordering::SeqCst);
        let last = *lock(&inner.last_failure);
        if let Some(last) = last {
            tokio::time::sleep_until(last + inner.config.backoff.delay(failures)).await;
        }
        match Connection::start(&inner.config).await {
            Ok(conn) => {
                inner.starts.fetch_add(1, Ordering::SeqCst);
                *lock(&inner.manifest) = Some(conn.manifest().clone());
                *slot = Some(conn.clone());
                Ok(conn)
            }
            Err(e) => {
                inner.failed();
                Err(e)
            }
        }
    }

    /// Stops the process after the idle timeout unless a run starts meanwhile.
    fn arm_idle_stop(&self, conn: &Arc<Connection>) {
        let Some(idle) = self.inner.config.idle_timeout else {
            return;
        };
        if conn.in_flight() > 0 {
            return;
        }
        let generation = self.inner.activity.load(Ordering::SeqCst);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let conn = Arc::downgrade(conn);
        tokio::spawn(async move {
            tokio::time::sleep(idle).await;
            let Some(inner) = weak.upgrade() else { return };
            let mut slot = inner.conn.lock().await;
            let current = match (slot.as_ref(), conn.upgrade()) {
                (Some(c), Some(armed)) if Arc::ptr_eq(c, &armed) => armed,
                _ => return,
            };
            // A dead process is left for the next use to notice (and count as a crash).
            if inner.activity.load(Ordering::SeqCst) != generation
                || current.in_flight() > 0
                || !current.is_alive()
            {
                return;
            }
            *slot = None;
            drop(slot);
            current.shutdown().await;
        });
    }
}

impl Inner {
    fn failed(&self) {
        self.failures.fetch_add(1, Ordering::SeqCst);
        *lock(&self.last_failure) = Some(Instant::now());
    }
}

/// A run stopped while it waited for the process to start.
fn stopped_before_start() -> RunEnd {
    RunEnd {
        result: Err(RunError::Cancelled),
        interrupted: Some(Interruption::Stopped),
    }
}

/// Sleeps until `t`, or forever when there is none.
async fn at(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
