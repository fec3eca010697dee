//! The `dag` and `parallel` step types: run another DAG as a sub-run (§7).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dagu_core::{DagFile, ParallelItems};
use dagu_eval::{Context, Stages, expand};
use dagu_store::{ChildRun, RunRef, RunState};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::executor::{BoxFuture, StepExecutor, StepInput, StepOutput};
use crate::run::{self, Parent, RunReport, RunRequest};

/// Runs `call:` steps, once or fanned out over `parallel:` items.
pub struct SubDagExecutor;

impl StepExecutor for SubDagExecutor {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(async move {
            let mut out = run_call(input)
                .await
                .unwrap_or_else(|e| StepOutput::failed(1, e));
            // A sub-run that ended because the run is stopping makes this step aborted.
            if out.error.is_some() && input.stop.is_cancelled() {
                out.interrupted = Some(crate::process::Interruption::Stopped);
            }
            out
        })
    }
}

/// One child run to start.
struct ChildSpec {
    params: String,
    run_id: String,
}

async fn run_call(input: &StepInput) -> Result<StepOutput, String> {
    let call = input.step.call.as_ref().ok_or("step has no 'call'")?;
    let ctx = input.context();
    let target = expand(&call.target, &ctx, Stages::ALL).map_err(|e| e.to_string())?;
    let file = resolve(&target, input)?;
    let Some(parallel) = &call.parallel else {
        let params = match &call.params {
            Some(p) => expand(p, &ctx, Stages::ALL).map_err(|e| e.to_string())?,
            None => String::new(),
        };
        let spec = ChildSpec {
            run_id: child_run_id(input, &params),
            params,
        };
        let report = start_child(input, &file, &target, &spec).await?;
        let result = child_json(&report, &spec.params);
        write_stdout(
            input,
            &serde_json::to_string_pretty(&result).unwrap_or_default(),
        )?;
        let children = vec![ChildRun {
            dag_run_id: spec.run_id.clone(),
            params: spec.params,
        }];
        return Ok(match report.status.status {
            RunState::Succeeded | RunState::PartiallySucceeded => StepOutput {
                children,
                ..Default::default()
            },
            other => StepOutput {
                children,
                ..StepOutput::failed(
                    1,
                    format!(
                        "sub DAG run {} failed with status: {}",
                        spec.run_id,
                        other.label()
                    ),
                )
            },
        });
    };
    let items = parallel_items(&parallel.items, &ctx)?;
    if items.is_empty() {
        return Err("parallel: no items to run".into());
    }
    if items.len() > 1000 {
        return Err(format!(
            "parallel: too many items ({}; at most 1000)",
            items.len()
        ));
    }
    let mut specs: Vec<ChildSpec> = Vec::new();
    for item in items {
        let mut known = input.known.clone();
        known.set("ITEM", item.clone());
        let item_ctx = Context {
            known: &known,
            ..ctx
        };
        let params = match &call.params {
            Some(p) => expand(p, &item_ctx, Stages::ALL).map_err(|e| e.to_string())?,
            None => item,
        };
        if !specs.iter().any(|s| s.params == params) {
            specs.push(ChildSpec {
                run_id: child_run_id(input, &params),
                params,
            });
        }
    }
    let limit = Arc::new(Semaphore::new(parallel.max_concurrent.max(1)));
    let runs = specs.iter().map(|spec| {
        let limit = limit.clone();
        let file = file.clone();
        let target = target.clone();
        async move {
            let _permit = limit.acquire().await;
            start_child(input, &file, &target, spec).await
        }
    });
    let reports = futures::future::join_all(runs).await;
    let mut results = Vec::new();
    let mut outputs = Vec::new();
    let mut failed = 0;
    for (spec, report) in specs.iter().zip(reports) {
        let report = report?;
        let ok = matches!(
            report.status.status,
            RunState::Succeeded | RunState::PartiallySucceeded
        );
        if ok {
            outputs.push(outputs_map(&report));
        } else {
            failed += 1;
        }
        results.push(child_json(&report, &spec.params));
    }
    let summary = serde_json::json!({
        "summary": {"total": specs.len(), "succeeded": specs.len() - failed, "failed": failed},
        "results": results,
        "outputs": outputs,
    });
    write_stdout(
        input,
        &serde_json::to_string_pretty(&summary).unwrap_or_default(),
    )?;
    let children = specs
        .iter()
        .map(|s| ChildRun {
            dag_run_id: s.run_id.clone(),
            params: s.params.clone(),
        })
        .collect();
    if failed > 0 {
        return Ok(StepOutput {
            children,
            ..StepOutput::failed(
                1,
                format!("{failed} of {} sub DAG runs failed", specs.len()),
            )
        });
    }
    Ok(StepOutput {
        children,
        ..Default::default()
    })
}

