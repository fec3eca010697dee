//! The SSH guide's examples, run by `dagu start` against a real sshd on loopback (hosts
//! rewritten to it): DAG-level vs step-level configuration, key auto-detection, password
//! from a variable, the troubleshooting errors, connection reuse, sftp, and the ssh
//! plugin's sandbox.

use std::path::Path;
use std::time::Instant;

use dagu_test_services::sshd::Sshd;

use crate::support::{Sandbox, node, state};

/// Node status of a succeeded / failed step.
const SUCCEEDED: i64 = 4;
const FAILED: i64 = 2;

/// A sandbox whose deployment grants the ssh plugin the test server's folder (keys) and
/// the work folder.
fn granted(sshd: &Sshd) -> Sandbox {
    let sb = Sandbox::new();
    sb.write_home(
        "config.yaml",
        &format!(
            "plugins:\n  grants:\n    ssh:\n      tcp: [\"*:*\"]\n      fs_read: [{:?}]\n      fs_write: [{:?}, {:?}]\n",
            sshd.dir.display().to_string(),
            sb.work.display().to_string(),
            sshd.remote_dir.display().to_string(),
        ),
    );
    sb
}

/// The DAG-level `ssh:` block for `sshd` with its key.
fn dag_ssh(sshd: &Sshd) -> String {
    format!(
        "ssh:\n  user: {}\n  host: {}\n  port: {}\n  key: {}\n  strictHostKey: false\n",
        sshd.user,
        sshd.host(),
        sshd.port,
        sshd.client_key.display()
    )
}

/// Runs `dag` (written as `name.yaml`) and returns the exit code and the status JSON.
fn start(sb: &Sandbox, name: &str, dag: &str) -> (i32, serde_json::Value) {
    let file = sb.write(&format!("{name}.yaml"), dag);
    let run = sb.run(&["start", file.to_str().unwrap()]);
    let status = sb.status_json(name);
    assert!(status["nodes"].is_array(), "{}\n{status:#}", run.explain());
    (run.code, status)
}

