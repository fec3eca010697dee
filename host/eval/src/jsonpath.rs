//! JSON paths (`${VAR.a.b[2].c}`) and the rendering of their results.
//!
//! Dagu evaluates the path with a jq engine and substitutes the first result. This module
//! implements the path subset of jq: `.key`, `."key"`, `.["key"]`, `[n]` (negative counts from
//! the end, fractions are floored), `[a:b]` slices, `[]` iteration (first result wins), `?`,
//! pipes between paths (`.a | .b`) and a trailing `# comment`; jq functions are not supported. Missing keys, out-of-range indexes and anything applied to `null`
//! give `null`; type errors (`.x` on a number) and unsupported syntax give no result, which
//! makes the caller leave the reference untouched.

use std::borrow::Cow;

use serde_json::Value;

static NULL: Value = Value::Null;

/// Look up `.a.b[2].c` (jq-style path, leading dot) in a JSON value.
///
/// `None` when the path is not valid, fails on a type error, or yields a computed value
/// (a slice, a character of a string) that does not exist inside `value`; use [`query`] for
/// those. A missing key gives `Some(&Value::Null)`.
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    match query(value, path)? {
        Cow::Borrowed(found) => Some(found),
        Cow::Owned(_) => None,
    }
}

/// Evaluate a jq-style path and return its first result, borrowed where possible.
///
/// `None` when the path is not valid, fails on a type error, or yields no result.
pub fn query<'v>(value: &'v Value, path: &str) -> Option<Cow<'v, Value>> {
    let steps = parse(path)?;
    match eval(Cow::Borrowed(value), &steps) {
        Outcome::Found(v) => Some(v),
        Outcome::Empty | Outcome::Error => None,
    }
}

/// Render a looked-up value for substitution the way Dagu (Go `%v`) prints it: strings raw,
/// `null` as `<nil>`, numbers as Go floats (`1.5`, `1.234567e+06`), arrays as `[a b]`,
/// objects as `map[k:v]` with sorted keys.
pub fn render(value: &Value) -> String {
    let mut out = String::new();
    render_into(value, &mut out);
    out
}

fn render_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                render_into(&map[key], out);
            }
            out.push(']');
        }
    }
}

/// Go's shortest `%v` formatting of a float64: exponent form when the decimal exponent is
/// below -4 or at least 6 (`1e+06`, `1.5e-05`), plain decimal otherwise.
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.234567e6".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.`: the value itself.
    Identity,
    /// `.key`, `."key"`, `["key"]`.
    Key(String),
    /// `[n]` (already floored; negative counts from the end).
    Index(i64),
    /// `[a:b]`; a missing bound is open.
    Slice(Option<i64>, Option<i64>),
    /// `[]`.
    Iterate,
}

/// Parse a path that starts with `.`, possibly piped into further paths (`.a | .b` is `.a.b`);
/// `None` for anything outside the supported subset.
fn parse(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    for part in pipe_parts(path) {
        steps.extend(parse_one(part.trim_start())?);
    }
    Some(steps)
}

/// Split at top-level `|` (outside strings and brackets), dropping a `#` comment.
fn pipe_parts(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut depth, mut in_string, mut escaped) = (0, 0usize, false, false);
    for (i, c) in path.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '#' => {
                parts.push(&path[start..i]);
                return parts;
            }
            '|' if depth == 0 => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    parts
}

/// Parse one path that starts with `.`.
fn parse_one(path: &str) -> Option<Vec<Step>> {
    let mut p = Parser {
        rest: path.strip_prefix('.')?,
    };
    let mut steps = Vec::new();
    if let Some(first) = p.after_dot()? {
        steps.push(first);
        loop {
            p.optional_marks();
            if let Some(rest) = p.rest.strip_prefix('.') {
                p.rest = rest;
                steps.push(p.after_dot()??);
            } else if p.rest.starts_with('[') {
                steps.push(p.bracket()?);
            } else {
                break;
            }
        }
    } else {
        // A lone `.` is the value itself.
        steps.push(Step::Identity);
    }
    p.skip_ws();
    p.rest.is_empty().then_some(steps)
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    /// What follows a `.`: a name, a string or a bracket; `Some(None)` when none starts here,
    /// `None` when one starts but is malformed.
    fn after_dot(&mut self) -> Option<Option<Step>> {
        if let Some(name) = self.ident() {
            Some(Some(Step::Key(name)))
        } else if self.rest.starts_with('"') {
            self.string().map(|key| Some(Step::Key(key)))
        } else if self.rest.starts_with('[') {
            self.bracket().map(Some)
        } else {
            Some(None)
        }
    }

    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t', '\n', '\r']);
    }

    /// `?` after a step only suppresses errors, which give no result either way.
    fn optional_marks(&mut self) {
        self.rest = self.rest.trim_start_matches('?');
    }

    fn ident(&mut self) -> Option<String> {
        let first = self.rest.chars().next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest.len());
        let (name, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(name.to_string())
    }

    /// A JSON string literal (`"a\"b"`), decoded.
    fn string(&mut self) -> Option<String> {
        let bytes = self.rest.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    let literal = &self.rest[..=i];
                    self.rest = &self.rest[i + 1..];
                    return serde_json::from_str(literal).ok();
                }
                _ => i += 1,
            }
        }
        None
    }

    fn number(&mut self) -> Option<i64> {
        let end = self
            .rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
            .map_or(self.rest.len(), |(i, _)| i);
        let n: f64 = self.rest[..end].parse().ok()?;
        self.rest = &self.rest[end..];
        Some(n.floor() as i64)
    }

    /// `[...]` holding nothing, a number, a string or a slice.
    fn bracket(&mut self) -> Option<Step> {
        self.rest = self.rest.strip_prefix('[')?;
        self.skip_ws();
        let step = if self.rest.starts_with(']') {
            Step::Iterate
        } else if self.rest.starts_with('"') {
            Step::Key(self.string()?)
        } else {
            let from = if self.rest.starts_with(':') {
                None
            } else {
                Some(self.number()?)
            };
            self.skip_ws();
            if let Some(rest) = self.rest.strip_prefix(':') {
                self.rest = rest;
                self.skip_ws();
                let to = if self.rest.starts_with(']') {
                    None
                } else {
                    Some(self.number()?)
                };
                if from.is_none() && to.is_none() {
                    return None;
                }
                Step::Slice(from, to)
            } else {
                Step::Index(from?)
            }
        };
        self.skip_ws();
        self.rest = self.rest.strip_prefix(']')?;
        Some(step)
    }
}

