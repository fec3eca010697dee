//! The `template` plugin as a subprocess plugin (`dagu-plugin/1` over stdio).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::io::Result<()> {
    dagu_plugin_sdk::serve_stdio(dagu_plugin_template::Template)
}

/// On `wasm32` the library is the component; this binary does nothing.
#[cfg(target_arch = "wasm32")]
fn main() {}
