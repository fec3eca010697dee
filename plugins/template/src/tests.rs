//! The `template` step run in-process, end to end.

use std::fs;

use dagu_plugin_sdk::testing::{request, run_in_process};
use dagu_plugin_sdk::{LogStream, Plugin, RunError, RunRequest, RunResponse};
use serde_json::{Value, json};

use crate::Template;

/// Runs `source` with `config` (and `work_dir`), returning the outcome and stdout lines.
fn run_in(
    work_dir: Option<&str>,
    source: &str,
    config: Value,
) -> (Result<RunResponse, RunError>, Vec<String>) {
    let request = RunRequest {
        script: Some(source.to_string()),
        config,
        work_dir: work_dir.map(str::to_string),
        ..request("template")
    };
    let (outcome, lines) = run_in_process(&Template, request);
    let stdout = lines
        .into_iter()
        .map(|(stream, line)| {
            assert_eq!(stream, LogStream::Stdout, "{line}");
            line
        })
        .collect();
    (outcome, stdout)
}

fn rendered(source: &str, data: Value) -> Vec<String> {
    let (outcome, stdout) = run_in(None, source, json!({"data": data}));
    assert_eq!(outcome, Ok(RunResponse::default()));
    stdout
}

fn failure(source: &str, data: Value) -> String {
    match run_in(None, source, json!({"data": data})).0 {
        Err(RunError::Failed { message, .. }) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn data_is_dot() {
    assert_eq!(
        rendered(
            "Hello, {{ .name }}! {{ .n }} {{ .x.y }}",
            json!({"name": "Ada", "n": 3, "x": {"y": 1.5}})
        ),
        ["Hello, Ada! 3 1.5"]
    );
}

#[test]
fn range_and_if() {
    let source = "{{ range $i, $u := .users }}{{ if $u.admin }}*{{ else }}-{{ end }}{{ $i }}:{{ $u.name }}\n{{ end }}";
    let data = json!({"users": [{"name": "a", "admin": true}, {"name": "b", "admin": false}]});
    assert_eq!(rendered(source, data), ["*0:a", "-1:b"]);
}

#[test]
fn a_missing_key_is_an_error() {
    assert_eq!(
        failure("{{ .nope }}", json!({"name": "x"})),
        "rendering the template failed: map has no entry for key \"nope\""
    );
}

#[test]
fn a_syntax_error_fails_the_step() {
    let message = failure("{{ if .a }}", json!({"a": 1}));
    assert!(
        message.starts_with("the template does not parse"),
        "{message}"
    );
}

#[test]
fn helpers_are_available() {
    let source = r#"{{ json . }}|{{ upper .s }}|{{ lower .s }}|{{ trim "  t  " }}|{{ .l | join ", " }}|{{ html "<a&b>" }}|{{ js "it's" }}|{{ slice .s 1 3 }}|{{ len .l }}|{{ index .l 1 }}|{{ printf "%d-%s" 7 .s }}"#;
    let data = json!({"s": "MiXed", "l": ["x", 2], "b": {"z": 1, "a": null}});
    assert_eq!(
        rendered(source, data),
        [
            r#"{"b":{"a":null,"z":1},"l":["x",2],"s":"MiXed"}|MIXED|mixed|t|x, 2|&lt;a&amp;b&gt;|it\'s|iX|2|2|7-MiXed"#
        ]
    );
}

#[test]
fn defined_templates_can_be_called() {
    let source =
        r#"{{ define "item" }}<{{ . }}>{{ end }}{{ range .l }}{{ template "item" . }}{{ end }}"#;
    assert_eq!(rendered(source, json!({"l": [1, 2]})), ["<1><2>"]);
}

#[test]
fn a_trailing_line_break_is_not_doubled_and_empty_output_prints_nothing() {
    assert_eq!(rendered("a\nb\n", json!(null)), ["a", "b"]);
    assert!(rendered("{{ if false }}x{{ end }}", json!(null)).is_empty());
}

#[test]
fn output_writes_the_file_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().join("out").exists());
    let (outcome, stdout) = run_in(
        dir.path().to_str(),
        "port={{ .port }}\n",
        json!({"data": {"port": 8080}, "output": "out/app.conf"}),
    );
    assert_eq!(outcome, Ok(RunResponse::default()));
    assert!(stdout.is_empty());
    assert_eq!(
        fs::read_to_string(dir.path().join("out/app.conf")).unwrap(),
        "port=8080\n"
    );
    let names: Vec<_> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["app.conf"], "no temporary file is left behind");
}

#[test]
fn output_replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f.txt"), "old contents, longer").unwrap();
    let (outcome, _) = run_in(dir.path().to_str(), "new", json!({"output": "f.txt"}));
    assert_eq!(outcome, Ok(RunResponse::default()));
    assert_eq!(fs::read_to_string(dir.path().join("f.txt")).unwrap(), "new");
}

#[test]
fn a_failed_render_leaves_the_output_alone() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f.txt"), "old").unwrap();
    let (outcome, _) = run_in(
        dir.path().to_str(),
        "{{ .x }}",
        json!({"data": {}, "output": "f.txt"}),
    );
    assert!(matches!(outcome, Err(RunError::Failed { .. })));
    assert_eq!(fs::read_to_string(dir.path().join("f.txt")).unwrap(), "old");
}

#[test]
fn no_script_fails() {
    let (outcome, _) = run_in_process(&Template, request("template"));
    assert_eq!(
        outcome,
        Err(RunError::failed(1, "the template step needs a script"))
    );
}

#[test]
fn an_unknown_config_key_is_invalid_config() {
    let (outcome, _) = run_in(None, "x", json!({"outputFile": "x"}));
    assert!(matches!(outcome, Err(RunError::InvalidConfig { .. })));
}

#[test]
fn describes_one_step_type_that_may_write_its_output() {
    let manifest = Template.describe();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("template", "0.1.0")
    );
    assert_eq!(manifest.step_types[0].name, "template");
    assert_eq!(
        manifest.step_types[0].config_schema["additionalProperties"],
        json!(false)
    );
    assert_eq!(manifest.capabilities.fs_write, ["."]);
    assert!(manifest.capabilities.fs_read.is_empty());
}
