//! How the DAG-level `ssh:` and `container:` blocks, and a step's own `container:`, become
//! the `config` of the steps they apply to, so that the ssh and docker plugins receive one
//! complete config per step.
//!
//! * `ssh` steps: a step's own config **replaces** the DAG's `ssh:` block (no field merge);
//!   a step without one gets the DAG block. Host keys are checked by default for the DAG
//!   block (`strictHostKey: true` unless it says otherwise) but not for a step's own block,
//!   as in Dagu.
//! * `sftp` steps: the step's keys over the DAG's `ssh:` block (2.x: DAG ssh feeds sftp).
//! * `docker` steps: the step's `container:` block, with its `config` keys over it.
//! * `container` steps (under a DAG-level `container:`): the DAG block, unless the step
//!   gives a config of its own.

use serde_json::Value as Json;

use crate::model::Step;
use crate::yaml::Node;

/// The DAG-level blocks steps may inherit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inherited<'a> {
    /// DAG-level `ssh:`.
    pub ssh: Option<&'a Node>,
    /// DAG-level `container:`.
    pub container: Option<&'a Node>,
}

/// Fills `step.config` from what it inherits; `step_container` is the step's own
/// `container:` block.
pub fn apply(step: &mut Step, inherited: Inherited<'_>, step_container: Option<&Node>) {
    let own = std::mem::take(&mut step.config);
    step.config = match step.step_type.as_str() {
        "ssh" => match inherited.ssh {
            Some(dag) if is_empty(&own) => dag_ssh(dag),
            _ => own,
        },
        "sftp" => match inherited.ssh {
            Some(dag) => overlay(dag_ssh(dag), own),
            None => own,
        },
        "docker" => match step_container {
            Some(block) => overlay(block.to_json(), own),
            None => own,
        },
        "container" => match inherited.container {
            Some(dag) if is_empty(&own) => dag.to_json(),
            _ => own,
        },
        _ => own,
    };
}

/// The DAG's `ssh:` block, checking host keys unless it says otherwise.
fn dag_ssh(node: &Node) -> Json {
    let mut json = node.to_json();
    if let Json::Object(map) = &mut json
        && !map.contains_key("strictHostKey")
        && !map.contains_key("strict_host_key")
    {
        map.insert("strictHostKey".into(), Json::Bool(true));
    }
    json
}

/// `over`'s keys on top of `base` when both are maps; otherwise whichever is given.
fn overlay(base: Json, over: Json) -> Json {
    match (base, over) {
        (Json::Object(mut base), Json::Object(over)) => {
            base.extend(over);
            Json::Object(base)
        }
        (base, over) if is_empty(&over) => base,
        (_, over) => over,
    }
}

/// No config: absent, or an empty map.
fn is_empty(config: &Json) -> bool {
    match config {
        Json::Null => true,
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(yaml: &str) -> Node {
        crate::yaml::parse_documents(yaml)
            .expect("yaml")
            .remove(0)
            .expect("a document")
    }

    fn step(step_type: &str, config: Json) -> Step {
        Step {
            step_type: step_type.into(),
            config,
            ..Step::default()
        }
    }

    #[test]
    fn ssh_step_without_config_gets_the_dag_block_with_strict_host_keys() {
        let dag = node("user: deploy\nhost: example.com\n");
        let mut s = step("ssh", Json::Null);
        let inherited = Inherited {
            ssh: Some(&dag),
            container: None,
        };
        apply(&mut s, inherited, None);
        assert_eq!(
            s.config,
            json!({"user": "deploy", "host": "example.com", "strictHostKey": true})
        );
    }

    #[test]
    fn dag_block_keeps_its_own_strict_host_key_choice() {
        let dag = node("user: deploy\nhost: h\nstrict_host_key: false\n");
        let mut s = step("ssh", Json::Null);
        apply(
            &mut s,
            Inherited {
                ssh: Some(&dag),
                container: None,
            },
            None,
        );
        assert_eq!(s.config["strict_host_key"], json!(false));
        assert!(s.config.get("strictHostKey").is_none());
    }

    #[test]
    fn ssh_step_block_replaces_the_dag_block() {
        let dag = node("user: deploy\nhost: h\n");
        let mut s = step("ssh", json!({"port": 2222}));
        apply(
            &mut s,
            Inherited {
                ssh: Some(&dag),
                container: None,
            },
            None,
        );
        assert_eq!(s.config, json!({"port": 2222}));
    }

    #[test]
    fn sftp_step_keys_go_over_the_dag_block() {
        let dag = node("user: deploy\nhost: h\nport: 22\n");
        let mut s = step(
            "sftp",
            json!({"port": 2222, "source": "a", "destination": "b"}),
        );
        apply(
            &mut s,
            Inherited {
                ssh: Some(&dag),
                container: None,
            },
            None,
        );
        assert_eq!(
            s.config,
            json!({"user": "deploy", "host": "h", "port": 2222, "strictHostKey": true,
                   "source": "a", "destination": "b"})
        );
    }

    #[test]
    fn docker_step_takes_its_container_block_under_its_config() {
        let block = node("image: alpine\nenv: [A=1]\n");
        let mut s = step("docker", json!({"autoRemove": false}));
        apply(&mut s, Inherited::default(), Some(&block));
        assert_eq!(
            s.config,
            json!({"image": "alpine", "env": ["A=1"], "autoRemove": false})
        );
    }

    #[test]
    fn container_steps_share_the_dag_block_and_other_types_are_untouched() {
        let dag = node("image: alpine\nkeepContainer: true\n");
        let inherited = Inherited {
            ssh: None,
            container: Some(&dag),
        };
        let mut s = step("container", Json::Null);
        apply(&mut s, inherited, None);
        assert_eq!(s.config, json!({"image": "alpine", "keepContainer": true}));
        let mut other = step("command", Json::Null);
        apply(&mut other, inherited, None);
        assert_eq!(other.config, Json::Null);
    }

    #[test]
    fn a_string_container_block_is_passed_as_it_is() {
        let dag = node("my-running-app\n");
        let mut s = step("container", Json::Null);
        apply(
            &mut s,
            Inherited {
                ssh: None,
                container: Some(&dag),
            },
            None,
        );
        assert_eq!(s.config, json!("my-running-app"));
    }
}
