//! The step's settings: `config` merged over a JSON `script`, read into [`Config`].
//!
//! Keys are Dagu's (`skipTLSVerify` is camelCase; `skip_tls_verify` is accepted too, not
//! both in one place). Values are read leniently, because the host expands `${VAR}`
//! references into strings: a boolean may be written as `"true"`/`"false"` (Go's
//! `ParseBool` spellings), the timeout as a numeric string, and header and query values
//! as strings, numbers or booleans (or lists of them, for repeated names).

use std::time::Duration;

use dagu_plugin_sdk::RunError;
use serde_json::{Map, Value};

/// The canonical spelling of the TLS key, and its snake_case alias.
pub(crate) const SKIP_TLS_VERIFY: (&str, &str) = ("skipTLSVerify", "skip_tls_verify");

/// Every key the config and the script may carry (canonical spellings).
const KEYS: [&str; 8] = [
    "timeout",
    "headers",
    "query",
    "body",
    "silent",
    "debug",
    "json",
    SKIP_TLS_VERIFY.0,
];

/// Keys whose maps are merged entry by entry (config entries win) instead of replaced.
const MAP_KEYS: [&str; 2] = ["headers", "query"];

/// The spellings `ParseBool` accepts, as `(text, value)`.
pub(crate) const BOOL_TEXTS: [(&str, bool); 12] = [
    ("1", true),
    ("t", true),
    ("T", true),
    ("true", true),
    ("TRUE", true),
    ("True", true),
    ("0", false),
    ("f", false),
    ("F", false),
    ("false", false),
    ("FALSE", false),
    ("False", false),
];

/// The settings of one `http` step.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Config {
    /// Limit on the whole exchange (redirects included); `None` for no limit.
    pub timeout: Option<Duration>,
    /// Request headers in the order written; a name may repeat.
    pub headers: Vec<(String, String)>,
    /// Query parameters to append to the URL, in the order written.
    pub query: Vec<(String, String)>,
    /// The request body.
    pub body: Option<String>,
    /// Print only the body of a 2xx response.
    pub silent: bool,
    /// Log the request (and the response's head) on stderr.
    pub debug: bool,
    /// Print the response as one JSON object.
    pub json: bool,
    /// Accepted for Dagu's sake; certificates are verified regardless.
    pub skip_tls_verify: bool,
}

impl Config {
    /// The config of a step: `config` (a map, or null for none) merged over `script` when
    /// the script holds a JSON object.
    pub fn from_step(config: &Value, script: Option<&str>) -> Result<Config, RunError> {
        let config = normalized(as_map(config, "the config")?, "the config")?;
        let merged = match script.map(str::trim).filter(|s| !s.is_empty()) {
            None => config,
            Some(text) => {
                let parsed: Value = serde_json::from_str(text).map_err(|e| {
                    RunError::invalid_config(format!(
                        "the script of an http step must be a JSON object of config keys \
                         (timeout, headers, query, body, ...): {e}"
                    ))
                })?;
                let script = normalized(as_map(&parsed, "the script")?, "the script")?;
                merge(script, config)
            }
        };
        Config::from_map(&merged)
    }

