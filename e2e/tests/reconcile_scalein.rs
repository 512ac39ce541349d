//! Scale-in with drain (issue 17 §1), with real gluster on loopback nodes: a 2 × 2
//! distributed-replicate cluster is Ready with a manifest of files written through a FUSE
//! mount; `spec.zones[].nodes` is lowered by one per zone (`kubectl patch`): the newest
//! replica set is drained (`remove-brick start`, status polled, `commit`), its peers detached,
//! its servers and ports deleted, its brick volumes kept (Retain: detached, findable by the
//! cluster's UID metadata) or deleted (Delete). While the operator works, a watcher polls
//! `volume info` on a node that stays; from the moment the volume shows 2 bricks (the commit)
//! it reads every file of the manifest through the mount that lived through it, again and
//! again, until a whole pass reads all of them: the window of errors after the commit is
//! printed (docs/scale-in.md). Checked: 2 servers, 2 ports, the pool of 2, the volume 1 × 2,
//! the retired volumes, the manifest intact through the existing mount and a fresh one.
//! `SCALEIN_RUNS` (default 2) repeats the whole case in one test. Needs root: it fails,
//! never skips.

mod openstack_sim_support;
mod reconcile_support;
#[path = "reconcile_scalein_support/watch.rs"]
mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use e2e::data::{Manifest, Mount};
use e2e::nodes::LoopbackNodes;
use gluster_operator::api::{DeletionPolicy, GlusterCluster};
use gluster_operator::cloud::{ServerQuery, VolumeQuery};
use gluster_operator::controller::act::gluster::crash_points;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};
use watch::{Fresh, bricks_seen, pool_size, watch_commit};

/// One gluster world at a time in this binary (each runs four nodes on two cores).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn ready(c: &GlusterCluster) -> bool {
    condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
}

