//! Checks each document against `schemas/dag.schema.json` (the same file editors use).

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;

use crate::error::Errors;
use crate::yaml::Node;

/// The DAG JSON Schema of `schemas/`, without the editor annotations (see `build.rs`).
pub const DAG_SCHEMA: &str = include_str!(concat!(env!("OUT_DIR"), "/dag.schema.compact.json"));

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: serde_json::Value =
        serde_json::from_str(DAG_SCHEMA).expect("schemas/dag.schema.json is valid JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(false)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&schema)
        .expect("schemas/dag.schema.json is a valid schema")
});

/// Validates one document; returns whether it conformed. Problems go to `errors` with the
/// position of the offending value (or key, for unknown keys).
pub fn check(doc: &Node, errors: &mut Errors) -> bool {
    let json = doc.to_json();
    let before = errors.len();
    for err in VALIDATOR.iter_errors(&json) {
        let pointer = err.instance_path().as_str().to_string();
        let node = doc.at_pointer(&pointer);
        let field = pointer_to_field(&pointer);
        match err.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let key_pos = node
                        .as_map()
                        .and_then(|m| m.iter().find(|(k, _)| k.text().as_deref() == Some(key)))
                        .map_or(node.pos, |(k, _)| k.pos);
                    let path = if field.is_empty() {
                        key.clone()
                    } else {
                        format!("{field}.{key}")
                    };
                    errors.push(key_pos, path, format!("unknown field '{key}'"));
                }
            }
            _ => errors.push(node.pos, field, describe(&err.to_string())),
        }
    }
    errors.len() == before
}

/// Compiles the schema now (e.g. on another thread while the file is being read).
pub fn warm_up() {
    LazyLock::force(&VALIDATOR);
}

/// `/steps/2/retryPolicy/limit` → `steps[2].retryPolicy.limit`.
pub(crate) fn pointer_to_field(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.bytes().all(|b| b.is_ascii_digit()) && !token.is_empty() {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

/// Shortens the validator's wording where it is unhelpful.
fn describe(message: &str) -> String {
    if message.contains("is not valid under any of the schemas listed in the 'oneOf'")
        || message.contains("is not valid under any of the schemas listed in the 'anyOf'")
    {
        return "value has the wrong shape (see schemas/dag.schema.json for the accepted forms)"
            .into();
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(
            pointer_to_field("/steps/2/retryPolicy/limit"),
            "steps[2].retryPolicy.limit"
        );
        assert_eq!(pointer_to_field(""), "");
    }
}
