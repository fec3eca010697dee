//! Running one OS process in its own process group, with stop and timeout handling.
//!
//! On stop or timeout the whole group gets the stop signal; whatever is still alive
//! after the grace period (`maxCleanUpTimeSec`) is killed with SIGKILL.

use std::io;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Exit code; `-1` when killed by a signal.
    pub code: i32,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Why the engine ended it early, if it did.
    pub interrupted: Option<Interruption>,
}

/// Why a process was ended by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// The run was stopped (signal, `dagu stop`, DAG timeout).
    Stopped,
    /// The step exceeded its `timeoutSec`.
    TimedOut,
}

/// What to do when a process must be ended early.
#[derive(Clone, Copy, Debug)]
pub struct StopPolicy {
    pub signal: Signal,
    pub grace: Duration,
}

/// Maps a signal name (`SIGTERM`) to a signal.
pub fn signal_by_name(name: &str) -> Option<Signal> {
    Some(match name {
        "SIGHUP" => Signal::HUP,
        "SIGINT" => Signal::INT,
        "SIGQUIT" => Signal::QUIT,
        "SIGKILL" => Signal::KILL,
        "SIGUSR1" => Signal::USR1,
        "SIGUSR2" => Signal::USR2,
        "SIGTERM" => Signal::TERM,
        "SIGCONT" => Signal::CONT,
        "SIGSTOP" => Signal::STOP,
        "SIGTSTP" => Signal::TSTP,
        "SIGWINCH" => Signal::WINCH,
        _ => return None,
    })
}

/// Spawns `command` in a new process group and waits for it, ending it early when
/// `stop` fires or `timeout` passes.
pub async fn run(
    mut command: Command,
    stop: &CancellationToken,
    timeout: Option<Duration>,
    policy: StopPolicy,
) -> io::Result<Exit> {
    command.process_group(0).kill_on_drop(false);
    let mut child = command.spawn()?;
    let pgid = child.id().and_then(|id| Pid::from_raw(id as i32));
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let interrupted = tokio::select! {
        status = child.wait() => return Ok(exit_of(status?, None)),
        _ = stop.cancelled() => Interruption::Stopped,
        _ = deadline => Interruption::TimedOut,
    };
    let status = terminate(&mut child, pgid, policy).await?;
    Ok(exit_of(status, Some(interrupted)))
}

/// Sends the stop signal to the group, then SIGKILL after the grace period.
async fn terminate(
    child: &mut Child,
    pgid: Option<Pid>,
    policy: StopPolicy,
) -> io::Result<std::process::ExitStatus> {
    if let Some(pgid) = pgid {
        let _ = kill_process_group(pgid, policy.signal);
    }
    match tokio::time::timeout(policy.grace, child.wait()).await {
        Ok(status) => {
            // The leader is gone; make sure nothing it left in its group lingers.
            if let Some(pgid) = pgid {
                let _ = kill_process_group(pgid, Signal::KILL);
            }
            status
        }
        Err(_) => {
            if let Some(pgid) = pgid {
                let _ = kill_process_group(pgid, Signal::KILL);
            }
            child.wait().await
        }
    }
}

fn exit_of(status: std::process::ExitStatus, interrupted: Option<Interruption>) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    Exit {
        code: status.code().unwrap_or(-1),
        signal: status.signal(),
        interrupted,
    }
}

/// A readable description of a signal number (`terminated`, `killed`...).
pub fn signal_description(sig: i32) -> String {
    match sig {
        libc::SIGTERM => "terminated".into(),
        libc::SIGKILL => "killed".into(),
        libc::SIGINT => "interrupt".into(),
        libc::SIGHUP => "hangup".into(),
        libc::SIGQUIT => "quit".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    const POLICY: StopPolicy = StopPolicy {
        signal: Signal::TERM,
        grace: Duration::from_millis(200),
    };

    #[tokio::test]
    async fn exit_codes_are_reported() {
        let exit = run(sh("exit 3"), &CancellationToken::new(), None, POLICY)
            .await
            .unwrap();
        assert_eq!(
            exit,
            Exit {
                code: 3,
                signal: None,
                interrupted: None
            }
        );
    }

    #[tokio::test]
    async fn a_process_ignoring_the_stop_signal_is_killed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let script = format!(
            "trap '' TERM; touch {}; while :; do sleep 0.05; done",
            ready.display()
        );
        let stop = CancellationToken::new();
        let trigger = stop.clone();
        // Stop only once the trap is installed, so the test is about the escalation.
        tokio::spawn(async move {
            while !ready.exists() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            trigger.cancel();
        });
        let exit = run(sh(&script), &stop, None, POLICY).await.unwrap();
        assert_eq!(exit.signal, Some(libc::SIGKILL));
        assert_eq!(exit.interrupted, Some(Interruption::Stopped));
    }

    #[tokio::test]
    async fn timeouts_end_the_process() {
        let exit = run(
            sh("sleep 30"),
            &CancellationToken::new(),
            Some(Duration::from_millis(50)),
            POLICY,
        )
        .await
        .unwrap();
        assert_eq!(exit.interrupted, Some(Interruption::TimedOut));
        assert_eq!(exit.signal, Some(libc::SIGTERM));
    }
}
