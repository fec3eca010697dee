//! The stage-5 interpreter: here-document style expansion with a plain-replacement fallback.

use super::arith;
use super::cursor::{Cursor, Res, Unsupported};
use super::glob;
use crate::Vars;

/// Special parameters (`$@`, `$?`...): always empty here.
const SPECIAL: &str = "@*#?-!$";

/// Expands against `known` (if any), then `env`.
pub(super) struct Expander<'e> {
    known: Option<&'e Vars>,
    env: &'e Vars,
}

impl<'e> Expander<'e> {
    pub(super) fn new(known: Option<&'e Vars>, env: &'e Vars) -> Self {
        Expander { known, env }
    }

    /// Expand `text`, falling back to plain replacement when the interpreter cannot.
    pub(super) fn run(&self, text: &str) -> String {
        if !text.contains('$') && !text.starts_with('~') {
            return text.to_string();
        }
        self.document(text)
            .unwrap_or_else(|Unsupported| self.fallback(text))
    }

    fn get(&self, name: &str) -> Option<&'e str> {
        self.known
            .and_then(|known| known.get(name))
            .or_else(|| self.env.get(name))
    }

    /// The whole text, read like a here-document.
    fn document(&self, text: &str) -> Res<String> {
        let mut cur = Cursor::new(text);
        let mut out = String::with_capacity(text.len());
        if let Some(rest) = text.strip_prefix('~')
            && (rest.is_empty() || rest.starts_with('/'))
            && let Some(home) = self.get("HOME")
        {
            out.push_str(home);
            cur.pos = 1;
        }
        while let Some(c) = cur.next() {
            match c {
                '\\' => {
                    out.push('\\');
                    if let Some(escaped @ ('$' | '`' | '\\')) = cur.peek() {
                        out.push(escaped);
                        cur.next();
                    }
                }
                '`' => return Err(Unsupported),
                '$' => out.push_str(&self.dollar(&mut cur)?),
                c => out.push(c),
            }
        }
        Ok(out)
    }

    /// What follows a `$` (already taken); a `$` that starts nothing is kept.
    fn dollar(&self, cur: &mut Cursor) -> Res<String> {
        match cur.peek() {
            Some('{') => {
                cur.next();
                self.braced(cur)
            }
            Some('(') if cur.rest().starts_with("((") => {
                cur.pos += 2;
                let start = cur.pos;
                cur.skip_parens()?;
                cur.expect(')')?;
                let expr = &cur.s[start..cur.pos - 2];
                arith::eval(expr, |n| self.get(n))
                    .map(|n| n.to_string())
                    .ok_or(Unsupported)
            }
            Some('(') => Err(Unsupported),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = cur.take_while(is_name_char);
                Ok(self.param(name).unwrap_or_default())
            }
            Some(c) if c.is_ascii_digit() || SPECIAL.contains(c) => {
                cur.next();
                Ok(self.param(c.encode_utf8(&mut [0; 4])).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }

    /// A variable's value; special parameters are never set.
    fn param(&self, name: &str) -> Option<String> {
        if name.len() == 1 && SPECIAL.contains(name) {
            return None;
        }
        self.get(name).map(str::to_string)
    }

    /// `${...}` after the `${`.
    fn braced(&self, cur: &mut Cursor) -> Res<String> {
        if cur.eat('#') {
            if cur.eat('}') {
                return Ok(String::new());
            }
            let name = param_name(cur)?;
            cur.expect('}')?;
            let len = self.param(name).map_or(0, |v| v.chars().count());
            return Ok(len.to_string());
        }
        if cur.eat('!') {
            let name = param_name(cur)?;
            cur.expect('}')?;
            let target = self.param(name).unwrap_or_default();
            return Ok(self.param(&target).unwrap_or_default());
        }
        let name = param_name(cur)?;
        let mut value = self.param(name);
        if cur.eat('[') {
            let subscript = cur.take_until(']')?;
            if !matches!(subscript, "@" | "*")
                && arith::eval(subscript, |n| self.get(n)).ok_or(Unsupported)? != 0
            {
                value = None;
            }
        }
        match cur.next().ok_or(Unsupported)? {
            '}' => Ok(value.unwrap_or_default()),
            ':' => match cur.peek() {
                Some(op @ ('-' | '=' | '?' | '+')) => {
                    cur.next();
                    self.default_op(cur, op, true, value)
                }
                _ => self.substring(cur, value.unwrap_or_default()),
            },
            op @ ('-' | '=' | '?' | '+') => self.default_op(cur, op, false, value),
            op @ ('#' | '%') => {
                let longest = cur.eat(op);
                let (pattern, _) = cur.take_word(&['}'])?;
                let pattern = glob::Pattern::new(&self.word(pattern, true)?);
                let value: Vec<char> = value.unwrap_or_default().chars().collect();
                Ok(if op == '#' {
                    pattern.strip_prefix(&value, longest)
                } else {
                    pattern.strip_suffix(&value, longest)
                })
            }
            '/' => {
                let all = cur.eat('/');
                let (pattern, stop) = cur.take_word(&['/', '}'])?;
                let replacement = match stop {
                    '/' => self.word(cur.take_word(&['}'])?.0, false)?,
                    _ => String::new(),
                };
                let pattern = glob::Pattern::new(&self.word(pattern, true)?);
                let value: Vec<char> = value.unwrap_or_default().chars().collect();
                Ok(pattern.replace(&value, &replacement, all))
            }
            op @ ('^' | ',') => {
                let all = cur.eat(op);
                cur.expect('}')?;
                Ok(change_case(&value.unwrap_or_default(), op == '^', all))
            }
            _ => Err(Unsupported),
        }
    }

    /// `-` `=` `?` `+`, with or without `:` (which also treats empty as unset).
    fn default_op(
        &self,
        cur: &mut Cursor,
        op: char,
        colon: bool,
        value: Option<String>,
    ) -> Res<String> {
        let (word, _) = cur.take_word(&['}'])?;
        let value = value.filter(|v| !(colon && v.is_empty()));
        match (op, value) {
            ('-', Some(v)) | ('=' | '?', Some(v)) => Ok(v),
            ('-', None) => self.word(word, false),
            ('+', Some(_)) => self.word(word, false),
            ('+', None) => Ok(String::new()),
            // Assigning and failing with a message both make the interpreter fail.
            _ => Err(Unsupported),
        }
    }

    /// `${V:offset}` / `${V:offset:length}` after the `:`; arithmetic operands, negative
    /// offsets count from the end, a negative length stops that far before the end.
    fn substring(&self, cur: &mut Cursor, value: String) -> Res<String> {
        let number = |expr: &str| arith::eval(expr, |n| self.get(n)).ok_or(Unsupported);
        let (offset, stop) = cur.take_word(&[':', '}'])?;
        let offset = number(offset)?;
        let length = match stop {
            ':' => Some(number(cur.take_word(&['}'])?.0)?),
            _ => None,
        };
        let chars: Vec<char> = value.chars().collect();
        let len = chars.len() as i64;
        let start = if offset < 0 { offset + len } else { offset };
        if !(0..=len).contains(&start) {
            return Ok(String::new());
        }
        let end = match length {
            None => len,
            Some(l) if l < 0 => len + l,
            Some(l) => (start + l).min(len),
        };
        Ok(if end <= start {
            String::new()
        } else {
            chars[start as usize..end as usize].iter().collect()
        })
    }

    /// Expand a word inside `${...}`: quotes are removed (their content is literal, also for
    /// patterns), expansions apply, a backslash keeps itself and the next character.
    fn word(&self, text: &str, pattern: bool) -> Res<String> {
        let mut cur = Cursor::new(text);
        let mut out = String::new();
        let push_quoted = |out: &mut String, s: &str| {
            if pattern {
                glob::escape_into(out, s);
            } else {
                out.push_str(s);
            }
        };
        while let Some(c) = cur.next() {
            match c {
                '\'' => push_quoted(&mut out, cur.take_until('\'')?),
                '"' => loop {
                    match cur.next().ok_or(Unsupported)? {
                        '"' => break,
                        '\\' => {
                            out.push('\\');
                            out.extend(cur.next());
                        }
                        '$' => push_quoted(&mut out, &self.dollar(&mut cur)?),
                        '`' => return Err(Unsupported),
                        c => push_quoted(&mut out, c.encode_utf8(&mut [0; 4])),
                    }
                },
                '\\' => {
                    out.push('\\');
                    out.extend(cur.next());
                }
                '$' => out.push_str(&self.dollar(&mut cur)?),
                '`' => return Err(Unsupported),
                c => out.push(c),
            }
        }
        Ok(out)
    }

    /// Plain `$NAME` / `${NAME}` replacement (Go's `os.Expand`): `${...}` takes everything up to
    /// the next `}` as the name, `$` followed by something that is not a name stays, an
    /// unterminated `${` and `${}` disappear.
    fn fallback(&self, text: &str) -> String {
        let lookup = |name: &str| self.env.get(name).unwrap_or_default();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let special =
                |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || SPECIAL.contains(c));
            let consumed = if let Some(braced) = after.strip_prefix('{') {
                let mut chars = braced.chars();
                let first = chars.next();
                if special(first) && chars.next() == Some('}') {
                    out.push_str(lookup(&braced[..1]));
                    3
                } else {
                    match braced.find('}') {
                        Some(0) => 2,
                        Some(close) => {
                            out.push_str(lookup(&braced[..close]));
                            close + 2
                        }
                        None => 1,
                    }
                }
            } else if special(after.chars().next()) {
                out.push_str(lookup(&after[..1]));
                1
            } else {
                let len = after
                    .find(|c: char| !is_name_char(c))
                    .unwrap_or(after.len());
                if len == 0 {
                    out.push('$');
                } else {
                    out.push_str(lookup(&after[..len]));
                }
                len
            };
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A parameter name after `${`, `${#` or `${!`: a name, digits, or one special character.
fn param_name<'s>(cur: &mut Cursor<'s>) -> Res<&'s str> {
    match cur.peek().ok_or(Unsupported)? {
        c if c.is_ascii_alphabetic() || c == '_' => Ok(cur.take_while(is_name_char)),
        c if c.is_ascii_digit() => Ok(cur.take_while(|c| c.is_ascii_digit())),
        c if SPECIAL.contains(c) => {
            let start = cur.pos;
            cur.next();
            Ok(&cur.s[start..cur.pos])
        }
        _ => Err(Unsupported),
    }
}

