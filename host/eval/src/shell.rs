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
mod cursor;
mod expander;
mod glob;
mod words;

pub use words::split_words;

use crate::Vars;
use expander::Expander;

/// Stage 5: POSIX-shell-style expansion against `env`: $V ${V} ${V:-d} ${V-d} ${V:+x} ${V:off} ${V:off:len} ${#V}; undefined -> empty.
pub fn expand_shell(text: &str, env: &Vars) -> String {
    Expander::new(None, env).run(text)
}

/// [`expand_shell`] reading `known` before `env` (the plain-replacement fallback reads `env` only,
/// as Dagu's fallback reads only its process environment).
pub(crate) fn expand_shell_layered(text: &str, known: &Vars, env: &Vars) -> String {
    Expander::new(Some(known), env).run(text)
}
