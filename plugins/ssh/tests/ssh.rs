//! The `ssh` and `sftp` step types against a real OpenSSH server on loopback
//! (`dagu_test_services::sshd`). Each test starts its own server; a test is skipped (or
//! fails under `CI`) when sshd is not set up on the machine.
//!
//! The plugin is built with `with_home` (an empty temporary folder unless a test puts keys
//! there) and without an agent, so tests never touch the real `$HOME` or `$SSH_AUTH_SOCK`
//! and can run in parallel in one process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use dagu_plugin_sdk::testing::{lines_of, request, run_in_process, run_in_process_with_cancel};
use dagu_plugin_sdk::{LogStream, Plugin, RunError, RunRequest, RunResponse};
use dagu_plugin_ssh::Ssh;
use dagu_test_services::sshd::Sshd;
use serde_json::{Value, json};
use tempfile::TempDir;

type Outcome = (Result<RunResponse, RunError>, Vec<(LogStream, String)>);

/// Starts sshd or skips the test.
macro_rules! sshd {
    () => {
        match Sshd::start() {
            Some(sshd) => sshd,
            None => return,
        }
    };
}

/// A plugin whose home is an empty folder (returned too) and with no agent.
fn plugin() -> (Ssh, TempDir) {
    let home = tempfile::tempdir().unwrap();
    let ssh = Ssh::new().with_home(home.path()).with_agent_socket(None);
    (ssh, home)
}

/// Key login settings for `sshd`.
fn key_config(sshd: &Sshd) -> Value {
    json!({
        "user": sshd.user,
        "host": sshd.host(),
        "port": sshd.port,
        "key": sshd.client_key,
    })
}

fn with(mut config: Value, extra: Value) -> Value {
    let map = config.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    config
}

fn ssh_request(run_id: &str, config: Value, commands: &[&str]) -> RunRequest {
    RunRequest {
        run_id: run_id.to_string(),
        config,
        command: commands.iter().map(|c| c.to_string()).collect(),
        ..request("ssh")
    }
}

fn run(ssh: &Ssh, config: Value, commands: &[&str]) -> Outcome {
    run_in_process(ssh, ssh_request("run", config, commands))
}

fn stdout(lines: &[(LogStream, String)]) -> Vec<String> {
    lines_of(lines, LogStream::Stdout)
}

fn stderr(lines: &[(LogStream, String)]) -> Vec<String> {
    lines_of(lines, LogStream::Stderr)
}

/// The error message of a failed outcome (panics with the log otherwise).
fn error(outcome: &Outcome) -> (i32, String) {
    match &outcome.0 {
        Err(RunError::Failed { exit_code, message }) => (*exit_code, message.clone()),
        Err(RunError::InvalidConfig { message }) => (-1, message.clone()),
        other => panic!("expected a failure, got {other:?}; log: {:?}", outcome.1),
    }
}

fn assert_ok(outcome: &Outcome) {
    assert!(
        outcome.0.is_ok(),
        "expected success, got {:?}; log: {:?}",
        outcome.0,
        outcome.1
    );
}

fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "`{part}` not in: {text}");
}

