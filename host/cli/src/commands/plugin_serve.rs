//! `dagu plugin serve`: the process the host starts for a built-in native plugin
//! (`dagu plugin serve ssh`), an Extism or a native-library plugin (`kind = "extism"` /
//! `kind = "dylib"` in `plugin.toml`). It loads the plugin, then speaks `dagu-plugin/1` on
//! stdin/stdout like any subprocess plugin, inside the sandbox the host built from the
//! plugin's grants. Diagnostics go to stderr.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use dagu_plugin_sdk::{Capabilities, Plugin};
use dagu_plugin_serve::{ExtismOptions, ExtismPlugin, NativeLibrary};

use super::native;

/// What to serve: a built-in's `NAME`, `extism MODULE` or `--dylib LIBRARY`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    /// A native plugin library (C ABI; only for plugins the deployment trusts).
    #[arg(long, value_name = "LIBRARY")]
    dylib: Option<PathBuf>,
    #[command(subcommand)]
    runtime: Option<Runtime>,
}

/// The plugin runtimes `serve` embeds.
#[derive(Subcommand, Debug)]
pub enum Runtime {
    /// An Extism module (a core WebAssembly module exporting describe and run).
    Extism {
        /// The plugin's effective capabilities as JSON, e.g. '{"fs_read": ["/data"]}':
        /// http_hosts, fs_read and fs_write are what the module can reach.
        #[arg(long, value_name = "JSON")]
        grants: Option<String>,
        /// The most linear memory one instance may use, in MiB.
        #[arg(long, value_name = "MIB", default_value_t = dagu_plugin_serve::extism::DEFAULT_MAX_MEMORY >> 20)]
        max_memory_mib: u64,
        /// The module file.
        module: PathBuf,
    },
    /// A built-in native plugin (`ssh`, `docker`).
    #[command(external_subcommand)]
    Builtin(Vec<String>),
}

/// `dagu plugin serve`: loads the plugin, then serves it until the host says `shutdown`
/// or closes stdin.
pub fn serve(args: &ServeArgs) -> Result<u8> {
    match (&args.dylib, &args.runtime) {
        (Some(library), None) => serve_plugin(NativeLibrary::load(library)?),
        (
            None,
            Some(Runtime::Extism {
                grants,
                max_memory_mib,
                module,
            }),
        ) => {
            let options = ExtismOptions {
                grants: parse_grants(grants.as_deref())?,
                max_memory: max_memory_mib.saturating_mul(1 << 20),
            };
            serve_plugin(ExtismPlugin::load(module, &options)?)
        }
        (None, Some(Runtime::Builtin(words))) if words.len() == 1 => {
            let name = &words[0];
            let Some(builtin) = native::find(name) else {
                let known: Vec<&str> = native::NATIVE_BUILTINS.iter().map(|b| b.name).collect();
                bail!(
                    "there is no built-in plugin '{name}' to serve (this build has: {})",
                    known.join(", ")
                );
            };
            (builtin.serve)().with_context(|| format!("serving the built-in plugin {name}"))?;
            Ok(0)
        }
        _ => bail!(
            "say what to serve: `dagu plugin serve NAME` (a built-in such as ssh), \
             `dagu plugin serve extism MODULE` or `dagu plugin serve --dylib LIBRARY`"
        ),
    }
}

fn parse_grants(json: Option<&str>) -> Result<Capabilities> {
    json.map_or_else(
        || Ok(Capabilities::default()),
        |text| serde_json::from_str(text).context("--grants is not a capabilities object"),
    )
}

fn serve_plugin(plugin: impl Plugin) -> Result<u8> {
    dagu_plugin_sdk::serve_stdio(plugin).context("serving the plugin")?;
    Ok(0)
}