/// Result of evaluating the remaining steps: jq yields a stream, we keep its first item.
enum Outcome<'v> {
    Found(Cow<'v, Value>),
    Empty,
    Error,
}

fn eval<'v>(value: Cow<'v, Value>, steps: &[Step]) -> Outcome<'v> {
    let Some((step, rest)) = steps.split_first() else {
        return Outcome::Found(value);
    };
    if *step == Step::Iterate {
        let items: Vec<Cow<'v, Value>> = match value {
            Cow::Borrowed(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
            Cow::Borrowed(Value::Object(map)) => sorted_values(map).map(Cow::Borrowed).collect(),
            Cow::Owned(Value::Array(items)) => items.into_iter().map(Cow::Owned).collect(),
            Cow::Owned(Value::Object(map)) => {
                sorted_values(&map).map(|v| Cow::Owned(v.clone())).collect()
            }
            _ => return Outcome::Error,
        };
        for item in items {
            match eval(item, rest) {
                Outcome::Empty => continue,
                other => return other,
            }
        }
        return Outcome::Empty;
    }
    match apply(value, step) {
        Some(next) => eval(next, rest),
        None => Outcome::Error,
    }
}

/// Object values in key order (jq iterates objects by sorted key).
fn sorted_values(map: &serde_json::Map<String, Value>) -> impl Iterator<Item = &Value> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter().map(move |k| &map[k])
}

/// Apply one non-iterating step; `None` on a type error.
fn apply<'v>(value: Cow<'v, Value>, step: &Step) -> Option<Cow<'v, Value>> {
    match (step, value) {
        (Step::Identity, v) => Some(v),
        (_, Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null)) => Some(Cow::Borrowed(&NULL)),
        (Step::Key(key), Cow::Borrowed(Value::Object(map))) => {
            Some(Cow::Borrowed(map.get(key).unwrap_or(&NULL)))
        }
        (Step::Key(key), Cow::Owned(Value::Object(mut map))) => {
            Some(Cow::Owned(map.remove(key).unwrap_or(Value::Null)))
        }
        (Step::Index(i), Cow::Borrowed(Value::Array(items))) => Some(Cow::Borrowed(
            resolve_index(*i, items.len()).map_or(&NULL, |i| &items[i]),
        )),
        (Step::Index(i), Cow::Owned(Value::Array(mut items))) => Some(Cow::Owned(
            resolve_index(*i, items.len()).map_or(Value::Null, |i| items.swap_remove(i)),
        )),
        (Step::Index(i), v) => match v.as_ref() {
            Value::String(s) => {
                let chars: Vec<char> = s.chars().collect();
                Some(Cow::Owned(
                    resolve_index(*i, chars.len())
                        .map_or(Value::Null, |i| Value::String(chars[i].to_string())),
                ))
            }
            _ => None,
        },
        (Step::Slice(from, to), v) => match v.as_ref() {
            Value::Array(items) => {
                let (a, b) = slice_bounds(*from, *to, items.len());
                Some(Cow::Owned(Value::Array(items[a..b].to_vec())))
            }
            Value::String(s) => {
                let chars: Vec<char> = s.chars().collect();
                let (a, b) = slice_bounds(*from, *to, chars.len());
                Some(Cow::Owned(Value::String(chars[a..b].iter().collect())))
            }
            _ => None,
        },
        _ => None,
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { i + len } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

