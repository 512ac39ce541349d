//! The whole local world without the reconciler: servers booted through the simulator's API by
//! the operator's own OpenStack client, with user-data rendered by the operator's bootstrap,
//! become real gluster hosts through the boot hook; the planner's commands, run over SSH by the
//! operator's node executor with pinned host keys, build a replica-2 volume that a FUSE client
//! mounts. Deleting a server stops its node; shutting the world down leaves nothing behind.
//! Runs as root (loop devices, namespaces, FUSE), as `make test` does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::devenv::{CLOUD_NAME, DevEnv, DevEnvOptions};
use e2e::nodes::LoopbackNodes;
use gluster_operator::api::GlusterCluster;
use gluster_operator::bootstrap::{
    BrickDevice, DistroFamily, NodeBootstrap, OPERATOR_USER, SshKeyPair, render_user_data,
};
use gluster_operator::cloud::{
    ClientOptions, Cloud, ServerCreate, VolumeCreate, VolumeStatus, WaitPolicy,
};
use gluster_operator::gluster::xml::VolumeState;
use gluster_operator::gluster::{
    GlusterCli, GlusterClient, NodeEndpoint, OperatorKey, PinnedHostKey, SshConfig, SshExecutor,
    VolumeName,
};
use gluster_operator::plan::{CloudFacts, Step, plan_cluster};

const GIB: u64 = 1 << 30;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
}

/// One booted node: what the operator would know of it.
struct Booted {
    name: String,
    server_id: String,
    address: String,
    host_key: SshKeyPair,
}

async fn wait_boot(nodes: Arc<LoopbackNodes>, server_id: String) {
    tokio::task::spawn_blocking(move || nodes.wait_boot(&server_id, Duration::from_secs(180)))
        .await
        .expect("wait_boot thread")
        .expect("the node boots: brick prepared, glusterd listening");
}

