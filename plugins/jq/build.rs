//! Splits the jq definitions the plugin loads (jaq's core, std and json libraries, then
//! `src/extras.jq`) into a table of top-level definitions, so that a run lexes and parses
//! only the definitions its filter needs (see `src/prelude.rs`); and lists which natives
//! each of jaq's groups of natives offers, so that a run builds only the groups it calls
//! (see `src/natives.rs`).
//!
//! jaq offers its definitions only parsed, so each one is printed back as jq text, and the
//! text is checked to parse to the very same definition. For each definition the table
//! also lists the earlier definitions it calls and its other calls (natives, and filter
//! arguments or local definitions), so that a run finds what it needs without parsing
//! anything else.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::native::Fun;
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::{Opt, Part, Path};

#[path = "src/refs.rs"]
mod refs;

/// The data the plugin's filters run on, as in `src/natives.rs`.
type Data = jaq_core::data::JustLut<jaq_json::Val>;

/// Writes `defs.rs` and `natives.rs` into `OUT_DIR`.
fn main() {
    println!("cargo:rerun-if-changed=src/extras.jq");
    println!("cargo:rerun-if-changed=src/refs.rs");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out_dir.join("defs.rs"), definitions()).expect("writing the definition table");
    fs::write(out_dir.join("natives.rs"), natives()).expect("writing the natives table");
}

/// The table of definitions, as Rust for `src/prelude.rs`: the text of every definition
/// (`SOURCE`), where each is in it with the definitions and other filters it calls
/// (`DEFS`), and where to find a definition by name and arity (`index`).
fn definitions() -> String {
    let extras = include_str!("src/extras.jq");
    let extras = jaq_core::load::parse(extras, |p| p.defs()).expect("src/extras.jq parses");
    let defs: Vec<Def<&str>> = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs())
        .chain(extras)
        .collect();

    let mut source = String::new();
    let mut table = String::new();
    let mut index = String::new();
    for (i, def) in defs.iter().enumerate() {
        let text = print(def);
        let reparsed = jaq_core::load::parse(&text, |p| p.defs()).unwrap_or_default();
        assert_eq!(
            format!("{reparsed:?}"),
            format!("{:?}", [def]),
            "the printed definition `{text}` parses differently"
        );
        let mut refs = refs::Refs::default();
        refs.add_term(&def.body);
        let (mut deps, mut calls) = (Vec::new(), Vec::new());
        for call in refs.calls {
            match defs[..i].iter().rposition(|d| signature(d) == call) {
                Some(dep) => deps.push(dep),
                None => calls.push(call),
            }
        }
        let start = source.len();
        source.push_str(&text);
        let end = source.len();
        source.push('\n');
        writeln!(
            table,
            "    Entry {{ start: {start}, end: {end}, deps: &{deps:?}, calls: &{calls:?} }},"
        )
        .unwrap();
        let (name, arity) = signature(def);
        writeln!(index, "        ({name:?}, {arity}) => Some({i}),").unwrap();
    }

    format!(
        "/// Every definition, in load order, one a line.\n\
         const SOURCE: &str = {source:?};\n\n\
         /// The definitions of [`SOURCE`], in load order.\n\
         const DEFS: [Entry; {count}] = [\n{table}];\n\n\
         /// The index in [`DEFS`] of the definition of `name` with `arity` arguments.\n\
         fn index(name: &str, arity: usize) -> Option<usize> {{\n    \
             match (name, arity) {{\n{index}        _ => None,\n    }}\n}}\n",
        count = defs.len(),
    )
}

/// The groups of jaq's natives, as Rust for `src/natives.rs`: how many there are
/// (`GROUPS`), and which group has a native of a given name and arity (`group`).
fn natives() -> String {
    let groups = [
        signatures(jaq_core::funs()),
        signatures(jaq_std::base_funs()),
        signatures(jaq_std::extra_funs()),
        signatures(jaq_json::funs()),
    ];
    let mut arms = String::new();
    for (i, group) in groups.iter().enumerate() {
        for (name, arity) in group {
            writeln!(arms, "        ({name:?}, {arity}) => Some({i}),").unwrap();
        }
    }
    format!(
        "/// How many groups [`group`] sorts jaq's natives into.\n\
         const GROUPS: usize = {count};\n\n\
         /// The group of jaq's natives that has the one named `name` with `arity` arguments:\n\
         /// 0 core, 1 std (base), 2 std (extra), 3 json.\n\
         fn group(name: &str, arity: usize) -> Option<usize> {{\n    \
             match (name, arity) {{\n{arms}        _ => None,\n    }}\n}}\n",
        count = groups.len(),
    )
}