/// Polls `cond` every 20 ms for up to 10 s.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `SSH_CLIENT`'s client port, as the remote side saw it: which connection ran a command.
fn client_port(ssh: &Ssh, run_id: &str, config: &Value) -> String {
    let out = run_in_process(
        ssh,
        ssh_request(run_id, config.clone(), &["echo $SSH_CLIENT"]),
    );
    assert_ok(&out);
    let line = stdout(&out.1).join("");
    line.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

mod login {
    use super::*;

    #[test]
    fn key() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(&ssh, key_config(&sshd), &["echo hello; whoami"]);
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["hello", "wftest"]);
    }

    #[test]
    fn password() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let config = json!({"user": sshd.user, "host": sshd.host(), "port": sshd.port.to_string(),
            "password": sshd.password});
        let out = run(&ssh, config, &["whoami"]);
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["wftest"]);
        assert_contains(&sshd.log(), "Accepted password for wftest");
    }

    #[test]
    fn wrong_password_is_permission_denied() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let config = json!({"user": sshd.user, "host": sshd.host(), "port": sshd.port,
            "password": "not-it"});
        let (code, message) = error(&run(&ssh, config, &["true"]));
        assert_eq!(code, 255);
        assert_contains(
            &message,
            &format!(
                "permission denied (publickey,password) for wftest@127.0.0.1:{}",
                sshd.port
            ),
        );
        assert_contains(&message, "the password");
    }

    #[test]
    fn encrypted_key_with_passphrase() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let key = sshd.encrypted_client_key("open sesame");
        let config = with(
            key_config(&sshd),
            json!({"key": key, "passphrase": "open sesame"}),
        );
        let out = run(&ssh, config, &["echo unlocked"]);
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["unlocked"]);

        let config = with(
            key_config(&sshd),
            json!({"key": key, "passphrase": "wrong"}),
        );
        let (_, message) = error(&run(&ssh, config, &["true"]));
        assert_contains(&message, "wrong passphrase");
        assert_contains(&message, &key.display().to_string());

        let config = with(key_config(&sshd), json!({"key": key}));
        let (_, message) = error(&run(&ssh, config, &["true"]));
        assert_contains(&message, "is encrypted: set `passphrase`");
    }

    #[test]
    fn default_key_from_home() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        sshd.copy_client_key(&home.path().join(".ssh/id_ed25519"));
        let config = with(key_config(&sshd), json!({"key": null}));
        let out = run(&ssh, config, &["echo found"]);
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["found"]);
    }

    #[test]
    fn key_path_with_tilde() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        sshd.copy_client_key(&home.path().join("deploy_key"));
        let config = with(key_config(&sshd), json!({"key": "~/deploy_key"}));
        let out = run(&ssh, config, &["echo tilde"]);
        assert_ok(&out);
    }

    #[test]
    fn no_method_at_all() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let config = with(key_config(&sshd), json!({"key": null}));
        let (code, message) = error(&run(&ssh, config, &["true"]));
        assert_eq!(code, 255);
        assert_contains(&message, "no SSH key specified and no default keys found");
        assert_contains(
            &message,
            &home.path().join(".ssh/id_rsa").display().to_string(),
        );
        assert_contains(&message, "set `key:`");
    }

    #[test]
    fn missing_key_file() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let missing = home.path().join("nope");
        let config = with(key_config(&sshd), json!({"key": missing}));
        let (_, message) = error(&run(&ssh, config, &["true"]));
        assert_contains(
            &message,
            &format!("cannot read key file {}", missing.display()),
        );
    }

    #[test]
    fn agent() {
        let sshd = sshd!();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let Some(mut agent) = start_agent(&socket) else {
            return;
        };
        let added = Command::new("ssh-add")
            .arg(&sshd.client_key)
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        assert!(added.status.success(), "{added:?}");
        let home = tempfile::tempdir().unwrap();
        let ssh = Ssh::new()
            .with_home(home.path())
            .with_agent_socket(Some(socket.clone()));
        let config = with(key_config(&sshd), json!({"key": null}));
        let out = run(&ssh, config, &["echo agent"]);
        let _ = agent.kill();
        let _ = agent.wait();
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["agent"]);
    }

    /// `ssh-agent -D -a SOCKET`, once its socket exists.
    fn start_agent(socket: &Path) -> Option<Child> {
        if Command::new("ssh-agent").arg("-h").output().is_err() {
            eprintln!("skipping: ssh-agent is not installed");
            return None;
        }
        let mut child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        eventually("the agent's socket", || {
            socket.exists() || child.try_wait().ok().flatten().is_some()
        });
        assert!(socket.exists(), "ssh-agent did not start");
        Some(child)
    }
}

mod config {
    use super::*;

    #[test]
    fn missing_config() {
        let (ssh, _home) = plugin();
        for config in [Value::Null, json!({})] {
            let (code, message) = error(&run(&ssh, config, &["true"]));
            assert_eq!(code, 1);
            assert_contains(&message, "ssh configuration is not found");
            assert_contains(&message, "`ssh:`");
        }
    }

    #[test]
    fn script_is_not_supported() {
        let (ssh, _home) = plugin();
        let r = RunRequest {
            config: json!({"user": "u", "host": "127.0.0.1"}),
            script: Some("echo hi".into()),
            ..request("ssh")
        };
        let out = run_in_process(&ssh, r);
        let (_, message) = error(&out);
        assert_contains(
            &message,
            "script is not supported by the ssh step type; use command",
        );
    }

