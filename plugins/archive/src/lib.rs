//! The `archive` step type: `create`, `extract` or `list` (the step's `command`) tar,
//! tar.gz and zip archives. stdout is one JSON summary of what was done.
//!
//! Paths in the config are relative to the step's working directory. Extraction never
//! writes outside its destination: entries with absolute paths or `..` that climbs out,
//! symlinks pointing out, and writes through symlinks are refused.

mod config;
mod create;
mod entry;
mod extract;
mod filter;
mod format;
mod glob;
mod list;
mod manifest;
mod paths;
mod platform;
mod progress;
mod read;
mod time;
mod verify;
mod write;

use dagu_plugin_sdk::{Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};

use crate::config::Config;
use crate::progress::Progress;

/// The `archive` plugin.
#[derive(Default)]
pub struct Archive;

impl Plugin for Archive {
    fn describe(&self) -> Manifest {
        manifest::manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        let operation = request.command.join(" ");
        let operation = operation.trim();
        let config = Config::from_json(request.config)?;
        if config.password.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(RunError::failed(
                1,
                "password-protected archives are not supported",
            ));
        }
        let work_dir = request.work_dir.as_deref();
        let mut progress = Progress::new(ctx, &config);
        let fields = match operation {
            "create" => create::create(&config, work_dir, &mut progress)?,
            "extract" => extract::extract(&config, work_dir, &mut progress)?,
            "list" => list::list(&config, work_dir, &mut progress)?,
            "" => {
                return Err(RunError::failed(
                    1,
                    "the archive step needs a command: create, extract or list",
                ));
            }
            other => {
                return Err(RunError::failed(
                    1,
                    format!("unsupported archive operation: {other}"),
                ));
            }
        };
        let summary = progress.summary(operation, fields);
        let text = serde_json::to_string_pretty(&summary)
            .map_err(|e| RunError::internal(format!("cannot encode the summary: {e}")))?;
        ctx.stdout(&text);
        Ok(RunResponse::default())
    }
}

dagu_plugin_sdk::export_plugin!(Archive);

#[cfg(all(test, unix))]
mod tests;
