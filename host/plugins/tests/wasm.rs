//! The WASM component runtime end to end: the test component `fixtures/wasm-probe` run
//! through the engine — outputs, logs, grants, limits, deadlines, stop requests — and the
//! compile cache and the embedded built-ins.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dagu_engine::{Executors, RunReport};
use dagu_plugin_sdk::Capabilities;
use dagu_plugins::wasm::{WasmEngine, WasmError, WasmLimits, WasmPlugin};
use dagu_store::{NodeState, RunState};
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(60);

use common::TempTree as World;

fn engine() -> Arc<WasmEngine> {
    WasmEngine::shared().unwrap()
}

fn probe(grants: Capabilities, limits: WasmLimits) -> Result<WasmPlugin, WasmError> {
    let engine = engine();
    let component = engine.load_file(common::wasm_probe()).unwrap();
    WasmPlugin::new("probe", engine, &component, grants, limits)
}

fn http_grant(hosts: &[&str]) -> Capabilities {
    Capabilities {
        http_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        ..Capabilities::default()
    }
}

async fn run(dir: &Path, yaml: &str, plugin: WasmPlugin, stop: CancellationToken) -> RunReport {
    let mut executors = Executors::builtin();
    executors.register("probe", Arc::new(plugin));
    common::run_dag(dir, "wasm-dag.yaml", yaml, executors, stop, DEADLINE).await
}

fn node<'a>(report: &'a RunReport, name: &str) -> &'a dagu_store::NodeStatus {
    report
        .status
        .nodes
        .iter()
        .find(|n| n.step.as_ref().and_then(|s| s["name"].as_str()) == Some(name))
        .unwrap_or_else(|| panic!("no step {name}"))
}