/// The name and arity of each native of `funs`.
fn signatures(funs: impl Iterator<Item = Fun<Data>>) -> Vec<refs::Call<'static>> {
    funs.map(|(name, args, _)| (name, args.len())).collect()
}

/// The name and arity of `def`.
fn signature<'s>(def: &Def<&'s str>) -> refs::Call<'s> {
    (def.name, def.args.len())
}

/// `def` as jq text.
fn print(def: &Def<&str>) -> String {
    let mut out = String::new();
    Printer { out: &mut out }.def(def);
    out
}

/// Writes terms as jq text, with parentheses only where the parser needs them.
struct Printer<'o> {
    out: &'o mut String,
}

impl Printer<'_> {
    /// `def name(args): body;`
    fn def(&mut self, def: &Def<&str>) {
        self.out.push_str("def ");
        self.out.push_str(def.name);
        if !def.args.is_empty() {
            self.out.push('(');
            self.out.push_str(&def.args.join("; "));
            self.out.push(')');
        }
        self.out.push_str(": ");
        self.term(&def.body);
        self.out.push(';');
    }

    /// A term where anything may follow (it ends at `;`, `)`, `then`, ...).
    fn term(&mut self, t: &Term<&str>) {
        match t {
            Term::Id => self.out.push('.'),
            Term::Recurse => self.out.push_str(".."),
            Term::Num(n) => self.out.push_str(n),
            Term::Var(x) => self.out.push_str(x),
            Term::Break(x) => {
                self.out.push_str("break ");
                self.out.push_str(x);
            }
            Term::Str(format, parts) => self.string(*format, parts),
            Term::Arr(None) => self.out.push_str("[]"),
            Term::Arr(Some(t)) => {
                self.out.push('[');
                self.term(t);
                self.out.push(']');
            }
            Term::Obj(entries) => {
                self.out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.key(k);
                    if let Some(v) = v {
                        self.out.push_str(": ");
                        self.wrapped(v, is_atom(v));
                    }
                }
                self.out.push('}');
            }
            Term::Neg(t) => {
                self.out.push('-');
                self.wrapped(t, is_atom(t));
            }
            Term::BinOp(l, op, r) => self.binop(l, op, r),
            Term::Label(x, t) => {
                self.out.push_str("label ");
                self.out.push_str(x);
                self.out.push_str(" | ");
                self.term(t);
            }
            Term::Fold(fold, xs, pattern, args) => {
                self.out.push_str(fold);
                self.out.push(' ');
                self.wrapped(xs, is_atom(xs));
                self.out.push_str(" as ");
                self.pattern(pattern);
                if !args.is_empty() {
                    self.out.push(' ');
                    self.args(args);
                }
            }
            Term::TryCatch(t, catch) => {
                self.out.push_str("try ");
                let catchless_try = matches!(**t, Term::TryCatch(_, None));
                self.wrapped(t, is_atom(t) && !(catch.is_some() && catchless_try));
                if let Some(c) = catch {
                    self.out.push_str(" catch ");
                    self.wrapped(c, is_atom(c));
                }
            }
            Term::IfThenElse(branches, else_) => {
                for (i, (cond, then)) in branches.iter().enumerate() {
                    self.out.push_str(if i == 0 { "if " } else { " elif " });
                    self.term(cond);
                    self.out.push_str(" then ");
                    self.term(then);
                }
                if let Some(e) = else_ {
                    self.out.push_str(" else ");
                    self.term(e);
                }
                self.out.push_str(" end");
            }
            Term::Def(defs, t) => {
                for def in defs {
                    self.def(def);
                    self.out.push(' ');
                }
                self.term(t);
            }
            Term::Call(name, args) => {
                self.out.push_str(name);
                if !args.is_empty() {
                    self.args(args);
                }
            }
            Term::Path(base, path) => self.path(base, path),
        }
    }

    /// `t`, in parentheses unless `bare`.
    fn wrapped(&mut self, t: &Term<&str>, bare: bool) {
        if bare {
            self.term(t);
        } else {
            self.out.push('(');
            self.term(t);
            self.out.push(')');
        }
    }

    /// `(a; b; ...)`
    fn args(&mut self, args: &[Term<&str>]) {
        self.out.push('(');
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.out.push_str("; ");
            }
            self.term(a);
        }
        self.out.push(')');
    }

    /// `l op r`, with parentheses around an operand that would otherwise bind differently.
    fn binop(&mut self, l: &Term<&str>, op: &BinaryOp<&str>, r: &Term<&str>) {
        let prec = precedence(op);
        let right_assoc = is_right_assoc(op);
        let l_bare = !ends_open(l)
            && match l {
                Term::BinOp(_, lop, _) => {
                    let lprec = precedence(lop);
                    lprec > prec || (lprec == prec && !right_assoc)
                }
                _ => true,
            };
        self.wrapped(l, l_bare);
        match op {
            BinaryOp::Pipe(Some(pattern)) => {
                self.out.push_str(" as ");
                self.pattern(pattern);
                self.out.push_str(" | ");
            }
            BinaryOp::Comma => self.out.push_str(", "),
            op => {
                self.out.push(' ');
                self.out.push_str(&op_str(op));
                self.out.push(' ');
            }
        }
        self.wrapped(r, rhs_is_bare(op, r));
    }

    /// `base` followed by the parts of `path`.
    fn path(&mut self, base: &Term<&str>, path: &Path<Term<&str>>) {
        let mut parts = path.0.iter();
        if let Term::Id = base {
            self.out.push('.');
            if let Some((part, opt)) = parts.next() {
                match key_ident(part) {
                    Some(key) => self.out.push_str(key),
                    None => self.part(part),
                }
                self.opt(*opt);
            }
        } else {
            let bare = matches!(
                base,
                Term::Num(_)
                    | Term::Str(..)
                    | Term::Arr(_)
                    | Term::Obj(_)
                    | Term::Call(..)
                    | Term::Var(_)
            );
            self.wrapped(base, bare);
            if let Some((part, opt)) = parts.next() {
                self.part(part);
                self.opt(*opt);
            }
        }
        for (part, opt) in parts {
            match key_ident(part) {
                Some(key) => {
                    self.out.push('.');
                    self.out.push_str(key);
                }
                None => self.part(part),
            }
            self.opt(*opt);
        }
    }

    /// A path part in brackets: `[i]`, `[from:to]`, `[]`.
    fn part(&mut self, part: &Part<Term<&str>>) {
        self.out.push('[');
        match part {
            Part::Index(i) => self.term(i),
            Part::Range(from, to) => {
                if let Some(from) = from {
                    self.term(from);
                }
                if from.is_some() || to.is_some() {
                    self.out.push(':');
                }
                if let Some(to) = to {
                    self.term(to);
                }
            }
        }
        self.out.push(']');
    }

    /// `?` after an optional path part.
    fn opt(&mut self, opt: Opt) {
        if let Opt::Optional = opt {
            self.out.push('?');
        }
    }

    /// An object key: a variable, a string, or a term in parentheses.
    fn key(&mut self, k: &Term<&str>) {
        match k {
            Term::Var(_) | Term::Str(..) => self.term(k),
            k => self.wrapped(k, false),
        }
    }

    /// A destructuring pattern.
    fn pattern(&mut self, p: &Pattern<&str>) {
        match p {
            Pattern::Var(x) => self.out.push_str(x),
            Pattern::Arr(ps) => {
                self.out.push('[');
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.pattern(p);
                }
                self.out.push(']');
            }
            Pattern::Obj(entries) => {
                self.out.push('{');
                for (i, (k, p)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match k {
                        Term::Str(..) => self.term(k),
                        k => self.wrapped(k, false),
                    }
                    self.out.push_str(": ");
                    self.pattern(p);
                }
                self.out.push('}');
            }
        }
    }

    /// `@format "text \(interpolated) \n"`
    fn string(&mut self, format: Option<&str>, parts: &[StrPart<&str, Term<&str>>]) {
        if let Some(format) = format {
            self.out.push_str(format);
            self.out.push(' ');
        }
        self.out.push('"');
        for part in parts {
            match part {
                StrPart::Str(s) => self.out.push_str(s),
                StrPart::Term(t) => {
                    self.out.push_str("\\(");
                    self.term(t);
                    self.out.push(')');
                }
                StrPart::Char(c) => match c {
                    '\\' | '/' | '"' => {
                        self.out.push('\\');
                        self.out.push(*c);
                    }
                    '\n' => self.out.push_str("\\n"),
                    '\t' => self.out.push_str("\\t"),
                    '\r' => self.out.push_str("\\r"),
                    c => write!(self.out, "\\u{:04x}", *c as u32).unwrap(),
                },
            }
        }
        self.out.push('"');
    }
}

