//! The final status of a run from its steps (§4.5).

use dagu_store::{NodeState, RunState};

use crate::runner::Slot;

/// Why the run ended besides its steps' results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interrupts {
    /// Stopped by a signal or `dagu stop`.
    pub stopped: bool,
    /// The DAG's `timeoutSec` passed.
    pub timed_out: bool,
}

/// Folds step results into the run status.
pub fn run_state(slots: &[Slot], interrupts: Interrupts) -> RunState {
    let states = || slots.iter().map(|s| s.status.status);
    if interrupts.timed_out {
        return RunState::Failed;
    }
    if interrupts.stopped && !states().all(|s| s == NodeState::Succeeded) {
        return RunState::Aborted;
    }
    if states().any(|s| s == NodeState::Waiting) {
        return RunState::Waiting;
    }
    if states().any(|s| s == NodeState::Rejected) {
        return RunState::Rejected;
    }
    let failed: Vec<&Slot> = slots
        .iter()
        .filter(|s| s.status.status == NodeState::Failed)
        .collect();
    let any_aborted = states().any(|s| s == NodeState::Aborted);
    if !failed.is_empty() && failed.iter().all(|s| s.continued) && !any_aborted {
        return if states().any(|s| s == NodeState::Succeeded) {
            RunState::PartiallySucceeded
        } else {
            RunState::Failed
        };
    }
    if !failed.is_empty() || any_aborted {
        return RunState::Failed;
    }
    RunState::Succeeded
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagu_store::NodeStatus;

    fn slot(state: NodeState, continued: bool) -> Slot {
        Slot {
            status: NodeStatus {
                status: state,
                ..Default::default()
            },
            continued,
            outputs: Vec::new(),
        }
    }

    #[test]
    fn tolerated_failure_beside_a_success_is_partial() {
        let s = [
            slot(NodeState::Failed, true),
            slot(NodeState::Succeeded, false),
        ];
        assert_eq!(
            run_state(&s, Interrupts::default()),
            RunState::PartiallySucceeded
        );
    }

    #[test]
    fn only_tolerated_failures_is_failed() {
        let s = [slot(NodeState::Failed, true), slot(NodeState::Failed, true)];
        assert_eq!(run_state(&s, Interrupts::default()), RunState::Failed);
    }

    #[test]
    fn skips_alone_succeed_and_stops_abort() {
        let s = [
            slot(NodeState::Skipped, false),
            slot(NodeState::Succeeded, false),
        ];
        assert_eq!(run_state(&s, Interrupts::default()), RunState::Succeeded);
        let stopped = Interrupts {
            stopped: true,
            timed_out: false,
        };
        assert_eq!(
            run_state(&[slot(NodeState::Aborted, false)], stopped),
            RunState::Aborted
        );
        let timed_out = Interrupts {
            stopped: true,
            timed_out: true,
        };
        assert_eq!(
            run_state(&[slot(NodeState::Aborted, false)], timed_out),
            RunState::Failed
        );
    }
}
