//! `plugin.toml`: the manifest of a plugin package, in the plugin's folder next to its
//! artifact (schema: `schemas/plugin-package.schema.json`).
//!
//! ```toml
//! name = "python-echo"
//! version = "0.1.0"
//! kind = "subprocess"
//! step_types = ["echo"]
//!
//! [entry]
//! program = "plugin.py"      # relative to this folder (or a command on PATH)
//! args = []
//! # artifact = "plugin.py"   # the file plugins.lock pins; default: program
//!
//! [config_schemas]           # optional: JSON Schema files of step configs, checked at load
//! echo = "echo.schema.json"
//!
//! [capabilities]             # what the plugin asks for; see dagu_plugin_sdk::Capabilities
//! env = ["HOME"]
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use dagu_plugin_sdk::Capabilities;
use serde::Deserialize;
use toml::Spanned;

use crate::registry::located::FileError;

/// The manifest's file name inside a plugin folder.
pub const FILE_NAME: &str = "plugin.toml";

/// How a plugin is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A program speaking `dagu-plugin/1` over stdio.
    Subprocess,
    /// A WebAssembly component (not supported yet).
    WasmComponent,
    /// An Extism module, run by `dagu plugin serve extism` (a subprocess of the host).
    Extism,
    /// A native library with dagu's C ABI, run by `dagu plugin serve --dylib`; only for
    /// plugins the deployment trusts.
    Dylib,
    /// Built into the `dagu` binary (not supported yet).
    Builtin,
}

impl Kind {
    /// Every kind, as written in `plugin.toml`.
    pub const ALL: [Kind; 5] = [
        Kind::Subprocess,
        Kind::WasmComponent,
        Kind::Extism,
        Kind::Dylib,
        Kind::Builtin,
    ];

    /// The kind's name in `plugin.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Subprocess => "subprocess",
            Kind::WasmComponent => "wasm-component",
            Kind::Extism => "extism",
            Kind::Dylib => "dylib",
            Kind::Builtin => "builtin",
        }
    }

    /// Whether this host can run plugins of this kind.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Kind::Subprocess | Kind::Extism | Kind::Dylib | Kind::WasmComponent
        )
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to start the plugin, relative to its folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The program: a path relative to the plugin folder, or a bare command name looked up
    /// on `PATH` when no such file is in the folder.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The file (relative to the folder) whose hash `plugins.lock` pins.
    pub artifact: String,
}

/// A parsed, checked `plugin.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    /// The plugin folder (holding `plugin.toml`).
    pub dir: PathBuf,
    /// The plugin's name (`[a-z0-9-]`).
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// How it runs.
    pub kind: Kind,
    /// One line about the plugin.
    pub description: String,
    /// How to start it.
    pub entry: Entry,
    /// Marked trusted by its publisher: informational only. A `dylib` plugin runs only when
    /// the deployment lists it in `plugins.trusted`.
    pub trusted: bool,
    /// The step types it provides, declared here so they can be registered without
    /// starting the plugin.
    pub step_types: Vec<String>,
    /// What it asks to be allowed.
    pub capabilities: Capabilities,
    /// Step type → JSON Schema file (inside the folder) of its config, so `dagu validate`
    /// and `dagu start` check configs at load without starting the plugin.
    pub config_schemas: BTreeMap<String, String>,
}

