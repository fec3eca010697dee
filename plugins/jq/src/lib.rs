//! The `jq` step type: runs a jq filter (the step's `command`) over JSON input (the step's
//! `script`) and prints every result on stdout, one per line, as JSON indented by four
//! spaces (or, with `config.raw`, strings without quotes).
//!
//! The filter runs on [jaq](https://docs.rs/jaq-core). Only the standard-library
//! definitions a filter actually calls are parsed and compiled ([`prelude`]), and only the
//! groups of natives it calls are built ([`natives`]), since every run starts in a fresh
//! component instance.

mod compile;
mod config;
mod errors;
mod exec;
mod formats;
mod manifest;
mod natives;
mod prelude;
mod print;
mod refs;

use dagu_plugin_sdk::{Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};

/// The `jq` plugin.
#[derive(Default)]
pub struct Jq;

impl Plugin for Jq {
    fn describe(&self) -> Manifest {
        manifest::manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        let config = config::Config::from_json(&request.config)?;
        let code = request.command.join("\n");
        if code.trim().is_empty() {
            return Ok(RunResponse::default());
        }
        let inputs = exec::parse_inputs(request.script.as_deref().unwrap_or_default())?;
        let program = compile::compile(&code, &request.env)?;
        exec::run(&program, inputs, &config, ctx)?;
        Ok(RunResponse::default())
    }
}

dagu_plugin_sdk::export_plugin!(Jq);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
