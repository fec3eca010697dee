//! Builds one [`Step`] from its YAML node.

use crate::build::inherit::{self, Inherited};
use crate::build::policy;
use crate::build::values::{
    boolean, conditions, env_entries, scalar_or_json, seconds, text, text_list,
};
use crate::custom_types::{CustomTypes, Expansion};
use crate::error::Errors;
use crate::fields::{Field, Obj};
use crate::model::{Call, Command, LogOutput, Parallel, ParallelItems, Shell, Step};
use crate::yaml::{Node, Pos, Value};

/// What the DAG around a step provides by default, and what the loader knows.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepDefaults<'a> {
    /// DAG-level `ssh:` (makes untyped steps remote) and `container:` (runs untyped steps
    /// in the run's container), which such steps take as their config.
    pub inherited: Inherited<'a>,
    /// Config schemas of plugin step types.
    pub step_types: Option<&'a crate::StepTypes>,
    /// Custom step types (`step_types`), expanded before a step is built.
    pub custom_types: Option<&'a CustomTypes>,
}

/// A step as built, plus what the graph pass needs.
#[derive(Debug)]
pub struct BuiltStep {
    pub step: Step,
    /// Whether the user gave the name (otherwise it is generated later).
    pub named: bool,
    /// Explicit `depends` with positions; `Some(vec![])` for `depends: []`.
    pub depends: Option<Vec<(String, Pos)>>,
    pub pos: Pos,
    pub name_pos: Pos,
    pub id_pos: Pos,
    /// Field path of the step (`steps[3]`).
    pub path: String,
}

impl BuiltStep {
    /// An empty step at `node`.
    fn new(node: &Node, path: String) -> Self {
        BuiltStep {
            step: Step::default(),
            named: false,
            depends: None,
            pos: node.pos,
            name_pos: node.pos,
            id_pos: node.pos,
            path,
        }
    }
}

/// Signal names accepted by `signalOnStop`.
const SIGNALS: &[&str] = &[
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGWINCH",
];

/// Step types that accept `script:`.
const SCRIPT_TYPES: &[&str] = &["command", "http", "jq", "template"];

/// Builds a step from a map node or a string shorthand.
pub fn build(
    node: &Node,
    path: String,
    defaults: StepDefaults<'_>,
    errors: &mut Errors,
) -> Option<BuiltStep> {
    if let Some(types) = defaults.custom_types
        && let Some(obj) = Obj::new(node, &path)
    {
        match types.expand(&obj, errors) {
            Expansion::NotCustom => {}
            Expansion::Step(expanded) => {
                let builtin = StepDefaults {
                    custom_types: None,
                    ..defaults
                };
                return build(&expanded, path, builtin, errors);
            }
            Expansion::Failed => {
                // Kept with its name and dependencies so that the graph checks do not
                // report follow-on errors; the load fails anyway.
                let mut built = BuiltStep::new(node, path.clone());
                read_identity(&obj, &mut built, errors);
                read_control(&obj, &mut built, errors);
                return Some(built);
            }
        }
    }
    let mut built = BuiltStep::new(node, path);
    if let Some(cmd) = node.text() {
        built.step.step_type = "command".into();
        set_command(&mut built.step, Command::Line(cmd));
        return Some(built);
    }
    let path = built.path.clone();
    let Some(obj) = Obj::new(node, &path) else {
        errors.push(
            node.pos,
            &built.path,
            format!("a step must be a map or a string, got a {}", node.kind()),
        );
        return None;
    };
    read_identity(&obj, &mut built, errors);
    read_execution(&obj, &mut built.step, defaults, errors);
    read_io(&obj, &mut built.step, errors);
    read_control(&obj, &mut built, errors);
    check_capabilities(&obj, &built.step, errors);
    if let Some(types) = defaults.step_types {
        check_config(&obj, &built.step, types, errors);
    }
    Some(built)
}

fn read_identity(obj: &Obj, built: &mut BuiltStep, errors: &mut Errors) {
    if let Some(f) = obj.get(errors, "name")
        && let Some(name) = text(&f, errors)
    {
        built.step.name = name.trim().to_string();
        built.named = !built.step.name.is_empty();
        built.name_pos = f.node.pos;
    }
    if let Some(f) = obj.get(errors, "id") {
        built.step.id = text(&f, errors);
        built.id_pos = f.node.pos;
    }
    built.step.description = obj
        .get(errors, "description")
        .and_then(|f| text(&f, errors));
}

