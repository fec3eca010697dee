//! Plugin packages end to end: the Python example installed into a sandbox `DAGU_HOME`,
//! enabled in `config.yaml`, run from a DAG, listed, inspected, locked and verified; locked
//! mode refusing an altered, an unpinned and an unsigned plugin with a message that says
//! what to do, while the rest of the DAG carries on.

use crate::support::*;

const SUCCEEDED: i64 = 4;
const FAILED: i64 = 2;

/// A DAG with one `echo` step whose output a command step uses, and an independent
/// command step that must run whatever happens to the plugin.
const DAG: &str = r#"steps:
  - name: say
    type: echo
    config:
      message: "hello ${WHO}"
    output: GREETING
  - name: after
    depends: [say]
    command: echo "got ${GREETING}"
  - name: independent
    depends: []
    command: echo "still here"
"#;

/// `dagu plugin install` of the Python example; asserts it worked.
fn install_echo(sb: &Sandbox) -> std::path::PathBuf {
    let src = example_dir("plugins/python-echo");
    let run = sb.run(&["plugin", "install", src.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stdout.contains("installed python-echo 0.1.0"),
        "{}",
        run.explain()
    );
    let dir = sb.home.join("plugins/python-echo");
    assert!(dir.join("plugin.py").is_file());
    dir
}

fn config(sb: &Sandbox, plugins: &str) {
    sb.write_home("config.yaml", &format!("plugins:\n{plugins}"));
}

/// Runs the DAG above; returns the run and its status JSON.
fn run_dag(sb: &Sandbox) -> (Run, serde_json::Value) {
    sb.write("d.yaml", DAG);
    let run = sb.run(&["start", "d.yaml", "--", "WHO=plugins"]);
    (run, sb.status_json("d"))
}

fn node_error(st: &serde_json::Value, name: &str) -> String {
    node(st, name)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The DAG's plugin step failed with `needle` in its error, and the independent step ran.
fn assert_refused(sb: &Sandbox, needle: &str) {
    let (run, st) = run_dag(sb);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(state(&st, "say"), FAILED, "{st:#}");
    let error = node_error(&st, "say");
    assert!(error.contains(needle), "{error}");
    assert!(error.contains("dagu plugin lock"), "{error}");
    assert_eq!(state(&st, "independent"), SUCCEEDED, "{st:#}");
    assert!(run.stdout.contains("still here"), "{}", run.explain());
}

#[test]
fn an_enabled_plugin_serves_type_and_executor_steps() {
    let sb = Sandbox::new();
    install_echo(&sb);
    config(&sb, "  enabled: [python-echo]\n");
    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "say"), SUCCEEDED);
    let out = std::fs::read_to_string(node(&st, "say")["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(out, "hello plugins\n");
    assert!(
        run.stdout.contains("got hello plugins"),
        "{}",
        run.explain()
    );

    sb.write(
        "e.yaml",
        "steps:\n  - name: a\n    executor:\n      type: echo\n      config:\n        \
         message: via executor\n",
    );
    let run = sb.run(&["start", "e.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("via executor"), "{}", run.explain());
}

#[test]
fn an_installed_plugin_that_is_not_enabled_is_not_loaded() {
    let sb = Sandbox::new();
    install_echo(&sb);
    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        node_error(&st, "say").contains("executor type \"echo\" is not registered"),
        "{st:#}"
    );
    assert_eq!(state(&st, "independent"), SUCCEEDED);
}

#[test]
fn list_and_inspect_show_the_package_and_its_capabilities() {
    let sb = Sandbox::new();
    let dir = install_echo(&sb);
    // Ask for more than the deployment grants: the effective set is the intersection.
    let toml = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        toml.replace(
            "[capabilities]",
            "[capabilities]\nenv = [\"HOME\", \"API_TOKEN\"]\nexec = true",
        ),
    )
    .unwrap();
    config(
        &sb,
        "  enabled: [python-echo]\n  grants:\n    python-echo:\n      env: [HOME, PATH]\n",
    );

    let run = sb.run(&["plugin", "list"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("python-echo"))
        .unwrap_or_else(|| panic!("{}", run.explain()));
    let cells: Vec<&str> = row
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        [
            "python-echo",
            "0.1.0",
            "subprocess",
            "yes",
            "not pinned",
            "echo"
        ],
        "{row}"
    );

    let run = sb.run(&["plugin", "inspect", "--json", "python-echo"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["kind"], "subprocess");
    assert_eq!(v["step_types"], serde_json::json!(["echo"]));
    let caps = &v["capabilities"];
    assert_eq!(
        caps["requested"]["env"],
        serde_json::json!(["HOME", "API_TOKEN"])
    );
    assert_eq!(caps["granted"]["env"], serde_json::json!(["HOME", "PATH"]));
    assert_eq!(caps["effective"]["env"], serde_json::json!(["HOME"]));
    assert_eq!(caps["effective"]["exec"], false);

    let run = sb.run(&["plugin", "inspect", "python-echo"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stdout
            .contains("env         HOME, API_TOKEN | HOME, PATH | HOME"),
        "{}",
        run.explain()
    );

    let run = sb.run(&["plugin", "inspect", "nope"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("plugin 'nope' is not installed"),
        "{}",
        run.explain()
    );
}

#[test]
fn lock_then_verify_passes_and_a_locked_deployment_runs_the_plugin() {
    let sb = Sandbox::new();
    install_echo(&sb);
    config(&sb, "  enabled: [python-echo]\n  locked: true\n");
    let run = sb.run(&["plugin", "lock"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let lock = std::fs::read_to_string(sb.home.join("plugins.lock")).unwrap();
    assert!(lock.contains("name = \"python-echo\""), "{lock}");
    assert!(lock.contains("version = \"0.1.0\""), "{lock}");
    let sha = sha256_hex(&std::fs::read(sb.home.join("plugins/python-echo/plugin.py")).unwrap());
    assert!(lock.contains(&format!("sha256 = \"{sha}\"")), "{lock}");

    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stdout.contains("ok: python-echo 0.1.0"),
        "{}",
        run.explain()
    );

    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "say"), SUCCEEDED);
}

#[test]
fn locked_mode_refuses_a_plugin_altered_by_one_byte() {
    let sb = Sandbox::new();
    let dir = install_echo(&sb);
    config(&sb, "  enabled: [python-echo]\n  locked: true\n");
    assert_eq!(sb.run(&["plugin", "lock"]).code, 0);
    // Change one byte of the artifact (in its docstring: it would still run unlocked).
    let path = dir.join("plugin.py");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == b"an example")
        .expect("a byte to change");
    bytes[at] = b'A';
    std::fs::write(&path, &bytes).unwrap();

    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("plugin 'python-echo' changed since it was locked"),
        "{}",
        run.explain()
    );
    assert!(
        run.stderr.contains("run `dagu plugin lock` again"),
        "{}",
        run.explain()
    );
    assert_refused(&sb, "changed since it was locked");

    let run = sb.run(&["plugin", "list"]);
    assert!(run.stdout.contains("refused"), "{}", run.explain());
    assert!(run.stdout.contains("changed"), "{}", run.explain());
}

#[test]
fn locked_mode_refuses_an_unpinned_plugin() {
    let sb = Sandbox::new();
    install_echo(&sb);
    // A lock written before the plugin was enabled pins nothing.
    config(&sb, "  enabled: []\n  locked: true\n");
    assert_eq!(sb.run(&["plugin", "lock"]).code, 0);
    config(&sb, "  enabled: [python-echo]\n  locked: true\n");

    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("plugin 'python-echo' is not pinned: run `dagu plugin lock`"),
        "{}",
        run.explain()
    );
    assert_refused(&sb, "is not pinned");
}

#[test]
fn required_signatures_refuse_an_unsigned_plugin_and_accept_a_signed_one() {
    let sb = Sandbox::new();
    let dir = install_echo(&sb);
    let keys = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let public = keys.pk.to_base64();
    config(
        &sb,
        &format!(
            "  enabled: [python-echo]\n  locked: true\n  require_signatures: true\n  \
             trusted_keys: [{public}]\n"
        ),
    );
    let run = sb.run(&["plugin", "lock"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stderr.contains("pinned unsigned"), "{}", run.explain());

    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("is not signed and config.yaml requires signatures"),
        "{}",
        run.explain()
    );
    assert!(run.stderr.contains("minisign -Sm"), "{}", run.explain());
    assert_refused(&sb, "is not signed");

    // Signed by the trusted key (what `minisign -Sm plugin.py` writes), locked again: runs.
    let artifact = std::fs::read(dir.join("plugin.py")).unwrap();
    let signature = minisign::sign(Some(&keys.pk), &keys.sk, &artifact[..], None, None)
        .unwrap()
        .into_string();
    std::fs::write(dir.join("plugin.py.minisig"), signature).unwrap();
    let run = sb.run(&["plugin", "lock"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run.stdout.contains("(signed)"), "{}", run.explain());
    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "say"), SUCCEEDED);

    // A signature by a key that is not trusted is refused.
    let stranger = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    config(
        &sb,
        &format!(
            "  enabled: [python-echo]\n  locked: true\n  require_signatures: true\n  \
             trusted_keys: [{}]\n",
            stranger.pk.to_base64()
        ),
    );
    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("has no valid signature by a trusted key"),
        "{}",
        run.explain()
    );
}

