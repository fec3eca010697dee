//! Readers for the small value shapes shared by many fields.

use std::time::Duration;

use dagu_eval::params::{self, Param};

use crate::error::Errors;
use crate::fields::{Field, Obj};
use crate::model::Condition;
use crate::yaml::{Node, Value};

/// A scalar as text; reports maps and lists.
pub fn text(f: &Field, errors: &mut Errors) -> Option<String> {
    let t = f.node.text();
    if t.is_none() && !f.node.is_null() {
        errors.push(
            f.node.pos,
            &f.path,
            format!("expected a string, got a {}", f.node.kind()),
        );
    }
    t
}

/// A string or a list of scalars.
pub fn text_list(f: &Field, errors: &mut Errors) -> Vec<String> {
    match &f.node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let t = n.text();
                if t.is_none() {
                    errors.push(
                        n.pos,
                        format!("{}[{i}]", f.path),
                        format!("expected a string, got a {}", n.kind()),
                    );
                }
                t
            })
            .collect(),
        Value::Null => Vec::new(),
        _ => text(f, errors).into_iter().collect(),
    }
}

/// A boolean (also accepts the strings `true`/`false`).
pub fn boolean(f: &Field, errors: &mut Errors) -> bool {
    match &f.node.value {
        Value::Bool(b) => *b,
        Value::Str(s) if s == "true" || s == "false" => s == "true",
        Value::Null => false,
        _ => {
            errors.push(
                f.node.pos,
                &f.path,
                format!("expected true or false, got a {}", f.node.kind()),
            );
            false
        }
    }
}

/// An integer (also accepts numeric strings).
pub fn integer(f: &Field, errors: &mut Errors) -> Option<i64> {
    match &f.node.value {
        Value::Int(i) => Some(*i),
        Value::Str(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
        Value::Null => None,
        _ => {
            errors.push(
                f.node.pos,
                &f.path,
                format!("expected an integer, got {}", describe(f.node)),
            );
            None
        }
    }
}

/// A non-negative integer.
pub fn count(f: &Field, errors: &mut Errors) -> Option<u64> {
    let v = integer(f, errors)?;
    if v < 0 {
        errors.push(f.node.pos, &f.path, format!("must be >= 0 (value: {v})"));
        return None;
    }
    Some(v as u64)
}

/// A number of seconds (integer >= 0).
pub fn seconds(f: &Field, errors: &mut Errors) -> Option<Duration> {
    count(f, errors).map(Duration::from_secs)
}

/// A float (integers accepted).
pub fn number(f: &Field, errors: &mut Errors) -> Option<f64> {
    match &f.node.value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        Value::Str(s) if s.trim().parse::<f64>().is_ok() => s.trim().parse().ok(),
        _ => {
            errors.push(
                f.node.pos,
                &f.path,
                format!("expected a number, got {}", describe(f.node)),
            );
            None
        }
    }
}

/// Exit codes: an integer, a numeric string, or a list of those.
pub fn exit_codes(f: &Field, errors: &mut Errors) -> Vec<i32> {
    let items: Vec<&Node> = match &f.node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![f.node],
    };
    items
        .into_iter()
        .filter_map(
            |n| match n.text().and_then(|t| t.trim().parse::<i32>().ok()) {
                Some(code) => Some(code),
                None => {
                    errors.push(
                        n.pos,
                        &f.path,
                        format!("expected an exit code, got {}", describe(n)),
                    );
                    None
                }
            },
        )
        .collect()
}