#[tokio::test]
async fn servers_booted_through_the_simulator_become_a_mounted_gluster_volume() {
    // The boot hook reports node failures as log lines: show them with the test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("e2e=info")
        .with_test_writer()
        .try_init();
    let scratch = tempfile::tempdir().expect("tempdir");
    let env = DevEnv::start(DevEnvOptions {
        nodes_dir: Some(scratch.path().join("nodes")),
        ..DevEnvOptions::default()
    })
    .await
    .expect("devenv with nodes starts (run as root after `make setup`)");
    let nodes = env.nodes().expect("nodes run").clone();
    let started = Instant::now();

    let manifest = std::fs::read_to_string(repo().join("examples/2-nodes-replica-2.yaml"))
        .expect("example readable");
    let mut cluster: GlusterCluster = serde_yaml::from_str(&manifest).expect("example parses");
    // The nodes here boot without the operator's certificates and the client below mounts
    // without one: the plan without gluster TLS (reconcile_tls covers it).
    cluster.spec.volume.tls = Some(false);
    let name = cluster.metadata.name.clone().expect("example has a name");
    let facts = CloudFacts {
        block_storage_zones: Some(BTreeSet::from(["zone-a".into(), "zone-b".into()])),
    };
    let plan = plan_cluster(&name, &cluster.spec, &facts).expect("the example plans");

    let cloud = Cloud::from_clouds_yaml(
        &env.clouds_yaml(),
        CLOUD_NAME,
        None,
        ClientOptions::default(),
    )
    .expect("client for the simulator");
    let flavor = cloud
        .compute()
        .flavor(&cluster.spec.flavor)
        .await
        .expect("flavor");
    let image = cloud
        .image()
        .image(&cluster.spec.image)
        .await
        .expect("image");
    let network = cloud
        .network()
        .network(&cluster.spec.network)
        .await
        .expect("network");
    let operator = SshKeyPair::generate("gluster-operator").expect("operator key");
    let fast = WaitPolicy {
        timeout: Duration::from_secs(120),
        ..WaitPolicy::default()
    };

    // Volume, user-data, server, attachment: per node, all nodes at once.
    let boots = plan.nodes.iter().map(|node| {
        let (cloud, spec, operator) = (&cloud, &cluster.spec, &operator);
        let (flavor_id, image_id, network_id) = (&flavor.id, &image.id, &network.id);
        let (nodes, fast, cluster_name) = (nodes.clone(), fast, name.clone());
        async move {
            let volume = cloud
                .volume()
                .create_volume(&VolumeCreate {
                    name: node.name.clone(),
                    size_gib: plan.brick_bytes.div_ceil(GIB),
                    availability_zone: Some(node.zone.clone()),
                    ..VolumeCreate::default()
                })
                .await
                .expect("volume created");
            cloud
                .volume()
                .wait_for_volume(&volume.id, &[VolumeStatus::Available], fast)
                .await
                .expect("volume available");
            let host_key = SshKeyPair::generate(&node.name).expect("host key");
            let user_data = render_user_data(&NodeBootstrap::from_spec(
                spec,
                &cluster_name,
                &node.name,
                DistroFamily::Debian,
                BrickDevice::Volume {
                    id: volume.id.clone(),
                },
                operator.public_key().clone(),
                host_key.clone(),
            ))
            .expect("user-data renders");
            let server_id = cloud
                .compute()
                .create_server(&ServerCreate {
                    name: node.name.clone(),
                    flavor_id: flavor_id.clone(),
                    image_id: image_id.clone(),
                    availability_zone: Some(node.zone.clone()),
                    networks: vec![network_id.clone()],
                    ports: vec![],
                    user_data: Some(user_data.as_str().as_bytes().to_vec()),
                    ..ServerCreate::default()
                })
                .await
                .expect("server created");
            let server = cloud
                .compute()
                .wait_for_server_active(&server_id, fast)
                .await
                .expect("server ACTIVE");
            cloud
                .compute()
                .attach_volume(&server_id, &volume.id)
                .await
                .expect("volume attached");
            wait_boot(nodes, server_id.clone()).await;
            Booted {
                name: node.name.clone(),
                server_id,
                address: server
                    .address(None)
                    .expect("server has an address")
                    .to_string(),
                host_key,
            }
        }
    });
    let booted: Vec<Booted> = futures::future::join_all(boots).await;
    println!(
        "{} nodes booted through the simulator in {:.1} s",
        booted.len(),
        started.elapsed().as_secs_f64()
    );

    // The operator's side: SSH with the operator key, host keys pinned, gluster through sudo.
    let mut ssh = SshConfig::new(
        OPERATOR_USER,
        OperatorKey::from_openssh(operator.private_openssh()).expect("operator key parses"),
    );
    ssh.sudo = true;
    let gluster = GlusterClient::new(SshExecutor::new(ssh), GlusterCli::new())
        .with_timeout(Duration::from_secs(60));
    let endpoints: BTreeMap<String, NodeEndpoint> = booted
        .iter()
        .map(|b| {
            let pinned = PinnedHostKey::from_openssh(b.host_key.public_key().openssh())
                .expect("host key parses");
            (
                b.name.clone(),
                NodeEndpoint::new(b.name.clone(), b.address.clone(), 22, pinned),
            )
        })
        .collect();
    let addresses: BTreeMap<String, String> = booted
        .iter()
        .map(|b| (b.name.clone(), b.address.clone()))
        .collect();

    for step in &plan.steps {
        let (Some(command), Some(on)) = (step.command(), step.on()) else {
            continue; // node creation: done above
        };
        let node = &endpoints[on];
        if let Step::WaitPeersConnected { .. } = step {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let pool = gluster.pool_list(node).await.expect("pool list");
                if pool.len() == booted.len() && pool.iter().all(|p| p.connected) {
                    break;
                }
                assert!(Instant::now() < deadline, "peers not connected: {pool:?}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            continue;
        }
        let argv = command
            .argv_with(&addresses)
            .expect("every node has an address");
        gluster
            .execute(node, &argv)
            .await
            .unwrap_or_else(|e| panic!("{argv:?} on {on}: {e}"));
    }

    let first = &endpoints[&booted[0].name];
    let volume = VolumeName::new(plan.volume.clone()).expect("volume name");
    let info = gluster
        .volume_info(first, &volume)
        .await
        .expect("volume info")
        .expect("the volume exists");
    assert_eq!(info.brick_count, 2);
    assert_eq!(info.replica_count, 2);
    assert_eq!(info.state, VolumeState::Started);

    // A client mounts it with FUSE, writes, and every brick holds the file.
    let mnt = scratch.path().join("mnt");
    std::fs::create_dir_all(&mnt).expect("mount point");
    let source = format!("{}:/{}", booted[0].address, plan.volume);
    let status = tokio::process::Command::new("mount")
        .args(["-t", "glusterfs", &source])
        .arg(&mnt)
        .status()
        .await
        .expect("mount runs");
    assert!(status.success(), "mount -t glusterfs {source} failed");
    let written = std::fs::write(mnt.join("hello.txt"), b"hello, gluster\n");
    let read_back = std::fs::read(mnt.join("hello.txt"));
    let _ = tokio::process::Command::new("umount")
        .arg(&mnt)
        .status()
        .await;
    written.expect("write through FUSE");
    assert_eq!(read_back.expect("read through FUSE"), b"hello, gluster\n");
    for b in &booted {
        let node = nodes.node(&b.server_id).expect("node runs");
        let on_brick = node.path(&format!("{}/hello.txt", plan.brick_path));
        assert_eq!(
            std::fs::read(&on_brick).unwrap_or_else(|e| panic!("{}: {e}", on_brick.display())),
            b"hello, gluster\n",
            "replica on {}",
            b.name
        );
    }

    // Deleting a server stops its node.
    let gone = &booted[1];
    cloud
        .compute()
        .delete_server(&gone.server_id)
        .await
        .expect("delete accepted");
    cloud
        .compute()
        .wait_for_server_deleted(&gone.server_id, fast)
        .await
        .expect("server deleted");
    assert!(
        nodes.node(&gone.server_id).is_none(),
        "the deleted server's node is gone"
    );

    env.shutdown().await.expect("devenv stops cleanly");
    assert!(
        nodes.nodes().is_empty(),
        "no node runs after the world is shut down"
    );
    let loops = std::process::Command::new("losetup")
        .args(["--list", "--noheadings", "--output", "BACK-FILE"])
        .output()
        .expect("losetup runs");
    let scratch_path = scratch.path().display().to_string();
    let left: Vec<String> = String::from_utf8_lossy(&loops.stdout)
        .lines()
        .filter(|l| l.contains(&scratch_path))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "loop devices left behind: {left:?}");
}