#[test]
fn a_plugin_that_describes_itself_otherwise_than_its_package_is_refused() {
    let sb = Sandbox::new();
    let dir = install_echo(&sb);
    let toml = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        toml.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    config(&sb, "  enabled: [python-echo]\n");
    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 1, "{}", run.explain());
    let error = node_error(&st, "say");
    assert!(
        error.contains(
            "describes itself as 'python-echo' version 0.1.0 but plugin.toml says \
             'python-echo' version 0.2.0"
        ),
        "{error}"
    );
    assert_eq!(state(&st, "independent"), SUCCEEDED);
}

#[test]
fn two_plugins_claiming_one_step_type_conflict_until_the_config_picks_one() {
    let sb = Sandbox::new();
    let dir = install_echo(&sb);
    // A second package of the same program under another name (installed by hand).
    let twin = sb.home.join("plugins/echo-twin");
    std::fs::create_dir_all(&twin).unwrap();
    for file in ["plugin.py", "echo.schema.json"] {
        std::fs::copy(dir.join(file), twin.join(file)).unwrap();
    }
    let toml = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    std::fs::write(
        twin.join("plugin.toml"),
        toml.replace("name = \"python-echo\"", "name = \"echo-twin\""),
    )
    .unwrap();
    config(&sb, "  enabled: [python-echo, echo-twin]\n");

    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    let conflict = "step type 'echo' is claimed by plugins 'echo-twin' and 'python-echo'";
    assert!(run.stderr.contains(conflict), "{}", run.explain());
    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 1, "{}", run.explain());
    let error = node_error(&st, "say");
    assert!(error.contains(conflict), "{error}");
    assert!(error.contains("plugins.step_types"), "{error}");

    config(
        &sb,
        "  enabled: [python-echo, echo-twin]\n  step_types:\n    echo: python-echo\n",
    );
    let (run, st) = run_dag(&sb);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(state(&st, "say"), SUCCEEDED);
}

