//! The `sftp` step: copies a file or a folder tree between the local machine and the
//! remote host over the SFTP subsystem of a pooled connection, keeping permission bits and
//! modification times.
//!
//! `destination` is the path the copy gets (a file's new path, or the folder that receives
//! the source folder's contents); its missing parent folders are created. Each file is
//! written to a temporary name next to its destination and renamed into place, so a
//! failed copy leaves no half-written file under the real name. One stdout line per file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dagu_plugin_sdk::{RunContext, RunError};
use russh::ChannelMsg;
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, StatusCode};
use tokio::io::{AsyncWriteExt, BufReader};

use crate::client::Session;
use crate::config::{Direction, Env, SftpConfig};
use crate::errors::{Access, local_io, ssh_failed};
use crate::pool::Lease;

/// The SFTP request timeout (seconds).
const REQUEST_TIMEOUT: u64 = 60;

/// The copy buffer size.
const BUFFER: usize = 256 * 1024;

/// What a tree walk found.
#[derive(Debug)]
struct Item {
    /// Relative to the root, `/`-separated; empty for the root.
    rel: String,
    dir: bool,
    mode: u32,
    atime: u32,
    mtime: u32,
}

/// Runs the transfer `config` describes.
pub(crate) async fn transfer(
    lease: &mut Lease,
    config: &SftpConfig,
    env: &Env,
    work_dir: Option<&Path>,
    ctx: &RunContext,
) -> Result<(), RunError> {
    let local = env.expand(
        match config.direction {
            Direction::Upload => &config.source,
            Direction::Download => &config.destination,
        },
        work_dir,
    )?;
    let remote = remote_path(match config.direction {
        Direction::Upload => &config.destination,
        Direction::Download => &config.source,
    });
    let server = lease.connection().name.clone();
    let Session {
        mut channel,
        _permit,
    } = lease.open_session().await?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| ssh_failed(format!("cannot start SFTP on {server}: {e}")))?;
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Success) => break,
            Some(ChannelMsg::Failure) | Some(ChannelMsg::Close) | None => {
                return Err(ssh_failed(format!(
                    "{server} refused the sftp subsystem: enable it in sshd_config (Subsystem \
                     sftp internal-sftp)"
                )));
            }
            Some(_) => {}
        }
    }
    let sftp = SftpSession::new(channel.into_stream())
        .await
        .map_err(|e| ssh_failed(format!("cannot start SFTP on {server}: {e}")))?;
    sftp.set_timeout(REQUEST_TIMEOUT);
    let copy = Copy {
        sftp: &sftp,
        server: &server,
        ctx,
    };
    let result = match config.direction {
        Direction::Upload => copy.upload(&local, &remote).await,
        Direction::Download => copy.download(&remote, &local).await,
    };
    let _ = sftp.close().await;
    result
}

/// A remote path as SFTP takes it: `~/x` means `x` (relative paths start in the login
/// folder).
fn remote_path(path: &str) -> String {
    match path {
        "~" => ".".to_string(),
        p => p.strip_prefix("~/").unwrap_or(p).to_string(),
    }
}

/// `parent/child` for remote paths.
fn join(parent: &str, rel: &str) -> String {
    if rel.is_empty() {
        parent.to_string()
    } else if parent.is_empty() {
        rel.to_string()
    } else if parent.ends_with('/') {
        format!("{parent}{rel}")
    } else {
        format!("{parent}/{rel}")
    }
}

/// A temporary name next to `path` (same folder), unique in this process.
fn temp_name(path: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    format!("{dir}.{name}.dagu-{}-{n}.tmp", std::process::id())
}