fn change_case(value: &str, upper: bool, all: bool) -> String {
    let convert = |c: char| -> String {
        if upper {
            c.to_uppercase().collect()
        } else {
            c.to_lowercase().collect()
        }
    };
    let mut chars = value.chars();
    if all {
        return chars.map(convert).collect();
    }
    match chars.next() {
        Some(first) => convert(first) + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vars {
        [
            ("HOME", "/root"),
            ("E1", "def"),
            ("EMPTY", ""),
            ("N", "3"),
            ("REF", "E1"),
            ("1", "first"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
    }

    fn x(text: &str) -> String {
        Expander::new(None, &env()).run(text)
    }

    #[test]
    fn plain_references() {
        assert_eq!(
            x("$HOME ${HOME} $E1{x} $UNSET. $HOME}"),
            "/root /root def{x} . /root}"
        );
        assert_eq!(
            x("$1 ${1} $10 $@ $# $? $- $! $$ a$$b"),
            "first first first0       ab"
        );
        assert_eq!(x("$ {HOME} $. $/ $-x $"), "$ {HOME} $. $/ x $");
    }

    #[test]
    fn quotes_are_ordinary_and_backslash_protects() {
        assert_eq!(x("'$HOME' \"$E1\""), "'/root' \"def\"");
        assert_eq!(
            x(r"\$HOME x\$HOME \\$HOME \x $HOME\"),
            r"\$HOME x\$HOME \\/root \x /root\"
        );
        assert_eq!(x(r"\${HOME}"), r"\${HOME}");
    }

    #[test]
    fn tilde_only_at_the_start() {
        assert_eq!(x("~/x"), "/root/x");
        assert_eq!(x("~"), "/root");
        assert_eq!(x("a~ x:~/y ~x"), "a~ x:~/y ~x");
        assert_eq!(x(" ~/x"), " ~/x");
        assert_eq!(Expander::new(None, &Vars::new()).run("~/x"), "~/x");
    }

    #[test]
    fn defaults_and_alternatives() {
        assert_eq!(
            x("${UNSET:-def}|${UNSET-d2}|${EMPTY:-e}|${EMPTY-e}"),
            "def|d2|e|"
        );
        assert_eq!(
            x("${HOME:+set}|${UNSET:+set}|${EMPTY+set}|${EMPTY:+set}"),
            "set||set|"
        );
        assert_eq!(
            x("${E1:-$HOME}|${UNSET:-${UNSET2:-nest}}|${UNSET:-${HOME}}"),
            "def|nest|/root"
        );
        assert_eq!(
            x("${UNSET:-a b  c}|${UNSET:-\"q $E1\"}|${UNSET:-'a $HOME'}"),
            "a b  c|q def|a $HOME"
        );
        assert_eq!(x(r"${UNSET:-a\}b}|${UNSET:-}"), r"a\}b|");
        assert_eq!(x("${HOME:-$(echo x)}"), "/root");
        assert_eq!(x("${HOME:=x}|${HOME:?x}"), "/root|/root");
    }

    #[test]
    fn lengths_substrings_indirection() {
        assert_eq!(x("${#HOME}|${#UNSET}|${#}"), "5|0|");
        assert_eq!(
            x("${HOME:0:2}|${HOME:1}|${HOME: -1}|${HOME:1:-1}|${HOME:10}|${HOME:-1}"),
            "/r|root|t|roo||/root"
        );
        assert_eq!(
            x("${HOME:1+1}|${HOME:a}|${HOME:N}|${HOME: -2:1}|${HOME:0:99}"),
            "oot|/root|ot|o|/root"
        );
        assert_eq!(
            x("${!REF}|${!UNSET}|${HOME[0]}|${HOME[@]}|${HOME[1]}"),
            "def||/root|/root|"
        );
    }

    #[test]
    fn patterns_and_case() {
        assert_eq!(
            x("${HOME#*o}|${HOME##*o}|${HOME%o*}|${HOME%%o*}"),
            "ot|t|/ro|/r"
        );
        assert_eq!(
            x("${HOME/[or]/_}|${HOME//?/x}|${HOME//o}|${HOME/#\\//S}"),
            "/_oot|xxxxx|/rt|/root"
        );
        assert_eq!(
            x("${HOME#\"/r\"}|${HOME#'*'}|${HOME/o*/X}"),
            "oot|/root|/rX"
        );
        assert_eq!(x("${E1^}|${E1^^}|${E1,}|${HOME,,}"), "Def|DEF|def|/root");
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            x("$((7/2)) $((2+3*4)) $((-(1+2))) $((10%3)) $((N*2)) $(($N+1))"),
            "3 14 -3 1 6 4"
        );
    }

    #[test]
    fn failures_fall_back_to_plain_replacement() {
        assert_eq!(x("${UNSET:?x} $HOME"), " /root");
        assert_eq!(x("${A:-x} $(y) $HOME"), " $(y) /root");
        assert_eq!(x("${UNSET:=asg}|${UNSET:-$(echo x)}"), "|");
        assert_eq!(x("${HOME"), "HOME");
        assert_eq!(x("${HOME.x} ${} $E1"), "  def");
        assert_eq!(x("`cmd` $E1 ${1}"), "`cmd` def first");
        assert_eq!(x("$((1/0)) ${HOME:x:}"), "$((1/0)) ");
    }

    #[test]
    fn fallback_like_go_os_expand() {
        let env = env();
        let fallback = |text: &str, env: &Vars| Expander::new(None, env).fallback(text);
        assert_eq!(
            fallback("${1}${@}$1$@ ${E1} $E1 ${E1:-d}", &env),
            "firstfirst def def "
        );
        assert_eq!(fallback("$ ${ $", &env), "$  $");
        assert_eq!(fallback("a$$b ${}x ${E1", &env), "ab x E1");
    }

    #[test]
    fn text_without_dollar_is_untouched() {
        assert_eq!(x("a 'b' \"c\" \\d * `e`"), "a 'b' \"c\" \\d * `e`");
    }
}
