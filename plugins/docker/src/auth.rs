//! Registry credentials for pulls: the step's `auth`, its `registryAuths` (by registry), or
//! the Docker client's config file (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`, `auths.<registry>.auth` = base64 of `user:password`).
//! Credential helpers (`credsStore`, `credHelpers`) are not run.

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::auth::DockerCredentials;
use serde_json::{Map, Value};

use crate::config::norm;

/// Credentials for one registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    pub identity_token: Option<String>,
    pub server: Option<String>,
}

/// `auth: {username, password, serverAddress}` (or `auth: {auth: base64}`).
pub(crate) fn from_config(key: &str, value: &Value) -> Result<Credentials, String> {
    match value {
        Value::Object(map) => from_map(key, map),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(map)) => from_map(key, &map),
            _ => from_base64(s)
                .ok_or_else(|| format!("'{key}' is neither a map nor base64 user:password")),
        },
        _ => Err(format!("'{key}' must be a map with username and password")),
    }
}

fn from_map(key: &str, map: &Map<String, Value>) -> Result<Credentials, String> {
    let mut c = Credentials::default();
    for (k, v) in map {
        let s = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("'{key}.{k}' must be a string"))
        };
        match norm(k).as_str() {
            "username" | "user" => c.username = Some(s()?),
            "password" => c.password = Some(s()?),
            "serveraddress" | "server" | "registry" => c.server = Some(s()?),
            "identitytoken" => c.identity_token = Some(s()?),
            "auth" => {
                let decoded = from_base64(&s()?)
                    .ok_or_else(|| format!("'{key}.{k}' is not base64 of user:password"))?;
                c.username = decoded.username;
                c.password = decoded.password;
            }
            _ => {}
        }
    }
    Ok(c)
}

/// `registryAuths`: `{registry: {username, password}}`, or that (or a Docker config
/// file's `{"auths": {...}}`) as a JSON string.
pub(crate) fn registry_auths(
    key: &str,
    value: &Value,
) -> Result<HashMap<String, Credentials>, String> {
    let parsed;
    let map = match value {
        Value::Object(map) => map,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| format!("'{key}' is not a map nor JSON: {e}"))?;
            parsed
                .as_object()
                .ok_or_else(|| format!("'{key}' must be a map of registries"))?
        }
        _ => return Err(format!("'{key}' must be a map of registries")),
    };
    let map = match map.get("auths").and_then(Value::as_object) {
        Some(auths) => auths,
        None => map,
    };
    map.iter()
        .map(|(registry, v)| {
            Ok((
                registry_key(registry),
                from_config(&format!("{key}.{registry}"), v)?,
            ))
        })
        .collect()
}

/// The registry an image reference pulls from: its first component when that looks like
/// a host (`ghcr.io/x`, `localhost:5000/x`), else Docker Hub (`docker.io`).
pub(crate) fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            registry_key(first)
        }
        _ => "docker.io".to_string(),
    }
}

/// A registry as a lookup key: without scheme and path; Docker Hub's names as `docker.io`.
fn registry_key(registry: &str) -> String {
    let r = registry
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let r = r.split('/').next().unwrap_or(r).to_ascii_lowercase();
    match r.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => r,
    }
}

/// The credentials to pull `image` with, if any are configured.
pub(crate) fn for_image(
    auth: Option<&Credentials>,
    registry_auths: &HashMap<String, Credentials>,
    image: &str,
) -> Option<DockerCredentials> {
    let registry = registry_of(image);
    let creds = auth
        .cloned()
        .or_else(|| registry_auths.get(&registry).cloned())
        .or_else(|| from_docker_config(&registry))?;
    let server = creds.server.clone().unwrap_or_else(|| {
        if registry == "docker.io" {
            "https://index.docker.io/v1/".to_string()
        } else {
            registry.clone()
        }
    });
    Some(DockerCredentials {
        username: creds.username,
        password: creds.password,
        identitytoken: creds.identity_token,
        serveraddress: Some(server),
        ..Default::default()
    })
}

/// The Docker client's config file.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

fn from_docker_config(registry: &str) -> Option<Credentials> {
    let text = std::fs::read_to_string(docker_config_path()?).ok()?;
    let config: Value = serde_json::from_str(&text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    auths
        .iter()
        .find(|(key, _)| registry_key(key) == registry)
        .and_then(|(key, value)| from_config(key, value).ok())
        .filter(|c| c.username.is_some() || c.identity_token.is_some())
}

/// `user:password` from base64.
fn from_base64(text: &str) -> Option<Credentials> {
    let bytes = base64_decode(text.trim())?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials {
        username: Some(user.to_string()),
        password: Some(password.to_string()),
        ..Credentials::default()
    })
}

/// Standard base64 (padding optional).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn base64_round() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn registries_of_images() {
        assert_eq!(registry_of("alpine"), "docker.io");
        assert_eq!(registry_of("library/alpine:3"), "docker.io");
        assert_eq!(registry_of("ghcr.io/o/i:1"), "ghcr.io");
        assert_eq!(registry_of("localhost:5000/i"), "localhost:5000");
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
    }

    #[test]
    fn credentials_from_config_forms() {
        let c = from_config(
            "auth",
            &json!({"username": "u", "password": "p", "serverAddress": "r.io"}),
        )
        .unwrap();
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.server.as_deref(), Some("r.io"));
        let auths = registry_auths(
            "registryAuths",
            &json!(r#"{"auths": {"https://ghcr.io": {"auth": "dXNlcjpwYXNz"}}}"#),
        )
        .unwrap();
        assert_eq!(auths["ghcr.io"].password.as_deref(), Some("pass"));
        let creds = for_image(None, &auths, "ghcr.io/a/b").unwrap();
        assert_eq!(creds.username.as_deref(), Some("user"));
        assert_eq!(creds.serveraddress.as_deref(), Some("ghcr.io"));
    }
}
