//! Hiding secret values in everything a run writes down: step logs, the `stdout:`/`stderr:`
//! copies, recorded output variables, `outputs.json` and error messages. Steps themselves
//! still receive the real values.

use std::borrow::Cow;
use std::path::Path;

/// What a secret is replaced with.
pub const MASK: &str = "*******";

/// The secret values of a run.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    /// A masker for these values (empty values are ignored: they would match everywhere).
    pub fn new(values: impl IntoIterator<Item = String>) -> Masker {
        let mut secrets: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Masker { secrets }
    }

    /// Whether there is anything to mask.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The text with every secret replaced by [`MASK`].
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        out
    }

    /// Rewrites a file in place (atomically) when it contains a secret.
    pub fn mask_file(&self, path: &Path) -> std::io::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Cow::Owned(masked) = self.mask(&text) {
            dagu_store::atomic::write(path, masked.as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_longest_first() {
        let m = Masker::new(["abc".to_string(), "abcdef".to_string(), String::new()]);
        assert_eq!(m.mask("x abcdef y abc"), "x ******* y *******");
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn files_are_rewritten_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("log");
        std::fs::write(&f, "token=hunter2\n").unwrap();
        Masker::new(["hunter2".to_string()]).mask_file(&f).unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "token=*******\n");
        Masker::new(["hunter2".to_string()])
            .mask_file(&dir.path().join("missing"))
            .unwrap();
    }
}
