//! The serve loop driven over in-memory pipes.

use std::io::{BufReader, PipeWriter};
use std::sync::mpsc;
use std::thread;

use serde_json::{Value, json};

use super::*;
use crate::records::{Manifest, RunRequest, RunResponse, StepTypeInfo};

/// How long a test waits for any one message before failing.
const DEADLINE: Duration = Duration::from_secs(30);

struct Echo;

impl Plugin for Echo {
    fn describe(&self) -> Manifest {
        Manifest {
            name: "echo".into(),
            version: "0.1.0".into(),
            protocol: PROTOCOL_V1.into(),
            step_types: vec![StepTypeInfo {
                name: "echo".into(),
                description: "echoes".into(),
                config_schema: json!({"type": "object"}),
                output_schema: None,
            }],
            capabilities: Default::default(),
        }
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        let message = request.config["message"].as_str().unwrap_or_default();
        if message == "panic" {
            panic!("asked to panic");
        }
        if request.config["wait"] == json!(true) {
            ctx.stdout("waiting");
            return if ctx.wait_cancelled(DEADLINE) {
                Err(RunError::Cancelled)
            } else {
                Err(RunError::failed(1, "never cancelled"))
            };
        }
        ctx.stdout(message);
        ctx.stderr("a\nb");
        Ok(RunResponse {
            exit_code: 0,
            outputs: vec![("MESSAGE".into(), message.into())],
            result_json: None,
        })
    }
}

/// A plugin served on a thread, with the host's ends of its pipes.
struct Harness {
    to_plugin: Option<PipeWriter>,
    from_plugin: mpsc::Receiver<Value>,
    served: thread::JoinHandle<io::Result<()>>,
}

impl Harness {
    fn start() -> Harness {
        let (in_reader, in_writer) = io::pipe().unwrap();
        let (out_reader, out_writer) = io::pipe().unwrap();
        let served = thread::spawn(move || serve(Echo, BufReader::new(in_reader), out_writer));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out_reader).lines() {
                let Ok(line) = line else { break };
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Harness {
            to_plugin: Some(in_writer),
            from_plugin: rx,
            served,
        }
    }

    /// Starts a plugin and completes the handshake.
    fn ready() -> Harness {
        let mut h = Harness::start();
        assert_eq!(
            h.recv(),
            json!({"type": "hello", "protocols": ["dagu-plugin/1"]})
        );
        h.send(json!({"type": "hello", "protocol": "dagu-plugin/1"}));
        h
    }

    fn send(&mut self, message: Value) {
        let w = self.to_plugin.as_mut().unwrap();
        writeln!(w, "{message}").unwrap();
    }

    fn recv(&self) -> Value {
        self.from_plugin
            .recv_timeout(DEADLINE)
            .expect("no message from the plugin")
    }

    fn run(&mut self, id: &str, config: Value) {
        self.send(json!({"type": "run", "id": id, "request": {
            "run_id": "r", "step_name": "s", "step_type": "echo", "config": config}}));
    }

    /// Closes the plugin's input and returns what `serve` returned.
    fn finish(mut self) -> io::Result<()> {
        self.to_plugin = None;
        self.served.join().unwrap()
    }
}

#[test]
fn describe_answers_with_the_manifest() {
    let mut h = Harness::ready();
    h.send(json!({"type": "describe"}));
    let m = h.recv();
    assert_eq!(m["type"], "manifest");
    assert_eq!(m["manifest"]["step_types"][0]["name"], "echo");
    assert_eq!(m["manifest"]["protocol"], "dagu-plugin/1");
    h.finish().unwrap();
}

#[test]
fn a_run_streams_its_logs_before_done() {
    let mut h = Harness::ready();
    h.run("1", json!({"message": "hi"}));
    assert_eq!(
        h.recv(),
        json!({"type": "log", "id": "1", "stream": "stdout", "line": "hi"})
    );
    assert_eq!(
        h.recv(),
        json!({"type": "log", "id": "1", "stream": "stderr", "line": "a"})
    );
    assert_eq!(
        h.recv(),
        json!({"type": "log", "id": "1", "stream": "stderr", "line": "b"})
    );
    assert_eq!(
        h.recv(),
        json!({"type": "done", "id": "1", "ok": {"exit_code": 0, "outputs": [["MESSAGE", "hi"]]}})
    );
    h.finish().unwrap();
}