fn read_execution(obj: &Obj, step: &mut Step, defaults: StepDefaults<'_>, errors: &mut Errors) {
    let type_field = obj.get(errors, "type");
    let executor = obj.get(errors, "executor");
    if let (Some(t), Some(_)) = (&type_field, &executor) {
        errors.push(
            t.key_pos,
            &t.path,
            "'type' and 'executor' cannot be used together",
        );
    }
    let mut step_type = type_field.as_ref().and_then(|t| text(t, errors));
    let mut config = None;
    if let Some(ex) = &executor {
        match Obj::new(ex.node, &ex.path) {
            Some(ex_obj) => {
                step_type = ex_obj.get(errors, "type").and_then(|t| text(&t, errors));
                config = ex_obj.get(errors, "config").map(|c| c.node.to_json());
            }
            None => step_type = text(ex, errors),
        }
    }
    if let Some(c) = config_field(obj, errors) {
        let json = c.node.to_json();
        config = Some(match (config.take(), json) {
            (Some(serde_json::Value::Object(mut base)), serde_json::Value::Object(over)) => {
                base.extend(over);
                serde_json::Value::Object(base)
            }
            (_, json) => json,
        });
    }
    step.config = config.unwrap_or(serde_json::Value::Null);

    let call = obj.get(errors, "call").or_else(|| obj.get(errors, "run"));
    if let Some(c) = call {
        step.call = text(&c, errors).map(|target| Call {
            target,
            params: None,
            parallel: None,
        });
    }
    if let Some(p) = obj.get(errors, "params") {
        let params = params_string(&p);
        if let Some(call) = &mut step.call {
            call.params = Some(params);
        }
    }
    if let Some(p) = obj.get(errors, "parallel") {
        match (&mut step.call, parallel(&p, errors)) {
            (Some(call), Some(par)) => call.parallel = Some(par),
            (None, _) => errors.push(
                p.key_pos,
                &p.path,
                "parallel execution is only supported for child-DAGs (add 'call')",
            ),
            _ => {}
        }
    }
    let step_container = obj.get(errors, "container").map(|c| c.node);
    step.step_type = match (step_type, &step.call) {
        (Some(t), _) => canonical_type(&t),
        (None, Some(call)) if call.parallel.is_some() => "parallel".into(),
        (None, Some(_)) => "dag".into(),
        (None, None) if step_container.is_some() => "docker".into(),
        (None, None) if defaults.inherited.container.is_some() => "container".into(),
        (None, None) if defaults.inherited.ssh.is_some() => "ssh".into(),
        (None, None) => "command".into(),
    };
    inherit::apply(step, defaults.inherited, step_container);
    if let Some(c) = obj.get(errors, "command") {
        match &c.node.value {
            Value::Seq(_) => set_command(step, Command::List(text_list(&c, errors))),
            _ => {
                if let Some(t) = text(&c, errors) {
                    set_command(step, Command::Line(t));
                }
            }
        }
    }
    if let Some(s) = obj.get(errors, "script").and_then(|s| text(&s, errors)) {
        step.script = Some(s);
    }
    if let Some(s) = obj.get(errors, "shell") {
        step.shell = shell(&s, errors);
    }
    step.shell_packages = obj
        .get(errors, "shell_packages")
        .map(|f| text_list(&f, errors))
        .unwrap_or_default();
}

/// The step's `config` or its 2.x name `with`; both at once is an error.
pub(crate) fn config_field<'a>(obj: &Obj<'a>, errors: &mut Errors) -> Option<Field<'a>> {
    let config = obj.get(errors, "config");
    let with = obj.get(errors, "with");
    if let (Some(c), Some(_)) = (&config, &with) {
        errors.push(
            c.key_pos,
            &c.path,
            "'config' and 'with' cannot be used together",
        );
    }
    config.or(with)
}

/// Legacy and alias type names mapped to the ones the engine dispatches on.
fn canonical_type(t: &str) -> String {
    match t.trim() {
        "shell" | "" => "command".into(),
        "subworkflow" => "dag".into(),
        "github_action" | "github-action" => "gha".into(),
        other => other.to_string(),
    }
}