    fn from_map(map: &Map<String, Value>) -> Result<Config, RunError> {
        let mut c = Config::default();
        for (key, value) in map {
            match key.as_str() {
                "timeout" => c.timeout = timeout(value)?,
                "headers" => c.headers = pairs(value, "headers")?,
                "query" => c.query = pairs(value, "query")?,
                "body" => c.body = optional_text(value, "body")?,
                "silent" => c.silent = boolean(value, "silent")?,
                "debug" => c.debug = boolean(value, "debug")?,
                "json" => c.json = boolean(value, "json")?,
                k if k == SKIP_TLS_VERIFY.0 => c.skip_tls_verify = boolean(value, k)?,
                other => {
                    return Err(RunError::invalid_config(format!(
                        "unknown key '{other}': an http step takes {}",
                        KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(c)
    }
}

fn as_map(value: &Value, what: &str) -> Result<Map<String, Value>, RunError> {
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        other => Err(RunError::invalid_config(format!(
            "{what} must be a map of settings, not {}",
            kind(other)
        ))),
    }
}

/// `map` with the snake_case alias renamed to its canonical key; both at once is an error.
fn normalized(mut map: Map<String, Value>, what: &str) -> Result<Map<String, Value>, RunError> {
    let (canonical, alias) = SKIP_TLS_VERIFY;
    if let Some(value) = map.remove(alias) {
        if map.contains_key(canonical) {
            return Err(RunError::invalid_config(format!(
                "{what} sets both {canonical} and {alias}; use one"
            )));
        }
        map.insert(canonical.to_string(), value);
    }
    Ok(map)
}

/// `over` merged over `under`: keys of `over` win; `headers` and `query` maps are merged
/// entry by entry (header names compared without case).
fn merge(mut under: Map<String, Value>, over: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in over {
        let merged = match (under.remove(&key), value) {
            (Some(Value::Object(mut base)), Value::Object(top)) if MAP_KEYS.contains(&&*key) => {
                for (name, v) in top {
                    if key == "headers" {
                        base.retain(|k, _| !k.eq_ignore_ascii_case(&name));
                    }
                    base.insert(name, v);
                }
                Value::Object(base)
            }
            (_, value) => value,
        };
        under.insert(key, merged);
    }
    under
}

fn timeout(value: &Value) -> Result<Option<Duration>, RunError> {
    let seconds = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            Ok((s > 0.0).then(|| Duration::from_secs_f64(s.min(u32::MAX as f64))))
        }
        _ => Err(RunError::invalid_config(format!(
            "timeout must be a number of seconds (0 or more), not {}",
            describe(value)
        ))),
    }
}

fn boolean(value: &Value, key: &str) -> Result<bool, RunError> {
    match value {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::String(s) => BOOL_TEXTS
            .iter()
            .find(|(text, _)| text == s)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                RunError::invalid_config(format!("{key} must be true or false, not {s:?}"))
            }),
        other => Err(RunError::invalid_config(format!(
            "{key} must be true or false, not {}",
            describe(other)
        ))),
    }
}

/// A string, number or boolean as text; `None` for null.
fn optional_text(value: &Value, key: &str) -> Result<Option<String>, RunError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(RunError::invalid_config(format!(
            "{key} must be a string, not {} (write JSON as a string, e.g. with `{key}: |`)",
            kind(other)
        ))),
    }
}

