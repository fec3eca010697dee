//! The small string forms of the container block: volumes (`src:dst[:ro|rw]`), ports
//! (`[ip:][host:]container[/proto]`) and restart policies.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use bollard::models::{PortBinding, RestartPolicy, RestartPolicyNameEnum};

/// A volume entry as Docker wants it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Volume {
    /// `HostConfig.Binds` entry: `src:dst[:options]` (a host path or a named volume).
    Bind(String),
    /// An anonymous volume at this container path (`Volumes`).
    Anonymous(String),
}

/// Options Docker accepts after a bind's destination.
const BIND_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "z",
    "Z",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "nocopy",
    "consistent",
    "cached",
    "delegated",
];

/// Parses one volume entry. A relative source (`./data`, `../x`, `.`) is resolved against
/// `base` (the step's working directory), `~/x` against `$HOME`; a source without `/` is a
/// named volume.
pub(crate) fn volume(spec: &str, base: &Path) -> Result<Volume, String> {
    let bad = |why: &str| {
        format!("bad volume '{spec}': {why} (write SRC:DST or SRC:DST:ro|rw, e.g. ./data:/data:ro)")
    };
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [dst] => {
            if !dst.starts_with('/') {
                return Err(bad("the container path must be absolute"));
            }
            Ok(Volume::Anonymous(dst.to_string()))
        }
        [src, dst] | [src, dst, _] => {
            if src.is_empty() {
                return Err(bad("the source is empty"));
            }
            if !dst.starts_with('/') {
                return Err(bad("the container path must be absolute"));
            }
            let src = if src.starts_with('/') {
                clean(Path::new(src))
            } else if *src == "~" || src.starts_with("~/") {
                let home =
                    std::env::var_os("HOME").ok_or_else(|| bad("~ is used but HOME is not set"))?;
                clean(&Path::new(&home).join(src.trim_start_matches('~').trim_start_matches('/')))
            } else if *src == "." || *src == ".." || src.starts_with("./") || src.starts_with("../")
            {
                clean(&base.join(src))
            } else if src.contains('/') {
                // `data/x` is a relative path too.
                clean(&base.join(src))
            } else if src
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
                && src
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric())
            {
                // A named volume.
                src.to_string()
            } else {
                return Err(bad("the source is neither a path nor a volume name"));
            };
            let mut bind = format!("{src}:{dst}");
            if let [_, _, options] = parts.as_slice() {
                let mut modes = 0;
                for option in options.split(',') {
                    if !BIND_OPTIONS.contains(&option) {
                        return Err(bad(&format!("unknown option '{option}'")));
                    }
                    if option == "ro" || option == "rw" {
                        modes += 1;
                    }
                }
                if modes > 1 {
                    return Err(bad("ro and rw exclude each other"));
                }
                bind.push(':');
                bind.push_str(options);
            }
            Ok(Volume::Bind(bind))
        }
        _ => Err(bad("too many ':'")),
    }
}

/// `path` without `.` and with `..` applied, lexically.
fn clean(path: &Path) -> String {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Published ports: `ExposedPorts` keys and `HostConfig.PortBindings`.
pub(crate) type Ports = (Vec<String>, HashMap<String, Option<Vec<PortBinding>>>);

/// Parses port entries: `80`, `8080:80`, `127.0.0.1:8080:80`, each optionally `/tcp`,
/// `/udp` or `/sctp`.
pub(crate) fn ports(specs: &[String]) -> Result<Ports, String> {
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for spec in specs {
        let bad = |why: &str| {
            format!(
                "bad port '{spec}': {why} (write CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER, optionally /tcp|udp|sctp)"
            )
        };
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((rest, proto @ ("tcp" | "udp" | "sctp"))) => (rest, proto),
            Some(_) => return Err(bad("unknown protocol")),
            None => (spec.as_str(), "tcp"),
        };
        let (host_part, container) = match rest.rsplit_once(':') {
            Some((h, c)) => (Some(h), c),
            None => (None, rest),
        };
        let number = |p: &str| p.parse::<u16>().ok().filter(|n| *n > 0);
        if number(container).is_none() {
            return Err(bad("the container port is not a number from 1 to 65535"));
        }
        let key = format!("{container}/{proto}");
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let Some(host_part) = host_part else {
            continue;
        };
        let (ip, host_port) = match host_part.rsplit_once(':') {
            Some((ip, port)) => (Some(ip.trim_start_matches('[').trim_end_matches(']')), port),
            None => (None, host_part),
        };
        if !host_port.is_empty() && number(host_port).is_none() {
            return Err(bad("the host port is not a number from 1 to 65535"));
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: ip.filter(|i| !i.is_empty()).map(str::to_string),
                host_port: Some(host_port.to_string()).filter(|p| !p.is_empty()),
            });
    }
    Ok((exposed, bindings))
}