/// A scale-in case: the example, its node count per zone before and after, and the policy.
#[derive(Debug, Clone)]
struct Case {
    /// The example file (examples/).
    example: &'static str,
    /// The zones before (name, nodes).
    before: Vec<(&'static str, u32)>,
    /// The zones after.
    after: Vec<(&'static str, u32)>,
    /// `spec.deletionPolicy`.
    policy: DeletionPolicy,
    /// Kill the operator right after `remove-brick … start` (and start a fresh one).
    crash_in_drain: bool,
}

impl Case {
    fn distributed(policy: DeletionPolicy) -> Case {
        Case {
            example: "two-zones-replica2.yaml",
            before: vec![("zone-a", 2), ("zone-b", 2)],
            after: vec![("zone-a", 1), ("zone-b", 1)],
            policy,
            crash_in_drain: false,
        }
    }

    fn zones(zones: &[(&str, u32)]) -> serde_json::Value {
        serde_json::json!({"spec": {"zones": zones
            .iter()
            .map(|(name, nodes)| serde_json::json!({"name": name, "nodes": nodes}))
            .collect::<Vec<_>>()}})
    }

    fn nodes_after(&self) -> usize {
        self.after.iter().map(|(_, n)| *n as usize).sum()
    }
}

/// Starts a gluster world (its own block of addresses from `slot`) and runs `case` in it.
async fn run_case(slot: u32, case: Case) {
    let (mut world, nodes, scratch) = gluster_world(slot).await;
    scale_in_in(&mut world, &nodes, &scratch, &case).await;
    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}

/// A gluster world whose controller looks often (health every 2 s).
async fn gluster_world(slot: u32) -> (World, Arc<LoopbackNodes>, tempfile::TempDir) {
    let (world, LoopbackGluster { nodes, scratch }) =
        start_gluster_world("reconcile-scalein-", 150 + slot, |sim| {
            World::start_configured(sim, |c| {
                c.requeue_working = Duration::from_millis(200);
                c.requeue_error = Duration::from_millis(500);
                c.requeue_settled = Duration::from_secs(3);
                c.health_interval = Duration::from_secs(2);
            })
        })
        .await;
    (world, nodes, scratch)
}

async fn scale_in_in(
    world: &mut World,
    nodes: &Arc<LoopbackNodes>,
    scratch: &tempfile::TempDir,
    case: &Case,
) {
    let policy = case.policy;
    let mut cluster = example(case.example);
    let name = cluster.metadata.name.clone().expect("name");
    cluster.spec.deletion_policy = policy;
    for (zone, n) in &case.before {
        if let Some(z) = cluster.spec.zones.iter_mut().find(|z| z.name == *zone) {
            z.nodes = *n;
        }
    }
    let created = world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");
    let tag = format!("glusterops-uid:{uid}");
    let volume_name = cluster.spec.volume.name.clone();
    let before = world.wait_for(&name, "Ready=True", ready).await;
    let status = before.status.clone().expect("status");
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    let bricks: Vec<String> = status
        .volume
        .as_ref()
        .expect("volume")
        .bricks
        .iter()
        .map(|b| b.node.clone())
        .collect();
    let total: usize = case.before.iter().map(|(_, n)| *n as usize).sum();
    assert_eq!(bricks.len(), total, "{bricks:?}");
    // The newest bricks leave (a whole set, or the highest-index replica).
    let keep = case.nodes_after();
    let (staying, leaving) = (bricks[..keep].to_vec(), bricks[keep..].to_vec());

    let mount = Mount::new(&spec, &backups, &scratch.path().join("mnt")).expect("mount");
    // Files at the top and in nested directories (each directory has its own layout).
    let mut manifest =
        Manifest::write(mount.path(), "before", 60, 128 << 10, 21).expect("manifest");
    manifest
        .write_more(mount.path(), "dir-a/deeper/nested", 20, 32 << 10, 22)
        .expect("nested files");
    manifest
        .write_more(mount.path(), "dir-b/small", 10, 1 << 10, 23)
        .expect("small files");

    // The watcher: from the commit on, every file through the existing mount.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let node = nodes
            .nodes()
            .into_iter()
            .find(|n| n.name == staying[0])
            .expect("a staying node");
        let (volume, manifest, dir, stop) = (
            volume_name.clone(),
            manifest.clone(),
            mount.path().to_path_buf(),
            stop.clone(),
        );
        let fresh = Fresh {
            spec: spec.clone(),
            backups: backups.clone(),
            target: scratch.path().join("fresh-at-commit"),
        };
        std::thread::spawn(move || watch_commit(node, volume, keep, manifest, dir, fresh, stop))
    };

    let armed = case
        .crash_in_drain
        .then(|| crash_points::arm("RemoveBricksStart"));
    let patch = Case::zones(&case.after);
    let patched = world
        .clusters
        .patch(
            &name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("patched");
    if let Some(reached) = armed {
        tokio::time::timeout(Duration::from_secs(600), reached.notified())
            .await
            .expect("the crash point after remove-brick start was never reached");
        let taken = crash_points::take_log();
        assert_eq!(
            taken.last().map(String::as_str),
            Some("RemoveBricksStart"),
            "{taken:?}"
        );
        assert!(
            !taken.iter().any(|k| k == "RemoveBricksCommit"),
            "{taken:?}"
        );
        crash_points::disarm();
        world.crash_and_restart_controller().await;
    }
    let generation = patched.metadata.generation;
    let scaled = world
        .wait_for(&name, "Ready=True with the nodes after", move |c| {
            let s = c.status.as_ref();
            s.and_then(|s| s.observed_generation) == generation
                && ready(c)
                && s.is_some_and(|s| s.nodes.len() == keep)
        })
        .await;
    stop.store(true, Ordering::SeqCst);
    let window = watcher.join().expect("watcher");
    println!("scale-in post-commit read window ({case:?}): {window:#?}");
    let window = window.expect("the watcher saw the commit");
    assert!(
        window.clean_after.is_some(),
        "files kept failing through the existing mount for 120 s after the commit: {window:?}"
    );
    assert!(
        window.fresh_lost.is_empty(),
        "a mount made right after the commit misses files: {window:?}"
    );

    let s = scaled.status.clone().expect("status");
    let volume = s.volume.clone().expect("volume");
    assert_eq!(
        volume
            .bricks
            .iter()
            .map(|b| b.node.clone())
            .collect::<Vec<_>>(),
        staying
    );
    assert_eq!(volume.bricks.len(), keep);
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 1));
    let servers = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![tag.clone()],
            ..ServerQuery::default()
        })
        .await
        .expect("servers");
    let mut names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    names.sort();
    assert_eq!(names, staying, "the servers of the staying nodes only");
    let ports = world
        .cloud
        .network()
        .list_ports(std::slice::from_ref(&tag))
        .await
        .expect("ports");
    assert_eq!(ports.len(), keep, "{ports:?}");
    let staying_node = nodes
        .nodes()
        .into_iter()
        .find(|n| n.name == staying[0])
        .expect("node");
    assert_eq!(pool_size(&staying_node), keep, "the pool after the detach");
    let volumes = world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: None,
            metadata: [("gluster-operator:cluster-uid".to_string(), uid.clone())].into(),
        })
        .await
        .expect("volumes");
    let retired: Vec<&str> = volumes
        .iter()
        .filter_map(|v| v.metadata.get("gluster-operator:retired-node"))
        .map(String::as_str)
        .collect();
    match policy {
        DeletionPolicy::Retain => {
            let mut retired = retired.clone();
            retired.sort();
            assert_eq!(
                retired, leaving,
                "the retired brick volumes, findable: {volumes:?}"
            );
            assert_eq!(volumes.len(), total, "{volumes:?}");
        }
        DeletionPolicy::Delete => {
            assert!(retired.is_empty(), "{volumes:?}");
            assert_eq!(volumes.len(), keep, "{volumes:?}");
        }
    }

    // Nothing lost or changed, through the mount that lived through it and a fresh one.
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &scratch.path().join("fresh"));
    assert_eq!(checked, 90);
    drop(mount);

    world
        .clusters
        .delete(&name, &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    world.wait_deleted(&name, &uid).await;
}

