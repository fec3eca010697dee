//! Rendering a step type's template with the inputs of one call.
//!
//! Every string leaf is a Go text/template whose data is `{input: <inputs>}`; a missing key
//! is an error, and `json` turns its argument into a JSON literal. A map that is exactly
//! `{$input: "a.b.0"}` becomes the typed value at that path of the inputs.

use std::collections::HashMap;

use gtmpl::error::{ExecError, TemplateError};
use gtmpl::{Context, Template};
use gtmpl_value::{FuncError, Value as Tv};
use serde_json::Value as Json;

use crate::yaml::{Node, Value};

/// The key of a typed input reference (`{$input: "a.b"}`).
pub(super) const INPUT_REF: &str = "$input";

/// A template leaf that could not be rendered.
#[derive(Debug, PartialEq)]
pub(super) struct RenderError {
    /// Where in the template, e.g. `env[0].URL` (empty for the template itself).
    pub field: String,
    pub message: String,
}

/// Parses one template string, with the helper functions installed.
fn parse(text: &str) -> Result<Template, String> {
    let mut template = Template::default();
    template.add_func("json", json);
    template.parse(text).map_err(|e| e.to_string())?;
    Ok(template)
}

/// Whether a string leaf is a template at all (plain text is kept as it is).
fn is_template(text: &str) -> bool {
    text.contains("{{")
}

/// Checks every template string of a definition for syntax errors; returns the node and
/// message of each bad one.
pub(super) fn check(template: &Node) -> Vec<(&Node, String)> {
    let mut problems = Vec::new();
    visit(template, &mut |node| match &node.value {
        Value::Str(text) if is_template(text) => {
            if let Err(e) = parse(text) {
                problems.push((node, format!("invalid template: {e}")));
            }
        }
        Value::Map(_) => {
            if let Some(path) = input_ref(node)
                && path.as_str().is_none()
            {
                problems.push((node, format!("'{INPUT_REF}' needs a dotted path string")));
            }
        }
        _ => {}
    });
    problems
}

/// Calls `f` on every node of the tree, parents first.
fn visit<'n>(node: &'n Node, f: &mut impl FnMut(&'n Node)) {
    f(node);
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|i| visit(i, f)),
        Value::Map(entries) => entries.iter().for_each(|(_, v)| visit(v, f)),
        _ => {}
    }
}

/// The path node of a map that is exactly `{$input: <path>}`.
fn input_ref(node: &Node) -> Option<&Node> {
    match node.as_map()? {
        [(key, path)] if key.as_str() == Some(INPUT_REF) => Some(path),
        _ => None,
    }
}

/// Renders `template` with `input` as `.input`.
pub(super) fn render(template: &Node, input: &Json) -> Result<Node, RenderError> {
    let data = Context::from(Tv::Object(HashMap::from([(
        "input".to_string(),
        to_template_value(input),
    )])));
    render_node(template, input, &data, "")
}

fn render_node(
    node: &Node,
    input: &Json,
    data: &Context,
    field: &str,
) -> Result<Node, RenderError> {
    let value = match &node.value {
        Value::Str(text) if is_template(text) => Value::Str(render_text(text, data, field)?),
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| render_node(item, input, data, &format!("{field}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            if let Some(path) = input_ref(node) {
                let path = path.as_str().unwrap_or_default();
                let found = lookup(input, path).ok_or_else(|| RenderError {
                    field: field.to_string(),
                    message: format!("'{INPUT_REF}' path \"{path}\" is not in the input"),
                })?;
                return Ok(Node::from_json(found, node.pos));
            }
            let mut out = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let name = key.text().unwrap_or_default();
                let child = if field.is_empty() {
                    name
                } else {
                    format!("{field}.{name}")
                };
                out.push((key.clone(), render_node(value, input, data, &child)?));
            }
            Value::Map(out)
        }
        other => other.clone(),
    };
    Ok(Node {
        pos: node.pos,
        value,
    })
}

fn render_text(text: &str, data: &Context, field: &str) -> Result<String, RenderError> {
    let error = |message: String| RenderError {
        field: field.to_string(),
        message,
    };
    let template = parse(text).map_err(error)?;
    template.render(data).map_err(|e| error(describe(e)))
}

/// The renderer's error, with a missing key said plainly (the library would print the
/// whole receiver).
fn describe(e: ExecError) -> String {
    match e {
        ExecError::NoFiledFor(key, _) => format!("map has no entry for key \"{key}\""),
        other => TemplateError::from(other).to_string(),
    }
}

