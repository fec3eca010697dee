//! The step's config, in every spelling users write it, turned into one [`Config`].
//!
//! Keys are matched without regard to case, `_` and `-` (`containerName`, `container_name`,
//! `CONTAINERNAME` are one key); two spellings of one key, or two aliases (`workingDir` and
//! `workDir`, `pull` and `pullPolicy`, `containerName` and `name`), are an error. Unknown keys
//! are ignored, as Dagu does for executor configs, with a note on the step's stderr.
//!
//! Both key sets are read: the docker executor's (`image`, `containerName`, `pull`,
//! `autoRemove`, `platform`, `workingDir`, `volumes`, raw Docker API maps `container`,
//! `host`, `network`, `exec`) and the `container:` block's (`image`/`exec`, `name`,
//! `pullPolicy`, `env`, `volumes`, `user`, `workingDir`/`workDir`, `platform`, `ports`,
//! `network`, `startup`, `command`, `waitFor`, `logPattern`, `restartPolicy`,
//! `keepContainer`). Registry credentials: `auth` or `registryAuths`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::Credentials;

/// When to pull the image before creating a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pull {
    Always,
    Missing,
    Never,
}

/// How the run's container (DAG-level `container`) keeps running between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Startup {
    /// A keep-alive shell loop replaces the image's entrypoint (the default).
    Keepalive,
    /// The image's own entrypoint and command.
    Entrypoint,
    /// The image's entrypoint with the config's `command`.
    Command,
}

/// What the run's container must reach before its first step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitFor {
    Running,
    Healthy,
}

/// The `network` key: a network mode name (`host`, `none`, `bridge`, `container:x`, a
/// user network) or a raw `NetworkingConfig`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Network {
    Mode(String),
    Raw(Map<String, Value>),
}

/// One step's config.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub image: Option<String>,
    /// `containerName` / `name`: the container to exec into, or the name to create.
    pub name: Option<String>,
    /// `exec: NAME` (the `container:` block's form) or a plain string config: the running
    /// container to exec into.
    pub exec_target: Option<String>,
    /// `exec: {...}`: Docker exec options (`User`, `WorkingDir`, `Env`, `Privileged`),
    /// keys in Docker's spelling.
    pub exec_options: Map<String, Value>,
    pub pull: Pull,
    /// `autoRemove`, or the opposite of `keepContainer`; `None` = the default.
    pub auto_remove: Option<bool>,
    pub platform: Option<String>,
    pub working_dir: Option<String>,
    pub volumes: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub network: Option<Network>,
    pub ports: Vec<String>,
    /// Raw `ContainerCreateBody` keys, in Docker's spelling.
    pub container: Map<String, Value>,
    /// Raw `HostConfig` keys, in Docker's spelling.
    pub host: Map<String, Value>,
    pub startup: Startup,
    /// `command` of the block: the main process for `startup: command`.
    pub start_command: Vec<String>,
    pub wait_for: WaitFor,
    pub log_pattern: Option<String>,
    pub restart_policy: Option<String>,
    /// `auth`: credentials for the image's registry.
    pub auth: Option<Credentials>,
    /// `registryAuths`: credentials by registry.
    pub registry_auths: HashMap<String, Credentials>,
    /// Keys that were ignored, for a note on the step's stderr.
    pub ignored: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            image: None,
            name: None,
            exec_target: None,
            exec_options: Map::new(),
            pull: Pull::Missing,
            auto_remove: None,
            platform: None,
            working_dir: None,
            volumes: Vec::new(),
            env: Vec::new(),
            user: None,
            network: None,
            ports: Vec::new(),
            container: Map::new(),
            host: Map::new(),
            startup: Startup::Keepalive,
            start_command: Vec::new(),
            wait_for: WaitFor::Running,
            log_pattern: None,
            restart_policy: None,
            auth: None,
            registry_auths: HashMap::new(),
            ignored: Vec::new(),
        }
    }
}

