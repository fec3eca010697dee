//! Shell-like word splitting (for `shell:` strings and `shell: direct` commands).

use crate::EvalError;

/// Split a shell-like string into words honouring quotes (`bash -e -o pipefail`, `python3 -c "print(1)"`).
///
/// Single quotes keep everything; inside double quotes a backslash escapes `"`, `\`, `$` and
/// `` ` `` only; outside quotes a backslash escapes any character. `""` is an empty word.
pub fn split_words(text: &str) -> Result<Vec<String>, EvalError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unterminated(text, '\'')),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unterminated(text, '"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unterminated(text, '"')),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                w.push(chars.next().unwrap_or('\\'));
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn unterminated(text: &str, quote: char) -> EvalError {
    EvalError::Syntax(format!("unterminated {quote} quote in {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_honours_quotes() {
        let s = |t: &str| split_words(t).unwrap();
        assert_eq!(s("bash -e -o pipefail"), ["bash", "-e", "-o", "pipefail"]);
        assert_eq!(s(r#"python3 -c "print(1)""#), ["python3", "-c", "print(1)"]);
        assert_eq!(s(r#"a'b c'"d e" "" ''"#), ["ab cd e", "", ""]);
        assert_eq!(s(r#""a\"b\\c\n" a\ b"#), [r#"a"b\c\n"#, "a b"]);
        assert_eq!(s("  \t "), Vec::<String>::new());
        assert!(matches!(split_words("echo 'x"), Err(EvalError::Syntax(_))));
        assert!(matches!(split_words("echo \"x"), Err(EvalError::Syntax(_))));
    }
}
