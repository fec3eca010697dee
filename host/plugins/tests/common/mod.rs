//! Helpers shared by the plugin tests: the Python interpreter to run plugins with, whether
//! this kernel can sandbox them, the test WASM component, and running a DAG whose plugin
//! steps a plugin serves.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The real Python interpreter (not a shim script, which could not run inside the
/// sandbox), and the grants it needs to start there.
pub struct Python {
    pub program: PathBuf,
    /// `fs_read` grants for its installation when that lies outside the system folders
    /// the sandbox always allows (e.g. a pyenv prefix under /root).
    pub runtime_reads: Vec<String>,
}

pub fn python() -> &'static Python {
    static PYTHON: OnceLock<Python> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import os,sys; print(os.path.realpath(sys.executable)); print(sys.base_prefix)",
            ])
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "python3 -c failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let program = PathBuf::from(lines.next().unwrap());
        let prefix = lines.next().unwrap().to_string();
        let system = ["/usr", "/lib", "/lib64", "/bin"]
            .iter()
            .any(|s| prefix == *s || prefix.starts_with(&format!("{s}/")));
        Python {
            program,
            runtime_reads: if system { vec![] } else { vec![prefix] },
        }
    })
}

/// `Ok(abi)` when the kernel has Landlock; otherwise the reason. Under CI (`CI` set) a
/// missing Landlock is a failure, not a reason to skip.
pub fn landlock() -> Result<i32, String> {
    match dagu_plugins::proc::sandbox::landlock_abi() {
        Ok(abi) => Ok(abi),
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the sandbox tests, but: {why}"
            );
            Err(why.to_string())
        }
    }
}

/// Runs `yaml` (written to `dir/file_name`) with the plugin's step types registered; `stop`
/// stops the run. Fails the test if the run does not end within `deadline`.
pub async fn run_dag_with_plugin(
    dir: &std::path::Path,
    file_name: &str,
    yaml: &str,
    plugin: std::sync::Arc<dagu_plugins::ProcPlugin>,
    stop: tokio_util::sync::CancellationToken,
    deadline: std::time::Duration,
) -> dagu_engine::RunReport {
    let mut executors = dagu_engine::Executors::builtin();
    let types = dagu_plugins::ProcPlugin::register_all(&plugin, &mut executors)
        .await
        .unwrap();
    assert!(!types.is_empty(), "the plugin serves no step type");
    run_dag(dir, file_name, yaml, executors, stop, deadline).await
}

/// Runs `yaml` (written to `dir/file_name`) with `executors`; `stop` stops the run. Fails
/// the test if the run does not end within `deadline`.
pub async fn run_dag(
    dir: &std::path::Path,
    file_name: &str,
    yaml: &str,
    executors: dagu_engine::Executors,
    stop: tokio_util::sync::CancellationToken,
    deadline: std::time::Duration,
) -> dagu_engine::RunReport {
    use std::sync::Arc;
    let path = dir.join(file_name);
    std::fs::write(&path, yaml).unwrap();
    let file = dagu_core::load_str(yaml, &path, &dagu_core::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let settings = Arc::new(dagu_engine::Settings {
        store: dagu_store::Store::new(dagu_store::Dirs {
            dag_runs: dir.join("data/dag-runs"),
            logs: dir.join("logs"),
        }),
        dags_dir: dir.to_path_buf(),
        load: Default::default(),
        host_env: std::env::vars()
            .filter(|(k, _)| k == "PATH" || k == "HOME")
            .collect(),
        host_lookup: std::env::vars().collect(),
        default_shell: "sh".into(),
    });
    let dag = Arc::new(file.main().clone());
    let request = dagu_engine::RunRequest {
        settings,
        executors: Arc::new(executors),
        file: Arc::new(file),
        dag,
        run_id: "0198c0de-0000-7000-8000-000000000001".into(),
        params: None,
        parent: None,
        default_work_dir: None,
        stop,
        dry: false,
        retry: None,
        source: Some(yaml.to_string()),
    };
    tokio::time::timeout(deadline, dagu_engine::run_dag(request))
        .await
        .expect("the DAG did not finish")
        .unwrap()
}

/// The test component `tests/fixtures/wasm-probe`, built for `wasm32-wasip2` once per test
/// process (into the folder the built-in plugins are built in, so it is usually warm).
pub fn wasm_probe() -> &'static std::path::Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = root.join("target/wasm-guests");
        let out = Command::new(env!("CARGO"))
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                "dagu-test-wasm-probe",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the probe component failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2/release/dagu_test_wasm_probe.wasm")
    })
}

/// A temporary folder for a test's files.
pub struct TempTree {
    pub dir: tempfile::TempDir,
}

impl TempTree {
    pub fn new() -> TempTree {
        TempTree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `rel` inside the folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A file `rel` with `text`, its folders made.
    pub fn file(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A folder `rel`, made.
    pub fn folder(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}
