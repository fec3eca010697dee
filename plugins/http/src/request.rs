//! From the step to the request to send: the request line (`<METHOD> <URL>`), the URL
//! (checked, fragment dropped, credentials turned into Basic auth, `query` appended
//! percent-encoded), the headers (checked, with the ones the client sets itself), and
//! where a redirect leads.

use http::{HeaderName, HeaderValue, Method};

use dagu_plugin_sdk::RunError;

use crate::config::Config;

/// The `User-Agent` sent unless the step sets one.
pub(crate) const USER_AGENT: &str = concat!("dagu-http/", env!("CARGO_PKG_VERSION"));

/// The body's type unless the step sets `Content-Type`, for a non-empty body.
const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// Headers the WASM host manages itself (wasi-http refuses them). `Host` is an error
/// (it would change the request's meaning); the others are dropped with a warning.
const HOST_MANAGED: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Headers not carried to another host on a redirect.
const CREDENTIALS: [&str; 4] = ["authorization", "www-authenticate", "cookie", "cookie2"];

/// One request to send.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Call {
    /// The method, upper case.
    pub method: String,
    /// An absolute `http`/`https` URL without credentials or fragment.
    pub url: String,
    /// Headers in order (names as written); `Content-Length` included.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl Call {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    fn drop_headers(&mut self, names: &[&str]) {
        self.headers
            .retain(|(n, _)| !names.iter().any(|d| n.eq_ignore_ascii_case(d)));
    }

    /// `request line + headers` for `debug`, each line starting with `> `, then the body.
    /// Credentials (`Authorization`, `Cookie`) are not shown.
    pub fn describe(&self) -> String {
        let mut text = format!("> {} {}", self.method, self.url);
        for (name, value) in &self.headers {
            let secret = ["authorization", "cookie"]
                .iter()
                .any(|s| name.eq_ignore_ascii_case(s));
            let value = if secret { "(hidden)" } else { value.as_str() };
            text.push_str(&format!("\n> {name}: {value}"));
        }
        if let Some(body) = self.body.as_deref().filter(|b| !b.is_empty()) {
            text.push_str("\n>\n");
            text.push_str(body.strip_suffix('\n').unwrap_or(body));
        }
        text
    }
}

/// The request a step asks for, and warnings for its stderr.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub call: Call,
    pub warnings: Vec<String>,
}

/// The request of a step with `command` (the request line) and `config`.
pub(crate) fn prepare(command: &[String], config: &Config) -> Result<Prepared, RunError> {
    let (method, raw_url) = request_line(command)?;
    let url = Url::parse(&raw_url)?;
    let mut warnings = Vec::new();
    let mut headers = Vec::new();
    for (name, value) in &config.headers {
        let lower = name.to_ascii_lowercase();
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| RunError::invalid_config(format!("invalid header name {name:?}")))?;
        HeaderValue::from_str(value).map_err(|_| {
            RunError::invalid_config(format!(
                "invalid value for header {name}: {value:?} (line breaks and control \
                 characters are not allowed)"
            ))
        })?;
        if lower == "host" {
            return Err(RunError::invalid_config(
                "header Host cannot be set: the request goes to the URL's host, and the \
                 WASM host sends that as the Host header",
            ));
        }
        if HOST_MANAGED.contains(&lower.as_str()) {
            warnings.push(format!(
                "warning: header {name} is managed by the HTTP client of the host and was not sent"
            ));
            continue;
        }
        if lower == "content-length" {
            // Computed from the body below, as the client would do anyway.
            continue;
        }
        headers.push((name.clone(), value.clone()));
    }
    let mut call = Call {
        method,
        url: url.with_query(&config.query),
        headers,
        body: config.body.clone(),
    };
    if !call.has_header("user-agent") {
        call.headers
            .push(("User-Agent".to_string(), USER_AGENT.to_string()));
    }
    if let Some(credentials) = &url.credentials
        && !call.has_header("authorization")
    {
        call.headers.push((
            "Authorization".to_string(),
            format!("Basic {}", base64(credentials.as_bytes())),
        ));
    }
    if call.body.as_deref().is_some_and(|b| !b.is_empty()) && !call.has_header("content-type") {
        call.headers
            .push(("Content-Type".to_string(), DEFAULT_CONTENT_TYPE.to_string()));
    }
    set_content_length(&mut call);
    Ok(Prepared { call, warnings })
}

