//! OpenSSH `known_hosts` files: plain and hashed (`|1|salt|hash`) host names, `[host]:port`
//! entries for other ports than 22, patterns with `*`, `?` and `!`, and the `@revoked`
//! marker (`@cert-authority` lines are ignored: host certificates are not used).

use std::path::{Path, PathBuf};

use russh::keys::ssh_encoding::base64::{Base64, Encoding};
use russh::keys::{Algorithm, HashAlg, PublicKey};

/// One usable line.
#[derive(Debug)]
struct Entry {
    /// 1-based line number.
    line: usize,
    revoked: bool,
    patterns: String,
    key: PublicKey,
}

/// A parsed known_hosts file.
#[derive(Debug)]
pub(crate) struct KnownHosts {
    pub path: PathBuf,
    entries: Vec<Entry>,
}

/// What the file says about a host's key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A line names the host with this key.
    Known,
    /// A line names the host with a different key of the same type.
    Mismatch { line: usize },
    /// Lines name the host, but only with keys of other types.
    OtherTypes { types: Vec<String> },
    /// No line names the host.
    Unknown,
    /// The key is marked `@revoked`.
    Revoked { line: usize },
}

/// The name a host is looked up by: `host` for port 22, else `[host]:port`.
pub(crate) fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

impl KnownHosts {
    /// Parses `text` (the contents of `path`); lines that cannot be read are skipped, as
    /// OpenSSH does.
    pub fn parse(path: &Path, text: &str) -> KnownHosts {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let Some(mut first) = fields.next() else {
                continue;
            };
            let mut revoked = false;
            if first.starts_with('@') {
                match first {
                    "@revoked" => revoked = true,
                    // @cert-authority and unknown markers: not a plain host key.
                    _ => continue,
                }
                let Some(next) = fields.next() else { continue };
                first = next;
            }
            let (Some(_key_type), Some(blob)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(key) = russh::keys::parse_public_key_base64(blob) else {
                continue;
            };
            entries.push(Entry {
                line: line_no,
                revoked,
                patterns: first.to_string(),
                key,
            });
        }
        KnownHosts {
            path: path.to_path_buf(),
            entries,
        }
    }

    /// What the file says about `key` presented by the host known as `name` (see
    /// [`lookup_name`]).
    pub fn check(&self, name: &str, key: &PublicKey) -> Verdict {
        let mut mismatch = None;
        let mut other_types = Vec::new();
        let mut known = false;
        for entry in self
            .entries
            .iter()
            .filter(|e| host_matches(name, &e.patterns))
        {
            let same_key = entry.key.key_data() == key.key_data();
            if entry.revoked {
                if same_key {
                    return Verdict::Revoked { line: entry.line };
                }
                continue;
            }
            if same_key {
                known = true;
            } else if same_family(&entry.key.algorithm(), &key.algorithm()) {
                mismatch.get_or_insert(entry.line);
            } else {
                let t = entry.key.algorithm().to_string();
                if !other_types.contains(&t) {
                    other_types.push(t);
                }
            }
        }
        if known {
            Verdict::Known
        } else if let Some(line) = mismatch {
            Verdict::Mismatch { line }
        } else if !other_types.is_empty() {
            Verdict::OtherTypes { types: other_types }
        } else {
            Verdict::Unknown
        }
    }

    /// The host key algorithms to prefer for `name`: those of its entries first, then the
    /// rest of `default`, so the server presents a key the file can vouch for.
    pub fn preferred_algorithms(&self, name: &str, default: &[Algorithm]) -> Vec<Algorithm> {
        let known: Vec<Algorithm> = self
            .entries
            .iter()
            .filter(|e| !e.revoked && host_matches(name, &e.patterns))
            .map(|e| e.key.algorithm())
            .collect();
        let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = default
            .iter()
            .cloned()
            .partition(|a| known.iter().any(|k| same_family(k, a)));
        first.extend(rest);
        first
    }
}

/// Whether two algorithms are the same key type (RSA signature hashes aside).
fn same_family(a: &Algorithm, b: &Algorithm) -> bool {
    match (a, b) {
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        _ => a == b,
    }
}

/// The SHA256 fingerprint of `key`, as OpenSSH prints it.
pub(crate) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Whether `name` matches a comma-separated pattern list: any hashed or glob pattern
/// matches and no negated (`!`) one does.
fn host_matches(name: &str, patterns: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if pattern_matches(name, negated) {
                return false;
            }
        } else if pattern_matches(name, pattern) {
            matched = true;
        }
    }
    matched
}