/// How many times the Retain case runs in a row (`SCALEIN_RUNS`, default 2).
fn runs() -> u32 {
    std::env::var("SCALEIN_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn logs() {
    reconcile_support::logs_to_test_output();
}

/// Whether the test is skipped (external mode: no loopback nodes there).
fn skipped(test: &str) -> bool {
    reconcile_support::skip_in_external_mode(
        test,
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_replicate_volume_loses_its_newest_set_after_a_drain_volumes_retained() {
    if skipped("a_distributed_replicate_volume_loses_its_newest_set_after_a_drain_volumes_retained")
    {
        return;
    }
    logs();
    let _serial = SERIAL.lock().await;
    for run in 0..runs() {
        println!("scale-in run {} of {}", run + 1, runs());
        run_case(run % 4, Case::distributed(DeletionPolicy::Retain)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_replicate_volume_loses_its_newest_set_after_a_drain_volumes_deleted() {
    if skipped("a_distributed_replicate_volume_loses_its_newest_set_after_a_drain_volumes_deleted")
    {
        return;
    }
    logs();
    let _serial = SERIAL.lock().await;
    run_case(5, Case::distributed(DeletionPolicy::Delete)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pure_replicate_volume_goes_from_three_to_two_copies() {
    if skipped("a_pure_replicate_volume_goes_from_three_to_two_copies") {
        return;
    }
    logs();
    let _serial = SERIAL.lock().await;
    run_case(
        6,
        Case {
            example: "seed-4-nodes-replica.yaml",
            before: vec![("zone-a", 3)],
            after: vec![("zone-a", 2)],
            policy: DeletionPolicy::Retain,
            crash_in_drain: false,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_killed_during_a_drain_resumes_it_and_commits_only_after_completion() {
    if skipped("the_operator_killed_during_a_drain_resumes_it_and_commits_only_after_completion") {
        return;
    }
    logs();
    let _serial = SERIAL.lock().await;
    run_case(
        7,
        Case {
            crash_in_drain: true,
            ..Case::distributed(DeletionPolicy::Retain)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_in_whose_data_would_not_fit_is_refused_and_removes_nothing() {
    if skipped("a_scale_in_whose_data_would_not_fit_is_refused_and_removes_nothing") {
        return;
    }
    logs();
    let _serial = SERIAL.lock().await;
    let (world, nodes, scratch) = gluster_world(8).await;
    // 2 × 2 of 1Gi bricks: one set left would hold at most 90% of 1Gi.
    let mut cluster = example("two-zones-replica2.yaml");
    cluster.spec.brick.size = k8s_openapi::apimachinery::pkg::api::resource::Quantity("1Gi".into());
    let created = world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");
    let volume_name = cluster.spec.volume.name.clone();
    let before = world.wait_for("twozones", "Ready=True", ready).await;
    let status = before.status.clone().expect("status");
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    let mount = Mount::new(&spec, &backups, &scratch.path().join("mnt")).expect("mount");
    // About 1.1 GB (110 files of 1 B to 20 MiB, deterministic): more than one set may hold.
    let manifest = Manifest::write(mount.path(), "big", 110, 20 << 20, 31).expect("manifest");
    let limit = gluster_operator::plan::scale_in_limit(1 << 30);
    let full = world
        .wait_for("twozones", "the health read shows the data", move |c| {
            c.status
                .as_ref()
                .and_then(|s| s.health.as_ref())
                .and_then(|h| h.capacity_used_bytes)
                .is_some_and(|used| used > limit)
        })
        .await;
    let used = full
        .status
        .and_then(|s| s.health)
        .and_then(|h| h.capacity_used_bytes)
        .expect("used");

    let patch = Case::zones(&[("zone-a", 1), ("zone-b", 1)]);
    let patched = world
        .clusters
        .patch(
            "twozones",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("patched");
    let generation = patched.metadata.generation;
    let refused = world
        .wait_for("twozones", "Stalled=True InsufficientCapacity", move |c| {
            c.status.as_ref().and_then(|s| s.observed_generation) == generation
                && condition(c, "Stalled")
                    .is_some_and(|(s, r, _)| s == "True" && r == "InsufficientCapacity")
        })
        .await;
    let (_, _, message) = condition(&refused, "Stalled").expect("Stalled");
    println!("refused: {message} (used {used})");
    assert!(
        message.contains("spec.zones[].nodes") && message.contains(&limit.to_string()),
        "{message}"
    );
    // A few more passes: still nothing removed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let node = nodes
        .nodes()
        .into_iter()
        .find(|n| n.name == status.nodes[0].name)
        .expect("node");
    assert_eq!(
        bricks_seen(&node, &volume_name),
        Some(4),
        "no brick removed"
    );
    let out = node
        .command("gluster")
        .args(["--mode=script", "--xml", "volume", "status", &volume_name])
        .output()
        .expect("volume status");
    let vs =
        gluster_operator::gluster::xml::parse_volume_status(&String::from_utf8_lossy(&out.stdout))
            .expect("volume status");
    assert!(
        vs[0].tasks.is_empty(),
        "no remove-brick started: {:?}",
        vs[0].tasks
    );
    assert_eq!(pool_size(&node), 4, "no peer detached");
    let servers = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .expect("servers");
    assert_eq!(servers.len(), 4, "no server deleted");
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &scratch.path().join("fresh"));
    assert_eq!(checked, 110);
    drop(mount);
    world
        .clusters
        .delete("twozones", &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    world.wait_deleted("twozones", &uid).await;
    world.stop().await;
    nodes.shutdown().expect("nodes stopped");
}
