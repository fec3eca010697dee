//! Running one command on an exec channel: output streamed line by line, the exit status
//! or signal, and cancellation (the remote process is sent SIGKILL).

use std::time::Duration;

use dagu_plugin_sdk::{LogStream, RunContext, RunError};
use russh::{ChannelMsg, Sig};

use crate::client::Session;
use crate::errors::ssh_failed;

/// How often a running command checks whether the host cancelled it.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// How a remote command ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Status(u32),
    Signal {
        name: String,
        core_dumped: bool,
        message: String,
    },
    /// The channel closed without either.
    Unknown,
}

/// Resolves once the host cancelled the run.
pub(crate) async fn cancelled(ctx: &RunContext) {
    loop {
        if ctx.is_cancelled() {
            return;
        }
        tokio::time::sleep(CANCEL_POLL).await;
    }
}

/// Runs `fut` unless the run is cancelled first.
pub(crate) async fn or_cancel<T>(
    ctx: &RunContext,
    fut: impl Future<Output = Result<T, RunError>>,
) -> Result<T, RunError> {
    tokio::select! {
        r = fut => r,
        () = cancelled(ctx) => Err(RunError::Cancelled),
    }
}

/// The text sent in the exec request: `command` as is (the remote login shell interprets
/// it), or `<shell…> -c '<command>'`.
pub(crate) fn command_line(shell: Option<&[String]>, command: &str) -> String {
    match shell {
        None => command.to_string(),
        Some(words) => {
            let mut line: Vec<String> = words.iter().map(|w| quote_word(w)).collect();
            line.push("-c".to_string());
            line.push(single_quote(command));
            line.join(" ")
        }
    }
}

/// `s` as one shell word: as is when it is plain, else single-quoted.
fn quote_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=/.,:@%".contains(c));
    if plain {
        s.to_string()
    } else {
        single_quote(s)
    }
}

/// `'…'`, each `'` written as `'\''`.
fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs `command` on the session's channel, sending its output to the step's log as it
/// comes. Returns how it ended, or [`RunError::Cancelled`] once the host cancels (after
/// signalling the remote process and closing the channel).
pub(crate) async fn run(
    session: Session,
    command: &str,
    ctx: &RunContext,
) -> Result<Ending, RunError> {
    let Session {
        mut channel,
        _permit,
    } = session;
    channel
        .exec(true, command.as_bytes())
        .await
        .map_err(|e| ssh_failed(format!("cannot start the command: {e}")))?;
    let mut out = Lines::new(LogStream::Stdout);
    let mut err = Lines::new(LogStream::Stderr);
    let mut status = None;
    let mut signal = None;
    loop {
        tokio::select! {
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) => out.push(&data, ctx),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => err.push(&data, ctx),
                Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
                Some(ChannelMsg::ExitSignal { signal_name, core_dumped, error_message, .. }) => {
                    signal = Some(Ending::Signal {
                        name: signal_text(&signal_name),
                        core_dumped,
                        message: error_message,
                    });
                }
                Some(ChannelMsg::Failure) => {
                    return Err(ssh_failed("the server refused to run the command"));
                }
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            },
            () = cancelled(ctx) => {
                let _ = channel.signal(Sig::KILL).await;
                let _ = channel.close().await;
                out.flush(ctx);
                err.flush(ctx);
                return Err(RunError::Cancelled);
            }
        }
    }
    out.flush(ctx);
    err.flush(ctx);
    Ok(match (status, signal) {
        (_, Some(signal)) => signal,
        (Some(status), None) => Ending::Status(status),
        (None, None) => Ending::Unknown,
    })
}

/// A signal's name without `SIG`.
fn signal_text(sig: &Sig) -> String {
    match sig {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

/// The usual number of a signal, for the exit code `128 + n`.
fn signal_number(name: &str) -> Option<i32> {
    Some(match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => return None,
    })
}

/// The step's error for a command that did not succeed; `which` names the command when
/// the step has several (`command 2 of 3: \`…\``).
pub(crate) fn failure(ending: &Ending, which: Option<String>) -> Option<RunError> {
    let which = which.map(|w| format!(" ({w})")).unwrap_or_default();
    match ending {
        Ending::Status(0) => None,
        Ending::Status(code) => {
            let code = i32::try_from(*code).unwrap_or(i32::MAX);
            let hint = if code == 127 {
                ": command not found on the remote host (use the full path, or set PATH in \
                 the command)"
            } else {
                ""
            };
            Some(RunError::failed(
                code,
                format!("Process exited with status {code}{which}{hint}"),
            ))
        }
        Ending::Signal {
            name,
            core_dumped,
            message,
        } => {
            let code = signal_number(name).map_or(255, |n| 128 + n);
            let core = if *core_dumped { " (core dumped)" } else { "" };
            let message = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            Some(RunError::failed(
                code,
                format!("Process killed by signal {name}{core}{which}{message}"),
            ))
        }
        Ending::Unknown => Some(ssh_failed(format!(
            "the remote command ended without an exit status{which} (the connection may have \
             been lost)"
        ))),
    }
}

/// Bytes of one stream, cut into lines (a line may span packets; the tail is sent at the
/// end).
struct Lines {
    stream: LogStream,
    buf: Vec<u8>,
}

impl Lines {
    fn new(stream: LogStream) -> Self {
        Lines {
            stream,
            buf: Vec::new(),
        }
    }

    fn push(&mut self, data: &[u8], ctx: &RunContext) {
        self.buf.extend_from_slice(data);
        let Some(last) = self.buf.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        for line in self.buf[..last].split(|b| *b == b'\n') {
            ctx.log(self.stream, &String::from_utf8_lossy(line));
        }
        self.buf.drain(..=last);
    }

    fn flush(&mut self, ctx: &RunContext) {
        if !self.buf.is_empty() {
            ctx.log(self.stream, &String::from_utf8_lossy(&self.buf));
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(command_line(None, "echo $(hostname)"), "echo $(hostname)");
        let bash = ["bash".to_string()];
        assert_eq!(
            command_line(Some(&bash), "echo 'it''s'"),
            r"bash -c 'echo '\''it'\'''\''s'\'''"
        );
        let odd = ["/bin/my shell".to_string(), "-e".to_string()];
        assert_eq!(command_line(Some(&odd), "x"), "'/bin/my shell' -e -c 'x'");
    }

    #[test]
    fn failures() {
        assert_eq!(failure(&Ending::Status(0), None), None);
        assert_eq!(
            failure(&Ending::Status(7), None),
            Some(RunError::failed(7, "Process exited with status 7"))
        );
        let e = failure(&Ending::Status(127), Some("command 2 of 2: `x`".into())).unwrap();
        assert!(
            e.to_string()
                .contains("status 127 (command 2 of 2: `x`): command not found on the remote host"),
            "{e}"
        );
        let e = failure(
            &Ending::Signal {
                name: "TERM".into(),
                core_dumped: false,
                message: String::new(),
            },
            None,
        )
        .unwrap();
        assert_eq!(e, RunError::failed(143, "Process killed by signal TERM"));
    }
}
