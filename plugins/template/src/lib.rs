//! The `template` step type: renders the step's `script`, a Go `text/template`, with
//! `config.data` as `.`, to `config.output` (a file, written atomically) or to stdout.
//!
//! Rendering runs on [gtmpl](https://docs.rs/gtmpl), which has Go's builtins except
//! `html`, `js` and `slice`; [`helpers`] adds those and `json`, `upper`, `lower`, `trim`
//! and `join`. A missing map key is an error, as with Go's `missingkey=error`.

mod config;
mod data;
mod helpers;
mod manifest;
mod output;
mod render;

use dagu_plugin_sdk::{Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};

/// The `template` plugin.
#[derive(Default)]
pub struct Template;

impl Plugin for Template {
    fn describe(&self) -> Manifest {
        manifest::manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        let config = config::Config::from_json(request.config)?;
        let source = request
            .script
            .ok_or_else(|| RunError::failed(1, "the template step needs a script"))?;
        let text = render::render(&source, &config.data)?;
        match &config.output {
            Some(path) => output::write(request.work_dir.as_deref(), path, &text)?,
            None => output::print(&text, ctx),
        }
        Ok(RunResponse::default())
    }
}

dagu_plugin_sdk::export_plugin!(Template);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
