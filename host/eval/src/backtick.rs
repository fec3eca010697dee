//! Stage 4: command substitution with backticks.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{EvalError, Vars};

/// How much of a failing command's stderr goes into the error.
const STDERR_TAIL: usize = 1024;

/// Run `sh -c command` with exactly `env` (env_clear first) in `dir`; return stdout with surrounding whitespace trimmed.
/// Non-zero exit -> EvalError::Backtick with the stderr tail.
pub fn run(command: &str, env: &Vars, dir: Option<&Path>) -> Result<String, EvalError> {
    let fail = |reason: String| EvalError::Backtick {
        command: command.to_string(),
        reason,
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .envs(env.iter())
        .stdin(Stdio::null());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let output = cmd.output().map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        let status = match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        let tail = &stderr[floor_char_boundary(stderr, stderr.len().saturating_sub(STDERR_TAIL))..];
        return Err(fail(if tail.is_empty() {
            status
        } else {
            format!("{status}: {tail}")
        }));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Replace every `cmd` (backtick-quoted) span in text with run(cmd).
///
/// A backtick preceded by a backslash is not a delimiter and stays as written (backslash
/// included); an empty pair ` `` ` and an unpaired backtick stay as written too, except that
/// an unpaired backtick ending the text disappears (as in Dagu: `` a` `` gives `a`).
pub fn substitute(text: &str, env: &Vars, dir: Option<&Path>) -> Result<String, EvalError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = find_delimiter(rest, 0) {
        let Some(close) = find_delimiter(rest, open + 1) else {
            if open + 1 == rest.len() {
                rest = &rest[..open];
            }
            break;
        };
        let command = &rest[open + 1..close];
        if command.is_empty() {
            out.push_str(&rest[..=close]);
        } else {
            out.push_str(&rest[..open]);
            out.push_str(&run(command, env, dir)?);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Remove empty backtick pairs (` `` `), pairing backticks like [`substitute`] does. Dagu
/// runs the empty commands of quoted and backtick tokens of a params string (giving nothing),
/// while elsewhere ` `` ` stays as written.
pub(crate) fn drop_empty_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = find_delimiter(rest, 0) {
        let Some(close) = find_delimiter(rest, open + 1) else {
            break;
        };
        out.push_str(&rest[..open]);
        if close > open + 1 {
            out.push_str(&rest[open..=close]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Byte position of the first backtick at or after `from` that is not escaped by a backslash.
fn find_delimiter(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    (from..bytes.len()).find(|&i| bytes[i] == b'`' && (i == 0 || bytes[i - 1] != b'\\'))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vars {
        let mut v = Vars::new();
        v.set("PATH", std::env::var("PATH").unwrap_or_default());
        v.set("GREETING", "hi there");
        v
    }

    #[test]
    fn run_trims_and_uses_only_the_given_env() {
        assert_eq!(run("printf '  a b \\n\\n'", &env(), None).unwrap(), "a b");
        assert_eq!(run("echo \"$GREETING\"", &env(), None).unwrap(), "hi there");
        assert_eq!(run("echo \"[$HOME]\"", &env(), None).unwrap(), "[]");
        assert_eq!(run("printf 'l1\\nl2\\n'", &env(), None).unwrap(), "l1\nl2");
    }

    #[test]
    fn run_uses_the_directory() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let out = run("pwd -P", &env(), Some(&dir)).unwrap();
        assert_eq!(out, dir.to_string_lossy());
    }

    #[test]
    fn run_failure_reports_status_and_stderr_tail() {
        let err = run("echo out; echo oops >&2; exit 3", &env(), None).unwrap_err();
        assert_eq!(
            err,
            EvalError::Backtick {
                command: "echo out; echo oops >&2; exit 3".into(),
                reason: "exit status 3: oops".into(),
            }
        );
        let err = run("exit 4", &env(), None).unwrap_err();
        assert!(matches!(err, EvalError::Backtick { reason, .. } if reason == "exit status 4"));
    }

    #[test]
    fn run_failure_to_start_is_an_error() {
        let missing = Path::new("/nonexistent-dagu-eval-dir");
        assert!(matches!(
            run("true", &env(), Some(missing)),
            Err(EvalError::Backtick { .. })
        ));
    }

    #[test]
    fn substitute_replaces_each_pair() {
        let s = |t: &str| substitute(t, &env(), None).unwrap();
        assert_eq!(s("`echo hello`-world"), "hello-world");
        assert_eq!(s("`echo 1` and `echo 2`"), "1 and 2");
        assert_eq!(s("[`printf '\\t x \\t'`]"), "[x]");
        assert_eq!(s("no ticks"), "no ticks");
    }

    #[test]
    fn substitute_leaves_escaped_empty_and_unpaired() {
        let s = |t: &str| substitute(t, &env(), None).unwrap();
        assert_eq!(s(r"\`echo 1\`"), r"\`echo 1\`");
        assert_eq!(s("x``y"), "x``y");
        assert_eq!(s("a`b"), "a`b");
        assert_eq!(s("a` "), "a` ");
        assert_eq!(s("a`"), "a");
        assert_eq!(s("`"), "");
        assert_eq!(s("a``"), "a``");
        assert_eq!(s("a```"), "a``");
        assert_eq!(s("`echo a` tail`"), "a tail");
        assert_eq!(s("a`echo b`c`d"), "abc`d");
        assert_eq!(s("` `echo t`"), "echo t");
        assert_eq!(s(r"a\`"), r"a\`");
    }

    #[test]
    fn drop_empty_pairs_keeps_commands() {
        assert_eq!(drop_empty_pairs("x``y"), "xy");
        assert_eq!(drop_empty_pairs("a``b``c"), "abc");
        assert_eq!(drop_empty_pairs("`echo a``echo b`"), "`echo a``echo b`");
        assert_eq!(drop_empty_pairs("``echo t`"), "echo t`");
        assert_eq!(drop_empty_pairs(r"\``"), r"\``");
        assert_eq!(drop_empty_pairs("plain"), "plain");
    }

    #[test]
    fn substitute_propagates_failure() {
        assert!(substitute("x `false` y", &env(), None).is_err());
    }
}
