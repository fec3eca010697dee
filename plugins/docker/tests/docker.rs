//! The docker plugin against a real Docker engine (`dagu_test_services::docker`): fresh
//! containers, exec into running ones, the DAG-level run container, cancel, clean-up.
//!
//! Every test works under its own run id and container names, so they run in parallel on
//! one shared engine; a guard removes whatever carries the test's run id.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dagu_plugin_docker::{CONTAINER_SCHEMA, DOCKER_SCHEMA, Docker, labels};
use dagu_plugin_sdk::testing::{lines_of, request, run_in_process, run_in_process_with_cancel};
use dagu_plugin_sdk::{LogStream, Plugin, RunError, RunRequest, RunResponse};
use dagu_test_services::docker::DockerEngine;
use serde_json::{Value, json};

/// A name no other test (or test process) uses.
fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "dagu-t-{what}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A test's engine, plugin and run id; removes the run's containers when dropped.
struct Fixture {
    engine: DockerEngine,
    plugin: Docker,
    run_id: String,
}

impl Fixture {
    fn new(what: &str) -> Option<Fixture> {
        let engine = DockerEngine::get()?;
        let plugin = Docker::with_host(engine.host.clone());
        Some(Fixture {
            engine,
            plugin,
            run_id: unique(what),
        })
    }

    /// The label selecting this test's run.
    fn run_label(&self) -> String {
        format!("{}={}", labels::RUN_ID, self.run_id)
    }

    fn request(&self, step_type: &str, config: Value, command: &[&str]) -> RunRequest {
        RunRequest {
            run_id: self.run_id.clone(),
            step_name: format!("step-{}", unique("s")),
            config,
            command: command.iter().map(|c| c.to_string()).collect(),
            ..request(step_type)
        }
    }

    fn run(
        &self,
        step_type: &str,
        config: Value,
        command: &[&str],
    ) -> (Result<RunResponse, RunError>, Vec<String>, Vec<String>) {
        let (outcome, lines) =
            run_in_process(&self.plugin, self.request(step_type, config, command));
        (
            outcome,
            lines_of(&lines, LogStream::Stdout),
            lines_of(&lines, LogStream::Stderr),
        )
    }

    /// A config for a new container from the test image.
    fn image(&self, extra: Value) -> Value {
        let mut config = json!({"image": self.engine.image, "pull": "never"});
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        config
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.engine.remove_with_label(&self.run_label());
    }
}