/// A key without case, `_` and `-`.
pub(crate) fn norm(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// An object whose keys are looked up in normalised form.
struct Obj<'a> {
    /// Normalised key → (key as written, value).
    entries: HashMap<String, (&'a str, &'a Value)>,
    used: Vec<String>,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>) -> Result<Obj<'a>, String> {
        let mut entries: HashMap<String, (&str, &Value)> = HashMap::new();
        for (key, value) in map {
            if let Some((other, _)) = entries.insert(norm(key), (key.as_str(), value)) {
                return Err(format!(
                    "'{other}' and '{key}' are two spellings of one key; keep one"
                ));
            }
        }
        Ok(Obj {
            entries,
            used: Vec::new(),
        })
    }

    /// The value of the first of `aliases` present (null counts as absent); two present
    /// is an error.
    fn get(&mut self, aliases: &[&str]) -> Result<Option<(&'a str, &'a Value)>, String> {
        let mut found: Option<(&str, &Value)> = None;
        for alias in aliases {
            let n = norm(alias);
            if let Some(&(key, value)) = self.entries.get(&n) {
                self.used.push(n);
                if value.is_null() {
                    continue;
                }
                if let Some((first, _)) = found {
                    return Err(format!("'{first}' and '{key}' mean the same; keep one"));
                }
                found = Some((key, value));
            }
        }
        Ok(found)
    }

    fn ignored(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(n, _)| !self.used.contains(n))
            .map(|(_, (key, _))| key.to_string())
            .collect();
        keys.sort();
        keys
    }
}

/// A scalar as text (`true`, `3` and `"x"` are all accepted where text is meant).
fn text(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!("'{key}' must be a string")),
    }
}

/// A non-empty trimmed string (the value of a key found by [`Obj::get`]), or `None`.
fn opt_text(found: Option<(&str, &Value)>) -> Result<Option<String>, String> {
    match found {
        None => Ok(None),
        Some((key, value)) => {
            let s = text(key, value)?;
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
    }
}

/// A boolean, also written as a string (`"true"`, `"no"`, `"1"`...) after expansion.
fn boolean(key: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "t" => Ok(true),
            "false" | "no" | "off" | "0" | "f" | "" => Ok(false),
            _ => Err(format!("'{key}' must be true or false, not '{s}'")),
        },
        _ => Err(format!("'{key}' must be true or false")),
    }
}

/// A list of scalars as text; a single string is a one-entry list.
fn list(key: &str, value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items.iter().map(|v| text(key, v)).collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        _ => Err(format!("'{key}' must be a list of strings")),
    }
}

/// `env` as `K=V` entries: a list of `K=V` strings, or a map.
pub(crate) fn env_list(key: &str, value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) if map.len() == 1 => {
                    let (k, v) = map.iter().next().expect("one entry");
                    Ok(format!("{k}={}", env_value(key, v)?))
                }
                other => text(key, other),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok(format!("{k}={}", env_value(key, v)?)))
            .collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        _ => Err(format!("'{key}' must be a list of KEY=VALUE or a map")),
    }
}

fn env_value(key: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::Null => Ok(String::new()),
        other => text(key, other),
    }
}

fn object<'a>(key: &str, value: &'a Value) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("'{key}' must be a map"))
}

/// The field names a serde struct reads, found by asking it to deserialize itself from
/// a deserializer that only records the names.
pub(crate) fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Recorder<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Recorder<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Recorder(&mut fields));
    fields
}

/// `map` with its top-level keys renamed to `fields`' spelling when they match without
/// regard to case, `_` and `-`; keys matching none are left out and named in `ignored`.
pub(crate) fn docker_keys(
    what: &str,
    map: &Map<String, Value>,
    fields: &[&str],
    ignored: &mut Vec<String>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (key, value) in map {
        match fields.iter().find(|f| norm(f) == norm(key)) {
            Some(field) => {
                if out.insert(field.to_string(), value.clone()).is_some() {
                    return Err(format!("'{what}' has two spellings of '{field}'; keep one"));
                }
            }
            None => ignored.push(format!("{what}.{key}")),
        }
    }
    Ok(out)
}

