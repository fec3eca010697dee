//! The §5.6 expansion pipeline.
//!
//! 1. quoted references `"${N}"` -> escaped double-quoted literal;
//! 2. JSON paths `${N.path}` / `$N.path` and step references `${id.stdout}`;
//! 3. plain references `${N}` / `$N` of known variables (not when a single quote touches them);
//! 4. backticks `` `cmd` ``;
//! 5. shell-style expansion against the full environment.
//!
//! Stages 1-3 only replace what Dagu knows and leave everything else for the shell.

use std::collections::HashMap;
use std::path::Path;

use crate::{EvalError, Vars, backtick, refs, shell};

/// What a step reference (`${id.stdout}`, `${id.stderr}`, `${id.exitCode}`) resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepRef {
    /// Path of the step's stdout log file.
    pub stdout: String,
    /// Path of the step's stderr log file.
    pub stderr: String,
    /// The step's exit code.
    pub exit_code: i32,
}

/// Which stages of §5.6 run.
#[derive(Clone, Copy, Debug)]
pub struct Stages {
    /// Stage 1: `"${N}"` -> escaped, double-quoted literal.
    pub quoted_refs: bool,
    /// Stage 2: JSON paths and step references.
    pub json_paths: bool,
    /// Stage 3: `${N}` / `$N` of known variables.
    pub plain_refs: bool,
    /// Stage 4: backtick command substitution.
    pub backticks: bool,
    /// Stage 5: shell-style expansion against the environment.
    pub shell: bool,
}

impl Stages {
    /// 1-5: env values, params, workingDir, stdout/stderr paths, preconditions, non-shell executors.
    pub const ALL: Stages = Stages {
        quoted_refs: true,
        json_paths: true,
        plain_refs: true,
        backticks: true,
        shell: true,
    };
    /// 1-4: command text of command steps run through a shell.
    pub const COMMAND: Stages = Stages {
        shell: false,
        ..Stages::ALL
    };
    /// 1-3: script bodies of command steps.
    pub const SCRIPT: Stages = Stages {
        backticks: false,
        ..Stages::COMMAND
    };
}

/// What an expansion can see.
pub struct Context<'a> {
    /// Variables Dagu knows (params incl. positional "1","2"…, upstream outputs, step env, DAG_* specials): stages 1-3.
    pub known: &'a Vars,
    /// Step references by step id: ${id.stdout} ${id.stderr} ${id.exitCode} / ${id.exit_code}, with ${id.stdout:0:4} slicing.
    pub step_refs: &'a HashMap<String, StepRef>,
    /// The full environment: JSON-path fallback to host variables (stage 2), stage 5, and the env of backtick commands.
    /// (Stage 5 reads `known` first, then `env`.)
    pub env: &'a Vars,
    /// The environment backtick commands run with: only what steps may see, never the
    /// unfiltered host environment (which may hold secrets).
    pub command_env: &'a Vars,
    /// Working directory for backtick commands (None = current dir).
    pub work_dir: Option<&'a Path>,
}

/// One of stages 1-3: the rewritten text, or `None` when nothing changed.
type RefStage = fn(&str, &Context) -> Option<String>;

