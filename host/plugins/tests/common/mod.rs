//! Helpers shared by the plugin tests: the Python interpreter to run plugins with, and
//! whether this kernel can sandbox them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The real Python interpreter (not a shim script, which could not run inside the
/// sandbox), and the grants it needs to start there.
pub struct Python {
    pub program: PathBuf,
    /// `fs_read` grants for its installation when that lies outside the system folders
    /// the sandbox always allows (e.g. a pyenv prefix under /root).
    pub runtime_reads: Vec<String>,
}

pub fn python() -> &'static Python {
    static PYTHON: OnceLock<Python> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import os,sys; print(os.path.realpath(sys.executable)); print(sys.base_prefix)",
            ])
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "python3 -c failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let program = PathBuf::from(lines.next().unwrap());
        let prefix = lines.next().unwrap().to_string();
        let system = ["/usr", "/lib", "/lib64", "/bin"]
            .iter()
            .any(|s| prefix == *s || prefix.starts_with(&format!("{s}/")));
        Python {
            program,
            runtime_reads: if system { vec![] } else { vec![prefix] },
        }
    })
}

/// `Ok(abi)` when the kernel has Landlock; otherwise the reason. Under CI (`CI` set) a
/// missing Landlock is a failure, not a reason to skip.
pub fn landlock() -> Result<i32, String> {
    match dagu_plugins::proc::sandbox::landlock_abi() {
        Ok(abi) => Ok(abi),
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the sandbox tests, but: {why}"
            );
            Err(why.to_string())
        }
    }
}