    #[test]
    fn connection_refused() {
        let (ssh, _home) = plugin();
        // Bound and closed again: nothing listens there now.
        let port = dagu_test_services::free_port();
        let config = json!({"user": "wftest", "host": "127.0.0.1", "port": port,
            "password": "x"});
        let (code, message) = error(&run(&ssh, config, &["true"]));
        assert_eq!(code, 255);
        assert_contains(&message, &format!("connection refused by 127.0.0.1:{port}"));
        assert_contains(&message, "sshd is running");
    }

    #[test]
    fn unknown_host_name() {
        let (ssh, _home) = plugin();
        let config = json!({"user": "u", "host": "no-such-host.invalid", "password": "x"});
        let (_, message) = error(&run(&ssh, config, &["true"]));
        assert_contains(
            &message,
            "cannot resolve the host name `no-such-host.invalid`",
        );
    }
}

mod commands {
    use super::*;

    #[test]
    fn list_runs_in_order_and_stops_at_the_first_failure() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(
            &ssh,
            key_config(&sshd),
            &["echo one", "exit 3", "echo three"],
        );
        let (code, message) = error(&out);
        assert_eq!(code, 3);
        assert_eq!(
            message,
            "Process exited with status 3 (command 2 of 3: `exit 3`)"
        );
        assert_eq!(stdout(&out.1), vec!["one"]);
    }

    #[test]
    fn the_remote_shell_interprets_the_command() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let dir = sshd.remote_dir.display().to_string();
        let cmd = format!("cd {dir} && echo a > f && cat f | tr a b");
        let out = run(&ssh, key_config(&sshd), &[&cmd, "echo $(hostname)"]);
        assert_ok(&out);
        let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(
            stdout(&out.1),
            vec!["b".to_string(), hostname.trim().to_string()]
        );
        assert_eq!(
            fs::read_to_string(sshd.remote_dir.join("f")).unwrap(),
            "a\n"
        );
    }

    #[test]
    fn shell_wraps_with_single_quotes() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let config = with(key_config(&sshd), json!({"shell": "sh"}));
        let out = run(
            &ssh,
            config,
            &[
                r#"printf '%s\n' "it's" 'a  b' "$0""#,
                "echo 'single' \"double\"",
            ],
        );
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["it's", "a  b", "sh", "single double"]);
    }

    #[test]
    fn stdout_and_stderr_go_to_their_streams() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(
            &ssh,
            key_config(&sshd),
            &["echo out1; echo err1 >&2; echo out2; printf 'tail without newline'"],
        );
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["out1", "out2", "tail without newline"]);
        assert_eq!(stderr(&out.1), vec!["err1"]);
    }

    #[test]
    fn many_lines_arrive_whole_and_in_order() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(&ssh, key_config(&sshd), &["seq 1 20000"]);
        assert_ok(&out);
        let lines = stdout(&out.1);
        assert_eq!(lines.len(), 20000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| *l == (i + 1).to_string())
        );
    }

    #[test]
    fn exit_code() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(&ssh, key_config(&sshd), &["exit 7"]);
        assert_eq!(
            out.0,
            Err(RunError::failed(7, "Process exited with status 7"))
        );
    }

    #[test]
    fn command_not_found() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(&ssh, key_config(&sshd), &["no-such-command-dagu"]);
        let (code, message) = error(&out);
        assert_eq!(code, 127);
        assert_contains(&message, "Process exited with status 127");
        assert_contains(&message, "command not found on the remote host");
        assert!(
            stderr(&out.1)
                .iter()
                .any(|l| l.contains("no-such-command-dagu"))
        );
    }

    #[test]
    fn killed_by_a_signal() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let out = run(&ssh, key_config(&sshd), &["kill -TERM $$"]);
        let (code, message) = error(&out);
        assert_eq!(code, 143);
        assert_contains(&message, "signal TERM");
    }

    #[test]
    fn cancel_kills_the_remote_process() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let pid_file = sshd.remote_dir.join("pid");
        let cmd = format!("echo $$ > {}; exec sleep 30", pid_file.display());
        let cancel = Arc::new(AtomicBool::new(false));
        let canceller = {
            let cancel = cancel.clone();
            let pid_file = pid_file.clone();
            std::thread::spawn(move || {
                eventually("the remote command to start", || {
                    fs::read_to_string(&pid_file).is_ok_and(|p| p.ends_with('\n'))
                });
                cancel.store(true, Ordering::SeqCst);
            })
        };
        let out = run_in_process_with_cancel(
            &ssh,
            ssh_request("run", key_config(&sshd), &[&cmd]),
            cancel,
        );
        canceller.join().unwrap();
        assert_eq!(out.0, Err(RunError::Cancelled), "log: {:?}", out.1);
        let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        eventually("the remote sleep to end", || {
            // Gone, or a zombie about to be reaped.
            fs::read_to_string(proc_dir.join("stat"))
                .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
        });
    }
}

