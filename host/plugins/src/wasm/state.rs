//! [`StepState`]: what one step's store holds — WASI with only the granted preopens and env
//! vars, wasi-http with the allow-list of granted hosts, the memory limiter, the step's log
//! files and its cancellation flag — and the host side of the `host` interface.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dagu_plugin_sdk::LogStream;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, Result as HttpResult, WasiBody, WasiHttpCtx,
    WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::registry::caps::host_covers;
use crate::step_io::StepLogs;
use crate::wasm::bindings::dagu::plugin::host;
use crate::wasm::bindings::wit;

/// How much of the guest's own stdout/stderr (WASI streams, e.g. `println!`) is kept for
/// the step's logs.
pub const GUEST_STDIO_CAPACITY: usize = 1 << 20;

/// The state of one step's store.
pub struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) hosts: HostAllowList,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) logs: StepLogs,
    pub(crate) cancelled: Arc<AtomicBool>,
    /// The guest's WASI stdout and stderr, appended to the logs after the run.
    pub(crate) guest_stdout: MemoryOutputPipe,
    pub(crate) guest_stderr: MemoryOutputPipe,
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hosts,
        }
    }
}

impl host::Host for StepState {
    fn log(&mut self, channel: wit::LogStream, line: String) {
        let stream = match channel {
            wit::LogStream::Stdout => LogStream::Stdout,
            wit::LogStream::Stderr => LogStream::Stderr,
        };
        self.logs.write(stream, &line);
    }

    fn is_cancelled(&mut self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

impl wit::Host for StepState {}

/// The hosts a plugin may send HTTP requests to (its effective `http_hosts`); every other
/// request is refused before a connection is made.
pub struct HostAllowList {
    pub(crate) hosts: Vec<String>,
    /// The first refused host, for the step's error message.
    pub(crate) refused: Option<String>,
}

impl HostAllowList {
    /// Whether `host` may be reached.
    pub fn allows(&self, host: &str) -> bool {
        self.hosts.iter().any(|pattern| host_covers(pattern, host))
    }
}

impl WasiHttpHooks for HostAllowList {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = HttpResult<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                )>,
            > + Send,
    > {
        let host = request.uri().host().unwrap_or_default().to_string();
        if !self.allows(&host) {
            self.refused.get_or_insert(host);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let _ = fut;
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// Limits a step's linear memories (and tables) and remembers when the guest hit the
/// limit, so the step's error can say so.
pub struct MemoryLimiter {
    pub(crate) max_bytes: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        self.hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
