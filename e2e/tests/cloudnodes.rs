//! The cloud watcher against the simulator with no boot hook: the simulator only keeps records,
//! like a real cloud whose Nova runs the fake driver, and the watcher (administrator
//! credentials, reading Nova's `OS-EXT-SRV-ATTR:user_data`) turns its ACTIVE servers into
//! loopback gluster nodes: one with a Cinder volume as its brick, one with its flavor's
//! ephemeral disk. A server whose user-data is not a gluster node's stays a plain server.
//! Deleting the servers deletes the nodes; deleting the volume frees its backing file. Needs
//! root (loopback nodes): it fails, never skips.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::cloudnodes::{CloudWatcher, WatchConfig};
use e2e::nodes::{LoopbackNodes, NodesConfig, RunningNode, virtio_by_id_name};
use e2e::openstack::{CLOUD_ADMIN, SimConfig, Simulator, TimingConfig};
use gluster_operator::api::GlusterSpec;
use gluster_operator::bootstrap::{
    BrickDevice, DistroFamily, NodeBootstrap, SshKeyPair, render_user_data,
};
use gluster_operator::cloud::{ClientOptions, Cloud, ServerCreate, VolumeCreate};

/// Polls `probe` every 100 ms until it gives a value (a hang guard of `limit`, not a speed
/// check).
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(start.elapsed() < limit, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn user_data(operator: &SshKeyPair, node: &str, device: BrickDevice) -> Vec<u8> {
    let bootstrap = NodeBootstrap {
        cluster_name: "watch".into(),
        node_name: node.into(),
        distro: DistroFamily::Debian,
        gluster: GlusterSpec::default(),
        device,
        mount_path: "/export/watch/brick".into(),
        operator_key: operator.public_key().clone(),
        host_key: SshKeyPair::generate(&format!("{node}-host-key")).expect("host key"),
        extra_user_data: None,
        glusterd_uuid: None,
        glusterd_peers: Vec::new(),
        tls: None,
    };
    render_user_data(&bootstrap)
        .expect("user-data")
        .into_string()
        .into_bytes()
}

struct Ids {
    image: String,
    network: String,
}

async fn create_server(
    cloud: &Cloud,
    ids: &Ids,
    name: &str,
    flavor: &str,
    zone: &str,
    user_data: Vec<u8>,
) -> String {
    let flavor = cloud.compute().flavor(flavor).await.expect("flavor");
    cloud
        .compute()
        .create_server(&ServerCreate {
            name: name.into(),
            flavor_id: flavor.id,
            image_id: ids.image.clone(),
            availability_zone: Some(zone.into()),
            networks: vec![ids.network.clone()],
            ports: vec![],
            user_data: Some(user_data),
            metadata: BTreeMap::new(),
            ..ServerCreate::default()
        })
        .await
        .expect("server created")
}

async fn booted(nodes: &Arc<LoopbackNodes>, server_id: &str) -> RunningNode {
    eventually(
        &format!("a node for server {server_id}"),
        Duration::from_secs(60),
        || async { nodes.node(server_id) },
    )
    .await;
    let (nodes, id) = (nodes.clone(), server_id.to_string());
    tokio::task::spawn_blocking(move || nodes.wait_boot(&id, Duration::from_secs(120)))
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("node of {server_id} did not boot: {e}"))
}

