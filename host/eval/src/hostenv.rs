//! §5.8: which host variables reach steps.

use crate::Vars;

/// Host variables passed through by name.
const NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "SHELL",
    "TMPDIR",
    "TERM",
    "EDITOR",
    "VISUAL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "LD_LIBRARY_PATH",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
];

/// Host variables passed through by prefix.
const PREFIXES: &[&str] = &["DAGU_", "DAG_", "LC_"];

/// §5.8: keep only the whitelisted host variables (PATH HOME USER SHELL TMPDIR TERM EDITOR VISUAL LANG LC_ALL LC_CTYPE TZ
/// LD_LIBRARY_PATH XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME and prefixes DAGU_, DAG_, LC_).
///
/// Input order is kept.
pub fn filter(host: impl IntoIterator<Item = (String, String)>) -> Vars {
    host.into_iter().filter(|(name, _)| allowed(name)).collect()
}

fn allowed(name: &str) -> bool {
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn keeps_whitelist_and_prefixes_only() {
        let host = [
            "PATH",
            "MY_SECRET",
            "HOME",
            "DAGU_HOME",
            "DAG_X",
            "LC_TIME",
            "TERM",
            "PWD",
            "DAGUX",
            "path",
            "XDG_RUNTIME_DIR",
            "TMPDIR",
        ]
        .map(|n| (n.to_string(), format!("v-{n}")));
        let kept = filter(host);
        let names: Vec<&str> = kept.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "PATH",
                "HOME",
                "DAGU_HOME",
                "DAG_X",
                "LC_TIME",
                "TERM",
                "TMPDIR"
            ]
        );
        assert_eq!(kept.get("HOME"), Some("v-HOME"));
    }
}
