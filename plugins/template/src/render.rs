//! Parsing and executing a template.

use dagu_plugin_sdk::RunError;
use gtmpl::error::{ExecError, TemplateError};
use gtmpl::{Context, Template};

use crate::{data, helpers};

/// Renders template `source` with `data` as `.`.
pub(crate) fn render(source: &str, data: &serde_json::Value) -> Result<String, RunError> {
    let mut template = Template::default();
    template.add_funcs(helpers::HELPERS);
    template
        .parse(source)
        .map_err(|e| RunError::failed(1, format!("the template does not parse: {e}")))?;
    template
        .render(&Context::from(data::to_template(data)))
        .map_err(|e| RunError::failed(1, format!("rendering the template failed: {}", message(e))))
}

/// The text of an execution error; a missing key is named without dumping its map.
fn message(error: ExecError) -> String {
    match error {
        ExecError::NoFiledFor(key, _) => format!("map has no entry for key \"{key}\""),
        other => TemplateError::from(other).to_string(),
    }
}
