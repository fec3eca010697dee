//! Custom step types (`step_types`) end to end through the loader: definitions from the
//! DAG and `base.yaml`, expansion of calls into normal steps, and every error with its
//! file, line and field.

use std::path::Path;
use std::sync::Arc;

use dagu_core::{Command, DagFile, LoadErrors, LoadOptions, Step, StepTypes, load_str};
use serde_json::json;

/// A `greet` type on `command` and a `fetch` type on `http`, then `steps`.
const DEFINITIONS: &str = r#"step_types:
  greet:
    type: command
    description: Says hello
    input_schema:
      type: object
      properties:
        name: {type: string}
        greeting: {type: string, default: hello}
        times: {type: integer, minimum: 1, default: 1}
      required: [name]
      additionalProperties: false
    template:
      command: echo {{ .input.greeting }} {{ .input.name }} x{{ .input.times }}
      env:
        - GREETED={{ .input.name }}
        - SOURCE=template
      preconditions:
        - test -n "{{ .input.name }}"
  fetch:
    type: http
    input_schema:
      type: object
      properties:
        url: {type: string}
        timeout: {type: integer, default: 30}
        headers: {type: object}
      required: [url]
    template:
      command: GET {{ .input.url }}
      with:
        timeout: {$input: timeout}
        headers: {$input: headers}
        body: '{{ json .input.headers }}'
"#;

fn load(yaml: &str) -> Result<DagFile, LoadErrors> {
    load_with(yaml, &LoadOptions::default())
}

fn load_with(yaml: &str, options: &LoadOptions) -> Result<DagFile, LoadErrors> {
    load_str(yaml, Path::new("custom.yaml"), options)
}

/// The steps of the main DAG of `DEFINITIONS` + `steps`.
fn steps(steps: &str) -> Vec<Step> {
    let file = load(&format!("{DEFINITIONS}{steps}")).unwrap_or_else(|e| panic!("{e}"));
    file.main().steps.clone()
}

/// The errors of `yaml`, as `(line, field, message)`.
fn errors(yaml: &str) -> Vec<(u32, String, String)> {
    errors_with(yaml, &LoadOptions::default())
}

fn errors_with(yaml: &str, options: &LoadOptions) -> Vec<(u32, String, String)> {
    let err = load_with(yaml, options).expect_err("the DAG should be rejected");
    err.0
        .into_iter()
        .map(|e| (e.pos.line, e.field, e.message))
        .collect()
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines().position(|l| l.contains(needle)).expect(needle) as u32 + 1
}

#[test]
fn command_template_becomes_a_command_step_with_defaults() {
    let steps = steps("steps:\n  - name: hi\n    type: greet\n    with:\n      name: bob\n");
    let step = &steps[0];
    assert_eq!(step.name, "hi");
    assert_eq!(step.step_type, "command");
    assert_eq!(
        step.command,
        Some(Command::Line("echo hello bob x1".into()))
    );
    assert_eq!(step.description.as_deref(), Some("Says hello"));
    assert!(step.config.is_null(), "the call's inputs are not config");
}

#[test]
fn call_site_env_and_preconditions_combine_with_the_template() {
    let steps = steps(
        "steps:\n  - name: hi\n    type: greet\n    description: mine\n    with: {name: ann}\n    env:\n      SOURCE: call\n    preconditions: test -d /\n",
    );
    let step = &steps[0];
    assert_eq!(
        step.env,
        [
            ("GREETED".to_string(), "ann".to_string()),
            ("SOURCE".into(), "template".into()),
            ("SOURCE".into(), "call".into()),
        ]
    );
    let conditions: Vec<&str> = step
        .preconditions
        .iter()
        .map(|c| c.condition.as_str())
        .collect();
    assert_eq!(conditions, ["test -n \"ann\"", "test -d /"]);
    assert_eq!(step.description.as_deref(), Some("mine"));
}

