//! `start`, `dry`, `retry`, `restart` and `exec`: the commands that run a DAG.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use anyhow::{Context as _, Result, bail};
use dagu_engine::{RetryOf, RunRequest};
use dagu_eval::params::Param;
use regex::Regex;

use super::{Ctx, Loaded, execute, executors};
use crate::RunArgs;

static RUN_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]{1,64}$").unwrap());

/// `dagu start` / `dagu dry`.
pub fn start(ctx: &Ctx, run: &RunArgs, dry: bool) -> Result<u8> {
    let (flags, dag, args) = (&run.flags, run.dag.as_str(), &run.args);
    let (loaded, params) = match &flags.from_run_id {
        Some(from) => {
            if !args.is_empty() {
                bail!("parameters cannot be provided when using --from-run-id");
            }
            let (old, status) = ctx.find_run(&ctx.dag_name(dag), Some(from))?;
            (snapshot(ctx, &old.path)?, previous_params(&status)?)
        }
        None => (
            ctx.load(dag, flags.name.clone())?,
            cli_params(flags.params.as_deref(), args)?,
        ),
    };
    let run_id = new_run_id(flags.run_id.as_deref())?;
    if !dry {
        super::manage::apply_retention(ctx, loaded.file.main());
    }
    run_loaded(
        ctx,
        loaded,
        run_id,
        params,
        flags.default_working_dir.clone(),
        dry,
    )
}

fn run_loaded(
    ctx: &Ctx,
    loaded: Loaded,
    run_id: String,
    params: Option<Vec<Param>>,
    default_work_dir: Option<PathBuf>,
    dry: bool,
) -> Result<u8> {
    let file = Arc::new(loaded.file);
    let dag = Arc::new(file.main().clone());
    let settings = ctx.settings();
    execute(ctx, |stop| RunRequest {
        settings,
        executors: executors(ctx),
        file,
        dag,
        run_id,
        params,
        parent: None,
        default_work_dir,
        stop,
        dry,
        retry: None,
        source: Some(loaded.source),
    })
}

/// Params from `--` (wins) or `-p`.
fn cli_params(flag: Option<&str>, args: &[String]) -> Result<Option<Vec<Param>>> {
    let text = if !args.is_empty() {
        args.join(" ")
    } else if let Some(p) = flag {
        p.trim().trim_matches(|c| c == '\'' || c == '"').to_string()
    } else {
        return Ok(None);
    };
    Ok(Some(
        dagu_eval::params::parse(&text).map_err(anyhow::Error::msg)?,
    ))
}

/// The given run ID (validated) or a new UUIDv7.
fn new_run_id(given: Option<&str>) -> Result<String> {
    match given {
        Some(id) if RUN_ID.is_match(id) => Ok(id.to_string()),
        Some(_) => {
            bail!("dag-run ID must only contain alphanumeric characters, dashes, and underscores")
        }
        None => Ok(uuid::Uuid::now_v7().to_string()),
    }
}

/// `dagu retry --run-id ID [--step NAME] DAG`.
pub fn retry(ctx: &Ctx, dag: &str, run_id: &str, step: Option<&str>) -> Result<u8> {
    let name = ctx.dag_name(dag);
    let (run, previous) = ctx.find_run(&name, Some(run_id))?;
    let loaded = snapshot(ctx, &run.path).or_else(|_| ctx.load(dag, None))?;
    let file = Arc::new(loaded.file);
    let main = file.main().clone();
    if let Some(s) = step
        && !main.steps.iter().any(|x| x.name == s)
    {
        bail!("step \"{s}\" not found in DAG {}", main.name);
    }
    let params = previous_params(&previous)?;
    let settings = ctx.settings();
    execute(ctx, |stop| RunRequest {
        settings,
        executors: executors(ctx),
        file: file.clone(),
        dag: Arc::new(main),
        run_id: run.run_id.clone(),
        params,
        parent: None,
        default_work_dir: None,
        stop,
        dry: false,
        retry: Some(RetryOf {
            run,
            previous,
            only_step: step.map(str::to_string),
        }),
        source: Some(loaded.source),
    })
}

