//! `kubectl gluster` (operator/src/bin/kubectl-gluster) as users run it: the real kubectl
//! (1.35, from `make setup`) finds `kubectl-gluster` on PATH and runs it against the real
//! kube-apiserver: `status`, `heal` and `mount` read a GlusterCluster whose status is one
//! recorded from a real run with a brick offline (e2e/tests/fixtures/status/), `status` lists
//! an Event about it, `plan -f` shows the steps and gluster commands from the live object to a
//! changed manifest, `scale` patches the zone's node count (a guarded JSON patch) and refuses
//! an unknown zone. The plugin binary comes from the same `cargo test --workspace` build
//! (`make test`); run alone, build it first: `cargo build -p gluster-operator --bin kubectl-gluster`.

mod kube_support;

use std::path::PathBuf;
use std::process::Output;

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_support::{Cluster, kubectl_path, text, workspace};
use serde_json::{Value, json};

/// The plugin binary of this build, checked to be newer than its sources (a stale one would
/// test old code).
fn plugin_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join("target"));
    // The test binary lives in <target>/debug/deps; the plugin in <target>/debug.
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("kubectl-gluster")));
    let bin = beside
        .filter(|p| p.exists())
        .unwrap_or_else(|| target.join("debug/kubectl-gluster"));
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build it: cargo build -p gluster-operator --bin kubectl-gluster",
                bin.display()
            )
        });
    let src = workspace().join("operator/src/bin/kubectl-gluster");
    for f in std::fs::read_dir(&src).expect("plugin sources") {
        let changed = f
            .expect("entry")
            .metadata()
            .and_then(|m| m.modified())
            .expect("mtime");
        assert!(
            changed <= built,
            "{} is older than its sources: cargo build -p gluster-operator --bin kubectl-gluster",
            bin.display()
        );
    }
    bin
}

/// The test's namespace with the CRD established and a PATH directory holding the plugin.
struct PluginWorld {
    c: Cluster,
    path_dir: tempfile::TempDir,
}

impl PluginWorld {
    async fn start() -> PluginWorld {
        let c = Cluster::start().await;
        let crd = kube_support::crd_path();
        c.ok(&["apply", "-f", crd.to_str().expect("path")]).await;
        c.ok(&[
            "wait",
            "--for=condition=Established",
            "crd/glusterclusters.storage.glusterops.dev",
            "--timeout=30s",
        ])
        .await;
        let path_dir = tempfile::tempdir().expect("a PATH directory");
        std::os::unix::fs::symlink(plugin_binary(), path_dir.path().join("kubectl-gluster"))
            .expect("linking the plugin");
        PluginWorld { c, path_dir }
    }

    /// kubectl with the plugin's directory first on PATH.
    async fn kubectl(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.path_dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        tokio::process::Command::new(kubectl_path())
            .args(args)
            .env("KUBECONFIG", &self.c.kubeconfig)
            .env("HOME", self.c.dir.path())
            .env("PATH", path)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("kubectl runs")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

/// The lines of `text` with their cells joined by one space.
fn line_starting(text: &str, start: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{text}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn fixture_status() -> Value {
    let path = workspace().join("e2e/tests/fixtures/status/degraded-brick-offline.json");
    let obj: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json");
    obj["status"].clone()
}

#[tokio::test]
async fn kubectl_finds_the_plugin_and_it_reads_plans_and_scales_a_cluster() {
    let w = PluginWorld::start().await;
    let ns = w.c.ns.clone();
    let listed = w.ok(&["plugin", "list"]).await;
    assert!(listed.contains("kubectl-gluster"), "{listed}");
    let version = w.ok(&["gluster", "--version"]).await;
    assert_eq!(
        version.trim(),
        format!("kubectl gluster {}", env!("CARGO_PKG_VERSION"))
    );

    // The example cluster with a status recorded from a real run (a brick offline).
    let example = workspace().join("examples/two-zones-replica2.yaml");
    w.c.ok(&["apply", "-f", example.to_str().expect("path")])
        .await;
    let client = w.c.client().await;
    let clusters: Api<gluster_operator::api::GlusterCluster> = Api::namespaced(client.clone(), &ns);
    let mut status = fixture_status();
    status["observedGeneration"] = json!(1);
    clusters
        .patch_status(
            "twozones",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .expect("writing the recorded status");
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "twozones.brickoffline"},
        "regarding": {
            "apiVersion": "storage.glusterops.dev/v1alpha1",
            "kind": "GlusterCluster",
            "name": "twozones",
            "namespace": ns,
        },
        "reason": "BrickOffline",
        "note": "the brick of a node is offline",
        "type": "Warning",
        "action": "Observe",
        "reportingController": "storage.glusterops.dev/gluster-operator",
        "reportingInstance": "test",
        "eventTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
    }))
    .expect("an Event");
    events
        .create(&PostParams::default(), &event)
        .await
        .expect("an Event");

    // status
    let victim = status["health"]["bricksOffline"][0]
        .as_str()
        .expect("a brick offline in the fixture")
        .split(' ')
        .next()
        .expect("node (`name (address:/path)`)")
        .to_string();
    let out = w.ok(&["gluster", "status", "twozones"]).await;
    assert!(
        out.starts_with(&format!("GlusterCluster {ns}/twozones\n")),
        "{out}"
    );
    assert!(
        line_starting(&out, "Degraded").starts_with("Degraded True BrickOffline"),
        "{out}"
    );
    let ready = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .expect("a Ready condition in the fixture");
    assert!(
        line_starting(&out, "Ready").starts_with(&format!("Ready {ready}")),
        "{out}"
    );
    assert_eq!(line_starting(&out, "Bricks "), "Bricks 3/4 online", "{out}");
    let row = line_starting(&out, &victim);
    assert!(row.ends_with(" NO"), "{row}");
    let summary = status["nodeSummary"].as_str().expect("nodeSummary");
    assert_eq!(
        line_starting(&out, "Nodes"),
        format!("Nodes {summary}"),
        "{out}"
    );
    let event_row = out
        .lines()
        .find(|l| l.contains("BrickOffline") && l.contains("Warning"))
        .unwrap_or_else(|| panic!("no Event row in\n{out}"));
    assert!(
        event_row.ends_with("the brick of a node is offline"),
        "{event_row}"
    );

