//! `list`: the entries of an archive.

use dagu_plugin_sdk::RunError;
use serde_json::{Value, json};

use crate::config::Config;
use crate::entry::Kind;
use crate::filter::Filter;
use crate::format::Format;
use crate::paths;
use crate::progress::{Fields, Progress};
use crate::read::read_entries;
use crate::time;
use crate::verify::verify;

/// Lists the entries of `config.source` that the filters select, as `files`:
/// `{path, size, mode, modTime, isDir}` each, `mode` as an octal string.
pub(crate) fn list(
    config: &Config,
    work_dir: Option<&str>,
    progress: &mut Progress,
) -> Result<Fields, RunError> {
    let source = paths::resolve(work_dir, &config.source);
    let format = Format::for_existing(config.format.as_deref(), &source)?;
    if config.verify_integrity {
        verify(&source, format)?;
    }
    let filter = Filter::new(&config.include, &config.exclude);
    let mut files: Vec<Value> = Vec::new();
    read_entries(&source, format, &mut |entry, _| {
        progress.check_cancelled()?;
        if filter.selects(&entry.path, entry.is_dir()) {
            let mut item = json!({
                "path": entry.path,
                "size": entry.size,
                "mode": format!("{:04o}", entry.mode),
                "modTime": time::rfc3339(entry.mtime),
                "isDir": entry.is_dir(),
            });
            if let Kind::Symlink(target) | Kind::Hardlink(target) = &entry.kind {
                item["link"] = target.as_str().into();
            }
            files.push(item);
            progress.done("list", entry);
        }
        Ok(())
    })?;
    Ok(vec![
        ("source", config.source.clone().into()),
        ("format", format.name().into()),
        ("files", files.into()),
    ])
}
