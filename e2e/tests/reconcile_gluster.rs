//! The whole pipeline with real gluster: the OpenStack simulator's boot hook starts a loopback
//! node (real sshd and glusterd on the server's 127.x address, booted from the user-data the
//! operator rendered) for each server, and the controller drives gluster over SSH with the
//! pinned host keys until the GlusterCluster is Ready with a started 2 × 2 volume and its mount
//! string. Needs root (namespaces, loop devices, sshd on port 22): it fails, never skips.

mod reconcile_support;

use std::sync::Arc;

use e2e::nodes::{LoopbackNodes, NodeSpec, NodesConfig};
use e2e::openstack::{BootHook, ServerEvent, SimConfig, TimingConfig, VolumeEvent};
use gluster_operator::api::NodeState;
use reconcile_support::{World, condition, example};

/// The simulator's servers become loopback gluster nodes.
struct NodesHook(Arc<LoopbackNodes>);

impl BootHook for NodesHook {
    fn server_active(&self, e: &ServerEvent) {
        let (Some(user_data), Some(address)) = (
            e.user_data_text(),
            e.address.as_deref().and_then(|a| a.parse().ok()),
        ) else {
            eprintln!("server {} has no user-data or address: no node", e.name);
            return;
        };
        let spec = NodeSpec {
            server_id: e.id.clone(),
            name: e.name.clone(),
            address,
            user_data: user_data.to_string(),
            volume_ids: e.volumes.clone(),
            ephemeral_bytes: None,
        };
        if let Err(err) = self.0.start(spec) {
            eprintln!("node {}: {err}", e.name);
        }
    }

    fn server_deleted(&self, e: &ServerEvent) {
        if let Err(err) = self.0.delete(&e.id) {
            eprintln!("deleting node {}: {err}", e.name);
        }
    }

    fn volume_attached(&self, e: &VolumeEvent) {
        if let Err(err) = self.0.attach_volume(&e.server_id, &e.volume_id) {
            eprintln!("attaching {} to {}: {err}", e.volume_id, e.server_name);
        }
    }

    fn volume_detached(&self, e: &VolumeEvent) {
        if let Err(err) = self.0.detach_volume(&e.server_id, &e.volume_id) {
            eprintln!("detaching {} from {}: {err}", e.volume_id, e.server_name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_become_a_ready_distributed_replicated_volume() {
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
    // Addresses of their own (127.100.X.*, X from the process ID), so that loopback nodes of
    // other worlds on this machine (devenv, the nodes tests) never hold the same ones.
    let block = 20 + std::process::id() % 200;
    let subnet = &mut sim.networks[0].subnet;
    subnet.allocation_start = Some(format!("127.100.{block}.10"));
    subnet.allocation_end = Some(format!("127.100.{block}.250"));
    let world = World::start(sim).await;
    world.sim.set_boot_hook(Arc::new(NodesHook(nodes.clone())));
    world.apply(&example("two-zones-replica2.yaml")).await;
    let ready = world
        .wait_for("twozones", "Ready=True", |c| {
            condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let status = ready.status.clone().unwrap();
    assert_eq!(status.node_summary.as_deref(), Some("4/4"));
    assert!(status.nodes.iter().all(|n| n.state == NodeState::Ready));
    let volume = status.volume.clone().unwrap();
    assert_eq!(volume.name, "shared");
    assert_eq!(volume.type_, "Distributed-Replicate");
    assert_eq!(volume.state.as_deref(), Some("Started"));
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 2));
    assert_eq!(volume.bricks.len(), 4);
    assert!(volume.bricks.iter().all(|b| b.online));
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

    // A client mounts what status.mount says (FUSE), writes and reads a file.
    let mountpoint = scratch.path().join("mnt");
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
    let file = mountpoint.join("hello.txt");
    let written = std::fs::write(&file, b"written through the operator's volume\n");
    let read = std::fs::read(&file);
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

    // Delete: the nodes go with their servers; the volumes stay (Retain).
    let uid = ready.metadata.uid.clone().unwrap();
    world
        .clusters
        .delete("twozones", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    world.wait_deleted("twozones", &uid).await;
    assert!(nodes.nodes().is_empty(), "loopback nodes left after delete");
    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}
