//! JSON values as template values and back.

use std::collections::HashMap;

use gtmpl_value::{Number, Value};
use serde_json::Value as Json;

/// `json` as a template value. Objects become gtmpl objects, whose missing keys are
/// errors when a template reads them.
pub(crate) fn to_template(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(number(n)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(to_template).collect()),
        Json::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_template(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// A JSON number as a template number: an integer when it is one, else a float.
fn number(n: &serde_json::Number) -> Number {
    if let Some(u) = n.as_u64() {
        u.into()
    } else if let Some(i) = n.as_i64() {
        i.into()
    } else {
        n.as_f64().unwrap_or(f64::NAN).into()
    }
}

/// A template value as JSON, object keys sorted (as Go's `encoding/json` writes maps).
/// Functions have no JSON form.
pub(crate) fn to_json(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::NoValue | Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => n
            .as_u64()
            .map(Json::from)
            .or_else(|| n.as_i64().map(Json::from))
            .or_else(|| n.as_f64().map(Json::from))
            .unwrap_or(Json::Null),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Object(entries) | Value::Map(entries) => {
            let mut keys: Vec<&String> = entries.keys().collect();
            keys.sort();
            let mut object = serde_json::Map::with_capacity(keys.len());
            for k in keys {
                object.insert(k.clone(), to_json(&entries[k])?);
            }
            Json::Object(object)
        }
        Value::Function(_) => return Err("a function has no JSON form".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_with_sorted_keys() {
        let original = json!({"b": [1, -2, 1.5, "x", null, true], "a": {"c": {}}});
        let back = to_json(&to_template(&original)).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            r#"{"a":{"c":{}},"b":[1,-2,1.5,"x",null,true]}"#
        );
    }

    #[test]
    fn objects_are_strict_about_missing_keys() {
        assert!(matches!(to_template(&json!({})), Value::Object(_)));
    }
}
