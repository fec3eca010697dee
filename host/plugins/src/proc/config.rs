//! How to start a subprocess plugin, and the supervisor's timings.

use std::path::PathBuf;
use std::time::Duration;

use dagu_plugin_sdk::Capabilities;

use crate::proc::diagnostics::Diagnostics;

/// Everything the supervisor needs to run one plugin.
#[derive(Clone, Debug)]
pub struct ProcConfig {
    /// The plugin's name, used in messages and diagnostics.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Start from an empty environment instead of the host's.
    pub clear_env: bool,
    /// Variables set for the process (after `clear_env`).
    pub env: Vec<(String, String)>,
    /// Working directory of the process (default: the host's).
    pub work_dir: Option<PathBuf>,
    /// Where the plugin's stderr and the host's notes about the plugin go.
    pub diagnostics: Diagnostics,
    /// How long the plugin has for `hello` and `describe`.
    pub handshake_timeout: Duration,
    /// Stop the process after this long without runs (`None`: keep it).
    pub idle_timeout: Option<Duration>,
    /// How long the process has to exit after `shutdown` before it is killed.
    pub shutdown_grace: Duration,
    /// Delay before starting again after a crash or a failed start.
    pub backoff: Backoff,
    /// The longest line the plugin may send, in bytes; a longer one ends the process.
    pub max_line_bytes: usize,
    /// The plugin's effective capabilities (requested ∩ granted by the deployment), for the
    /// sandbox; empty (everything denied) by default.
    pub grants: Capabilities,
    /// Start the process inside the sandbox built from `grants` (see `proc::sandbox`). Only
    /// plugins a deployment marks trusted should run with `false`.
    pub sandbox: bool,
    /// The most address space the process may map, in bytes (`RLIMIT_AS`; sandbox only).
    pub memory_limit: Option<u64>,
    /// The plugin's own folder, readable and executable inside the sandbox (default: the
    /// working directory, else the folder of `program` when it is a path).
    pub plugin_dir: Option<PathBuf>,
}

impl ProcConfig {
    /// A plugin run as `program args...` with the default timings: 10 s handshake,
    /// 5 min idle stop, 5 s shutdown grace, backoff 100 ms doubling up to 30 s, 16 MiB lines,
    /// diagnostics to the host's stderr; sandboxed with no grants and no memory limit.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>, args: &[&str]) -> ProcConfig {
        ProcConfig {
            name: name.into(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            clear_env: false,
            env: Vec::new(),
            work_dir: None,
            diagnostics: Diagnostics::Stderr,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(300)),
            shutdown_grace: Duration::from_secs(5),
            backoff: Backoff::default(),
            max_line_bytes: 16 << 20,
            grants: Capabilities::default(),
            sandbox: true,
            memory_limit: None,
            plugin_dir: None,
        }
    }
}

/// Exponential backoff between restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before the next start after `failures` consecutive failures (none for 0).
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32 << (failures - 1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(0), Duration::ZERO);
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(500), Duration::from_secs(1));
    }
}
