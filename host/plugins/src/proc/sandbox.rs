//! The sandbox of subprocess plugins: a [`Sandbox`] policy built from a plugin's effective
//! grants ([`ProcConfig::grants`]) and applied to the child between `fork` and `exec`.
//!
//! In the parent (before the fork), [`spawn`] checks what the kernel offers, builds the
//! policy, opens every path of the Landlock rules (`O_PATH`) and creates the Landlock
//! ruleset, and fixes the environment. In the child only system calls remain, in this
//! order (see [`Sandbox::install`]):
//!
//! 1. every inherited descriptor above stderr is marked close-on-exec (`close_range`);
//! 2. a new, empty network namespace (`unshare(CLONE_NEWNET)`) when no network is granted;
//! 3. rlimits: `RLIMIT_CORE` 0, `RLIMIT_NOFILE` [`OPEN_FILES`], `RLIMIT_AS` the memory
//!    limit;
//! 4. the capability bounding set is emptied, so a plugin started by root has no
//!    capabilities after `exec`;
//! 5. `no_new_privs` and `landlock_restrict_self` with the prepared ruleset.
//!
//! The process group comes from the `Command` itself (`process_group(0)`).
//!
//! Landlock filters TCP by port only: a `tcp` grant `db.internal:5432` lets the plugin
//! connect to port 5432 of any host, and `host:*` (or `*`) lets it connect to any port. Filtering hosts needs a network namespace with its own
//! routes or a proxy; neither exists yet.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use dagu_plugin_sdk::Capabilities;
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
};
use tokio::process::{Child, Command};

use crate::proc::config::ProcConfig;

/// The Landlock ABI the rules are written and tested for (Linux 6.15). Rights of newer ABIs
/// are not asked for; on older kernels the rights they lack are dropped (best effort),
/// except the ones [`Sandbox::check_kernel`] requires.
pub const TARGET_ABI: ABI = ABI::V7;

/// The first ABI with TCP port rules (Linux 6.7).
const NET_ABI: i32 = 4;

/// Host variables every plugin gets (when set), besides its granted names.
pub const BASIC_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
];

/// Folders a program needs to start: readable and executable.
pub const SYSTEM_EXEC: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin",
];

/// Files and folders of `/etc` (read-only) that the C library, name resolution, time zones
/// and TLS read. Not all of `/etc`: it holds secrets (`shadow`, ssh host keys) that a
/// plugin started by root could otherwise read. Symbolic links are followed when the rules
/// are made, so `/etc/resolv.conf` pointing into `/run` works.
pub const SYSTEM_READ: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/resolv.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/mime.types",
    "/etc/os-release",
    "/etc/locale.alias",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/crypto-policies",
];

/// Devices a plugin may read and write.
pub const DEVICES_RW: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];

/// Devices a plugin may read.
pub const DEVICES_READ: &[&str] = &["/dev/urandom", "/dev/random"];

/// `RLIMIT_NOFILE` inside the sandbox (lowered to the host's hard limit if that is less).
pub const OPEN_FILES: u64 = 1024;

/// Ports an `http_hosts` entry without an explicit port opens.
const HTTP_PORTS: [u16; 2] = [80, 443];

/// Why a sandbox could not be set up; the plugin does not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "the sandbox needs Landlock, which this kernel does not offer ({0}); enable it (Linux \
         5.13 or later, `lsm=...,landlock` on the kernel command line), or set `sandbox = \
         false` for a plugin you trust"
    )]
    NoLandlock(&'static str),
    #[error(
        "the plugin is granted TCP access ({grants}), but this kernel's Landlock (ABI {abi}) \
         cannot filter TCP ports (ABI 4, Linux 6.7, needed); remove the grant, upgrade the \
         kernel, or set `sandbox = false` for a plugin you trust"
    )]
    NoNetRules { grants: String, abi: i32 },
    #[error(
        "the plugin is granted no network, and the host cannot give it an empty network \
         namespace: that needs CAP_SYS_ADMIN (run the host as root); or grant the network it \
         needs, or set `sandbox = false` for a plugin you trust"
    )]
    NoNetns,
    #[error("the grant tcp = '{0}' is not HOST:PORT with a port from 1 to 65535")]
    BadTcpGrant(String),
    #[error("the grant http_hosts = '{0}' has an invalid port")]
    BadHttpGrant(String),
    #[error("could not build the Landlock rules: {0}")]
    Landlock(#[from] landlock::RulesetError),
}