/// A map of names to values (a list of values repeats the name), in the order written.
fn pairs(value: &Value, key: &str) -> Result<Vec<(String, String)>, RunError> {
    let map = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => map,
        other => {
            return Err(RunError::invalid_config(format!(
                "{key} must be a map of names to values, not {}",
                kind(other)
            )));
        }
    };
    let mut out = Vec::new();
    for (name, v) in map {
        let field = format!("{key}.{name}");
        let values = match v {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for item in values {
            match item {
                Value::Array(_) | Value::Object(_) => {
                    return Err(RunError::invalid_config(format!(
                        "{field} must be a string, number or boolean (or a list of them), \
                         not {}",
                        kind(item)
                    )));
                }
                scalar => out.push((
                    name.clone(),
                    optional_text(scalar, &field)?.unwrap_or_default(),
                )),
            }
        }
    }
    Ok(out)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(config: Value, script: Option<&str>) -> Result<Config, RunError> {
        Config::from_step(&config, script)
    }

    fn invalid(result: Result<Config, RunError>) -> String {
        match result {
            Err(RunError::InvalidConfig { message }) => message,
            other => panic!("expected invalid_config, got {other:?}"),
        }
    }

    #[test]
    fn no_config_is_the_defaults() {
        assert_eq!(read(json!(null), None).unwrap(), Config::default());
        assert_eq!(read(json!({}), Some("  \n")).unwrap(), Config::default());
    }

    #[test]
    fn reads_every_key() {
        let c = read(
            json!({
                "timeout": 2.5, "headers": {"Accept": "text/plain", "X-N": 5},
                "query": {"q": "a b", "ids": [1, 2]}, "body": "{}",
                "silent": true, "debug": "true", "json": "0", "skipTLSVerify": false
            }),
            None,
        )
        .unwrap();
        assert_eq!(c.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            c.headers,
            [
                ("Accept".into(), "text/plain".into()),
                ("X-N".into(), "5".into())
            ]
        );
        assert_eq!(
            c.query,
            [
                ("q".into(), "a b".into()),
                ("ids".into(), "1".into()),
                ("ids".into(), "2".into())
            ]
        );
        assert_eq!(c.body.as_deref(), Some("{}"));
        assert!(c.silent && c.debug && !c.json && !c.skip_tls_verify);
    }

    #[test]
    fn timeout_zero_means_none_and_text_is_accepted() {
        assert_eq!(read(json!({"timeout": 0}), None).unwrap().timeout, None);
        assert_eq!(
            read(json!({"timeout": " 3 "}), None).unwrap().timeout,
            Some(Duration::from_secs(3))
        );
        let message = invalid(read(json!({"timeout": -1}), None));
        assert!(message.contains("timeout must be a number"), "{message}");
        let message = invalid(read(json!({"timeout": "soon"}), None));
        assert!(message.contains("\"soon\""), "{message}");
    }

    #[test]
    fn both_spellings_of_skip_tls_verify() {
        assert!(
            read(json!({"skip_tls_verify": true}), None)
                .unwrap()
                .skip_tls_verify
        );
        let message = invalid(read(
            json!({"skipTLSVerify": true, "skip_tls_verify": true}),
            None,
        ));
        assert!(message.contains("both skipTLSVerify and skip_tls_verify"));
        // One spelling in the script, the other in the config: the config's wins.
        let c = read(
            json!({"skip_tls_verify": false}),
            Some(r#"{"skipTLSVerify": true}"#),
        )
        .unwrap();
        assert!(!c.skip_tls_verify);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_invalid_config() {
        let message = invalid(read(json!({"url": "http://x"}), None));
        assert!(message.contains("unknown key 'url'"), "{message}");
        assert!(invalid(read(json!({"silent": "yes"}), None)).contains("silent must be true"));
        assert!(invalid(read(json!({"body": {"a": 1}}), None)).contains("body must be a string"));
        assert!(invalid(read(json!({"headers": ["A"]}), None)).contains("headers must be a map"));
        assert!(invalid(read(json!({"query": {"a": {"b": 1}}}), None)).contains("query.a must be"));
        assert!(invalid(read(json!("GET"), None)).contains("config must be a map"));
    }

    #[test]
    fn the_script_is_merged_under_the_config() {
        let script = r#"{"body": "from script", "silent": true, "timeout": 9,
                         "headers": {"content-type": "text/plain", "X-Script": "s"},
                         "query": {"a": "1", "b": "2"}}"#;
        let c = read(
            json!({"timeout": 1, "headers": {"Content-Type": "application/json"},
                   "query": {"b": "3"}}),
            Some(script),
        )
        .unwrap();
        assert_eq!(c.body.as_deref(), Some("from script"));
        assert!(c.silent);
        assert_eq!(c.timeout, Some(Duration::from_secs(1)));
        assert_eq!(
            c.headers,
            [
                ("X-Script".into(), "s".into()),
                ("Content-Type".into(), "application/json".into())
            ]
        );
        assert_eq!(
            c.query,
            [("a".into(), "1".into()), ("b".into(), "3".into())]
        );
    }

    #[test]
    fn a_script_that_is_not_a_json_object_is_invalid() {
        let message = invalid(read(json!({}), Some("body: x")));
        assert!(message.contains("must be a JSON object"), "{message}");
        let message = invalid(read(json!({}), Some("[1]")));
        assert!(message.contains("the script must be a map"), "{message}");
        let message = invalid(read(json!({}), Some(r#"{"method": "POST"}"#)));
        assert!(message.contains("unknown key 'method'"), "{message}");
    }
}
