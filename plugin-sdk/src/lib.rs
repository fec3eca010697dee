//! Everything a step-type plugin and the host share.
//!
//! * [`records`]: the records of the `dagu:plugin` contract (`wit/dagu-plugin.wit`) as serde
//!   types, serialised as JSON with snake_case keys.
//! * [`protocol`]: the messages of the subprocess protocol `dagu-plugin/1` (newline-delimited
//!   JSON over stdio), specified in `docs/plugin-protocol.md`.
//! * [`Plugin`]: the trait a plugin implements. One implementation serves both ways:
//!   [`serve_stdio`] runs it as a subprocess plugin (native targets), and
//!   [`export_plugin!`] exports it as a WASM component of the `step-plugin` world when the
//!   crate is built for `wasm32-wasip2`.
//! * [`testing::run_in_process`]: runs a plugin in the test's own thread and collects its
//!   log lines (native targets).

pub mod protocol;
pub mod records;
pub mod words;

mod plugin;
#[cfg(not(target_arch = "wasm32"))]
pub mod serve;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component;

#[cfg(test)]
mod schema_tests;

pub use plugin::{Plugin, RunContext};
pub use protocol::{HostMessage, Outcome, PROTOCOL_V1, PluginMessage};
pub use records::{
    Capabilities, LogStream, Manifest, RunError, RunRequest, RunResponse, StepTypeInfo,
};
#[cfg(not(target_arch = "wasm32"))]
pub use serve::{serve, serve_stdio};

/// Exports a [`Plugin`] as the WASM component's `dagu:plugin/plugin` interface when the
/// crate is built for `wasm32-wasip2` (as a `cdylib`); expands to nothing on other targets,
/// where the same type is served with [`serve_stdio`]. The type must implement
/// [`Default`]; one instance serves every run of the component instance.
///
/// ```ignore
/// #[derive(Default)]
/// struct Echo;
/// impl dagu_plugin_sdk::Plugin for Echo { /* describe, run */ }
/// dagu_plugin_sdk::export_plugin!(Echo);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct ExportedPlugin;
            static INSTANCE: ::std::sync::OnceLock<$plugin> = ::std::sync::OnceLock::new();
            impl $crate::component::Guest for ExportedPlugin {
                fn describe() -> $crate::component::WitManifest {
                    $crate::component::describe(INSTANCE.get_or_init(<$plugin>::default))
                }
                fn run(
                    request: $crate::component::WitRunRequest,
                ) -> ::std::result::Result<
                    $crate::component::WitRunResponse,
                    $crate::component::WitRunError,
                > {
                    $crate::component::run(INSTANCE.get_or_init(<$plugin>::default), request)
                }
            }
    $crate::component::export_step_plugin!(ExportedPlugin with_types_in $crate::component);
        };
    };
}
