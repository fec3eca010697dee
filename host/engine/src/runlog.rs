//! The run-level log file (`DAG_RUN_LOG_FILE`): one line per lifecycle event.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

/// Appends `time=… level=INFO msg="…"` lines; a no-op for dry runs.
#[derive(Debug, Default)]
pub struct RunLog {
    file: Mutex<Option<File>>,
}

impl RunLog {
    /// Opens (creating or appending to) the run log.
    pub fn open(path: &Path) -> std::io::Result<RunLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(RunLog {
            file: Mutex::new(Some(file)),
        })
    }

    /// Writes one event line with `key=value` fields.
    pub fn event(&self, message: &str, fields: &[(&str, &str)]) {
        let Ok(mut guard) = self.file.lock() else {
            return;
        };
        let Some(file) = guard.as_mut() else { return };
        let mut line = format!(
            "time={} level=INFO msg={message:?}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        for (k, v) in fields {
            line.push_str(&format!(" {k}={v:?}"));
        }
        line.push('\n');
        let _ = file.write_all(line.as_bytes());
    }
}
