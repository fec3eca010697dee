//! The `jq` step run in-process, end to end.

use dagu_plugin_sdk::testing::{lines_of, request, run_in_process};
use dagu_plugin_sdk::{LogStream, Plugin, RunError, RunRequest, RunResponse};
use serde_json::json;

use crate::Jq;

const ITEMS: &str = r#"{"items": [{"k": "a", "v": 1}, {"k": "b", "v": 3}, {"k": "c", "v": 5}]}"#;

/// What a run printed on stdout and stderr, and how it ended.
struct Ran {
    outcome: Result<RunResponse, RunError>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

fn run(filter: &str, input: &str, config: serde_json::Value) -> Ran {
    let request = RunRequest {
        command: vec![filter.to_string()],
        script: Some(input.to_string()),
        config,
        ..request("jq")
    };
    let (outcome, lines) = run_in_process(&Jq, request);
    Ran {
        outcome,
        stdout: lines_of(&lines, LogStream::Stdout),
        stderr: lines_of(&lines, LogStream::Stderr),
    }
}

fn stdout_of(filter: &str, input: &str) -> Vec<String> {
    let ran = run(filter, input, json!(null));
    assert_eq!(ran.outcome, Ok(RunResponse::default()), "{:?}", ran.stderr);
    ran.stdout
}

fn failure(ran: &Ran) -> &str {
    match &ran.outcome {
        Err(RunError::Failed { message, .. }) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn counts_selected_items() {
    assert_eq!(
        stdout_of("[.items[] | select(.v > 2) | .k] | length", ITEMS),
        ["2"]
    );
}

#[test]
fn prints_objects_indented_by_four_spaces_in_input_order() {
    assert_eq!(
        stdout_of(".items[1]", ITEMS),
        ["{", r#"    "k": "b","#, r#"    "v": 3"#, "}"]
    );
}

#[test]
fn prints_each_result_of_many() {
    assert_eq!(
        stdout_of(".items[].k", ITEMS),
        [r#""a""#, r#""b""#, r#""c""#]
    );
}

#[test]
fn raw_prints_strings_unquoted_and_other_values_as_json() {
    let ran = run(".items[].k, .items[0].v, [1]", ITEMS, json!({"raw": true}));
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert_eq!(ran.stdout, ["a", "b", "c", "1", "[", "    1", "]"]);
}

#[test]
fn a_blank_filter_prints_nothing() {
    let ran = run("  \n", ITEMS, json!(null));
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert!(ran.stdout.is_empty());
}

#[test]
fn a_multi_line_command_is_one_filter() {
    let request = RunRequest {
        command: vec![".items".to_string(), "| map(.v) | add".to_string()],
        script: Some(ITEMS.to_string()),
        ..request("jq")
    };
    let (outcome, lines) = run_in_process(&Jq, request);
    assert_eq!(outcome, Ok(RunResponse::default()));
    assert_eq!(lines, [(LogStream::Stdout, "9".to_string())]);
}

#[test]
fn standard_library_definitions_work() {
    assert_eq!(
        stdout_of(
            "[(.items | map(.v) | add), (.items | length), (.items[0] | keys_unsorted)]",
            ITEMS
        )
        .concat(),
        r#"[    9,    3,    [        "k",        "v"    ]]"#
    );
    assert_eq!(
        stdout_of(r#"[.[] | tostring | test("^[0-9]+$")] | all"#, "[1, 22]"),
        ["true"]
    );
}

#[test]
fn several_inputs_run_in_turn() {
    assert_eq!(stdout_of(". * 2", "1 2\n3"), ["2", "4", "6"]);
}

#[test]
fn no_input_means_null() {
    let ran = run("{a: 1} | .a", "", json!(null));
    assert_eq!(ran.stdout, ["1"]);
}

#[test]
fn env_is_the_steps_environment() {
    let request = RunRequest {
        command: vec!["[$ENV.GREETING, env.GREETING]".to_string()],
        env: vec![("GREETING".to_string(), "hi".to_string())],
        config: json!({"raw": true}),
        ..request("jq")
    };
    let (outcome, lines) = run_in_process(&Jq, request);
    assert_eq!(outcome, Ok(RunResponse::default()));
    let text: String = lines.into_iter().map(|(_, l)| l).collect();
    assert_eq!(text, r#"[    "hi",    "hi"]"#);
}

#[test]
fn bad_input_json_fails_the_step() {
    let ran = run(".", r#"{"a": }"#, json!(null));
    assert!(
        failure(&ran).starts_with("the input (script) is not valid JSON"),
        "{}",
        failure(&ran)
    );
    assert!(ran.stdout.is_empty());
}

#[test]
fn a_syntax_error_names_its_position() {
    let ran = run(".a | (", "{}", json!(null));
    let message = failure(&ran);
    assert!(message.starts_with("invalid jq filter: "), "{message}");
    assert!(message.contains("line 1, column "), "{message}");
}

#[test]
fn an_undefined_filter_is_named_with_its_arity() {
    let ran = run("1 |\n nosuch(1)", "{}", json!(null));
    assert_eq!(
        failure(&ran),
        "invalid jq filter: undefined filter `nosuch/1` at line 2, column 2"
    );
}

#[test]
fn a_runtime_error_goes_to_stderr_after_earlier_results() {
    let ran = run(".[] | .a", r#"[{"a": 1}, 5]"#, json!(null));
    assert_eq!(ran.stdout, ["1"]);
    assert_eq!(ran.stderr.len(), 1);
    assert!(ran.stderr[0].starts_with("jq: error: "), "{:?}", ran.stderr);
    assert_eq!(failure(&ran), ran.stderr[0]);
}

#[test]
fn error_with_a_string_prints_it_raw() {
    let ran = run(r#"error("boom")"#, "null", json!(null));
    assert_eq!(ran.stderr, ["jq: error: boom"]);
}

#[test]
fn debug_and_stderr_go_to_the_stderr_log() {
    let ran = run(r#"debug | stderr | "x" | stderr"#, "[1]", json!(null));
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert_eq!(ran.stderr, [r#"["DEBUG:",[1]]"#, "[1]", "x"]);
    assert_eq!(ran.stdout, [r#""x""#]);
}

#[test]
fn halt_error_fails_with_its_exit_code() {
    let ran = run(r#"1, ("bye" | halt_error(3)), 2"#, "null", json!(null));
    assert_eq!(ran.stdout, ["1"]);
    assert_eq!(ran.stderr, ["bye"]);
    assert!(matches!(
        ran.outcome,
        Err(RunError::Failed { exit_code: 3, .. })
    ));
}

#[test]
fn halt_ends_the_run_successfully() {
    let ran = run("1, halt, 2", "null", json!(null));
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert_eq!(ran.stdout, ["1"]);
}

#[test]
fn an_unknown_config_key_is_invalid_config() {
    let ran = run(".", "1", json!({"rawOutput": true}));
    assert!(matches!(ran.outcome, Err(RunError::InvalidConfig { .. })));
}

#[test]
fn describes_one_step_type_without_capabilities() {
    let manifest = Jq.describe();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("jq", "0.1.0")
    );
    assert_eq!(manifest.protocol, "dagu-plugin/1");
    assert_eq!(manifest.step_types.len(), 1);
    assert_eq!(manifest.step_types[0].name, "jq");
    assert_eq!(
        manifest.step_types[0].config_schema["additionalProperties"],
        json!(false)
    );
    assert_eq!(manifest.capabilities, Default::default());
}

#[test]
fn filters_across_the_standard_library_compile_with_only_what_they_need() {
    let cases = [
        (r#"@base64 "x\(.a)""#, r#""xMQ==""#),
        ("[paths] | length", "2"),
        ("[.. | numbers]", "[    1]"),
        (r#".s | ascii_downcase | ltrimstr("a")"#, r#""bc""#),
        (r#"[.s | splits("B")] | join("-")"#, r#""a-C""#),
        ("[limit(1; repeat(.a))]", "[    1]"),
        ("to_entries | from_entries | keys", r#"["a",    "s"]"#),
        ("with_entries(.value |= tostring) | .a", r#""1""#),
        (
            "[.a, 2] | [min, max, (sort_by(-.) | first)]",
            "[    1,    2,    2]",
        ),
        ("[.a] | @csv", r#""1""#),
        (
            r#"getpath(["a"]) as $x | reduce range(3) as $i ($x; . + $i)"#,
            "4",
        ),
        ("[foreach (1, 2) as $x (0; . + $x)] | add", "4"),
        ("try error(\"e\") catch .", r#""e""#),
        (
            "walk(if type == \"number\" then . + 1 else . end) | .a",
            "2",
        ),
        ("del(.s) | tojson | fromjson | .a", "1"),
        ("[.a] | inside([1, 2])", "true"),
        ("[(.s | test(\"b\"; \"i\")), (.a | isnan)] | any", "true"),
        ("{a} | has(\"a\") and (.a | IN(1, 2))", "true"),
        ("def f(g): g * 2; f(.a)", "2"),
        ("[.[] | strings] | length", "1"),
        ("now | type", r#""number""#),
        ("[(.a | IN(2, 1)), IN(.[]; 1)] | all", "true"),
        (r#"[{"id": 7}] | INDEX(.id) | keys"#, r#"["7"]"#),
        (".a | toarray", "[    1]"),
    ];
    for (filter, expected) in cases {
        let ran = run(filter, r#"{"a": 1, "s": "aBC"}"#, json!(null));
        assert_eq!(ran.outcome, Ok(RunResponse::default()), "{filter}");
        let printed = ran.stdout.concat();
        let expected = expected.replace("\n", "");
        assert_eq!(
            printed.replace(' ', ""),
            expected.replace(' ', ""),
            "{filter}"
        );
    }
}
