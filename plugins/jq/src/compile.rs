//! Turning filter text into a runnable filter.

use jaq_core::load::parse::{Def, Term};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Filter};
use jaq_json::Val;

use dagu_plugin_sdk::RunError;

use crate::natives::{self, Data};
use crate::refs::Refs;
use crate::{errors, prelude};

/// The variable holding the step's environment, as in jq.
const ENV: &str = "$ENV";

/// A compiled filter with the values of the global variables it reads.
pub(crate) struct Program {
    /// The filter.
    pub filter: Filter<Data>,
    /// Values of the filter's global variables, in declaration order.
    pub globals: Vec<Val>,
}

/// Compiles `code`. `$ENV` and `env` are the step's environment `env`.
pub(crate) fn compile(code: &str, env: &[(String, String)]) -> Result<Program, RunError> {
    let mut refs = jaq_core::load::parse(code, |p| p.term()).map(|term| {
        let mut refs = Refs::default();
        refs.add_term(&term);
        refs
    });
    let calls_env = refs.as_ref().is_none_or(|r| r.calls.contains(&("env", 0)));
    let reads_env = calls_env || refs.as_ref().is_some_and(|r| r.vars.contains(ENV));
    let needed;
    let mut defs = match &mut refs {
        Some(refs) => {
            needed = prelude::needed(&mut refs.calls);
            prelude::parse(&needed)
        }
        // Not a plain term (module directives, or errors the loader will report).
        None => prelude::all(),
    };
    if calls_env {
        defs.push(Def {
            name: "env",
            args: Vec::new(),
            body: Term::Var(ENV),
        });
    }
    // Only the natives that the filter or its definitions may call.
    let funs = natives::funs(refs.as_ref().map(|r| &r.calls));

    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|e| RunError::failed(1, errors::load(code, e)))?;
    let globals: &[&str] = if reads_env { &[ENV] } else { &[] };
    let filter = Compiler::default()
        .with_funs(funs)
        .with_global_vars(globals.iter().copied())
        .compile(modules)
        .map_err(|e| RunError::failed(1, errors::compile(code, e)))?;
    let globals = if reads_env {
        vec![environment(env)]
    } else {
        Vec::new()
    };
    Ok(Program { filter, globals })
}

/// The environment as an object; a later entry for a name wins.
fn environment(env: &[(String, String)]) -> Val {
    let map = env
        .iter()
        .map(|(k, v)| (Val::utf8_str(k.clone()), Val::utf8_str(v.clone())))
        .collect();
    Val::obj(map)
}