/// A one-line command is run through the shell; a multi-line one is treated as a script,
/// except on ssh, where the remote login shell reads all its lines.
fn set_command(step: &mut Step, command: Command) {
    match command {
        Command::Line(line)
            if line.trim_end().contains('\n')
                && step.script.is_none()
                && step.step_type != "ssh" =>
        {
            step.script = Some(line);
            step.command = None;
        }
        other => step.command = Some(other),
    }
}

/// `shell:` as a string (tokenised) or a list.
pub fn shell(f: &Field, errors: &mut Errors) -> Option<Shell> {
    let words = match &f.node.value {
        Value::Seq(_) => text_list(f, errors),
        _ => {
            let t = text(f, errors)?;
            match dagu_eval::shell::split_words(&t) {
                Ok(w) => w,
                Err(e) => {
                    errors.push(f.node.pos, &f.path, e.to_string());
                    return None;
                }
            }
        }
    };
    let mut words = words.into_iter();
    let program = words.next()?;
    Some(Shell {
        program,
        args: words.collect(),
    })
}

fn read_io(obj: &Obj, step: &mut Step, errors: &mut Errors) {
    let dir = obj.get(errors, "working_dir");
    let alias = obj.get(errors, "dir");
    if let (Some(d), Some(_)) = (&dir, &alias) {
        errors.push(
            d.key_pos,
            &d.path,
            "'dir' and 'workingDir' cannot be used together",
        );
    }
    step.dir = dir.or(alias).and_then(|d| text(&d, errors));
    step.stdout = obj.get(errors, "stdout").and_then(|f| text(&f, errors));
    let stderr = obj.get(errors, "stderr");
    step.stderr = stderr.as_ref().and_then(|f| text(f, errors));
    if let (Some(out), Some(err), Some(f)) = (&step.stdout, &step.stderr, &stderr)
        && out == err
    {
        errors.push(
            f.node.pos,
            &f.path,
            "stdout and stderr point to the same file; use 'logOutput: merged' instead",
        );
    }
    if let Some(f) = obj.get(errors, "log_output") {
        step.log_output = log_output(&f, errors);
    }
    step.output = obj
        .get(errors, "output")
        .and_then(|f| policy::output(&f, errors));
    step.env = obj
        .get(errors, "env")
        .map(|f| env_entries(&f, errors))
        .unwrap_or_default();
}

/// `logOutput: separate | merged`.
pub fn log_output(f: &Field, errors: &mut Errors) -> Option<LogOutput> {
    match text(f, errors)?.as_str() {
        "separate" => Some(LogOutput::Separate),
        "merged" => Some(LogOutput::Merged),
        other => {
            errors.push(
                f.node.pos,
                &f.path,
                format!("expected 'separate' or 'merged' (value: {other})"),
            );
            None
        }
    }
}

fn read_control(obj: &Obj, built: &mut BuiltStep, errors: &mut Errors) {
    let step = &mut built.step;
    if let Some(f) = obj.get(errors, "depends") {
        built.depends = Some(match &f.node.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|n| n.text().map(|t| (t.trim().to_string(), n.pos)))
                .collect(),
            Value::Null => Vec::new(),
            _ => text(&f, errors)
                .map(|t| vec![(t.trim().to_string(), f.node.pos)])
                .unwrap_or_default(),
        });
    }
    if let Some(f) = obj.get(errors, "continue_on") {
        step.continue_on = policy::continue_on(&f, errors);
    }
    step.retry = obj
        .get(errors, "retry_policy")
        .and_then(|f| policy::retry(&f, errors));
    step.repeat = obj
        .get(errors, "repeat_policy")
        .and_then(|f| policy::repeat(&f, errors));
    step.mail_on_error = obj
        .get(errors, "mail_on_error")
        .is_some_and(|f| boolean(&f, errors));
    for key in ["preconditions", "precondition"] {
        if let Some(f) = obj.get(errors, key) {
            step.preconditions.extend(conditions(&f, errors));
        }
    }
    if let Some(f) = obj.get(errors, "signal_on_stop")
        && let Some(sig) = text(&f, errors)
    {
        let upper = sig.trim().to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        if SIGNALS.contains(&full.as_str()) {
            step.signal_on_stop = Some(full);
        } else {
            errors.push(f.node.pos, &f.path, format!("invalid signal: {sig}"));
        }
    }
    if let Some(f) = obj.get(errors, "timeout_sec") {
        step.timeout = seconds(&f, errors).filter(|d| !d.is_zero());
    }
}