    // heal and mount, from the same status.
    let out = w.ok(&["gluster", "heal", "twozones"]).await;
    let pending = status["health"]["healPending"]
        .as_u64()
        .map_or("unknown".into(), |n| n.to_string());
    assert!(
        out.starts_with(&format!("twozones: {pending} entries pending heal")),
        "{out}"
    );
    let bricks = status["health"]["healByBrick"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        out.lines().filter(|l| l.contains(":/")).count(),
        bricks,
        "{out}"
    );
    let out = w.ok(&["gluster", "mount", "twozones"]).await;
    let spec = status["mount"].as_str().expect("status.mount");
    let backups: Vec<&str> = status["backupVolfileServers"]
        .as_array()
        .expect("backups")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        out.contains(&format!(
            "mount -t glusterfs -o backup-volfile-servers={} {spec} /mnt/twozones\n",
            backups.join(":")
        )),
        "{out}"
    );

    // plan: the live object (2+2) to a manifest with 3+3 nodes, touching nothing.
    let scaled = std::fs::read_to_string(&example)
        .expect("example")
        .replace("nodes: 2", "nodes: 3");
    let file = w.path_dir.path().join("scaled.yaml");
    std::fs::write(&file, scaled).expect("manifest");
    let out = w
        .ok(&["gluster", "plan", "-f", file.to_str().expect("path")])
        .await;
    assert!(
        out.contains(&format!("GlusterCluster {ns}/twozones"))
            && out.contains("changing from the live object (generation 1)"),
        "{out}"
    );
    assert!(out.contains("add-brick"), "{out}");
    let unchanged = clusters.get("twozones").await.expect("cluster");
    assert_eq!(unchanged.metadata.generation, Some(1));

    // scale: a patch of the zone's node count; an unknown zone is refused, naming the zones.
    let out = w
        .ok(&[
            "gluster", "scale", "twozones", "--zone", "zone-b", "--nodes", "3",
        ])
        .await;
    assert!(
        out.contains("zone zone-b to 3 nodes (generation 2)"),
        "{out}"
    );
    let after = clusters.get("twozones").await.expect("cluster");
    let zones: Vec<(String, u32)> = after
        .spec
        .zones
        .iter()
        .map(|z| (z.name.clone(), z.nodes))
        .collect();
    assert_eq!(
        zones,
        [("zone-a".to_string(), 2), ("zone-b".to_string(), 3)]
    );
    let refused = w
        .kubectl(&[
            "gluster", "scale", "twozones", "--zone", "zone-c", "--nodes", "3",
        ])
        .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("no zone zone-c in spec.zones (zones: zone-a, zone-b)"),
        "{}",
        text(&refused.stderr)
    );
    let missing = w.kubectl(&["gluster", "status", "nope"]).await;
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains(&format!("GlusterCluster {ns}/nope not found")));
}

#[test]
fn the_krew_manifest_names_the_archive_it_ships_with() {
    use sha2::Digest as _;
    let make = |dir: &std::path::Path| {
        let out = std::process::Command::new(workspace().join("hack/krew.sh"))
            .env("KREW_BINARY", plugin_binary())
            .env("CARGO_TARGET_DIR", dir)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("KREW_URI_BASE", "https://example.invalid/v0")
            .output()
            .expect("hack/krew.sh");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let manifest: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(dir.join("krew/gluster.yaml")).expect("manifest"),
        )
        .expect("the manifest is YAML");
        let archive =
            std::fs::read(dir.join("krew/kubectl-gluster-linux-amd64.tar.gz")).expect("archive");
        (manifest, archive)
    };
    let (a, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (manifest, archive) = make(a.path());
    let (_, again) = make(b.path());
    assert!(
        archive == again,
        "the same binary and epoch give the same archive"
    );
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["metadata"]["name"], "gluster");
    assert_eq!(
        manifest["spec"]["version"].as_str(),
        Some(format!("v{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let platform = &manifest["spec"]["platforms"][0];
    assert_eq!(platform["selector"]["matchLabels"]["os"], "linux");
    assert_eq!(platform["bin"], "kubectl-gluster");
    assert_eq!(
        platform["uri"],
        "https://example.invalid/v0/kubectl-gluster-linux-amd64.tar.gz"
    );
    let sha: String = sha2::Sha256::digest(&archive)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(platform["sha256"].as_str(), Some(sha.as_str()));
    // What krew would install: the archive's kubectl-gluster runs.
    let x = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(a.path().join("krew/kubectl-gluster-linux-amd64.tar.gz"))
        .arg("-C")
        .arg(x.path())
        .output()
        .expect("tar");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = std::process::Command::new(x.path().join("kubectl-gluster"))
        .arg("--version")
        .output()
        .expect("the packaged plugin runs");
    assert_eq!(
        text(&v.stdout).trim(),
        format!("kubectl gluster {}", env!("CARGO_PKG_VERSION"))
    );
}
