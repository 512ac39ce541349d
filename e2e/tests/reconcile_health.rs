//! Health of a running cluster with real gluster (loopback nodes: real sshd, glusterd and brick
//! processes; a FUSE client): a brick process killed on one node shows as
//! `Degraded=True/BrickOffline` naming the node and `status.health` 3/4 bricks online within
//! 60 s of the kill (a hang guard: the health read runs every 30 s); the operator restarts the
//! brick (`volume start force`), the files written during the outage heal onto it, and the
//! cluster comes back `Degraded=False`, `Ready=True`, nothing pending heal, every file intact
//! through the mount that lived through it and a fresh one. `kubectl wait
//! --for=condition=Degraded=false` and the health columns of `kubectl get gcl` are checked with
//! the real kubectl. A glusterd killed on one node shows as `Degraded=True/PeerLost` naming the
//! node; the operator cannot start glusterd (its SSH user may run the gluster CLI only), so the
//! test starts it again as a person would, and the cluster comes back healthy. Needs root (namespaces, loop devices, sshd on port 22): it fails, never
//! skips.

mod reconcile_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use e2e::data::{Manifest, Mount};
use e2e::nodes::{LoopbackNodes, RunningNode};
use gluster_operator::api::{GlusterCluster, GlusterClusterStatus, NodeStatus};
use k8s_openapi::api::events::v1::Event;
use kube::api::Api;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};

/// One gluster world at a time in this binary (each runs four nodes on two cores).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The hang guard between a fault and the condition that reports it (the health read runs
/// every 30 s by default).
const DETECTION: Duration = Duration::from_secs(60);

/// The loopback nodes, the world around them and the scratch directory they live in.
struct HealthWorld {
    world: World,
    nodes: Arc<LoopbackNodes>,
    scratch: tempfile::TempDir,
}

impl HealthWorld {
    /// A world whose servers become loopback nodes on addresses 127.100.X.* of its own (X from
    /// the process ID and `slot`; other gluster tests use other blocks).
    async fn start(slot: u32) -> HealthWorld {
        let (world, LoopbackGluster { nodes, scratch }) =
            start_gluster_world("reconcile-health-", 100 + slot, World::start).await;
        HealthWorld {
            world,
            nodes,
            scratch,
        }
    }

    /// Waits (at most `limit`) until `cond` holds for cluster `name`.
    async fn within(
        &self,
        limit: Duration,
        name: &str,
        what: &str,
        cond: impl Fn(&GlusterCluster) -> bool + Send + 'static,
    ) -> GlusterCluster {
        match tokio::time::timeout(limit, self.world.wait_for(name, what, cond)).await {
            Ok(c) => c,
            Err(_) => {
                let now = self.world.clusters.get_opt(name).await.ok().flatten();
                panic!(
                    "{name}: not {what} within {limit:?}; now: {:#?}",
                    now.and_then(|c| c.status)
                )
            }
        }
    }

    /// The running loopback node of `node`.
    fn running(&self, node: &NodeStatus) -> RunningNode {
        let id = node.server_id.as_deref().expect("a server ID");
        self.nodes.node(id).expect("the node runs")
    }

    /// Runs the real kubectl against the world's API server.
    fn kubectl(&self, args: &[&str]) -> String {
        let kubeconfig = self.scratch.path().join("kubeconfig");
        self.world.write_kubeconfig(&kubeconfig);
        let kubectl = std::env::var("KUBECTL")
            .unwrap_or_else(|_| format!("{}/../.tools/bin/kubectl", env!("CARGO_MANIFEST_DIR")));
        let out = std::process::Command::new(&kubectl)
            .args(args)
            .args(["-n", &self.world.ns])
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", self.scratch.path())
            .output()
            .unwrap_or_else(|e| panic!("{kubectl}: {e} (run `make setup`)"));
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The reasons of the Events about cluster `name`.
    async fn event_reasons(&self, name: &str) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.world.client.clone(), &self.world.ns);
        events
            .list(&Default::default())
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .filter_map(|e| e.reason)
            .collect()
    }

    async fn stop(self) {
        self.world.stop().await;
        self.nodes.shutdown().expect("nodes stopped");
    }
}

/// `(status, reason, message)` of the Degraded condition.
fn degraded(c: &GlusterCluster) -> Option<(String, String, String)> {
    condition(c, "Degraded")
}

/// Healthy: Ready, Degraded=False/Healthy, every brick online, nothing pending heal.
fn healthy(c: &GlusterCluster) -> bool {
    let h = c.status.as_ref().and_then(|s| s.health.as_ref());
    condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        && degraded(c).is_some_and(|(s, r, _)| s == "False" && r == "Healthy")
        && h.is_some_and(|h| {
            h.bricks_online == h.bricks_total
                && h.heal_pending == Some(0)
                && h.split_brain == Some(0)
        })
}

