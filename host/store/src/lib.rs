//! The embedded run store: files under `DAGU_HOME`.
//!
//! Layout and record format follow `shared/spec/storage.md`; each attempt's state is an
//! append-only journal folded into a record, so a crash never leaves an unreadable run.

pub mod atomic;
pub mod journal;
pub mod layout;
pub mod liveness;
pub mod runs;
pub mod status;

pub use journal::Recorder;
pub use layout::Dirs;
pub use runs::{AttemptDir, PendingRun, RunDir, Store};
pub use status::{ChildRun, NodeState, NodeStatus, RunRef, RunState, RunStatus};
