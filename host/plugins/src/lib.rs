//! The plugin host's runtimes: they run step types behind the `dagu:plugin` contract and
//! plug into the engine through [`dagu_engine::StepExecutor`].
//!
//! So far: [`proc`], the supervisor of subprocess plugins speaking `dagu-plugin/1`, and
//! [`registry`], plugin packages (`plugin.toml`), the deployment's enabled set, grants and
//! `plugins.lock`, wired into the engine's executors.

pub mod proc;
pub mod registry;

pub use proc::{Backoff, Diagnostics, ProcConfig, ProcPlugin, RunControl, RunEnd, StartError};
