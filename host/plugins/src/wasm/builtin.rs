//! The built-in WASM plugins (`dagu_builtins::BUILTINS`) as step executors. Each is
//! loaded on the first step of its type — from its precompiled artifact, so no step
//! waits for a compile — and shared by every later step of the process.

use std::sync::Arc;

use dagu_builtins::Builtin;
use dagu_engine::executor::BoxFuture;
use dagu_engine::{Executors, StepExecutor, StepInput, StepOutput};
use dagu_plugin_sdk::Capabilities;
use tokio::sync::OnceCell;

use crate::wasm::engine::WasmEngine;
use crate::wasm::plugin::{WasmLimits, WasmPlugin};

/// What a built-in may do unless the deployment grants it something else
/// (`plugins.grants.<name>`). Every WASM step sees its working folder; `http` may reach
/// any host, as Dagu's http step can.
pub fn default_grants(name: &str) -> Capabilities {
    match name {
        "http" => Capabilities {
            http_hosts: vec!["*".into()],
            ..Capabilities::default()
        },
        _ => Capabilities::default(),
    }
}

/// A built-in plugin, loaded on first use.
pub struct BuiltinPlugin {
    builtin: &'static Builtin,
    grants: Capabilities,
    loaded: OnceCell<Result<Arc<WasmPlugin>, String>>,
}

impl BuiltinPlugin {
    /// The built-in with the capabilities it gets.
    pub fn new(builtin: &'static Builtin, grants: Capabilities) -> BuiltinPlugin {
        BuiltinPlugin {
            builtin,
            grants,
            loaded: OnceCell::new(),
        }
    }

    /// The loaded plugin (loading it the first time).
    pub async fn plugin(&self) -> Result<Arc<WasmPlugin>, String> {
        self.loaded
            .get_or_init(|| async {
                let engine = WasmEngine::shared().map_err(|e| e.to_string())?;
                let component = engine.builtin(self.builtin).map_err(|e| e.to_string())?;
                WasmPlugin::new(
                    self.builtin.name,
                    engine,
                    &component,
                    self.grants.clone(),
                    WasmLimits::default(),
                )
                .map(Arc::new)
                .map_err(|e| e.to_string())
            })
            .await
            .clone()
    }
}

impl StepExecutor for BuiltinPlugin {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(async move {
            match self.plugin().await {
                Ok(plugin) => plugin.run(input).await,
                Err(e) => StepOutput::failed(1, format!("plugin error: {e}")),
            }
        })
    }
}

/// Registers every built-in for the step type of its name; `grants` gives a built-in's
/// capabilities by name (the deployment's, or [`default_grants`]).
pub fn register_builtins(executors: &mut Executors, grants: impl Fn(&str) -> Capabilities) {
    for builtin in dagu_builtins::BUILTINS {
        let plugin = BuiltinPlugin::new(builtin, grants(builtin.name));
        executors.register(builtin.name, Arc::new(plugin));
    }
}
