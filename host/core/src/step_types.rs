//! What the loader knows about step types provided by plugins: the JSON Schema of each
//! type's `config` / `with`, so that bad configs are reported at load time with their
//! file, line and field, like every other error.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::error::Errors;
use crate::yaml::Node;

/// A catalog of step types with config schemas.
#[derive(Clone, Default)]
pub struct StepTypes {
    validators: HashMap<String, Arc<Schema>>,
}

/// One step type's config schema: compiled when added, or (for schemas shipped with the
/// binary) when the first config of that type is checked, so loading a DAG pays only for
/// the step types it uses.
enum Schema {
    Compiled(Arc<jsonschema::Validator>),
    Deferred {
        text: &'static str,
        compiled: OnceLock<Result<Arc<jsonschema::Validator>, String>>,
    },
}

impl Schema {
    fn validator(&self) -> Result<Arc<jsonschema::Validator>, String> {
        match self {
            Schema::Compiled(v) => Ok(v.clone()),
            Schema::Deferred { text, compiled } => compiled
                .get_or_init(|| {
                    let json: serde_json::Value =
                        serde_json::from_str(text).map_err(|e| e.to_string())?;
                    jsonschema::validator_for(&json)
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                })
                .clone(),
        }
    }
}

impl std::fmt::Debug for StepTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.validators.keys()).finish()
    }
}

impl StepTypes {
    /// Adds a step type with the JSON Schema of its config.
    pub fn add(
        &mut self,
        step_type: &str,
        config_schema: &serde_json::Value,
    ) -> Result<(), String> {
        let validator = jsonschema::validator_for(config_schema)
            .map_err(|e| format!("step type '{step_type}': invalid config schema: {e}"))?;
        self.validators.insert(
            step_type.to_string(),
            Arc::new(Schema::Compiled(Arc::new(validator))),
        );
        Ok(())
    }

    /// Adds a step type whose config schema (JSON text shipped with the binary) is
    /// compiled when the first config of that type is checked.
    pub fn add_deferred(&mut self, step_type: &str, config_schema: &'static str) {
        self.validators.insert(
            step_type.to_string(),
            Arc::new(Schema::Deferred {
                text: config_schema,
                compiled: OnceLock::new(),
            }),
        );
    }

    /// Whether the catalog knows this step type.
    pub fn contains(&self, step_type: &str) -> bool {
        self.validators.contains_key(step_type)
    }

    /// Checks a step's config (`node`, at field path `path`) against its type's schema.
    pub(crate) fn check(
        &self,
        step_type: &str,
        config: Option<&Node>,
        path: &str,
        at: &Node,
        errors: &mut Errors,
    ) {
        let Some(schema) = self.validators.get(step_type) else {
            return;
        };
        let validator = match schema.validator() {
            Ok(v) => v,
            Err(e) => {
                errors.push(
                    at.pos,
                    path.to_string(),
                    format!("step type '{step_type}' has an invalid config schema: {e}"),
                );
                return;
            }
        };
        let null = Node {
            pos: at.pos,
            value: crate::yaml::Value::Map(Vec::new()),
        };
        let node = config.unwrap_or(&null);
        let json = node.to_json();
        for err in validator.iter_errors(&json) {
            let pointer = err.instance_path().as_str().to_string();
            let inner = pointer.trim_start_matches('/').replace('/', ".");
            let field = if inner.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            };
            errors.push(
                node.at_pointer(&pointer).pos,
                field,
                format!("invalid config for step type '{step_type}': {err}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadOptions, load_str};
    use std::path::Path;

    fn catalog() -> Arc<StepTypes> {
        let mut types = StepTypes::default();
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"message": {"type": "string"}},
            "required": ["message"],
            "additionalProperties": false
        });
        types.add("echo", &schema).unwrap();
        Arc::new(types)
    }

    fn load(yaml: &str) -> Result<crate::DagFile, crate::LoadErrors> {
        let options = LoadOptions {
            step_types: Some(catalog()),
            ..Default::default()
        };
        load_str(yaml, Path::new("p.yaml"), &options)
    }

    #[test]
    fn configs_are_checked_at_their_position() {
        let err = load("steps:\n  - name: a\n    type: echo\n    config:\n      message: 5\n")
            .unwrap_err();
        let e = &err.0[0];
        assert_eq!(
            (e.pos.line, e.field.as_str()),
            (5, "steps[0].config.message")
        );
        assert!(e.message.contains("step type 'echo'"), "{}", e.message);
        let missing = load("steps:\n  - name: a\n    executor: echo\n").unwrap_err();
        assert!(missing.0[0].message.contains("message"), "{}", missing);
    }

    #[test]
    fn valid_configs_and_other_types_pass() {
        assert!(
            load("steps:\n  - name: a\n    type: echo\n    with:\n      message: hi\n").is_ok()
        );
        assert!(load("steps:\n  - name: a\n    executor:\n      type: echo\n      config: {message: hi}\n").is_ok());
        assert!(load("steps:\n  - name: a\n    type: other\n    config: {anything: 1}\n").is_ok());
    }

    #[test]
    fn deferred_schemas_are_checked_like_compiled_ones() {
        let mut types = StepTypes::default();
        types.add_deferred(
            "q",
            r#"{"type": "object", "properties": {"raw": {"type": "boolean"}}}"#,
        );
        types.add_deferred("broken", r#"{"type": 5}"#);
        let options = LoadOptions {
            step_types: Some(Arc::new(types)),
            ..Default::default()
        };
        let load = |yaml: &str| load_str(yaml, Path::new("p.yaml"), &options);
        let err =
            load("steps:\n  - name: a\n    type: q\n    config: {raw: yes please}\n").unwrap_err();
        assert_eq!(err.0[0].field, "steps[0].config.raw");
        assert!(load("steps:\n  - name: a\n    type: q\n    config: {raw: true}\n").is_ok());
        let err = load("steps:\n  - name: a\n    type: broken\n").unwrap_err();
        assert!(
            err.0[0].message.contains("invalid config schema"),
            "{}",
            err
        );
    }
}
