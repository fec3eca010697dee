//! Schedules the steps of one run: starts each step when its dependencies allow,
//! propagates failures and skips, honours `maxActiveSteps`, and stops on request.
//! Driven entirely by completion events; nothing polls.

use std::collections::HashMap;
use std::sync::Arc;

use dagu_core::Step;
use dagu_eval::{StepRef, Vars};
use dagu_store::{NodeState, NodeStatus, Recorder};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::context::RunShared;
use crate::node::{self, NodeDone, NodeJob};

/// The dependency structure of the steps, by index.
pub struct Graph {
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    /// Transitive dependencies of each step, in index order.
    ancestors: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph; the loader has already rejected unknown names and cycles.
    pub fn new(steps: &[Step]) -> Graph {
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let deps: Vec<Vec<usize>> = steps
            .iter()
            .map(|s| {
                s.depends
                    .iter()
                    .filter_map(|d| index.get(d.as_str()).copied())
                    .collect()
            })
            .collect();
        let mut dependents = vec![Vec::new(); steps.len()];
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(i);
            }
        }
        let words = steps.len().div_ceil(64);
        let mut sets: Vec<Option<Vec<u64>>> = vec![None; steps.len()];
        let mut stack: Vec<usize> = Vec::new();
        for start in 0..steps.len() {
            stack.push(start);
            while let Some(&i) = stack.last() {
                if sets[i].is_some() {
                    stack.pop();
                    continue;
                }
                let pending: Vec<usize> = deps[i]
                    .iter()
                    .copied()
                    .filter(|&d| sets[d].is_none())
                    .collect();
                if pending.is_empty() {
                    let mut set = vec![0u64; words];
                    for &d in &deps[i] {
                        set[d / 64] |= 1 << (d % 64);
                        for (w, bits) in set.iter_mut().zip(sets[d].as_ref().expect("computed")) {
                            *w |= bits;
                        }
                    }
                    sets[i] = Some(set);
                    stack.pop();
                } else {
                    stack.extend(pending);
                }
            }
        }
        let ancestors = sets
            .into_iter()
            .map(|set| {
                let set = set.unwrap_or_default();
                (0..steps.len())
                    .filter(|&j| set[j / 64] & (1 << (j % 64)) != 0)
                    .collect()
            })
            .collect();
        Graph {
            deps,
            dependents,
            ancestors,
        }
    }
}

/// State of one step during the run.
#[derive(Clone, Debug, Default)]
pub struct Slot {
    pub status: NodeStatus,
    pub continued: bool,
    /// Output variables the step made (its `output:` and any executor outputs).
    pub outputs: Vec<(String, String)>,
}

/// How the steps ended.
pub struct StepsOutcome {
    pub slots: Vec<Slot>,
}

enum Msg {
    Progress(usize, NodeStatus),
    Done(usize, NodeDone),
}

/// Runs all steps not already finished in `slots` (retries keep earlier results).
pub async fn run_steps(
    run: &Arc<RunShared>,
    mut slots: Vec<Slot>,
    recorder: &mut Recorder,
    stop: &CancellationToken,
) -> StepsOutcome {
    let steps: Vec<Arc<Step>> = run.dag.steps.iter().cloned().map(Arc::new).collect();
    let graph = Graph::new(&run.dag.steps);
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let max_active = if run.dag.max_active_steps == 0 {
        usize::MAX
    } else {
        run.dag.max_active_steps
    };
    let mut ready: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut running = 0usize;
    for i in 0..steps.len() {
        if !slots[i].status.status.is_terminal() {
            settle(i, &graph, &mut slots, &mut ready, recorder);
        }
    }
    loop {
        while running < max_active && !stop.is_cancelled() {
            let Some(i) = ready.pop_front() else { break };
            running += 1;
            spawn_step(run, &steps, &graph, &slots, i, stop, tx.clone());
        }
        if running == 0 {
            break;
        }
        let Some(msg) = rx.recv().await else { break };
        match msg {
            Msg::Progress(i, status) => {
                slots[i].status = status.clone();
                let _ = recorder.node(i, status);
            }
            Msg::Done(i, done) => {
                running -= 1;
                run.run_log.event(
                    "Step finished",
                    &[
                        ("step", &steps[i].name),
                        ("status", done.node.status.label()),
                    ],
                );
                slots[i] = Slot {
                    status: done.node.clone(),
                    continued: done.continued,
                    outputs: done.outputs,
                };
                let _ = recorder.node(i, done.node);
                // Once the run is stopping, steps that have not started stay not started.
                if !stop.is_cancelled() {
                    for &d in &graph.dependents[i] {
                        settle(d, &graph, &mut slots, &mut ready, recorder);
                    }
                }
            }
        }
    }
    StepsOutcome { slots }
}

