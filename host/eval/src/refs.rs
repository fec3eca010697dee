//! Stages 1-3 of §5.6: quoted references, JSON paths / step references, plain references.
//!
//! Each stage is one left-to-right pass; a replacement is not rescanned by its own stage but
//! is seen by the later ones (the reference behaves the same way). Names are ASCII letters,
//! digits and `_`.

use crate::expand::{Context, StepRef};
use crate::jsonpath;
use crate::quote::go_quote;

/// Stage 1: `"${NAME}"` (known variable) and `"${NAME.path}"` (anything stage 2 resolves)
/// become a double-quoted, escaped literal. Such a reference is consumed even when it does
/// not resolve (its closing quote cannot open another one). `None` when nothing changed.
pub(crate) fn quoted(text: &str, ctx: &Context) -> Option<String> {
    rewrite(text, "\"${", |rest| {
        let close = rest[3..].find('}')? + 3;
        let inner = &rest[3..close];
        if rest.as_bytes().get(close + 1) != Some(&b'"') {
            return None;
        }
        let value = if name_len(inner) == inner.len() && !inner.is_empty() {
            ctx.known.get(inner).map(str::to_string)
        } else {
            let (name, path) = split_path(inner)?;
            resolve_path(name, path, ctx)
        };
        Some((close + 2, value.map(|v| go_quote(&v))))
    })
}

/// Stage 2: `${NAME.path}` / `$NAME.path` (path up to the next whitespace): step references
/// first, then a JSON path into a known or environment variable. `None` when nothing changed.
pub(crate) fn json_paths(text: &str, ctx: &Context) -> Option<String> {
    rewrite(text, "$", |rest| {
        if let Some(braced) = rest.strip_prefix("${") {
            let close = braced.find('}')?;
            let (name, path) = split_path(&braced[..close])?;
            Some((close + 3, resolve_path(name, path, ctx)))
        } else {
            let name_len = name_len(&rest[1..]);
            let after = &rest[1 + name_len..];
            if name_len == 0 || !after.starts_with('.') {
                return None;
            }
            let path_len = after
                .find([' ', '\t', '\n', '\r', '\u{c}'])
                .unwrap_or(after.len());
            if path_len < 2 {
                return None;
            }
            let name = &rest[1..1 + name_len];
            let consumed = 1 + name_len + path_len;
            Some((consumed, resolve_path(name, &after[..path_len], ctx)))
        }
    })
}

/// Stage 3: `${NAME}` / `$NAME` of known variables, substituted textually. A reference with a
/// single quote directly before or after it stays literal (the quote belongs to the match,
/// so `'$A'$B` still replaces `$B`). `None` when nothing changed.
pub(crate) fn plain(text: &str, ctx: &Context) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while let Some(found) = text[i..].find('$') {
        let dollar = i + found;
        let Some((name, len)) = plain_ref(&text[dollar..]) else {
            i = dollar + 1;
            continue;
        };
        // A quote already consumed by the previous match (at i - 1) does not count.
        let quoted_before = dollar > i && bytes[dollar - 1] == b'\'';
        let mut end = dollar + len;
        let quoted_after = bytes.get(end) == Some(&b'\'');
        if quoted_after {
            end += 1;
        }
        if !quoted_before
            && !quoted_after
            && let Some(value) = ctx.known.get(name)
        {
            out.push_str(&text[copied..dollar]);
            out.push_str(value);
            copied = end;
        }
        i = end;
    }
    (copied > 0).then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

/// `${anything}` or `$NAME` at the start of `s`: the name and the length of the reference.
fn plain_ref(s: &str) -> Option<(&str, usize)> {
    let rest = s.strip_prefix('$')?;
    if let Some(braced) = rest.strip_prefix('{') {
        let close = braced.find('}')?;
        (close > 0).then(|| (&braced[..close], close + 3))
    } else {
        let len = name_len(rest);
        (len > 0).then(|| (&rest[..len], len + 1))
    }
}

/// Length of the run of name characters (`[A-Za-z0-9_]`) at the start of `s`.
fn name_len(s: &str) -> usize {
    s.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count()
}

/// `NAME.path` split at the first dot, when NAME is a valid name and the path is non-empty.
fn split_path(inner: &str) -> Option<(&str, &str)> {
    let len = name_len(inner);
    let path = &inner[len..];
    (len > 0 && path.starts_with('.') && path.len() > 1).then(|| (&inner[..len], path))
}