fn unix_secs(t: io::Result<SystemTime>) -> u32 {
    t.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

fn system_time(secs: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

/// One transfer's context.
struct Copy<'a> {
    sftp: &'a SftpSession,
    server: &'a str,
    ctx: &'a RunContext,
}

impl Copy<'_> {
    /// A failed remote operation.
    fn remote_error(&self, what: &str, path: &str, e: &SftpError) -> RunError {
        let detail = match e {
            SftpError::Status(s) => {
                let code = match s.status_code {
                    StatusCode::NoSuchFile => "no such file or directory".to_string(),
                    StatusCode::PermissionDenied => {
                        "permission denied (for the remote user)".to_string()
                    }
                    other => other.to_string(),
                };
                if s.error_message.is_empty()
                    || s.error_message.eq_ignore_ascii_case(&code)
                    || code
                        .to_lowercase()
                        .starts_with(&s.error_message.to_lowercase())
                {
                    code
                } else {
                    format!("{code} ({})", s.error_message)
                }
            }
            other => other.to_string(),
        };
        RunError::failed(
            1,
            format!("cannot {what} {path} on {}: {detail}", self.server),
        )
    }

    // ----- upload -----

    async fn upload(&self, local: &Path, remote: &str) -> Result<(), RunError> {
        let items = walk_local(local)?;
        self.remote_parents(remote).await?;
        let root_is_dir = items.first().is_some_and(|i| i.dir);
        for item in &items {
            let src = if item.rel.is_empty() {
                local.to_path_buf()
            } else {
                local.join(&item.rel)
            };
            let dst = join(remote, &item.rel);
            if item.dir {
                self.remote_mkdir(&dst).await?;
            } else {
                self.upload_file(&src, &dst, item).await?;
            }
        }
        if root_is_dir {
            // Folders last, deepest first: writing into them changes their times, and a
            // read-only mode would stop the writes.
            for item in items.iter().rev().filter(|i| i.dir) {
                let dst = join(remote, &item.rel);
                self.sftp
                    .set_metadata(dst.as_str(), attributes(item))
                    .await
                    .map_err(|e| self.remote_error("set the mode and times of", &dst, &e))?;
            }
        }
        Ok(())
    }

    async fn upload_file(&self, src: &Path, dst: &str, item: &Item) -> Result<(), RunError> {
        let file = tokio::fs::File::open(src)
            .await
            .map_err(|e| RunError::failed(1, local_io("read", src, Access::Read, &e)))?;
        let tmp = temp_name(dst);
        let mut out = self
            .sftp
            .create(tmp.as_str())
            .await
            .map_err(|e| self.remote_error("create", &tmp, &e))?;
        let mut reader = BufReader::with_capacity(BUFFER, file);
        let copied = tokio::io::copy_buf(&mut reader, &mut out).await;
        let closed = out.shutdown().await;
        let bytes = match (copied, closed) {
            (Ok(n), Ok(())) => n,
            (Err(e), _) | (_, Err(e)) => {
                let _ = self.sftp.remove_file(tmp.as_str()).await;
                return Err(RunError::failed(
                    1,
                    format!(
                        "copying {} to {dst} on {} failed: {e}",
                        src.display(),
                        self.server
                    ),
                ));
            }
        };
        let finish = async {
            self.sftp
                .set_metadata(tmp.as_str(), attributes(item))
                .await
                .map_err(|e| self.remote_error("set the mode and times of", dst, &e))?;
            // SFTP v3 rename does not replace an existing file.
            if let Ok(meta) = self.sftp.symlink_metadata(dst).await {
                if meta.file_type().is_dir() {
                    return Err(RunError::failed(
                        1,
                        format!("cannot upload to {dst} on {}: it is a folder", self.server),
                    ));
                }
                let _ = self.sftp.remove_file(dst).await;
            }
            self.sftp
                .rename(tmp.as_str(), dst)
                .await
                .map_err(|e| self.remote_error("rename a temporary file to", dst, &e))
        };
        if let Err(e) = finish.await {
            let _ = self.sftp.remove_file(tmp.as_str()).await;
            return Err(e);
        }
        self.ctx.stdout(&format!(
            "Uploaded {} ({bytes} bytes) to {dst}",
            src.display()
        ));
        Ok(())
    }

    /// Creates the missing parent folders of `path`.
    async fn remote_parents(&self, path: &str) -> Result<(), RunError> {
        let trimmed = path.trim_end_matches('/');
        let Some(i) = trimmed.rfind('/') else {
            return Ok(());
        };
        let parent = &trimmed[..i];
        let mut prefix = String::new();
        for (n, part) in parent.split('/').enumerate() {
            if n > 0 || part.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if part.is_empty() || part == "." || part == ".." {
                continue;
            }
            self.remote_mkdir(&prefix).await?;
        }
        Ok(())
    }

    /// Creates the folder `path` unless it exists.
    async fn remote_mkdir(&self, path: &str) -> Result<(), RunError> {
        match self.sftp.metadata(path).await {
            Ok(meta) if meta.file_type().is_dir() => return Ok(()),
            Ok(_) => {
                return Err(RunError::failed(
                    1,
                    format!(
                        "cannot create the folder {path} on {}: a file is in the way",
                        self.server
                    ),
                ));
            }
            Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {}
            Err(e) => return Err(self.remote_error("look at", path, &e)),
        }
        self.sftp
            .create_dir(path)
            .await
            .map_err(|e| self.remote_error("create the folder", path, &e))
    }

    // ----- download -----

    async fn download(&self, remote: &str, local: &Path) -> Result<(), RunError> {
        let items = self.walk_remote(remote).await?;
        if let Some(parent) = local.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| {
                RunError::failed(1, local_io("create the folder", parent, Access::Write, &e))
            })?;
        }
        for item in &items {
            let src = join(remote, &item.rel);
            let dst = if item.rel.is_empty() {
                local.to_path_buf()
            } else {
                local.join(&item.rel)
            };
            if item.dir {
                if !dst.is_dir() {
                    fs::create_dir(&dst).map_err(|e| {
                        RunError::failed(1, local_io("create the folder", &dst, Access::Write, &e))
                    })?;
                }
            } else {
                self.download_file(&src, &dst, item).await?;
            }
        }
        for item in items.iter().rev().filter(|i| i.dir) {
            let dst = if item.rel.is_empty() {
                local.to_path_buf()
            } else {
                local.join(&item.rel)
            };
            set_local_attributes(&dst, item).map_err(|e| {
                RunError::failed(
                    1,
                    local_io("set the mode and times of", &dst, Access::Write, &e),
                )
            })?;
        }
        Ok(())
    }

    async fn download_file(&self, src: &str, dst: &Path, item: &Item) -> Result<(), RunError> {
        let file = self
            .sftp
            .open(src)
            .await
            .map_err(|e| self.remote_error("open", src, &e))?;
        let name = dst
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dst.with_file_name(temp_name(&name));
        let mut out = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| RunError::failed(1, local_io("write", &tmp, Access::Write, &e)))?;
        let mut reader = BufReader::with_capacity(BUFFER, file);
        let copied = tokio::io::copy_buf(&mut reader, &mut out).await;
        let flushed = out.flush().await;
        let bytes = match (copied, flushed) {
            (Ok(n), Ok(())) => n,
            (Err(e), _) | (_, Err(e)) => {
                let _ = fs::remove_file(&tmp);
                return Err(RunError::failed(
                    1,
                    format!(
                        "copying {src} on {} to {} failed: {e}",
                        self.server,
                        dst.display()
                    ),
                ));
            }
        };
        drop(out);
        let finish = set_local_attributes(&tmp, item).and_then(|()| fs::rename(&tmp, dst));
        if let Err(e) = finish {
            let _ = fs::remove_file(&tmp);
            return Err(RunError::failed(
                1,
                local_io("write", dst, Access::Write, &e),
            ));
        }
        self.ctx.stdout(&format!(
            "Downloaded {src} ({bytes} bytes) to {}",
            dst.display()
        ));
        Ok(())
    }

    /// The remote tree at `root`, folders before their contents; symbolic links are
    /// followed to files, links to folders are skipped (with a note on stderr).
    async fn walk_remote(&self, root: &str) -> Result<Vec<Item>, RunError> {
        let meta = self
            .sftp
            .metadata(root)
            .await
            .map_err(|e| self.remote_error("read", root, &e))?;
        let mut items = vec![item_from(String::new(), meta.file_type().is_dir(), &meta)];
        if !meta.file_type().is_dir() {
            return Ok(items);
        }
        let mut pending = vec![String::new()];
        while let Some(rel) = pending.pop() {
            let path = join(root, &rel);
            let mut entries: Vec<_> = self
                .sftp
                .read_dir(path.as_str())
                .await
                .map_err(|e| self.remote_error("list the folder", &path, &e))?
                .collect();
            entries.sort_by_key(|e| e.file_name());
            let mut subdirs = Vec::new();
            for entry in entries {
                let child_rel = join(&rel, &entry.file_name());
                let mut meta = entry.metadata();
                if meta.file_type().is_symlink() {
                    let target = join(root, &child_rel);
                    meta = match self.sftp.metadata(target.as_str()).await {
                        Ok(m) => m,
                        Err(_) => {
                            self.ctx
                                .stderr(&format!("skipped {target}: a broken symbolic link"));
                            continue;
                        }
                    };
                    if meta.file_type().is_dir() {
                        self.ctx
                            .stderr(&format!("skipped {target}: a symbolic link to a folder"));
                        continue;
                    }
                }
                if meta.file_type().is_dir() {
                    items.push(item_from(child_rel.clone(), true, &meta));
                    subdirs.push(child_rel);
                } else if meta.file_type().is_file() {
                    items.push(item_from(child_rel, false, &meta));
                } else {
                    self.ctx.stderr(&format!(
                        "skipped {}: not a regular file",
                        join(root, &child_rel)
                    ));
                }
            }
            // Depth-first, in name order.
            pending.extend(subdirs.into_iter().rev());
        }
        Ok(order(items))
    }
}

