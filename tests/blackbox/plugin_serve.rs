//! Plugins served by `dagu plugin serve`: the Extism example (`examples/plugins/extism-echo`,
//! built for wasm32-unknown-unknown) and the C example (`examples/plugins/c-dylib`, built with
//! `cc`), installed into a sandbox `DAGU_HOME`, enabled and run from DAGs. The host starts
//! each as a re-exec of this `dagu` binary, inside the plugin sandbox.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::support::*;

const SUCCEEDED: i64 = 4;
const FAILED: i64 = 2;
/// A run whose failed steps all had `continueOn: failed` (exit code 1).
const PARTIALLY_SUCCEEDED: i64 = 6;

/// The repository's `target/`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// Runs a build command; asserts it succeeds.
fn build(mut command: Command) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .expect("start the build");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Extism example's module, built once per test process into
/// `target/extism-example` (later runs rebuild nothing).
fn extism_module() -> &'static Path {
    static MODULE: OnceLock<PathBuf> = OnceLock::new();
    MODULE.get_or_init(|| {
        let out = target_dir().join("extism-example");
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .arg("--manifest-path")
            .arg(example_dir("plugins/extism-echo/Cargo.toml"))
            .arg("--target-dir")
            .arg(&out);
        build(cargo);
        out.join("wasm32-unknown-unknown/release/extism_echo.wasm")
    })
}