impl Package {
    /// The `plugin.toml` file.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The config schema of one of its step types, if `plugin.toml` names one.
    pub fn config_schema(&self, step_type: &str) -> Option<Result<serde_json::Value, String>> {
        let rel = self.config_schemas.get(step_type)?;
        let path = self.dir.join(rel);
        Some(
            std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))
                .and_then(|text| {
                    serde_json::from_str(&text)
                        .map_err(|e| format!("{}: not JSON: {e}", path.display()))
                }),
        )
    }

    /// The pinned artifact.
    pub fn artifact_path(&self) -> PathBuf {
        self.dir.join(&self.entry.artifact)
    }

    /// The program to start: the file in the folder when there is one, else the bare
    /// command name (found on `PATH` when started).
    pub fn program_path(&self) -> PathBuf {
        let in_dir = self.dir.join(&self.entry.program);
        if in_dir.is_file() || self.entry.program.contains('/') {
            in_dir
        } else {
            PathBuf::from(&self.entry.program)
        }
    }

    /// Reads and checks `DIR/plugin.toml`.
    pub fn load(dir: &Path) -> Result<Package, FileError> {
        let file = dir.join(FILE_NAME);
        let source = std::fs::read_to_string(&file)
            .map_err(|e| FileError::whole(&file, format!("cannot read: {e}")))?;
        Package::parse(dir, &source)
    }

    /// Parses and checks the text of `DIR/plugin.toml`.
    pub fn parse(dir: &Path, source: &str) -> Result<Package, FileError> {
        let file = dir.join(FILE_NAME);
        let raw: Raw = toml::from_str(source).map_err(|e| toml_error(&file, source, &e))?;
        let err = |span: std::ops::Range<usize>, field: &str, message: String| {
            FileError::at_offset(&file, source, span.start, field, message)
        };

        let name = raw.name.get_ref();
        if !valid_name(name) {
            return Err(err(
                raw.name.span(),
                "name",
                format!(
                    "'{name}' is not a valid plugin name: use lowercase letters, digits and '-'"
                ),
            ));
        }
        let version = raw.version.get_ref();
        if version.trim().is_empty() || version.chars().any(char::is_whitespace) {
            return Err(err(
                raw.version.span(),
                "version",
                format!("'{version}' is not a version: write e.g. \"1.2.0\""),
            ));
        }
        let kind = Kind::parse(raw.kind.get_ref()).ok_or_else(|| {
            err(
                raw.kind.span(),
                "kind",
                format!(
                    "unknown kind '{}': expected one of {}",
                    raw.kind.get_ref(),
                    Kind::ALL.map(Kind::as_str).join(", ")
                ),
            )
        })?;

        let entry_span = raw.entry.span();
        let raw_entry = raw.entry.into_inner();
        let program = raw_entry.program.get_ref().clone();
        if program.trim().is_empty() {
            return Err(err(
                raw_entry.program.span(),
                "entry.program",
                "must name the program to start".into(),
            ));
        }
        let (artifact, artifact_span) = match raw_entry.artifact {
            Some(a) => (a.get_ref().clone(), a.span()),
            None => (program.clone(), raw_entry.program.span()),
        };
        if !inside_folder(&artifact) {
            return Err(err(
                artifact_span,
                "entry.artifact",
                format!("'{artifact}' must be a path inside the plugin folder"),
            ));
        }
        if kind.is_supported() && !dir.join(&artifact).is_file() {
            let hint = if raw_entry.program.get_ref() == &artifact {
                " (when the program is a command on PATH, set entry.artifact to the file \
                 in this folder that it runs)"
            } else {
                ""
            };
            return Err(err(
                artifact_span,
                "entry.artifact",
                format!("'{artifact}' is not a file in {}{hint}", dir.display()),
            ));
        }

        let mut step_types = Vec::new();
        for t in &raw.step_types {
            let n = t.get_ref();
            if n.trim().is_empty() || n.chars().any(char::is_whitespace) {
                return Err(err(
                    t.span(),
                    "step_types",
                    format!("'{n}' is not a step type name"),
                ));
            }
            if !step_types.contains(n) {
                step_types.push(n.clone());
            }
        }
        if step_types.is_empty() && kind.is_supported() {
            return Err(err(
                entry_span,
                "step_types",
                "declare the step types the plugin provides, e.g. step_types = [\"echo\"], \
                 so they can be registered without starting the plugin"
                    .into(),
            ));
        }

        let mut config_schemas = BTreeMap::new();
        for (ty, rel) in raw.config_schemas {
            if !step_types.contains(&ty) {
                return Err(err(
                    rel.span(),
                    "config_schemas",
                    format!("'{ty}' is not one of the declared step_types"),
                ));
            }
            if !inside_folder(rel.get_ref()) || !dir.join(rel.get_ref()).is_file() {
                return Err(err(
                    rel.span(),
                    "config_schemas",
                    format!("'{}' is not a file inside the plugin folder", rel.get_ref()),
                ));
            }
            config_schemas.insert(ty, rel.into_inner());
        }

        Ok(Package {
            dir: dir.to_path_buf(),
            name: name.clone(),
            version: version.clone(),
            kind,
            description: raw.description,
            entry: Entry {
                program,
                args: raw_entry.args,
                artifact,
            },
            trusted: raw.trusted,
            step_types,
            capabilities: raw.capabilities.into(),
            config_schemas,
        })
    }
}

