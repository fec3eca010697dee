//! `create`: archiving a file or a folder tree.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use dagu_plugin_sdk::RunError;

use crate::config::Config;
use crate::entry::{Entry, Kind};
use crate::filter::Filter;
use crate::format::Format;
use crate::paths;
use crate::platform;
use crate::progress::{Fields, Progress};
use crate::time;
use crate::verify::verify;
use crate::write::Writer;

/// How deep a folder tree may go (a guard against symlink loops with `followSymlinks`).
const MAX_DEPTH: usize = 256;

/// Archives `config.source` into `config.destination` (by default the source's name
/// with the format's extension). A folder's entries are named below the folder's own
/// name; `include`/`exclude` see paths relative to the folder.
pub(crate) fn create(
    config: &Config,
    work_dir: Option<&str>,
    progress: &mut Progress,
) -> Result<Fields, RunError> {
    let source = paths::resolve(work_dir, &config.source);
    let destination_name = match &config.destination {
        Some(d) => d.clone(),
        None => default_destination(config),
    };
    let destination = paths::resolve(work_dir, &destination_name);
    let format = Format::for_new(config.format.as_deref(), &destination)?;
    let root = metadata(&source, config.follow_symlinks).map_err(|e| {
        RunError::failed(1, format!("cannot read source {}: {e}", source.display()))
    })?;
    let writer = if config.dry_run {
        None
    } else {
        Some(open_writer(config, &destination, format)?)
    };
    let mut walk = Walk {
        config,
        filter: Filter::new(&config.include, &config.exclude),
        progress,
        writer,
        skip: paths::normalize(&destination),
    };
    let top = paths::normalize(&source)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let walked = walk.visit(&source, top.unwrap_or_default(), String::new(), root, 0);
    let finished = match (walked, walk.writer.take()) {
        (Ok(()), Some(writer)) => writer.finish().map_err(|e| {
            RunError::failed(1, format!("cannot write {}: {e}", destination.display()))
        }),
        (walked, _) => walked,
    };
    if let Err(e) = finished {
        if !config.dry_run {
            let _ = fs::remove_file(&destination);
        }
        return Err(e);
    }
    if config.verify_integrity && !config.dry_run {
        verify_written(&destination, format, walk.progress.files)?;
    }
    Ok(vec![
        ("source", config.source.clone().into()),
        ("destination", destination_name.into()),
        ("format", format.name().into()),
    ])
}

/// Starts the archive at `destination`, which may exist only with `overwrite`.
fn open_writer(config: &Config, destination: &Path, format: Format) -> Result<Writer, RunError> {
    if !config.overwrite && fs::symlink_metadata(destination).is_ok() {
        return Err(RunError::failed(
            1,
            format!(
                "{} already exists; set overwrite: true to replace it",
                destination.display()
            ),
        ));
    }
    Writer::create(destination, format, config.compression_level)
        .map_err(|e| RunError::failed(1, format!("cannot create {}: {e}", destination.display())))
}

/// Reads the written archive back: intact, with the `expected` number of entries.
fn verify_written(destination: &Path, format: Format, expected: u64) -> Result<(), RunError> {
    let entries = verify(destination, format)?;
    if entries == expected {
        return Ok(());
    }
    Err(RunError::failed(
        1,
        format!(
            "integrity check of {} failed: {entries} entries instead of {expected}",
            destination.display()
        ),
    ))
}

/// `<source>.<extension>`, or `archive.<extension>` when the source has no name.
fn default_destination(config: &Config) -> String {
    let extension = config.format.as_deref().unwrap_or("tar.gz");
    let source = paths::normalize(Path::new(&config.source));
    match source.file_name() {
        Some(_) => format!("{}.{extension}", source.display()),
        None => format!("archive.{extension}"),
    }
}

fn metadata(path: &Path, follow: bool) -> io::Result<Metadata> {
    if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    }
}

/// A walk over the source tree, adding what it selects to the archive.
struct Walk<'a, 'c> {
    config: &'a Config,
    filter: Filter<'a>,
    progress: &'a mut Progress<'c>,
    /// `None` in a dry run.
    writer: Option<Writer>,
    /// The archive itself, should it lie inside the source.
    skip: PathBuf,
}