/// `Content-Length` for the body; `0` for an empty body of a method that carries one.
fn set_content_length(call: &mut Call) {
    call.drop_headers(&["content-length"]);
    let length = match &call.body {
        Some(body) => Some(body.len()),
        None => matches!(call.method.as_str(), "POST" | "PUT" | "PATCH").then_some(0),
    };
    if let Some(length) = length {
        call.headers
            .push(("Content-Length".to_string(), length.to_string()));
    }
}

/// The method and URL of `command` (one line `<METHOD> <URL>`, or the two as a list).
pub(crate) fn request_line(command: &[String]) -> Result<(String, String), RunError> {
    let line = command.join(" ");
    let words: Vec<&str> = line.split_whitespace().collect();
    let (method, url) = match words.as_slice() {
        [method, url] => (*method, unquote(url)),
        [] => {
            return Err(RunError::invalid_config(
                "an http step needs `command: <METHOD> <URL>`, e.g. `command: GET https://example.com`",
            ));
        }
        [one] => {
            return Err(RunError::invalid_config(format!(
                "the command must be `<METHOD> <URL>`, got only {one:?}"
            )));
        }
        _ => {
            return Err(RunError::invalid_config(format!(
                "the command must be `<METHOD> <URL>` (two words; encode spaces in the URL as \
                 %20), got {line:?}"
            )));
        }
    };
    let method = method.to_ascii_uppercase();
    Method::from_bytes(method.as_bytes())
        .map_err(|_| RunError::invalid_config(format!("invalid HTTP method {method:?}")))?;
    Ok((method, url.to_string()))
}

fn unquote(word: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = word.strip_prefix(quote).and_then(|w| w.strip_suffix(quote)) {
            return inner;
        }
    }
    word
}

/// A checked URL, split where the plugin needs it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Url {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// Path and query, starting with `/`.
    pub target: String,
    /// `user:password` from the URL, percent-decoded.
    pub credentials: Option<String>,
}

impl Url {
    /// Parses an absolute `http`/`https` URL; the fragment is dropped, and characters a
    /// request target may not hold (spaces, quotes, non-ASCII, ...) are percent-encoded.
    pub fn parse(raw: &str) -> Result<Url, RunError> {
        let invalid = |why: &str| RunError::invalid_config(format!("invalid URL {raw:?}: {why}"));
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(invalid("it must start with http:// or https://"));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid(&format!(
                "unsupported protocol scheme {scheme:?} (only http and https)"
            )));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (credentials, authority) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(percent_decode(userinfo)), host),
            None => (None, authority),
        };
        if authority.is_empty() || authority.starts_with(':') {
            return Err(invalid("it has no host"));
        }
        let tail = tail.split('#').next().unwrap_or_default();
        let mut target = escape_target(tail);
        if !target.starts_with('/') {
            target.insert(0, '/');
        }
        let url = Url {
            scheme,
            authority: authority.to_ascii_lowercase(),
            target,
            credentials,
        };
        url.to_string()
            .parse::<http::Uri>()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(url)
    }

    /// The host without the port (IPv6 brackets kept).
    pub fn host(&self) -> &str {
        match self.authority.rfind(':') {
            Some(i) if !self.authority[i..].contains(']') => &self.authority[..i],
            _ => &self.authority,
        }
    }

    /// The URL with `params` appended to its query (percent-encoded, sorted by name like
    /// Go's `url.Values.Encode`; repeated names keep their order).
    pub fn with_query(&self, params: &[(String, String)]) -> String {
        let mut target = self.target.clone();
        if !params.is_empty() {
            let mut sorted: Vec<&(String, String)> = params.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let encoded: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            match target.find('?') {
                Some(i) if i + 1 < target.len() => target.push('&'),
                Some(_) => {}
                None => target.push('?'),
            }
            target.push_str(&encoded.join("&"));
        }
        format!("{}://{}{}", self.scheme, self.authority, target)
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.target)
    }
}

