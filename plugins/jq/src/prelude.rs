//! The standard-library definitions a filter needs.
//!
//! jaq's definitions come in three files (core, std, json), and this plugin adds a fourth
//! (`extras.jq`: jq definitions jaq lacks, such as `IN` and `INDEX`); parsing and compiling all of
//! them costs far more than a typical filter. So `build.rs` splits them into a table of
//! top-level definitions in load order, each with its text and the earlier definitions it
//! calls, and a run parses only the text of the definitions reachable from the filter's
//! calls. This is exact because no definition shadows a native or an earlier definition
//! (checked by a test), and a definition refers only to natives and to definitions before
//! it.

use std::collections::BTreeSet;

use jaq_core::load::parse::Def;

use crate::refs::Call;

/// Parsed definitions, in load order.
pub(crate) type Defs<'s> = Vec<Def<&'s str>>;

/// One top-level definition of the generated table.
struct Entry {
    /// Where its text starts in [`SOURCE`].
    start: usize,
    /// Where its text ends in [`SOURCE`].
    end: usize,
    /// The indices in [`DEFS`] of the earlier definitions it calls.
    deps: &'static [usize],
    /// Its other calls: natives, and arguments or local definitions.
    calls: &'static [Call<'static>],
}

include!(concat!(env!("OUT_DIR"), "/defs.rs"));

/// Every definition of every file.
pub(crate) fn all() -> Defs<'static> {
    parse(SOURCE)
}

/// The text of the definitions, in load order, that `calls` need; adds to `calls` what
/// else those definitions call (natives, for the most part).
pub(crate) fn needed(calls: &mut BTreeSet<Call<'_>>) -> String {
    let mut keep = [false; DEFS.len()];
    for &(name, arity) in calls.iter() {
        if let Some(i) = index(name, arity) {
            keep[i] = true;
        }
    }
    // A definition calls only definitions before it, so one backward pass suffices.
    for i in (0..DEFS.len()).rev() {
        if keep[i] {
            DEFS[i].deps.iter().for_each(|&d| keep[d] = true);
            calls.extend(DEFS[i].calls);
        }
    }
    let kept = || {
        DEFS.iter()
            .zip(keep)
            .filter(|&(_, keep)| keep)
            .map(|(e, _)| &SOURCE[e.start..e.end])
    };
    let mut text = String::with_capacity(kept().map(str::len).sum());
    kept().for_each(|def| text.push_str(def));
    text
}

/// The definitions in `text`, which holds definitions of the table.
pub(crate) fn parse(text: &str) -> Defs<'_> {
    jaq_core::load::parse(text, |p| p.defs()).expect("the definition table parses")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::natives;

    fn names(text: &str) -> Vec<&str> {
        parse(text).iter().map(|d| d.name).collect()
    }

    #[test]
    fn no_definition_shadows_a_native_or_an_earlier_definition() {
        let natives: Vec<Call> = natives::funs(None)
            .iter()
            .map(|(name, args, _)| (*name, args.len()))
            .collect();
        let mut seen: Vec<Call> = Vec::new();
        for sig in all().iter().map(|d| (d.name, d.args.len())) {
            assert!(!natives.contains(&sig), "{sig:?} shadows a native");
            assert!(!seen.contains(&sig), "{sig:?} is defined twice");
            seen.push(sig);
        }
    }

    #[test]
    fn the_table_holds_every_definition_of_every_file_in_load_order() {
        let extras = include_str!("extras.jq");
        let files = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(parse(extras));
        let expected: Vec<String> = files.map(|d| format!("{d:?}")).collect();
        let table: Vec<String> = DEFS
            .iter()
            .map(|e| format!("{:?}", parse(&SOURCE[e.start..e.end])[0]))
            .collect();
        assert_eq!(table, expected);
    }

    #[test]
    fn keeps_only_reachable_definitions_in_order() {
        let text = needed(&mut BTreeSet::from([("select", 1)]));
        let names = names(&text);
        assert!(names.contains(&"select"), "{names:?}");
        assert!(names.contains(&"empty"), "select calls empty: {names:?}");
        assert!(!names.contains(&"map"), "{names:?}");
        assert!(names.len() < 5, "{names:?}");
    }

    #[test]
    fn follows_definitions_into_earlier_files() {
        let mut calls = BTreeSet::from([("tonumber", 0)]);
        let text = needed(&mut calls);
        let names = names(&text);
        assert_eq!(names.last(), Some(&"tonumber"));
        assert!(names.contains(&"isnumber"), "from std: {names:?}");
        assert!(names.contains(&"error"), "from core: {names:?}");
        assert!(!names.contains(&"select"), "{names:?}");
        for native in [("fromjson", 0), ("error_empty", 0)] {
            assert!(calls.contains(&native), "{native:?} in {calls:?}");
        }
    }

    #[test]
    fn extras_come_last() {
        let names = names(SOURCE);
        assert_eq!(
            names[names.len() - 5..],
            ["IN", "IN", "INDEX", "INDEX", "toarray"]
        );
    }

    #[test]
    fn natives_need_no_definitions() {
        let mut calls = BTreeSet::from([("length", 0)]);
        assert!(needed(&mut calls).is_empty());
        assert_eq!(calls, BTreeSet::from([("length", 0)]));
    }
}
