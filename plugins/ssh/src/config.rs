//! The step's `config`, read from JSON: connection settings shared by both step types, the
//! `ssh` step's shell, and the `sftp` step's transfer.
//!
//! Keys are accepted in both spellings (`strictHostKey` / `strict_host_key`); giving both is
//! an error. Scalars are lenient where Dagu is (a port or a boolean may be a string, since
//! the host expands `${VAR}` into strings).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dagu_plugin_sdk::RunError;
use serde_json::{Map, Value};

/// The connection timeout when `timeout` is not set.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where `~` and default key paths point, and the agent socket: read when needed, so a
/// test (or the host) can change them between runs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Env {
    /// Overrides `$HOME`.
    pub home: Option<PathBuf>,
    /// Overrides `$SSH_AUTH_SOCK`: `Some(None)` means "no agent".
    pub agent: Option<Option<PathBuf>>,
}

impl Env {
    /// The home folder: the override, else `$HOME` as it is now.
    pub fn home(&self) -> Option<PathBuf> {
        self.home.clone().or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
        })
    }

    /// The ssh-agent socket: the override, else `$SSH_AUTH_SOCK` as it is now.
    pub fn agent_socket(&self) -> Option<PathBuf> {
        match &self.agent {
            Some(agent) => agent.clone(),
            None => std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        }
    }

    /// `~` and `~/…` expanded with [`Env::home`]; a relative path is taken relative to
    /// `base` (the step's working directory) when there is one.
    pub fn expand(&self, path: &str, base: Option<&Path>) -> Result<PathBuf, RunError> {
        let expanded = if path == "~" || path.starts_with("~/") {
            let home = self.home().ok_or_else(|| {
                RunError::invalid_config(format!(
                    "cannot expand `{path}`: HOME is not set; give an absolute path"
                ))
            })?;
            match path.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => home,
            }
        } else {
            PathBuf::from(path)
        };
        Ok(match base {
            Some(base) if expanded.is_relative() => base.join(expanded),
            _ => expanded,
        })
    }
}

/// Where and how to connect (and log in).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pub user: String,
    pub host: String,
    pub port: u16,
    /// `key`, expanded.
    pub key: Option<PathBuf>,
    pub password: Option<String>,
    pub passphrase: Option<String>,
    pub strict_host_key: bool,
    /// `knownHostFile`, expanded (default `~/.ssh/known_hosts`).
    pub known_host_file: PathBuf,
    pub timeout: Duration,
    pub bastion: Option<Box<Target>>,
}

impl Target {
    /// `user@host:port`.
    pub fn display(&self) -> String {
        format!("{}@{}", self.user, self.address())
    }

    /// `host:port` (`[host]:port` for an IPv6 address).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The `ssh` step's config.
#[derive(Debug)]
pub(crate) struct SshConfig {
    pub target: Target,
    /// `shell` (with `shellArgs`): wraps each command as `<shell…> -c '<command>'`.
    pub shell: Option<Vec<String>>,
}

/// Which way an `sftp` step copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Upload,
    Download,
}

/// The `sftp` step's config.
#[derive(Debug)]
pub(crate) struct SftpConfig {
    pub target: Target,
    pub direction: Direction,
    pub source: String,
    pub destination: String,
}

/// Connection keys, each with its other spelling (if any).
const CONNECTION_KEYS: &[(&str, &str)] = &[
    ("user", ""),
    ("host", ""),
    ("ip", ""),
    ("port", ""),
    ("key", ""),
    ("password", ""),
    ("passphrase", ""),
    ("strictHostKey", "strict_host_key"),
    ("knownHostFile", "known_host_file"),
    ("timeout", ""),
    ("bastion", ""),
];

/// Keys only the `ssh` step has.
const SSH_KEYS: &[(&str, &str)] = &[("shell", ""), ("shellArgs", "shell_args")];

/// Keys only the `sftp` step has.
const SFTP_KEYS: &[(&str, &str)] = &[("direction", ""), ("source", ""), ("destination", "")];

/// The message for a step without any connection settings.
pub(crate) fn not_found(step_type: &str) -> RunError {
    RunError::failed(
        1,
        format!(
            "ssh configuration is not found: add a DAG-level `ssh:` block with user and host, \
             or give the {step_type} step a `config:` with user and host"
        ),
    )
}

