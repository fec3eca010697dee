//! Open connections, kept per DAG run and target so that the steps of one run share one
//! connection to a host (each step opens its own channels on it).
//!
//! A connection is closed when its run ends ([`Pool::end_run`]), when the plugin shuts
//! down ([`Pool::close_all`]), or after it was idle for the idle timeout (the reaper task
//! started by [`Pool::reap`]). A connection found dead is opened again, once per lease.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dagu_plugin_sdk::RunError;

use crate::client::{self, Connection, OpenError, Session};
use crate::config::{Env, Target};
use crate::errors::ssh_failed;

/// What a connection is shared by: the run and everything that says where and how to
/// connect (user, host, port, key, password, host-key settings, bastion).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    run_id: String,
    target: Target,
}

/// One pooled connection (or none yet).
#[derive(Default)]
struct Slot {
    /// Held while connecting, so concurrent steps wait for one connection.
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    /// Leases alive.
    users: AtomicUsize,
    /// When the last lease ended.
    idle_since: Mutex<Option<Instant>>,
}

/// The connections of every run.
#[derive(Default)]
pub(crate) struct Pool {
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
}

/// A step's use of a pooled connection.
pub(crate) struct Lease {
    user: SlotUser,
    conn: Arc<Connection>,
    target: Target,
    env: Env,
    reconnected: bool,
}

impl Pool {
    /// The connection for `target` in run `run_id`: the pooled one if it is alive, else a
    /// new one (logged in).
    pub async fn lease(&self, run_id: &str, target: &Target, env: &Env) -> Result<Lease, RunError> {
        let key = Key {
            run_id: run_id.to_string(),
            target: target.clone(),
        };
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = slots.entry(key).or_default().clone();
            slot.users.fetch_add(1, Ordering::SeqCst);
            slot
        };
        let user = SlotUser(slot);
        let conn = {
            let slot = &user.0;
            let mut conn = slot.conn.lock().await;
            match &*conn {
                Some(c) if !c.is_closed() => c.clone(),
                _ => {
                    let c = Arc::new(client::connect(target, env).await?);
                    *conn = Some(c.clone());
                    c
                }
            }
        };
        Ok(Lease {
            user,
            conn,
            target: target.clone(),
            env: env.clone(),
            reconnected: false,
        })
    }

    /// Removes the connections of run `run_id` and closes them.
    pub async fn end_run(&self, run_id: &str) {
        let ended: Vec<Arc<Slot>> = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let keys: Vec<Key> = slots
                .keys()
                .filter(|k| k.run_id == run_id)
                .cloned()
                .collect();
            keys.iter().filter_map(|k| slots.remove(k)).collect()
        };
        close_slots(ended).await;
    }

    /// Removes and closes every connection.
    pub async fn close_all(&self) {
        let all: Vec<Arc<Slot>> = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.drain().map(|(_, s)| s).collect()
        };
        close_slots(all).await;
    }

    /// Closes connections idle for `idle` or longer; checks every `idle / 2` (at most 5 s,
    /// at least 10 ms). Runs until the pool is dropped.
    pub async fn reap(pool: std::sync::Weak<Pool>, idle: Duration) {
        let period = (idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(5));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(pool) = pool.upgrade() else { return };
            let idle_slots: Vec<Arc<Slot>> = {
                let mut slots = pool.slots.lock().unwrap_or_else(PoisonError::into_inner);
                let keys: Vec<Key> = slots
                    .iter()
                    .filter(|(_, s)| {
                        s.users.load(Ordering::SeqCst) == 0
                            && s.idle_since
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .is_some_and(|t| t.elapsed() >= idle)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                keys.iter().filter_map(|k| slots.remove(k)).collect()
            };
            drop(pool);
            close_slots(idle_slots).await;
        }
    }
}

/// Closes the connections of `slots`.
async fn close_slots(slots: Vec<Arc<Slot>>) {
    for slot in slots {
        let conn = slot.conn.lock().await.take();
        if let Some(conn) = conn {
            conn.close().await;
        }
    }
}

/// Counts a user of a slot until dropped.
struct SlotUser(Arc<Slot>);

impl Drop for SlotUser {
    fn drop(&mut self) {
        release(&self.0);
    }
}

fn release(slot: &Slot) {
    *slot
        .idle_since
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    slot.users.fetch_sub(1, Ordering::SeqCst);
}

impl Lease {
    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Opens a session channel; a dead connection is replaced once.
    pub async fn open_session(&mut self) -> Result<Session, RunError> {
        match open_patiently(&self.conn).await {
            Ok(session) => return Ok(session),
            Err(OpenError::Refused(e)) => return Err(e),
            Err(OpenError::Dead) if self.reconnected => return Err(self.lost()),
            Err(OpenError::Dead) => {}
        }
        self.reconnect().await?;
        match open_patiently(&self.conn).await {
            Ok(session) => Ok(session),
            Err(OpenError::Refused(e)) => Err(e),
            Err(OpenError::Dead) => Err(self.lost()),
        }
    }

    fn lost(&self) -> RunError {
        ssh_failed(format!(
            "the SSH connection to {} was lost",
            self.target.display()
        ))
    }

    /// Replaces the dead connection (unless another step already did).
    async fn reconnect(&mut self) -> Result<(), RunError> {
        self.reconnected = true;
        let mut conn = self.user.0.conn.lock().await;
        match &*conn {
            Some(c) if !Arc::ptr_eq(c, &self.conn) && !c.is_closed() => {
                self.conn = c.clone();
            }
            _ => {
                let c = Arc::new(client::connect(&self.target, &self.env).await?);
                *conn = Some(c.clone());
                self.conn = c;
            }
        }
        Ok(())
    }
}

/// How long a refused session channel is asked for again: sshd counts a session against
/// `MaxSessions` until it has torn it down, a moment after the client saw it end, so steps
/// that follow each other quickly on one connection can be refused for a while.
const REFUSED_RETRY: Duration = Duration::from_secs(5);

/// Opens a session channel on `conn`, asking again (with growing pauses) while the server
/// refuses, for up to [`REFUSED_RETRY`].
async fn open_patiently(conn: &Connection) -> Result<Session, OpenError> {
    let deadline = Instant::now() + REFUSED_RETRY;
    let mut pause = Duration::from_millis(10);
    loop {
        match conn.open_session().await {
            Err(OpenError::Refused(_)) if Instant::now() + pause < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            other => return other,
        }
    }
}
