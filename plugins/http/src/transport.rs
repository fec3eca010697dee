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
    use std::pin::{Pin, pin};
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use dagu_plugin_sdk::RunContext;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
        Scheme,
    };
    use wstd::io::{AsyncInputStream, AsyncOutputStream};
    use wstd::runtime::AsyncPollable;

    use crate::Failure;
    use crate::output::Reply;
    use crate::request::{Call, Url};

    /// How often a waiting request looks at the host's stop flag.
    const CANCEL_POLL: Duration = Duration::from_millis(50);

    /// wasi-http does not tell the protocol version; the host speaks HTTP/1.1.
    const VERSION: &str = "HTTP/1.1";

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
                    Some(r) => {
                        wstd::task::sleep(r.into()).await;
                    }
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
        mut exchange: Pin<&mut impl Future<Output = Result<Reply, Failure>>>,
        mut timer: Pin<&mut impl Future<Output = ()>>,
        mut stop: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Reply, Failure> {
        poll_fn(|cx| {
            if let Poll::Ready(result) = exchange.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Failure::TimedOut));
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(Failure::Cancelled));
            }
            Poll::Pending
        })
        .await
    }

    /// Sends `call` and reads the whole response. Unlike wstd's client, which returns the
    /// first error of writing the body and awaiting the response, the response's outcome
    /// decides: a refused or failed request closes the body stream first, and only the
    /// response's error says why.
    async fn exchange(call: &Call, connect_timeout: Option<Duration>) -> Result<Reply, Failure> {
        let broken = |why: String| Failure::Broken(why);
        let url = Url::parse(&call.url).map_err(|e| broken(e.to_string()))?;
        let fields = Fields::new();
        for (name, value) in &call.headers {
            fields
                .append(name, value.as_bytes())
                .map_err(|e| broken(format!("the host does not accept header {name}: {e:?}")))?;
        }
        let request = OutgoingRequest::new(fields);
        let scheme = if url.scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let refused = |what: &str| broken(format!("the host does not accept the {what}"));
        request
            .set_method(&method(&call.method))
            .map_err(|()| refused("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| refused("scheme"))?;
        request
            .set_authority(Some(&url.authority))
            .map_err(|()| refused("host"))?;
        request
            .set_path_with_query(Some(&url.target))
            .map_err(|()| refused("path"))?;
        let body = request.body().map_err(|()| refused("body"))?;
        let options = RequestOptions::new();
        if let Some(timeout) = connect_timeout {
            let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            // A host that cannot limit connecting is still bounded by the step's timer.
            let _ = options.set_connect_timeout(Some(nanos));
        }
        let pending =
            outgoing_handler::handle(request, Some(options)).map_err(|c| broken(describe(&c)))?;

        let content = call.body.as_deref().unwrap_or_default().as_bytes();
        let mut send_body = pin!(async move {
            {
                let stream = body
                    .write()
                    .map_err(|()| "the body cannot be written".to_string())?;
                let out = AsyncOutputStream::new(stream);
                if !content.is_empty() {
                    out.write_all(content).await.map_err(|e| e.to_string())?;
                }
            }
            OutgoingBody::finish(body, None).map_err(|c| describe(&c))
        });
        let mut response = pin!(async {
            AsyncPollable::new(pending.subscribe()).wait_for().await;
            match pending.get() {
                Some(Ok(Ok(response))) => Ok(response),
                Some(Ok(Err(code))) => Err(describe(&code)),
                Some(Err(())) | None => Err("the response was lost".to_string()),
            }
        });
        // Drive both until the response is there; the response decides (when the body
        // could not be written, the request failed and the response says why; a server
        // may also answer before reading the whole body).
        let mut body_done = false;
        let incoming = poll_fn(|cx| {
            if !body_done {
                body_done = send_body.as_mut().poll(cx).is_ready();
            }
            response.as_mut().poll(cx)
        })
        .await
        .map_err(broken)?;
        read_response(incoming).await
    }

    async fn read_response(incoming: IncomingResponse) -> Result<Reply, Failure> {
        let status = incoming.status();
        let headers = {
            let fields = incoming.headers();
            fields
                .entries()
                .into_iter()
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect()
        };
        let body = incoming
            .consume()
            .map_err(|()| Failure::Broken("the response body cannot be read".into()))?;
        let mut data = Vec::new();
        {
            let stream = body
                .stream()
                .map_err(|()| Failure::Broken("the response body cannot be read".into()))?;
            let input = AsyncInputStream::new(stream);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = input.read(&mut chunk).await.map_err(|e| {
                    Failure::Broken(format!("reading the response body failed: {e}"))
                })?;
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&chunk[..n]);
            }
        }
        drop(body);
        Ok(Reply {
            version: VERSION.to_string(),
            status,
            headers,
            body: data,
        })
    }

    fn method(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        }
    }

    /// A readable reason for a wasi-http error.
    fn describe(code: &ErrorCode) -> String {
        match code {
            ErrorCode::HttpRequestDenied => "the host refused the request".to_string(),
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
