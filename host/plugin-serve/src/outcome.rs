//! The two JSON documents every served plugin hands back: the manifest (`describe`) and the
//! outcome of a run, `{"ok": run-response}` or `{"err": run-error}` — the body of the
//! protocol's `done` message without `type` and `id` ([`dagu_plugin_sdk::Outcome`]).

use dagu_plugin_sdk::{Manifest, Outcome, RunError, RunResponse};

use crate::LoadError;

/// Reads a plugin's answer to `run`; anything but an outcome is the plugin's fault
/// (`internal`).
pub fn decode_outcome(json: &[u8]) -> Result<RunResponse, RunError> {
    match serde_json::from_slice::<Outcome>(json) {
        Ok(outcome) => outcome.into(),
        Err(e) => Err(RunError::internal(format!(
            "the plugin's answer to run is not {{\"ok\": response}} or {{\"err\": error}}: \
             {e}: {}",
            excerpt(json)
        ))),
    }
}

/// Reads a plugin's answer to `describe`.
pub fn decode_manifest(json: &[u8]) -> Result<Manifest, LoadError> {
    serde_json::from_slice(json).map_err(|e| {
        LoadError(format!(
            "the plugin's answer to describe is not a manifest: {e}: {}",
            excerpt(json)
        ))
    })
}

/// The start of a plugin's answer, for messages.
fn excerpt(json: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&json[..json.len().min(MAX)]);
    if json.len() > MAX {
        format!("{text}...")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_outcomes_decode() {
        let ok = decode_outcome(br#"{"ok": {"exit_code": 0, "outputs": [["A", "b"]]}}"#);
        assert_eq!(ok.unwrap().outputs, vec![("A".into(), "b".into())]);
        let err = decode_outcome(br#"{"err": {"kind": "denied", "message": "no"}}"#);
        assert_eq!(
            err.unwrap_err(),
            RunError::Denied {
                message: "no".into()
            }
        );
    }

    #[test]
    fn anything_else_is_an_internal_error_quoting_the_answer() {
        let e = decode_outcome(b"{\"exit_code\": 0}").unwrap_err();
        let RunError::Internal { message } = e else {
            panic!("{e:?}")
        };
        assert!(message.contains("{\"exit_code\": 0}"), "{message}");
        let long = vec![b'x'; 1000];
        let RunError::Internal { message } = decode_outcome(&long).unwrap_err() else {
            panic!()
        };
        assert!(message.ends_with("x..."), "{message}");
        assert!(message.len() < 400, "{message}");
    }

    #[test]
    fn a_manifest_decodes_and_garbage_is_a_load_error() {
        let m = decode_manifest(
            br#"{"name": "a", "version": "1", "protocol": "dagu-plugin/1", "step_types": []}"#,
        )
        .unwrap();
        assert_eq!(m.name, "a");
        let e = decode_manifest(b"[]").unwrap_err();
        assert!(e.0.starts_with("the plugin's answer to describe"), "{e}");
    }
}
