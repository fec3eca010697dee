//! The `http` plugin as a subprocess plugin (`dagu-plugin/1` over stdio). Natively it has
//! no transport, so every run fails; the plugin is meant to run as the WASM component.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::io::Result<()> {
    dagu_plugin_sdk::serve_stdio(dagu_plugin_http::Http)
}

/// On `wasm32` the library is the component; this binary does nothing.
#[cfg(target_arch = "wasm32")]
fn main() {}
