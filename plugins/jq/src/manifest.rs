//! What the plugin tells the host about itself.

use dagu_plugin_sdk::{Capabilities, Manifest, PROTOCOL_V1, StepTypeInfo};

/// The manifest: one step type, `jq`, needing no capabilities.
pub(crate) fn manifest() -> Manifest {
    Manifest {
        name: "jq".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_V1.to_string(),
        step_types: vec![StepTypeInfo {
            name: "jq".to_string(),
            description: "Runs a jq filter (command) over JSON input (script)".to_string(),
            config_schema: crate::config::schema(),
            output_schema: None,
        }],
        capabilities: Capabilities::default(),
    }
}
