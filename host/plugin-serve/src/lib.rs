//! Plugins that `dagu plugin serve` runs in a process of their own, never in the host's:
//!
//! * [`ExtismPlugin`] (`dagu plugin serve extism MODULE`): an Extism module (a core
//!   WebAssembly module built with any Extism PDK) run by the embedded extism host, which
//!   brings its own wasmtime;
//! * [`NativeLibrary`] (`dagu plugin serve --dylib LIBRARY`): a shared library with the C ABI
//!   of `docs/plugin-protocol.md` ("Native libraries"), for plugins a deployment trusts.
//!
//! Both implement [`dagu_plugin_sdk::Plugin`], so `serve_stdio` speaks `dagu-plugin/1` for
//! them and the host supervises, sandboxes and restarts them like any subprocess plugin. Both
//! exchange the protocol's JSON records with the plugin: `describe` returns the manifest and
//! `run` takes a run request and returns the `done` outcome, `{"ok": response}` or
//! `{"err": run-error}` (see [`outcome`]).

pub mod dylib;
pub mod extism;
pub mod outcome;

use std::fmt;

pub use dylib::NativeLibrary;
pub use extism::{ExtismOptions, ExtismPlugin};

/// Why a plugin could not be loaded: the serve process reports it on stderr and exits, and
/// the host quotes it when the step fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}
