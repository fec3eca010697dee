//! Value resolution: env, params, dotenv, `${...}` forms, backticks, outputs, step
//! references, special variables and the host environment filter.

use crate::support::{Run, Sandbox};

/// Writes `dag.yaml` and runs `dagu start dag.yaml [extra...]`, asserting success.
fn start_ok(sb: &Sandbox, yaml: &str, extra: &[&str]) {
    sb.write("dag.yaml", yaml);
    let mut args = vec!["start", "dag.yaml"];
    args.extend_from_slice(extra);
    let run = sb.run(&args);
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// Runs `dagu args...` with extra variables in dagu's own environment.
fn run_with_env(sb: &Sandbox, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = sb.cmd(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run dagu");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `dag.yaml` with `MY_SECRET=s3cret` in dagu's environment, asserting success.
fn start_with_secret(sb: &Sandbox, yaml: &str) {
    sb.write("dag.yaml", yaml);
    let run = run_with_env(sb, &["start", "dag.yaml"], &[("MY_SECRET", "s3cret")]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
}

// ---- env ----

#[test]
fn values_env_list_form_reaches_steps() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "env:\n  - A: alpha\n  - B=beta\nsteps:\n  - echo \"$A $B\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "alpha beta\n");
}

#[test]
fn values_env_map_form_reaches_steps() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "env:\n  A: alpha\n  B: beta\nsteps:\n  - echo \"$A $B\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "alpha beta\n");
}

#[test]
fn values_env_entries_see_earlier_entries_in_order() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
env:
  - A: one
  - B: ${A}-two
  - C: $B-three
  - A: redefined
steps:
  - echo \"$A $B $C\" > out.txt
",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "redefined one-two one-two-three\n");
}

#[test]
fn values_env_shell_default_and_substring() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
env:
  - D: ${SURELY_UNSET_VAR_X:-fallback}
  - S: ${D:0:3}
  - T: ${D:4}
steps:
  - echo \"$D $S $T\" > out.txt
",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "fallback fal back\n");
}

#[test]
fn values_env_backtick_runs_a_command() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "env:\n  - B: \"`echo from-backtick`\"\nsteps:\n  - echo \"$B\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "from-backtick\n");
}

#[test]
fn values_env_backtick_sees_earlier_env_entries() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "env:\n  - A: seen\n  - B: \"`echo $A-too`\"\nsteps:\n  - echo \"$B\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "seen-too\n");
}

#[test]
fn values_env_cannot_see_params() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
env:
  - E: \"[${P}]\"
params:
  - P: param
steps:
  - echo \"$E $P\" > out.txt
",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "[] param\n");
}

#[test]
fn values_step_env_overrides_dag_env_for_that_step_only() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
env:
  - V: dag
steps:
  - name: own
    env:
      - V: step
    command: echo \"$V\" > own.txt
  - name: other
    command: echo \"$V\" > other.txt
",
        &[],
    );
    assert_eq!(sb.read("own.txt"), "step\n");
    assert_eq!(sb.read("other.txt"), "dag\n");
}

// ---- params ----

#[test]
fn values_positional_string_defaults() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: first second\nsteps:\n  - echo \"$1 $2\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "first second\n");
}

#[test]
fn values_positional_override_after_double_dash() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: first second\nsteps:\n  - echo \"$1 $2 $3\" > out.txt\n",
        &["--", "one", "two", "three"],
    );
    assert_eq!(sb.read("out.txt"), "one two three\n");
}

#[test]
fn values_named_string_defaults() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: NAME=world COUNT=2\nsteps:\n  - echo \"$NAME $COUNT\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "world 2\n");
}

#[test]
fn values_quoted_param_value_keeps_spaces() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: 'GREETING=\"hello there\" X=1'\nsteps:\n  - echo \"[$GREETING] $X\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "[hello there] 1\n");
}

#[test]
fn values_list_params_defaults() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params:\n  - NAME: world\n  - COUNT: 2\nsteps:\n  - echo \"$NAME $COUNT\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "world 2\n");
}

#[test]
fn values_named_override_after_double_dash_keeps_other_defaults() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: NAME=world COUNT=2\nsteps:\n  - echo \"$NAME $COUNT\" > out.txt\n",
        &["--", "NAME=bob"],
    );
    assert_eq!(sb.read("out.txt"), "bob 2\n");
}

