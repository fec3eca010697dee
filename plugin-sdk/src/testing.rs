//! Running a plugin in-process, for plugin authors' tests: no protocol, no threads — the
//! request goes straight to [`Plugin::run`] and every log line is collected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::plugin::{HostChannel, Plugin, RunContext, execute};
use crate::records::{LogStream, RunError, RunRequest, RunResponse};

/// Log lines in the order the plugin sent them.
type Lines = Arc<Mutex<Vec<(LogStream, String)>>>;

/// A [`HostChannel`] that records log lines and reports the test's cancel flag.
struct Recorder {
    lines: Lines,
    cancel: Arc<AtomicBool>,
}

impl HostChannel for Recorder {
    fn log_line(&self, _id: &str, stream: LogStream, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((stream, line.to_string()));
    }

    fn is_cancelled(&self, _id: &str) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn wait_cancelled(&self, _id: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while !self.is_cancelled("") {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(5)));
        }
        true
    }
}

/// Runs `request` on `plugin` in the calling thread, the way a host would (a panic becomes
/// an `internal` error), and returns the outcome with every log line it sent, in order.
/// The run is never cancelled.
pub fn run_in_process(
    plugin: &dyn Plugin,
    request: RunRequest,
) -> (Result<RunResponse, RunError>, Vec<(LogStream, String)>) {
    run_in_process_with_cancel(plugin, request, Arc::default())
}

/// [`run_in_process`] whose run sees itself cancelled once `cancel` is set (by another
/// thread of the test), as when the host sends `cancel`.
pub fn run_in_process_with_cancel(
    plugin: &dyn Plugin,
    request: RunRequest,
    cancel: Arc<AtomicBool>,
) -> (Result<RunResponse, RunError>, Vec<(LogStream, String)>) {
    let lines = Lines::default();
    let ctx = RunContext::new(
        request.run_id.clone(),
        Box::new(Recorder {
            lines: lines.clone(),
            cancel,
        }),
    );
    let outcome = execute(plugin, request, &ctx);
    drop(ctx);
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(PoisonError::into_inner));
    (outcome, lines)
}

/// A request for step type `step_type` with everything else empty, for tests to fill in
/// with struct-update syntax.
pub fn request(step_type: &str) -> RunRequest {
    RunRequest {
        run_id: "test-run".to_string(),
        step_name: "test-step".to_string(),
        step_type: step_type.to_string(),
        config: serde_json::Value::Null,
        command: Vec::new(),
        script: None,
        env: Vec::new(),
        work_dir: None,
        timeout_ms: None,
    }
}

/// The lines of one stream, in order, from what [`run_in_process`] collected.
pub fn lines_of(lines: &[(LogStream, String)], stream: LogStream) -> Vec<String> {
    lines
        .iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, l)| l.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Manifest;

    /// Logs its config's `message` to both streams; panics on `"panic"`.
    struct Echo;

    impl Plugin for Echo {
        fn describe(&self) -> Manifest {
            unreachable!("not described in these tests")
        }

        fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
            let message = request.config["message"].as_str().unwrap_or_default();
            if message == "panic" {
                panic!("asked to");
            }
            ctx.stdout(message);
            ctx.stderr("err");
            Ok(RunResponse::default())
        }
    }

    #[test]
    fn collects_lines_in_order() {
        let request = RunRequest {
            config: serde_json::json!({"message": "a\nb"}),
            ..request("echo")
        };
        let (outcome, lines) = run_in_process(&Echo, request);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(
            lines,
            vec![
                (LogStream::Stdout, "a".to_string()),
                (LogStream::Stdout, "b".to_string()),
                (LogStream::Stderr, "err".to_string()),
            ]
        );
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let request = RunRequest {
            config: serde_json::json!({"message": "panic"}),
            ..request("echo")
        };
        let (outcome, _) = run_in_process(&Echo, request);
        assert_eq!(
            outcome,
            Err(RunError::internal("the plugin panicked: asked to"))
        );
    }
}