mod host_keys {
    use super::*;

    fn strict(sshd: &Sshd, file: &Path) -> Value {
        with(
            key_config(sshd),
            json!({"strictHostKey": true, "knownHostFile": file}),
        )
    }

    #[test]
    fn missing_known_hosts_file() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let file = home.path().join("known_hosts");
        let (code, message) = error(&run(&ssh, strict(&sshd, &file), &["true"]));
        assert_eq!(code, 255);
        assert_contains(&message, &file.display().to_string());
        assert_contains(&message, "does not exist");
        assert_contains(
            &message,
            &format!(
                "ssh-keyscan -p {} 127.0.0.1 >> {}",
                sshd.port,
                file.display()
            ),
        );
        assert_contains(&message, "strictHostKey: false");
    }

    #[test]
    fn default_file_is_in_home() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        fs::create_dir(home.path().join(".ssh")).unwrap();
        sshd.write_known_hosts(&home.path().join(".ssh/known_hosts"), false, &[]);
        let config = with(key_config(&sshd), json!({"strict_host_key": true}));
        assert_ok(&run(&ssh, config, &["true"]));
    }

    #[test]
    fn plain_entry() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let file = home.path().join("known_hosts");
        sshd.write_known_hosts(
            &file,
            false,
            &["# a comment", "other.example ssh-ed25519 AAAA"],
        );
        let out = run(&ssh, strict(&sshd, &file), &["echo trusted"]);
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["trusted"]);
    }

    #[test]
    fn hashed_entry() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let file = home.path().join("known_hosts");
        sshd.write_known_hosts(&file, true, &[]);
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("|1|"), "{text}");
        assert_ok(&run(&ssh, strict(&sshd, &file), &["true"]));
    }

    #[test]
    fn mismatched_entry() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let file = home.path().join("known_hosts");
        fs::write(&file, format!("{}\n", sshd.wrong_known_hosts_line())).unwrap();
        let (code, message) = error(&run(&ssh, strict(&sshd, &file), &["true"]));
        assert_eq!(code, 255);
        assert_contains(
            &message,
            &format!("host key mismatch for [127.0.0.1]:{}", sshd.port),
        );
        assert_contains(&message, "man-in-the-middle");
        assert_contains(&message, "ssh-keygen -R");
        assert_contains(&message, "line 1");
    }

    #[test]
    fn unknown_host() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let file = home.path().join("known_hosts");
        // The right key, but for port 22: a different host entry.
        fs::write(&file, format!("127.0.0.1 {}\n", sshd.host_public_key)).unwrap();
        let (_, message) = error(&run(&ssh, strict(&sshd, &file), &["true"]));
        assert_contains(
            &message,
            &format!("[127.0.0.1]:{} is not in the known hosts file", sshd.port),
        );
        assert_contains(&message, "SHA256:");
    }

    #[test]
    fn not_strict_accepts_any_key() {
        let sshd = sshd!();
        let (ssh, home) = plugin();
        let file = home.path().join("known_hosts");
        fs::write(&file, format!("{}\n", sshd.wrong_known_hosts_line())).unwrap();
        let config = with(key_config(&sshd), json!({"knownHostFile": file}));
        assert_ok(&run(&ssh, config, &["true"]));
    }
}

mod connections {
    use super::*;