/// The DAG as it was when the run started (`dag.json` of its first attempt).
fn snapshot(ctx: &Ctx, run_path: &std::path::Path) -> Result<Loaded> {
    let first = dagu_store::runs::attempts(run_path)?
        .into_iter()
        .next()
        .context("run has no attempts")?;
    let text = std::fs::read_to_string(first.path.join("dag.json"))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let location = PathBuf::from(json["location"].as_str().unwrap_or_default());
    let source = json["yaml"]
        .as_str()
        .context("snapshot has no YAML")?
        .to_string();
    let name = json["name"].as_str().map(str::to_string);
    ctx.load_source(&location, source, name)
}

fn previous_params(status: &dagu_store::RunStatus) -> Result<Option<Vec<Param>>> {
    if status.params_list.is_empty() {
        return Ok(None);
    }
    let params = status
        .params_list
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if k.parse::<usize>().is_err() => Param {
                name: Some(k.to_string()),
                value: v.to_string(),
            },
            Some((_, v)) => Param {
                name: None,
                value: v.to_string(),
            },
            None => Param {
                name: None,
                value: kv.clone(),
            },
        })
        .collect();
    Ok(Some(params))
}

/// `dagu restart [--run-id ID] DAG`: stop the running run, then start a new one.
pub fn restart(ctx: &Ctx, dag: &str, run_id: Option<&str>) -> Result<u8> {
    let name = ctx.dag_name(dag);
    let (run, status) = ctx.find_run(&name, run_id)?;
    if status.status != dagu_store::RunState::Running
        || !dagu_store::liveness::is_alive(status.pid, status.pid_start)
    {
        bail!(
            "DAG {name} is not running, current status: {}",
            status.status.label()
        );
    }
    super::manage::stop_and_wait(&status)?;
    let loaded = snapshot(ctx, &run.path).or_else(|_| ctx.load(dag, None))?;
    if let Some(wait) = loaded.file.main().restart_wait {
        std::thread::sleep(wait);
    }
    let params = previous_params(&status)?;
    run_loaded(ctx, loaded, new_run_id(None)?, params, None, false)
}

/// What `dagu exec` runs.
#[derive(clap::Args, Debug)]
pub struct ExecSpec {
    /// Name of the one-step DAG (default `exec-<command>`).
    #[arg(short = 'N', long)]
    pub name: Option<String>,
    /// Run ID to use.
    #[arg(short = 'r', long)]
    pub run_id: Option<String>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short = 'E', long = "env")]
    pub env: Vec<String>,
    /// dotenv file (repeatable).
    #[arg(long)]
    pub dotenv: Vec<String>,
    /// Working directory.
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Shell to run the command with.
    #[arg(long)]
    pub shell: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `dagu exec -- CMD ARGS…`: a one-step DAG named `exec-<cmd>`.
pub fn exec(ctx: &Ctx, spec: &ExecSpec) -> Result<u8> {
    let program = spec
        .command
        .first()
        .context("a command is required after --")?;
    let base = std::path::Path::new(program)
        .file_name()
        .map_or(program.clone(), |n| n.to_string_lossy().into_owned());
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| format!("exec-{}", dagu_store::layout::safe_name(&base)));
    let line = spec
        .command
        .iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let mut doc = serde_json::json!({
        "name": name,
        "steps": [{"name": "main", "command": line}],
    });
    if !spec.env.is_empty() {
        doc["env"] = serde_json::json!(spec.env);
    }
    if !spec.dotenv.is_empty() {
        doc["dotenv"] = serde_json::json!(spec.dotenv);
    }
    if let Some(dir) = &spec.workdir {
        doc["workingDir"] = serde_json::json!(crate::paths::absolute(dir));
    }
    if let Some(shell) = &spec.shell {
        doc["shell"] = serde_json::json!(shell);
    }
    let cwd = std::env::current_dir()?;
    let loaded = ctx.load_source(&cwd.join(format!("{name}.yaml")), doc.to_string(), None)?;
    super::manage::apply_retention(ctx, loaded.file.main());
    run_loaded(
        ctx,
        loaded,
        new_run_id(spec.run_id.as_deref())?,
        None,
        Some(cwd),
        false,
    )
}

/// Quotes an argument for `sh` when it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
