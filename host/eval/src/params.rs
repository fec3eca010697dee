//! §5.3 parameters: tokenising, CLI overrides, evaluation.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::backtick::drop_empty_pairs;
use crate::expand::{Context, Stages, expand};
use crate::{EvalError, Vars, jsonpath};

/// One parameter: `NAME=value` (named) or a bare positional `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The name; `None` for a positional parameter.
    pub name: Option<String>,
    /// The value as written (quotes removed, backticks not yet run).
    pub value: String,
}

/// Tokenise a params string (`a b "c d" K=V K2="x y" K3=`cmd``); values keep backticks unevaluated; `\"` escapes;
/// a whole string that is a JSON object gives named params (non-string JSON values as JSON text).
///
/// Tokens follow Dagu's tokeniser exactly: a token is an optional `NAME=` (NAME = anything but
/// whitespace and `=`) and then a `"double-quoted"` value (only `\"` is an escape), a backtick
/// value running to the last backtick before the next `"`, or a bare run of characters other
/// than whitespace and `"`. Single quotes are ordinary characters. In double-quoted and backtick
/// values an empty backtick pair is dropped (Dagu runs it as an empty command). Text that fits no token is
/// skipped. A JSON array gives positional params. Non-string JSON values are rendered the way
/// Dagu prints them ([`jsonpath::render`]: `1.5`, `map[a:1]`, `[1 x]`).
pub fn parse(text: &str) -> Result<Vec<Param>, EvalError> {
    if let Some(params) = parse_json(text) {
        return Ok(params);
    }
    let mut params = Vec::new();
    let mut pos = 0;
    while let Some(c) = text[pos..].chars().next() {
        match token_at(&text[pos..]) {
            Some((len, param)) => {
                params.push(param);
                pos += len;
            }
            None => pos += c.len_utf8(),
        }
    }
    Ok(params)
}

fn parse_json(text: &str) -> Option<Vec<Param>> {
    let text = text.trim();
    if !text.starts_with(['{', '[']) {
        return None;
    }
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => jsonpath::render(other),
    };
    match serde_json::from_str(text).ok()? {
        Value::Object(map) => Some(
            map.iter()
                .map(|(k, v)| Param {
                    name: Some(k.clone()),
                    value: as_text(v),
                })
                .collect(),
        ),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|v| Param {
                    name: None,
                    value: as_text(v),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Whitespace as Go's `\s`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// A token at the start of `s`: its length and the param.
fn token_at(s: &str) -> Option<(usize, Param)> {
    let name_len = s.find(|c| is_space(c) || c == '=').unwrap_or(s.len());
    if name_len > 0
        && s[name_len..].starts_with('=')
        && let Some((len, value)) = value_at(&s[name_len + 1..])
    {
        let name = Some(s[..name_len].to_string());
        return Some((name_len + 1 + len, Param { name, value }));
    }
    value_at(s).map(|(len, value)| (len, Param { name: None, value }))
}

/// A value at the start of `s`: its length and its text.
fn value_at(s: &str) -> Option<(usize, String)> {
    let unescape = |inner: &str| drop_empty_pairs(&inner.replace("\\\"", "\""));
    if let Some(inner) = s.strip_prefix('"') {
        let bytes = inner.as_bytes();
        // Where `\"` could also have been the closing quote (the regex backtracks to the last one).
        let mut last_escaped_quote = None;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if bytes.get(i + 1) == Some(&b'"') => {
                    last_escaped_quote = Some(i + 1);
                    i += 2;
                }
                b'"' => return Some((i + 2, unescape(&inner[..i]))),
                _ => i += 1,
            }
        }
        let close = last_escaped_quote?;
        return Some((close + 2, unescape(&inner[..close])));
    }
    if let Some(inner) = s.strip_prefix('`') {
        let span = &inner[..inner.find('"').unwrap_or(inner.len())];
        if let Some(close) = span.rfind('`') {
            return Some((close + 2, drop_empty_pairs(&s[..close + 2])));
        }
    }
    let len = s.find(|c| c == '"' || is_space(c)).unwrap_or(s.len());
    (len > 0).then(|| (len, s[..len].to_string()))
}

/// Apply CLI overrides (§5.3): named replaces that name or is appended; unnamed replaces position i (counting all tokens) or is appended.
///
/// The result is meant for [`evaluate`]: it is `defaults` followed by the overrides, each
/// override carrying a name (an unnamed one at index `i` is named `i+1`, the positional name it
/// replaces). Evaluating in order then gives exactly Dagu's behaviour: overridden names keep
/// their position but take the override's value, new names are appended, and defaults computed
/// from other params are **not** recomputed (`GREETING=hello-${NAME}` keeps `hello-world` when
/// only `NAME` is overridden).
pub fn apply_overrides(defaults: Vec<Param>, overrides: Vec<Param>) -> Vec<Param> {
    let mut merged = defaults;
    merged.extend(overrides.into_iter().enumerate().map(|(i, p)| Param {
        name: Some(p.name.unwrap_or_else(|| (i + 1).to_string())),
        value: p.value,
    }));
    merged
}