    #[test]
    fn bastion() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        // The same server is the jump host and (through it) the target.
        let config = with(
            key_config(&sshd),
            json!({"bastion": {"host": sshd.host(), "port": sshd.port, "key": sshd.client_key}}),
        );
        let out = run(&ssh, config, &["echo through the jump host"]);
        assert_ok(&out);
        assert_eq!(stdout(&out.1), vec!["through the jump host"]);
        assert_eq!(sshd.wait_connections(2), 2);
    }

    #[test]
    fn steps_of_a_run_share_one_connection() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let config = key_config(&sshd);
        let first = client_port(&ssh, "run-1", &config);
        let second = client_port(&ssh, "run-1", &config);
        assert!(!first.is_empty());
        assert_eq!(first, second);
        assert_eq!(sshd.wait_connections(1), 1);

        // Another run gets its own connection.
        let other = client_port(&ssh, "run-2", &config);
        assert_ne!(other, first);
        assert_eq!(sshd.wait_connections(2), 2);

        // After the run ends, its next use connects again.
        ssh.end_run("run-1");
        let third = client_port(&ssh, "run-1", &config);
        assert_ne!(third, first);
        assert_eq!(sshd.wait_connections(3), 3);
        ssh.shutdown();
    }

    #[test]
    fn parallel_steps_share_one_connection() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let config = key_config(&sshd);
        let steps = 12; // more than the channels opened at once on one connection
        let barrier = Barrier::new(steps);
        let ports: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..steps)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        client_port(&ssh, "parallel", &config)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ports.iter().all(|p| *p == ports[0]), "{ports:?}");
        assert_eq!(sshd.wait_connections(1), 1);
    }

    #[test]
    fn idle_connections_are_closed() {
        let sshd = sshd!();
        let home = tempfile::tempdir().unwrap();
        let ssh = Ssh::new()
            .with_home(home.path())
            .with_agent_socket(None)
            .with_idle_timeout(Duration::from_millis(100));
        let config = key_config(&sshd);
        let first = client_port(&ssh, "idle", &config);
        let closed = format!("Disconnected from user wftest 127.0.0.1 port {first}");
        eventually("the idle connection to close", || {
            sshd.log().contains(&closed)
        });
        let second = client_port(&ssh, "idle", &config);
        assert_ne!(first, second);
    }

    #[test]
    fn a_dead_connection_is_reopened() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let config = key_config(&sshd);
        // The session process of this connection kills its own connection.
        let first = client_port(&ssh, "dead", &config);
        let out = run_in_process(
            &ssh,
            ssh_request("dead", config.clone(), &["kill -9 $PPID"]),
        );
        assert!(out.0.is_err(), "{out:?}");
        let second = client_port(&ssh, "dead", &config);
        assert_ne!(first, second);
    }
}

mod sftp {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::SystemTime;

    /// 2001-09-09T01:46:40Z.
    const PAST: u64 = 1_000_000_000;

    fn set_mtime(path: &Path, secs: u64) {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        let f = fs::File::open(path).unwrap();
        f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
            .unwrap();
    }

