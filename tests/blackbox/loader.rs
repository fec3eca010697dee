//! Loading DAG files: rejection of bad input (with file, line and field), key spellings,
//! multi-document files and `base.yaml`.

use crate::support::{Run, Sandbox, node_states};

/// 1-based number of the first line of `yaml` that contains `needle`.
fn line_of(yaml: &str, needle: &str) -> usize {
    yaml.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the YAML"))
        + 1
}

/// Asserts `run` rejected `file` at one of `lines`, naming `field`.
fn assert_rejection(run: &Run, what: &str, file: &str, lines: &[usize], field: &str) {
    let ctx = format!(
        "{what}: exit {}\nstdout:\n{}\nstderr:\n{}",
        run.code, run.stdout, run.stderr
    );
    assert_eq!(run.code, 1, "{ctx}");
    assert!(run.stderr.contains(file), "file name missing: {ctx}");
    assert!(
        lines
            .iter()
            .any(|l| run.stderr.contains(&format!("{file}:{l}:"))),
        "expected {file}:<one of {lines:?}>: in {ctx}"
    );
    assert!(run.stderr.contains(field), "field {field:?} missing: {ctx}");
}

/// Writes `yaml` to `file`, then checks that both `validate` and `start` reject it at one of
/// `lines` naming `field`, that no step ran (no `ran.txt`) and that no run was recorded.
fn assert_rejected(file: &str, yaml: &str, lines: &[usize], field: &str) {
    let sb = Sandbox::new();
    sb.write(file, yaml);
    let validate = sb.run(&["validate", file]);
    assert_rejection(&validate, "validate", file, lines, field);
    let start = sb.run(&["start", file]);
    assert_rejection(&start, "start", file, lines, field);
    assert!(
        !sb.exists("ran.txt"),
        "a step ran although the DAG was rejected"
    );
    let stem = file.trim_end_matches(".yaml");
    let status = sb.run(&["status", stem]);
    assert_ne!(status.code, 0, "a run was recorded: {}", status.stdout);
}

#[test]
fn loader_malformed_yaml_is_rejected_at_its_line() {
    let yaml =
        "steps:\n  - name: a\n    command: touch ran.txt\n  - name: b\n    command: echo x: y\n";
    let line = line_of(yaml, "echo x: y");
    assert_rejected("broken.yaml", yaml, &[line], "YAML");
}

#[test]
fn loader_string_for_integer_field_is_rejected() {
    let yaml = "steps:\n  - touch ran.txt\ntimeoutSec: \"abc\"\n";
    let line = line_of(yaml, "timeoutSec");
    assert_rejected("wrongtype.yaml", yaml, &[line], "timeoutSec");
}

#[test]
fn loader_steps_as_a_number_is_rejected() {
    let yaml = "name: numsteps\nsteps: 5\n";
    let line = line_of(yaml, "steps: 5");
    assert_rejected("numsteps.yaml", yaml, &[line], "steps");
}

#[test]
fn loader_unknown_root_field_is_rejected() {
    let yaml = "description: d\nbogusRootKey: 1\nsteps:\n  - touch ran.txt\n";
    let line = line_of(yaml, "bogusRootKey");
    assert_rejected("unknownroot.yaml", yaml, &[line], "bogusRootKey");
}

#[test]
fn loader_unknown_step_field_is_rejected() {
    let yaml = "steps:\n  - name: a\n    command: touch ran.txt\n    bogusStepKey: x\n";
    let line = line_of(yaml, "bogusStepKey");
    assert_rejected("unknownstep.yaml", yaml, &[line], "bogusStepKey");
}

#[test]
fn loader_dependency_cycle_is_rejected_by_validate_and_start() {
    let yaml = "\
type: graph
steps:
  - name: a
    command: touch ran.txt
    depends: b
  - name: b
    command: touch ran.txt
    depends: a
";
    let lines = [line_of(yaml, "depends: b"), line_of(yaml, "depends: a")];
    assert_rejected("cycle.yaml", yaml, &lines, "depends");
}