#[test]
fn input_refs_are_typed_and_the_builtin_type_is_set() {
    let steps = steps(
        "steps:\n  - name: get\n    type: fetch\n    config:\n      url: http://x\n      headers: {B: 2, A: '1'}\n",
    );
    let step = &steps[0];
    assert_eq!(step.step_type, "http");
    assert_eq!(step.command, Some(Command::Line("GET http://x".into())));
    assert_eq!(
        step.config,
        json!({"timeout": 30, "headers": {"B": 2, "A": "1"}, "body": r#"{"A":"1","B":2}"#})
    );
}

#[test]
fn runtime_references_pass_validation_and_stay_for_the_step() {
    let steps = steps(
        "steps:\n  - name: hi\n    type: greet\n    with:\n      name: ${WHO}\n      times: ${TIMES}\n",
    );
    assert_eq!(
        steps[0].command,
        Some(Command::Line("echo hello ${WHO} x${TIMES}".into()))
    );
    let yaml = format!(
        "{DEFINITIONS}steps:\n  - type: greet\n    with:\n      name: x\n      times: TIMES\n"
    );
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, line_of(&yaml, "times: TIMES"));
}

#[test]
fn invalid_input_is_reported_at_the_call() {
    let yaml = format!(
        "{DEFINITIONS}steps:\n  - name: ok\n    type: greet\n    with: {{name: a}}\n  - name: bad\n    type: greet\n    with:\n      name: b\n      times: 0\n  - name: none\n    type: greet\n"
    );
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs[0].0, line_of(&yaml, "times: 0"));
    assert_eq!(errs[0].1, "steps[1].with.times");
    assert!(
        errs[0].2.starts_with("invalid \"greet\" input: "),
        "{errs:?}"
    );
    assert_eq!(errs[1].1, "steps[2].with");
    assert!(errs[1].2.contains("\"name\""), "{errs:?}");
    let display = load(&yaml).unwrap_err().to_string();
    let line = line_of(&yaml, "times: 0");
    assert!(
        display.contains(&format!("custom.yaml:{line}:")),
        "{display}"
    );
}

#[test]
fn call_site_fields_owned_by_the_template_are_rejected() {
    let yaml = format!(
        "{DEFINITIONS}steps:\n  - name: hi\n    type: greet\n    with: {{name: a}}\n    command: echo no\n    workingDir: /tmp\n"
    );
    let errs = errors(&yaml);
    let fields: Vec<&str> = errs.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        fields,
        ["steps[0].command", "steps[0].workingDir"],
        "{errs:?}"
    );
    assert_eq!(
        errs[1].2,
        "field \"workingDir\" is not allowed when using a custom step type"
    );
    assert_eq!(errs[0].0, line_of(&yaml, "command: echo no"));
}

#[test]
fn a_failed_call_keeps_its_name_for_dependents() {
    let yaml = format!(
        "{DEFINITIONS}type: graph\nsteps:\n  - name: hi\n    type: greet\n  - name: after\n    command: 'true'\n    depends: hi\n"
    );
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "only the missing input: {errs:?}");
}

#[test]
fn missing_template_keys_are_reported_at_the_call() {
    let yaml = "step_types:\n  t:\n    type: shell\n    input_schema: {type: object}\n    template:\n      command: echo {{ .input.absent }}\nsteps:\n  - name: a\n    type: t\n    with: {other: 1}\n";
    let errs = errors(yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, line_of(yaml, "with: {other"));
    assert!(errs[0].2.contains("template.command"), "{errs:?}");
    assert!(errs[0].2.contains("\"absent\""), "{errs:?}");
}

#[test]
fn definition_errors_are_reported_at_the_definition() {
    let yaml = "step_types:\n  inner:\n    type: command\n    input_schema: {type: object}\n    template: {command: x}\n  outer:\n    type: inner\n    input_schema: {type: object}\n    template: {command: x}\n  typed:\n    type: command\n    input_schema: {type: object}\n    template:\n      type: http\n  docker:\n    type: command\n    input_schema: {type: object}\n    template: {command: x}\n  noschema:\n    type: command\n    template: {command: x}\n  listschema:\n    type: command\n    input_schema: {type: array}\n    template: {command: x}\n  broken:\n    type: command\n    input_schema: {type: object}\n    template: {command: 'echo {{ .input.x'}\n  nowhere:\n    type: teleport\n    input_schema: {type: object}\n    template: {command: x}\nsteps:\n  - 'true'\n";
    let errs = errors(yaml);
    let expected = [
        (
            "type: inner",
            "step_types.outer.type",
            "is a custom step type",
        ),
        (
            "      type: http",
            "step_types.typed.template.type",
            "may not contain 'type'",
        ),
        ("  docker:", "step_types.docker", "is a builtin step type"),
        (
            "  noschema:",
            "step_types.noschema",
            "input_schema is required",
        ),
        (
            "{type: array}",
            "step_types.listschema.input_schema",
            "must describe an object",
        ),
        (
            "echo {{ .input.x'",
            "step_types.broken.template",
            "invalid template",
        ),
        (
            "type: teleport",
            "step_types.nowhere.type",
            "unknown step type \"teleport\"",
        ),
    ];
    assert_eq!(errs.len(), expected.len(), "{errs:?}");
    for ((line, field, message), (needle, want_field, want_message)) in errs.iter().zip(expected) {
        assert_eq!(*line, line_of(yaml, needle), "{field}: {message}");
        assert_eq!(field, want_field);
        assert!(message.contains(want_message), "{message}");
    }
}

