//! The `container` step type: steps under a DAG-level `container:` run in one container
//! per DAG run. The first step of a run creates and starts it (labelled with the run id);
//! later steps — also those of a restarted plugin process — find it by that label and
//! exec their command in it. A lock per run keeps parallel steps from creating two.
//! [`end`] stops and removes it when the run ends, unless `keepContainer` is set.
//!
//! With `startup: keepalive` (the default) the container's main process is
//! `sh -c 'trap "exit 0" TERM; while :; do sleep 3600 & wait; done'` (POSIX sh, so it works
//! with busybox; the trap makes `docker stop` end it at once), under Docker's init process
//! (which reaps processes orphaned by execs) when the engine has one.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::HealthStatusEnum;
use bollard::query_parameters::LogsOptions;
use dagu_plugin_sdk::{RunContext, RunError, RunRequest};
use futures::StreamExt;

use crate::Docker;
use crate::config::{Config, Startup, WaitFor};
use crate::create::{self, Spec};
use crate::engine::{Lines, cancelled, frame};
use crate::owner::{self, Kind};

/// The keep-alive main process.
pub(crate) const KEEPALIVE: &str = r#"trap "exit 0" TERM; while :; do sleep 3600 & wait; done"#;

/// How long the container may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The run's container slot: its id once known.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<String>>>;

/// Runs a `container` step.
pub(crate) async fn run(
    plugin: &Docker,
    request: &RunRequest,
    config: &Config,
    commands: &[Vec<String>],
    ctx: &RunContext,
) -> Result<(), RunError> {
    if config.image.is_none() {
        let Some(target) = config.exec_target.as_deref().or(config.name.as_deref()) else {
            return Err(RunError::invalid_config(
                "the DAG's container block needs image (a container for this run) or exec (a running container)",
            ));
        };
        let info = create::inspect(&plugin.engine, target).await?;
        match info {
            None => {
                return Err(RunError::failed(
                    1,
                    format!(
                        "container {target} not found: start it before the DAG runs, or use image: to let dagu create one"
                    ),
                ));
            }
            Some(info) if !create::running(&info) => {
                return Err(RunError::failed(
                    1,
                    format!(
                        "container {target} is not running (state: {}): start it (docker start {target})",
                        create::state_name(&info)
                    ),
                ));
            }
            Some(_) => {}
        }
        return crate::step::exec_all(plugin, target, config, commands, ctx).await;
    }
    if commands.is_empty() {
        return Err(RunError::invalid_config(
            "a step in the DAG's container needs a command to exec",
        ));
    }
    // Creating, pulling and waiting for readiness stop at once on cancel: whatever was
    // made carries the run's labels, so the run's end removes it.
    let id = tokio::select! {
        id = ensure(plugin, request, config, ctx) => id?,
        _ = cancelled(ctx) => return Err(RunError::Cancelled),
    };
    // The container already has the block's env, user and working directory.
    let container_only = Config {
        env: Vec::new(),
        user: None,
        working_dir: None,
        ..config.clone()
    };
    let result = crate::step::exec_all(plugin, &id, &container_only, commands, ctx).await;
    if let Err(RunError::Failed { .. }) = &result {
        // The container may have ended between its readiness check and this step.
        if let Some(info) = create::inspect(&plugin.engine, &id).await?
            && !create::running(&info)
        {
            return Err(exited(plugin, &id, &info, "before the step could run").await);
        }
    }
    result
}

/// The error for a run container that exited: its exit code and last log lines.
async fn exited(
    plugin: &Docker,
    id: &str,
    info: &bollard::models::ContainerInspectResponse,
    when: &str,
) -> RunError {
    let code = info.state.as_ref().and_then(|s| s.exit_code).unwrap_or(-1);
    let tail = create::log_tail(&plugin.engine, id, 20).await;
    RunError::failed(
        1,
        format!(
            "the DAG's container exited {when} (exit code {code}); its last log lines:\n{tail}"
        ),
    )
}

/// The run's container, created and started if this is the first step to need it.
async fn ensure(
    plugin: &Docker,
    request: &RunRequest,
    config: &Config,
    ctx: &RunContext,
) -> Result<String, RunError> {
    let engine = &plugin.engine;
    let slot = plugin.slot(&request.run_id);
    let mut known = slot.lock().await;
    if let Some(id) = known.clone() {
        if let Some(info) = create::inspect(engine, &id).await?
            && create::running(&info)
        {
            return Ok(id);
        }
        *known = None;
    }
    // Made by an earlier plugin process, or by a step whose cancel cut it short?
    let existing = create::with_labels(
        engine,
        &[
            format!("{}={}", owner::RUN_ID, request.run_id),
            format!("{}=run", owner::KIND),
        ],
    )
    .await?;
    let mut found = existing.into_iter().find_map(|c| c.id);
    if found.is_none()
        && let Some(name) = config.name.as_deref()
    {
        // A container of that name (kept from an earlier run, or the user's): use it.
        found = create::inspect(engine, name).await?.and_then(|i| i.id);
    }
    let id = match found {
        Some(id) => {
            if let Some(info) = create::inspect(engine, &id).await?
                && !create::running(&info)
            {
                create::start(engine, &id).await?;
                ready(plugin, &id, config, ctx).await?;
            }
            id
        }
        None => new_container(plugin, request, config, ctx).await?,
    };
    *known = Some(id.clone());
    Ok(id)
}

