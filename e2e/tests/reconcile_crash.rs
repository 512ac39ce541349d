//! The operator killed right after each gluster step converges (issue 16 §4): the operator's
//! crash points (`controller::act::gluster::crash_points`, feature `crash-points`, enabled by
//! this crate's test build) hang act right after a step of the armed kind; the test then aborts
//! the controller task — nothing after the step runs, as with a SIGKILL — and starts a fresh
//! controller with empty memory. One 2 × 2 cluster is driven through every point in turn:
//! peer probe, volume create, volume set, volume start while it is built; add-brick and
//! rebalance start while it grows by a set, with a manifest of files written before. Each
//! time the fresh controller must finish from what gluster shows: the volume started, its
//! options and auth.allow set, the rebalance done, and no step twice where gluster refuses it
//! (create, start, a second rebalance start). Needs root (loopback nodes): it fails, never
//! skips.

mod reconcile_support;

use std::sync::Arc;
use std::time::Duration;

use e2e::data::{Manifest, Mount};
use e2e::nodes::LoopbackNodes;
use gluster_operator::controller::act::gluster::crash_points;
use gluster_operator::gluster::xml::{
    MigrationOutcome, VolumeInfo, VolumeState, parse_rebalance_status, parse_volume_info,
};
use gluster_operator::plan::PENDING_KEY;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};
use tokio::sync::Notify;

/// The longest a crash point may take to be reached (a scale-out boots two servers first).
const REACH: Duration = Duration::from_secs(900);

/// The loopback nodes, the world around them and the scratch directory they live in (as in
/// `reconcile_gluster.rs`).
struct GlusterWorld {
    world: World,
    nodes: Arc<LoopbackNodes>,
    scratch: tempfile::TempDir,
}

impl GlusterWorld {
    /// Starts a world whose servers become loopback nodes on addresses 127.100.X.* of its own.
    async fn start(slot: u32) -> GlusterWorld {
        let (world, LoopbackGluster { nodes, scratch }) =
            start_gluster_world("reconcile-crash-", slot, World::start).await;
        GlusterWorld {
            world,
            nodes,
            scratch,
        }
    }

