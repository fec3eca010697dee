//! The built-in `http` plugin (a WASM component embedded in `dagu`) against a small HTTP
//! server run by the test on 127.0.0.1: what the server receives, what the step prints,
//! redirects, timeouts, failing statuses, and the deployment's grant of hosts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::*;

const SUCCEEDED: i64 = 4;
const FAILED: i64 = 2;

/// One request as the server read it.
#[derive(Debug)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers a request with.
struct Answer {
    status: u16,
    reason: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn answer(status: u16, reason: &'static str, content_type: &str, body: &str) -> Option<Answer> {
    Some(Answer {
        status,
        reason,
        headers: vec![("Content-Type", content_type.to_string())],
        body: body.to_string(),
    })
}

/// An HTTP/1.1 server on 127.0.0.1 that answers one request per connection, in turn,
/// with what `respond` says (`None`: keep the connection open without answering), and
/// hands every request it read to the test.
struct Server {
    port: u16,
    received: Receiver<Received>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(respond: impl Fn(&Received) -> Option<Answer> + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test server");
        let port = listener.local_addr().unwrap().port();
        let (sender, received) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                // A bound on a stuck client, not a synchronisation.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let reply = respond(&request);
                let _ = sender.send(request);
                match reply {
                    Some(a) => write_answer(&mut stream, &a),
                    None => held.push(stream),
                }
            }
        });
        Server {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request received so far (complete once `dagu` has exited).
    fn requests(&self) -> Vec<Received> {
        self.received.try_iter().collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn write_answer(stream: &mut TcpStream, a: &Answer) {
    let mut text = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.status,
        a.reason,
        a.body.len()
    );
    for (name, value) in &a.headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(&a.body);
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

/// Runs `dag.yaml` with `yaml`; returns the run and its status JSON.
fn start(sb: &Sandbox, yaml: &str) -> (Run, serde_json::Value) {
    sb.write("dag.yaml", yaml);
    let run = sb.run(&["start", "dag.yaml"]);
    let st = sb.status_json("dag");
    (run, st)
}

/// The text of step `name`'s `stream` log (`stdout` or `stderr`).
fn log(st: &serde_json::Value, name: &str, stream: &str) -> String {
    let path = node(st, name)[stream]
        .as_str()
        .unwrap_or_default()
        .to_string();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name} {stream} log {path}: {e}"))
}

fn error(st: &serde_json::Value, name: &str) -> String {
    node(st, name)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn get_sends_query_and_headers_and_prints_the_response() {
    let server = Server::start(|_| answer(200, "OK", "text/plain", "hello\nworld\n"));
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            r#"env:
  - TOKEN: secret-1
steps:
  - name: get
    executor: http
    command: GET {}
    config:
      query:
        q: a b
        tag: x&y
      headers:
        X-Token: ${{TOKEN}}
        Accept: text/plain
      debug: true
"#,
            server.url("/items?page=2")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "get"), SUCCEEDED);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/items?page=2&q=a%20b&tag=x%26y");
    assert_eq!(r.header("x-token"), Some("secret-1"));
    assert_eq!(r.header("accept"), Some("text/plain"));
    assert!(
        r.header("user-agent")
            .unwrap_or_default()
            .starts_with("dagu-http/"),
        "{r:?}"
    );
    assert_eq!(r.body, "");
    assert_eq!(
        log(&st, "get", "stdout"),
        "HTTP/1.1 200 OK\nContent-Length: 12\nContent-Type: text/plain\n\n\
         hello\nworld\n"
    );
    let stderr = log(&st, "get", "stderr");
    assert!(
        stderr.contains(&format!(
            "> GET {}\n",
            server.url("/items?page=2&q=a%20b&tag=x%26y")
        )),
        "{stderr}"
    );
    assert!(stderr.contains("> Accept: text/plain\n"), "{stderr}");
    assert!(stderr.contains("< HTTP/1.1 200 OK\n"), "{stderr}");
}

