//! `dagu plugin list | inspect | verify | lock | install | new` (and `serve`, which the host
//! runs), and the plugin step types that `dagu start` registers.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use dagu_engine::Executors;
use dagu_plugin_sdk::Capabilities;
use dagu_plugins::registry::{
    self, DeploymentConfig, Installed, LockFile, Pin, Refusal, Registry, package, search, verify,
};

use super::Ctx;

/// `dagu plugin ...`.
#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// List installed plugins: version, kind, enabled, lock status, step types.
    List,
    /// Show one plugin: its plugin.toml, lock status and requested/granted/effective
    /// capabilities.
    Inspect {
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every enabled plugin against plugins.lock (exit 1 on any problem).
    Verify,
    /// Pin the enabled plugins (version, sha256, signature from ARTIFACT.minisig) in
    /// plugins.lock.
    Lock,
    /// Copy a plugin folder into $DAGU_HOME/plugins/NAME.
    Install {
        /// The folder holding plugin.toml.
        path: PathBuf,
        /// Replace an installed plugin of the same name.
        #[arg(long)]
        force: bool,
    },
    /// Write a new Rust plugin crate in PATH/NAME: one step type NAME, a test, plugin.toml.
    New {
        /// The plugin's name (lowercase letters, digits and '-'), also its step type.
        name: String,
        /// The folder to create it in (default: the current folder).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// The plugin-sdk folder of a dagu source tree (default: the one dagu was built
        /// from).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Serve an Extism module or a native plugin library over the plugin protocol on
    /// stdin/stdout. The host starts this for plugins of kind extism and dylib; it is not
    /// meant to be run by hand.
    #[command(hide = true)]
    Serve(super::plugin_serve::ServeArgs),
}

impl PluginCommand {
    /// Whether this is `serve`: a plugin process, which loads no DAG.
    pub fn is_serve(&self) -> bool {
        matches!(self, PluginCommand::Serve(_))
    }
}

/// Runs a `dagu plugin` subcommand.
pub fn run(ctx: &Ctx, command: &PluginCommand) -> Result<u8> {
    match command {
        PluginCommand::List => list(ctx),
        PluginCommand::Inspect { name, json } => inspect(ctx, name, *json),
        PluginCommand::Verify => verify_all(ctx),
        PluginCommand::Lock => lock_enabled(ctx),
        PluginCommand::Install { path, force } => install(ctx, path, *force),
        PluginCommand::New { name, dir, sdk } => {
            super::plugin_new::new(ctx, name, dir.as_deref(), sdk.as_deref())
        }
        PluginCommand::Serve(args) => super::plugin_serve::serve(args),
    }
}

/// The registry a run uses, with the step types of the enabled plugins. Problems are
/// printed as warnings; `None` when no plugin is enabled or the `plugins:` section is
/// broken (then no plugin is loaded at all).
pub fn deployment_registry(ctx: &Ctx) -> Option<Registry> {
    let config = match DeploymentConfig::load(&ctx.paths.config_file) {
        Ok(c) => c,
        Err(e) => {
            warn(ctx, &format!("no plugins loaded: {e}"));
            return None;
        }
    };
    if config.enabled.is_empty() {
        return None;
    }
    let registry = Registry::load(&ctx.paths.home, config);
    for problem in &registry.problems {
        warn(ctx, problem);
    }
    Some(registry)
}

/// The config schemas of the enabled plugins' step types, for the loader.
pub fn step_type_catalog(ctx: &Ctx, registry: &Registry) -> dagu_core::StepTypes {
    let (catalog, problems) = registry.step_type_catalog();
    for problem in &problems {
        warn(ctx, problem);
    }
    catalog
}

/// Registers the step types of the enabled plugins (nothing starts).
pub fn register_plugins(registry: &Registry, executors: &mut Executors) {
    registry::register(registry, executors);
}

/// Registers the built-in plugins — WASM components in this process, native ones as
/// `dagu plugin serve NAME` — with the deployment's grants for each (or its defaults when
/// it grants nothing).
pub fn register_builtin_plugins(ctx: &Ctx, executors: &mut Executors) {
    let config = DeploymentConfig::load(&ctx.paths.config_file).ok();
    let granted = |name: &str| config.as_ref().and_then(|c| c.grants.get(name)).cloned();
    dagu_plugins::wasm::register_builtins(executors, |name| {
        granted(name).unwrap_or_else(|| dagu_plugins::wasm::builtin::default_grants(name))
    });
    super::native::register(executors, granted);
}

fn warn(ctx: &Ctx, message: &str) {
    if !ctx.quiet {
        eprintln!("warning: plugins: {message}");
    }
}

/// The registry for a `dagu plugin` command (a broken config is an error here).
fn load(ctx: &Ctx) -> Result<Registry> {
    let config = DeploymentConfig::load(&ctx.paths.config_file)?;
    Ok(Registry::load(&ctx.paths.home, config))
}

/// A short label of a plugin's state against the lock.
fn lock_label(registry: &Registry, plugin: &Installed) -> String {
    if registry.lock_error.is_some() {
        return "lock unreadable".into();
    }
    let keys = registry
        .config
        .require_signatures
        .then_some(registry.config.trusted_keys.as_slice());
    match verify::check(&plugin.package, registry.lock.as_ref(), keys) {
        Ok(()) if keys.is_some() => "pinned, signed".into(),
        Ok(()) => "pinned".into(),
        Err(Refusal::NoLock { .. } | Refusal::NotPinned { .. }) => "not pinned".into(),
        Err(Refusal::VersionChanged { .. } | Refusal::Changed { .. }) => "changed".into(),
        Err(Refusal::Unreadable { .. }) => "unreadable".into(),
        Err(Refusal::Unsigned { .. }) => "unsigned".into(),
        Err(Refusal::NoTrustedKeys { .. } | Refusal::BadSignature { .. }) => "bad signature".into(),
    }
}

fn list(ctx: &Ctx) -> Result<u8> {
    let registry = load(ctx)?;
    let mode = match (registry.config.locked, registry.config.require_signatures) {
        (_, true) => "locked, signatures required",
        (true, false) => "locked",
        (false, false) => "not locked",
    };
    let mut rows = builtin_rows(&registry);
    rows.extend(registry.plugins.iter().map(|p| {
        let enabled = match (&p.refusal, p.enabled) {
            (Some(_), true) => "refused",
            (None, true) => "yes",
            (_, false) => "no",
        };
        [
            p.package.name.clone(),
            p.package.version.clone(),
            p.package.kind.to_string(),
            enabled.to_string(),
            lock_label(&registry, p),
            p.package.step_types.join(", "),
        ]
    }));
    if registry.plugins.is_empty() {
        println!(
            "no plugins installed (searched {} and plugins.paths in {})",
            search::home_plugins(&ctx.paths.home).display(),
            ctx.paths.config_file.display()
        );
    }
    let header = ["NAME", "VERSION", "KIND", "ENABLED", "LOCK", "STEP TYPES"].map(String::from);
    print_table(&header, &rows);
    println!("\nmode: {mode}");
    for p in registry.plugins.iter().filter(|p| p.enabled) {
        if let Some(r) = &p.refusal {
            println!("refused: {r}");
        }
    }
    for problem in &registry.problems {
        println!("problem: {problem}");
    }
    Ok(0)
}

/// Rows for the plugins built into this binary (always on, unless an installed plugin
/// took over a step type; pinned by the binary itself, so not in `plugins.lock`).
fn builtin_rows(registry: &Registry) -> Vec<[String; 6]> {
    let wasm = dagu_builtins::BUILTINS
        .iter()
        .map(|b| (b.name, "builtin (wasm)", vec![b.name]));
    let native = super::native::NATIVE_BUILTINS.iter().map(|b| {
        let types = b.step_types.iter().map(|(t, _)| *t).collect();
        (b.name, "builtin (native)", types)
    });
    wasm.chain(native)
        .map(|(name, kind, types): (&str, &str, Vec<&str>)| {
            let taken = types.iter().any(|t| registry.step_types.contains_key(*t));
            [
                name.to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
                kind.to_string(),
                if taken { "replaced" } else { "yes" }.to_string(),
                "-".to_string(),
                types.join(", "),
            ]
        })
        .collect()
}

fn print_table(header: &[String; 6], rows: &[[String; 6]]) {
    let mut widths = header.each_ref().map(|h| h.len());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in rows {
        line(row);
    }
}

fn inspect(ctx: &Ctx, name: &str, json: bool) -> Result<u8> {
    let registry = load(ctx)?;
    let Some(p) = registry.get(name) else {
        bail!(
            "plugin '{name}' is not installed (searched {} and plugins.paths in {}); install \
             it with `dagu plugin install PATH`",
            search::home_plugins(&ctx.paths.home).display(),
            ctx.paths.config_file.display()
        );
    };
    let pkg = &p.package;
    let sha = verify::sha256_file(&pkg.artifact_path()).ok();
    let lock_state = match registry.check_lock(p) {
        Ok(()) => "pinned".to_string(),
        Err(e) => e,
    };
    let claims: Vec<String> = pkg
        .step_types
        .iter()
        .map(|t| match registry.step_types.get(t) {
            Some(registry::Claim::Plugin(n)) if n == &pkg.name => t.clone(),
            Some(registry::Claim::Plugin(n)) => format!("{t} (served by '{n}')"),
            Some(registry::Claim::Refused(_)) => format!("{t} (conflict)"),
            None => t.clone(),
        })
        .collect();
    if json {
        let value = serde_json::json!({
            "name": pkg.name,
            "version": pkg.version,
            "kind": pkg.kind.as_str(),
            "description": pkg.description,
            "folder": pkg.dir,
            "entry": {"program": pkg.entry.program, "args": pkg.entry.args,
                      "artifact": pkg.entry.artifact},
            "sha256": sha,
            "trusted": pkg.trusted,
            "step_types": pkg.step_types,
            "enabled": p.enabled,
            "refusal": p.refusal,
            "lock": lock_state,
            "capabilities": {
                "requested": pkg.capabilities,
                "granted": p.granted,
                "effective": p.effective,
            },
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(0);
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("name:         {}", pkg.name);
    println!("version:      {}", pkg.version);
    println!("kind:         {}", pkg.kind);
    if !pkg.description.is_empty() {
        println!("description:  {}", pkg.description);
    }
    println!("folder:       {}", pkg.dir.display());
    println!(
        "entry:        {}{}",
        pkg.entry.program,
        pkg.entry
            .args
            .iter()
            .map(|a| format!(" {a}"))
            .collect::<String>()
    );
    println!(
        "artifact:     {} (sha256 {})",
        pkg.entry.artifact,
        sha.as_deref().unwrap_or("unreadable")
    );
    println!("trusted:      {}", yes_no(pkg.trusted));
    println!("step types:   {}", claims.join(", "));
    println!("enabled:      {}", yes_no(p.enabled));
    println!("lock:         {lock_state}");
    if let Some(r) = &p.refusal {
        println!("refused:      {r}");
    }
    println!("capabilities: requested | granted | effective");
    for (field, [r, g, e]) in capability_rows(&pkg.capabilities, &p.granted, &p.effective) {
        println!("  {field:<11} {r} | {g} | {e}");
    }
    Ok(0)
}

/// One row per capability: its name and the three sides as text.
fn capability_rows(
    requested: &Capabilities,
    granted: &Capabilities,
    effective: &Capabilities,
) -> Vec<(&'static str, [String; 3])> {
    let list = |l: &[String]| {
        if l.is_empty() {
            "-".to_string()
        } else {
            l.join(", ")
        }
    };
    let sides = [requested, granted, effective];
    let row = |f: fn(&Capabilities) -> &[String]| sides.map(|c| list(f(c)));
    vec![
        ("http_hosts", row(|c| &c.http_hosts)),
        ("fs_read", row(|c| &c.fs_read)),
        ("fs_write", row(|c| &c.fs_write)),
        ("env", row(|c| &c.env)),
        ("tcp", row(|c| &c.tcp)),
        (
            "exec",
            sides.map(|c| if c.exec { "yes" } else { "no" }.to_string()),
        ),
    ]
}

fn verify_all(ctx: &Ctx) -> Result<u8> {
    let registry = load(ctx)?;
    let mut failed = false;
    let mut checked = 0;
    for p in registry.enabled() {
        checked += 1;
        let result = match &p.refusal {
            Some(r) => Err(r.clone()),
            None => registry.check_lock(p),
        };
        match result {
            Ok(()) => {
                if !ctx.quiet {
                    println!(
                        "ok: {} {} ({})",
                        p.package.name,
                        p.package.version,
                        lock_label(&registry, p)
                    );
                }
            }
            Err(message) => {
                failed = true;
                eprintln!("Error: {message}");
            }
        }
    }
    for problem in &registry.problems {
        failed = true;
        eprintln!("Error: {problem}");
    }
    if checked == 0 && !failed && !ctx.quiet {
        println!(
            "no plugins are enabled (plugins.enabled in {})",
            ctx.paths.config_file.display()
        );
    }
    Ok(u8::from(failed))
}

fn lock_enabled(ctx: &Ctx) -> Result<u8> {
    let registry = load(ctx)?;
    let mut lock = LockFile::new();
    for name in &registry.config.enabled {
        let Some(p) = registry.get(name) else {
            bail!(
                "plugin '{name}' is enabled but not installed; nothing was written: install \
                 it with `dagu plugin install PATH` or remove it from plugins.enabled"
            );
        };
        let pkg = &p.package;
        let artifact = pkg.artifact_path();
        let sha256 = verify::sha256_file(&artifact)
            .with_context(|| format!("cannot read {}", artifact.display()))?;
        let sig_path = PathBuf::from(format!("{}.minisig", artifact.display()));
        let signature = match std::fs::read_to_string(&sig_path) {
            Ok(s) => Some(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => bail!("cannot read {}: {e}", sig_path.display()),
        };
        match &signature {
            Some(sig) if !registry.config.trusted_keys.is_empty() => {
                let bytes = std::fs::read(&artifact)?;
                if let Err(reason) =
                    verify::verify_signature(&bytes, sig, &registry.config.trusted_keys)
                {
                    warn(
                        ctx,
                        &format!(
                            "{}: not signed by a trusted key ({reason}); locked mode with \
                             require_signatures will refuse it",
                            sig_path.display()
                        ),
                    );
                }
            }
            None if registry.config.require_signatures => warn(
                ctx,
                &format!(
                    "plugin '{name}' has no {}; it is pinned unsigned and will be refused \
                     while signatures are required (sign it with `minisign -Sm {}`, then lock \
                     again)",
                    sig_path.display(),
                    artifact.display()
                ),
            ),
            _ => {}
        }
        if !ctx.quiet {
            println!(
                "pinned {} {} {} sha256 {sha256}{}",
                pkg.name,
                pkg.version,
                pkg.entry.artifact,
                if signature.is_some() { " (signed)" } else { "" }
            );
        }
        lock.plugins.push(Pin {
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            artifact: pkg.entry.artifact.clone(),
            sha256,
            signature,
        });
    }
    lock.save(&registry.lock_path)
        .with_context(|| format!("cannot write {}", registry.lock_path.display()))?;
    if !ctx.quiet {
        println!(
            "wrote {} ({} plugin{})",
            registry.lock_path.display(),
            lock.plugins.len(),
            if lock.plugins.len() == 1 { "" } else { "s" }
        );
    }
    Ok(0)
}

fn install(ctx: &Ctx, source: &Path, force: bool) -> Result<u8> {
    let source = crate::paths::absolute(source);
    let pkg = package::Package::load(&source)?;
    let plugins = search::home_plugins(&ctx.paths.home);
    let dest = plugins.join(&pkg.name);
    if dest.exists() && !force {
        bail!(
            "plugin '{}' is already installed in {}: pass --force to replace it",
            pkg.name,
            dest.display()
        );
    }
    std::fs::create_dir_all(&plugins)
        .with_context(|| format!("cannot create {}", plugins.display()))?;
    let staging = plugins.join(format!(".{}.installing", pkg.name));
    let _ = std::fs::remove_dir_all(&staging);
    copy_tree(&source, &staging)
        .with_context(|| format!("cannot copy {} to {}", source.display(), staging.display()))?;
    if dest.exists() {
        std::fs::remove_dir_all(&dest)
            .with_context(|| format!("cannot remove the old {}", dest.display()))?;
    }
    std::fs::rename(&staging, &dest)
        .with_context(|| format!("cannot move the plugin into {}", dest.display()))?;
    if !ctx.quiet {
        println!(
            "installed {} {} into {}",
            pkg.name,
            pkg.version,
            dest.display()
        );
        let config = DeploymentConfig::load(&ctx.paths.config_file).unwrap_or_default();
        if !config.is_enabled(&pkg.name) {
            println!(
                "enable it: add '{}' to plugins.enabled in {}",
                pkg.name,
                ctx.paths.config_file.display()
            );
        }
        if config.enforces_lock() {
            println!("locked mode: vet it, then run `dagu plugin lock` to pin it");
        }
    }
    Ok(0)
}

/// Copies a folder recursively; symbolic links are copied as links, permissions kept.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_rows_show_all_three_sides() {
        let requested = Capabilities {
            env: vec!["A".into(), "B".into()],
            exec: true,
            ..Default::default()
        };
        let granted = Capabilities {
            env: vec!["B".into()],
            ..Default::default()
        };
        let effective = registry::effective(&requested, &granted);
        let rows = capability_rows(&requested, &granted, &effective);
        let env = rows.iter().find(|(f, _)| *f == "env").unwrap();
        assert_eq!(env.1, ["A, B".to_string(), "B".into(), "B".into()]);
        let exec = rows.iter().find(|(f, _)| *f == "exec").unwrap();
        assert_eq!(exec.1, ["yes".to_string(), "no".into(), "no".into()]);
    }

    #[test]
    fn copy_tree_keeps_modes_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("run"), "x").unwrap();
        std::fs::set_permissions(src.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(src.join("sub/data"), "d").unwrap();
        std::os::unix::fs::symlink("run", src.join("link")).unwrap();
        let dst = dir.path().join("dst");
        copy_tree(&src, &dst).unwrap();
        let mode = std::fs::metadata(dst.join("run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read_to_string(dst.join("sub/data")).unwrap(), "d");
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            PathBuf::from("run")
        );
    }
}