fn pattern_matches(name: &str, pattern: &str) -> bool {
    if let Some(hashed) = pattern.strip_prefix("|1|") {
        return hashed_matches(name, hashed);
    }
    glob(name.as_bytes(), pattern.to_ascii_lowercase().as_bytes())
}

/// `salt|hash`, both base64: HMAC-SHA1(salt, name) == hash.
fn hashed_matches(name: &str, salt_and_hash: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (Base64::decode_vec(salt), Base64::decode_vec(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// `*` (any run) and `?` (any one character) glob matching.
fn glob(text: &[u8], pattern: &[u8]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two ed25519 public keys (made with ssh-keygen).
    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJ2vIFiIPJTAz0KmvQIhWWKQd9Iul+babxR/7zMHE4K5";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILUC6VVCR3lkbQfvMVe9LJ/ETfhM5R/Y7A6feQ4mRl8f";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    fn file(text: &str) -> KnownHosts {
        KnownHosts::parse(Path::new("/kh"), text)
    }

    #[test]
    fn plain_entries() {
        let kh = file(&format!(
            "# comment\n\nexample.com,10.0.0.1 ssh-ed25519 {ED_A}\n[example.com]:2222 ssh-ed25519 {ED_B}\n"
        ));
        assert_eq!(kh.check("example.com", &key(ED_A)), Verdict::Known);
        assert_eq!(kh.check("10.0.0.1", &key(ED_A)), Verdict::Known);
        assert_eq!(
            kh.check("example.com", &key(ED_B)),
            Verdict::Mismatch { line: 3 }
        );
        assert_eq!(kh.check("[example.com]:2222", &key(ED_B)), Verdict::Known);
        assert_eq!(
            kh.check("[example.com]:2222", &key(ED_A)),
            Verdict::Mismatch { line: 4 }
        );
        assert_eq!(kh.check("other.com", &key(ED_A)), Verdict::Unknown);
    }

    #[test]
    fn hashed_entries() {
        // `ssh-keygen -H` of "[127.0.0.1]:2222 ssh-ed25519 ED_A" with salt 0..20.
        let salt: Vec<u8> = (0u8..20).collect();
        let name = "[127.0.0.1]:2222";
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&k, name.as_bytes());
        let line = format!(
            "|1|{}|{} ssh-ed25519 {ED_A}",
            Base64::encode_string(&salt),
            Base64::encode_string(tag.as_ref())
        );
        let kh = file(&line);
        assert_eq!(kh.check(name, &key(ED_A)), Verdict::Known);
        assert_eq!(kh.check(name, &key(ED_B)), Verdict::Mismatch { line: 1 });
        assert_eq!(kh.check("[127.0.0.1]:2223", &key(ED_A)), Verdict::Unknown);
    }

    #[test]
    fn patterns_and_markers() {
        let kh = file(&format!(
            "*.example.com,!bad.example.com ssh-ed25519 {ED_A}\n@revoked * ssh-ed25519 {ED_B}\n\
             @cert-authority * ssh-ed25519 {ED_A}\nbroken line\nhost ssh-ed25519 !!!notbase64\n"
        ));
        assert_eq!(kh.check("a.example.com", &key(ED_A)), Verdict::Known);
        assert_eq!(kh.check("bad.example.com", &key(ED_A)), Verdict::Unknown);
        assert_eq!(
            kh.check("x.example.com", &key(ED_B)),
            Verdict::Revoked { line: 2 }
        );
        assert!(glob(b"abc", b"a?c"));
        assert!(glob(b"abc", b"*"));
        assert!(!glob(b"abc", b"a?"));
    }

    #[test]
    fn lookup_names() {
        assert_eq!(lookup_name("Example.com", 22), "example.com");
        assert_eq!(lookup_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn preferred_algorithms_put_known_types_first() {
        let kh = file(&format!("h ssh-ed25519 {ED_A}\n"));
        let default = [Algorithm::Rsa { hash: None }, Algorithm::Ed25519];
        assert_eq!(
            kh.preferred_algorithms("h", &default),
            vec![Algorithm::Ed25519, Algorithm::Rsa { hash: None }]
        );
        assert_eq!(kh.preferred_algorithms("other", &default), default.to_vec());
    }
}
