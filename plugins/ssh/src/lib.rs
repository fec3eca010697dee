//! The `ssh` and `sftp` step types, as a native plugin (`dagu plugin serve ssh` serves
//! [`Ssh`] with `dagu_plugin_sdk::serve_stdio`).
//!
//! * `ssh` runs each line of the step's `command`, in order, on its own exec channel of
//!   one connection, stopping at the first failure. The text goes to the remote login
//!   shell as is (like `ssh host 'cmd'`), or wrapped as `<shell> -c '<cmd>'` when `shell`
//!   is set. Output is streamed into the step's log line by line; a remote exit status `N`
//!   fails the step with exit code `N`; a cancel sends the remote process SIGKILL.
//! * `sftp` copies a file or folder tree up or down, keeping modes and modification times.
//!
//! Connections are pooled per DAG run and target (user, host, port, credentials, bastion):
//! the steps of a run share one connection to a host, opening channels on it (at most 8 at
//! once; more wait). A run's connections close at [`Plugin::end_run`], all at
//! [`Plugin::shutdown`], and any after 60 s unused.
//!
//! The config is read from `request.config` only (the host merges the DAG-level `ssh:`
//! block in); `ssh.schema.json` and `sftp.schema.json` describe the keys:
//!
//! * connection (both step types): `user`, `host`, `ip` (wins over `host`), `port` (number
//!   or string, 22), `key`, `password`, `passphrase` (of an encrypted `key`),
//!   `strictHostKey`/`strict_host_key` (default false), `knownHostFile`/`known_host_file`
//!   (`~/.ssh/known_hosts`), `timeout` (seconds or `"30s"`, default 30 s; for each of TCP
//!   connect, handshake and login), `bastion` (the same keys for a jump host; `user`,
//!   host-key settings and `timeout` default to the target's);
//! * `ssh`: `shell` (string or list) and `shellArgs`/`shell_args`;
//! * `sftp`: `direction` (`upload` | `download`), `source`, `destination`.
//!
//! Login tries `key` (else the first existing of `~/.ssh/id_rsa`, `id_ecdsa`,
//! `id_ed25519`, `id_dsa`, unless a password is set), then ssh-agent keys when neither
//! key nor password is set and `$SSH_AUTH_SOCK` names an agent, then `password`.
//! `~` in paths is expanded with `$HOME` as it is when the step runs (or the folder given
//! to [`Ssh::with_home`]); relative local paths are taken from the step's working folder.

mod client;
mod config;
mod errors;
mod exec;
mod known_hosts;
mod pool;
mod sftp;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dagu_plugin_sdk::{
    Capabilities, Manifest, PROTOCOL_V1, Plugin, RunContext, RunError, RunRequest, RunResponse,
    StepTypeInfo,
};
use tokio::runtime::Runtime;

use crate::config::{Env, SftpConfig, SshConfig, Target};
use crate::exec::or_cancel;
use crate::pool::{Lease, Pool};

/// JSON Schema of the `ssh` step's config.
pub const SSH_SCHEMA: &str = include_str!("../ssh.schema.json");

/// JSON Schema of the `sftp` step's config.
pub const SFTP_SCHEMA: &str = include_str!("../sftp.schema.json");

/// How long an unused connection stays open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The `ssh` plugin: step types `ssh` and `sftp`.
pub struct Ssh {
    env: Env,
    idle_timeout: Duration,
    state: OnceLock<State>,
}

/// Created on the first run: the plugin's tokio runtime and its connections.
struct State {
    runtime: Option<Runtime>,
    pool: Arc<Pool>,
}

impl Drop for State {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Default for Ssh {
    fn default() -> Self {
        Ssh::new()
    }
}

impl Ssh {
    /// The plugin, with `$HOME` and `$SSH_AUTH_SOCK` read when a step runs.
    pub fn new() -> Ssh {
        Ssh {
            env: Env::default(),
            idle_timeout: IDLE_TIMEOUT,
            state: OnceLock::new(),
        }
    }