/// Evaluate in order: each value expanded with Stages::ALL seeing `base` plus earlier params (named ones, and positional
/// ones as "1","2"… by token position). Returns the resulting variables in order (positional names included).
///
/// Earlier params are Dagu-known (stages 1-3); `base` (DAG env, host env) is only the
/// environment (JSON paths, stage 5); backticks run with `command_env`. So `\$E` of a DAG env `E` stays as written.
/// While params are evaluated (only then), `$1`, `$2`… also name an earlier *named* param by
/// its position, written `NAME=value` (`A: "[$1]"` after `N: val` gives `[N=val]`, and
/// `$$1` gives `val=val`); `$#`, `$@` stay empty. A name set twice keeps its first position
/// and takes the later value.
pub fn evaluate(
    params: &[Param],
    base: &Vars,
    command_env: &Vars,
    work_dir: Option<&Path>,
) -> Result<Vars, EvalError> {
    let step_refs = HashMap::new();
    let mut result = Vars::new();
    let mut known = Vars::new();
    for (i, param) in params.iter().enumerate() {
        let ctx = Context {
            known: &known,
            step_refs: &step_refs,
            env: base,
            command_env,
            work_dir,
        };
        let value = expand(&param.value, &ctx, Stages::ALL)?;
        let position = (i + 1).to_string();
        let name = match &param.name {
            Some(name) if !is_positional(name) => {
                known.set(position, format!("{name}={value}"));
                name.clone()
            }
            Some(name) => name.clone(),
            None => position,
        };
        known.set(name.clone(), value.clone());
        result.set(name, value);
    }
    Ok(result)
}

