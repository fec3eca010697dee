//! The run store on disk: directory layout and names, run IDs, `status.jsonl`, `outputs.json`,
//! step logs, `retry` attempts and `cleanup`.

use crate::support::Sandbox;
use regex::Regex;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Sub-directories (or files) of `dir` whose name matches `re`, sorted.
fn entries(dir: &Path, re: &str) -> Vec<PathBuf> {
    let re = Regex::new(re).unwrap();
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| re.is_match(&p.file_name().unwrap().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// Every `dag-run_*` directory of `dag` under `data/dag-runs/<dag>/dag-runs/YYYY/MM/DD/`.
fn run_dirs(sb: &Sandbox, dag: &str) -> Vec<PathBuf> {
    let base = sb.home.join("data/dag-runs").join(dag).join("dag-runs");
    let mut out = Vec::new();
    for y in entries(&base, r"^\d{4}$") {
        for m in entries(&y, r"^\d{2}$") {
            for d in entries(&m, r"^\d{2}$") {
                out.extend(entries(&d, r"^dag-run_"));
            }
        }
    }
    out
}

/// The attempt directories of a run directory, oldest first.
fn attempts(run_dir: &Path) -> Vec<PathBuf> {
    entries(run_dir, r"^attempt_")
}

/// Every regular file below `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

const TWO_STEPS: &str = "steps:
  - name: greet
    command: echo out-text; echo err-text >&2
  - name: second
    command: \"true\"
";

#[test]
fn store_run_and_attempt_directories_follow_the_layout() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let id = sb.status_json("d")["dagRunId"]
        .as_str()
        .unwrap()
        .to_string();

    let runs = run_dirs(&sb, "d");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_dir = &runs[0];
    let re = Regex::new(&format!(
        r"^dag-run_(\d{{8}})_(\d{{6}})Z_{}$",
        regex::escape(&id)
    ))
    .unwrap();
    let name = name_of(run_dir);
    let caps = re
        .captures(&name)
        .unwrap_or_else(|| panic!("run dir {name}"));
    // The date directories are those of the run's timestamp.
    let date = &caps[1];
    let day = run_dir.parent().unwrap();
    let month = day.parent().unwrap();
    let year = month.parent().unwrap();
    assert_eq!(
        format!("{}{}{}", name_of(year), name_of(month), name_of(day)),
        date
    );

    let atts = attempts(run_dir);
    assert_eq!(atts.len(), 1);
    let att = name_of(&atts[0]);
    let are = Regex::new(r"^attempt_\d{8}_\d{6}_\d{3}Z_([0-9a-f]{6})$").unwrap();
    let acaps = are
        .captures(&att)
        .unwrap_or_else(|| panic!("attempt dir {att}"));
    assert_eq!(sb.status_json("d")["attemptId"], &acaps[1]);
    for f in ["status.jsonl", "events.jsonl", "dag.json"] {
        assert!(atts[0].join(f).is_file(), "missing {f}");
    }
    let dag: Value =
        serde_json::from_str(&std::fs::read_to_string(atts[0].join("dag.json")).unwrap())
            .expect("dag.json");
    assert_eq!(dag["name"], "d");
}

#[test]
fn store_step_logs_follow_the_layout_and_hold_output() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let st = sb.status_json("d");
    let id = st["dagRunId"].as_str().unwrap();
    let attempt = st["attemptId"].as_str().unwrap();

    let logs = sb.home.join("logs/d");
    let run_logs = entries(
        &logs,
        &format!(r"^dag-run_\d{{8}}_\d{{6}}Z_{}$", regex::escape(id)),
    );
    assert_eq!(run_logs.len(), 1, "{:?}", entries(&logs, "."));
    let att_logs = entries(&run_logs[0], &format!(r"^run_\d{{8}}_\d{{6}}Z_{attempt}$"));
    assert_eq!(att_logs.len(), 1, "{:?}", entries(&run_logs[0], "."));
    let id8 = &id[..8];
    let out = entries(
        &att_logs[0],
        &format!(r"^greet\.\d{{8}}\.\d{{6}}\.\d{{3}}\.{id8}\.out$"),
    );
    let err = entries(
        &att_logs[0],
        &format!(r"^greet\.\d{{8}}\.\d{{6}}\.\d{{3}}\.{id8}\.err$"),
    );
    assert_eq!(out.len(), 1, "{:?}", entries(&att_logs[0], "."));
    assert_eq!(err.len(), 1);
    assert_eq!(std::fs::read_to_string(&out[0]).unwrap().trim(), "out-text");
    assert_eq!(std::fs::read_to_string(&err[0]).unwrap().trim(), "err-text");

    let node = &st["nodes"][0];
    assert_eq!(node["stdout"], out[0].to_string_lossy().as_ref());
    assert_eq!(node["stderr"], err[0].to_string_lossy().as_ref());
}

