//! The post-commit watcher of reconcile_scalein: what a FUSE mount that lived through a
//! scale-in reads right after the commit, and gluster's view from a node.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use e2e::data::{Manifest, Mount};
use e2e::nodes::RunningNode;
use gluster_operator::gluster::xml::parse_volume_info;

/// The number of bricks of `volume` as `node`'s glusterd shows it (`None` if it did not say).
pub fn bricks_seen(node: &RunningNode, volume: &str) -> Option<usize> {
    let out = node
        .command("gluster")
        .args(["--mode=script", "--xml", "volume", "info", volume])
        .output()
        .ok()?;
    let info = parse_volume_info(&String::from_utf8_lossy(&out.stdout)).ok()?;
    Some(info.first()?.bricks.len())
}

/// The pool as `node` sees it: the number of members (itself included).
pub fn pool_size(node: &RunningNode) -> usize {
    let out = node
        .command("gluster")
        .args(["--mode=script", "--xml", "pool", "list"])
        .output()
        .expect("gluster pool list");
    gluster_operator::gluster::xml::parse_pool_list(&String::from_utf8_lossy(&out.stdout))
        .expect("pool list")
        .len()
}

/// What the reader saw after the commit: passes over the manifest, the errors of each
/// failing pass, and how long after the commit was seen the last error was.
#[derive(Debug, Default)]
pub struct Window {
    /// Passes over the manifest.
    pub passes: usize,
    /// Passes with at least one failed read.
    pub failing_passes: usize,
    /// The first failed reads (up to 5 lost, 5 changed).
    pub first_errors: Vec<String>,
    /// Reads that failed with ENOTCONN, over all passes.
    pub enotconn: usize,
    /// Reads that failed with ENOENT.
    pub enoent: usize,
    /// Reads that failed otherwise, or read other content.
    pub other: usize,
    /// When the last failing pass ended, from the moment the commit was seen.
    pub last_error_after: Option<Duration>,
    /// When a whole pass read every file, from the moment the commit was seen.
    pub clean_after: Option<Duration>,
    /// Files a fresh mount made right after the clean pass could not read (with the error).
    pub fresh_lost: Vec<String>,
}

/// Where the watcher mounts the volume afresh right after the commit.
pub struct Fresh {
    /// `host:/volume`.
    pub spec: String,
    /// The backup volfile servers.
    pub backups: Vec<String>,
    /// The mount point.
    pub target: std::path::PathBuf,
}

/// Watches `node`'s view of the volume until it has `bricks` bricks (hang guard: `limit`),
/// then reads the manifest through `dir` until a whole pass reads every file.
pub fn watch_commit(
    node: RunningNode,
    volume: String,
    bricks: usize,
    manifest: Manifest,
    dir: std::path::PathBuf,
    fresh: Fresh,
    stop: Arc<AtomicBool>,
) -> Option<Window> {
    let limit = Instant::now() + Duration::from_secs(900);
    loop {
        if stop.load(Ordering::SeqCst) || Instant::now() > limit {
            return None;
        }
        if bricks_seen(&node, &volume) == Some(bricks) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let seen = Instant::now();
    let mut w = Window::default();
    while seen.elapsed() < Duration::from_secs(120) {
        let check = manifest.check(&dir);
        w.passes += 1;
        if check.lost.is_empty() && check.changed.is_empty() {
            w.clean_after = Some(seen.elapsed());
            // A client that mounts now gets the new graph only (gluster #1918: fresh and old
            // mounts can differ).
            match Mount::new(&fresh.spec, &fresh.backups, &fresh.target) {
                Ok(m) => {
                    let c = manifest.check(m.path());
                    w.fresh_lost = c.lost;
                    w.fresh_lost.extend(c.changed);
                }
                Err(e) => w.fresh_lost.push(format!("fresh mount failed: {e}")),
            }
            return Some(w);
        }
        w.failing_passes += 1;
        w.last_error_after = Some(seen.elapsed());
        for lost in &check.lost {
            if lost.contains("os error 107") {
                w.enotconn += 1;
            } else if lost.contains("os error 2)") {
                w.enoent += 1;
            } else {
                w.other += 1;
            }
        }
        w.other += check.changed.len();
        if w.first_errors.is_empty() {
            w.first_errors = check.lost.iter().take(5).cloned().collect();
            w.first_errors.extend(check.changed.iter().take(5).cloned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(w)
}
