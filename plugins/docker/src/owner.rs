//! Who owns a container: the labels every container the plugin creates carries, and the
//! clean-up of containers whose owner is gone.
//!
//! Labels: `dagu.managed=true`, `dagu.run-id`, `dagu.step` (step containers), `dagu.kind`
//! (`step` or `run`), `dagu.owner-pid` / `dagu.owner-start` / `dagu.owner-host` (this
//! plugin process: pid, start time in clock ticks since boot, host name), `dagu.keep=true`
//! for containers the user wants kept, and on a run's container `dagu.host-pid` /
//! `dagu.host-start` (the dagu process that started the plugin).
//!
//! A container is stale when it is managed, not kept, owned by a process of this machine
//! that no longer exists (`kill(pid, 0)` fails with ESRCH, or the pid now belongs to a
//! process started at another time), and — for a run's container — the dagu process that
//! owns the run is gone too (while it lives, a restarted plugin adopts the container by
//! its run id).

use std::collections::HashMap;

use bollard::Docker as Client;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};

pub const MANAGED: &str = "dagu.managed";
pub const RUN_ID: &str = "dagu.run-id";
pub const STEP: &str = "dagu.step";
pub const KIND: &str = "dagu.kind";
pub const OWNER_PID: &str = "dagu.owner-pid";
pub const OWNER_START: &str = "dagu.owner-start";
pub const OWNER_HOST: &str = "dagu.owner-host";
pub const HOST_PID: &str = "dagu.host-pid";
pub const HOST_START: &str = "dagu.host-start";
pub const KEEP: &str = "dagu.keep";

/// What kind of container a label set describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A `docker` step's own container.
    Step,
    /// A DAG run's shared container (`container` steps).
    Run,
}

/// This process, as recorded in labels.
pub(crate) struct Me {
    pid: u32,
    start: Option<u64>,
    host: String,
    parent: Option<(u32, Option<u64>)>,
}

impl Me {
    pub(crate) fn new() -> Me {
        let pid = std::process::id();
        // SAFETY: getppid has no preconditions.
        let ppid = unsafe { libc::getppid() } as u32;
        Me {
            pid,
            start: start_time(pid),
            host: host_name(),
            // An orphan (parent 1) has no dagu process to record.
            parent: (ppid > 1).then(|| (ppid, start_time(ppid))),
        }
    }

    /// The labels of a container this process creates.
    pub(crate) fn labels(
        &self,
        kind: Kind,
        run_id: &str,
        step: Option<&str>,
        keep: bool,
    ) -> HashMap<String, String> {
        let mut labels = HashMap::new();
        let mut put = |k: &str, v: String| {
            labels.insert(k.to_string(), v);
        };
        put(MANAGED, "true".into());
        put(RUN_ID, run_id.into());
        put(
            KIND,
            match kind {
                Kind::Step => "step",
                Kind::Run => "run",
            }
            .into(),
        );
        if let Some(step) = step {
            put(STEP, step.into());
        }
        put(OWNER_PID, self.pid.to_string());
        if let Some(start) = self.start {
            put(OWNER_START, start.to_string());
        }
        put(OWNER_HOST, self.host.clone());
        if kind == Kind::Run
            && let Some((pid, start)) = self.parent
        {
            put(HOST_PID, pid.to_string());
            if let Some(start) = start {
                put(HOST_START, start.to_string());
            }
        }
        if keep {
            put(KEEP, "true".into());
        }
        labels
    }

    /// Whether a container with these labels is stale (see the module's notes).
    pub(crate) fn is_stale(&self, labels: &HashMap<String, String>) -> bool {
        if labels.get(MANAGED).map(String::as_str) != Some("true")
            || labels.get(KEEP).map(String::as_str) == Some("true")
        {
            return false;
        }
        if labels.get(OWNER_HOST).is_some_and(|h| *h != self.host) {
            return false;
        }
        let owner = |pid_key: &str, start_key: &str| -> Option<bool> {
            let pid: u32 = labels.get(pid_key)?.parse().ok()?;
            let start = labels.get(start_key).and_then(|s| s.parse().ok());
            Some(alive(pid, start))
        };
        match owner(OWNER_PID, OWNER_START) {
            // No readable owner: not ours to judge.
            None | Some(true) => false,
            Some(false) => {
                labels.get(KIND).map(String::as_str) != Some("run")
                    || owner(HOST_PID, HOST_START) != Some(true)
            }
        }
    }
}

/// Whether process `pid` exists and (when `start` is known) is the one started then.
pub(crate) fn alive(pid: u32, start: Option<u64>) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    if !exists {
        return false;
    }
    match (start, start_time(pid)) {
        (Some(recorded), Some(now)) => recorded == now,
        _ => true,
    }
}

/// When process `pid` started, in clock ticks since boot (`/proc/PID/stat` field 22).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This machine's host name.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Removes the stale managed containers of this machine; returns how many went.
pub(crate) async fn remove_stale(client: &Client, me: &Me) -> usize {
    let filters = HashMap::from([("label".to_string(), vec![format!("{MANAGED}=true")])]);
    let Ok(list) = client
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
    else {
        return 0;
    };
    let mut removed = 0;
    for c in list {
        let (Some(id), Some(labels)) = (c.id, c.labels) else {
            continue;
        };
        if me.is_stale(&labels) && remove(client, &id).await {
            removed += 1;
        }
    }
    removed
}

/// Force-removes a container with its anonymous volumes; true when it is gone.
pub(crate) async fn remove(client: &Client, id: &str) -> bool {
    match client
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => true,
        Err(e) => crate::engine::status(&e) == Some(404),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid_max() -> u32 {
        std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304)
    }

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_not() {
        let me = std::process::id();
        assert!(alive(me, start_time(me)));
        assert!(!alive(me, start_time(me).map(|s| s + 1)));
        assert!(!alive(pid_max() + 1, None));
    }

    #[test]
    fn staleness_follows_owner_and_kind() {
        let me = Me::new();
        let dead = (pid_max() + 1).to_string();
        let mut labels = me.labels(Kind::Step, "r", Some("s"), false);
        assert!(!me.is_stale(&labels), "own containers are live");
        labels.insert(OWNER_PID.into(), dead.clone());
        assert!(me.is_stale(&labels));
        labels.insert(OWNER_HOST.into(), "another-machine".into());
        assert!(
            !me.is_stale(&labels),
            "other machines' containers are not judged"
        );
        labels.insert(OWNER_HOST.into(), host_name());
        labels.insert(KEEP.into(), "true".into());
        assert!(!me.is_stale(&labels), "kept containers stay");

        let mut run = me.labels(Kind::Run, "r", None, false);
        run.insert(OWNER_PID.into(), dead.clone());
        // The test runner's parent (the run's "dagu") is alive: the container is adopted.
        assert_eq!(me.is_stale(&run), !run.contains_key(HOST_PID));
        run.insert(HOST_PID.into(), dead);
        assert!(me.is_stale(&run));
    }
}
