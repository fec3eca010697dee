//! Where a plugin's stderr and the host's notes about the plugin go.

use std::collections::VecDeque;
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// A sink for diagnostic lines. Each line arrives as `[plugin] text`.
#[derive(Clone, Default)]
pub enum Diagnostics {
    /// The host's stderr.
    #[default]
    Stderr,
    /// Nowhere.
    Discard,
    /// A function (tests, the host's own logger).
    Sink(Arc<dyn Fn(&str) + Send + Sync>),
}

impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostics::Stderr => f.write_str("Stderr"),
            Diagnostics::Discard => f.write_str("Discard"),
            Diagnostics::Sink(_) => f.write_str("Sink(..)"),
        }
    }
}

impl Diagnostics {
    /// Appends lines to a file (created with mode 0600 if missing).
    pub fn file(path: &Path) -> std::io::Result<Diagnostics> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let file = Mutex::new(file);
        Ok(Diagnostics::Sink(Arc::new(move |line: &str| {
            let mut f = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(f, "{line}");
        })))
    }

    /// Emits one line about `plugin`.
    pub fn emit(&self, plugin: &str, text: &str) {
        match self {
            Diagnostics::Stderr => eprintln!("[{plugin}] {text}"),
            Diagnostics::Discard => {}
            Diagnostics::Sink(f) => f(&format!("[{plugin}] {text}")),
        }
    }
}

/// The last lines a plugin wrote to stderr, quoted when its process dies.
#[derive(Debug, Default)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
}

/// How many lines [`StderrTail`] keeps.
const TAIL_LINES: usize = 10;

impl StderrTail {
    /// Remembers one line, forgetting the oldest beyond the limit.
    pub fn push(&self, line: &str) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line.to_string());
    }

    /// The remembered lines, oldest first, joined by newlines.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let tail = StderrTail::default();
        for i in 0..15 {
            tail.push(&format!("l{i}"));
        }
        let text = tail.text();
        assert!(text.starts_with("l5\n") && text.ends_with("l14"), "{text}");
    }

    #[test]
    fn sink_gets_prefixed_lines() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let d = Diagnostics::Sink(Arc::new(move |l: &str| {
            s.lock().unwrap().push(l.to_string())
        }));
        d.emit("echo", "hello");
        assert_eq!(*seen.lock().unwrap(), vec!["[echo] hello".to_string()]);
    }
}
