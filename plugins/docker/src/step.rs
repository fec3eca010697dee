//! The `docker` step type: run the step's command in a new container from `image`, or
//! exec it in the running container `containerName` (both: exec when that container runs,
//! else create it under that name).

use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::{AttachContainerOptions, WaitContainerOptions};
use dagu_plugin_sdk::{RunContext, RunError, RunRequest};
use futures::StreamExt;

use crate::Docker;
use crate::config::Config;
use crate::create::{self, Spec};
use crate::engine::{Lines, cancelled, emit, frame};
use crate::owner::{self, Kind};

/// How long a cancelled container gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Runs a `docker` step: every command in turn (one container or exec each), stopping at
/// the first that fails.
pub(crate) async fn run(
    plugin: &Docker,
    request: &RunRequest,
    config: &Config,
    commands: &[Vec<String>],
    ctx: &RunContext,
) -> Result<(), RunError> {
    let target = config.exec_target.as_deref().or(match &config.image {
        None => config.name.as_deref(),
        Some(_) => None,
    });
    if let Some(target) = target {
        // Exec into a running container.
        let info = create::inspect(&plugin.engine, target).await?;
        check_running(target, info.as_ref(), config.image.is_none())?;
        return exec_all(plugin, target, config, commands, ctx).await;
    }
    let Some(image) = config.image.as_deref() else {
        return Err(RunError::invalid_config(
            "set image (to run the step in a new container) or containerName (to exec into a running one)",
        ));
    };
    if let Some(name) = config.name.as_deref() {
        match create::inspect(&plugin.engine, name).await? {
            Some(info) if create::running(&info) => {
                return exec_all(plugin, name, config, commands, ctx).await;
            }
            Some(info) => {
                // A stopped container of that name: replace it when the plugin made it.
                let labels = create::labels(&info);
                if labels.get(owner::MANAGED).map(String::as_str) != Some("true") {
                    return Err(RunError::failed(
                        1,
                        format!(
                            "container {name} exists but is not running (state: {}): start it (docker start {name}) or remove it (docker rm {name})",
                            create::state_name(&info)
                        ),
                    ));
                }
                let id = info.id.clone().unwrap_or_else(|| name.to_string());
                owner::remove(plugin.engine.client().await?, &id).await;
            }
            None => {}
        }
    }
    let pulled = crate::image::ensure(
        &plugin.engine,
        image,
        config.pull,
        config.platform.as_deref(),
        crate::auth::for_image(config.auth.as_ref(), &config.registry_auths, image),
        ctx,
    );
    tokio::select! {
        result = pulled => result?,
        _ = cancelled(ctx) => return Err(RunError::Cancelled),
    }
    if commands.is_empty() {
        return fresh(plugin, request, config, image, None, ctx)
            .await
            .and_then(|code| exited(code, None));
    }
    for (i, argv) in commands.iter().enumerate() {
        let code = fresh(plugin, request, config, image, Some(argv.clone()), ctx).await?;
        exited(
            code,
            (commands.len() > 1).then_some((i + 1, commands.len())),
        )?;
    }
    Ok(())
}

