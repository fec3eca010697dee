//! Stage 5 (shell-style expansion) and shell-like word splitting.
//!
//! [`expand_shell`] follows what Dagu 1.30.2 does with its embedded shell interpreter: the text
//! is read like a here-document (quotes are ordinary characters, a backslash keeps itself and
//! protects the next `$`, `` ` `` or `\`), `~` at the very start is the home directory, and
//! parameter expansions support `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:off[:len]}`
//! (arithmetic), `${#V}`, `${!V}`, `${V#p}` `${V##p}` `${V%p}` `${V%%p}` `${V/p/r}` `${V//p/r}`
//! (glob patterns), `${V^}` `${V^^}` `${V,}` `${V,,}` and `$((arithmetic))`.
//! Whenever the interpreter would fail (`$(cmd)`, a backtick, `${V:?msg}` or `${V:=w}` on an
//! unset variable, bad syntax) the whole text falls back to plain `$NAME` / `${NAME}`
//! replacement, where anything unknown (including `${V:-d}`) becomes empty.

mod arith;
mod glob;

use crate::{EvalError, Vars};

/// Stage 5: POSIX-shell-style expansion against `env`: $V ${V} ${V:-d} ${V-d} ${V:+x} ${V:off} ${V:off:len} ${#V}; undefined -> empty.
pub fn expand_shell(text: &str, env: &Vars) -> String {
    Expander { known: None, env }.run(text)
}

/// [`expand_shell`] reading `known` before `env` (the plain-replacement fallback reads `env` only,
/// as Dagu's fallback reads only its process environment).
pub(crate) fn expand_shell_layered(text: &str, known: &Vars, env: &Vars) -> String {
    Expander {
        known: Some(known),
        env,
    }
    .run(text)
}

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

/// Special parameters (`$@`, `$?`...): always empty here.
const SPECIAL: &str = "@*#?-!$";

/// The interpreter cannot handle the text; use [`fallback`].
struct Unsupported;

type Res<T> = Result<T, Unsupported>;

/// Position in a string being parsed.
struct Cursor<'s> {
    s: &'s str,
    pos: usize,
}

impl<'s> Cursor<'s> {
    fn new(s: &'s str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'s str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    fn expect(&mut self, c: char) -> Res<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(Unsupported)
        }
    }

    /// Take characters while `keep` holds.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'s str {
        let rest = self.rest();
        let len = rest.find(|c| !keep(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// Take everything up to the next `end` and step over it.
    fn take_until(&mut self, end: char) -> Res<&'s str> {
        let rest = self.rest();
        let len = rest.find(end).ok_or(Unsupported)?;
        self.pos += len + end.len_utf8();
        Ok(&rest[..len])
    }

    /// Take a word up to the first unquoted, unnested character of `stops` and step over it;
    /// returns the word and the stop character.
    fn take_word(&mut self, stops: &[char]) -> Res<(&'s str, char)> {
        let start = self.pos;
        loop {
            let c = self.next().ok_or(Unsupported)?;
            match c {
                c if stops.contains(&c) => {
                    return Ok((&self.s[start..self.pos - c.len_utf8()], c));
                }
                '\\' => {
                    self.next();
                }
                '\'' => {
                    self.take_until('\'')?;
                }
                '`' => {
                    self.take_until('`')?;
                }
                '"' => self.skip_double_quoted()?,
                '$' if self.eat('{') => {
                    self.take_word(&['}'])?;
                }
                '$' if self.eat('(') => self.skip_parens()?,
                _ => {}
            }
        }
    }

    /// Skip the rest of a double-quoted string (opening quote already taken).
    fn skip_double_quoted(&mut self) -> Res<()> {
        loop {
            match self.next().ok_or(Unsupported)? {
                '"' => return Ok(()),
                '\\' => {
                    self.next();
                }
                '$' if self.eat('{') => {
                    self.take_word(&['}'])?;
                }
                _ => {}
            }
        }
    }

    /// Skip to the `)` closing an already opened `(`.
    fn skip_parens(&mut self) -> Res<()> {
        let mut depth = 1;
        while depth > 0 {
            match self.next().ok_or(Unsupported)? {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Expands against `known` (if any), then `env`.
struct Expander<'e> {
    known: Option<&'e Vars>,
    env: &'e Vars,
}

impl<'e> Expander<'e> {
    fn run(&self, text: &str) -> String {
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
        expand_shell(text, &env())
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
        assert_eq!(expand_shell("~/x", &Vars::new()), "~/x");
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
        let fallback = |text: &str, env: &Vars| Expander { known: None, env }.fallback(text);
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
