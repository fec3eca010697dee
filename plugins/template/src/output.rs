//! Where the rendered text goes: the step's stdout, or a file replaced atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use dagu_plugin_sdk::{RunContext, RunError};

/// How many names a temporary file tries before giving up.
const TEMP_ATTEMPTS: u32 = 100;

/// Sends `text` to stdout. The host ends every line, so a final line break is dropped,
/// and empty text prints nothing.
pub(crate) fn print(text: &str, ctx: &RunContext) {
    if !text.is_empty() {
        ctx.stdout(text.strip_suffix('\n').unwrap_or(text));
    }
}

/// Writes `text` to `path` (relative paths against `work_dir`): into a new file in the
/// same folder, renamed over `path` once complete, so readers never see half a file.
/// Missing parent folders are created.
pub(crate) fn write(work_dir: Option<&str>, path: &str, text: &str) -> Result<(), RunError> {
    let target = Path::new(work_dir.unwrap_or(".")).join(path);
    replace(&target, text.as_bytes())
        .map_err(|e| RunError::failed(1, format!("cannot write {}: {e}", target.display())))
}

fn replace(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(folder)?;
    let (temp_path, mut temp) = create_temp(target)?;
    let written = temp
        .write_all(bytes)
        .and_then(|()| temp.sync_all())
        .and_then(|()| fs::rename(&temp_path, target));
    if written.is_err() {
        let _ = fs::remove_file(&temp_path);
    }
    written
}

/// A new file beside `target`, named after it.
fn create_temp(target: &Path) -> io::Result<(PathBuf, File)> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for attempt in 0..TEMP_ATTEMPTS {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{nanos:x}{attempt}.tmp"));
        let temp_path = target.with_file_name(temp_name);
        match File::create_new(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temporary name left")))
}