#[test]
fn values_params_flag_overrides_defaults() {
    let sb = Sandbox::new();
    sb.write(
        "dag.yaml",
        "params: NAME=world COUNT=2\nsteps:\n  - echo \"$NAME $COUNT\" > out.txt\n",
    );
    for flag in ["-p", "--params"] {
        let run = sb.run(&["start", flag, "NAME=flag COUNT=5", "dag.yaml"]);
        assert_eq!(run.code, 0, "{flag}: {}", run.stderr);
        assert_eq!(sb.read("out.txt"), "flag 5\n", "{flag}");
    }
}

#[test]
fn values_double_dash_wins_over_params_flag() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: NAME=world\nsteps:\n  - echo \"$NAME\" > out.txt\n",
        &["-p", "NAME=flag", "--", "NAME=dash"],
    );
    assert_eq!(sb.read("out.txt"), "dash\n");
}

#[test]
fn values_json_params_override_named_keys() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: NAME=world COUNT=2\nsteps:\n  - echo \"$NAME $COUNT\" > out.txt\n",
        &["--", r#"{"NAME":"json"}"#],
    );
    assert_eq!(sb.read("out.txt"), "json 2\n");
}

#[test]
fn values_new_param_name_from_cli_is_added() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: NAME=world\nsteps:\n  - echo \"$NAME $EXTRA\" > out.txt\n",
        &["--", "EXTRA=added"],
    );
    assert_eq!(sb.read("out.txt"), "world added\n");
}

#[test]
fn values_derived_default_uses_earlier_param() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params:\n  - BASE: x\n  - DERIVED: ${BASE}-y\nsteps:\n  - echo \"$DERIVED\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "x-y\n");
}

#[test]
fn values_derived_default_is_not_recomputed_after_override() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params:\n  - BASE: x\n  - DERIVED: ${BASE}-y\nsteps:\n  - echo \"$BASE $DERIVED\" > out.txt\n",
        &["--", "BASE=cli"],
    );
    assert_eq!(sb.read("out.txt"), "cli x-y\n");
}

#[test]
fn values_params_see_env() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "env:\n  - E: from-env\nparams:\n  - P: ${E}-param\nsteps:\n  - echo \"$P\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "from-env-param\n");
}

#[test]
fn values_params_shell_default_and_substring() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
params:
  - D: ${SURELY_UNSET_VAR_Y:-dflt}
  - S: ${D:1:2}
steps:
  - echo \"$D $S\" > out.txt
",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "dflt fl\n");
}

#[test]
fn values_params_backtick_default() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params:\n  - P: \"`echo computed`\"\nsteps:\n  - echo \"$P\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "computed\n");
}

#[test]
fn values_param_beats_dag_env_of_same_name() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "env:\n  - V: env\nparams:\n  - V: param\nsteps:\n  - echo \"$V\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "param\n");
}

#[test]
fn values_dagu_params_json_holds_all_params() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: A=1 B=two\nsteps:\n  - printenv DAGU_PARAMS_JSON > out.txt\n",
        &["--", "B=cli"],
    );
    let json: serde_json::Value =
        serde_json::from_str(sb.read("out.txt").trim()).expect("DAGU_PARAMS_JSON is JSON");
    assert_eq!(json["A"], "1");
    assert_eq!(json["B"], "cli");
}

#[test]
fn values_params_recorded_in_status() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "params: A=1 B=two\nsteps:\n  - \"true\"\n",
        &["--", "B=cli"],
    );
    let status = sb.status_json("dag");
    let list: Vec<&str> = status["paramsList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(list, vec!["A=1", "B=cli"]);
}

// ---- dotenv ----

#[test]
fn values_dotenv_default_file_is_loaded() {
    let sb = Sandbox::new();
    sb.write(".env", "DOT=from-dotenv\n");
    start_ok(&sb, "steps:\n  - echo \"$DOT\" > out.txt\n", &[]);
    assert_eq!(sb.read("out.txt"), "from-dotenv\n");
}