/// Whether `name` is a positional name (`1`, `2`…), as [`apply_overrides`] gives positional overrides.
fn is_positional(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str, value: &str) -> Param {
        Param {
            name: Some(name.into()),
            value: value.into(),
        }
    }

    fn pos(value: &str) -> Param {
        Param {
            name: None,
            value: value.into(),
        }
    }

    fn p(text: &str) -> Vec<Param> {
        parse(text).unwrap()
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from(pairs)
    }

    fn base() -> Vars {
        vars(&[
            ("PATH", &std::env::var("PATH").unwrap_or_default()),
            ("E", "eval"),
        ])
    }

    #[test]
    fn parse_simple_tokens() {
        assert_eq!(p("alpha beta"), [pos("alpha"), pos("beta")]);
        assert_eq!(
            p(r#"a b "c d" K=V K2="x y" K3=`cmd`"#),
            [
                pos("a"),
                pos("b"),
                pos("c d"),
                named("K", "V"),
                named("K2", "x y"),
                named("K3", "`cmd`")
            ]
        );
        assert_eq!(p("  "), []);
    }

    #[test]
    fn parse_quirks_match_reference() {
        assert_eq!(
            p(r#"K= x a"b c" "a\nb" L="" M=a=b =v N="p"q"#),
            [
                pos("K="),
                pos("x"),
                pos("a"),
                pos("b c"),
                pos(r"a\nb"),
                named("L", ""),
                named("M", "a=b"),
                pos("=v"),
                named("N", "p"),
                pos("q"),
            ]
        );
        assert_eq!(
            p(r#"B="say \"hi\" there" R='t u'"#),
            [named("B", r#"say "hi" there"#), named("R", "'t"), pos("u'")]
        );
        assert_eq!(p(r#""x\" y"#), [pos("x\\"), pos("y")]);
        assert_eq!(p(r#"K="open"#), [pos("K="), pos("open")]);
    }

    #[test]
    fn parse_backtick_runs_to_last_backtick_before_a_quote() {
        assert_eq!(
            p("C=`echo a`x`echo b` D=x`echo c` `echo e`\"f\""),
            [
                named("C", "`echo a`x`echo b` D=x`echo c` `echo e`"),
                pos("f")
            ]
        );
        assert_eq!(p(r#"A=`echo \"hi\"` B=2"#)[0], named("A", "`echo"));
        assert_eq!(p("`echo x` b"), [pos("`echo x`"), pos("b")]);
        assert_eq!(
            p(r#"A="x``y" B=y`` C=`echo t` D=`` ``echo t`"#),
            [
                named("A", "xy"),
                named("B", "y``"),
                named("C", "`echo t` D= echo t`"),
            ]
        );
    }

    #[test]
    fn parse_json_object_and_array() {
        assert_eq!(
            p(r#" {"Z":"jz","NEW":1,"O":{"a":1},"B":true,"N":null,"L":[1,"x"],"BIG":1234567} "#),
            [
                named("Z", "jz"),
                named("NEW", "1"),
                named("O", "map[a:1]"),
                named("B", "true"),
                named("N", "<nil>"),
                named("L", "[1 x]"),
                named("BIG", "1.234567e+06"),
            ]
        );
        assert_eq!(p(r#"["a","b"]"#), [pos("a"), pos("b")]);
        assert_eq!(p("{not json} x"), [pos("{not"), pos("json}"), pos("x")]);
    }

    #[test]
    fn overrides_merge_by_name_and_position() {
        let defaults = p("A=1 b C=3");
        let eval = |cli: &str| {
            let merged = apply_overrides(defaults.clone(), p(cli));
            evaluate(&merged, &base(), &base(), None).unwrap()
        };
        assert_eq!(
            eval("x"),
            vars(&[("A", "1"), ("2", "b"), ("C", "3"), ("1", "x")])
        );
        assert_eq!(eval("A=2 y"), vars(&[("A", "2"), ("2", "y"), ("C", "3")]));
        assert_eq!(
            eval("C=9 A=8 z"),
            vars(&[("A", "8"), ("2", "b"), ("C", "9"), ("3", "z")])
        );
        assert_eq!(
            eval("p q r s"),
            vars(&[
                ("A", "1"),
                ("2", "q"),
                ("C", "3"),
                ("1", "p"),
                ("3", "r"),
                ("4", "s")
            ])
        );
        assert_eq!(
            eval("NEW=n"),
            vars(&[("A", "1"), ("2", "b"), ("C", "3"), ("NEW", "n")])
        );
    }

    #[test]
    fn apply_overrides_names_positional_overrides() {
        let merged = apply_overrides(vec![pos("a")], vec![named("K", "v"), pos("b")]);
        assert_eq!(merged, [pos("a"), named("K", "v"), named("2", "b")]);
    }

    #[test]
    fn derived_defaults_are_not_recomputed() {
        let defaults = vec![named("NAME", "world"), named("GREETING", "hello-${NAME}")];
        let merged = apply_overrides(defaults, p("NAME=cli"));
        let got = evaluate(&merged, &base(), &base(), None).unwrap();
        assert_eq!(got, vars(&[("NAME", "cli"), ("GREETING", "hello-world")]));
    }

    #[test]
    fn evaluate_positional_and_named_in_order() {
        let got = evaluate(
            &p("`echo x` b$1 '$1' P=$1 Q=\"r s\" ${HOME:0:2}"),
            &base(),
            &base(),
            None,
        );
        assert_eq!(
            got.unwrap(),
            vars(&[
                ("1", "x"),
                ("2", "bx"),
                ("3", "'x'"),
                ("P", "x"),
                ("Q", "r s"),
                ("6", "")
            ])
        );
    }

    #[test]
    fn evaluate_sees_base_only_as_environment() {
        let params = vec![
            named("A", "a\"q"),
            named("P", r"\$E"),
            named("P2", "'$E'"),
            named("P3", r"\$A"),
            named("P5", "\"${A}\""),
            named("BATCH", "QX7Z2_batch_0419"),
            named("PREFIX", "${BATCH:0:5}"),
            named("LOGDIR", "${CONF_UNSET_VAR:-logs-default}"),
            named("STAMP", "`echo generated`"),
        ];
        let got = evaluate(&params, &base(), &base(), None).unwrap();
        assert_eq!(got.get("P"), Some(r"\$E"));
        assert_eq!(got.get("P2"), Some("'eval'"));
        assert_eq!(got.get("P3"), Some("\\a\"q"));
        assert_eq!(got.get("P5"), Some(r#""a\"q""#));
        assert_eq!(got.get("PREFIX"), Some("QX7Z2"));
        assert_eq!(got.get("LOGDIR"), Some("logs-default"));
        assert_eq!(got.get("STAMP"), Some("generated"));
    }

    #[test]
    fn evaluate_positions_of_named_params() {
        let params = vec![
            named("N", "val"),
            named("M", "two"),
            named("A1", "[$$1]"),
            named("A2", "[$$7]"),
            named("A3", "[$$N]"),
            named("A4", "[$2|'$1']"),
            named("A5", "[$$1 ${'x}]"),
        ];
        let got = evaluate(&params, &base(), &base(), None).unwrap();
        assert_eq!(
            got,
            vars(&[
                ("N", "val"),
                ("M", "two"),
                ("A1", "[val=val]"),
                ("A2", "[7]"),
                ("A3", "[]"),
                ("A4", "[M=two|'N=val']"),
                ("A5", "[=val ]"),
            ])
        );
    }

    #[test]
    fn evaluate_backtick_failure_is_an_error() {
        assert!(evaluate(&[named("X", "`exit 2`")], &base(), &base(), None).is_err());
    }
}
