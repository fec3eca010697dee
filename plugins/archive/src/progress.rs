//! What an operation has done so far, and the summary it prints at the end.

use std::time::Instant;

use dagu_plugin_sdk::{RunContext, RunError};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::entry::Entry;

/// Summary fields an operation reports besides the counts, in order.
pub(crate) type Fields = Vec<(&'static str, Value)>;

/// Counts, failures and logging of one operation.
pub(crate) struct Progress<'c> {
    ctx: &'c RunContext,
    verbose: bool,
    continue_on_error: bool,
    dry_run: bool,
    started: Instant,
    /// Entries done (files, folders and links).
    pub files: u64,
    /// Bytes of file content done.
    pub bytes: u64,
    errors: Vec<Value>,
}

impl<'c> Progress<'c> {
    pub fn new(ctx: &'c RunContext, config: &Config) -> Progress<'c> {
        Progress {
            ctx,
            verbose: config.verbose,
            continue_on_error: config.continue_on_error,
            dry_run: config.dry_run,
            started: Instant::now(),
            files: 0,
            bytes: 0,
            errors: Vec::new(),
        }
    }

    /// Counts `entry` as done; with `verbose`, logs it on stderr as `<verb> <path>`.
    pub fn done(&mut self, verb: &str, entry: &Entry) {
        self.files += 1;
        self.bytes += entry.size;
        if self.verbose {
            self.ctx.stderr(&format!("{verb} {}", entry.path));
        }
    }

    /// Handles a failure of the entry at `path`: with `continueOnError` it is logged,
    /// kept for the summary and the operation goes on; otherwise the step fails.
    pub fn failed(&mut self, path: &str, error: String) -> Result<(), RunError> {
        if !self.continue_on_error {
            return Err(RunError::failed(1, format!("{path}: {error}")));
        }
        self.ctx.stderr(&format!("{path}: {error}"));
        self.errors.push(json!({"path": path, "error": error}));
        Ok(())
    }

    /// Fails with `cancelled` once the host asked the step to stop.
    pub fn check_cancelled(&self) -> Result<(), RunError> {
        if self.ctx.is_cancelled() {
            Err(RunError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// The summary: `operation` and `fields` first, then the counts (unless `fields`
    /// has them), the duration, `dryRun` when set and `errors` when any.
    pub fn summary(self, operation: &str, fields: Fields) -> Value {
        let mut summary = Map::new();
        summary.insert("operation".into(), operation.into());
        for (key, value) in fields {
            summary.insert(key.into(), value);
        }
        summary.entry("files").or_insert(self.files.into());
        summary.insert("bytes".into(), self.bytes.into());
        summary.insert(
            "duration".into(),
            format!("{:?}", self.started.elapsed()).into(),
        );
        if self.dry_run {
            summary.insert("dryRun".into(), true.into());
        }
        if !self.errors.is_empty() {
            summary.insert("errors".into(), self.errors.into());
        }
        Value::Object(summary)
    }
}
