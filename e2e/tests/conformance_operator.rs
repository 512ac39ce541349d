//! The operator against a real OpenStack (issue 8 part B): a real Kubernetes API server and the
//! controller in-process (reconcile_support's "real kube + external cloud" mode), the cloud
//! from `E2E_CONFORMANCE_CLOUDS` (a clouds.yaml; the operator's Secret holds only its entry
//! `E2E_CONFORMANCE_CLOUD`, default `conformance`), and the cloud watcher (entry
//! `E2E_CONFORMANCE_ADMIN_CLOUD`, default `conformance-admin`) turning the real, hypervisor-less
//! servers Nova makes ACTIVE into loopback gluster nodes at the fixed addresses Neutron gave
//! them, from the user-data Nova keeps. Servers, ports, security groups, volumes and
//! attachments are made by real Nova, Neutron and Cinder.
//!
//! Scenarios: the seed's 4-node cluster (`deletionPolicy: Delete`) and two zones where zone-c
//! has no block storage (`Retain`), each to Ready with a FUSE mount written and read, then
//! deleted: nothing of the cluster may be left in Nova, Neutron or Cinder but, under Retain,
//! its detached brick volumes (which the test then deletes). Names carry a run ID, so reruns
//! on the same cloud never clash; whatever a failed run leaves is swept by name.
//!
//! Needs root (loopback nodes) and the feature `conformance`:
//! `E2E_CONFORMANCE_CLOUDS=/path/clouds.yaml cargo test -p e2e --features conformance --test conformance_operator -- --nocapture`

mod reconcile_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::bench::real_cloud::{clouds_yaml_entry, run_id};
use e2e::cloudnodes::{CloudWatcher, WatchConfig};
use e2e::nodes::{LoopbackNodes, NodesConfig};
use gluster_operator::api::{
    BrickStorage, DeletionPolicy, GlusterCluster, GlusterClusterStatus, NodeState,
};
use gluster_operator::cloud::{
    Cloud, ServerQuery, ServerStatus, VolumeQuery, VolumeStatus, WaitPolicy,
};
use gluster_operator::controller::owner::META_CLUSTER_UID;
use kube::api::DeleteParams;
use reconcile_support::{World, condition, example};

/// What the tests write through the FUSE mount.
const WRITTEN: &[u8] = b"written through the operator's volume on a real cloud\n";

/// One cluster at a time in this binary (each runs four loopback nodes on two cores).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The clouds.yaml text and the entries of the operator and of the watcher.
struct Clouds {
    yaml: String,
    operator: String,
    admin: String,
}

fn clouds() -> Clouds {
    let path = std::env::var("E2E_CONFORMANCE_CLOUDS")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "E2E_CONFORMANCE_CLOUDS is not set: point it at the clouds.yaml of a real OpenStack \
                 (e2e/conformance/cloud.sh up DIR writes DIR/clouds.yaml; see make conformance)"
            )
        });
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("E2E_CONFORMANCE_CLOUDS={path}: {e}"));
    let env = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    Clouds {
        yaml,
        operator: env("E2E_CONFORMANCE_CLOUD", "conformance"),
        admin: env("E2E_CONFORMANCE_ADMIN_CLOUD", "conformance-admin"),
    }
}

/// The loopback nodes, the watcher feeding them, the world (API server + controller + real
/// cloud) and the scratch directory.
struct Conformance {
    world: Arc<World>,
    nodes: Arc<LoopbackNodes>,
    watcher: CloudWatcher,
    /// The run's prefix of every cloud resource name (`<run>-`).
    prefix: String,
    scratch: tempfile::TempDir,
}

impl Conformance {
    async fn start(run: &str) -> Conformance {
        assert!(
            rustix::process::geteuid().is_root(),
            "this test needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
        );
        // The watcher reports nodes it could not start as log lines: show them with the test's
        // output (RUST_LOG widens it, e.g. `gluster_operator=info` for the reconcile steps).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "e2e=info,gluster_operator=warn".into()),
            )
            .with_test_writer()
            .try_init();
        let clouds = clouds();
        let scratch = tempfile::Builder::new()
            .prefix("conformance-operator-")
            .tempdir_in("/tmp")
            .expect("scratch dir");
        let nodes = Arc::new(
            LoopbackNodes::new(NodesConfig::new(scratch.path().join("state"))).expect("nodes"),
        );
        let prefix = format!("{run}-");
        let watcher = CloudWatcher::start(
            &clouds.yaml,
            &clouds.admin,
            nodes.clone(),
            WatchConfig {
                poll_interval: Duration::from_millis(500),
                select: WatchConfig::name_prefix(prefix.clone()),
                ..WatchConfig::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("watcher on cloud {}: {e}", clouds.admin));
        let world = World::start_with_cloud(
            &clouds_yaml_entry(&clouds.yaml, &clouds.operator)
                .expect("the operator's clouds.yaml entry"),
            &clouds.operator,
        )
        .await;
        Conformance {
            world: Arc::new(world),
            nodes,
            watcher,
            prefix,
            scratch,
        }
    }

