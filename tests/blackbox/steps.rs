//! Command steps: command forms, scripts, shells, working directories, output files and
//! failure reporting.

use crate::support::{Run, Sandbox, node_states};

/// Writes `dag.yaml` and runs `dagu start dag.yaml`.
fn start(sb: &Sandbox, yaml: &str) -> Run {
    sb.write("dag.yaml", yaml);
    sb.run(&["start", "dag.yaml"])
}

/// Like [`start`], asserting the run succeeded.
fn start_ok(sb: &Sandbox, yaml: &str) {
    let run = start(sb, yaml);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// The status JSON node of the step called `name` in the latest run of `dag`.
fn node(sb: &Sandbox, name: &str) -> serde_json::Value {
    let status = sb.status_json("dag");
    status["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["step"]["name"] == name)
        .unwrap_or_else(|| panic!("no node {name}"))
        .clone()
}

#[test]
fn steps_one_line_command_runs_in_a_shell() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "steps:\n  - name: one\n    command: echo hello | tr a-z A-Z > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "HELLO\n");
    assert_eq!(node(&sb, "one")["status"], 4);
}

#[test]
fn steps_string_shorthand_is_a_command() {
    let sb = Sandbox::new();
    start_ok(&sb, "steps:\n  - echo short > out.txt\n");
    assert_eq!(sb.read("out.txt"), "short\n");
}

#[test]
fn steps_multi_line_command_runs_as_a_script() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: multi
    command: |
      X=kept
      echo \"$X across lines\" > out.txt
",
    );
    assert_eq!(sb.read("out.txt"), "kept across lines\n");
}

#[test]
fn steps_multi_line_command_stops_at_first_failing_line() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "\
steps:
  - name: multi
    command: |
      touch before.txt
      false
      touch after.txt
",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(sb.exists("before.txt"));
    assert!(!sb.exists("after.txt"), "errexit not applied");
    assert_eq!(node(&sb, "multi")["status"], 2);
}

#[test]
fn steps_command_list_runs_in_order() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: list
    command:
      - echo one > out.txt
      - echo two >> out.txt
",
    );
    assert_eq!(sb.read("out.txt"), "one\ntwo\n");
}

#[test]
fn steps_command_list_stops_at_first_failure() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "\
steps:
  - name: list
    command:
      - touch first.txt
      - sh -c 'exit 4'
      - touch third.txt
",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(sb.exists("first.txt"));
    assert!(!sb.exists("third.txt"), "ran past the failing command");
    let n = node(&sb, "list");
    assert_eq!(n["status"], 2);
    let err = n["error"].as_str().unwrap_or_default();
    assert!(err.contains("command 2 failed"), "{err}");
}

#[test]
fn steps_script_without_shebang_uses_errexit() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "\
steps:
  - name: s
    script: |
      V=shared
      echo \"$V\" > before.txt
      false
      touch after.txt
",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(sb.read("before.txt"), "shared\n");
    assert!(!sb.exists("after.txt"), "errexit not applied to script");
    assert_eq!(node(&sb, "s")["status"], 2);
}

#[test]
fn steps_script_with_shebang_runs_its_interpreter() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: py
    script: |
      #!/usr/bin/env python3
      import sys
      open('out.txt', 'w').write(str(6 * 7) + ' ' + str(sys.version_info[0]))
",
    );
    assert_eq!(sb.read("out.txt"), "42 3");
}

#[test]
fn steps_script_with_command_passes_the_script_file() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: py
    command: python3
    script: |
      open('out.txt', 'w').write('-'.join(['a', 'b']))
",
    );
    assert_eq!(sb.read("out.txt"), "a-b");
}

#[test]
fn steps_explicit_shell_has_no_errexit() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: s
    shell: bash
    script: |
      false
      touch after.txt
",
    );
    assert!(sb.exists("after.txt"), "explicit shell got errexit");
    assert_eq!(node(&sb, "s")["status"], 4);
}

#[test]
fn steps_explicit_shell_is_used() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: s
    shell: bash
    command: echo \"${BASH_VERSION:+bash}\" > out.txt
",
    );
    assert_eq!(sb.read("out.txt"), "bash\n");
}

#[test]
fn steps_shell_list_form_with_errexit() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "\
steps:
  - name: s
    shell: [\"bash\", \"-e\"]
    script: |
      echo \"${BASH_VERSION:+bash}\" > before.txt
      false
      touch after.txt
",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(sb.read("before.txt"), "bash\n");
    assert!(!sb.exists("after.txt"), "-e from the shell list ignored");
}

#[test]
fn steps_shell_string_with_arguments_is_tokenised() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "\
steps:
  - name: s
    shell: bash -e -o pipefail
    command: false | true
",
    );
    assert_eq!(run.code, 1, "pipefail not applied: {}", run.stdout);
    assert_eq!(node(&sb, "s")["status"], 2);
}

#[test]
fn steps_dag_shell_is_the_default_for_steps() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "shell: bash\nsteps:\n  - echo \"${BASH_VERSION:+bash}\" > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "bash\n");
}

#[test]
fn steps_shell_direct_runs_without_a_shell() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: d
    shell: direct
    command: touch created.txt && touch chained.txt
",
    );
    assert!(sb.exists("created.txt"));
    assert!(sb.exists("chained.txt"));
    // Without a shell `&&` is just another argument to touch.
    assert!(sb.exists("&&"), "a shell interpreted the command");
}