/// Whether a byte may stand as it is in a request target.
fn target_byte(b: u8) -> bool {
    b.is_ascii_graphic()
        && !matches!(
            b,
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
}

fn escape_target(tail: &str) -> String {
    let mut out = String::with_capacity(tail.len());
    for &b in tail.as_bytes() {
        if target_byte(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How many redirects are followed before the step fails (as Go's client).
pub(crate) const MAX_REDIRECTS: usize = 10;

/// The request a redirect response leads to, or `None` when `status` is not a redirect
/// that is followed (or has no `Location`). 301, 302 and 303 turn a request other than
/// GET or HEAD into a GET without body; 307 and 308 repeat it as it was. Credentials are
/// not sent to another host (a subdomain of the old one is the same host here).
pub(crate) fn redirect(
    call: &Call,
    status: u16,
    location: Option<&str>,
) -> Result<Option<Call>, RunError> {
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = location.map(str::trim).filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let current = Url::parse(&call.url).map_err(|e| RunError::internal(e.to_string()))?;
    let target = resolve(&current, location);
    let next_url = Url::parse(&target).map_err(|_| {
        RunError::failed(
            1,
            format!(
                "{} {}: cannot follow the redirect to {location:?}",
                call.method, call.url
            ),
        )
    })?;
    let mut next = call.clone();
    next.url = next_url.to_string();
    if matches!(status, 301..=303) && call.method != "GET" && call.method != "HEAD" {
        next.method = "GET".to_string();
        next.body = None;
        next.drop_headers(&["content-type"]);
        set_content_length(&mut next);
    }
    let old_host = current.host();
    let new_host = next_url.host();
    if new_host != old_host && !new_host.ends_with(&format!(".{old_host}")) {
        next.drop_headers(&CREDENTIALS);
    }
    Ok(Some(next))
}

/// `location` resolved against `base` (absolute, scheme-relative, absolute-path,
/// query-only or relative-path references).
fn resolve(base: &Url, location: &str) -> String {
    let origin = format!("{}://{}", base.scheme, base.authority);
    let path = base.target.split('?').next().unwrap_or("/");
    if location.contains("://") && location.find("://") < location.find(['/', '?']) {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{}://{rest}", base.scheme)
    } else if location.starts_with('/') {
        format!("{origin}{location}")
    } else if location.starts_with('?') {
        format!("{origin}{path}{location}")
    } else {
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{origin}{dir}{location}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &[&str]) -> Result<(String, String), RunError> {
        request_line(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    fn message(e: RunError) -> String {
        match e {
            RunError::InvalidConfig { message } | RunError::Failed { message, .. } => message,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Call {
        Call {
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.map(str::to_string),
        }
    }

    fn prepared(command: &str, config: Config) -> Result<Prepared, RunError> {
        prepare(&[command.to_string()], &config)
    }

    #[test]
    fn the_request_line_is_method_and_url() {
        assert_eq!(
            line(&["GET https://example.com/a"]).unwrap(),
            ("GET".into(), "https://example.com/a".into())
        );
        assert_eq!(
            line(&["  post\t'http://x/'  "]).unwrap(),
            ("POST".into(), "http://x/".into())
        );
        assert_eq!(
            line(&["DELETE", "\"http://x/1\""]).unwrap(),
            ("DELETE".into(), "http://x/1".into())
        );
    }

    #[test]
    fn a_bad_request_line_says_what_is_expected() {
        assert!(message(line(&[]).unwrap_err()).contains("needs `command: <METHOD> <URL>`"));
        assert!(message(line(&["https://x"]).unwrap_err()).contains("got only \"https://x\""));
        assert!(message(line(&["GET http://x extra"]).unwrap_err()).contains("two words"));
        assert!(message(line(&["G(T http://x"]).unwrap_err()).contains("invalid HTTP method"));
    }

    #[test]
    fn urls_need_an_http_scheme_and_a_host() {
        let bad = |u: &str| message(Url::parse(u).unwrap_err());
        assert!(bad("example.com/x").contains("must start with http:// or https://"));
        assert!(bad("ftp://example.com/").contains("unsupported protocol scheme \"ftp\""));
        assert!(bad("http:///path").contains("no host"));
        assert!(bad("http://:80/").contains("no host"));
    }

    #[test]
    fn urls_are_normalised() {
        let url = Url::parse("HTTP://Example.COM:8080").unwrap();
        assert_eq!(url.to_string(), "http://example.com:8080/");
        assert_eq!(url.host(), "example.com");
        let url = Url::parse("https://h/a b/ü?x={1}#frag").unwrap();
        assert_eq!(url.to_string(), "https://h/a%20b/%C3%BC?x=%7B1%7D");
        let url = Url::parse("http://[::1]:9/x").unwrap();
        assert_eq!(url.host(), "[::1]");
        assert_eq!(Url::parse("http://[::1]/").unwrap().host(), "[::1]");
    }

    #[test]
    fn credentials_in_the_url_become_basic_auth() {
        let p = prepared("GET http://us%40r:p%3Ass@h/x", Config::default()).unwrap();
        assert_eq!(p.call.url, "http://h/x");
        // base64("us@r:p:ss")
        assert_eq!(p.call.header("authorization"), Some("Basic dXNAcjpwOnNz"));
        let config = Config {
            headers: vec![("Authorization".into(), "Bearer t".into())],
            ..Config::default()
        };
        let p = prepared("GET http://u:p@h/x", config).unwrap();
        assert_eq!(p.call.header("authorization"), Some("Bearer t"));
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn query_parameters_are_encoded_and_appended() {
        let params = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let url = Url::parse("http://h/p").unwrap();
        assert_eq!(url.with_query(&[]), "http://h/p");
        assert_eq!(
            url.with_query(&params(&[("q", "a b&c=d/é"), ("a", "1"), ("q", "2")])),
            "http://h/p?a=1&q=a%20b%26c%3Dd%2F%C3%A9&q=2"
        );
        let url = Url::parse("http://h/p?x=1#f").unwrap();
        assert_eq!(url.with_query(&params(&[("y", "2")])), "http://h/p?x=1&y=2");
        let url = Url::parse("http://h?").unwrap();
        assert_eq!(url.with_query(&params(&[("y", "")])), "http://h/?y=");
    }

    #[test]
    fn the_client_sets_agent_length_and_default_type() {
        let config = Config {
            body: Some("{\"a\": 1}".into()),
            headers: vec![
                ("X-Trace".into(), "1".into()),
                ("content-length".into(), "999".into()),
            ],
            ..Config::default()
        };
        let p = prepared("post http://h/", config).unwrap();
        assert_eq!(p.call.method, "POST");
        assert_eq!(
            p.call.headers,
            [
                ("X-Trace".to_string(), "1".to_string()),
                ("User-Agent".into(), USER_AGENT.into()),
                ("Content-Type".into(), "text/plain; charset=utf-8".into()),
                ("Content-Length".into(), "8".into()),
            ]
        );
        assert!(p.warnings.is_empty());

        let p = prepared("PUT http://h/", Config::default()).unwrap();
        assert_eq!(p.call.header("content-length"), Some("0"));
        let p = prepared("GET http://h/", Config::default()).unwrap();
        assert_eq!(p.call.header("content-length"), None);
        assert_eq!(p.call.header("content-type"), None);
    }

    #[test]
    fn host_managed_headers_are_refused_or_dropped() {
        let with = |name: &str| Config {
            headers: vec![(name.into(), "x".into())],
            ..Config::default()
        };
        let e = prepared("GET http://h/", with("host")).unwrap_err();
        assert!(message(e).contains("header Host cannot be set"));
        let p = prepared("GET http://h/", with("Connection")).unwrap();
        assert_eq!(p.call.header("connection"), None);
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("header Connection is managed"),
            "{:?}",
            p.warnings
        );
        let e = prepared("GET http://h/", with("Bad Name")).unwrap_err();
        assert!(message(e).contains("invalid header name \"Bad Name\""));
        let config = Config {
            headers: vec![("X-A".into(), "a\nb".into())],
            ..Config::default()
        };
        let e = prepared("GET http://h/", config).unwrap_err();
        assert!(message(e).contains("invalid value for header X-A"));
    }

    #[test]
    fn describe_lists_request_headers_and_body() {
        let c = call("POST", "http://h/", &[("A", "1")], Some("hi\n"));
        assert_eq!(c.describe(), "> POST http://h/\n> A: 1\n>\nhi");
        let c = call(
            "GET",
            "http://h/",
            &[("authorization", "Basic c2VjcmV0"), ("Cookie", "s=1")],
            None,
        );
        assert_eq!(
            c.describe(),
            "> GET http://h/\n> authorization: (hidden)\n> Cookie: (hidden)"
        );
        let c = call("GET", "http://h/", &[], None);
        assert_eq!(c.describe(), "> GET http://h/");
    }

    #[test]
    fn redirect_locations_resolve_against_the_request() {
        let base = Url::parse("http://h:1/a/b?q=1").unwrap();
        assert_eq!(resolve(&base, "https://o/x"), "https://o/x");
        assert_eq!(resolve(&base, "//o/x"), "http://o/x");
        assert_eq!(resolve(&base, "/x?y"), "http://h:1/x?y");
        assert_eq!(resolve(&base, "?z=2"), "http://h:1/a/b?z=2");
        assert_eq!(resolve(&base, "c/d"), "http://h:1/a/c/d");
        assert_eq!(resolve(&base, "c?p=a://b"), "http://h:1/a/c?p=a://b");
    }

    #[test]
    fn see_other_turns_a_post_into_a_get_without_body() {
        let post = call(
            "POST",
            "http://h/form",
            &[("Content-Type", "a/b"), ("Content-Length", "3"), ("X", "1")],
            Some("abc"),
        );
        let next = redirect(&post, 303, Some("/done")).unwrap().unwrap();
        assert_eq!(next, call("GET", "http://h/done", &[("X", "1")], None));
        let next = redirect(&post, 307, Some("/again")).unwrap().unwrap();
        assert_eq!(next.method, "POST");
        assert_eq!(next.body.as_deref(), Some("abc"));
        assert_eq!(next.headers, post.headers);
        let head = call("HEAD", "http://h/", &[], None);
        assert_eq!(
            redirect(&head, 301, Some("/x")).unwrap().unwrap().method,
            "HEAD"
        );
    }

    #[test]
    fn credentials_stay_with_their_host() {
        let get = call(
            "GET",
            "http://api.h/",
            &[("Authorization", "t"), ("Cookie", "c"), ("X", "1")],
            None,
        );
        let same = redirect(&get, 302, Some("http://v2.api.h/"))
            .unwrap()
            .unwrap();
        assert_eq!(same.headers, get.headers);
        let other = redirect(&get, 302, Some("http://elsewhere/"))
            .unwrap()
            .unwrap();
        assert_eq!(other.headers, [("X".to_string(), "1".to_string())]);
    }

    #[test]
    fn only_redirects_with_a_location_are_followed() {
        let get = call("GET", "http://h/", &[], None);
        assert_eq!(redirect(&get, 200, Some("/x")).unwrap(), None);
        assert_eq!(redirect(&get, 304, Some("/x")).unwrap(), None);
        assert_eq!(redirect(&get, 302, None).unwrap(), None);
        assert_eq!(redirect(&get, 302, Some("  ")).unwrap(), None);
        let e = redirect(&get, 302, Some("ftp://h/x")).unwrap_err();
        assert!(message(e).contains("cannot follow the redirect to \"ftp://h/x\""));
    }
}
