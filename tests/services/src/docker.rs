//! A Docker engine with a small busybox image, for the `docker` and `container` step types
//! (`../shared/spec/test-services.md` §2.2).
//!
//! [`DockerEngine::get`] uses the engine `DOCKER_HOST` names (or `/var/run/docker.sock`)
//! when `docker version` answers there; otherwise it starts a private `dockerd` in a
//! temporary folder (no bridge, no iptables), shared by the tests of this process and stopped
//! when the process exits (an `atexit` handler: statics are never dropped), with what it
//! leaves mounted unmounted and its folder removed. Either way it makes sure the image [`IMAGE`] exists,
//! importing it from the machine's static `/bin/busybox` when missing (there is no registry).
//!
//! The engine is shared with other tests and other test processes: tests name their
//! containers uniquely, label them, and clean up only what carries their own label.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{has_program, stop, unavailable, wait_ready};

/// The busybox image every docker test uses: `/bin/busybox` with its applets linked in
/// `/bin`, `ENV PATH=/bin`, `CMD ["/bin/sh"]`, a world-writable `/tmp`.
pub const IMAGE: &str = "dagu-test-busybox:1";

/// The `docker` client program.
const DOCKER: &str = "docker";

/// A Docker engine the tests may use, with [`IMAGE`] present.
#[derive(Clone)]
pub struct DockerEngine {
    /// The `DOCKER_HOST` value that reaches the engine (`unix:///...`).
    pub host: String,
    /// The busybox image, [`IMAGE`].
    pub image: String,
}

/// A `dockerd` this process started.
struct PrivateEngine {
    child: Child,
    dir: PathBuf,
    host: String,
}

/// This process's private engine: not started yet, running, or the reason it cannot run.
enum Private {
    Untried,
    Running(PrivateEngine),
    Failed(String),
}

static PRIVATE: Mutex<Private> = Mutex::new(Private::Untried);

impl DockerEngine {
    /// An engine with [`IMAGE`] present, or `None` (skip) when this machine has none and
    /// cannot start one; under `CI` that panics instead.
    pub fn get() -> Option<DockerEngine> {
        if !has_program(DOCKER) {
            return unavailable("docker", "the docker client is not installed");
        }
        if !Path::new("/bin/busybox").is_file() {
            return unavailable("docker", "/bin/busybox (Debian busybox-static) is missing");
        }
        let shared = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let host = if answers(&shared) {
            shared
        } else {
            match private_engine() {
                Ok(host) => host,
                Err(why) => return unavailable("docker", &why),
            }
        };
        let engine = DockerEngine {
            host,
            image: IMAGE.to_string(),
        };
        if let Err(why) = engine.ensure_image() {
            panic!("cannot import the test image {IMAGE}: {why}");
        }
        Some(engine)
    }