impl Config {
    /// Reads a step's config: a string (a running container to exec into) or a map.
    pub(crate) fn parse(value: &Value) -> Result<Config, String> {
        let map = match value {
            Value::String(name) => {
                let name = name.trim();
                if name.is_empty() {
                    return Err("the container name is empty".into());
                }
                return Ok(Config {
                    exec_target: Some(name.to_string()),
                    ..Config::default()
                });
            }
            Value::Object(map) => map,
            Value::Null => {
                return Err(
                    "the step has no config: set image (a new container) or containerName (a running one)"
                        .into(),
                );
            }
            _ => return Err("the config must be a map or a container name".into()),
        };
        let mut obj = Obj::new(map)?;
        let mut c = Config {
            image: opt_text(obj.get(&["image"])?)?,
            name: opt_text(obj.get(&["containerName", "name"])?)?,
            ..Config::default()
        };
        match obj.get(&["exec"])? {
            None => {}
            Some((_, Value::String(target))) => {
                let target = target.trim();
                if !target.is_empty() {
                    c.exec_target = Some(target.to_string());
                }
            }
            Some((key, value)) => {
                c.exec_options = docker_keys(
                    key,
                    object(key, value)?,
                    field_names::<bollard::models::ExecConfig>(),
                    &mut c.ignored,
                )?;
            }
        }
        if let Some((key, value)) = obj.get(&["pull", "pullPolicy"])? {
            c.pull = pull(key, value)?;
        }
        let auto_remove = obj.get(&["autoRemove"])?;
        let keep = obj.get(&["keepContainer"])?;
        c.auto_remove = match (auto_remove, keep) {
            (Some((a, _)), Some((k, _))) => {
                return Err(format!("'{a}' and '{k}' both set; keep one"));
            }
            (Some((key, value)), None) => Some(boolean(key, value)?),
            (None, Some((key, value))) => Some(!boolean(key, value)?),
            (None, None) => None,
        };
        c.platform = opt_text(obj.get(&["platform"])?)?;
        c.working_dir = opt_text(obj.get(&["workingDir", "workDir"])?)?;
        if let Some((key, value)) = obj.get(&["volumes"])? {
            c.volumes = list(key, value)?;
        }
        if let Some((key, value)) = obj.get(&["env"])? {
            c.env = env_list(key, value)?;
        }
        c.user = opt_text(obj.get(&["user"])?)?;
        c.network = match obj.get(&["network"])? {
            None => None,
            Some((_, Value::String(mode))) => Some(mode.trim())
                .filter(|m| !m.is_empty())
                .map(|m| Network::Mode(m.into())),
            Some((key, value)) => Some(Network::Raw(docker_keys(
                key,
                object(key, value)?,
                field_names::<bollard::models::NetworkingConfig>(),
                &mut c.ignored,
            )?)),
        };
        if let Some((key, value)) = obj.get(&["ports"])? {
            c.ports = list(key, value)?;
        }
        if let Some((key, value)) = obj.get(&["container"])? {
            c.container = docker_keys(
                key,
                object(key, value)?,
                field_names::<bollard::models::ContainerCreateBody>(),
                &mut c.ignored,
            )?;
        }
        if let Some((key, value)) = obj.get(&["host"])? {
            c.host = docker_keys(
                key,
                object(key, value)?,
                field_names::<bollard::models::HostConfig>(),
                &mut c.ignored,
            )?;
            // `host.AutoRemove` is the old way to ask for removal; the plugin removes
            // the container itself after collecting its exit code.
            if let Some(v) = c.host.remove("AutoRemove")
                && c.auto_remove.is_none()
            {
                c.auto_remove = Some(boolean("host.AutoRemove", &v)?);
            }
        }
        if let Some((key, value)) = obj.get(&["startup"])? {
            c.startup = match text(key, value)?.trim().to_ascii_lowercase().as_str() {
                "" | "keepalive" => Startup::Keepalive,
                "entrypoint" => Startup::Entrypoint,
                "command" => Startup::Command,
                other => {
                    return Err(format!(
                        "'{key}: {other}' is not a startup mode: use keepalive, entrypoint or command"
                    ));
                }
            };
        }
        if let Some((key, value)) = obj.get(&["command"])? {
            c.start_command = match value {
                Value::String(line) => {
                    dagu_plugin_sdk::words::split(line).map_err(|e| format!("'{key}': {e}"))?
                }
                other => list(key, other)?,
            };
        }
        if let Some((key, value)) = obj.get(&["waitFor"])? {
            c.wait_for = match text(key, value)?.trim().to_ascii_lowercase().as_str() {
                "" | "running" => WaitFor::Running,
                "healthy" => WaitFor::Healthy,
                other => {
                    return Err(format!(
                        "'{key}: {other}' is not a readiness state: use running or healthy"
                    ));
                }
            };
        }
        c.log_pattern = opt_text(obj.get(&["logPattern"])?)?;
        c.restart_policy = opt_text(obj.get(&["restartPolicy"])?)?;
        if let Some((key, value)) = obj.get(&["auth"])? {
            c.auth = Some(crate::auth::from_config(key, value)?);
        }
        if let Some((key, value)) = obj.get(&["registryAuths"])? {
            c.registry_auths = crate::auth::registry_auths(key, value)?;
        }
        c.ignored.extend(obj.ignored());
        if c.image.is_some() && c.exec_target.is_some() {
            return Err(
                "'image' and 'exec' exclude each other: image starts a new container, exec names a running one"
                    .into(),
            );
        }
        if c.startup == Startup::Command && c.start_command.is_empty() {
            return Err("'startup: command' needs a non-empty 'command' list".into());
        }
        if let Some(pattern) = &c.log_pattern {
            regex::Regex::new(pattern)
                .map_err(|e| format!("'logPattern' is not a valid regex: {e}"))?;
        }
        if let Some(policy) = &c.restart_policy {
            crate::specs::restart_policy(policy)?;
        }
        crate::specs::ports(&c.ports)?;
        Ok(c)
    }

