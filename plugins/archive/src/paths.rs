//! Paths: resolving config paths against the working directory, and checking entry
//! paths and link targets before anything is written.

use std::path::{Component, Path, PathBuf};

/// `path` from the config, relative to the step's working directory.
pub(crate) fn resolve(work_dir: Option<&str>, path: &str) -> PathBuf {
    Path::new(work_dir.unwrap_or(".")).join(path)
}

/// `path` with `.` dropped and `..` applied lexically, for comparing paths.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The segments of an entry's `/`-separated path, with `.` dropped and `..` applied.
/// Fails for absolute paths and for paths that climb above the top.
pub(crate) fn entry_segments(path: &str) -> Result<Vec<&str>, String> {
    if path.starts_with('/') {
        return Err(format!("{path} is an absolute path"));
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err(format!("{path} points outside the destination"));
                }
            }
            s => segments.push(s),
        }
    }
    Ok(segments)
}

/// Whether a symlink at `link` (segments below the destination) with `target` points
/// inside the destination.
pub(crate) fn link_stays_inside(link: &[&str], target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut path = link[..link.len().saturating_sub(1)].join("/");
    path.push('/');
    path.push_str(target);
    entry_segments(path.trim_start_matches('/')).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_must_stay_below_the_top() {
        assert_eq!(entry_segments("a/./b/"), Ok(vec!["a", "b"]));
        assert_eq!(entry_segments("a/../b"), Ok(vec!["b"]));
        assert!(entry_segments("../evil").is_err());
        assert!(entry_segments("a/../../evil").is_err());
        assert!(entry_segments("/etc/passwd").is_err());
    }

    #[test]
    fn links_must_point_inside() {
        assert!(link_stays_inside(&["a", "link"], "b/c"));
        assert!(link_stays_inside(&["a", "link"], "../top"));
        assert!(!link_stays_inside(&["a", "link"], "../../out"));
        assert!(!link_stays_inside(&["link"], "/etc"));
        assert!(link_stays_inside(&["link"], "."));
        assert!(!link_stays_inside(&["link"], ".."));
    }

    #[test]
    fn normalizing_is_lexical() {
        assert_eq!(normalize(Path::new("./a/b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("../a")), PathBuf::from("../a"));
    }
}
