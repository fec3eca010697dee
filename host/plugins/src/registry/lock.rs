//! `plugins.lock` (in `DAGU_HOME`): the vetted plugin set, as TOML.
//!
//! ```toml
//! version = 1
//!
//! [[plugin]]
//! name = "python-echo"
//! version = "0.1.0"
//! artifact = "plugin.py"
//! sha256 = "9f2c...e1"
//! signature = """
//! untrusted comment: signature from minisign secret key
//! RUQ...
//! trusted comment: timestamp:1700000000 file:plugin.py
//! ...
//! """
//! ```
//!
//! `dagu plugin lock` writes it; a deployment in locked mode runs only what it pins.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::registry::located::FileError;

/// The lock file's name in `DAGU_HOME`.
pub const FILE_NAME: &str = "plugins.lock";

/// The format version this host reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The whole lock file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// The format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// One pin per plugin.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<Pin>,
}

/// What is pinned for one plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The plugin's name.
    pub name: String,
    /// Its version (must equal `plugin.toml`'s and what the plugin's `describe` says).
    pub version: String,
    /// The artifact's path inside the plugin folder (for people reading the file).
    pub artifact: String,
    /// SHA-256 of the artifact, lowercase hex.
    pub sha256: String,
    /// The artifact's minisign signature (the text of its `.minisig` file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl LockFile {
    /// An empty lock of the current format.
    pub fn new() -> LockFile {
        LockFile {
            version: FORMAT_VERSION,
            plugins: Vec::new(),
        }
    }

    /// Reads a lock file; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<LockFile>, FileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(FileError::whole(path, format!("cannot read: {e}"))),
        };
        let lock: LockFile = toml::from_str(&text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            FileError::at_offset(path, &text, offset, "", e.message().trim())
        })?;
        if lock.version != FORMAT_VERSION {
            return Err(FileError::whole(
                path,
                format!(
                    "format version {} is not supported (this host writes version \
                     {FORMAT_VERSION}): run `dagu plugin lock` to write it again",
                    lock.version
                ),
            ));
        }
        Ok(Some(lock))
    }

    /// Writes the lock atomically (a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let body = toml::to_string_pretty(self).map_err(std::io::Error::other)?;
        let text = format!(
            "# The vetted plugin set: written by `dagu plugin lock`, checked when \
             config.yaml sets plugins.locked.\n{body}"
        );
        let tmp = path.with_extension("lock.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }

    /// The pin of plugin `name`.
    pub fn get(&self, name: &str) -> Option<&Pin> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(LockFile::load(&path).unwrap(), None);
        let mut lock = LockFile::new();
        lock.plugins.push(Pin {
            name: "a".into(),
            version: "1.0.0".into(),
            artifact: "a.py".into(),
            sha256: "00ff".into(),
            signature: Some("untrusted comment: x\nRW..\n".into()),
        });
        lock.plugins.push(Pin {
            name: "b".into(),
            version: "2".into(),
            artifact: "b".into(),
            sha256: "11".into(),
            signature: None,
        });
        lock.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# The vetted plugin set"), "{text}");
        assert!(text.contains("[[plugin]]"), "{text}");
        let back = LockFile::load(&path).unwrap().unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.get("b").unwrap().version, "2");
        assert!(back.get("c").is_none());
    }

    #[test]
    fn a_broken_lock_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "version = 1\n[[plugin]]\nname = \"a\"\nsha = 1\n").unwrap();
        let e = LockFile::load(&path).unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        std::fs::write(&path, "version = 7\n").unwrap();
        let e = LockFile::load(&path).unwrap_err();
        assert!(e.message.contains("dagu plugin lock"), "{e}");
    }
}
