//! YAML documents as trees of [`Node`]s that remember where they came from.
//!
//! The loader needs the line and column of every value so that each error can point at
//! the exact place in the file; general YAML crates drop that information once a value
//! is decoded, so we build our own small tree from the parser's event stream.
//! Scalars are resolved with the YAML 1.2 core schema (no `yes`/`no` booleans).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A 1-based line and column in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        Pos {
            line: m.line() as u32,
            col: m.col() as u32 + 1,
        }
    }
}

/// A YAML value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string; `raw` scalars that resolved to numbers or booleans keep their text in
    /// [`Node::text`], so `PORT: 08080` can still be read as the string the user wrote.
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order.
    Map(Vec<(Node, Node)>),
}

/// A parse failure with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl Node {
    /// The scalar as text (numbers and booleans in their canonical form); `None` for
    /// null, sequences and maps.
    pub fn text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The string if this node is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries if this node is a map.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items if this node is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// True for the null scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the node's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// The node at a JSON pointer (`/steps/2/command`), or the deepest existing parent.
    pub fn at_pointer(&self, pointer: &str) -> &Node {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let token = raw.replace("~1", "/").replace("~0", "~");
            let next = match &node.value {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.text().as_deref() == Some(token.as_str()))
                    .map(|(_, v)| v),
                Value::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// Converts the tree to JSON (map keys as text) for schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A tree built from JSON, every node at `pos` (for values that have no place in the
    /// source, such as schema defaults).
    pub fn from_json(value: &serde_json::Value, pos: Pos) -> Node {
        use serde_json::Value as J;
        let value = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(|i| Node::from_json(i, pos)).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        let key = Node {
                            pos,
                            value: Value::Str(k.clone()),
                        };
                        (key, Node::from_json(v, pos))
                    })
                    .collect(),
            ),
        };
        Node { pos, value }
    }

    /// Moves this node and everything under it to `pos`.
    pub fn relocate(&mut self, pos: Pos) {
        self.pos = pos;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|i| i.relocate(pos)),
            Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.relocate(pos);
                v.relocate(pos);
            }),
            _ => {}
        }
    }
}

/// Parses every document of a YAML stream. Empty documents come back as `None`.
pub fn parse_documents(source: &str) -> Result<Vec<Option<Node>>, SyntaxError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(source);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        pos: Pos::from_marker(e.marker()),
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.documents)
}

/// Builds node trees from parser events; handles anchors, aliases and `<<` merge keys.
#[derive(Default)]
struct TreeBuilder {
    documents: Vec<Option<Node>>,
    /// Open collections, innermost last.
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    error: Option<SyntaxError>,
    /// Whether the current document produced a root node.
    document_has_root: bool,
}

/// A collection being filled.
struct Frame {
    pos: Pos,
    anchor: usize,
    content: FrameContent,
}

enum FrameContent {
    Seq(Vec<Node>),
    /// Entries so far and a key still waiting for its value.
    Map(Vec<(Node, Node)>, Option<Node>),
}

impl TreeBuilder {
    fn push_value(&mut self, node: Node) {
        let Some(frame) = self.stack.last_mut() else {
            // A document holding only null (or nothing) counts as empty.
            self.documents.push(Some(node).filter(|n| !n.is_null()));
            self.document_has_root = true;
            return;
        };
        match &mut frame.content {
            FrameContent::Seq(items) => items.push(node),
            FrameContent::Map(entries, pending) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
        }
    }

    fn close_collection(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let value = match frame.content {
            FrameContent::Seq(items) => Value::Seq(items),
            FrameContent::Map(mut entries, _) => {
                if let Err(err) = apply_merge_keys(&mut entries) {
                    self.error.get_or_insert(err);
                }
                Value::Map(entries)
            }
        };
        let node = Node {
            pos: frame.pos,
            value,
        };
        if frame.anchor > 0 {
            self.anchors.insert(frame.anchor, node.clone());
        }
        self.push_value(node);
    }
}

