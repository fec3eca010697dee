//! The `command` step type: local processes through a shell, directly, or as scripts.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use dagu_core::{Command, Shell, Step};
use dagu_eval::{Stages, expand};
use tokio::process::Command as Process;

use crate::executor::{BoxFuture, StepExecutor, StepInput, StepOutput};
use crate::process::{self, Exit, Interruption};

/// Runs `command:` lines and `script:` bodies as local processes.
pub struct CommandExecutor;

impl StepExecutor for CommandExecutor {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(run_step(input))
    }
}

/// How the step's shell is chosen (§8.1): step > DAG > `$SHELL` > `sh`; only an
/// implicit shell gets `-e`.
struct ShellChoice {
    program: String,
    args: Vec<String>,
    /// `shell: direct` — no shell, the command is split into argv.
    direct: bool,
    user_given: bool,
}

fn choose_shell(input: &StepInput) -> ShellChoice {
    let given: Option<&Shell> = input.step.shell.as_ref().or(input.run.dag.shell.as_ref());
    match given {
        Some(s) => ShellChoice {
            direct: s.program == "direct",
            program: s.program.clone(),
            args: s.args.clone(),
            user_given: true,
        },
        None => ShellChoice {
            program: input.run.settings.default_shell.clone(),
            args: Vec::new(),
            direct: false,
            user_given: false,
        },
    }
}

async fn run_step(input: &StepInput) -> StepOutput {
    let step: &Step = &input.step;
    let shell = choose_shell(input);
    let ctx = input.context();
    if let Some(script) = &step.script {
        let body = match expand(script, &ctx, Stages::SCRIPT) {
            Ok(b) => b,
            Err(e) => return StepOutput::failed(1, e.to_string()),
        };
        let command = match &step.command {
            Some(Command::Line(c)) => Some(c.as_str()),
            _ => None,
        };
        return run_script(input, &shell, &body, command).await;
    }
    let lines: Vec<&str> = match &step.command {
        Some(Command::Line(l)) => vec![l.as_str()],
        Some(Command::List(list)) => list.iter().map(String::as_str).collect(),
        None => return StepOutput::failed(1, "step has no command"),
    };
    let many = lines.len() > 1;
    let mut last = StepOutput::default();
    for (i, line) in lines.iter().enumerate() {
        let text = match expand(line, &ctx, Stages::COMMAND) {
            Ok(t) => t,
            Err(e) => return StepOutput::failed(1, e.to_string()),
        };
        let argv = if shell.direct {
            match dagu_eval::shell::split_words(&text) {
                Ok(w) if !w.is_empty() => w,
                Ok(_) => return StepOutput::failed(1, "empty command"),
                Err(e) => return StepOutput::failed(1, e.to_string()),
            }
        } else {
            shell_argv(&shell, &text)
        };
        last = execute(input, &argv, i > 0).await;
        if last.error.is_some() {
            if many && last.interrupted.is_none() {
                last.error = Some(format!(
                    "command {} failed: exit status {}",
                    i + 1,
                    last.exit_code
                ));
            }
            return last;
        }
    }
    last
}

/// The shell and its arguments, plus `-e` for an implicit POSIX shell (§8.1).
fn shell_with_errexit(shell: &ShellChoice, args: impl Iterator<Item = String>) -> Vec<String> {
    let mut argv = vec![shell.program.clone()];
    argv.extend(args);
    if !shell.user_given && is_posix_shell(&shell.program) && !argv.iter().any(|a| a == "-e") {
        argv.push("-e".into());
    }
    argv
}

/// `<shell> [args] [-e] -c <text>`.
fn shell_argv(shell: &ShellChoice, text: &str) -> Vec<String> {
    let mut argv = shell_with_errexit(shell, shell.args.iter().cloned());
    if !argv[1..].iter().any(|a| a == "-c") {
        argv.push("-c".into());
    }
    argv.push(text.to_string());
    argv
}

fn is_posix_shell(program: &str) -> bool {
    let name = Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program);
    matches!(
        name,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "mksh"
    )
}

