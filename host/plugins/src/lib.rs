//! The plugin host's runtimes: they run step types behind the `dagu:plugin` contract and
//! plug into the engine through [`dagu_engine::StepExecutor`].
//!
//! So far: [`proc`], the supervisor of subprocess plugins speaking `dagu-plugin/1`.

pub mod proc;

pub use proc::{Backoff, Diagnostics, ProcConfig, ProcPlugin, RunControl, RunEnd, StartError};
