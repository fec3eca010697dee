//! Stopping runs: signals to `dagu start`, `dagu stop`, `signalOnStop`, the SIGKILL escalation
//! after `maxCleanUpTimeSec`, and a `dagu start` that is killed outright.

use crate::support::{Sandbox, finish, state, wait_for_file};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// Sends `signal` (a name such as `TERM`) to `pid` with `/bin/kill`.
fn send(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -s {signal} {pid} failed");
}

/// Whether `pid` is a live (non-zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            !after.starts_with('Z') && !after.starts_with('X')
        }
        Err(_) => false,
    }
}

/// The process group of `pid`.
fn pgid_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(2).unwrap().parse().unwrap()
}

/// Live (non-zombie) processes in process group `pgid`.
fn live_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        if fields[2].parse::<i32>().ok() == Some(pgid) && fields[0] != "Z" && fields[0] != "X" {
            out.push(pid);
        }
    }
    out
}

/// A DAG whose first step writes `started.flag` and then waits (bounded, ~30 s) for
/// `release.flag`; a second step and abort/exit handlers leave marker files.
const WAITING: &str = "handlerOn:
  abort:
    command: echo \"$DAG_RUN_STATUS\" > abort.txt
  failure:
    command: touch failure.ran
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: wait
    command: |
      touch started.flag
      i=0
      while [ ! -f release.flag ] && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
      touch wait.finished
  - name: after
    command: touch after.ran
";

fn stopped_by(signal: &str) {
    let sb = Sandbox::new();
    sb.write("d.yaml", WAITING);
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    send(child.id(), signal);
    let (code, out, err) = finish(child);
    sb.write("release.flag", "");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!sb.exists("wait.finished"), "step was not stopped");
    assert!(!sb.exists("after.ran"));
    assert!(!sb.exists("failure.ran"));
    assert_eq!(sb.read("abort.txt").trim(), "aborted");
    assert_eq!(sb.read("exit.txt").trim(), "aborted");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 3);
    assert_eq!(state(&st, "wait"), 3);
    assert_eq!(st["onCancel"]["status"], 4);
    assert_eq!(st["onExit"]["status"], 4);
}

#[test]
fn signals_sigterm_aborts_run_and_runs_abort_and_exit_handlers() {
    stopped_by("TERM");
}

#[test]
fn signals_sigint_aborts_run_and_runs_abort_and_exit_handlers() {
    stopped_by("INT");
}

#[test]
fn signals_steps_not_yet_started_stay_not_started() {
    let sb = Sandbox::new();
    sb.write("d.yaml", WAITING);
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    send(child.id(), "TERM");
    let (code, _, err) = finish(child);
    sb.write("release.flag", "");
    assert_eq!(code, 0, "{err}");
    let st = sb.status_json("d");
    assert_eq!(state(&st, "wait"), 3);
    assert_eq!(state(&st, "after"), 0, "{:#}", st["nodes"][1]);
}

#[test]
fn signals_dagu_stop_from_another_process_aborts_run() {
    let sb = Sandbox::new();
    sb.write("d.yaml", WAITING);
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let stop = sb.run(&["stop", "d"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let (code, out, err) = finish(child);
    sb.write("release.flag", "");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!sb.exists("wait.finished"));
    assert!(!sb.exists("after.ran"));
    assert_eq!(sb.read("abort.txt").trim(), "aborted");
    assert_eq!(sb.read("exit.txt").trim(), "aborted");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 3);
    assert_eq!(state(&st, "wait"), 3);
}

