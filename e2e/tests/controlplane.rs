//! The test control plane leaves nothing behind: processes, ports and its directory are gone
//! after a normal stop (Drop, also what a panicking test unwinds through) and after its owner is
//! killed with SIGKILL (the reaper's job). And it is the real thing: `kubectl version` names the
//! pinned release.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::controlplane::{ControlPlane, STATE_ROOT, chart};

/// PIDs of the live processes whose command line mentions `dir` (etcd's data dir, the API
/// server's certificates and the controller manager's kubeconfig all live there, and so does
/// the reaper's script): after a stop there must be none.
fn processes_using(dir: &Path) -> Vec<u32> {
    processes_where(dir, |_| true)
}

/// The three control-plane servers among [`processes_using`], told by their program name; the
/// reaper (`setsid`, then `sh`, and the moment between) is not one of them.
fn servers_using(dir: &Path) -> Vec<u32> {
    processes_where(dir, |argv0| {
        let name = argv0.rsplit('/').next().unwrap_or(argv0);
        ["etcd", "kube-apiserver", "kube-controller-manager"].contains(&name)
    })
}

fn processes_where(dir: &Path, program: impl Fn(&str) -> bool) -> Vec<u32> {
    let needle = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    let argv0 = c.split('\0').next().unwrap_or("");
                    c.contains(&needle) && program(argv0)
                })
                .unwrap_or(false)
        })
        .filter(|pid| {
            // A zombie is already gone for every purpose here.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, r)| r.trim_start().starts_with('Z'))
                })
                != Some(true)
        })
        .collect()
}

/// Waits up to `limit` for `done` (a hang guard).
async fn eventually(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_stopped_control_plane_leaves_nothing_and_reports_the_pinned_release() {
    let cp = ControlPlane::start().await.unwrap();
    let dir = cp.dir().to_path_buf();
    let server = cp.server().to_string();
    assert_eq!(
        servers_using(&dir).len(),
        3,
        "etcd, apiserver, controller manager: {:?}",
        processes_using(&dir)
    );

    let version = chart::run_kubectl(cp.kubeconfig(), &["version", "-o", "json"], "").unwrap();
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    let go_mod =
        std::fs::read_to_string(e2e::controlplane::workspace().join("hack/kube/go.mod")).unwrap();
    let pinned = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("k8s.io/kubernetes "))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(version["serverVersion"]["gitVersion"], pinned.as_str());

    drop(cp);
    assert!(
        processes_using(&dir).is_empty(),
        "{:?}",
        processes_using(&dir)
    );
    assert!(!dir.exists(), "{} left", dir.display());
    let port = server.rsplit(':').next().unwrap();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the API server's port still answers"
    );
}

#[tokio::test]
async fn a_control_plane_whose_owner_is_killed_is_reaped() {
    // devenv (without nodes) owns a control plane; SIGKILL gives it no chance to stop it.
    let state = tempfile::tempdir().unwrap();
    let devenv = PathBuf::from(env!("CARGO_BIN_EXE_devenv"));
    let mut child = std::process::Command::new(devenv)
        .args(["up", "--no-nodes", "--dir"])
        .arg(state.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = state.path().join("ready");
    eventually(Duration::from_secs(180), "devenv not ready", || {
        ready.exists()
    })
    .await;
    let owned: Vec<PathBuf> = std::fs::read_dir(STATE_ROOT)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{}-", child.id())))
        })
        .collect();
    assert_eq!(owned.len(), 1, "one control plane of devenv's: {owned:?}");
    let dir = owned[0].clone();
    assert_eq!(servers_using(&dir).len(), 3, "{:?}", processes_using(&dir));

    child.kill().unwrap();
    child.wait().unwrap();
    eventually(
        Duration::from_secs(30),
        "control-plane processes left",
        || processes_using(&dir).is_empty(),
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "control-plane directory left",
        || !dir.exists(),
    )
    .await;
}
