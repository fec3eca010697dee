//! The sandbox of subprocess plugins against a hostile plugin (`tests/hostile_plugin.py`):
//! each forbidden act fails its own step with a clear message, the same act succeeds when
//! granted, and the process (and a sibling step in a DAG) carries on.
//!
//! Without Landlock these tests print why and pass, except under CI (`CI` set), where they
//! fail.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dagu_engine::RunReport;
use dagu_plugin_sdk::{Capabilities, RunError, RunRequest, RunResponse};
use dagu_plugins::{Backoff, Diagnostics, ProcConfig, ProcPlugin, RunControl, RunEnd};
use dagu_store::NodeState;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;

/// How long any one wait in these tests may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// Returns from the test (printing why) when the kernel has no Landlock; fails under CI.
macro_rules! require_landlock {
    () => {
        match common::landlock() {
            Ok(abi) => abi,
            Err(why) => {
                eprintln!("sandbox test skipped: {why}");
                return;
            }
        }
    };
}

/// A temporary folder holding the plugin (its own folder) and room for test files.
struct World {
    tree: common::TempTree,
    diag: Arc<Mutex<Vec<String>>>,
}

impl std::ops::Deref for World {
    type Target = common::TempTree;
    fn deref(&self) -> &common::TempTree {
        &self.tree
    }
}

impl World {
    fn new() -> World {
        let tree = common::TempTree::new();
        let plugin = tree.folder("plugin");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_plugin.py");
        std::fs::copy(source, plugin.join("hostile_plugin.py")).unwrap();
        World {
            tree,
            diag: Arc::default(),
        }
    }

    /// The hostile plugin's config with `grants` (plus what its interpreter needs).
    fn config(&self, mut grants: Capabilities) -> ProcConfig {
        let python = common::python();
        let script = self.path("plugin/hostile_plugin.py").display().to_string();
        let mut c = ProcConfig::new("hostile", &python.program, &[script.as_str()]);
        grants.fs_read.extend(python.runtime_reads.iter().cloned());
        c.grants = grants;
        c.plugin_dir = Some(self.path("plugin"));
        let sink = self.diag.clone();
        c.diagnostics = Diagnostics::Sink(Arc::new(move |l: &str| {
            sink.lock().unwrap().push(l.to_string())
        }));
        c.idle_timeout = None;
        c.backoff = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(100),
        };
        c
    }

    fn plugin(&self, grants: Capabilities) -> Arc<ProcPlugin> {
        Arc::new(ProcPlugin::new(self.config(grants)))
    }
}

fn request(step_type: &str, config: Value) -> RunRequest {
    RunRequest {
        run_id: "run-1".into(),
        step_name: step_type.into(),
        step_type: step_type.into(),
        config,
        command: vec![],
        script: None,
        env: vec![],
        work_dir: None,
        timeout_ms: None,
    }
}

/// Runs one step to its end.
async fn run(p: &ProcPlugin, step_type: &str, config: Value) -> Result<RunResponse, RunError> {
    let stop = CancellationToken::new();
    let control = RunControl {
        stop: &stop,
        timeout: None,
        grace: DEADLINE,
    };
    let end = tokio::time::timeout(
        DEADLINE,
        p.run(request(step_type, config), control, &mut |_, _| {}),
    )
    .await
    .expect("the run did not end");
    assert_eq!(end.interrupted, None);
    end.result
}

fn output(response: &RunResponse, name: &str) -> String {
    response
        .outputs
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no output {name} in {response:?}"))
        .1
        .clone()
}

/// The message of a `denied` error.
fn denied(result: Result<RunResponse, RunError>) -> String {
    match result {
        Err(RunError::Denied { message }) => message,
        other => panic!("expected denied, got {other:?}"),
    }
}

/// The message of a `failed` error.
fn failed(result: Result<RunResponse, RunError>) -> String {
    match result {
        Err(RunError::Failed { message, .. }) => message,
        other => panic!("expected failed, got {other:?}"),
    }
}

