//! Docker steps run by `dagu start` against a real Docker engine with a locally imported
//! busybox image: a fresh container per step (step `container:` and `executor: docker`),
//! the DAG-level container shared by a run's steps, exit codes, env, volumes, timeouts,
//! and no container outliving its run — not even after `kill -9` of the host.

use std::process::Command;
use std::time::{Duration, Instant};

use dagu_test_services::docker::DockerEngine;

use crate::support::{Sandbox, node, state, wait_for_file};

/// Node status of a succeeded / failed step.
const SUCCEEDED: i64 = 4;
const FAILED: i64 = 2;

/// Runs `dag` (written as `name.yaml`) against `engine`; returns the exit code and the
/// status JSON.
fn start(sb: &Sandbox, engine: &DockerEngine, name: &str, dag: &str) -> (i32, serde_json::Value) {
    let file = sb.write(&format!("{name}.yaml"), dag);
    let run = sb
        .cmd(&["start", file.to_str().unwrap()])
        .env("DOCKER_HOST", &engine.host)
        .output()
        .unwrap();
    let status = sb.status_json(name);
    (run.status.code().unwrap_or(-1), status)
}

/// The containers of run `run_id` still on the engine.
fn containers_of(engine: &DockerEngine, status: &serde_json::Value) -> Vec<String> {
    let run_id = status["dagRunId"].as_str().expect("dagRunId");
    engine.containers_with_label(&format!("dagu.run-id={run_id}"))
}

#[test]
fn each_step_gets_a_fresh_container_with_its_env_volumes_and_exit_code() {
    let Some(engine) = DockerEngine::get() else {
        return;
    };
    let sb = Sandbox::new();
    let data = sb.work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dag = format!(
        "type: graph\nenv:\n  - GREETING: hello\nsteps:\n  - name: step-container\n    container:\n      image: {image}\n      pullPolicy: never\n      env:\n        - WHO=${{GREETING}}-world\n      volumes:\n        - {data}:/data\n      workingDir: /data\n    command: sh -c 'env | grep ^WHO= > out.txt; pwd >> out.txt'\n  - name: executor-form\n    executor:\n      type: docker\n      config:\n        image: {image}\n        pull: never\n        autoRemove: true\n    command: sh -c 'exit 42'\n",
        image = engine.image,
        data = data.display()
    );
    let (code, status) = start(&sb, &engine, "fresh", &dag);
    assert_eq!(code, 1, "{status:#}");
    assert_eq!(state(&status, "step-container"), SUCCEEDED, "{status:#}");
    assert_eq!(
        std::fs::read_to_string(data.join("out.txt")).unwrap(),
        "WHO=hello-world\n/data\n"
    );
    assert_eq!(state(&status, "executor-form"), FAILED);
    assert_eq!(node(&status, "executor-form")["exitCode"], 42, "{status:#}");
    assert!(containers_of(&engine, &status).is_empty());
}

#[test]
fn dag_level_container_keeps_files_between_steps_and_goes_with_its_run() {
    let Some(engine) = DockerEngine::get() else {
        return;
    };
    let sb = Sandbox::new();
    let dag = format!(
        "container:\n  image: {}\n  pullPolicy: never\n  env:\n    - MODE=shared\nsteps:\n  - name: write\n    command: sh -c 'env | grep ^MODE= > /tmp/state.txt'\n  - name: read\n    command: cat /tmp/state.txt\n    output: STATE\n  - name: local\n    type: command\n    command: echo \"${{STATE}}\" > seen.txt\n",
        engine.image
    );
    let (code, status) = start(&sb, &engine, "shared", &dag);
    assert_eq!(code, 0, "{status:#}");
    assert_eq!(sb.read("seen.txt"), "MODE=shared\n");
    // `dagu start` returns after the plugin removed the run's container.
    assert!(containers_of(&engine, &status).is_empty());
}

#[test]
fn a_timed_out_container_step_fails_and_its_container_is_removed() {
    let Some(engine) = DockerEngine::get() else {
        return;
    };
    let sb = Sandbox::new();
    let dag = format!(
        "steps:\n  - name: slow\n    timeoutSec: 1\n    container:\n      image: {}\n      pullPolicy: never\n    command: sleep 60\n",
        engine.image
    );
    let (code, status) = start(&sb, &engine, "slow", &dag);
    assert_eq!(code, 1, "{status:#}");
    assert_eq!(state(&status, "slow"), FAILED, "{status:#}");
    assert!(containers_of(&engine, &status).is_empty());
}

#[test]
fn no_container_outlives_a_killed_host() {
    let Some(engine) = DockerEngine::get() else {
        return;
    };
    let sb = Sandbox::new();
    let flag = sb.work.join("started");
    let dag = format!(
        "type: graph\ncontainer:\n  image: {}\n  pullPolicy: never\nsteps:\n  - name: mark\n    type: command\n    command: touch {}\n    depends: [up]\n  - name: up\n    command: echo up\n  - name: wait\n    depends: [mark]\n    command: sleep 600\n",
        engine.image,
        flag.display()
    );
    let file = sb.write("killed.yaml", &dag);
    let mut child = sb
        .cmd(&["start", "--run-id", "killed-run", file.to_str().unwrap()])
        .env("DOCKER_HOST", &engine.host)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&flag);
    assert!(
        !engine
            .containers_with_label("dagu.run-id=killed-run")
            .is_empty()
    );
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    // The plugin process sees its host gone (stdin closed) and removes the run's
    // container; bounded wait for that, not a fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !engine
        .containers_with_label("dagu.run-id=killed-run")
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the run's container outlived it");
        std::thread::sleep(Duration::from_millis(100));
    }
}
