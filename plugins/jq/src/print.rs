//! Values as the step prints them: JSON indented by four spaces like `jq --indent 4`,
//! compact JSON for messages, and raw strings.

use std::fmt::Write;

use jaq_json::{Num, Val};

/// Spaces per nesting level of a printed result.
const INDENT: usize = 4;

/// Appends one result: a string as raw text when `raw`, anything else as indented JSON.
pub(crate) fn result(v: &Val, raw: bool, out: &mut String) {
    match v {
        Val::TStr(s) if raw => out.push_str(&String::from_utf8_lossy(s)),
        _ => Printer {
            out,
            indent: INDENT,
        }
        .value(v, 0),
    }
}

/// Appends `v` as compact JSON.
pub(crate) fn compact(v: &Val, out: &mut String) {
    Printer { out, indent: 0 }.value(v, 0);
}

/// Appends a string as raw text, anything else as compact JSON.
pub(crate) fn raw_or_compact(v: &Val, out: &mut String) {
    match v {
        Val::TStr(s) => out.push_str(&String::from_utf8_lossy(s)),
        _ => compact(v, out),
    }
}

/// Writes JSON into `out`; `indent` spaces per level, or none at all (compact) when 0.
struct Printer<'o> {
    out: &'o mut String,
    indent: usize,
}

impl Printer<'_> {
    fn value(&mut self, v: &Val, level: usize) {
        match v {
            Val::Null => self.out.push_str("null"),
            Val::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Val::Num(n) => number(n, self.out),
            Val::TStr(s) | Val::BStr(s) => string(&String::from_utf8_lossy(s), self.out),
            Val::Arr(a) => self.seq('[', ']', a.iter(), level, |p, x| p.value(x, level + 1)),
            Val::Obj(o) => self.seq('{', '}', o.iter(), level, |p, (k, x)| {
                p.value(k, level + 1);
                p.out.push_str(if p.indent > 0 { ": " } else { ":" });
                p.value(x, level + 1);
            }),
        }
    }

    /// Writes items between `open` and `close`: one per line when indenting.
    fn seq<T>(
        &mut self,
        open: char,
        close: char,
        items: impl ExactSizeIterator<Item = T>,
        level: usize,
        mut item: impl FnMut(&mut Self, T),
    ) {
        self.out.push(open);
        let empty = items.len() == 0;
        for (i, x) in items.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.newline(level + 1);
            item(self, x);
        }
        if !empty {
            self.newline(level);
        }
        self.out.push(close);
    }

    /// A line break and the indentation of `level`, when indenting.
    fn newline(&mut self, level: usize) {
        if self.indent > 0 {
            self.out.push('\n');
            self.out
                .extend(std::iter::repeat_n(' ', self.indent * level));
        }
    }
}

/// Writes a number like jq: integral floats without a fraction, exponents with a sign and
/// two digits at least, NaN as `null`, infinities as the largest finite doubles.
fn number(n: &Num, out: &mut String) {
    let Num::Float(x) = n else {
        let _ = write!(out, "{n}");
        return;
    };
    let x = *x;
    if x.is_nan() {
        out.push_str("null");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 {
            "1.7976931348623157e+308"
        } else {
            "-1.7976931348623157e+308"
        });
    } else if x.fract() == 0.0 && x.abs() < 1e17 {
        if x == 0.0 && x.is_sign_negative() {
            out.push('-');
        }
        let _ = write!(out, "{}", x as i64);
    } else if (1e-5..1e17).contains(&x.abs()) {
        let _ = write!(out, "{x}");
    } else {
        let text = format!("{x:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ('-', digits),
            None => ('+', exponent),
        };
        let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
    }
}

/// Writes `s` as a JSON string, escaping like jq.
fn string(s: &str, out: &mut String) {
    out.push('"');
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if c < ' ' || c == '\u{7f}' => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escape);
        }
        plain = i + c.len_utf8();
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(json: &str) -> String {
        let v = jaq_json::read::parse_single(json.as_bytes()).unwrap();
        let mut out = String::new();
        result(&v, false, &mut out);
        out
    }

    fn float(x: f64) -> String {
        let mut out = String::new();
        number(&Num::Float(x), &mut out);
        out
    }

    #[test]
    fn nests_with_four_spaces_keeping_key_order() {
        assert_eq!(
            pretty(r#"{"b": [1, {}], "a": {"c": []}}"#),
            "{\n    \"b\": [\n        1,\n        {}\n    ],\n    \"a\": {\n        \"c\": []\n    }\n}"
        );
    }

    #[test]
    fn compact_has_no_spaces() {
        let v = jaq_json::read::parse_single(br#"{"a": [1, "x"]}"#).unwrap();
        let mut out = String::new();
        compact(&v, &mut out);
        assert_eq!(out, r#"{"a":[1,"x"]}"#);
    }

    #[test]
    fn escapes_like_jq() {
        assert_eq!(
            pretty(r#""a\"b\\c\n\u0001\u007fé""#),
            r#""a\"b\\c\n\u0001\u007fé""#
        );
    }

    #[test]
    fn numbers_print_like_jq() {
        assert_eq!(float(3.0), "3");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(1.5), "1.5");
        assert_eq!(float(1e-7), "1e-07");
        assert_eq!(float(1.5e300), "1.5e+300");
        assert_eq!(float(f64::NAN), "null");
        assert_eq!(float(f64::INFINITY), "1.7976931348623157e+308");
        assert_eq!(pretty("1.50"), "1.50");
        assert_eq!(pretty("12345678901234567890123"), "12345678901234567890123");
    }
}
