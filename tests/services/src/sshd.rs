//! OpenSSH's `sshd` on loopback (`../shared/spec/test-services.md` §2.1).
//!
//! [`Sshd::start`] runs `/usr/sbin/sshd -D -e` as root on a free port of 127.0.0.1 with its
//! own host key, a client key in `authorized_keys`, password logins for the machine-wide
//! user `wftest` (password `wftest-pass`, created by `scripts/setup-test-services.sh`),
//! the internal SFTP subsystem and `LogLevel VERBOSE` (its log is [`Sshd::log`]).
//! Everything lives in a temporary folder that [`Drop`] removes after stopping the server.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, has_program, stop, unavailable, wait_ready};

/// The sshd program.
const SSHD: &str = "/usr/sbin/sshd";
/// The machine-wide test user (see `scripts/setup-test-services.sh`).
const USER: &str = "wftest";
/// Its password.
const PASSWORD: &str = "wftest-pass";

/// A running sshd; stopped and its folder removed when dropped.
pub struct Sshd {
    child: Child,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The server's temporary folder (root-owned, 0755).
    pub dir: PathBuf,
    /// The user that may log in (`wftest`).
    pub user: String,
    /// That user's password.
    pub password: String,
    /// A private key (ed25519, no passphrase, 0600) the server accepts for [`Sshd::user`].
    pub client_key: PathBuf,
    /// The server's public host key, `ssh-ed25519 AAAA…` (no comment).
    pub host_public_key: String,
    /// A folder owned by the user (0755), for the remote side of tests: files written by
    /// remote commands, SFTP destinations.
    pub remote_dir: PathBuf,
}