/// Run the selected stages over `text`. Only backtick failures are errors.
pub fn expand(text: &str, ctx: &Context, stages: Stages) -> Result<String, EvalError> {
    let mut text = text.to_string();
    let refs: [(bool, RefStage); 3] = [
        (stages.quoted_refs, refs::quoted),
        (stages.json_paths, refs::json_paths),
        (stages.plain_refs, refs::plain),
    ];
    for (enabled, stage) in refs {
        if enabled
            && text.contains('$')
            && let Some(changed) = stage(&text, ctx)
        {
            text = changed;
        }
    }
    if stages.backticks && text.contains('`') {
        text = backtick::substitute(&text, ctx.command_env, ctx.work_dir)?;
    }
    if stages.shell {
        text = shell::expand_shell_layered(&text, ctx.known, ctx.env);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from(pairs)
    }

    fn run(text: &str, known: &Vars, env: &Vars, stages: Stages) -> String {
        let steps = HashMap::from([(
            "first".to_string(),
            StepRef {
                stdout: "/l/first.out".into(),
                stderr: "/l/first.err".into(),
                exit_code: 2,
            },
        )]);
        let ctx = Context {
            known,
            step_refs: &steps,
            env,
            command_env: env,
            work_dir: None,
        };
        expand(text, &ctx, stages).unwrap()
    }

    fn env() -> Vars {
        vars(&[
            ("PATH", &std::env::var("PATH").unwrap_or_default()),
            ("HOME", "/root"),
            ("FOO", "bar"),
        ])
    }

    #[test]
    fn command_text_leaves_unknown_and_quoted_for_the_shell() {
        let known = vars(&[("N", "val")]);
        let out = run(
            r#"echo '$FOO' '${FOO}' "$FOO" "${FOO}" $N '$N' `echo tick` $$"#,
            &known,
            &env(),
            Stages::COMMAND,
        );
        assert_eq!(
            out,
            r#"echo '$FOO' '${FOO}' "$FOO" "${FOO}" val '$N' tick $$"#
        );
    }

    #[test]
    fn script_skips_backticks() {
        let known = vars(&[("LINES", "alpha\nbeta")]);
        let out = run(
            "printf '%s' \"$LINES\" `date`",
            &known,
            &env(),
            Stages::SCRIPT,
        );
        assert_eq!(out, "printf '%s' \"alpha\nbeta\" `date`");
    }

    #[test]
    fn later_stages_see_earlier_replacements() {
        let known = vars(&[
            ("N", "val"),
            ("OUT", "$N `echo injected`"),
            ("J", r#"{"s":"$N"}"#),
        ]);
        assert_eq!(
            run(r#""${OUT}""#, &known, &env(), Stages::SCRIPT),
            r#""val `echo injected`""#
        );
        assert_eq!(run("${J.s}", &known, &env(), Stages::SCRIPT), "val");
        assert_eq!(
            run("x ${OUT} x", &known, &env(), Stages::SCRIPT),
            "x $N `echo injected` x"
        );
        assert_eq!(
            run("'x ${OUT} '", &known, &env(), Stages::COMMAND),
            "'x $N injected '"
        );
    }

    #[test]
    fn all_stages_expand_the_environment() {
        let known = vars(&[("BATCH", "QX7Z2_batch_0419")]);
        let env = env();
        assert_eq!(
            run("${BATCH:0:5}|${BATCH:6}", &known, &env, Stages::ALL),
            "QX7Z2|batch_0419"
        );
        assert_eq!(
            run("${UNSET:-logs-default} $HOME", &known, &env, Stages::ALL),
            "logs-default /root"
        );
        assert_eq!(
            run("'$FOO' \\$FOO", &known, &env, Stages::ALL),
            "'bar' \\$FOO"
        );
        assert_eq!(run("`echo $FOO`-x", &known, &env, Stages::ALL), "bar-x");
    }

    #[test]
    fn json_output_fields_in_command_text() {
        let known = vars(&[(
            "CFG",
            r#"{"server": {"host": "db.local", "ports": [5432, 6543]}, "replicas": 3}"#,
        )]);
        let out = run(
            r#"echo "${CFG.server.host}:${CFG.server.ports[1]} x${CFG.replicas}" > cfg.txt"#,
            &known,
            &env(),
            Stages::COMMAND,
        );
        assert_eq!(out, r#"echo "db.local:6543 x3" > cfg.txt"#);
    }

    #[test]
    fn step_refs_through_the_pipeline() {
        let known = Vars::new();
        let out = run(
            "code=${first.exitCode} cat \"${first.stdout}\" ${first.stderr:0:2}",
            &known,
            &env(),
            Stages::COMMAND,
        );
        assert_eq!(out, "code=2 cat \"/l/first.out\" /l");
    }

    #[test]
    fn plain_text_is_returned_unchanged() {
        let known = vars(&[("N", "val")]);
        assert_eq!(
            run("echo hello > f.txt", &known, &env(), Stages::ALL),
            "echo hello > f.txt"
        );
    }

    #[test]
    fn backtick_failure_is_an_error() {
        let known = Vars::new();
        let env = env();
        let steps = HashMap::new();
        let ctx = Context {
            known: &known,
            step_refs: &steps,
            env: &env,
            command_env: &env,
            work_dir: None,
        };
        assert!(matches!(
            expand("x `exit 1`", &ctx, Stages::COMMAND),
            Err(EvalError::Backtick { .. })
        ));
    }
}
