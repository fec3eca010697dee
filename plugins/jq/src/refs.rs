//! What a parsed jq term refers to: the filters it calls and the variables it reads.

use std::collections::BTreeSet;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::path::Part;

/// A call of a named filter: its name and number of arguments.
pub(crate) type Call<'s> = (&'s str, usize);

/// The filters and variables a term mentions. Over-approximates: a call of a filter
/// argument (`f` in `def map(f): ...`) or of a local definition counts too.
#[derive(Debug, Default)]
pub(crate) struct Refs<'s> {
    /// Called filters.
    pub calls: BTreeSet<Call<'s>>,
    /// Read variables, with their `$`.
    pub vars: BTreeSet<&'s str>,
}

impl<'s> Refs<'s> {
    /// Adds everything `term` refers to.
    pub fn add_term(&mut self, term: &Term<&'s str>) {
        match term {
            Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) => {}
            Term::Var(x) => {
                self.vars.insert(x);
            }
            Term::Call(name, args) => {
                self.calls.insert((name, args.len()));
                args.iter().for_each(|a| self.add_term(a));
            }
            Term::Str(format, parts) => {
                if let Some(format) = format {
                    self.calls.insert((format, 0));
                }
                for part in parts {
                    if let StrPart::Term(t) = part {
                        self.add_term(t);
                    }
                }
            }
            Term::Arr(t) => t.iter().for_each(|t| self.add_term(t)),
            Term::Obj(entries) => {
                for (k, v) in entries {
                    self.add_term(k);
                    v.iter().for_each(|v| self.add_term(v));
                }
            }
            Term::Neg(t) | Term::Label(_, t) => self.add_term(t),
            Term::BinOp(l, op, r) => {
                if let BinaryOp::Pipe(Some(p)) = op {
                    self.add_pattern(p);
                }
                self.add_term(l);
                self.add_term(r);
            }
            Term::Fold(_, xs, p, args) => {
                self.add_term(xs);
                self.add_pattern(p);
                args.iter().for_each(|a| self.add_term(a));
            }
            Term::TryCatch(t, catch) => {
                self.add_term(t);
                catch.iter().for_each(|c| self.add_term(c));
            }
            Term::IfThenElse(branches, else_) => {
                for (cond, then) in branches {
                    self.add_term(cond);
                    self.add_term(then);
                }
                else_.iter().for_each(|e| self.add_term(e));
            }
            Term::Def(defs, t) => {
                defs.iter().for_each(|d| self.add_term(&d.body));
                self.add_term(t);
            }
            Term::Path(t, path) => {
                self.add_term(t);
                for (part, _) in &path.0 {
                    match part {
                        Part::Index(i) => self.add_term(i),
                        Part::Range(from, to) => {
                            from.iter().chain(to).for_each(|t| self.add_term(t));
                        }
                    }
                }
            }
        }
    }

    /// Adds what the keys of a destructuring pattern refer to.
    fn add_pattern(&mut self, pattern: &Pattern<&'s str>) {
        match pattern {
            Pattern::Var(_) => {}
            Pattern::Arr(ps) => ps.iter().for_each(|p| self.add_pattern(p)),
            Pattern::Obj(entries) => {
                for (k, p) in entries {
                    self.add_term(k);
                    self.add_pattern(p);
                }
            }
        }
    }
}