/// `env:` — a list of single-key maps and `K=V` strings, or one map; document order kept.
pub fn env_entries(f: &Field, errors: &mut Errors) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let push_map = |node: &Node, out: &mut Vec<(String, String)>, errors: &mut Errors| {
        for (k, v) in node.as_map().unwrap_or_default() {
            let key = k.text().unwrap_or_default();
            match v.text() {
                Some(val) => out.push((key, val)),
                None if v.is_null() => out.push((key, String::new())),
                None => errors.push(
                    v.pos,
                    format!("{}.{key}", f.path),
                    "expected a string value",
                ),
            }
        }
    };
    match &f.node.value {
        Value::Map(_) => push_map(f.node, &mut out, errors),
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                match &item.value {
                    Value::Map(_) => push_map(item, &mut out, errors),
                    Value::Str(s) => match s.split_once('=') {
                        Some((k, v)) => out.push((k.trim().to_string(), v.to_string())),
                        None => errors.push(
                            item.pos,
                            format!("{}[{i}]", f.path),
                            format!("expected KEY=VALUE, got '{s}'"),
                        ),
                    },
                    _ => errors.push(
                        item.pos,
                        format!("{}[{i}]", f.path),
                        "expected a map or a KEY=VALUE string",
                    ),
                }
            }
        }
        Value::Null => {}
        _ => errors.push(f.node.pos, &f.path, "expected a list or a map"),
    }
    for (k, _) in &out {
        if k.is_empty() {
            errors.push(f.node.pos, &f.path, "empty variable name");
        }
    }
    out
}

/// `params:` — a string, a list of strings / single-key maps, a map (keys sorted, as the
/// reference does), or `{schema, values}`.
pub fn param_list(f: &Field, errors: &mut Errors) -> Vec<Param> {
    let parse = |text: &str, node: &Node, errors: &mut Errors| match params::parse(text) {
        Ok(p) => p,
        Err(e) => {
            errors.push(node.pos, &f.path, e.to_string());
            Vec::new()
        }
    };
    match &f.node.value {
        Value::Str(s) => parse(s, f.node, errors),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            parse(&f.node.text().unwrap_or_default(), f.node, errors)
        }
        Value::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                match &item.value {
                    Value::Map(entries) => out.extend(entries.iter().map(|(k, v)| Param {
                        name: k.text(),
                        value: scalar_or_json(v),
                    })),
                    _ => out.extend(parse(&item.text().unwrap_or_default(), item, errors)),
                }
            }
            out
        }
        Value::Map(_) => {
            let obj = Obj::new(f.node, &f.path).expect("map");
            if obj.has("values") || obj.has("schema") {
                return obj
                    .get(errors, "values")
                    .map(|v| sorted_map_params(v.node))
                    .unwrap_or_default();
            }
            sorted_map_params(f.node)
        }
        Value::Null => Vec::new(),
    }
}

fn sorted_map_params(node: &Node) -> Vec<Param> {
    let mut out: Vec<Param> = node
        .as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| Param {
            name: k.text(),
            value: scalar_or_json(v),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Scalars as text; maps and lists as compact JSON.
pub fn scalar_or_json(node: &Node) -> String {
    node.text().unwrap_or_else(|| {
        if node.is_null() {
            String::new()
        } else {
            node.to_json().to_string()
        }
    })
}

/// Preconditions: a string, a `{condition, expected, negate}` map, or a list of those.
pub fn conditions(f: &Field, errors: &mut Errors) -> Vec<Condition> {
    let items: Vec<&Node> = match &f.node.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        _ => vec![f.node],
    };
    items
        .into_iter()
        .filter_map(|n| condition(n, &f.path, errors))
        .collect()
}

/// One precondition-like object.
pub fn condition(node: &Node, path: &str, errors: &mut Errors) -> Option<Condition> {
    if let Some(text) = node.text() {
        return Some(Condition {
            condition: text,
            expected: None,
            negate: false,
        });
    }
    let Some(obj) = Obj::new(node, path) else {
        errors.push(
            node.pos,
            path,
            "expected a string or a map with 'condition'",
        );
        return None;
    };
    let cond = obj
        .get(errors, "condition")
        .or_else(|| obj.get(errors, "command"));
    let Some(cond) = cond.and_then(|c| text(&c, errors)) else {
        errors.push(node.pos, path, "a precondition needs 'condition'");
        return None;
    };
    Some(Condition {
        condition: cond,
        expected: obj.get(errors, "expected").and_then(|e| text(&e, errors)),
        negate: obj
            .get(errors, "negate")
            .is_some_and(|n| boolean(&n, errors)),
    })
}

fn describe(node: &Node) -> String {
    match node.text() {
        Some(t) => format!("'{t}'"),
        None => format!("a {}", node.kind()),
    }
}
