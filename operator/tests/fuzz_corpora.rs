//! Replays every committed fuzz corpus file (`operator/fuzz/corpus/<target>/`) through the entry
//! function its fuzz target calls (`gluster_operator::fuzzing`), on stable Rust: what the
//! fuzzer found once (crashes are kept in the corpora) stays fixed, and every seed still runs.

use std::path::{Path, PathBuf};

use gluster_operator::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_corpus_file_replays_without_a_finding() {
    for (name, entry) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus of {name}: {}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(
            files.len() >= 3,
            "{name}: a corpus of at least 3 seeds, found {}",
            files.len()
        );
        for file in files {
            let data = std::fs::read(&file).expect("corpus file readable");
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} makes the target fail",
                file.display()
            );
        }
    }
}

#[test]
fn every_target_has_a_fuzz_target_file_and_a_corpus() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut on_disk: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz_targets/")
        .map(|e| {
            let path = e.expect("entry").path();
            path.file_stem()
                .and_then(|s| s.to_str())
                .expect("a UTF-8 file name")
                .to_owned()
        })
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    names.sort();
    assert_eq!(on_disk, names, "fuzz_targets/*.rs are the TARGETS");
    for name in &names {
        let target = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs")))
            .expect("target file");
        assert!(
            target.contains(&format!("gluster_operator::fuzzing::{name}(data)")),
            "{name}.rs calls fuzzing::{name}"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is a [[bin]] of fuzz/Cargo.toml"
        );
        assert!(
            fuzz_dir().join("corpus").join(name).is_dir(),
            "{name} corpus"
        );
    }
}
