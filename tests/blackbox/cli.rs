//! The command-line surface: version, dry, status, history, exec, exit codes, quiet mode,
//! restart and parameters.

use crate::support::{Sandbox, finish, node_states, wait_for_file};
use serde_json::Value;

/// Whether any run of `dag` is stored.
fn has_runs(sb: &Sandbox, dag: &str) -> bool {
    let dir = sb.home.join("data/dag-runs").join(dag);
    fn any_run(p: &std::path::Path) -> bool {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let path = e.path();
                path.is_dir()
                    && (e.file_name().to_string_lossy().starts_with("dag-run_") || any_run(&path))
            })
    }
    any_run(&dir)
}

const OK: &str = "steps:\n  - name: first-step\n    command: echo hi\n  - name: second-step\n    command: \"true\"\n";
const FAIL: &str =
    "steps:\n  - name: good-step\n    command: \"true\"\n  - name: bad-step\n    command: exit 3\n";

// ---------------------------------------------------------------------------------------------
// version, dry
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_version_prints_a_version_on_stdout() {
    let sb = Sandbox::new();
    let run = sb.run(&["version"]);
    assert_eq!(run.code, 0);
    let v = run.stdout.trim();
    assert!(!v.is_empty());
    assert!(!v.contains(char::is_whitespace), "single token: {v:?}");
    assert!(
        regex::Regex::new(r"^v?\d+\.\d+\.\d+").unwrap().is_match(v),
        "{v:?}"
    );
}

#[test]
fn cli_dry_runs_nothing_and_stores_no_run() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:\n  - name: toucher\n    command: touch touched\n",
    );
    let run = sb.run(&["dry", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("toucher"), "{}", run.stdout);
    assert!(!sb.exists("touched"));
    assert!(!has_runs(&sb, "d"));
    assert_eq!(sb.run(&["status", "d"]).code, 1);
}

