//! Builds a [`Dag`] from one YAML document, over the base configuration.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::build::inherit::Inherited;
use crate::build::step::{self, StepDefaults};
use crate::build::values::{
    boolean, conditions, env_entries, integer, param_list, seconds, text, text_list,
};
use crate::error::Errors;
use crate::fields::{Field, Obj};
use crate::graph::{self, Placed};
use crate::model::{Dag, ExecutionType, HandlerKind, Secret, Step};
use crate::schedule;
use crate::yaml::{Node, Value};

/// Longest allowed DAG name.
pub const MAX_DAG_NAME: usize = 40;

static NAME_FORMAT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.-]+$").unwrap());

/// Builds document `index` of `file`. `base` is the DAG built from `base.yaml`, whose
/// values the document overrides (lists such as env and params are appended to).
/// `custom_types` are the step types steps may use besides the builtin and plugin ones.
pub fn build(
    doc: &Node,
    file: &Path,
    index: usize,
    base: Option<&Dag>,
    step_types: Option<&crate::StepTypes>,
    custom_types: Option<&crate::CustomTypes>,
    errors: &mut Errors,
) -> Dag {
    let mut dag = base.cloned().unwrap_or_default();
    dag.location = Some(file.to_path_buf());
    dag.document = index;
    dag.steps.clear();
    let Some(root) = Obj::new(doc, "") else {
        errors.push(
            doc.pos,
            "",
            format!("a DAG document must be a map, got a {}", doc.kind()),
        );
        return dag;
    };
    read_metadata(&root, &mut dag, file, index, errors);
    read_execution(&root, &mut dag, errors);
    read_data(&root, &mut dag, errors);
    let defaults = StepDefaults {
        inherited: Inherited {
            ssh: root.get(errors, "ssh").map(|f| f.node),
            container: root.get(errors, "container").map(|f| f.node),
        },
        step_types,
        custom_types,
    };
    dag.handlers.inherited = HandlerKind::ALL
        .into_iter()
        .filter(|k| dag.handler(*k).is_some())
        .collect();
    read_handlers(&root, &mut dag, defaults, errors);
    if let Some(f) = root.get(errors, "steps") {
        dag.steps = steps(&f, dag.execution == ExecutionType::Chain, defaults, errors);
    }
    dag
}

