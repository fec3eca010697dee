//! Load errors that name the file, line, column and field.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::yaml::Pos;

/// One problem found while loading a DAG file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub pos: Pos,
    /// Field path as written by the user, e.g. `steps[2].retryPolicy.limit` (empty for
    /// whole-file problems).
    pub field: String,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.pos.line > 0 {
            write!(f, ":{}:{}", self.pos.line, self.pos.col)?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": field '{}': {}", self.field, self.message)
        }
    }
}

/// All problems found in one file, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Collects errors for one file while the loader keeps going.
#[derive(Debug)]
pub struct Errors {
    file: PathBuf,
    list: Vec<LoadError>,
}

impl Errors {
    /// An empty collector for `file`.
    pub fn new(file: &Path) -> Self {
        Errors {
            file: file.to_path_buf(),
            list: Vec::new(),
        }
    }

    /// The file the errors are about.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Records a problem at `pos` in `field`.
    pub fn push(&mut self, pos: Pos, field: impl Into<String>, message: impl Into<String>) {
        self.list.push(LoadError {
            file: self.file.clone(),
            pos,
            field: field.into(),
            message: message.into(),
        });
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number of problems recorded so far.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Finishes: `Ok(value)` when nothing was recorded, else every error sorted by position.
    pub fn finish<T>(mut self, value: T) -> Result<T, LoadErrors> {
        if self.list.is_empty() {
            return Ok(value);
        }
        self.list.sort_by_key(|e| e.pos);
        self.list.dedup();
        Err(LoadErrors(self.list))
    }
}
