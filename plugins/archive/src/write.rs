//! Writing entries into a new archive, whatever its format.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::entry::{Entry, Kind};
use crate::format::Format;
use crate::time;

/// An archive being written.
pub(crate) enum Writer {
    Tar(tar::Builder<BufWriter<File>>),
    TarGz(tar::Builder<GzEncoder<BufWriter<File>>>),
    Zip(Box<ZipWriter<File>>, SimpleFileOptions),
}

impl Writer {
    /// Creates the archive file at `path` (replacing any) in `format`; `level` is 0–9 or
    /// -1 for the format's default.
    pub fn create(path: &Path, format: Format, level: i32) -> io::Result<Writer> {
        let file = File::create(path)?;
        let gz_level = u32::try_from(level).map_or(Compression::default(), Compression::new);
        Ok(match format {
            Format::Tar => Writer::Tar(tar_builder(BufWriter::new(file))),
            Format::TarGz => {
                Writer::TarGz(tar_builder(GzEncoder::new(BufWriter::new(file), gz_level)))
            }
            Format::Zip => {
                let method = if level == 0 {
                    CompressionMethod::Stored
                } else {
                    CompressionMethod::Deflated
                };
                let options = SimpleFileOptions::default()
                    .compression_method(method)
                    .compression_level((level > 0).then_some(i64::from(level)));
                Writer::Zip(Box::new(ZipWriter::new(file)), options)
            }
        })
    }

    /// Adds `entry`; `data` is a file's content.
    pub fn add(&mut self, entry: &Entry, data: &mut dyn Read) -> io::Result<()> {
        match self {
            Writer::Tar(b) => add_tar(b, entry, data),
            Writer::TarGz(b) => add_tar(b, entry, data),
            Writer::Zip(z, options) => add_zip(z, *options, entry, data),
        }
    }

    /// Writes the archive's end and flushes it to disk.
    pub fn finish(self) -> io::Result<()> {
        let file = match self {
            Writer::Tar(b) => b.into_inner()?.into_inner().map_err(|e| e.into_error())?,
            Writer::TarGz(b) => b
                .into_inner()?
                .finish()?
                .into_inner()
                .map_err(|e| e.into_error())?,
            Writer::Zip(z, _) => z.finish().map_err(io::Error::other)?,
        };
        file.sync_all()
    }
}

fn tar_builder<W: Write>(w: W) -> tar::Builder<W> {
    let mut builder = tar::Builder::new(w);
    builder.follow_symlinks(false);
    builder
}

fn add_tar<W: Write>(
    b: &mut tar::Builder<W>,
    entry: &Entry,
    data: &mut dyn Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mode(entry.mode);
    header.set_mtime(u64::try_from(entry.mtime).unwrap_or(0));
    header.set_size(entry.size);
    match &entry.kind {
        Kind::File => {
            header.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut header, &entry.path, data)
        }
        Kind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut header, format!("{}/", entry.path), io::empty())
        }
        Kind::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut header, &entry.path, target)
        }
        Kind::Hardlink(_) | Kind::Other => {
            Err(io::Error::other("cannot archive this kind of file"))
        }
    }
}

fn add_zip(
    z: &mut ZipWriter<File>,
    options: SimpleFileOptions,
    entry: &Entry,
    data: &mut dyn Read,
) -> io::Result<()> {
    let options = options
        .unix_permissions(entry.mode)
        .last_modified_time(time::to_dos(entry.mtime))
        .large_file(entry.size >= u64::from(u32::MAX));
    match &entry.kind {
        Kind::File => {
            z.start_file(entry.path.as_str(), options)
                .map_err(io::Error::other)?;
            io::copy(data, z).map(drop)
        }
        Kind::Dir => z
            .add_directory(entry.path.as_str(), options)
            .map_err(io::Error::other),
        Kind::Symlink(target) => z
            .add_symlink(entry.path.as_str(), target.as_str(), options)
            .map_err(io::Error::other),
        Kind::Hardlink(_) | Kind::Other => {
            Err(io::Error::other("cannot archive this kind of file"))
        }
    }
}
