//! Where things live under `DAGU_HOME`, and how files are named.
//!
//! Names follow the reference's layout (run and attempt directories, log file names) so
//! that users' scripts and the API keep finding them.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The directories the store uses.
#[derive(Clone, Debug)]
pub struct Dirs {
    /// `<data>/dag-runs`
    pub dag_runs: PathBuf,
    /// `<logs>`
    pub logs: PathBuf,
}

/// A file-system-safe form of a DAG or step name: characters outside `[A-Za-z0-9_-]`
/// become `_`, cut to 100 characters.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}

/// The directory name of a DAG: its safe name, plus a short hash when sanitising changed
/// it (so `my.dag` and `my_dag` do not collide).
pub fn dag_dir_name(name: &str) -> String {
    let safe = safe_name(name);
    if safe == name {
        return safe;
    }
    let digest = Sha256::digest(name.as_bytes());
    format!("{safe}-{:02x}{:02x}", digest[0], digest[1])
}

/// `dag-run_20261122_044629Z_<id>`
pub fn run_dir_name(created: DateTime<Utc>, run_id: &str) -> String {
    format!("dag-run_{}Z_{run_id}", created.format("%Y%m%d_%H%M%S"))
}

/// `attempt_20261122_044629_817Z_<attemptId>`
pub fn attempt_dir_name(created: DateTime<Utc>, attempt_id: &str) -> String {
    format!(
        "attempt_{}Z_{attempt_id}",
        created.format("%Y%m%d_%H%M%S_%3f")
    )
}

/// The run directory's parent: `<dag-runs>/<dag>/dag-runs/YYYY/MM/DD`.
pub fn day_dir(dirs: &Dirs, dag: &str, created: DateTime<Utc>) -> PathBuf {
    dirs.dag_runs
        .join(dag_dir_name(dag))
        .join("dag-runs")
        .join(created.format("%Y/%m/%d").to_string())
}

/// The log directory of a run: `<logs>/<dag>/dag-run_<ts>Z_<id>`.
pub fn run_log_dir(logs: &Path, dag: &str, created: DateTime<Utc>, run_id: &str) -> PathBuf {
    logs.join(safe_name(dag))
        .join(run_dir_name(created, run_id))
}

/// The run-level log file name: `dag-run_20261122.044629.816.<id8>.log`.
pub fn run_log_file_name(created: DateTime<Utc>, run_id: &str) -> String {
    format!(
        "dag-run_{}.{}.log",
        created.format("%Y%m%d.%H%M%S.%3f"),
        short_id(run_id)
    )
}

/// The log directory of an attempt inside the run log dir: `run_<ts>Z_<attemptId>`.
pub fn attempt_log_dir_name(created: DateTime<Utc>, attempt_id: &str) -> String {
    format!("run_{}Z_{attempt_id}", created.format("%Y%m%d_%H%M%S"))
}

/// A step log file stem: `<safeStep>.<YYYYMMDD.HHMMSS.mmm>.<id8>`; add `.out`/`.err`/`.log`.
pub fn step_log_stem(step: &str, started: DateTime<Utc>, run_id: &str) -> String {
    format!(
        "{}.{}.{}",
        safe_name(step),
        started.format("%Y%m%d.%H%M%S.%3f"),
        short_id(run_id)
    )
}

fn short_id(run_id: &str) -> &str {
    run_id.get(..8).unwrap_or(run_id)
}

/// A new attempt id: 6 lowercase hex characters.
pub fn new_attempt_id() -> String {
    format!("{:06x}", rand::random::<u32>() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_match_the_reference_layout() {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 4, 46, 29).unwrap();
        assert_eq!(run_dir_name(t, "abc"), "dag-run_20261122_044629Z_abc");
        assert_eq!(
            attempt_dir_name(t, "53d6ca"),
            "attempt_20261122_044629_000Z_53d6ca"
        );
        assert_eq!(
            step_log_stem("my step/x", t, "01a20193-bfb6"),
            "my_step_x.20261122.044629.000.01a20193"
        );
        assert_eq!(safe_name("my.dag"), "my_dag");
        assert_ne!(dag_dir_name("my.dag"), dag_dir_name("my_dag"));
        assert_eq!(dag_dir_name("plain-name"), "plain-name");
        assert_eq!(new_attempt_id().len(), 6);
    }
}
