//! What differs between Unix and WASI: permission bits and creating symlinks. WASI has
//! no permission bits, so there modes are read as defaults and not applied.

use std::fs::Metadata;
use std::io;
use std::path::Path;

/// The permission bits of a file.
#[cfg(unix)]
pub(crate) fn mode_of(meta: &Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// The permission bits of a file: the defaults, without write bits when read-only.
#[cfg(not(unix))]
pub(crate) fn mode_of(meta: &Metadata) -> u32 {
    let mode = crate::entry::default_mode(meta.is_dir());
    if meta.permissions().readonly() {
        mode & !0o222
    } else {
        mode
    }
}

/// Sets the permission bits of `path`.
#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Permission bits cannot be set here; this does nothing.
#[cfg(not(unix))]
pub(crate) fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Creates a symlink at `link` pointing to `target`.
#[cfg(unix)]
pub(crate) fn symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Creates a symlink at `link` pointing to `target`.
#[cfg(not(unix))]
pub(crate) fn symlink(target: &str, link: &Path) -> io::Result<()> {
    // The portable spelling; on WASI it is `symlink_path`.
    #[allow(deprecated)]
    std::fs::soft_link(target, link)
}
