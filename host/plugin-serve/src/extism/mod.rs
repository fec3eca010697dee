//! [`ExtismPlugin`]: an Extism module served as a dagu plugin.
//!
//! The module is a core WebAssembly module built with any Extism PDK. It exports
//!
//! * `describe`: no input; returns the manifest as JSON (the records of
//!   `docs/plugin-protocol.md`);
//! * `run`: input a run request as JSON; returns the outcome as JSON, `{"ok": response}` or
//!   `{"err": run-error}` (the `done` message's encoding, [`crate::outcome`]);
//!
//! and may import the host function `dagu_log` ([`log`]) to write log lines to the step.
//!
//! Every run gets a fresh instance (its own store and linear memory), so runs share no
//! state. Extism interrupts a call by bumping the epoch of the call's wasmtime engine, which
//! would interrupt every call running on that engine; so each concurrent run has an engine
//! (a compiled copy of the module) of its own, taken from a pool that grows to the largest
//! number of runs at once. WASI is linked only when the module imports it, with the granted
//! folders as its only preopens ([`grants`]).

pub mod grants;
pub mod log;
pub mod module;
pub mod watch;

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ::extism::{CompiledPlugin, PluginBuilder};
use dagu_plugin_sdk::{
    Capabilities, Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse,
};

use crate::LoadError;
use crate::outcome::{decode_manifest, decode_outcome};
use watch::Stop;

/// The most linear memory one instance may have unless configured otherwise: 64 MiB.
pub const DEFAULT_MAX_MEMORY: u64 = 64 << 20;

/// What an Extism plugin is allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtismOptions {
    /// The plugin's effective capabilities: `http_hosts` and the folders of `fs_read` /
    /// `fs_write` are what it can reach.
    pub grants: Capabilities,
    /// The most linear memory one instance may have, in bytes.
    pub max_memory: u64,
}

/// An Extism module, loaded and described, ready to run steps.
pub struct ExtismPlugin {
    manifest: Manifest,
    extism_manifest: ::extism::Manifest,
    wasi: bool,
    /// Compiled copies of the module not in use by a run.
    idle: Mutex<Vec<CompiledPlugin>>,
    max_memory: u64,
}

impl ExtismPlugin {
    /// Reads and compiles the module at `path` and asks it to `describe` itself. Grants
    /// that give nothing to an Extism module (files, missing folders) are noted on stderr.
    pub fn load(path: &Path, options: &ExtismOptions) -> Result<ExtismPlugin, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
        let wasi = module::imports_wasi(&bytes)
            .map_err(|e| LoadError(format!("{}: {e}", path.display())))?;
        let (extism_manifest, notes) = grants::manifest(bytes, &options.grants, options.max_memory);
        for note in notes {
            eprintln!("dagu plugin serve extism: {note}");
        }
        let compiled = compile(&extism_manifest, wasi).map_err(LoadError)?;
        let manifest = describe(&compiled)?;
        Ok(ExtismPlugin {
            manifest,
            extism_manifest,
            wasi,
            idle: Mutex::new(vec![compiled]),
            max_memory: options.max_memory,
        })
    }

    /// An idle compiled copy, or a new one.
    fn take(&self) -> Result<CompiledPlugin, String> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(compiled) => Ok(compiled),
            None => compile(&self.extism_manifest, self.wasi),
        }
    }

    fn give_back(&self, compiled: CompiledPlugin) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(compiled);
    }

    /// Calls `run` on a fresh instance of `compiled`, with a watcher beside it.
    fn call_run(
        &self,
        compiled: &CompiledPlugin,
        input: &[u8],
        ctx: &RunContext,
        deadline: Option<Instant>,
    ) -> Result<RunResponse, RunError> {
        let mut instance = ::extism::Plugin::new_from_compiled(compiled)
            .map_err(|e| RunError::internal(format!("cannot instantiate the module: {e:#}")))?;
        let cancel = instance.cancel_handle();
        let (events, received) = mpsc::channel();
        let (answer, stop) = std::thread::scope(|s| {
            let watcher = s.spawn(|| watch::watch(ctx, received, &cancel, deadline));
            let answer =
                instance.call_with_host_context::<&[u8], Vec<u8>, _>("run", input, events.clone());
            let _ = events.send(log::Event::Done);
            // A watcher that panicked interrupted nothing.
            (answer, watcher.join().unwrap_or_default())
        });
        match (answer, stop) {
            // A run that finished while it was being cancelled keeps its answer.
            (Ok(json), _) => decode_outcome(&json),
            (Err(_), Some(Stop::Cancelled)) => Err(RunError::Cancelled),
            (Err(_), Some(Stop::TimedOut)) => Err(RunError::failed(
                124,
                "the module timed out: it was interrupted when the step's timeout passed",
            )),
            (Err(e), None) => Err(RunError::failed(1, self.explain(&e))),
        }
    }

    /// A failed call, in words.
    fn explain(&self, e: &::extism::Error) -> String {
        if e.root_cause().to_string() == "oom" {
            format!(
                "the module ran out of memory (it may use {} MiB)",
                self.max_memory >> 20
            )
        } else {
            format!("the module failed: {e:#}")
        }
    }
}

/// A compiled copy of the module (with WASI or not) with an engine of its own.
fn compile(manifest: &::extism::Manifest, wasi: bool) -> Result<CompiledPlugin, String> {
    let builder = PluginBuilder::new(manifest.clone())
        .with_wasi(wasi)
        .with_cache_disabled()
        .with_functions([log::function()]);
    CompiledPlugin::new(builder).map_err(|e| format!("cannot compile the module: {e:#}"))
}

/// Asks a fresh instance of `compiled` for its manifest; checks that it exports `run`.
fn describe(compiled: &CompiledPlugin) -> Result<Manifest, LoadError> {
    let mut instance = ::extism::Plugin::new_from_compiled(compiled)
        .map_err(|e| LoadError(format!("cannot instantiate the module: {e:#}")))?;
    for export in ["describe", "run"] {
        if !instance.function_exists(export) {
            return Err(LoadError(format!(
                "the module exports no function '{export}'; an Extism plugin for dagu exports \
                 'describe' and 'run'"
            )));
        }
    }
    let json: Vec<u8> = instance
        .call("describe", "")
        .map_err(|e| LoadError(format!("describe failed: {e:#}")))?;
    decode_manifest(&json)
}

impl Plugin for ExtismPlugin {
    fn describe(&self) -> Manifest {
        self.manifest.clone()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        if ctx.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        let deadline = request
            .timeout_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let input = serde_json::to_vec(&request)
            .map_err(|e| RunError::internal(format!("cannot encode the request: {e}")))?;
        let compiled = self.take().map_err(RunError::internal)?;
        let result = self.call_run(&compiled, &input, ctx, deadline);
        self.give_back(compiled);
        result
    }
}
