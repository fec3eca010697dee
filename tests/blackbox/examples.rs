//! Every DAG under `examples/` validates and runs with the exit code it is meant to have.

use crate::support::Sandbox;

/// Examples that fail on purpose, with their exit code.
const EXPECTED_FAILURES: &[(&str, i32)] = &[("timeouts.yaml", 1)];

fn examples() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 13,
        "expected a dozen examples, found {}",
        files.len()
    );
    files
}

#[test]
fn every_example_validates() {
    let sb = Sandbox::new();
    for file in examples() {
        let run = sb.run(&["validate", file.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}: {}", file.display(), run.stderr);
    }
}

#[test]
fn every_example_runs_with_its_expected_exit_code() {
    for file in examples() {
        let sb = Sandbox::new();
        let copy = sb.write(
            file.file_name().unwrap().to_str().unwrap(),
            &std::fs::read_to_string(&file).unwrap(),
        );
        let run = sb.run(&["start", copy.to_str().unwrap()]);
        let name = file.file_name().unwrap().to_str().unwrap();
        let expected = EXPECTED_FAILURES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, c)| *c);
        assert_eq!(
            run.code, expected,
            "{name}: stdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
    }
}
