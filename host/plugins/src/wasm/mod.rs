//! WASM component plugins: components of the `step-plugin` world (`wit/dagu-plugin.wit`)
//! run in wasmtime.
//!
//! * [`engine`]: the process's one engine (pooling allocator, epoch ticker) and loading a
//!   component: a built-in's precompiled artifact, or a file compiled once and cached by
//!   hash and engine compatibility.
//! * [`bindings`]: the host side of the WIT world.
//! * [`state`]: what one step's store holds — WASI with only the granted preopens and env
//!   vars, wasi-http limited to the granted hosts, the memory limit, the log files.
//! * [`plugin`]: [`WasmPlugin`]: a loaded component checked against its grants, with its
//!   `InstancePre` and manifest.
//! * [`lazy`]: [`LazyComponent`], a component loaded when its first step runs.
//! * [`builtin`]: the built-in plugins embedded in the binary.
//! * [`step`]: [`WasmPlugin`] as a [`dagu_engine::StepExecutor`]: a fresh store and
//!   instance per step, deadlines and stop requests through epoch interruption.

pub mod bindings;
pub mod builtin;
pub mod engine;
pub mod lazy;
pub mod plugin;
pub mod state;
pub mod step;

pub use builtin::register_builtins;
pub use engine::{WasmEngine, WasmError};
pub use lazy::{ComponentSource, LazyComponent};
pub use plugin::{WasmLimits, WasmPlugin};