/// The value at a dotted path (`a.b.0`): object keys and array indexes.
fn lookup<'v>(value: &'v Json, path: &str) -> Option<&'v Json> {
    path.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(value, |v, segment| match v {
            Json::Object(map) => map.get(segment),
            Json::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// JSON as template data; objects are strict (a missing key is an error).
fn to_template_value(value: &Json) -> Tv {
    match value {
        Json::Null => Tv::Nil,
        Json::Bool(b) => Tv::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Tv::from(i),
            (None, Some(u)) => Tv::from(u),
            _ => Tv::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Tv::String(s.clone()),
        Json::Array(items) => Tv::Array(items.iter().map(to_template_value).collect()),
        Json::Object(map) => Tv::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_template_value(v)))
                .collect(),
        ),
    }
}

/// Template data back to JSON; map keys sorted (as Go's encoder does).
fn to_json(value: &Tv) -> Json {
    match value {
        Tv::NoValue | Tv::Nil | Tv::Function(_) => Json::Null,
        Tv::Bool(b) => Json::Bool(*b),
        Tv::String(s) => Json::String(s.clone()),
        Tv::Number(n) => n
            .as_i64()
            .map(Json::from)
            .or_else(|| n.as_u64().map(Json::from))
            .or_else(|| {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
            })
            .unwrap_or(Json::Null),
        Tv::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Tv::Object(map) | Tv::Map(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json(&map[k])))
                    .collect(),
            )
        }
    }
}

/// The `json` template function: its argument as a JSON literal.
fn json(args: &[Tv]) -> Result<Tv, FuncError> {
    match args {
        [value] => Ok(Tv::String(to_json(value).to_string())),
        _ => Err(FuncError::ExactlyXArgs("json".into(), 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;
    use serde_json::json;

    fn node(yaml: &str) -> Node {
        parse_documents(yaml).unwrap().remove(0).unwrap()
    }

    #[test]
    fn string_leaves_are_templates_over_the_input() {
        let template = node(
            "command: echo {{ .input.name }} x{{ .input.n }}\nenv:\n  - GREETING={{ .input.name | printf \"%s!\" }}\nplain: '${HOME}'\n",
        );
        let out = render(&template, &json!({"name": "bob", "n": 3})).unwrap();
        let j = out.to_json();
        assert_eq!(j["command"], "echo bob x3");
        assert_eq!(j["env"][0], "GREETING=bob!");
        assert_eq!(j["plain"], "${HOME}");
    }

    #[test]
    fn input_refs_keep_their_type() {
        let template = node(
            "with:\n  tags: {$input: meta.tags}\n  first: {$input: meta.tags.0}\n  n: {$input: n}\n",
        );
        let input = json!({"meta": {"tags": ["a", "b"]}, "n": 7});
        let out = render(&template, &input).unwrap();
        let j = out.to_json();
        assert_eq!(j["with"]["tags"], json!(["a", "b"]));
        assert_eq!(j["with"]["first"], "a");
        assert_eq!(j["with"]["n"], 7);
        let tags = out.at_pointer("/with/tags/1");
        assert_eq!(tags.pos, template.at_pointer("/with/tags").pos);
        let missing = render(&template, &json!({"n": 1})).unwrap_err();
        assert_eq!(missing.field, "with.tags");
        assert!(missing.message.contains("meta.tags"), "{}", missing.message);
    }

    #[test]
    fn missing_keys_are_errors_with_the_template_field() {
        let template = node("script:\n  - x\n  - echo {{ .input.nope }}\n");
        let err = render(&template, &json!({"name": "bob"})).unwrap_err();
        assert_eq!(err.field, "script[1]");
        assert!(err.message.contains("\"nope\""), "{}", err.message);
    }

    #[test]
    fn json_helper_writes_literals_with_sorted_keys() {
        let template = node("body: '{{ json .input.obj }}'\ns: '{{ json .input.s }}'\n");
        let input = json!({"obj": {"z": 1, "a": [true, null, 1.5]}, "s": "q\"uote"});
        let j = render(&template, &input).unwrap().to_json();
        assert_eq!(j["body"], r#"{"a":[true,null,1.5],"z":1}"#);
        assert_eq!(j["s"], r#""q\"uote""#);
    }

    #[test]
    fn syntax_errors_and_bad_refs_are_found_at_definition() {
        let template =
            node("command: echo {{ .input.x\nwith:\n  a: {$input: [1]}\n  b: {$input: ok}\n");
        let problems = check(&template);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0.pos.line, 1);
        assert!(problems[0].1.starts_with("invalid template"));
        assert_eq!(problems[1].0.pos.line, 3);
    }
}
