//! The standard-library definitions a filter needs.
//!
//! jaq's definitions come in three files (core, std, json), and this plugin adds a fourth
//! (`extras.jq`: jq definitions jaq lacks, such as `IN` and `INDEX`); parsing and compiling all of
//! them costs far more than a typical filter. So the files are parsed in order only until
//! every call of the filter is defined or native, and only the definitions reachable from
//! the filter's calls are kept. This is exact because no definition shadows a native or an
//! earlier definition (checked by a test), and a definition refers only to natives and to
//! definitions before it.

use std::collections::BTreeSet;

use jaq_core::load::parse::Def;

use crate::refs::{Call, Refs};

/// Parsed definitions, in load order.
pub(crate) type Defs = Vec<Def<&'static str>>;

/// The definition files, in load order.
const FILES: [fn() -> Defs; 4] = [
    || jaq_core::defs().collect(),
    || jaq_std::defs().collect(),
    || jaq_json::defs().collect(),
    extras,
];

/// The definitions of `extras.jq`.
fn extras() -> Defs {
    jaq_core::load::parse(include_str!("extras.jq"), |p| p.defs()).expect("extras.jq parses")
}

/// Every definition of every file.
pub(crate) fn all() -> Defs {
    FILES.iter().flat_map(|load| load()).collect()
}

/// The definitions, in load order, that `calls` need; `is_native` tells which calls
/// natives serve.
pub(crate) fn needed(calls: &BTreeSet<Call<'_>>, is_native: impl Fn(Call) -> bool) -> Defs {
    let mut defs = Defs::new();
    let mut files = FILES.iter();
    while !calls.iter().all(|c| is_native(*c) || defines(&defs, *c)) {
        match files.next() {
            Some(load) => defs.extend(load()),
            None => break,
        }
    }
    reachable(defs, calls)
}

/// Whether `defs` defines the filter `call` calls.
fn defines(defs: &Defs, (name, arity): Call) -> bool {
    defs.iter().any(|d| d.name == name && d.args.len() == arity)
}

/// The definitions of `defs` that `calls` reach, directly or through other definitions.
fn reachable(defs: Defs, calls: &BTreeSet<Call<'_>>) -> Defs {
    let mut wanted = Refs {
        calls: calls.clone(),
        ..Refs::default()
    };
    let mut keep = vec![false; defs.len()];
    // A definition refers only to definitions before it, so one backward pass suffices.
    for (i, def) in defs.iter().enumerate().rev() {
        if wanted.calls.contains(&(def.name, def.args.len())) {
            keep[i] = true;
            wanted.add_term(&def.body);
        }
    }
    defs.into_iter()
        .zip(keep)
        .filter_map(|(def, keep)| keep.then_some(def))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::natives;

    fn signatures(defs: &Defs) -> Vec<Call<'static>> {
        defs.iter().map(|d| (d.name, d.args.len())).collect()
    }

    #[test]
    fn no_definition_shadows_a_native_or_an_earlier_definition() {
        let natives: Vec<Call> = natives::funs()
            .iter()
            .map(|(name, args, _)| (*name, args.len()))
            .collect();
        let mut seen: Vec<Call> = Vec::new();
        for load in FILES {
            for sig in signatures(&load()) {
                assert!(!natives.contains(&sig), "{sig:?} shadows a native");
                assert!(!seen.contains(&sig), "{sig:?} is defined twice");
                seen.push(sig);
            }
        }
    }

    #[test]
    fn keeps_only_reachable_definitions_in_order() {
        let calls = BTreeSet::from([("select", 1)]);
        let names: Vec<&str> = needed(&calls, |_| false).iter().map(|d| d.name).collect();
        assert!(names.contains(&"select"), "{names:?}");
        assert!(names.contains(&"empty"), "select calls empty: {names:?}");
        assert!(!names.contains(&"map"), "{names:?}");
        assert!(names.len() < 5, "{names:?}");
    }

    #[test]
    fn stops_at_the_first_file_that_defines_everything() {
        let calls = BTreeSet::from([("select", 1)]);
        let defs = needed(&calls, |_| false);
        assert!(defs.iter().all(|d| d.name != "isboolean"));
    }

    #[test]
    fn follows_definitions_into_earlier_files() {
        let calls = BTreeSet::from([("tonumber", 0)]);
        let names: Vec<&str> = needed(&calls, |_| false).iter().map(|d| d.name).collect();
        assert_eq!(names.last(), Some(&"tonumber"));
        assert!(names.contains(&"isnumber"), "from std: {names:?}");
        assert!(names.contains(&"error"), "from core: {names:?}");
        assert!(!names.contains(&"select"), "{names:?}");
    }

    #[test]
    fn extras_parse() {
        let names: Vec<&str> = extras().iter().map(|d| d.name).collect();
        assert_eq!(names, ["IN", "IN", "INDEX", "INDEX", "toarray"]);
    }

    #[test]
    fn natives_need_no_definitions() {
        let calls = BTreeSet::from([("length", 0)]);
        assert!(needed(&calls, |c| c == ("length", 0)).is_empty());
    }
}
