//! `extract`: unpacking an archive into a folder, never writing outside it.

use std::collections::HashSet;
use std::fs::{self, File};
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
use crate::read::read_entries;
use crate::time;
use crate::verify::verify;

/// Extracts `config.source` into `config.destination` (default: the working directory).
/// Modes and modification times are kept; folders get theirs once everything inside
/// them is written.
pub(crate) fn extract(
    config: &Config,
    work_dir: Option<&str>,
    progress: &mut Progress,
) -> Result<Fields, RunError> {
    let source = paths::resolve(work_dir, &config.source);
    let destination_name = config
        .destination
        .clone()
        .unwrap_or_else(|| ".".to_string());
    let destination = paths::resolve(work_dir, &destination_name);
    let format = Format::for_existing(config.format.as_deref(), &source)?;
    if config.verify_integrity {
        verify(&source, format)?;
    }
    if !config.dry_run {
        fs::create_dir_all(&destination).map_err(|e| {
            RunError::failed(1, format!("cannot create {}: {e}", destination.display()))
        })?;
    }
    let filter = Filter::new(&config.include, &config.exclude);
    let mut unpacker = Unpacker {
        config,
        root: destination,
        ready: HashSet::new(),
        folders: Vec::new(),
    };
    read_entries(&source, format, &mut |entry, data| {
        progress.check_cancelled()?;
        if !filter.selects(&entry.path, entry.is_dir()) {
            return Ok(());
        }
        match unpacker.place(entry) {
            Ok(None) => Ok(()),
            Ok(Some(segments)) => match unpacker.unpack(entry, &segments, data) {
                Ok(()) => {
                    progress.done("extract", entry);
                    Ok(())
                }
                Err(e) => progress.failed(&entry.path, e),
            },
            Err(e) => progress.failed(&entry.path, e),
        }
    })?;
    unpacker.finish_folders();
    Ok(vec![
        ("source", config.source.clone().into()),
        ("destination", destination_name.into()),
        ("format", format.name().into()),
    ])
}

/// What extracting one entry makes.
enum Plan<'e> {
    Folder,
    File,
    /// A symlink with this target.
    Symlink(&'e str),
    /// A hard link to this extracted file.
    Hardlink(PathBuf),
}

/// Writes entries below `root`.
struct Unpacker<'a> {
    config: &'a Config,
    root: PathBuf,
    /// Folders below `root` known to be real folders (not symlinks).
    ready: HashSet<PathBuf>,
    /// Extracted folders with their mode and time, to be applied at the end.
    folders: Vec<(PathBuf, u32, i64)>,
}