    /// A tree with nested folders, a binary file (bigger than one SFTP packet), a file with
    /// mode 0750 and an old mtime, and a folder with mode 0700 and an old mtime.
    fn make_tree(root: &Path) {
        fs::create_dir_all(root.join("sub/nested")).unwrap();
        fs::write(root.join("a.txt"), "hello\n").unwrap();
        let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(root.join("sub/blob.bin"), binary).unwrap();
        fs::write(root.join("sub/nested/run.sh"), "#!/bin/sh\necho run\n").unwrap();
        fs::set_permissions(
            root.join("sub/nested/run.sh"),
            fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        set_mtime(&root.join("sub/nested/run.sh"), PAST);
        fs::write(root.join("sub/nested/empty"), "").unwrap();
        set_mtime(&root.join("sub/nested"), PAST + 60);
        fs::set_permissions(root.join("sub/nested"), fs::Permissions::from_mode(0o700)).unwrap();
    }

    /// Every path under `root`, relative, sorted.
    fn listing(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
                if path.is_dir() {
                    pending.push(path);
                }
            }
        }
        out.sort();
        out
    }

    /// Same files, contents, modes and mtimes.
    fn assert_same_tree(a: &Path, b: &Path) {
        let paths = listing(a);
        assert_eq!(paths, listing(b));
        for rel in paths {
            let (ma, mb) = (
                fs::metadata(a.join(&rel)).unwrap(),
                fs::metadata(b.join(&rel)).unwrap(),
            );
            assert_eq!(ma.is_dir(), mb.is_dir(), "{rel:?}");
            assert_eq!(ma.mode() & 0o7777, mb.mode() & 0o7777, "mode of {rel:?}");
            assert_eq!(ma.mtime(), mb.mtime(), "mtime of {rel:?}");
            if ma.is_file() {
                assert_eq!(
                    fs::read(a.join(&rel)).unwrap(),
                    fs::read(b.join(&rel)).unwrap(),
                    "contents of {rel:?}"
                );
            }
        }
    }

    fn sftp_request(config: Value, work_dir: Option<&Path>) -> RunRequest {
        RunRequest {
            config,
            work_dir: work_dir.map(|d| d.display().to_string()),
            ..request("sftp")
        }
    }

    #[test]
    fn upload_and_download_a_tree() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let local = tempfile::tempdir().unwrap();
        let tree = local.path().join("tree");
        make_tree(&tree);

        // Upload into folders that do not exist yet; `source` relative to the work dir.
        let remote = sshd.remote_dir.join("deep/er/tree");
        let config = with(
            key_config(&sshd),
            json!({"source": "tree", "destination": remote}),
        );
        let out = run_in_process(&ssh, sftp_request(config, Some(local.path())));
        assert_ok(&out);
        let lines = stdout(&out.1);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.starts_with("Uploaded ")),
            "{lines:?}"
        );
        assert!(
            lines.contains(&format!(
                "Uploaded {} (300000 bytes) to {}/sub/blob.bin",
                tree.join("sub/blob.bin").display(),
                remote.display()
            )),
            "{lines:?}"
        );
        // sshd is local: the remote side is a folder here.
        assert_same_tree(&tree, &remote);
        assert_eq!(
            fs::metadata(remote.join("a.txt")).unwrap().uid(),
            fs::metadata(&sshd.remote_dir).unwrap().uid(),
            "written by the remote user"
        );

        // And back down.
        let back = local.path().join("down/again/tree");
        let config = with(
            key_config(&sshd),
            json!({"direction": "download", "source": remote, "destination": back}),
        );
        let out = run_in_process(&ssh, sftp_request(config, None));
        assert_ok(&out);
        let lines = stdout(&out.1);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.starts_with("Downloaded ")),
            "{lines:?}"
        );
        assert_same_tree(&tree, &back);
        assert_eq!(
            fs::metadata(back.join("sub/nested/run.sh"))
                .unwrap()
                .mtime(),
            PAST as i64
        );
    }

    #[test]
    fn single_file_both_ways_replacing_existing_files() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let local = tempfile::tempdir().unwrap();
        let src = local.path().join("one.txt");
        fs::write(&src, "first").unwrap();
        let remote = sshd.remote_dir.join("one.txt");
        for contents in ["first", "second"] {
            fs::write(&src, contents).unwrap();
            let config = with(
                key_config(&sshd),
                json!({"source": src, "destination": remote}),
            );
            assert_ok(&run_in_process(&ssh, sftp_request(config, None)));
            assert_eq!(fs::read_to_string(&remote).unwrap(), contents);
        }
        let dest = local.path().join("copy.txt");
        fs::write(&dest, "old").unwrap();
        let config = with(
            key_config(&sshd),
            json!({"direction": "download", "source": remote, "destination": dest}),
        );
        assert_ok(&run_in_process(&ssh, sftp_request(config, None)));
        assert_eq!(fs::read_to_string(&dest).unwrap(), "second");
        // No temporary files left behind.
        assert_eq!(fs::read_dir(local.path()).unwrap().count(), 2);
        assert_eq!(
            fs::read_dir(&sshd.remote_dir).unwrap().count(),
            1,
            "{:?}",
            listing(&sshd.remote_dir)
        );
    }

    #[test]
    fn missing_remote_source() {
        let sshd = sshd!();
        let (ssh, _home) = plugin();
        let local = tempfile::tempdir().unwrap();
        let missing = sshd.remote_dir.join("nothing-here");
        let config = with(
            key_config(&sshd),
            json!({"direction": "download", "source": missing, "destination": local.path().join("x")}),
        );
        let (_, message) = error(&run_in_process(&ssh, sftp_request(config, None)));
        assert_contains(&message, &missing.display().to_string());
        assert_contains(&message, "no such file");
    }

    #[test]
    fn missing_config() {
        let (ssh, _home) = plugin();
        let out = run_in_process(&ssh, sftp_request(json!({}), None));
        let (_, message) = error(&out);
        assert_contains(&message, "ssh configuration is not found");
    }
}