    /// Runs `gluster --mode=script --xml ARGS` on the loopback node `node` and returns stdout.
    fn gluster_xml(&self, node: &str, args: &[&str]) -> String {
        let running = self
            .nodes
            .nodes()
            .into_iter()
            .find(|n| n.name == node)
            .unwrap_or_else(|| panic!("no loopback node {node}"));
        let out = running
            .command("gluster")
            .args(["--mode=script", "--xml"])
            .args(args)
            .output()
            .expect("gluster");
        assert!(
            out.status.success(),
            "gluster {args:?} on {node}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// `volume info` of `volume` as gluster on `node` shows it.
    fn volume_info(&self, node: &str, volume: &str) -> VolumeInfo {
        parse_volume_info(&self.gluster_xml(node, &["volume", "info", volume]))
            .expect("volume info parses")
            .into_iter()
            .next()
            .expect("the volume exists")
    }

    /// Waits until the crash point `kind` is reached, then kills the controller (its task
    /// aborted: nothing after the step runs) and starts a fresh one; `next` is armed first
    /// (`None`: none). Returns the gluster commands the killed controller ran since the last
    /// crash, by step kind.
    async fn crash_at(
        &mut self,
        kind: &str,
        reached: Arc<Notify>,
        next: Option<&str>,
    ) -> (Vec<String>, Option<Arc<Notify>>) {
        tokio::time::timeout(REACH, reached.notified())
            .await
            .unwrap_or_else(|_| panic!("the crash point after {kind} was never reached"));
        let taken = crash_points::take_log();
        assert_eq!(
            taken.last().map(String::as_str),
            Some(kind),
            "the controller hangs right after {kind}: {taken:?}"
        );
        let armed = next.map(crash_points::arm);
        if next.is_none() {
            crash_points::disarm();
        }
        self.world.crash_and_restart_controller().await;
        (taken, armed)
    }

    /// Stops the controller, the servers and the nodes.
    async fn stop(self) {
        self.world.stop().await;
        self.nodes.shutdown().expect("nodes stopped");
    }
}

fn count(taken: &[String], kind: &str) -> usize {
    taken.iter().filter(|k| k.as_str() == kind).count()
}

/// Waits until `name` is Ready at `generation`.
async fn ready_at(
    world: &World,
    name: &str,
    generation: Option<i64>,
) -> gluster_operator::api::GlusterCluster {
    world
        .wait_for(name, "Ready=True at the generation", move |c| {
            c.status.as_ref().and_then(|s| s.observed_generation) == generation
                && condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_killed_after_each_gluster_step_converges() {
    if reconcile_support::skip_in_external_mode(
        "the_operator_killed_after_each_gluster_step_converges",
        "its nodes are loopback gluster nodes and its crash points live in the in-process controller",
    ) {
        return;
    }
    let mut g = GlusterWorld::start(3).await;
    let _ = crash_points::take_log();
    let mut cluster = example("two-zones-replica2.yaml");
    cluster
        .spec
        .volume
        .options
        .insert("performance.cache-size".into(), "64MB".into());

    // Building: killed after the first probe, after volume create, after the first volume set
    // (auth.allow), after volume start.
    let reached = crash_points::arm("ProbePeer");
    let applied = g.world.apply(&cluster).await;
    let mut log = Vec::new();
    let mut point = ("ProbePeer", reached);
    for next in [
        Some("CreateVolume"),
        Some("SetOption"),
        Some("StartVolume"),
        None,
    ] {
        let (taken, armed) = g.crash_at(point.0, point.1, next).await;
        log.push(taken);
        if let (Some(n), Some(a)) = (next, armed) {
            point = (n, a);
        } else {
            break;
        }
    }
    let ready = ready_at(&g.world, "twozones", applied.metadata.generation).await;
    log.push(crash_points::take_log());
    eprintln!("gluster commands per controller life while building: {log:?}");
    let all: Vec<String> = log.concat();
    assert_eq!(
        count(&all, "CreateVolume"),
        1,
        "volume create ran once: {log:?}"
    );
    assert_eq!(
        count(&all, "StartVolume"),
        1,
        "volume start ran once: {log:?}"
    );
    // After the crash that followed auth.allow, only the missing option was set.
    assert_eq!(
        log[3],
        ["SetOption", "StartVolume"],
        "after the crash that followed the first volume set: {log:?}"
    );

    let status = ready.status.clone().expect("status");
    let first = status
        .nodes
        .iter()
        .find(|n| n.index == 0)
        .expect("node 0")
        .name
        .clone();
    let info = g.volume_info(&first, "shared");
    assert_eq!(info.state, VolumeState::Started);
    assert_eq!(
        info.options
            .get("performance.cache-size")
            .map(String::as_str),
        Some("64MB")
    );
    let auth = info.options.get("auth.allow").expect("auth.allow set");
    assert!(auth.starts_with("127.*,"), "{auth}");
    for node in &status.nodes {
        let address = node.address.as_deref().expect("address");
        assert!(auth.split(',').any(|a| a == address), "{address} in {auth}");
    }

    // Data before the growth, through a mount that lives through every crash below.
    let mount_spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    let mount = Mount::new(&mount_spec, &backups, &g.scratch.path().join("mnt")).expect("mount");
    let manifest = Manifest::write(mount.path(), "before", 40, 64 << 10, 16).expect("written");

    // Growing by a set: killed after add-brick, then after rebalance start.
    let reached = crash_points::arm("AddBricks");
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
        .expect("patched");
    let (grow, armed) = g
        .crash_at("AddBricks", reached, Some("RebalanceStart"))
        .await;
    assert!(
        grow.ends_with(&["SetOption".into(), "AddBricks".into()]),
        "the owed rebalance is recorded before add-brick: {grow:?}"
    );
    let marked = g.volume_info(&first, "shared");
    assert_eq!(marked.bricks.len(), 6);
    assert_eq!(
        marked.options.get(PENDING_KEY).map(String::as_str),
        Some("rebalance"),
        "{:?}",
        marked.options
    );
    let (restarted, _) = g
        .crash_at("RebalanceStart", armed.expect("armed"), None)
        .await;
    assert_eq!(
        restarted,
        ["RebalanceStart"],
        "after the crash that followed add-brick: the owed rebalance, nothing else"
    );
    let scaled = ready_at(&g.world, "twozones", patched.metadata.generation).await;
    let after = crash_points::take_log();
    eprintln!("while growing: {grow:?}, then {restarted:?}, then {after:?}");
    assert_eq!(
        after,
        ["SetOption"],
        "after the crash that followed rebalance start: no second start, the marker cleared"
    );

    let status = scaled.status.clone().expect("status");
    let volume = status.volume.clone().expect("volume");
    assert_eq!((volume.replica_count, volume.distribute_count), (2, 3));
    let info = g.volume_info(&first, "shared");
    assert_eq!(
        info.options.get(PENDING_KEY).map(String::as_str),
        Some("none")
    );
    let rebalance = parse_rebalance_status(
        &g.gluster_xml(&first, &["volume", "rebalance", "shared", "status"]),
    )
    .expect("rebalance status parses");
    assert_eq!(rebalance.outcome(), MigrationOutcome::Completed);
    // The rebalance moved some files onto the new set (40 names: odds of none about 1 in 10⁷).
    let new_set = &volume.bricks[4..];
    let on_new: usize = new_set
        .iter()
        .map(|b| {
            let running = g
                .nodes
                .nodes()
                .into_iter()
                .find(|n| n.name == b.node)
                .expect("node");
            std::fs::read_dir(running.path("/export/shared/brick"))
                .expect("brick")
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|f| f.starts_with("before-"))
                .count()
        })
        .sum();
    assert!(on_new > 0, "the rebalance moved nothing onto {new_set:?}");

    let checked = manifest.assert_intact_through(
        &mount,
        status.mount.as_deref().expect("mount"),
        &status.backup_volfile_servers,
        &g.scratch.path().join("fresh"),
    );
    assert_eq!(checked, 40);
    drop(mount);
    g.stop().await;
}
