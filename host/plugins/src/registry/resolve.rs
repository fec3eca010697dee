//! [`Registry`]: the plugins found on the search path, resolved against the deployment
//! config and `plugins.lock` — which are enabled, what each may do, which may not run and
//! why, and which plugin serves each step type.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dagu_plugin_sdk::Capabilities;

use crate::registry::caps::effective;
use crate::registry::config::DeploymentConfig;
use crate::registry::lock::{self, LockFile};
use crate::registry::package::{Kind, Package};
use crate::registry::{search, verify};

/// Step types the host provides itself; a plugin cannot take them over.
pub const BUILTIN_STEP_TYPES: &[&str] = &["command", "dag", "parallel"];

/// One installed plugin, as this deployment sees it.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Its `plugin.toml`.
    pub package: Package,
    /// In the `enabled` list.
    pub enabled: bool,
    /// What the deployment grants it.
    pub granted: Capabilities,
    /// What it gets: requested ∩ granted.
    pub effective: Capabilities,
    /// Why it may not run although enabled (unsupported kind, locked-mode refusal).
    pub refusal: Option<String>,
}

impl Installed {
    /// Enabled and allowed to run.
    pub fn is_ready(&self) -> bool {
        self.enabled && self.refusal.is_none()
    }
}

/// Who serves a step type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The named plugin.
    Plugin(String),
    /// Nobody may: steps of this type fail with the message.
    Refused(String),
}

/// The resolved plugin set of one deployment.
#[derive(Clone, Debug)]
pub struct Registry {
    /// The deployment's plugin settings.
    pub config: DeploymentConfig,
    /// Where `plugins.lock` is.
    pub lock_path: PathBuf,
    /// The lock, if there is one (and it could be read).
    pub lock: Option<LockFile>,
    /// Why the lock could not be read, if it could not.
    pub lock_error: Option<String>,
    /// Every plugin found, in search order (the first of two with one name wins).
    pub plugins: Vec<Installed>,
    /// Step type → who serves it, for the step types enabled plugins declare.
    pub step_types: BTreeMap<String, Claim>,
    /// Things an operator should fix: unreadable manifests, enabled plugins not found,
    /// duplicate names, step-type conflicts.
    pub problems: Vec<String>,
}