#[test]
fn values_dotenv_list_later_file_wins() {
    let sb = Sandbox::new();
    sb.write("a.env", "X=a\nONLY_A=yes\n");
    sb.write("b.env", "X=b\n");
    start_ok(
        &sb,
        "dotenv:\n  - a.env\n  - b.env\nsteps:\n  - echo \"$X $ONLY_A\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "b yes\n");
}

#[test]
fn values_dotenv_empty_list_disables_default_file() {
    let sb = Sandbox::new();
    sb.write(".env", "DOT=from-dotenv\n");
    start_ok(
        &sb,
        "dotenv: []\nsteps:\n  - echo \"[${DOT:-}]\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "[]\n");
}

#[test]
fn values_dotenv_overrides_dag_env() {
    let sb = Sandbox::new();
    sb.write(".env", "V=dotenv\n");
    start_ok(
        &sb,
        "env:\n  - V: dag\nsteps:\n  - echo \"$V\" > out.txt\n",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "dotenv\n");
}

#[test]
fn values_dotenv_quoted_values_are_unquoted() {
    let sb = Sandbox::new();
    sb.write(".env", "Q=\"two words\"\n");
    start_ok(&sb, "steps:\n  - echo \"[$Q]\" > out.txt\n", &[]);
    assert_eq!(sb.read("out.txt"), "[two words]\n");
}

// ---- outputs and step references ----

#[test]
fn values_output_is_captured_and_trimmed() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: produce
    command: printf '  spaced  \\n\\n'
    output: OUT
  - name: consume
    command: echo \"[${OUT}]\" > out.txt
",
        &[],
    );
    assert_eq!(sb.read("out.txt"), "[spaced]\n");
}

#[test]
fn values_output_json_path_reads_nested_fields() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        r#"steps:
  - name: produce
    command: echo '{"a":{"b":["zero","one","two"]},"n":5}'
    output: OUT
  - name: consume
    command: echo "${OUT.a.b[1]} ${OUT.n}" > out.txt
"#,
        &[],
    );
    assert_eq!(sb.read("out.txt"), "one 5\n");
}

#[test]
fn values_step_id_exit_code_and_stdout_path() {
    let sb = Sandbox::new();
    sb.write(
        "dag.yaml",
        "\
steps:
  - name: first
    id: first
    command: echo from-first; exit 3
    continueOn:
      failure: true
  - name: second
    command: echo \"${first.exitCode}\" > code.txt; cat ${first.stdout} > copy.txt
",
    );
    let run = sb.run(&["start", "dag.yaml"]);
    assert_eq!(run.code, 1, "partially succeeded exits 1: {}", run.stderr);
    assert_eq!(sb.read("code.txt"), "3\n");
    assert_eq!(sb.read("copy.txt"), "from-first\n");
    assert_eq!(sb.status_json("dag")["status"], 6);
}

#[test]
fn values_step_id_stderr_path() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - id: noisy
    command: echo to-stderr >&2
  - cat ${noisy.stderr} > copy.txt
",
        &[],
    );
    assert_eq!(sb.read("copy.txt"), "to-stderr\n");
}

// ---- special variables ----

#[test]
fn values_dag_name_is_file_stem_or_name_field() {
    let sb = Sandbox::new();
    start_ok(&sb, "steps:\n  - echo \"$DAG_NAME\" > stem.txt\n", &[]);
    assert_eq!(sb.read("stem.txt"), "dag\n");
    sb.write(
        "other.yaml",
        "name: custom-name\nsteps:\n  - echo \"$DAG_NAME\" > named.txt\n",
    );
    let run = sb.run(&["start", "other.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.read("named.txt"), "custom-name\n");
}

#[test]
fn values_dag_run_id_is_a_uuid_v7_matching_the_record() {
    let sb = Sandbox::new();
    start_ok(&sb, "steps:\n  - echo \"$DAG_RUN_ID\" > id.txt\n", &[]);
    let id = sb.read("id.txt").trim().to_string();
    assert_eq!(id.len(), 36, "{id}");
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, vec![8, 4, 4, 4, 12], "{id}");
    assert_eq!(&id[14..15], "7", "version nibble: {id}");
    assert!(
        id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(sb.status_json("dag")["dagRunId"], id.as_str());
}

#[test]
fn values_dag_run_log_file_exists() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "steps:\n  - test -f \"$DAG_RUN_LOG_FILE\" && echo \"$DAG_RUN_LOG_FILE\" > log.txt\n",
        &[],
    );
    let path = sb.read("log.txt").trim().to_string();
    assert!(!path.is_empty());
    assert!(std::path::Path::new(&path).is_file(), "{path}");
}

#[test]
fn values_dag_run_step_name_is_the_step_name() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "\
steps:
  - name: first step
    command: echo \"$DAG_RUN_STEP_NAME\" >> names.txt
  - name: second
    command: echo \"$DAG_RUN_STEP_NAME\" >> names.txt
",
        &[],
    );
    assert_eq!(sb.read("names.txt"), "first step\nsecond\n");
}

