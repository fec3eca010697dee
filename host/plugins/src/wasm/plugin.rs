//! [`WasmPlugin`]: one loaded component — checked against what it was granted, linked
//! once into an `InstancePre`, described once — ready to run steps.

use std::path::PathBuf;
use std::sync::Arc;

use dagu_plugin_sdk::{Capabilities, Manifest};
use tokio::sync::OnceCell;
use wasmtime::component::{Component, Linker};

use crate::step_io::ConfigValidators;
use crate::wasm::bindings::{StepPlugin, StepPluginPre};
use crate::wasm::engine::{WasmEngine, WasmError};
use crate::wasm::state::StepState;

/// Bounds of one step's instance.
#[derive(Clone, Debug)]
pub struct WasmLimits {
    /// The most linear memory the instance may have, in bytes.
    pub memory_bytes: usize,
}

impl Default for WasmLimits {
    fn default() -> WasmLimits {
        WasmLimits {
            memory_bytes: 256 << 20,
        }
    }
}

/// A loaded WASM component plugin.
pub struct WasmPlugin {
    pub(crate) name: String,
    pub(crate) engine: Arc<WasmEngine>,
    pub(crate) pre: StepPluginPre<StepState>,
    /// What the plugin may do: requested ∩ granted.
    pub(crate) grants: Capabilities,
    pub(crate) limits: WasmLimits,
    pub(crate) manifest: OnceCell<Result<Manifest, String>>,
    pub(crate) validators: ConfigValidators,
}

impl WasmPlugin {
    /// Links `component` for steps. Refuses a component that imports something the host
    /// does not provide, or `wasi:http` without an HTTP grant.
    pub fn new(
        name: &str,
        engine: Arc<WasmEngine>,
        component: &Component,
        grants: Capabilities,
        limits: WasmLimits,
    ) -> Result<WasmPlugin, WasmError> {
        check_imports(name, &engine, component, &grants)?;
        let mut linker: Linker<StepState> = Linker::new(engine.engine());
        let link = |e: wasmtime::Error| WasmError::Refused(format!("plugin '{name}': {e:#}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link)?;
        StepPlugin::add_to_linker::<StepState, wasmtime::component::HasSelf<StepState>>(
            &mut linker,
            |state| state,
        )
        .map_err(link)?;
        let pre = linker.instantiate_pre(component).map_err(|e| {
            WasmError::Refused(format!(
                "plugin '{name}' cannot be linked: {e:#} (it needs something this host does not provide)"
            ))
        })?;
        let pre = StepPluginPre::new(pre).map_err(|e| {
            WasmError::Refused(format!(
                "plugin '{name}' is not a dagu step plugin (world dagu:plugin/step-plugin): {e:#}"
            ))
        })?;
        Ok(WasmPlugin {
            name: name.to_string(),
            engine,
            pre,
            grants,
            limits,
            manifest: OnceCell::new(),
            validators: ConfigValidators::default(),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin may do.
    pub fn grants(&self) -> &Capabilities {
        &self.grants
    }

    /// Folders a step's WASI sees: every granted path, read-only or read-write.
    pub(crate) fn granted_dirs(&self) -> Vec<(PathBuf, bool)> {
        let mut dirs: Vec<(PathBuf, bool)> = Vec::new();
        for p in &self.grants.fs_write {
            dirs.push((PathBuf::from(p), true));
        }
        for p in &self.grants.fs_read {
            if !dirs.iter().any(|(d, _)| d == &PathBuf::from(p)) {
                dirs.push((PathBuf::from(p), false));
            }
        }
        dirs
    }
}

/// Refuses imports that need a grant the plugin lacks (`wasi:http/*` needs HTTP hosts).
fn check_imports(
    name: &str,
    engine: &WasmEngine,
    component: &Component,
    grants: &Capabilities,
) -> Result<(), WasmError> {
    let ty = component.component_type();
    for (import, _) in ty.imports(engine.engine()) {
        if import.starts_with("wasi:http/") && grants.http_hosts.is_empty() {
            return Err(WasmError::Refused(format!(
                "plugin '{name}' refused: it imports {import} but is granted no HTTP hosts; \
                 grant it the hosts it needs under plugins.grants.{name}.http_hosts in the \
                 deployment config, or remove the plugin"
            )));
        }
    }
    Ok(())
}