/// Whether the config is absent (`null` or `{}`).
pub(crate) fn is_empty(config: &Value) -> bool {
    match config {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

impl SshConfig {
    pub fn from_json(config: &Value, env: &Env, work_dir: Option<&Path>) -> Result<Self, RunError> {
        if is_empty(config) {
            return Err(not_found("ssh"));
        }
        let obj = Obj::new(config, "config", &[CONNECTION_KEYS, SSH_KEYS])?;
        let target = target(&obj, env, work_dir, None)?;
        let mut shell = match obj.get("shell", "")? {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(
                dagu_plugin_sdk::words::split(s)
                    .map_err(|e| RunError::invalid_config(format!("config.shell: {e}")))?,
            ),
            Some(Value::Array(items)) => Some(string_list(items, "config.shell")?),
            Some(_) => {
                return Err(RunError::invalid_config(
                    "config.shell must be a string or a list of strings",
                ));
            }
        };
        let args = match obj.get("shellArgs", "shell_args")? {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => string_list(items, "config.shellArgs")?,
            Some(_) => {
                return Err(RunError::invalid_config(
                    "config.shellArgs must be a list of strings",
                ));
            }
        };
        if let Some(shell) = &mut shell {
            shell.extend(args);
        } else if !args.is_empty() {
            return Err(RunError::invalid_config(
                "config.shellArgs needs config.shell (e.g. shell: bash)",
            ));
        }
        Ok(SshConfig { target, shell })
    }
}

impl SftpConfig {
    pub fn from_json(config: &Value, env: &Env, work_dir: Option<&Path>) -> Result<Self, RunError> {
        if is_empty(config) {
            return Err(not_found("sftp"));
        }
        let obj = Obj::new(config, "config", &[CONNECTION_KEYS, SFTP_KEYS])?;
        let direction = match obj.string("direction", "")?.as_deref() {
            None | Some("") | Some("upload") => Direction::Upload,
            Some("download") => Direction::Download,
            Some(other) => {
                return Err(RunError::invalid_config(format!(
                    "config.direction must be `upload` or `download`, not `{other}`"
                )));
            }
        };
        let source = obj.string("source", "")?.unwrap_or_default();
        if source.is_empty() {
            return Err(RunError::invalid_config(
                "config.source is required: the file or folder to copy",
            ));
        }
        let destination = obj.string("destination", "")?.unwrap_or_default();
        if destination.is_empty() {
            return Err(RunError::invalid_config(
                "config.destination is required: where to copy config.source to",
            ));
        }
        if !obj.has_connection() {
            return Err(not_found("sftp"));
        }
        let target = target(&obj, env, work_dir, None)?;
        Ok(SftpConfig {
            target,
            direction,
            source,
            destination,
        })
    }
}

/// Reads the connection keys of `obj`; `parent` is the target a bastion belongs to (its
/// defaults for user, host-key checking and known-hosts file).
fn target(
    obj: &Obj<'_>,
    env: &Env,
    work_dir: Option<&Path>,
    parent: Option<&Target>,
) -> Result<Target, RunError> {
    let at = obj.at.as_str();
    let user = obj
        .string("user", "")?
        .filter(|u| !u.is_empty())
        .or_else(|| parent.map(|p| p.user.clone()))
        .ok_or_else(|| {
            RunError::invalid_config(format!("{at}.user is required: the remote login name"))
        })?;
    let host = match obj.string("ip", "")?.filter(|h| !h.is_empty()) {
        Some(ip) => ip,
        None => obj
            .string("host", "")?
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                RunError::invalid_config(format!(
                    "{at}.host is required: the remote host name or address"
                ))
            })?,
    };
    let port = match obj.get("port", "")? {
        None | Some(Value::Null) => 22,
        Some(v) => port(v).ok_or_else(|| {
            RunError::invalid_config(format!(
                "{at}.port must be a port number (1-65535), not {v}"
            ))
        })?,
    };
    let key = match obj.string("key", "")?.filter(|k| !k.is_empty()) {
        Some(k) => Some(env.expand(&k, work_dir)?),
        None => None,
    };
    let password = obj.string("password", "")?.filter(|p| !p.is_empty());
    let passphrase = obj.string("passphrase", "")?.filter(|p| !p.is_empty());
    let strict_host_key = match obj.get("strictHostKey", "strict_host_key")? {
        None | Some(Value::Null) => parent.is_some_and(|p| p.strict_host_key),
        Some(v) => boolean(v).ok_or_else(|| {
            RunError::invalid_config(format!("{at}.strictHostKey must be true or false, not {v}"))
        })?,
    };
    let known_host_file = match obj
        .string("knownHostFile", "known_host_file")?
        .filter(|k| !k.is_empty())
    {
        Some(k) => env.expand(&k, work_dir)?,
        None => match parent {
            Some(p) => p.known_host_file.clone(),
            None => env
                .expand("~/.ssh/known_hosts", work_dir)
                .unwrap_or_default(),
        },
    };
    let timeout = match obj.get("timeout", "")? {
        None | Some(Value::Null) => parent.map_or(DEFAULT_TIMEOUT, |p| p.timeout),
        Some(v) => duration(v).ok_or_else(|| {
            RunError::invalid_config(format!(
                "{at}.timeout must be seconds or a duration like \"30s\" or \"1m30s\", not {v}"
            ))
        })?,
    };
    let mut target = Target {
        user,
        host,
        port,
        key,
        password,
        passphrase,
        strict_host_key,
        known_host_file,
        timeout,
        bastion: None,
    };
    match obj.get("bastion", "")? {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            let at = format!("{at}.bastion");
            let inner = Obj::new(v, &at, &[CONNECTION_KEYS])?;
            if inner.get("bastion", "")?.is_some() {
                return Err(RunError::invalid_config(format!(
                    "{at}.bastion: only one jump host is supported"
                )));
            }
            target.bastion = Some(Box::new(self::target(
                &inner,
                env,
                work_dir,
                Some(&target),
            )?));
        }
        Some(_) => {
            return Err(RunError::invalid_config(format!(
                "{at}.bastion must be a mapping with the jump host's host, user, key…"
            )));
        }
    }
    Ok(target)
}

