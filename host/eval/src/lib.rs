//! Value resolution for Dagu DAGs (spec: `shared/spec/dag-language.md` §5).
//!
//! Everything here is pure string processing except [`backtick::run`], which runs a
//! command through `sh -c` with an explicit (already filtered) environment.
//!
//! The engine calls these functions just before a step starts; the loader never does.

pub mod backtick;
pub mod condition;
pub mod dotenv;
pub mod expand;
pub mod hostenv;
pub mod jsonpath;
pub mod names;
pub mod params;
mod quote;
mod refs;
pub mod shell;
pub mod vars;

pub use expand::{Context, Stages, StepRef, expand};
pub use vars::Vars;

/// An error raised while resolving a value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// A backtick command failed (could not start or exited non-zero).
    #[error("command substitution `{command}` failed: {reason}")]
    Backtick { command: String, reason: String },
    /// Text could not be parsed (params string, dotenv file, bad regex...).
    #[error("{0}")]
    Syntax(String),
}
