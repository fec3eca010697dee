//! The `@csv` and `@tsv` string formats, which jaq's library leaves out.

use jaq_json::Val;

use crate::print;

/// `@csv`: an array as one CSV row; strings quoted with `"` doubled, numbers and booleans
/// bare, `null` empty.
pub(crate) fn csv(row: &Val) -> Result<String, String> {
    join(row, "csv", ',', |s, out| {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    })
}

/// `@tsv`: an array as one TSV row; tabs, line breaks and backslashes in strings escaped.
pub(crate) fn tsv(row: &Val) -> Result<String, String> {
    join(row, "tsv", '\t', |s, out| {
        for c in s.chars() {
            match c {
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
    })
}

/// The cells of array `row` separated by `separator`, strings written by `string`.
fn join(
    row: &Val,
    format: &str,
    separator: char,
    string: impl Fn(&str, &mut String),
) -> Result<String, String> {
    let Val::Arr(cells) = row else {
        return Err(format!(
            "{} cannot be {format}-formatted, only an array can be",
            kind(row)
        ));
    };
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(separator);
        }
        match cell {
            Val::Null => {}
            Val::Bool(_) | Val::Num(_) => print::compact(cell, &mut out),
            Val::TStr(s) | Val::BStr(s) => string(&String::from_utf8_lossy(s), &mut out),
            Val::Arr(_) | Val::Obj(_) => {
                return Err(format!("{} is not valid in a {format} row", kind(cell)));
            }
        }
    }
    Ok(out)
}

/// The JSON type of `v`, for messages.
fn kind(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(json: &str) -> Val {
        jaq_json::read::parse_single(json.as_bytes()).unwrap()
    }

    #[test]
    fn csv_quotes_strings_only() {
        assert_eq!(
            csv(&val(r#"[1, "a\"b", null, true, 1.5]"#)),
            Ok(r#"1,"a""b",,true,1.5"#.to_string())
        );
    }

    #[test]
    fn tsv_escapes_separators() {
        assert_eq!(
            tsv(&val(r#"["a\tb", "c\\d\n", 2]"#)),
            Ok("a\\tb\tc\\\\d\\n\t2".to_string())
        );
    }

    #[test]
    fn only_flat_arrays_are_rows() {
        assert!(csv(&val("{}")).unwrap_err().contains("only an array"));
        assert!(
            tsv(&val("[[1]]"))
                .unwrap_err()
                .contains("not valid in a tsv row")
        );
    }
}