/// Sorts items so every folder comes before its contents (paths in name order).
fn order(mut items: Vec<Item>) -> Vec<Item> {
    items.sort_by(|a, b| {
        let key = |i: &Item| i.rel.split('/').map(str::to_string).collect::<Vec<_>>();
        if a.rel.is_empty() {
            return std::cmp::Ordering::Less;
        }
        if b.rel.is_empty() {
            return std::cmp::Ordering::Greater;
        }
        key(a).cmp(&key(b))
    });
    items
}

fn item_from(rel: String, dir: bool, meta: &FileAttributes) -> Item {
    Item {
        rel,
        dir,
        mode: meta.permissions.unwrap_or(if dir { 0o755 } else { 0o644 }) & 0o7777,
        atime: meta.atime.or(meta.mtime).unwrap_or(0),
        mtime: meta.mtime.unwrap_or(0),
    }
}

/// The remote attributes to set: mode and times.
fn attributes(item: &Item) -> FileAttributes {
    FileAttributes {
        permissions: Some(item.mode),
        atime: Some(item.atime),
        mtime: Some(item.mtime),
        ..FileAttributes::empty()
    }
}

/// Sets a local file's times and then its mode (a read-only mode would stop the first).
fn set_local_attributes(path: &Path, item: &Item) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let times = fs::FileTimes::new()
        .set_accessed(system_time(item.atime))
        .set_modified(system_time(item.mtime));
    let file = if item.dir {
        fs::File::open(path)?
    } else {
        fs::File::options().write(true).open(path)?
    };
    file.set_times(times)?;
    drop(file);
    fs::set_permissions(path, fs::Permissions::from_mode(item.mode))
}

