//! The natives jaq offers, with `stderr` and `debug` messages kept for the step's stderr
//! log instead of going to the plugin process's own stderr, and the `@csv` and `@tsv`
//! formats added.

use std::cell::RefCell;
use std::collections::BTreeSet;

use jaq_core::native::{self, Filter, Fun};
use jaq_core::{Exn, RunPtr, ValXs};
use jaq_json::Val;

use crate::refs::Call;
use crate::{formats, print};

/// The data filters run on: plain JSON values.
pub(crate) type Data = jaq_core::data::JustLut<Val>;

thread_local! {
    /// Messages from `stderr` and `debug` not yet handed to the run context.
    static MESSAGES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

include!(concat!(env!("OUT_DIR"), "/natives.rs"));

/// The natives that `calls` (all of them when `None`) may call, the capturing ones first so
/// that they take precedence over jaq's. Builds only the groups of jaq's natives (each built
/// whole) that have a called one.
pub(crate) fn funs(calls: Option<&BTreeSet<Call>>) -> Vec<Fun<Data>> {
    let mut build = [calls.is_none(); GROUPS];
    for &(name, arity) in calls.into_iter().flatten() {
        if let Some(i) = group(name, arity) {
            build[i] = true;
        }
    }
    let [core, std_base, std_extra, json] = build;
    let ours = capturing()
        .into_iter()
        .chain(formats())
        .map(native::run::<Data>);
    let jaqs = core.then(jaq_core::funs).into_iter().flatten();
    let jaqs = jaqs.chain(std_base.then(jaq_std::base_funs).into_iter().flatten());
    let jaqs = jaqs.chain(std_extra.then(jaq_std::extra_funs).into_iter().flatten());
    let jaqs = jaqs.chain(json.then(jaq_json::funs).into_iter().flatten());
    ours.chain(jaqs)
        .filter(|(name, args, _)| calls.is_none_or(|calls| calls.contains(&(name, args.len()))))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn signatures(funs: impl Iterator<Item = Fun<Data>>) -> Vec<Call<'static>> {
        funs.map(|(name, args, _)| (name, args.len())).collect()
    }

    #[test]
    fn the_groups_are_jaqs_groups_of_natives() {
        let groups = [
            signatures(jaq_core::funs()),
            signatures(jaq_std::base_funs()),
            signatures(jaq_std::extra_funs()),
            signatures(jaq_json::funs()),
        ];
        for (i, group) in groups.iter().enumerate() {
            for &(name, arity) in group {
                assert_eq!(super::group(name, arity), Some(i), "{name}/{arity}");
            }
        }
        assert_eq!(super::group("map", 1), None);
    }

    #[test]
    fn builds_only_the_called_natives() {
        let calls = BTreeSet::from([("length", 0), ("stderr_empty", 0), ("floor", 0), ("f", 0)]);
        let built = signatures(funs(Some(&calls)).into_iter());
        // Ours first, then jaq's own `stderr_empty` (in std's extra group).
        let expected = [
            ("stderr_empty", 0),
            ("floor", 0),
            ("stderr_empty", 0),
            ("length", 0),
        ];
        assert_eq!(built, expected);
    }
}