    /// Runs `body`; whatever happens, stops the world (deleting what clusters are left, so the
    /// operator cleans the cloud), sweeps the cloud of the run's names (failing if a passing
    /// body left anything), stops the watcher and the nodes.
    async fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(Arc<World>, Arc<LoopbackNodes>, PathBuf) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let mountpoint = self.scratch.path().join("mnt");
        let outcome = tokio::spawn(body(self.world.clone(), self.nodes.clone(), mountpoint)).await;
        let cloud = self.world.cloud.clone();
        let stopped = match Arc::try_unwrap(self.world) {
            Ok(world) => tokio::spawn(world.stop()).await,
            Err(_) => Ok(()),
        };
        let swept = sweep(&cloud, &self.prefix).await;
        self.watcher.settle().await;
        self.watcher.stop().await;
        let leftovers = self.nodes.nodes();
        self.nodes.shutdown().expect("nodes stopped");
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
        if let Err(e) = stopped {
            std::panic::resume_unwind(e.into_panic());
        }
        assert!(swept.is_empty(), "the run left in the cloud: {swept:?}");
        assert!(
            leftovers.is_empty(),
            "loopback nodes left: {:?}",
            leftovers.iter().map(|n| &n.name).collect::<Vec<_>>()
        );
    }
}

/// Deletes every server, volume and security group whose name carries the run's prefix, and
/// returns what it found (empty when the run cleaned up after itself).
async fn sweep(cloud: &Cloud, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let servers: Vec<_> = cloud
        .compute()
        .list_servers(&ServerQuery::default())
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.name.starts_with(prefix))
        .collect();
    for s in &servers {
        found.push(format!("server {} ({})", s.name, s.id));
        for v in s.attached_volume_ids() {
            let _ = cloud.compute().detach_volume(&s.id, v).await;
        }
        let _ = cloud.compute().delete_server(&s.id).await;
    }
    for s in &servers {
        let _ = cloud
            .compute()
            .wait_for_server_deleted(&s.id, patient())
            .await;
    }
    let volumes: Vec<_> = cloud
        .volume()
        .list_volumes(&VolumeQuery::default())
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.name.starts_with(prefix))
        .collect();
    for v in &volumes {
        found.push(format!("volume {} ({}, {})", v.name, v.id, v.status));
        let _ = cloud
            .volume()
            .wait_for_volume(&v.id, &[VolumeStatus::Available], patient())
            .await;
        let _ = cloud.volume().delete_volume(&v.id).await;
        let _ = cloud
            .volume()
            .wait_for_volume_deleted(&v.id, patient())
            .await;
    }
    // Security groups are named `gluster-<namespace>-<cluster>`; the test's namespace is its own.
    let in_group = format!("-{prefix}");
    for g in cloud
        .network()
        .list_security_groups(None, &[])
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|g| g.name.starts_with("gluster-") && g.name.contains(&in_group))
    {
        found.push(format!("security group {} ({})", g.name, g.id));
        let _ = cloud.network().delete_security_group(&g.id).await;
    }
    found
}

/// Waits of the sweep: a minute at most.
fn patient() -> WaitPolicy {
    WaitPolicy {
        timeout: Duration::from_secs(60),
        ..WaitPolicy::default()
    }
}

/// `examples/<file>` named `<run>-<name>`, with `policy`.
fn cluster(file: &str, run: &str, name: &str, policy: DeletionPolicy) -> GlusterCluster {
    let mut c = example(file);
    c.metadata.name = Some(format!("{run}-{name}"));
    c.spec.deletion_policy = policy;
    c
}

