//! The [`Plugin`] trait plugin authors implement, and [`RunContext`]: what a running step
//! can reach — its log and its cancellation flag — whichever way the plugin is served
//! (subprocess protocol or WASM component).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::records::{LogStream, Manifest, RunError, RunRequest, RunResponse};

/// A step-type plugin.
pub trait Plugin: Send + Sync + 'static {
    /// The manifest: name, version, step types with their config schemas, capabilities.
    fn describe(&self) -> Manifest;

    /// Runs one execution of a step. Log lines go through `ctx`; a long run should check
    /// [`RunContext::is_cancelled`] and return [`RunError::Cancelled`] once it is set.
    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError>;

    /// Called once the DAG run `run_id` has ended (subprocess plugins only): release what
    /// was kept for its steps, such as pooled connections or the run's container. May
    /// block; other runs go on meanwhile.
    fn end_run(&self, _run_id: &str) {}

    /// Called once before the plugin process exits, after every run has ended: release
    /// whatever is still held (subprocess plugins only). Also called when the host went
    /// away without saying `shutdown`.
    fn shutdown(&self) {}
}

/// How a [`RunContext`] reaches the host; one implementation per way of serving.
pub(crate) trait HostChannel: Send + Sync {
    /// Sends one log line (no newline) of run `id`.
    fn log_line(&self, id: &str, stream: LogStream, line: &str);
    /// Whether the host asked run `id` to stop.
    fn is_cancelled(&self, id: &str) -> bool;
    /// Waits until the host asks run `id` to stop or `timeout` passes; returns whether it
    /// was asked.
    fn wait_cancelled(&self, id: &str, timeout: Duration) -> bool;
}

/// What a running step can reach: its log and its cancellation flag.
pub struct RunContext {
    id: String,
    channel: Box<dyn HostChannel>,
}

impl RunContext {
    pub(crate) fn new(id: String, channel: Box<dyn HostChannel>) -> RunContext {
        RunContext { id, channel }
    }

    /// The id the host gave this run.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends log text to the step's stdout or stderr log, one message per line.
    pub fn log(&self, stream: LogStream, text: &str) {
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            self.channel.log_line(&self.id, stream, line);
        }
    }

    /// [`RunContext::log`] to stdout.
    pub fn stdout(&self, text: &str) {
        self.log(LogStream::Stdout, text);
    }

    /// [`RunContext::log`] to stderr.
    pub fn stderr(&self, text: &str) {
        self.log(LogStream::Stderr, text);
    }

    /// Whether the host asked this run to stop.
    pub fn is_cancelled(&self) -> bool {
        self.channel.is_cancelled(&self.id)
    }

    /// Waits until the host asks this run to stop or `timeout` passes; returns whether it
    /// was cancelled.
    pub fn wait_cancelled(&self, timeout: Duration) -> bool {
        self.channel.wait_cancelled(&self.id, timeout)
    }
}

/// Runs one request; a panic becomes an `internal` error.
pub(crate) fn execute(
    plugin: &dyn Plugin,
    request: RunRequest,
    ctx: &RunContext,
) -> Result<RunResponse, RunError> {
    catch_unwind(AssertUnwindSafe(|| plugin.run(request, ctx))).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(RunError::internal(format!("the plugin panicked: {what}")))
    })
}
