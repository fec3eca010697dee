//! Command implementations and what they share.

pub mod inspect;
pub mod manage;
pub mod native;
pub mod plugin;
pub mod plugin_new;
pub mod plugin_serve;
pub mod start;
pub mod validate;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use dagu_core::{DagFile, LoadOptions};
use dagu_engine::{Executors, RunReport, RunRequest, Settings};
use dagu_store::{Dirs, RunDir, RunState, RunStatus, Store};
use tokio_util::sync::CancellationToken;

use crate::paths::{self, Paths};
use crate::render;

/// What every command needs: resolved directories and output settings.
pub struct Ctx {
    pub paths: Paths,
    pub quiet: bool,
    /// The deployment's plugins, loaded on first use (once per invocation).
    plugins:
        std::sync::OnceLock<Option<(dagu_plugins::registry::Registry, Arc<dagu_core::StepTypes>)>>,
    /// [`Ctx::step_types`], built on first use.
    step_types: std::sync::OnceLock<Arc<dagu_core::StepTypes>>,
}

/// A DAG file as loaded for a command.
pub struct Loaded {
    pub file: DagFile,
    pub source: String,
}

impl Ctx {
    /// Resolves the directories for this call.
    pub fn new(home_flag: Option<&Path>, config_flag: Option<&Path>, quiet: bool) -> Ctx {
        Ctx {
            paths: Paths::resolve(home_flag, config_flag),
            quiet,
            plugins: std::sync::OnceLock::new(),
            step_types: std::sync::OnceLock::new(),
        }
    }

    /// The enabled plugins and the config schemas of their step types.
    fn plugins(&self) -> Option<&(dagu_plugins::registry::Registry, Arc<dagu_core::StepTypes>)> {
        self.plugins
            .get_or_init(|| {
                let registry = plugin::deployment_registry(self)?;
                let catalog = Arc::new(plugin::step_type_catalog(self, &registry));
                Some((registry, catalog))
            })
            .as_ref()
    }

    /// The run store.
    pub fn store(&self) -> Store {
        Store::new(Dirs {
            dag_runs: self.paths.dag_runs(),
            logs: self.paths.logs.clone(),
        })
    }

    /// How DAG files are loaded here.
    pub fn load_options(&self, name: Option<String>) -> LoadOptions {
        LoadOptions {
            base_config: Some(self.paths.base_config.clone()),
            name,
            step_types: Some(self.step_types()),
        }
    }

    /// The config schemas of every step type a plugin serves here: the enabled plugins'
    /// and the built-in plugins' (unless an enabled plugin took over the name).
    fn step_types(&self) -> Arc<dagu_core::StepTypes> {
        self.step_types
            .get_or_init(|| {
                let mut catalog = match self.plugins() {
                    Some((_, catalog)) => (**catalog).clone(),
                    None => dagu_core::StepTypes::default(),
                };
                let wasm = dagu_builtins::BUILTINS
                    .iter()
                    .filter_map(|b| Some((b.name, b.config_schema?)));
                for (step_type, schema) in wasm.chain(native::config_schemas()) {
                    if !catalog.contains(step_type) {
                        catalog.add_deferred(step_type, schema);
                    }
                }
                Arc::new(catalog)
            })
            .clone()
    }