    /// Checks what can be checked before the engine is asked: that the step type has
    /// what it needs (an image or a container), the volume specs, the raw Docker maps.
    pub(crate) fn check(&self, step_type: &str, base_dir: &std::path::Path) -> Result<(), String> {
        let has_target = self.exec_target.is_some() || self.name.is_some();
        if self.image.is_none() && !has_target {
            return Err(if step_type == "container" {
                "the DAG's container block needs image (a container for this run) or exec (a running container)".into()
            } else {
                "set image (to run the step in a new container) or containerName (to exec into a running one)".into()
            });
        }
        for volume in &self.volumes {
            crate::specs::volume(volume, base_dir)?;
        }
        serde_json::from_value::<bollard::models::ContainerCreateBody>(Value::Object(
            self.container.clone(),
        ))
        .map_err(|e| format!("'container': {e}"))?;
        serde_json::from_value::<bollard::models::HostConfig>(Value::Object(self.host.clone()))
            .map_err(|e| format!("'host': {e}"))?;
        if let Some(Network::Raw(raw)) = &self.network {
            serde_json::from_value::<bollard::models::NetworkingConfig>(Value::Object(raw.clone()))
                .map_err(|e| format!("'network': {e}"))?;
        }
        self.exec_options()?;
        Ok(())
    }

    /// The Docker exec options for commands run in an existing container: the `exec` map,
    /// with `user`, `workingDir` and `env` of the block where the map does not set them.
    pub(crate) fn exec_options(&self) -> Result<bollard::models::ExecConfig, String> {
        let mut exec: bollard::models::ExecConfig =
            serde_json::from_value(Value::Object(self.exec_options.clone()))
                .map_err(|e| format!("'exec': {e}"))?;
        if exec.user.is_none() {
            exec.user = self.user.clone();
        }
        if exec.working_dir.is_none() {
            exec.working_dir = self.working_dir.clone();
        }
        let mut env = self.env.clone();
        env.extend(exec.env.take().unwrap_or_default());
        exec.env = (!env.is_empty()).then_some(env);
        Ok(exec)
    }
}

