//! Replays the checked-in fuzz inputs under plain `cargo test`: no libFuzzer, no nightly.
//!
//! Every file of `fuzz/seeds/<target>/` (hand-written), `fuzz/corpus/<target>/` (minimized by
//! `cargo xtask fuzz`) and `fuzz/regressions/<target>/` (past failures) goes through the same
//! function the fuzz target calls, taken from [`ferry_tests::fuzz::TARGETS`].

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use ferry_tests::fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_and_regressions_replay() {
    for &(name, target) in TARGETS {
        let mut inputs = files(&fuzz_dir().join("seeds").join(name));
        inputs.extend(files(&fuzz_dir().join("corpus").join(name)));
        assert!(
            !inputs.is_empty(),
            "fuzz/seeds/{name}/ and fuzz/corpus/{name}/ are empty: seed it"
        );
        inputs.extend(files(&fuzz_dir().join("regressions").join(name)));
        let mut failed = Vec::new();
        for path in &inputs {
            let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // The panic message is printed by the hook; collect the files to name them all.
            if panic::catch_unwind(|| target(&data)).is_err() {
                failed.push(path.display().to_string());
            }
        }
        assert!(failed.is_empty(), "fuzz target {name} fails on:\n{}", failed.join("\n"));
    }
}

/// A fuzz target that the replay does not know would only ever run under libFuzzer.
#[test]
fn every_fuzz_target_is_replayed() {
    let mut on_disk: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    on_disk.sort();
    let mut replayed: Vec<&str> = TARGETS.iter().map(|&(name, _)| name).collect();
    replayed.sort_unstable();
    assert_eq!(on_disk, replayed, "fuzz/fuzz_targets/ and ferry_tests::fuzz::TARGETS differ");
    for name in on_disk {
        let path = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let source =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            source.contains(&format!("ferry_tests::fuzz::{name}(data)")),
            "{}: a target is one call, ferry_tests::fuzz::{name}(data)",
            path.display()
        );
    }
}
