//! Glob patterns over `/`-separated paths: `*` matches within one segment, `?` one
//! character, and a `**` segment any number of segments.

/// Whether `pattern` matches all of `path`.
pub(crate) fn matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = segments(pattern).collect();
    let path: Vec<&str> = segments(path).collect();
    match_segments(&pattern, &path)
}

fn segments(s: &str) -> impl Iterator<Item = &str> {
    s.split('/').filter(|s| !s.is_empty() && *s != ".")
}

fn match_segments(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path)) => match_segment(first, segment) && match_segments(rest, path),
            None => false,
        },
    }
}

/// Whether one pattern segment matches one path segment (`*` and `?` wildcards).
fn match_segment(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and how much of the text it has eaten up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((star_pi, star_ti)) => {
                    pi = star_pi + 1;
                    ti = star_ti + 1;
                    star = Some((star_pi, star_ti + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_stay_within_a_segment() {
        assert!(matches("*.txt", "a.txt"));
        assert!(matches("*", ".hidden"));
        assert!(!matches("*.txt", "dir/a.txt"));
        assert!(matches("dir/*.txt", "dir/a.txt"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn question_marks_match_one_character() {
        assert!(matches("?.md", "é.md"));
        assert!(!matches("?.md", "ab.md"));
    }

    #[test]
    fn double_stars_span_segments() {
        assert!(matches("**/*.log", "a.log"));
        assert!(matches("**/*.log", "x/y/a.log"));
        assert!(matches("logs/**", "logs/x/y"));
        assert!(matches("a/**/z", "a/z"));
        assert!(!matches("a/**/z", "b/z"));
    }
}
