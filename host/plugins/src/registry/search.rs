//! The search path: the plugin folders under `$DAGU_HOME/plugins`, then those under each
//! configured folder (a configured folder may also be a plugin folder itself).

use std::path::{Path, PathBuf};

use crate::registry::package::FILE_NAME;

/// The folder plugins are installed into: `$DAGU_HOME/plugins`.
pub fn home_plugins(home: &Path) -> PathBuf {
    home.join("plugins")
}

/// Every folder holding a `plugin.toml`, in search order: `$DAGU_HOME/plugins/*` first,
/// then each of `extra` (itself, or its sub-folders), each level sorted by name.
pub fn plugin_folders(home: &Path, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = children_with_manifest(&home_plugins(home));
    for dir in extra {
        if dir.join(FILE_NAME).is_file() {
            out.push(dir.clone());
        } else {
            out.extend(children_with_manifest(dir));
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|d| seen.insert(d.clone()));
    out
}

/// The sub-folders of `dir` that hold a `plugin.toml`, sorted; none when `dir` is missing.
fn children_with_manifest(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(FILE_NAME).is_file())
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), "").unwrap();
    }

    #[test]
    fn home_first_then_configured_folders() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        plugin(&home.join("plugins/b"));
        plugin(&home.join("plugins/a"));
        std::fs::create_dir_all(home.join("plugins/not-a-plugin")).unwrap();
        let shelf = root.path().join("shelf");
        plugin(&shelf.join("c"));
        let single = root.path().join("single");
        plugin(&single);
        let found = plugin_folders(
            &home,
            &[shelf.clone(), single.clone(), root.path().join("none")],
        );
        assert_eq!(
            found,
            vec![
                home.join("plugins/a"),
                home.join("plugins/b"),
                shelf.join("c"),
                single
            ]
        );
    }
}
