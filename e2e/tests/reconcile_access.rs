//! Default deny, proved with real gluster and a real FUSE client: a cluster whose
//! `allowedClients` names the test's own loopback address (127.0.0.1, where a mount from this
//! host comes from) serves it; narrowed to another address (127.0.0.2) the same client is
//! refused by gluster's `auth.allow` and the security group loses the old source (rules are
//! reconciled both ways); widened back, it is let in again and the data written before is
//! intact through the mount that lived through it all and through a fresh one. The allowed
//! and refused client mounts with the volfile an outside client gets (see
//! [`outside_volfile`]). Needs root: it fails, never skips.

mod reconcile_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::data::{Manifest, Mount};
use e2e::nodes::LoopbackNodes;
use gluster_operator::api::GlusterCluster;
use gluster_operator::gluster::xml::parse_volume_info;
use kube::api::{Patch, PatchParams};
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};

/// How long a spec change may take to reach gluster and the cloud.
const WAIT: Duration = Duration::from_secs(180);

/// `auth.allow` of `volume` as gluster on the first loopback node shows it.
fn auth_allow(nodes: &LoopbackNodes, volume: &str) -> Option<String> {
    let node = nodes.nodes().into_iter().next().expect("a loopback node");
    let out = node
        .command("gluster")
        .args(["--mode=script", "--xml", "volume", "info", volume])
        .output()
        .expect("gluster");
    assert!(
        out.status.success(),
        "volume info: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = parse_volume_info(&String::from_utf8_lossy(&out.stdout)).expect("volume info");
    info.into_iter()
        .next()
        .and_then(|v| v.options.get("auth.allow").cloned())
}

/// The ingress sources of the cluster's group for `port` (CIDR or remote group).
async fn sources(world: &World, uid: &str, port: u16) -> BTreeSet<String> {
    let groups = world
        .cloud
        .network()
        .list_security_groups(None, &[format!("glusterops-uid:{uid}")])
        .await
        .expect("groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    groups[0]
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress" && r.port_range_min == Some(port))
        .map(|r| match (&r.remote_ip_prefix, &r.remote_group_id) {
            (Some(p), _) => p.clone(),
            (None, Some(g)) if *g == groups[0].id => "self".to_string(),
            (None, g) => format!("group {g:?}"),
        })
        .collect()
}

/// Applies `cluster` with `allowed` as its clients and waits until it is Ready at the new
/// generation, `auth.allow` on the volume starts with `auth_head` and the group's brick-port
/// sources are `allowed` plus the group itself.
async fn allow(
    world: &World,
    nodes: &LoopbackNodes,
    cluster: &GlusterCluster,
    uid: &str,
    allowed: &str,
    auth_head: &str,
) -> GlusterCluster {
    let name = cluster.metadata.name.clone().unwrap();
    let patch = serde_json::json!({"spec": {"volume": {"allowedClients": [allowed]}}});
    let applied = world
        .clusters
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("allowedClients changed");
    let generation = applied.metadata.generation;
    let ready = world
        .wait_for(&name, "Ready=True at the new generation", move |c| {
            c.status.as_ref().and_then(|s| s.observed_generation) == generation
                && condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let volume = cluster.spec.volume.name.clone();
    let wanted: BTreeSet<String> = [allowed.to_string(), "self".to_string()].into();
    let started = Instant::now();
    loop {
        let auth = auth_allow(nodes, &volume);
        let bricks = sources(world, uid, 49152).await;
        let glusterd = sources(world, uid, 24007).await;
        if auth
            .as_deref()
            .is_some_and(|a| a.starts_with(auth_head) && !a.contains('*'))
            && bricks == wanted
            && glusterd == wanted
        {
            // The nodes are in auth.allow too (gluster checks its own servers).
            let auth = auth.unwrap_or_default();
            assert_eq!(auth.split(',').count(), 1 + 2, "{auth}");
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "allowedClients {allowed}: auth.allow {auth:?}, brick sources {bricks:?}, \
             glusterd sources {glusterd:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    ready
}

/// The volume's client volfile as glusterd gives it to an outside client (no login), copied
/// from the first node to `dir`. glusterd hands every client on a loopback address its
/// *trusted* volfile, whose login the bricks accept whatever `auth.allow` says (it is meant
/// for the nodes' own daemons); this host's mounts are such clients, so the check of
/// `auth.allow` mounts with the outside client's volfile, as a client elsewhere gets it.
fn outside_volfile(nodes: &LoopbackNodes, volume: &str, dir: &std::path::Path) -> PathBuf {
    let node = nodes.nodes().into_iter().next().expect("a loopback node");
    let out = node
        .command("cat")
        .arg(format!(
            "/var/lib/glusterd/vols/{volume}/{volume}.tcp-fuse.vol"
        ))
        .output()
        .expect("cat");
    assert!(
        out.status.success(),
        "the client volfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        !text.contains("option password"),
        "the outside volfile carries no login: {text}"
    );
    std::fs::create_dir_all(dir).expect("dir");
    let path = dir.join(format!("{volume}.tcp-fuse.vol"));
    std::fs::write(&path, text).expect("volfile written");
    path
}

/// Whether a FUSE mount of `volfile` at `target` is refused: the mount fails, or nothing can
/// be read through it.
fn refused(volfile: &Path, target: &Path, manifest: &Manifest) -> bool {
    match Mount::new(&volfile.display().to_string(), &[], target) {
        Err(_) => true,
        Ok(mount) => {
            let check = manifest.check(mount.path());
            check.lost.len() == check.checked
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_allow_and_the_security_group_follow_allowed_clients_both_ways() {
    if reconcile_support::skip_in_external_mode(
        "auth_allow_and_the_security_group_follow_allowed_clients_both_ways",
        "its nodes are loopback gluster nodes and its client is this host's 127.0.0.1",
    ) {
        return;
    }
    reconcile_support::logs_to_test_output();
    let (world, LoopbackGluster { nodes, scratch }) =
        start_gluster_world("reconcile-access-", 3, World::start).await;
    let mut cluster = example("2-nodes-replica-2.yaml");
    cluster.spec.volume.allowed_clients = vec!["127.0.0.1/32".into()];
    let created = world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");

    // Allowed: this host's loopback address, where a mount from here comes from.
    let ready = allow(&world, &nodes, &cluster, &uid, "127.0.0.1/32", "127.0.0.1,").await;
    let status = ready.status.clone().expect("status");
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    // SSH from the network's own subnet only, never the world.
    assert_eq!(
        sources(&world, &uid, 22).await,
        BTreeSet::from(["127.100.0.0/16".to_string()])
    );
    let mount = Mount::new(&spec, &backups, &scratch.path().join("mnt")).expect("allowed mount");
    let manifest = Manifest::write(mount.path(), "allowed", 30, 32 << 10, 18).expect("manifest");
    // An outside client from 127.0.0.1 is let in by auth.allow.
    let volume = cluster.spec.volume.name.clone();
    let volfile = outside_volfile(&nodes, &volume, &scratch.path().join("volfile-1"));
    {
        let outside = Mount::new(
            &volfile.display().to_string(),
            &[],
            &scratch.path().join("outside-1"),
        )
        .expect("an allowed outside client mounts");
        manifest
            .check(outside.path())
            .assert_intact("an allowed outside client");
    }

    // Narrowed to another address: gluster refuses this host, the old rules are gone.
    allow(&world, &nodes, &cluster, &uid, "127.0.0.2/32", "127.0.0.2,").await;
    let volfile = outside_volfile(&nodes, &volume, &scratch.path().join("volfile-2"));
    // The bricks take the new auth.allow a moment after glusterd stored it.
    let started = Instant::now();
    while !refused(&volfile, &scratch.path().join("refused"), &manifest) {
        assert!(
            started.elapsed() < WAIT,
            "a client outside allowedClients mounted and read the volume"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // Widened back: the same client is let in again and nothing was lost.
    allow(&world, &nodes, &cluster, &uid, "127.0.0.1/32", "127.0.0.1,").await;
    let volfile = outside_volfile(&nodes, &volume, &scratch.path().join("volfile-3"));
    let started = Instant::now();
    while refused(&volfile, &scratch.path().join("outside-3"), &manifest) {
        assert!(
            started.elapsed() < WAIT,
            "the allowed outside client stays refused"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    manifest.assert_intact_through(&mount, &spec, &backups, &scratch.path().join("fresh"));

    drop(mount);
    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}
