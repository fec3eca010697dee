//! Times one `jq` run in-process, the way the host's benchmark runs it (a fresh plugin
//! each time): `cargo run --release -p dagu-plugin-jq --example bench`.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::time::Instant;

    use dagu_plugin_jq::Jq;
    use dagu_plugin_sdk::RunRequest;
    use dagu_plugin_sdk::testing::{request, run_in_process};

    const FILTER: &str = "[.items[] | select(.v > 2) | .k] | length";
    const INPUT: &str =
        r#"{"items": [{"k": "a", "v": 1}, {"k": "b", "v": 3}, {"k": "c", "v": 5}]}"#;
    const RUNS: u32 = 2000;

    let started = Instant::now();
    for _ in 0..RUNS {
        let request = RunRequest {
            command: vec![FILTER.to_string()],
            script: Some(INPUT.to_string()),
            ..request("jq")
        };
        let (outcome, lines) = run_in_process(&Jq, request);
        assert!(outcome.is_ok() && lines.len() == 1, "{outcome:?} {lines:?}");
    }
    println!("{:?} per run", started.elapsed() / RUNS);
}

/// The in-process runner is native only.
#[cfg(target_arch = "wasm32")]
fn main() {}
