//! Which entries `include` and `exclude` select.

use crate::glob;

/// The `include` and `exclude` patterns of a step.
pub(crate) struct Filter<'c> {
    include: &'c [String],
    exclude: &'c [String],
}

impl<'c> Filter<'c> {
    pub fn new(include: &'c [String], exclude: &'c [String]) -> Filter<'c> {
        Filter { include, exclude }
    }

    /// Whether the entry at `path` is selected: not excluded, itself or through a folder
    /// above it, and, when there are `include` patterns, not a folder and matching one.
    /// Folders are left to be created as the files inside them need them.
    pub fn selects(&self, path: &str, is_dir: bool) -> bool {
        !self.excludes(path)
            && (self.include.is_empty()
                || (!is_dir && self.include.iter().any(|p| pattern_matches(p, path))))
    }

    /// Whether `path` or a folder above it matches an `exclude` pattern.
    pub fn excludes(&self, path: &str) -> bool {
        let mut prefixes = path
            .char_indices()
            .filter(|&(_, c)| c == '/')
            .map(|(i, _)| &path[..i])
            .chain([path]);
        prefixes.any(|prefix| self.exclude.iter().any(|p| pattern_matches(p, prefix)))
    }
}

/// A pattern with a `/` matches the whole path; one without matches the last segment.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    if pattern.contains('/') {
        glob::matches(pattern, path)
    } else {
        glob::matches(pattern, path.rsplit('/').next().unwrap_or(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(patterns: &[&str]) -> Vec<String> {
        patterns.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn everything_is_selected_without_patterns() {
        let filter = Filter::new(&[], &[]);
        assert!(filter.selects("a/b.txt", false));
        assert!(filter.selects("a", true));
    }

    #[test]
    fn include_selects_matching_files_only() {
        let include = strings(&["*.txt", "docs/**"]);
        let filter = Filter::new(&include, &[]);
        assert!(filter.selects("deep/down/a.txt", false));
        assert!(filter.selects("docs/x/y.md", false));
        assert!(!filter.selects("a.md", false));
        assert!(!filter.selects("docs", true));
    }

    #[test]
    fn exclude_drops_matches_and_everything_in_excluded_folders() {
        let exclude = strings(&["*.log", "tmp"]);
        let filter = Filter::new(&[], &exclude);
        assert!(!filter.selects("x/a.log", false));
        assert!(!filter.selects("tmp/keep.txt", false));
        assert!(filter.excludes("a/tmp"));
        assert!(filter.selects("tmpfile", false));
    }
}