/// Whether `t` parses as one operand of `-`, `try`, `catch` or `reduce` without
/// parentheses.
fn is_atom(t: &Term<&str>) -> bool {
    !matches!(t, Term::BinOp(..) | Term::Def(..) | Term::Label(..))
}

/// Whether printed `t` ends in a term that would swallow whatever operators follow it
/// (`... as $x | t`, `def f: ...; t`, `label $x | t`).
fn ends_open(t: &Term<&str>) -> bool {
    match t {
        Term::Def(..) | Term::Label(..) | Term::BinOp(_, BinaryOp::Pipe(Some(_)), _) => true,
        Term::BinOp(_, op, r) => rhs_is_bare(op, r) && ends_open(r),
        _ => false,
    }
}

/// Whether the right operand `r` of `op` needs no parentheses.
fn rhs_is_bare(op: &BinaryOp<&str>, r: &Term<&str>) -> bool {
    match (op, r) {
        // The right side of `as $x |` reaches as far right as it can.
        (BinaryOp::Pipe(Some(_)), _) => true,
        (op, Term::BinOp(_, rop, _)) => {
            let (prec, rprec) = (precedence(op), precedence(rop));
            rprec > prec || (rprec == prec && is_right_assoc(op))
        }
        _ => true,
    }
}

/// The key of a path part that can be written `.key`.
fn key_ident<'a>(part: &Part<Term<&'a str>>) -> Option<&'a str> {
    let Part::Index(Term::Str(None, parts)) = part else {
        return None;
    };
    let [StrPart::Str(key)] = parts[..] else {
        return None;
    };
    let mut chars = key.chars();
    let head = chars.next()?;
    let ident = (head.is_ascii_alphabetic() || head == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    ident.then_some(key)
}

