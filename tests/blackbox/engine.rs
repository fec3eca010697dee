//! Execution semantics: ordering, dependencies, limits, failure propagation, preconditions,
//! continueOn, retry/repeat, timeouts, lifecycle handlers, sub-DAGs and parallel fan-out.

use crate::support::{Run, Sandbox, node, state};
use serde_json::Value;

/// Writes `d.yaml` and runs `dagu start d.yaml`.
fn start(sb: &Sandbox, yaml: &str) -> Run {
    sb.write("d.yaml", yaml);
    sb.run(&["start", "d.yaml"])
}

/// The persisted `retryCount` of step `name` (absent = 0).
fn retry_count(st: &Value, name: &str) -> i64 {
    node(st, name)["retryCount"].as_i64().unwrap_or(0)
}

/// Lines of a work file.
fn lines(sb: &Sandbox, rel: &str) -> Vec<String> {
    sb.read(rel).lines().map(str::to_string).collect()
}

/// A shell snippet: create `<me>.ready`, then wait (bounded, ~20 s) for `<peer>.ready`; fails
/// when the peer never shows up, i.e. when the two steps were not running at the same time.
fn rendezvous(me: &str, peer: &str) -> String {
    format!(
        "touch {me}.ready; i=0; while [ ! -f {peer}.ready ]; do i=$((i+1)); \
         if [ $i -gt 400 ]; then exit 1; fi; sleep 0.05; done"
    )
}

/// A multi-line shell body that registers itself in `running/`, records how many steps were
/// registered at that moment in `counts`, waits (bounded) until `peers` steps are registered,
/// then deregisters. Proves a concurrency cap without relying on timing: the recorded maximum
/// can never exceed the number of steps that were really running together.
fn counted(me: &str, peers: usize, tries: usize) -> String {
    format!(
        "mkdir -p running\n\
         touch running/{me}\n\
         ls running | wc -l | tr -d ' ' >> counts\n\
         i=0\n\
         while [ \"$(ls running | wc -l | tr -d ' ')\" -lt {peers} ] && [ $i -lt {tries} ]; do i=$((i+1)); sleep 0.05; done\n\
         ls running | wc -l | tr -d ' ' >> counts\n\
         rm running/{me}\n\
         echo {me} >> done\n"
    )
}

fn max_count(sb: &Sandbox) -> usize {
    lines(sb, "counts")
        .iter()
        .map(|l| l.trim().parse::<usize>().expect("count"))
        .max()
        .expect("no counts recorded")
}

fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
}

// ---------------------------------------------------------------------------------------------
// Ordering and dependencies
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_chain_runs_steps_one_after_another() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: touch a.done
  - name: b
    command: test -f a.done && touch b.done
  - name: c
    command: test -f b.done && touch c.done
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("c.done"));
    let st = sb.status_json("d");
    assert_eq!(node(&st, "b")["step"]["depends"], serde_json::json!(["a"]));
    assert_eq!(node(&st, "c")["step"]["depends"], serde_json::json!(["b"]));
}

#[test]
fn engine_graph_steps_without_depends_run_concurrently() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "type: graph
steps:
  - name: a
    command: {}
  - name: b
    command: {}
",
            rendezvous("a", "b"),
            rendezvous("b", "a")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let st = sb.status_json("d");
    assert_eq!(state(&st, "a"), 4);
    assert_eq!(state(&st, "b"), 4);
}

#[test]
fn engine_graph_depends_as_string_list_and_step_id() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "type: graph
steps:
  - name: c
    depends: [first, b]
    command: test -f a.done && test -f b.done && touch c.done
  - name: b
    depends: a
    command: test -f a.done && touch b.done
  - name: a
    id: first
    command: touch a.done
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("c.done"));
    let st = sb.status_json("d");
    for s in ["a", "b", "c"] {
        assert_eq!(state(&st, s), 4, "{s}");
    }
}

#[test]
fn engine_chain_depends_empty_list_runs_alongside_predecessor() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: a
    command: {}
  - name: b
    depends: []
    command: {}