/// One filesystem rule: everything beneath `path` (or the file itself) gets `access`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsRule {
    pub path: PathBuf,
    pub access: FsAccess,
}

/// The kinds of filesystem access the policy hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsAccess {
    /// Read files, list folders, execute programs.
    ReadExec,
    /// Read files, list folders.
    Read,
    /// Read and write files (no folder changes): devices.
    ReadWriteFile,
    /// Everything but executing and making devices: `fs_write` grants.
    ReadWrite,
}

impl FsAccess {
    fn rights(self) -> BitFlags<AccessFs> {
        let read = AccessFs::ReadFile | AccessFs::ReadDir;
        match self {
            FsAccess::ReadExec => read | AccessFs::Execute,
            FsAccess::Read => read,
            FsAccess::ReadWriteFile => {
                AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate
            }
            FsAccess::ReadWrite => {
                (AccessFs::from_all(TARGET_ABI) & !AccessFs::Execute)
                    & !(AccessFs::MakeChar | AccessFs::MakeBlock)
            }
        }
    }
}

/// The sandbox of one plugin process, as derived from its config. Building it touches
/// nothing but the host environment and path resolution; [`Sandbox::install`] applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    /// The whole environment of the process.
    pub env: Vec<(OsString, OsString)>,
    /// Filesystem rules, in the order they are added.
    pub fs: Vec<FsRule>,
    /// TCP ports the plugin may connect to (sorted); binding is never allowed.
    pub connect_ports: Vec<u16>,
    /// Whether a `tcp` grant allows every port (then TCP is not filtered by port).
    pub connect_any_port: bool,
    /// Whether the process gets a new, empty network namespace.
    pub new_netns: bool,
    /// `RLIMIT_AS`, if any.
    pub memory_limit: Option<u64>,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
    /// Grant paths that do not exist (they give nothing; reported as a diagnostic).
    pub missing: Vec<PathBuf>,
}

impl Sandbox {
    /// The policy for `config`'s grants, reading the host variables with `host_env`.
    pub fn from_config(
        config: &ProcConfig,
        host_env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Sandbox, SandboxError> {
        let grants = &config.grants;
        let mut env: Vec<(OsString, OsString)> = Vec::new();
        for name in BASIC_ENV
            .iter()
            .copied()
            .chain(grants.env.iter().map(String::as_str))
        {
            if env.iter().any(|(k, _)| k == name) {
                continue;
            }
            if let Some(value) = host_env(name) {
                env.push((name.into(), value));
            }
        }
        for (k, v) in &config.env {
            env.retain(|(name, _)| name != k.as_str());
            env.push((k.into(), v.into()));
        }

        let base = config
            .work_dir
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"));
        let absolute = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };

        let mut fs = Vec::new();
        let mut rule = |path: PathBuf, access| fs.push(FsRule { path, access });
        for p in SYSTEM_EXEC {
            rule(p.into(), FsAccess::ReadExec);
        }
        for p in SYSTEM_READ {
            rule(p.into(), FsAccess::Read);
        }
        for p in DEVICES_RW {
            rule(p.into(), FsAccess::ReadWriteFile);
        }
        for p in DEVICES_READ {
            rule(p.into(), FsAccess::Read);
        }
        let path_env = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone());
        if let Some(program) = resolve_program(&config.program, &base, path_env.as_deref()) {
            rule(program, FsAccess::ReadExec);
        }
        if let Some(dir) = plugin_dir(config) {
            rule(absolute(&dir.to_string_lossy()), FsAccess::ReadExec);
        }
        let mut missing = Vec::new();
        for (paths, access) in [
            (&grants.fs_read, FsAccess::Read),
            (&grants.fs_write, FsAccess::ReadWrite),
        ] {
            for p in paths {
                let path = absolute(p);
                if path.exists() {
                    rule(path, access);
                } else {
                    missing.push(path);
                }
            }
        }

        let mut connect_ports = Vec::new();
        let mut connect_any_port = false;
        for target in &grants.tcp {
            match tcp_port(target) {
                Some(TcpPort::Any) => connect_any_port = true,
                Some(TcpPort::One(port)) => connect_ports.push(port),
                None => return Err(SandboxError::BadTcpGrant(target.clone())),
            }
        }
        for host in &grants.http_hosts {
            match http_port(host) {
                Ok(Some(port)) => connect_ports.push(port),
                Ok(None) => connect_ports.extend(HTTP_PORTS),
                Err(()) => return Err(SandboxError::BadHttpGrant(host.clone())),
            }
        }
        connect_ports.sort_unstable();
        connect_ports.dedup();
        let new_netns = grants.tcp.is_empty() && grants.http_hosts.is_empty();

