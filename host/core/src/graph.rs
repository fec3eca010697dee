//! Step names, ids and dependencies: generated names, uniqueness, `depends` resolution,
//! chain edges and cycle detection.

use std::collections::{HashMap, HashSet, VecDeque};

use regex::Regex;
use std::sync::LazyLock;

use crate::build::step::BuiltStep;
use crate::error::Errors;
use crate::model::Step;

/// Longest allowed step name.
pub const MAX_STEP_NAME: usize = 40;

/// Ids that would shadow built-in references.
const RESERVED_IDS: &[&str] = &[
    "env", "params", "args", "stdout", "stderr", "output", "outputs",
];

static ID_FORMAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9_-]*$").unwrap());

/// A built step and its top-level position (members of a nested group share one).
pub struct Placed {
    pub group: usize,
    pub built: BuiltStep,
}

/// Names, checks and connects the steps. `chain` adds the implicit edges of chain mode.
pub fn wire(mut placed: Vec<Placed>, chain: bool, errors: &mut Errors) -> Vec<Step> {
    let before = errors.len();
    assign_names(&mut placed, errors);
    let names_unique = errors.len() == before;
    check_ids(&placed, errors);
    resolve_depends(&mut placed, chain, errors);
    // Where each step's `depends` is written (the step itself when it has none).
    let positions: HashMap<String, (crate::yaml::Pos, String)> = placed
        .iter()
        .map(|p| {
            let b = &p.built;
            let first_dep = b.depends.as_ref().and_then(|d| d.first());
            let pos = first_dep.map_or(b.pos, |(_, pos)| *pos);
            (b.step.name.clone(), (pos, b.path.clone()))
        })
        .collect();
    let steps: Vec<Step> = placed.into_iter().map(|p| p.built.step).collect();
    // With duplicate names the graph is ambiguous; the name errors say enough.
    if let Some(cycle) = find_cycle(&steps).filter(|_| names_unique) {
        let (pos, path) = positions[&cycle[0]].clone();
        errors.push(
            pos,
            format!("{path}.depends"),
            format!("dependency cycle: {}", cycle.join(" -> ")),
        );
    }
    steps
}

fn name_prefix(step: &Step) -> &str {
    match step.step_type.as_str() {
        "command" if step.command.is_none() && step.script.is_some() => "script",
        "command" => "cmd",
        other => other,
    }
}

fn assign_names(placed: &mut [Placed], errors: &mut Errors) {
    let mut taken: HashSet<String> = HashSet::new();
    for p in placed.iter_mut() {
        let b = &mut p.built;
        if !b.named {
            let prefix = name_prefix(&b.step).to_string();
            let mut n = p.group;
            while taken.contains(&format!("{prefix}_{n}")) {
                n += 1;
            }
            b.step.name = format!("{prefix}_{n}");
        }
        if b.step.name.chars().count() > MAX_STEP_NAME {
            errors.push(
                b.name_pos,
                format!("{}.name", b.path),
                format!("step name must be less than {MAX_STEP_NAME} characters"),
            );
        }
        if !taken.insert(b.step.name.clone()) {
            errors.push(
                b.name_pos,
                format!("{}.name", b.path),
                format!("step name must be unique (value: {})", b.step.name),
            );
        }
    }
}

fn check_ids(placed: &[Placed], errors: &mut Errors) {
    let names: HashSet<&str> = placed.iter().map(|p| p.built.step.name.as_str()).collect();
    let mut seen = HashSet::new();
    for p in placed {
        let b = &p.built;
        let Some(id) = &b.step.id else { continue };
        let field = format!("{}.id", b.path);
        if !ID_FORMAT.is_match(id) {
            errors.push(b.id_pos, &field, format!("invalid step ID format: must start with a letter and contain only letters, digits, '_' and '-' (value: {id})"));
        } else if RESERVED_IDS.contains(&id.to_ascii_lowercase().as_str()) {
            errors.push(
                b.id_pos,
                &field,
                format!("step ID '{id}' is a reserved word"),
            );
        }
        if !seen.insert(id.as_str()) {
            errors.push(b.id_pos, &field, format!("duplicate step ID '{id}'"));
        }
        if names.contains(id.as_str()) && *id != b.step.name {
            errors.push(
                b.id_pos,
                &field,
                format!("step ID '{id}' conflicts with another step's name"),
            );
        }
    }
}

