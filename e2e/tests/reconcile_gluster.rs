//! The whole pipeline with real gluster: the OpenStack simulator's boot hook starts a loopback
//! node (real sshd and glusterd on the server's 127.x address, booted from the user-data the
//! operator rendered) for each server, and the controller drives gluster over SSH with the
//! pinned host keys until the GlusterCluster is Ready with a started 2 × 2 volume and its mount
//! string. Needs root (namespaces, loop devices, sshd on port 22): it fails, never skips.

mod reconcile_support;

use std::sync::Arc;

use e2e::devenv::NodesHook;
use e2e::nodes::{LoopbackNodes, NodesConfig};
use e2e::openstack::{SimConfig, TimingConfig};
use gluster_operator::api::{GlusterCluster, GlusterClusterStatus, NodeState};
use reconcile_support::{World, condition, example};

/// One gluster world at a time in this binary (each runs four nodes on two cores).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The loopback nodes, the world around them and the scratch directory they live in.
struct GlusterWorld {
    world: World,
    nodes: Arc<LoopbackNodes>,
    scratch: tempfile::TempDir,
}

impl GlusterWorld {
    /// Starts a world whose servers become loopback nodes, on addresses 127.100.X.* of its
    /// own (X from the process ID and `slot`), so that loopback nodes of other worlds on this
    /// machine (devenv, the nodes tests, the other tests here) never hold the same ones.
    async fn start(slot: u32) -> GlusterWorld {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
        );
        let scratch = tempfile::Builder::new()
            .prefix("reconcile-gluster-")
            .tempdir_in("/tmp")
            .expect("scratch dir");
        let nodes = Arc::new(
            LoopbackNodes::new(NodesConfig::new(scratch.path().join("state"))).expect("nodes"),
        );
        let mut sim = SimConfig {
            timing: TimingConfig::uniform(20),
            ..SimConfig::default()
        };
        let block = 20 + (std::process::id() * 4 + slot) % 230;
        let subnet = &mut sim.networks[0].subnet;
        subnet.allocation_start = Some(format!("127.100.{block}.10"));
        subnet.allocation_end = Some(format!("127.100.{block}.250"));
        let world = World::start(sim).await;
        world.sim().set_boot_hook(Arc::new(NodesHook::new(
            nodes.clone(),
            world.sim().config(),
        )));
        GlusterWorld {
            world,
            nodes,
            scratch,
        }
    }

    /// Applies `cluster` and waits until it is Ready.
    async fn ready(&self, cluster: &GlusterCluster) -> GlusterCluster {
        self.world.apply(cluster).await;
        let name = cluster.metadata.name.clone().unwrap();
        self.world
            .wait_for(&name, "Ready=True", |c| {
                condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
            })
            .await
    }

    /// Mounts `status.mount` with FUSE, writes `file`, reads it back, unmounts.
    fn mount_write_read(&self, status: &GlusterClusterStatus, file: &str) {
        let mountpoint = self.scratch.path().join("mnt");
        std::fs::create_dir_all(&mountpoint).unwrap();
        let mount = std::process::Command::new("mount")
            .args(["-t", "glusterfs"])
            .arg(status.mount.as_deref().unwrap())
            .arg(&mountpoint)
            .output()
            .expect("mount");
        assert!(
            mount.status.success(),
            "mount: {}",
            String::from_utf8_lossy(&mount.stderr)
        );
        let path = mountpoint.join(file);
        let written = std::fs::write(&path, b"written through the operator's volume\n");
        let read = std::fs::read(&path);
        let umount = std::process::Command::new("umount")
            .arg(&mountpoint)
            .status()
            .expect("umount");
        written.expect("write through FUSE");
        assert_eq!(
            read.expect("read back"),
            b"written through the operator's volume\n"
        );
        assert!(umount.success());
    }

    /// Stops the controller, the servers and the nodes.
    async fn stop(self) {
        self.world.stop().await;
        self.nodes.shutdown().expect("nodes stopped");
    }
}