",
            rendezvous("a", "b"),
            rendezvous("b", "a")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
}

#[test]
fn engine_chain_explicit_depends_add_to_the_implicit_one() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: touch a.done
  - name: b
    command: touch b.done
  - name: c
    depends: a
    command: test -f b.done
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let st = sb.status_json("d");
    let deps: Vec<String> = node(&st, "c")["step"]["depends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert!(deps.contains(&"a".to_string()) && deps.contains(&"b".to_string()));
}

#[test]
fn engine_nested_group_runs_in_parallel_between_its_neighbours() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: a
    command: touch a.done
  -
    - name: b
      command: test -f a.done && {}
    - name: c
      command: test -f a.done && {}
  - name: d
    command: test -f b.ready && test -f c.ready && touch d.done
",
            rendezvous("b", "c"),
            rendezvous("c", "b")
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("d.done"));
    let st = sb.status_json("d");
    let mut deps: Vec<String> = node(&st, "d")["step"]["depends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    deps.sort();
    assert_eq!(deps, vec!["b", "c"]);
}

#[test]
fn engine_max_active_steps_one_never_overlaps() {
    let sb = Sandbox::new();
    let mut yaml = String::from("type: graph\nmaxActiveSteps: 1\nsteps:\n");
    for s in ["s1", "s2", "s3", "s4"] {
        yaml += &format!(
            "  - name: {s}\n    command: |\n{}",
            indent(&counted(s, 2, 20), 6)
        );
    }
    let run = start(&sb, &yaml);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(lines(&sb, "done").len(), 4);
    assert_eq!(
        max_count(&sb),
        1,
        "steps overlapped: {:?}",
        lines(&sb, "counts")
    );
}

#[test]
fn engine_max_active_steps_two_caps_but_allows_two() {
    let sb = Sandbox::new();
    let mut yaml = String::from("type: graph\nmaxActiveSteps: 2\nsteps:\n");
    for s in ["s1", "s2", "s3", "s4", "s5"] {
        yaml += &format!(
            "  - name: {s}\n    command: |\n{}",
            indent(&counted(s, 3, 30), 6)
        );
    }
    let run = start(&sb, &yaml);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(lines(&sb, "done").len(), 5);
    assert_eq!(max_count(&sb), 2, "counts: {:?}", lines(&sb, "counts"));
}

#[test]
fn engine_unlimited_steps_do_overlap() {
    let sb = Sandbox::new();
    let mut yaml = String::from("type: graph\nsteps:\n");
    for s in ["s1", "s2", "s3"] {
        yaml += &format!(
            "  - name: {s}\n    command: |\n{}",
            indent(&counted(s, 3, 200), 6)
        );
    }
    let run = start(&sb, &yaml);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(max_count(&sb), 3, "counts: {:?}", lines(&sb, "counts"));
}

// ---------------------------------------------------------------------------------------------
// Failure propagation
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_failed_step_aborts_dependents_but_independent_branch_runs() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "type: graph
steps:
  - name: bad
    command: touch bad.started; exit 1
  - name: child
    depends: bad
    command: touch child.ran
  - name: grandchild
    depends: child
    command: touch grandchild.ran
  - name: wait-bad
    command: |
      i=0
      while [ ! -f bad.started ] && [ $i -lt 400 ]; do i=$((i+1)); sleep 0.05; done
  - name: other
    depends: wait-bad
    command: touch other.ran
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!sb.exists("child.ran"));
    assert!(!sb.exists("grandchild.ran"));
    assert!(sb.exists("other.ran"), "independent branch did not run");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 2);
    assert_eq!(state(&st, "bad"), 2);
    assert_eq!(state(&st, "child"), 3);
    assert_eq!(state(&st, "grandchild"), 3);
    assert_eq!(state(&st, "other"), 4);
    assert!(
        node(&st, "child")["error"]
            .as_str()
            .unwrap_or_default()
            .contains("upstream failed"),
        "{:#}",
        node(&st, "child")
    );
}

