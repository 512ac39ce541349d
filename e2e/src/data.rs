//! The data harness of every day-2 test: files of pseudo-random content written through a
//! FUSE mount with a sha256 [`Manifest`] before a fault, and every one of them read back and
//! compared after recovery — through the mount that lived through the fault and through a
//! fresh one ([`Mount`]). The [`Check`] counts files lost and changed; a test asserts both are
//! 0 with [`Check::assert_intact`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Errors of the harness's mounts and writes.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// `mount -t glusterfs` failed.
    #[error("mount -t glusterfs {source_spec} {target}: {stderr}")]
    Mount {
        /// What was mounted (`host:/volume`).
        source_spec: String,
        /// Where.
        target: String,
        /// mount's words.
        stderr: String,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DataError + 'a {
    move |source| DataError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// A FUSE mount of a gluster volume, unmounted (lazily, so a hung volume cannot hang the
/// test's end) when dropped.
#[derive(Debug)]
pub struct Mount {
    target: PathBuf,
    mounted: bool,
}

impl Mount {
    /// Mounts `spec` (`host:/volume`, as `status.mount` gives it) at `target` (created), with
    /// `backups` as the client's backup volfile servers.
    pub fn new(spec: &str, backups: &[String], target: &Path) -> Result<Mount, DataError> {
        std::fs::create_dir_all(target).map_err(io("creating", target))?;
        let mut mount = Command::new("mount");
        mount.args(["-t", "glusterfs"]);
        if !backups.is_empty() {
            mount.args([
                "-o",
                &format!("backup-volfile-servers={}", backups.join(":")),
            ]);
        }
        let out = mount
            .arg(spec)
            .arg(target)
            .output()
            .map_err(io("running mount for", target))?;
        if !out.status.success() {
            return Err(DataError::Mount {
                source_spec: spec.to_string(),
                target: target.display().to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(Mount {
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.target).status();
            self.mounted = false;
        }
    }
}

/// Files written and their sha256, by path relative to the mount point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    files: BTreeMap<String, String>,
}

/// What reading a [`Manifest`]'s files back found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// Files compared.
    pub checked: usize,
    /// Files missing or unreadable (with the error).
    pub lost: Vec<String>,
    /// Files whose content differs.
    pub changed: Vec<String>,
}

impl Check {
    /// Panics naming the files unless none is lost or changed (and at least one was checked).
    pub fn assert_intact(&self, through: &str) {
        assert!(self.checked > 0, "{through}: no file checked");
        assert!(
            self.lost.is_empty() && self.changed.is_empty(),
            "{through}: {} of {} files lost {:?}, {} changed {:?}",
            self.lost.len(),
            self.checked,
            self.lost,
            self.changed.len(),
            self.changed
        );
    }
}

/// A small deterministic generator (splitmix64): content differs per file and per run seed
/// without a dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Manifest {
    /// Writes `count` files named `<prefix>-<i>.bin` of 1 B to `max_bytes` of pseudo-random
    /// content (from `seed`) under `dir` (created), fsyncs each, and records their sha256.
    pub fn write(
        dir: &Path,
        prefix: &str,
        count: usize,
        max_bytes: usize,
        seed: u64,
    ) -> Result<Manifest, DataError> {
        let mut manifest = Manifest::default();
        manifest.write_more(dir, prefix, count, max_bytes, seed)?;
        Ok(manifest)
    }

    /// Writes more files into this manifest (see [`Manifest::write`]); `dir` is the mount
    /// point, the names may carry a subdirectory in `prefix` (`sub/name`).
    pub fn write_more(
        &mut self,
        dir: &Path,
        prefix: &str,
        count: usize,
        max_bytes: usize,
        seed: u64,
    ) -> Result<(), DataError> {
        let mut state = seed ^ 0x5eed;
        for i in 0..count {
            let name = format!("{prefix}-{i:04}.bin");
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
            }
            let len = 1 + (splitmix(&mut state) as usize) % max_bytes.max(1);
            let mut content = Vec::with_capacity(len + 8);
            while content.len() < len {
                content.extend_from_slice(&splitmix(&mut state).to_le_bytes());
            }
            content.truncate(len);
            {
                use std::io::Write;
                let mut f = std::fs::File::create(&path).map_err(io("creating", &path))?;
                f.write_all(&content).map_err(io("writing", &path))?;
                f.sync_all().map_err(io("syncing", &path))?;
            }
            self.files.insert(name, hex(&Sha256::digest(&content)));
        }
        Ok(())
    }

    /// How many files it lists.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads every file back under `dir` and compares its sha256.
    pub fn check(&self, dir: &Path) -> Check {
        let mut check = Check::default();
        for (name, sha) in &self.files {
            check.checked += 1;
            match std::fs::read(dir.join(name)) {
                Ok(content) => {
                    if hex(&Sha256::digest(&content)) != *sha {
                        check.changed.push(name.clone());
                    }
                }
                Err(e) => check.lost.push(format!("{name} ({e})")),
            }
        }
        check
    }

    /// Checks through `existing` (the mount that lived through the fault) and through a fresh
    /// mount of `spec` at `fresh_target`, asserting 0 lost and 0 changed through both; returns
    /// the number of files checked.
    pub fn assert_intact_through(
        &self,
        existing: &Mount,
        spec: &str,
        backups: &[String],
        fresh_target: &Path,
    ) -> usize {
        self.check(existing.path())
            .assert_intact("through the existing mount");
        let fresh = Mount::new(spec, backups, fresh_target).expect("a fresh mount");
        let check = self.check(fresh.path());
        check.assert_intact("through a fresh mount");
        check.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_finds_lost_and_changed_files_and_passes_intact_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::write(dir.path(), "a", 20, 4096, 1).unwrap();
        m.write_more(dir.path(), "sub/b", 5, 10, 2).unwrap();
        assert_eq!(m.len(), 25);
        let intact = m.check(dir.path());
        assert_eq!(intact.checked, 25);
        intact.assert_intact("a directory");

        std::fs::remove_file(dir.path().join("a-0003.bin")).unwrap();
        let changed = dir.path().join("sub/b-0001.bin");
        let mut content = std::fs::read(&changed).unwrap();
        content[0] ^= 1;
        std::fs::write(&changed, content).unwrap();
        let broken = m.check(dir.path());
        assert_eq!(broken.lost.len(), 1, "{broken:?}");
        assert!(broken.lost[0].starts_with("a-0003.bin"));
        assert_eq!(broken.changed, ["sub/b-0001.bin"]);
        let refused = std::panic::catch_unwind(|| broken.assert_intact("x"));
        assert!(refused.is_err());
        assert!(std::panic::catch_unwind(|| Check::default().assert_intact("x")).is_err());
    }

    #[test]
    fn content_depends_on_the_seed_and_the_file() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ma = Manifest::write(a.path(), "f", 4, 64, 7).unwrap();
        let mb = Manifest::write(b.path(), "f", 4, 64, 8).unwrap();
        assert_ne!(ma, mb);
        let shas: std::collections::BTreeSet<_> = ma.files.values().collect();
        assert_eq!(shas.len(), 4);
        assert_eq!(ma, Manifest::write(b.path(), "f", 4, 64, 7).unwrap());
    }
}