/// The host PIDs of the node's processes whose program is `comm` (e.g. `glusterfsd`).
fn pids_of(node: &RunningNode, comm: &str) -> Vec<u32> {
    node.processes()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// SIGKILL of one process (by its PID).
fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// The brick directory of `node` as the node sees it (`address:/path` → `/path`).
fn brick_dir(node: &NodeStatus) -> String {
    let brick = node.brick.as_deref().expect("a brick");
    brick.split_once(':').expect("address:/path").1.to_string()
}

/// The files `prefix-*.bin` directly under `dir`.
fn files_with_prefix(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".bin"))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_brick_process_is_reported_restarted_and_healed() {
    if reconcile_support::skip_in_external_mode(
        "a_killed_brick_process_is_reported_restarted_and_healed",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = HealthWorld::start(0).await;
    let cluster = example("two-zones-replica2.yaml");
    let name = cluster.metadata.name.clone().expect("a name");
    g.world.apply(&cluster).await;
    // Ready and healthy: the health is read in the pass that finds the volume ready.
    let ready = g
        .within(g.world.patience, &name, "Ready and healthy", healthy)
        .await;
    let status: GlusterClusterStatus = ready.status.clone().expect("status");
    let health = status.health.clone().expect("status.health");
    assert_eq!(health.bricks, "4/4", "{health:?}");
    assert_eq!((health.peers_connected, health.peers_total), (4, 4));
    assert_eq!(health.heal_pending, Some(0));
    assert!(
        health.capacity_total_bytes.is_some_and(|t| t > 0),
        "{health:?}"
    );
    let (spec, backups) = (
        status.mount.clone().expect("status.mount"),
        status.backup_volfile_servers.clone(),
    );

    // Data before the fault, through a mount that lives through it.
    let mount = Mount::new(&spec, &backups, &g.scratch.path().join("mnt")).expect("mount");
    let mut manifest = Manifest::write(mount.path(), "before", 40, 64 * 1024, 16).expect("write");

    // Kill the brick process of the second node (not the one the operator reads health from).
    let victim = status
        .nodes
        .iter()
        .find(|n| n.index == 1)
        .expect("node 1")
        .clone();
    let running = g.running(&victim);
    let bricks = pids_of(&running, "glusterfsd");
    assert_eq!(bricks.len(), 1, "one brick process on {}", victim.name);
    kill(bricks[0]);
    // Files written while the brick is down: only its partner has them until the heal.
    manifest
        .write_more(mount.path(), "during", 40, 64 * 1024, 17)
        .expect("write during the outage");

    let victim_name = victim.name.clone();
    let seen = g
        .within(
            DETECTION,
            &name,
            "Degraded=True/BrickOffline naming the node, 3/4 bricks online",
            move |c| {
                degraded(c).is_some_and(|(s, r, m)| {
                    s == "True" && r == "BrickOffline" && m.contains(&victim_name)
                }) && c
                    .status
                    .as_ref()
                    .and_then(|s| s.health.as_ref())
                    .is_some_and(|h| h.bricks == "3/4" && h.bricks_online == 3)
            },
        )
        .await;
    let offline = seen.status.and_then(|s| s.health).expect("health");
    assert_eq!(offline.bricks_offline.len(), 1, "{offline:?}");
    assert!(
        offline.bricks_offline[0].starts_with(&victim.name),
        "{offline:?}"
    );

    // The operator restarts the brick; the heal brings the outage's files; healthy again.
    let recovered = g
        .within(g.world.patience, &name, "healthy again", healthy)
        .await;
    let after = recovered.status.clone().expect("status");
    let health = after.health.clone().expect("health");
    assert_eq!(health.bricks, "4/4");
    assert_eq!(health.heal_pending, Some(0));
    assert_eq!(
        condition(&recovered, "Ready").map(|(s, _, _)| s).as_deref(),
        Some("True")
    );
    let restarted = pids_of(&g.running(&victim), "glusterfsd");
    assert_eq!(restarted.len(), 1, "the brick process runs again");
    assert_ne!(restarted[0], bricks[0]);

    // The files written during the outage are on the restarted brick itself: each one its
    // partner in the replica set holds is there, with the same content.
    let partner = after
        .volume
        .as_ref()
        .expect("volume")
        .bricks
        .chunks(2)
        .find(|set| set.iter().any(|b| b.node == victim.name))
        .and_then(|set| set.iter().find(|b| b.node != victim.name))
        .expect("the partner brick")
        .node
        .clone();
    let partner_node = after
        .nodes
        .iter()
        .find(|n| n.name == partner)
        .expect("partner node")
        .clone();
    let on_partner = g.running(&partner_node).path(&brick_dir(&partner_node));
    let on_victim = running.path(&brick_dir(&victim));
    let healed = files_with_prefix(&on_partner, "during");
    assert!(!healed.is_empty(), "no outage file on the partner brick");
    for file in &healed {
        let want = std::fs::read(on_partner.join(file)).expect("partner copy");
        let got = std::fs::read(on_victim.join(file))
            .unwrap_or_else(|e| panic!("{file} not healed onto {}: {e}", victim.name));
        assert_eq!(got, want, "{file} differs on the healed brick");
    }

    // Every file intact through the mount that lived through it and a fresh one.
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &g.scratch.path().join("fresh"));
    assert_eq!(checked, 80);

    // Events: the fault, the repair, the recovery.
    let reasons = g.event_reasons(&name).await;
    for want in ["BrickOffline", "BricksRestarted", "Recovered"] {
        assert!(
            reasons.iter().any(|r| r == want),
            "no {want} Event in {reasons:?}"
        );
    }
    // Gauges.
    let metrics = g.world.metrics.encode();
    let ns = &g.world.ns;
    for want in [
        format!(
            "gluster_operator_bricks{{namespace=\"{ns}\",cluster=\"{name}\",kind=\"online\"}} 4"
        ),
        format!(
            "gluster_operator_heal_entries{{namespace=\"{ns}\",cluster=\"{name}\",kind=\"pending\"}} 0"
        ),
        format!(
            "gluster_operator_degraded{{namespace=\"{ns}\",cluster=\"{name}\",kind=\"BrickOffline\"}} 0"
        ),
    ] {
        assert!(metrics.lines().any(|l| l == want), "missing {want}");
    }

    // What a user sees with the real kubectl.
    let waited = g.kubectl(&[
        "wait",
        "--for=condition=Degraded=false",
        &format!("gcl/{name}"),
        "--timeout=60s",
    ]);
    assert!(waited.contains("condition met"), "{waited}");
    let table = g.kubectl(&["get", "gcl"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "READY", "NODES", "TYPE", "CAPACITY", "DEGRADED", "BRICKS", "HEAL", "AGE"
        ],
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with(name.as_str()))
        .unwrap_or_else(|| panic!("no {name} in {table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..8],
        [
            name.as_str(),
            "True",
            "4/4",
            "Distributed-Replicate",
            "20Gi",
            "Healthy",
            "4/4",
            "0"
        ],
        "{table}"
    );

    drop(mount);
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_glusterd_is_reported_as_a_lost_peer_until_it_is_back() {
    if reconcile_support::skip_in_external_mode(
        "a_killed_glusterd_is_reported_as_a_lost_peer_until_it_is_back",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = HealthWorld::start(1).await;
    let cluster = example("two-zones-replica2.yaml");
    let name = cluster.metadata.name.clone().expect("a name");
    g.world.apply(&cluster).await;
    let ready = g
        .within(g.world.patience, &name, "Ready and healthy", healthy)
        .await;
    let status = ready.status.clone().expect("status");
    let (spec, backups) = (
        status.mount.clone().expect("status.mount"),
        status.backup_volfile_servers.clone(),
    );
    let mount = Mount::new(&spec, &backups, &g.scratch.path().join("mnt")).expect("mount");
    let mut manifest = Manifest::write(mount.path(), "before", 30, 64 * 1024, 26).expect("write");

    // Kill glusterd on the third node (its brick process keeps serving).
    let victim = status
        .nodes
        .iter()
        .find(|n| n.index == 2)
        .expect("node 2")
        .clone();
    let running = g.running(&victim);
    let glusterd = pids_of(&running, "glusterd");
    assert_eq!(glusterd.len(), 1, "one glusterd on {}", victim.name);
    kill(glusterd[0]);
    manifest
        .write_more(mount.path(), "during", 30, 64 * 1024, 27)
        .expect("write while glusterd is down");

    let victim_name = victim.name.clone();
    let seen = g
        .within(
            DETECTION,
            &name,
            "Degraded=True/PeerLost naming the node, Ready=False",
            move |c| {
                degraded(c).is_some_and(|(s, r, m)| {
                    s == "True" && r == "PeerLost" && m.contains(&victim_name)
                }) && condition(c, "Ready").is_some_and(|(s, _, _)| s == "False")
            },
        )
        .await;
    let health = seen.status.and_then(|s| s.health).expect("health");
    assert_eq!(health.peers_lost, [victim.name.as_str()], "{health:?}");
    assert_eq!((health.peers_connected, health.peers_total), (3, 4));

    // A person (or systemd) starts glusterd again: the peer reconnects, healthy again.
    let started = running
        .command("service")
        .args(["glusterd", "start"])
        .status()
        .expect("service glusterd start");
    assert!(
        started.success(),
        "service glusterd start on {}",
        victim.name
    );
    let recovered = g
        .within(g.world.patience, &name, "healthy again", healthy)
        .await;
    let health = recovered.status.and_then(|s| s.health).expect("health");
    assert!(health.peers_lost.is_empty(), "{health:?}");
    assert_eq!((health.peers_connected, health.peers_total), (4, 4));
    let reasons = g.event_reasons(&name).await;
    for want in ["PeerLost", "Recovered"] {
        assert!(
            reasons.iter().any(|r| r == want),
            "no {want} Event in {reasons:?}"
        );
    }

    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &g.scratch.path().join("fresh"));
    assert_eq!(checked, 60);
    drop(mount);
    g.stop().await;
}