/// Checks the step's `config` / `with` / `executor.config` against its plugin's schema.
fn check_config(obj: &Obj, step: &Step, types: &crate::StepTypes, errors: &mut Errors) {
    if !types.contains(&step.step_type) {
        return;
    }
    let mut quiet = Errors::new(std::path::Path::new(""));
    let field = obj
        .get(&mut quiet, "config")
        .or_else(|| obj.get(&mut quiet, "with"))
        .or_else(|| {
            let ex = obj.get(&mut quiet, "executor")?;
            Obj::new(ex.node, obj.path())?
                .get(&mut quiet, "config")
                .map(|c| Field {
                    path: format!("{}.config", ex.path),
                    ..c
                })
        });
    let path = field
        .as_ref()
        .map_or_else(|| obj.child_path("config"), |f| f.path.clone());
    types.check(
        &step.step_type,
        field.map(|f| f.node),
        &path,
        obj.node,
        errors,
    );
}

fn check_capabilities(obj: &Obj, step: &Step, errors: &mut Errors) {
    if step.script.is_some()
        && obj.has("script")
        && !SCRIPT_TYPES.contains(&step.step_type.as_str())
    {
        errors.push(
            obj.node.pos,
            obj.path(),
            format!(
                "step type '{}' does not support the 'script' field",
                step.step_type
            ),
        );
    }
    let runs_something = step.command.is_some() || step.script.is_some() || step.call.is_some();
    if step.step_type == "command" && !runs_something {
        errors.push(
            obj.node.pos,
            obj.path(),
            "step command is required (add 'command', 'script' or 'call')",
        );
    }
    if step.call.is_some() && step.command.is_some() {
        errors.push(
            obj.node.pos,
            obj.path(),
            "a sub-DAG step ('call') cannot also have a 'command'",
        );
    }
    if matches!(step.step_type.as_str(), "dag" | "parallel") && step.call.is_none() {
        errors.push(
            obj.node.pos,
            obj.path(),
            format!(
                "executor type \"{}\" needs 'call: <dag>' naming the DAG to run",
                step.step_type
            ),
        );
    }
}

/// Sub-DAG `params:` as one params string; maps become `K="V"` tokens in document order.
fn params_string(f: &Field) -> String {
    match &f.node.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let value = scalar_or_json(v).replace('\\', "\\\\").replace('"', "\\\"");
                format!("{}=\"{}\"", k.text().unwrap_or_default(), value)
            })
            .collect::<Vec<_>>()
            .join(" "),
        Value::Seq(items) => items
            .iter()
            .map(scalar_or_json)
            .collect::<Vec<_>>()
            .join(" "),
        _ => scalar_or_json(f.node),
    }
}

/// `parallel:` — a list, an expression string, or `{items, maxConcurrent}`.
fn parallel(f: &Field, errors: &mut Errors) -> Option<Parallel> {
    const DEFAULT_MAX_CONCURRENT: usize = 10;
    let items_of = |n: &Node| match &n.value {
        Value::Seq(items) => ParallelItems::List(items.iter().map(Node::to_json).collect()),
        _ => ParallelItems::Expr(n.text().unwrap_or_default()),
    };
    let Some(obj) = Obj::new(f.node, &f.path) else {
        return Some(Parallel {
            items: items_of(f.node),
            max_concurrent: DEFAULT_MAX_CONCURRENT,
        });
    };
    let items = match obj.get(errors, "items") {
        Some(i) => items_of(i.node),
        None => {
            errors.push(f.node.pos, &f.path, "parallel needs 'items'");
            return None;
        }
    };
    let mut max_concurrent = DEFAULT_MAX_CONCURRENT;
    if let Some(m) = obj.get(errors, "max_concurrent") {
        match crate::build::values::integer(&m, errors) {
            Some(v) if v >= 1 => max_concurrent = v as usize,
            Some(v) => errors.push(
                m.node.pos,
                &m.path,
                format!("maxConcurrent must be at least 1 (value: {v})"),
            ),
            None => {}
        }
    }
    if let ParallelItems::List(list) = &items {
        if list.is_empty() {
            errors.push(f.node.pos, &f.path, "parallel needs at least one item");
        } else if list.len() > 1000 {
            errors.push(f.node.pos, &f.path, "parallel accepts at most 1000 items");
        }
    }
    Some(Parallel {
        items,
        max_concurrent,
    })
}