fn grant_read(paths: &[&Path]) -> Capabilities {
    Capabilities {
        fs_read: paths.iter().map(|p| p.display().to_string()).collect(),
        ..Capabilities::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_outside_the_grant_is_denied() {
    require_landlock!();
    let w = World::new();
    let inside = w.file("granted/data.txt", "granted data");
    let outside = w.file("private/secret.txt", "secret");
    let p = w.plugin(grant_read(&[&w.path("granted")]));

    let ok = run(&p, "read_file", json!({"path": inside})).await.unwrap();
    assert_eq!(output(&ok, "CONTENT"), "granted data");

    let message = denied(run(&p, "read_file", json!({"path": outside})).await);
    assert!(message.contains("Permission denied"), "{message}");
    assert!(message.contains("secret.txt"), "{message}");
    // Only the files /etc holds for the C library: not its secrets.
    if Path::new("/etc/shadow").exists() {
        let message = denied(run(&p, "read_file", json!({"path": "/etc/shadow"})).await);
        assert!(message.contains("Permission denied"), "{message}");
    }
    // The host's own process information is out of reach too.
    let host = format!("/proc/{}/environ", std::process::id());
    let message = denied(run(&p, "read_file", json!({"path": host})).await);
    assert!(message.contains("Permission denied"), "{message}");

    // The same process carries on.
    let ok = run(&p, "read_file", json!({"path": inside})).await.unwrap();
    assert_eq!(output(&ok, "CONTENT"), "granted data");
    assert_eq!(p.starts(), 1);

    // Granted, the private file is readable: the denial was the sandbox's.
    let p = w.plugin(grant_read(&[&w.path("granted"), &w.path("private")]));
    let ok = run(&p, "read_file", json!({"path": outside}))
        .await
        .unwrap();
    assert_eq!(output(&ok, "CONTENT"), "secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_outside_the_granted_folder_is_denied() {
    require_landlock!();
    let w = World::new();
    let out = w.folder("out");
    let readable = w.folder("readable");
    let p = w.plugin(Capabilities {
        fs_write: vec![out.display().to_string()],
        fs_read: vec![readable.display().to_string()],
        ..Capabilities::default()
    });

    let target = out.join("result.txt");
    run(&p, "write_file", json!({"path": target, "text": "written"}))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "written");

    for (rel, why) in [
        ("elsewhere.txt", "outside every grant"),
        ("readable/new.txt", "in a read-only grant"),
        ("plugin/new.txt", "in the plugin's own folder"),
    ] {
        let path = w.path(rel);
        let message = denied(run(&p, "write_file", json!({"path": path, "text": "x"})).await);
        assert!(message.contains("Permission denied"), "{why}: {message}");
        assert!(!path.exists(), "{why}: the file was not created");
    }
    let script = w.path("plugin/hostile_plugin.py");
    let before = std::fs::read_to_string(&script).unwrap();
    let message = denied(run(&p, "write_file", json!({"path": script, "text": ""})).await);
    assert!(message.contains("Permission denied"), "{message}");
    assert_eq!(std::fs::read_to_string(&script).unwrap(), before);
    assert_eq!(p.starts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_var_not_granted_is_not_set() {
    require_landlock!();
    // Cargo and nextest set this for every test process.
    let name = "CARGO_MANIFEST_DIR";
    let value = std::env::var(name).expect("the test runner sets CARGO_MANIFEST_DIR");
    let w = World::new();

    let p = w.plugin(Capabilities::default());
    let message = failed(run(&p, "env", json!({"name": name})).await);
    assert_eq!(message, format!("{name} is not set"));
    // The basics are there.
    let ok = run(&p, "env", json!({"name": "PATH"})).await.unwrap();
    assert_eq!(output(&ok, "VALUE"), std::env::var("PATH").unwrap());

    let p = w.plugin(Capabilities {
        env: vec![name.into()],
        ..Capabilities::default()
    });
    let ok = run(&p, "env", json!({"name": name})).await.unwrap();
    assert_eq!(output(&ok, "VALUE"), value);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_network_grant_the_network_is_unreachable() {
    require_landlock!();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(DEADLINE)).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let w = World::new();

    let p = w.plugin(Capabilities::default());
    // TCP: Landlock refuses the connect before routing is asked.
    let message = denied(run(&p, "connect", json!({"host": "127.0.0.1", "port": tcp})).await);
    assert!(message.contains("Permission denied"), "{message}");
    // UDP, which Landlock does not filter: the empty network namespace has no route, not
    // even to loopback.
    let message = failed(run(&p, "udp", json!({"host": "127.0.0.1", "port": udp_port})).await);
    assert!(message.contains("Network is unreachable"), "{message}");
    assert_eq!(p.starts(), 1);

    // With some network granted there is no namespace, and the datagram arrives.
    let p = w.plugin(Capabilities {
        tcp: vec![format!("127.0.0.1:{tcp}")],
        ..Capabilities::default()
    });
    run(&p, "udp", json!({"host": "127.0.0.1", "port": udp_port}))
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = udp.recv_from(&mut buf).expect("the datagram arrives");
    assert_eq!(&buf[..n], b"hostile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_grants_open_only_their_ports() {
    let abi = require_landlock!();
    let granted = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (granted, other) = (
        granted.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    let w = World::new();
    let p = w.plugin(Capabilities {
        tcp: vec![format!("127.0.0.1:{granted}")],
        ..Capabilities::default()
    });
    if abi < 4 {
        // This kernel cannot filter ports: the plugin must not start unfiltered.
        let err = p.manifest().await.unwrap_err().to_string();
        assert!(err.contains("cannot filter TCP ports"), "{err}");
        return;
    }
    let ok = run(&p, "connect", json!({"host": "127.0.0.1", "port": granted}))
        .await
        .unwrap();
    assert_eq!(output(&ok, "CONNECTED"), format!("127.0.0.1:{granted}"));
    let message = denied(run(&p, "connect", json!({"host": "127.0.0.1", "port": other})).await);
    assert!(message.contains("Permission denied"), "{message}");
    assert!(message.contains(&format!(":{other}")), "{message}");
    assert_eq!(p.starts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocating_past_the_memory_limit_fails() {
    require_landlock!();
    let w = World::new();
    let mut c = w.config(Capabilities::default());
    c.memory_limit = Some(512 << 20);
    let p = ProcPlugin::new(c);
    let message = failed(run(&p, "allocate", json!({"mib": 1024})).await);
    assert!(message.contains("out of memory"), "{message}");
    // Below the limit it works, in the same process.
    let ok = run(&p, "allocate", json!({"mib": 64})).await.unwrap();
    assert_eq!(output(&ok, "ALLOCATED"), (64u64 << 20).to_string());
    assert_eq!(p.starts(), 1);

    // Without the limit the same allocation succeeds.
    let p = w.plugin(Capabilities::default());
    let ok = run(&p, "allocate", json!({"mib": 1024})).await.unwrap();
    assert_eq!(output(&ok, "ALLOCATED"), (1024u64 << 20).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_started_by_root_holds_no_capabilities() {
    require_landlock!();
    let w = World::new();
    let p = w.plugin(Capabilities::default());
    let message = denied(run(&p, "privileged", json!({})).await);
    assert!(message.contains("Operation not permitted"), "{message}");
    if rustix::process::geteuid().is_root() {
        // The same act, unsandboxed, works for root.
        let mut c = w.config(Capabilities::default());
        c.sandbox = false;
        let ok = run(&ProcPlugin::new(c), "privileged", json!({}))
            .await
            .unwrap();
        assert_eq!(output(&ok, "NICE"), "-1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_looping_forever_is_killed_and_the_next_run_gets_a_new_process() {
    require_landlock!();
    let w = World::new();
    let p = w.plugin(Capabilities::default());
    let (tx, mut lines) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let looping = {
        let (p, stop) = (p.clone(), stop.clone());
        tokio::spawn(async move {
            let control = RunControl {
                stop: &stop,
                timeout: None,
                grace: Duration::from_millis(200),
            };
            p.run(request("loop", json!({})), control, &mut |_, l| {
                let _ = tx.send(l.to_string());
            })
            .await
        })
    };
    let line = tokio::time::timeout(DEADLINE, lines.recv()).await.unwrap();
    assert_eq!(line.as_deref(), Some("looping"));
    stop.cancel();
    let end: RunEnd = tokio::time::timeout(DEADLINE, looping)
        .await
        .unwrap()
        .unwrap();
    match &end.result {
        Err(RunError::Internal { message }) => {
            assert!(message.contains("was killed"), "{message}")
        }
        other => panic!("expected the loop to be killed, got {other:?}"),
    }
    let ok = run(&p, "env", json!({"name": "PATH"})).await.unwrap();
    assert!(!output(&ok, "VALUE").is_empty());
    assert_eq!(p.starts(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_grant_fails_the_start_with_a_clear_message() {
    require_landlock!();
    let w = World::new();
    let p = w.plugin(Capabilities {
        tcp: vec!["db.internal".into()],
        ..Capabilities::default()
    });
    let err = p.manifest().await.unwrap_err().to_string();
    assert!(
        err.contains("plugin 'hostile'") && err.contains("'db.internal' is not HOST:PORT"),
        "{err}"
    );
    assert_eq!(p.starts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_runtime_starts_cleanly_inside_the_sandbox() {
    require_landlock!();
    let w = World::new();
    let p = w.plugin(Capabilities::default());
    run(&p, "env", json!({"name": "PATH"})).await.unwrap();
    p.shutdown().await;
    // Nothing the interpreter needs to start was denied (no warnings on its stderr).
    let diag = w.diag.lock().unwrap().clone();
    assert_eq!(diag, Vec::<String>::new());
}

// ---- through the engine: every forbidden act fails only its own step ----

async fn run_dag(dir: &Path, yaml: &str, plugin: Arc<ProcPlugin>) -> RunReport {
    let stop = CancellationToken::new();
    common::run_dag_with_plugin(dir, "hostile-dag.yaml", yaml, plugin, stop, DEADLINE).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_dag_each_forbidden_act_fails_only_its_own_step() {
    require_landlock!();
    let w = World::new();
    let work = w.folder("work");
    let granted = w.file("granted/in.txt", "granted data");
    let secret = w.file("private/secret.txt", "secret");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut c = w.config(Capabilities {
        fs_read: vec![w.path("granted").display().to_string()],
        fs_write: vec![w.path("granted").display().to_string()],
        ..Capabilities::default()
    });
    c.memory_limit = Some(512 << 20);
    let p = Arc::new(ProcPlugin::new(c));
    let yaml = format!(
        r#"
type: graph
steps:
  - name: read-secret
    type: read_file
    config: {{path: "{secret}"}}
  - name: write-outside
    type: write_file
    config: {{path: "{outside}", text: x}}
  - name: connect
    type: connect
    config: {{host: 127.0.0.1, port: {port}}}
  - name: udp
    type: udp
    config: {{host: 127.0.0.1, port: {port}}}
  - name: env
    type: env
    config: {{name: CARGO_MANIFEST_DIR}}
  - name: allocate
    type: allocate
    config: {{mib: 1024}}
  - name: read-granted
    type: read_file
    config: {{path: "{granted}"}}
  - name: sibling
    command: echo sibling ran
"#,
        secret = secret.display(),
        outside = w.path("outside.txt").display(),
        granted = granted.display(),
    );
    let report = run_dag(&work, &yaml, p.clone()).await;
    // Nodes come in the order of the steps.
    let order = [
        "read-secret",
        "write-outside",
        "connect",
        "udp",
        "env",
        "allocate",
        "read-granted",
        "sibling",
    ];
    assert_eq!(report.status.nodes.len(), order.len());
    let node = |name: &str| &report.status.nodes[order.iter().position(|n| *n == name).unwrap()];
    for (name, expected) in [
        ("read-secret", "permission denied: read "),
        ("write-outside", "permission denied: write "),
        ("connect", "permission denied: connect 127.0.0.1:"),
        ("udp", "Network is unreachable"),
        ("env", "CARGO_MANIFEST_DIR is not set"),
        ("allocate", "out of memory"),
    ] {
        let n = node(name);
        assert_eq!(n.status, NodeState::Failed, "{name}: {}", n.error);
        assert!(n.error.contains(expected), "{name}: {}", n.error);
    }
    assert!(node("read-secret").error.contains("Permission denied"));
    assert!(!w.path("outside.txt").exists());
    for name in ["read-granted", "sibling"] {
        let n = node(name);
        assert_eq!(n.status, NodeState::Succeeded, "{name}: {}", n.error);
    }
    assert_eq!(
        std::fs::read_to_string(&node("read-granted").stdout).unwrap(),
        "granted data\n"
    );
    assert_eq!(
        std::fs::read_to_string(&node("sibling").stdout).unwrap(),
        "sibling ran\n"
    );
    // One plugin process served every step.
    assert_eq!(p.starts(), 1);
}