/// Decides what happens to a waiting step whose dependency just ended: wait longer,
/// become ready, or end as aborted/skipped (and pass that on to its dependents).
fn settle(
    start: usize,
    graph: &Graph,
    slots: &mut [Slot],
    ready: &mut std::collections::VecDeque<usize>,
    recorder: &mut Recorder,
) {
    let mut work = vec![start];
    while let Some(i) = work.pop() {
        if slots[i].status.status != NodeState::NotStarted || ready.contains(&i) {
            continue;
        }
        let mut verdict = Verdict::Ready;
        for &d in &graph.deps[i] {
            let dep = &slots[d];
            let v = match dep.status.status {
                NodeState::Succeeded | NodeState::PartiallySucceeded => Verdict::Ready,
                NodeState::Failed if dep.continued => Verdict::Ready,
                NodeState::Skipped if dep.continued => Verdict::Ready,
                NodeState::Skipped => Verdict::Skip,
                NodeState::Failed | NodeState::Aborted | NodeState::Rejected => Verdict::Abort,
                _ => Verdict::Wait,
            };
            verdict = verdict.max(v);
        }
        match verdict {
            Verdict::Wait => {}
            Verdict::Ready => ready.push_back(i),
            Verdict::Skip | Verdict::Abort => {
                let (state, error) = if verdict == Verdict::Skip {
                    (NodeState::Skipped, "upstream skipped")
                } else {
                    (NodeState::Aborted, "upstream failed")
                };
                slots[i].status.status = state;
                slots[i].status.error = error.into();
                let _ = recorder.node(i, slots[i].status.clone());
                work.extend(graph.dependents[i].iter().copied());
            }
        }
    }
}

/// Ordered so that the strongest verdict among dependencies wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Ready,
    Skip,
    Abort,
    Wait,
}

fn spawn_step(
    run: &Arc<RunShared>,
    steps: &[Arc<Step>],
    graph: &Graph,
    slots: &[Slot],
    i: usize,
    stop: &CancellationToken,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let mut outputs = Vars::new();
    let mut refs = HashMap::new();
    for &a in &graph.ancestors[i] {
        let slot = &slots[a];
        for (name, value) in &slot.outputs {
            outputs.set(name.clone(), value.clone());
        }
        if let Some(id) = &steps[a].id {
            refs.insert(
                id.clone(),
                StepRef {
                    stdout: slot.status.stdout.clone(),
                    stderr: slot.status.stderr.clone(),
                    exit_code: slot.status.exit_code.unwrap_or(0),
                },
            );
        }
    }
    let job = NodeJob {
        run: run.clone(),
        step: steps[i].clone(),
        outputs,
        refs,
        extra: Vars::new(),
        is_handler: false,
        stop: stop.clone(),
    };
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let progress = move |status| {
            let _ = progress_tx.send(Msg::Progress(i, status));
        };
        let done = node::run(job, &progress).await;
        let _ = tx.send(Msg::Done(i, done));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, depends: &[&str]) -> Step {
        Step {
            name: name.into(),
            depends: depends.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ancestors_are_transitive_and_exclude_unrelated_steps() {
        let steps = [
            step("a", &[]),
            step("b", &["a"]),
            step("x", &[]),
            step("c", &["b", "x"]),
            step("d", &[]),
        ];
        let g = Graph::new(&steps);
        assert_eq!(g.ancestors[3], vec![0, 1, 2]);
        assert_eq!(g.ancestors[1], vec![0]);
        assert!(g.ancestors[4].is_empty());
        assert_eq!(g.dependents[0], vec![1]);
    }
}
