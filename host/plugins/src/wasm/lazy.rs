//! [`LazyComponent`]: a component plugin registered for its step types but loaded only
//! when the first of its steps runs — a built-in from its precompiled artifact, or an
//! installed `wasm-component` package compiled once and cached — then shared by every later
//! step of the process.

use std::path::PathBuf;
use std::sync::Arc;

use dagu_builtins::Builtin;
use dagu_engine::executor::BoxFuture;
use dagu_engine::{StepExecutor, StepInput, StepOutput};
use dagu_plugin_sdk::Capabilities;
use tokio::sync::OnceCell;

use crate::wasm::engine::WasmEngine;
use crate::wasm::plugin::{WasmLimits, WasmPlugin};

/// Where a component comes from.
pub enum ComponentSource {
    /// Embedded in the binary.
    Builtin(&'static Builtin),
    /// An installed package's `.wasm` file; its `describe` must match `plugin.toml`.
    Package {
        name: String,
        version: String,
        file: PathBuf,
        /// Where compiled components are cached (`$DAGU_HOME/cache/wasm`).
        cache_dir: PathBuf,
    },
}

/// A component plugin, loaded on first use.
pub struct LazyComponent {
    source: ComponentSource,
    grants: Capabilities,
    loaded: OnceCell<Result<Arc<WasmPlugin>, String>>,
}

impl LazyComponent {
    /// The component from `source`, with the capabilities it gets.
    pub fn new(source: ComponentSource, grants: Capabilities) -> LazyComponent {
        LazyComponent {
            source,
            grants,
            loaded: OnceCell::new(),
        }
    }

    /// The loaded plugin (loading and checking it the first time).
    pub async fn plugin(&self) -> Result<Arc<WasmPlugin>, String> {
        self.loaded
            .get_or_init(|| async { self.load().await })
            .await
            .clone()
    }

    async fn load(&self) -> Result<Arc<WasmPlugin>, String> {
        let shared = WasmEngine::shared().map_err(|e| e.to_string())?;
        let (name, engine, component) = match &self.source {
            ComponentSource::Builtin(builtin) => {
                let component = shared.builtin(builtin).map_err(|e| e.to_string())?;
                (builtin.name.to_string(), shared, component)
            }
            ComponentSource::Package {
                name,
                file,
                cache_dir,
                ..
            } => {
                let engine = Arc::new(shared.with_cache_dir(cache_dir));
                let component = engine.load_file(file).map_err(|e| e.to_string())?;
                (name.clone(), engine, component)
            }
        };
        let plugin = WasmPlugin::new(
            &name,
            engine,
            &component,
            self.grants.clone(),
            WasmLimits::default(),
        )
        .map_err(|e| e.to_string())?;
        if let ComponentSource::Package { name, version, .. } = &self.source {
            let m = plugin.manifest().await?;
            if &m.name != name || &m.version != version {
                return Err(format!(
                    "plugin '{name}' refused: it describes itself as '{}' version {} but \
                     plugin.toml says '{name}' version {version}; reinstall the vetted plugin \
                     (or correct plugin.toml) and run `dagu plugin lock` again",
                    m.name, m.version
                ));
            }
        }
        Ok(Arc::new(plugin))
    }
}

impl StepExecutor for LazyComponent {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(async move {
            match self.plugin().await {
                Ok(plugin) => plugin.run(input).await,
                Err(e) => StepOutput::failed(1, format!("plugin error: {e}")),
            }
        })
    }
}