/// A copy of the example folder `name` in the sandbox's work folder with `artifact` (the
/// built module or library) put where its `plugin.toml` names it; installed with
/// `dagu plugin install`.
fn install_example(sb: &Sandbox, name: &str, place_artifact: impl FnOnce(&Path)) {
    let dir = sb.work.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(example_dir(&format!("plugins/{name}"))).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    place_artifact(&dir);
    let run = sb.run(&["plugin", "install", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.explain());
}

fn install_extism_echo(sb: &Sandbox) {
    install_example(sb, "extism-echo", |dir| {
        std::fs::copy(extism_module(), dir.join("extism_echo.wasm")).unwrap();
    });
}

fn install_c_echo(sb: &Sandbox) {
    install_example(sb, "c-dylib", |dir| {
        let mut cc = Command::new("cc");
        cc.args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(dir.join("libc_echo.so"))
            .arg(dir.join("echo.c"));
        build(cc);
    });
}

fn config(sb: &Sandbox, plugins: &str) {
    sb.write_home("config.yaml", &format!("plugins:\n{plugins}"));
}

/// Runs the DAG `yaml` as `d.yaml`; returns the run and its status JSON.
fn run_dag(sb: &Sandbox, yaml: &str) -> (Run, serde_json::Value) {
    sb.write("d.yaml", yaml);
    let run = sb.run(&["start", "d.yaml", "--", "WHO=plugins"]);
    (run, sb.status_json("d"))
}

fn error_of(st: &serde_json::Value, step: &str) -> String {
    node(st, step)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The text of a step's stdout or stderr log.
fn log_of(st: &serde_json::Value, step: &str, stream: &str) -> String {
    std::fs::read_to_string(node(st, step)[stream].as_str().unwrap()).unwrap_or_default()
}

#[test]
fn an_extism_plugin_logs_and_returns_its_output_in_a_dag() {
    let sb = Sandbox::new();
    install_extism_echo(&sb);
    config(&sb, "  enabled: [extism-echo]\n");
    let (run, st) = run_dag(
        &sb,
        "steps:\n  - name: say\n    type: extism-echo\n    config:\n      message: \"hello \
         ${WHO}\"\n    output: GREETING\n  - name: after\n    command: echo \"got ${GREETING} \
         and ${MESSAGE}\"\n",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "say"), SUCCEEDED, "{st:#}");
    assert_eq!(log_of(&st, "say", "stdout"), "hello plugins\n");
    assert_eq!(
        node(&st, "say")["outputVariables"]["MESSAGE"],
        "MESSAGE=hello plugins"
    );
    assert!(
        run.stdout.contains("got hello plugins and hello plugins"),
        "{}",
        run.explain()
    );

    // The config schema plugin.toml names is checked at load, without starting anything.
    sb.write(
        "bad.yaml",
        "steps:\n  - name: s\n    type: extism-echo\n    config:\n      message: 5\n",
    );
    let run = sb.run(&["validate", "bad.yaml"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("invalid config for step type 'extism-echo'"),
        "{}",
        run.explain()
    );
}

#[test]
fn an_extism_plugin_reads_granted_files_and_nothing_outside_them() {
    let sb = Sandbox::new();
    install_extism_echo(&sb);
    let granted = sb.write("granted/in.txt", "granted text");
    let secret = sb.write("secret.txt", "secret text");
    let granted_dir = granted.parent().unwrap().display().to_string();
    config(
        &sb,
        &format!(
            "  enabled: [extism-echo]\n  grants:\n    extism-echo:\n      fs_read: \
             [{granted_dir}]\n"
        ),
    );
    let step = |name: &str, path: String| {
        format!(
            "  - name: {name}\n    depends: []\n    type: extism-echo\n    config:\n      \
             message: {name}\n      read: {path}\n"
        )
    };
    let yaml = format!(
        "steps:\n{}{}{}  - name: independent\n    depends: []\n    command: echo still here\n",
        step("inside", granted.display().to_string()),
        step("escape", format!("{granted_dir}/../secret.txt")),
        step("outside", secret.display().to_string()),
    );
    let (run, st) = run_dag(&sb, &yaml);
    assert_eq!(run.code, 1, "{}", run.explain());

    assert_eq!(state(&st, "inside"), SUCCEEDED, "{st:#}");
    assert_eq!(
        node(&st, "inside")["outputVariables"]["CONTENT"],
        "CONTENT=granted text"
    );
    // A path that climbs out of the granted folder: WASI refuses to open it.
    assert_eq!(state(&st, "escape"), FAILED, "{st:#}");
    let error = error_of(&st, "escape");
    assert!(error.contains("cannot open"), "{error}");
    // A path in no granted folder: nothing is open to reach it through.
    assert_eq!(state(&st, "outside"), FAILED, "{st:#}");
    let error = error_of(&st, "outside");
    assert!(
        error.contains("is not in a folder granted to this plugin"),
        "{error}"
    );
    for name in ["inside", "escape", "outside"] {
        for stream in ["stdout", "stderr"] {
            assert!(!log_of(&st, name, stream).contains("secret text"));
        }
    }
    assert_eq!(state(&st, "independent"), SUCCEEDED, "{st:#}");
}

#[test]
fn an_extism_module_past_its_memory_limit_fails_its_step() {
    let sb = Sandbox::new();
    install_extism_echo(&sb);
    // Read into the module's memory, 70 MiB do not fit its 64 MiB.
    let big = sb.work.join("granted/big.txt");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    std::fs::write(&big, vec![b'a'; 70 << 20]).unwrap();
    let granted_dir = big.parent().unwrap().display().to_string();
    config(
        &sb,
        &format!(
            "  enabled: [extism-echo]\n  grants:\n    extism-echo:\n      fs_read: \
             [{granted_dir}]\n"
        ),
    );
    let (run, st) = run_dag(
        &sb,
        &format!(
            "steps:\n  - name: big\n    type: extism-echo\n    config:\n      message: big\n      \
             read: {}\n  - name: independent\n    depends: []\n    command: echo still here\n",
            big.display()
        ),
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(state(&st, "big"), FAILED, "{st:#}");
    let error = error_of(&st, "big");
    assert!(
        error.contains("the module ran out of memory (it may use 64 MiB)"),
        "{error}"
    );
    assert_eq!(state(&st, "independent"), SUCCEEDED, "{st:#}");
}

#[test]
fn a_spinning_extism_module_is_interrupted_at_its_timeout_and_only_it() {
    let sb = Sandbox::new();
    install_extism_echo(&sb);
    config(&sb, "  enabled: [extism-echo]\n");
    // `beside` computes from its start (well within 2 s, even while the second compiled
    // copy of the module is made) for 4 s, so it is running when `spin` is interrupted.
    let (run, st) = run_dag(
        &sb,
        "steps:\n  - name: spin\n    type: extism-echo\n    timeoutSec: 2\n    \
         continueOn: failed\n    config:\n      message: spinning\n      mode: spin\n  \
         - name: beside\n    depends: []\n    type: extism-echo\n    config:\n      \
         message: beside\n      busy_ms: 4000\n  - name: after\n    depends: [spin]\n    \
         type: extism-echo\n    config:\n      message: after\n",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(st["status"], PARTIALLY_SUCCEEDED, "{st:#}");
    assert_eq!(state(&st, "spin"), FAILED, "{st:#}");
    let error = error_of(&st, "spin");
    assert!(error.contains("timed out"), "{error}");
    // Interrupted, not killed with its process after the cleanup grace.
    assert!(!error.contains("was killed"), "{error}");
    assert_eq!(log_of(&st, "spin", "stdout"), "spinning\n");
    // The run computing beside it and the one after it in the same process are untouched.
    assert_eq!(state(&st, "beside"), SUCCEEDED, "{st:#}");
    assert_eq!(log_of(&st, "beside", "stdout"), "beside\n");
    assert_eq!(state(&st, "after"), SUCCEEDED, "{st:#}");
    assert_eq!(log_of(&st, "after", "stdout"), "after\n");
}

const C_ECHO_DAG: &str = "steps:\n  - name: say\n    type: c-echo\n    config:\n      \
                          message: \"hello ${WHO}\"\n  - name: independent\n    depends: []\n    \
                          command: echo still here\n";

#[test]
fn a_native_library_is_refused_until_the_deployment_trusts_it() {
    let sb = Sandbox::new();
    install_c_echo(&sb);
    config(&sb, "  enabled: [c-echo]\n");
    let (run, st) = run_dag(&sb, C_ECHO_DAG);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(state(&st, "say"), FAILED, "{st:#}");
    let error = error_of(&st, "say");
    assert!(
        error.contains("plugin 'c-echo' is a native library (kind dylib)")
            && error.contains("add it to plugins.trusted in config.yaml"),
        "{error}"
    );
    assert_eq!(state(&st, "independent"), SUCCEEDED, "{st:#}");

    config(&sb, "  enabled: [c-echo]\n  trusted: [c-echo]\n");
    let (run, st) = run_dag(&sb, C_ECHO_DAG);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "say"), SUCCEEDED, "{st:#}");
    assert_eq!(log_of(&st, "say", "stdout"), "hello plugins\n");
    assert_eq!(
        node(&st, "say")["outputVariables"]["MESSAGE"],
        "MESSAGE=hello plugins"
    );
}

#[test]
fn a_native_library_that_aborts_fails_its_step_not_the_host() {
    let sb = Sandbox::new();
    install_c_echo(&sb);
    config(&sb, "  enabled: [c-echo]\n  trusted: [c-echo]\n");
    let (run, st) = run_dag(
        &sb,
        "steps:\n  - name: crash\n    type: c-echo\n    continueOn: failed\n    config:\n      \
         message: going down\n      mode: crash\n  - name: again\n    depends: [crash]\n    \
         type: c-echo\n    config:\n      message: back again\n  - name: independent\n    \
         depends: []\n    command: echo still here\n",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(st["status"], PARTIALLY_SUCCEEDED, "{st:#}");
    assert_eq!(state(&st, "crash"), FAILED, "{st:#}");
    let error = error_of(&st, "crash");
    assert!(error.contains("exited unexpectedly"), "{error}");
    assert!(error.contains("SIGABRT"), "{error}");
    assert_eq!(log_of(&st, "crash", "stderr"), "crashing on purpose\n");
    // The host started the library's process again for the next step.
    assert_eq!(state(&st, "again"), SUCCEEDED, "{st:#}");
    assert_eq!(log_of(&st, "again", "stdout"), "back again\n");
    assert_eq!(state(&st, "independent"), SUCCEEDED, "{st:#}");
}

#[test]
fn a_native_library_sees_the_cancel_of_a_timed_out_step() {
    let sb = Sandbox::new();
    install_c_echo(&sb);
    config(&sb, "  enabled: [c-echo]\n  trusted: [c-echo]\n");
    let (run, st) = run_dag(
        &sb,
        "steps:\n  - name: wait\n    type: c-echo\n    timeoutSec: 1\n    config:\n      \
         message: waiting\n      mode: wait\n",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(state(&st, "wait"), FAILED, "{st:#}");
    let error = error_of(&st, "wait");
    assert!(error.contains("timed out"), "{error}");
    // It answered the cancel itself: the host did not have to kill it.
    assert!(!error.contains("was killed"), "{error}");
    assert_eq!(log_of(&st, "wait", "stdout"), "waiting\n");
}
