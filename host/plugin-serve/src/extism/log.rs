//! The host function `dagu_log` (namespace `extism:host/user`) through which a module writes
//! log lines to its step: its input is `{"stream": "stdout" | "stderr", "line": "..."}`.
//!
//! During `run` the call's host context is the [`Sender`] of the run's [`Event`]s; the lines
//! travel to the thread that owns the run's [`dagu_plugin_sdk::RunContext`] (see
//! [`super::watch`]), in the order written.

use std::sync::mpsc::Sender;

use ::extism::convert::Json;
use ::extism::{CurrentPlugin, Error, Function, PTR, UserData, Val};
use dagu_plugin_sdk::LogStream;
use serde::Deserialize;

/// The host function's name.
pub const NAME: &str = "dagu_log";

/// What a running call reports to its watcher.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A log line (one or more lines of text).
    Log(LogStream, String),
    /// The call returned.
    Done,
}

/// The input of `dagu_log`.
#[derive(Deserialize)]
struct Entry {
    stream: LogStream,
    line: String,
}

/// The `dagu_log` host function.
pub fn function() -> Function {
    Function::new(NAME, [PTR], [], UserData::new(()), log)
}

fn log(
    plugin: &mut CurrentPlugin,
    inputs: &[Val],
    _outputs: &mut [Val],
    _: UserData<()>,
) -> Result<(), Error> {
    let Json(entry): Json<Entry> = plugin.memory_get_val(&inputs[0]).map_err(|e| {
        Error::msg(format!(
            "{NAME}: the input must be {{\"stream\": \"stdout\" or \"stderr\", \"line\": \
             text}}: {e:#}"
        ))
    })?;
    let events = plugin
        .host_context::<Sender<Event>>()
        .map_err(|_| Error::msg(format!("{NAME} can only be called while a step runs")))?;
    // The watcher outlives the call, so the send cannot fail while the module runs.
    let _ = events.send(Event::Log(entry.stream, entry.line));
    Ok(())
}