#[test]
fn install_checks_the_package_and_does_not_overwrite_by_accident() {
    let sb = Sandbox::new();
    install_echo(&sb);
    let src = example_dir("plugins/python-echo");
    let run = sb.run(&["plugin", "install", src.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(run.stderr.contains("--force"), "{}", run.explain());
    let run = sb.run(&["plugin", "install", "--force", src.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.explain());

    let bad = sb.write(
        "bad/plugin.toml",
        "name = \"bad\"\nversion = \"1\"\nkind = \"jar\"\nstep_types = [\"x\"]\n\
         [entry]\nprogram = \"run\"\n",
    );
    let run = sb.run(&["plugin", "install", bad.parent().unwrap().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("bad/plugin.toml:3:8: kind: unknown kind 'jar'"),
        "{}",
        run.explain()
    );
    assert!(!sb.home.join("plugins/bad").exists());
}

#[test]
fn a_broken_plugins_section_is_reported_by_the_plugin_commands() {
    let sb = Sandbox::new();
    config(&sb, "  enabled: [a]\n  locked: maybe\n");
    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("config.yaml:3:11: plugins.locked: expected true or false"),
        "{}",
        run.explain()
    );
    // A DAG without plugin steps still runs, with a warning.
    sb.write("ok.yaml", "steps:\n  - name: a\n    command: echo fine\n");
    let run = sb.run(&["start", "ok.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stderr.contains("warning: plugins: no plugins loaded"),
        "{}",
        run.explain()
    );
}

/// Lowercase hex SHA-256, computed here independently of the code under test.
fn sha256_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .expect("sha256sum");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn plugin_step_configs_are_checked_at_load_with_their_position() {
    let sb = Sandbox::new();
    install_echo(&sb);
    config(&sb, "  enabled: [python-echo]\n");
    sb.write(
        "bad.yaml",
        "steps:\n  - name: say\n    type: echo\n    config:\n      message: 5\n  - touch ran.txt\n",
    );
    for command in ["validate", "start"] {
        let run = sb.run(&[command, "bad.yaml"]);
        assert_eq!(run.code, 1, "{command}: {}", run.explain());
        assert!(
            run.stderr.contains("bad.yaml:5:") && run.stderr.contains("steps[0].config.message"),
            "{command}: {}",
            run.explain()
        );
    }
    assert!(
        !sb.exists("ran.txt"),
        "nothing may run when a config is invalid"
    );
    sb.write(
        "good.yaml",
        "steps:\n  - name: say\n    type: echo\n    config:\n      message: hi\n",
    );
    let ok = sb.run(&["validate", "good.yaml"]);
    assert_eq!(ok.code, 0, "{}", ok.explain());
}

// `dagu plugin new`: a Rust plugin scaffolded, tested, built, installed and run in a DAG.

/// Runs `cargo ARGS --release --offline` in the crate `dir` with the toolchain that builds
/// these tests; asserts it succeeds; returns its output. The compiled dependencies stay in
/// the repository's `target/scaffold-test`, so later runs rebuild only the plugin.
/// `--offline`: everything the plugin needs is a dependency of this workspace, so it is in
/// the local cache of any checkout that built the workspace, with or without network.
fn cargo_in(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args(args)
        .args(["--release", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scaffold_target())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cargo");
    let text = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cargo {args:?} failed:\n{text}");
    text
}

fn scaffold_target() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scaffold-test")
}

/// What a plugin program answers to hello, describe, shutdown on its stdin.
fn describe_program(program: &std::path::Path) -> serde_json::Value {
    use std::io::Write;
    let mut child = std::process::Command::new(program)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the plugin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"{\"type\":\"hello\",\"protocol\":\"dagu-plugin/1\"}\n{\"type\":\"describe\"}\n\
              {\"type\":\"shutdown\"}\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the plugin exited with {}",
        out.status
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|m| m["type"] == "manifest")
        .unwrap_or_else(|| panic!("no manifest in {text}"))["manifest"]
        .clone()
}

#[test]
fn a_plugin_made_by_plugin_new_builds_passes_its_test_and_runs_in_a_dag() {
    let sb = Sandbox::new();
    let run = sb.run(&[
        "plugin",
        "new",
        "hello-rs",
        "--dir",
        sb.work.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let dir = sb.work.join("hello-rs");
    assert!(
        run.stdout
            .contains(&format!("created plugin hello-rs in {}", dir.display())),
        "{}",
        run.explain()
    );
    let manifest = sb.read("hello-rs/Cargo.toml");
    let sdk =
        std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugin-sdk")).unwrap();
    assert!(
        manifest.contains(&format!(
            "dagu-plugin-sdk = {{ path = {:?} }}",
            sdk.display().to_string()
        )),
        "{manifest}"
    );
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    assert!(sb.read("hello-rs/README.md").contains("dagu plugin lock"));

    let tested = cargo_in(&dir, &["test"]);
    assert!(
        tested.contains("tests::run_logs_the_message_and_returns_it ... ok"),
        "{tested}"
    );
    assert!(tested.contains("test result: ok. 4 passed"), "{tested}");
    cargo_in(&dir, &["build"]);

    // The program's own description carries the schema file plugin.toml names.
    let built = scaffold_target().join("release/hello-rs");
    let described = describe_program(&built);
    assert_eq!(described["name"], "hello-rs");
    assert_eq!(described["step_types"][0]["name"], "hello-rs");
    let schema: serde_json::Value =
        serde_json::from_str(&sb.read("hello-rs/hello-rs.schema.json")).unwrap();
    assert_eq!(described["step_types"][0]["config_schema"], schema);

    // Where plugin.toml expects it after an in-place `cargo build --release`.
    std::fs::create_dir_all(dir.join("target/release")).unwrap();
    std::fs::copy(&built, dir.join("target/release/hello-rs")).unwrap();
    let run = sb.run(&["plugin", "install", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.explain());
    config(&sb, "  enabled: [hello-rs]\n");
    sb.write(
        "hello.yaml",
        "steps:\n  - name: greet\n    type: hello-rs\n    config:\n      message: \"hello \
         ${WHO}\"\n    output: GREETING\n  - name: after\n    command: echo \"got ${GREETING}\"\n",
    );
    let run = sb.run(&["start", "hello.yaml", "--", "WHO=rust"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let st = sb.status_json("hello");
    assert_eq!(state(&st, "greet"), SUCCEEDED, "{st:#}");
    let log = std::fs::read_to_string(node(&st, "greet")["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(log, "hello rust\n");
    assert!(run.stdout.contains("got hello rust"), "{}", run.explain());

    sb.write(
        "bad.yaml",
        "steps:\n  - name: greet\n    type: hello-rs\n    config:\n      message: 5\n",
    );
    let run = sb.run(&["validate", "bad.yaml"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains(
            "bad.yaml:5:16: field 'steps[0].config.message': invalid config for step type \
             'hello-rs': 5 is not of type \"string\""
        ),
        "{}",
        run.explain()
    );

    // The README's lock steps.
    config(&sb, "  enabled: [hello-rs]\n  locked: true\n");
    let run = sb.run(&["plugin", "lock"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stdout
            .contains("pinned hello-rs 0.1.0 target/release/hello-rs"),
        "{}",
        run.explain()
    );
    let run = sb.run(&["plugin", "verify"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(
        run.stdout.contains("ok: hello-rs 0.1.0 (pinned)"),
        "{}",
        run.explain()
    );
}

#[test]
fn plugin_new_refuses_a_bad_name_an_existing_folder_and_a_missing_sdk() {
    let sb = Sandbox::new();
    let run = sb.run(&["plugin", "new", "Hello_World"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr
            .contains("'Hello_World' is not a valid plugin name: use lowercase letters"),
        "{}",
        run.explain()
    );
    assert!(!sb.exists("Hello_World"));

    let run = sb.run(&["plugin", "new", "9lives"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains("'9lives' cannot name a Rust crate"),
        "{}",
        run.explain()
    );
    assert!(!sb.exists("9lives"));

    sb.write("taken/notes.txt", "mine");
    let run = sb.run(&["plugin", "new", "taken"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains(&format!(
            "{} already exists: nothing was written",
            sb.work.join("taken").display()
        )),
        "{}",
        run.explain()
    );
    assert_eq!(sb.read("taken/notes.txt"), "mine");
    assert!(!sb.exists("taken/Cargo.toml"));

    let run = sb.run(&["plugin", "new", "fine", "--sdk", "no-sdk-here"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(
        run.stderr.contains(&format!(
            "the dagu plugin SDK is not at {}: pass --sdk PATH",
            sb.work.join("no-sdk-here").display()
        )),
        "{}",
        run.explain()
    );
    assert!(!sb.exists("fine"));
}

#[test]
fn plugin_outputs_reach_dependents_and_the_record() {
    let sb = Sandbox::new();
    install_echo(&sb);
    config(&sb, "  enabled: [python-echo]\n");
    sb.write(
        "o.yaml",
        "steps:\n  - name: say\n    type: echo\n    config:\n      message: from-plugin\n  - name: use\n    command: echo \"$MESSAGE\" > got.txt\n",
    );
    let run = sb.run(&["start", "o.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("got.txt"), "from-plugin\n");
    let st = sb.status_json("o");
    assert_eq!(
        node(&st, "say")["outputVariables"]["MESSAGE"],
        "MESSAGE=from-plugin"
    );
}
