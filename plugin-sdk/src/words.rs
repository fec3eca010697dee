//! Splitting a command line into argv the way a POSIX shell splits words, without any
//! expansion (the host expands variables before a plugin sees a step): blanks separate words,
//! `'...'` is literal, `"..."` is literal except that a backslash escapes `"`, `\`, `$`,
//! `` ` `` and a newline, and a backslash outside quotes escapes the next character.

/// The words of `line`; an error names an unterminated quote or a trailing backslash.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word has started (so that `''` yields an empty word).
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in: {line}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in: {line}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in: {line}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(format!("trailing backslash in: {line}")),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    fn ok(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn blanks_separate_words() {
        assert_eq!(ok("  echo   hi\tthere \n"), ["echo", "hi", "there"]);
        assert!(ok("   ").is_empty());
    }

    #[test]
    fn quotes_group_and_keep_their_content() {
        assert_eq!(
            ok(r#"sh -c 'echo "a  b" $X' done"#),
            ["sh", "-c", r#"echo "a  b" $X"#, "done"]
        );
        assert_eq!(
            ok(r#"echo "it's" 'say "hi"'"#),
            ["echo", "it's", r#"say "hi""#]
        );
        assert_eq!(ok(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(ok("x '' \"\" y"), ["x", "", "", "y"]);
    }

    #[test]
    fn backslashes_escape() {
        assert_eq!(ok(r"echo a\ b \'q\'"), ["echo", "a b", "'q'"]);
        assert_eq!(ok(r#"echo "a\"b\\c\$d\n""#), ["echo", r#"a"b\c$d\n"#]);
        assert_eq!(ok("echo a\\\nb"), ["echo", "ab"]);
        assert_eq!(ok(r"echo 'a\b'"), ["echo", r"a\b"]);
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert!(split("echo 'abc").unwrap_err().contains("single quote"));
        assert!(split("echo \"abc").unwrap_err().contains("double quote"));
        assert!(split("echo abc\\").unwrap_err().contains("backslash"));
    }
}
