//! extism-echo: an example dagu plugin written with the Extism Rust PDK, built for
//! `wasm32-unknown-unknown` and run by `dagu plugin serve extism`.
//!
//! It exports the two functions dagu calls, both exchanging the JSON records of
//! `docs/plugin-protocol.md`:
//!
//! * `describe`: the manifest, with the config schema of `extism-echo.schema.json`;
//! * `run`: a run request in, the outcome `{"ok": response}` or `{"err": error}` out.
//!
//! The step type `extism-echo` logs `message` through the host function `dagu_log` and
//! returns it as the output `MESSAGE`. With `read`, it also reads that file through WASI
//! (only folders the deployment grants are open) and returns it as `CONTENT`. With
//! `busy_ms` it computes for that long before answering, and with `mode: spin` forever;
//! neither looks at cancellation, which shows that the host interrupts a module that does
//! not cooperate, and only that one.

use extism_pdk::{host_fn, plugin_fn, FnResult, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const STEP_TYPE: &str = "extism-echo";
const CONFIG_SCHEMA: &str = include_str!("../extism-echo.schema.json");

/// The input of `dagu_log`.
#[derive(Serialize)]
struct LogEntry {
    stream: String,
    line: String,
}

#[host_fn("extism:host/user")]
extern "ExtismHost" {
    fn dagu_log(entry: Json<LogEntry>);
}

/// The fields of a run request this plugin reads.
#[derive(Deserialize)]
struct Request {
    step_type: String,
    config: Config,
}

#[derive(Deserialize)]
struct Config {
    message: String,
    read: Option<String>,
    busy_ms: Option<u64>,
    #[serde(default)]
    mode: Mode,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[default]
    Normal,
    Spin,
}

#[plugin_fn]
pub fn describe() -> FnResult<Json<Value>> {
    let schema: Value = serde_json::from_str(CONFIG_SCHEMA)?;
    Ok(Json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": "dagu-plugin/1",
        "step_types": [{
            "name": STEP_TYPE,
            "description": "Logs a message and returns it as the output MESSAGE",
            "config_schema": schema,
        }],
        "capabilities": {"fs_read": ["/"]},
    })))
}

#[plugin_fn]
pub fn run(Json(request): Json<Request>) -> FnResult<Json<Value>> {
    Ok(Json(match echo(request) {
        Ok(response) => json!({ "ok": response }),
        Err(error) => json!({ "err": error }),
    }))
}

/// One step: the response, or the run error as its JSON record.
fn echo(request: Request) -> Result<Value, Value> {
    if request.step_type != STEP_TYPE {
        let message = format!("unknown step type {}", request.step_type);
        return Err(json!({"kind": "invalid_config", "message": message}));
    }
    let config = request.config;
    log("stdout", &config.message)?;
    let mut outputs = vec![json!(["MESSAGE", config.message])];
    if let Some(path) = &config.read {
        let content = wasi_fs::read(path)?;
        log(
            "stderr",
            &format!("read {} bytes from {path}", content.len()),
        )?;
        outputs.push(json!(["CONTENT", content]));
    }
    if let Some(ms) = config.busy_ms {
        busy(ms)?;
    }
    if config.mode == Mode::Spin {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    Ok(json!({
        "exit_code": 0,
        "outputs": outputs,
        "result_json": {"message": config.message},
    }))
}

/// Computes until `ms` milliseconds have passed on WASI's monotonic clock.
fn busy(ms: u64) -> Result<(), Value> {
    let now = || {
        // SAFETY: a WASI call without pointers.
        unsafe { wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 1_000) }
            .map_err(|e| json!({"kind": "internal", "message": format!("clock: {}", e.message())}))
    };
    let end = now()? + ms * 1_000_000;
    while now()? < end {}
    Ok(())
}

/// Writes one line to the step's `stream` log.
fn log(stream: &str, line: &str) -> Result<(), Value> {
    let entry = LogEntry {
        stream: stream.into(),
        line: line.into(),
    };
    // SAFETY: a host function call with a value the host reads as JSON.
    unsafe { dagu_log(Json(entry)) }
        .map_err(|e| json!({"kind": "internal", "message": format!("dagu_log: {e}")}))
}

/// Reading a file through WASI preview 1: the host preopens each granted folder under
/// its own path, so a file is opened relative to the preopen that holds it.
mod wasi_fs {
    use serde_json::{json, Value};

    /// The folders WASI preopened: (descriptor, path).
    fn preopens() -> Vec<(wasi::Fd, String)> {
        let mut found = Vec::new();
        // Preopens are numbered from 3 up; the first descriptor that is none ends them.
        for fd in 3.. {
            // SAFETY: WASI calls on a descriptor number and a buffer of the size asked.
            let Ok(stat) = (unsafe { wasi::fd_prestat_get(fd) }) else {
                break;
            };
            if stat.tag != wasi::PREOPENTYPE_DIR.raw() {
                continue;
            }
            // SAFETY: the tag says the union holds a folder.
            let len = unsafe { stat.u.dir.pr_name_len };
            let mut name = vec![0u8; len];
            // SAFETY: `name` has room for `len` bytes.
            if unsafe { wasi::fd_prestat_dir_name(fd, name.as_mut_ptr(), len) }.is_ok() {
                let name = String::from_utf8_lossy(&name);
                found.push((fd, name.trim_end_matches('\0').to_string()));
            }
        }
        found
    }

    /// `path` relative to the folder `root`, if it starts with it (by components).
    fn relative_to<'a>(path: &'a str, root: &str) -> Option<&'a str> {
        let rest = path.strip_prefix(root.trim_end_matches('/'))?;
        if rest.is_empty() {
            Some(".")
        } else {
            rest.strip_prefix('/')
        }
    }

    /// The text of the file `path`, or the run error saying why not.
    pub fn read(path: &str) -> Result<String, Value> {
        let (dir, rel) = preopens()
            .into_iter()
            .find_map(|(fd, root)| relative_to(path, &root).map(|rel| (fd, rel.to_string())))
            .ok_or_else(|| {
                let message = format!("{path} is not in a folder granted to this plugin");
                json!({"kind": "denied", "message": message})
            })?;
        let error = |what: &str, e: wasi::Errno| {
            let kind = match e {
                wasi::ERRNO_NOTCAPABLE | wasi::ERRNO_PERM | wasi::ERRNO_ACCES => "denied",
                _ => "failed",
            };
            let message = format!("cannot {what} {path}: {} ({})", e.message(), e.name());
            json!({"kind": kind, "exit_code": 1, "message": message})
        };
        // SAFETY: WASI calls with a descriptor WASI gave and a buffer we own.
        unsafe {
            let fd = wasi::path_open(dir, 0, &rel, 0, wasi::RIGHTS_FD_READ, 0, 0)
                .map_err(|e| error("open", e))?;
            let mut content = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let iov = wasi::Iovec {
                    buf: buf.as_mut_ptr(),
                    buf_len: buf.len(),
                };
                match wasi::fd_read(fd, &[iov]) {
                    Ok(0) => break,
                    Ok(n) => content.extend_from_slice(&buf[..n]),
                    Err(e) => {
                        let _ = wasi::fd_close(fd);
                        return Err(error("read", e));
                    }
                }
            }
            let _ = wasi::fd_close(fd);
            Ok(String::from_utf8_lossy(&content).into_owned())
        }
    }
}
