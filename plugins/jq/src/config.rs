//! The step's `config`: its JSON Schema and its typed form.

use dagu_plugin_sdk::RunError;
use serde::Deserialize;
use serde_json::Value;

/// The settings of a `jq` step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Print string results without quotes or escapes (`jq -r`).
    #[serde(default)]
    pub raw: bool,
}

impl Config {
    /// Reads the config; `null` (no config) means the defaults.
    pub fn from_json(config: &Value) -> Result<Config, RunError> {
        if config.is_null() {
            return Ok(Config::default());
        }
        Config::deserialize(config).map_err(|e| RunError::invalid_config(e.to_string()))
    }
}

/// The JSON Schema of the step's `config`.
pub(crate) fn schema() -> Value {
    serde_json::from_str(CONFIG_SCHEMA).expect("config.schema.json is JSON")
}

/// The JSON Schema of the step's config, as shipped in `config.schema.json` (the host
/// embeds the same file to check configs when a DAG is loaded).
pub const CONFIG_SCHEMA: &str = include_str!("../config.schema.json");