/// `pull` / `pullPolicy`: always, missing, never, or a boolean (true = always).
fn pull(key: &str, value: &Value) -> Result<Pull, String> {
    if let Value::Bool(b) = value {
        return Ok(if *b { Pull::Always } else { Pull::Never });
    }
    match text(key, value)?.trim().to_ascii_lowercase().as_str() {
        "always" | "true" => Ok(Pull::Always),
        "missing" | "" | "ifnotpresent" | "if-not-present" => Ok(Pull::Missing),
        "never" | "false" => Ok(Pull::Never),
        other => Err(format!(
            "'{key}: {other}' is not a pull policy: use always, missing or never"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Config {
        Config::parse(&v).unwrap()
    }

    fn err(v: Value) -> String {
        Config::parse(&v).unwrap_err()
    }

    #[test]
    fn a_string_is_a_container_to_exec_into() {
        assert_eq!(parse(json!("myapp")).exec_target.as_deref(), Some("myapp"));
    }

    #[test]
    fn executor_keys_in_every_spelling() {
        let c = parse(json!({
            "image": "alpine", "container_name": "c1", "pull": false, "AutoRemove": "false",
            "platform": "linux/amd64", "working_dir": "/w", "volumes": ["/a:/b"],
            "container": {"env": ["A=1"], "User": "1000", "working_dir": "/x", "Bogus": 1},
            "host": {"binds": ["/c:/d"], "networkMode": "host", "autoRemove": true},
            "exec": {"user": "root", "WorkingDir": "/e", "env": ["E=1"]}
        }));
        assert_eq!(c.image.as_deref(), Some("alpine"));
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!(c.pull, Pull::Never);
        assert_eq!(c.auto_remove, Some(false));
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
        assert_eq!(c.container["Env"], json!(["A=1"]));
        assert_eq!(c.container["WorkingDir"], json!("/x"));
        assert_eq!(c.host["Binds"], json!(["/c:/d"]));
        assert_eq!(c.host["NetworkMode"], json!("host"));
        assert!(!c.host.contains_key("AutoRemove"));
        assert_eq!(c.ignored, ["container.Bogus"]);
        let exec = c.exec_options().unwrap();
        assert_eq!(exec.user.as_deref(), Some("root"));
        assert_eq!(exec.working_dir.as_deref(), Some("/e"));
        assert_eq!(exec.env, Some(vec!["E=1".to_string()]));
    }

    #[test]
    fn container_block_keys() {
        let c = parse(json!({
            "image": "busybox", "name": "svc", "pullPolicy": "never",
            "env": {"A": "1", "B": 2}, "workDir": "/app", "user": "1000:1000",
            "ports": ["8080:80", 9090], "network": "host", "startup": "command",
            "command": "sleep 100", "waitFor": "healthy", "logPattern": "ready.*",
            "restartPolicy": "on-failure:2", "keepContainer": true
        }));
        assert_eq!(c.name.as_deref(), Some("svc"));
        assert_eq!(c.pull, Pull::Never);
        assert_eq!(c.env, ["A=1", "B=2"]);
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert_eq!(c.ports, ["8080:80", "9090"]);
        assert_eq!(c.network, Some(Network::Mode("host".into())));
        assert_eq!(c.startup, Startup::Command);
        assert_eq!(c.start_command, ["sleep", "100"]);
        assert_eq!(c.wait_for, WaitFor::Healthy);
        assert_eq!(c.auto_remove, Some(false));
        assert!(c.ignored.is_empty());
        let e = parse(json!({"exec": "app", "env": ["X=1"], "user": "u"}));
        assert_eq!(e.exec_target.as_deref(), Some("app"));
        let exec = e.exec_options().unwrap();
        assert_eq!(exec.env, Some(vec!["X=1".to_string()]));
        assert_eq!(exec.user.as_deref(), Some("u"));
    }

    #[test]
    fn conflicts_and_bad_values_are_errors() {
        assert!(err(json!({"workingDir": "/a", "workDir": "/b"})).contains("mean the same"));
        assert!(
            err(json!({"containerName": "a", "container_name": "b"})).contains("two spellings")
        );
        assert!(err(json!({"image": "a", "exec": "b"})).contains("exclude each other"));
        assert!(err(json!({"image": "a", "pull": "sometimes"})).contains("not a pull policy"));
        assert!(err(json!({"image": "a", "startup": "command"})).contains("non-empty"));
        assert!(err(json!({"image": "a", "logPattern": "("})).contains("regex"));
        assert!(err(json!({"image": "a", "autoRemove": "maybe"})).contains("true or false"));
        assert!(err(json!({"image": "a", "ports": ["x"]})).contains("bad port"));
        assert!(err(json!(null)).contains("no config"));
    }

    #[test]
    fn pull_policies() {
        for (v, p) in [
            (json!(true), Pull::Always),
            (json!("always"), Pull::Always),
            (json!("Missing"), Pull::Missing),
            (json!("false"), Pull::Never),
        ] {
            assert_eq!(parse(json!({"image": "a", "pull": v})).pull, p);
        }
        assert_eq!(parse(json!({"image": "a"})).pull, Pull::Missing);
    }

    #[test]
    fn docker_field_names_are_introspected() {
        let names = field_names::<bollard::models::HostConfig>();
        assert!(names.contains(&"NetworkMode"));
        assert!(names.contains(&"Binds"));
        assert!(field_names::<bollard::models::ContainerCreateBody>().contains(&"Entrypoint"));
    }
}
