//! The natives jaq offers, with `stderr` and `debug` messages kept for the step's stderr
//! log instead of going to the plugin process's own stderr, and the `@csv` and `@tsv`
//! formats added.

use std::cell::RefCell;

use jaq_core::native::{self, Filter, Fun};
use jaq_core::{Exn, RunPtr, ValXs};
use jaq_json::Val;

use crate::{formats, print};

/// The data filters run on: plain JSON values.
pub(crate) type Data = jaq_core::data::JustLut<Val>;

thread_local! {
    /// Messages from `stderr` and `debug` not yet handed to the run context.
    static MESSAGES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Every native, the capturing ones first so that they take precedence over jaq's.
pub(crate) fn funs() -> Vec<Fun<Data>> {
    capturing()
        .into_iter()
        .chain(formats())
        .map(native::run::<Data>)
        .chain(jaq_core::funs())
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .collect()
}

/// Hands every message collected so far to `sink`, oldest first.
pub(crate) fn drain_messages(mut sink: impl FnMut(&str)) {
    MESSAGES.with_borrow_mut(|messages| messages.drain(..).for_each(|m| sink(&m)));
}

/// `stderr_empty` and `debug_empty`, the natives behind `stderr` and `debug`, keeping
/// their messages.
fn capturing() -> [Filter<RunPtr<Data>>; 2] {
    [
        ("stderr_empty", Box::new([]), |cv| {
            keep(stderr_message(&cv.1));
            Box::new(std::iter::empty())
        }),
        ("debug_empty", Box::new([]), |cv| {
            keep(debug_message(&cv.1));
            Box::new(std::iter::empty())
        }),
    ]
}

/// `@csv` and `@tsv`.
fn formats() -> [Filter<RunPtr<Data>>; 2] {
    [
        ("@csv", Box::new([]), |cv| format(formats::csv(&cv.1))),
        ("@tsv", Box::new([]), |cv| format(formats::tsv(&cv.1))),
    ]
}

/// The one output of a format: the formatted text or the error.
fn format<'a>(formatted: Result<String, String>) -> ValXs<'a, Val> {
    Box::new(std::iter::once(
        formatted
            .map(Val::utf8_str)
            .map_err(|e| Exn::from(jaq_core::Error::str(e))),
    ))
}

/// Keeps a message for [`drain_messages`].
fn keep(message: String) {
    MESSAGES.with_borrow_mut(|messages| messages.push(message));
}

/// What `stderr` prints: a string as raw text, anything else as compact JSON.
fn stderr_message(v: &Val) -> String {
    let mut message = String::new();
    print::raw_or_compact(v, &mut message);
    message
}

/// What `debug` prints: `["DEBUG:",<value>]`, like jq.
fn debug_message(v: &Val) -> String {
    let mut message = String::from("[\"DEBUG:\",");
    print::compact(v, &mut message);
    message.push(']');
    message
}