#[test]
fn engine_failed_chain_step_leaves_later_steps_unrun() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 1
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 1);
    assert!(!sb.exists("b.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "b"), 3);
}

// ---------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_unmet_dag_precondition_aborts_run_with_exit_zero_and_handlers() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "preconditions:
  - condition: test -f missing.flag
handlerOn:
  abort:
    command: echo \"$DAG_RUN_STATUS\" > abort.txt
  failure:
    command: touch failure.ran
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: a
    command: touch a.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(!sb.exists("a.ran"));
    assert!(!sb.exists("failure.ran"));
    assert_eq!(sb.read("abort.txt").trim(), "aborted");
    assert_eq!(sb.read("exit.txt").trim(), "aborted");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 3);
    assert_ne!(state(&st, "a"), 4);
    assert_eq!(st["onCancel"]["status"], 4);
    assert_eq!(st["onExit"]["status"], 4);
}

#[test]
fn engine_met_dag_precondition_runs_steps() {
    let sb = Sandbox::new();
    sb.write("present.flag", "");
    let run = start(
        &sb,
        "precondition: test -f present.flag
steps:
  - name: a
    command: touch a.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("a.ran"));
    assert_eq!(sb.status_json("d")["status"], 4);
}

#[test]
fn engine_unmet_step_precondition_skips_step_and_dependents() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    preconditions:
      - condition: test -f missing.flag
    command: touch a.ran
  - name: b
    command: touch b.ran
  - name: c
    depends: []
    command: touch c.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(!sb.exists("a.ran"));
    assert!(!sb.exists("b.ran"));
    assert!(sb.exists("c.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "a"), 5);
    assert_eq!(state(&st, "b"), 5);
    assert_eq!(state(&st, "c"), 4);
    assert_eq!(st["status"], 4, "skips alone do not fail the run");
}

#[test]
fn engine_negated_precondition_inverts_the_check() {
    let sb = Sandbox::new();
    sb.write("present.flag", "");
    let run = start(
        &sb,
        "type: graph
steps:
  - name: runs
    preconditions:
      - condition: test -f missing.flag
        negate: true
    command: touch runs.ran
  - name: skipped
    preconditions:
      - condition: test -f present.flag
        negate: true
    command: touch skipped.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("runs.ran"));
    assert!(!sb.exists("skipped.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "runs"), 4);
    assert_eq!(state(&st, "skipped"), 5);
}

#[test]
fn engine_precondition_expected_exact_and_unanchored_regex() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "type: graph
env:
  - MODE: weekday
steps:
  - name: exact
    preconditions:
      - condition: \"${MODE}\"
        expected: weekday
    command: touch exact.ran
  - name: exact-miss
    preconditions:
      - condition: \"${MODE}\"
        expected: week
    command: touch exact-miss.ran
  - name: regex
    preconditions:
      - condition: \"${MODE}\"
        expected: \"re:kda\"
    command: touch regex.ran
  - name: regex-miss
    preconditions:
      - condition: \"${MODE}\"
        expected: \"re:^end\"
    command: touch regex-miss.ran
  - name: backtick
    preconditions:
      - condition: \"`echo hello123`\"
        expected: \"re:llo1\"
    command: touch backtick.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("exact.ran"));
    assert!(!sb.exists("exact-miss.ran"));
    assert!(sb.exists("regex.ran"));
    assert!(!sb.exists("regex-miss.ran"));
    assert!(sb.exists("backtick.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "exact-miss"), 5);
    assert_eq!(state(&st, "regex-miss"), 5);
}

// ---------------------------------------------------------------------------------------------
// continueOn
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_continue_on_failed_runs_next_step_and_partially_succeeds() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 1
    continueOn: failed
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(
        run.code,
        1,
        "partially_succeeded exits 1: {}",
        run.explain()
    );
    assert!(sb.exists("b.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "a"), 2);
    assert_eq!(state(&st, "b"), 4);
    assert_eq!(st["status"], 6);
}

#[test]
fn engine_continue_on_failure_object_form() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 1
    continueOn:
      failure: true
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 1);
    assert!(sb.exists("b.ran"));
    assert_eq!(sb.status_json("d")["status"], 6);
}

#[test]
fn engine_continue_on_skipped_lets_dependents_run() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    preconditions: test -f missing.flag
    command: touch a.ran
    continueOn: skipped
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(!sb.exists("a.ran"));
    assert!(sb.exists("b.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "a"), 5);
    assert_eq!(state(&st, "b"), 4);
    assert_eq!(st["status"], 4);
}

#[test]
fn engine_continue_on_matching_exit_code() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 3
    continueOn:
      exitCode: [1, 3]
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 1);
    assert!(sb.exists("b.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "a"), 2);
    assert_eq!(st["status"], 6);
}

#[test]
fn engine_continue_on_other_exit_code_still_blocks() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 4
    continueOn:
      exitCode: 3
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 1);
    assert!(!sb.exists("b.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "b"), 3);
    assert_eq!(st["status"], 2);
}

#[test]
fn engine_continue_on_output_matches_stdout_substring_and_regex() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: \"echo 'WARN: disk nearly full'; exit 1\"
    continueOn:
      output: nearly
  - name: b
    command: echo 'code=42'; exit 1
    continueOn:
      output: [nomatch, \"re:^code=[0-9]+$\"]
  - name: c
    command: touch c.ran
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(sb.exists("c.ran"));
    assert_eq!(sb.status_json("d")["status"], 6);
}

#[test]
fn engine_continue_on_output_ignores_stderr() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: echo 'tolerable' >&2; exit 1
    continueOn:
      output: tolerable
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 1);
    assert!(!sb.exists("b.ran"));
    assert_eq!(sb.status_json("d")["status"], 2);
}

#[test]
fn engine_continue_on_mark_success_records_success() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 3
    continueOn:
      exitCode: [3]
      markSuccess: true
  - name: b
    command: touch b.ran
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("b.ran"));
    let st = sb.status_json("d");
    assert_eq!(state(&st, "a"), 4);
    assert_eq!(st["status"], 4);
}

