//! From a resolved [`Registry`] to step executors: one [`ProcPlugin`] per enabled
//! subprocess, Extism or native-library plugin, registered for the step types its
//! `plugin.toml` declares. Nothing starts here; a plugin's process starts when the first
//! step of one of its types runs.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use dagu_engine::executor::BoxFuture;
use dagu_engine::{Executors, StepExecutor, StepInput, StepOutput};
use dagu_plugin_sdk::Manifest;

use crate::proc::{ProcConfig, ProcPlugin};
use crate::registry::package::Kind;
use crate::registry::resolve::{Claim, Installed, Registry};
use crate::wasm::lazy::{ComponentSource, LazyComponent};

/// How to start an installed plugin's process, in its folder, with its effective
/// capabilities for the sandbox: a subprocess plugin's entry; for an Extism module or a
/// native library, this `dagu` binary as `dagu plugin serve extism --grants JSON MODULE` or
/// `dagu plugin serve --dylib LIBRARY` (`entry.program` names the module or library;
/// `entry.args` are not used).
pub fn proc_config(plugin: &Installed) -> ProcConfig {
    let p = &plugin.package;
    let served = |args: Vec<String>| {
        // Found on PATH when the running binary cannot be named.
        let dagu = std::env::current_exe().unwrap_or_else(|_| "dagu".into());
        (dagu, args)
    };
    let entry_file = || p.dir.join(&p.entry.program).display().to_string();
    let (program, args) = match p.kind {
        Kind::Extism => served(vec![
            "plugin".into(),
            "serve".into(),
            "extism".into(),
            "--grants".into(),
            serde_json::to_string(&plugin.effective).unwrap_or_default(),
            entry_file(),
        ]),
        Kind::Dylib => served(vec![
            "plugin".into(),
            "serve".into(),
            "--dylib".into(),
            entry_file(),
        ]),
        _ => (p.program_path(), p.entry.args.clone()),
    };
    let mut config = ProcConfig::new(&p.name, program, &[]);
    config.args = args;
    config.work_dir = Some(p.dir.clone());
    config.grants = plugin.effective.clone();
    config
}

/// Registers an executor for every step type in the registry: the serving plugin's (one
/// shared supervisor per plugin), or one that fails the step with the reason the plugin
/// may not run. Returns the step types registered.
pub fn register(registry: &Registry, executors: &mut Executors) -> Vec<String> {
    let mut supervisors: HashMap<String, Arc<dyn StepExecutor>> = HashMap::new();
    let mut registered = Vec::new();
    for (ty, claim) in &registry.step_types {
        let executor: Arc<dyn StepExecutor> = match claim {
            Claim::Refused(message) => Arc::new(Refused(message.clone())),
            Claim::Plugin(name) => match registry.get(name) {
                None => continue,
                Some(p) => match &p.refusal {
                    Some(message) => Arc::new(Refused(message.clone())),
                    None => supervisors
                        .entry(name.clone())
                        .or_insert_with(|| executor_for(p, registry))
                        .clone(),
                },
            },
        };
        executors.register(ty, executor);
        registered.push(ty.clone());
    }
    registered
}

/// The executor of an installed, enabled plugin: a WASM component loaded in this process
/// on first use, or a supervisor of its process.
fn executor_for(p: &Installed, registry: &Registry) -> Arc<dyn StepExecutor> {
    if p.package.kind == Kind::WasmComponent {
        let home = registry
            .lock_path
            .parent()
            .unwrap_or(std::path::Path::new("."));
        let source = ComponentSource::Package {
            name: p.package.name.clone(),
            version: p.package.version.clone(),
            file: p.package.dir.join(&p.package.entry.program),
            cache_dir: home.join("cache").join("wasm"),
        };
        return Arc::new(LazyComponent::new(source, p.effective.clone()));
    }
    Arc::new(PackagedPlugin::new(p, registry))
}

/// A step executor that fails every step with one message.
pub struct Refused(pub String);

impl StepExecutor for Refused {
    fn run<'a>(&'a self, _input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(async move { StepOutput::failed(1, self.0.clone()) })
    }
}

/// A packaged subprocess plugin: its supervisor, plus the check that what the running
/// plugin says it is (`describe`) is what `plugin.toml` and `plugins.lock` say.
pub struct PackagedPlugin {
    proc: ProcPlugin,
    name: String,
    version: String,
    /// Which files vouch for the name and version, for messages.
    source: &'static str,
    refused: OnceLock<String>,
}

impl PackagedPlugin {
    /// A supervisor for an installed plugin; nothing starts yet.
    pub fn new(plugin: &Installed, registry: &Registry) -> PackagedPlugin {
        PackagedPlugin {
            proc: ProcPlugin::new(proc_config(plugin)),
            name: plugin.package.name.clone(),
            version: plugin.package.version.clone(),
            source: if registry.config.enforces_lock() {
                "plugin.toml and plugins.lock say"
            } else {
                "plugin.toml says"
            },
            refused: OnceLock::new(),
        }
    }

    /// The supervisor.
    pub fn supervisor(&self) -> &ProcPlugin {
        &self.proc
    }

    /// Why a running plugin with this manifest may not serve steps, if it may not.
    pub fn mismatch(&self, manifest: &Manifest) -> Option<String> {
        (manifest.name != self.name || manifest.version != self.version).then(|| {
            format!(
                "plugin '{}' refused: it describes itself as '{}' version {} but {} '{}' \
                 version {}; reinstall the vetted plugin (or correct plugin.toml) and run \
                 `dagu plugin lock` again",
                self.name, manifest.name, manifest.version, self.source, self.name, self.version
            )
        })
    }