/// An error for a container that cannot be exec'd into.
fn check_running(
    name: &str,
    info: Option<&bollard::models::ContainerInspectResponse>,
    no_image: bool,
) -> Result<(), RunError> {
    let hint = if no_image {
        " (or set image to create it)"
    } else {
        ""
    };
    match info {
        None => Err(RunError::failed(
            1,
            format!(
                "container {name} not found: start it first (docker run -d --name {name} ...){hint}"
            ),
        )),
        Some(info) if !create::running(info) => Err(RunError::failed(
            1,
            format!(
                "container {name} is not running (state: {}): start it (docker start {name}) before exec'ing into it",
                create::state_name(info)
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// Execs every command in the running container `container`.
pub(crate) async fn exec_all(
    plugin: &Docker,
    container: &str,
    config: &Config,
    commands: &[Vec<String>],
    ctx: &RunContext,
) -> Result<(), RunError> {
    if commands.is_empty() {
        return Err(RunError::invalid_config(format!(
            "the step runs in the existing container {container} and needs a command to exec"
        )));
    }
    let options = config.exec_options().map_err(RunError::invalid_config)?;
    for (i, argv) in commands.iter().enumerate() {
        let code = crate::exec::run(&plugin.engine, container, argv, &options, ctx).await?;
        if code != 0 {
            let which = if commands.len() > 1 {
                format!("command {} of {}: ", i + 1, commands.len())
            } else {
                String::new()
            };
            return Err(RunError::failed(
                code as i32,
                format!("{which}command exited with code {code} in container {container}"),
            ));
        }
    }
    Ok(())
}

/// Success for exit code 0, else the step's failure.
fn exited(code: i64, which: Option<(usize, usize)>) -> Result<(), RunError> {
    if code == 0 {
        return Ok(());
    }
    let which = which
        .map(|(i, n)| format!("command {i} of {n}: "))
        .unwrap_or_default();
    Err(RunError::failed(
        code as i32,
        format!("{which}container exited with code {code}"),
    ))
}

/// Runs one new container to its end: create, attach, start, stream its output, wait;
/// removes it afterwards unless it is to be kept. Returns its exit code.
async fn fresh(
    plugin: &Docker,
    request: &RunRequest,
    config: &Config,
    image: &str,
    cmd: Option<Vec<String>>,
    ctx: &RunContext,
) -> Result<i64, RunError> {
    let engine = &plugin.engine;
    let auto_remove = config.auto_remove.unwrap_or(true);
    let base = crate::base_dir(request);
    let spec = Spec {
        config,
        image,
        cmd,
        entrypoint: None,
        labels: plugin.me.labels(
            Kind::Step,
            &request.run_id,
            Some(&request.step_name),
            !auto_remove,
        ),
        base_dir: Path::new(&base),
        init: false,
    };
    let id = plugin.create_container(&spec, auto_remove).await?;
    let outcome = tokio::select! {
        result = attach_start_wait(plugin, &id, ctx) => result,
        _ = cancelled(ctx) => {
            create::stop(engine, &id, STOP_GRACE).await;
            Err(RunError::Cancelled)
        }
    };
    if auto_remove {
        if let Ok(client) = engine.client().await {
            owner::remove(client, &id).await;
        }
        plugin.untrack(&id);
    }
    outcome
}

/// Attaches to the created container, starts it, forwards its output line by line and
/// returns its exit code.
async fn attach_start_wait(plugin: &Docker, id: &str, ctx: &RunContext) -> Result<i64, RunError> {
    let engine = &plugin.engine;
    let client = engine.client().await?;
    let attached = client
        .attach_container(
            id,
            Some(AttachContainerOptions {
                stream: true,
                stdout: true,
                stderr: true,
                // Attached before the start, so nothing is missed; replaying the log as
                // well would repeat what the attach already delivered.
                logs: false,
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| engine.error("attaching to the container", e))?;
    create::start(engine, id).await?;
    let mut output = attached.output;
    let mut lines = Lines::default();
    while let Some(item) = output.next().await {
        let Ok(item) = item else { break };
        if let Some((stream, bytes)) = frame(&item) {
            for line in lines.push(stream, bytes) {
                emit(ctx, stream, &line);
            }
        }
    }
    for (stream, line) in lines.finish() {
        emit(ctx, stream, &line);
    }
    let mut wait = client.wait_container(
        id,
        Some(WaitContainerOptions {
            condition: "not-running".into(),
        }),
    );
    match wait.next().await {
        Some(Ok(answer)) => Ok(answer.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(engine.error("waiting for the container", e)),
        None => Err(RunError::failed(
            1,
            "the Docker engine ended the wait without an exit code",
        )),
    }
}
