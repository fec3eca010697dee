//! `dagu validate`: every problem of a DAG file at once.

use anyhow::Result;

use super::Ctx;
use crate::paths;

/// Loads the file (without running anything) and reports all errors; exit 1 when any.
pub fn validate(ctx: &Ctx, dag: &str) -> Result<u8> {
    let path = paths::resolve_dag(dag, &ctx.paths.dags);
    match dagu_core::load_file(&path, &ctx.load_options(None)) {
        Ok(file) => {
            if !ctx.quiet {
                eprintln!(
                    "DAG spec is valid file={} name={}",
                    path.display(),
                    file.main().name
                );
            }
            Ok(0)
        }
        Err(errors) => {
            eprintln!("Error: Validation failed for {}", path.display());
            for e in &errors.0 {
                eprintln!("- {e}");
            }
            Ok(1)
        }
    }
}