    /// Resolves and loads a DAG reference.
    pub fn load(&self, reference: &str, name: Option<String>) -> Result<Loaded> {
        let path = paths::resolve_dag(reference, &self.paths.dags);
        let source = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "failed to load DAG from {reference}: failed to open file \"{}\"",
                path.display()
            )
        })?;
        self.load_source(&path, source, name)
    }

    /// Loads DAG text as coming from `path`.
    pub fn load_source(&self, path: &Path, source: String, name: Option<String>) -> Result<Loaded> {
        match dagu_core::load_str(&source, path, &self.load_options(name)) {
            Ok(file) => Ok(Loaded { file, source }),
            Err(errors) => bail!("failed to load DAG from {}:\n{errors}", path.display()),
        }
    }

    /// The DAG name a reference stands for: the loaded DAG's name, else the reference's stem.
    pub fn dag_name(&self, reference: &str) -> String {
        match self.load(reference, None) {
            Ok(l) => l.file.main().name.clone(),
            Err(_) => Path::new(reference).file_stem().map_or_else(
                || reference.to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
        }
    }

    /// Engine settings for a run.
    pub fn settings(&self) -> Arc<Settings> {
        let mut host = dagu_eval::hostenv::filter(std::env::vars());
        host.set("DAGU_HOME", self.paths.home.to_string_lossy());
        let default_shell = std::env::var("DAGU_DEFAULT_SHELL")
            .ok()
            .or_else(|| std::env::var("SHELL").ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "sh".into());
        Arc::new(Settings {
            store: self.store(),
            dags_dir: self.paths.dags.clone(),
            load: self.load_options(None),
            host_env: host,
            host_lookup: std::env::vars().collect(),
            default_shell,
        })
    }

    /// The run with `run_id`, or the latest run of the DAG.
    pub fn find_run(&self, dag: &str, run_id: Option<&str>) -> Result<(RunDir, RunStatus)> {
        let store = self.store();
        let run = match run_id {
            Some(id) => store
                .find_run(dag, id)?
                .with_context(|| format!("dag-run ID not found: {id}"))?,
            None => store.list_runs(dag)?.into_iter().next().with_context(|| {
                format!("failed to find the latest run data for DAG {dag}: no status data")
            })?,
        };
        let (_, status) = store
            .latest_status(&run)?
            .with_context(|| format!("no status data for run {}", run.run_id))?;
        Ok((run, status))
    }

    /// Prints a run's tree unless quiet.
    pub fn print_tree(&self, status: &RunStatus) {
        if !self.quiet {
            let style = render::Style {
                color: std::io::stdout().is_terminal(),
            };
            print!("{}", render::tree(status, style));
        }
    }
}

/// A fresh cancellation token wired to SIGTERM and SIGINT.
fn stop_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        t.cancel();
    });
    token
}

/// The async runtime for a run: one thread. Steps are processes, plugin processes or WASM
/// guests that yield every epoch tick, so one thread keeps them all going, and a chain of
/// short steps pays no cross-thread wake-ups (measured: 200 jq steps 64 ms instead of
/// ~80 ms with two workers; process-heavy workloads the same within noise).
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs a request to the end with signal handling; prints the tree; returns the exit code.
pub fn execute(ctx: &Ctx, build: impl FnOnce(CancellationToken) -> RunRequest) -> Result<u8> {
    let rt = runtime()?;
    let report: RunReport = rt
        .block_on(async {
            let request = build(stop_on_signals());
            let executors = request.executors.clone();
            let report = dagu_engine::run_dag(request).await;
            // Plugin processes finish releasing what the run held before the host exits.
            executors.shutdown().await;
            report
        })
        .map_err(anyhow::Error::msg)?;
    let status = &report.status;
    ctx.print_tree(status);
    let code = exit_code(status);
    if code != 0 && !ctx.quiet && !status.error.is_empty() {
        eprintln!(
            "Error: failed to execute the dag-run {} (dag-run ID: {}): {}",
            status.name, status.dag_run_id, status.error
        );
    }
    drop(rt);
    Ok(code)
}

/// The exit code of `start` for a run's final status (cli.md §1.1).
pub fn exit_code(status: &RunStatus) -> u8 {
    match status.status {
        RunState::Succeeded | RunState::Waiting => 0,
        RunState::Aborted => {
            let init_failed = status
                .on_init
                .as_ref()
                .is_some_and(|n| n.status == dagu_store::NodeState::Failed);
            u8::from(init_failed)
        }
        _ => 1,
    }
}

/// Built-in step executors, the built-in WASM plugins, and the step types of the
/// deployment's enabled plugins (all registered lazily: no component loads and no plugin
/// process starts until a step of its type runs).
pub fn executors(ctx: &Ctx) -> Arc<Executors> {
    let mut executors = Executors::builtin();
    plugin::register_builtin_plugins(ctx, &mut executors);
    if let Some((registry, _)) = ctx.plugins() {
        plugin::register_plugins(registry, &mut executors);
    }
    Arc::new(executors)
}