impl Unpacker<'_> {
    /// Where `entry` goes, as segments below the root: `None` when `stripComponents`
    /// leaves nothing of it or it is a folder and paths are not preserved.
    fn place<'e>(&self, entry: &'e Entry) -> Result<Option<Vec<&'e str>>, String> {
        let segments = paths::entry_segments(&entry.path)?;
        let Some(segments) = self.placed(segments) else {
            return Ok(None);
        };
        if entry.is_dir() && !self.config.preserve_paths {
            return Ok(None);
        }
        Ok(Some(segments))
    }

    /// `segments` after `stripComponents` and `preservePaths`.
    fn placed<'e>(&self, segments: Vec<&'e str>) -> Option<Vec<&'e str>> {
        let kept = segments.get(self.config.strip_components..)?;
        match kept {
            [] => None,
            [.., last] if !self.config.preserve_paths => Some(vec![*last]),
            kept => Some(kept.to_vec()),
        }
    }

    /// Writes `entry` at `segments` below the root (in a dry run, only checks it).
    fn unpack(
        &mut self,
        entry: &Entry,
        segments: &[&str],
        data: &mut dyn Read,
    ) -> Result<(), String> {
        let plan = self.plan(entry, segments)?;
        if self.config.dry_run {
            return Ok(());
        }
        let rel: PathBuf = segments.iter().collect();
        if let Some(parent) = rel.parent() {
            self.prepare_folder(parent)?;
        }
        let path = self.root.join(&rel);
        let text = |e: io::Error| e.to_string();
        match plan {
            Plan::Folder => {
                self.prepare_folder(&rel)?;
                self.folders.push((path, entry.mode, entry.mtime));
            }
            Plan::File => {
                self.make_room(&path)?;
                let mut file = File::create_new(&path).map_err(text)?;
                io::copy(data, &mut file).map_err(text)?;
                file.set_modified(time::system_time(entry.mtime))
                    .map_err(text)?;
                platform::set_mode(&path, entry.mode).map_err(text)?;
            }
            Plan::Symlink(target) => {
                self.make_room(&path)?;
                platform::symlink(target, &path).map_err(text)?;
            }
            Plan::Hardlink(source) => {
                self.make_room(&path)?;
                fs::hard_link(source, &path).map_err(text)?;
            }
        }
        Ok(())
    }

    /// What to make of `entry` at `segments`; refuses links reaching outside the root.
    fn plan<'e>(&self, entry: &'e Entry, segments: &[&str]) -> Result<Plan<'e>, String> {
        match &entry.kind {
            Kind::Dir => Ok(Plan::Folder),
            Kind::File => Ok(Plan::File),
            Kind::Symlink(target) if paths::link_stays_inside(segments, target) => {
                Ok(Plan::Symlink(target))
            }
            Kind::Symlink(target) => Err(format!(
                "refusing a symlink to {target}: it points outside the destination"
            )),
            Kind::Hardlink(target) => {
                let placed = self
                    .placed(paths::entry_segments(target)?)
                    .ok_or_else(|| format!("the link target {target} is not extracted"))?;
                Ok(Plan::Hardlink(
                    self.root.join(placed.iter().collect::<PathBuf>()),
                ))
            }
            Kind::Other => Err("not a file, folder or link; skipped".into()),
        }
    }

    /// Makes `rel` (below the root) an existing real folder, creating what is missing and
    /// refusing to go through symlinks.
    fn prepare_folder(&mut self, rel: &Path) -> Result<(), String> {
        let mut current = PathBuf::new();
        for segment in rel.iter() {
            current.push(segment);
            if self.ready.contains(&current) {
                continue;
            }
            let path = self.root.join(&current);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(format!(
                        "refusing to write through the symlink {}",
                        current.display()
                    ));
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) if self.config.overwrite => {
                    fs::remove_file(&path).map_err(|e| e.to_string())?;
                    fs::create_dir(&path).map_err(|e| e.to_string())?;
                }
                Ok(_) => return Err(format!("{} exists and is not a folder", current.display())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&path).map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(e.to_string()),
            }
            self.ready.insert(current.clone());
        }
        Ok(())
    }

    /// Clears `path` for a new file or link: nothing there, or, with `overwrite`, a file
    /// or link that is removed (never followed).
    fn make_room(&self, path: &Path) -> Result<(), String> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.to_string()),
            Ok(meta) if meta.is_dir() => Err("a folder is in the way".into()),
            Ok(_) if self.config.overwrite => fs::remove_file(path).map_err(|e| e.to_string()),
            Ok(_) => Err("already exists; set overwrite: true to replace it".into()),
        }
    }

    /// Gives extracted folders their modes and times, deepest first so that setting a
    /// folder's time is not undone by its children. Best effort: a folder that cannot
    /// be opened keeps the time it has.
    fn finish_folders(&mut self) {
        self.folders
            .sort_by_key(|(path, _, _)| std::cmp::Reverse(path.components().count()));
        for (path, mode, mtime) in &self.folders {
            if let Ok(folder) = File::open(path) {
                let _ = folder.set_modified(time::system_time(*mtime));
            }
            let _ = platform::set_mode(path, *mode);
        }
    }
}