fn error_of(status: &serde_json::Value, step: &str) -> String {
    node(status, step)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn dag_level_ssh_runs_every_untyped_step_on_the_server_through_its_login_shell() {
    let Some(sshd) = Sshd::start() else { return };
    let sb = granted(&sshd);
    let remote = sshd.remote_dir.display();
    let dag = format!(
        "{}steps:\n  - name: remote\n    command: echo \"hello from $(whoami)\" > {remote}/out.txt && cat {remote}/out.txt | tr a-z A-Z\n    output: SHOUT\n  - name: multi\n    command: |\n      echo one > {remote}/multi.txt\n      echo two >> {remote}/multi.txt\n  - name: local\n    type: command\n    command: echo \"${{SHOUT}} as $(whoami)\" > local.txt\n",
        dag_ssh(&sshd)
    );
    let (code, status) = start(&sb, "remote", &dag);
    assert_eq!(code, 0, "{status:#}");
    assert_eq!(
        std::fs::read_to_string(sshd.remote_dir.join("out.txt")).unwrap(),
        "hello from wftest\n"
    );
    assert_eq!(
        std::fs::read_to_string(sshd.remote_dir.join("multi.txt")).unwrap(),
        "one\ntwo\n"
    );
    // `type: command` runs locally (as this test's user), with the remote output.
    let whoami = String::from_utf8(
        std::process::Command::new("whoami")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        sb.read("local.txt"),
        format!("HELLO FROM WFTEST as {}", whoami)
    );
}

#[test]
fn a_step_level_block_replaces_the_dag_level_one() {
    let (Some(a), Some(b)) = (Sshd::start(), Sshd::start()) else {
        return;
    };
    let sb = granted(&a);
    // Both servers accept the same user; b's key is granted through a copy in a's folder.
    let b_key = a.dir.join("b_key");
    b.copy_client_key(&b_key);
    let dag = format!(
        "{}steps:\n  - name: uses-dag\n    command: echo dag\n  - name: override\n    executor:\n      type: ssh\n      config:\n        user: {}\n        ip: {}\n        port: {}\n        key: {}\n    command: echo step\n  - name: port-only\n    type: ssh\n    config:\n      port: {}\n    command: echo never\n",
        dag_ssh(&a),
        b.user,
        b.host(),
        b.port,
        b_key.display(),
        b.port,
    );
    let (code, status) = start(&sb, "levels", &dag);
    assert_eq!(code, 1, "{status:#}");
    assert_eq!(state(&status, "uses-dag"), SUCCEEDED, "{status:#}");
    assert_eq!(state(&status, "override"), SUCCEEDED, "{status:#}");
    // No field merge: a step block with only a port has no user or host.
    assert_eq!(state(&status, "port-only"), FAILED);
    let err = error_of(&status, "port-only");
    assert!(err.contains("user") || err.contains("host"), "{err}");
    assert_eq!(a.wait_connections(1), 1, "{}", a.log());
    assert_eq!(b.wait_connections(1), 1, "{}", b.log());
}

#[test]
fn keys_are_found_in_the_home_folder_and_passwords_come_from_variables() {
    let Some(sshd) = Sshd::start() else { return };
    // No deployment grants: the defaults let the plugin read ~/.ssh.
    let sb = Sandbox::new();
    let home = sb.work.join("user-home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    sshd.copy_client_key(&home.join(".ssh/id_ed25519"));
    let dag = format!(
        "ssh:\n  user: {}\n  host: {}\n  port: {}\n  strictHostKey: false\nsteps:\n  - name: auto-key\n    command: echo key\n  - name: password\n    type: ssh\n    config:\n      user: {}\n      host: {}\n      port: {}\n      password: ${{SSH_PASSWORD}}\n    command: echo password\n",
        sshd.user,
        sshd.host(),
        sshd.port,
        sshd.user,
        sshd.host(),
        sshd.port
    );
    let file = sb.write("auth.yaml", &dag);
    let run = sb
        .cmd(&["start", file.to_str().unwrap()])
        .env("HOME", &home)
        .env("SSH_PASSWORD", &sshd.password)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    let status = sb.status_json("auth");
    assert_eq!(run.status.code(), Some(0), "{status:#}");
    let log = sshd.log();
    assert!(log.contains("Accepted publickey for wftest"), "{log}");
    assert!(log.contains("Accepted password for wftest"), "{log}");
}

#[test]
fn troubleshooting_cases_each_say_what_is_wrong() {
    let Some(sshd) = Sshd::start() else { return };
    let sb = granted(&sshd);
    let empty_home = sb.work.join("empty-home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let known_hosts = sshd.dir.join("wrong_known_hosts");
    std::fs::write(&known_hosts, format!("{}\n", sshd.wrong_known_hosts_line())).unwrap();
    let closed_port = dagu_test_services::free_port();
    let target = |extra: &str| {
        format!(
            "      user: {}\n      host: {}\n      port: {}\n{extra}",
            sshd.user,
            sshd.host(),
            sshd.port
        )
    };
    let key = format!("      key: {}\n", sshd.client_key.display());
    let dag = format!(
        "type: graph\nsteps:\n  - name: no-config\n    type: ssh\n    command: echo x\n  - name: no-auth\n    type: ssh\n    config:\n{}    command: echo x\n  - name: mismatch\n    type: ssh\n    config:\n{}    command: echo x\n  - name: denied\n    type: ssh\n    config:\n{}    command: echo x\n  - name: refused\n    type: ssh\n    config:\n      user: {}\n      host: 127.0.0.1\n      port: {closed_port}\n{key}    command: echo x\n  - name: not-found\n    type: ssh\n    config:\n{}    command: no-such-command-here\n  - name: exit-seven\n    type: ssh\n    config:\n{}    command: exit 7\n",
        target(""),
        target(&format!(
            "{key}      strictHostKey: true\n      knownHostFile: {}\n",
            known_hosts.display()
        )),
        target("      password: not-the-password\n"),
        sshd.user,
        target(&key),
        target(&key),
    );
    let file = sb.write("trouble.yaml", &dag);
    let run = sb
        .cmd(&["start", file.to_str().unwrap()])
        .env("HOME", &empty_home)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let status = sb.status_json("trouble");
    let expect = |step: &str, needle: &str| {
        assert_eq!(state(&status, step), FAILED, "{step}: {status:#}");
        let err = error_of(&status, step).to_lowercase();
        assert!(err.contains(needle), "{step}: {err:?} lacks {needle:?}");
    };
    expect("no-config", "ssh configuration is not found");
    expect("no-auth", "no ssh key specified and no default keys found");
    expect("mismatch", "host key mismatch");
    expect("denied", "permission denied");
    expect("refused", "refused");
    expect("not-found", "command not found");
    expect("exit-seven", "exited with status 7");
    assert_eq!(node(&status, "exit-seven")["exitCode"], 7, "{status:#}");
}

#[test]
fn script_is_rejected_for_ssh_when_the_dag_is_loaded() {
    let sb = Sandbox::new();
    let file = sb.write(
        "script.yaml",
        "ssh:\n  user: u\n  host: h\nsteps:\n  - name: s\n    script: echo hi\n",
    );
    let run = sb.run(&["validate", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains("does not support the 'script' field"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_hundred_steps_to_one_host_share_one_connection() {
    let Some(sshd) = Sshd::start() else { return };
    let sb = granted(&sshd);
    let mut remote = dag_ssh(&sshd) + "type: chain\nsteps:\n";
    let mut local = String::from("type: chain\nsteps:\n");
    for i in 0..100 {
        remote.push_str(&format!("  - name: s{i}\n    command: echo {i}\n"));
        local.push_str(&format!("  - name: s{i}\n    command: echo {i}\n"));
    }
    let started = Instant::now();
    let (code, status) = start(&sb, "remote100", &remote);
    let remote_time = started.elapsed();
    assert_eq!(code, 0, "{status:#}");
    let started = Instant::now();
    let (code, _) = start(&sb, "local100", &local);
    let local_time = started.elapsed();
    assert_eq!(code, 0);
    assert_eq!(sshd.wait_connections(1), 1, "{}", sshd.log());
    // For the record (no threshold): printed with --nocapture.
    eprintln!("100 ssh steps: {remote_time:?}; 100 local steps: {local_time:?}");
}

#[test]
fn parallel_steps_reach_several_servers() {
    let (Some(a), Some(b)) = (Sshd::start(), Sshd::start()) else {
        return;
    };
    let sb = granted(&a);
    let b_key = a.dir.join("b_key");
    b.copy_client_key(&b_key);
    let step = |name: &str, s: &Sshd, key: &Path| {
        format!(
            "  - name: {name}\n    executor:\n      type: ssh\n      config:\n        user: {}\n        host: {}\n        port: {}\n        key: {}\n    command: |\n      echo {name} > {}/{name}.txt\n",
            s.user,
            s.host(),
            s.port,
            key.display(),
            s.remote_dir.display()
        )
    };
    let dag = format!(
        "type: graph\nsteps:\n{}{}  - name: done\n    depends: [app1, app2]\n    command: echo all done\n",
        step("app1", &a, &a.client_key),
        step("app2", &b, &b_key),
    );
    let (code, status) = start(&sb, "parallel", &dag);
    assert_eq!(code, 0, "{status:#}");
    assert_eq!(
        std::fs::read_to_string(a.remote_dir.join("app1.txt")).unwrap(),
        "app1\n"
    );
    assert_eq!(
        std::fs::read_to_string(b.remote_dir.join("app2.txt")).unwrap(),
        "app2\n"
    );
}

#[test]
fn sftp_round_trips_a_folder_over_the_dag_connection() {
    let Some(sshd) = Sshd::start() else { return };
    let sb = granted(&sshd);
    let tree = sb.work.join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("top.txt"), "top\n").unwrap();
    std::fs::write(tree.join("a/b/bytes.bin"), (0..=255u8).collect::<Vec<_>>()).unwrap();
    let remote = sshd.remote_dir.join("copy");
    let dag = format!(
        "{}type: chain\nsteps:\n  - name: up\n    type: sftp\n    config:\n      source: tree\n      destination: {}\n  - name: down\n    type: sftp\n    config:\n      direction: download\n      source: {}\n      destination: back\n",
        dag_ssh(&sshd),
        remote.display(),
        remote.display()
    );
    let (code, status) = start(&sb, "sftp", &dag);
    assert_eq!(code, 0, "{status:#}");
    for rel in ["top.txt", "a/b/bytes.bin"] {
        assert_eq!(
            std::fs::read(sb.work.join("back").join(rel)).unwrap(),
            std::fs::read(tree.join(rel)).unwrap(),
            "{rel}"
        );
    }
}

#[test]
fn the_ssh_plugin_cannot_read_a_key_outside_its_grant() {
    let Some(sshd) = Sshd::start() else { return };
    // Granted only the work folder: the key in the server's folder is out of reach, even
    // though the host process (root) could read it.
    let sb = Sandbox::new();
    sb.write_home(
        "config.yaml",
        &format!(
            "plugins:\n  grants:\n    ssh:\n      tcp: [\"*:*\"]\n      fs_read: [{:?}]\n",
            sb.work.display().to_string()
        ),
    );
    let (code, status) = start(
        &sb,
        "outside",
        &(dag_ssh(&sshd) + "steps:\n  - name: hi\n    command: echo hi\n"),
    );
    assert_eq!(code, 1, "{status:#}");
    let err = error_of(&status, "hi");
    assert!(err.contains("plugins.grants.ssh.fs_read"), "{err}");
    assert_eq!(sshd.count_connections(), 0, "{}", sshd.log());
}

#[test]
fn variables_fill_the_dag_block_and_handlers_run_remotely_with_strict_host_keys() {
    let Some(sshd) = Sshd::start() else { return };
    let sb = granted(&sshd);
    // A hashed known_hosts entry, as `ssh-keyscan -H` writes.
    let known_hosts = sshd.dir.join("known_hosts");
    sshd.write_known_hosts(&known_hosts, true, &[]);
    let remote = sshd.remote_dir.display();
    let dag = format!(
        "params:\n  - SSH_PORT: {}\nenv:\n  - SSH_USER: {}\nssh:\n  user: ${{SSH_USER}}\n  host: ${{SSH_HOST}}\n  port: ${{SSH_PORT}}\n  key: ${{SSH_KEY_PATH}}\n  strictHostKey: true\n  knownHostFile: {}\nsteps:\n  - name: check\n    command: test -d {remote}\n  - name: fail\n    command: exit 3\nhandlerOn:\n  exit:\n    command: echo handled > {remote}/handled.txt\n",
        sshd.port,
        sshd.user,
        known_hosts.display()
    );
    let file = sb.write("vars.yaml", &dag);
    let with_env = |args: &[&str]| {
        sb.cmd(args)
            .env("SSH_HOST", sshd.host())
            .env("SSH_KEY_PATH", &sshd.client_key)
            .output()
            .unwrap()
    };
    let dry = with_env(&["dry", file.to_str().unwrap()]);
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");
    assert_eq!(sshd.count_connections(), 0, "a dry run connects nowhere");
    let run = with_env(&["start", file.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let status = sb.status_json("vars");
    assert_eq!(state(&status, "check"), SUCCEEDED, "{status:#}");
    assert_eq!(node(&status, "fail")["exitCode"], 3, "{status:#}");
    assert_eq!(
        std::fs::read_to_string(sshd.remote_dir.join("handled.txt")).unwrap(),
        "handled\n"
    );
}