        Ok(Sandbox {
            env,
            fs,
            connect_ports,
            connect_any_port,
            new_netns,
            memory_limit: config.memory_limit,
            open_files: OPEN_FILES,
            missing,
        })
    }

    /// Fails when the kernel (or the host's privileges) cannot enforce this policy.
    pub fn check_kernel(&self, grants: &Capabilities) -> Result<(), SandboxError> {
        let abi = match landlock_abi() {
            Ok(abi) => abi,
            Err(why) => return Err(SandboxError::NoLandlock(why)),
        };
        if !self.new_netns && abi < NET_ABI {
            let mut all = grants.tcp.clone();
            all.extend(grants.http_hosts.iter().cloned());
            return Err(SandboxError::NoNetRules {
                grants: all.join(", "),
                abi,
            });
        }
        if self.new_netns && !has_cap_sys_admin() {
            return Err(SandboxError::NoNetns);
        }
        Ok(())
    }

    /// Creates the Landlock ruleset with every rule (opening each path now, in the
    /// parent).
    fn ruleset(&self) -> Result<RulesetCreated, SandboxError> {
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(TARGET_ABI))?;
        if !self.connect_any_port {
            ruleset = ruleset.handle_access(AccessNet::from_all(TARGET_ABI))?;
        }
        let mut created = ruleset.scope(Scope::from_all(TARGET_ABI))?.create()?;
        for rule in &self.fs {
            // Paths that do not exist here (e.g. /lib32) are left out.
            let Ok(fd) = PathFd::new(&rule.path) else {
                continue;
            };
            let mut rights = rule.access.rights();
            if !rule.path.is_dir() {
                rights &= AccessFs::from_file(TARGET_ABI);
            }
            created = created.add_rule(PathBeneath::new(fd, rights))?;
        }
        for port in &self.connect_ports {
            created = created.add_rule(NetPort::new(*port, AccessNet::ConnectTcp))?;
        }
        Ok(created)
    }

    /// Sets the environment of `cmd` and installs the child's half of the sandbox as a
    /// `pre_exec` hook.
    pub fn install(&self, cmd: &mut Command) -> Result<(), SandboxError> {
        cmd.env_clear();
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let mut ruleset = Some(self.ruleset()?);
        let new_netns = self.new_netns;
        let mut limits = vec![
            (libc::RLIMIT_CORE, 0),
            (libc::RLIMIT_NOFILE, self.open_files),
        ];
        if let Some(bytes) = self.memory_limit {
            limits.push((libc::RLIMIT_AS, bytes));
        }
        // Never above the host's hard limits: raising one would fail with EPERM.
        let limits: Vec<(libc::__rlimit_resource_t, libc::rlim_t)> = limits
            .into_iter()
            .map(|(resource, value)| (resource, value.min(hard_limit(resource))))
            .collect();
        let child = move || -> io::Result<()> {
            // Only system calls from here on (no allocation, no locks).
            // SAFETY: plain system calls on integers; errors are checked where they matter.
            unsafe {
                // Descriptors the host leaked without CLOEXEC must not reach the plugin;
                // marking (not closing) keeps std's exec-error pipe working. Older kernels
                // lack close_range: nothing to do then.
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                if new_netns && libc::unshare(libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                for (resource, value) in &limits {
                    let limit = libc::rlimit {
                        rlim_cur: *value,
                        rlim_max: *value,
                    };
                    if libc::setrlimit(*resource, &limit) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                // Empty the bounding set: after exec even root holds no capability. EPERM
                // means the host had no CAP_SETPCAP, so there is nothing to drop; EINVAL
                // marks the end of the capabilities this kernel knows.
                for cap in 0..64 as libc::c_ulong {
                    if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0 as libc::c_ulong, 0, 0) != 0 {
                        break;
                    }
                }
            }
            if let Some(ruleset) = ruleset.take() {
                match ruleset.restrict_self() {
                    Ok(status) if status.ruleset != RulesetStatus::NotEnforced => {}
                    Ok(_) => return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
                    Err(_) => return Err(io::Error::last_os_error()),
                }
            }
            Ok(())
        };
        // SAFETY: the hook only makes system calls (see above); the ruleset's descriptor
        // and the limits were prepared before the fork.
        unsafe {
            cmd.pre_exec(child);
        }
        Ok(())
    }
}