/// A one-request HTTP server on loopback answering 200 with `hello`; returns its port.
fn one_shot_http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            );
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_step_logs_and_its_outputs_reach_dependents() {
    let w = World::new();
    let yaml = r#"
steps:
  - name: say
    type: probe
    command: first line
    config: {action: echo, message: "hello ${WHO}"}
  - name: use
    command: echo "got ${MESSAGE}"
    depends: [say]
env:
  - WHO: world
"#;
    let plugin = probe(http_grant(&["*"]), WasmLimits::default()).unwrap();
    let report = run(&w.folder("work"), yaml, plugin, CancellationToken::new()).await;
    assert_eq!(
        report.status.status,
        RunState::Succeeded,
        "{:?}",
        report.status.nodes
    );
    let say = node(&report, "say");
    assert_eq!(
        std::fs::read_to_string(&say.stdout).unwrap(),
        "hello world\n"
    );
    let used = node(&report, "use");
    assert_eq!(
        std::fs::read_to_string(&used.stdout).unwrap(),
        "got hello world\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_that_breaks_the_schema_fails_the_step_before_the_component_runs() {
    let w = World::new();
    let yaml = "steps:\n  - name: bad\n    type: probe\n    config: {message: x}\n";
    let plugin = probe(http_grant(&["*"]), WasmLimits::default()).unwrap();
    let report = run(&w.folder("work"), yaml, plugin, CancellationToken::new()).await;
    let bad = node(&report, "bad");
    assert_eq!(bad.status, NodeState::Failed);
    assert!(
        bad.error.contains("invalid config for step type 'probe'"),
        "{}",
        bad.error
    );
    assert!(bad.error.contains("action"), "{}", bad.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_dag_each_forbidden_act_fails_only_its_own_step() {
    let w = World::new();
    let work = w.folder("work");
    let granted = w.file("granted/in.txt", "granted data");
    let secret = w.file("private/secret.txt", "secret");
    let allowed_port = one_shot_http_server();
    let grants = Capabilities {
        http_hosts: vec!["127.0.0.1".into()],
        fs_read: vec![w.path("granted").display().to_string()],
        ..Capabilities::default()
    };
    let plugin = probe(
        grants,
        WasmLimits {
            memory_bytes: 64 << 20,
        },
    )
    .unwrap();
    let yaml = format!(
        r#"
type: graph
maxCleanUpTimeSec: 1
steps:
  - name: read-secret
    type: probe
    config: {{action: read-file, path: "{secret}"}}
  - name: write-granted-read-only
    type: probe
    config: {{action: write-file, path: "{granted}", content: x}}
  - name: env
    type: probe
    config: {{action: env, name: HOME}}
  - name: http-other-host
    type: probe
    config: {{action: http, url: "http://localhost:{allowed_port}/"}}
  - name: allocate
    type: probe
    config: {{action: alloc, mib: 128}}
  - name: spin
    type: probe
    timeoutSec: 1
    config: {{action: spin}}
  - name: crash
    type: probe
    config: {{action: crash}}
  - name: read-granted
    type: probe
    config: {{action: read-file, path: "{granted}"}}
  - name: write-work-dir
    type: probe
    config: {{action: write-file, path: "{work_file}", content: written}}
  - name: http-granted
    type: probe
    config: {{action: http, url: "http://127.0.0.1:{allowed_port}/"}}
  - name: sibling
    command: echo sibling ran
"#,
        secret = secret.display(),
        granted = granted.display(),
        work_file = work.join("out.txt").display(),
    );
    let report = run(&work, &yaml, plugin, CancellationToken::new()).await;
    for (name, expected) in [
        ("read-secret", "cannot read"),
        ("write-granted-read-only", "cannot write"),
        ("env", "HOME is not set"),
        ("http-other-host", "is not granted host 'localhost'"),
        ("allocate", "exceeded its memory limit of 64 MiB"),
        ("spin", "timed out"),
        ("crash", "plugin 'probe' crashed"),
    ] {
        let n = node(&report, name);
        assert_eq!(n.status, NodeState::Failed, "{name}: {}", n.error);
        assert!(n.error.contains(expected), "{name}: {}", n.error);
    }
    assert_eq!(std::fs::read_to_string(&granted).unwrap(), "granted data");
    for name in ["read-granted", "write-work-dir", "http-granted", "sibling"] {
        let n = node(&report, name);
        assert_eq!(n.status, NodeState::Succeeded, "{name}: {}", n.error);
    }
    let stdout = |name: &str| std::fs::read_to_string(&node(&report, name).stdout).unwrap();
    assert_eq!(stdout("read-granted"), "granted data\n");
    assert_eq!(stdout("http-granted"), "status 200\n");
    assert_eq!(stdout("sibling"), "sibling ran\n");
    assert_eq!(
        std::fs::read_to_string(work.join("out.txt")).unwrap(),
        "written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_reaches_a_waiting_component() {
    let w = World::new();
    let work = w.folder("work");
    let yaml = "steps:\n  - name: wait\n    type: probe\n    config: {action: wait-cancel}\n";
    let plugin = probe(http_grant(&["*"]), WasmLimits::default()).unwrap();
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    let logs = w.path("work/logs");
    // Stop once the step says it is waiting (it writes that to its log).
    let watcher = tokio::spawn(async move {
        loop {
            if let Some(text) = find_log_text(&logs, "waiting") {
                assert!(text.contains("waiting"));
                stopper.cancel();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let report = run(&work, yaml, plugin, stop).await;
    watcher.await.unwrap();
    let n = node(&report, "wait");
    assert_eq!(n.status, NodeState::Aborted, "{}", n.error);
    assert_eq!(report.status.status, RunState::Aborted);
}

/// The text of the first `.out` log under `dir` that contains `needle`.
fn find_log_text(dir: &Path, needle: &str) -> Option<String> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(text) = std::fs::read_to_string(&p)
                && text.contains(needle)
            {
                return Some(text);
            }
        }
    }
    None
}

#[test]
fn a_component_importing_http_without_an_http_grant_is_refused() {
    let err = match probe(Capabilities::default(), WasmLimits::default()) {
        Ok(_) => panic!("the probe imports wasi:http and was not refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("imports wasi:http/"), "{err}");
    assert!(err.contains("plugins.grants.probe.http_hosts"), "{err}");
}

#[test]
fn a_compiled_component_is_cached_by_hash_and_loaded_from_the_cache() {
    let w = World::new();
    let cache = w.path("cache");
    let engine = engine().with_cache_dir(&cache);
    engine.load_file(common::wasm_probe()).unwrap();
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().into_string().unwrap();
    assert!(name.ends_with(".cwasm") && name.len() > 64 + 6, "{name}");
    // A second load reads the cache: it works even when the cache file is the only
    // source of the compiled code (its modification time stays as written).
    let before = files[0].metadata().unwrap().modified().unwrap();
    engine.load_file(common::wasm_probe()).unwrap();
    let after = std::fs::metadata(files[0].path())
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_wasm_component_package_runs_with_its_grants() {
    use dagu_plugins::registry::{DeploymentConfig, Registry, register};
    let w = World::new();
    let home = w.folder("home");
    let dir = w.folder("home/plugins/probe");
    std::fs::copy(common::wasm_probe(), dir.join("probe.wasm")).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        "name = \"probe\"\nversion = \"0.1.0\"\nkind = \"wasm-component\"\n\
         step_types = [\"probe\"]\n[entry]\nprogram = \"probe.wasm\"\n\
         [capabilities]\nhttp_hosts = [\"*\"]\nenv = [\"HOME\"]\n",
    )
    .unwrap();
    let config = DeploymentConfig::parse(
        &home.join("config.yaml"),
        "plugins:\n  enabled: [probe]\n  grants:\n    probe:\n      http_hosts: [example.invalid]\n",
    )
    .unwrap();
    let registry = Registry::load(&home, config);
    assert!(registry.problems.is_empty(), "{:?}", registry.problems);
    let mut executors = Executors::builtin();
    register(&registry, &mut executors);
    let yaml = "type: graph\nsteps:\n  - name: say\n    type: probe\n    config: {action: echo, message: hi}\n  - name: env\n    type: probe\n    config: {action: env, name: HOME}\n";
    let report = common::run_dag(
        &w.folder("work"),
        "package.yaml",
        yaml,
        executors,
        CancellationToken::new(),
        DEADLINE,
    )
    .await;
    let say = node(&report, "say");
    assert_eq!(say.status, NodeState::Succeeded, "{}", say.error);
    assert_eq!(std::fs::read_to_string(&say.stdout).unwrap(), "hi\n");
    // HOME was requested but not granted: effective grants leave it out.
    let env = node(&report, "env");
    assert_eq!(env.status, NodeState::Failed);
    assert!(env.error.contains("HOME is not set"), "{}", env.error);
    // The compiled component was cached under the home folder.
    let cached = std::fs::read_dir(home.join("cache/wasm")).unwrap().count();
    assert_eq!(cached, 1);
}