#[test]
fn runs_are_concurrent_and_cancel_reaches_the_right_one() {
    let mut h = Harness::ready();
    h.run("slow", json!({"wait": true}));
    assert_eq!(h.recv()["line"], "waiting");
    // The slow run is still going; another run is served meanwhile.
    h.run("fast", json!({"message": "quick"}));
    let mut fast_done = None;
    while fast_done.is_none() {
        let m = h.recv();
        assert_eq!(m["id"], "fast", "only the fast run may make progress: {m}");
        if m["type"] == "done" {
            fast_done = Some(m);
        }
    }
    assert_eq!(fast_done.unwrap()["ok"]["outputs"][0][1], "quick");
    h.send(json!({"type": "cancel", "id": "slow"}));
    assert_eq!(
        h.recv(),
        json!({"type": "done", "id": "slow", "err": {"kind": "cancelled"}})
    );
    h.finish().unwrap();
}

#[test]
fn a_panicking_run_fails_internal_and_the_plugin_carries_on() {
    let mut h = Harness::ready();
    h.run("1", json!({"message": "panic"}));
    let done = h.recv();
    assert_eq!(done["err"]["kind"], "internal");
    assert!(
        done["err"]["message"]
            .as_str()
            .unwrap()
            .contains("asked to panic")
    );
    h.run("2", json!({"message": "still here"}));
    assert_eq!(h.recv()["line"], "still here");
    h.finish().unwrap();
}

#[test]
fn a_duplicate_id_is_refused() {
    let mut h = Harness::ready();
    h.run("1", json!({"wait": true}));
    assert_eq!(h.recv()["line"], "waiting");
    h.run("1", json!({"message": "again"}));
    let done = h.recv();
    assert_eq!(done["id"], "1");
    assert_eq!(done["err"]["kind"], "internal");
    h.send(json!({"type": "cancel", "id": "1"}));
    assert_eq!(h.recv()["err"]["kind"], "cancelled");
    h.finish().unwrap();
}

#[test]
fn closing_input_cancels_runs_in_flight_and_returns() {
    let mut h = Harness::ready();
    h.run("1", json!({"wait": true}));
    assert_eq!(h.recv()["line"], "waiting");
    h.to_plugin = None;
    assert_eq!(
        h.recv(),
        json!({"type": "done", "id": "1", "err": {"kind": "cancelled"}})
    );
    h.finish().unwrap();
}

#[test]
fn shutdown_ends_the_loop_and_garbage_is_skipped() {
    let mut h = Harness::ready();
    writeln!(h.to_plugin.as_mut().unwrap(), "not json").unwrap();
    h.send(json!({"type": "describe"}));
    assert_eq!(h.recv()["type"], "manifest");
    h.send(json!({"type": "shutdown"}));
    // `serve` returns although the input is still open.
    let served = h.served;
    served.join().unwrap().unwrap();
}

#[test]
fn an_unknown_protocol_choice_is_refused() {
    let mut h = Harness::start();
    assert_eq!(h.recv()["type"], "hello");
    h.send(json!({"type": "hello", "protocol": "dagu-plugin/9"}));
    let err = h.finish().unwrap_err();
    assert!(err.to_string().contains("dagu-plugin/9"), "{err}");
}

/// Records the run-end and shutdown calls it gets.
#[derive(Default)]
struct Tracker {
    calls: Arc<Mutex<Vec<String>>>,
}

impl Plugin for Tracker {
    fn describe(&self) -> Manifest {
        Echo.describe()
    }

    fn run(&self, _request: RunRequest, _ctx: &RunContext) -> Result<RunResponse, RunError> {
        Ok(RunResponse::default())
    }

    fn end_run(&self, run_id: &str) {
        lock(&self.calls).push(format!("end_run {run_id}"));
    }

    fn shutdown(&self) {
        lock(&self.calls).push("shutdown".into());
    }
}

#[test]
fn end_run_reaches_the_plugin_and_shutdown_comes_last() {
    let tracker = Tracker::default();
    let calls = tracker.calls.clone();
    let input = [
        json!({"type": "hello", "protocol": "dagu-plugin/1"}),
        json!({"type": "end_run", "run_id": "r1"}),
        json!({"type": "end_run", "run_id": "r2"}),
    ]
    .map(|m| format!("{m}\n"))
    .concat();
    // The input ends without `shutdown`, as when the host goes away.
    serve(tracker, input.as_bytes(), io::sink()).unwrap();
    let calls = lock(&calls).clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls.contains(&"end_run r1".to_string()), "{calls:?}");
    assert!(calls.contains(&"end_run r2".to_string()), "{calls:?}");
    assert_eq!(calls.last().map(String::as_str), Some("shutdown"));
}