#[test]
fn engine_only_continued_failures_without_success_is_failed() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: a
    command: exit 1
    continueOn: failed
  - name: b
    command: exit 1
    continueOn: failed
",
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.status_json("d")["status"], 2);
}

// ---------------------------------------------------------------------------------------------
// retryPolicy
// ---------------------------------------------------------------------------------------------

const BUMP: &str = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count";

#[test]
fn engine_retry_limit_counts_retries_not_attempts() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: flaky
    command: {BUMP}; exit 1
    retryPolicy:
      limit: 2
      intervalSec: 0
"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.read("count").trim(), "3");
    let st = sb.status_json("d");
    assert_eq!(state(&st, "flaky"), 2);
    assert_eq!(retry_count(&st, "flaky"), 2);
}

#[test]
fn engine_retry_stops_once_the_step_succeeds() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: flaky
    command: {BUMP}; [ $n -ge 2 ]
    retryPolicy:
      limit: 5
      intervalSec: 0
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "2");
    let st = sb.status_json("d");
    assert_eq!(state(&st, "flaky"), 4);
    assert_eq!(retry_count(&st, "flaky"), 1);
}

#[test]
fn engine_retry_exit_code_filter_skips_other_codes() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: flaky
    command: {BUMP}; exit 5
    retryPolicy:
      limit: 3
      intervalSec: 0
      exitCode: [3]
"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.read("count").trim(), "1");
    assert_eq!(retry_count(&sb.status_json("d"), "flaky"), 0);
}

#[test]
fn engine_retry_exit_code_filter_retries_listed_codes() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: flaky
    command: {BUMP}; exit 3
    retryPolicy:
      limit: 2
      intervalSec: 0
      exitCode: [3]
