//! Error messages shared by the modules: what went wrong, and what to do about it.

use std::io;
use std::path::Path;

use dagu_plugin_sdk::RunError;

/// The exit code of a step that failed before its command could run (connection, login,
/// host key), as `ssh` itself exits.
pub(crate) const SSH_ERROR: i32 = 255;

/// Which grant a local path needs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access {
    Read,
    Write,
}

/// A message for a local file operation that failed: permission errors name the sandbox
/// grant that would allow it (the host runs this plugin under Landlock with only the
/// granted folders reachable).
pub(crate) fn local_io(what: &str, path: &Path, access: Access, e: &io::Error) -> String {
    let path = path.display();
    match e.kind() {
        io::ErrorKind::PermissionDenied => {
            let grant = match access {
                Access::Read => "fs_read",
                Access::Write => "fs_write",
            };
            format!(
                "cannot {what} {path}: permission denied (check the file's permissions; the ssh \
                 plugin may {verb} only the folders granted to it: add the folder to \
                 plugins.grants.ssh.{grant} in config.yaml)",
                verb = match access {
                    Access::Read => "read",
                    Access::Write => "write",
                }
            )
        }
        io::ErrorKind::NotFound => format!("cannot {what} {path}: no such file or directory"),
        _ => format!("cannot {what} {path}: {e}"),
    }
}

/// A failed step (exit code 255) with `message`.
pub(crate) fn ssh_failed(message: impl Into<String>) -> RunError {
    RunError::failed(SSH_ERROR, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_names_the_grant() {
        let e = io::Error::from(io::ErrorKind::PermissionDenied);
        let m = local_io("read key file", Path::new("/x/y"), Access::Read, &e);
        assert!(
            m.starts_with("cannot read key file /x/y: permission denied"),
            "{m}"
        );
        assert!(m.contains("plugins.grants.ssh.fs_read"), "{m}");
        let m = local_io("write", Path::new("/x/y"), Access::Write, &e);
        assert!(m.contains("plugins.grants.ssh.fs_write"), "{m}");
    }
}
