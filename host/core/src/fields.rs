//! Reading map fields under either key spelling.
//!
//! Every multi-word field may be written in Dagu 1.x camelCase (`workingDir`) or Dagu 2.x
//! snake_case (`working_dir`); both spellings of one field in the same map are an error.
//! Callers ask for the snake_case name; the key as written is kept for error messages.

use crate::error::Errors;
use crate::yaml::{Node, Pos};

/// A map node being read, with its field path.
#[derive(Clone, Copy)]
pub struct Obj<'a> {
    pub node: &'a Node,
    entries: &'a [(Node, Node)],
    path: &'a str,
}

/// A field found in an [`Obj`].
#[derive(Clone, Debug)]
pub struct Field<'a> {
    /// The value.
    pub node: &'a Node,
    /// Position of the key.
    pub key_pos: Pos,
    /// Full field path (`steps[1].retryPolicy`), using the spelling the user wrote.
    pub path: String,
}

impl<'a> Obj<'a> {
    /// Wraps a map node; `None` when the node is not a map.
    pub fn new(node: &'a Node, path: &'a str) -> Option<Self> {
        node.as_map().map(|entries| Obj {
            node,
            entries,
            path,
        })
    }

    /// The field named `snake` (or its camelCase spelling). Reports both spellings at once.
    pub fn get(&self, errors: &mut Errors, snake: &str) -> Option<Field<'a>> {
        let camel = camel_case(snake);
        let mut found: Option<(&'a Node, &'a Node)> = None;
        for (key, value) in self.entries {
            let Some(text) = key.as_str() else { continue };
            if text != snake && text != camel {
                continue;
            }
            if let Some((first, _)) = found {
                errors.push(
                    key.pos,
                    self.child_path(text),
                    format!(
                        "'{}' is already set as '{}' on line {}; use one spelling",
                        text,
                        first.as_str().unwrap_or_default(),
                        first.pos.line
                    ),
                );
                continue;
            }
            found = Some((key, value));
        }
        found.map(|(key, node)| Field {
            node,
            key_pos: key.pos,
            path: self.child_path(key.as_str().unwrap_or(snake)),
        })
    }

    /// Whether the map has the field under any spelling.
    pub fn has(&self, snake: &str) -> bool {
        let camel = camel_case(snake);
        self.entries
            .iter()
            .any(|(k, _)| k.as_str().is_some_and(|t| t == snake || t == camel))
    }

    /// The field path of a child key.
    pub fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// The map's own path.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// Entries in document order.
    pub fn entries(&self) -> &'a [(Node, Node)] {
        self.entries
    }
}

/// `max_clean_up_time_sec` → `maxCleanUpTimeSec`.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_documents;
    use std::path::Path;

    #[test]
    fn camel_case_conversion() {
        assert_eq!(camel_case("max_clean_up_time_sec"), "maxCleanUpTimeSec");
        assert_eq!(camel_case("name"), "name");
    }

    #[test]
    fn either_spelling_is_found_and_both_are_rejected() {
        let doc = parse_documents("workingDir: a\nworking_dir: b\nmax_active_steps: 2\n")
            .unwrap()
            .remove(0)
            .unwrap();
        let obj = Obj::new(&doc, "").unwrap();
        let mut errors = Errors::new(Path::new("x.yaml"));
        let wd = obj.get(&mut errors, "working_dir").unwrap();
        assert_eq!(wd.node.as_str(), Some("a"));
        assert_eq!(errors.len(), 1);
        let steps = obj.get(&mut errors, "max_active_steps").unwrap();
        assert_eq!(steps.path, "max_active_steps");
        assert_eq!(errors.len(), 1);
    }
}
