//! Embeds a compact copy of `schemas/dag.schema.json`: the annotations editors show
//! (descriptions, titles) are dropped, which makes the schema faster to compile at every
//! `dagu` start. The file in `schemas/` stays the single source.

use std::path::Path;

fn strip_annotations(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            // Only annotation keywords hold strings; a property *named* "description" holds a schema.
            map.retain(|k, v| {
                !(matches!(k.as_str(), "description" | "title" | "$comment") && v.is_string())
            });
            map.values_mut().for_each(strip_annotations);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_annotations),
        _ => {}
    }
}

fn main() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/dag.schema.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source).expect("read schemas/dag.schema.json");
    let mut schema: serde_json::Value =
        serde_json::from_str(&text).expect("schemas/dag.schema.json is JSON");
    strip_annotations(&mut schema);
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("dag.schema.compact.json");
    std::fs::write(out, schema.to_string()).expect("write compact schema");
}
