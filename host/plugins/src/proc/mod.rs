//! Subprocess plugins: one long-lived process per plugin, speaking `dagu-plugin/1`
//! (newline-delimited JSON over stdio; see `docs/plugin-protocol.md`).
//!
//! * [`config`]: how to start a plugin and the supervisor's timings.
//! * [`diagnostics`]: where the plugin's stderr and the host's notes about it go.
//! * [`lines`]: reading bounded lines from the plugin.
//! * [`sandbox`]: the policy built from a plugin's grants, applied between fork and exec.
//! * [`connection`]: one running process: handshake, multiplexing of runs by id, its end.
//! * [`supervisor`]: [`ProcPlugin`]: start on first use, restart with backoff, idle stop,
//!   cancel and kill.
//! * [`step`]: [`ProcPlugin`] as a [`dagu_engine::StepExecutor`].

pub mod config;
pub mod connection;
pub mod diagnostics;
pub mod lines;
pub mod sandbox;
pub mod step;
pub mod supervisor;

pub use config::{Backoff, ProcConfig};
pub use connection::StartError;
pub use diagnostics::Diagnostics;
pub use supervisor::{ProcPlugin, RunControl};

/// The protocol versions this host speaks, preferred first.
pub const SUPPORTED_PROTOCOLS: &[&str] = &[dagu_plugin_sdk::PROTOCOL_V1];