    /// Uses `home` instead of `$HOME` for `~` and the default keys (for tests and hosts
    /// that know better than the environment).
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Ssh {
        self.env.home = Some(home.into());
        self
    }

    /// Uses this ssh-agent socket instead of `$SSH_AUTH_SOCK` (`None`: no agent).
    pub fn with_agent_socket(mut self, socket: Option<PathBuf>) -> Ssh {
        self.env.agent = Some(socket);
        self
    }

    /// Closes connections unused for `idle` instead of [`IDLE_TIMEOUT`].
    pub fn with_idle_timeout(mut self, idle: Duration) -> Ssh {
        self.idle_timeout = idle;
        self
    }

    fn state(&self) -> Result<&State, RunError> {
        if let Some(state) = self.state.get() {
            return Ok(state);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dagu-ssh")
            .enable_all()
            .build()
            .map_err(|e| {
                RunError::internal(format!("cannot start the ssh plugin's runtime: {e}"))
            })?;
        let pool = Arc::new(Pool::default());
        runtime.spawn(Pool::reap(Arc::downgrade(&pool), self.idle_timeout));
        // If another thread got there first, ours is dropped (its runtime shut down).
        let _ = self.state.set(State {
            runtime: Some(runtime),
            pool,
        });
        let state = self.state.get().expect("the state was just set");
        Ok(state)
    }

    fn run_ssh(&self, request: &RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        if request
            .script
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            return Err(RunError::failed(
                1,
                "script is not supported by the ssh step type; use command (several lines run \
                 one after another)",
            ));
        }
        let work_dir = request.work_dir.as_deref().map(Path::new);
        let config = SshConfig::from_json(&request.config, &self.env, work_dir)?;
        let commands: Vec<&str> = request
            .command
            .iter()
            .map(String::as_str)
            .filter(|c| !c.trim().is_empty())
            .collect();
        if commands.is_empty() {
            return Err(RunError::failed(
                1,
                "the ssh step has no command: give it a `command` to run on the remote host",
            ));
        }
        self.with_connection(request, &config.target, ctx, async |lease| {
            for (i, command) in commands.iter().enumerate() {
                let line = exec::command_line(config.shell.as_deref(), command);
                let session = or_cancel(ctx, lease.open_session()).await?;
                let ending = exec::run(session, &line, ctx).await?;
                let which = (commands.len() > 1)
                    .then(|| format!("command {} of {}: `{command}`", i + 1, commands.len()));
                if let Some(e) = exec::failure(&ending, which) {
                    return Err(e);
                }
            }
            Ok(RunResponse::default())
        })
    }

    fn run_sftp(&self, request: &RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        let work_dir = request.work_dir.as_deref().map(Path::new);
        let config = SftpConfig::from_json(&request.config, &self.env, work_dir)?;
        self.with_connection(request, &config.target, ctx, async |lease| {
            or_cancel(
                ctx,
                sftp::transfer(lease, &config, &self.env, work_dir, ctx),
            )
            .await?;
            Ok(RunResponse::default())
        })
    }

    /// Runs `work` on the run's pooled connection to `target` (opened if needed), on the
    /// plugin's runtime; a cancel while connecting ends the step.
    fn with_connection(
        &self,
        request: &RunRequest,
        target: &Target,
        ctx: &RunContext,
        work: impl AsyncFnOnce(&mut Lease) -> Result<RunResponse, RunError>,
    ) -> Result<RunResponse, RunError> {
        let state = self.state()?;
        let runtime = state
            .runtime
            .as_ref()
            .expect("runtime lives as long as the state");
        runtime.block_on(async {
            let lease = state.pool.lease(&request.run_id, target, &self.env);
            let mut lease = or_cancel(ctx, lease).await?;
            work(&mut lease).await
        })
    }
}

impl Plugin for Ssh {
    fn describe(&self) -> Manifest {
        manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        match request.step_type.as_str() {
            "ssh" => self.run_ssh(&request, ctx),
            "sftp" => self.run_sftp(&request, ctx),
            other => Err(RunError::invalid_config(format!(
                "the ssh plugin runs step types ssh and sftp, not `{other}`"
            ))),
        }
    }

