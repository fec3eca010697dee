//! create → list → extract, for every format, compared byte for byte.

use std::fs;
use std::path::Path;

use serde_json::json;

use super::*;

/// Checks that `copy` holds the same tree as `original`: contents, modes, times and
/// symlink targets.
fn assert_same_tree(original: &Path, copy: &Path) {
    let mut names: Vec<_> = fs::read_dir(original)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut copied: Vec<_> = fs::read_dir(copy)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    copied.sort();
    assert_eq!(names, copied, "in {}", copy.display());
    for name in names {
        let (a, b) = (original.join(&name), copy.join(&name));
        let meta = fs::symlink_metadata(&a).unwrap();
        if meta.file_type().is_symlink() {
            assert_eq!(fs::read_link(&a).unwrap(), fs::read_link(&b).unwrap());
            continue;
        }
        assert_eq!(mode(&a), mode(&b), "mode of {}", b.display());
        assert_eq!(
            crate::time::seconds(fs::metadata(&b).unwrap().modified().unwrap()),
            MTIME,
            "time of {}",
            b.display()
        );
        if meta.is_dir() {
            assert_same_tree(&a, &b);
        } else {
            assert_eq!(
                fs::read(&a).unwrap(),
                fs::read(&b).unwrap(),
                "{}",
                b.display()
            );
        }
    }
}

fn round_trip(archive: &str) {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());

    let created = run(
        dir.path(),
        "create",
        json!({"source": "src", "destination": archive}),
    );
    let summary = created.ok();
    assert_eq!(summary["operation"], "create");
    assert_eq!(summary["destination"], archive);
    assert_eq!(summary["files"], 10, "{summary}");
    assert_eq!(summary["bytes"], 6 + 18 + 9 + 12_000);
    assert!(summary["duration"].is_string());

    let listed = run(dir.path(), "list", json!({"source": archive}));
    let files = listed.ok()["files"].as_array().unwrap().clone();
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "src",
            "src/a.txt",
            "src/bin",
            "src/bin/run.sh",
            "src/docs",
            "src/docs/deep",
            "src/docs/deep/x.log",
            "src/docs/readme.md",
            "src/empty",
            "src/link"
        ]
    );
    assert_eq!(
        files[3],
        json!({"path": "src/bin/run.sh", "size": 18, "mode": "0755",
               "modTime": "2020-09-13T12:26:40Z", "isDir": false})
    );
    assert_eq!(files[2]["isDir"], true);
    assert_eq!(files[9]["link"], "a.txt");

    let extracted = run(
        dir.path(),
        "extract",
        json!({"source": archive, "destination": "out"}),
    );
    assert_eq!(extracted.ok()["files"], 10);
    assert_same_tree(&dir.path().join("src"), &dir.path().join("out/src"));
}

#[test]
fn tar_round_trips() {
    round_trip("a.tar");
}

#[test]
fn tar_gz_round_trips() {
    round_trip("a.tar.gz");
}

#[test]
fn tgz_round_trips() {
    round_trip("b.tgz");
}

#[test]
fn zip_round_trips() {
    round_trip("a.zip");
}

#[test]
fn the_format_is_recognised_from_the_content_when_the_name_does_not_tell() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    for format in ["zip", "tar.gz", "tar"] {
        run(
            dir.path(),
            "create",
            json!({"source": "src/a.txt", "destination": "blob", "format": format, "overwrite": true}),
        )
        .ok();
        let listed = run(dir.path(), "list", json!({"source": "blob"}));
        assert_eq!(listed.ok()["format"], format);
        assert_eq!(listed.summary["files"][0]["path"], "a.txt");
    }
}

#[test]
fn a_single_file_is_archived_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let created = run(
        dir.path(),
        "create",
        json!({"source": "src/docs/readme.md"}),
    );
    assert_eq!(created.ok()["destination"], "src/docs/readme.md.tar.gz");
    run(
        dir.path(),
        "extract",
        json!({"source": "src/docs/readme.md.tar.gz", "destination": "out"}),
    )
    .ok();
    assert_eq!(
        fs::read(dir.path().join("out/readme.md")).unwrap(),
        b"# readme\n"
    );
}
