//! Running a command in a running container (`docker exec`), with its output streamed into
//! the step's logs, its exit code returned, and a way to stop it on cancel.
//!
//! Docker has no API to kill an exec'd process. So the command runs as
//! `sh -c 'echo "@dagu-exec-pid=$$" >&2; exec "$@"' sh CMD...`: the shell reports its pid
//! (which the command keeps, since the shell `exec`s it) as the first stderr line, which
//! the plugin takes out of the log. Exec'd processes lead their own process group and
//! session, so on cancel a second exec runs `kill -TERM -PID` (the whole group), then
//! `kill -KILL -PID` after a grace of two seconds. An image without `sh` shows up as a
//! failed start without the pid line; the command then runs directly, and a cancel can
//! only signal the process through its host pid when the engine runs on this machine and
//! this process may signal it (else the process is left to finish, and the step still
//! ends as cancelled).

use std::time::Duration;

use bollard::Docker as Client;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use dagu_plugin_sdk::{RunContext, RunError};
use futures::StreamExt;

use crate::engine::{Engine, Lines, Stream, cancelled, emit, frame, status};

/// The first line of stderr the wrapper shell writes.
const MARKER: &str = "@dagu-exec-pid=";

/// The wrapper script (`$@` = the command).
const WRAPPER: &str = r#"echo "@dagu-exec-pid=$$" >&2; exec "$@""#;

/// How long a signalled process gets before the next, stronger signal.
const GRACE: Duration = Duration::from_secs(2);

/// Runs `argv` in the running container `container` with `options` (user, working
/// directory, env...); returns its exit code, or `Cancelled` once it was stopped.
pub(crate) async fn run(
    engine: &Engine,
    container: &str,
    argv: &[String],
    options: &ExecConfig,
    ctx: &RunContext,
) -> Result<i64, RunError> {
    let mut wrapped = vec![
        "sh".to_string(),
        "-c".to_string(),
        WRAPPER.to_string(),
        "sh".to_string(),
    ];
    wrapped.extend(argv.iter().cloned());
    match attempt(engine, container, &wrapped, true, options, ctx).await? {
        Attempt::Done(code) => Ok(code),
        // No shell in the image: run the command itself.
        Attempt::NoShell => match attempt(engine, container, argv, false, options, ctx).await? {
            Attempt::Done(code) => Ok(code),
            Attempt::NoShell => unreachable!("only wrapped attempts report a missing shell"),
        },
    }
}

enum Attempt {
    Done(i64),
    /// The wrapper shell did not start (its pid line never came and the exec failed to
    /// start its program).
    NoShell,
}

/// What the output of a wrapped exec showed so far.
enum Marker {
    /// Not seen yet: lines are held back (stdout may overtake the pid line).
    Waiting(Vec<(Stream, String)>),
    Seen(u32),
    /// Not wrapped, or the first stderr line was something else.
    Absent(Vec<(Stream, String)>),
}

async fn attempt(
    engine: &Engine,
    container: &str,
    argv: &[String],
    wrapped: bool,
    options: &ExecConfig,
    ctx: &RunContext,
) -> Result<Attempt, RunError> {
    let client = engine.client().await?;
    let config = ExecConfig {
        cmd: Some(argv.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(false),
        tty: Some(false),
        ..options.clone()
    };
    let exec = client
        .create_exec(container, config)
        .await
        .map_err(|e| exec_error(engine, container, e))?
        .id;
    let started = client.start_exec(&exec, None::<StartExecOptions>).await;
    let mut output = match started {
        Ok(StartExecResults::Attached { output, .. }) => output,
        Ok(StartExecResults::Detached) => {
            return Err(RunError::internal("the exec started detached"));
        }
        Err(e) if wrapped && missing_program(&crate::engine::short(&e)) => {
            return Ok(Attempt::NoShell);
        }
        Err(e) => return Err(exec_error(engine, container, e)),
    };
    let mut lines = Lines::default();
    let mut marker = if wrapped {
        Marker::Waiting(Vec::new())
    } else {
        Marker::Absent(Vec::new())
    };
    let mut passing = !wrapped;
    let handle = |stream: Stream, line: String, marker: &mut Marker, passing: &mut bool| {
        if *passing {
            emit(ctx, stream, &line);
            return;
        }
        match marker {
            Marker::Waiting(held) => {
                if stream == Stream::Err {
                    if let Some(pid) = line.strip_prefix(MARKER).and_then(|p| p.parse().ok()) {
                        for (s, l) in held.drain(..) {
                            emit(ctx, s, &l);
                        }
                        *marker = Marker::Seen(pid);
                        *passing = true;
                        return;
                    }
                    let mut held = std::mem::take(held);
                    held.push((stream, line));
                    *marker = Marker::Absent(held);
                    return;
                }
                held.push((stream, line));
            }
            Marker::Absent(held) => held.push((stream, line)),
            Marker::Seen(_) => emit(ctx, stream, &line),
        }
    };
    loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(out)) => {
                    if let Some((stream, bytes)) = frame(&out) {
                        for line in lines.push(stream, bytes) {
                            handle(stream, line, &mut marker, &mut passing);
                        }
                    }
                }
                // The connection ended (or broke): the process is done or gone.
                Some(Err(_)) | None => break,
            },
            _ = cancelled(ctx) => {
                let pid = match &marker {
                    Marker::Seen(pid) => Some(*pid),
                    _ => None,
                };
                stop(client, container, &exec, pid).await;
                // Give the output a moment to end, then report the cancel.
                let _ = tokio::time::timeout(GRACE, async {
                    while let Some(Ok(out)) = output.next().await {
                        if let Some((stream, bytes)) = frame(&out) {
                            for line in lines.push(stream, bytes) {
                                handle(stream, line, &mut marker, &mut passing);
                            }
                        }
                    }
                })
                .await;
                for (stream, line) in lines.finish() {
                    handle(stream, line, &mut marker, &mut passing);
                }
                flush(ctx, marker);
                return Err(RunError::Cancelled);
            }
        }
    }
    for (stream, line) in lines.finish() {
        handle(stream, line, &mut marker, &mut passing);
    }
    let code = exit_code(client, &exec)
        .await
        .map_err(|e| engine.error("inspecting the exec", e))?;
    if wrapped
        && matches!(marker, Marker::Waiting(_) | Marker::Absent(_))
        && (code == 126 || code == 127)
    {
        return Ok(Attempt::NoShell);
    }
    flush(ctx, marker);
    Ok(Attempt::Done(code))
}

