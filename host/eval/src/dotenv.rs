//! §5.4 dotenv files, parsed the way Dagu 1.30.2 does.
//!
//! * Blank lines and `#` comment lines are skipped; `export ` before a key is ignored.
//! * Keys are letters, digits, `_` and `.`; `=` or `:` separates key and value, with optional
//!   blanks around it.
//! * Unquoted values end at the line end or at the last `#` that follows a blank (`a #b #c`
//!   gives `a #b`), and are trimmed.
//! * `'single'` values are literal. `"double"` values may span lines; `\n` and `\r` are
//!   newline and carriage return, any other `\x` is `x` (except `\$`).
//! * Unquoted and double-quoted values expand `$NAME` / `${NAME}` (NAME = `[A-Z0-9_]+`) from
//!   the keys defined earlier in the same file (unknown -> empty); `\$` is a literal `$`.
//!   `$(...)` and `${name:-x}`-style forms are not shell syntax here.
//! * Any malformed line (bad key character, missing `=`, unterminated quote, text after a
//!   closing quote) makes the whole file an error; Dagu then skips the file with a warning.

use std::collections::HashMap;

use crate::EvalError;

/// Parse a dotenv file's text (comments, `export ` prefix, single/double quotes, escapes in double quotes).
///
/// Entries come in file order; a key defined twice appears twice (apply in order: later wins).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, EvalError> {
    let text = text.replace("\r\n", "\n");
    let mut entries = Vec::new();
    let mut defined: HashMap<String, String> = HashMap::new();
    let mut rest = text.as_str();
    loop {
        rest = rest.trim_start();
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |i| &rest[i + 1..]);
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let (key, after_key) = key(rest)?;
        let (value, after_value) = value(after_key, &defined)?;
        defined.insert(key.to_string(), value.clone());
        entries.push((key.to_string(), value));
        rest = after_value;
    }
    Ok(entries)
}

fn syntax(message: String) -> EvalError {
    EvalError::Syntax(format!("dotenv: {message}"))
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The key at the start of a line and the text after its separator.
fn key(line: &str) -> Result<(&str, &str), EvalError> {
    let line = match line.strip_prefix("export") {
        Some(after) if after.starts_with(is_blank) => after.trim_start_matches(is_blank),
        _ => line,
    };
    let len = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let key = &line[..len];
    let after = line[len..].trim_start_matches(is_blank);
    match after.chars().next() {
        Some('=' | ':') if !key.is_empty() => Ok((key, after[1..].trim_start_matches(is_blank))),
        Some(c) => Err(syntax(format!(
            "unexpected character {c:?} in variable name near {line:?}"
        ))),
        None => Err(syntax(format!("missing '=' after {key:?}"))),
    }
}

/// The value at the start of `s` and the text after its line.
fn value<'t>(
    s: &'t str,
    defined: &HashMap<String, String>,
) -> Result<(String, &'t str), EvalError> {
    let Some(quote @ ('\'' | '"')) = s.chars().next() else {
        let (line, rest) = s.split_once('\n').unwrap_or((s, ""));
        let comment = line
            .char_indices()
            .rfind(|&(i, c)| c == '#' && line[..i].ends_with(is_blank))
            .map_or(line.len(), |(i, _)| i);
        return Ok((expand(line[..comment].trim(), defined), rest));
    };
    let inner = &s[1..];
    let close = inner
        .char_indices()
        .find(|&(i, c)| c == quote && !inner[..i].ends_with('\\'))
        .map(|(i, _)| i)
        .ok_or_else(|| {
            syntax(format!(
                "unterminated quoted value {}",
                s.lines().next().unwrap_or("")
            ))
        })?;
    let after = inner[close + 1..].trim_start_matches(is_blank);
    let rest = match after.chars().next() {
        None => "",
        Some('\n') => &after[1..],
        Some('#') => after.split_once('\n').map_or("", |(_, rest)| rest),
        Some(c) => {
            return Err(syntax(format!(
                "unexpected character {c:?} after quoted value"
            )));
        }
    };
    let raw = &inner[..close];
    let value = if quote == '\'' {
        raw.to_string()
    } else {
        expand(&unescape(raw), defined)
    };
    Ok((value, rest))
}

