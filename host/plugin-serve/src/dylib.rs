//! [`NativeLibrary`]: a shared library with dagu's C ABI (version 1), loaded with
//! `libloading` into a `dagu plugin serve --dylib` process — never into the host, so a crash
//! costs the steps in flight, not the scheduler. Only plugins a deployment lists in
//! `plugins.trusted` are started this way: the library's code runs unchecked inside this
//! process (the operating-system sandbox still applies).
//!
//! The library exports (specified, with a C header, in `docs/plugin-protocol.md`):
//!
//! * `char *dagu_plugin_describe(void)`: the manifest as JSON;
//! * `char *dagu_plugin_run(const char *request_json, const DaguHost *host)`: the outcome
//!   as JSON, `{"ok": response}` or `{"err": run-error}`; called on one thread per run,
//!   several at once;
//! * `void dagu_plugin_free(char *)`: frees a string the two others returned.
//!
//! [`DaguHost`] carries the run's log and cancellation flag for the duration of one
//! `dagu_plugin_run` call.

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::Path;

use dagu_plugin_sdk::{LogStream, Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};
use libloading::Library;

use crate::LoadError;
use crate::outcome::{decode_manifest, decode_outcome};

/// `stream` of [`DaguHost::log`] for the step's stdout log (`1` is stderr).
pub const STDOUT: u32 = 0;

/// What a running step can reach, passed to `dagu_plugin_run`; valid only during that call.
#[repr(C)]
pub struct DaguHost {
    /// The run, to pass back to the functions below.
    pub ctx: *mut c_void,
    /// Writes one line (NUL-terminated UTF-8, no newline needed) to the step's stdout
    /// ([`STDOUT`]) or stderr (`1`, and any other value) log.
    pub log: extern "C" fn(ctx: *mut c_void, stream: u32, line: *const c_char),
    /// Whether the host asked this run to stop.
    pub is_cancelled: extern "C" fn(ctx: *mut c_void) -> bool,
}

type DescribeFn = unsafe extern "C" fn() -> *mut c_char;
type RunFn =
    unsafe extern "C" fn(request_json: *const c_char, host: *const DaguHost) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(text: *mut c_char);

/// A loaded native plugin library, described and ready to run steps.
pub struct NativeLibrary {
    manifest: Manifest,
    run: RunFn,
    free: FreeFn,
    /// Keeps the code the function pointers point into mapped.
    _library: Library,
}

impl NativeLibrary {
    /// Loads the library at `path`, finds its three functions and asks it to describe
    /// itself.
    pub fn load(path: &Path) -> Result<NativeLibrary, LoadError> {
        let shown = path.display();
        // SAFETY: loading runs the library's initialisers. That is the trust the deployment
        // gave by listing the plugin in plugins.trusted; the host runs this process apart.
        let library = unsafe { Library::new(path) }
            .map_err(|e| LoadError(format!("cannot load {shown}: {e}")))?;
        // SAFETY: the types are those of the C ABI in docs/plugin-protocol.md; a library
        // that exports these names with other types breaks its contract.
        let (describe, run, free) = unsafe {
            (
                *symbol::<DescribeFn>(&library, "dagu_plugin_describe")?,
                *symbol::<RunFn>(&library, "dagu_plugin_run")?,
                *symbol::<FreeFn>(&library, "dagu_plugin_free")?,
            )
        };
        // SAFETY: the ABI's describe takes nothing and returns a string for `free`.
        let json = unsafe { take_string(describe(), free) }
            .ok_or_else(|| LoadError("dagu_plugin_describe returned NULL".into()))?;
        Ok(NativeLibrary {
            manifest: decode_manifest(&json)?,
            run,
            free,
            _library: library,
        })
    }
}

/// The exported function `name`, as a `T`.
///
/// # Safety
/// `T` must be the function's real type.
unsafe fn symbol<'lib, T>(
    library: &'lib Library,
    name: &str,
) -> Result<libloading::Symbol<'lib, T>, LoadError> {
    // SAFETY: as the caller promises.
    unsafe { library.get::<T>(name) }.map_err(|e| {
        LoadError(format!(
            "the library does not export {name} (a dagu plugin library exports \
             dagu_plugin_describe, dagu_plugin_run and dagu_plugin_free): {e}"
        ))
    })
}

/// Copies a string the library returned and hands it back to the library's `free`; `None`
/// for NULL.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string that `free` accepts.
unsafe fn take_string(text: *mut c_char, free: FreeFn) -> Option<Vec<u8>> {
    if text.is_null() {
        return None;
    }
    // SAFETY: as the caller promises.
    unsafe {
        let bytes = CStr::from_ptr(text).to_bytes().to_vec();
        free(text);
        Some(bytes)
    }
}

impl Plugin for NativeLibrary {
    fn describe(&self) -> Manifest {
        self.manifest.clone()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        // JSON escapes NUL, so the text has none.
        let json = serde_json::to_string(&request)
            .ok()
            .and_then(|text| CString::new(text).ok())
            .ok_or_else(|| RunError::internal("cannot encode the request"))?;
        let host = DaguHost {
            ctx: std::ptr::from_ref(ctx).cast_mut().cast(),
            log: host_log,
            is_cancelled: host_is_cancelled,
        };
        // SAFETY: the ABI's run: a NUL-terminated request and a host valid for the call;
        // it returns a string for `free` (or NULL).
        let answer = unsafe { take_string((self.run)(json.as_ptr(), &host), self.free) };
        match answer {
            Some(json) => decode_outcome(&json),
            None => Err(RunError::internal("dagu_plugin_run returned NULL")),
        }
    }
}

/// [`DaguHost::log`].
extern "C" fn host_log(ctx: *mut c_void, stream: u32, line: *const c_char) {
    if ctx.is_null() || line.is_null() {
        return;
    }
    // SAFETY: `ctx` is the `RunContext` `run` passed, alive during dagu_plugin_run (the only
    // time the library may call this); `line` is NUL-terminated by the ABI.
    let (ctx, line) = unsafe { (&*ctx.cast::<RunContext>(), CStr::from_ptr(line)) };
    let stream = if stream == STDOUT {
        LogStream::Stdout
    } else {
        LogStream::Stderr
    };
    ctx.log(stream, &line.to_string_lossy());
}

/// [`DaguHost::is_cancelled`].
extern "C" fn host_is_cancelled(ctx: *mut c_void) -> bool {
    // SAFETY: as in `host_log`.
    !ctx.is_null() && unsafe { &*ctx.cast::<RunContext>() }.is_cancelled()
}