#[test]
fn store_run_log_file_exists_at_the_recorded_path() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let st = sb.status_json("d");
    let id = st["dagRunId"].as_str().unwrap();
    let log = PathBuf::from(st["log"].as_str().expect("log path"));
    let run_log_dir = entries(
        &sb.home.join("logs/d"),
        &format!(r"^dag-run_\d{{8}}_\d{{6}}Z_{}$", regex::escape(id)),
    );
    assert_eq!(run_log_dir.len(), 1);
    assert_eq!(log.parent(), Some(run_log_dir[0].as_path()));
    let re = Regex::new(&format!(
        r"^dag-run_\d{{8}}\.\d{{6}}\.\d{{3}}\.{}\.log$",
        &id[..8]
    ))
    .unwrap();
    assert!(re.is_match(&name_of(&log)), "{}", log.display());
    assert!(log.is_file(), "run log {} missing", log.display());
}

#[test]
fn store_step_name_is_made_file_safe_in_log_names() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:\n  - name: my step.v2\n    command: echo safe\n",
    );
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let st = sb.status_json("d");
    let out = st["nodes"][0]["stdout"].as_str().unwrap();
    let file = Path::new(out)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(file.starts_with("my_step_v2."), "{file}");
    assert_eq!(std::fs::read_to_string(out).unwrap().trim(), "safe");
}

#[test]
fn store_default_run_id_is_uuid_v7() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let id = sb.status_json("d")["dagRunId"]
        .as_str()
        .unwrap()
        .to_string();
    let re = Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        .unwrap();
    assert!(re.is_match(&id), "not a UUIDv7: {id}");
}

