//! The deployment's plugin settings: the `plugins:` section of `config.yaml`.
//!
//! ```yaml
//! plugins:
//!   paths: [/opt/dagu-plugins]     # more folders to search (relative: to this file)
//!   enabled: [python-echo]         # only these are loaded
//!   grants:                        # per plugin; effective = requested ∩ granted
//!     python-echo:
//!       env: [HOME]
//!       fs_read: [/data]
//!   step_types:                    # who serves a step type two plugins claim
//!     echo: python-echo
//!   trusted: [native-echo]         # dylib plugins allowed to run native code
//!   locked: true                   # run only what plugins.lock pins
//!   require_signatures: true       # ... and only with a valid signature
//!   trusted_keys: [RWQ...]         # minisign public keys
//! ```
//!
//! Keys may be written in snake_case or camelCase (`require_signatures`,
//! `requireSignatures`); plugin and step-type names are taken as written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dagu_core::yaml::{Node, Value};
use dagu_plugin_sdk::Capabilities;

use crate::registry::located::FileError;

/// The `plugins:` section of `config.yaml`; every field empty or off by default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeploymentConfig {
    /// Extra folders to search: each is a plugin folder or a folder of plugin folders.
    pub paths: Vec<PathBuf>,
    /// The plugins to load, by name.
    pub enabled: Vec<String>,
    /// What each plugin is granted, by plugin name.
    pub grants: BTreeMap<String, Capabilities>,
    /// Run only plugins pinned (name, version, sha256) by `plugins.lock`.
    pub locked: bool,
    /// Run only plugins whose artifact has a valid signature by a trusted key.
    pub require_signatures: bool,
    /// Minisign public keys (the base64 key line, or a whole `.pub` file's text).
    pub trusted_keys: Vec<String>,
    /// Which plugin serves a step type that several enabled plugins claim.
    pub step_types: BTreeMap<String, String>,
    /// Plugins trusted to run native code: `dylib` plugins run only when listed here.
    pub trusted: Vec<String>,
}

impl DeploymentConfig {
    /// Reads the `plugins:` section of a config file; a missing file or section is the
    /// default (no plugins enabled).
    pub fn load(file: &Path) -> Result<DeploymentConfig, FileError> {
        match std::fs::read_to_string(file) {
            Ok(text) => DeploymentConfig::parse(file, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DeploymentConfig::default()),
            Err(e) => Err(FileError::whole(file, format!("cannot read: {e}"))),
        }
    }

    /// Parses the `plugins:` section of config text from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<DeploymentConfig, FileError> {
        let docs = dagu_core::yaml::parse_documents(text).map_err(|e| FileError {
            file: file.to_path_buf(),
            line: e.pos.line as usize,
            col: e.pos.col as usize,
            field: String::new(),
            message: e.message,
        })?;
        let Some(root) = docs.into_iter().flatten().next() else {
            return Ok(DeploymentConfig::default());
        };
        let Some(section) = get(&root, "plugins") else {
            return Ok(DeploymentConfig::default());
        };
        let r = Reader { file };
        if section.is_null() {
            return Ok(DeploymentConfig::default());
        }
        let entries = r.map(section, "plugins")?;
        let base = file.parent().unwrap_or(Path::new("."));
        let mut c = DeploymentConfig::default();
        for (k, v) in entries {
            let key = k.text().unwrap_or_default();
            let field = format!("plugins.{key}");
            match snake(&key).as_str() {
                "paths" => {
                    c.paths = r
                        .strings(v, &field)?
                        .into_iter()
                        .map(|p| base.join(p))
                        .collect();
                }
                "enabled" => c.enabled = r.strings(v, &field)?,
                "locked" => c.locked = r.bool(v, &field)?,
                "require_signatures" => c.require_signatures = r.bool(v, &field)?,
                "trusted_keys" => c.trusted_keys = r.strings(v, &field)?,
                "trusted" => c.trusted = r.strings(v, &field)?,
                "grants" => {
                    for (name, caps) in r.map(v, &field)? {
                        let name = name.text().unwrap_or_default();
                        let grant = r.capabilities(caps, &format!("{field}.{name}"))?;
                        c.grants.insert(name, grant);
                    }
                }
                "step_types" => {
                    for (ty, plugin) in r.map(v, &field)? {
                        let ty = ty.text().unwrap_or_default();
                        let plugin = r.string(plugin, &format!("{field}.{ty}"))?;
                        c.step_types.insert(ty, plugin);
                    }
                }
                _ => {
                    return Err(r.error(
                        k,
                        &field,
                        "unknown key: expected paths, enabled, grants, step_types, trusted, \
                         locked, require_signatures or trusted_keys",
                    ));
                }
            }
        }
        Ok(c)
    }

    /// Whether the plugin `name` is in the `enabled` list.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.iter().any(|n| n == name)
    }

    /// Whether the plugin `name` is in the `trusted` list.
    pub fn is_trusted(&self, name: &str) -> bool {
        self.trusted.iter().any(|n| n == name)
    }

    /// What the deployment grants the plugin `name` (nothing when it has no entry).
    pub fn granted(&self, name: &str) -> Capabilities {
        self.grants.get(name).cloned().unwrap_or_default()
    }

    /// Whether `plugins.lock` is checked when plugins load.
    pub fn enforces_lock(&self) -> bool {
        self.locked || self.require_signatures
    }
}