"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.read("count").trim(), "3");
    assert_eq!(retry_count(&sb.status_json("d"), "flaky"), 2);
}

#[test]
fn engine_retry_with_backoff_and_max_interval_still_uses_all_retries() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: flaky
    command: {BUMP}; exit 1
    retryPolicy:
      limit: 2
      intervalSec: 1
      backoff: 2.0
      maxIntervalSec: 1
"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.read("count").trim(), "3");
    assert_eq!(retry_count(&sb.status_json("d"), "flaky"), 2);
}

#[test]
fn engine_retried_step_then_continues_the_chain() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: flaky
    command: {BUMP}; [ $n -ge 3 ]
    retryPolicy:
      limit: 3
      intervalSec: 0
  - name: next
    command: touch next.ran
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("next.ran"));
    assert_eq!(retry_count(&sb.status_json("d"), "flaky"), 2);
}

// ---------------------------------------------------------------------------------------------
// repeatPolicy
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_repeat_until_output_matches_expected() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: poll
    command: {BUMP}; echo $n
    output: POLLS
    repeatPolicy:
      repeat: until
      condition: \"${{POLLS}}\"
      expected: \"3\"
      limit: 10
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "3");
    let st = sb.status_json("d");
    assert_eq!(node(&st, "poll")["doneCount"], 3);
    assert_eq!(state(&st, "poll"), 4);
}

#[test]
fn engine_repeat_while_condition_command_succeeds() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: loop
    command: {BUMP}; if [ $n -ge 4 ]; then touch stop.flag; fi
    repeatPolicy:
      repeat: while
      condition: test ! -f stop.flag
      limit: 20
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "4");
    assert_eq!(node(&sb.status_json("d"), "loop")["doneCount"], 4);
}

#[test]
fn engine_repeat_while_exit_code_repeats_until_other_code() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: loop
    command: {BUMP}; if [ $n -lt 3 ]; then exit 7; fi
    repeatPolicy:
      repeat: while
      exitCode: [7]
      limit: 20
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "3");
    let st = sb.status_json("d");
    assert_eq!(
        state(&st, "loop"),
        4,
        "status is that of the last execution"
    );
    assert_eq!(node(&st, "loop")["doneCount"], 3);
}

#[test]
fn engine_repeat_until_exit_code_repeats_failures() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: loop
    command: {BUMP}; [ $n -ge 2 ]
    repeatPolicy:
      repeat: until
      exitCode: [0]
      limit: 20
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "2");
}

#[test]
fn engine_repeat_stops_at_limit_total_executions() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: loop
    command: {BUMP}
    repeatPolicy:
      repeat: while
      condition: \"true\"
      limit: 4
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "4");
    assert_eq!(node(&sb.status_json("d"), "loop")["doneCount"], 4);
}

#[test]
fn engine_repeat_true_is_unconditional_up_to_limit() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: loop
    command: {BUMP}
    repeatPolicy:
      repeat: true
      limit: 3
"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("count").trim(), "3");
}

#[test]
fn engine_repeat_while_ended_by_failure_leaves_step_failed() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: loop
    command: {BUMP}; if [ $n -ge 2 ]; then exit 1; fi
    repeatPolicy:
      repeat: while
      exitCode: [0]
      limit: 10
"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.read("count").trim(), "2");
    assert_eq!(state(&sb.status_json("d"), "loop"), 2);
}

// ---------------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_step_timeout_fails_step_and_runs_failure_and_exit_handlers() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "handlerOn:
  failure:
    command: echo \"$DAG_RUN_STATUS\" > failure.txt
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: slow
    timeoutSec: 1
    command: sleep 30; touch slow.finished
  - name: after
    command: touch after.ran
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!sb.exists("slow.finished"));
    assert!(!sb.exists("after.ran"));
    assert_eq!(sb.read("failure.txt").trim(), "failed");
    assert_eq!(sb.read("exit.txt").trim(), "failed");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 2);
    assert_eq!(state(&st, "slow"), 2);
    assert_eq!(state(&st, "after"), 3);
    let err = node(&st, "slow")["error"].as_str().unwrap_or_default();
    assert!(err.contains("timed out"), "error: {err}");
}