#[test]
fn store_run_ids_are_time_ordered() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    let mut ids = Vec::new();
    for _ in 0..2 {
        assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
        ids.push(
            sb.status_json("d")["dagRunId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert!(ids[0] < ids[1], "{ids:?}");
}

#[test]
fn store_custom_run_id_is_used_and_cannot_be_reused() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    let run = sb.run(&["start", "--run-id", "custom_1", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.status_json("d")["dagRunId"], "custom_1");
    let runs = run_dirs(&sb, "d");
    assert_eq!(runs.len(), 1);
    assert!(name_of(&runs[0]).ends_with("Z_custom_1"));

    let again = sb.run(&["start", "--run-id", "custom_1", "d.yaml"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(run_dirs(&sb, "d").len(), 1);
}

#[test]
fn store_invalid_run_id_is_rejected() {
    let sb = Sandbox::new();
    sb.write("d.yaml", "steps:\n  - name: a\n    command: touch ran\n");
    // Run IDs are limited to [A-Za-z0-9_-] and at most 64 characters.
    for bad in ["has space", "slash/y", "dot.id", &"x".repeat(65)] {
        let run = sb.run(&["start", "--run-id", bad, "d.yaml"]);
        assert_eq!(run.code, 1, "run id {bad:?} accepted");
    }
    assert!(!sb.exists("ran"));
    assert!(run_dirs(&sb, "d").is_empty());
}

#[test]
fn store_status_jsonl_is_one_json_line_after_the_run() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let att = &attempts(&run_dirs(&sb, "d")[0])[0];
    let text = std::fs::read_to_string(att.join("status.jsonl")).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let st: Value = serde_json::from_str(lines[0]).expect("status line");
    assert!(st["status"].is_i64(), "{}", st["status"]);
    assert_eq!(st["status"], 4);
    assert_eq!(st["name"], "d");
    assert!(st["createdAt"].is_i64());
    for n in st["nodes"].as_array().unwrap() {
        assert_eq!(n["status"], 4);
    }
}

#[test]
fn store_outputs_json_camel_cases_keys_and_honours_key_and_omit() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:
  - name: a
    command: echo first
    output: MY_VAR
  - name: b
    command: echo second
    output:
      name: OTHER_VALUE
      key: customKey
  - name: c
    command: echo hidden
    output:
      name: HIDDEN_ONE
      omit: true
  - name: d
    command: echo plain
    output: ANSWER
",
    );
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let att = &attempts(&run_dirs(&sb, "d")[0])[0];
    let out: Value =
        serde_json::from_str(&std::fs::read_to_string(att.join("outputs.json")).unwrap())
            .expect("outputs.json");
    assert_eq!(
        out["outputs"],
        serde_json::json!({"myVar": "first", "customKey": "second", "answer": "plain"})
    );
    let st = sb.status_json("d");
    assert_eq!(out["metadata"]["dagName"], "d");
    assert_eq!(out["metadata"]["dagRunId"], st["dagRunId"]);
    assert_eq!(out["metadata"]["attemptId"], st["attemptId"]);
    assert_eq!(out["metadata"]["status"], "succeeded");
}

// ---------------------------------------------------------------------------------------------
// retry
// ---------------------------------------------------------------------------------------------

const BUMP_A: &str = "n=$(cat a.count 2>/dev/null || echo 0); echo $((n+1)) > a.count";

#[test]
fn store_retry_adds_an_attempt_and_reruns_only_unfinished_steps() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        &format!(
            "steps:
  - name: a
    command: {BUMP_A}
  - name: b
    command: test -f ok.flag
  - name: c
    command: touch c.ran
"
        ),
    );
    let run = sb.run(&["start", "--run-id", "r1", "d.yaml"]);
    assert_eq!(run.code, 1);
    assert!(!sb.exists("c.ran"));
    sb.write("ok.flag", "");

    let retry = sb.run(&["retry", "--run-id", "r1", "d"]);
    assert_eq!(retry.code, 0, "{}", retry.explain());
    assert_eq!(sb.read("a.count").trim(), "1", "succeeded step ran again");
    assert!(sb.exists("c.ran"));

    let runs = run_dirs(&sb, "d");
    assert_eq!(runs.len(), 1, "retry must reuse the run directory");
    assert_eq!(attempts(&runs[0]).len(), 2);
    let st = sb.status_json("d");
    assert_eq!(st["dagRunId"], "r1");
    assert_eq!(st["status"], 4);
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(attempts(&runs[0])[0].join("status.jsonl"))
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["status"], 2, "the first attempt keeps its result");
    assert_ne!(first["attemptId"], st["attemptId"]);
}

#[test]
fn store_retry_step_reruns_only_that_step() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        &format!(
            "steps:
  - name: a
    command: {BUMP_A}
  - name: b
    command: n=$(cat b.count 2>/dev/null || echo 0); echo $((n+1)) > b.count
"
        ),
    );
    assert_eq!(sb.run(&["start", "--run-id", "r2", "d.yaml"]).code, 0);
    let retry = sb.run(&["retry", "--run-id", "r2", "--step", "b", "d"]);
    assert_eq!(retry.code, 0, "{}", retry.explain());
    assert_eq!(sb.read("a.count").trim(), "1");
    assert_eq!(sb.read("b.count").trim(), "2");
    assert_eq!(attempts(&run_dirs(&sb, "d")[0]).len(), 2);
}

#[test]
fn store_retry_step_status_follows_that_step() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "type: graph
steps:
  - name: ok
    command: \"true\"
  - name: bad
    command: exit 1