/// Expands `<<: *anchor` (or a list of anchors) into the map; explicit keys win.
fn apply_merge_keys(entries: &mut Vec<(Node, Node)>) -> Result<(), SyntaxError> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return Ok(());
    }
    let mut explicit = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (key, value) in entries.drain(..) {
        if key.as_str() != Some("<<") {
            explicit.push((key, value));
            continue;
        }
        let sources = match value.value {
            Value::Map(_) => vec![value],
            Value::Seq(items) => items,
            _ => {
                return Err(SyntaxError {
                    pos: value.pos,
                    message: "merge key '<<' needs a map or a list of maps".into(),
                });
            }
        };
        for source in sources {
            let Value::Map(source_entries) = source.value else {
                return Err(SyntaxError {
                    pos: source.pos,
                    message: "merge key '<<' needs a map or a list of maps".into(),
                });
            };
            for (k, v) in source_entries {
                if !merged.iter().any(|(m, _)| m.text() == k.text()) {
                    merged.push((k, v));
                }
            }
        }
    }
    merged.retain(|(k, _)| !explicit.iter().any(|(e, _)| e.text() == k.text()));
    entries.extend(merged);
    entries.extend(explicit);
    Ok(())
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from_marker(&mark);
        match ev {
            Event::DocumentStart => self.document_has_root = false,
            Event::DocumentEnd => {
                if !self.document_has_root {
                    self.documents.push(None);
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let value = if style == TScalarStyle::Plain {
                    resolve_plain(text)
                } else {
                    Value::Str(text)
                };
                let node = Node { pos, value };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame {
                    pos,
                    anchor,
                    content: FrameContent::Seq(Vec::new()),
                });
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame {
                    pos,
                    anchor,
                    content: FrameContent::Map(Vec::new(), None),
                });
            }
            Event::SequenceEnd | Event::MappingEnd => self.close_collection(),
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push_value(node),
                None => {
                    self.error.get_or_insert(SyntaxError {
                        pos,
                        message: "unknown alias".into(),
                    });
                }
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

/// YAML 1.2 core-schema resolution of a plain scalar.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(v) = parse_int(&text) {
        return Value::Int(v);
    }
    if looks_like_float(&text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text)
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = body.splitn(2, ['e', 'E']);
    let mantissa = parts.next().unwrap_or("");
    let exponent_ok = parts.next().is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    let mut halves = mantissa.splitn(2, '.');
    let int = halves.next().unwrap_or("");
    let frac = halves.next();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    exponent_ok
        && digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()))
        && (frac.is_some() || text.contains(['e', 'E']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Node {
        parse_documents(src).unwrap().remove(0).unwrap()
    }

    #[test]
    fn positions_point_at_values() {
        let doc = one("name: x\nsteps:\n  - command: echo hi\n");
        let cmd = doc.at_pointer("/steps/0/command");
        assert_eq!(cmd.as_str(), Some("echo hi"));
        assert_eq!(cmd.pos, Pos { line: 3, col: 14 });
    }

    #[test]
    fn scalars_resolve_with_core_schema() {
        let doc = one("a: yes\nb: true\nc: 012\nd: 1.5\ne: ~\nf: '1'\ng: 1e3\n");
        let j = doc.to_json();
        assert_eq!(j["a"], "yes");
        assert_eq!(j["b"], true);
        assert_eq!(j["c"], 12);
        assert_eq!(j["d"], 1.5);
        assert!(j["e"].is_null());
        assert_eq!(j["f"], "1");
        assert_eq!(j["g"], 1000.0);
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse_documents("a: 1\n---\n---\nb: 2\n").unwrap();
        let present: Vec<_> = docs.iter().flatten().collect();
        assert_eq!(present.len(), 2);
    }

    #[test]
    fn merge_keys_and_aliases() {
        let doc = one("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n");
        let j = doc.to_json();
        assert_eq!(j["c"]["x"], 1);
        assert_eq!(j["c"]["y"], 3);
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse_documents("a: b: c\n").unwrap_err();
        assert_eq!(err.pos.line, 1);
        assert!(!err.message.is_empty());
    }

    #[test]
    fn json_round_trips_through_nodes() {
        let json = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}});
        let pos = Pos { line: 4, col: 2 };
        let mut node = Node::from_json(&json, pos);
        assert_eq!(node.to_json(), json);
        assert_eq!(node.at_pointer("/b/c").pos, pos);
        let moved = Pos { line: 9, col: 1 };
        node.relocate(moved);
        assert_eq!(node.at_pointer("/a/2").pos, moved);
    }
}