#[test]
fn cli_dry_of_a_failing_dag_exits_zero() {
    let sb = Sandbox::new();
    sb.write("d.yaml", FAIL);
    let run = sb.run(&["dry", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(!has_runs(&sb, "d"));
}

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_status_tree_of_a_succeeded_run() {
    let sb = Sandbox::new();
    sb.write("d.yaml", OK);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let run = sb.run(&["status", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("first-step"), "{}", run.stdout);
    assert!(run.stdout.contains("second-step"));
    assert!(run.stdout.contains("Result: Succeeded"), "{}", run.stdout);
}

#[test]
fn cli_status_tree_of_a_failed_run() {
    let sb = Sandbox::new();
    sb.write("d.yaml", FAIL);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 1);
    let run = sb.run(&["status", "d"]);
    assert_eq!(
        run.code,
        0,
        "status of a failed run exits 0: {}",
        run.explain()
    );
    assert!(run.stdout.contains("bad-step"));
    assert!(run.stdout.contains("Result: Failed"), "{}", run.stdout);
}

#[test]
fn cli_status_json_describes_the_latest_run() {
    let sb = Sandbox::new();
    sb.write("d.yaml", OK);
    assert_eq!(sb.run(&["start", "--run-id", "one", "d.yaml"]).code, 0);
    assert_eq!(sb.run(&["start", "--run-id", "two", "d.yaml"]).code, 0);
    let run = sb.run(&["status", "--json", "d"]);
    assert_eq!(run.code, 0);
    let st: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(st["name"], "d");
    assert_eq!(st["dagRunId"], "two");
    assert_eq!(st["status"], 4);
    assert_eq!(
        node_states(&st),
        vec![
            ("first-step".to_string(), 4),
            ("second-step".to_string(), 4)
        ]
    );
}

#[test]
fn cli_status_with_run_id_selects_that_run() {
    let sb = Sandbox::new();
    sb.write("d.yaml", FAIL);
    assert_eq!(sb.run(&["start", "--run-id", "one", "d.yaml"]).code, 1);
    sb.write("d.yaml", OK);
    assert_eq!(sb.run(&["start", "--run-id", "two", "d.yaml"]).code, 0);
    let run = sb.run(&["status", "--json", "--run-id", "one", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let st: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(st["dagRunId"], "one");
    assert_eq!(st["status"], 2);
    assert_eq!(sb.run(&["status", "--run-id", "nope", "d"]).code, 1);
}

#[test]
fn cli_status_of_unknown_dag_fails() {
    let sb = Sandbox::new();
    let run = sb.run(&["status", "ghost"]);
    assert_eq!(run.code, 1);
    assert!(!run.stderr.is_empty());
}

// ---------------------------------------------------------------------------------------------
// history
// ---------------------------------------------------------------------------------------------

fn history_fixture(sb: &Sandbox) {
    sb.write("d.yaml", OK);
    assert_eq!(sb.run(&["start", "--run-id", "good_run", "d.yaml"]).code, 0);
    sb.write("d.yaml", FAIL);
    assert_eq!(sb.run(&["start", "--run-id", "bad_run", "d.yaml"]).code, 1);
}

#[test]
fn cli_history_lists_runs() {
    let sb = Sandbox::new();
    history_fixture(&sb);
    let run = sb.run(&["history", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("good_run"), "{}", run.stdout);
    assert!(run.stdout.contains("bad_run"));
}

#[test]
fn cli_history_json_format() {
    let sb = Sandbox::new();
    history_fixture(&sb);
    let run = sb.run(&["history", "--format", "json", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let v: Value = serde_json::from_str(&run.stdout).expect("history JSON");
    let mut ids: Vec<String> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["dagRunId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["bad_run", "good_run"]);
}

#[test]
fn cli_history_status_filter() {
    let sb = Sandbox::new();
    history_fixture(&sb);
    let run = sb.run(&["history", "--status", "failed", "--format", "json", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let v: Value = serde_json::from_str(&run.stdout).expect("history JSON");
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dagRunId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["bad_run"]);
    let table = sb.run(&["history", "--status", "failed", "d"]);
    assert!(table.stdout.contains("bad_run"));
    assert!(!table.stdout.contains("good_run"), "{}", table.stdout);
}

#[test]
fn cli_history_without_dag_lists_all_dags() {
    let sb = Sandbox::new();
    sb.write("alpha.yaml", OK);
    sb.write("beta.yaml", OK);
    assert_eq!(sb.run(&["start", "alpha.yaml"]).code, 0);
    assert_eq!(sb.run(&["start", "beta.yaml"]).code, 0);
    let run = sb.run(&["history"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("alpha") && run.stdout.contains("beta"),
        "{}",
        run.stdout
    );
    let only = sb.run(&["history", "alpha"]);
    assert!(!only.stdout.contains("beta"), "{}", only.stdout);
}

// ---------------------------------------------------------------------------------------------
// exec
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_exec_runs_command_and_records_exec_run() {
    let sb = Sandbox::new();
    let run = sb.run(&["exec", "--", "sh", "-c", "echo hi > out.txt"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("out.txt").trim(), "hi");
    let st = sb.status_json("exec-sh");
    assert_eq!(st["name"], "exec-sh");
    assert_eq!(st["status"], 4);
    assert_eq!(node_states(&st), vec![("main".to_string(), 4)]);
}

#[test]
fn cli_exec_name_override() {
    let sb = Sandbox::new();
    let run = sb.run(&[
        "exec",
        "-N",
        "custom-job",
        "--",
        "sh",
        "-c",
        "echo hi > out.txt",
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.status_json("custom-job")["status"], 4);
    assert_eq!(sb.run(&["status", "exec-sh"]).code, 1);
    let long = sb.run(&["exec", "--name", "long-job", "--", "true"]);
    assert_eq!(long.code, 0, "{}", long.explain());
    assert_eq!(sb.status_json("long-job")["status"], 4);
}

#[test]
fn cli_exec_failure_exits_one() {
    let sb = Sandbox::new();
    let run = sb.run(&["exec", "--", "sh", "-c", "exit 4"]);
    assert_eq!(run.code, 1);
    assert_eq!(sb.status_json("exec-sh")["status"], 2);
}

#[test]
fn cli_start_name_override() {
    let sb = Sandbox::new();
    sb.write("d.yaml", OK);
    let run = sb.run(&["start", "-N", "renamed", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.status_json("renamed")["name"], "renamed");
    assert_eq!(sb.run(&["status", "d"]).code, 1);
}

// ---------------------------------------------------------------------------------------------
// Exit codes and quiet mode
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_exit_code_succeeded_is_zero() {
    let sb = Sandbox::new();
    sb.write("d.yaml", OK);
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Result: Succeeded"), "{}", run.stdout);
}

#[test]
fn cli_exit_code_failed_is_one_whatever_the_step_code() {
    let sb = Sandbox::new();
    sb.write("d.yaml", FAIL);
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stdout.contains("Result: Failed"), "{}", run.stdout);
    assert!(run.stderr.contains("Error:"), "{}", run.stderr);
}

#[test]
fn cli_exit_code_partially_succeeded_is_one() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:\n  - name: a\n    command: exit 2\n    continueOn: failed\n  - name: b\n    command: \"true\"\n",
    );
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(sb.status_json("d")["status"], 6);
}

#[test]
fn cli_exit_code_load_error_is_one() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:\n  - name: a\n    depends: zzz\n    command: \"true\"\n",
    );
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 1);
    assert!(!has_runs(&sb, "d"));
}

#[test]
fn cli_usage_errors_exit_one() {
    let sb = Sandbox::new();
    assert_eq!(sb.run(&["frobnicate"]).code, 1);
    assert_eq!(sb.run(&["start", "--no-such-flag", "d.yaml"]).code, 1);
    assert_eq!(sb.run(&["stop"]).code, 1, "missing argument");
}

#[test]
fn cli_quiet_prints_nothing_on_stdout() {
    let sb = Sandbox::new();
    sb.write("ok.yaml", OK);
    sb.write("bad.yaml", FAIL);
    let ok = sb.run(&["start", "-q", "ok.yaml"]);
    assert_eq!(ok.code, 0);
    assert_eq!(ok.stdout, "");
    let bad = sb.run(&["-q", "start", "bad.yaml"]);
    assert_eq!(bad.code, 1);
    assert_eq!(bad.stdout, "");
    assert_eq!(sb.status_json("ok")["status"], 4);
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_params_flag_is_stored_in_the_run() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "params:
  - A: default
  - B: keep
steps:
  - name: show
    command: echo \"$A $B\" > got.txt
",
    );
    let run = sb.run(&["start", "-p", "A=one", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("got.txt").trim(), "one keep");
    let st = sb.status_json("d");
    let params = st["params"].as_str().unwrap();
    assert!(params.contains("A=one"), "{params}");
    assert!(params.contains("B=keep"), "{params}");
    let list: Vec<&str> = st["paramsList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        list.contains(&"A=one") && list.contains(&"B=keep"),
        "{list:?}"
    );
}

#[test]
fn cli_params_after_double_dash_win_over_flag() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "params:\n  - A: default\nsteps:\n  - name: show\n    command: echo \"$A\" > got.txt\n",
    );
    let run = sb.run(&["start", "-p", "A=flag", "d.yaml", "--", "A=dash"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("got.txt").trim(), "dash");
}

// ---------------------------------------------------------------------------------------------
// restart
// ---------------------------------------------------------------------------------------------

#[test]
fn cli_restart_stops_the_running_run_and_starts_a_new_one() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "params:
  - X: default
steps:
  - name: work
    command: |
      echo \"$DAG_RUN_ID $X\" >> runs.txt
      if [ ! -f first.done ]; then
        touch first.done
        touch started.flag
        i=0
        while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
      fi
",
    );
    let child = sb.spawn(&["start", "-p", "X=kept", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let first = sb.status_json("d");
    let first_id = first["dagRunId"].as_str().unwrap().to_string();
    assert_eq!(first["status"], 1, "first run should be running");

    let restart = sb.run(&["restart", "d.yaml"]);
    assert_eq!(restart.code, 0, "{}", restart.explain());
    let (code, _, err) = finish(child);
    assert_eq!(code, 0, "stopped run exits 0: {err}");

    let second = sb.status_json("d");
    let second_id = second["dagRunId"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id);
    assert_eq!(second["status"], 4);
    assert!(
        second["params"].as_str().unwrap().contains("X=kept"),
        "{}",
        second["params"]
    );
    let lines: Vec<String> = sb.read("runs.txt").lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        vec![format!("{first_id} kept"), format!("{second_id} kept")]
    );
    let old = sb.run(&["status", "--json", "--run-id", &first_id, "d"]);
    let old: Value = serde_json::from_str(&old.stdout).expect("JSON");
    assert_eq!(old["status"], 3);
}

#[test]
fn cli_restart_when_nothing_runs_fails() {
    let sb = Sandbox::new();
    sb.write("d.yaml", OK);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let run = sb.run(&["restart", "d"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let st = sb.status_json("d");
    assert_eq!(st["status"], 4);
    let hist = sb.run(&["history", "--format", "json", "d"]);
    let v: Value = serde_json::from_str(&hist.stdout).expect("JSON");
    assert_eq!(v.as_array().unwrap().len(), 1, "restart started a run");
}

#[test]
fn cli_status_of_a_running_run_exits_zero_and_says_running() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: wait
    command: |
      touch started.flag
      i=0
      while [ ! -f release.flag ] && [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let run = sb.run(&["status", "d"]);
    let st = sb.status_json("d");
    sb.write("release.flag", "");
    let (code, _, _) = finish(child);
    assert_eq!(code, 0);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("wait"));
    assert_eq!(st["status"], 1);
    assert_eq!(node_states(&st), vec![("wait".to_string(), 1)]);
    assert_eq!(sb.status_json("d")["status"], 4);
}

#[test]
fn cli_restart_by_dag_name_finds_the_running_run() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: work
    command: |
      echo \"$DAG_RUN_ID\" >> runs.txt
      if [ ! -f first.done ]; then
        touch first.done
        touch started.flag
        i=0
        while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
      fi
",
    );
    let child = sb.spawn(&["start", "d.yaml"]);
    wait_for_file(&sb.work.join("started.flag"));
    let restart = sb.run(&["restart", "d"]);
    if restart.code != 0 {
        let _ = sb.run(&["stop", "d.yaml"]);
    }
    let (code, _, err) = finish(child);
    assert_eq!(restart.code, 0, "{}", restart.explain());
    assert_eq!(code, 0, "{err}");
    assert_eq!(sb.read("runs.txt").lines().count(), 2);
    assert_eq!(sb.status_json("d")["status"], 4);
}

#[test]
fn cli_start_from_run_id_reuses_the_recorded_dag_and_params() {
    let sb = Sandbox::new();
    sb.write(
        "p.yaml",
        "params: NAME=default\nsteps:\n  - echo \"hi $NAME\" >> out.txt\n",
    );
    assert_eq!(
        sb.run(&["start", "-r", "first", "p.yaml", "--", "NAME=cli"])
            .code,
        0
    );
    // Editing the file afterwards does not change what the old run re-runs.
    sb.write(
        "p.yaml",
        "params: NAME=default\nsteps:\n  - echo \"changed $NAME\" >> out.txt\n",
    );
    let again = sb.run(&["start", "--from-run-id", "first", "p.yaml"]);
    assert_eq!(again.code, 0, "{}", again.explain());
    assert_eq!(sb.read("out.txt"), "hi cli\nhi cli\n");
    let refused = sb.run(&["start", "--from-run-id", "first", "p.yaml", "--", "X=1"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("--from-run-id"),
        "{}",
        refused.explain()
    );
}
