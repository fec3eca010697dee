//! The step's `config`: its JSON Schema and its typed form.

use dagu_plugin_sdk::RunError;
use serde::Deserialize;
use serde_json::{Value, json};

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
    json!({
        "type": "object",
        "properties": {
            "raw": {
                "type": "boolean",
                "description": "Print string results without quotes (like jq -r)."
            }
        },
        "additionalProperties": false
    })
}