impl Walk<'_, '_> {
    /// Adds `path`, named `name` in the archive and `rel` for the filters (empty for the
    /// source itself, which is always taken), and what is below it.
    fn visit(
        &mut self,
        path: &Path,
        name: String,
        rel: String,
        meta: Metadata,
        depth: usize,
    ) -> Result<(), RunError> {
        self.progress.check_cancelled()?;
        if paths::normalize(path) == self.skip {
            return Ok(());
        }
        let shown = if name.is_empty() { "." } else { name.as_str() };
        if depth > MAX_DEPTH {
            return self
                .progress
                .failed(shown, "too deeply nested (a symlink loop?)".into());
        }
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_symlink() {
            match fs::read_link(path) {
                Ok(target) => Kind::Symlink(target.to_string_lossy().into_owned()),
                Err(e) => return self.progress.failed(shown, e.to_string()),
            }
        } else if file_type.is_file() {
            Kind::File
        } else {
            return self
                .progress
                .failed(shown, "not a file, folder or symlink".into());
        };
        let is_dir = kind == Kind::Dir;
        let selected = if rel.is_empty() {
            !is_dir || self.config.include.is_empty()
        } else {
            self.filter.selects(&rel, is_dir)
        };
        let entry = Entry {
            path: self.archive_path(&name, is_dir),
            size: if kind == Kind::File { meta.len() } else { 0 },
            mode: platform::mode_of(&meta),
            mtime: meta.modified().map_or(0, time::seconds),
            kind,
        };
        if selected && !entry.path.is_empty() && (self.config.preserve_paths || !is_dir) {
            self.add(path, entry)?;
        }
        if is_dir {
            self.visit_children(path, &name, &rel, depth)?;
        }
        Ok(())
    }

    fn visit_children(
        &mut self,
        path: &Path,
        name: &str,
        rel: &str,
        depth: usize,
    ) -> Result<(), RunError> {
        let listing = fs::read_dir(path).and_then(|entries| {
            let mut names: Vec<_> = entries
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<_, _>>()?;
            names.sort();
            Ok(names)
        });
        let children = match listing {
            Ok(children) => children,
            Err(e) => return self.progress.failed(name, e.to_string()),
        };
        for child in children {
            let child_name = child.to_string_lossy();
            let child_rel = join(rel, &child_name);
            if self.filter.excludes(&child_rel) {
                continue;
            }
            let child_path = path.join(&child);
            match metadata(&child_path, self.config.follow_symlinks) {
                Ok(meta) => self.visit(
                    &child_path,
                    join(name, &child_name),
                    child_rel,
                    meta,
                    depth + 1,
                )?,
                Err(e) => self
                    .progress
                    .failed(&join(name, &child_name), e.to_string())?,
            }
        }
        Ok(())
    }

    /// The entry's name in the archive: `name`, or only its last segment when paths are
    /// not preserved.
    fn archive_path(&self, name: &str, is_dir: bool) -> String {
        if self.config.preserve_paths || is_dir {
            name.to_string()
        } else {
            name.rsplit('/').next().unwrap_or(name).to_string()
        }
    }

    /// Writes `entry` (read from `path`) to the archive and counts it.
    fn add(&mut self, path: &Path, mut entry: Entry) -> Result<(), RunError> {
        if let Some(writer) = &mut self.writer {
            let written = if entry.kind == Kind::File {
                // The length as of opening, which is what gets archived.
                let opened = File::open(path).and_then(|f| Ok((f.metadata()?.len(), f)));
                let (len, file) = match opened {
                    Ok(opened) => opened,
                    Err(e) => return self.progress.failed(&entry.path, e.to_string()),
                };
                entry.size = len;
                writer.add(&entry, &mut file.take(len))
            } else {
                writer.add(&entry, &mut io::empty())
            };
            written
                .map_err(|e| RunError::failed(1, format!("cannot archive {}: {e}", entry.path)))?;
        }
        self.progress.done("add", &entry);
        Ok(())
    }
}

/// `a/b` of `a` and `b`; `b` alone when `a` is empty.
fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}