#[test]
fn loader_chain_cycle_through_explicit_depends_is_rejected() {
    // In chain mode `b` depends on `a` implicitly; `a` depending on `b` closes the loop.
    let yaml = "\
steps:
  - name: a
    command: touch ran.txt
    depends: [b]
  - name: b
    command: touch ran.txt
";
    let line = line_of(yaml, "depends: [b]");
    let lines = [
        line,
        line_of(yaml, "- name: b"),
        line_of(yaml, "- name: b") + 1,
    ];
    assert_rejected("chaincycle.yaml", yaml, &lines, "cycle");
}

#[test]
fn loader_self_dependency_is_rejected() {
    let yaml = "\
type: graph
steps:
  - name: a
    command: touch ran.txt
    depends: a
";
    let line = line_of(yaml, "depends: a");
    assert_rejected("selfdep.yaml", yaml, &[line], "depends");
}

#[test]
fn loader_unknown_dependency_is_rejected() {
    let yaml = "\
steps:
  - name: a
    command: touch ran.txt
  - name: b
    command: touch ran.txt
    depends: zzz
";
    let line = line_of(yaml, "depends: zzz");
    let sb = Sandbox::new();
    sb.write("unknowndep.yaml", yaml);
    let run = sb.run(&["validate", "unknowndep.yaml"]);
    assert!(run.stderr.contains("zzz"), "{}", run.stderr);
    assert_rejected("unknowndep.yaml", yaml, &[line], "depends");
}

#[test]
fn loader_duplicate_step_names_are_rejected() {
    let yaml = "\
type: graph
steps:
  - name: same
    command: touch ran.txt
  - name: same
    command: touch ran.txt
";
    let line = line_of(yaml, "command: touch ran.txt") + 1;
    assert_rejected("dupnames.yaml", yaml, &[line], "name");
    let sb = Sandbox::new();
    sb.write("dupnames.yaml", yaml);
    let run = sb.run(&["validate", "dupnames.yaml"]);
    assert!(run.stderr.contains("unique"), "{}", run.stderr);
}

