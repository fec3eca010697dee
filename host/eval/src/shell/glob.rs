//! Shell glob patterns for `${V#p}`, `${V%p}` and `${V/p/r}`: `*`, `?`, `[...]` (with `!`/`^`
//! negation and ranges) and `\x` for a literal `x`.

/// A compiled pattern.
pub(super) struct Pattern {
    tokens: Vec<Token>,
}

enum Token {
    Literal(char),
    AnyChar,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Append `s` with every glob-special character escaped.
pub(super) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

impl Pattern {
    /// Compile `pattern`; a `[` without a closing `]` is literal.
    pub(super) fn new(pattern: &str) -> Pattern {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let token = match chars[i] {
                '*' => Token::AnyRun,
                '?' => Token::AnyChar,
                '\\' if i + 1 < chars.len() => {
                    i += 1;
                    Token::Literal(chars[i])
                }
                '[' => match class(&chars[i + 1..]) {
                    Some((token, len)) => {
                        i += len;
                        token
                    }
                    None => Token::Literal('['),
                },
                c => Token::Literal(c),
            };
            tokens.push(token);
            i += 1;
        }
        Pattern { tokens }
    }

    /// Whether the whole of `text` matches.
    fn matches(&self, text: &[char]) -> bool {
        let (mut p, mut t) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::AnyRun) => {
                    backtrack = Some((p, t));
                    p += 1;
                }
                Some(token) if token.matches_char(text[t]) => {
                    p += 1;
                    t += 1;
                }
                _ => match backtrack {
                    Some((star, from)) => {
                        p = star + 1;
                        t = from + 1;
                        backtrack = Some((star, from + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| matches!(t, Token::AnyRun))
    }

    /// `${V#p}` / `${V##p}`: drop the shortest (longest) matching prefix.
    pub(super) fn strip_prefix(&self, value: &[char], longest: bool) -> String {
        let mut ends: Box<dyn Iterator<Item = usize>> = if longest {
            Box::new((0..=value.len()).rev())
        } else {
            Box::new(0..=value.len())
        };
        match ends.find(|&end| self.matches(&value[..end])) {
            Some(end) => value[end..].iter().collect(),
            None => value.iter().collect(),
        }
    }

    /// `${V%p}` / `${V%%p}`: drop the shortest (longest) matching suffix.
    pub(super) fn strip_suffix(&self, value: &[char], longest: bool) -> String {
        let mut starts: Box<dyn Iterator<Item = usize>> = if longest {
            Box::new(0..=value.len())
        } else {
            Box::new((0..=value.len()).rev())
        };
        match starts.find(|&start| self.matches(&value[start..])) {
            Some(start) => value[..start].iter().collect(),
            None => value.iter().collect(),
        }
    }

    /// `${V/p/r}` / `${V//p/r}`: replace the first (every) longest non-empty match.
    pub(super) fn replace(&self, value: &[char], replacement: &str, all: bool) -> String {
        let mut out = String::new();
        let mut start = 0;
        let mut replaced = false;
        while start < value.len() {
            let hit = (!replaced || all)
                .then(|| {
                    (start + 1..=value.len())
                        .rev()
                        .find(|&end| self.matches(&value[start..end]))
                })
                .flatten();
            match hit {
                Some(end) => {
                    out.push_str(replacement);
                    start = end;
                    replaced = true;
                }
                None => {
                    out.push(value[start]);
                    start += 1;
                }
            }
        }
        out
    }
}

impl Token {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::AnyChar => true,
            Token::AnyRun => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
            }
        }
    }
}

/// A bracket expression after its `[`: the token and how many characters it used (through `]`).
fn class(chars: &[char]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < chars.len() {
        let mut c = chars[i];
        if c == ']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if c == '\\' && i + 1 < chars.len() {
            i += 1;
            c = chars[i];
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&h| h != ']') {
            ranges.push((c, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn m(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern).matches(&chars(text))
    }

    #[test]
    fn matching() {
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[or]*", "oot"));
        assert!(m("[!a-c]x", "dx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("[]]", "]"));
        assert!(m("a[", "a["));
        assert!(m(r"\*", "*"));
        assert!(!m(r"\*", "x"));
        assert!(m("*o*o*", "foo"));
        assert!(!m("*o*o*", "fo"));
    }

    #[test]
    fn escaping_makes_literal() {
        let mut p = String::new();
        escape_into(&mut p, "a*[?]\\");
        assert!(m(&p, "a*[?]\\"));
        assert!(!m(&p, "abc?]\\"));
    }

    #[test]
    fn prefix_suffix_replace() {
        let v = chars("/root");
        let p = |s: &str| Pattern::new(s);
        assert_eq!(p("*o").strip_prefix(&v, false), "ot");
        assert_eq!(p("*o").strip_prefix(&v, true), "t");
        assert_eq!(p("o*").strip_suffix(&v, false), "/ro");
        assert_eq!(p("o*").strip_suffix(&v, true), "/r");
        assert_eq!(p("x").strip_suffix(&v, true), "/root");
        assert_eq!(p("[or]").replace(&v, "_", false), "/_oot");
        assert_eq!(p("o").replace(&v, "0", true), "/r00t");
        assert_eq!(p("o*").replace(&v, "X", false), "/rX");
        assert_eq!(p("").replace(&v, "X", true), "/root");
    }
}