/// Parses `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N`.
pub(crate) fn restart_policy(spec: &str) -> Result<RestartPolicy, String> {
    let (name, count) = match spec.split_once(':') {
        Some((name, count)) => (name, Some(count)),
        None => (spec, None),
    };
    let name = match name.trim() {
        "no" | "" => RestartPolicyNameEnum::NO,
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        other => {
            return Err(format!(
                "bad restartPolicy '{other}': use no, always, unless-stopped or on-failure[:N]"
            ));
        }
    };
    let maximum_retry_count = match count {
        None => None,
        Some(c) if name == RestartPolicyNameEnum::ON_FAILURE => {
            Some(c.trim().parse::<i64>().map_err(|_| {
                format!("bad restartPolicy '{spec}': the retry count must be a number")
            })?)
        }
        Some(_) => {
            return Err(format!(
                "bad restartPolicy '{spec}': only on-failure takes a retry count"
            ));
        }
    };
    Ok(RestartPolicy {
        name: Some(name),
        maximum_retry_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(spec: &str) -> String {
        match volume(spec, Path::new("/work/dags")).unwrap() {
            Volume::Bind(b) => b,
            other => panic!("not a bind: {other:?}"),
        }
    }

    #[test]
    fn volumes_resolve_relative_sources_against_the_working_directory() {
        assert_eq!(bind("/data:/data"), "/data:/data");
        assert_eq!(bind("./in:/in:ro"), "/work/dags/in:/in:ro");
        assert_eq!(bind("../x/./y:/y:rw"), "/work/x/y:/y:rw");
        assert_eq!(bind(".:/src"), "/work/dags:/src");
        assert_eq!(bind("sub/dir:/d"), "/work/dags/sub/dir:/d");
        assert_eq!(bind("cache-vol:/cache"), "cache-vol:/cache");
        assert_eq!(bind("/a:/b:ro,z"), "/a:/b:ro,z");
        assert_eq!(
            volume("/anon", Path::new("/")).unwrap(),
            Volume::Anonymous("/anon".into())
        );
    }

    #[test]
    fn bad_volumes_say_what_is_wrong() {
        let err = |s: &str| volume(s, Path::new("/w")).unwrap_err();
        assert!(
            err("/a:b").contains("container path must be absolute"),
            "{}",
            err("/a:b")
        );
        assert!(err("/a:/b:rx").contains("unknown option 'rx'"));
        assert!(err("/a:/b:ro,rw").contains("exclude"));
        assert!(err("/a:/b:ro:x").contains("too many"));
        assert!(err(":/b").contains("source is empty"));
        assert!(err("relative").contains("must be absolute"));
        assert!(err("bad vol!:/x").contains("neither a path nor a volume name"));
        assert!(err("/a:/b:x").starts_with("bad volume '/a:/b:x'"));
    }

    #[test]
    fn ports_parse_all_forms() {
        let (exposed, bindings) = ports(&[
            "80".into(),
            "8080:80".into(),
            "127.0.0.1:9000:90/udp".into(),
        ])
        .unwrap();
        assert_eq!(exposed, ["80/tcp", "90/udp"]);
        assert_eq!(
            bindings["80/tcp"],
            Some(vec![PortBinding {
                host_ip: None,
                host_port: Some("8080".into())
            }])
        );
        assert_eq!(
            bindings["90/udp"],
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some("9000".into())
            }])
        );
        assert!(ports(&["x:80".into()]).unwrap_err().contains("host port"));
        assert!(ports(&["80/foo".into()]).unwrap_err().contains("protocol"));
        assert!(ports(&["0".into()]).unwrap_err().contains("container port"));
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            restart_policy("on-failure:3").unwrap(),
            RestartPolicy {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: Some(3)
            }
        );
        assert_eq!(
            restart_policy("always").unwrap().name,
            Some(RestartPolicyNameEnum::ALWAYS)
        );
        assert!(restart_policy("sometimes").is_err());
        assert!(restart_policy("always:2").is_err());
    }
}
