//! The WASM component side of the SDK (`wasm32-wasip2` only): bindings of the
//! `step-plugin` world generated from `wit/`, and the conversions between the WIT records
//! and the serde records [`export_plugin!`](crate::export_plugin) needs.

use std::time::{Duration, Instant};

use crate::plugin::{HostChannel, Plugin, RunContext, execute};
use crate::records::{self, LogStream};

wit_bindgen::generate!({
    path: "../wit",
    world: "step-plugin",
    pub_export_macro: true,
    export_macro_name: "export_step_plugin",
    default_bindings_module: "dagu_plugin_sdk::component",
});

pub use self::dagu::plugin::types::{
    Manifest as WitManifest, RunError as WitRunError, RunRequest as WitRunRequest,
    RunResponse as WitRunResponse,
};
use self::dagu::plugin::{host, types as wit};
pub use exports::dagu::plugin::plugin::Guest;

/// The component's `describe`.
pub fn describe(plugin: &dyn Plugin) -> WitManifest {
    let m = plugin.describe();
    let c = m.capabilities;
    WitManifest {
        name: m.name,
        version: m.version,
        protocol: m.protocol,
        step_types: m
            .step_types
            .into_iter()
            .map(|t| wit::StepType {
                name: t.name,
                description: t.description,
                config_schema: t.config_schema.to_string(),
                output_schema: t.output_schema.map(|s| s.to_string()),
            })
            .collect(),
        capabilities: wit::Capabilities {
            http_hosts: c.http_hosts,
            fs_read: c.fs_read,
            fs_write: c.fs_write,
            env: c.env,
            tcp: c.tcp,
            exec: c.exec,
        },
    }
}

/// The component's `run`.
pub fn run(plugin: &dyn Plugin, r: WitRunRequest) -> Result<WitRunResponse, WitRunError> {
    let config = match serde_json::from_str(&r.config) {
        Ok(c) => c,
        Err(e) => {
            return Err(WitRunError::InvalidConfig(format!(
                "the config is not JSON: {e}"
            )));
        }
    };
    let request = records::RunRequest {
        run_id: r.run_id.clone(),
        step_name: r.step_name,
        step_type: r.step_type,
        config,
        command: r.command,
        script: r.script,
        env: r.env,
        work_dir: r.work_dir,
        timeout_ms: r.timeout_ms,
    };
    let ctx = RunContext::new(r.run_id, Box::new(ComponentChannel));
    match execute(plugin, request, &ctx) {
        Ok(response) => Ok(WitRunResponse {
            exit_code: response.exit_code,
            outputs: response.outputs,
            result_json: response.result_json.map(|v| v.to_string()),
        }),
        Err(e) => Err(match e {
            records::RunError::InvalidConfig { message } => WitRunError::InvalidConfig(message),
            records::RunError::Failed { exit_code, message } => {
                WitRunError::Failed(wit::Failure { exit_code, message })
            }
            records::RunError::Cancelled => WitRunError::Cancelled,
            records::RunError::Denied { message } => WitRunError::Denied(message),
            records::RunError::Internal { message } => WitRunError::Internal(message),
        }),
    }
}

/// A [`RunContext`] inside a component: the host's imported functions. One component
/// instance runs one step, so the run id is not needed.
struct ComponentChannel;

impl HostChannel for ComponentChannel {
    fn log_line(&self, _id: &str, stream: LogStream, line: &str) {
        let channel = match stream {
            LogStream::Stdout => wit::LogStream::Stdout,
            LogStream::Stderr => wit::LogStream::Stderr,
        };
        host::log(channel, line);
    }

    fn is_cancelled(&self, _id: &str) -> bool {
        host::is_cancelled()
    }

    fn wait_cancelled(&self, _id: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if host::is_cancelled() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(10)));
        }
    }
}