",
    );
    assert_eq!(sb.run(&["start", "--run-id", "r3", "d.yaml"]).code, 1);
    let retry = sb.run(&["retry", "--run-id", "r3", "--step", "ok", "d"]);
    assert_eq!(retry.code, 0, "{}", retry.explain());
    assert_eq!(sb.status_json("d")["status"], 4);
}

#[test]
fn store_retry_unknown_step_is_a_clean_error() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "--run-id", "r4", "d.yaml"]).code, 0);
    let retry = sb.run(&["retry", "--run-id", "r4", "--step", "nope", "d"]);
    assert_eq!(retry.code, 1, "{}", retry.explain());
    assert!(!retry.stderr.is_empty());
    assert_eq!(attempts(&run_dirs(&sb, "d")[0]).len(), 1);
}

#[test]
fn store_retry_unknown_run_id_fails() {
    let sb = Sandbox::new();
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "d.yaml"]).code, 0);
    let retry = sb.run(&["retry", "--run-id", "missing", "d"]);
    assert_eq!(retry.code, 1);
}

#[test]
fn store_retry_uses_the_stored_dag_snapshot() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:\n  - name: a\n    command: test -f ok.flag && echo v1 > which.txt\n",
    );
    assert_eq!(sb.run(&["start", "--run-id", "r5", "d.yaml"]).code, 1);
    sb.write(
        "d.yaml",
        "steps:\n  - name: a\n    command: echo v2 > which.txt\n",
    );
    sb.write("ok.flag", "");
    let retry = sb.run(&["retry", "--run-id", "r5", "d"]);
    assert_eq!(retry.code, 0, "{}", retry.explain());
    assert_eq!(sb.read("which.txt").trim(), "v1");
}

// ---------------------------------------------------------------------------------------------
// cleanup
// ---------------------------------------------------------------------------------------------

fn two_runs(sb: &Sandbox) {
    sb.write("d.yaml", TWO_STEPS);
    assert_eq!(sb.run(&["start", "--run-id", "old1", "d.yaml"]).code, 0);
    assert_eq!(sb.run(&["start", "--run-id", "old2", "d.yaml"]).code, 0);
    assert_eq!(run_dirs(sb, "d").len(), 2);
    assert_eq!(entries(&sb.home.join("logs/d"), "^dag-run_").len(), 2);
}

#[test]
fn store_cleanup_zero_days_deletes_records_and_logs() {
    let sb = Sandbox::new();
    two_runs(&sb);
    let run = sb.run(&["cleanup", "--retention-days", "0", "-y", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(run_dirs(&sb, "d").is_empty());
    let left = files_under(&sb.home.join("logs/d"));
    assert!(left.is_empty(), "log files left: {left:?}");
    assert_eq!(sb.run(&["status", "d"]).code, 1);
}

#[test]
fn store_cleanup_dry_run_deletes_nothing_and_lists_runs() {
    let sb = Sandbox::new();
    two_runs(&sb);
    let run = sb.run(&["cleanup", "--retention-days", "0", "--dry-run", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("old1") && all.contains("old2"), "{all}");
    assert_eq!(run_dirs(&sb, "d").len(), 2);
    assert_eq!(entries(&sb.home.join("logs/d"), "^dag-run_").len(), 2);
}

#[test]
fn store_cleanup_keeps_recent_runs_within_retention() {
    let sb = Sandbox::new();
    two_runs(&sb);
    let run = sb.run(&["cleanup", "--retention-days", "7", "-y", "d"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(run_dirs(&sb, "d").len(), 2);
}

#[test]
fn store_cleanup_declined_prompt_deletes_nothing() {
    let sb = Sandbox::new();
    two_runs(&sb);
    let mut cmd = sb.cmd(&["cleanup", "--retention-days", "0", "d"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn dagu");
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Cancelled"),
        "{out:?}"
    );
    assert_eq!(run_dirs(&sb, "d").len(), 2);
}

#[test]
fn store_cleanup_negative_days_is_an_error() {
    let sb = Sandbox::new();
    two_runs(&sb);
    let run = sb.run(&["cleanup", "--retention-days", "-1", "-y", "d"]);
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(run_dirs(&sb, "d").len(), 2);
}
