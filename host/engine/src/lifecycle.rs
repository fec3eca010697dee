//! The order of a run: delay, DAG preconditions, `init`, the steps, then the
//! status-specific handler and `exit` — each handler with `DAG_RUN_STATUS` and its own stop
//! token, so handlers still run after a stop or a DAG timeout.

use std::sync::Arc;

use chrono::Utc;
use dagu_core::{HandlerKind, Step};
use dagu_eval::Vars;
use dagu_store::status::timestamp;
use dagu_store::{NodeState, NodeStatus, Recorder, RunState};
use tokio_util::sync::CancellationToken;

use crate::context::RunShared;
use crate::node::{self, NodeJob};
use crate::outcome::{self, Interrupts};
use crate::run::step_json;
use crate::runner::{self, Slot};

/// Handlers and steps in their order.
pub struct Lifecycle<'a> {
    pub shared: &'a Arc<RunShared>,
    pub stop: &'a CancellationToken,
    /// `retry --step`: the run's status follows this step alone.
    pub only_step: Option<usize>,
}

impl Lifecycle<'_> {
    /// Runs everything; returns the final state and the run-level error.
    pub async fn run(&self, recorder: &mut Recorder, slots: Vec<Slot>) -> (RunState, String) {
        let dag = self.shared.dag.clone();
        if let Some(delay) = dag.delay {
            tokio::select! { _ = tokio::time::sleep(delay) => {}, _ = self.stop.cancelled() => {} }
        }
        if !self.dag_preconditions_met().await {
            let (state, error) = (RunState::Aborted, "preconditions not met".to_string());
            let state = self
                .handlers(recorder, &[HandlerKind::Abort, HandlerKind::Exit], state)
                .await;
            return (state, error);
        }
        if dag.handlers.init.is_some() {
            let ok = self
                .handler(recorder, HandlerKind::Init, RunState::Running)
                .await;
            if !ok {
                let state = self
                    .handlers(recorder, &[HandlerKind::Exit], RunState::Aborted)
                    .await;
                return (state, "init handler failed".into());
            }
        }
        let steps_stop = self.stop.child_token();
        let timer = dag.timeout.map(|t| {
            let token = steps_stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(t).await;
                token.cancel();
            })
        });
        let outcome = runner::run_steps(self.shared, slots, recorder, &steps_stop).await;
        if let Some(t) = timer {
            t.abort();
        }
        let interrupts = Interrupts {
            stopped: steps_stop.is_cancelled(),
            timed_out: steps_stop.is_cancelled() && !self.stop.is_cancelled(),
        };
        let counted = match self.only_step {
            Some(i) => &outcome.slots[i..=i],
            None => &outcome.slots[..],
        };
        let mut state = outcome::run_state(counted, interrupts);
        let mut error = run_error(&outcome.slots);
        if interrupts.timed_out {
            error = format!(
                "DAG run timed out after {}s",
                dag.timeout.map_or(0, |t| t.as_secs())
            );
        }
        let kind = match state {
            RunState::Succeeded | RunState::PartiallySucceeded => Some(HandlerKind::Success),
            RunState::Failed => Some(HandlerKind::Failure),
            RunState::Aborted => Some(HandlerKind::Abort),
            RunState::Waiting => Some(HandlerKind::Wait),
            _ => None,
        };
        let mut order: Vec<HandlerKind> = kind.into_iter().collect();
        if state != RunState::Waiting {
            order.push(HandlerKind::Exit);
        }
        let before = state;
        state = self.handlers(recorder, &order, state).await;
        if state != before && error.is_empty() {
            error = "a handler failed".into();
        }
        (state, error)
    }

    async fn dag_preconditions_met(&self) -> bool {
        let dag = &self.shared.dag;
        if dag.preconditions.is_empty() {
            return true;
        }
        let step = Step {
            name: "preconditions".into(),
            step_type: "noop".into(),
            preconditions: dag.preconditions.clone(),
            ..Default::default()
        };
        let job = self.job(Arc::new(step), Vars::new());
        node::preconditions_hold(&job).await.unwrap_or(false)
    }

    /// Runs handlers in order; a failure makes the run failed from then on.
    async fn handlers(
        &self,
        recorder: &mut Recorder,
        kinds: &[HandlerKind],
        mut state: RunState,
    ) -> RunState {
        for &kind in kinds {
            if self.shared.dag.handler(kind).is_some() && !self.handler(recorder, kind, state).await
            {
                state = RunState::Failed;
            }
        }
        state
    }

    /// Runs one handler with `DAG_RUN_STATUS`; returns whether it succeeded.
    async fn handler(&self, recorder: &mut Recorder, kind: HandlerKind, state: RunState) -> bool {
        let Some(step) = self.shared.dag.handler(kind) else {
            return true;
        };
        let mut extra = Vars::new();
        extra.set("DAG_RUN_STATUS", state.label());
        let mut job = self.job(Arc::new(step.clone()), extra);
        job.is_handler = true;
        // Handlers get their own stop token: they still run after a stop or a timeout.
        job.stop = CancellationToken::new();
        let name = kind.step_name();
        let mut first = NodeStatus {
            step: Some(step_json(step)),
            status: NodeState::Running,
            ..Default::default()
        };
        first.started_at = timestamp(Utc::now());
        let _ = recorder.handler(name, first);
        let done = node::run(job, &|_| {}).await;
        let ok =
            matches!(done.node.status, NodeState::Succeeded | NodeState::Skipped) || done.continued;
        let _ = recorder.handler(name, done.node);
        ok
    }

    fn job(&self, step: Arc<Step>, extra: Vars) -> NodeJob {
        NodeJob {
            run: self.shared.clone(),
            step,
            outputs: Vars::new(),
            refs: Default::default(),
            extra,
            is_handler: false,
            stop: self.stop.clone(),
        }
    }
}

/// The run-level error: the first failed step's error (which carries its stderr tail).
fn run_error(slots: &[Slot]) -> String {
    slots
        .iter()
        .find(|s| s.status.status == NodeState::Failed && !s.continued)
        .map(|s| s.status.error.clone())
        .unwrap_or_default()
}
