//! The whole pipeline with real gluster: the OpenStack simulator's boot hook starts a loopback
//! node (real sshd and glusterd on the server's 127.x address, booted from the user-data the
//! operator rendered) for each server, and the controller drives gluster over SSH with the
//! pinned host keys until the GlusterCluster is Ready with a started 2 × 2 volume and its mount
//! string. Needs root (namespaces, loop devices, sshd on port 22): it fails, never skips.

mod reconcile_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use e2e::nodes::LoopbackNodes;
use e2e::openstack::{FaultAction, HttpFault};
use gluster_operator::api::{BrickStorage, GlusterCluster, GlusterClusterStatus, NodeState};
use gluster_operator::cloud::{ServerQuery, ServerStatus, VolumeQuery};
use kube::api::Api;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};

/// What the tests write through the FUSE mount.
const WRITTEN: &[u8] = b"written through the operator's volume\n";

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
        let (world, LoopbackGluster { nodes, scratch }) =
            start_gluster_world("reconcile-gluster-", slot, World::start).await;
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
        self.mount_write_read_all(status, &[file.to_string()]);
    }

    /// Mounts `status.mount` with FUSE, runs `f` on the mount point, unmounts (also when `f`
    /// panics: the panic is carried past the unmount).
    fn with_mount<T>(
        &self,
        status: &GlusterClusterStatus,
        f: impl FnOnce(&std::path::Path) -> T,
    ) -> T {
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
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mountpoint)));
        let umount = std::process::Command::new("umount")
            .arg(&mountpoint)
            .status()
            .expect("umount");
        let value = result.unwrap_or_else(|p| std::panic::resume_unwind(p));
        assert!(umount.success());
        value
    }

    /// Mounts `status.mount` with FUSE, writes each of `files` (with [`WRITTEN`]), reads them
    /// back, unmounts.
    fn mount_write_read_all(&self, status: &GlusterClusterStatus, files: &[String]) {
        self.with_mount(status, |mountpoint| {
            for file in files {
                let path = mountpoint.join(file);
                std::fs::write(&path, WRITTEN)
                    .unwrap_or_else(|e| panic!("write {file} through FUSE: {e}"));
                assert_eq!(
                    std::fs::read(&path).unwrap_or_else(|e| panic!("read back {file}: {e}")),
                    WRITTEN
                );
            }
        });
    }

    /// Mounts `status.mount` with FUSE and checks that each of `files` holds [`WRITTEN`].
    fn mount_read_all(&self, status: &GlusterClusterStatus, files: &[String]) {
        self.with_mount(status, |mountpoint| {
            for file in files {
                let path = mountpoint.join(file);
                assert_eq!(
                    std::fs::read(&path).unwrap_or_else(|e| panic!("read {file}: {e}")),
                    WRITTEN,
                    "{file}"
                );
            }
        });
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
    g.world.write_kubeconfig(&kubeconfig);
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
            WRITTEN,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_without_block_storage_serves_its_bricks_from_the_fallback_flavors_ephemeral_disk() {
    if reconcile_support::skip_in_external_mode(
        "a_zone_without_block_storage_serves_its_bricks_from_the_fallback_flavors_ephemeral_disk",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = GlusterWorld::start(3).await;
    let ready = g.ready(&example("ephemeral-zone.yaml")).await;
    let uid = ready.metadata.uid.clone().unwrap();
    let status = ready.status.clone().unwrap();
    assert_all_ready(&status, 4);
    let volume = status.volume.clone().unwrap();
    assert_eq!(volume.type_, "Distributed-Replicate");
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 2));
    let storage: Vec<_> = status
        .zones
        .iter()
        .map(|z| (z.name.as_str(), z.storage))
        .collect();
    assert_eq!(
        storage,
        [
            ("zone-a", Some(BrickStorage::Volume)),
            ("zone-c", Some(BrickStorage::Ephemeral))
        ]
    );

    // zone-c's servers run the fallback flavor and have no Cinder volume; zone-a's have one.
    let servers = g
        .world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(servers.len(), 4, "{servers:?}");
    let xlarge = g.world.cloud.compute().flavor("m1.xlarge").await.unwrap();
    let medium = g.world.cloud.compute().flavor("m1.medium").await.unwrap();
    for server in &servers {
        let zone = server.availability_zone.as_deref().unwrap();
        let flavor = server
            .flavor
            .id
            .clone()
            .or(server.flavor.original_name.clone())
            .unwrap();
        let want = if zone == "zone-c" { &xlarge } else { &medium };
        assert!(
            flavor == want.id || flavor == want.name,
            "{} in {zone}: flavor {flavor}",
            server.name
        );
        assert_eq!(
            server.attached_volume_ids().len(),
            usize::from(zone == "zone-a"),
            "{}",
            server.name
        );
    }
    let volumes = g
        .world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: None,
            metadata: BTreeMap::from([("gluster-operator:cluster-uid".to_string(), uid.clone())]),
        })
        .await
        .unwrap();
    assert_eq!(
        volumes.len(),
        2,
        "only zone-a's bricks are volumes: {volumes:?}"
    );
    let zone_c: Vec<_> = status.nodes.iter().filter(|n| n.zone == "zone-c").collect();
    assert_eq!(zone_c.len(), 2);
    for node in &zone_c {
        assert!(node.volume_id.is_none(), "{node:?}");
    }
    let mut zone_a_volumes: Vec<_> = status
        .nodes
        .iter()
        .filter(|n| n.zone == "zone-a")
        .map(|n| n.volume_id.clone().unwrap())
        .collect();
    let mut volume_ids: Vec<_> = volumes.iter().map(|v| v.id.clone()).collect();
    zone_a_volumes.sort();
    volume_ids.sort();
    assert_eq!(
        volume_ids, zone_a_volumes,
        "the volumes are zone-a's bricks"
    );

    // Writes through FUSE: each file lands on one replica set, i.e. on one zone-a and one
    // zone-c brick; 16 files hash onto both sets (the odds that they all pick one are 2^-15).
    let files: Vec<String> = (0..16).map(|i| format!("file-{i}.txt")).collect();
    g.mount_write_read_all(&status, &files);
    let running = g.nodes.nodes();
    assert_eq!(running.len(), 4);
    let zone_of = |name: &str| {
        status
            .nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.zone.clone())
            .unwrap_or_else(|| panic!("node {name} not in the status"))
    };
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let holders: Vec<(&str, String)> = running
            .iter()
            .filter(|node| node.path(&format!("/export/mixed/brick/{file}")).exists())
            .map(|node| (node.name.as_str(), zone_of(&node.name)))
            .collect();
        let mut zones: Vec<&str> = holders.iter().map(|(_, z)| z.as_str()).collect();
        zones.sort();
        assert_eq!(zones, ["zone-a", "zone-c"], "{file} on {holders:?}");
        for (name, zone) in &holders {
            if zone == "zone-c" {
                let copy = running
                    .iter()
                    .find(|n| n.name == *name)
                    .unwrap()
                    .path(&format!("/export/mixed/brick/{file}"));
                assert_eq!(std::fs::read(&copy).unwrap(), WRITTEN, "{}", copy.display());
                *held.entry(name.to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(held.len(), 2, "both zone-c bricks hold files: {held:?}");

    // And those bricks are the ephemeral disk: its loop device is what the brick mount is on.
    for node in running.iter().filter(|n| zone_of(&n.name) == "zone-c") {
        let ephemeral: Vec<_> = node
            .disks
            .iter()
            .filter(|d| d.volume_id.is_none())
            .collect();
        assert_eq!(ephemeral.len(), 1, "{:?}", node.disks);
        assert_eq!(node.disks.len(), 1, "{:?}", node.disks);
        let out = node
            .command("findmnt")
            .args(["-n", "-o", "SOURCE", &node.brick_mount_path])
            .output()
            .expect("findmnt");
        assert!(out.status.success(), "findmnt in {}: {out:?}", node.name);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            ephemeral[0].device,
            "brick mount of {}",
            node.name
        );
    }
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_faults_while_building_still_give_a_ready_volume_and_the_error_server_is_replaced() {
    if reconcile_support::skip_in_external_mode(
        "cloud_faults_while_building_still_give_a_ready_volume_and_the_error_server_is_replaced",
        "it injects faults through the simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = GlusterWorld::start(4).await;
    let faults = g.world.sim().faults();
    faults.fail_next_servers(1, None);
    for (method, path, action, times) in [
        (
            "POST",
            "/compute/v2.1/servers",
            FaultAction::Error { status: 503 },
            2,
        ),
        ("GET", "/compute/*", FaultAction::Error { status: 502 }, 1),
        (
            "GET",
            "/compute/*",
            FaultAction::Throttle {
                retry_after_secs: 1,
            },
            1,
        ),
        ("POST", "/volume/*", FaultAction::Error { status: 500 }, 1),
        (
            "GET",
            "/volume/*",
            FaultAction::Throttle {
                retry_after_secs: 1,
            },
            1,
        ),
    ] {
        faults
            .add_http(HttpFault {
                method: Some(method.into()),
                path: path.into(),
                action,
                probability: 1.0,
                times: Some(times),
            })
            .unwrap();
    }
    let ready = g.ready(&example("seed-4-nodes-replica.yaml")).await;
    let uid = ready.metadata.uid.clone().unwrap();
    let status = ready.status.clone().unwrap();
    assert_all_ready(&status, 4);
    // Every fault was met on the way.
    let left = faults.current();
    assert!(
        left.http.iter().all(|rule| rule.times == Some(0)),
        "faults not hit: {:?}",
        left.http
    );
    assert!(
        left.servers.iter().all(|rule| rule.times == Some(0)),
        "no server went to ERROR: {:?}",
        left.servers
    );

    // The ERROR server (its ID from the operator's Event) is gone; exactly four servers remain.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(g.world.client.clone(), &g.world.ns);
    let events = events.list(&Default::default()).await.unwrap();
    let failed: Vec<String> = events
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedServerDeleted"))
        .filter_map(|e| {
            let note = e.note.as_deref()?;
            let open = note.find('(')?;
            let close = note[open..].find(')')?;
            Some(note[open + 1..open + close].to_string())
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", events.items);
    let servers = g
        .world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(servers.len(), 4, "{servers:?}");
    assert!(servers.iter().all(|s| s.status == ServerStatus::Active));
    assert!(
        servers.iter().all(|s| s.id != failed[0]),
        "the ERROR server {} is still there: {servers:?}",
        failed[0]
    );
    let mut in_status: Vec<_> = status
        .nodes
        .iter()
        .map(|n| n.server_id.clone().unwrap())
        .collect();
    let mut listed: Vec<_> = servers.iter().map(|s| s.id.clone()).collect();
    in_status.sort();
    listed.sort();
    assert_eq!(in_status, listed);
    assert!(status.nodes.iter().all(|n| n.message.is_none()));

    // The volume works: the file is on every brick (replica 4).
    g.mount_write_read(&status, "faults.txt");
    let running = g.nodes.nodes();
    assert_eq!(running.len(), 4);
    for node in running {
        let copy = node.path("/export/seed/brick/faults.txt");
        assert_eq!(
            std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display())),
            WRITTEN,
            "brick of {}",
            node.name
        );
    }
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_out_by_a_replica_set_adds_bricks_and_rebalances_the_data_already_written() {
    if reconcile_support::skip_in_external_mode(
        "scaling_out_by_a_replica_set_adds_bricks_and_rebalances_the_data_already_written",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = GlusterWorld::start(5).await;
    let ready = g.ready(&example("two-zones-replica2.yaml")).await;
    let status = ready.status.clone().unwrap();
    assert_all_ready(&status, 4);
    let files: Vec<String> = (0..30).map(|i| format!("before-{i:02}.txt")).collect();
    g.mount_write_read_all(&status, &files);

    // One more node per zone: a third replica set (zone-a 3 + zone-b 3).
    let patch = serde_json::json!({"spec": {"zones": [
        {"name": "zone-a", "nodes": 3},
        {"name": "zone-b", "nodes": 3},
    ]}});
    let patched = g
        .world
        .clusters
        .patch(
            "twozones",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let generation = patched.metadata.generation;
    let scaled = g
        .world
        .wait_for("twozones", "Ready=True at the new generation", move |c| {
            let status = c.status.as_ref();
            status.and_then(|s| s.observed_generation) == generation
                && condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let status = scaled.status.clone().unwrap();
    assert_all_ready(&status, 6);
    let volume = status.volume.clone().unwrap();
    assert_eq!(volume.type_, "Distributed-Replicate");
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 3));
    // The new set spans both zones, like the others.
    let new_set = &volume.bricks[4..];
    let zone_of = |node: &str| {
        status
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.zone.clone())
            .unwrap()
    };
    assert_ne!(
        zone_of(&new_set[0].node),
        zone_of(&new_set[1].node),
        "{new_set:?}"
    );

    // Every file written before is still there; the rebalance moved some of them onto the new
    // set (the odds that none of 30 hashes to it are about 5 in a million), whose two bricks
    // hold the same ones.
    g.mount_read_all(&status, &files);
    let brick_files = |node: &str| -> std::collections::BTreeSet<String> {
        let running = g
            .nodes
            .nodes()
            .into_iter()
            .find(|n| n.name == node)
            .unwrap_or_else(|| panic!("no loopback node {node}"));
        std::fs::read_dir(running.path("/export/shared/brick"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.starts_with("before-"))
            .collect()
    };
    let moved = brick_files(&new_set[0].node);
    assert!(
        !moved.is_empty(),
        "the rebalance moved nothing onto {new_set:?}"
    );
    assert_eq!(moved, brick_files(&new_set[1].node));

    g.stop().await;
}
