//! [`WasmPlugin`] as a [`StepExecutor`]: each step gets a fresh store and instance (from
//! the pooling allocator) with its own WASI context, memory limit and log files. The step's
//! timeout and stop requests set the guest's cancellation flag at once and interrupt the
//! guest (through the epoch callback) when the grace period is over; until then the epoch
//! callback yields to tokio every tick, so a busy guest never holds a worker thread.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use dagu_engine::executor::BoxFuture;
use dagu_engine::process::Interruption;
use dagu_engine::{StepExecutor, StepInput, StepOutput};
use dagu_plugin_sdk::{
    Capabilities, LogStream, Manifest, RunError, RunRequest, RunResponse, StepTypeInfo,
};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use crate::registry::caps::{env_covers, tcp_covers};
use crate::step_io::{RunEnd, StepLogs, build_request, check_config, step_output};
use crate::wasm::bindings::{StepPlugin, wit};
use crate::wasm::plugin::WasmPlugin;
use crate::wasm::state::{GUEST_STDIO_CAPACITY, HostAllowList, MemoryLimiter, StepState};

impl StepExecutor for WasmPlugin {
    fn run<'a>(&'a self, input: &'a StepInput) -> BoxFuture<'a, StepOutput> {
        Box::pin(run_step(self, input))
    }
}

async fn run_step(plugin: &WasmPlugin, input: &StepInput) -> StepOutput {
    let logs = match StepLogs::create(&input.stdout_log, &input.stderr_log) {
        Ok(l) => l,
        Err(e) => return StepOutput::failed(1, format!("failed to open log files: {e}")),
    };
    let request = match build_request(input) {
        Ok(r) => r,
        Err(e) => return StepOutput::failed(1, e),
    };
    let checked = match plugin.manifest().await {
        Ok(m) => check_config(&plugin.validators, &m, &request),
        Err(e) => Err(format!("plugin error: {e}")),
    };
    if let Err(e) = checked {
        return StepOutput::failed(1, e);
    }
    let end = plugin.execute(request, logs, input).await;
    step_output(&plugin.name, input, end)
}

/// When the epoch callback is to interrupt the guest, as milliseconds after a base instant
/// (`u64::MAX`: not yet).
struct InterruptAt {
    base: Instant,
    at_ms: AtomicU64,
}

impl InterruptAt {
    fn set_after(&self, grace: std::time::Duration) {
        let at = self.base.elapsed() + grace;
        self.at_ms
            .fetch_min(at.as_millis() as u64, Ordering::Relaxed);
    }

    fn due(&self) -> bool {
        self.base.elapsed().as_millis() as u64 >= self.at_ms.load(Ordering::Relaxed)
    }
}