/// The local tree at `root`, folders before their contents; symbolic links are followed
/// to files, links to folders are refused.
fn walk_local(root: &Path) -> Result<Vec<Item>, RunError> {
    use std::os::unix::fs::MetadataExt;
    let read_err =
        |path: &Path, e: &io::Error| RunError::failed(1, local_io("read", path, Access::Read, e));
    let meta = fs::metadata(root).map_err(|e| read_err(root, &e))?;
    let item = |rel: String, meta: &fs::Metadata| Item {
        rel,
        dir: meta.is_dir(),
        mode: meta.mode() & 0o7777,
        atime: unix_secs(meta.accessed()),
        mtime: unix_secs(meta.modified()),
    };
    let mut items = vec![item(String::new(), &meta)];
    if !meta.is_dir() {
        if !meta.is_file() {
            return Err(RunError::failed(
                1,
                format!("cannot upload {}: not a regular file", root.display()),
            ));
        }
        return Ok(items);
    }
    let mut pending: Vec<(String, PathBuf)> = vec![(String::new(), root.to_path_buf())];
    while let Some((rel, dir)) = pending.pop() {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .map_err(|e| read_err(&dir, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| read_err(&dir, &e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = join(&rel, &name);
            let meta = fs::metadata(&path).map_err(|e| read_err(&path, &e))?;
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if meta.is_dir() {
                if is_link {
                    return Err(RunError::failed(
                        1,
                        format!(
                            "cannot upload {}: a symbolic link to a folder",
                            path.display()
                        ),
                    ));
                }
                items.push(item(child_rel.clone(), &meta));
                subdirs.push((child_rel, path));
            } else if meta.is_file() {
                items.push(item(child_rel, &meta));
            } else {
                return Err(RunError::failed(
                    1,
                    format!("cannot upload {}: not a regular file", path.display()),
                ));
            }
        }
        pending.extend(subdirs.into_iter().rev());
    }
    Ok(order(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(remote_path("~/a"), "a");
        assert_eq!(remote_path("/x"), "/x");
        assert_eq!(join("a", ""), "a");
        assert_eq!(join("a/", "b"), "a/b");
        assert_eq!(join("a", "b/c"), "a/b/c");
        let t = temp_name("/x/y/file.txt");
        assert!(t.starts_with("/x/y/.file.txt.dagu-"), "{t}");
        assert!(temp_name("f").starts_with(".f.dagu-"));
    }

    #[test]
    fn walk_orders_folders_first() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        fs::write(dir.path().join("a.txt"), "a").unwrap();
        fs::write(dir.path().join("b/c/d.txt"), "d").unwrap();
        fs::write(dir.path().join("b/z.txt"), "z").unwrap();
        let items = walk_local(dir.path()).unwrap();
        let rels: Vec<&str> = items.iter().map(|i| i.rel.as_str()).collect();
        assert_eq!(rels, vec!["", "a.txt", "b", "b/c", "b/c/d.txt", "b/z.txt"]);
    }
}
