//! The `http` step run in-process, with canned responses in place of the network.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dagu_plugin_sdk::testing::{lines_of, request, run_in_process};
use dagu_plugin_sdk::{LogStream, Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};
use serde_json::{Value, json};

use crate::output::Reply;
use crate::request::{Call, USER_AGENT};
use crate::{Failure, Http, Transport, execute};

/// Answers each request with the next canned outcome and records what it was asked.
#[derive(Default)]
struct Canned {
    outcomes: Mutex<VecDeque<Result<Reply, Failure>>>,
    seen: Mutex<Vec<(Call, Option<Instant>)>>,
}

impl Transport for Canned {
    fn send(
        &self,
        call: &Call,
        deadline: Option<Instant>,
        _: &RunContext,
    ) -> Result<Reply, Failure> {
        self.seen.lock().unwrap().push((call.clone(), deadline));
        self.outcomes
            .lock()
            .unwrap()
            .pop_front()
            .expect("no canned outcome left")
    }
}

impl Plugin for Canned {
    fn describe(&self) -> Manifest {
        crate::manifest::manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        execute(&request, ctx, self)
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    Reply {
        version: "HTTP/1.1".into(),
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

/// What a run printed and how it ended, with the requests it sent.
struct Ran {
    outcome: Result<RunResponse, RunError>,
    stdout: Vec<String>,
    stderr: Vec<String>,
    sent: Vec<(Call, Option<Instant>)>,
}

fn run_with(
    command: &str,
    config: Value,
    script: Option<&str>,
    outcomes: Vec<Result<Reply, Failure>>,
) -> Ran {
    let canned = Canned {
        outcomes: Mutex::new(outcomes.into()),
        ..Canned::default()
    };
    let request = RunRequest {
        command: vec![command.to_string()],
        config,
        script: script.map(str::to_string),
        ..request("http")
    };
    let (outcome, lines) = run_in_process(&canned, request);
    Ran {
        outcome,
        stdout: lines_of(&lines, LogStream::Stdout),
        stderr: lines_of(&lines, LogStream::Stderr),
        sent: canned.seen.into_inner().unwrap(),
    }
}

fn run(command: &str, config: Value, outcome: Result<Reply, Failure>) -> Ran {
    run_with(command, config, None, vec![outcome])
}

fn failed_message(ran: &Ran) -> &str {
    match &ran.outcome {
        Err(RunError::Failed {
            exit_code: 1,
            message,
        }) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn natively_the_plugin_has_no_transport() {
    let request = RunRequest {
        command: vec!["GET http://example.com/".into()],
        ..request("http")
    };
    let (outcome, lines) = run_in_process(&Http, request);
    assert_eq!(
        outcome,
        Err(RunError::internal(
            "the http plugin runs only as a WASM component"
        ))
    );
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn config_errors_come_before_sending() {
    let request = RunRequest {
        command: vec!["GET example.com".into()],
        ..request("http")
    };
    let (outcome, _) = run_in_process(&Http, request);
    assert!(
        matches!(&outcome, Err(RunError::InvalidConfig { message })
            if message.contains("must start with http:// or https://")),
        "{outcome:?}"
    );
    let ran = run("GET", json!({}), Ok(reply(200, &[], "")));
    assert!(matches!(ran.outcome, Err(RunError::InvalidConfig { .. })));
    assert!(ran.sent.is_empty());
}

#[test]
fn get_sends_query_and_headers_and_prints_the_whole_response() {
    let ran = run(
        "GET http://api.test/items?page=2",
        json!({"query": {"q": "a b", "limit": 5}, "headers": {"Accept": "application/json"}}),
        Ok(reply(
            200,
            &[("content-type", "text/plain"), ("x-count", "2")],
            "first\nsecond\n",
        )),
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    let (call, deadline) = &ran.sent[0];
    assert_eq!(call.method, "GET");
    assert_eq!(call.url, "http://api.test/items?page=2&limit=5&q=a%20b");
    assert_eq!(
        call.headers,
        [
            ("Accept".to_string(), "application/json".to_string()),
            ("User-Agent".into(), USER_AGENT.into())
        ]
    );
    assert_eq!(call.body, None);
    assert_eq!(*deadline, None);
    assert_eq!(
        ran.stdout,
        [
            "HTTP/1.1 200 OK",
            "Content-Type: text/plain",
            "X-Count: 2",
            "",
            "first",
            "second"
        ]
    );
    assert!(ran.stderr.is_empty(), "{:?}", ran.stderr);
}

#[test]
fn post_sends_the_body_with_its_length() {
    let ran = run(
        "POST http://api.test/items",
        json!({"body": "{\"name\": \"x\"}", "headers": {"Content-Type": "application/json"}}),
        Ok(reply(201, &[], "created")),
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    let call = &ran.sent[0].0;
    assert_eq!(call.method, "POST");
    assert_eq!(call.body.as_deref(), Some("{\"name\": \"x\"}"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(call.header("content-length"), Some("13"));
    assert_eq!(ran.stdout, ["HTTP/1.1 201 Created", "", "created"]);
}

#[test]
fn silent_prints_the_body_only() {
    let ran = run(
        "GET http://api.test/",
        json!({"silent": true}),
        Ok(reply(200, &[("a", "1")], "{\"id\": 7}\n")),
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert_eq!(ran.stdout, ["{\"id\": 7}"]);
    // An empty body prints nothing at all.
    let ran = run(
        "GET http://api.test/",
        json!({"silent": true}),
        Ok(reply(204, &[("a", "1")], "")),
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert!(ran.stdout.is_empty(), "{:?}", ran.stdout);
}

#[test]
fn json_prints_one_object() {
    let ran = run(
        "GET http://api.test/",
        json!({"json": true}),
        Ok(reply(
            200,
            &[("content-type", "application/json")],
            "{\"ok\": true}",
        )),
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    let printed: Value = serde_json::from_str(&ran.stdout.join("\n")).unwrap();
    assert_eq!(
        printed,
        json!({"status_code": 200, "headers": {"Content-Type": ["application/json"]},
               "body": {"ok": true}})
    );
    assert_eq!(ran.stdout[1], "    \"status_code\": 200,");
}

#[test]
fn a_status_outside_2xx_prints_the_response_and_fails() {
    for config in [json!({}), json!({"silent": true})] {
        let ran = run(
            "DELETE http://api.test/x",
            config,
            Ok(reply(500, &[("content-type", "text/plain")], "boom")),
        );
        assert_eq!(failed_message(&ran), "http status code not 2xx: 500");
        assert_eq!(
            ran.stdout,
            [
                "HTTP/1.1 500 Internal Server Error",
                "Content-Type: text/plain",
                "",
                "boom"
            ]
        );
    }
    let ran = run(
        "GET http://api.test/x",
        json!({"json": true}),
        Ok(reply(404, &[], "nope")),
    );
    assert_eq!(failed_message(&ran), "http status code not 2xx: 404");
    let printed: Value = serde_json::from_str(&ran.stdout.join("\n")).unwrap();
    assert_eq!(printed["body"], "nope");
}

#[test]
fn a_json_script_carries_config_under_the_config() {
    let script = r#"{"body": "from the script", "silent": true,
                     "headers": {"X-A": "script", "X-B": "script"}}"#;
    let ran = run_with(
        "PUT http://api.test/",
        json!({"headers": {"X-B": "config"}}),
        Some(script),
        vec![Ok(reply(200, &[], "done"))],
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    let call = &ran.sent[0].0;
    assert_eq!(call.body.as_deref(), Some("from the script"));
    assert_eq!(call.header("x-a"), Some("script"));
    assert_eq!(call.header("x-b"), Some("config"));
    assert_eq!(ran.stdout, ["done"]);
}

#[test]
fn redirects_are_followed_and_debug_logs_each_hop() {
    let ran = run_with(
        "POST http://api.test/form",
        json!({"body": "a=1", "debug": true, "silent": true}),
        None,
        vec![
            Ok(reply(303, &[("location", "/done")], "")),
            Ok(reply(200, &[("content-type", "text/plain")], "thanks")),
        ],
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert_eq!(ran.sent.len(), 2);
    assert_eq!(ran.sent[1].0.method, "GET");
    assert_eq!(ran.sent[1].0.url, "http://api.test/done");
    assert_eq!(ran.sent[1].0.body, None);
    assert_eq!(ran.stdout, ["thanks"]);
    let stderr = ran.stderr.join("\n");
    for expected in [
        "> POST http://api.test/form",
        "> Content-Length: 3",
        "< HTTP/1.1 303 See Other",
        "< Location: /done",
        "> GET http://api.test/done",
        "< HTTP/1.1 200 OK",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    }
}

#[test]
fn endless_redirects_fail() {
    let hops = (0..11)
        .map(|i| Ok(reply(302, &[("location", &format!("/r{i}"))], "")))
        .collect();
    let ran = run_with("GET http://api.test/", json!({}), None, hops);
    assert_eq!(
        failed_message(&ran),
        "GET http://api.test/r9: stopped after 10 redirects"
    );
    assert_eq!(ran.sent.len(), 11);
    assert!(ran.stdout.is_empty());
}

#[test]
fn transport_failures_name_the_request() {
    let ran = run(
        "GET http://127.0.0.1:9/x",
        json!({}),
        Err(Failure::Broken("connection refused".into())),
    );
    assert_eq!(
        failed_message(&ran),
        "GET http://127.0.0.1:9/x: connection refused"
    );
    let ran = run(
        "GET http://api.test/",
        json!({"timeout": 1.5}),
        Err(Failure::TimedOut),
    );
    assert_eq!(
        failed_message(&ran),
        "GET http://api.test/: timed out after 1.5s (config timeout)"
    );
    let deadline = ran.sent[0].1.expect("a deadline");
    assert!(deadline <= Instant::now() + Duration::from_millis(1500));
    let ran = run("GET http://api.test/", json!({}), Err(Failure::Cancelled));
    assert_eq!(ran.outcome, Err(RunError::Cancelled));
}

#[test]
fn skip_tls_verify_is_accepted_with_a_warning() {
    let ran = run(
        "GET https://self-signed.test/",
        json!({"skipTLSVerify": true}),
        Err(Failure::Broken("TLS certificate error".into())),
    );
    assert_eq!(
        failed_message(&ran),
        "GET https://self-signed.test/: TLS certificate error (skipTLSVerify cannot turn off \
         certificate verification in this plugin)"
    );
    assert_eq!(ran.stderr.len(), 1);
    assert!(ran.stderr[0].contains("skipTLSVerify is not supported"));
}

#[test]
fn host_managed_headers_are_dropped_with_a_warning() {
    let ran = run(
        "GET http://api.test/",
        json!({"headers": {"Connection": "keep-alive", "X-Ok": "1"}}),
        Ok(reply(200, &[], "")),
    );
    assert_eq!(ran.outcome, Ok(RunResponse::default()));
    assert_eq!(ran.sent[0].0.header("connection"), None);
    assert_eq!(ran.sent[0].0.header("x-ok"), Some("1"));
    assert_eq!(ran.stderr.len(), 1, "{:?}", ran.stderr);
    assert!(ran.stderr[0].contains("header Connection"));
}
