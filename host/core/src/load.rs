//! Loading DAG files: documents, base configuration, schema check, build, finishing touches.

use std::path::{Path, PathBuf};

use crate::build::dag;
use crate::custom_types::{self, CustomTypes};
use crate::error::{Errors, LoadError, LoadErrors};
use crate::model::Dag;
use crate::schema;
use crate::yaml::{self, Pos};

/// The default dotenv file, always tried first unless dotenv is disabled with `[]`.
pub const DEFAULT_DOTENV: &str = ".env";

/// Marker the builder leaves in `Dag::dotenv` for `dotenv: []`; removed by [`finish`].
pub(crate) const DOTENV_DISABLED: &str = "";

/// Every DAG of one file: the main DAG first, then the local sub-DAGs.
#[derive(Clone, Debug)]
pub struct DagFile {
    pub path: PathBuf,
    pub dags: Vec<Dag>,
}

impl DagFile {
    /// The main DAG (document 0).
    pub fn main(&self) -> &Dag {
        &self.dags[0]
    }

    /// A local sub-DAG by name.
    pub fn local(&self, name: &str) -> Option<&Dag> {
        self.dags.iter().skip(1).find(|d| d.name == name)
    }
}

/// How to load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `base.yaml` to merge under every document (ignored when the file does not exist).
    pub base_config: Option<PathBuf>,
    /// `--name` override for the main DAG.
    pub name: Option<String>,
    /// Config schemas of plugin step types, checked at load.
    pub step_types: Option<std::sync::Arc<crate::StepTypes>>,
}

/// Loads a DAG file from disk.
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<DagFile, LoadErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| single(path, format!("failed to open file: {e}")))?;
    load_str(&source, path, options)
}

/// Loads DAG text as if it came from `path`.
pub fn load_str(source: &str, path: &Path, options: &LoadOptions) -> Result<DagFile, LoadErrors> {
    let plugins = options.step_types.as_deref();
    let base = match &options.base_config {
        Some(base_path) if base_path.is_file() => Some(load_base(base_path, plugins)?),
        _ => None,
    };
    let documents = yaml::parse_documents(source).map_err(|e| syntax_error(path, source, e))?;
    let mut errors = Errors::new(path);
    let mut dags: Vec<Dag> = Vec::new();
    for doc in documents.iter().flatten() {
        if !schema::check(doc, &mut errors) {
            continue;
        }
        let position = dags.len();
        let custom = custom_types::read(
            doc,
            base.as_ref().map(|b| &b.step_types),
            plugins,
            &mut errors,
        );
        let mut dag = dag::build(
            doc,
            path,
            position,
            base.as_ref().map(|b| &b.dag),
            plugins,
            Some(&custom),
            &mut errors,
        );
        finish(&mut dag);
        if let Some(first) = dags
            .iter()
            .find(|d| d.name == dag.name)
            .filter(|_| position > 0)
        {
            errors.push(
                doc.pos,
                "name",
                format!("duplicate DAG name \"{}\" found", first.name),
            );
        }
        dags.push(dag);
    }
    if documents.iter().all(Option::is_none) {
        errors.push(
            Pos::default(),
            "",
            format!("no DAGs found in file \"{}\"", path.display()),
        );
    }
    if let (Some(name), Some(main)) = (&options.name, dags.first_mut()) {
        main.name = name.clone();
    }
    errors.finish(DagFile {
        path: path.to_path_buf(),
        dags,
    })
}

/// What `base.yaml` gives every document.
#[derive(Default)]
struct Base {
    dag: Dag,
    step_types: CustomTypes,
}

fn load_base(path: &Path, plugins: Option<&crate::StepTypes>) -> Result<Base, LoadErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| single(path, format!("failed to read base config: {e}")))?;
    let documents = yaml::parse_documents(&source).map_err(|e| syntax_error(path, &source, e))?;
    let mut errors = Errors::new(path);
    let base = match documents.into_iter().flatten().next() {
        Some(doc) if schema::check(&doc, &mut errors) => {
            let step_types = custom_types::read(&doc, None, plugins, &mut errors);
            let dag = dag::build(&doc, path, 0, None, plugins, Some(&step_types), &mut errors);
            Base { dag, step_types }
        }
        _ => Base::default(),
    };
    errors.finish(base)
}

/// Defaults that depend on the whole merged document.
fn finish(dag: &mut Dag) {
    let disabled = dag.dotenv.iter().rposition(|f| f == DOTENV_DISABLED);
    let mut files: Vec<String> = match disabled {
        Some(i) => dag.dotenv[i + 1..].to_vec(),
        None => std::iter::once(DEFAULT_DOTENV.to_string())
            .chain(dag.dotenv.iter().cloned())
            .collect(),
    };
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    dag.dotenv = files;
    if dag.max_output_size == 0 {
        dag.max_output_size = crate::model::DEFAULT_MAX_OUTPUT_SIZE;
    }
    if dag.max_clean_up_time.is_zero() {
        dag.max_clean_up_time = crate::model::DEFAULT_MAX_CLEAN_UP_TIME;
    }
}

fn single(path: &Path, message: String) -> LoadErrors {
    LoadErrors(vec![LoadError {
        file: path.to_path_buf(),
        pos: Pos::default(),
        field: String::new(),
        message,
    }])
}

/// A YAML syntax error with the offending line quoted.
fn syntax_error(path: &Path, source: &str, e: yaml::SyntaxError) -> LoadErrors {
    let excerpt = source
        .lines()
        .nth(e.pos.line.saturating_sub(1) as usize)
        .map(|l| format!("\n    {} | {}", e.pos.line, l))
        .unwrap_or_default();
    LoadErrors(vec![LoadError {
        file: path.to_path_buf(),
        pos: e.pos,
        field: String::new(),
        message: format!("invalid YAML: {}{excerpt}", e.message),
    }])
}