#[test]
fn signals_dagu_stop_with_run_id() {
    let sb = Sandbox::new();
    sb.write("d.yaml", WAITING);
    let child = sb.spawn(&["start", "--run-id", "stopme", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let stop = sb.run(&["stop", "--run-id", "stopme", "d"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let (code, _, err) = finish(child);
    sb.write("release.flag", "");
    assert_eq!(code, 0, "{err}");
    let st = sb.status_json("d");
    assert_eq!(st["dagRunId"], "stopme");
    assert_eq!(st["status"], 3);
}

#[test]
fn signals_stop_when_nothing_runs_exits_zero() {
    let sb = Sandbox::new();
    sb.write("d.yaml", "steps:\n  - name: a\n    command: \"true\"\n");
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let stop = sb.run(&["stop", "d"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    assert_eq!(sb.status_json("d")["status"], 4);
}

#[test]
fn signals_signal_on_stop_sends_the_configured_signal() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: trapper
    signalOnStop: SIGINT
    command: |
      trap 'touch got-int; exit 0' INT
      trap 'touch got-term; exit 0' TERM
      touch started.flag
      i=0
      while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let stop = sb.run(&["stop", "d"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let (code, _, err) = finish(child);
    assert_eq!(code, 0, "{err}");
    assert!(sb.exists("got-int"), "step did not receive SIGINT");
    assert!(!sb.exists("got-term"), "step received SIGTERM");
}

#[test]
fn signals_default_stop_signal_is_sigterm() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: trapper
    command: |
      trap 'touch got-int; exit 0' INT
      trap 'touch got-term; exit 0' TERM
      touch started.flag
      i=0
      while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let stop = sb.run(&["stop", "d"]);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    let (code, _, err) = finish(child);
    assert_eq!(code, 0, "{err}");
    assert!(sb.exists("got-term"), "step did not receive SIGTERM");
    assert!(!sb.exists("got-int"));
}

#[test]
fn signals_step_exiting_cleanly_on_stop_is_still_aborted() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "handlerOn:
  success:
    command: touch success.ran
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: trapper
    command: |
      trap 'exit 0' TERM
      touch started.flag
      i=0
      while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    send(child.id(), "TERM");
    let (code, _, err) = finish(child);
    assert_eq!(code, 0, "{err}");
    let st = sb.status_json("d");
    assert_eq!(state(&st, "trapper"), 3, "a stopped step is aborted");
    assert_eq!(st["status"], 3);
    assert!(!sb.exists("success.ran"));
    assert_eq!(sb.read("exit.txt").trim(), "aborted");
}

#[test]
fn signals_step_ignoring_sigterm_is_killed_after_max_cleanup_time() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "maxCleanUpTimeSec: 1
handlerOn:
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: stubborn
    command: |
      trap '' TERM
      echo $$ > pid.txt
      touch started.flag
      i=0
      while [ $i -lt 600 ]; do i=$((i+1)); sleep 0.1; done
      touch loop.finished
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let pid: i32 = sb.read("pid.txt").trim().parse().expect("pid");
    let pgid = pgid_of(pid);
    assert_ne!(
        pgid as u32,
        child.id(),
        "step should not share dagu's process group"
    );
    send(child.id(), "TERM");
    let (code, out, err) = finish(child);
    let survivors = live_members(pgid);
    let shell_alive = alive(pid);
    if !survivors.is_empty() {
        let _ = Command::new("kill")
            .args(["-s", "KILL", &format!("-{pgid}")])
            .status();
    }
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!shell_alive, "step shell {pid} survived");
    assert!(
        survivors.is_empty(),
        "step processes survived: {survivors:?}"
    );
    assert!(!sb.exists("loop.finished"), "step ran to completion");
    assert_eq!(sb.read("exit.txt").trim(), "aborted");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 3);
    assert_eq!(state(&st, "stubborn"), 3);
}

#[test]
fn signals_stopped_step_process_group_is_gone() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: tree
    command: |
      echo $$ > pid.txt
      sh -c 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done' &
      touch started.flag
      wait
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let pid: i32 = sb.read("pid.txt").trim().parse().expect("pid");
    let pgid = pgid_of(pid);
    send(child.id(), "TERM");
    let (code, _, err) = finish(child);
    let survivors = live_members(pgid);
    if !survivors.is_empty() {
        let _ = Command::new("kill")
            .args(["-s", "KILL", &format!("-{pgid}")])
            .status();
    }
    assert_eq!(code, 0, "{err}");
    assert!(
        survivors.is_empty(),
        "step processes survived: {survivors:?}"
    );
}

/// The attempt directories of `dag`.
fn attempt_dirs(sb: &Sandbox, dag: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("attempt_")
                {
                    out.push(p);
                } else {
                    walk(&p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&sb.home.join("data/dag-runs").join(dag), &mut out);
    out
}

#[test]
fn signals_killed_owner_leaves_a_readable_failed_run() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: first
    command: echo one
  - name: hang
    command: |
      echo $$ > pid.txt
      touch started.flag
      i=0
      while [ ! -f release.flag ] && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    send(child.id(), "KILL");
    let (code, _, _) = finish(child);
    assert_eq!(code, -1, "dagu should have died by SIGKILL");

    let status = sb.run(&["status", "--json", "d"]);
    // Let the orphaned step finish before asserting anything.
    sb.write("release.flag", "");
    if let Ok(pid) = sb.read("pid.txt").trim().parse::<i32>() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(status.code, 0, "{}", status.stderr);
    let st: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(state(&st, "first"), 4);
    assert_eq!(st["status"], 2, "owner is gone, run must not stay running");

    let attempts = attempt_dirs(&sb, "d");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let events = attempts[0].join("events.jsonl");
    assert!(events.exists(), "no events.jsonl");
    let text = std::fs::read_to_string(&events).unwrap();
    let complete: Vec<&str> = match text.rfind('\n') {
        Some(end) => text[..end].lines().collect(),
        None => Vec::new(),
    };
    assert!(!complete.is_empty(), "no complete event lines");
    for line in complete {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("bad event line {line:?}: {e}"));
    }
}
