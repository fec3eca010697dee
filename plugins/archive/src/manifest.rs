//! What the plugin tells the host about itself.

use dagu_plugin_sdk::{Capabilities, Manifest, PROTOCOL_V1, StepTypeInfo};

/// The manifest: one step type, `archive`, reading and writing beneath the working
/// directory.
pub(crate) fn manifest() -> Manifest {
    Manifest {
        name: "archive".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_V1.to_string(),
        step_types: vec![StepTypeInfo {
            name: "archive".to_string(),
            description: "Creates, extracts or lists tar, tar.gz and zip archives".to_string(),
            config_schema: crate::config::schema(),
            output_schema: None,
        }],
        capabilities: Capabilities {
            fs_read: vec![".".to_string()],
            fs_write: vec![".".to_string()],
            ..Capabilities::default()
        },
    }
}