fn resolve_depends(placed: &mut [Placed], chain: bool, errors: &mut Errors) {
    let by_id: HashMap<String, String> = placed
        .iter()
        .filter_map(|p| {
            p.built
                .step
                .id
                .clone()
                .map(|id| (id, p.built.step.name.clone()))
        })
        .collect();
    let names: HashSet<String> = placed.iter().map(|p| p.built.step.name.clone()).collect();
    // The members of each top-level group, for chain edges.
    let mut groups: Vec<(usize, Vec<String>)> = Vec::new();
    for p in placed.iter() {
        match groups.last_mut() {
            Some((g, members)) if *g == p.group => members.push(p.built.step.name.clone()),
            _ => groups.push((p.group, vec![p.built.step.name.clone()])),
        }
    }
    let mut group_index = 0;
    for p in placed.iter_mut() {
        while groups[group_index].0 != p.group {
            group_index += 1;
        }
        let b = &mut p.built;
        let mut depends = Vec::new();
        if chain && b.depends.as_ref().is_none_or(|d| !d.is_empty()) && group_index > 0 {
            depends.extend(groups[group_index - 1].1.iter().cloned());
        }
        for (dep, pos) in b.depends.iter().flatten() {
            let target = by_id.get(dep).cloned().unwrap_or_else(|| dep.clone());
            if !names.contains(&target) {
                errors.push(
                    *pos,
                    format!("{}.depends", b.path),
                    format!("step {} depends on non-existent step {dep}", b.step.name),
                );
            } else if !depends.contains(&target) {
                depends.push(target);
            }
        }
        b.step.depends = depends;
    }
}

/// Returns the names along one cycle, if the graph has any.
pub fn find_cycle(steps: &[Step]) -> Option<Vec<String>> {
    let index: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; steps.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for d in &s.depends {
            if let Some(&j) = index.get(d.as_str()) {
                indegree[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut queue: VecDeque<usize> = (0..steps.len()).filter(|&i| indegree[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = queue.pop_front() {
        done += 1;
        for &k in &dependents[i] {
            indegree[k] -= 1;
            if indegree[k] == 0 {
                queue.push_back(k);
            }
        }
    }
    if done == steps.len() {
        return None;
    }
    // Walk backwards along unresolved dependencies until a step repeats.
    let mut path: Vec<usize> = Vec::new();
    let mut current = (0..steps.len()).find(|&i| indegree[i] > 0)?;
    loop {
        if let Some(start) = path.iter().position(|&p| p == current) {
            let mut names: Vec<String> = path[start..]
                .iter()
                .rev()
                .map(|&i| steps[i].name.clone())
                .collect();
            names.push(names[0].clone());
            return Some(names);
        }
        path.push(current);
        current = steps[current]
            .depends
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
            .find(|&j| indegree[j] > 0)?;
    }
}

#[cfg(test)]
mod tests {
    use crate::load::{LoadOptions, load_str};
    use std::path::Path;

    fn steps(yaml: &str) -> Vec<(String, Vec<String>)> {
        let file = load_str(yaml, Path::new("t.yaml"), &LoadOptions::default()).expect("loads");
        file.main()
            .steps
            .iter()
            .map(|s| (s.name.clone(), s.depends.clone()))
            .collect()
    }

    fn errors(yaml: &str) -> Vec<String> {
        let err =
            load_str(yaml, Path::new("t.yaml"), &LoadOptions::default()).expect_err("rejected");
        err.0.iter().map(|e| e.message.clone()).collect()
    }

    #[test]
    fn chain_mode_links_each_item_to_the_previous_group() {
        let got = steps("steps:\n  - echo a\n  - - echo b\n    - echo c\n  - echo d\n");
        let want = [
            ("cmd_1", vec![]),
            ("cmd_2", vec!["cmd_1"]),
            ("cmd_3", vec!["cmd_1"]),
            ("cmd_4", vec!["cmd_2", "cmd_3"]),
        ];
        let want: Vec<(String, Vec<String>)> = want
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn empty_depends_opts_out_of_the_chain_and_ids_resolve_to_names() {
        let got = steps(
            "steps:\n  - name: a\n    id: first\n    command: x\n  - name: b\n    depends: []\n    command: x\n  - name: c\n    depends: first\n    command: x\n",
        );
        assert_eq!(got[1].1, Vec::<String>::new());
        assert_eq!(got[2].1, vec!["b".to_string(), "a".to_string()]);
    }

    #[test]
    fn cycles_are_named_in_order() {
        let errs = errors(
            "type: graph\nsteps:\n  - name: a\n    command: x\n    depends: c\n  - name: b\n    command: x\n    depends: a\n  - name: c\n    command: x\n    depends: b\n",
        );
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("dependency cycle: "), "{errs:?}");
        for name in ["a", "b", "c"] {
            assert!(errs[0].contains(name));
        }
    }

    #[test]
    fn generated_names_skip_taken_ones_and_ids_are_checked() {
        let got = steps("type: graph\nsteps:\n  - - echo a\n    - echo b\n");
        assert_eq!(
            got.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
            ["cmd_1", "cmd_2"]
        );
        let errs = errors("steps:\n  - name: a\n    id: env\n    command: x\n");
        assert!(errs[0].contains("reserved"), "{errs:?}");
    }
}
