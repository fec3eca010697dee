//! The built-in WASM plugins (`dagu_builtins::BUILTINS`) as step executors. Each is
//! loaded on the first step of its type — from its precompiled artifact, so no step
//! waits for a compile — and shared by every later step of the process.

use std::sync::Arc;

use dagu_engine::Executors;
use dagu_plugin_sdk::Capabilities;

use crate::wasm::lazy::{ComponentSource, LazyComponent};

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

/// Registers every built-in for the step type of its name; `grants` gives a built-in's
/// capabilities by name (the deployment's, or [`default_grants`]).
pub fn register_builtins(executors: &mut Executors, grants: impl Fn(&str) -> Capabilities) {
    for builtin in dagu_builtins::BUILTINS {
        let plugin = LazyComponent::new(ComponentSource::Builtin(builtin), grants(builtin.name));
        executors.register(builtin.name, Arc::new(plugin));
    }
}
