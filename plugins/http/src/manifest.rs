//! What the plugin tells the host about itself, with the JSON Schema of the step's
//! `config`.

use dagu_plugin_sdk::{Capabilities, Manifest, PROTOCOL_V1, StepTypeInfo};
use serde_json::{Map, Value, json};

use crate::config::{BOOL_TEXTS, SKIP_TLS_VERIFY};

/// The manifest: one step type, `http`, asking to reach any host (the deployment may
/// grant fewer under `plugins.grants.http.http_hosts`).
pub(crate) fn manifest() -> Manifest {
    Manifest {
        name: "http".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_V1.to_string(),
        step_types: vec![StepTypeInfo {
            name: "http".to_string(),
            description: "Sends an HTTP request (command: <METHOD> <URL>) and prints the \
                          response; skipTLSVerify is accepted but cannot turn off the host's \
                          certificate verification from a WASM component"
                .to_string(),
            config_schema: schema(),
            output_schema: None,
        }],
        capabilities: Capabilities {
            http_hosts: vec!["*".to_string()],
            ..Capabilities::default()
        },
    }
}

/// The JSON Schema of the step's `config`. Values are lenient where the host's
/// `${VAR}` expansion yields strings (booleans, the timeout); the plugin reads the same
/// forms.
pub(crate) fn schema() -> Value {
    let boolean = |description: &str| {
        let texts: Vec<&str> = BOOL_TEXTS.iter().map(|(t, _)| *t).collect();
        json!({
            "description": description,
            "anyOf": [
                {"type": ["boolean", "null"]},
                {"type": "string", "enum": texts}
            ]
        })
    };
    let scalar = json!({"type": ["string", "number", "boolean"]});
    let pairs = |description: &str| {
        json!({
            "type": ["object", "null"],
            "description": description,
            "additionalProperties": {
                "anyOf": [
                    scalar,
                    {"type": "array", "items": scalar}
                ]
            }
        })
    };
    let skip_tls = boolean(
        "Accepted for compatibility; the host's TLS certificate verification cannot be \
         turned off from a WASM component, so certificates are still checked.",
    );
    let mut properties = Map::new();
    properties.insert(
        "timeout".into(),
        json!({
            "description": "Seconds the whole request may take (redirects included); 0 for no limit.",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]*)?\\s*$"},
                {"type": "null"}
            ]
        }),
    );
    properties.insert(
        "headers".into(),
        pairs("Request headers; a list of values repeats the header."),
    );
    properties.insert(
        "query".into(),
        pairs("Query parameters appended to the URL (percent-encoded); a list repeats the name."),
    );
    properties.insert(
        "body".into(),
        json!({
            "type": ["string", "number", "boolean", "null"],
            "description": "The request body (Content-Type defaults to text/plain)."
        }),
    );
    properties.insert(
        "silent".into(),
        boolean("Print only the response body when the status is 2xx."),
    );
    properties.insert(
        "debug".into(),
        boolean("Log the request and the response's status and headers on stderr."),
    );
    properties.insert(
        "json".into(),
        boolean("Print {status_code, headers, body} as one JSON object."),
    );
    properties.insert(SKIP_TLS_VERIFY.0.into(), skip_tls.clone());
    properties.insert(SKIP_TLS_VERIFY.1.into(), skip_tls);
    json!({
        "type": "object",
        "properties": properties,
        "not": {"required": [SKIP_TLS_VERIFY.0, SKIP_TLS_VERIFY.1]},
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator() -> jsonschema::Validator {
        jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema())
            .unwrap()
    }

    #[test]
    fn the_manifest_asks_for_http_to_any_host() {
        let m = manifest();
        assert_eq!(m.name, "http");
        assert_eq!(m.step_types.len(), 1);
        assert_eq!(m.step_types[0].name, "http");
        assert!(m.step_types[0].description.contains("skipTLSVerify"));
        assert_eq!(m.capabilities.http_hosts, ["*"]);
        assert!(m.capabilities.fs_read.is_empty() && !m.capabilities.exec);
    }

    #[test]
    fn the_schema_accepts_what_the_plugin_reads() {
        let v = validator();
        for ok in [
            json!({}),
            json!({"timeout": 5, "headers": {"A": "1", "N": 2, "L": ["x", true]},
                   "query": {"q": "s"}, "body": "{}", "silent": true, "debug": "false",
                   "json": null, "skipTLSVerify": false}),
            json!({"timeout": "2.5", "skip_tls_verify": "1"}),
        ] {
            assert!(v.is_valid(&ok), "{ok}");
            crate::config::Config::from_step(&ok, None).unwrap();
        }
    }

    #[test]
    fn the_schema_rejects_what_the_plugin_rejects() {
        let v = validator();
        for bad in [
            json!({"url": "http://x"}),
            json!({"timeout": -1}),
            json!({"timeout": "soon"}),
            json!({"silent": "yes"}),
            json!({"headers": {"A": {"b": 1}}}),
            json!({"query": ["a"]}),
            json!({"body": {"a": 1}}),
            json!({"skipTLSVerify": true, "skip_tls_verify": true}),
        ] {
            assert!(!v.is_valid(&bad), "{bad}");
            assert!(
                crate::config::Config::from_step(&bad, None).is_err(),
                "{bad}"
            );
        }
    }
}
