//! Real servers on loopback for tests, each in its own temporary folder, stopped (and the
//! folder removed) when its guard is dropped (see `../shared/spec/test-services.md`).
//!
//! * [`sshd`]: OpenSSH's `sshd` on a free port, with a host key, a key user and a password
//!   user, and the SFTP subsystem.
//! * [`docker`]: a Docker engine (a private `dockerd`, or the one `DOCKER_HOST` names) with
//!   a busybox image imported from Debian's `busybox-static`.
//!
//! A service whose programs are missing makes [`unavailable`] skip the test locally (it
//! returns `None`) but panic when `CI` is set, so CI cannot pass by skipping.

use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

pub mod docker;
pub mod sshd;

/// A free TCP port on 127.0.0.1 (racy by nature: start the server, and retry with a new
/// port if it fails to bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free loopback port")
}

/// Reports that `service` cannot run here because of `why`: panics under CI, else prints
/// the reason and returns `None` so the caller can skip.
pub fn unavailable<T>(service: &str, why: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("test service {service} is required under CI but {why}");
    }
    eprintln!("skipping: test service {service} is not available here: {why}");
    None
}

/// Whether an executable `program` exists (an absolute path, or found on `PATH`).
pub fn has_program(program: &str) -> bool {
    let found = |p: &Path| p.is_file();
    if program.contains('/') {
        return found(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| found(&dir.join(program))))
        .unwrap_or(false)
}

/// Polls `ready` every 20 ms until it holds, the child exits, or `deadline` passes.
/// Returns an error naming what happened.
pub fn wait_ready(
    child: &mut Child,
    deadline: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if ready() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the server exited at start ({status})"));
        }
        if start.elapsed() > deadline {
            return Err(format!("the server was not ready after {deadline:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a server: `signal` to its pid, up to 10 s to exit, then SIGKILL; reaps it.
pub fn stop(child: &mut Child, signal: i32) {
    // SAFETY: kill(2) on the pid of a child we have not reaped yet.
    unsafe { libc::kill(child.id() as i32, signal) };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
