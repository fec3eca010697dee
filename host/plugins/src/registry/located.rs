//! [`FileError`]: a problem in a file, at a line and column, naming the field.

use std::fmt;
use std::path::PathBuf;

/// A problem in a configuration file, printed as `file:line:column: field: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub col: usize,
    /// The dotted path of the field, e.g. `capabilities.fs_read` (empty when none applies).
    pub field: String,
    /// What is wrong, and where it helps, what to write instead.
    pub message: String,
}

impl FileError {
    /// A problem at a byte offset of `source`.
    pub fn at_offset(
        file: impl Into<PathBuf>,
        source: &str,
        offset: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> FileError {
        let (line, col) = line_col(source, offset);
        FileError {
            file: file.into(),
            line,
            col,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A problem with the file as a whole (it cannot be read, say).
    pub fn whole(file: impl Into<PathBuf>, message: impl Into<String>) -> FileError {
        FileError {
            file: file.into(),
            line: 0,
            col: 0,
            field: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FileError {}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let s = "a = 1\nbb = 2\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        assert_eq!(line_col(s, 11), (2, 6));
        assert_eq!(line_col(s, 999), (3, 1));
    }

    #[test]
    fn display_names_file_line_and_field() {
        let e = FileError::at_offset("p/plugin.toml", "x\nname = 1", 9, "name", "bad");
        assert_eq!(e.to_string(), "p/plugin.toml:2:8: name: bad");
        assert_eq!(FileError::whole("f", "gone").to_string(), "f: gone");
    }
}
