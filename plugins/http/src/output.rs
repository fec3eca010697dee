//! What a step prints for a response: the whole response (status line, headers, blank
//! line, body), the body only (`silent`, on 2xx), or one JSON object (`json`); and how a
//! status ends the step.

use dagu_plugin_sdk::RunError;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;

/// A response as received (after redirects).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub version: String,
    pub status: u16,
    /// Headers in the order received (names as the client gives them, often lower case).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `HTTP/1.1 200 OK` (the reason is the standard one; none for unknown codes).
    pub fn status_line(&self) -> String {
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason());
        match reason {
            Some(reason) => format!("{} {} {reason}", self.version, self.status),
            None => format!("{} {}", self.version, self.status),
        }
    }

    /// Headers with canonical names (`content-type` → `Content-Type`), sorted by name;
    /// the values of one name keep their order.
    fn sorted_headers(&self) -> Vec<(String, &str)> {
        let mut headers: Vec<(String, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (canonical_name(n), v.as_str()))
            .collect();
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        headers
    }

    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The status line and headers for `debug`, each line starting with `< `.
    pub fn describe_head(&self) -> String {
        let mut text = format!("< {}", self.status_line());
        for (name, value) in self.sorted_headers() {
            text.push_str(&format!("\n< {name}: {value}"));
        }
        text
    }
}

/// `content-type` → `Content-Type`: the first letter and each letter after `-` upper
/// case, the rest lower case.
pub(crate) fn canonical_name(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let c = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            c
        })
        .collect()
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// What the step prints on stdout for `reply` (no trailing newline; empty for nothing).
pub(crate) fn render(reply: &Reply, config: &Config) -> String {
    if config.json {
        return json(reply);
    }
    let body = reply.body_text();
    let body = body.strip_suffix('\n').unwrap_or(&body);
    if config.silent && is_success(reply.status) {
        return body.to_string();
    }
    let mut text = reply.status_line();
    for (name, value) in reply.sorted_headers() {
        text.push('\n');
        text.push_str(&name);
        text.push_str(": ");
        text.push_str(value);
    }
    text.push_str("\n\n");
    text.push_str(body);
    text
}

/// `{"status_code": N, "headers": {Name: [values]}, "body": ...}` indented by four
/// spaces; the body parsed when it is JSON, else as a string.
fn json(reply: &Reply) -> String {
    let mut headers = Map::new();
    for (name, value) in reply.sorted_headers() {
        let values = headers
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(Value::String(value.to_string()));
        }
    }
    let body =
        serde_json::from_slice(&reply.body).unwrap_or_else(|_| Value::String(reply.body_text()));
    let mut object = Map::new();
    object.insert("status_code".into(), reply.status.into());
    object.insert("headers".into(), Value::Object(headers));
    object.insert("body".into(), body);
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    match Value::Object(object).serialize(&mut serializer) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        // Serialising a `Value` into memory does not fail.
        Err(e) => format!("{{\"error\": \"{e}\"}}"),
    }
}

/// A status outside 2xx fails the step (after the response was printed).
pub(crate) fn check_status(status: u16) -> Result<(), RunError> {
    if is_success(status) {
        Ok(())
    } else {
        Err(RunError::failed(
            1,
            format!("http status code not 2xx: {status}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        Reply {
            version: "HTTP/1.1".into(),
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn with(silent: bool, json: bool) -> Config {
        Config {
            silent,
            json,
            ..Config::default()
        }
    }

    #[test]
    fn names_are_canonical() {
        assert_eq!(canonical_name("content-type"), "Content-Type");
        assert_eq!(canonical_name("X-REQUEST-id"), "X-Request-Id");
        assert_eq!(canonical_name("etag"), "Etag");
    }

    #[test]
    fn status_lines_carry_the_standard_reason() {
        assert_eq!(reply(200, &[], "").status_line(), "HTTP/1.1 200 OK");
        assert_eq!(
            reply(500, &[], "").status_line(),
            "HTTP/1.1 500 Internal Server Error"
        );
        assert_eq!(reply(299, &[], "").status_line(), "HTTP/1.1 299");
    }

    #[test]
    fn by_default_the_whole_response_is_printed() {
        let r = reply(
            200,
            &[("x-b", "2"), ("content-type", "text/plain"), ("x-b", "1")],
            "hello\nworld\n",
        );
        assert_eq!(
            render(&r, &Config::default()),
            "HTTP/1.1 200 OK\nContent-Type: text/plain\nX-B: 2\nX-B: 1\n\nhello\nworld"
        );
        // An empty body leaves the blank line last.
        assert_eq!(
            render(&reply(204, &[], ""), &Config::default()),
            "HTTP/1.1 204 No Content\n\n"
        );
    }

    #[test]
    fn silent_prints_the_body_of_a_success_only() {
        let ok = reply(200, &[("a", "1")], "{\"id\": 7}\n");
        assert_eq!(render(&ok, &with(true, false)), "{\"id\": 7}");
        let failed = reply(404, &[("a", "1")], "missing");
        assert_eq!(
            render(&failed, &with(true, false)),
            "HTTP/1.1 404 Not Found\nA: 1\n\nmissing"
        );
    }

    #[test]
    fn json_is_one_object_indented_by_four_spaces() {
        let r = reply(
            201,
            &[
                ("set-cookie", "a=1"),
                ("content-type", "application/json"),
                ("set-cookie", "b=2"),
            ],
            r#"{"b": [1, 2], "a": "x"}"#,
        );
        let expected = r#"{
    "status_code": 201,
    "headers": {
        "Content-Type": [
            "application/json"
        ],
        "Set-Cookie": [
            "a=1",
            "b=2"
        ]
    },
    "body": {
        "b": [
            1,
            2
        ],
        "a": "x"
    }
}"#;
        assert_eq!(render(&r, &with(false, true)), expected);
        // json wins over silent.
        assert_eq!(render(&r, &with(true, true)), expected);
    }

    #[test]
    fn a_body_that_is_not_json_is_a_string() {
        let text = render(&reply(500, &[], "oops\n"), &with(false, true));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["body"], "oops\n");
        assert_eq!(value["status_code"], 500);
        assert_eq!(value["headers"], serde_json::json!({}));
    }

    #[test]
    fn only_2xx_succeeds() {
        assert_eq!(check_status(200), Ok(()));
        assert_eq!(check_status(299), Ok(()));
        assert_eq!(
            check_status(500),
            Err(RunError::failed(1, "http status code not 2xx: 500"))
        );
        assert!(check_status(302).is_err());
        assert!(check_status(199).is_err());
    }

    #[test]
    fn debug_heads_are_marked() {
        let r = reply(200, &[("b", "2"), ("a", "1")], "x");
        assert_eq!(r.describe_head(), "< HTTP/1.1 200 OK\n< A: 1\n< B: 2");
        assert_eq!(r.header("B"), Some("2"));
    }
}