/// A JSON object with known keys in two spellings.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Obj<'a> {
    /// Checks that `value` is an object whose keys are all in `allowed`.
    fn new(value: &'a Value, at: &str, allowed: &[&[(&str, &str)]]) -> Result<Self, RunError> {
        let Value::Object(map) = value else {
            return Err(RunError::invalid_config(format!(
                "{at} must be a mapping (user, host, port, key, …)"
            )));
        };
        let known = |k: &str| {
            allowed
                .iter()
                .flat_map(|list| list.iter())
                .any(|(a, b)| k == *a || (!b.is_empty() && k == *b))
        };
        if let Some(unknown) = map.keys().find(|k| !known(k)) {
            let mut names: Vec<&str> = allowed
                .iter()
                .flat_map(|list| list.iter())
                .map(|(a, _)| *a)
                .collect();
            names.sort_unstable();
            return Err(RunError::invalid_config(format!(
                "{at}: unknown key `{unknown}` (known keys: {})",
                names.join(", ")
            )));
        }
        Ok(Obj {
            map,
            at: at.to_string(),
        })
    }

    /// The value under `key` or `other` (its other spelling); both is an error.
    fn get(&self, key: &str, other: &str) -> Result<Option<&'a Value>, RunError> {
        let a = self.map.get(key);
        let b = if other.is_empty() {
            None
        } else {
            self.map.get(other)
        };
        match (a, b) {
            (Some(_), Some(_)) => Err(RunError::invalid_config(format!(
                "{}: `{key}` and `{other}` are the same setting; give only one",
                self.at
            ))),
            (a, b) => Ok(a.or(b)),
        }
    }

    /// A string value (numbers are taken as their text).
    fn string(&self, key: &str, other: &str) -> Result<Option<String>, RunError> {
        match self.get(key, other)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(RunError::invalid_config(format!(
                "{}.{key} must be a string, not {v}",
                self.at
            ))),
        }
    }

    /// Whether any key that says where to connect is present.
    fn has_connection(&self) -> bool {
        ["user", "host", "ip"]
            .iter()
            .any(|k| self.map.contains_key(*k))
    }
}

/// A port: an integer or a string of one, 1–65535.
fn port(v: &Value) -> Option<u16> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    u16::try_from(n).ok().filter(|p| *p != 0)
}

