//! Creating and starting containers from a step's config.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, HostConfig, NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, StopContainerOptions,
};
use dagu_plugin_sdk::RunError;
use futures::StreamExt;
use serde_json::Value;

use crate::config::{Config, Network};
use crate::engine::{Engine, Lines, frame, short, status};
use crate::specs::{self, Volume};

/// What to create, beyond the config.
pub(crate) struct Spec<'a> {
    pub config: &'a Config,
    pub image: &'a str,
    /// The command (`Cmd`); `None` keeps the config's or the image's.
    pub cmd: Option<Vec<String>>,
    /// The entrypoint; `None` keeps the config's or the image's.
    pub entrypoint: Option<Vec<String>>,
    pub labels: HashMap<String, String>,
    /// Relative volume sources are resolved against this folder.
    pub base_dir: &'a Path,
    /// Run Docker's init process as PID 1 (reaps orphans, forwards signals).
    pub init: bool,
}

/// The container's create body: the raw `container` and `host` maps with the config's
/// own keys applied over them.
pub(crate) fn body(spec: &Spec) -> Result<ContainerCreateBody, RunError> {
    let c = spec.config;
    let invalid = RunError::invalid_config;
    let mut body: ContainerCreateBody = serde_json::from_value(Value::Object(c.container.clone()))
        .map_err(|e| invalid(format!("'container': {e}")))?;
    let mut host: HostConfig = match body.host_config.take() {
        // `container.HostConfig` and `host` together: `host` wins key by key.
        Some(inner) => {
            let mut merged = serde_json::to_value(inner)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            merged.extend(c.host.clone());
            serde_json::from_value(Value::Object(merged))
        }
        None => serde_json::from_value(Value::Object(c.host.clone())),
    }
    .map_err(|e| invalid(format!("'host': {e}")))?;
    host.auto_remove = None;
    body.image = Some(spec.image.to_string());
    if let Some(cmd) = &spec.cmd {
        body.cmd = Some(cmd.clone());
    }
    if let Some(entrypoint) = &spec.entrypoint {
        body.entrypoint = Some(entrypoint.clone());
    }
    if !c.env.is_empty() {
        body.env
            .get_or_insert_with(Vec::new)
            .extend(c.env.iter().cloned());
    }
    if c.user.is_some() {
        body.user = c.user.clone();
    }
    if c.working_dir.is_some() {
        body.working_dir = c.working_dir.clone();
    }
    for v in &c.volumes {
        match specs::volume(v, spec.base_dir).map_err(invalid)? {
            Volume::Bind(bind) => host.binds.get_or_insert_with(Vec::new).push(bind),
            Volume::Anonymous(path) => body.volumes.get_or_insert_with(Vec::new).push(path),
        }
    }
    if !c.ports.is_empty() {
        let (exposed, bindings) = specs::ports(&c.ports).map_err(invalid)?;
        let e = body.exposed_ports.get_or_insert_with(Vec::new);
        for port in exposed {
            if !e.contains(&port) {
                e.push(port);
            }
        }
        host.port_bindings
            .get_or_insert_with(HashMap::new)
            .extend(bindings);
    }
    match &c.network {
        None => {}
        Some(Network::Mode(mode)) => {
            host.network_mode = Some(mode.clone());
            let standard = matches!(mode.as_str(), "host" | "none" | "bridge" | "default")
                || mode.starts_with("container:");
            if !standard {
                body.networking_config = Some(NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        mode.clone(),
                        EndpointSettings::default(),
                    )])),
                });
            }
        }
        Some(Network::Raw(raw)) => {
            body.networking_config = Some(
                serde_json::from_value(Value::Object(raw.clone()))
                    .map_err(|e| invalid(format!("'network': {e}")))?,
            );
        }
    }
    if let Some(policy) = &c.restart_policy {
        host.restart_policy = Some(specs::restart_policy(policy).map_err(invalid)?);
    }
    if spec.init && host.init.is_none() {
        host.init = Some(true);
    }
    body.labels
        .get_or_insert_with(HashMap::new)
        .extend(spec.labels.clone());
    body.attach_stdout = Some(true);
    body.attach_stderr = Some(true);
    body.attach_stdin = Some(false);
    body.open_stdin = Some(false);
    body.host_config = Some(host);
    Ok(body)
}