fn read_metadata(root: &Obj, dag: &mut Dag, file: &Path, index: usize, errors: &mut Errors) {
    match root
        .get(errors, "name")
        .and_then(|f| text(&f, errors).map(|n| (n, f)))
    {
        Some((name, f)) => {
            dag.name = name.trim().to_string();
            check_name(&dag.name, &f, errors);
        }
        None if index == 0 => {
            dag.name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        None => errors.push(
            root.node.pos,
            "name",
            format!("DAG at index {index} must have a name in multi-DAG file"),
        ),
    }
    dag.description = root
        .get(errors, "description")
        .and_then(|f| text(&f, errors))
        .map(|s| s.trim().to_string());
    dag.group = root
        .get(errors, "group")
        .and_then(|f| text(&f, errors))
        .map(|s| s.trim().to_string());
    for key in ["tags", "labels"] {
        if let Some(f) = root.get(errors, key) {
            let raw = text_list(&f, errors);
            dag.tags.extend(
                raw.iter()
                    .flat_map(|t| t.split(','))
                    .map(|t| t.trim().to_lowercase())
                    .filter(|t| !t.is_empty()),
            );
        }
    }
    if let Some(f) = root.get(errors, "schedule") {
        dag.schedule = schedule_list(&f, errors);
    }
    if let Some(f) = root.get(errors, "skip_if_successful") {
        dag.skip_if_successful = boolean(&f, errors);
    }
}

fn check_name(name: &str, f: &Field, errors: &mut Errors) {
    if name.chars().count() > MAX_DAG_NAME {
        errors.push(
            f.node.pos,
            &f.path,
            format!("name must be less than {MAX_DAG_NAME} characters"),
        );
    }
    if !NAME_FORMAT.is_match(name) {
        errors.push(
            f.node.pos,
            &f.path,
            "name must only contain alphanumeric characters, dashes, dots, and underscores",
        );
    }
}

fn schedule_list(f: &Field, errors: &mut Errors) -> Vec<String> {
    let mut exprs: Vec<(String, &Node)> = Vec::new();
    fn collect<'n>(n: &'n Node, exprs: &mut Vec<(String, &'n Node)>) {
        match &n.value {
            Value::Seq(items) => {
                exprs.extend(items.iter().filter_map(|i| i.text().map(|t| (t, i))))
            }
            _ => exprs.extend(n.text().map(|t| (t, n))),
        }
    }
    match Obj::new(f.node, &f.path) {
        Some(obj) => {
            for key in ["start", "stop", "restart"] {
                if let Some(k) = obj.get(errors, key) {
                    collect(k.node, &mut exprs);
                }
            }
        }
        None => collect(f.node, &mut exprs),
    }
    for (expr, node) in &exprs {
        if let Err(msg) = schedule::check(expr) {
            errors.push(node.pos, &f.path, format!("invalid schedule: {msg}"));
        }
    }
    exprs.into_iter().map(|(e, _)| e).collect()
}

fn read_execution(root: &Obj, dag: &mut Dag, errors: &mut Errors) {
    if let Some(f) = root.get(errors, "type") {
        match text(&f, errors).as_deref() {
            Some("chain") => dag.execution = ExecutionType::Chain,
            Some("graph") => dag.execution = ExecutionType::Graph,
            Some("agent") => errors.push(f.node.pos, &f.path, "type 'agent' is reserved"),
            Some(other) => errors.push(
                f.node.pos,
                &f.path,
                format!("invalid type: {other} (must be one of: graph, chain)"),
            ),
            None => {}
        }
    }
    let mut set_secs = |key: &str, slot: &mut Option<std::time::Duration>| {
        if let Some(f) = root.get(errors, key)
            && let Some(d) = seconds(&f, errors).filter(|d| !d.is_zero())
        {
            *slot = Some(d);
        }
    };
    set_secs("timeout_sec", &mut dag.timeout);
    set_secs("delay_sec", &mut dag.delay);
    set_secs("restart_wait_sec", &mut dag.restart_wait);
    let mut cleanup = None;
    set_secs("max_clean_up_time_sec", &mut cleanup);
    if let Some(c) = cleanup {
        dag.max_clean_up_time = c;
    } else if dag.max_clean_up_time.is_zero() {
        dag.max_clean_up_time = crate::model::DEFAULT_MAX_CLEAN_UP_TIME;
    }
    if let Some(n) = root
        .get(errors, "max_active_steps")
        .and_then(|f| integer(&f, errors))
    {
        dag.max_active_steps = n.max(0) as usize;
    }
    if let Some(n) = root
        .get(errors, "max_active_runs")
        .and_then(|f| integer(&f, errors))
    {
        dag.max_active_runs = n;
    }
    if let Some(q) = root.get(errors, "queue").and_then(|f| text(&f, errors)) {
        dag.queue = Some(q);
    }
    for key in ["preconditions", "precondition"] {
        if let Some(f) = root.get(errors, key) {
            dag.preconditions.extend(conditions(&f, errors));
        }
    }
}

fn read_data(root: &Obj, dag: &mut Dag, errors: &mut Errors) {
    if let Some(f) = root.get(errors, "env") {
        dag.env.extend(env_entries(&f, errors));
    }
    if let Some(f) = root.get(errors, "params") {
        dag.params.extend(param_list(&f, errors));
    }
    if let Some(f) = root.get(errors, "dotenv") {
        let files = text_list(&f, errors);
        if files.is_empty() && matches!(f.node.value, Value::Seq(_)) {
            dag.dotenv.push(crate::load::DOTENV_DISABLED.to_string());
        } else {
            dag.dotenv.extend(files);
        }
    }
    if let Some(f) = root.get(errors, "secrets") {
        dag.secrets.extend(secrets(&f, errors));
    }
    if let Some(f) = root.get(errors, "working_dir") {
        dag.working_dir = text(&f, errors)
            .filter(|s| !s.is_empty())
            .or(dag.working_dir.take());
    }
    if let Some(f) = root.get(errors, "shell") {
        dag.shell = step::shell(&f, errors).or(dag.shell.take());
    }
    if let Some(f) = root.get(errors, "log_dir") {
        dag.log_dir = text(&f, errors);
    }
    if let Some(f) = root.get(errors, "log_output") {
        dag.log_output = step::log_output(&f, errors).unwrap_or(dag.log_output);
    }
    if let Some(n) = root
        .get(errors, "hist_retention_days")
        .and_then(|f| integer(&f, errors))
        && n != 0
    {
        dag.hist_retention_days = Some(n);
    }
    match root
        .get(errors, "max_output_size")
        .and_then(|f| integer(&f, errors))
    {
        Some(n) if n > 0 => dag.max_output_size = n as usize,
        _ if dag.max_output_size == 0 => {
            dag.max_output_size = crate::model::DEFAULT_MAX_OUTPUT_SIZE
        }
        _ => {}
    }
}

fn secrets(f: &Field, errors: &mut Errors) -> Vec<Secret> {
    let mut out = Vec::new();
    for (i, item) in f.node.as_seq().unwrap_or_default().iter().enumerate() {
        let path = format!("{}[{i}]", f.path);
        let Some(obj) = Obj::new(item, &path) else {
            errors.push(
                item.pos,
                &path,
                "expected a map with name, provider and key",
            );
            continue;
        };
        let mut get = |k: &str| obj.get(errors, k).and_then(|v| v.node.text());
        match (get("name"), get("provider"), get("key")) {
            (Some(name), Some(provider), Some(key)) => {
                if out.iter().any(|s: &Secret| s.name == name) {
                    errors.push(item.pos, &path, format!("duplicate secret name '{name}'"));
                }
                out.push(Secret {
                    name,
                    provider,
                    key,
                });
            }
            _ => errors.push(item.pos, &path, "a secret needs name, provider and key"),
        }
    }
    out
}

fn read_handlers(root: &Obj, dag: &mut Dag, defaults: StepDefaults<'_>, errors: &mut Errors) {
    let Some(f) = root.get(errors, "handler_on") else {
        return;
    };
    let Some(obj) = Obj::new(f.node, &f.path) else {
        errors.push(f.node.pos, &f.path, "expected a map of handlers");
        return;
    };
    if let (Some(a), Some(_)) = (obj.get(errors, "abort"), obj.get(errors, "cancel")) {
        errors.push(
            a.key_pos,
            &f.path,
            "cannot specify both 'abort' and 'cancel'",
        );
    }
    let kinds = [
        ("init", HandlerKind::Init),
        ("success", HandlerKind::Success),
        ("failure", HandlerKind::Failure),
        ("abort", HandlerKind::Abort),
        ("cancel", HandlerKind::Abort),
        ("exit", HandlerKind::Exit),
        ("wait", HandlerKind::Wait),
    ];
    for (key, kind) in kinds {
        let Some(h) = obj.get(errors, key) else {
            continue;
        };
        let Some(mut built) = step::build(h.node, h.path.clone(), defaults, errors) else {
            continue;
        };
        built.step.name = kind.step_name().to_string();
        *dag.handlers.slot_mut(kind) = Some(built.step);
        dag.handlers.inherited.retain(|k| *k != kind);
    }
}

fn steps(f: &Field, chain: bool, defaults: StepDefaults<'_>, errors: &mut Errors) -> Vec<Step> {
    let mut placed = Vec::new();
    match &f.node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let group = i + 1;
                let path = format!("{}[{i}]", f.path);
                match &item.value {
                    Value::Seq(members) => {
                        for (j, m) in members.iter().enumerate() {
                            if let Some(built) =
                                step::build(m, format!("{path}[{j}]"), defaults, errors)
                            {
                                placed.push(Placed { group, built });
                            }
                        }
                    }
                    _ => {
                        if let Some(built) = step::build(item, path, defaults, errors) {
                            placed.push(Placed { group, built });
                        }
                    }
                }
            }
            graph::wire(placed, chain, errors)
        }
        Value::Map(entries) => {
            for (i, (key, node)) in entries.iter().enumerate() {
                let name = key.text().unwrap_or_default();
                let path = format!("{}.{name}", f.path);
                if let Some(mut built) = step::build(node, path, defaults, errors) {
                    if !built.named {
                        built.step.name = name;
                        built.named = true;
                        built.name_pos = key.pos;
                    }
                    placed.push(Placed {
                        group: i + 1,
                        built,
                    });
                }
            }
            graph::wire(placed, false, errors)
        }
        Value::Null => Vec::new(),
        _ => {
            errors.push(f.node.pos, &f.path, "steps must be an array or a map");
            Vec::new()
        }
    }
}