/// Emits lines still held back.
fn flush(ctx: &RunContext, marker: Marker) {
    if let Marker::Waiting(held) | Marker::Absent(held) = marker {
        for (stream, line) in held {
            emit(ctx, stream, &line);
        }
    }
}

/// The exec's exit code, once the engine has recorded it.
async fn exit_code(client: &Client, exec: &str) -> Result<i64, bollard::errors::Error> {
    // The output ends when the process exits; the engine records the exit code right
    // after, so an exec still shown running is asked again shortly.
    for _ in 0..500 {
        let inspect = client.inspect_exec(exec).await?;
        if inspect.running != Some(true) {
            return Ok(inspect.exit_code.unwrap_or(-1));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(client.inspect_exec(exec).await?.exit_code.unwrap_or(-1))
}

/// Whether an engine message says the program to exec was not found.
fn missing_program(message: &str) -> bool {
    message.contains("executable file not found") || message.contains("no such file or directory")
}

/// Stops the exec'd process: TERM to its process group, KILL after the grace.
async fn stop(client: &Client, container: &str, exec: &str, pid: Option<u32>) {
    let Some(pid) = pid else {
        stop_by_host_pid(client, exec).await;
        return;
    };
    for signal in ["TERM", "KILL"] {
        let script =
            format!("kill -{signal} -{pid} 2>/dev/null || kill -{signal} {pid} 2>/dev/null; true");
        let kill = ExecConfig {
            cmd: Some(vec!["sh".into(), "-c".into(), script]),
            user: Some("0".into()),
            ..Default::default()
        };
        if let Ok(created) = client.create_exec(container, kill).await {
            let _ = client
                .start_exec(
                    &created.id,
                    Some(StartExecOptions {
                        detach: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
        if ended(client, exec, GRACE).await {
            return;
        }
    }
}

/// Without the pid line: signal the process through its host pid, which works when the
/// engine runs on this machine and this process may signal it.
async fn stop_by_host_pid(client: &Client, exec: &str) {
    let Ok(inspect) = client.inspect_exec(exec).await else {
        return;
    };
    let Some(pid) = inspect.pid.filter(|p| *p > 0) else {
        return;
    };
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        // SAFETY: kill(2) with a pid the engine reported; at worst it fails.
        if unsafe { libc::kill(pid as i32, signal) } != 0 {
            return;
        }
        if ended(client, exec, GRACE).await {
            return;
        }
    }
}

/// Waits up to `limit` for the exec to stop running.
async fn ended(client: &Client, exec: &str, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match client.inspect_exec(exec).await {
            Ok(i) if i.running != Some(true) => return true,
            Err(_) => return true,
            Ok(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A step error for a failed exec request.
fn exec_error(engine: &Engine, container: &str, e: bollard::errors::Error) -> RunError {
    match status(&e) {
        Some(404) => RunError::failed(
            1,
            format!(
                "container {container} does not exist (any more): start it, or check the container name"
            ),
        ),
        Some(409) => RunError::failed(
            1,
            format!(
                "container {container} is not running: start it (docker start {container}) before exec'ing into it"
            ),
        ),
        _ => engine.error(&format!("exec in container {container}"), e),
    }
}
