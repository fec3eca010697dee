//! The built-in plugins as embedded WASM components, each with an artifact precompiled for
//! the machine that built the binary (see `build.rs`), and the engine configuration the
//! artifacts were compiled with.

mod engine_config;

pub use engine_config::{MAX_CONCURRENT_INSTANCES, MAX_MEMORY_BYTES, engine_config};

/// One built-in plugin.
pub struct Builtin {
    /// The plugin's name, also the folder `plugins/<name>` of its source.
    pub name: &'static str,
    /// The component (`wasm32-wasip2`), for machines the precompiled artifact does not fit.
    pub component: &'static [u8],
    /// The component compiled by [`engine_config`] for the building machine.
    pub precompiled: &'static [u8],
    /// The JSON Schema of its step type's config (`plugins/<name>/config.schema.json`),
    /// for checking configs when a DAG is loaded.
    pub config_schema: Option<&'static str>,
}

/// Every built-in plugin.
pub static BUILTINS: &[Builtin] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
