//! Double-quoted, backslash-escaped literals as Dagu writes them for `"${VAR}"` (Go `strconv.Quote`).

/// Quote `s`: `"` and `\` are escaped, control characters become `\n`, `\t`, `\x01`...,
/// other non-printable characters `\uXXXX`; printable Unicode is kept as is.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximation of Go's `unicode.IsPrint`: not a control, format or separator character
/// (the ASCII space excepted).
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xE000..=0xF8FF)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn escapes_like_go() {
        assert_eq!(go_quote("val"), r#""val""#);
        assert_eq!(go_quote("line1\nline2"), r#""line1\nline2""#);
        assert_eq!(go_quote(r#"q"z"#), r#""q\"z""#);
        assert_eq!(go_quote(r"a\b"), r#""a\\b""#);
        assert_eq!(go_quote("tab\there\r"), r#""tab\there\r""#);
        assert_eq!(go_quote("\u{7}\u{8}\u{b}\u{c}"), r#""\a\b\v\f""#);
        assert_eq!(go_quote("\u{1}\u{7f}"), r#""\x01\x7f""#);
        assert_eq!(go_quote("é✓ 😀"), "\"é✓ 😀\"");
        assert_eq!(go_quote("\u{a0}\u{200b}\u{85}"), r#""\u00a0\u200b\u0085""#);
        assert_eq!(go_quote(""), r#""""#);
    }
}