/// A plugin name: `[a-z0-9][a-z0-9-]*`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A relative path that stays inside its folder.
fn inside_folder(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Spanned<String>,
    version: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    description: String,
    entry: Spanned<RawEntry>,
    #[serde(default)]
    trusted: bool,
    #[serde(default)]
    step_types: Vec<Spanned<String>>,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    config_schemas: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    program: Spanned<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    artifact: Option<Spanned<String>>,
}

/// [`Capabilities`] with unknown keys refused (a misspelt request must not pass silently).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCapabilities {
    http_hosts: Vec<String>,
    fs_read: Vec<String>,
    fs_write: Vec<String>,
    env: Vec<String>,
    tcp: Vec<String>,
    exec: bool,
}

impl From<RawCapabilities> for Capabilities {
    fn from(r: RawCapabilities) -> Capabilities {
        Capabilities {
            http_hosts: r.http_hosts,
            fs_read: r.fs_read,
            fs_write: r.fs_write,
            env: r.env,
            tcp: r.tcp,
            exec: r.exec,
        }
    }
}

/// A `toml` error as `file:line:col: field: message`; the field is the key on the line
/// the error points at, under the table header above it.
fn toml_error(file: &Path, source: &str, e: &toml::de::Error) -> FileError {
    let offset = e.span().map_or(0, |s| s.start);
    let message = e.message().trim().to_string();
    let mut field = field_at(source, offset);
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next())
    {
        field = match field.as_str() {
            "" => missing.to_string(),
            table => format!("{table}.{missing}"),
        };
    }
    FileError::at_offset(file, source, offset, field, message)
}