impl WasmPlugin {
    /// The plugin's manifest, from its `describe` (called once, in a throwaway instance).
    pub async fn manifest(&self) -> Result<Manifest, String> {
        self.manifest
            .get_or_init(|| async {
                let logs =
                    StepLogs::discard().map_err(|e| format!("cannot open /dev/null: {e}"))?;
                let mut store = self.store(self.state(WasiCtxBuilder::new(), logs));
                let instance = self
                    .pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|e| format!("plugin '{}' cannot start: {e:#}", self.name))?;
                let m = instance
                    .dagu_plugin_plugin()
                    .call_describe(&mut store)
                    .await
                    .map_err(|e| {
                        format!("plugin '{}' failed to describe itself: {e:#}", self.name)
                    })?;
                manifest_from_wit(m).map_err(|e| format!("plugin '{}': {e}", self.name))
            })
            .await
            .clone()
    }

    /// Runs one request in a fresh instance.
    async fn execute(&self, request: RunRequest, logs: StepLogs, input: &StepInput) -> RunEnd {
        let wasi = match self.wasi_for(input) {
            Ok(w) => w,
            Err(e) => {
                return RunEnd {
                    result: Err(RunError::internal(e)),
                    interrupted: None,
                };
            }
        };
        let mut store = self.store(self.state(wasi, logs));
        let interrupt = Arc::new(InterruptAt {
            base: Instant::now(),
            at_ms: AtomicU64::new(u64::MAX),
        });
        let due = interrupt.clone();
        store.epoch_deadline_callback(move |_| {
            Ok(if due.due() {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });
        let cancelled = store.data().cancelled.clone();
        let wit_request = request_to_wit(request);
        let mut interrupted = None;
        let result = {
            let mut call = pin!(call_run(&self.pre, &mut store, wit_request));
            let deadline = input.timeout.map(|t| tokio::time::Instant::now() + t);
            loop {
                tokio::select! {
                    r = &mut call => break r,
                    _ = input.stop.cancelled(), if interrupted.is_none() => {
                        interrupted = Some(Interruption::Stopped);
                    }
                    _ = sleep_until(deadline), if interrupted.is_none() && deadline.is_some() => {
                        interrupted = Some(Interruption::TimedOut);
                    }
                }
                cancelled.store(true, Ordering::Relaxed);
                interrupt.set_after(input.stop_policy.grace);
            }
        };
        let state = store.data_mut();
        state.flush_guest_stdio();
        let result = match result {
            Ok(Ok(response)) => response_from_wit(response),
            Ok(Err(e)) => Err(error_from_wit(e)),
            Err(_) if interrupted.is_some() => Err(RunError::Cancelled),
            Err(_) if state.limiter.hit => Err(RunError::internal(format!(
                "plugin '{}' exceeded its memory limit of {} MiB",
                self.name,
                state.limiter.max_bytes >> 20
            ))),
            Err(trap) => {
                let mut message = format!("plugin '{}' crashed: {trap:#}", self.name);
                if let Some(host) = &state.hosts.refused {
                    message = format!(
                        "{message}; it tried to reach host '{host}', which it is not granted"
                    );
                }
                Err(RunError::internal(message))
            }
        };
        let result = match (result, &state.hosts.refused) {
            (Err(RunError::Failed { message, .. }), Some(host)) => Err(RunError::Denied {
                message: format!(
                    "{message} (plugin '{}' is not granted host '{host}')",
                    self.name
                ),
            }),
            (other, _) => other,
        };
        RunEnd {
            result,
            interrupted,
        }
    }

    fn store(&self, state: StepState) -> Store<StepState> {
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
        store
    }

    fn state(&self, mut wasi: WasiCtxBuilder, logs: StepLogs) -> StepState {
        let guest_stdout = MemoryOutputPipe::new(GUEST_STDIO_CAPACITY);
        let guest_stderr = MemoryOutputPipe::new(GUEST_STDIO_CAPACITY);
        wasi.stdout(guest_stdout.clone())
            .stderr(guest_stderr.clone());
        StepState {
            wasi: wasi.build(),
            table: Default::default(),
            http: WasiHttpCtx::new(),
            hosts: HostAllowList {
                hosts: self.grants.http_hosts.clone(),
                refused: None,
            },
            limiter: MemoryLimiter {
                max_bytes: self.limits.memory_bytes,
                hit: false,
            },
            logs,
            cancelled: Arc::new(AtomicBool::new(false)),
            guest_stdout,
            guest_stderr,
        }
    }

    /// WASI for one step: the working folder and the granted folders (each at its own
    /// path), the granted host variables, TCP only to granted targets.
    fn wasi_for(&self, input: &StepInput) -> Result<WasiCtxBuilder, String> {
        let mut wasi = WasiCtxBuilder::new();
        let work_dir = input.work_dir.display().to_string();
        wasi.preopened_dir(&input.work_dir, &work_dir, FsPerms::ReadWrite)
            .map_err(|e| format!("cannot open the working folder {work_dir}: {e:#}"))?;
        for (dir, writable) in self.granted_dirs() {
            if dir == input.work_dir || !dir.is_dir() {
                continue;
            }
            let perms = if writable {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            let guest = dir.display().to_string();
            wasi.preopened_dir(&dir, &guest, perms)
                .map_err(|e| format!("cannot open the granted folder {guest}: {e:#}"))?;
        }
        for (name, value) in granted_host_env(&self.grants) {
            wasi.env(name, value);
        }
        if !self.grants.tcp.is_empty() {
            let targets = Arc::new(self.grants.tcp.clone());
            wasi.allow_tcp(true).allow_ip_name_lookup(true);
            wasi.socket_addr_check(move |addr: SocketAddr, _use: SocketAddrUse| {
                let allowed = targets.iter().any(|t| tcp_covers(t, &addr.to_string()));
                Box::pin(async move { allowed })
            });
        }
        Ok(wasi)
    }
}

async fn call_run(
    pre: &crate::wasm::bindings::StepPluginPre<StepState>,
    store: &mut Store<StepState>,
    request: wit::RunRequest,
) -> wasmtime::Result<Result<wit::RunResponse, wit::RunError>> {
    let instance: StepPlugin = pre.instantiate_async(&mut *store).await?;
    instance
        .dagu_plugin_plugin()
        .call_run(&mut *store, &request)
        .await
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The host variables the plugin is granted (names, or `PREFIX_*` patterns).
fn granted_host_env(grants: &Capabilities) -> Vec<(String, String)> {
    if grants.env.is_empty() {
        return Vec::new();
    }
    std::env::vars()
        .filter(|(name, _)| grants.env.iter().any(|g| env_covers(g, name)))
        .collect()
}

impl StepState {
    /// Appends what the guest wrote to its WASI stdout and stderr to the step's logs.
    fn flush_guest_stdio(&mut self) {
        for (pipe, stream) in [
            (self.guest_stdout.contents(), LogStream::Stdout),
            (self.guest_stderr.contents(), LogStream::Stderr),
        ] {
            let text = String::from_utf8_lossy(&pipe);
            for line in text.lines() {
                self.logs.write(stream, line);
            }
        }
    }
}

fn request_to_wit(r: RunRequest) -> wit::RunRequest {
    wit::RunRequest {
        run_id: r.run_id,
        step_name: r.step_name,
        step_type: r.step_type,
        config: r.config.to_string(),
        command: r.command,
        script: r.script,
        env: r.env,
        work_dir: r.work_dir,
        timeout_ms: r.timeout_ms,
    }
}

fn response_from_wit(r: wit::RunResponse) -> Result<RunResponse, RunError> {
    let result_json = match r.result_json {
        None => None,
        Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
            RunError::internal(format!("the plugin's result_json is not JSON: {e}"))
        })?),
    };
    Ok(RunResponse {
        exit_code: r.exit_code,
        outputs: r.outputs,
        result_json,
    })
}

