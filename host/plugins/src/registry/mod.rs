//! Plugin packages and the vetted plugin set of a deployment.
//!
//! * [`package`]: `plugin.toml`, a plugin's manifest next to its artifact.
//! * [`search`]: where plugins are found (`$DAGU_HOME/plugins`, configured folders).
//! * [`config`]: the `plugins:` section of `config.yaml` (enabled list, grants, locked mode,
//!   signatures, step-type choices).
//! * [`caps`]: effective capabilities, requested ∩ granted.
//! * [`lock`]: `plugins.lock`, the pinned (and optionally signed) plugin set.
//! * [`verify`]: checking an installed plugin against its pin.
//! * [`resolve`]: [`Registry`], all of the above put together.
//! * [`wire`]: registering the registry's step types with the engine's `Executors`.
//! * [`located`]: errors that point at `file:line:column: field`.

pub mod caps;
pub mod config;
pub mod located;
pub mod lock;
pub mod package;
pub mod resolve;
pub mod search;
pub mod verify;
pub mod wire;

pub use caps::effective;
pub use config::DeploymentConfig;
pub use located::FileError;
pub use lock::{LockFile, Pin};
pub use package::{Kind, Package};
pub use resolve::{Claim, Installed, Registry};
pub use verify::Refusal;
pub use wire::register;
