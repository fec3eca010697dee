//! The plugin host's runtimes: they run step types behind the `dagu:plugin` contract and
//! plug into the engine through [`dagu_engine::StepExecutor`].
//!
//! * [`wasm`]: WASM components of the `step-plugin` world, run in wasmtime (built-ins
//!   embedded precompiled).
//! * [`proc`]: the supervisor of subprocess plugins speaking `dagu-plugin/1`.
//! * [`step_io`]: what both do around a step the same way (request, config check, logs,
//!   outcome).
//! * [`registry`]: plugin packages (`plugin.toml`), the deployment's enabled set, grants
//!   and `plugins.lock`, wired into the engine's executors.

pub mod proc;
pub mod registry;
pub mod step_io;
pub mod wasm;

pub use proc::{Backoff, Diagnostics, ProcConfig, ProcPlugin, RunControl, StartError};
pub use step_io::RunEnd;