/// A boolean, or a string `true`/`false`/`yes`/`no`/`1`/`0`.
fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A duration: a number of seconds, or a Go-style duration string (`30s`, `1m30s`,
/// `500ms`, `1h`); a bare number string is seconds. Zero means "no timeout" is not
/// offered: it is refused.
pub(crate) fn duration(v: &Value) -> Option<Duration> {
    let d = match v {
        Value::Number(n) => Duration::try_from_secs_f64(n.as_f64()?).ok()?,
        Value::String(s) => parse_duration(s.trim())?,
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// Parses `1h2m3.5s`, `250ms`, `30` (seconds).
fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * factor;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A list of strings.
fn string_list(items: &[Value], at: &str) -> Result<Vec<String>, RunError> {
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(RunError::invalid_config(format!(
                "{at} must list strings, not {other}"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> Env {
        Env {
            home: Some(PathBuf::from("/home/u")),
            agent: Some(None),
        }
    }

    fn ssh(config: Value) -> Result<SshConfig, RunError> {
        SshConfig::from_json(&config, &env(), None)
    }

    #[test]
    fn empty_config_is_not_found() {
        for config in [Value::Null, json!({})] {
            let err = ssh(config).unwrap_err();
            assert!(
                matches!(&err, RunError::Failed { message, .. }
                    if message.starts_with("ssh configuration is not found")),
                "{err}"
            );
        }
    }

    #[test]
    fn defaults() {
        let c = ssh(json!({"user": "u", "host": "h"})).unwrap();
        let t = c.target;
        assert_eq!(t.port, 22);
        assert!(!t.strict_host_key);
        assert_eq!(t.known_host_file, PathBuf::from("/home/u/.ssh/known_hosts"));
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        assert_eq!(t.key, None);
        assert!(c.shell.is_none());
    }

    #[test]
    fn both_spellings_and_ip_over_host() {
        let c = ssh(
            json!({"user": "u", "host": "h", "ip": "10.0.0.1", "port": "2222",
            "strict_host_key": "true", "known_host_file": "~/kh", "key": "~/.ssh/k",
            "timeout": "1m30s"}),
        )
        .unwrap();
        let t = c.target;
        assert_eq!(t.host, "10.0.0.1");
        assert_eq!(t.port, 2222);
        assert!(t.strict_host_key);
        assert_eq!(t.known_host_file, PathBuf::from("/home/u/kh"));
        assert_eq!(t.key, Some(PathBuf::from("/home/u/.ssh/k")));
        assert_eq!(t.timeout, Duration::from_secs(90));
        let err = ssh(json!({"user": "u", "host": "h", "strictHostKey": true,
            "strict_host_key": false}))
        .unwrap_err();
        assert!(err.to_string().contains("give only one"), "{err}");
    }

    #[test]
    fn bad_values_are_invalid_config() {
        for config in [
            json!({"user": "u", "host": "h", "port": 0}),
            json!({"user": "u", "host": "h", "port": "x"}),
            json!({"user": "u", "host": "h", "timeout": "soon"}),
            json!({"user": "u", "host": "h", "strictHostKey": "maybe"}),
            json!({"user": "u", "host": "h", "colour": "red"}),
            json!({"host": "h"}),
            json!({"user": "u"}),
        ] {
            let err = ssh(config.clone()).unwrap_err();
            assert!(
                matches!(err, RunError::InvalidConfig { .. }),
                "{config}: {err}"
            );
        }
    }

    #[test]
    fn relative_paths_follow_the_work_dir() {
        let c = SshConfig::from_json(
            &json!({"user": "u", "host": "h", "key": "keys/id"}),
            &env(),
            Some(Path::new("/work")),
        )
        .unwrap();
        assert_eq!(c.target.key, Some(PathBuf::from("/work/keys/id")));
    }

    #[test]
    fn shell_with_args() {
        let c = ssh(
            json!({"user": "u", "host": "h", "shell": "bash -e", "shellArgs": ["-o", "pipefail"]}),
        )
        .unwrap();
        assert_eq!(c.shell.unwrap(), vec!["bash", "-e", "-o", "pipefail"]);
        let c = ssh(json!({"user": "u", "host": "h", "shell": ["/bin/sh"]})).unwrap();
        assert_eq!(c.shell.unwrap(), vec!["/bin/sh"]);
    }

    #[test]
    fn bastion_inherits_user_and_host_key_settings() {
        let c = ssh(json!({"user": "u", "host": "target", "strictHostKey": true,
            "bastion": {"host": "jump", "port": 2200}}))
        .unwrap();
        let b = c.target.bastion.unwrap();
        assert_eq!(b.user, "u");
        assert_eq!(b.host, "jump");
        assert_eq!(b.port, 2200);
        assert!(b.strict_host_key);
        assert_eq!(b.known_host_file, c.target.known_host_file);
        let err = ssh(json!({"user": "u", "host": "t", "bastion": {"host": "j", "bastion": {}}}))
            .unwrap_err();
        assert!(err.to_string().contains("one jump host"), "{err}");
    }

    #[test]
    fn durations() {
        let d = |v: Value| duration(&v);
        assert_eq!(d(json!(5)), Some(Duration::from_secs(5)));
        assert_eq!(d(json!(0.5)), Some(Duration::from_millis(500)));
        assert_eq!(d(json!("30s")), Some(Duration::from_secs(30)));
        assert_eq!(d(json!("250ms")), Some(Duration::from_millis(250)));
        assert_eq!(d(json!("1h")), Some(Duration::from_secs(3600)));
        assert_eq!(d(json!("12")), Some(Duration::from_secs(12)));
        assert_eq!(d(json!("0s")), None);
        assert_eq!(d(json!("1x")), None);
        assert_eq!(d(json!("s")), None);
    }

    #[test]
    fn sftp_config() {
        let c = SftpConfig::from_json(
            &json!({"user": "u", "host": "h", "source": "a", "destination": "b"}),
            &env(),
            None,
        )
        .unwrap();
        assert_eq!(c.direction, Direction::Upload);
        let err = SftpConfig::from_json(
            &json!({"user": "u", "host": "h", "direction": "sideways", "source": "a",
                "destination": "b"}),
            &env(),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("upload"), "{err}");
        let err = SftpConfig::from_json(&json!({"source": "a", "destination": "b"}), &env(), None)
            .unwrap_err();
        assert!(
            err.to_string().contains("ssh configuration is not found"),
            "{err}"
        );
    }
}
