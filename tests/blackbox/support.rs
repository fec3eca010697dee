//! A scratch `DAGU_HOME` and work folder per test, and helpers to run the binary in them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub fn dagu_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dagu"))
}

/// One test's sandbox: `home/` (DAGU_HOME) and `work/` (current dir, DAG files).
pub struct Sandbox {
    _root: tempfile::TempDir,
    pub home: PathBuf,
    pub work: PathBuf,
}

/// The result of one `dagu` invocation.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The captured output, for assertion messages.
    pub fn explain(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }

    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Sandbox {
        let root = tempfile::tempdir().expect("tempdir");
        let home = root.path().join("home");
        let work = root.path().join("work");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        Sandbox {
            _root: root,
            home,
            work,
        }
    }

    /// Writes a file under `work/` (parents created).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.work.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Reads a file under `work/`, or "" when missing.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.work.join(rel)).unwrap_or_default()
    }

    /// Whether a file under `work/` exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.work.join(rel).exists()
    }

    /// A `dagu` command with this sandbox's environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(dagu_bin());
        c.args(args)
            .current_dir(&self.work)
            .env_remove("DAGU_DAGS_DIR")
            .env("DAGU_HOME", &self.home)
            .env("SHELL", "/bin/sh")
            .stdin(Stdio::null());
        c
    }

    /// Runs `dagu` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run dagu"))
    }

    /// Starts `dagu` in the background (own process group), output captured.
    pub fn spawn(&self, args: &[&str]) -> Child {
        use std::os::unix::process::CommandExt;
        let mut c = self.cmd(args);
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        c.spawn().expect("spawn dagu")
    }

    /// `dagu status --json` of the latest run of `dag`, parsed.
    pub fn status_json(&self, dag: &str) -> serde_json::Value {
        let run = self.run(&["status", "--json", dag]);
        assert_eq!(run.code, 0, "status failed: {}", run.stderr);
        serde_json::from_str(&run.stdout).expect("status JSON")
    }
}

/// Blocks until `path` exists, a flag file written by a step; bounded by the test harness
/// timeout rather than by a sleep standing in for synchronisation.
pub fn wait_for_file(path: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Statuses of the steps in a status JSON, by name.
pub fn node_states(status: &serde_json::Value) -> Vec<(String, i64)> {
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["step"]["name"].as_str().unwrap().to_string(),
                n["status"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Waits (bounded) for a spawned `dagu` to exit; returns (exit code, stdout, stderr). On
/// timeout the whole process group is killed and the test fails.
pub fn finish(mut child: Child) -> (i32, String, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-s", "KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!("dagu did not exit within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait dagu");
    let run = Run::from(out);
    (run.code, run.stdout, run.stderr)
}

/// The status JSON node of step `name`.
pub fn node<'a>(st: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    st["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["step"]["name"] == name)
        .unwrap_or_else(|| panic!("no node {name} in {st:#}"))
}

/// The status integer of step `name`.
pub fn state(st: &serde_json::Value, name: &str) -> i64 {
    node(st, name)["status"].as_i64().expect("node status")
}

impl Sandbox {
    /// Writes a file under `home/` (DAGU_HOME; parents created).
    pub fn write_home(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// A folder of the repository's `examples/`, e.g. `plugins/python-echo`.
pub fn example_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel)
}
