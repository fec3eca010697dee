//! One archive entry, whatever the format.

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    /// A symbolic link to the target.
    Symlink(String),
    /// A hard link to another entry's path (tar).
    Hardlink(String),
    /// Devices, pipes and the like, which are listed but never extracted.
    Other,
}

/// An entry's metadata.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The path inside the archive, `/`-separated, without a trailing `/`.
    pub path: String,
    pub kind: Kind,
    /// Bytes of content (files only).
    pub size: u64,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

/// Permission bits assumed where a platform or archive has none.
pub(crate) fn default_mode(is_dir: bool) -> u32 {
    if is_dir { 0o755 } else { 0o644 }
}