/// How tightly `op` binds, as in jaq's parser.
fn precedence(op: &BinaryOp<&str>) -> usize {
    match op {
        BinaryOp::Pipe(None) => 0,
        BinaryOp::Comma => 1,
        BinaryOp::Pipe(Some(_)) => 2,
        BinaryOp::Assign | BinaryOp::Update | BinaryOp::UpdateMath(_) | BinaryOp::UpdateAlt => 3,
        BinaryOp::Alt => 4,
        BinaryOp::Or => 5,
        BinaryOp::And => 6,
        BinaryOp::Cmp(Cmp::Eq | Cmp::Ne) => 7,
        BinaryOp::Cmp(_) => 8,
        BinaryOp::Math(Math::Add | Math::Sub) => 9,
        BinaryOp::Math(Math::Mul | Math::Div) => 10,
        BinaryOp::Math(Math::Rem) => 11,
    }
}

/// Whether `op` groups to the right, as in jaq's parser.
fn is_right_assoc(op: &BinaryOp<&str>) -> bool {
    matches!(
        op,
        BinaryOp::Pipe(_)
            | BinaryOp::Assign
            | BinaryOp::Update
            | BinaryOp::UpdateMath(_)
            | BinaryOp::UpdateAlt
    )
}

/// The text of a binary operator other than `as $x |`.
fn op_str(op: &BinaryOp<&str>) -> String {
    match op {
        BinaryOp::Pipe(_) => "|".into(),
        BinaryOp::Comma => ",".into(),
        BinaryOp::Alt => "//".into(),
        BinaryOp::Or => "or".into(),
        BinaryOp::And => "and".into(),
        BinaryOp::Math(m) => m.as_str().into(),
        BinaryOp::Cmp(c) => c.as_str().into(),
        BinaryOp::Assign => "=".into(),
        BinaryOp::Update => "|=".into(),
        BinaryOp::UpdateMath(m) => format!("{}=", m.as_str()),
        BinaryOp::UpdateAlt => "//=".into(),
    }
}