#[test]
fn base_definitions_are_shared_and_duplicates_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    std::fs::write(
        &base,
        "stepTypes:\n  say:\n    type: command\n    inputSchema: {type: object, properties: {m: {type: string}}}\n    template:\n      command: echo {{ .input.m }}\n      retry_policy: {limit: 2, interval_sec: 1}\n",
    )
    .unwrap();
    let options = LoadOptions {
        base_config: Some(base),
        ..Default::default()
    };
    let yaml = "steps:\n  - name: a\n    type: say\n    with: {m: hi}\n";
    let file = load_with(yaml, &options).unwrap_or_else(|e| panic!("{e}"));
    let step = &file.main().steps[0];
    assert_eq!(step.command, Some(Command::Line("echo hi".into())));
    assert!(
        step.retry.is_some(),
        "template fields other than command are kept"
    );

    let duplicate = "step_types:\n  say:\n    type: command\n    input_schema: {type: object}\n    template: {command: x}\nsteps:\n  - 'true'\n";
    let errs = errors_with(duplicate, &options);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1.as_str()), (2, "step_types.say"));
    assert!(errs[0].2.contains("base.yaml:2:3"), "{errs:?}");
}

#[test]
fn base_template_errors_point_at_the_call_not_into_base_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    std::fs::write(
        &base,
        "step_types:\n  slow:\n    type: command\n    input_schema: {type: object}\n    template:\n      command: sleep 1\n\n\n\n      timeout_sec: -1\n",
    )
    .unwrap();
    let options = LoadOptions {
        base_config: Some(base),
        ..Default::default()
    };
    let errs = errors_with("steps:\n  - name: a\n    type: slow\n", &options);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1.as_str()), (3, "steps[0].timeout_sec"));
}

#[test]
fn plugin_types_may_be_targeted_but_not_renamed() {
    let mut plugins = StepTypes::default();
    plugins
        .add("echo", &json!({"type": "object", "required": ["message"]}))
        .unwrap();
    let options = LoadOptions {
        step_types: Some(Arc::new(plugins)),
        ..Default::default()
    };
    let yaml = "step_types:\n  shout:\n    type: echo\n    input_schema: {type: object}\n    template:\n      with: {message: '{{ .input.m }}!'}\nsteps:\n  - name: a\n    type: shout\n    with: {m: hey}\n";
    let file = load_with(yaml, &options).unwrap_or_else(|e| panic!("{e}"));
    let step = &file.main().steps[0];
    assert_eq!(step.step_type, "echo");
    assert_eq!(step.config, json!({"message": "hey!"}));

    let clash = "step_types:\n  echo:\n    type: command\n    input_schema: {type: object}\n    template: {command: x}\n";
    let errs = errors_with(clash, &options);
    assert!(errs[0].2.contains("provided by a plugin"), "{errs:?}");
}

#[test]
fn handlers_and_later_documents_use_their_own_definitions() {
    let yaml = format!(
        "{DEFINITIONS}handlerOn:\n  exit:\n    type: greet\n    with: {{name: end}}\nsteps:\n  - 'true'\n---\nname: sub\nsteps:\n  - name: a\n    type: greet\n    with: {{name: x}}\n"
    );
    let file = load(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let exit = file.main().handlers.exit.as_ref().unwrap();
    assert_eq!(
        exit.command,
        Some(Command::Line("echo hello end x1".into()))
    );
    let sub = &file.local("sub").unwrap().steps[0];
    assert_eq!(
        sub.step_type, "greet",
        "document 1 does not see document 0's types"
    );
}
