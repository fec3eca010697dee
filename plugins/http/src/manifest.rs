//! What the plugin tells the host about itself, with the JSON Schema of the step's
//! `config`.

use dagu_plugin_sdk::{Capabilities, Manifest, PROTOCOL_V1, StepTypeInfo};
use serde_json::Value;

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

/// The JSON Schema of the step's `config`.
pub(crate) fn schema() -> Value {
    serde_json::from_str(CONFIG_SCHEMA).expect("config.schema.json is JSON")
}

/// The JSON Schema of the step's config, as shipped in `config.schema.json` (the host
/// embeds the same file to check configs when a DAG is loaded, before `${VAR}`
/// references are expanded, so strings holding a reference pass where the plugin reads
/// a boolean or a number).
pub const CONFIG_SCHEMA: &str = include_str!("../config.schema.json");

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::config::{BOOL_TEXTS, SKIP_TLS_VERIFY};
    use serde_json::json;

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
    fn references_pass_the_schema_before_expansion() {
        let v = validator();
        let unexpanded = json!({"timeout": "${T}", "silent": "${SILENT}",
                                "json": "`echo true`", "skip_tls_verify": "$SKIP"});
        assert!(v.is_valid(&unexpanded));
    }

    #[test]
    fn the_schema_knows_every_key_and_boolean_spelling() {
        let schema = schema();
        let keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        for key in [
            "timeout",
            "headers",
            "query",
            "body",
            "silent",
            "debug",
            "json",
            SKIP_TLS_VERIFY.0,
            SKIP_TLS_VERIFY.1,
        ] {
            assert!(keys.iter().any(|k| *k == key), "{key} in {keys:?}");
        }
        assert_eq!(keys.len(), 9);
        assert_eq!(schema["additionalProperties"], json!(false));
        let texts: Vec<&str> = BOOL_TEXTS.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            schema["properties"]["silent"]["anyOf"][1]["enum"],
            json!(texts)
        );
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
