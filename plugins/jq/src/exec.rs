//! Running a compiled filter over the step's input and printing what it yields.

use dagu_plugin_sdk::{RunContext, RunError};
use jaq_core::{Ctx, Exn, Vars};
use jaq_json::Val;

use crate::compile::Program;
use crate::config::Config;
use crate::natives::{self, Data};
use crate::print;

/// The input values in `script`: a sequence of JSON values, or `null` when it is blank.
pub(crate) fn parse_inputs(script: &str) -> Result<Vec<Val>, RunError> {
    if script.trim().is_empty() {
        return Ok(vec![Val::Null]);
    }
    jaq_json::read::parse_many(script.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| RunError::failed(1, format!("the input (script) is not valid JSON: {e}")))
}

/// Runs `program` on each input in turn and prints every result, one per log message.
/// Stops at the first error (reported on stderr too) or at `halt`.
pub(crate) fn run(
    program: &Program,
    inputs: Vec<Val>,
    config: &Config,
    ctx: &RunContext,
) -> Result<(), RunError> {
    let mut text = String::new();
    for input in inputs {
        let vars = Vars::new(program.globals.iter().cloned());
        let outputs = program
            .filter
            .id
            .run((Ctx::<Data>::new(&program.filter.lut, vars), input));
        for output in outputs {
            natives::drain_messages(|m| ctx.stderr(m));
            match output {
                Ok(v) => {
                    text.clear();
                    print::result(&v, config.raw, &mut text);
                    ctx.stdout(&text);
                }
                Err(exn) => return stop(exn, ctx),
            }
        }
        natives::drain_messages(|m| ctx.stderr(m));
    }
    Ok(())
}

/// The end of a run the filter broke off: an error, or `halt` with an exit code.
fn stop(exn: Exn<'_, Val>, ctx: &RunContext) -> Result<(), RunError> {
    let exn = match exn.get_err() {
        Ok(error) => {
            let message = match error.into_val() {
                Val::TStr(s) => format!("jq: error: {}", String::from_utf8_lossy(&s)),
                other => {
                    let mut json = String::new();
                    print::compact(&other, &mut json);
                    format!("jq: error (not a string): {json}")
                }
            };
            ctx.stderr(&message);
            return Err(RunError::failed(1, message));
        }
        Err(exn) => exn,
    };
    match exn.get_halt() {
        Ok(0) => Ok(()),
        Ok(code) => Err(RunError::failed(
            code,
            format!("the filter halted with exit code {code}"),
        )),
        Err(_) => Err(RunError::internal(
            "the filter ended with an unexpected control-flow exception",
        )),
    }
}