/// The value of `NAME.path`: a step reference when NAME is a step id and the path names one of
/// its fields, else the first result of the JSON path in the variable's value.
fn resolve_path(name: &str, path: &str, ctx: &Context) -> Option<String> {
    if let Some(value) = ctx.step_refs.get(name).and_then(|r| step_field(r, path)) {
        return Some(value);
    }
    let raw = ctx.known.get(name).or_else(|| ctx.env.get(name))?;
    let json: serde_json::Value = serde_json::from_str(raw).ok()?;
    jsonpath::query(&json, path).map(|v| jsonpath::render(&v))
}

/// `.stdout`, `.stderr`, `.exitCode` / `.exit_code`, optionally sliced with `:OFFSET[:LENGTH]`.
fn step_field(step: &StepRef, path: &str) -> Option<String> {
    let (field, slice) = match path.split_once(':') {
        Some((field, slice)) => (field, Some(slice)),
        None => (path, None),
    };
    let value = match field {
        ".stdout" => step.stdout.clone(),
        ".stderr" => step.stderr.clone(),
        ".exitCode" | ".exit_code" => step.exit_code.to_string(),
        _ => return None,
    };
    let Some(slice) = slice else {
        return Some(value);
    };
    let (offset, length) = match slice.split_once(':') {
        Some((o, l)) => (o, Some(l)),
        None => (slice, None),
    };
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<usize>().unwrap_or(usize::MAX))
    };
    let offset = number(offset)?;
    let length = match length {
        Some(l) => number(l)?,
        None => usize::MAX,
    };
    Some(value.chars().skip(offset).take(length).collect())
}