fn slice_bounds(from: Option<i64>, to: Option<i64>, len: usize) -> (usize, usize) {
    let clamp = |i: i64| {
        let len = len as i64;
        (if i < 0 { i + len } else { i }).clamp(0, len) as usize
    };
    let a = from.map_or(0, clamp);
    let b = to.map_or(len, clamp);
    (a, b.max(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "server": {"host": "db.local", "ports": [5432, 6543]},
            "a": {"b": [1, 2, {"c": "x y"}]},
            "s": "hello",
            "n": null,
            "t": true,
            "o": {"z": 1, "a": "s"},
            "arr": [],
            "key with space": 5
        })
    }

    fn q(path: &str) -> Option<String> {
        query(&doc(), path).map(|v| render(&v))
    }

    #[test]
    fn keys_and_indexes() {
        assert_eq!(q(".server.host").as_deref(), Some("db.local"));
        assert_eq!(q(".server.ports[1]").as_deref(), Some("6543"));
        assert_eq!(q(".a.b[2].c").as_deref(), Some("x y"));
        assert_eq!(q(".a.b.[1]").as_deref(), Some("2"));
        assert_eq!(q(".a.b[-1].c").as_deref(), Some("x y"));
        assert_eq!(q(".a.b[1.5]").as_deref(), Some("2"));
        assert_eq!(q(r#"."key with space""#).as_deref(), Some("5"));
        assert_eq!(q(r#".a["b"][0]"#).as_deref(), Some("1"));
        assert_eq!(q(r#".["s"]"#).as_deref(), Some("hello"));
    }

    #[test]
    fn missing_and_null_give_nil() {
        assert_eq!(q(".nope").as_deref(), Some("<nil>"));
        assert_eq!(q(".a.b[9]").as_deref(), Some("<nil>"));
        assert_eq!(q(".a.b[-9]").as_deref(), Some("<nil>"));
        assert_eq!(q(".n.x[0]").as_deref(), Some("<nil>"));
        assert_eq!(q(".s[9]").as_deref(), Some("<nil>"));
    }

    #[test]
    fn type_errors_and_bad_syntax_give_none() {
        for path in [
            ".t.x",
            ".a.b[1].x",
            ".[0]",
            ".a.b[\"x\"]",
            "..a",
            ". a",
            ".b-q",
            ".b|x",
            ".s|length",
            ".a|",
            ".a .b",
            "a",
            ".arr[]",
            ".a[",
            ".s[0:x]",
            ".a.b[:]",
        ] {
            assert_eq!(q(path), None, "{path}");
        }
    }

    #[test]
    fn strings_slices_iteration_comments() {
        assert_eq!(q(".s[0]").as_deref(), Some("h"));
        assert_eq!(q(".s[1:3]").as_deref(), Some("el"));
        assert_eq!(q(".a.b[0:2]").as_deref(), Some("[1 2]"));
        assert_eq!(q(".a.b[1:]").as_deref(), Some("[2 map[c:x y]]"));
        assert_eq!(q(".a.b[-1:]").as_deref(), Some("[map[c:x y]]"));
        assert_eq!(q(".a.b[]").as_deref(), Some("1"));
        assert_eq!(q(".o[]").as_deref(), Some("s"));
        assert_eq!(q(".a.b[].c").as_deref(), None);
        assert_eq!(q(".server.ports#comment").as_deref(), Some("[5432 6543]"));
        assert_eq!(q(".t? ").as_deref(), Some("true"));
        assert_eq!(q(".o | .z").as_deref(), Some("1"));
        assert_eq!(q(r#".a|.b[2] | ."c" # x | y"#).as_deref(), Some("x y"));
        assert_eq!(q(r#".["|"]"#).as_deref(), Some("<nil>"));
        assert_eq!(q(".a | . | .b[0]").as_deref(), Some("1"));
        assert_eq!(q(".").as_deref(), Some(render(&doc()).as_str()));
    }

    #[test]
    fn lookup_borrows_or_declines() {
        let d = doc();
        assert_eq!(lookup(&d, ".server.host"), Some(&json!("db.local")));
        assert_eq!(lookup(&d, ".missing"), Some(&Value::Null));
        assert_eq!(lookup(&d, ".s[0]"), None);
        assert_eq!(lookup(&d, ".t.x"), None);
    }

    #[test]
    fn render_like_go() {
        assert_eq!(
            render(&json!({"k": 1, "b": [true, null, "s"]})),
            "map[b:[true <nil> s] k:1]"
        );
        assert_eq!(render(&json!({})), "map[]");
        assert_eq!(render(&json!([])), "[]");
        assert_eq!(render(&json!("raw \"s\"")), "raw \"s\"");
    }

    #[test]
    fn floats_like_go() {
        let cases = [
            (0.0, "0"),
            (3.0, "3"),
            (1.5, "1.5"),
            (-0.5, "-0.5"),
            (5432.0, "5432"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e-7, "1e-07"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (-2.5e-10, "-2.5e-10"),
            (100.25, "100.25"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want, "{f}");
        }
        assert_eq!(
            render(&json!(12345678901234567890u64)),
            "1.2345678901234567e+19"
        );
    }
}