/// Creates the container; returns its id.
pub(crate) async fn create(
    engine: &Engine,
    mut body: ContainerCreateBody,
    name: Option<&str>,
    platform: Option<&str>,
) -> Result<String, RunError> {
    let client = engine.client().await?;
    let options = |name: Option<&str>| CreateContainerOptions {
        name: name.map(str::to_string),
        platform: platform.unwrap_or_default().to_string(),
    };
    let mut result = client
        .create_container(Some(options(name)), body.clone())
        .await;
    // An engine without an init binary (docker-init / catatonit): go without.
    if let Err(e) = &result {
        let asked_init = body.host_config.as_ref().and_then(|h| h.init) == Some(true);
        if asked_init && short(e).to_lowercase().contains("init") {
            if let Some(h) = body.host_config.as_mut() {
                h.init = None;
            }
            result = client.create_container(Some(options(name)), body).await;
        }
    }
    match result {
        Ok(created) => Ok(created.id),
        Err(e) => Err(match status(&e) {
            Some(409) => RunError::failed(
                1,
                format!(
                    "a container named {} already exists: remove it (docker rm -f {}) or choose another name",
                    name.unwrap_or("?"),
                    name.unwrap_or("?")
                ),
            ),
            Some(404) => {
                RunError::failed(1, format!("creating the container failed: {}", short(&e)))
            }
            Some(400) => RunError::invalid_config(format!(
                "the Docker engine refused the container's config: {}",
                short(&e)
            )),
            _ => engine.error("creating the container", e),
        }),
    }
}

/// Starts a created container; a program that cannot start fails like a shell would
/// (127 not found, 126 not executable).
pub(crate) async fn start(engine: &Engine, id: &str) -> Result<(), RunError> {
    let client = engine.client().await?;
    match client.start_container(id, None).await {
        Ok(()) => Ok(()),
        Err(e) if status(&e).is_some() => {
            let message = short(&e);
            let lower = message.to_lowercase();
            let code = if lower.contains("executable file not found")
                || lower.contains("no such file or directory")
            {
                127
            } else if lower.contains("permission denied") {
                126
            } else {
                125
            };
            Err(RunError::failed(
                code,
                format!("starting the container failed: {message}"),
            ))
        }
        Err(e) => Err(engine.error("starting the container", e)),
    }
}

/// Stops a container (TERM, then KILL after `grace`); errors are ignored.
pub(crate) async fn stop(engine: &Engine, id: &str, grace: Duration) {
    if let Ok(client) = engine.client().await {
        let _ = client
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(grace.as_secs() as i32),
                    signal: None,
                }),
            )
            .await;
    }
}

/// The container named or with id `name`, or `None` when there is none.
pub(crate) async fn inspect(
    engine: &Engine,
    name: &str,
) -> Result<Option<ContainerInspectResponse>, RunError> {
    let client = engine.client().await?;
    match client.inspect_container(name, None).await {
        Ok(info) => Ok(Some(info)),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(engine.error(&format!("inspecting container {name}"), e)),
    }
}

/// Whether an inspected container is running.
pub(crate) fn running(info: &ContainerInspectResponse) -> bool {
    info.state.as_ref().and_then(|s| s.running) == Some(true)
}

/// The state of an inspected container, as Docker names it (`exited`, `created`...).
pub(crate) fn state_name(info: &ContainerInspectResponse) -> String {
    info.state
        .as_ref()
        .and_then(|s| s.status)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The labels of an inspected container.
pub(crate) fn labels(info: &ContainerInspectResponse) -> HashMap<String, String> {
    info.config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
}

/// Containers (running or not) with all of `labels` (`key=value`).
pub(crate) async fn with_labels(
    engine: &Engine,
    labels: &[String],
) -> Result<Vec<bollard::models::ContainerSummary>, RunError> {
    let client = engine.client().await?;
    client
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), labels.to_vec())])),
            ..Default::default()
        }))
        .await
        .map_err(|e| engine.error("listing containers", e))
}

/// The last lines of a container's log, for error messages.
pub(crate) async fn log_tail(engine: &Engine, id: &str, lines: usize) -> String {
    let Ok(client) = engine.client().await else {
        return String::new();
    };
    let mut stream = client.logs(
        id,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        }),
    );
    let mut split = Lines::default();
    let mut out = Vec::new();
    while let Some(Ok(item)) = stream.next().await {
        if let Some((s, bytes)) = frame(&item) {
            out.extend(split.push(s, bytes));
        }
    }
    out.extend(split.finish().into_iter().map(|(_, l)| l));
    out.join("\n")
}
