//! Custom step types (`step_types`): named, reusable steps built on a builtin type.
//!
//! A definition names a builtin `type`, an `input_schema` (a JSON Schema of an object) and
//! a `template` (a step fragment whose strings are Go templates over `.input`). A step
//! `type: <name>` with its inputs under `with:` is expanded at load time into a normal step
//! (`expand.rs`): inputs defaulted and validated (`input.rs`), the template rendered
//! (`render.rs`) and the call site merged over it (`merge.rs`). Definitions come from
//! `base.yaml` and from the document; this module reads and checks them (their shape, and
//! the format of their names, is checked by the DAG schema first).

mod expand;
mod input;
mod merge;
mod render;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::build::values::text;
use crate::error::Errors;
use crate::fields::{Field, Obj};
use crate::step_types::StepTypes;
use crate::yaml::{Node, Pos};

pub(crate) use expand::Expansion;

/// Every builtin step type name and alias. Custom types must target one of these (or a
/// plugin's type) and may not take one as their name.
pub const BUILTIN_TYPES: &[&str] = &[
    "command",
    "shell",
    "dag",
    "subworkflow",
    "parallel",
    "docker",
    "container",
    "ssh",
    "sftp",
    "http",
    "jq",
    "mail",
    "archive",
    "chat",
    "hitl",
    "template",
    "s3",
    "redis",
    "postgres",
    "sqlite",
    "router",
    "kubernetes",
    "k8s",
    "harness",
    "agent",
    "log",
    "noop",
    "gha",
    "github_action",
    "github-action",
];

/// One custom step type, checked.
#[derive(Clone)]
struct CustomType {
    name: String,
    /// The builtin type it expands to, as written.
    target: String,
    description: Option<String>,
    schema: Json,
    validator: Arc<jsonschema::Validator>,
    template: Node,
    /// Where it is defined.
    file: PathBuf,
    pos: Pos,
}

/// The custom step types visible to one document: those of the base configuration and
/// the document's own.
#[derive(Clone, Default)]
pub struct CustomTypes {
    types: Vec<CustomType>,
}

impl std::fmt::Debug for CustomTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.types.iter().map(|t| &t.name))
            .finish()
    }
}

impl CustomTypes {
    fn get(&self, name: &str) -> Option<&CustomType> {
        self.types.iter().find(|t| t.name == name)
    }
}

/// What a definition is checked against.
struct Scope<'a> {
    /// Names defined in the same `step_types` map.
    siblings: Vec<String>,
    /// Types defined before (the base configuration's).
    known: &'a CustomTypes,
    plugins: Option<&'a StepTypes>,
}

/// Reads the `step_types` of `doc` (either spelling) over `base`'s; every problem is
/// reported at the definition. Invalid definitions are left out.
pub(crate) fn read(
    doc: &Node,
    base: Option<&CustomTypes>,
    plugins: Option<&StepTypes>,
    errors: &mut Errors,
) -> CustomTypes {
    let mut types = base.cloned().unwrap_or_default();
    let Some(field) = Obj::new(doc, "").and_then(|root| root.get(errors, "step_types")) else {
        return types;
    };
    let Some(map) = Obj::new(field.node, &field.path) else {
        return types;
    };
    let siblings = map.entries().iter().filter_map(|(k, _)| k.text()).collect();
    let mut own = Vec::new();
    let scope = Scope {
        siblings,
        known: &types,
        plugins,
    };
    for (key, value) in map.entries() {
        let name = key.text().unwrap_or_default();
        let path = map.child_path(&name);
        if own.iter().any(|t: &CustomType| t.name == name) {
            errors.push(
                key.pos,
                &path,
                format!("step type \"{name}\" is defined twice"),
            );
            continue;
        }
        if check_name(&name, key.pos, &path, &scope, errors)
            && let Some(def) = define(name, key.pos, value, &path, &scope, errors)
        {
            own.push(def);
        }
    }
    types.types.extend(own);
    types
}

