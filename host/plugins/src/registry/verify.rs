//! Checking an installed plugin against `plugins.lock`: its version, the SHA-256 of its
//! artifact and (when required) a minisign signature by a trusted key. Every refusal says
//! what to do about it.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::registry::lock::{LockFile, Pin};
use crate::registry::package::Package;

/// Why a plugin may not run in locked mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// There is no `plugins.lock` at all.
    NoLock { plugin: String },
    /// The lock has no entry for the plugin.
    NotPinned { plugin: String },
    /// The installed version is not the pinned one.
    VersionChanged {
        plugin: String,
        installed: String,
        pinned: String,
    },
    /// The artifact's bytes are not the pinned ones.
    Changed {
        plugin: String,
        artifact: String,
        actual: String,
        pinned: String,
    },
    /// The artifact cannot be read.
    Unreadable { plugin: String, message: String },
    /// Signatures are required and the lock has none for the plugin.
    Unsigned { plugin: String, artifact: String },
    /// Signatures are required but no key is trusted.
    NoTrustedKeys { plugin: String },
    /// The signature does not verify with any trusted key.
    BadSignature {
        plugin: String,
        artifact: String,
        reason: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoLock { plugin } => write!(
                f,
                "plugin '{plugin}' is not pinned: there is no plugins.lock in DAGU_HOME; run \
                 `dagu plugin lock` to pin the enabled plugins after vetting them"
            ),
            Refusal::NotPinned { plugin } => write!(
                f,
                "plugin '{plugin}' is not pinned: run `dagu plugin lock` to pin it in \
                 plugins.lock after vetting it (locked mode runs only pinned plugins)"
            ),
            Refusal::VersionChanged {
                plugin,
                installed,
                pinned,
            } => write!(
                f,
                "plugin '{plugin}' changed since it was locked: version {installed} is \
                 installed but plugins.lock pins {pinned}; reinstall version {pinned}, or vet \
                 {installed} and run `dagu plugin lock` again"
            ),
            Refusal::Changed {
                plugin,
                artifact,
                actual,
                pinned,
            } => write!(
                f,
                "plugin '{plugin}' changed since it was locked: {artifact} has sha256 \
                 {actual} but plugins.lock pins {pinned}; reinstall the vetted copy, or vet \
                 this one and run `dagu plugin lock` again"
            ),
            Refusal::Unreadable { plugin, message } => write!(
                f,
                "plugin '{plugin}' cannot be checked against plugins.lock: {message}; \
                 reinstall it with `dagu plugin install`"
            ),
            Refusal::Unsigned { plugin, artifact } => write!(
                f,
                "plugin '{plugin}' is not signed and config.yaml requires signatures: sign \
                 {artifact} with a trusted key (`minisign -Sm {artifact}`), then run \
                 `dagu plugin lock` again to record the signature"
            ),
            Refusal::NoTrustedKeys { plugin } => write!(
                f,
                "plugin '{plugin}' cannot be verified: config.yaml requires signatures but \
                 lists no plugins.trusted_keys; add the publisher's minisign public key"
            ),
            Refusal::BadSignature {
                plugin,
                artifact,
                reason,
            } => write!(
                f,
                "plugin '{plugin}' has no valid signature by a trusted key ({reason}): sign \
                 {artifact} with a key listed in plugins.trusted_keys (`minisign -Sm \
                 {artifact}`), then run `dagu plugin lock` again"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Lowercase hex SHA-256 of a file's bytes.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(sha256_hex(&std::fs::read(path)?))
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Verifies a minisign signature (the text of a `.minisig` file) of `data` with any of
/// `trusted_keys`; the error says why none accepted it.
pub fn verify_signature(
    data: &[u8],
    signature: &str,
    trusted_keys: &[String],
) -> Result<(), String> {
    let sig = minisign_verify::Signature::decode(signature.trim())
        .map_err(|e| format!("the signature cannot be read: {e}"))?;
    let mut reasons = Vec::new();
    for key in trusted_keys {
        match public_key(key) {
            Ok(pk) => match pk.verify(data, &sig, false) {
                Ok(()) => return Ok(()),
                Err(e) => reasons.push(e.to_string()),
            },
            Err(e) => reasons.push(format!("trusted key '{}' cannot be read: {e}", short(key))),
        }
    }
    reasons.dedup();
    Err(if reasons.is_empty() {
        "no trusted keys".into()
    } else {
        reasons.join("; ")
    })
}

/// A public key given as its base64 line or as a whole `.pub` file's text.
fn public_key(text: &str) -> Result<minisign_verify::PublicKey, minisign_verify::Error> {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .unwrap_or("");
    minisign_verify::PublicKey::from_base64(line)
}

fn short(key: &str) -> String {
    key.trim().chars().take(12).collect::<String>() + "…"
}

/// Checks an installed plugin against its pin: version, artifact hash and, when
/// `trusted_keys` is `Some`, the pinned signature.
pub fn check(
    package: &Package,
    lock: Option<&LockFile>,
    trusted_keys: Option<&[String]>,
) -> Result<(), Refusal> {
    let plugin = package.name.clone();
    let Some(lock) = lock else {
        return Err(Refusal::NoLock { plugin });
    };
    let Some(pin) = lock.get(&package.name) else {
        return Err(Refusal::NotPinned { plugin });
    };
    check_pin(package, pin, trusted_keys)
}

/// Checks an installed plugin against one pin.
pub fn check_pin(
    package: &Package,
    pin: &Pin,
    trusted_keys: Option<&[String]>,
) -> Result<(), Refusal> {
    let plugin = package.name.clone();
    if pin.version != package.version {
        return Err(Refusal::VersionChanged {
            plugin,
            installed: package.version.clone(),
            pinned: pin.version.clone(),
        });
    }
    let path = package.artifact_path();
    let artifact = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|e| Refusal::Unreadable {
        plugin: plugin.clone(),
        message: format!("{artifact}: {e}"),
    })?;
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(pin.sha256.trim()) {
        return Err(Refusal::Changed {
            plugin,
            artifact,
            actual,
            pinned: pin.sha256.clone(),
        });
    }
    let Some(keys) = trusted_keys else {
        return Ok(());
    };
    let Some(signature) = &pin.signature else {
        return Err(Refusal::Unsigned { plugin, artifact });
    };
    if keys.is_empty() {
        return Err(Refusal::NoTrustedKeys { plugin });
    }
    verify_signature(&bytes, signature, keys).map_err(|reason| Refusal::BadSignature {
        plugin,
        artifact,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::package::Package;

    struct Signer {
        pk: minisign::PublicKey,
        sk: minisign::SecretKey,
    }

    impl Signer {
        fn new() -> Signer {
            let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
            Signer {
                pk: kp.pk,
                sk: kp.sk,
            }
        }

        fn public(&self) -> String {
            self.pk.to_base64()
        }

        fn sign(&self, data: &[u8]) -> String {
            minisign::sign(Some(&self.pk), &self.sk, data, None, None)
                .unwrap()
                .into_string()
        }
    }

    fn package(dir: &Path, body: &str) -> Package {
        std::fs::write(dir.join("p.sh"), body).unwrap();
        Package::parse(
            dir,
            "name = \"p\"\nversion = \"1.0.0\"\nkind = \"subprocess\"\nstep_types = [\"x\"]\n\
             [entry]\nprogram = \"p.sh\"\n",
        )
        .unwrap()
    }

    fn pin_of(p: &Package, signature: Option<String>) -> LockFile {
        LockFile {
            version: 1,
            plugins: vec![Pin {
                name: p.name.clone(),
                version: p.version.clone(),
                artifact: p.entry.artifact.clone(),
                sha256: sha256_file(&p.artifact_path()).unwrap(),
                signature,
            }],
        }
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_pinned_unchanged_plugin_passes() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), "echo hi\n");
        let lock = pin_of(&p, None);
        assert_eq!(check(&p, Some(&lock), None), Ok(()));
    }

    #[test]
    fn one_changed_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), "echo hi\n");
        let lock = pin_of(&p, None);
        std::fs::write(p.artifact_path(), "echo hj\n").unwrap();
        let e = check(&p, Some(&lock), None).unwrap_err();
        assert!(matches!(e, Refusal::Changed { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("changed since it was locked"), "{text}");
        assert!(text.contains("dagu plugin lock"), "{text}");
    }

    #[test]
    fn unpinned_and_missing_locks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), "x");
        let e = check(&p, None, None).unwrap_err();
        assert!(e.to_string().contains("not pinned"), "{e}");
        let e = check(&p, Some(&LockFile::new()), None).unwrap_err();
        assert_eq!(e, Refusal::NotPinned { plugin: "p".into() });
        assert!(e.to_string().contains("run `dagu plugin lock`"), "{e}");
    }

    #[test]
    fn another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), "x");
        let mut lock = pin_of(&p, None);
        lock.plugins[0].version = "0.9.0".into();
        let e = check(&p, Some(&lock), None).unwrap_err();
        assert!(matches!(e, Refusal::VersionChanged { .. }), "{e}");
    }

    #[test]
    fn signatures_by_trusted_keys_pass_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), "echo signed\n");
        let publisher = Signer::new();
        let stranger = Signer::new();
        let bytes = std::fs::read(p.artifact_path()).unwrap();
        let keys = vec![publisher.public()];

        let signed = pin_of(&p, Some(publisher.sign(&bytes)));
        assert_eq!(check(&p, Some(&signed), Some(&keys)), Ok(()));
        // A whole `.pub` file's text works as a trusted key too.
        let pub_file = vec![format!(
            "untrusted comment: minisign public key\n{}\n",
            publisher.public()
        )];
        assert_eq!(check(&p, Some(&signed), Some(&pub_file)), Ok(()));

        let unsigned = pin_of(&p, None);
        let e = check(&p, Some(&unsigned), Some(&keys)).unwrap_err();
        assert!(matches!(e, Refusal::Unsigned { .. }), "{e}");
        assert!(e.to_string().contains("minisign -Sm"), "{e}");

        let by_stranger = pin_of(&p, Some(stranger.sign(&bytes)));
        let e = check(&p, Some(&by_stranger), Some(&keys)).unwrap_err();
        assert!(matches!(e, Refusal::BadSignature { .. }), "{e}");

        let e = check(&p, Some(&signed), Some(&[])).unwrap_err();
        assert!(matches!(e, Refusal::NoTrustedKeys { .. }), "{e}");
    }

    #[test]
    fn a_signature_of_other_bytes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = package(dir.path(), "echo real\n");
        let publisher = Signer::new();
        let mut lock = pin_of(&p, Some(publisher.sign(b"echo other\n")));
        lock.plugins[0].sha256 = sha256_file(&p.artifact_path()).unwrap();
        let e = check(&p, Some(&lock), Some(&[publisher.public()])).unwrap_err();
        assert!(matches!(e, Refusal::BadSignature { .. }), "{e}");
    }
}