/// Escapes of double-quoted values: `\n`, `\r`, and `\x` -> `x` for anything but `$`.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some('r')) => {
                out.push('\r');
                chars.next();
            }
            ('\\', Some('$')) | ('\\', None) => out.push('\\'),
            ('\\', Some(next)) => {
                out.push(next);
                chars.next();
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// `$NAME` / `${NAME}` from earlier keys; `\$` is a literal `$`; `$(` stays.
fn expand(value: &str, defined: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        let escaped = rest[..at].ends_with('\\');
        out.push_str(&rest[..at - usize::from(escaped)]);
        let after = &rest[at + 1..];
        if escaped || after.starts_with('(') {
            out.push('$');
            rest = after;
            continue;
        }
        let (braced, inner) = match after.strip_prefix('{') {
            Some(inner) => (true, inner),
            None => (false, after),
        };
        let len = inner
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(inner.len());
        if len == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        out.push_str(defined.get(&inner[..len]).map_or("", String::as_str));
        let tail = &inner[len..];
        rest = if braced {
            tail.strip_prefix('}').unwrap_or(tail)
        } else {
            tail
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn basic_file() {
        assert_eq!(
            ok("# comment line\nDOT_A=from-dotenv\nDOT_B=\"quoted value\"\n"),
            pairs(&[("DOT_A", "from-dotenv"), ("DOT_B", "quoted value")])
        );
    }

    #[test]
    fn keys_separators_and_export() {
        assert_eq!(
            ok(
                "export X1=plain\nX10 = spaced_eq\nX11: colon\n  X12=lead\n\tX.A=dot\nexport X19=\"ex q\"\n"
            ),
            pairs(&[
                ("X1", "plain"),
                ("X10", "spaced_eq"),
                ("X11", "colon"),
                ("X12", "lead"),
                ("X.A", "dot"),
                ("X19", "ex q"),
            ])
        );
    }

    #[test]
    fn unquoted_values() {
        assert_eq!(
            ok(
                "A=inline # comment\nB=a#b\nC=  spaced  \nD=a=b=c\nE=\nF=a b c   \nG=\\\"x\\\"\nH=crlf\r\n"
            ),
            pairs(&[
                ("A", "inline"),
                ("B", "a#b"),
                ("C", "spaced"),
                ("D", "a=b=c"),
                ("E", ""),
                ("F", "a b c"),
                ("G", "\\\"x\\\""),
                ("H", "crlf"),
            ])
        );
    }

    #[test]
    fn inline_comment_starts_at_the_last_blank_hash() {
        assert_eq!(
            ok("A=a #b\t#c\nB=$(x)# #c\t#\nC=x #\n"),
            pairs(&[("A", "a #b"), ("B", "$(x)# #c"), ("C", "x")])
        );
    }

    #[test]
    fn quoted_values() {
        let got = ok(concat!(
            "A=\"double \\\"q\\\" \\n nl \\t tab \\\\ bs \\$ dollar\"\n",
            "B='single \\n $A'\n",
            "C=\"multi\nline\"\n",
            "D=\"has # hash\" # c\n",
            "E='s # h' #c\n",
            "F=\"\"\n",
            "G='a\\'b'\n",
            "H=\"a\\\\nb\"\n",
        ));
        assert_eq!(
            got,
            pairs(&[
                ("A", "double \"q\" \n nl t tab \\ bs $ dollar"),
                ("B", "single \\n $A"),
                ("C", "multi\nline"),
                ("D", "has # hash"),
                ("E", "s # h"),
                ("F", ""),
                ("G", "a\\'b"),
                ("H", "a\\nb"),
            ])
        );
    }

    #[test]
    fn expansion_uses_earlier_keys_only() {
        let got = ok(concat!(
            "XB=1\n",
            "XA=\"$XB ${XB} \\$XB $(echo) ${XB:-d} $XB_x $xb ${HOME}\"\n",
            "XC=${XB}${XD}\n",
            "XE=a\\nb\\$c $XB\n",
            "XF='$XB'\n",
        ));
        assert_eq!(
            got,
            pairs(&[
                ("XB", "1"),
                ("XA", "1 1 $XB $(echo) 1:-d} x $xb "),
                ("XC", "1"),
                ("XE", "a\\nb$c 1"),
                ("XF", "$XB"),
            ])
        );
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(ok("XA=1\nXA=2"), pairs(&[("XA", "1"), ("XA", "2")]));
    }

    #[test]
    fn malformed_files_are_errors() {
        for text in [
            "XA=\"unterminated\nXB=ok",
            "XA='unterminated\nXB=ok",
            "X-B=dash",
            "export\nXA=1",
            "XA",
            "export XA",
            "XA=\"x\"y\"",
            "XA=\"a\" trailing",
            "=value",
            "XA='it''s'",
        ] {
            assert!(matches!(parse(text), Err(EvalError::Syntax(_))), "{text:?}");
        }
    }

    #[test]
    fn empty_and_comment_only() {
        assert!(ok("").is_empty());
        assert!(ok("\n# only\n   \n").is_empty());
    }
}
