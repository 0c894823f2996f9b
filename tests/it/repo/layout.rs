//! `scripts/check-layout.sh` passes on this tree and fails, naming the problem, on a copy with
//! an upward import (plain, grouped, after a string holding `//` or `/*`, or through
//! `super::super::`), an import cycle inside a folder, code in a folder's `mod.rs`, or a stray
//! file at the `src/` root.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn check(root: &Path) -> (bool, String) {
    let output = Command::new("python3")
        .arg(Path::new(ROOT).join("scripts/check_layout.py"))
        .arg(root)
        .output()
        .expect("python3 runs the layout check");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// The layout check's output on a copy of `src/` and ARCHITECTURE.md with `text` appended to
/// `file` (created if missing); the check must fail there.
fn fails_with(file: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .args(["-r", &format!("{ROOT}/src"), &format!("{ROOT}/ARCHITECTURE.md")])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let path = dir.path().join(file);
    let mut content = std::fs::read_to_string(&path).unwrap_or_default();
    content.push_str(text);
    std::fs::write(&path, content).unwrap();
    let (ok, output) = check(dir.path());
    assert!(!ok, "the check passed with {file} planted:\n{output}");
    output
}

#[test]
fn the_tree_passes_the_layout_check() {
    let (ok, text) = check(Path::new(ROOT));
    assert!(ok, "{text}");
}

#[test]
fn each_planted_violation_fails_with_its_message() {
    // A leaf reaching up to config (also a cycle: config builds tls), through a grouped path.
    let text = fails_with(
        "src/tls/error.rs",
        "\n#[allow(unused_imports)]\nuse crate::{config::ConfigError as _Unused};\n",
    );
    assert!(
        text.contains("tls -> config") && text.contains("tls/error.rs"),
        "{text}"
    );
    assert!(text.contains("import cycle between top-level modules"), "{text}");

    // Two files of one folder importing each other.
    let text = fails_with(
        "src/state/key.rs",
        "\n#[allow(unused_imports)]\nuse super::sessions::SessionCheck as _Unused;\n",
    );
    assert!(
        text.contains("import cycle inside src/state/") && text.contains("key -> sessions: state/key.rs"),
        "{text}"
    );

    // Hidden from a naive reader: after a string holding `//` or `/*`, or as `super::super::`.
    let text = fails_with(
        "src/tls/files.rs",
        "\n#[allow(dead_code)]\nconst _URL: &str = \"http://x/*\"; #[allow(unused_imports)] use super::super::config::Config as _Unused;\n",
    );
    assert!(
        text.contains("tls -> config") && text.contains("tls/files.rs"),
        "{text}"
    );

    // Code in a folder's mod.rs.
    let text = fails_with("src/state/mod.rs", "\n/// Misplaced.\npub fn helper() {}\n");
    assert!(
        text.contains("src/state/mod.rs: a folder's mod.rs declares and re-exports only"),
        "{text}"
    );

    // A loose file at the root, which is also a room no layer places.
    let text = fails_with("src/helpers.rs", "//! Misc.\n");
    assert!(
        text.contains("src/helpers.rs") && text.contains("helpers: a top-level room"),
        "{text}"
    );
}
