//! Expanding one use of a custom step type into the step it stands for.

use std::path::Path;

use serde_json::Value as Json;

use super::merge::{self, Target};
use super::{CustomType, CustomTypes, input, render};
use crate::build::step::config_field;
use crate::error::Errors;
use crate::fields::{Obj, camel_case};
use crate::schema::pointer_to_field;
use crate::yaml::Node;

/// Call-site fields the type's template owns. `run`, `dir` and `executor` are other names
/// of `call`, `working_dir` and `type`.
const FORBIDDEN: &[&str] = &[
    "command",
    "script",
    "shell",
    "shell_packages",
    "working_dir",
    "dir",
    "call",
    "run",
    "params",
    "parallel",
    "container",
    "llm",
    "messages",
    "agent",
    "value",
    "routes",
    "exec",
    "executor",
];

/// What became of a step node.
pub(crate) enum Expansion {
    /// Its type is not a custom one: build it as it is.
    NotCustom,
    /// The expanded step, to be built as a normal step.
    Step(Node),
    /// It uses a custom type wrongly; the problems are reported.
    Failed,
}

impl CustomTypes {
    /// Expands `call` when its `type` is a custom step type.
    pub(crate) fn expand(&self, call: &Obj, errors: &mut Errors) -> Expansion {
        if self.types.is_empty() {
            return Expansion::NotCustom;
        }
        let mut quiet = Errors::new(Path::new(""));
        let Some(type_field) = call.get(&mut quiet, "type") else {
            return Expansion::NotCustom;
        };
        let Some(def) = type_field.node.as_str().and_then(|t| self.get(t.trim())) else {
            return Expansion::NotCustom;
        };
        let before = errors.len();
        reject_owned_fields(call, errors);
        let input = Input::read(call, type_field.node, def, errors);
        if errors.len() > before {
            return Expansion::Failed;
        }
        let mut fragment = match render::render(&def.template, &input.value) {
            Ok(fragment) => fragment,
            Err(e) => {
                let place = join("template", &e.field);
                let message = def.invalid_input(&format!("{place}: {}", e.message));
                errors.push(input.node.pos, input.path, message);
                return Expansion::Failed;
            }
        };
        if def.file != errors.file() {
            // Positions in another file (base.yaml) would mislead; point at the call.
            fragment.relocate(type_field.node.pos);
        }
        let target = Target {
            step_type: &def.target,
            description: def.description.as_deref(),
            pos: type_field.node.pos,
        };
        Expansion::Step(merge::merge(fragment, call.node, &target))
    }
}

/// Reports the call-site fields the template owns.
fn reject_owned_fields(call: &Obj, errors: &mut Errors) {
    for (key, _) in call.entries() {
        let Some(name) = key.as_str() else { continue };
        if FORBIDDEN
            .iter()
            .any(|f| *f == name || camel_case(f) == name)
        {
            errors.push(
                key.pos,
                call.child_path(name),
                format!("field \"{name}\" is not allowed when using a custom step type"),
            );
        }
    }
}

/// The inputs of a call: where they are written (`with:` / `config:`, else the `type`
/// value) and their value with defaults applied.
struct Input<'a> {
    node: &'a Node,
    path: String,
    value: Json,
}

impl<'a> Input<'a> {
    /// Reads, defaults and validates the inputs; problems are reported at the call.
    fn read(call: &Obj<'a>, type_node: &'a Node, def: &CustomType, errors: &mut Errors) -> Self {
        let given = config_field(call, errors);
        let mut input = match &given {
            Some(f) => Input {
                node: f.node,
                path: f.path.clone(),
                value: f.node.to_json(),
            },
            None => Input {
                node: type_node,
                path: call.child_path("with"),
                value: Json::Null,
            },
        };
        if input.value.is_null() {
            input.value = Json::Object(serde_json::Map::new());
        }
        input::apply_defaults(&def.schema, &mut input.value);
        for e in input::validate(&def.validator, &def.schema, &input.value) {
            errors.push(
                input.node.at_pointer(&e.pointer).pos,
                join(&input.path, &pointer_to_field(&e.pointer)),
                def.invalid_input(&e.message),
            );
        }
        input
    }
}

impl CustomType {
    /// The message of a problem with a call's inputs.
    fn invalid_input(&self, problem: &str) -> String {
        format!("invalid \"{}\" input: {problem}", self.name)
    }
}

/// `steps[0].with` + `a[1]` → `steps[0].with.a[1]`.
fn join(path: &str, inner: &str) -> String {
    if inner.is_empty() {
        path.to_string()
    } else if inner.starts_with('[') {
        format!("{path}{inner}")
    } else {
        format!("{path}.{inner}")
    }
}
