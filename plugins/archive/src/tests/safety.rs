//! Extraction never writes outside its destination.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::*;

/// One raw tar entry: the name goes into the header as is, unchecked.
enum Raw<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// Writes a tar with entries whose names no careful writer would produce.
fn raw_tar(path: &Path, entries: &[Raw]) {
    let mut builder = tar::Builder::new(File::create(path).unwrap());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, data, kind): (&str, &[u8], _) = match entry {
            Raw::File(name, data) => (name, data, tar::EntryType::Regular),
            Raw::Symlink(name, target) => {
                header.set_link_name(target).unwrap();
                (name, &[], tar::EntryType::Symlink)
            }
            Raw::Hardlink(name, target) => {
                header.set_link_name(target).unwrap();
                (name, &[], tar::EntryType::Link)
            }
        };
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.finish().unwrap();
}

fn extract_into_out(dir: &Path, archive: &str, extra: serde_json::Value) -> Ran {
    let mut config = json!({"source": archive, "destination": "out"});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    run(dir, "extract", config)
}

#[test]
fn parent_segments_that_climb_out_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    raw_tar(
        &dir.path().join("evil.tar"),
        &[Raw::File("../evil.txt", b"x")],
    );
    let ran = extract_into_out(dir.path(), "evil.tar", json!({}));
    assert_eq!(
        ran.failure(),
        "../evil.txt: ../evil.txt points outside the destination"
    );
    assert!(!dir.path().join("evil.txt").exists());
}

#[test]
fn absolute_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("abs.txt");
    let name = target.to_str().unwrap().to_string();
    raw_tar(&dir.path().join("evil.tar"), &[Raw::File(&name, b"x")]);
    let ran = extract_into_out(dir.path(), "evil.tar", json!({}));
    assert!(
        ran.failure().ends_with("is an absolute path"),
        "{}",
        ran.failure()
    );
    assert!(!target.exists());
}

#[test]
fn symlinks_pointing_out_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    raw_tar(
        &dir.path().join("evil.tar"),
        &[
            Raw::Symlink("a/link", "../../secret"),
            Raw::Symlink("abs", "/etc"),
        ],
    );
    let ran = extract_into_out(dir.path(), "evil.tar", json!({"continueOnError": true}));
    let errors = ran.ok()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("points outside")
    );
    assert!(fs::symlink_metadata(dir.path().join("out/a/link")).is_err());
    assert!(fs::symlink_metadata(dir.path().join("out/abs")).is_err());
}

#[test]
fn nothing_is_written_through_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    // A link that stays inside, then a file through it.
    raw_tar(
        &dir.path().join("sneaky.tar"),
        &[Raw::Symlink("sub", "."), Raw::File("sub/x.txt", b"x")],
    );
    let ran = extract_into_out(dir.path(), "sneaky.tar", json!({}));
    assert_eq!(
        ran.failure(),
        "sub/x.txt: refusing to write through the symlink sub"
    );
    // A symlink already in the destination that points elsewhere.
    fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    fs::create_dir_all(dir.path().join("out2")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", dir.path().join("out2/d")).unwrap();
    raw_tar(&dir.path().join("plain.tar"), &[Raw::File("d/y.txt", b"y")]);
    let ran = run(
        dir.path(),
        "extract",
        json!({"source": "plain.tar", "destination": "out2"}),
    );
    assert!(ran.failure().contains("through the symlink d"));
    assert!(!dir.path().join("elsewhere/y.txt").exists());
}

#[test]
fn zip_entries_that_climb_out_are_refused_and_others_extracted() {
    let dir = tempfile::tempdir().unwrap();
    let mut zip = zip::ZipWriter::new(File::create(dir.path().join("evil.zip")).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("../evil.txt", options).unwrap();
    zip.write_all(b"x").unwrap();
    zip.start_file("fine.txt", options).unwrap();
    zip.write_all(b"ok").unwrap();
    zip.finish().unwrap();
    let ran = extract_into_out(dir.path(), "evil.zip", json!({"continue_on_error": true}));
    let summary = ran.ok();
    assert_eq!(summary["files"], 1);
    assert_eq!(summary["errors"][0]["path"], "../evil.txt");
    assert_eq!(ran.stderr.len(), 1);
    assert!(!dir.path().join("evil.txt").exists());
    assert_eq!(fs::read(dir.path().join("out/fine.txt")).unwrap(), b"ok");
}

#[test]
fn existing_files_are_kept_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    raw_tar(&dir.path().join("a.tar"), &[Raw::File("f.txt", b"new")]);
    file(&dir.path().join("out/f.txt"), b"old", 0o644);
    let ran = extract_into_out(dir.path(), "a.tar", json!({}));
    assert!(
        ran.failure().contains("already exists"),
        "{}",
        ran.failure()
    );
    assert_eq!(fs::read(dir.path().join("out/f.txt")).unwrap(), b"old");
    extract_into_out(dir.path(), "a.tar", json!({"overwrite": true})).ok();
    assert_eq!(fs::read(dir.path().join("out/f.txt")).unwrap(), b"new");
}

#[test]
fn hard_links_are_made_inside_only() {
    let dir = tempfile::tempdir().unwrap();
    file(&dir.path().join("outside.txt"), b"secret", 0o644);
    raw_tar(
        &dir.path().join("links.tar"),
        &[
            Raw::File("a.txt", b"shared"),
            Raw::Hardlink("b.txt", "a.txt"),
            Raw::Hardlink("c.txt", "../outside.txt"),
        ],
    );
    let ran = extract_into_out(dir.path(), "links.tar", json!({"continueOnError": true}));
    assert_eq!(ran.ok()["files"], 2);
    assert_eq!(ran.summary["errors"][0]["path"], "c.txt");
    assert_eq!(fs::read(dir.path().join("out/b.txt")).unwrap(), b"shared");
    assert!(!dir.path().join("out/c.txt").exists());
}
