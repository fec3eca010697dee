//! The Extism manifest of a plugin: its module plus the limits its grants allow — HTTP
//! hosts for Extism's `http_request` (`allowed_hosts`), folders WASI may open
//! (`allowed_paths`), and the most linear memory an instance may have.
//!
//! Nothing else is open: no other host, no file outside a granted folder, no environment
//! variable, no argument. The operating-system sandbox the host starts this process in
//! (Landlock, network namespace) applies the same grants a second time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ::extism::{Manifest, Wasm};
use dagu_plugin_sdk::Capabilities;

/// The size of a WebAssembly page.
const PAGE: u64 = 64 * 1024;

/// A manifest for `module` with what `grants` allow and at most `max_memory` bytes of
/// linear memory; also the grants that give nothing here, as notes for the operator.
pub fn manifest(
    module: Vec<u8>,
    grants: &Capabilities,
    max_memory: u64,
) -> (Manifest, Vec<String>) {
    let pages = u32::try_from(max_memory.div_ceil(PAGE)).unwrap_or(u32::MAX);
    let (paths, notes) = allowed_paths(grants);
    let manifest = Manifest::new([Wasm::data(module)])
        .with_memory_max(pages)
        .with_allowed_hosts(grants.http_hosts.iter().map(|h| host_pattern(h)))
        .with_allowed_paths(paths.into_iter());
    (manifest, notes)
}

/// The host of an `http_hosts` grant (`https://api.example.com:8443/x` → `api.example.com`),
/// as the glob Extism matches request hosts with (`*.example.com` stays as it is).
fn host_pattern(grant: &str) -> String {
    let rest = grant
        .strip_prefix("https://")
        .or_else(|| grant.strip_prefix("http://"))
        .unwrap_or(grant);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.strip_prefix('[') {
        // `[::1]:8080`: the address inside the brackets.
        Some(v6) => v6.split(']').next().unwrap_or(v6).to_string(),
        None => match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
            _ => authority.to_string(),
        },
    }
}

/// WASI preopens for the granted folders, each under its own absolute path: `fs_write`
/// folders writable, `fs_read` folders read-only (`ro:` in Extism's notation). WASI opens
/// folders only, so a granted file, or a path that does not exist, gives nothing (noted).
fn allowed_paths(grants: &Capabilities) -> (BTreeMap<String, PathBuf>, Vec<String>) {
    let mut paths = BTreeMap::new();
    let mut notes = Vec::new();
    let writable = grants.fs_write.iter().map(|p| (p, ""));
    let readable = grants.fs_read.iter().map(|p| (p, "ro:"));
    for (granted, mode) in writable.chain(readable) {
        let path = std::path::absolute(Path::new(granted)).unwrap_or_else(|_| granted.into());
        if !path.is_dir() {
            notes.push(format!(
                "the granted path {} is not a folder; WASI opens folders only, so it gives \
                 nothing: grant its folder instead",
                path.display()
            ));
            continue;
        }
        let already = paths.values().any(|p: &PathBuf| p == &path);
        if !already {
            paths.insert(format!("{mode}{}", path.display()), path);
        }
    }
    (paths, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_grants_become_host_globs() {
        assert_eq!(host_pattern("api.example.com"), "api.example.com");
        assert_eq!(host_pattern("*.example.com"), "*.example.com");
        assert_eq!(host_pattern("local:9000"), "local");
        assert_eq!(host_pattern("https://x.org:8443/v1"), "x.org");
        assert_eq!(host_pattern("[::1]:8080"), "::1");
    }

    #[test]
    fn folders_are_preopened_writable_before_read_only_and_files_are_noted() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let file = dir.path().join("f.txt");
        std::fs::write(&file, "x").unwrap();
        let show = |p: &Path| p.display().to_string();
        let grants = Capabilities {
            fs_read: vec![
                show(&a),
                show(&b),
                show(&file),
                show(&dir.path().join("gone")),
            ],
            fs_write: vec![show(&b)],
            ..Capabilities::default()
        };
        let (paths, notes) = allowed_paths(&grants);
        let expected: BTreeMap<String, PathBuf> = [
            (show(&b), b.clone()),
            (format!("ro:{}", show(&a)), a.clone()),
        ]
        .into_iter()
        .collect();
        assert_eq!(paths, expected);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("f.txt is not a folder"), "{notes:?}");
    }

    #[test]
    fn the_manifest_carries_the_limits() {
        let grants = Capabilities {
            http_hosts: vec!["api.example.com:443".into()],
            ..Capabilities::default()
        };
        let (m, notes) = manifest(b"\0asm".to_vec(), &grants, 64 << 20);
        assert!(notes.is_empty());
        assert_eq!(m.memory.max_pages, Some(1024));
        assert_eq!(m.allowed_hosts, Some(vec!["api.example.com".to_string()]));
        assert_eq!(m.allowed_paths, Some(BTreeMap::new()));
        assert_eq!(m.wasm.len(), 1);
        assert_eq!(m.timeout_ms, None);
    }
}
