//! Finding, creating and deleting runs and attempts on disk.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::journal;
use crate::layout::{self, Dirs};
use crate::status::RunStatus;

/// A run directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    pub path: PathBuf,
    pub run_id: String,
    /// Creation time encoded in the directory name.
    pub created: DateTime<Utc>,
}

/// An attempt directory with its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptDir {
    pub path: PathBuf,
    pub attempt_id: String,
    pub created: DateTime<Utc>,
}

/// A root run whose directory is not visible yet.
#[derive(Debug)]
pub struct PendingRun {
    staging: PathBuf,
    /// Where the run will be once published.
    pub run: RunDir,
}

impl PendingRun {
    /// The directory to create the first attempt in until the run is published.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Moves the run into place (one atomic rename).
    pub fn publish(self) -> io::Result<RunDir> {
        fs::rename(&self.staging, &self.run.path)?;
        Ok(self.run)
    }
}

/// The run store (file backend).
#[derive(Clone, Debug)]
pub struct Store {
    pub dirs: Dirs,
}

impl Store {
    /// A store rooted at `dirs`.
    pub fn new(dirs: Dirs) -> Store {
        Store { dirs }
    }

    /// Starts creating a new root run: a hidden staging directory that readers ignore
    /// until [`PendingRun::publish`] renames it into place, so a crash before the first
    /// record is written leaves no half-made run. Fails if the id is taken for this DAG.
    pub fn begin_run(
        &self,
        dag: &str,
        run_id: &str,
        created: DateTime<Utc>,
    ) -> io::Result<PendingRun> {
        if self.find_run(dag, run_id)?.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("dag-run ID {run_id} already exists for DAG {dag}"),
            ));
        }
        let day = layout::day_dir(&self.dirs, dag, created);
        let name = layout::run_dir_name(created, run_id);
        let staging = day.join(format!(".{name}.{}.creating", std::process::id()));
        create_private_dir_all(&staging)?;
        Ok(PendingRun {
            staging,
            run: RunDir {
                path: day.join(name),
                run_id: run_id.to_string(),
                created,
            },
        })
    }

    /// Finds a root run by id.
    pub fn find_run(&self, dag: &str, run_id: &str) -> io::Result<Option<RunDir>> {
        Ok(self
            .list_runs(dag)?
            .into_iter()
            .find(|r| r.run_id == run_id))
    }

    /// All root runs of a DAG, newest first.
    pub fn list_runs(&self, dag: &str) -> io::Result<Vec<RunDir>> {
        let base = self
            .dirs
            .dag_runs
            .join(layout::dag_dir_name(dag))
            .join("dag-runs");
        let mut runs = Vec::new();
        for year in sorted_dirs(&base)? {
            for month in sorted_dirs(&year)? {
                for day in sorted_dirs(&month)? {
                    runs.extend(
                        sorted_dirs(&day)?
                            .into_iter()
                            .filter_map(|p| parse_run_dir(&p)),
                    );
                }
            }
        }
        runs.sort_by(|a, b| (b.created, &b.run_id).cmp(&(a.created, &a.run_id)));
        Ok(runs)
    }

    /// Names of the DAG directories that hold runs.
    pub fn dag_dirs(&self) -> io::Result<Vec<String>> {
        Ok(sorted_dirs(&self.dirs.dag_runs)?
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }

    /// The latest visible attempt of a run and its record.
    pub fn latest_status(&self, run: &RunDir) -> io::Result<Option<(AttemptDir, RunStatus)>> {
        for attempt in attempts(&run.path)?.into_iter().rev() {
            if let Some(status) = journal::read(&attempt.path)? {
                return Ok(Some((attempt, status)));
            }
        }
        Ok(None)
    }

    /// Deletes a run's records and its log directory.
    pub fn delete_run(&self, dag: &str, run: &RunDir) -> io::Result<()> {
        fs::remove_dir_all(&run.path)?;
        let logs = layout::run_log_dir(&self.dirs.logs, dag, run.created, &run.run_id);
        match fs::remove_dir_all(&logs) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        prune_empty_parents(&run.path, &self.dirs.dag_runs);
        Ok(())
    }
}

/// Creates a new attempt directory inside a run (or child run) directory.
pub fn create_attempt(run_path: &Path, created: DateTime<Utc>) -> io::Result<AttemptDir> {
    let attempt_id = layout::new_attempt_id();
    let path = run_path.join(layout::attempt_dir_name(created, &attempt_id));
    create_private_dir_all(&path)?;
    Ok(AttemptDir {
        path,
        attempt_id,
        created,
    })
}

/// The directory of a sub-DAG run inside its root run.
pub fn child_run_path(root_run: &Path, child_run_id: &str) -> PathBuf {
    root_run
        .join("children")
        .join(format!("child_{child_run_id}"))
}

/// Visible attempts of a run, oldest first.
pub fn attempts(run_path: &Path) -> io::Result<Vec<AttemptDir>> {
    Ok(sorted_dirs(run_path)?
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let rest = name.strip_prefix("attempt_")?;
            let (stamp, id) = rest.rsplit_once("Z_")?;
            let created = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S_%3f")
                .ok()?
                .and_utc();
            Some(AttemptDir {
                path: p,
                attempt_id: id.to_string(),
                created,
            })
        })
        .collect())
}

fn parse_run_dir(path: &Path) -> Option<RunDir> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("dag-run_")?;
    let (stamp, id) = rest.split_once("Z_")?;
    let created = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S")
        .ok()?
        .and_utc();
    Some(RunDir {
        path: path.to_path_buf(),
        run_id: id.to_string(),
        created,
    })
}

/// Sub-directories not starting with `.`, sorted by name; empty when `dir` is missing.
fn sorted_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// Creates a directory (and parents) with mode 0750.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(path)
}

fn prune_empty_parents(start: &Path, stop: &Path) {
    let mut dir = start.parent();
    while let Some(d) = dir {
        if d == stop || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn store(root: &Path) -> Store {
        Store::new(Dirs {
            dag_runs: root.join("dag-runs"),
            logs: root.join("logs"),
        })
    }

    #[test]
    fn runs_are_found_newest_first_and_ids_are_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        s.begin_run("d", "a", t1).unwrap().publish().unwrap();
        let pending = s.begin_run("d", "b", t2).unwrap();
        assert!(
            s.find_run("d", "b").unwrap().is_none(),
            "a pending run is invisible"
        );
        pending.publish().unwrap();
        let runs = s.list_runs("d").unwrap();
        assert_eq!(
            runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let err = s.begin_run("d", "a", t2).unwrap_err();
        assert!(err.to_string().contains("already exists"));
        let a = s.find_run("d", "a").unwrap().unwrap();
        s.delete_run("d", &a).unwrap();
        assert!(s.find_run("d", "a").unwrap().is_none());
        assert!(s.find_run("d", "b").unwrap().is_some());
    }

    #[test]
    fn attempts_are_listed_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap();
        let a1 = create_attempt(tmp.path(), t1).unwrap();
        let a2 = create_attempt(tmp.path(), t2).unwrap();
        let listed = attempts(tmp.path()).unwrap();
        assert_eq!(listed, vec![a1, a2]);
    }
}
