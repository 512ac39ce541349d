//! `devenv`: the binary brings the world up and down as a user runs it, and what it writes is
//! usable by the real kubectl and the real `openstack` CLI.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

fn tool(rel: &str) -> PathBuf {
    let p = repo().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run `make setup` (hack/setup.sh installs it)",
        p.display()
    );
    p
}

async fn run(program: &Path, args: &[&str], envs: &[(&str, &Path)]) -> (bool, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("program runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (bounded) until `path` exists.
async fn wait_for(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not appear within 60 s", path.display());
}

#[tokio::test]
async fn up_serves_kubectl_and_openstack_then_down_stops_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let devenv = PathBuf::from(env!("CARGO_BIN_EXE_devenv"));
    let mut child = Command::new(&devenv)
        .args(["up", "--dir"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("devenv starts");
    wait_for(&state.join("ready")).await;

    // kubectl sees the CRD and the credentials Secret, and can apply an example.
    let kubectl = tool(".tools/bin/kubectl");
    let kubeconfig = state.join("kubeconfig");
    let env = [("KUBECONFIG", kubeconfig.as_path())];
    let (ok, out, err) = run(
        &kubectl,
        &[
            "get",
            "crd",
            "glusterclusters.storage.glusterops.dev",
            "-o",
            "name",
        ],
        &env,
    )
    .await;
    assert!(ok, "kubectl get crd: {err}");
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/glusterclusters.storage.glusterops.dev"
    );
    let (ok, out, err) = run(
        &kubectl,
        &[
            "get",
            "secret",
            "openstack",
            "-o",
            "jsonpath={.data.clouds\\.yaml}",
        ],
        &env,
    )
    .await;
    assert!(ok, "kubectl get secret: {err}");
    use base64::Engine;
    let clouds = base64::engine::general_purpose::STANDARD
        .decode(out.trim())
        .expect("Secret data is base64");
    let clouds = String::from_utf8(clouds).expect("clouds.yaml is text");
    assert!(
        clouds.contains("sim:"),
        "the Secret holds the cloud `sim`: {clouds}"
    );
    let example = repo().join("examples/seed-4-nodes-replica.yaml");
    let (ok, _, err) = run(
        &kubectl,
        &["apply", "-f", example.to_str().expect("utf-8 path")],
        &env,
    )
    .await;
    assert!(ok, "kubectl apply of the seed example: {err}");

    // The real openstack CLI accepts the clouds.yaml devenv wrote: the default world is there.
    let openstack = tool(".tools/venv-osc/bin/openstack");
    let clouds_yaml = state.join("clouds.yaml");
    let (ok, out, err) = run(
        &openstack,
        &[
            "--os-cloud",
            "sim",
            "availability",
            "zone",
            "list",
            "--compute",
            "-f",
            "value",
            "-c",
            "Zone Name",
        ],
        &[("OS_CLIENT_CONFIG_FILE", clouds_yaml.as_path())],
    )
    .await;
    assert!(ok, "openstack availability zone list: {err}");
    let zones: Vec<&str> = out.lines().collect();
    for zone in ["zone-a", "zone-b", "zone-c"] {
        assert!(zones.contains(&zone), "{zone} missing from {zones:?}");
    }

    // `devenv down` stops it: the process exits cleanly and `ready` is gone.
    let (ok, out, err) = run(
        &devenv,
        &["down", "--dir", state.to_str().expect("utf-8")],
        &[],
    )
    .await;
    assert!(ok, "devenv down: {out}{err}");
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("devenv exits after down")
        .expect("wait for devenv");
    assert!(status.success(), "devenv exited with {status}");
    assert!(!state.join("ready").exists(), "ready is removed on stop");
    assert!(
        !state.join("devenv.pid").exists(),
        "the pid file is removed on stop"
    );
}

#[tokio::test]
async fn down_without_a_running_devenv_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let devenv = PathBuf::from(env!("CARGO_BIN_EXE_devenv"));
    let (ok, out, _) = run(
        &devenv,
        &["down", "--dir", dir.path().to_str().expect("utf-8")],
        &[],
    )
    .await;
    assert!(ok);
    assert!(out.contains("nothing running"), "{out}");
}
