//! Effective capabilities: what a plugin requested, narrowed to what the deployment granted.
//!
//! Every list is intersected item by item. An item survives when one side covers the other,
//! and what survives is the narrower of the two:
//!
//! * `http_hosts`: `*` covers every host, `*.example.com` covers `example.com`'s subdomains
//!   (not `example.com` itself), anything else only itself (case-insensitive).
//! * `fs_read` / `fs_write`: a path covers itself and everything below it (by components,
//!   so `/data` covers `/data/in` but not `/database`).
//! * `env`: `*` covers every name, `AWS_*` every name starting with `AWS_`.
//! * `tcp`: `host:port`; the host as in `http_hosts`, the port `*` or a number.
//! * `exec`: only when both ask for it.

use std::path::{Component, Path};

use dagu_plugin_sdk::Capabilities;

/// The capabilities a plugin gets: `requested` ∩ `granted`, in the order requested,
/// without duplicates.
pub fn effective(requested: &Capabilities, granted: &Capabilities) -> Capabilities {
    Capabilities {
        http_hosts: intersect(&requested.http_hosts, &granted.http_hosts, host_meet),
        fs_read: intersect(&requested.fs_read, &granted.fs_read, path_meet),
        fs_write: intersect(&requested.fs_write, &granted.fs_write, path_meet),
        env: intersect(&requested.env, &granted.env, env_meet),
        tcp: intersect(&requested.tcp, &granted.tcp, tcp_meet),
        exec: requested.exec && granted.exec,
    }
}

/// Items of `requested` met with every item of `granted`; `meet` returns the narrower of
/// two items when one covers the other.
fn intersect(
    requested: &[String],
    granted: &[String],
    meet: fn(&str, &str) -> Option<String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in requested {
        for g in granted {
            if let Some(m) = meet(r, g)
                && !out.contains(&m)
            {
                out.push(m);
            }
        }
    }
    out
}

/// Whether host pattern `a` covers host pattern `b`.
pub(crate) fn host_covers(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    if a == "*" || a == b {
        return true;
    }
    match a.strip_prefix("*.") {
        // `*.x` covers `y.x` and `*.y.x`, never `x` or `*`.
        Some(suffix) => {
            let b = b.strip_prefix("*.").unwrap_or(&b);
            b.ends_with(&format!(".{suffix}"))
        }
        None => false,
    }
}

fn host_meet(a: &str, b: &str) -> Option<String> {
    narrower(a, b, host_covers)
}

/// The narrower of two items when one covers the other.
fn narrower(a: &str, b: &str, covers: fn(&str, &str) -> bool) -> Option<String> {
    if covers(b, a) {
        Some(a.to_string())
    } else if covers(a, b) {
        Some(b.to_string())
    } else {
        None
    }
}

fn path_covers(a: &str, b: &str) -> bool {
    let parts = |p: &str| -> Vec<String> {
        Path::new(p)
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    // A path with `..` is never covered by anything but itself.
    if b.iter().any(|c| c == "..") {
        return a == b;
    }
    b.len() >= a.len() && b[..a.len()] == a[..]
}

fn path_meet(a: &str, b: &str) -> Option<String> {
    narrower(a, b, path_covers)
}

pub(crate) fn env_covers(a: &str, b: &str) -> bool {
    match a.strip_suffix('*') {
        Some(prefix) => b.strip_suffix('*').unwrap_or(b).starts_with(prefix),
        None => a == b,
    }
}

fn env_meet(a: &str, b: &str) -> Option<String> {
    narrower(a, b, env_covers)
}

pub(crate) fn tcp_covers(a: &str, b: &str) -> bool {
    let split = |s: &str| -> (String, String) {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (s.to_string(), "*".to_string()),
        }
    };
    let ((ah, ap), (bh, bp)) = (split(a), split(b));
    host_covers(&ah, &bh) && (ap == "*" || ap == bp)
}