impl Sshd {
    /// Starts a server, or returns `None` (through [`unavailable`], which panics under
    /// `CI`) when sshd, the test user or `/run/sshd` are missing, or when not root.
    pub fn start() -> Option<Sshd> {
        if !has_program(SSHD) || !has_program("ssh-keygen") {
            return unavailable("sshd", "/usr/sbin/sshd or ssh-keygen is not installed");
        }
        if !Path::new("/run/sshd").is_dir() {
            return unavailable(
                "sshd",
                "/run/sshd is missing (run scripts/setup-test-services.sh)",
            );
        }
        let Some((uid, gid)) = user_ids(USER) else {
            return unavailable(
                "sshd",
                "user wftest is missing (run scripts/setup-test-services.sh)",
            );
        };
        // SAFETY: geteuid(2) has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return unavailable(
                "sshd",
                "the tests do not run as root (needed for password logins)",
            );
        }

        let tmp = tempfile::Builder::new()
            .prefix("sshd-")
            .tempdir()
            .expect("creating sshd's temporary folder");
        let dir = tmp.keep();
        // sshd reads authorized_keys as the user: the folder must be traversable.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod sshd folder");
        keygen(&dir.join("host_ed25519_key"));
        let client_key = dir.join("client_ed25519");
        keygen(&client_key);
        let authorized = dir.join("authorized_keys");
        fs::copy(dir.join("client_ed25519.pub"), &authorized).expect("writing authorized_keys");
        fs::set_permissions(&authorized, fs::Permissions::from_mode(0o644))
            .expect("chmod authorized_keys");
        let remote_dir = dir.join("remote");
        fs::create_dir(&remote_dir).expect("creating the remote folder");
        std::os::unix::fs::chown(&remote_dir, Some(uid), Some(gid)).expect("chown remote folder");
        let host_public_key = public_key_of(&dir.join("host_ed25519_key.pub"));

        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            match spawn(&dir, port) {
                Ok(child) => {
                    return Some(Sshd {
                        child,
                        port,
                        dir,
                        user: USER.to_string(),
                        password: PASSWORD.to_string(),
                        client_key,
                        host_public_key,
                        remote_dir,
                    });
                }
                Err(e) => last_error = e,
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!("sshd did not start in 3 tries: {last_error}");
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The server's log so far (its stderr: `-e`, `LogLevel VERBOSE`).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// How many logins the server accepted so far (`Accepted publickey|password` lines).
    pub fn count_connections(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("Accepted publickey for") || l.contains("Accepted password for"))
            .count()
    }

    /// Waits (polling every 20 ms, up to 10 s) until at least `n` logins were accepted, and
    /// returns the count. sshd's monitor logs a login just after answering it, so the line
    /// may trail the client's success by a moment.
    pub fn wait_connections(&self, n: usize) -> usize {
        let start = Instant::now();
        loop {
            let count = self.count_connections();
            if count >= n || start.elapsed() > Duration::from_secs(10) {
                return count;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The known_hosts name of this server: `[127.0.0.1]:PORT`.
    pub fn known_hosts_name(&self) -> String {
        format!("[{}]:{}", self.host(), self.port)
    }

    /// A known_hosts line for this server: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self) -> String {
        format!("{} {}", self.known_hosts_name(), self.host_public_key)
    }

    /// Writes a known_hosts file at `path` with this server's line (hashed with
    /// `ssh-keygen -H` when `hashed`), after the `extra` lines.
    pub fn write_known_hosts(&self, path: &Path, hashed: bool, extra: &[&str]) {
        let mut text = String::new();
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&self.known_hosts_line());
        text.push('\n');
        fs::write(path, text).expect("writing known_hosts");
        if hashed {
            run(Command::new("ssh-keygen")
                .arg("-q")
                .arg("-H")
                .arg("-f")
                .arg(path));
            let _ = fs::remove_file(path.with_extension("old"));
            let mut old = path.as_os_str().to_owned();
            old.push(".old");
            let _ = fs::remove_file(old);
        }
    }

    /// A known_hosts line naming this server with another (freshly made) ed25519 key: what a
    /// man in the middle would present.
    pub fn wrong_known_hosts_line(&self) -> String {
        let path = self.dir.join(format!("other_key_{}", unique()));
        keygen(&path);
        let mut pub_path = path.into_os_string();
        pub_path.push(".pub");
        let public = public_key_of(Path::new(&pub_path));
        format!("{} {}", self.known_hosts_name(), public)
    }

    /// A copy of [`Sshd::client_key`] encrypted with `passphrase` (`ssh-keygen -p`).
    pub fn encrypted_client_key(&self, passphrase: &str) -> PathBuf {
        let path = self.dir.join(format!("client_encrypted_{}", unique()));
        fs::copy(&self.client_key, &path).expect("copying the client key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod key copy");
        run(Command::new("ssh-keygen")
            .args(["-q", "-p", "-P", "", "-N", passphrase, "-f"])
            .arg(&path));
        path
    }

    /// Copies [`Sshd::client_key`] (and its `.pub`) to `dest` with mode 0600.
    pub fn copy_client_key(&self, dest: &Path) {
        fs::copy(&self.client_key, dest).expect("copying the client key");
        fs::set_permissions(dest, fs::Permissions::from_mode(0o600)).expect("chmod key copy");
        let mut public = dest.as_os_str().to_owned();
        public.push(".pub");
        fs::copy(self.dir.join("client_ed25519.pub"), public).expect("copying the public key");
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        stop(&mut self.child, libc::SIGTERM);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Writes the config for `port` and starts sshd; waits until it listens.
fn spawn(dir: &Path, port: u16) -> Result<Child, String> {
    let config = dir.join("sshd_config");
    let d = dir.display();
    let text = format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {d}/host_ed25519_key\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         StrictModes no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication yes\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         PermitRootLogin no\n\
         AllowUsers {USER}\n\
         Subsystem sftp internal-sftp\n\
         LogLevel VERBOSE\n"
    );
    fs::write(&config, text).map_err(|e| format!("writing sshd_config: {e}"))?;
    let log_path = dir.join("sshd.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("opening sshd.log: {e}"))?;
    let out = fs::File::create(dir.join("sshd.out")).map_err(|e| format!("sshd.out: {e}"))?;
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawning sshd: {e}"))?;
    let listening = format!("Server listening on 127.0.0.1 port {port}.");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let ready = wait_ready(&mut child, Duration::from_secs(10), || {
        fs::read_to_string(&log_path).is_ok_and(|l| l.contains(&listening))
            && TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    });
    match ready {
        Ok(()) => Ok(child),
        Err(e) => {
            stop(&mut child, libc::SIGTERM);
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            Err(format!("{e}; sshd log:\n{log}"))
        }
    }
}

/// `ssh-keygen -q -t ed25519 -N '' -f PATH`.
fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "dagu-test", "-f"])
        .arg(path));
}

/// Runs a helper program to its end; panics with its output when it fails.
fn run(command: &mut Command) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{command:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `TYPE BASE64` of a `.pub` file (the comment dropped).
fn public_key_of(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The uid and gid of `user`, from `/etc/passwd`.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != user {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

/// A number unique within this process, for file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Appends `line` to the file at `path` (creating it), for tests that build known_hosts
/// files by hand.
pub fn append_line(path: &Path, line: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("opening file to append");
    writeln!(f, "{line}").expect("appending a line");
}
