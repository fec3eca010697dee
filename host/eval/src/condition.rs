//! Precondition comparison (`expected:`).

use regex::Regex;

use crate::EvalError;

/// `expected` exact match, or `re:PATTERN` unanchored regex match. Bad regex -> Err.
pub fn matches(actual: &str, expected: &str) -> Result<bool, EvalError> {
    match expected.strip_prefix("re:") {
        Some(pattern) => Regex::new(pattern)
            .map(|re| re.is_match(actual))
            .map_err(|e| EvalError::Syntax(format!("invalid regular expression {pattern:?}: {e}"))),
        None => Ok(actual == expected),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;
    use crate::EvalError;

    #[test]
    fn exact_match_is_literal() {
        assert_eq!(matches("v2.14", "v2.14"), Ok(true));
        assert_eq!(matches("v2.14", "v2.1"), Ok(false));
        assert_eq!(matches("a.c", "a?c"), Ok(false));
        assert_eq!(matches("", ""), Ok(true));
    }

    #[test]
    fn regex_is_unanchored_unless_anchored() {
        assert_eq!(matches("hello123", "re:llo1"), Ok(true));
        assert_eq!(matches("v2.14", r"re:^v2\.[0-9]+$"), Ok(true));
        assert_eq!(matches("v2.14", "re:^v3"), Ok(false));
        assert_eq!(matches("re:x", "re:x"), Ok(true));
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(matches!(matches("x", "re:("), Err(EvalError::Syntax(_))));
    }
}
