//! The built-in native plugins (`ssh`, `docker`): compiled into this binary (Cargo features
//! `builtin-ssh`, `builtin-docker`) and run out of process as `dagu plugin serve NAME`,
//! inside the sandbox their grants describe — a crash or a hostile server costs a step,
//! never the host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dagu_engine::Executors;
use dagu_plugin_sdk::Capabilities;
use dagu_plugins::proc::{ProcConfig, ProcPlugin};

/// One built-in native plugin.
pub struct NativeBuiltin {
    /// The plugin's name: `dagu plugin serve NAME`, `plugins.grants.NAME`.
    pub name: &'static str,
    /// Its step types, each with the JSON Schema of its config.
    pub step_types: &'static [(&'static str, &'static str)],
    /// Serves the plugin on stdin/stdout until the host is done with it.
    pub serve: fn() -> std::io::Result<()>,
    /// What the plugin requests, which is what it gets unless the deployment grants it
    /// something else.
    pub capabilities: fn() -> Capabilities,
}

/// Every built-in native plugin in this build.
pub static NATIVE_BUILTINS: &[NativeBuiltin] = &[
    #[cfg(feature = "builtin-ssh")]
    NativeBuiltin {
        name: "ssh",
        step_types: &[
            ("ssh", dagu_plugin_ssh::SSH_SCHEMA),
            ("sftp", dagu_plugin_ssh::SFTP_SCHEMA),
        ],
        serve: || dagu_plugin_sdk::serve_stdio(dagu_plugin_ssh::Ssh::default()),
        capabilities: dagu_plugin_ssh::capabilities,
    },
    #[cfg(feature = "builtin-docker")]
    NativeBuiltin {
        name: "docker",
        step_types: &[
            ("docker", dagu_plugin_docker::DOCKER_SCHEMA),
            ("container", dagu_plugin_docker::CONTAINER_SCHEMA),
        ],
        serve: || dagu_plugin_sdk::serve_stdio(dagu_plugin_docker::Docker::default()),
        capabilities: dagu_plugin_docker::capabilities,
    },
];

/// The built-in native plugin called `name`.
pub fn find(name: &str) -> Option<&'static NativeBuiltin> {
    NATIVE_BUILTINS.iter().find(|b| b.name == name)
}

/// What a built-in may do by default: what it requests, with `~/` in paths
/// meaning `home`, leaving out paths this machine does not have (a missing `~/.docker`
/// is normal, not worth a warning on every run).
fn default_grants(builtin: &NativeBuiltin, home: &Path) -> Capabilities {
    let mut grants = (builtin.capabilities)();
    for paths in [&mut grants.fs_read, &mut grants.fs_write] {
        for path in paths.iter_mut() {
            if let Some(rest) = path.strip_prefix("~/") {
                *path = home.join(rest).display().to_string();
            }
        }
        paths.retain(|p| Path::new(p).exists());
    }
    grants
}

/// Registers every built-in native plugin for its step types (nothing starts until a step
/// needs it); `granted` gives the deployment's grants for a plugin, if it has any.
pub fn register(executors: &mut Executors, granted: impl Fn(&str) -> Option<Capabilities>) {
    let dagu = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("dagu"));
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    for builtin in NATIVE_BUILTINS {
        let mut config = ProcConfig::new(builtin.name, &dagu, &["plugin", "serve", builtin.name]);
        config.grants = granted(builtin.name).unwrap_or_else(|| default_grants(builtin, &home));
        // The binary's own folder, not the caller's working folder, is the plugin's.
        config.plugin_dir = dagu.parent().map(Path::to_path_buf);
        let plugin = Arc::new(ProcPlugin::new(config));
        for (step_type, _) in builtin.step_types {
            executors.register(step_type, plugin.clone());
        }
    }
}

/// The config schemas of the native built-ins' step types.
pub fn config_schemas() -> impl Iterator<Item = (&'static str, &'static str)> {
    NATIVE_BUILTINS
        .iter()
        .flat_map(|b| b.step_types.iter().copied())
}