/// Spawns `cmd` for the plugin `config` describes: inside its sandbox, unless the config
/// says `sandbox: false`.
pub fn spawn(cmd: &mut Command, config: &ProcConfig) -> io::Result<Child> {
    if !config.sandbox {
        return cmd.spawn();
    }
    let sandbox = Sandbox::from_config(config, |name| std::env::var_os(name))
        .and_then(|s| s.check_kernel(&config.grants).map(|()| s))
        .map_err(io::Error::other)?;
    for path in &sandbox.missing {
        config.diagnostics.emit(
            &config.name,
            &format!(
                "host: the granted path {} does not exist; it gives no access",
                path.display()
            ),
        );
    }
    sandbox.install(cmd).map_err(io::Error::other)?;
    cmd.spawn().map_err(|e| {
        if e.raw_os_error() == Some(libc::EPERM) {
            io::Error::new(
                e.kind(),
                format!(
                    "{e} (while entering the sandbox: network namespace, rlimits, Landlock; or \
                     exec denied by it)"
                ),
            )
        } else {
            e
        }
    })
}

/// The Landlock ABI the running kernel offers, or why there is none.
pub fn landlock_abi() -> Result<i32, &'static str> {
    // SAFETY: the documented version query: null attributes, size 0, flag VERSION.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if v >= 1 {
        return Ok(v as i32);
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EOPNOTSUPP) => Err("Landlock is built in but not enabled at boot"),
        _ => Err("the kernel has no Landlock"),
    }
}

/// The plugin's own folder: configured, else its working directory, else the folder of
/// its program when that is a path.
fn plugin_dir(config: &ProcConfig) -> Option<PathBuf> {
    if let Some(dir) = &config.plugin_dir {
        return Some(dir.clone());
    }
    if let Some(dir) = &config.work_dir {
        return Some(dir.clone());
    }
    let program = &config.program;
    if program.components().count() > 1 {
        return program.parent().map(Path::to_path_buf);
    }
    None
}

/// Where `program` will be found: a path (relative to `base`), or the first executable
/// file of that name on `path`.
fn resolve_program(program: &Path, base: &Path, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.components().count() > 1 {
        return Some(base.join(program));
    }
    std::env::split_paths(path?)
        .map(|dir| base.join(dir).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The port of a `host:port` grant.
/// The port part of a `tcp` grant.
#[derive(Clone, Copy, Debug, PartialEq)]
enum TcpPort {
    One(u16),
    Any,
}

/// The port of a `tcp` grant `host:port` (`host:*` or `*`: any port).
fn tcp_port(target: &str) -> Option<TcpPort> {
    if target == "*" {
        return Some(TcpPort::Any);
    }
    let (host, port) = target.rsplit_once(':')?;
    if host.is_empty() {
        return None;
    }
    if port == "*" {
        return Some(TcpPort::Any);
    }
    let port: u16 = port.parse().ok()?;
    (port != 0).then_some(TcpPort::One(port))
}

/// The explicit port of an `http_hosts` entry (`None`: the default ports).
fn http_port(host: &str) -> Result<Option<u16>, ()> {
    let host = host
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = host.split('/').next().unwrap_or(host);
    // `[::1]:8080`, `example.com:8080`; a bare IPv6 address has no port.
    let port = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => p,
        _ => return Ok(None),
    };
    match port.parse::<u16>() {
        Ok(p) if p != 0 => Ok(Some(p)),
        _ => Err(()),
    }
}

/// The host's hard limit for `resource`.
fn hard_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(resource, &mut limit) } == 0 {
        limit.rlim_max
    } else {
        u64::MAX
    }
}

