//! The watcher of one run: a thread beside the call into the module that forwards the
//! module's log lines to the step and interrupts the call (through extism's
//! [`CancelHandle`]) once the host cancels the run or its deadline passes.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ::extism::CancelHandle;
use dagu_plugin_sdk::RunContext;

use crate::extism::log::Event;

/// How often the watcher looks at the cancellation flag and the clock while no log line
/// arrives: the most a cancel waits before the module is interrupted.
pub const TICK: Duration = Duration::from_millis(10);

/// Why the watcher interrupted the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The host cancelled the run.
    Cancelled,
    /// The run's `timeout_ms` passed.
    TimedOut,
}

/// Forwards `events` to `ctx` until [`Event::Done`] (or until every sender is gone);
/// interrupts the call when the run is cancelled or `deadline` passes. Returns why it
/// interrupted, if it did.
pub fn watch(
    ctx: &RunContext,
    events: Receiver<Event>,
    cancel: &CancelHandle,
    deadline: Option<Instant>,
) -> Option<Stop> {
    let mut stop = None;
    loop {
        match events.recv_timeout(TICK) {
            Ok(Event::Log(stream, line)) => ctx.log(stream, &line),
            Ok(Event::Done) | Err(RecvTimeoutError::Disconnected) => return stop,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if stop.is_none() {
            stop = if ctx.is_cancelled() {
                Some(Stop::Cancelled)
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Some(Stop::TimedOut)
            } else {
                None
            };
        }
        if stop.is_some() {
            // Sent on every tick until the call returns: extism drops a cancel that arrives
            // before the call has started.
            let _ = cancel.cancel();
        }
    }
}
