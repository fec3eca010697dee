//! The connection to the Docker engine (made once, on first use, and shared by every
//! step), the plugin's tokio runtime, and the translation of engine errors into step
//! errors that name the cause and the fix.

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use bollard::Docker as Client;
use bollard::errors::Error as EngineError;
use dagu_plugin_sdk::{RunContext, RunError};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

/// Where the engine is, when `DOCKER_HOST` is not set.
pub(crate) const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The runtime and the (lazily made) client.
pub(crate) struct Engine {
    /// `DOCKER_HOST` value to use instead of the environment's.
    host: Option<String>,
    runtime: OnceLock<Runtime>,
    client: OnceCell<Client>,
}

impl Engine {
    pub(crate) fn new(host: Option<String>) -> Engine {
        Engine {
            host,
            runtime: OnceLock::new(),
            client: OnceCell::new(),
        }
    }

    /// The runtime every step's async work runs on (two worker threads: the work is I/O).
    pub(crate) fn runtime(&self) -> &Runtime {
        self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("dagu-docker")
                .enable_all()
                .build()
                .expect("building the docker plugin's tokio runtime")
        })
    }

    /// Whether a client was made (so there may be containers to clean up).
    pub(crate) fn connected(&self) -> bool {
        self.client.initialized()
    }

    /// The engine's address, for messages.
    pub(crate) fn host(&self) -> String {
        self.host
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| DEFAULT_HOST.to_string())
    }

    /// The client, connecting (and agreeing on the API version) on first use. A failed
    /// attempt is not remembered: the next step tries again.
    pub(crate) async fn client(&self) -> Result<&Client, RunError> {
        self.client
            .get_or_try_init(|| async {
                let host = self.host();
                let client = match &self.host {
                    Some(h) => Client::connect_with_host(h),
                    None => Client::connect_with_defaults(),
                }
                .map_err(|e| self.error("connecting to the Docker engine", e))?;
                // Speak the engine's API version when it is older than bollard's.
                client.negotiate_version().await.map_err(|e| {
                    self.error(
                        &format!("asking the Docker engine at {host} for its version"),
                        e,
                    )
                })
            })
            .await
    }

    /// A step error for `e`, which happened while doing `what`: unreachable engines and
    /// refused sockets get a message naming the address and what to check.
    pub(crate) fn error(&self, what: &str, e: EngineError) -> RunError {
        let host = self.host();
        match &e {
            EngineError::SocketNotFoundError(path) => {
                return RunError::failed(
                    1,
                    format!(
                        "cannot reach the Docker engine: the socket {path} does not exist; is dockerd running? (DOCKER_HOST={host}; set DOCKER_HOST to use another engine)"
                    ),
                );
            }
            EngineError::UnsupportedURISchemeError { uri } => {
                return RunError::invalid_config(format!(
                    "DOCKER_HOST={uri} is not supported: use unix://PATH, tcp://HOST:PORT or https://HOST:PORT"
                ));
            }
            EngineError::CertPathError { path } => {
                return RunError::failed(
                    1,
                    format!(
                        "cannot read the TLS certificate {} for the Docker engine at {host}: DOCKER_CERT_PATH (default ~/.docker) must hold ca.pem, cert.pem and key.pem",
                        path.display()
                    ),
                );
            }
            EngineError::RequestTimeoutError => {
                return RunError::failed(
                    1,
                    format!("{what}: the Docker engine at {host} did not answer in time"),
                );
            }
            _ => {}
        }
        match io_kind(&e) {
            Some(io::ErrorKind::PermissionDenied) => RunError::Denied {
                message: format!(
                    "permission denied opening the Docker engine socket ({host}): add the user running dagu to the 'docker' group, or grant the docker plugin fs_read on the socket"
                ),
            },
            Some(
                io::ErrorKind::ConnectionRefused
                | io::ErrorKind::NotFound
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe,
            ) => RunError::failed(
                1,
                format!(
                    "cannot reach the Docker engine at {host}: is dockerd running? (set DOCKER_HOST to use another engine) [{}]",
                    short(&e)
                ),
            ),
            _ => RunError::failed(1, format!("{what}: {}", short(&e))),
        }
    }
}

/// The engine's own message for server errors, else the error's text.
pub(crate) fn short(e: &EngineError) -> String {
    match e {
        EngineError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let s_text = s.to_string();
                if !text.contains(&s_text) {
                    text.push_str(": ");
                    text.push_str(&s_text);
                }
                source = s.source();
            }
            text
        }
    }
}

/// The HTTP status of an engine answer, if it was one.
pub(crate) fn status(e: &EngineError) -> Option<u16> {
    match e {
        EngineError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The kind of the first I/O error in `e`'s chain.
fn io_kind(e: &EngineError) -> Option<io::ErrorKind> {
    if let EngineError::IOError { err } = e {
        return Some(err.kind());
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = s.source();
    }
    None
}

/// Resolves once the host cancels the run (checked every 20 ms).
pub(crate) async fn cancelled(ctx: &RunContext) {
    while !ctx.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Splits a container's output into lines for the step's logs: each stream keeps its
/// unfinished last line until more arrives or the stream ends.
#[derive(Default)]
pub(crate) struct Lines {
    out: Vec<u8>,
    err: Vec<u8>,
}

/// Which of the step's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Out,
    Err,
}

impl Lines {
    /// Adds `bytes` of `stream`; returns the lines it completed (without newline).
    pub(crate) fn push(&mut self, stream: Stream, bytes: &[u8]) -> Vec<String> {
        let buf = match stream {
            Stream::Out => &mut self.out,
            Stream::Err => &mut self.err,
        };
        buf.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let line = &line[..line.len() - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            lines.push(String::from_utf8_lossy(line).into_owned());
        }
        lines
    }

    /// The unfinished last lines of both streams.
    pub(crate) fn finish(&mut self) -> Vec<(Stream, String)> {
        let mut rest = Vec::new();
        for (stream, buf) in [(Stream::Out, &mut self.out), (Stream::Err, &mut self.err)] {
            if !buf.is_empty() {
                rest.push((stream, String::from_utf8_lossy(buf).into_owned()));
                buf.clear();
            }
        }
        rest
    }
}

/// Sends one line to the step's log.
pub(crate) fn emit(ctx: &RunContext, stream: Stream, line: &str) {
    match stream {
        Stream::Out => ctx.stdout(line),
        Stream::Err => ctx.stderr(line),
    }
}

/// The stream and bytes of one frame of container output (a TTY's output counts as
/// stdout; stdin echoes are dropped).
pub(crate) fn frame(output: &bollard::container::LogOutput) -> Option<(Stream, &[u8])> {
    use bollard::container::LogOutput;
    match output {
        LogOutput::StdOut { message } | LogOutput::Console { message } => {
            Some((Stream::Out, message.as_ref()))
        }
        LogOutput::StdErr { message } => Some((Stream::Err, message.as_ref())),
        LogOutput::StdIn { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_per_stream_and_kept_until_complete() {
        let mut lines = Lines::default();
        assert!(lines.push(Stream::Out, b"hel").is_empty());
        assert_eq!(lines.push(Stream::Err, b"e1\ne"), ["e1"]);
        assert_eq!(
            lines.push(Stream::Out, b"lo\r\nworld\n\nx"),
            ["hello", "world", ""]
        );
        assert_eq!(
            lines.finish(),
            [
                (Stream::Out, "x".to_string()),
                (Stream::Err, "e".to_string())
            ]
        );
        assert!(lines.finish().is_empty());
    }
}