/// Checks a definition's name; reports and returns false when it cannot be used. (Its
/// format, `^[A-Za-z][A-Za-z0-9_-]*$`, is checked by the DAG schema.)
fn check_name(name: &str, pos: Pos, path: &str, scope: &Scope, errors: &mut Errors) -> bool {
    let problem = if BUILTIN_TYPES.contains(&name) {
        format!("step type name \"{name}\" is a builtin step type")
    } else if scope.plugins.is_some_and(|p| p.contains(name)) {
        format!("step type name \"{name}\" is a step type provided by a plugin")
    } else if let Some(prior) = scope.known.get(name) {
        format!(
            "step type \"{name}\" is already defined at {}:{}:{}",
            prior.file.display(),
            prior.pos.line,
            prior.pos.col
        )
    } else {
        return true;
    };
    errors.push(pos, path, problem);
    false
}

/// Reads and checks one definition.
fn define(
    name: String,
    pos: Pos,
    node: &Node,
    path: &str,
    scope: &Scope,
    errors: &mut Errors,
) -> Option<CustomType> {
    let obj = Obj::new(node, path)?;
    let before = errors.len();
    let target = obj
        .get(errors, "type")
        .and_then(|f| check_target(&f, scope, errors));
    let description = obj
        .get(errors, "description")
        .and_then(|f| text(&f, errors));
    let schema = match obj.get(errors, "input_schema") {
        Some(f) => input_schema(&f, errors),
        None => {
            errors.push(pos, path, "input_schema is required");
            None
        }
    };
    let template = obj
        .get(errors, "template")
        .filter(|f| check_template(f, errors))
        .map(|f| f.node.clone());
    let (Some(target), Some((schema, validator)), Some(template)) = (target, schema, template)
    else {
        return None;
    };
    (errors.len() == before).then(|| CustomType {
        name,
        target,
        description,
        schema,
        validator: Arc::new(validator),
        template,
        file: errors.file().to_path_buf(),
        pos,
    })
}

/// The builtin (or plugin) type a definition targets.
fn check_target(f: &Field, scope: &Scope, errors: &mut Errors) -> Option<String> {
    let target = text(f, errors)?;
    let name = target.trim();
    if BUILTIN_TYPES.contains(&name) || scope.plugins.is_some_and(|p| p.contains(name)) {
        return Some(target);
    }
    let message = if scope.siblings.iter().any(|s| s == name) || scope.known.get(name).is_some() {
        format!("\"{name}\" is a custom step type; a custom step type must target a builtin type")
    } else {
        format!(
            "unknown step type \"{name}\"; a custom step type must target a builtin type ({})",
            BUILTIN_TYPES.join(", ")
        )
    };
    errors.push(f.node.pos, &f.path, message);
    None
}

/// The input schema as JSON and compiled; it must describe an object.
fn input_schema(f: &Field, errors: &mut Errors) -> Option<(Json, jsonschema::Validator)> {
    let schema = f.node.to_json();
    let object = match schema.get("type") {
        Some(Json::String(t)) => t == "object",
        _ => false,
    };
    if !object {
        errors.push(
            f.node.pos,
            &f.path,
            "input_schema must describe an object (type: object)",
        );
        return None;
    }
    match jsonschema::validator_for(&schema) {
        Ok(validator) => Some((schema, validator)),
        Err(e) => {
            errors.push(f.node.pos, &f.path, format!("invalid input_schema: {e}"));
            None
        }
    }
}

/// Checks a template (a map, as the schema ensures): no `type`, parseable template strings.
fn check_template(f: &Field, errors: &mut Errors) -> bool {
    let mut ok = true;
    if let Some(t) = Obj::new(f.node, &f.path).and_then(|obj| obj.get(errors, "type")) {
        errors.push(
            t.key_pos,
            &t.path,
            "a step type template may not contain 'type' (the definition's 'type' is used)",
        );
        ok = false;
    }
    for (node, message) in render::check(f.node) {
        errors.push(node.pos, &f.path, message);
        ok = false;
    }
    ok
}
