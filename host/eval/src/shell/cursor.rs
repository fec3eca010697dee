//! A position in text being parsed, with the scanning helpers the expander needs.

/// The interpreter cannot handle the text; the caller falls back to plain replacement.
pub(super) struct Unsupported;

/// Result of a parsing step.
pub(super) type Res<T> = Result<T, Unsupported>;

/// Position in a string being parsed.
pub(super) struct Cursor<'s> {
    /// The whole text.
    pub(super) s: &'s str,
    /// Byte offset of the next character.
    pub(super) pos: usize,
}

impl<'s> Cursor<'s> {
    pub(super) fn new(s: &'s str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(super) fn rest(&self) -> &'s str {
        &self.s[self.pos..]
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    pub(super) fn expect(&mut self, c: char) -> Res<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(Unsupported)
        }
    }

    /// Take characters while `keep` holds.
    pub(super) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'s str {
        let rest = self.rest();
        let len = rest.find(|c| !keep(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// Take everything up to the next `end` and step over it.
    pub(super) fn take_until(&mut self, end: char) -> Res<&'s str> {
        let rest = self.rest();
        let len = rest.find(end).ok_or(Unsupported)?;
        self.pos += len + end.len_utf8();
        Ok(&rest[..len])
    }

    /// Take a word up to the first unquoted, unnested character of `stops` and step over it;
    /// returns the word and the stop character.
    pub(super) fn take_word(&mut self, stops: &[char]) -> Res<(&'s str, char)> {
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
    pub(super) fn skip_double_quoted(&mut self) -> Res<()> {
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
    pub(super) fn skip_parens(&mut self) -> Res<()> {
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