/// Items of a fan-out: a literal list, or an expression giving a JSON array, lines or words.
fn parallel_items(items: &ParallelItems, ctx: &Context) -> Result<Vec<String>, String> {
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match items {
        ParallelItems::List(list) => list
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => {
                    expand(s, ctx, Stages::ALL).map_err(|e| e.to_string())
                }
                other => Ok(as_text(other)),
            })
            .collect(),
        ParallelItems::Expr(text) => {
            let value = expand(text, ctx, Stages::ALL).map_err(|e| e.to_string())?;
            if let Ok(serde_json::Value::Array(list)) =
                serde_json::from_str::<serde_json::Value>(value.trim())
            {
                return Ok(list.iter().map(as_text).collect());
            }
            let split: Vec<String> = if value.trim().contains('\n') {
                value
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            } else {
                value.split_whitespace().map(str::to_string).collect()
            };
            Ok(split)
        }
    }
}

/// A child run id derived from the parent run, the step and the params, so that equal
/// params give one run.
fn child_run_id(input: &StepInput, params: &str) -> String {
    let digest =
        Sha256::digest(format!("{}\n{}\n{params}", input.run.run_id, input.step.name).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Finds the DAG to call: a document of the same file, else a file.
fn resolve(target: &str, input: &StepInput) -> Result<Arc<DagFile>, String> {
    let run = &input.run;
    if run.file.local(target).is_some() {
        return Ok(run.file.clone());
    }
    let path = find_file(target, &run.dag_dir, &run.settings.dags_dir)
        .ok_or_else(|| format!("failed to find DAG \"{target}\""))?;
    dagu_core::load_file(&path, &run.settings.load)
        .map(Arc::new)
        .map_err(|e| format!("failed to load DAG \"{target}\": {e}"))
}

fn find_file(target: &str, dag_dir: &Path, dags_dir: &Path) -> Option<PathBuf> {
    let has_ext = target.ends_with(".yaml") || target.ends_with(".yml");
    let names: Vec<String> = if has_ext {
        vec![target.to_string()]
    } else {
        vec![
            format!("{target}.yaml"),
            format!("{target}.yml"),
            target.to_string(),
        ]
    };
    let bases: Vec<PathBuf> = if Path::new(target).is_absolute() {
        vec![PathBuf::new()]
    } else {
        vec![
            dags_dir.to_path_buf(),
            std::env::current_dir().unwrap_or_default(),
            dag_dir.to_path_buf(),
        ]
    };
    bases
        .iter()
        .flat_map(|b| names.iter().map(move |n| b.join(n)))
        .find(|p| p.is_file())
}

async fn start_child(
    input: &StepInput,
    file: &Arc<DagFile>,
    target: &str,
    spec: &ChildSpec,
) -> Result<RunReport, String> {
    let run = &input.run;
    let dag = file.local(target).unwrap_or_else(|| file.main()).clone();
    let params = dagu_eval::params::parse(&spec.params).map_err(|e| e.to_string())?;
    let request = RunRequest {
        settings: run.settings.clone(),
        executors: run.executors.clone(),
        file: file.clone(),
        dag: Arc::new(dag),
        run_id: spec.run_id.clone(),
        params: Some(params),
        parent: Some(Parent {
            root: run.root.clone(),
            parent: RunRef {
                name: run.dag.name.clone(),
                id: run.run_id.clone(),
            },
            root_run_path: run.root_run_path.clone(),
        }),
        default_work_dir: Some(input.work_dir.clone()),
        stop: input.stop.clone(),
        dry: run.dry,
        retry: None,
        source: None,
    };
    run::run_dag(request).await
}

fn outputs_map(report: &RunReport) -> serde_json::Value {
    serde_json::Value::Object(
        report
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
}

fn child_json(report: &RunReport, params: &str) -> serde_json::Value {
    serde_json::json!({
        "name": report.status.name,
        "dagRunId": report.status.dag_run_id,
        "params": params,
        "outputs": outputs_map(report),
        "status": report.status.status.label(),
    })
}

fn write_stdout(input: &StepInput, text: &str) -> Result<(), String> {
    std::fs::write(&input.stdout_log, format!("{text}\n"))
        .map_err(|e| format!("failed to write step log: {e}"))
}