#[test]
fn steps_default_working_dir_is_the_dag_folder() {
    let sb = Sandbox::new();
    sb.write("sub/dag.yaml", "steps:\n  - pwd > where.txt\n");
    let run = sb.run(&["start", "sub/dag.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!sb.exists("where.txt"), "ran in dagu's current directory");
    let dir = std::fs::canonicalize(sb.work.join("sub")).unwrap();
    let seen = std::fs::canonicalize(sb.read("sub/where.txt").trim()).unwrap();
    assert_eq!(seen, dir);
}

#[test]
fn steps_relative_working_dir_is_relative_to_dag_file_and_created() {
    let sb = Sandbox::new();
    sb.write(
        "sub/dag.yaml",
        "workingDir: wd/deep\nsteps:\n  - touch here.txt\n",
    );
    let run = sb.run(&["start", "sub/dag.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("sub/wd/deep/here.txt"));
}

#[test]
fn steps_step_dir_is_relative_to_working_dir_and_created() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
workingDir: wd
steps:
  - name: s
    dir: nested/deeper
    command: touch here.txt
",
    );
    assert!(sb.exists("wd/nested/deeper/here.txt"));
}

#[test]
fn steps_step_working_dir_key_works_like_dir() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: s
    workingDir: other
    command: touch here.txt
",
    );
    assert!(sb.exists("other/here.txt"));
}

#[test]
fn steps_stdout_and_stderr_files_get_each_stream() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: s
    command: echo to-out; echo to-err >&2
    stdout: out.log
    stderr: err.log
",
    );
    assert_eq!(sb.read("out.log"), "to-out\n");
    assert_eq!(sb.read("err.log"), "to-err\n");
}

#[test]
fn steps_stdout_file_is_appended_to() {
    let sb = Sandbox::new();
    sb.write("out.log", "existing\n");
    start_ok(
        &sb,
        "\
steps:
  - name: a
    command: echo first
    stdout: out.log
  - name: b
    command: echo second
    stdout: out.log
",
    );
    assert_eq!(sb.read("out.log"), "existing\nfirst\nsecond\n");
}

#[test]
fn steps_stdout_file_is_relative_to_dag_working_dir() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
workingDir: wd
steps:
  - name: a
    dir: inner
    command: echo hi
    stdout: out.log
",
    );
    assert_eq!(sb.read("wd/out.log"), "hi\n");
    assert!(!sb.exists("wd/inner/out.log"));
}

#[test]
fn steps_stdout_file_does_not_replace_the_step_log() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "steps:\n  - name: a\n    command: echo both\n    stdout: out.log\n",
    );
    assert_eq!(sb.read("out.log"), "both\n");
    let log = node(&sb, "a")["stdout"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read_to_string(log).unwrap(), "both\n");
}

#[test]
fn steps_same_stdout_and_stderr_file_is_rejected() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:\n  - name: a\n    command: touch ran.txt\n    stdout: same.log\n    stderr: same.log\n",
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("dag.yaml"), "{}", run.stderr);
    assert!(!sb.exists("ran.txt"));
}

#[test]
fn steps_step_env_overrides_dag_env() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
env:
  - V: dag
  - W: dag-w
steps:
  - name: s
    env:
      - V: step
    command: echo \"$V $W\" > out.txt
",
    );
    assert_eq!(sb.read("out.txt"), "step dag-w\n");
}

#[test]
fn steps_nonzero_exit_fails_the_step_and_the_run() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "\
steps:
  - name: bad
    command: sh -c 'exit 3'
  - name: after
    command: touch after.txt
",
    );
    assert_eq!(run.code, 1, "dagu exit is 1, not the step's code");
    assert!(!sb.exists("after.txt"));
    let status = sb.status_json("dag");
    assert_eq!(status["status"], 2);
    assert_eq!(
        node_states(&status),
        vec![("bad".to_string(), 2), ("after".to_string(), 3)]
    );
    let bad = &status["nodes"][0];
    assert_eq!(bad["exitCode"], 3);
    let err = bad["error"].as_str().unwrap_or_default();
    assert!(err.contains("failed to execute step"), "{err}");
}

#[test]
fn steps_failure_error_carries_stderr_tail() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:\n  - name: bad\n    command: echo distinctive-complaint >&2; exit 1\n",
    );
    assert_eq!(run.code, 1);
    let err = node(&sb, "bad")["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(err.contains("distinctive-complaint"), "{err}");
}

#[test]
fn steps_log_output_merged_writes_one_log() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
logOutput: merged
steps:
  - name: m
    command: echo to-out; echo to-err >&2
",
    );
    let n = node(&sb, "m");
    let out = n["stdout"].as_str().unwrap();
    assert_eq!(
        out,
        n["stderr"].as_str().unwrap(),
        "one file for both streams"
    );
    let text = std::fs::read_to_string(out).unwrap();
    assert!(text.contains("to-out") && text.contains("to-err"), "{text}");
}

#[test]
fn steps_log_output_separate_is_the_default() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "steps:\n  - name: m\n    command: echo to-out; echo to-err >&2\n",
    );
    let n = node(&sb, "m");
    let out = std::fs::read_to_string(n["stdout"].as_str().unwrap()).unwrap();
    let err = std::fs::read_to_string(n["stderr"].as_str().unwrap()).unwrap();
    assert_eq!(out, "to-out\n");
    assert_eq!(err, "to-err\n");
}

#[test]
fn steps_step_log_output_merged_overrides_dag() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: m
    logOutput: merged
    command: echo to-out; echo to-err >&2
  - name: s
    command: echo plain
",
    );
    let m = node(&sb, "m");
    assert_eq!(m["stdout"], m["stderr"]);
    let s = node(&sb, "s");
    assert_ne!(s["stdout"], s["stderr"]);
}
