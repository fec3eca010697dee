//! The inputs of one call of a custom step type: schema defaults, then validation.
//!
//! Values holding run-time references (`${VAR}`, `$VAR`, backticks) are only known when
//! the step runs, so for validation they are replaced by a placeholder of the type the
//! schema expects, and problems reported at exactly such a value are dropped.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

/// A run-time reference the step expands later.
static RUNTIME_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|`[^`]*`").expect("valid regex")
});

/// One problem with the inputs: the JSON pointer of the bad value and the message.
#[derive(Debug, PartialEq)]
pub(super) struct InputError {
    pub pointer: String,
    pub message: String,
}

/// Fills in schema defaults (top-level properties and those of nested objects present).
pub(super) fn apply_defaults(schema: &Json, value: &mut Json) {
    let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Json::as_object),
        value.as_object_mut(),
    ) else {
        return;
    };
    for (key, property) in properties {
        match object.get_mut(key) {
            Some(present) => apply_defaults(property, present),
            None => {
                if let Some(default) = property.get("default") {
                    let mut filled = default.clone();
                    apply_defaults(property, &mut filled);
                    object.insert(key.clone(), filled);
                }
            }
        }
    }
}

/// Validates `input` against the type's schema, treating run-time references as opaque.
pub(super) fn validate(
    validator: &jsonschema::Validator,
    schema: &Json,
    input: &Json,
) -> Vec<InputError> {
    let mut masked = input.clone();
    let mut opaque = Vec::new();
    mask(Some(schema), &mut masked, String::new(), &mut opaque);
    validator
        .iter_errors(&masked)
        .filter_map(|e| {
            let pointer = e.instance_path().as_str().to_string();
            (!opaque.contains(&pointer)).then(|| InputError {
                pointer,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Replaces strings that hold run-time references with placeholders; records their
/// pointers in `opaque`.
fn mask(schema: Option<&Json>, value: &mut Json, pointer: String, opaque: &mut Vec<String>) {
    match value {
        Json::String(s) if RUNTIME_REF.is_match(s) => {
            if let Some(p) = schema.and_then(placeholder) {
                *value = p;
            }
            opaque.push(pointer);
        }
        Json::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let sub = schema.and_then(|s| {
                    s.get("prefixItems")
                        .and_then(|p| p.get(i))
                        .or_else(|| s.get("items"))
                });
                mask(sub, item, format!("{pointer}/{i}"), opaque);
            }
        }
        Json::Object(map) => {
            for (key, item) in map.iter_mut() {
                let sub = schema.and_then(|s| {
                    s.get("properties")
                        .and_then(|p| p.get(key))
                        .or_else(|| s.get("additionalProperties"))
                });
                let token = key.replace('~', "~0").replace('/', "~1");
                mask(sub, item, format!("{pointer}/{token}"), opaque);
            }
        }
        _ => {}
    }
}

/// A value the schema accepts in place of a reference; `None` keeps the text (the schema
/// allows strings, or says nothing about the type).
fn placeholder(schema: &Json) -> Option<Json> {
    if let Some(c) = schema.get("const") {
        return Some(c.clone());
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return Some(first.clone());
    }
    let types: Vec<&str> = match schema.get("type")? {
        Json::String(t) => vec![t.as_str()],
        Json::Array(ts) => ts.iter().filter_map(Json::as_str).collect(),
        _ => return None,
    };
    if types.contains(&"string") {
        return None;
    }
    Some(match *types.first()? {
        "integer" | "number" => Json::from(0),
        "boolean" => Json::Bool(false),
        "array" => Json::Array(Vec::new()),
        "object" => Json::Object(serde_json::Map::new()),
        _ => Json::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Json {
        json!({
            "type": "object",
            "properties": {
                "count": {"type": "integer", "default": 2},
                "mode": {"enum": ["fast", "slow"]},
                "name": {"type": "string", "pattern": "^[a-z]+$"},
                "opts": {
                    "type": "object",
                    "properties": {"verbose": {"type": "boolean", "default": false}}
                },
                "ports": {"type": "array", "items": {"type": "integer"}}
            },
            "required": ["name"],
            "additionalProperties": false
        })
    }

    fn check(input: Json) -> Vec<InputError> {
        let schema = schema();
        let validator = jsonschema::validator_for(&schema).unwrap();
        validate(&validator, &schema, &input)
    }

    #[test]
    fn defaults_fill_top_level_and_nested_properties() {
        let mut input = json!({"name": "a", "opts": {}});
        apply_defaults(&schema(), &mut input);
        assert_eq!(
            input,
            json!({"name": "a", "opts": {"verbose": false}, "count": 2})
        );
        let mut given = json!({"count": 5});
        apply_defaults(&schema(), &mut given);
        assert_eq!(given["count"], 5);
    }

    #[test]
    fn bad_values_are_reported_at_their_pointer() {
        let errors = check(json!({"name": "a", "count": "many", "ports": [1, "x"]}));
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/count", "/ports/1"], "{errors:?}");
        let missing = check(json!({}));
        assert_eq!(missing[0].pointer, "");
        assert!(missing[0].message.contains("name"), "{missing:?}");
    }

    #[test]
    fn runtime_references_pass_where_their_type_is_unknown() {
        let ok = json!({
            "name": "${NAME}",
            "count": "${COUNT}",
            "mode": "$MODE",
            "ports": ["`echo 80`"]
        });
        assert_eq!(check(ok), []);
        let literal = check(json!({"name": "a", "count": "COUNT"}));
        assert_eq!(literal.len(), 1, "{literal:?}");
    }

    #[test]
    fn placeholders_follow_the_schema() {
        assert_eq!(placeholder(&json!({"type": "integer"})), Some(json!(0)));
        assert_eq!(placeholder(&json!({"enum": ["a"]})), Some(json!("a")));
        assert_eq!(placeholder(&json!({"type": ["string", "null"]})), None);
        assert_eq!(placeholder(&json!({"type": "boolean"})), Some(json!(false)));
    }
}