/// Polls `check` every 20 ms until it holds (panics after `limit`).
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn failed_code(outcome: &Result<RunResponse, RunError>) -> (i32, String) {
    match outcome {
        Err(RunError::Failed { exit_code, message }) => (*exit_code, message.clone()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn message(outcome: &Result<RunResponse, RunError>) -> String {
    match outcome {
        Err(e) => e.to_string(),
        Ok(r) => panic!("expected an error, got {r:?}"),
    }
}

/// A world-writable temporary folder (the container may run as another user).
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

mod without_engine {
    use super::*;

    #[test]
    fn manifest_names_both_step_types_and_the_engine_capabilities() {
        let m = Docker::default().describe();
        assert_eq!(m.name, "docker");
        let names: Vec<&str> = m.step_types.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["docker", "container"]);
        for env in [
            "DOCKER_HOST",
            "DOCKER_CONFIG",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS_VERIFY",
        ] {
            assert!(m.capabilities.env.iter().any(|e| e == env), "{env}");
        }
        assert!(
            m.capabilities
                .fs_read
                .contains(&"/var/run/docker.sock".to_string())
        );
        assert!(m.capabilities.fs_read.contains(&"~/.docker".to_string()));
        for schema in [DOCKER_SCHEMA, CONTAINER_SCHEMA] {
            let v: Value = serde_json::from_str(schema).unwrap();
            assert_eq!(v["type"], json!(["object", "string"]));
        }
    }

    #[test]
    fn script_is_refused() {
        let req = RunRequest {
            config: json!({"image": "x"}),
            script: Some("echo hi".into()),
            ..request("docker")
        };
        let (outcome, _) = run_in_process(&Docker::default(), req);
        assert_eq!(
            outcome,
            Err(RunError::invalid_config(
                "script is not supported by the docker step type: put the commands in command"
            ))
        );
    }

    #[test]
    fn bad_configs_are_invalid_before_any_engine_call() {
        let plugin = Docker::with_host("unix:///nonexistent/docker.sock");
        for (config, command, expected) in [
            (json!({}), "true", "set image"),
            (
                json!({"image": "x", "volumes": ["/a:b"]}),
                "true",
                "bad volume '/a:b'",
            ),
            (
                json!({"image": "x"}),
                "echo 'open",
                "unterminated single quote",
            ),
        ] {
            let req = RunRequest {
                config,
                command: vec![command.into()],
                ..request("docker")
            };
            let (outcome, _) = run_in_process(&plugin, req);
            let text = message(&outcome);
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn an_unreachable_engine_is_named_with_the_fix() {
        let plugin = Docker::with_host("unix:///nonexistent/docker.sock");
        let req = RunRequest {
            config: json!({"image": "busybox"}),
            command: vec!["true".into()],
            ..request("docker")
        };
        let (outcome, _) = run_in_process(&plugin, req);
        let text = message(&outcome);
        assert!(text.contains("/nonexistent/docker.sock"), "{text}");
        assert!(text.contains("is dockerd running?"), "{text}");
    }
}

mod fresh_container {
    use super::*;

    #[test]
    fn output_goes_to_stdout_and_stderr_separately() {
        let Some(f) = Fixture::new("echo") else {
            return;
        };
        let (outcome, out, err) = f.run(
            "docker",
            f.image(json!({})),
            &["sh -c 'echo hi; echo oops >&2; printf partial'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["hi", "partial"]);
        assert_eq!(err, ["oops"]);
    }

    #[test]
    fn the_exit_code_is_the_steps() {
        let Some(f) = Fixture::new("exit") else {
            return;
        };
        let (outcome, _, _) = f.run("docker", f.image(json!({})), &["sh -c 'exit 42'"]);
        assert_eq!(
            outcome,
            Err(RunError::failed(42, "container exited with code 42"))
        );
    }

    #[test]
    fn a_missing_program_fails_like_a_shell() {
        let Some(f) = Fixture::new("missing-prog") else {
            return;
        };
        let (outcome, _, _) = f.run("docker", f.image(json!({})), &["no-such-program"]);
        let (code, text) = failed_code(&outcome);
        assert_eq!(code, 127, "{text}");
        assert!(text.contains("no-such-program"), "{text}");
    }

    #[test]
    fn several_command_lines_run_in_order_and_stop_at_the_first_failure() {
        let Some(f) = Fixture::new("seq") else { return };
        let (outcome, out, _) = f.run("docker", f.image(json!({})), &["echo a", "echo b"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["a", "b"]);
        let (outcome, out, _) = f.run(
            "docker",
            f.image(json!({})),
            &["echo one", "sh -c 'exit 4'", "echo never"],
        );
        assert_eq!(
            outcome,
            Err(RunError::failed(
                4,
                "command 2 of 3: container exited with code 4"
            ))
        );
        assert_eq!(out, ["one"]);
    }

    #[test]
    fn no_command_runs_the_image_default() {
        let Some(f) = Fixture::new("default-cmd") else {
            return;
        };
        // The image's CMD is /bin/sh, which ends at once without input.
        let (outcome, out, _) = f.run("docker", f.image(json!({})), &[]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert!(out.is_empty());
    }

    #[test]
    fn env_comes_from_the_config_only() {
        let Some(f) = Fixture::new("env") else { return };
        for env in [
            json!(["A=1", "B=two words"]),
            json!({"A": "1", "B": "two words"}),
        ] {
            let mut req = f.request("docker", f.image(json!({"env": env})), &["env"]);
            req.env = vec![
                ("DAGU_HOST_ONLY".into(), "leak".into()),
                ("PATH".into(), "/host/bin".into()),
            ];
            let (outcome, lines) = run_in_process(&f.plugin, req);
            assert_eq!(outcome, Ok(RunResponse::default()));
            let out = lines_of(&lines, LogStream::Stdout);
            assert!(out.contains(&"A=1".to_string()), "{out:?}");
            assert!(out.contains(&"B=two words".to_string()), "{out:?}");
            assert!(out.contains(&"PATH=/bin".to_string()), "{out:?}");
            assert!(
                !out.iter().any(|l| l.starts_with("DAGU_HOST_ONLY")),
                "{out:?}"
            );
            // The test process's own environment (cargo sets CARGO_*) stays out too.
            assert!(!out.iter().any(|l| l.starts_with("CARGO")), "{out:?}");
        }
    }

    #[test]
    fn a_volume_is_writable_and_ro_is_read_only() {
        let Some(f) = Fixture::new("vol") else { return };
        let dir = shared_dir();
        let src = dir.path().display().to_string();
        let (outcome, _, _) = f.run(
            "docker",
            f.image(json!({"volumes": [format!("{src}:/data")]})),
            &["sh -c 'echo written > /data/out.txt'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
            "written\n"
        );

        let (outcome, _, err) = f.run(
            "docker",
            f.image(json!({"volumes": [format!("{src}:/data:ro")]})),
            &["sh -c 'echo x > /data/ro.txt'"],
        );
        let (code, _) = failed_code(&outcome);
        assert_ne!(code, 0);
        assert!(err.iter().any(|l| l.contains("Read-only")), "{err:?}");
        assert!(!dir.path().join("ro.txt").exists());
    }

    #[test]
    fn a_relative_volume_is_resolved_against_the_working_directory() {
        let Some(f) = Fixture::new("relvol") else {
            return;
        };
        let dir = shared_dir();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::write(dir.path().join("in/file.txt"), "from host\n").unwrap();
        let mut req = f.request(
            "docker",
            f.image(json!({"volumes": ["./in:/in:ro"]})),
            &["cat /in/file.txt"],
        );
        req.work_dir = Some(dir.path().display().to_string());
        let (outcome, lines) = run_in_process(&f.plugin, req);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(lines_of(&lines, LogStream::Stdout), ["from host"]);
    }

    #[test]
    fn working_dir_and_user_apply() {
        let Some(f) = Fixture::new("wd-user") else {
            return;
        };
        let (outcome, out, _) = f.run(
            "docker",
            f.image(json!({"workingDir": "/tmp", "user": "1000:1000"})),
            &["sh -c 'pwd; id -u; id -g'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["/tmp", "1000", "1000"]);
    }

    #[test]
    fn raw_docker_maps_are_passed_on() {
        let Some(f) = Fixture::new("raw") else { return };
        let (outcome, out, _) = f.run(
            "docker",
            f.image(json!({
                "container": {"Env": ["RAW=1"], "workingDir": "/etc", "Labels": {"x.test": "y"}},
                "host": {"Binds": [], "ReadonlyRootfs": true}
            })),
            &["sh -c 'echo $RAW; pwd; touch /rootfs-file || echo read-only'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["1", "/etc", "read-only"]);
    }

    #[test]
    fn the_container_is_removed_unless_kept() {
        let Some(f) = Fixture::new("autorm") else {
            return;
        };
        let (outcome, _, _) = f.run("docker", f.image(json!({})), &["true"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert!(f.engine.containers_with_label(&f.run_label()).is_empty());

        let (outcome, _, _) = f.run("docker", f.image(json!({"autoRemove": false})), &["true"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        let kept = f.engine.containers_with_label(&f.run_label());
        assert_eq!(kept.len(), 1);
        let labels =
            f.engine
                .docker_ok(&["inspect", "--format", "{{json .Config.Labels}}", &kept[0]]);
        let labels: Value = serde_json::from_str(&labels).unwrap();
        assert_eq!(labels[labels::MANAGED], "true");
        assert_eq!(labels[labels::KIND], "step");
        assert_eq!(labels[labels::KEEP], "true");
        assert_eq!(labels[labels::OWNER_PID], std::process::id().to_string());
        assert!(labels[labels::STEP].as_str().unwrap().starts_with("step-"));
    }

    #[test]
    fn pull_never_with_a_missing_image_says_so() {
        let Some(f) = Fixture::new("never") else {
            return;
        };
        let image = format!("{}:1", unique("missing"));
        let (outcome, _, _) = f.run(
            "docker",
            json!({"image": image, "pull": "never"}),
            &["true"],
        );
        let (_, text) = failed_code(&outcome);
        assert!(text.contains(&image), "{text}");
        assert!(text.contains("pull is 'never'"), "{text}");
    }

    #[test]
    fn pull_always_reports_the_failed_pull() {
        let Some(f) = Fixture::new("always") else {
            return;
        };
        // The image is local, but `always` pulls anyway, and this machine has no registry.
        let (outcome, _, err) = f.run(
            "docker",
            json!({"image": f.engine.image, "pull": "always"}),
            &["true"],
        );
        let (_, text) = failed_code(&outcome);
        assert!(
            text.starts_with(&format!("pulling image {} failed: ", f.engine.image)),
            "{text}"
        );
        assert!(
            err.iter().any(|l| l.starts_with("pulling image")),
            "{err:?}"
        );
        assert!(f.engine.containers_with_label(&f.run_label()).is_empty());
    }

    #[test]
    fn cancel_stops_and_removes_the_container() {
        let Some(f) = Fixture::new("cancel") else {
            return;
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let req = f.request("docker", f.image(json!({})), &["sleep 60"]);
        std::thread::scope(|s| {
            let runner = s.spawn(|| run_in_process_with_cancel(&f.plugin, req, cancel.clone()));
            eventually("the container to run", Duration::from_secs(60), || {
                !f.engine.running_with_label(&f.run_label()).is_empty()
            });
            cancel.store(true, Ordering::SeqCst);
            let (outcome, _) = runner.join().unwrap();
            assert_eq!(outcome, Err(RunError::Cancelled));
        });
        assert!(f.engine.containers_with_label(&f.run_label()).is_empty());
    }

    #[test]
    fn host_network_reaches_a_loopback_listener() {
        let Some(f) = Fixture::new("net") else { return };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::scope(|s| {
            let server = s.spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                let mut line = String::new();
                BufReader::new(conn.try_clone().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                conn.write_all(b"pong\n").unwrap();
                line
            });
            let cmd = format!("sh -c 'echo ping | nc 127.0.0.1 {port}'");
            let (outcome, out, _) = f.run("docker", f.image(json!({"network": "host"})), &[&cmd]);
            assert_eq!(outcome, Ok(RunResponse::default()));
            assert_eq!(out, ["pong"]);
            assert_eq!(server.join().unwrap(), "ping\n");
        });
    }
}

mod existing_container {
    use super::*;

    /// Starts a labelled container named `name` that sleeps.
    fn start(f: &Fixture, name: &str) {
        f.engine.docker_ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--label",
            &f.run_label(),
            &f.engine.image,
            "sleep",
            "300",
        ]);
    }

    #[test]
    fn exec_runs_in_the_named_container_with_exec_options() {
        let Some(f) = Fixture::new("exec") else {
            return;
        };
        let name = unique("exec-target");
        start(&f, &name);
        f.engine
            .docker_ok(&["exec", &name, "sh", "-c", "echo inside > /tmp/mark"]);
        let (outcome, out, err) = f.run(
            "docker",
            json!({"containerName": name, "exec": {"WorkingDir": "/etc", "Env": ["X=1"], "user": "1000"}}),
            &["sh -c 'pwd; echo $X; id -u; cat /tmp/mark; echo e >&2'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["/etc", "1", "1000", "inside"]);
        // The pid line of the exec wrapper is not part of the log.
        assert_eq!(err, ["e"]);

        let (outcome, _, _) = f.run(
            "docker",
            json!({"containerName": name}),
            &["sh -c 'exit 3'"],
        );
        assert_eq!(
            outcome,
            Err(RunError::failed(
                3,
                format!("command exited with code 3 in container {name}")
            ))
        );

        // The DAG-level forms: a plain name, and `exec: NAME` with env.
        let (outcome, out, _) = f.run("container", json!(name), &["cat /tmp/mark"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["inside"]);
        let (outcome, out, _) = f.run(
            "container",
            json!({"exec": name, "env": ["Y=2"], "workingDir": "/tmp"}),
            &["sh -c 'echo $Y; pwd'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["2", "/tmp"]);
    }

    #[test]
    fn without_a_shell_the_command_runs_directly() {
        let Some(f) = Fixture::new("nosh") else {
            return;
        };
        let name = unique("nosh");
        start(&f, &name);
        // With no `sh` on PATH the pid-reporting wrapper cannot start.
        let (outcome, out, err) = f.run(
            "docker",
            json!({"containerName": name, "exec": {"Env": ["PATH=/nowhere"]}}),
            &["/bin/echo direct"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["direct"]);
        assert!(err.is_empty(), "{err:?}");
    }

    #[test]
    fn missing_or_stopped_containers_are_named() {
        let Some(f) = Fixture::new("exec-missing") else {
            return;
        };
        let missing = unique("nobody");
        let (outcome, _, _) = f.run("docker", json!({"containerName": missing}), &["true"]);
        let text = message(&outcome);
        assert!(
            text.contains(&format!("container {missing} not found")),
            "{text}"
        );

        let stopped = unique("stopped");
        f.engine.docker_ok(&[
            "create",
            "--name",
            &stopped,
            "--label",
            &f.run_label(),
            &f.engine.image,
        ]);
        let (outcome, _, _) = f.run("docker", json!({"containerName": stopped}), &["true"]);
        let text = message(&outcome);
        assert!(
            text.contains(&format!("container {stopped} is not running")),
            "{text}"
        );
        assert!(text.contains("docker start"), "{text}");
    }

    #[test]
    fn name_and_image_create_when_missing_and_exec_when_running() {
        let Some(f) = Fixture::new("name-image") else {
            return;
        };
        let name = unique("named");
        let config = f.image(json!({"containerName": name}));
        let (outcome, out, _) = f.run(
            "docker",
            config.clone(),
            &["sh -c 'echo created; hostname'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out[0], "created");
        assert!(!f.engine.container_exists(&name), "auto-removed");

        start(&f, &name);
        f.engine
            .docker_ok(&["exec", &name, "sh", "-c", "echo running > /tmp/mark"]);
        let (outcome, out, _) = f.run("docker", config, &["cat /tmp/mark"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["running"]);
    }
}

mod run_container {
    use super::*;

    fn containers(f: &Fixture) -> Vec<String> {
        f.engine.containers_with_label(&f.run_label())
    }

    #[test]
    fn steps_of_a_run_share_one_container_and_runs_do_not() {
        let Some(f) = Fixture::new("shared") else {
            return;
        };
        let block = f.image(json!({"env": ["GREETING=hello"], "workingDir": "/tmp"}));
        let (outcome, _, _) = f.run(
            "container",
            block.clone(),
            &["sh -c 'echo $GREETING > /tmp/x'"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        let (outcome, out, _) = f.run("container", block.clone(), &["cat x", "pwd"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["hello", "/tmp"]);
        let ours = containers(&f);
        assert_eq!(ours.len(), 1);
        let labels =
            f.engine
                .docker_ok(&["inspect", "--format", "{{json .Config.Labels}}", &ours[0]]);
        let labels: Value = serde_json::from_str(&labels).unwrap();
        assert_eq!(labels[labels::KIND], "run");
        assert_eq!(labels[labels::RUN_ID], f.run_id);

        let Some(other) = Fixture::new("shared-other") else {
            return;
        };
        let req = RunRequest {
            run_id: other.run_id.clone(),
            ..f.request("container", block, &["cat /tmp/x"])
        };
        let (outcome, _) = run_in_process(&f.plugin, req);
        let (code, _) = failed_code(&outcome);
        assert_eq!(code, 1, "another run has its own container");
        assert_eq!(
            other.engine.containers_with_label(&other.run_label()).len(),
            1
        );

        f.plugin.end_run(&f.run_id);
        assert!(containers(&f).is_empty());
        assert_eq!(
            other.engine.containers_with_label(&other.run_label()).len(),
            1
        );
        f.plugin.end_run(&other.run_id);
        assert!(
            other
                .engine
                .containers_with_label(&other.run_label())
                .is_empty()
        );
    }

    #[test]
    fn parallel_first_steps_create_one_container() {
        let Some(f) = Fixture::new("parallel") else {
            return;
        };
        let block = f.image(json!({}));
        std::thread::scope(|s| {
            let runners: Vec<_> = (0..4)
                .map(|i| {
                    let req = f.request("container", block.clone(), &[&format!("echo {i}")]);
                    s.spawn(|| run_in_process(&f.plugin, req))
                })
                .collect();
            for (i, r) in runners.into_iter().enumerate() {
                let (outcome, lines) = r.join().unwrap();
                assert_eq!(outcome, Ok(RunResponse::default()));
                assert_eq!(lines_of(&lines, LogStream::Stdout), [i.to_string()]);
            }
        });
        assert_eq!(containers(&f).len(), 1);
        f.plugin.end_run(&f.run_id);
        assert!(containers(&f).is_empty());
    }

    #[test]
    fn a_restarted_plugin_finds_the_runs_container() {
        let Some(f) = Fixture::new("adopt") else {
            return;
        };
        let block = f.image(json!({}));
        let (outcome, _, _) = f.run("container", block.clone(), &["sh -c 'echo 1 > /tmp/x'"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        // A second plugin instance knows nothing of the first one's containers.
        let again = Docker::with_host(f.engine.host.clone());
        let (outcome, lines) =
            run_in_process(&again, f.request("container", block, &["cat /tmp/x"]));
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(lines_of(&lines, LogStream::Stdout), ["1"]);
        assert_eq!(containers(&f).len(), 1);
        again.end_run(&f.run_id);
        assert!(containers(&f).is_empty());
    }

    #[test]
    fn keep_container_survives_the_run() {
        let Some(f) = Fixture::new("keep") else {
            return;
        };
        let (outcome, _, _) = f.run(
            "container",
            f.image(json!({"keepContainer": true})),
            &["true"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        f.plugin.end_run(&f.run_id);
        f.plugin.shutdown();
        assert_eq!(f.engine.running_with_label(&f.run_label()).len(), 1);
    }

    #[test]
    fn shutdown_removes_what_the_process_created() {
        let Some(f) = Fixture::new("shutdown") else {
            return;
        };
        let (outcome, _, _) = f.run("container", f.image(json!({})), &["true"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(containers(&f).len(), 1);
        f.plugin.shutdown();
        assert!(containers(&f).is_empty());
    }

    #[test]
    fn startup_command_with_log_pattern_and_healthy_wait() {
        let Some(f) = Fixture::new("startup") else {
            return;
        };
        let (outcome, out, _) = f.run(
            "container",
            f.image(json!({
                "name": unique("svc"),
                "startup": "command",
                "command": ["sh", "-c", "echo booting; echo READY now; exec sleep 300"],
                "logPattern": "^READY",
                "container": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 100_000_000}},
                "waitFor": "healthy"
            })),
            &["echo step"],
        );
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert_eq!(out, ["step"]);
        f.plugin.end_run(&f.run_id);
        assert!(containers(&f).is_empty());
    }

    #[test]
    fn a_container_that_exits_at_startup_is_reported() {
        let Some(f) = Fixture::new("startup-fail") else {
            return;
        };
        let (outcome, _, _) = f.run(
            "container",
            f.image(json!({
                "startup": "command",
                "command": ["sh", "-c", "echo broken config >&2; exit 3"]
            })),
            &["true"],
        );
        let text = message(&outcome);
        // Caught while starting, or by the step's exec when it ended just after.
        assert!(text.contains("the DAG's container exited"), "{text}");
        assert!(text.contains("(exit code 3)"), "{text}");
        assert!(text.contains("broken config"), "{text}");
    }

    #[test]
    fn cancel_stops_the_execd_process() {
        let Some(f) = Fixture::new("exec-cancel") else {
            return;
        };
        let block = f.image(json!({}));
        let (outcome, _, _) = f.run("container", block.clone(), &["true"]);
        assert_eq!(outcome, Ok(RunResponse::default()));
        let id = containers(&f).remove(0);
        let sleeping = || {
            f.engine
                .docker_ok(&["exec", &id, "ps", "-o", "args"])
                .lines()
                .any(|l| l.trim() == "sleep 987")
        };
        let cancel = Arc::new(AtomicBool::new(false));
        let req = f.request("container", block, &["sh -c 'sleep 987; echo after'"]);
        std::thread::scope(|s| {
            let runner = s.spawn(|| run_in_process_with_cancel(&f.plugin, req, cancel.clone()));
            eventually("the exec'd sleep", Duration::from_secs(60), sleeping);
            cancel.store(true, Ordering::SeqCst);
            let (outcome, lines) = runner.join().unwrap();
            assert_eq!(outcome, Err(RunError::Cancelled));
            assert!(lines_of(&lines, LogStream::Stdout).is_empty());
        });
        assert!(!sleeping(), "the whole process group is gone");
        f.plugin.end_run(&f.run_id);
    }
}

mod cleanup {
    use super::*;

    #[test]
    fn containers_of_dead_owners_are_removed_at_the_first_run() {
        let Some(f) = Fixture::new("stale") else {
            return;
        };
        let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let create = |owner: String| {
            f.engine.docker_ok(&[
                "create",
                "--label",
                &format!("{}=true", labels::MANAGED),
                "--label",
                &f.run_label(),
                "--label",
                &format!("{}={owner}", labels::OWNER_PID),
                &f.engine.image,
            ])
        };
        let stale = create((pid_max + 1).to_string());
        let live = create(std::process::id().to_string());
        // A new plugin process sweeps on its first run.
        let plugin = Docker::with_host(f.engine.host.clone());
        let (outcome, _) =
            run_in_process(&plugin, f.request("docker", f.image(json!({})), &["true"]));
        assert_eq!(outcome, Ok(RunResponse::default()));
        assert!(
            !f.engine.container_exists(&stale),
            "the dead owner's container is gone"
        );
        assert!(
            f.engine.container_exists(&live),
            "a live owner's container stays"
        );
    }
}
