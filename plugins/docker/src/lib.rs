//! The `docker` and `container` step types on a Docker engine (through
//! [bollard](https://docs.rs/bollard)), served natively by `dagu plugin serve docker`.
//!
//! * `docker` ([`step`]): the step's command runs in a new container from `image` (removed
//!   afterwards unless `autoRemove: false`), or is exec'd in the running container
//!   `containerName` (with both: exec when it runs, else create it under that name).
//! * `container` ([`run_container`]): steps under a DAG-level `container:` share one
//!   container per DAG run, created by the first step and removed at the run's end.
//!
//! Each command line of the step is split into argv like a POSIX shell splits words
//! ([`words`]); several lines run one after another. The container gets only the config's
//! env — never the host's environment (the host expanded variables already). Every
//! container the plugin creates is labelled (see [`owner`]): `shutdown` removes the ones
//! this process made, and the first run of a process removes those whose owning process
//! died (host and plugin killed alike).
//!
//! The engine is `DOCKER_HOST` (else `unix:///var/run/docker.sock`; `tcp://` and `https://`
//! with `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH` too), connected on first use and shared;
//! the API version is agreed with the engine, so old engines work too.

mod auth;
mod config;
mod create;
mod engine;
mod exec;
mod image;
mod manifest;
mod owner;
mod run_container;
mod specs;
mod step;

pub use manifest::capabilities;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use dagu_plugin_sdk::{Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};

use crate::config::Config;
use crate::engine::{Engine, cancelled};

/// JSON Schema of the `docker` step type's config.
pub const DOCKER_SCHEMA: &str = include_str!("../docker.schema.json");

/// JSON Schema of the `container` step type's config (the DAG-level `container:` block).
pub const CONTAINER_SCHEMA: &str = include_str!("../container.schema.json");

/// The labels the plugin puts on every container it creates.
pub mod labels {
    pub use crate::owner::{
        HOST_PID, HOST_START, KEEP, KIND, MANAGED, OWNER_HOST, OWNER_PID, OWNER_START, RUN_ID, STEP,
    };
}

/// The docker plugin.
pub struct Docker {
    engine: Engine,
    me: owner::Me,
    /// The stale-container sweep, done once per process on the first run.
    swept: tokio::sync::OnceCell<()>,
    /// Containers this process created and must remove at shutdown.
    created: Mutex<HashSet<String>>,
    /// Per DAG run: its container (for `container` steps).
    runs: Mutex<HashMap<String, run_container::Slot>>,
}

impl Default for Docker {
    /// The plugin on the engine `DOCKER_HOST` names (else the default socket).
    fn default() -> Docker {
        Docker::new(None)
    }
}

impl Docker {
    /// The plugin on the engine at `host` (a `DOCKER_HOST` value such as
    /// `unix:///run/x/docker.sock`), whatever the environment says.
    pub fn with_host(host: impl Into<String>) -> Docker {
        Docker::new(Some(host.into()))
    }

    fn new(host: Option<String>) -> Docker {
        Docker {
            engine: Engine::new(host),
            me: owner::Me::new(),
            swept: tokio::sync::OnceCell::new(),
            created: Mutex::new(HashSet::new()),
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Creates the container `spec` describes (named and for the platform its config
    /// says) and, when `track`, remembers it so that [`Plugin::shutdown`] removes it if its
    /// run does not.
    async fn create_container(
        &self,
        spec: &create::Spec<'_>,
        track: bool,
    ) -> Result<String, RunError> {
        let body = create::body(spec)?;
        let (name, platform) = (spec.config.name.as_deref(), spec.config.platform.as_deref());
        let id = create::create(&self.engine, body, name, platform).await?;
        if track {
            self.track(&id);
        }
        Ok(id)
    }

    fn track(&self, id: &str) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string());
    }

    fn untrack(&self, id: &str) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    fn slot(&self, run_id: &str) -> run_container::Slot {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(run_id.to_string())
            .or_default()
            .clone()
    }

    async fn run_async(
        &self,
        request: &RunRequest,
        config: &Config,
        commands: &[Vec<String>],
        ctx: &RunContext,
    ) -> Result<(), RunError> {
        let client = self.engine.client().await?;
        self.swept
            .get_or_init(|| async {
                owner::remove_stale(client, &self.me).await;
            })
            .await;
        match request.step_type.as_str() {
            "container" => run_container::run(self, request, config, commands, ctx).await,
            _ => step::run(self, request, config, commands, ctx).await,
        }
    }
}

/// The folder relative volume sources are resolved against: the step's working
/// directory, else this process's.
pub(crate) fn base_dir(request: &RunRequest) -> std::path::PathBuf {
    request
        .work_dir
        .clone()
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| "/".into())
}

impl Plugin for Docker {
    fn describe(&self) -> Manifest {
        manifest::manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        if request.step_type != "docker" && request.step_type != "container" {
            return Err(RunError::invalid_config(format!(
                "unknown step type '{}': this plugin runs docker and container steps",
                request.step_type
            )));
        }
        if request.script.is_some() {
            return Err(RunError::invalid_config(format!(
                "script is not supported by the {} step type: put the commands in command",
                request.step_type
            )));
        }
        let config = Config::parse(&request.config).map_err(RunError::invalid_config)?;
        config
            .check(&request.step_type, &base_dir(&request))
            .map_err(RunError::invalid_config)?;
        if !config.ignored.is_empty() {
            ctx.stderr(&format!(
                "{}: ignoring unknown config keys: {}",
                request.step_type,
                config.ignored.join(", ")
            ));
        }
        let commands = request
            .command
            .iter()
            .filter(|line| !line.trim().is_empty())
            .map(|line| dagu_plugin_sdk::words::split(line))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RunError::invalid_config(format!("command: {e}")))?;
        self.engine.runtime().block_on(async {
            tokio::select! {
                result = self.run_async(&request, &config, &commands, ctx) => result,
                // Only reached when the work does not stop on its own after a cancel
                // (e.g. while waiting on the engine): give it a little, then give up.
                _ = async {
                    cancelled(ctx).await;
                    tokio::time::sleep(Duration::from_secs(10)).await;
                } => Err(RunError::Cancelled),
            }
        })?;
        Ok(RunResponse::default())
    }

    fn end_run(&self, run_id: &str) {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(run_id);
        self.engine.runtime().block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(60), run_container::end(self, run_id))
                .await;
        });
    }

    fn shutdown(&self) {
        let ids: Vec<String> = self
            .created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        if ids.is_empty() || !self.engine.connected() {
            return;
        }
        self.engine.runtime().block_on(async {
            let Ok(client) = self.engine.client().await else {
                return;
            };
            let removals = ids.iter().map(|id| owner::remove(client, id));
            let _ =
                tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(removals))
                    .await;
        });
    }
}