/// glusterd of the node answers on its socket.
fn glusterd_answers(node: &RunningNode) {
    let out = std::process::Command::new("gluster")
        .arg(format!(
            "--glusterd-sock={}",
            node.glusterd_socket().display()
        ))
        .args(["--mode=script", "pool", "list"])
        .output()
        .expect("gluster");
    assert!(
        out.status.success(),
        "gluster pool list on {}: {}",
        node.name,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("localhost"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The device the node's brick is mounted from.
fn brick_source(node: &RunningNode) -> String {
    let out = node
        .command("findmnt")
        .args(["-n", "-o", "SOURCE", &node.brick_mount_path])
        .output()
        .expect("findmnt");
    assert!(out.status.success(), "{}: brick not mounted", node.name);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_servers_of_a_cloud_without_a_hypervisor_become_nodes_and_go_with_them() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (loopback nodes: namespaces, loop devices, sshd on port 22)"
    );
    let scratch = tempfile::Builder::new()
        .prefix("cloudnodes-")
        .tempdir_in("/tmp")
        .expect("scratch dir");
    let nodes = Arc::new(
        LoopbackNodes::new(NodesConfig::new(scratch.path().join("state"))).expect("nodes"),
    );
    // Addresses 127.100.X.* of this process's own (as the reconcile tests pick theirs).
    let mut config = SimConfig {
        timing: TimingConfig::uniform(20),
        ..SimConfig::default()
    };
    let block = 20 + (std::process::id() * 4 + 1) % 230;
    let subnet = &mut config.networks[0].subnet;
    subnet.allocation_start = Some(format!("127.100.{block}.10"));
    subnet.allocation_end = Some(format!("127.100.{block}.250"));
    let sim = Simulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();

    // The watcher refuses member credentials: they are shown no user-data.
    let member =
        Cloud::from_clouds_yaml(&sim.clouds_yaml(), "sim", None, ClientOptions::default()).unwrap();
    let ids = Ids {
        image: member.image().image("ubuntu-22.04").await.unwrap().id,
        network: member.network().network("private").await.unwrap().id,
    };
    let operator = SshKeyPair::generate("gluster-operator@watch").unwrap();
    let probe = create_server(
        &member,
        &ids,
        "other-probe",
        "m1.small",
        "zone-a",
        b"#cloud-config\n{}\n".to_vec(),
    )
    .await;
    let refused = CloudWatcher::start(
        &sim.clouds_yaml(),
        "sim",
        nodes.clone(),
        WatchConfig::default(),
    )
    .await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("admin role")),
        "member credentials: {:?}",
        refused.as_ref().err()
    );

    let watcher = CloudWatcher::start(
        &sim.admin_clouds_yaml(),
        CLOUD_ADMIN,
        nodes.clone(),
        WatchConfig {
            poll_interval: Duration::from_millis(200),
            select: WatchConfig::name_prefix("watch-"),
            ..WatchConfig::default()
        },
    )
    .await
    .expect("watcher");

    // A volume-brick node in zone-a: the volume is created first, attached once ACTIVE.
    let volume = member
        .volume()
        .create_volume(&VolumeCreate {
            name: "watch-a-0-brick".into(),
            size_gib: 2,
            availability_zone: Some("zone-a".into()),
            ..VolumeCreate::default()
        })
        .await
        .unwrap()
        .id;
    eventually("volume available", Duration::from_secs(30), || async {
        let v = member.volume().get_volume(&volume).await.unwrap()?;
        (v.status.to_string() == "available").then_some(())
    })
    .await;
    let with_volume = create_server(
        &member,
        &ids,
        "watch-a-0",
        "m1.medium",
        "zone-a",
        user_data(
            &operator,
            "watch-a-0",
            BrickDevice::Volume { id: volume.clone() },
        ),
    )
    .await;
    // An ephemeral-brick node in zone-c (m1.xlarge has an ephemeral disk).
    let with_ephemeral = create_server(
        &member,
        &ids,
        "watch-c-0",
        "m1.xlarge",
        "zone-c",
        user_data(&operator, "watch-c-0", BrickDevice::Ephemeral),
    )
    .await;
    // Selected, but not a gluster node's user-data.
    let plain = create_server(
        &member,
        &ids,
        "watch-plain",
        "m1.small",
        "zone-a",
        b"#cloud-config\n{}\n".to_vec(),
    )
    .await;
    eventually("watch-a-0 ACTIVE", Duration::from_secs(30), || async {
        let s = member.compute().get_server(&with_volume).await.unwrap()?;
        (s.status.to_string() == "ACTIVE").then_some(())
    })
    .await;
    member
        .compute()
        .attach_volume(&with_volume, &volume)
        .await
        .expect("attach");

    let a = booted(&nodes, &with_volume).await;
    let server = member
        .compute()
        .get_server(&with_volume)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.address.to_string(), server.address(None).unwrap());
    assert_eq!(a.name, "watch-a-0");
    let disk = a
        .disks
        .iter()
        .find(|d| d.volume_id.as_deref() == Some(volume.as_str()))
        .unwrap_or_else(|| panic!("volume {volume} not a disk of the node: {:?}", a.disks));
    assert_eq!(
        std::fs::metadata(&disk.backing).unwrap().len(),
        2 << 30,
        "the backing file has Cinder's size"
    );
    assert!(
        a.path(&format!("/dev/disk/by-id/{}", virtio_by_id_name(&volume)))
            .exists()
    );
    assert_eq!(brick_source(&a), disk.device);
    glusterd_answers(&a);

    let c = booted(&nodes, &with_ephemeral).await;
    let server = member
        .compute()
        .get_server(&with_ephemeral)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.address.to_string(), server.address(None).unwrap());
    let ephemeral = c
        .disks
        .iter()
        .find(|d| d.volume_id.is_none())
        .unwrap_or_else(|| panic!("no ephemeral disk: {:?}", c.disks));
    assert_eq!(brick_source(&c), ephemeral.device);
    glusterd_answers(&c);

    // The plain server and the unselected one are no nodes; the plain one is given up on.
    eventually("watch-plain given up", Duration::from_secs(30), || async {
        watcher
            .failures()
            .get(&plain)
            .filter(|f| f.given_up)
            .cloned()
    })
    .await;
    assert!(nodes.node(&plain).is_none());
    assert!(nodes.node(&probe).is_none());
    assert!(!watcher.failures().contains_key(&probe), "not selected");
    assert_eq!(nodes.nodes().len(), 2);

    // The servers go: so do their nodes. The volume stays until Cinder deletes it.
    for id in [&with_volume, &with_ephemeral, &plain, &probe] {
        member.compute().delete_server(id).await.unwrap();
    }
    eventually("nodes deleted", Duration::from_secs(60), || async {
        nodes.nodes().is_empty().then_some(())
    })
    .await;
    let backing = nodes.volume_path(&volume);
    assert!(backing.exists(), "a detached volume keeps its backing file");
    eventually(
        "volume available again",
        Duration::from_secs(30),
        || async {
            let v = member.volume().get_volume(&volume).await.unwrap()?;
            (v.status.to_string() == "available").then_some(())
        },
    )
    .await;
    member.volume().delete_volume(&volume).await.unwrap();
    eventually("backing file freed", Duration::from_secs(30), || async {
        (!backing.exists()).then_some(())
    })
    .await;
    assert_eq!(watcher.last_error(), None);

    watcher.stop().await;
    nodes.shutdown().expect("nodes stopped");
    sim.shutdown().await;
}