/// `requireSignatures` → `require_signatures`.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn get<'a>(map: &'a Node, key: &str) -> Option<&'a Node> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// Typed reads with errors at the node's position.
struct Reader<'a> {
    file: &'a Path,
}

impl Reader<'_> {
    fn error(&self, node: &Node, field: &str, message: impl Into<String>) -> FileError {
        FileError {
            file: self.file.to_path_buf(),
            line: node.pos.line as usize,
            col: node.pos.col as usize,
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn map<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [(Node, Node)], FileError> {
        match &node.value {
            Value::Map(m) => Ok(m),
            Value::Null => Ok(&[]),
            _ => Err(self.error(
                node,
                field,
                format!("expected a map, got a {}", node.kind()),
            )),
        }
    }

    fn bool(&self, node: &Node, field: &str) -> Result<bool, FileError> {
        match node.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.error(
                node,
                field,
                format!("expected true or false, got a {}", node.kind()),
            )),
        }
    }

    fn string(&self, node: &Node, field: &str) -> Result<String, FileError> {
        node.as_str().map(str::to_string).ok_or_else(|| {
            self.error(
                node,
                field,
                format!("expected a string, got a {}", node.kind()),
            )
        })
    }

    /// A list of strings; a single string counts as a list of one.
    fn strings(&self, node: &Node, field: &str) -> Result<Vec<String>, FileError> {
        match &node.value {
            Value::Null => Ok(Vec::new()),
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.string(item, &format!("{field}[{i}]")))
                .collect(),
            _ => Err(self.error(
                node,
                field,
                format!("expected a list of strings, got a {}", node.kind()),
            )),
        }
    }

    fn capabilities(&self, node: &Node, field: &str) -> Result<Capabilities, FileError> {
        let mut c = Capabilities::default();
        for (k, v) in self.map(node, field)? {
            let key = k.text().unwrap_or_default();
            let f = format!("{field}.{key}");
            match snake(&key).as_str() {
                "http_hosts" => c.http_hosts = self.strings(v, &f)?,
                "fs_read" => c.fs_read = self.strings(v, &f)?,
                "fs_write" => c.fs_write = self.strings(v, &f)?,
                "env" => c.env = self.strings(v, &f)?,
                "tcp" => c.tcp = self.strings(v, &f)?,
                "exec" => c.exec = self.bool(v, &f)?,
                _ => {
                    return Err(self.error(
                        k,
                        &f,
                        "unknown capability: expected http_hosts, fs_read, fs_write, env, tcp \
                         or exec",
                    ));
                }
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DeploymentConfig, FileError> {
        DeploymentConfig::parse(Path::new("/etc/dagu/config.yaml"), text)
    }

    #[test]
    fn no_section_means_nothing_enabled() {
        let c = parse("paths:\n  dagsDir: /x\n").unwrap();
        assert_eq!(c, DeploymentConfig::default());
        assert!(!c.is_enabled("anything"));
        assert_eq!(
            DeploymentConfig::load(Path::new("/nonexistent/config.yaml")).unwrap(),
            DeploymentConfig::default()
        );
    }

    #[test]
    fn both_key_spellings_are_read() {
        let text = "plugins:\n  enabled: [a, b]\n  requireSignatures: true\n  locked: true\n  \
                    trustedKeys: [RWQkey]\n  paths: [extra, /abs]\n  stepTypes:\n    echo: a\n  \
                    trusted: [b]\n  \
                    grants:\n    a:\n      fsRead: [/data]\n      http_hosts: [x.org]\n      \
                    exec: true\n";
        let c = parse(text).unwrap();
        assert_eq!(c.enabled, vec!["a", "b"]);
        assert!(c.require_signatures && c.locked && c.enforces_lock());
        assert_eq!(c.trusted_keys, vec!["RWQkey"]);
        assert!(c.is_trusted("b") && !c.is_trusted("a"));
        assert_eq!(
            c.paths,
            vec![PathBuf::from("/etc/dagu/extra"), PathBuf::from("/abs")]
        );
        assert_eq!(c.step_types.get("echo").map(String::as_str), Some("a"));
        let g = c.granted("a");
        assert_eq!(g.fs_read, vec!["/data"]);
        assert_eq!(g.http_hosts, vec!["x.org"]);
        assert!(g.exec);
        assert_eq!(c.granted("b"), Capabilities::default());
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse("plugins:\n  grants:\n    a:\n      fs_reed: [/]\n").unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (4, "plugins.grants.a.fs_reed"),
            "{e}"
        );
        let e = parse("plugins:\n  locked: yes\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "plugins.locked"), "{e}");
        assert!(e.message.contains("true or false"), "{e}");
        let e = parse("plugins:\n  enabled: [a, {b: 1}]\n").unwrap_err();
        assert_eq!(e.field, "plugins.enabled[1]", "{e}");
        let e = parse("plugins:\n  enable: [a]\n").unwrap_err();
        assert!(e.message.contains("unknown key"), "{e}");
    }
}
