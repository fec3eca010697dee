//! Reading a whole archive to check that it is intact.

use std::io;
use std::path::Path;

use dagu_plugin_sdk::RunError;

use crate::entry::Kind;
use crate::format::Format;
use crate::read::read_entries;

/// Reads every entry of the archive at `path` to its end, so that the formats' checksums
/// are checked, and checks each file's length. Returns the number of entries.
pub(crate) fn verify(path: &Path, format: Format) -> Result<u64, RunError> {
    let mut entries = 0;
    read_entries(path, format, &mut |entry, data| {
        entries += 1;
        if entry.kind != Kind::File {
            return Ok(());
        }
        let read = io::copy(data, &mut io::sink()).map_err(|e| corrupt(path, &entry.path, e))?;
        if read != entry.size {
            let why = format!("{read} bytes instead of {}", entry.size);
            return Err(corrupt(path, &entry.path, why));
        }
        Ok(())
    })?;
    Ok(entries)
}

fn corrupt(archive: &Path, entry: &str, why: impl std::fmt::Display) -> RunError {
    RunError::failed(
        1,
        format!(
            "integrity check of {} failed at {entry}: {why}",
            archive.display()
        ),
    )
}
