//! Archive formats: named in the config, inferred from a file name, or recognised by an
//! archive's first bytes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use dagu_plugin_sdk::RunError;

/// Where a tar header's `ustar` magic ends.
const TAR_MAGIC_END: usize = 262;

/// An archive format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Tar,
    TarGz,
    Zip,
}

impl Format {
    /// The canonical name, also the file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::Zip => "zip",
        }
    }

    /// The format a config names.
    fn named(name: &str) -> Result<Format, RunError> {
        match name.to_ascii_lowercase().as_str() {
            "tar" => Ok(Format::Tar),
            "tar.gz" | "tgz" => Ok(Format::TarGz),
            "zip" => Ok(Format::Zip),
            other => Err(RunError::invalid_config(format!(
                "unsupported archive format: {other} (supported: tar, tar.gz, tgz, zip)"
            ))),
        }
    }

    /// The format a file name's extension tells.
    fn of_name(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        [
            (".tar.gz", Format::TarGz),
            (".tgz", Format::TarGz),
            (".tar", Format::Tar),
            (".zip", Format::Zip),
        ]
        .into_iter()
        .find_map(|(ext, format)| name.ends_with(ext).then_some(format))
    }

    /// The format of an existing archive's first bytes, `None` when they tell nothing.
    fn sniff(path: &Path) -> io::Result<Option<Format>> {
        let mut head = Vec::with_capacity(TAR_MAGIC_END);
        File::open(path)?
            .take(TAR_MAGIC_END as u64)
            .read_to_end(&mut head)?;
        Ok(
            if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
                Some(Format::Zip)
            } else if head.starts_with(&[0x1f, 0x8b]) {
                Some(Format::TarGz)
            } else if head.get(257..TAR_MAGIC_END) == Some(b"ustar") {
                Some(Format::Tar)
            } else {
                None
            },
        )
    }

    /// The format of the archive to write at `path`: the config's, else the name's.
    pub fn for_new(named: Option<&str>, path: &Path) -> Result<Format, RunError> {
        match named {
            Some(name) => Format::named(name),
            None => Format::of_name(path).ok_or_else(|| unknown(path)),
        }
    }

    /// The format of the archive at `path`: the config's, else the name's, else its
    /// first bytes'.
    pub fn for_existing(named: Option<&str>, path: &Path) -> Result<Format, RunError> {
        if let Some(name) = named {
            return Format::named(name);
        }
        if let Some(format) = Format::of_name(path) {
            return Ok(format);
        }
        let sniffed = Format::sniff(path).map_err(|e| {
            RunError::failed(1, format!("cannot read archive {}: {e}", path.display()))
        })?;
        sniffed.ok_or_else(|| unknown(path))
    }
}

fn unknown(path: &Path) -> RunError {
    RunError::invalid_config(format!(
        "cannot tell the archive format of {}; set format to tar, tar.gz or zip",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_extensions() {
        assert_eq!(Format::named("TGZ"), Ok(Format::TarGz));
        assert!(Format::named("rar").is_err());
        assert_eq!(
            Format::of_name(Path::new("x/a.Tar.GZ")),
            Some(Format::TarGz)
        );
        assert_eq!(Format::of_name(Path::new("a.zip")), Some(Format::Zip));
        assert_eq!(Format::of_name(Path::new("a.tar")), Some(Format::Tar));
        assert_eq!(Format::of_name(Path::new("a.bin")), None);
    }
}