impl Registry {
    /// Searches `$DAGU_HOME/plugins` and the configured folders and resolves what is found.
    pub fn load(home: &Path, config: DeploymentConfig) -> Registry {
        let lock_path = home.join(lock::FILE_NAME);
        let (lock, lock_error) = match LockFile::load(&lock_path) {
            Ok(l) => (l, None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut problems = Vec::new();
        let mut packages: Vec<Package> = Vec::new();
        for dir in search::plugin_folders(home, &config.paths) {
            match Package::load(&dir) {
                Ok(p) => match packages.iter().find(|q| q.name == p.name) {
                    Some(first) => problems.push(format!(
                        "plugin '{}' is installed twice, in {} and {}; using the first: \
                         remove the other",
                        p.name,
                        first.dir.display(),
                        p.dir.display()
                    )),
                    None => packages.push(p),
                },
                Err(e) => problems.push(e.to_string()),
            }
        }
        for name in &config.enabled {
            if !packages.iter().any(|p| &p.name == name) {
                problems.push(format!(
                    "plugin '{name}' is enabled in config.yaml but not installed: install it \
                     with `dagu plugin install PATH` or remove it from plugins.enabled"
                ));
            }
        }
        let plugins: Vec<Installed> = packages
            .into_iter()
            .map(|package| {
                let enabled = config.is_enabled(&package.name);
                let granted = config.granted(&package.name);
                let refusal = if enabled {
                    refusal(&package, &config, lock.as_ref(), lock_error.as_deref())
                } else {
                    None
                };
                Installed {
                    effective: effective(&package.capabilities, &granted),
                    package,
                    enabled,
                    granted,
                    refusal,
                }
            })
            .collect();
        let step_types = claims(&plugins, &config, &mut problems);
        Registry {
            config,
            lock_path,
            lock,
            lock_error,
            plugins,
            step_types,
            problems,
        }
    }

    /// The installed plugin `name`.
    pub fn get(&self, name: &str) -> Option<&Installed> {
        self.plugins.iter().find(|p| p.package.name == name)
    }

    /// The config schemas of the step types enabled plugins serve, for the loader;
    /// unreadable schema files are returned as problems.
    pub fn step_type_catalog(&self) -> (dagu_core::StepTypes, Vec<String>) {
        let mut catalog = dagu_core::StepTypes::default();
        let mut problems = Vec::new();
        for (ty, claim) in &self.step_types {
            let Claim::Plugin(name) = claim else { continue };
            let Some(schema) = self.get(name).and_then(|p| p.package.config_schema(ty)) else {
                continue;
            };
            if let Err(e) = schema.and_then(|s| catalog.add(ty, &s)) {
                problems.push(format!("plugin '{name}': {e}"));
            }
        }
        (catalog, problems)
    }

    /// The enabled plugins.
    pub fn enabled(&self) -> impl Iterator<Item = &Installed> {
        self.plugins.iter().filter(|p| p.enabled)
    }

    /// Checks an installed plugin against the lock as locked mode would, whether or not
    /// the deployment is locked (signatures only when they are required).
    pub fn check_lock(&self, plugin: &Installed) -> Result<(), String> {
        if let Some(e) = &self.lock_error {
            return Err(e.clone());
        }
        let keys = self
            .config
            .require_signatures
            .then_some(self.config.trusted_keys.as_slice());
        verify::check(&plugin.package, self.lock.as_ref(), keys).map_err(|r| r.to_string())
    }
}

/// Why an enabled plugin may not run, if it may not.
fn refusal(
    package: &Package,
    config: &DeploymentConfig,
    lock: Option<&LockFile>,
    lock_error: Option<&str>,
) -> Option<String> {
    if !package.kind.is_supported() {
        return Some(format!(
            "plugin '{}' is a {} plugin, which this host does not support yet: use a \
             subprocess build of it, or remove it from plugins.enabled",
            package.name, package.kind
        ));
    }
    if package.kind == Kind::Dylib && !config.is_trusted(&package.name) {
        return Some(format!(
            "plugin '{}' is a native library (kind dylib): its code runs unchecked in a plugin \
             process, so it runs only when the deployment trusts it; after reviewing it, add \
             it to plugins.trusted in config.yaml, or remove it from plugins.enabled",
            package.name
        ));
    }
    if !config.enforces_lock() {
        return None;
    }
    if let Some(e) = lock_error {
        return Some(format!("plugin '{}' cannot be checked: {e}", package.name));
    }
    let keys = config
        .require_signatures
        .then_some(config.trusted_keys.as_slice());
    verify::check(package, lock, keys)
        .err()
        .map(|r| r.to_string())
}

/// Step type → who serves it. Every enabled plugin claims the step types it declares
/// (refused ones too, so that their steps fail with the refusal); `plugins.step_types`
/// settles a type several claim.
fn claims(
    plugins: &[Installed],
    config: &DeploymentConfig,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Claim> {
    let mut by_type: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for p in plugins.iter().filter(|p| p.enabled) {
        for t in &p.package.step_types {
            if BUILTIN_STEP_TYPES.contains(&t.as_str()) {
                problems.push(format!(
                    "plugin '{}' declares step type '{t}', which is built in; the built-in \
                     one is used",
                    p.package.name
                ));
                continue;
            }
            by_type.entry(t.clone()).or_default().push(&p.package.name);
        }
    }
    for (ty, pick) in &config.step_types {
        let claimants = by_type.get(ty).map(Vec::as_slice).unwrap_or_default();
        if !claimants.contains(&pick.as_str()) {
            problems.push(format!(
                "config.yaml plugins.step_types.{ty} names '{pick}', which is not an enabled \
                 plugin declaring '{ty}'"
            ));
        }
    }
    let mut out = BTreeMap::new();
    for (ty, claimants) in by_type {
        let claim = match claimants.as_slice() {
            [one] => Claim::Plugin(one.to_string()),
            many => match config.step_types.get(&ty) {
                Some(pick) if many.contains(&pick.as_str()) => Claim::Plugin(pick.clone()),
                _ => {
                    let names = many
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(" and ");
                    let message = format!(
                        "step type '{ty}' is claimed by plugins {names}: choose one in \
                         config.yaml, e.g. plugins.step_types: {{{ty}: {}}}",
                        many[0]
                    );
                    problems.push(message.clone());
                    Claim::Refused(message)
                }
            },
        };
        out.insert(ty, claim);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn install(home: &Path, name: &str, version: &str, types: &[&str]) -> PathBuf {
        let dir = home.join("plugins").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("run.sh"), format!("# {name}\n")).unwrap();
        let types = types
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            dir.join("plugin.toml"),
            format!(
                "name = \"{name}\"\nversion = \"{version}\"\nkind = \"subprocess\"\n\
                 step_types = [{types}]\n[entry]\nprogram = \"run.sh\"\n\
                 [capabilities]\nenv = [\"HOME\", \"TOKEN\"]\n"
            ),
        )
        .unwrap();
        dir
    }

    fn config(text: &str) -> DeploymentConfig {
        DeploymentConfig::parse(Path::new("/x/config.yaml"), text).unwrap()
    }

    #[test]
    fn only_enabled_plugins_claim_step_types_and_get_their_grants() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "a", "1.0.0", &["echo"]);
        install(home.path(), "b", "1.0.0", &["other"]);
        let r = Registry::load(
            home.path(),
            config("plugins:\n  enabled: [a]\n  grants:\n    a:\n      env: [HOME, PATH]\n"),
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.step_types.len(), 1);
        assert_eq!(r.step_types["echo"], Claim::Plugin("a".into()));
        let a = r.get("a").unwrap();
        assert!(a.is_ready());
        assert_eq!(a.effective.env, vec!["HOME".to_string()]);
        assert!(!r.get("b").unwrap().enabled);
    }

