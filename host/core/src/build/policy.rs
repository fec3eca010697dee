//! `retryPolicy`, `repeatPolicy`, `continueOn` and `output`.

use std::time::Duration;

use crate::build::values::{
    boolean, condition, count, exit_codes, number, seconds, text, text_list,
};
use crate::error::Errors;
use crate::fields::{Field, Obj};
use crate::model::{
    Condition, ContinueOn, Count, OutputSpec, RepeatMode, RepeatPolicy, RetryPolicy,
};
use crate::yaml::Value;

/// `retryPolicy` / `retry_policy`.
pub fn retry(f: &Field, errors: &mut Errors) -> Option<RetryPolicy> {
    let obj = object(f, errors)?;
    let limit = obj.get(errors, "limit").map(|l| count_or_expr(&l, errors));
    let interval = obj
        .get(errors, "interval_sec")
        .map(|i| count_or_expr(&i, errors));
    if limit.is_none() {
        errors.push(
            f.node.pos,
            &f.path,
            "limit is required when retryPolicy is specified",
        );
    }
    if interval.is_none() {
        errors.push(
            f.node.pos,
            &f.path,
            "intervalSec is required when retryPolicy is specified",
        );
    }
    let policy = RetryPolicy {
        limit: limit??,
        interval: interval??,
        backoff: backoff(&obj, errors),
        max_interval: obj
            .get(errors, "max_interval_sec")
            .and_then(|m| seconds(&m, errors)),
        exit_codes: obj
            .get(errors, "exit_code")
            .map(|c| exit_codes(&c, errors))
            .unwrap_or_default(),
    };
    Some(policy)
}

/// `repeatPolicy` / `repeat_policy`.
pub fn repeat(f: &Field, errors: &mut Errors) -> Option<RepeatPolicy> {
    let obj = object(f, errors)?;
    let expected = obj.get(errors, "expected").and_then(|e| text(&e, errors));
    let condition = obj.get(errors, "condition").and_then(|c| {
        let mut cond = condition(c.node, &c.path, errors)?;
        if cond.expected.is_none() {
            cond.expected = expected.clone();
        }
        Some(cond)
    });
    let codes = obj
        .get(errors, "exit_code")
        .map(|c| exit_codes(&c, errors))
        .unwrap_or_default();
    let has_predicate = condition.is_some() || !codes.is_empty();
    let mode = match obj.get(errors, "repeat") {
        Some(r) => match &r.node.value {
            Value::Bool(false) => return None,
            Value::Bool(true) => RepeatMode::While,
            Value::Str(s) if s == "while" || s == "until" => {
                if !has_predicate {
                    errors.push(
                        r.node.pos,
                        &r.path,
                        format!("repeat '{s}' needs a condition or exitCode"),
                    );
                }
                if s == "while" {
                    RepeatMode::While
                } else {
                    RepeatMode::Until
                }
            }
            _ => {
                errors.push(
                    r.node.pos,
                    &r.path,
                    "expected 'while', 'until' or a boolean",
                );
                return None;
            }
        },
        None => match &condition {
            Some(Condition {
                expected: Some(_), ..
            }) => RepeatMode::Until,
            Some(_) => RepeatMode::While,
            None if !codes.is_empty() => RepeatMode::While,
            None => RepeatMode::While,
        },
    };
    Some(RepeatPolicy {
        mode,
        condition,
        exit_codes: codes,
        interval: obj
            .get(errors, "interval_sec")
            .and_then(|i| seconds(&i, errors))
            .unwrap_or(Duration::ZERO),
        backoff: backoff(&obj, errors),
        max_interval: obj
            .get(errors, "max_interval_sec")
            .and_then(|m| seconds(&m, errors)),
        limit: obj
            .get(errors, "limit")
            .and_then(|l| count(&l, errors))
            .unwrap_or(0),
    })
}

/// `continueOn` / `continue_on`: `skipped`, `failed`, or an object.
pub fn continue_on(f: &Field, errors: &mut Errors) -> ContinueOn {
    let mut c = ContinueOn::default();
    if let Some(s) = f.node.as_str() {
        match s.trim().to_ascii_lowercase().as_str() {
            "skipped" => c.skipped = true,
            "failed" | "failure" => c.failure = true,
            other => errors.push(
                f.node.pos,
                &f.path,
                format!("expected 'skipped' or 'failed' (value: {other})"),
            ),
        }
        return c;
    }
    let Some(obj) = object(f, errors) else {
        return c;
    };
    c.failure = obj
        .get(errors, "failure")
        .is_some_and(|v| boolean(&v, errors));
    c.skipped = obj
        .get(errors, "skipped")
        .is_some_and(|v| boolean(&v, errors));
    c.mark_success = obj
        .get(errors, "mark_success")
        .is_some_and(|v| boolean(&v, errors));
    c.exit_codes = obj
        .get(errors, "exit_code")
        .map(|v| exit_codes(&v, errors))
        .unwrap_or_default();
    c.output = obj
        .get(errors, "output")
        .map(|v| text_list(&v, errors))
        .unwrap_or_default();
    c
}

/// `output:` — a variable name or `{name, key, omit}`.
pub fn output(f: &Field, errors: &mut Errors) -> Option<OutputSpec> {
    let strip = |s: &str| s.trim().trim_start_matches('$').to_string();
    if let Some(name) = f.node.as_str() {
        return Some(OutputSpec {
            name: strip(name),
            key: None,
            omit: false,
        });
    }
    let obj = object(f, errors)?;
    let Some(name) = obj.get(errors, "name").and_then(|n| text(&n, errors)) else {
        errors.push(f.node.pos, &f.path, "output needs a 'name'");
        return None;
    };
    Some(OutputSpec {
        name: strip(&name),
        key: obj.get(errors, "key").and_then(|k| text(&k, errors)),
        omit: obj.get(errors, "omit").is_some_and(|o| boolean(&o, errors)),
    })
}

fn object<'a>(f: &'a Field, errors: &mut Errors) -> Option<Obj<'a>> {
    let obj = Obj::new(f.node, &f.path);
    if obj.is_none() {
        errors.push(
            f.node.pos,
            &f.path,
            format!("expected a map, got a {}", f.node.kind()),
        );
    }
    obj
}

fn count_or_expr(f: &Field, errors: &mut Errors) -> Option<Count> {
    match &f.node.value {
        Value::Int(_) => count(f, errors).map(Count::Fixed),
        Value::Str(s) => Some(
            s.trim()
                .parse()
                .map_or_else(|_| Count::Expr(s.clone()), Count::Fixed),
        ),
        _ => {
            errors.push(f.node.pos, &f.path, "expected an integer or a string");
            None
        }
    }
}

fn backoff(obj: &Obj, errors: &mut Errors) -> Option<f64> {
    let f = obj.get(errors, "backoff")?;
    match &f.node.value {
        Value::Bool(true) => Some(2.0),
        Value::Bool(false) => None,
        _ => {
            let v = number(&f, errors)?;
            if v <= 1.0 {
                errors.push(
                    f.node.pos,
                    &f.path,
                    format!("backoff must be greater than 1.0 (value: {v})"),
                );
                return None;
            }
            Some(v)
        }
    }
}
