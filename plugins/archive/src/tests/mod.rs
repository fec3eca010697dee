//! The `archive` step run in-process against real files.

mod options;
mod round_trip;
mod safety;

use std::fs::{self, File};
use std::path::Path;

use dagu_plugin_sdk::testing::{request, run_in_process};
use dagu_plugin_sdk::{LogStream, RunError, RunRequest, RunResponse};
use serde_json::Value;

use crate::Archive;

/// The modification time given to every file of a test tree (an even number of seconds,
/// which zip's two-second steps keep exactly).
const MTIME: i64 = 1_600_000_000;

/// What a run printed and how it ended.
struct Ran {
    outcome: Result<RunResponse, RunError>,
    /// The JSON summary on stdout, `Null` when there is none.
    summary: Value,
    stderr: Vec<String>,
}

impl Ran {
    /// The summary of a successful run.
    fn ok(&self) -> &Value {
        assert_eq!(
            self.outcome,
            Ok(RunResponse::default()),
            "{:?}",
            self.stderr
        );
        &self.summary
    }

    /// The message of a failed run.
    fn failure(&self) -> &str {
        match &self.outcome {
            Err(RunError::Failed { message, .. }) => message,
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

/// Runs `operation` with `config` in `work_dir`.
fn run(work_dir: &Path, operation: &str, config: Value) -> Ran {
    let request = RunRequest {
        command: vec![operation.to_string()],
        config,
        work_dir: Some(work_dir.to_str().unwrap().to_string()),
        ..request("archive")
    };
    let (outcome, lines) = run_in_process(&Archive, request);
    let text = |stream| {
        lines
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
    };
    let stdout = text(LogStream::Stdout).join("\n");
    Ran {
        summary: if stdout.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&stdout).unwrap()
        },
        stderr: text(LogStream::Stderr)
            .into_iter()
            .map(String::from)
            .collect(),
        outcome,
    }
}

/// Writes a file with `contents`, `mode` and the test time.
fn file(path: &Path, contents: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
    set_mode(path, mode);
    stamp(path);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn stamp(path: &Path) {
    let f = File::options()
        .write(true)
        .open(path)
        .or_else(|_| File::open(path))
        .unwrap();
    f.set_modified(crate::time::system_time(MTIME)).unwrap();
}

/// A small tree: `src/` with a text file, an executable script, nested docs, an empty
/// folder and a symlink.
fn tree(root: &Path) {
    let src = root.join("src");
    file(&src.join("a.txt"), b"hello\n", 0o644);
    file(&src.join("bin/run.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    file(&src.join("docs/readme.md"), b"# readme\n", 0o600);
    file(
        &src.join("docs/deep/x.log"),
        &[0u8, 1, 2, 255].repeat(3000),
        0o644,
    );
    fs::create_dir_all(src.join("empty")).unwrap();
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    for dir in ["bin", "docs/deep", "docs", "empty"] {
        stamp(&src.join(dir));
    }
    stamp(&src);
}