/// Applies `cluster`, waits until it is Ready and prints the time it took.
async fn ready(world: &World, cluster: &GlusterCluster, scenario: &str) -> GlusterCluster {
    let name = cluster.metadata.name.clone().unwrap();
    let start = Instant::now();
    world.apply(cluster).await;
    let ready = world
        .wait_for(&name, "Ready=True", |c| {
            condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    println!(
        "TIME-TO-READY {scenario}: {:.1} s on the real cloud ({name})",
        start.elapsed().as_secs_f64()
    );
    ready
}

/// Every brick online, every node Ready, `n/n` nodes, each node's address the one Neutron gave
/// its server and a running loopback node there.
async fn assert_all_ready(
    world: &World,
    nodes: &LoopbackNodes,
    status: &GlusterClusterStatus,
    n: usize,
) {
    assert_eq!(
        status.node_summary.as_deref(),
        Some(format!("{n}/{n}").as_str())
    );
    assert!(status.nodes.iter().all(|n| n.state == NodeState::Ready));
    let volume = status.volume.as_ref().unwrap();
    assert_eq!(volume.state.as_deref(), Some("Started"));
    assert_eq!(volume.bricks.len(), n);
    assert!(volume.bricks.iter().all(|b| b.online), "{volume:?}");
    for node in &status.nodes {
        let id = node.server_id.as_deref().unwrap();
        let server = world.cloud.compute().get_server(id).await.unwrap().unwrap();
        assert_eq!(server.status, ServerStatus::Active);
        assert_eq!(
            node.address.as_deref(),
            server.address(None),
            "{}",
            node.name
        );
        let loopback = nodes
            .node(id)
            .unwrap_or_else(|| panic!("no node for {}", node.name));
        assert_eq!(
            Some(loopback.address.to_string()).as_deref(),
            server.address(None)
        );
        println!("  {} in {} at {}", node.name, node.zone, loopback.address);
    }
}

/// Mounts `status.mount` with FUSE, writes `file`, reads it back, unmounts.
fn mount_write_read(mountpoint: &std::path::Path, status: &GlusterClusterStatus, file: &str) {
    std::fs::create_dir_all(mountpoint).unwrap();
    let mount = std::process::Command::new("mount")
        .args(["-t", "glusterfs"])
        .arg(status.mount.as_deref().unwrap())
        .arg(mountpoint)
        .output()
        .expect("mount");
    assert!(
        mount.status.success(),
        "mount {:?}: {}",
        status.mount,
        String::from_utf8_lossy(&mount.stderr)
    );
    let path = mountpoint.join(file);
    let written = std::fs::write(&path, WRITTEN);
    let read = std::fs::read(&path);
    let umount = std::process::Command::new("umount")
        .arg(mountpoint)
        .status()
        .expect("umount");
    written.unwrap_or_else(|e| panic!("write {file} through FUSE: {e}"));
    assert_eq!(
        read.unwrap_or_else(|e| panic!("read back {file}: {e}")),
        WRITTEN
    );
    assert!(umount.success());
}

/// What the cluster had in the cloud while Ready.
struct Footprint {
    uid: String,
    servers: Vec<String>,
    ports: Vec<String>,
    volumes: Vec<String>,
}

async fn footprint(world: &World, ready: &GlusterCluster) -> Footprint {
    let uid = ready.metadata.uid.clone().unwrap();
    let servers: Vec<String> = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut ports = Vec::new();
    for id in &servers {
        let of_server = world.cloud.network().ports_by_device(id).await.unwrap();
        assert!(!of_server.is_empty(), "server {id} has no Neutron port");
        ports.extend(of_server.into_iter().map(|p| p.id));
    }
    let volumes = world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            metadata: BTreeMap::from([(META_CLUSTER_UID.to_string(), uid.clone())]),
            ..VolumeQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id)
        .collect();
    Footprint {
        uid,
        servers,
        ports,
        volumes,
    }
}

/// Deletes the cluster and checks what is left in Nova, Neutron and Cinder: nothing but,
/// under Retain, its brick volumes, detached; those are returned.
async fn delete_and_check(
    world: &World,
    nodes: &LoopbackNodes,
    name: &str,
    print: &Footprint,
    policy: DeletionPolicy,
) -> Vec<gluster_operator::cloud::Volume> {
    let start = Instant::now();
    world
        .clusters
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    world.wait_deleted(name, &print.uid).await;
    println!(
        "DELETED {name}: {:.1} s until the finalizer let go",
        start.elapsed().as_secs_f64()
    );
    let tag = format!("glusterops-uid:{}", print.uid);
    let compute = world.cloud.compute();
    let servers = compute
        .list_servers(&ServerQuery {
            tags: vec![tag.clone()],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    assert!(servers.is_empty(), "servers left in Nova: {servers:?}");
    for id in &print.servers {
        assert!(
            compute.get_server(id).await.unwrap().is_none(),
            "server {id}"
        );
        let ports = world.cloud.network().ports_by_device(id).await.unwrap();
        assert!(ports.is_empty(), "Neutron ports of {id} left: {ports:?}");
    }
    let groups = world
        .cloud
        .network()
        .list_security_groups(None, &[tag])
        .await
        .unwrap();
    assert!(groups.is_empty(), "security groups left: {groups:?}");
    let named = world
        .cloud
        .network()
        .list_security_groups(Some(&format!("gluster-{}-{name}", world.ns)), &[])
        .await
        .unwrap();
    assert!(named.is_empty(), "security groups left: {named:?}");
    let volumes = world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            metadata: BTreeMap::from([(META_CLUSTER_UID.to_string(), print.uid.clone())]),
            ..VolumeQuery::default()
        })
        .await
        .unwrap();
    match policy {
        DeletionPolicy::Delete => {
            assert!(volumes.is_empty(), "volumes left in Cinder: {volumes:?}");
            for id in &print.volumes {
                assert!(
                    world.cloud.volume().get_volume(id).await.unwrap().is_none(),
                    "volume {id}"
                );
            }
        }
        DeletionPolicy::Retain => {
            let mut kept: Vec<&str> = volumes.iter().map(|v| v.id.as_str()).collect();
            let mut had: Vec<&str> = print.volumes.iter().map(String::as_str).collect();
            kept.sort_unstable();
            had.sort_unstable();
            assert_eq!(kept, had, "Retain keeps exactly the brick volumes");
            for v in &volumes {
                assert_eq!(v.status, VolumeStatus::Available, "{v:?}");
                assert!(v.attachments.is_empty(), "Cinder attachments left: {v:?}");
                assert!(
                    v.name.starts_with(name) && v.name.ends_with("-brick"),
                    "{v:?}"
                );
            }
        }
    }
    // The watcher deletes the nodes with their servers.
    let start = Instant::now();
    while print.servers.iter().any(|id| nodes.node(id).is_some()) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "loopback nodes of deleted servers still run"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    volumes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_four_nodes_reach_ready_on_the_real_cloud_and_delete_leaves_nothing() {
    let _serial = SERIAL.lock().await;
    let run = run_id();
    let c = Conformance::start(&run).await;
    c.run(move |world, nodes, mnt| async move {
        let cluster = cluster(
            "seed-4-nodes-replica.yaml",
            &run,
            "seed",
            DeletionPolicy::Delete,
        );
        let name = cluster.metadata.name.clone().unwrap();
        let ready = ready(&world, &cluster, "seed (4 nodes, zone-a, Cinder bricks)").await;
        let status = ready.status.clone().unwrap();
        assert_all_ready(&world, &nodes, &status, 4).await;
        let volume = status.volume.clone().unwrap();
        assert_eq!(volume.replica_count, 4);
        mount_write_read(&mnt, &status, "seed.txt");
        let print = footprint(&world, &ready).await;
        assert_eq!(print.servers.len(), 4);
        assert_eq!(print.volumes.len(), 4, "one Cinder brick volume per node");
        assert!(print.ports.len() >= 4);
        delete_and_check(&world, &nodes, &name, &print, DeletionPolicy::Delete).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_one_without_block_storage_reach_ready_and_retain_keeps_only_the_volumes() {
    let _serial = SERIAL.lock().await;
    let run = run_id();
    let c = Conformance::start(&run).await;
    c.run(move |world, nodes, mnt| async move {
        let cluster = cluster("ephemeral-zone.yaml", &run, "mixed", DeletionPolicy::Retain);
        let name = cluster.metadata.name.clone().unwrap();
        let ready = ready(
            &world,
            &cluster,
            "mixed (zone-a Cinder + zone-c ephemeral, 2+2 nodes)",
        )
        .await;
        let status = ready.status.clone().unwrap();
        assert_all_ready(&world, &nodes, &status, 4).await;
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
        // zone-c's nodes serve their bricks from the fallback flavor's ephemeral disk.
        for node in status.nodes.iter().filter(|n| n.zone == "zone-c") {
            let loopback = nodes.node(node.server_id.as_deref().unwrap()).unwrap();
            assert!(
                loopback.disks.iter().all(|d| d.volume_id.is_none()) && !loopback.disks.is_empty(),
                "{}: {:?}",
                node.name,
                loopback.disks
            );
        }
        mount_write_read(&mnt, &status, "mixed.txt");
        let print = footprint(&world, &ready).await;
        assert_eq!(print.servers.len(), 4);
        assert_eq!(print.volumes.len(), 2, "Cinder bricks for zone-a only");
        let kept = delete_and_check(&world, &nodes, &name, &print, DeletionPolicy::Retain).await;
        // The test, not the operator, deletes the retained volumes.
        for v in &kept {
            world.cloud.volume().delete_volume(&v.id).await.unwrap();
        }
        for v in &kept {
            world
                .cloud
                .volume()
                .wait_for_volume_deleted(&v.id, patient())
                .await
                .unwrap();
        }
    })
    .await;
}