/// Whether this process holds CAP_SYS_ADMIN (needed for a new network namespace).
fn has_cap_sys_admin() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(grants: Capabilities) -> ProcConfig {
        let mut c = ProcConfig::new("p", "/opt/p/bin/plugin", &[]);
        c.grants = grants;
        c
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.into())
    }

    #[test]
    fn the_environment_is_the_basics_the_grants_and_the_config() {
        let mut c = config(Capabilities {
            env: vec!["API_TOKEN".into(), "UNSET".into()],
            ..Capabilities::default()
        });
        c.env = vec![("MODE".into(), "x".into()), ("LANG".into(), "C".into())];
        let host = env_of(&[
            ("PATH", "/usr/bin"),
            ("SECRET", "no"),
            ("API_TOKEN", "t"),
            ("LANG", "de_DE.UTF-8"),
        ]);
        let s = Sandbox::from_config(&c, host).unwrap();
        let env: Vec<(String, String)> = s
            .env
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            env,
            pairs(&[
                ("PATH", "/usr/bin"),
                ("API_TOKEN", "t"),
                ("MODE", "x"),
                ("LANG", "C")
            ])
        );
    }

    #[test]
    fn no_network_grant_means_a_new_network_namespace() {
        let s = Sandbox::from_config(&config(Capabilities::default()), env_of(&[])).unwrap();
        assert!(s.new_netns);
        assert!(s.connect_ports.is_empty());
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.open_files, OPEN_FILES);
    }

    #[test]
    fn network_grants_become_ports() {
        let grants = Capabilities {
            tcp: vec!["db:5432".into(), "[::1]:8080".into(), "cache:5432".into()],
            http_hosts: vec!["api.example.com".into(), "local:9000".into()],
            ..Capabilities::default()
        };
        let s = Sandbox::from_config(&config(grants), env_of(&[])).unwrap();
        assert!(!s.new_netns);
        assert_eq!(s.connect_ports, vec![80, 443, 5432, 8080, 9000]);
        assert!(!s.connect_any_port);
    }

    #[test]
    fn a_wildcard_port_lets_tcp_through_unfiltered() {
        for any in ["*", "*:*", "example.com:*"] {
            let grants = Capabilities {
                tcp: vec!["db:5432".into(), any.into()],
                ..Capabilities::default()
            };
            let s = Sandbox::from_config(&config(grants), env_of(&[])).unwrap();
            assert!(s.connect_any_port, "{any}");
            assert!(!s.new_netns, "{any}");
        }
    }

    #[test]
    fn a_bad_tcp_grant_is_refused() {
        for bad in ["db", "db:", ":80", "db:0", "db:99999", "db:http", ":*"] {
            let grants = Capabilities {
                tcp: vec![bad.into()],
                ..Capabilities::default()
            };
            let err = Sandbox::from_config(&config(grants), env_of(&[])).unwrap_err();
            assert!(
                matches!(&err, SandboxError::BadTcpGrant(g) if g == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn filesystem_rules_follow_the_grants() {
        let dir = tempfile::tempdir().unwrap();
        let (r, w) = (dir.path().join("in"), dir.path().join("out"));
        std::fs::create_dir(&r).unwrap();
        std::fs::create_dir(&w).unwrap();
        let gone = dir.path().join("gone");
        let grants = Capabilities {
            fs_read: vec![r.display().to_string(), gone.display().to_string()],
            fs_write: vec![w.display().to_string()],
            ..Capabilities::default()
        };
        let mut c = config(grants);
        c.memory_limit = Some(1 << 30);
        let s = Sandbox::from_config(&c, env_of(&[])).unwrap();
        let find = |p: &Path| s.fs.iter().find(|f| f.path == p).map(|f| f.access);
        assert_eq!(find(&r), Some(FsAccess::Read));
        assert_eq!(find(&w), Some(FsAccess::ReadWrite));
        assert_eq!(find(Path::new("/usr")), Some(FsAccess::ReadExec));
        assert_eq!(find(Path::new("/etc/passwd")), Some(FsAccess::Read));
        assert_eq!(find(Path::new("/etc")), None, "not all of /etc");
        assert_eq!(find(Path::new("/opt/p/bin")), Some(FsAccess::ReadExec));
        assert_eq!(
            find(Path::new("/opt/p/bin/plugin")),
            Some(FsAccess::ReadExec)
        );
        assert_eq!(find(Path::new("/tmp")), None);
        assert_eq!(s.missing, vec![gone]);
        assert_eq!(s.memory_limit, Some(1 << 30));
        assert!(!FsAccess::ReadWrite.rights().contains(AccessFs::Execute));
        assert!(!FsAccess::ReadWrite.rights().contains(AccessFs::MakeBlock));
        assert!(FsAccess::ReadWrite.rights().contains(AccessFs::MakeReg));
    }
}