#[test]
fn values_step_stdout_file_variable_points_at_the_step_log() {
    let sb = Sandbox::new();
    start_ok(
        &sb,
        "steps:\n  - name: s\n    command: echo \"$DAG_RUN_STEP_STDOUT_FILE\" > path.txt\n",
        &[],
    );
    let status = sb.status_json("dag");
    assert_eq!(
        sb.read("path.txt").trim(),
        status["nodes"][0]["stdout"].as_str().unwrap()
    );
}

// ---- host environment filter ----

#[test]
fn values_host_var_is_not_visible_to_steps() {
    let sb = Sandbox::new();
    start_with_secret(
        &sb,
        "steps:\n  - (printenv MY_SECRET || echo none) > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "none\n");
}

#[test]
fn values_host_var_is_empty_in_command_text() {
    let sb = Sandbox::new();
    start_with_secret(&sb, "steps:\n  - echo \"[${MY_SECRET}]\" > out.txt\n");
    assert_eq!(sb.read("out.txt"), "[]\n");
}

#[test]
fn values_host_var_is_not_visible_to_scripts() {
    let sb = Sandbox::new();
    start_with_secret(
        &sb,
        "steps:\n  - script: |\n      printenv MY_SECRET > out.txt || echo none > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "none\n");
}

#[test]
fn values_whitelisted_host_vars_reach_steps() {
    let sb = Sandbox::new();
    sb.write(
        "dag.yaml",
        "steps:\n  - echo \"$DAGU_CUSTOM_X|$LC_CUSTOM_X|$TZ|${HOME:+home}|${PATH:+path}\" > out.txt\n",
    );
    let run = run_with_env(
        &sb,
        &["start", "dag.yaml"],
        &[("DAGU_CUSTOM_X", "d"), ("LC_CUSTOM_X", "l"), ("TZ", "UTC")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.read("out.txt"), "d|l|UTC|home|path\n");
}

#[test]
fn values_host_var_reexported_in_env_is_visible() {
    let sb = Sandbox::new();
    start_with_secret(
        &sb,
        "env:\n  - K: ${MY_SECRET}\n  - MY_SECRET: ${MY_SECRET}\nsteps:\n  - echo \"$K $(printenv MY_SECRET)\" > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "s3cret s3cret\n");
}

#[test]
fn values_env_backtick_does_not_see_host_secret() {
    let sb = Sandbox::new();
    start_with_secret(
        &sb,
        "env:\n  - LEAK: \"`printenv MY_SECRET || echo none`\"\nsteps:\n  - echo \"$LEAK\" > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "none\n");
}

#[test]
fn values_params_backtick_does_not_see_host_secret() {
    let sb = Sandbox::new();
    start_with_secret(
        &sb,
        "params:\n  - LEAK: \"`printenv MY_SECRET || echo none`\"\nsteps:\n  - echo \"$LEAK\" > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "none\n");
}

#[test]
fn values_env_backtick_sees_explicitly_reexported_secret() {
    let sb = Sandbox::new();
    start_with_secret(
        &sb,
        "env:\n  - MY_SECRET: ${MY_SECRET}\n  - SEEN: \"`printenv MY_SECRET || echo none`\"\nsteps:\n  - echo \"$SEEN\" > out.txt\n",
    );
    assert_eq!(sb.read("out.txt"), "s3cret\n");
}

/// Every file under `dir`, recursively.
fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn values_secrets_reach_steps_but_are_masked_in_everything_recorded() {
    let sb = Sandbox::new();
    sb.write(
        "dag.yaml",
        "secrets:\n  - name: TOKEN\n    provider: env\n    key: MY_SECRET\nsteps:\n  - name: show\n    command: echo \"token=$TOKEN\"\n    output: OUT\n  - name: use\n    command: |\n      [ \"$OUT\" = \"token=$TOKEN\" ] && echo real > seen.txt\n      echo \"bad $TOKEN\" >&2; exit 1\n",
    );
    let run = run_with_env(
        &sb,
        &["start", "dag.yaml"],
        &[("MY_SECRET", "s3cret-value")],
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(sb.read("seen.txt"), "real\n", "steps get the real value");
    assert!(!run.stdout.contains("s3cret-value") && !run.stderr.contains("s3cret-value"));
    let files = all_files(&sb.home);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "out"))
    );
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(
            !text.contains("s3cret-value"),
            "{} holds the secret",
            file.display()
        );
    }
    let st = sb.status_json("dag");
    assert_eq!(
        st["nodes"][0]["outputVariables"]["OUT"],
        "OUT=token=*******"
    );
}
