//! The environment of a run and of each step (§5.1–§5.5, §5.9).
//!
//! Precedence inside a step, highest first: step `env` > upstream outputs > params >
//! secrets > dotenv > DAG `env` > the filtered host environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use dagu_core::{Dag, Secret};
use dagu_eval::params::Param;
use dagu_eval::{Context, Stages, Vars, expand};

/// The resolved run-level values.
#[derive(Debug, Default)]
pub struct RunEnv {
    /// What every step's process starts from.
    pub env: Vars,
    /// `env` over the whole host environment, for expansion lookups.
    pub lookup: Vars,
    /// Params (named and positional), known to expansion.
    pub params: Vars,
    /// `K=V` strings of the params, for the run record.
    pub params_list: Vec<String>,
    /// The DAG's working directory (created).
    pub work_dir: PathBuf,
    /// Values of the DAG's secrets, to be masked in what the run writes down.
    pub secrets: Vec<String>,
}

/// Resolves env, working dir, params, dotenv and secrets for a run.
/// `default_work_dir` is used when the DAG sets none (the DAG file's folder, or the
/// calling step's directory for sub-DAGs).
pub fn prepare(
    dag: &Dag,
    host: &Vars,
    host_lookup: &Vars,
    dag_dir: &Path,
    default_work_dir: &Path,
    overrides: Option<Vec<Param>>,
) -> Result<RunEnv, String> {
    let no_refs = HashMap::new();
    let mut env = host.clone();
    let mut lookup = host_lookup.clone();
    let mut dag_env = Vars::new();
    // DAG env entries and workingDir see the entries before them, and the host.
    let eval = |raw: &str, dag_env: &Vars, lookup: &Vars, env: &Vars| {
        let ctx = Context {
            known: dag_env,
            step_refs: &no_refs,
            env: lookup,
            command_env: env,
            work_dir: Some(dag_dir),
        };
        expand(raw, &ctx, Stages::ALL)
    };
    for (key, raw) in &dag.env {
        let value = eval(raw, &dag_env, &lookup, &env).map_err(|e| format!("env {key}: {e}"))?;
        dag_env.set(key.clone(), value.clone());
        lookup.set(key.clone(), value.clone());
        env.set(key.clone(), value);
    }
    let work_dir = match &dag.working_dir {
        Some(raw) => {
            let expanded =
                eval(raw, &dag_env, &lookup, &env).map_err(|e| format!("workingDir: {e}"))?;
            resolve_path(&expanded, dag_dir, host)
        }
        None => default_work_dir.to_path_buf(),
    };
    std::fs::create_dir_all(&work_dir).map_err(|e| {
        format!(
            "failed to create working directory {}: {e}",
            work_dir.display()
        )
    })?;

    let defaults = dag.params.clone();
    let params_in = match overrides {
        Some(o) => dagu_eval::params::apply_overrides(defaults, o),
        None => defaults,
    };
    let params = dagu_eval::params::evaluate(&params_in, &lookup, &env, Some(&work_dir))
        .map_err(|e| format!("params: {e}"))?;

    let mut extra = Vars::new();
    for file in &dag.dotenv {
        for (k, v) in read_dotenv(file, &work_dir, dag_dir, &lookup)? {
            extra.set(k, v);
        }
    }
    let mut secrets = Vec::new();
    for secret in &dag.secrets {
        let value = resolve_secret(secret, host_lookup, &work_dir, dag_dir)?;
        extra.set(secret.name.clone(), value.clone());
        secrets.push(value);
    }
    let named: Vec<(String, String)> = params_in
        .iter()
        .filter_map(|p| {
            p.name
                .as_ref()
                .and_then(|n| params.get(n).map(|v| (n.clone(), v.to_string())))
        })
        .collect();
    for (k, v) in &named {
        extra.set(k.clone(), v.clone());
    }
    if !params_in.is_empty() {
        let json: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        extra.set(
            "DAGU_PARAMS_JSON",
            serde_json::Value::Object(json).to_string(),
        );
    }
    env.extend(&extra);
    lookup.extend(&extra);
    let params_list = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(RunEnv {
        env,
        lookup,
        params,
        params_list,
        work_dir,
        secrets,
    })
}

/// `~` and relative paths: relative ones are joined to `base`.
pub fn resolve_path(raw: &str, base: &Path, host: &Vars) -> PathBuf {
    let expanded = match raw.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", host.get("HOME").unwrap_or_default())
        }
        _ => raw.to_string(),
    };
    let path = PathBuf::from(expanded);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

fn read_dotenv(
    file: &str,
    work_dir: &Path,
    dag_dir: &Path,
    env: &Vars,
) -> Result<Vec<(String, String)>, String> {
    let expanded = dagu_eval::shell::expand_shell(file, env);
    let candidates = [
        resolve_path(&expanded, work_dir, env),
        resolve_path(&expanded, dag_dir, env),
    ];
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read dotenv {}: {e}", path.display()))?;
    dagu_eval::dotenv::parse(&text).map_err(|e| format!("dotenv {}: {e}", path.display()))
}

fn resolve_secret(
    secret: &Secret,
    host: &Vars,
    work_dir: &Path,
    dag_dir: &Path,
) -> Result<String, String> {
    let fail = |why: String| {
        format!(
            "failed to resolve secret \"{}\" from provider \"{}\": {why}",
            secret.name, secret.provider
        )
    };
    match secret.provider.as_str() {
        "env" => host.get(&secret.key).map(str::to_string).ok_or_else(|| {
            fail(format!(
                "environment variable \"{}\" is not set",
                secret.key
            ))
        }),
        "file" => {
            let candidates = [
                resolve_path(&secret.key, work_dir, host),
                resolve_path(&secret.key, dag_dir, host),
            ];
            let path = candidates
                .iter()
                .find(|p| p.is_file())
                .ok_or_else(|| fail(format!("file \"{}\" not found", secret.key)))?;
            std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| fail(e.to_string()))
        }
        other => Err(fail(format!("unknown provider \"{other}\""))),
    }
}