/// Writes the script into the working directory and runs it.
async fn run_script(
    input: &StepInput,
    shell: &ShellChoice,
    body: &str,
    command: Option<&str>,
) -> StepOutput {
    let path = match write_script(&input.work_dir, body) {
        Ok(p) => p,
        Err(e) => return StepOutput::failed(1, format!("failed to write script: {e}")),
    };
    let script = path.to_string_lossy().into_owned();
    let argv = if let Some(cmd) = command {
        let mut words =
            dagu_eval::shell::split_words(cmd).unwrap_or_else(|_| vec![cmd.to_string()]);
        words.push(script);
        words
    } else if input.step.shell.is_none() && input.run.dag.shell.is_none() && body.starts_with("#!")
    {
        vec![script]
    } else {
        let args = shell.args.iter().filter(|a| *a != "-c").cloned();
        let mut argv = shell_with_errexit(shell, args);
        argv.push(script);
        argv
    };
    let out = execute(input, &argv, false).await;
    let _ = std::fs::remove_file(&path);
    out
}

fn write_script(dir: &Path, body: &str) -> std::io::Result<PathBuf> {
    for _ in 0..16 {
        let path = dir.join(format!("dagu_script-{:08x}.sh", rand::random::<u32>()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(body.as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("could not pick a script file name"))
}

/// Spawns one process with the step's env and logs; `append` keeps earlier output of the
/// same step (command lists).
async fn execute(input: &StepInput, argv: &[String], append: bool) -> StepOutput {
    let (stdout, stderr) = match open_logs(input, append) {
        Ok(files) => files,
        Err(e) => return StepOutput::failed(1, format!("failed to open log files: {e}")),
    };
    let mut cmd = Process::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(input.env.iter())
        .env("PWD", &input.work_dir)
        .current_dir(&input.work_dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    match process::run(cmd, &input.stop, input.timeout, input.stop_policy).await {
        Ok(exit) => outcome(input, exit),
        Err(e) => StepOutput::failed(1, format!("failed to start '{}': {e}", argv[0])),
    }
}

fn open_logs(input: &StepInput, append: bool) -> std::io::Result<(File, File)> {
    let open = |p: &Path| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .mode(0o600)
            .open(p)
    };
    if !append {
        File::create(&input.stdout_log)?;
        if input.stderr_log != input.stdout_log {
            File::create(&input.stderr_log)?;
        }
    }
    let out = open(&input.stdout_log)?;
    let err = if input.stderr_log == input.stdout_log {
        out.try_clone()?
    } else {
        open(&input.stderr_log)?
    };
    Ok((out, err))
}

/// How many lines of stderr a failure message carries.
const STDERR_TAIL_LINES: usize = 10;

/// The last lines of the step's stderr (nothing when stderr is merged into stdout).
fn stderr_tail(input: &StepInput) -> String {
    if input.stderr_log == input.stdout_log {
        return String::new();
    }
    let text = std::fs::read_to_string(&input.stderr_log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

fn outcome(input: &StepInput, exit: Exit) -> StepOutput {
    let error = match (exit.interrupted, exit.signal) {
        (Some(Interruption::TimedOut), _) => Some(format!(
            "step timed out after {}s (timeout: {}s)",
            input.timeout.map_or(0, |t| t.as_secs()),
            input.timeout.map_or(0, |t| t.as_secs())
        )),
        (_, Some(sig)) => Some(format!("signal: {}", process::signal_description(sig))),
        // Stopped on request: aborted, even when the step exited cleanly on the signal.
        (Some(Interruption::Stopped), None) if exit.code == 0 => Some("stopped on request".into()),
        (Some(Interruption::Stopped), None) => Some(format!("exit status {}", exit.code)),
        (_, None) if exit.code != 0 => {
            let mut error = format!(
                "failed to execute step \"{}\": exit status {}",
                input.step.name, exit.code
            );
            let tail = stderr_tail(input);
            if !tail.is_empty() {
                error.push_str("\nrecent stderr (tail):\n");
                error.push_str(&tail);
            }
            Some(error)
        }
        _ => None,
    };
    StepOutput {
        exit_code: exit.code,
        error,
        interrupted: exit.interrupted,
        ..Default::default()
    }
}
