//! Merging a call site over the rendered template of its custom step type.
//!
//! Call-site keys override the template's (either key spelling), `env` lists are combined
//! (template first, so the call site wins on a name clash) and `preconditions` are
//! concatenated; `type`, `with` and `config` of the call site are not copied.

use crate::fields::camel_case;
use crate::yaml::{Node, Pos, Value};

/// Call-site keys that belong to the call itself, not to the expanded step.
const CALL_ONLY: &[&str] = &["type", "with", "config"];

/// Keys whose lists are combined rather than replaced.
const COMBINED: &[&str] = &["env", "preconditions", "precondition"];

/// What the expanded step takes from the definition besides the rendered template.
pub(super) struct Target<'a> {
    /// The builtin type, as written in the definition.
    pub step_type: &'a str,
    pub description: Option<&'a str>,
    /// Where generated keys (`type`, `description`) are placed.
    pub pos: Pos,
}

/// The step the call site stands for: `fragment` (the rendered template, a map) with the
/// call site's entries merged over it.
pub(super) fn merge(fragment: Node, call: &Node, target: &Target) -> Node {
    let mut entries = match fragment.value {
        Value::Map(entries) => entries,
        _ => Vec::new(),
    };
    for (key, value) in call.as_map().unwrap_or_default() {
        let name = key.text().unwrap_or_default();
        if CALL_ONLY.contains(&name.as_str()) {
            continue;
        }
        let same = |k: &Node| {
            k.text()
                .is_some_and(|t| camel_case(&t) == camel_case(&name))
        };
        match entries.iter().position(|(k, _)| same(k)) {
            Some(i) if COMBINED.contains(&name.as_str()) => {
                let first = &entries[i].1;
                let split_maps = name == "env";
                let mut items = list_items(first, split_maps);
                items.extend(list_items(value, split_maps));
                entries[i] = (
                    key.clone(),
                    Node {
                        pos: value.pos,
                        value: Value::Seq(items),
                    },
                );
            }
            Some(i) => entries[i] = (key.clone(), value.clone()),
            None => entries.push((key.clone(), value.clone())),
        }
    }
    let text = |s: &str| Node {
        pos: target.pos,
        value: Value::Str(s.to_string()),
    };
    if let Some(description) = target.description
        && !entries
            .iter()
            .any(|(k, _)| k.as_str() == Some("description"))
    {
        entries.push((text("description"), text(description)));
    }
    if !matches!(target.step_type.trim(), "command" | "shell") {
        entries.push((text("type"), text(target.step_type)));
    }
    Node {
        pos: call.pos,
        value: Value::Map(entries),
    }
}

/// The items of a list-valued field; a single value is one item, and with `split_maps` a
/// map is one item per entry (`env: {A: 1}` ≡ `env: [{A: 1}]`).
fn list_items(node: &Node, split_maps: bool) -> Vec<Node> {
    match &node.value {
        Value::Seq(items) => items.clone(),
        Value::Null => Vec::new(),
        Value::Map(entries) if split_maps => entries
            .iter()
            .map(|entry| Node {
                pos: entry.0.pos,
                value: Value::Map(vec![entry.clone()]),
            })
            .collect(),
        _ => vec![node.clone()],
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

    fn target<'a>(step_type: &'a str, description: Option<&'a str>) -> Target<'a> {
        Target {
            step_type,
            description,
            pos: Pos { line: 1, col: 1 },
        }
    }

    #[test]
    fn call_site_wins_env_combines_preconditions_concatenate() {
        let fragment = node(
            "command: run\nretryPolicy: {limit: 1}\nenv: {A: t, B: t}\npreconditions: test -f x\n",
        );
        let call = node(
            "type: mine\nwith: {x: 1}\nname: s\nretry_policy: {limit: 3}\nenv:\n  - B=c\npreconditions:\n  - test -d y\n",
        );
        let merged = merge(fragment, &call, &target("command", None));
        let j = merged.to_json();
        assert_eq!(
            j,
            json!({
                "command": "run",
                "retry_policy": {"limit": 3},
                "env": [{"A": "t"}, {"B": "t"}, "B=c"],
                "preconditions": ["test -f x", "test -d y"],
                "name": "s"
            })
        );
        assert_eq!(merged.pos, call.pos);
    }

    #[test]
    fn type_and_description_come_from_the_definition() {
        let call = node("type: mine\nconfig: {}\n");
        let j = merge(node("command: x\n"), &call, &target("http", Some("d"))).to_json();
        assert_eq!(
            j,
            json!({"command": "x", "description": "d", "type": "http"})
        );
        let own = node("type: mine\ndescription: mine\n");
        let j = merge(node("command: x\n"), &own, &target("shell", Some("d"))).to_json();
        assert_eq!(j, json!({"command": "x", "description": "mine"}));
    }
}