/// Every brick online, every node Ready, `n/n` nodes.
fn assert_all_ready(status: &GlusterClusterStatus, n: usize) {
    assert_eq!(
        status.node_summary.as_deref(),
        Some(format!("{n}/{n}").as_str())
    );
    assert!(status.nodes.iter().all(|n| n.state == NodeState::Ready));
    let volume = status.volume.as_ref().unwrap();
    assert_eq!(volume.state.as_deref(), Some("Started"));
    assert_eq!(volume.bricks.len(), n);
    assert!(volume.bricks.iter().all(|b| b.online), "{volume:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_become_a_ready_distributed_replicated_volume() {
    if reconcile_support::skip_in_external_mode(
        "two_zones_become_a_ready_distributed_replicated_volume",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = GlusterWorld::start(0).await;
    let ready = g.ready(&example("two-zones-replica2.yaml")).await;
    let status = ready.status.clone().unwrap();
    assert_all_ready(&status, 4);
    let volume = status.volume.clone().unwrap();
    assert_eq!(volume.name, "shared");
    assert_eq!(volume.type_, "Distributed-Replicate");
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 2));
    // Each replica set spans both zones (bricks interleave zone-a, zone-b).
    let zone_of = |node: &str| {
        status
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.zone.clone())
            .unwrap()
    };
    for set in volume.bricks.chunks(2) {
        assert_ne!(zone_of(&set[0].node), zone_of(&set[1].node), "{set:?}");
    }
    let first = status.nodes.iter().find(|n| n.index == 0).unwrap();
    assert_eq!(
        status.mount.as_deref(),
        Some(format!("{}:/shared", first.address.as_deref().unwrap()).as_str())
    );
    assert_eq!(status.backup_volfile_servers.len(), 3);
    g.mount_write_read(&status, "hello.txt");

    // What a user sees with the real kubectl.
    let kubeconfig = g.scratch.path().join("kubeconfig");
    g.world.kube().write_kubeconfig(&kubeconfig).unwrap();
    let kubectl = |args: &[&str]| {
        let kubectl = std::env::var("KUBECTL")
            .unwrap_or_else(|_| format!("{}/../.tools/bin/kubectl", env!("CARGO_MANIFEST_DIR")));
        let out = std::process::Command::new(&kubectl)
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", g.scratch.path())
            .output()
            .unwrap_or_else(|e| panic!("{kubectl}: {e} (run `make setup`)"));
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let waited = kubectl(&[
        "wait",
        "--for=condition=Ready",
        "gcl/twozones",
        "--timeout=60s",
    ]);
    assert!(waited.contains("condition met"), "{waited}");
    let table = kubectl(&["get", "glusterclusters"]);
    let row = table.lines().find(|l| l.starts_with("twozones")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        ["twozones", "True", "4/4", "Distributed-Replicate", "20Gi"],
        "{table}"
    );

    // Delete: the nodes go with their servers; the volumes stay (Retain).
    let uid = ready.metadata.uid.clone().unwrap();
    g.world
        .clusters
        .delete("twozones", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    g.world.wait_deleted("twozones", &uid).await;
    assert!(
        g.nodes.nodes().is_empty(),
        "loopback nodes left after delete"
    );
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_four_nodes_one_zone_become_replica_4_and_every_brick_holds_the_file() {
    if reconcile_support::skip_in_external_mode(
        "seed_four_nodes_one_zone_become_replica_4_and_every_brick_holds_the_file",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = GlusterWorld::start(1).await;
    let ready = g.ready(&example("seed-4-nodes-replica.yaml")).await;
    let status = ready.status.clone().unwrap();
    assert_all_ready(&status, 4);
    let volume = status.volume.clone().unwrap();
    assert_eq!(volume.type_, "Replicate");
    assert_eq!((volume.replica_count, volume.distribute_count), (4, 1));
    g.mount_write_read(&status, "seed.txt");
    let running = g.nodes.nodes();
    assert_eq!(running.len(), 4);
    for node in running {
        let copy = node.path("/export/seed/brick/seed.txt");
        assert_eq!(
            std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display())),
            b"written through the operator's volume\n",
            "brick of {}",
            node.name
        );
    }
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_2_stripes_2_become_distribute_2_by_replica_2_with_sharding() {
    if reconcile_support::skip_in_external_mode(
        "replicas_2_stripes_2_become_distribute_2_by_replica_2_with_sharding",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = GlusterWorld::start(2).await;
    let ready = g.ready(&example("replica2-stripes2.yaml")).await;
    let status = ready.status.clone().unwrap();
    assert_all_ready(&status, 4);
    let volume = status.volume.clone().unwrap();
    assert_eq!(volume.type_, "Distributed-Replicate");
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 2));
    assert!(volume.sharding, "features.shard on: {volume:?}");
    g.mount_write_read(&status, "striped.txt");
    g.stop().await;
}
