//! The human-readable result tree of a run (`start`, `status`, `dry`).

use std::fmt::Write;

use chrono::DateTime;
use dagu_store::{NodeState, NodeStatus, RunState, RunStatus};

/// How many lines of a step's output the tree shows.
const TAIL_LINES: usize = 3;

/// Colours for a terminal, or none.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn node_state(self, s: NodeState) -> String {
        let code = match s {
            NodeState::Succeeded => "32",
            NodeState::Failed | NodeState::Rejected => "31",
            NodeState::Aborted => "35",
            NodeState::Skipped | NodeState::NotStarted => "90",
            NodeState::PartiallySucceeded | NodeState::Waiting | NodeState::Retrying => "33",
            NodeState::Running => "36",
        };
        self.paint(&format!("[{}]", s.label()), code)
    }

    fn run_state(self, s: RunState) -> String {
        let code = match s {
            RunState::Succeeded => "32",
            RunState::Failed | RunState::Rejected => "31",
            RunState::Aborted => "35",
            _ => "33",
        };
        self.paint(s.title(), code)
    }
}

/// Renders a run record as a tree with a header and a result line.
pub fn tree(status: &RunStatus, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} - {}\n",
        style.run_state(status.status),
        status.started_at
    );
    let _ = writeln!(
        out,
        "dag: {} ({})",
        status.name,
        duration(&status.started_at, &status.finished_at)
    );
    let mut nodes: Vec<(String, &NodeStatus)> = status
        .nodes
        .iter()
        .map(|n| {
            (
                n.step
                    .as_ref()
                    .and_then(|s| s["name"].as_str())
                    .unwrap_or("?")
                    .to_string(),
                n,
            )
        })
        .collect();
    nodes.extend(
        status
            .handlers()
            .into_iter()
            .map(|(name, n)| (name.to_string(), n)),
    );
    if !nodes.is_empty() {
        out.push_str("│\n");
    }
    for (i, (name, node)) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        render_node(&mut out, name, node, last, style);
    }
    let label = if status.status.is_active() {
        "Status"
    } else {
        "Result"
    };
    let _ = writeln!(out, "\n{label}: {}", style.run_state(status.status));
    out
}

fn render_node(out: &mut String, name: &str, node: &NodeStatus, last: bool, style: Style) {
    let (branch, pad) = if last {
        ("└─", "  ")
    } else {
        ("├─", "│ ")
    };
    let dur = duration(&node.started_at, &node.finished_at);
    let _ = writeln!(
        out,
        "{branch}{name} ({dur}) {}",
        style.node_state(node.status)
    );
    let mut lines: Vec<String> = Vec::new();
    if let Some(cmd) = node.step.as_ref().and_then(command_line) {
        lines.push(cmd);
    }
    let mut details: Vec<String> = Vec::new();
    for (label, path) in [("stdout", &node.stdout), ("stderr", &node.stderr)] {
        if label == "stderr" && node.stderr == node.stdout {
            continue;
        }
        let tail = tail(path);
        if !tail.is_empty() {
            details.push(format!("{label}: {tail}"));
        }
    }
    if !node.error.is_empty() && node.status != NodeState::Succeeded {
        details.push(format!(
            "error: {}",
            node.error.lines().next().unwrap_or_default()
        ));
    }
    let total = lines.len() + details.len();
    let mut k = 0;
    for line in lines.iter() {
        k += 1;
        let b = if k == total { "└─" } else { "├─" };
        let _ = writeln!(out, "{pad}{b}{line}");
    }
    if !details.is_empty() && !lines.is_empty() {
        let _ = writeln!(out, "{pad}│");
    }
    for d in &details {
        k += 1;
        let b = if k == total { "└─" } else { "├─" };
        let cont = if k == total { "  " } else { "│ " };
        let mut it = d.lines();
        let _ = writeln!(out, "{pad}{b}{}", it.next().unwrap_or_default());
        for more in it {
            let _ = writeln!(out, "{pad}{cont}  {more}");
        }
    }
    if !last {
        out.push_str("│\n");
    }
}

fn command_line(step: &serde_json::Value) -> Option<String> {
    match &step["command"] {
        serde_json::Value::String(s) => Some(s.lines().next().unwrap_or_default().to_string()),
        serde_json::Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" && "),
        ),
        _ => step["call"].as_str().map(|c| format!("call {c}")),
    }
}

/// The last few lines of a log file.
fn tail(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// `1m2s`-style duration between two record timestamps.
fn duration(start: &str, end: &str) -> String {
    let (Ok(s), Ok(e)) = (
        DateTime::parse_from_rfc3339(start),
        DateTime::parse_from_rfc3339(end),
    ) else {
        return "-".into();
    };
    let secs = (e - s).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_lists_steps_and_result() {
        let status = RunStatus {
            name: "d".into(),
            status: RunState::Failed,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:01:05Z".into(),
            nodes: vec![NodeStatus {
                step: Some(serde_json::json!({"name": "a", "command": "false"})),
                status: NodeState::Failed,
                error: "exit status 1".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = tree(&status, Style { color: false });
        assert!(text.starts_with("Failed - 2026-01-01T00:00:00Z"));
        assert!(text.contains("dag: d (1m5s)"));
        assert!(text.contains("└─a (-) [failed]"));
        assert!(text.contains("error: exit status 1"));
        assert!(text.trim_end().ends_with("Result: Failed"));
    }
}
