//! Everything a step-type plugin and the host share.
//!
//! * [`records`]: the records of the `dagu:plugin` contract (`wit/dagu-plugin.wit`) as serde
//!   types, serialised as JSON with snake_case keys.
//! * [`protocol`]: the messages of the subprocess protocol `dagu-plugin/1` (newline-delimited
//!   JSON over stdio), specified in `docs/plugin-protocol.md`.
//! * [`serve`]: a [`Plugin`] trait and [`serve_stdio`], the protocol loop for plugin authors.

pub mod protocol;
pub mod records;
pub mod serve;

#[cfg(test)]
mod schema_tests;

pub use protocol::{HostMessage, Outcome, PROTOCOL_V1, PluginMessage};
pub use records::{
    Capabilities, LogStream, Manifest, RunError, RunRequest, RunResponse, StepTypeInfo,
};
pub use serve::{Plugin, RunContext, serve, serve_stdio};