#[test]
fn post_sends_the_body_from_config_or_script() {
    let server = Server::start(|r| answer(201, "Created", "application/json", &r.body));
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            r#"steps:
  - name: config-body
    executor:
      type: http
      config:
        headers:
          Content-Type: application/json
        body: '{{"item": "book"}}'
    command: POST {url}
  - name: script-body
    type: http
    command: PUT {url}
    script: |
      {{"body": "from the script", "headers": {{"X-From": "script"}}, "silent": true}}
"#,
            url = server.url("/orders")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let (post, put) = (&requests[0], &requests[1]);
    assert_eq!(
        (post.method.as_str(), post.target.as_str()),
        ("POST", "/orders")
    );
    assert_eq!(post.body, r#"{"item": "book"}"#);
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("content-length"), Some("16"));
    assert!(log(&st, "config-body", "stdout").starts_with("HTTP/1.1 201 Created\n"));
    assert_eq!(put.method, "PUT");
    assert_eq!(put.body, "from the script");
    assert_eq!(put.header("x-from"), Some("script"));
    assert_eq!(
        put.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(log(&st, "script-body", "stdout"), "from the script\n");
}

#[test]
fn silent_output_is_captured_for_a_later_step() {
    let server = Server::start(|_| answer(200, "OK", "text/plain", "item-42\n"));
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            r#"steps:
  - name: fetch
    type: http
    command: GET {}
    config:
      silent: "true"
    output: ITEM
  - name: use
    command: echo "got ${{ITEM}}"
"#,
            server.url("/next")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(log(&st, "fetch", "stdout"), "item-42\n");
    assert_eq!(log(&st, "use", "stdout"), "got item-42\n");
}

#[test]
fn json_output_is_one_indented_object() {
    let server = Server::start(|_| {
        answer(
            200,
            "OK",
            "application/json",
            r#"{"name": "ada", "roles": ["admin"]}"#,
        )
    });
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            "steps:\n  - name: j\n    type: http\n    command: GET {}\n    config:\n      json: true\n",
            server.url("/user")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let text = log(&st, "j", "stdout");
    let printed: serde_json::Value = serde_json::from_str(&text).expect("JSON output");
    assert_eq!(
        printed,
        serde_json::json!({
            "status_code": 200,
            "headers": {
                "Content-Length": ["35"],
                "Content-Type": ["application/json"]
            },
            "body": {"name": "ada", "roles": ["admin"]}
        })
    );
    assert!(text.starts_with("{\n    \"status_code\": 200,\n"), "{text}");
}

#[test]
fn a_500_prints_the_response_and_fails_the_step() {
    let server = Server::start(|_| answer(500, "Internal Server Error", "text/plain", "boom"));
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            r#"steps:
  - name: broken
    type: http
    command: DELETE {}
    config:
      silent: true
  - name: after
    command: echo never
"#,
            server.url("/x")
        ),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(state(&st, "broken"), FAILED);
    let e = error(&st, "broken");
    assert!(e.contains("http status code not 2xx: 500"), "{e}");
    // silent prints the body alone only for 2xx.
    let out = log(&st, "broken", "stdout");
    assert!(
        out.starts_with("HTTP/1.1 500 Internal Server Error\n"),
        "{out}"
    );
    assert!(out.ends_with("\n\nboom\n"), "{out}");
    assert_ne!(state(&st, "after"), SUCCEEDED);
    assert_eq!(server.requests()[0].method, "DELETE");
}

#[test]
fn redirects_are_followed() {
    let server = Server::start(|r| match r.target.as_str() {
        "/old" => Some(Answer {
            status: 302,
            reason: "Found",
            headers: vec![("Location", "/new".to_string())],
            body: String::new(),
        }),
        _ => answer(200, "OK", "text/plain", "moved here"),
    });
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            "steps:\n  - name: r\n    type: http\n    command: GET {}\n    config:\n      silent: true\n",
            server.url("/old")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let targets: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/old", "/new"]);
    assert_eq!(log(&st, "r", "stdout"), "moved here\n");
}

#[test]
fn the_config_timeout_ends_a_request_that_gets_no_answer() {
    let server = Server::start(|_| None);
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            "steps:\n  - name: slow\n    type: http\n    command: GET {}\n    config:\n      timeout: 1\n",
            server.url("/slow")
        ),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let e = error(&st, "slow");
    assert!(
        e.contains(&format!(
            "GET {}: timed out after 1s (config timeout)",
            server.url("/slow")
        )),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_unreachable_server_fails_with_the_url() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        &format!(
            "steps:\n  - name: down\n    type: http\n    command: GET http://127.0.0.1:{port}/x\n"
        ),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let e = error(&st, "down");
    assert!(
        e.contains(&format!(
            "GET http://127.0.0.1:{port}/x: connection refused"
        )),
        "{e}"
    );
}

#[test]
fn a_config_the_schema_rejects_is_reported_at_load() {
    let sb = Sandbox::new();
    sb.write(
        "dag.yaml",
        "steps:\n  - name: a\n    type: http\n    command: GET http://127.0.0.1:1/\n    \
         config:\n      method: POST\n",
    );
    for command in ["validate", "start"] {
        let run = sb.run(&[command, "dag.yaml"]);
        assert_ne!(run.code, 0, "{}", run.explain());
        assert!(
            run.stderr.contains("steps[0].config") && run.stderr.contains("method"),
            "{}",
            run.explain()
        );
    }
}

#[test]
fn bad_request_lines_are_refused_before_sending() {
    let sb = Sandbox::new();
    let (run, st) = start(
        &sb,
        r#"steps:
  - name: no-url
    type: http
    command: GET
    continueOn:
      failure: true
  - name: no-scheme
    type: http
    command: GET 127.0.0.1/x
"#,
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    let e = error(&st, "no-url");
    assert!(e.contains("`<METHOD> <URL>`"), "{e}");
    let e = error(&st, "no-scheme");
    assert!(e.contains("must start with http:// or https://"), "{e}");
}

#[test]
fn a_deployment_grant_limits_the_hosts_the_plugin_reaches() {
    let server = Server::start(|_| answer(200, "OK", "text/plain", "should not be reached"));
    let sb = Sandbox::new();
    sb.write_home(
        "config.yaml",
        "plugins:\n  grants:\n    http:\n      http_hosts: [example.invalid]\n",
    );
    let (run, st) = start(
        &sb,
        &format!(
            "steps:\n  - name: local\n    type: http\n    command: GET {}\n",
            server.url("/x")
        ),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(state(&st, "local"), FAILED);
    let e = error(&st, "local");
    assert!(e.contains("permission denied"), "{e}");
    assert!(
        e.contains(&format!(
            "GET {}: the host refused the request",
            server.url("/x")
        )),
        "{e}"
    );
    assert!(e.contains("not granted host '127.0.0.1'"), "{e}");
    assert!(server.requests().is_empty());
    assert_eq!(log(&st, "local", "stdout"), "");
}