/// The dotted key at a byte offset: the enclosing `[table]` and the `key =` of that line.
fn field_at(source: &str, offset: usize) -> String {
    let mut table = String::new();
    let mut start = 0;
    for line in source.split_inclusive('\n') {
        let end = start + line.len();
        let text = line.trim();
        let header = text
            .strip_prefix("[[")
            .and_then(|t| t.strip_suffix("]]"))
            .or_else(|| text.strip_prefix('[').and_then(|t| t.strip_suffix(']')));
        if offset < end || end == source.len() {
            if let Some(h) = header {
                return h.trim().to_string();
            }
            let key = text
                .split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"'));
            return match (table.as_str(), key) {
                (_, None) => table,
                ("", Some(k)) => k.to_string(),
                (t, Some(k)) => format!("{t}.{k}"),
            };
        }
        if let Some(h) = header {
            table = h.trim().to_string();
        }
        start = end;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "python-echo"
version = "0.1.0"
kind = "subprocess"
description = "echoes"
step_types = ["echo"]

[entry]
program = "plugin.py"
args = ["--flag"]

[capabilities]
env = ["HOME"]
exec = true
"#;

    fn folder_with_plugin() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plugin.py"), "print()").unwrap();
        dir
    }

    #[test]
    fn config_schemas_must_name_declared_types_and_files_in_the_folder() {
        let dir = folder_with_plugin();
        std::fs::write(dir.path().join("echo.json"), r#"{"type": "object"}"#).unwrap();
        let with =
            |table: &str| GOOD.replace("[entry]", &format!("[config_schemas]\n{table}\n\n[entry]"));
        let p = Package::parse(dir.path(), &with("echo = \"echo.json\"")).unwrap();
        assert_eq!(p.config_schema("echo").unwrap().unwrap()["type"], "object");
        assert!(p.config_schema("other").is_none());
        let unknown = Package::parse(dir.path(), &with("other = \"echo.json\"")).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("not one of the declared step_types"),
            "{unknown}"
        );
        let missing = Package::parse(dir.path(), &with("echo = \"nope.json\"")).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("not a file inside the plugin folder"),
            "{missing}"
        );
    }

    #[test]
    fn a_good_manifest_parses() {
        let dir = folder_with_plugin();
        let p = Package::parse(dir.path(), GOOD).unwrap();
        assert_eq!(p.name, "python-echo");
        assert_eq!(p.kind, Kind::Subprocess);
        assert_eq!(p.entry.args, vec!["--flag".to_string()]);
        assert_eq!(p.entry.artifact, "plugin.py");
        assert_eq!(p.step_types, vec!["echo".to_string()]);
        assert_eq!(p.capabilities.env, vec!["HOME".to_string()]);
        assert!(p.capabilities.exec);
        assert_eq!(p.program_path(), dir.path().join("plugin.py"));
    }

    #[test]
    fn a_misspelt_capability_names_file_line_and_field() {
        let dir = folder_with_plugin();
        let text = GOOD.replace("env = [\"HOME\"]", "fs_reed = [\"/\"]");
        let e = Package::parse(dir.path(), &text).unwrap_err();
        assert_eq!(e.file, dir.path().join("plugin.toml"));
        assert_eq!(e.line, 13, "{e}");
        assert_eq!(e.field, "capabilities.fs_reed", "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let dir = folder_with_plugin();
        let text = GOOD.replace("version = \"0.1.0\"", "version = 1");
        let e = Package::parse(dir.path(), &text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "version"), "{e}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let dir = folder_with_plugin();
        let text = GOOD.replace("kind = \"subprocess\"\n", "");
        let e = Package::parse(dir.path(), &text).unwrap_err();
        assert_eq!(e.field, "kind", "{e}");
        assert!(e.message.contains("missing field"), "{e}");
    }

    #[test]
    fn unknown_kinds_and_bad_names_are_refused_with_their_line() {
        let dir = folder_with_plugin();
        let e = Package::parse(dir.path(), &GOOD.replace("subprocess", "jar")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "kind"));
        assert!(e.message.contains("wasm-component"), "{e}");
        let e = Package::parse(dir.path(), &GOOD.replace("python-echo", "Py Echo")).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "name"));
    }

    #[test]
    fn other_kinds_parse_without_an_artifact_check() {
        let dir = tempfile::tempdir().unwrap();
        let text = GOOD.replace("subprocess", "builtin");
        let p = Package::parse(dir.path(), &text).unwrap();
        assert_eq!(p.kind, Kind::Builtin);
        assert!(!p.kind.is_supported());
    }

    #[test]
    fn the_artifact_must_exist_and_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let e = Package::parse(dir.path(), GOOD).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (9, "entry.artifact"), "{e}");
        let text = GOOD.replace("args = [\"--flag\"]", "artifact = \"../x\"");
        let e = Package::parse(dir.path(), &text).unwrap_err();
        assert!(e.message.contains("inside the plugin folder"), "{e}");
    }

    #[test]
    fn step_types_are_required_for_subprocess_plugins() {
        let dir = folder_with_plugin();
        let e =
            Package::parse(dir.path(), &GOOD.replace("step_types = [\"echo\"]\n", "")).unwrap_err();
        assert_eq!(e.field, "step_types");
    }

    #[test]
    fn a_command_on_path_runs_the_artifact_given() {
        let dir = folder_with_plugin();
        let text = GOOD.replace(
            "program = \"plugin.py\"",
            "program = \"python3\"\nartifact = \"plugin.py\"",
        );
        let p = Package::parse(dir.path(), &text).unwrap();
        assert_eq!(p.program_path(), PathBuf::from("python3"));
        assert_eq!(p.artifact_path(), dir.path().join("plugin.py"));
    }

    #[test]
    fn the_json_schema_accepts_the_example_and_refuses_what_the_parser_refuses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let schema: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("schemas/plugin-package.schema.json")).unwrap(),
        )
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let as_json = |text: &str| {
            serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap()
        };
        let example = root.join("examples/plugins/python-echo");
        let text = std::fs::read_to_string(example.join(FILE_NAME)).unwrap();
        assert!(validator.is_valid(&as_json(&text)));
        Package::parse(&example, &text).unwrap();
        assert!(validator.is_valid(&as_json(GOOD)));
        for bad in [
            GOOD.replace("subprocess", "jar"),
            GOOD.replace("env = ", "fs_reed = "),
            GOOD.replace("python-echo", "Py"),
        ] {
            assert!(!validator.is_valid(&as_json(&bad)), "{bad}");
            assert!(Package::parse(&example, &bad).is_err(), "{bad}");
        }
    }
}
