//! Locating `DAGU_HOME` and the directories under it (storage.md §1, config.md §3).

use std::path::{Path, PathBuf};

/// The directories one invocation uses.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The resolved home (unified layout) or the XDG config dir.
    pub home: PathBuf,
    pub dags: PathBuf,
    pub data: PathBuf,
    pub logs: PathBuf,
    pub base_config: PathBuf,
    /// The config file (`--config`, else `<home>/config.yaml`); it may not exist.
    pub config_file: PathBuf,
}

impl Paths {
    /// Resolves from `--dagu-home`, then `DAGU_HOME`, then a legacy `~/.dagu`, then XDG;
    /// the config file's `paths` and then `DAGU_*_DIR` variables override single directories.
    pub fn resolve(home_flag: Option<&Path>, config_flag: Option<&Path>) -> Paths {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let user_home = env("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let unified = home_flag
            .map(Path::to_path_buf)
            .or_else(|| env("DAGU_HOME"))
            .or_else(|| {
                let legacy = user_home.join(".dagu");
                legacy.is_dir().then_some(legacy)
            });
        let mut paths = match unified {
            Some(home) => {
                let home = absolute(&home);
                Paths {
                    dags: home.join("dags"),
                    data: home.join("data"),
                    logs: home.join("logs"),
                    base_config: home.join("base.yaml"),
                    config_file: home.join("config.yaml"),
                    home,
                }
            }
            None => {
                let config = env("XDG_CONFIG_HOME")
                    .unwrap_or_else(|| user_home.join(".config"))
                    .join("dagu");
                let data = env("XDG_DATA_HOME")
                    .unwrap_or_else(|| user_home.join(".local/share"))
                    .join("dagu");
                Paths {
                    dags: config.join("dags"),
                    base_config: config.join("base.yaml"),
                    config_file: config.join("config.yaml"),
                    data: data.join("data"),
                    logs: data.join("logs"),
                    home: config,
                }
            }
        };
        paths.config_file = config_flag.map_or_else(|| paths.home.join("config.yaml"), absolute);
        paths.apply_config(&paths.config_file.clone());
        if let Some(d) = env("DAGU_DAGS_DIR").or_else(|| env("DAGU_DAGS")) {
            paths.dags = absolute(&d);
        }
        if let Some(d) = env("DAGU_DATA_DIR") {
            paths.data = absolute(&d);
        }
        if let Some(d) = env("DAGU_LOG_DIR") {
            paths.logs = absolute(&d);
        }
        if let Some(d) = env("DAGU_BASE_CONFIG") {
            paths.base_config = absolute(&d);
        }
        paths
    }

    /// Applies the `paths` section of a config file (config.md §3), in either key
    /// spelling; a missing or unreadable file changes nothing.
    fn apply_config(&mut self, file: &Path) {
        let Ok(text) = std::fs::read_to_string(file) else {
            return;
        };
        let Ok(docs) = dagu_core::yaml::parse_documents(&text) else {
            return;
        };
        let Some(config) = docs.into_iter().flatten().next().map(|d| d.to_json()) else {
            return;
        };
        let lookup = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                let mut v = &config;
                for part in k.split('.') {
                    v = v.get(part)?;
                }
                v.as_str().map(|s| absolute(Path::new(s)))
            })
        };
        let slots = [
            (
                &mut self.dags,
                &["paths.dagsDir", "paths.dags_dir", "dagsDir", "dags"][..],
            ),
            (
                &mut self.data,
                &["paths.dataDir", "paths.data_dir", "dataDir"][..],
            ),
            (
                &mut self.logs,
                &["paths.logDir", "paths.log_dir", "logDir"][..],
            ),
            (
                &mut self.base_config,
                &["paths.baseConfig", "paths.base_config", "baseConfig"][..],
            ),
        ];
        for (slot, keys) in slots {
            if let Some(p) = lookup(keys) {
                *slot = p;
            }
        }
    }

    /// Run records live here.
    pub fn dag_runs(&self) -> PathBuf {
        self.data.join("dag-runs")
    }
}

/// Makes a path absolute against the current directory.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}

/// Resolves a DAG reference (cli.md §1.2): absolute path, `~`, a path relative to the
/// current directory, else `<dags>/<arg>` with `.yaml` appended when missing.
pub fn resolve_dag(arg: &str, dags: &Path) -> PathBuf {
    let expanded = match arg.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from(arg), |h| PathBuf::from(h).join(rest)),
        None => PathBuf::from(arg),
    };
    if expanded.is_absolute() {
        return expanded;
    }
    if expanded.is_file() {
        return absolute(&expanded);
    }
    let in_dags = dags.join(&expanded);
    if arg.ends_with(".yaml") || arg.ends_with(".yml") {
        return in_dags;
    }
    let with_ext = dags.join(format!("{arg}.yaml"));
    if with_ext.is_file() || !in_dags.is_file() {
        with_ext
    } else {
        in_dags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_paths_override_the_layout_in_either_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.yaml");
        std::fs::write(
            &config,
            "paths:\n  dagsDir: /srv/dags\n  log_dir: /srv/logs\n",
        )
        .unwrap();
        let paths = Paths::resolve(Some(dir.path()), Some(&config));
        assert_eq!(paths.dags, PathBuf::from("/srv/dags"));
        assert_eq!(paths.logs, PathBuf::from("/srv/logs"));
        assert_eq!(paths.data, dir.path().join("data"));
    }

    #[test]
    fn names_resolve_into_the_dags_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hello.yaml"), "steps: []").unwrap();
        assert_eq!(
            resolve_dag("hello", dir.path()),
            dir.path().join("hello.yaml")
        );
        assert_eq!(
            resolve_dag("/abs/x.yaml", dir.path()),
            PathBuf::from("/abs/x.yaml")
        );
        assert_eq!(
            resolve_dag("missing.yml", dir.path()),
            dir.path().join("missing.yml")
        );
    }
}
