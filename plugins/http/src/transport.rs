//! [`Platform`]: the [`Transport`] of the target. In a WASM component it is wasi-http
//! (through `wstd`), raced against the step's timeout and the host's stop request;
//! natively there is none.

use std::time::Instant;

use dagu_plugin_sdk::RunContext;

use crate::output::Reply;
use crate::request::Call;
use crate::{Failure, Transport};

/// The target's way of sending requests.
pub(crate) struct Platform;

#[cfg(not(target_arch = "wasm32"))]
impl Transport for Platform {
    fn send(&self, _: &Call, _: Option<Instant>, _: &RunContext) -> Result<Reply, Failure> {
        Err(Failure::Unavailable(
            "the http plugin runs only as a WASM component".to_string(),
        ))
    }
}

#[cfg(target_arch = "wasm32")]
impl Transport for Platform {
    fn send(
        &self,
        call: &Call,
        deadline: Option<Instant>,
        ctx: &RunContext,
    ) -> Result<Reply, Failure> {
        wasi::send(call, deadline, ctx)
    }
}

#[cfg(target_arch = "wasm32")]
mod wasi {
    use std::future::{Future, poll_fn};
    use std::pin::pin;
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use dagu_plugin_sdk::RunContext;
    use wstd::http::error::ErrorCode;
    use wstd::http::{Body, Client, Request};

    use crate::Failure;
    use crate::output::Reply;
    use crate::request::Call;

    /// How often a waiting request looks at the host's stop flag.
    const CANCEL_POLL: Duration = Duration::from_millis(50);

    pub(super) fn send(
        call: &Call,
        deadline: Option<Instant>,
        ctx: &RunContext,
    ) -> Result<Reply, Failure> {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if remaining == Some(Duration::ZERO) {
            return Err(Failure::TimedOut);
        }
        wstd::runtime::block_on(async {
            let exchange = pin!(exchange(call, remaining));
            let timer = pin!(async {
                match remaining {
                    Some(r) => wstd::task::sleep(r.into()).await,
                    None => std::future::pending::<()>().await,
                }
            });
            let stop = pin!(async {
                while !ctx.is_cancelled() {
                    wstd::task::sleep(CANCEL_POLL.into()).await;
                }
            });
            race(exchange, timer, stop).await
        })
    }

    /// The exchange's result, unless the timer or the stop request comes first.
    async fn race(
        mut exchange: impl Future<Output = Result<Reply, Failure>> + Unpin,
        mut timer: impl Future<Output = ()> + Unpin,
        mut stop: impl Future<Output = ()> + Unpin,
    ) -> Result<Reply, Failure> {
        poll_fn(|cx| {
            if let Poll::Ready(result) = std::pin::Pin::new(&mut exchange).poll(cx) {
                return Poll::Ready(result);
            }
            if std::pin::Pin::new(&mut timer).poll(cx).is_ready() {
                return Poll::Ready(Err(Failure::TimedOut));
            }
            if std::pin::Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(Err(Failure::Cancelled));
            }
            Poll::Pending
        })
        .await
    }

    async fn exchange(call: &Call, connect_timeout: Option<Duration>) -> Result<Reply, Failure> {
        let mut builder = Request::builder()
            .method(call.method.as_str())
            .uri(call.url.as_str());
        for (name, value) in &call.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = call.body.clone().map_or_else(Body::empty, Body::from);
        let request = builder
            .body(body)
            .map_err(|e| Failure::Broken(format!("cannot build the request: {e}")))?;
        let mut client = Client::new();
        if let Some(timeout) = connect_timeout {
            client.set_connect_timeout(timeout);
        }
        let response = client
            .send(request)
            .await
            .map_err(|e| Failure::Broken(describe(&e)))?;
        let (head, mut body) = response.into_parts();
        let headers = head
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = body.bytes_contents().await.map_err(|e| {
            Failure::Broken(format!(
                "reading the response body failed: {}",
                describe(&e)
            ))
        })?;
        Ok(Reply {
            version: format!("{:?}", head.version),
            status: head.status.as_u16(),
            headers,
            body: bytes.to_vec(),
        })
    }

    /// A readable reason for a wasi-http error.
    fn describe(error: &wstd::http::Error) -> String {
        let Some(code) = error.downcast_ref::<ErrorCode>() else {
            return format!("{error:#}");
        };
        match code {
            ErrorCode::HttpRequestDenied => {
                "the request was refused by the host (HTTP request denied)".to_string()
            }
            ErrorCode::DnsTimeout => "DNS lookup timed out".to_string(),
            ErrorCode::DnsError(e) => format!(
                "DNS lookup failed{}",
                e.rcode
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            ErrorCode::DestinationNotFound => "destination not found".to_string(),
            ErrorCode::DestinationUnavailable => "destination unavailable".to_string(),
            ErrorCode::DestinationIpProhibited => "destination IP prohibited".to_string(),
            ErrorCode::DestinationIpUnroutable => "destination IP unroutable".to_string(),
            ErrorCode::ConnectionRefused => "connection refused".to_string(),
            ErrorCode::ConnectionTerminated => "connection closed by the server".to_string(),
            ErrorCode::ConnectionTimeout => "connection timed out".to_string(),
            ErrorCode::ConnectionReadTimeout => "timed out reading the response".to_string(),
            ErrorCode::ConnectionWriteTimeout => "timed out sending the request".to_string(),
            ErrorCode::TlsProtocolError => "TLS protocol error".to_string(),
            ErrorCode::TlsCertificateError => "TLS certificate error".to_string(),
            ErrorCode::TlsAlertReceived(alert) => format!(
                "TLS alert received{}",
                alert
                    .alert_message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            ErrorCode::HttpRequestUriInvalid => "invalid request URI".to_string(),
            ErrorCode::HttpResponseIncomplete => "incomplete response".to_string(),
            ErrorCode::HttpResponseTimeout => "timed out waiting for the response".to_string(),
            ErrorCode::HttpProtocolError => "HTTP protocol error".to_string(),
            ErrorCode::InternalError(Some(message)) => message.clone(),
            other => format!("{other:?}"),
        }
    }
}
