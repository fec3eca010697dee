//! Reading the entries of an archive in order, whatever its format.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use dagu_plugin_sdk::RunError;
use flate2::read::MultiGzDecoder;
use zip::ExtraField;

use crate::entry::{Entry, Kind, default_mode};
use crate::format::Format;
use crate::time;

/// What is called for every entry: its metadata and a reader of its content.
pub(crate) type Visit<'v> = dyn FnMut(&Entry, &mut dyn Read) -> Result<(), RunError> + 'v;

/// Calls `visit` for every entry of the archive at `path`, in archive order. Stops at the
/// first error `visit` returns or the archive has.
pub(crate) fn read_entries(path: &Path, format: Format, visit: &mut Visit) -> Result<(), RunError> {
    let file = File::open(path).map_err(|e| broken(path, e))?;
    match format {
        Format::Tar => read_tar(path, BufReader::new(file), visit),
        Format::TarGz => read_tar(path, MultiGzDecoder::new(BufReader::new(file)), visit),
        Format::Zip => read_zip(path, file, visit),
    }
}

fn read_tar(path: &Path, reader: impl Read, visit: &mut Visit) -> Result<(), RunError> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(|e| broken(path, e))? {
        let mut entry = entry.map_err(|e| broken(path, e))?;
        let meta = tar_entry(&entry).map_err(|e| broken(path, e))?;
        visit(&meta, &mut entry)?;
    }
    Ok(())
}

fn tar_entry<R: Read>(entry: &tar::Entry<R>) -> io::Result<Entry> {
    let header = entry.header();
    let link = || -> io::Result<String> {
        let target = entry.link_name()?.unwrap_or_default();
        Ok(target.to_string_lossy().into_owned())
    };
    let kind = match header.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink(link()?),
        tar::EntryType::Link => Kind::Hardlink(link()?),
        _ => Kind::Other,
    };
    let path = entry
        .path()?
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    Ok(Entry {
        path,
        size: if kind == Kind::File { entry.size() } else { 0 },
        mode: header
            .mode()
            .map_or(default_mode(kind == Kind::Dir), |m| m & 0o7777),
        mtime: header.mtime().map_or(0, |t| i64::try_from(t).unwrap_or(0)),
        kind,
    })
}

fn read_zip(path: &Path, file: File, visit: &mut Visit) -> Result<(), RunError> {
    let mut archive = zip::ZipArchive::new(file).map_err(|e| broken(path, e))?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| broken(path, e))?;
        let name = file.name().map_err(|e| broken(path, e))?;
        let name = name.trim_end_matches('/').to_string();
        let kind = if file.is_dir() {
            Kind::Dir
        } else if file.is_symlink() {
            let mut target = String::new();
            file.read_to_string(&mut target)
                .map_err(|e| broken(path, e))?;
            Kind::Symlink(target)
        } else {
            Kind::File
        };
        let mtime = file
            .extra_data_fields()
            .find_map(|field| match field {
                ExtraField::ExtendedTimestamp(t) => t.mod_time(),
                _ => None,
            })
            .map(i64::from)
            .or_else(|| file.last_modified().map(|t| time::from_dos(&t)))
            .unwrap_or(0);
        let meta = Entry {
            path: name,
            size: if kind == Kind::File { file.size() } else { 0 },
            mode: file
                .unix_mode()
                .map_or(default_mode(kind == Kind::Dir), |m| m & 0o7777),
            mtime,
            kind,
        };
        visit(&meta, &mut file)?;
    }
    Ok(())
}

/// The error for an archive that cannot be read.
fn broken(path: &Path, error: impl std::fmt::Display) -> RunError {
    RunError::failed(
        1,
        format!("cannot read archive {}: {error}", path.display()),
    )
}