#[test]
fn engine_dag_timeout_aborts_running_step_fails_run_and_still_runs_handlers() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "timeoutSec: 1
handlerOn:
  failure:
    command: echo \"$DAG_RUN_STATUS\" > failure.txt
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: slow
    command: sleep 30; touch slow.finished
  - name: later
    command: touch later.ran
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!sb.exists("slow.finished"));
    assert!(!sb.exists("later.ran"));
    let st = sb.status_json("d");
    assert_eq!(st["status"], 2);
    assert_eq!(state(&st, "slow"), 3);
    assert_ne!(state(&st, "later"), 4);
    assert_eq!(sb.read("failure.txt").trim(), "failed", "failure handler");
    assert_eq!(sb.read("exit.txt").trim(), "failed", "exit handler");
    assert_eq!(st["onFailure"]["status"], 4);
    assert_eq!(st["onExit"]["status"], 4);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle handlers
// ---------------------------------------------------------------------------------------------

const ORDER_HANDLERS: &str = "handlerOn:
  init:
    command: echo \"init:$DAG_RUN_STATUS\" >> order.txt
  success:
    command: echo \"success:$DAG_RUN_STATUS\" >> order.txt
  failure:
    command: echo \"failure:$DAG_RUN_STATUS\" >> order.txt
  abort:
    command: echo \"abort:$DAG_RUN_STATUS\" >> order.txt
  exit:
    command: echo \"exit:$DAG_RUN_STATUS\" >> order.txt
";

#[test]
fn engine_handlers_on_success_run_in_order() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!("{ORDER_HANDLERS}steps:\n  - name: work\n    command: echo step >> order.txt\n"),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        lines(&sb, "order.txt"),
        vec![
            "init:running",
            "step",
            "success:succeeded",
            "exit:succeeded"
        ]
    );
    let st = sb.status_json("d");
    assert_eq!(st["onInit"]["status"], 4);
    assert_eq!(st["onSuccess"]["status"], 4);
    assert_eq!(st["onExit"]["status"], 4);
}

#[test]
fn engine_handlers_on_failure_run_in_order() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "{ORDER_HANDLERS}steps:\n  - name: work\n    command: echo step >> order.txt; exit 1\n"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        lines(&sb, "order.txt"),
        vec!["init:running", "step", "failure:failed", "exit:failed"]
    );
    assert_eq!(sb.status_json("d")["onFailure"]["status"], 4);
}

#[test]
fn engine_handlers_see_partially_succeeded() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "{ORDER_HANDLERS}steps:
  - name: bad
    command: exit 1
    continueOn: failed
  - name: good
    command: echo step >> order.txt
"
        ),
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        lines(&sb, "order.txt"),
        vec![
            "init:running",
            "step",
            "success:partially_succeeded",
            "exit:partially_succeeded"
        ]
    );
}

#[test]
fn engine_init_handler_failure_runs_no_steps_but_runs_exit_handler() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "handlerOn:
  init:
    command: exit 1
  failure:
    command: touch failure.ran
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: work
    command: touch work.ran
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!sb.exists("work.ran"));
    assert!(!sb.exists("failure.ran"));
    assert!(sb.exists("exit.txt"), "exit handler did not run");
    let st = sb.status_json("d");
    assert_eq!(st["status"], 3);
    assert_eq!(st["onInit"]["status"], 2);
    assert_ne!(state(&st, "work"), 4);
}

#[test]
fn engine_failing_success_handler_fails_the_run() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "handlerOn:
  success:
    command: exit 1
  exit:
    command: echo \"$DAG_RUN_STATUS\" > exit.txt
steps:
  - name: work
    command: \"true\"
",
    );
    assert_eq!(run.code, 1);
    assert_eq!(sb.read("exit.txt").trim(), "failed");
    assert_eq!(sb.status_json("d")["status"], 2);
}