    fn end_run(&self, run_id: &str) {
        if let Some(state) = self.state.get()
            && let Some(runtime) = &state.runtime
        {
            runtime.block_on(state.pool.end_run(run_id));
        }
    }

    fn shutdown(&self) {
        if let Some(state) = self.state.get()
            && let Some(runtime) = &state.runtime
        {
            runtime.block_on(state.pool.close_all());
        }
    }
}

/// What the plugin asks for, and what the host grants it by default: servers on any port,
/// the user's keys and known_hosts, the folder dagu runs in (sftp transfers), the agent's
/// socket. Cheap: the host calls it on every start.
pub fn capabilities() -> Capabilities {
    Capabilities {
        tcp: vec!["*:*".to_string()],
        fs_read: vec!["~/.ssh".to_string()],
        fs_write: vec![".".to_string()],
        env: vec!["SSH_AUTH_SOCK".to_string()],
        ..Capabilities::default()
    }
}

/// The manifest: step types `ssh` and `sftp`, with [`capabilities`].
fn manifest() -> Manifest {
    Manifest {
        name: "ssh".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol: PROTOCOL_V1.to_string(),
        step_types: vec![
            StepTypeInfo {
                name: "ssh".to_string(),
                description: "Runs the step's commands on a remote host over SSH".to_string(),
                config_schema: serde_json::from_str(SSH_SCHEMA).expect("ssh.schema.json is JSON"),
                output_schema: None,
            },
            StepTypeInfo {
                name: "sftp".to_string(),
                description: "Copies files or folders to or from a remote host over SFTP"
                    .to_string(),
                config_schema: serde_json::from_str(SFTP_SCHEMA).expect("sftp.schema.json is JSON"),
                output_schema: None,
            },
        ],
        capabilities: capabilities(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagu_plugin_sdk::testing::{request, run_in_process};
    use serde_json::json;

    #[test]
    fn manifest_names_both_step_types() {
        let m = Ssh::new().describe();
        assert_eq!(m.name, "ssh");
        let names: Vec<&str> = m.step_types.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["ssh", "sftp"]);
        assert_eq!(m.capabilities.tcp, vec!["*:*"]);
        for s in &m.step_types {
            assert_eq!(s.config_schema["additionalProperties"], json!(false));
        }
    }

    #[test]
    fn script_is_refused() {
        let r = RunRequest {
            config: json!({"user": "u", "host": "h"}),
            script: Some("echo hi".into()),
            ..request("ssh")
        };
        let (out, _) = run_in_process(&Ssh::new(), r);
        let err = out.unwrap_err();
        assert!(
            err.to_string()
                .contains("script is not supported by the ssh step type; use command"),
            "{err}"
        );
    }

    #[test]
    fn no_command_is_refused() {
        let r = RunRequest {
            config: json!({"user": "u", "host": "h"}),
            ..request("ssh")
        };
        let (out, _) = run_in_process(&Ssh::new(), r);
        assert!(out.unwrap_err().to_string().contains("has no command"));
    }

    #[test]
    fn schemas_list_both_spellings() {
        let schema: serde_json::Value = serde_json::from_str(SSH_SCHEMA).unwrap();
        for key in [
            "user",
            "host",
            "ip",
            "port",
            "key",
            "password",
            "passphrase",
            "strictHostKey",
            "strict_host_key",
            "knownHostFile",
            "known_host_file",
            "timeout",
            "bastion",
            "shell",
            "shellArgs",
            "shell_args",
        ] {
            assert!(schema["properties"].get(key).is_some(), "{key}");
        }
        let schema: serde_json::Value = serde_json::from_str(SFTP_SCHEMA).unwrap();
        for key in [
            "direction",
            "source",
            "destination",
            "strict_host_key",
            "bastion",
        ] {
            assert!(schema["properties"].get(key).is_some(), "{key}");
        }
    }
}
