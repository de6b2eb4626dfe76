//! The architecture invariants of ARCHITECTURE.md, checked as plain tests.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Invariant: the core has no clock, no socket, no thread, no environment, no file system.
#[test]
fn the_core_does_no_io() {
    let mut files = Vec::new();
    rust_files(&root().join("crates/ferry-proto/src"), &mut files);
    assert!(files.len() > 10, "found the core's sources");
    let forbidden = [
        "Instant::now",
        "SystemTime",
        "std::net",
        "std::thread",
        "std::env",
        "std::fs",
        "std::io",
        "std::process",
        "sleep(",
    ];
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        // Code only: docs may say what the driver passes in.
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//"))
        {
            for word in forbidden {
                assert!(
                    !line.contains(word),
                    "{}:{} uses {word}: the core must stay free of I/O",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

/// Invariant: the core depends on these crates and no others; a new one is a design decision.
#[test]
fn the_core_depends_on_little() {
    let manifest = fs::read_to_string(root().join("crates/ferry-proto/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap().split("\n[").next().unwrap();
    let names: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n.trim()))
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect();
    assert_eq!(
        names,
        ["httparse", "bytes", "memchr", "base64", "percent-encoding", "http", "miniz_oxide"]
    );
}

/// Invariant: the core is `no_std` and free of `unsafe`.
#[test]
fn the_core_is_no_std_and_safe() {
    let lib = fs::read_to_string(root().join("crates/ferry-proto/src/lib.rs")).unwrap();
    assert!(lib.contains("#![no_std]"));
    assert!(lib.contains("#![forbid(unsafe_code)]"));
    assert!(lib.contains("#![deny(missing_docs)]"));
}
