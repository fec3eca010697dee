//! [`ProcPlugin`] as a [`StepExecutor`]: the step's config expanded and checked against the
//! plugin's schema, a [`RunRequest`] built from the [`StepInput`], log lines written to the
//! step's log files as they arrive, and the end mapped to a [`StepOutput`].

use dagu_engine::executor::BoxFuture;
use dagu_engine::{Executors, StepExecutor, StepInput, StepOutput};

use crate::proc::connection::StartError;
use crate::proc::supervisor::{ProcPlugin, RunControl};
use crate::step_io::{StepLogs, build_request, check_config, step_output};

impl StepExecutor for ProcPlugin {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(run_step(self, input))
    }

    fn end_run<'a>(&'a self, run_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(ProcPlugin::end_run(self, run_id))
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(ProcPlugin::shutdown(self))
    }
}

impl ProcPlugin {
    /// Starts the plugin, reads its manifest and registers `plugin` for each of its step
    /// types; returns the step types.
    pub async fn register_all(
        plugin: &std::sync::Arc<ProcPlugin>,
        executors: &mut Executors,
    ) -> Result<Vec<String>, StartError> {
        let manifest = plugin.manifest().await?;
        let names: Vec<String> = manifest.step_types.iter().map(|t| t.name.clone()).collect();
        for name in &names {
            executors.register(name, plugin.clone());
        }
        Ok(names)
    }
}

async fn run_step(plugin: &ProcPlugin, input: &StepInput) -> StepOutput {
    let mut logs = match StepLogs::create(&input.stdout_log, &input.stderr_log) {
        Ok(l) => l,
        Err(e) => return StepOutput::failed(1, format!("failed to open log files: {e}")),
    };
    let request = match build_request(input) {
        Ok(r) => r,
        Err(e) => return StepOutput::failed(1, e),
    };
    // First use starts the process; its manifest has the schema to check the config with.
    let manifest = tokio::select! {
        m = plugin.manifest() => m,
        _ = input.stop.cancelled() => return StepOutput::stopped(),
    };
    let checked = match manifest {
        Ok(m) => check_config(plugin.config_validators(), &m, &request),
        Err(e) => Err(format!("plugin error: {e}")),
    };
    if let Err(e) = checked {
        return StepOutput::failed(1, e);
    }
    let control = RunControl {
        stop: &input.stop,
        timeout: input.timeout,
        grace: input.stop_policy.grace,
    };
    let end = plugin
        .run(request, control, &mut |stream, line| {
            logs.write(stream, line)
        })
        .await;
    step_output(plugin.name(), input, end)
}
