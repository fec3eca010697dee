//! The `http` step type: sends the request of the step's `command` (`<METHOD> <URL>`)
//! with the `config`'s headers, query and body, follows redirects (up to 10), and prints
//! the response on stdout — the status line, headers, a blank line and the body; only the
//! body with `silent` (on 2xx); one JSON object with `json`. A status outside 2xx fails the
//! step after the response is printed.
//!
//! As a WASM component (`wasm32-wasip2`) the request goes out through wasi-http, so the
//! host decides which hosts it may reach and verifies TLS certificates. Natively there is
//! no transport: everything up to sending is the same code, and `run` then fails.

mod config;
mod manifest;
mod output;
mod request;
mod transport;

use std::time::{Duration, Instant};

use dagu_plugin_sdk::{Manifest, Plugin, RunContext, RunError, RunRequest, RunResponse};

use crate::config::Config;
use crate::output::Reply;
use crate::request::{Call, MAX_REDIRECTS, Prepared};

/// The `http` plugin.
#[derive(Default)]
pub struct Http;

impl Plugin for Http {
    fn describe(&self) -> Manifest {
        manifest::manifest()
    }

    fn run(&self, request: RunRequest, ctx: &RunContext) -> Result<RunResponse, RunError> {
        execute(&request, ctx, &transport::Platform)
    }
}

dagu_plugin_sdk::export_plugin!(Http);

/// Why one exchange brought no response.
#[derive(Clone, Debug, PartialEq)]
// Natively only `Unavailable` is produced (outside tests); the WASM transport makes the rest.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) enum Failure {
    /// The step's `timeout` passed.
    TimedOut,
    /// The host asked the step to stop.
    Cancelled,
    /// The connection or the protocol failed (or the host refused the request); why.
    Broken(String),
    /// There is no way to send requests here (natively).
    #[cfg(not(target_arch = "wasm32"))]
    Unavailable(String),
}

/// Sends one request and receives its response (redirects are not followed here).
pub(crate) trait Transport {
    /// Gives up with [`Failure::TimedOut`] at `deadline`, and with
    /// [`Failure::Cancelled`] soon after the host asks the run to stop.
    fn send(
        &self,
        call: &Call,
        deadline: Option<Instant>,
        ctx: &RunContext,
    ) -> Result<Reply, Failure>;
}

/// Runs one step: reads the config, prepares the request, exchanges it (following
/// redirects) through `transport`, prints the response and judges its status.
pub(crate) fn execute(
    request: &RunRequest,
    ctx: &RunContext,
    transport: &dyn Transport,
) -> Result<RunResponse, RunError> {
    let config = Config::from_step(&request.config, request.script.as_deref())?;
    let Prepared { call, warnings } = request::prepare(&request.command, &config)?;
    for warning in &warnings {
        ctx.stderr(warning);
    }
    if config.skip_tls_verify {
        ctx.stderr(
            "warning: skipTLSVerify is not supported by this plugin: the host verifies TLS \
             certificates and a WASM component cannot turn that off",
        );
    }
    let deadline = config.timeout.map(|t| Instant::now() + t);
    let mut current = call;
    let mut redirects = 0;
    let reply = loop {
        if config.debug {
            ctx.stderr(&current.describe());
        }
        let reply = transport
            .send(&current, deadline, ctx)
            .map_err(|f| failure(f, &current, &config))?;
        if config.debug {
            ctx.stderr(&reply.describe_head());
        }
        match request::redirect(&current, reply.status, reply.header("location"))? {
            None => break reply,
            Some(_) if redirects == MAX_REDIRECTS => {
                return Err(RunError::failed(
                    1,
                    format!(
                        "{} {}: stopped after {MAX_REDIRECTS} redirects",
                        current.method, current.url
                    ),
                ));
            }
            Some(next) => {
                redirects += 1;
                current = next;
            }
        }
    };
    let text = output::render(&reply, &config);
    if !text.is_empty() {
        ctx.stdout(&text);
    }
    output::check_status(reply.status)?;
    Ok(RunResponse::default())
}

/// The step's error for a failed exchange of `call`.
fn failure(failure: Failure, call: &Call, config: &Config) -> RunError {
    let request = format!("{} {}", call.method, call.url);
    match failure {
        Failure::TimedOut => RunError::failed(
            1,
            format!(
                "{request}: timed out after {} (config timeout)",
                seconds(config.timeout.unwrap_or_default())
            ),
        ),
        Failure::Cancelled => RunError::Cancelled,
        Failure::Broken(why) => {
            let hint = if config.skip_tls_verify && why.contains("TLS") {
                " (skipTLSVerify cannot turn off certificate verification in this plugin)"
            } else {
                ""
            };
            RunError::failed(1, format!("{request}: {why}{hint}"))
        }
        #[cfg(not(target_arch = "wasm32"))]
        Failure::Unavailable(why) => RunError::internal(why),
    }
}

/// `2s`, `2.5s`.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
