//! Turning checked YAML nodes into the typed model.

pub mod dag;
pub mod inherit;
pub mod policy;
pub mod step;
pub mod values;