#[test]
fn engine_handler_step_name_variable() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "handlerOn:
  success:
    command: echo \"$DAG_RUN_STEP_NAME\" >> names.txt
  exit:
    command: echo \"$DAG_RUN_STEP_NAME\" >> names.txt
steps:
  - name: work
    command: echo \"$DAG_RUN_STEP_NAME\" >> names.txt
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(lines(&sb, "names.txt"), vec!["work", "onSuccess", "onExit"]);
}

// ---------------------------------------------------------------------------------------------
// Sub-DAGs
// ---------------------------------------------------------------------------------------------

#[test]
fn engine_call_local_document_passes_params_and_returns_outputs() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: build
    call: builder
    params: \"TARGET=linux\"
    output: R
  - name: show
    command: echo \"${R.outputs.ARTIFACT}\" > got.txt
---
name: builder
params:
  - TARGET: none
steps:
  - name: compile
    command: echo \"app-${TARGET}.bin\"
    output: ARTIFACT
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("got.txt").trim(), "app-linux.bin");
    let st = sb.status_json("d");
    assert_eq!(state(&st, "build"), 4);
    let children = node(&st, "build")["children"].as_array().cloned();
    assert_eq!(
        children.map(|c| c.len()),
        Some(1),
        "{:#}",
        node(&st, "build")
    );
}

#[test]
fn engine_call_other_file_next_to_the_dag() {
    let sb = Sandbox::new();
    sb.write(
        "flows/child.yaml",
        "params:
  - WHO: nobody
steps:
  - name: greet
    command: echo \"hello ${WHO}\"
    output: GREETING
",
    );
    sb.write(
        "flows/parent.yaml",
        "steps:
  - name: call-child
    call: child
    params:
      WHO: world
    output: R
  - name: show
    command: echo \"${R.outputs.GREETING}\" > got.txt
",
    );
    let run = sb.run(&["start", "flows/parent.yaml"]);
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("flows/got.txt").trim(), "hello world");
}

#[test]
fn engine_call_path_with_yaml_extension() {
    let sb = Sandbox::new();
    sb.write(
        "child.yaml",
        "steps:\n  - name: c\n    command: touch child.ran\n",
    );
    let run = start(&sb, "steps:\n  - name: call\n    call: child.yaml\n");
    assert_eq!(run.code, 0, "{}", run.explain());
    assert!(sb.exists("child.ran"));
}

#[test]
fn engine_child_failure_fails_the_calling_step() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: call
    call: broken
  - name: after
    command: touch after.ran
---
name: broken
steps:
  - name: boom
    command: exit 1
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert!(!sb.exists("after.ran"));
    let st = sb.status_json("d");
    assert_eq!(st["status"], 2);
    assert_eq!(state(&st, "call"), 2);
    assert_eq!(state(&st, "after"), 3);
}

#[test]
fn engine_missing_sub_dag_fails_at_run_time() {
    let sb = Sandbox::new();
    sb.write(
        "d.yaml",
        "steps:\n  - name: call\n    call: does-not-exist\n",
    );
    assert_eq!(sb.run(&["validate", "d.yaml"]).code, 0);
    let run = sb.run(&["start", "d.yaml"]);
    assert_eq!(run.code, 1);
    assert_eq!(state(&sb.status_json("d"), "call"), 2);
}

#[test]
fn engine_legacy_run_key_calls_sub_dag() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: call
    run: child
    params: \"X=legacy\"
---
name: child
params:
  - X: none
steps:
  - name: c
    command: echo \"${X}\" > child.txt
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("child.txt").trim(), "legacy");
}

#[test]
fn engine_sub_dag_does_not_inherit_parent_env() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "env:
  - PARENT_ONLY: secret
steps:
  - name: call
    call: child
---
name: child
steps:
  - name: c
    command: echo \"[${PARENT_ONLY}]\" > child.txt
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sb.read("child.txt").trim(), "[]");
}

