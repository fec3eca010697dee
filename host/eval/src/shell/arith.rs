//! Integer arithmetic for `$((...))` and `${V:offset:length}`.
//!
//! Supports decimal numbers, variables (`N`, `$N`, `${N}`; unset, empty or non-numeric is 0),
//! unary `+`/`-`, `* / %`, `+ -` and parentheses. Anything else or a division by zero gives
//! `None`.

/// Evaluate `expr`, reading variables through `lookup`.
pub(super) fn eval<'v>(expr: &str, lookup: impl Fn(&str) -> Option<&'v str>) -> Option<i64> {
    let tokens = tokenize(expr, lookup)?;
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
    };
    let value = parser.sum()?;
    (parser.pos == tokens.len()).then_some(value)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Num(i64),
    Op(char),
}

fn tokenize<'v>(expr: &str, lookup: impl Fn(&str) -> Option<&'v str>) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = expr.trim_start();
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            tokens.push(Token::Num(rest[..len].parse().ok()?));
            rest = &rest[len..];
        } else if c == '$' || c.is_ascii_alphabetic() || c == '_' {
            let (name, after) = variable(rest)?;
            tokens.push(Token::Num(variable_value(lookup(name))));
            rest = after;
        } else if "+-*/%()".contains(c) {
            tokens.push(Token::Op(c));
            rest = &rest[1..];
        } else {
            return None;
        }
        rest = rest.trim_start();
    }
    Some(tokens)
}

/// `NAME`, `$NAME` or `${NAME}` at the start of `s`: the name and what follows.
fn variable(s: &str) -> Option<(&str, &str)> {
    let (braced, s) = match s.strip_prefix('$') {
        Some(rest) => match rest.strip_prefix('{') {
            Some(inner) => (true, inner),
            None => (false, rest),
        },
        None => (false, s),
    };
    let len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    if len == 0 {
        return None;
    }
    let after = &s[len..];
    let after = if braced {
        after.strip_prefix('}')?
    } else {
        after
    };
    Some((&s[..len], after))
}

/// A variable's numeric value: unset, empty or non-numeric is 0.
fn variable_value(value: Option<&str>) -> i64 {
    value.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek_op(&self) -> Option<char> {
        match self.tokens.get(self.pos) {
            Some(Token::Op(c)) => Some(*c),
            _ => None,
        }
    }

    fn sum(&mut self) -> Option<i64> {
        let mut value = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek_op() {
            self.pos += 1;
            let rhs = self.product()?;
            value = if op == '+' {
                value.wrapping_add(rhs)
            } else {
                value.wrapping_sub(rhs)
            };
        }
        Some(value)
    }

    fn product(&mut self) -> Option<i64> {
        let mut value = self.unary()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek_op() {
            self.pos += 1;
            let rhs = self.unary()?;
            value = match op {
                '*' => value.wrapping_mul(rhs),
                '/' => value.checked_div(rhs)?,
                _ => value.checked_rem(rhs)?,
            };
        }
        Some(value)
    }

    fn unary(&mut self) -> Option<i64> {
        match self.tokens.get(self.pos)? {
            Token::Op('+') => {
                self.pos += 1;
                self.unary()
            }
            Token::Op('-') => {
                self.pos += 1;
                self.unary().map(i64::wrapping_neg)
            }
            Token::Op('(') => {
                self.pos += 1;
                let value = self.sum()?;
                (self.peek_op() == Some(')')).then(|| self.pos += 1)?;
                Some(value)
            }
            Token::Num(n) => {
                self.pos += 1;
                Some(*n)
            }
            Token::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::eval;
    use crate::Vars;

    fn env() -> Vars {
        [("N", "3"), ("E", ""), ("W", " 4 "), ("S", "abc")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn e(expr: &str) -> Option<i64> {
        let env = env();
        eval(expr, |n| env.get(n))
    }

    #[test]
    fn precedence_and_parentheses() {
        assert_eq!(e("2+3*4"), Some(14));
        assert_eq!(e("(2+3)*4"), Some(20));
        assert_eq!(e(" 7 / 2 "), Some(3));
        assert_eq!(e("10%3"), Some(1));
        assert_eq!(e("-(1+2)"), Some(-3));
        assert_eq!(e("--1"), Some(1));
        assert_eq!(e("1-2-3"), Some(-4));
    }

    #[test]
    fn variables() {
        assert_eq!(e("N*2"), Some(6));
        assert_eq!(e("$N+${N}"), Some(6));
        assert_eq!(e("UNSET+E+1"), Some(1));
        assert_eq!(e("W"), Some(4));
        assert_eq!(e("S+1"), Some(1));
    }

    #[test]
    fn errors() {
        for expr in ["", "1/0", "1%0", "(1", "1)", "1 2", "1 < 2", "${N", "+"] {
            assert_eq!(e(expr), None, "{expr}");
        }
    }
}
