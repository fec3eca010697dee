//! `dagu plugin new NAME`: a Rust subprocess plugin crate on the plugin SDK, from the
//! templates in `plugin_new/`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use dagu_plugins::registry::package;

use super::Ctx;

/// The files `dagu plugin new` writes: path (`NAME` is the plugin's name) and template.
const NEW_FILES: [(&str, &str); 6] = [
    ("Cargo.toml", include_str!("plugin_new/Cargo.toml.tmpl")),
    ("src/main.rs", include_str!("plugin_new/main.rs.tmpl")),
    (
        "NAME.schema.json",
        include_str!("plugin_new/schema.json.tmpl"),
    ),
    ("plugin.toml", include_str!("plugin_new/plugin.toml.tmpl")),
    ("README.md", include_str!("plugin_new/README.md.tmpl")),
    (".gitignore", include_str!("plugin_new/gitignore.tmpl")),
];

/// Names that are valid plugin names but not Rust package or binary names.
const CARGO_RESERVED: [&str; 6] = [
    "test",
    "deps",
    "build",
    "examples",
    "incremental",
    "dagu-plugin-sdk",
];

/// `dagu plugin new`: checks the name and the SDK, then writes the templates into DIR/NAME.
pub fn new(ctx: &Ctx, name: &str, dir: Option<&Path>, sdk: Option<&Path>) -> Result<u8> {
    if !package::valid_name(name) {
        bail!(
            "'{name}' is not a valid plugin name: use lowercase letters, digits and '-', \
             e.g. hello-world"
        );
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) || CARGO_RESERVED.contains(&name) {
        bail!(
            "'{name}' cannot name a Rust crate: start with a letter and avoid {}",
            CARGO_RESERVED.join(", ")
        );
    }
    let sdk = match sdk {
        Some(p) => crate::paths::absolute(p),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugin-sdk")),
    };
    let sdk_manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap_or_default();
    if !sdk_manifest.contains("name = \"dagu-plugin-sdk\"") {
        bail!(
            "the dagu plugin SDK is not at {}: pass --sdk PATH, the plugin-sdk folder of a \
             dagu source tree",
            sdk.display()
        );
    }
    let sdk =
        std::fs::canonicalize(&sdk).with_context(|| format!("cannot resolve {}", sdk.display()))?;
    let parent = match dir {
        Some(d) => crate::paths::absolute(d),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let target = parent.join(name);
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    match std::fs::create_dir(&target) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists: nothing was written; pick another name or --dir",
            target.display()
        ),
        other => other.with_context(|| format!("cannot create {}", target.display()))?,
    }
    // The SDK path as a TOML string (JSON's escapes are TOML's).
    let sdk_toml = serde_json::to_string(&sdk.to_string_lossy())?;
    for (rel, template) in NEW_FILES {
        let path = target.join(rel.replace("NAME", name));
        std::fs::create_dir_all(path.parent().unwrap_or(&target))?;
        let text = template
            .replace("{{name}}", name)
            .replace("{{sdk}}", &sdk_toml);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !ctx.quiet {
        println!(
            "created plugin {name} in {} (step type '{name}')",
            target.display()
        );
        println!(
            "next: cd {} && cargo test --release && cargo build --release && dagu plugin install .",
            target.display()
        );
        println!(
            "then add '{name}' to plugins.enabled in {} (see README.md)",
            ctx.paths.config_file.display()
        );
    }
    Ok(0)
}
