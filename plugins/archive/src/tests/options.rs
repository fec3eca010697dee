//! The config's options and the errors of bad requests.

use std::fs;

use dagu_plugin_sdk::Plugin;
use serde_json::json;

use super::*;

fn listed_paths(dir: &Path, archive: &str) -> Vec<String> {
    let listed = run(dir, "list", json!({"source": archive}));
    listed.ok()["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn include_and_exclude_select_what_is_archived() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let ran = run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.zip", "include": ["*.md", "*.sh", "*.log"], "exclude": "deep"}),
    );
    assert_eq!(ran.ok()["files"], 2);
    assert_eq!(
        listed_paths(dir.path(), "a.zip"),
        ["src/bin/run.sh", "src/docs/readme.md"]
    );
}

#[test]
fn include_and_exclude_select_what_is_extracted() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.tar"}),
    )
    .ok();
    let ran = run(
        dir.path(),
        "extract",
        json!({"source": "a.tar", "destination": "out", "include": "src/docs/**", "exclude": ["*.log"]}),
    );
    assert_eq!(ran.ok()["files"], 1);
    assert!(dir.path().join("out/src/docs/readme.md").is_file());
    assert!(!dir.path().join("out/src/docs/deep").exists());
    assert!(!dir.path().join("out/src/a.txt").exists());
}

#[test]
fn strip_components_drops_leading_folders() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.tgz"}),
    )
    .ok();
    run(
        dir.path(),
        "extract",
        json!({"source": "a.tgz", "destination": "out", "stripComponents": 2}),
    )
    .ok();
    let mut names: Vec<_> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["deep", "readme.md", "run.sh"]);
    assert_eq!(
        fs::read(dir.path().join("out/run.sh")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
}

#[test]
fn without_preserved_paths_files_land_in_the_top_folder() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.zip"}),
    )
    .ok();
    run(
        dir.path(),
        "extract",
        json!({"source": "a.zip", "destination": "out", "preservePaths": false, "exclude": "link"}),
    )
    .ok();
    let mut names: Vec<_> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a.txt", "readme.md", "run.sh", "x.log"]);
}

#[test]
fn a_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let ran = run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.zip", "dryRun": true}),
    );
    assert_eq!(ran.ok()["dryRun"], true);
    assert_eq!(ran.summary["files"], 10);
    assert!(!dir.path().join("a.zip").exists());
    run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.zip"}),
    )
    .ok();
    let ran = run(
        dir.path(),
        "extract",
        json!({"source": "a.zip", "destination": "out", "dry_run": true}),
    );
    assert_eq!(ran.ok()["files"], 10);
    assert!(!dir.path().join("out").exists());
}

#[test]
fn an_existing_archive_is_replaced_only_with_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    file(&dir.path().join("a.tar"), b"precious", 0o644);
    let ran = run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.tar"}),
    );
    assert!(
        ran.failure().contains("already exists"),
        "{}",
        ran.failure()
    );
    assert_eq!(fs::read(dir.path().join("a.tar")).unwrap(), b"precious");
    run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.tar", "overwrite": true}),
    )
    .ok();
    assert_eq!(listed_paths(dir.path(), "a.tar").len(), 10);
}

#[test]
fn verify_integrity_catches_a_damaged_archive() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    // Stored, so that the file's bytes can be found and damaged.
    let ran = run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": "a.zip", "verifyIntegrity": true, "compressionLevel": 0}),
    );
    ran.ok();
    let path = dir.path().join("a.zip");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.windows(4).position(|w| w == [0, 1, 2, 255]).unwrap();
    bytes[at + 100] ^= 0xff;
    fs::write(&path, bytes).unwrap();
    let ran = run(
        dir.path(),
        "extract",
        json!({"source": "a.zip", "destination": "out", "verifyIntegrity": true}),
    );
    assert!(
        ran.failure().contains("integrity check"),
        "{}",
        ran.failure()
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn verbose_logs_each_entry_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let ran = run(
        dir.path(),
        "create",
        json!({"source": "src/bin", "destination": "b.tar", "verbose": true}),
    );
    ran.ok();
    assert_eq!(ran.stderr, ["add bin", "add bin/run.sh"]);
}

#[test]
fn compression_levels_change_the_size() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    for (name, level) in [("stored.zip", 0), ("best.zip", 9), ("fast.tgz", 1)] {
        run(
            dir.path(),
            "create",
            json!({"source": "src", "destination": name, "compressionLevel": level}),
        )
        .ok();
    }
    let size = |n: &str| fs::metadata(dir.path().join(n)).unwrap().len();
    assert!(size("stored.zip") > size("best.zip") + 5_000);
    assert!(size("fast.tgz") < 12_000);
}

#[test]
fn unsupported_operations_fail() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run(dir.path(), "compress", json!({"source": "x"}));
    assert_eq!(ran.failure(), "unsupported archive operation: compress");
}

#[test]
fn passwords_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run(
        dir.path(),
        "extract",
        json!({"source": "a.zip", "password": "s3cret"}),
    );
    assert_eq!(
        ran.failure(),
        "password-protected archives are not supported"
    );
}

#[test]
fn bad_configs_are_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    for config in [
        json!({}),
        json!({"source": "a", "dryRun": true, "dry_run": true}),
        json!({"source": "a", "level": 3}),
    ] {
        let ran = run(dir.path(), "list", config.clone());
        assert!(
            matches!(ran.outcome, Err(RunError::InvalidConfig { .. })),
            "{config}: {:?}",
            ran.outcome
        );
    }
    file(&dir.path().join("a.rar"), b"Rar!", 0o644);
    let ran = run(dir.path(), "list", json!({"source": "a.rar"}));
    assert!(matches!(ran.outcome, Err(RunError::InvalidConfig { .. })));
    let ran = run(dir.path(), "list", json!({"source": "missing.zip"}));
    assert!(
        ran.failure().starts_with("cannot read archive"),
        "{}",
        ran.failure()
    );
}

#[test]
fn describes_one_step_type_reading_and_writing_the_working_directory() {
    let manifest = Archive.describe();
    assert_eq!(
        (manifest.name.as_str(), manifest.version.as_str()),
        ("archive", "0.1.0")
    );
    assert_eq!(manifest.step_types[0].name, "archive");
    assert_eq!(manifest.capabilities.fs_read, ["."]);
    assert_eq!(manifest.capabilities.fs_write, ["."]);
    let schema = &manifest.step_types[0].config_schema;
    assert_eq!(schema["required"], json!(["source"]));
    assert!(schema["properties"]["stripComponents"].is_object());
    assert!(schema["properties"]["strip_components"].is_object());
}

#[test]
fn follow_symlinks_archives_what_links_point_to() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    for (archive, follow) in [("kept.tar", false), ("followed.tar", true)] {
        run(
            dir.path(),
            "create",
            json!({"source": "src", "destination": archive, "followSymlinks": follow}),
        )
        .ok();
    }
    let link = |archive: &str| {
        let listed = run(
            dir.path(),
            "list",
            json!({"source": archive, "include": "link"}),
        );
        listed.ok()["files"][0].clone()
    };
    assert_eq!(link("kept.tar")["link"], "a.txt");
    assert_eq!(link("kept.tar")["size"], 0);
    assert_eq!(link("followed.tar")["size"], 6);
    assert!(link("followed.tar").get("link").is_none());
}