async fn new_container(
    plugin: &Docker,
    request: &RunRequest,
    config: &Config,
    ctx: &RunContext,
) -> Result<String, RunError> {
    let engine = &plugin.engine;
    let image = config.image.as_deref().expect("checked by the caller");
    let keep = config.auto_remove == Some(false);
    crate::image::ensure(
        engine,
        image,
        config.pull,
        config.platform.as_deref(),
        crate::auth::for_image(config.auth.as_ref(), &config.registry_auths, image),
        ctx,
    )
    .await?;
    let (entrypoint, cmd) = match config.startup {
        Startup::Keepalive => (
            Some(vec![
                "sh".to_string(),
                "-c".to_string(),
                KEEPALIVE.to_string(),
            ]),
            Some(Vec::new()),
        ),
        Startup::Entrypoint => (None, None),
        Startup::Command => (None, Some(config.start_command.clone())),
    };
    let base = crate::base_dir(request);
    let spec = Spec {
        config,
        image,
        cmd,
        entrypoint,
        labels: plugin.me.labels(Kind::Run, &request.run_id, None, keep),
        base_dir: Path::new(&base),
        init: config.startup == Startup::Keepalive,
    };
    let id = plugin.create_container(&spec, !keep).await?;
    create::start(engine, &id).await?;
    ready(plugin, &id, config, ctx).await?;
    Ok(id)
}

/// Waits until the container is running (or healthy) and, with `logPattern`, until its
/// log shows the pattern; at most [`READY_TIMEOUT`].
async fn ready(
    plugin: &Docker,
    id: &str,
    config: &Config,
    ctx: &RunContext,
) -> Result<(), RunError> {
    let engine = &plugin.engine;
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let what = match config.wait_for {
        WaitFor::Running => "running",
        WaitFor::Healthy => "healthy",
    };
    let wait_state = async {
        loop {
            let Some(info) = create::inspect(engine, id).await? else {
                return Err(RunError::failed(
                    1,
                    "the DAG's container vanished while starting",
                ));
            };
            let state = create::state_name(&info);
            if state == "exited" || state == "dead" {
                return Err(exited(plugin, id, &info, "while starting").await);
            }
            if create::running(&info) {
                let health = info
                    .state
                    .as_ref()
                    .and_then(|s| s.health.as_ref())
                    .and_then(|h| h.status);
                match (config.wait_for, health) {
                    (WaitFor::Running, _) => return Ok(()),
                    (WaitFor::Healthy, Some(HealthStatusEnum::HEALTHY)) => return Ok(()),
                    (WaitFor::Healthy, Some(HealthStatusEnum::UNHEALTHY)) => {
                        return Err(RunError::failed(
                            1,
                            "the DAG's container became unhealthy while starting; check its healthcheck and logs",
                        ));
                    }
                    (
                        WaitFor::Healthy,
                        None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY),
                    ) => {
                        ctx.stderr("waitFor: healthy, but the image has no healthcheck: waiting for running only");
                        return Ok(());
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    match tokio::time::timeout_at(deadline, wait_state).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(RunError::failed(
                1,
                format!(
                    "the DAG's container was not {what} after {} s",
                    READY_TIMEOUT.as_secs()
                ),
            ));
        }
    }
    let Some(pattern) = config.log_pattern.as_deref() else {
        return Ok(());
    };
    let regex = regex::Regex::new(pattern)
        .map_err(|e| RunError::invalid_config(format!("'logPattern' is not a valid regex: {e}")))?;
    let client = engine.client().await?;
    let watch = async {
        let mut logs = client.logs(
            id,
            Some(LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                tail: "all".into(),
                ..Default::default()
            }),
        );
        let mut lines = Lines::default();
        while let Some(Ok(item)) = logs.next().await {
            if let Some((stream, bytes)) = frame(&item)
                && lines.push(stream, bytes).iter().any(|l| regex.is_match(l))
            {
                return true;
            }
        }
        lines.finish().iter().any(|(_, l)| regex.is_match(l))
    };
    match tokio::time::timeout_at(deadline, watch).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(RunError::failed(
            1,
            format!("the DAG's container stopped before its log showed /{pattern}/"),
        )),
        Err(_) => Err(RunError::failed(
            1,
            format!(
                "the DAG's container's log did not show /{pattern}/ within {} s",
                READY_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Ends run `run_id`: stops and removes its containers, except kept ones.
pub(crate) async fn end(plugin: &Docker, run_id: &str) {
    let engine = &plugin.engine;
    let Ok(list) = create::with_labels(
        engine,
        &[
            format!("{}=true", owner::MANAGED),
            format!("{}={run_id}", owner::RUN_ID),
        ],
    )
    .await
    else {
        return;
    };
    let Ok(client) = engine.client().await else {
        return;
    };
    for c in list {
        let Some(id) = c.id else { continue };
        let keep = c
            .labels
            .as_ref()
            .and_then(|l| l.get(owner::KEEP))
            .map(String::as_str)
            == Some("true");
        if keep {
            continue;
        }
        create::stop(engine, &id, Duration::from_secs(2)).await;
        owner::remove(client, &id).await;
        plugin.untrack(&id);
    }
}
