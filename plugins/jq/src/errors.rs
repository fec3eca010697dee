//! Readable messages for filters that do not parse or compile, with the line and column
//! of each problem.

use jaq_core::compile::{self, Undefined};
use jaq_core::load::{self, lex};

/// The longest excerpt of the filter a message quotes.
const EXCERPT: usize = 20;

/// The message for a filter that does not lex or parse.
pub(crate) fn load(code: &str, errors: load::Errors<&str, ()>) -> String {
    let mut problems = Vec::new();
    for (_, error) in errors {
        match error {
            load::Error::Io(imports) => problems.extend(
                imports
                    .into_iter()
                    .map(|(path, why)| format!("cannot load module {path}: {why}")),
            ),
            load::Error::Lex(lexed) => problems.extend(lexed.into_iter().map(|(expect, at)| {
                let what = match expect {
                    lex::Expect::Delim(open) => format!("a match for `{open}`"),
                    other => other.as_str().to_string(),
                };
                format!("expected {what}{}", position(code, at))
            })),
            load::Error::Parse(parsed) => {
                problems.extend(parsed.into_iter().map(|(expect, found)| {
                    format!(
                        "expected {}, found {}{}",
                        expect.as_str(),
                        excerpt(found),
                        position(code, found)
                    )
                }))
            }
        }
    }
    format!("invalid jq filter: {}", problems.join("; "))
}

/// The message for a filter that parses but refers to undefined names.
pub(crate) fn compile(code: &str, errors: compile::Errors<&str, ()>) -> String {
    let problems: Vec<String> = errors
        .into_iter()
        .flat_map(|(_, undefined)| undefined)
        .map(|(name, what)| {
            let arity = match what {
                Undefined::Filter(arity) => format!("/{arity}"),
                _ => String::new(),
            };
            let kind = what.as_str();
            format!("undefined {kind} `{name}{arity}`{}", position(code, name))
        })
        .collect();
    format!("invalid jq filter: {}", problems.join("; "))
}

/// `found` quoted and shortened, or "end of input" when it is empty.
fn excerpt(found: &str) -> String {
    if found.is_empty() {
        return "end of input".to_string();
    }
    let line = found.lines().next().unwrap_or_default();
    match line.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("`{}...`", &line[..cut]),
        None if line.len() < found.len() => format!("`{line}...`"),
        None => format!("`{line}`"),
    }
}

/// " at line L, column C" for a slice `at` of `code`; empty when `at` lies elsewhere
/// (in a definition file).
fn position(code: &str, at: &str) -> String {
    let start = code.as_ptr() as usize;
    let offset = (at.as_ptr() as usize).wrapping_sub(start);
    if offset > code.len() {
        return String::new();
    }
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    format!(" at line {line}, column {column}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let code = "a |\n é | b";
        assert_eq!(position(code, &code[9..]), " at line 2, column 5");
        assert_eq!(position(code, "elsewhere"), "");
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        assert_eq!(excerpt(""), "end of input");
        assert_eq!(excerpt(")"), "`)`");
        assert_eq!(excerpt("(a\nb)"), "`(a...`");
        assert_eq!(excerpt(&"x".repeat(30)), format!("`{}...`", "x".repeat(20)));
    }
}
