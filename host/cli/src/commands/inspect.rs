//! `status` and `history`: reading run records.

use anyhow::Result;
use dagu_store::{NodeState, RunState, RunStatus, liveness};

use super::Ctx;

/// A record whose owner died mid-run is reported as failed (its journal is intact, but
/// nobody will finish it).
pub fn truthful(mut status: RunStatus) -> RunStatus {
    if status.status == RunState::Running && !liveness::is_alive(status.pid, status.pid_start) {
        status.status = RunState::Failed;
        status.error = "process terminated unexpectedly - the owner of this run is gone".into();
        for node in &mut status.nodes {
            if node.status == NodeState::Running {
                node.status = NodeState::Failed;
                node.error = "process terminated unexpectedly".into();
            }
        }
    }
    status
}

/// `dagu status [--run-id ID] [--json] DAG`.
pub fn status(ctx: &Ctx, dag: &str, run_id: Option<&str>, json: bool) -> Result<u8> {
    let name = ctx.dag_name(dag);
    let (_, status) = ctx.find_run(&name, run_id)?;
    let status = truthful(status);
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        ctx.print_tree(&status);
    }
    Ok(0)
}

/// `dagu history [DAG] [--status s1,s2] [--run-id text] [--limit N] [--format table|json]`.
pub fn history(
    ctx: &Ctx,
    dag: Option<&str>,
    statuses: Option<&str>,
    run_id: Option<&str>,
    limit: usize,
    format: &str,
) -> Result<u8> {
    let store = ctx.store();
    let dags: Vec<String> = match dag {
        Some(d) => vec![ctx.dag_name(d)],
        None => store.dag_dirs()?,
    };
    let wanted: Option<Vec<String>> =
        statuses.map(|s| s.split(',').map(|x| x.trim().to_lowercase()).collect());
    let mut rows: Vec<RunStatus> = Vec::new();
    for name in &dags {
        for run in store.list_runs(name)? {
            if run_id.is_some_and(|id| !run.run_id.contains(id)) {
                continue;
            }
            let Some((_, status)) = store.latest_status(&run)? else {
                continue;
            };
            let status = truthful(status);
            if wanted
                .as_ref()
                .is_some_and(|w| !w.iter().any(|s| s == status.status.label()))
            {
                continue;
            }
            rows.push(status);
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    rows.truncate(limit.min(1000));
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        println!("No DAG runs found matching the specified filters.");
        return Ok(0);
    }
    println!(
        "{:<24} {:<38} {:<20} {:<22} {:<22}",
        "DAG", "RUN ID", "STATUS", "STARTED", "FINISHED"
    );
    for r in rows {
        println!(
            "{:<24} {:<38} {:<20} {:<22} {:<22}",
            r.name,
            r.dag_run_id,
            r.status.label(),
            r.started_at,
            r.finished_at
        );
    }
    Ok(0)
}