// ---------------------------------------------------------------------------------------------
// parallel
// ---------------------------------------------------------------------------------------------

const WORKER: &str = "---
name: worker
params:
  - NAME: none
steps:
  - name: w
    command: echo \"${NAME}\" >> seen.txt
";

fn sorted_lines(sb: &Sandbox, rel: &str) -> Vec<String> {
    let mut v = lines(sb, rel);
    v.sort();
    v
}

#[test]
fn engine_parallel_runs_one_child_per_item() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: fan
    call: worker
    parallel: [alpha, beta, gamma]
    params: \"NAME=${{ITEM}}\"
{WORKER}"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(
        sorted_lines(&sb, "seen.txt"),
        vec!["alpha", "beta", "gamma"]
    );
    let st = sb.status_json("d");
    assert_eq!(state(&st, "fan"), 4);
    assert_eq!(
        node(&st, "fan")["children"].as_array().map(Vec::len),
        Some(3)
    );
}

#[test]
fn engine_parallel_object_items_expose_fields() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: fan
    call: worker
    parallel:
      items:
        - {{region: eu, size: 1}}
        - {{region: us, size: 2}}
    params: \"NAME=${{ITEM.region}}-${{ITEM.size}}\"
{WORKER}"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sorted_lines(&sb, "seen.txt"), vec!["eu-1", "us-2"]);
}

#[test]
fn engine_parallel_duplicate_items_collapse_into_one_run() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: fan
    call: worker
    parallel: [a, a, b]
    params: \"NAME=${{ITEM}}\"
{WORKER}"
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(sorted_lines(&sb, "seen.txt"), vec!["a", "b"]);
}

#[test]
fn engine_parallel_max_concurrent_caps_children() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        &format!(
            "steps:
  - name: fan
    call: counter
    parallel:
      items: [c1, c2, c3, c4, c5]
      maxConcurrent: 2
    params: \"ME=${{ITEM}}\"
---
name: counter
params:
  - ME: none
steps:
  - name: count
    command: |
{}",
            indent(&counted("${ME}", 3, 30), 6)
        ),
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    assert_eq!(lines(&sb, "done").len(), 5);
    assert_eq!(max_count(&sb), 2, "counts: {:?}", lines(&sb, "counts"));
}

#[test]
fn engine_parallel_child_failure_fails_the_step() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: fan
    call: picky
    parallel: [ok, bad, ok2]
    params: \"NAME=${ITEM}\"
---
name: picky
params:
  - NAME: none
steps:
  - name: p
    command: echo \"${NAME}\" >> seen.txt; test \"${NAME}\" != bad
",
    );
    assert_eq!(run.code, 1, "{}", run.explain());
    assert_eq!(sorted_lines(&sb, "seen.txt"), vec!["bad", "ok", "ok2"]);
    let st = sb.status_json("d");
    assert_eq!(state(&st, "fan"), 2);
    assert_eq!(st["status"], 2);
}

#[test]
fn engine_parallel_output_summarises_children() {
    let sb = Sandbox::new();
    let run = start(
        &sb,
        "steps:
  - name: fan
    call: echoer
    parallel: [x, y]
    params: \"NAME=${ITEM}\"
    output: FAN
  - name: show
    command: printenv FAN > fan.json
---
name: echoer
params:
  - NAME: none
steps:
  - name: e
    command: echo \"got-${NAME}\"
    output: RESULT
",
    );
    assert_eq!(run.code, 0, "{}", run.explain());
    let fan: Value = serde_json::from_str(sb.read("fan.json").trim()).expect("fan output JSON");
    assert_eq!(fan["summary"]["total"], 2, "{fan:#}");
    assert_eq!(fan["summary"]["succeeded"], 2);
    assert_eq!(fan["summary"]["failed"], 0);
    let mut results: Vec<String> = fan["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .map(|o| o["RESULT"].as_str().unwrap_or_default().to_string())
        .collect();
    results.sort();
    assert_eq!(results, vec!["got-x", "got-y"]);
}
