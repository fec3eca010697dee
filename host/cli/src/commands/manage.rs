//! `stop` and `cleanup`, and retention at the start of a run.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::Utc;
use dagu_core::Dag;
use dagu_store::{RunState, RunStatus, liveness};

use super::Ctx;

/// Default `histRetentionDays`.
const DEFAULT_RETENTION_DAYS: i64 = 30;

/// `dagu stop [--run-id ID] DAG`: asks the owning process to stop (SIGTERM), as a signal
/// to `dagu start` would.
pub fn stop(ctx: &Ctx, dag: &str, run_id: Option<&str>) -> Result<u8> {
    let name = ctx.dag_name(dag);
    let store = ctx.store();
    let runs = match run_id {
        Some(id) => store.find_run(&name, id)?.into_iter().collect(),
        None => store.list_runs(&name)?,
    };
    let mut stopped = 0;
    for run in runs {
        let Some((_, status)) = store.latest_status(&run)? else {
            continue;
        };
        if status.status == RunState::Running && liveness::is_alive(status.pid, status.pid_start) {
            signal_owner(&status)?;
            stopped += 1;
        }
    }
    if stopped == 0 && !ctx.quiet {
        eprintln!("The DAG is not running");
    }
    Ok(0)
}

fn signal_owner(status: &RunStatus) -> Result<()> {
    // SAFETY: kill(2) with a PID we just confirmed belongs to the run's owner.
    let rc = unsafe { libc::kill(status.pid as libc::pid_t, libc::SIGTERM) };
    if rc != 0 {
        bail!(
            "failed to stop run {}: {}",
            status.dag_run_id,
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Stops a run's owner and waits until it has exited.
pub fn stop_and_wait(status: &RunStatus) -> Result<()> {
    signal_owner(status)?;
    while liveness::is_alive(status.pid, status.pid_start) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `dagu cleanup [--retention-days N] [--dry-run] [-y] DAG`.
pub fn cleanup(ctx: &Ctx, dag: &str, days: i64, dry_run: bool, yes: bool) -> Result<u8> {
    if days < 0 {
        bail!("retention days must be 0 or more (got {days})");
    }
    let name = ctx.dag_name(dag);
    let victims = expired_runs(ctx, &name, days)?;
    if victims.is_empty() {
        println!("No runs to delete for DAG \"{name}\".");
        return Ok(0);
    }
    if dry_run {
        println!(
            "Dry run: Would delete {} run(s) for DAG \"{name}\":",
            victims.len()
        );
        for v in &victims {
            println!("  - {}", v.run_id);
        }
        return Ok(0);
    }
    if !yes {
        println!(
            "This will delete {} run(s) for DAG \"{name}\". Continue? [y/N]",
            victims.len()
        );
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            println!("Cancelled.");
            return Ok(0);
        }
    }
    let store = ctx.store();
    for v in &victims {
        store.delete_run(&name, v)?;
    }
    println!("Deleted {} run(s) for DAG \"{name}\".", victims.len());
    Ok(0)
}

/// Finished runs older than `days` (0 = all finished runs).
fn expired_runs(ctx: &Ctx, name: &str, days: i64) -> Result<Vec<dagu_store::RunDir>> {
    let store = ctx.store();
    let cutoff = Utc::now() - chrono::Duration::days(days);
    let mut out = Vec::new();
    for run in store.list_runs(name)? {
        if days > 0 && run.created >= cutoff {
            continue;
        }
        let active = match store.latest_status(&run)? {
            Some((_, s)) => s.status.is_active() && liveness::is_alive(s.pid, s.pid_start),
            None => false,
        };
        if !active {
            out.push(run);
        }
    }
    Ok(out)
}

/// Deletes a DAG's runs older than its `histRetentionDays` (negative = keep forever).
pub fn apply_retention(ctx: &Ctx, dag: &Dag) {
    let days = dag.hist_retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
    if days < 0 {
        return;
    }
    let days = days.max(1);
    let store = ctx.store();
    if let Ok(victims) = expired_runs(ctx, &dag.name, days) {
        for v in victims {
            let _ = store.delete_run(&dag.name, &v);
        }
    }
}