/// Scan `text` for `trigger`; at each occurrence `matcher` sees the text from there and returns
/// how many bytes the match covers and its replacement (`None` = keep the matched text), or
/// `None` for no match (scanning resumes one byte later). Returns `None` when nothing changed.
fn rewrite(
    text: &str,
    trigger: &str,
    mut matcher: impl FnMut(&str) -> Option<(usize, Option<String>)>,
) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    let mut changed = false;
    while let Some(found) = text[i..].find(trigger) {
        let at = i + found;
        match matcher(&text[at..]) {
            Some((len, replacement)) => {
                if let Some(replacement) = replacement {
                    out.push_str(&text[copied..at]);
                    out.push_str(&replacement);
                    copied = at + len;
                    changed = true;
                }
                i = at + len;
            }
            None => i = at + 1,
        }
    }
    changed.then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Vars;
    use std::collections::HashMap;

    struct Fixture {
        known: Vars,
        env: Vars,
        steps: HashMap<String, StepRef>,
    }

    impl Fixture {
        fn new() -> Self {
            let mut known = Vars::new();
            known.set("N", "val");
            known.set("M", "line1\nline2");
            known.set("Q", "a\"b");
            known.set(
                "J",
                r#"{"a":{"b":[1,2,{"c":"x y"}]},"s":"q\"z","t":"$N","o":{"k":1}}"#,
            );
            known.set("1", "one");
            known.set("first", r#"{"stdout":"json","other":"o"}"#);
            let mut env = Vars::new();
            env.set("G", r#"{"a":"ja"}"#);
            env.set("HOME", "/root");
            let mut steps = HashMap::new();
            steps.insert(
                "first".to_string(),
                StepRef {
                    stdout: "/logs/first.out".into(),
                    stderr: "/logs/first.err".into(),
                    exit_code: 2,
                },
            );
            Fixture { known, env, steps }
        }

        fn ctx(&self) -> Context<'_> {
            Context {
                known: &self.known,
                step_refs: &self.steps,
                env: &self.env,
                command_env: &self.env,
                work_dir: None,
            }
        }
    }

    fn stage(f: fn(&str, &Context) -> Option<String>, text: &str) -> String {
        let fx = Fixture::new();
        f(text, &fx.ctx()).unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn quoted_refs_become_escaped_literals() {
        assert_eq!(stage(quoted, r#"echo "${M}""#), r#"echo "line1\nline2""#);
        assert_eq!(stage(quoted, r#""${Q}" "${N}x""#), r#""a\"b" "${N}x""#);
        assert_eq!(stage(quoted, r#"'"${N}"'"#), r#"'"val"'"#);
        assert_eq!(stage(quoted, r#""${J.s}" "${G.a}""#), r#""q\"z" "ja""#);
        assert_eq!(stage(quoted, r#""${first.exitCode}""#), r#""2""#);
    }

    #[test]
    fn quoted_refs_leave_unknown_and_env_only_names() {
        for text in [
            r#""${UNKNOWN}""#,
            r#""${G}""#,
            r#""${N.x}""#,
            r#""'${N}'""#,
            r#""${}""#,
            r#""${N"#,
        ] {
            assert_eq!(stage(quoted, text), text);
        }
    }

    #[test]
    fn quoted_match_consumes_its_closing_quote() {
        assert_eq!(stage(quoted, r#""${X}"${N}""#), r#""${X}"${N}""#);
        assert_eq!(stage(quoted, r#""${X.a}"${N}""#), r#""${X.a}"${N}""#);
        assert_eq!(stage(quoted, r#""${N}""${N}""#), r#""val""val""#);
        assert_eq!(stage(quoted, r#""${J.s}"${J.s}""#), r#""q\"z"${J.s}""#);
    }

    #[test]
    fn quoted_needs_a_name_then_an_optional_path() {
        assert_eq!(stage(quoted, r#""${"${Q}""#), r#""${"a\"b""#);
        assert_eq!(
            stage(quoted, r#""${J.["s"]}" "${J.s #c}""#),
            r#""q\"z" "q\"z""#
        );
        for text in [r#""${N }""#, r#""${ N}""#, r#""${N:0:1}""#, r#""${N-x}""#] {
            assert_eq!(stage(quoted, text), text);
        }
    }

    #[test]
    fn json_paths_resolve_known_then_env() {
        assert_eq!(stage(json_paths, "${J.a.b[2].c}|$J.a.b[1]"), "x y|2");
        assert_eq!(stage(json_paths, "'${J.s}'"), "'q\"z'");
        assert_eq!(stage(json_paths, "${J.zz} ${J.o}"), "<nil> map[k:1]");
        assert_eq!(stage(json_paths, "${G.a} $G.a"), "ja ja");
        assert_eq!(stage(json_paths, "$J.a.b[0]\tx"), "1\tx");
    }

    #[test]
    fn json_paths_leave_failures() {
        for text in [
            "${N.x}",
            "${UNKNOWN.a}",
            "${HOME.x}",
            "${J.a.b[1].x}",
            "$J.",
            "${J.}",
            "$J.a\"",
            "${J. a}",
            "${my-step.exitCode}",
        ] {
            assert_eq!(stage(json_paths, text), text);
        }
        assert_eq!(stage(json_paths, "$J.s#c"), "q\"z");
    }

    #[test]
    fn step_refs_win_and_slice() {
        let s = |t| stage(json_paths, t);
        assert_eq!(s("${first.stdout}"), "/logs/first.out");
        assert_eq!(
            s("${first.stderr}|${first.exitCode}|${first.exit_code}"),
            "/logs/first.err|2|2"
        );
        assert_eq!(s("${first.stdout:0:5} $first.stdout:1:4"), "/logs logs");
        assert_eq!(
            s("${first.stdout:6}|${first.stdout:99}|${first.stdout:0:999}"),
            "first.out||/logs/first.out"
        );
        assert_eq!(s("${first.other}"), "o");
        assert_eq!(s("$first.exitCodex"), "<nil>");
        assert_eq!(
            s("${first.stdout:abc} ${first.stdout:-3} ${first.stdout::2}"),
            "${first.stdout:abc} ${first.stdout:-3} ${first.stdout::2}"
        );
    }

    #[test]
    fn plain_refs_replace_known_names_only() {
        let s = |t| stage(plain, t);
        assert_eq!(
            s("$N ${N} x$N-y $N.x ${N}${N}$N"),
            "val val xval-y val.x valvalval"
        );
        assert_eq!(s("$1 ${1} $10 $1x"), "one one $10 $1x");
        assert_eq!(
            s("$UNKNOWN ${UNKNOWN} ${N:-d} ${#N} $N_x"),
            "$UNKNOWN ${UNKNOWN} ${N:-d} ${#N} $N_x"
        );
        assert_eq!(s("$$N \\$N $Né"), "$val \\val valé");
        assert_eq!(s("${N}}"), "val}");
        assert_eq!(s("x ${M} x"), "x line1\nline2 x");
    }

    #[test]
    fn plain_refs_keep_quote_adjacent_literal() {
        let s = |t| stage(plain, t);
        assert_eq!(
            s("'$N' '${N}' '$N y' 'x $N' a$N'b"),
            "'$N' '${N}' '$N y' 'x $N' a$N'b"
        );
        assert_eq!(s("'x $N y' 'x ${N} y'"), "'x val y' 'x val y'");
        assert_eq!(s("\"'$N'\" '\"$N\"'"), "\"'$N'\" '\"val\"'");
        assert_eq!(s("$X'$N ${X}'$N '$N'$N"), "$X'val ${X}'val '$N'val");
        assert_eq!(s("$N'$N' $N''$N '$N$N'"), "$N'$N' $N''$N '$N$N'");
    }

    #[test]
    fn no_dollar_means_no_change() {
        let fx = Fixture::new();
        for f in [quoted, json_paths, plain] {
            assert_eq!(f("plain text 'quoted'", &fx.ctx()), None);
        }
    }
}