#[test]
fn loader_duplicate_names_in_chain_mode_report_only_the_duplicate() {
    // One problem, one error line: the chain link between the two namesakes is no cycle.
    let yaml = "\
steps:
  - name: same
    command: touch ran.txt
  - name: same
    command: touch ran.txt
";
    let sb = Sandbox::new();
    sb.write("chaindup.yaml", yaml);
    let run = sb.run(&["validate", "chaindup.yaml"]);
    assert_eq!(run.code, 1);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("chaindup.yaml:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(errors[0].contains("unique"), "{}", run.stderr);
    assert!(errors[0].contains("chaindup.yaml:4:"), "{}", run.stderr);
}

#[test]
fn loader_bad_cron_schedule_is_rejected() {
    let yaml = "steps:\n  - touch ran.txt\nschedule: \"* * *\"\n";
    let line = line_of(yaml, "schedule");
    assert_rejected("badcron.yaml", yaml, &[line], "schedule");
}

#[test]
fn loader_six_field_cron_is_rejected() {
    let yaml = "schedule: \"0 * * * * *\"\nsteps:\n  - touch ran.txt\n";
    assert_rejected("sixcron.yaml", yaml, &[1], "schedule");
}

#[test]
fn loader_dag_name_with_bad_characters_is_rejected() {
    let yaml = "steps:\n  - touch ran.txt\nname: \"bad name!\"\n";
    let line = line_of(yaml, "name:");
    assert_rejected("badname.yaml", yaml, &[line], "name");
}

#[test]
fn loader_dag_name_of_41_characters_is_rejected() {
    let yaml = format!("name: {}\nsteps:\n  - touch ran.txt\n", "n".repeat(41));
    assert_rejected("longname.yaml", &yaml, &[1], "name");
}

#[test]
fn loader_dag_name_of_40_characters_is_accepted() {
    let sb = Sandbox::new();
    let name = "n".repeat(40);
    sb.write(
        "fortyname.yaml",
        &format!("name: {name}\nsteps:\n  - touch ran.txt\n"),
    );
    let run = sb.run(&["start", "fortyname.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("ran.txt"));
}

#[test]
fn loader_retry_policy_without_interval_sec_is_rejected() {
    let yaml = "\
steps:
  - name: a
    command: touch ran.txt
    retryPolicy: {limit: 2}
";
    let line = line_of(yaml, "retryPolicy");
    assert_rejected("nointerval.yaml", yaml, &[line], "intervalSec");
}

#[test]
fn loader_both_spellings_of_one_key_are_rejected() {
    let yaml = "workingDir: /tmp\nworking_dir: /tmp\nsteps:\n  - touch ran.txt\n";
    let sb = Sandbox::new();
    sb.write("twospell.yaml", yaml);
    let run = sb.run(&["validate", "twospell.yaml"]);
    assert!(
        run.stderr.contains("working_dir") || run.stderr.contains("workingDir"),
        "{}",
        run.stderr
    );
    assert_rejected("twospell.yaml", yaml, &[1, 2], "orking");
}

#[test]
fn loader_both_spellings_of_one_step_key_are_rejected() {
    let yaml = "\
steps:
  - name: a
    command: touch ran.txt
    continueOn: {failure: true}
    continue_on: {failure: true}
";
    let lines = [line_of(yaml, "continueOn"), line_of(yaml, "continue_on")];
    assert_rejected("twospellstep.yaml", yaml, &lines, "ontinue");
}

#[test]
fn loader_negative_step_timeout_is_rejected() {
    let yaml = "steps:\n  - name: a\n    command: touch ran.txt\n    timeoutSec: -1\n";
    let line = line_of(yaml, "timeoutSec");
    assert_rejected("negtimeout.yaml", yaml, &[line], "timeoutSec");
}

#[test]
fn loader_bad_continue_on_string_is_rejected() {
    let yaml = "steps:\n  - name: a\n    command: touch ran.txt\n    continueOn: sometimes\n";
    let line = line_of(yaml, "continueOn");
    assert_rejected("badcontinue.yaml", yaml, &[line], "continueOn");
}

#[test]
fn loader_validate_reports_every_error_at_once() {
    let yaml = "\
name: \"no good\"
schedule: \"* *\"
steps:
  - name: a
    command: touch ran.txt
  - name: b
    command: touch ran.txt
    depends: missing
";
    let sb = Sandbox::new();
    sb.write("three.yaml", yaml);
    let run = sb.run(&["validate", "three.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("three.yaml:"))
        .filter(|l| !l.contains("Validation failed"))
        .collect();
    assert_eq!(errors.len(), 3, "expected 3 error lines:\n{}", run.stderr);
    for (line, field) in [
        (line_of(yaml, "name: \"no good\""), "name"),
        (line_of(yaml, "schedule"), "schedule"),
        (line_of(yaml, "depends: missing"), "depends"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(&format!("three.yaml:{line}:")) && e.contains(field)),
            "no error for {field} at line {line}:\n{}",
            run.stderr
        );
    }
    assert!(!sb.exists("ran.txt"));
}

#[test]
fn loader_start_also_reports_every_error() {
    let yaml = "\
schedule: \"* *\"
steps:
  - name: a
    command: touch ran.txt
    depends: missing
";
    let sb = Sandbox::new();
    sb.write("two.yaml", yaml);
    let run = sb.run(&["start", "two.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("two.yaml:1:"), "{}", run.stderr);
    assert!(run.stderr.contains("two.yaml:5:"), "{}", run.stderr);
    assert!(!sb.exists("ran.txt"));
}

#[test]
fn loader_valid_dag_validates_without_running() {
    let sb = Sandbox::new();
    sb.write("fine.yaml", "steps:\n  - touch ran.txt\n");
    let run = sb.run(&["validate", "fine.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!sb.exists("ran.txt"));
    assert_ne!(sb.run(&["status", "fine"]).code, 0);
}

#[test]
fn loader_snake_case_root_keys_are_accepted() {
    let sb = Sandbox::new();
    sb.write(
        "snake.yaml",
        "\
max_active_steps: 1
working_dir: wd
handler_on:
  exit:
    command: touch exit-ran.txt
steps:
  - touch step-ran.txt
",
    );
    let run = sb.run(&["start", "snake.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("wd/step-ran.txt"), "working_dir not applied");
    assert!(sb.exists("wd/exit-ran.txt"), "handler_on.exit did not run");
}

#[test]
fn loader_camel_case_root_keys_are_accepted() {
    let sb = Sandbox::new();
    sb.write(
        "camel.yaml",
        "\
maxActiveSteps: 1
workingDir: wd
handlerOn:
  exit:
    command: touch exit-ran.txt
steps:
  - touch step-ran.txt
",
    );
    let run = sb.run(&["start", "camel.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("wd/step-ran.txt"), "workingDir not applied");
    assert!(sb.exists("wd/exit-ran.txt"), "handlerOn.exit did not run");
}

/// A step that fails twice (counting attempts in `count.txt`), then succeeds.
fn flaky_step(policy: &str) -> String {
    format!(
        "\
steps:
  - name: flaky
    command: |
      echo x >> count.txt
      test $(wc -l < count.txt) -ge 3
{policy}
"
    )
}

#[test]
fn loader_snake_case_retry_policy_is_accepted() {
    let sb = Sandbox::new();
    sb.write(
        "retrysnake.yaml",
        &flaky_step("    retry_policy:\n      limit: 2\n      interval_sec: 0"),
    );
    let run = sb.run(&["start", "retrysnake.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.read("count.txt").lines().count(), 3);
    let status = sb.status_json("retrysnake");
    assert_eq!(status["nodes"][0]["retryCount"], 2);
}

#[test]
fn loader_camel_case_retry_policy_is_accepted() {
    let sb = Sandbox::new();
    sb.write(
        "retrycamel.yaml",
        &flaky_step("    retryPolicy:\n      limit: 2\n      intervalSec: 0"),
    );
    let run = sb.run(&["start", "retrycamel.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.read("count.txt").lines().count(), 3);
}

#[test]
fn loader_snake_case_step_keys_are_accepted() {
    let sb = Sandbox::new();
    sb.write(
        "stepsnake.yaml",
        "\
steps:
  - name: fails
    command: \"false\"
    continue_on:
      failure: true
      mark_success: true
  - name: after
    command: touch after.txt
",
    );
    let run = sb.run(&["start", "stepsnake.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("after.txt"));
}

#[test]
fn loader_later_document_is_a_callable_sub_dag() {
    let sb = Sandbox::new();
    sb.write(
        "multi.yaml",
        "\
steps:
  - name: call-child
    call: child
    params: \"WHO=parent\"
---
name: child
params: \"WHO=nobody\"
steps:
  - echo \"child of ${WHO}\" > child.txt
",
    );
    let run = sb.run(&["start", "multi.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.read("child.txt"), "child of parent\n");
}

#[test]
fn loader_later_document_without_name_is_rejected() {
    let yaml = "\
steps:
  - touch ran.txt
---
steps:
  - touch ran.txt
";
    let sb = Sandbox::new();
    sb.write("noname.yaml", yaml);
    let run = sb.run(&["validate", "noname.yaml"]);
    assert!(run.stderr.contains("name"), "{}", run.stderr);
    // The second document starts after the separator on line 3.
    assert_rejected("noname.yaml", yaml, &[3, 4], "name");
}

#[test]
fn loader_duplicate_document_names_are_rejected() {
    let yaml = "\
steps:
  - touch ran.txt
---
name: child
steps:
  - touch ran.txt
---
name: child
steps:
  - touch ran.txt
";
    let line = 8;
    assert_eq!(line_of(yaml, "name: child") + 4, line);
    assert_rejected("dupdocs.yaml", yaml, &[line], "child");
}

#[test]
fn loader_base_env_comes_first_and_dag_wins_duplicates() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.home.join("base.yaml"),
        "env:\n  - FROM_BASE: base\n  - SHARED: base-value\n",
    )
    .unwrap();
    sb.write(
        "merged.yaml",
        "\
env:
  - DERIVED: ${FROM_BASE}-dag
  - SHARED: dag-value
steps:
  - echo \"$FROM_BASE $DERIVED $SHARED\" > env.txt
",
    );
    let run = sb.run(&["start", "merged.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.read("env.txt"), "base base-dag dag-value\n");
}

#[test]
fn loader_base_handlers_are_inherited_next_to_dag_handlers() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.home.join("base.yaml"),
        "handlerOn:\n  exit:\n    command: touch base-exit.txt\n",
    )
    .unwrap();
    sb.write(
        "handlers.yaml",
        "\
handlerOn:
  success:
    command: touch dag-success.txt
steps:
  - touch step.txt
",
    );
    let run = sb.run(&["start", "handlers.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("step.txt"));
    assert!(sb.exists("dag-success.txt"), "DAG success handler missing");
    assert!(
        sb.exists("base-exit.txt"),
        "base exit handler not inherited"
    );
}

#[test]
fn loader_dag_scalar_wins_over_base_scalar() {
    let sb = Sandbox::new();
    let base_wd = sb.work.join("base-wd");
    let dag_wd = sb.work.join("dag-wd");
    std::fs::write(
        sb.home.join("base.yaml"),
        format!("workingDir: {}\n", base_wd.display()),
    )
    .unwrap();
    sb.write(
        "scalar.yaml",
        &format!(
            "workingDir: {}\nsteps:\n  - touch here.txt\n",
            dag_wd.display()
        ),
    );
    let run = sb.run(&["start", "scalar.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dag_wd.join("here.txt").exists(), "DAG workingDir not used");
    assert!(!base_wd.join("here.txt").exists());
}

#[test]
fn loader_base_scalar_applies_when_dag_sets_none() {
    let sb = Sandbox::new();
    let base_wd = sb.work.join("base-wd");
    std::fs::write(
        sb.home.join("base.yaml"),
        format!("workingDir: {}\n", base_wd.display()),
    )
    .unwrap();
    sb.write("noscalar.yaml", "steps:\n  - touch here.txt\n");
    let run = sb.run(&["start", "noscalar.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        base_wd.join("here.txt").exists(),
        "base workingDir not used"
    );
}

#[test]
fn loader_base_steps_are_replaced_by_dag_steps() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.home.join("base.yaml"),
        "steps:\n  - name: from-base\n    command: touch base-step.txt\n",
    )
    .unwrap();
    sb.write(
        "ownsteps.yaml",
        "steps:\n  - name: mine\n    command: touch mine.txt\n",
    );
    let run = sb.run(&["start", "ownsteps.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(sb.exists("mine.txt"));
    assert!(!sb.exists("base-step.txt"));
    let names: Vec<String> = node_states(&sb.status_json("ownsteps"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec!["mine".to_string()]);
}

#[test]
fn loader_broken_base_yaml_rejects_the_dag() {
    let sb = Sandbox::new();
    std::fs::write(sb.home.join("base.yaml"), "bogusBaseKey: 1\n").unwrap();
    sb.write("victim.yaml", "steps:\n  - touch ran.txt\n");
    let run = sb.run(&["start", "victim.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("base.yaml"), "{}", run.stderr);
    assert!(run.stderr.contains("bogusBaseKey"), "{}", run.stderr);
    assert!(!sb.exists("ran.txt"));
}

#[test]
fn loader_empty_file_is_rejected() {
    let sb = Sandbox::new();
    sb.write("empty.yaml", "");
    let run = sb.run(&["start", "empty.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("empty.yaml"), "{}", run.stderr);
}

#[test]
fn loader_document_without_steps_succeeds() {
    let sb = Sandbox::new();
    sb.write("nosteps.yaml", "description: nothing to do\n");
    let run = sb.run(&["start", "nosteps.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.status_json("nosteps")["status"], 4);
}

#[test]
fn loader_base_handlers_do_not_run_for_sub_dag_runs() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.home.join("base.yaml"),
        "handlerOn:\n  exit:\n    command: echo \"$DAG_NAME\" >> base-exit.txt\n",
    )
    .unwrap();
    sb.write(
        "parent.yaml",
        "steps:\n  - name: call-child\n    call: child\n---\nname: child\nhandlerOn:\n  exit:\n    command: echo own >> child-exit.txt\nsteps:\n  - touch child-ran.txt\n",
    );
    let run = sb.run(&["start", "parent.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("child-ran.txt"));
    assert_eq!(
        sb.read("base-exit.txt"),
        "parent\n",
        "only the root run gets base handlers"
    );
    assert_eq!(
        sb.read("child-exit.txt"),
        "own\n",
        "the child's own handlers still run"
    );
}

#[test]
fn loader_dag_executor_without_call_is_rejected() {
    assert_rejected(
        "dagexec.yaml",
        "steps:\n  - name: x\n    executor: dag\n    command: child\n",
        &[2],
        "steps[0]",
    );
}

/// A custom step type that touches a file: `touch {{ .input.file }}`.
const TOUCH_TYPE: &str = "step_types:\n  touch:\n    type: command\n    input_schema:\n      type: object\n      properties:\n        file: {type: string, default: ran.txt}\n        mode: {type: integer}\n    template:\n      command: touch {{ .input.file }}\n";

#[test]
fn loader_custom_step_type_bad_input_is_rejected_at_the_call() {
    let yaml =
        format!("{TOUCH_TYPE}steps:\n  - name: a\n    type: touch\n    with:\n      mode: fast\n");
    let line = line_of(&yaml, "mode: fast");
    assert_rejected("custombad.yaml", &yaml, &[line], "steps[0].with.mode");
}

#[test]
fn loader_custom_step_type_forbidden_call_field_is_rejected() {
    let yaml =
        format!("{TOUCH_TYPE}steps:\n  - name: a\n    type: touch\n    command: touch ran.txt\n");
    let line = line_of(&yaml, "command: touch ran.txt");
    assert_rejected(
        "customcmd.yaml",
        &yaml,
        &[line],
        "not allowed when using a custom step type",
    );
}

#[test]
fn loader_custom_step_types_from_base_yaml_run_and_cannot_be_redefined() {
    let sb = Sandbox::new();
    std::fs::write(sb.home.join("base.yaml"), TOUCH_TYPE).unwrap();
    sb.write(
        "usebase.yaml",
        "steps:\n  - name: a\n    type: touch\n  - name: b\n    type: touch\n    with: {file: b.txt}\n",
    );
    let run = sb.run(&["start", "usebase.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("ran.txt"), "the default input was not applied");
    assert!(sb.exists("b.txt"));
    sb.write(
        "redefine.yaml",
        &format!("{TOUCH_TYPE}steps:\n  - 'true'\n"),
    );
    let run = sb.run(&["validate", "redefine.yaml"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stderr.contains("redefine.yaml:2:"), "{}", run.stderr);
    assert!(run.stderr.contains("base.yaml"), "{}", run.stderr);
}
