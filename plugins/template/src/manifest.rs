//! What the plugin tells the host about itself.

use dagu_plugin_sdk::{Capabilities, Manifest, PROTOCOL_V1, StepTypeInfo};

/// The manifest: one step type, `template`. It asks to write beneath the working
/// directory, for `output`.
pub(crate) fn manifest() -> Manifest {
    Manifest {
        name: "template".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_V1.to_string(),
        step_types: vec![StepTypeInfo {
            name: "template".to_string(),
            description: "Renders a Go text/template (script) with data to a file or stdout"
                .to_string(),
            config_schema: crate::config::schema(),
            output_schema: None,
        }],
        capabilities: Capabilities {
            fs_write: vec![".".to_string()],
            ..Capabilities::default()
        },
    }
}