fn error_from_wit(e: wit::RunError) -> RunError {
    match e {
        wit::RunError::InvalidConfig(message) => RunError::InvalidConfig { message },
        wit::RunError::Failed(f) => RunError::Failed {
            exit_code: f.exit_code,
            message: f.message,
        },
        wit::RunError::Cancelled => RunError::Cancelled,
        wit::RunError::Denied(message) => RunError::Denied { message },
        wit::RunError::Internal(message) => RunError::Internal { message },
    }
}

fn manifest_from_wit(m: wit::Manifest) -> Result<Manifest, String> {
    let parse = |what: &str, text: &str| {
        serde_json::from_str(text).map_err(|e| format!("the {what} is not JSON: {e}"))
    };
    let step_types = m
        .step_types
        .into_iter()
        .map(|t| {
            Ok(StepTypeInfo {
                config_schema: parse("config schema", &t.config_schema)?,
                output_schema: t
                    .output_schema
                    .map(|s| parse("output schema", &s))
                    .transpose()?,
                name: t.name,
                description: t.description,
            })
        })
        .collect::<Result<_, String>>()?;
    let c = m.capabilities;
    Ok(Manifest {
        name: m.name,
        version: m.version,
        protocol: m.protocol,
        step_types,
        capabilities: Capabilities {
            http_hosts: c.http_hosts,
            fs_read: c.fs_read,
            fs_write: c.fs_write,
            env: c.env,
            tcp: c.tcp,
            exec: c.exec,
        },
    })
}