    #[test]
    fn two_claims_on_one_step_type_conflict_unless_the_config_picks() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "a", "1.0.0", &["echo"]);
        install(home.path(), "b", "1.0.0", &["echo"]);
        let r = Registry::load(home.path(), config("plugins:\n  enabled: [a, b]\n"));
        let Claim::Refused(message) = &r.step_types["echo"] else {
            panic!("expected a conflict: {:?}", r.step_types);
        };
        assert!(message.contains("'a' and 'b'"), "{message}");
        assert!(r.problems.iter().any(|p| p == message));

        let r = Registry::load(
            home.path(),
            config("plugins:\n  enabled: [a, b]\n  step_types:\n    echo: b\n"),
        );
        assert_eq!(r.step_types["echo"], Claim::Plugin("b".into()));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn locked_mode_refuses_what_the_lock_does_not_pin() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "a", "1.0.0", &["echo"]);
        let dir = install(home.path(), "b", "1.0.0", &["other"]);
        let mut lock = LockFile::new();
        lock.plugins.push(lock::Pin {
            name: "b".into(),
            version: "1.0.0".into(),
            artifact: "run.sh".into(),
            sha256: verify::sha256_file(&dir.join("run.sh")).unwrap(),
            signature: None,
        });
        lock.save(&home.path().join(lock::FILE_NAME)).unwrap();
        let r = Registry::load(
            home.path(),
            config("plugins:\n  enabled: [a, b]\n  locked: true\n"),
        );
        let a = r.get("a").unwrap();
        assert!(
            a.refusal.as_deref().unwrap().contains("not pinned"),
            "{a:?}"
        );
        assert!(r.get("b").unwrap().is_ready());
        // Refused plugins still claim their step types, so those steps fail with the refusal.
        assert_eq!(r.step_types["echo"], Claim::Plugin("a".into()));

        // Unlocked, the same set runs.
        let r = Registry::load(home.path(), config("plugins:\n  enabled: [a, b]\n"));
        assert!(r.get("a").unwrap().is_ready());
        assert!(r.check_lock(r.get("a").unwrap()).is_err());
    }

    #[test]
    fn problems_name_what_to_fix() {
        let home = tempfile::tempdir().unwrap();
        install(home.path(), "a", "1.0.0", &["command"]);
        let broken = home.path().join("plugins/broken");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("plugin.toml"), "name = 3\n").unwrap();
        let r = Registry::load(home.path(), config("plugins:\n  enabled: [a, ghost]\n"));
        let all = r.problems.join("\n");
        assert!(
            all.contains("plugin 'ghost' is enabled in config.yaml but not installed"),
            "{all}"
        );
        assert!(all.contains("broken/plugin.toml:1:8: name:"), "{all}");
        assert!(all.contains("'command', which is built in"), "{all}");
        assert!(r.step_types.is_empty());
    }

    #[test]
    fn unsupported_kinds_are_refused_when_enabled() {
        let home = tempfile::tempdir().unwrap();
        let dir = install(home.path(), "w", "1.0.0", &["wasm"]);
        let toml = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
        std::fs::write(
            dir.join("plugin.toml"),
            toml.replace("subprocess", "builtin"),
        )
        .unwrap();
        let r = Registry::load(home.path(), config("plugins:\n  enabled: [w]\n"));
        let refusal = r.get("w").unwrap().refusal.clone().unwrap();
        assert!(refusal.contains("does not support yet"), "{refusal}");
    }

    #[test]
    fn a_native_library_runs_only_when_the_deployment_trusts_it() {
        let home = tempfile::tempdir().unwrap();
        let dir = install(home.path(), "n", "1.0.0", &["native"]);
        let toml = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
        std::fs::write(dir.join("plugin.toml"), toml.replace("subprocess", "dylib")).unwrap();
        let r = Registry::load(home.path(), config("plugins:\n  enabled: [n]\n"));
        let refusal = r.get("n").unwrap().refusal.clone().unwrap();
        assert!(
            refusal.contains("add it to plugins.trusted in config.yaml"),
            "{refusal}"
        );
        assert_eq!(r.step_types["native"], Claim::Plugin("n".into()));
        let r = Registry::load(
            home.path(),
            config("plugins:\n  enabled: [n]\n  trusted: [n]\n"),
        );
        assert!(r.get("n").unwrap().is_ready());
    }
}
