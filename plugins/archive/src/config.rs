//! The step's `config`: its JSON Schema and its typed form. Keys are camelCase, as in
//! Dagu, and snake_case is accepted too (not both spellings of one key).

use dagu_plugin_sdk::RunError;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The settings of an `archive` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Config {
    /// What to archive (create), or the archive (extract, list).
    pub source: String,
    /// The archive to write (create), or the folder to extract into (extract).
    #[serde(default)]
    pub destination: Option<String>,
    /// `tar`, `tar.gz` (`tgz`) or `zip`; inferred from the archive's name when absent.
    #[serde(default)]
    pub format: Option<String>,
    /// Compression level 0–9, or -1 for the format's default.
    #[serde(default = "default_level", alias = "compression_level")]
    pub compression_level: i32,
    /// Accepted so that the schema matches Dagu's; any password is refused.
    #[serde(default)]
    pub password: Option<String>,
    /// Replace existing files (extract) or an existing archive (create).
    #[serde(default)]
    pub overwrite: bool,
    /// Keep the folder structure; when false, every file lands in the top folder.
    #[serde(default = "yes", alias = "preserve_paths")]
    pub preserve_paths: bool,
    /// Leading path components dropped from every entry when extracting.
    #[serde(default, alias = "strip_components")]
    pub strip_components: usize,
    /// Glob patterns an entry must match one of (files; folders are walked regardless).
    #[serde(default, deserialize_with = "one_or_many")]
    pub include: Vec<String>,
    /// Glob patterns an entry must match none of (an excluded folder drops its contents).
    #[serde(default, deserialize_with = "one_or_many")]
    pub exclude: Vec<String>,
    /// Do everything but write.
    #[serde(default, alias = "dry_run")]
    pub dry_run: bool,
    /// Log every entry on stderr.
    #[serde(default)]
    pub verbose: bool,
    /// Archive what symlinks point to instead of the links (create).
    #[serde(default, alias = "follow_symlinks")]
    pub follow_symlinks: bool,
    /// Read the whole archive back (create) or first (extract, list), checking checksums.
    #[serde(default, alias = "verify_integrity")]
    pub verify_integrity: bool,
    /// Record failing entries in the summary and go on, instead of failing the step.
    #[serde(default, alias = "continue_on_error")]
    pub continue_on_error: bool,
}

fn default_level() -> i32 {
    -1
}

fn yes() -> bool {
    true
}

/// A pattern list written as one string or as a list.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(ps) => ps,
    })
}

impl Config {
    /// Reads the config, which must name a `source`.
    pub fn from_json(config: Value) -> Result<Config, RunError> {
        if config.is_null() {
            return Err(RunError::invalid_config("config.source is required"));
        }
        serde_json::from_value(config).map_err(|e| RunError::invalid_config(e.to_string()))
    }
}

/// The JSON Schema of the step's `config`.
pub(crate) fn schema() -> Value {
    serde_json::from_str(CONFIG_SCHEMA).expect("config.schema.json is JSON")
}

/// The JSON Schema of the step's config, as shipped in `config.schema.json` (the host
/// embeds the same file to check configs when a DAG is loaded).
pub const CONFIG_SCHEMA: &str = include_str!("../config.schema.json");
