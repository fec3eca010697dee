//! The JSON Schemas in `schemas/` agree with the serde types.

use serde_json::{Value, json};

use crate::protocol::{HostMessage, Outcome, PluginMessage, encode};
use crate::records::*;

fn schema(name: &str) -> Value {
    let path = format!("{}/../schemas/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&schema(name))
        .unwrap()
}

fn manifest() -> Manifest {
    Manifest {
        name: "python-echo".into(),
        version: "0.1.0".into(),
        protocol: "dagu-plugin/1".into(),
        step_types: vec![StepTypeInfo {
            name: "echo".into(),
            description: "d".into(),
            config_schema: json!({"type": "object"}),
            output_schema: Some(json!(true)),
        }],
        capabilities: Capabilities {
            tcp: vec!["db:5432".into()],
            ..Default::default()
        },
    }
}

fn as_json<T: serde::Serialize>(m: &T) -> Value {
    serde_json::from_str(&encode(m)).unwrap()
}

#[test]
fn every_message_the_types_produce_is_valid() {
    let v = validator("plugin-protocol.schema.json");
    let request = RunRequest {
        run_id: "r".into(),
        step_name: "s".into(),
        step_type: "echo".into(),
        config: json!({"message": "hi"}),
        command: vec!["x".into()],
        script: Some("y".into()),
        env: vec![("A".into(), "1".into())],
        work_dir: Some("/w".into()),
        timeout_ms: Some(1),
    };
    let host = [
        HostMessage::Hello {
            protocol: "dagu-plugin/1".into(),
        },
        HostMessage::Describe,
        HostMessage::Run {
            id: "1".into(),
            request: Box::new(request),
        },
        HostMessage::Cancel { id: "1".into() },
        HostMessage::EndRun {
            run_id: "r1".into(),
        },
        HostMessage::Shutdown,
    ];
    let errors = [
        RunError::invalid_config("m"),
        RunError::failed(3, "m"),
        RunError::Cancelled,
        RunError::Denied {
            message: "m".into(),
        },
        RunError::internal("m"),
    ];
    let mut plugin = vec![
        PluginMessage::Hello {
            protocols: vec!["dagu-plugin/1".into()],
        },
        PluginMessage::Manifest {
            manifest: manifest(),
        },
        PluginMessage::Log {
            id: "1".into(),
            stream: LogStream::Stdout,
            line: "l".into(),
        },
        PluginMessage::Done {
            id: "1".into(),
            outcome: Outcome::Ok(RunResponse {
                exit_code: 0,
                outputs: vec![("K".into(), "V".into())],
                result_json: Some(json!({"a": 1})),
            }),
        },
    ];
    plugin.extend(errors.into_iter().map(|e| PluginMessage::Done {
        id: "2".into(),
        outcome: Outcome::Err(e),
    }));
    let all = host.iter().map(as_json).chain(plugin.iter().map(as_json));
    for m in all {
        let problems: Vec<String> = v.iter_errors(&m).map(|e| e.to_string()).collect();
        assert!(problems.is_empty(), "{m}: {problems:?}");
    }
}

#[test]
fn malformed_messages_are_invalid() {
    let v = validator("plugin-protocol.schema.json");
    for bad in [
        json!({"type": "done", "id": "1", "ok": {}, "err": {"kind": "cancelled"}}),
        json!({"type": "done", "id": "1"}),
        json!({"type": "done", "id": "1", "err": {"kind": "exploded"}}),
        json!({"type": "log", "id": "1", "stream": "stdin", "line": "x"}),
        json!({"type": "run", "request": {"run_id": "r", "step_name": "s", "step_type": "t"}}),
        json!({"type": "hello"}),
        json!({"type": "progress"}),
    ] {
        assert!(!v.is_valid(&bad), "accepted {bad}");
    }
}

#[test]
fn the_manifest_schema_accepts_manifests_and_refuses_bad_ones() {
    let v = validator("plugin-manifest.schema.json");
    assert!(v.is_valid(&as_json(&manifest())));
    let mut bad = as_json(&manifest());
    bad["name"] = json!("Has Spaces");
    assert!(!v.is_valid(&bad));
    let mut bad = as_json(&manifest());
    bad["step_types"][0]
        .as_object_mut()
        .unwrap()
        .remove("config_schema");
    assert!(!v.is_valid(&bad));
}

#[test]
fn the_protocol_schema_embeds_the_manifest_schema_unchanged() {
    let manifest = schema("plugin-manifest.schema.json");
    let protocol = schema("plugin-protocol.schema.json");
    let defs = &protocol["$defs"];
    let mut body = manifest.as_object().unwrap().clone();
    for k in ["$schema", "$id", "title", "$defs"] {
        body.remove(k);
    }
    let renamed = serde_json::to_string(&body)
        .unwrap()
        .replace("#/$defs/", "#/$defs/manifest_");
    assert_eq!(
        defs["manifest"],
        serde_json::from_str::<Value>(&renamed).unwrap()
    );
    for (name, def) in manifest["$defs"].as_object().unwrap() {
        assert_eq!(&defs[format!("manifest_{name}")], def, "{name}");
    }
}
