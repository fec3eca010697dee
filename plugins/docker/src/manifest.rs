//! What the plugin tells the host about itself.

use dagu_plugin_sdk::{Capabilities, Manifest, PROTOCOL_V1, StepTypeInfo};

/// The manifest: step types `docker` and `container`, the Docker engine's socket and
/// client settings as capabilities.
pub(crate) fn manifest() -> Manifest {
    let schema = |text: &str| serde_json::from_str(text).expect("the embedded schema is JSON");
    Manifest {
        name: "docker".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_V1.to_string(),
        step_types: vec![
            StepTypeInfo {
                name: "docker".to_string(),
                description:
                    "Runs the step's command in a new container, or execs it in a running one"
                        .to_string(),
                config_schema: schema(crate::DOCKER_SCHEMA),
                output_schema: None,
            },
            StepTypeInfo {
                name: "container".to_string(),
                description:
                    "Runs the step in the DAG run's shared container (DAG-level container:)"
                        .to_string(),
                config_schema: schema(crate::CONTAINER_SCHEMA),
                output_schema: None,
            },
        ],
        capabilities: capabilities(),
    }
}

/// What the plugin asks for, and what the host grants it by default: the engine, by socket
/// or TCP (2375/2376), and the client's settings and registry credentials. Cheap: the host
/// calls it on every start.
pub fn capabilities() -> Capabilities {
    Capabilities {
        tcp: vec!["*:2375".to_string(), "*:2376".to_string()],
        env: [
            "DOCKER_HOST",
            "DOCKER_CONFIG",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS_VERIFY",
        ]
        .map(String::from)
        .to_vec(),
        fs_read: ["/var/run/docker.sock", "~/.docker"]
            .map(String::from)
            .to_vec(),
        ..Capabilities::default()
    }
}