    async fn run_checked(&self, input: &StepInput) -> StepOutput {
        if let Some(message) = self.refused.get() {
            return StepOutput::failed(1, message.clone());
        }
        let manifest = tokio::select! {
            m = self.proc.manifest() => m,
            _ = input.stop.cancelled() => return StepOutput::stopped(),
        };
        match manifest {
            Err(e) => return StepOutput::failed(1, format!("plugin error: {e}")),
            Ok(m) => {
                if let Some(message) = self.mismatch(&m) {
                    let message = self.refused.get_or_init(|| message).clone();
                    self.proc.shutdown().await;
                    return StepOutput::failed(1, message);
                }
            }
        }
        StepExecutor::run(&self.proc, input).await
    }
}

impl StepExecutor for PackagedPlugin {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(self.run_checked(input))
    }

    fn end_run<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.proc.end_run(run_id))
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        StepExecutor::shutdown(&self.proc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::config::DeploymentConfig;
    use std::path::Path;

    fn registry(home: &Path, config: &str) -> Registry {
        Registry::load(
            home,
            DeploymentConfig::parse(Path::new("/x/config.yaml"), config).unwrap(),
        )
    }

    fn install(home: &Path, name: &str, types: &str) {
        let dir = home.join("plugins").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("run"), "").unwrap();
        std::fs::write(
            dir.join("plugin.toml"),
            format!(
                "name = \"{name}\"\nversion = \"1.0.0\"\nkind = \"subprocess\"\n\
                 step_types = {types}\n[entry]\nprogram = \"run\"\nargs = [\"-v\"]\n\
                 [capabilities]\nenv = [\"A\", \"B\"]\n"
            ),
        )
        .unwrap();
    }

    #[test]
    fn enabled_step_types_are_registered_without_starting_anything() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "p", "[\"x\", \"y\"]");
        install(home.path(), "q", "[\"z\"]");
        let r = registry(
            home.path(),
            "plugins:\n  enabled: [p]\n  grants:\n    p:\n      env: [B]\n",
        );
        let mut executors = Executors::builtin();
        let types = register(&r, &mut executors);
        assert_eq!(types, vec!["x".to_string(), "y".to_string()]);
        assert!(executors.get("x").is_some() && executors.get("y").is_some());
        assert!(executors.get("z").is_none());
        assert!(executors.get("command").is_some());

        let config = proc_config(r.get("p").unwrap());
        assert_eq!(config.program, home.path().join("plugins/p/run"));
        assert_eq!(config.args, vec!["-v".to_string()]);
        assert_eq!(
            config.work_dir.as_deref(),
            Some(home.path().join("plugins/p").as_path())
        );
        assert_eq!(config.grants.env, vec!["B".to_string()]);
    }

    #[test]
    fn extism_and_dylib_plugins_are_served_by_this_binary() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "e", "[\"x\"]");
        install(home.path(), "n", "[\"y\"]");
        for (name, kind) in [("e", "extism"), ("n", "dylib")] {
            let toml = home.path().join("plugins").join(name).join("plugin.toml");
            let text = std::fs::read_to_string(&toml).unwrap();
            std::fs::write(&toml, text.replace("subprocess", kind)).unwrap();
        }
        let r = registry(
            home.path(),
            "plugins:\n  enabled: [e, n]\n  trusted: [n]\n  grants:\n    e:\n      env: [B]\n",
        );
        let dagu = std::env::current_exe().unwrap();
        let module = home.path().join("plugins/e/run").display().to_string();
        let config = proc_config(r.get("e").unwrap());
        assert_eq!(config.program, dagu);
        let grants =
            r#"{"http_hosts":[],"fs_read":[],"fs_write":[],"env":["B"],"tcp":[],"exec":false}"#;
        assert_eq!(
            config.args,
            ["plugin", "serve", "extism", "--grants", grants, &module]
        );
        assert_eq!(config.grants.env, vec!["B".to_string()]);
        assert!(config.sandbox);

        let library = home.path().join("plugins/n/run").display().to_string();
        let config = proc_config(r.get("n").unwrap());
        assert_eq!(config.program, dagu);
        assert_eq!(config.args, ["plugin", "serve", "--dylib", &library]);
        assert!(config.sandbox);
    }

    #[test]
    fn a_manifest_that_disagrees_with_plugin_toml_is_refused() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "p", "[\"x\"]");
        let r = registry(home.path(), "plugins:\n  enabled: [p]\n  locked: false\n");
        let plugin = PackagedPlugin::new(r.get("p").unwrap(), &r);
        let mut m = Manifest {
            name: "p".into(),
            version: "1.0.0".into(),
            protocol: "dagu-plugin/1".into(),
            step_types: Vec::new(),
            capabilities: Default::default(),
        };
        assert_eq!(plugin.mismatch(&m), None);
        m.version = "1.0.1".into();
        let message = plugin.mismatch(&m).unwrap();
        assert!(
            message.contains("version 1.0.1 but plugin.toml says 'p' version 1.0.0"),
            "{message}"
        );
        m.version = "1.0.0".into();
        m.name = "evil".into();
        assert!(plugin.mismatch(&m).is_some());
    }
}
