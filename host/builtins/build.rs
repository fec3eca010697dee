//! Builds the built-in plugins (`plugins/<name>`) as WASM components for `wasm32-wasip2`
//! with a nested cargo (in its own target folder, so it never waits on the outer build's
//! lock) and precompiles each for this host with the runtime's engine configuration, so no
//! step ever waits for a compile. Both the component and its precompiled artifact are
//! embedded; the runtime compiles the component itself only if the artifact does not fit
//! the machine it runs on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

#[path = "src/engine_config.rs"]
mod engine_config;

/// The built-in plugins, by folder name under `plugins/`.
const BUILTINS: &[&str] = &["jq", "http", "archive", "template"];

/// Variables of the outer build that must not leak into the nested one: it builds for
/// another target, with plain rustc (not clippy or a wrapper), into its own folder.
const OUTER_BUILD_VARIABLES: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for watched in ["plugins", "plugin-sdk", "wit", "third_party", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-changed=src/engine_config.rs");

    let guest_target = guest_target_dir(&out_dir);
    build_guests(&root, &guest_target);

    let engine = wasmtime::Engine::new(&engine_config::engine_config(false))
        .expect("a wasmtime engine for precompiling");
    let mut table = String::from("&[\n");
    for name in BUILTINS {
        let crate_file = format!("dagu_plugin_{name}.wasm");
        let built = guest_target.join("wasm32-wasip2/release").join(&crate_file);
        let wasm = fs::read(&built)
            .unwrap_or_else(|e| panic!("reading the built component {}: {e}", built.display()));
        let compiled = engine
            .precompile_component(&wasm)
            .unwrap_or_else(|e| panic!("precompiling the built-in plugin {name}: {e:?}"));
        fs::write(out_dir.join(format!("{name}.wasm")), &wasm).unwrap();
        fs::write(out_dir.join(format!("{name}.cwasm")), &compiled).unwrap();
        let schema = root.join("plugins").join(name).join("config.schema.json");
        let schema = if schema.exists() {
            format!("Some(include_str!({:?}))", schema.display().to_string())
        } else {
            "None".to_string()
        };
        table.push_str(&format!(
            "    Builtin {{ name: {name:?}, component: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.wasm\")), \
             precompiled: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.cwasm\")), config_schema: {schema} }},\n"
        ));
    }
    table.push(']');
    fs::write(out_dir.join("builtins.rs"), table).unwrap();
}

/// `<target>/wasm-guests`, beside the outer build's profile folders
/// (`OUT_DIR` is `<target>/<profile>/build/<package>/out`).
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR is <target>/<profile>/build/<package>/out")
        .join("wasm-guests")
}

fn build_guests(root: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    for name in BUILTINS {
        command.args(["-p", &format!("dagu-plugin-{name}")]);
    }
    for variable in OUTER_BUILD_VARIABLES {
        command.env_remove(variable);
    }
    let output = command
        .output()
        .expect("running cargo for the built-in plugins");
    if !output.status.success() {
        panic!(
            "building the built-in plugins for wasm32-wasip2 failed (is the target installed? \
             `rustup target add wasm32-wasip2`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
