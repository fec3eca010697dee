//! The protocol loop for plugin authors: implement [`Plugin`], call [`serve_stdio`].
//!
//! Each `run` executes on its own thread, so one plugin process serves many steps at once;
//! `cancel` sets the run's flag, which [`RunContext::is_cancelled`] and
//! [`RunContext::wait_cancelled`] observe. A panic in [`Plugin::run`] ends that run with an
//! `internal` error, not the process.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::plugin::{HostChannel, Plugin, RunContext, execute};
use crate::protocol::{HostMessage, Outcome, PROTOCOL_V1, PluginMessage, encode};
use crate::records::{LogStream, RunError};

type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// The cancellation flag of one run.
#[derive(Default)]
struct CancelFlag {
    set: Mutex<bool>,
    changed: Condvar,
}

impl CancelFlag {
    fn cancel(&self) {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.changed.notify_all();
    }
}

/// The subprocess side of a [`RunContext`]: log lines and `done` go to the shared
/// output, cancellation comes from the run's flag.
struct StdioChannel {
    out: SharedWriter,
    cancel: Arc<CancelFlag>,
}

impl HostChannel for StdioChannel {
    fn log_line(&self, id: &str, stream: LogStream, line: &str) {
        send(
            &self.out,
            &PluginMessage::Log {
                id: id.to_string(),
                stream,
                line: line.to_string(),
            },
        );
    }

    fn is_cancelled(&self, _id: &str) -> bool {
        *lock(&self.cancel.set)
    }

    fn wait_cancelled(&self, _id: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut set = lock(&self.cancel.set);
        while !*set {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            set = self
                .cancel
                .changed
                .wait_timeout(set, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *set
    }
}

/// Serves `plugin` over the process's stdin and stdout until the host says `shutdown` or
/// closes stdin. Diagnostics belong on stderr.
pub fn serve_stdio<P: Plugin>(plugin: P) -> io::Result<()> {
    serve(plugin, io::stdin().lock(), io::stdout())
}

/// Serves `plugin` over any pair of streams (what [`serve_stdio`] does with stdio).
/// Returns when the host says `shutdown` or closes `input`, after every run has ended
/// (runs still going then are cancelled first). Fails if the host picks a protocol
/// version this crate does not speak.
pub fn serve<P, R, W>(plugin: P, mut input: R, output: W) -> io::Result<()>
where
    P: Plugin,
    R: BufRead,
    W: Write + Send + 'static,
{
    let out: SharedWriter = Arc::new(Mutex::new(Box::new(output)));
    send(
        &out,
        &PluginMessage::Hello {
            protocols: vec![PROTOCOL_V1.to_string()],
        },
    );
    match read_message(&mut input)? {
        None | Some(HostMessage::Shutdown) => return Ok(()),
        Some(HostMessage::Hello { protocol }) if protocol == PROTOCOL_V1 => {}
        Some(HostMessage::Hello { protocol }) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the host chose protocol {protocol}, but this plugin speaks only {PROTOCOL_V1}"
                ),
            ));
        }
        Some(other) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected the host's hello, got {other:?}"),
            ));
        }
    }
    let plugin = Arc::new(plugin);
    let runs: Arc<Mutex<HashMap<String, Arc<CancelFlag>>>> = Arc::default();
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while let Some(message) = read_message(&mut input)? {
        match message {
            HostMessage::Describe => send(
                &out,
                &PluginMessage::Manifest {
                    manifest: plugin.describe(),
                },
            ),
            HostMessage::Run { id, request } => {
                threads.retain(|t| !t.is_finished());
                let cancel = Arc::new(CancelFlag::default());
                let duplicate = {
                    let mut runs = lock(&runs);
                    let taken = runs.contains_key(&id);
                    if !taken {
                        runs.insert(id.clone(), cancel.clone());
                    }
                    taken
                };
                if duplicate {
                    let outcome = Outcome::Err(RunError::internal(format!(
                        "a run with id {id} is already in progress"
                    )));
                    send(&out, &PluginMessage::Done { id, outcome });
                    continue;
                }
                let ctx = RunContext::new(
                    id,
                    Box::new(StdioChannel {
                        out: out.clone(),
                        cancel,
                    }),
                );
                let (plugin, runs, out) = (plugin.clone(), runs.clone(), out.clone());
                threads.push(std::thread::spawn(move || {
                    let outcome = execute(&*plugin, *request, &ctx).into();
                    lock(&runs).remove(ctx.id());
                    let id = ctx.id().to_string();
                    send(&out, &PluginMessage::Done { id, outcome });
                }));
            }
            HostMessage::Cancel { id } => {
                if let Some(flag) = lock(&runs).get(&id) {
                    flag.cancel();
                }
            }
            HostMessage::EndRun { run_id } => {
                threads.retain(|t| !t.is_finished());
                let plugin = plugin.clone();
                threads.push(std::thread::spawn(move || {
                    let _ = catch_unwind(AssertUnwindSafe(|| plugin.end_run(&run_id)));
                }));
            }
            HostMessage::Shutdown => break,
            HostMessage::Hello { .. } => eprintln!("dagu-plugin: ignoring a second hello"),
        }
    }
    for flag in lock(&runs).values() {
        flag.cancel();
    }
    for t in threads {
        let _ = t.join();
    }
    let _ = catch_unwind(AssertUnwindSafe(|| plugin.shutdown()));
    Ok(())
}

/// Reads the next message; `None` at the end of input. Lines that are not a known
/// message are reported on stderr and skipped.
fn read_message(input: &mut impl BufRead) -> io::Result<Option<HostMessage>> {
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(m) => return Ok(Some(m)),
            Err(e) => eprintln!("dagu-plugin: ignoring a message: {e}: {}", line.trim_end()),
        }
    }
}

/// Writes one message as one line. Errors mean the host is gone; the run ends anyway.
fn send(out: &SharedWriter, message: &PluginMessage) {
    let line = encode(message);
    let mut w = out.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = w.write_all(line.as_bytes()).and_then(|_| w.flush());
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