fn tcp_meet(a: &str, b: &str) -> Option<String> {
    if tcp_covers(b, a) {
        return Some(a.to_string());
    }
    if tcp_covers(a, b) {
        return Some(b.to_string());
    }
    // Each side narrower in one part: `*.x:443` ∩ `api.x:*` is `api.x:443`.
    let (ah, ap) = a.rsplit_once(':')?;
    let (bh, bp) = b.rsplit_once(':')?;
    let host = host_meet(ah, bh)?;
    let port = match (ap, bp) {
        ("*", p) | (p, "*") => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    Some(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nothing_granted_means_nothing_effective() {
        let requested = Capabilities {
            http_hosts: list(&["api.example.com"]),
            fs_read: list(&["/data"]),
            fs_write: list(&["/out"]),
            env: list(&["HOME"]),
            tcp: list(&["db:5432"]),
            exec: true,
        };
        assert_eq!(
            effective(&requested, &Capabilities::default()),
            Capabilities::default()
        );
    }

    #[test]
    fn nothing_requested_means_nothing_effective_whatever_is_granted() {
        let granted = Capabilities {
            http_hosts: list(&["*"]),
            fs_read: list(&["/"]),
            env: list(&["*"]),
            exec: true,
            ..Default::default()
        };
        assert_eq!(
            effective(&Capabilities::default(), &granted),
            Capabilities::default()
        );
    }

    #[test]
    fn exact_items_intersect_and_keep_the_requested_order() {
        let requested = Capabilities {
            env: list(&["B", "A", "C"]),
            ..Default::default()
        };
        let granted = Capabilities {
            env: list(&["A", "B", "D"]),
            ..Default::default()
        };
        assert_eq!(effective(&requested, &granted).env, list(&["B", "A"]));
    }

    #[test]
    fn host_wildcards_keep_the_narrower_side() {
        let requested = Capabilities {
            http_hosts: list(&["api.example.com", "*.other.org", "example.com"]),
            ..Default::default()
        };
        let granted = Capabilities {
            http_hosts: list(&["*.example.com", "x.other.org"]),
            ..Default::default()
        };
        // `*.example.com` does not cover `example.com` itself.
        assert_eq!(
            effective(&requested, &granted).http_hosts,
            list(&["api.example.com", "x.other.org"])
        );
        assert!(host_covers("*", "anything.at.all"));
        assert!(host_covers("*.Example.com", "a.b.example.COM"));
        assert!(!host_covers("*.example.com", "badexample.com"));
    }

    #[test]
    fn paths_cover_by_components() {
        let requested = Capabilities {
            fs_read: list(&["/data/in", "/database", "/srv"]),
            fs_write: list(&["/data/../etc"]),
            ..Default::default()
        };
        let granted = Capabilities {
            fs_read: list(&["/data", "/srv/app"]),
            fs_write: list(&["/data"]),
            ..Default::default()
        };
        let e = effective(&requested, &granted);
        assert_eq!(e.fs_read, list(&["/data/in", "/srv/app"]));
        assert!(
            e.fs_write.is_empty(),
            "`..` must not escape: {:?}",
            e.fs_write
        );
    }

    #[test]
    fn env_prefixes_and_tcp_ports() {
        let requested = Capabilities {
            env: list(&["AWS_*", "HOME"]),
            tcp: list(&["*.db.internal:5432", "cache:6379", "x:1"]),
            ..Default::default()
        };
        let granted = Capabilities {
            env: list(&["AWS_REGION", "*"]),
            tcp: list(&["primary.db.internal:*", "cache:6380"]),
            ..Default::default()
        };
        let e = effective(&requested, &granted);
        assert_eq!(e.env, list(&["AWS_REGION", "AWS_*", "HOME"]));
        assert_eq!(e.tcp, list(&["primary.db.internal:5432"]));
    }

    #[test]
    fn exec_needs_both_sides() {
        let yes = Capabilities {
            exec: true,
            ..Default::default()
        };
        let no = Capabilities::default();
        assert!(effective(&yes, &yes).exec);
        assert!(!effective(&yes, &no).exec);
        assert!(!effective(&no, &yes).exec);
    }
}