    /// A `docker` command aimed at this engine.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.env("DOCKER_HOST", &self.host);
        cmd
    }

    /// Runs `docker ARGS...` and returns its output (never fails: check `status`).
    pub fn docker(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running the docker client")
    }

    /// Runs `docker ARGS...`, panics unless it succeeds, returns its trimmed stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Ids of all containers (running or not) carrying `label` (`key` or `key=value`).
    pub fn containers_with_label(&self, label: &str) -> Vec<String> {
        self.docker_ok(&[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label={label}"),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Ids of the running containers carrying `label`.
    pub fn running_with_label(&self, label: &str) -> Vec<String> {
        self.docker_ok(&[
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label={label}"),
            "--filter",
            "status=running",
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Removes (forcibly) every container carrying `label`; for test teardown.
    pub fn remove_with_label(&self, label: &str) {
        for id in self.containers_with_label(label) {
            let _ = self.docker(&["rm", "-f", "-v", &id]);
        }
    }

    /// Whether a container named or with id `name` exists.
    pub fn container_exists(&self, name: &str) -> bool {
        self.docker(&["container", "inspect", name])
            .status
            .success()
    }

    /// Imports [`IMAGE`] unless the engine has it. Several test processes may race here:
    /// each imports under its own temporary tag and then moves [`IMAGE`] onto it, which
    /// is harmless whoever wins.
    fn ensure_image(&self) -> Result<(), String> {
        // One import at a time in this process (tests call `get` in parallel).
        static IMPORTING: Mutex<()> = Mutex::new(());
        let _one = IMPORTING.lock().unwrap_or_else(PoisonError::into_inner);
        if self.docker(&["image", "inspect", IMAGE]).status.success() {
            return Ok(());
        }
        let root = tempfile::Builder::new()
            .prefix("dagu-busybox-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        build_rootfs(root.path())?;
        let temp_tag = format!(
            "dagu-test-busybox:import-{}-{}",
            std::process::id(),
            nanos()
        );
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(root.path())
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("tar: {e}"))?;
        let import = self
            .command()
            .args([
                "import",
                "--change",
                "CMD [\"/bin/sh\"]",
                "--change",
                "ENV PATH=/bin",
                "-",
                &temp_tag,
            ])
            .stdin(tar.stdout.take().expect("tar's stdout"))
            .output()
            .map_err(|e| format!("docker import: {e}"))?;
        let _ = tar.wait();
        if !import.status.success() {
            return Err(format!(
                "docker import failed: {}",
                String::from_utf8_lossy(&import.stderr)
            ));
        }
        // Another process may have finished its import meanwhile: keep its image (moving
        // the tag would leave that one dangling) and drop ours.
        let tagged = if self.docker(&["image", "inspect", IMAGE]).status.success() {
            None
        } else {
            Some(self.docker(&["tag", &temp_tag, IMAGE]))
        };
        let _ = self.docker(&["rmi", &temp_tag]);
        if let Some(tagged) = tagged.filter(|t| !t.status.success())
            && !self.docker(&["image", "inspect", IMAGE]).status.success()
        {
            return Err(format!(
                "docker tag failed: {}",
                String::from_utf8_lossy(&tagged.stderr)
            ));
        }
        Ok(())
    }
}

/// Whether `docker version` answers at `host`.
fn answers(host: &str) -> bool {
    Command::new(DOCKER)
        .env("DOCKER_HOST", host)
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The `DOCKER_HOST` of this process's private engine, started on first use.
fn private_engine() -> Result<String, String> {
    let mut slot = PRIVATE.lock().unwrap_or_else(PoisonError::into_inner);
    match &*slot {
        Private::Running(engine) => return Ok(engine.host.clone()),
        Private::Failed(why) => return Err(why.clone()),
        Private::Untried => {}
    }
    match start_private() {
        Ok(engine) => {
            let host = engine.host.clone();
            *slot = Private::Running(engine);
            // SAFETY: registers a plain `extern "C"` function.
            unsafe { libc::atexit(stop_private) };
            Ok(host)
        }
        Err(why) => {
            *slot = Private::Failed(why.clone());
            Err(why)
        }
    }
}

fn start_private() -> Result<PrivateEngine, String> {
    if !has_program("dockerd") {
        return Err("no engine answers and dockerd (Debian docker.io) is not installed".into());
    }
    // Keep the folder short: the socket path must stay under 108 bytes.
    let dir = tempfile::Builder::new()
        .prefix("dgd-")
        .tempdir_in("/tmp")
        .map_err(|e| format!("temporary folder: {e}"))?
        .keep();
    let log = std::fs::File::create(dir.join("dockerd.log")).map_err(|e| e.to_string())?;
    let host = format!("unix://{}", dir.join("docker.sock").display());
    let spawned = Command::new("dockerd")
        .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
        .args(["--shutdown-timeout", "1", "--log-level", "warn"])
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .arg("-H")
        .arg(&host)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("starting dockerd: {e}"));
        }
    };
    let mut engine = PrivateEngine { child, dir, host };
    let host = engine.host.clone();
    if let Err(why) = wait_ready(&mut engine.child, Duration::from_secs(30), || {
        answers(&host)
    }) {
        let log = std::fs::read_to_string(engine.dir.join("dockerd.log")).unwrap_or_default();
        engine.stop();
        return Err(format!("private dockerd: {why}; its log:\n{log}"));
    }
    Ok(engine)
}

impl PrivateEngine {
    /// Stops dockerd (it takes its containerd along), unmounts what it leaves mounted
    /// under its folder (the network namespace bind mount), removes the folder.
    fn stop(&mut self) {
        stop(&mut self.child, libc::SIGTERM);
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let prefix = format!("{}/", self.dir.display());
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        // Deepest first.
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            if let Ok(c) = std::ffi::CString::new(point) {
                // SAFETY: a NUL-terminated path; MNT_DETACH cannot harm other mounts.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stops the private engine at process exit.
extern "C" fn stop_private() {
    let mut slot = PRIVATE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Private::Running(engine) = &mut *slot {
        engine.stop();
    }
    *slot = Private::Failed("the process is exiting".into());
}

/// A busybox root filesystem in `root`: the binary, its applets as links (never over the
/// binary itself: `busybox --list` names `busybox` too), `/tmp` (1777), `/etc/passwd` and
/// `/etc/group` with root.
fn build_rootfs(root: &Path) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let bin: PathBuf = root.join("bin");
    for d in ["bin", "tmp", "etc", "root"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| io(d, e))?;
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .map_err(|e| io("chmod tmp", e))?;
    }
    std::fs::copy("/bin/busybox", bin.join("busybox")).map_err(|e| io("copy busybox", e))?;
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .map_err(|e| io("busybox --list", e))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet.contains('/') {
            continue;
        }
        let link = bin.join(applet);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        std::os::unix::fs::symlink("busybox", &link).map_err(|e| io(applet, e))?;
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        .map_err(|e| io("passwd", e))?;
    std::fs::write(root.join("etc/group"), "root:x:0:\n").map_err(|e| io("group", e))?;
    Ok(())
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
