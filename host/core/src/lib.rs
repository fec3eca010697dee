//! The Dagu DAG model and its loader.
//!
//! `load_file` reads a YAML file (several documents allowed), merges `base.yaml`, checks
//! each document against `schemas/dag.schema.json`, expands custom step types, builds the
//! typed [`model::Dag`]s and checks the step graph. Every problem is reported with file,
//! line, column and field.

pub mod build;
pub mod custom_types;
pub mod error;
pub mod fields;
pub mod graph;
pub mod load;
pub mod model;
pub mod schedule;
pub mod schema;
pub mod step_types;
pub mod yaml;

pub use custom_types::CustomTypes;
pub use error::{LoadError, LoadErrors};
pub use load::{DagFile, LoadOptions, load_file, load_str};
pub use model::*;
pub use step_types::StepTypes;
