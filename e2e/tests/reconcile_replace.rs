//! A lost node comes back with its data (issue 16 §1–2, the Cinder-brick case), with real
//! gluster on loopback nodes: a 2 × 2 replica-2 cluster is Ready with a manifest of files
//! written through a FUSE mount; one server is deleted out of band (Nova's DELETE, as
//! `openstack server delete` sends it); more files are written during the outage; the operator
//! boots a replacement on the node's own port (same address) with the node's glusterd UUID,
//! reattaches the same brick volume, brings the node back into the pool; self-heal brings the
//! brick what it missed. Checked: same address, same port, same volume ID, heal pending 0,
//! the files written during the outage on the returned brick, the manifest intact through the
//! mount that lived through it and a fresh one. Needs root: it fails, never skips.

mod openstack_sim_support;
mod reconcile_support;

use std::sync::Arc;
use std::time::Duration;

use e2e::data::{Manifest, Mount};
use e2e::nodes::{LoopbackNodes, RunningNode};
use gluster_operator::api::{GlusterCluster, NodeState};
use gluster_operator::cloud::{Server, ServerQuery, ServerStatus};
use gluster_operator::controller::{self, ControllerConfig, Metrics};
use gluster_operator::gluster::xml::parse_heal_info;
use reconcile_support::gluster::{LoopbackGluster, start_gluster_world};
use reconcile_support::{World, condition, example};

/// The loopback nodes, the world around them (with a controller of this test's own: it looks
/// at the cloud every few seconds once Ready, where the default resync is 10 minutes) and the
/// scratch directory they live in.
/// One gluster world at a time in this binary (each runs four nodes on two cores).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct ReplaceWorld {
    world: World,
    nodes: Arc<LoopbackNodes>,
    scratch: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    controller: Option<tokio::task::JoinHandle<()>>,
}

impl ReplaceWorld {
    /// As reconcile_gluster's world: servers become loopback nodes on addresses 127.100.X.*
    /// of its own (X from the process ID and `slot`).
    async fn start(slot: u32, error_grace: Duration) -> ReplaceWorld {
        let (world, LoopbackGluster { nodes, scratch }) = start_gluster_world(
            "reconcile-replace-",
            slot + 2,
            World::start_without_controller,
        )
        .await;
        let config = ControllerConfig {
            watch_namespace: Some(world.ns.clone()),
            requeue_working: Duration::from_millis(200),
            requeue_error: Duration::from_millis(300),
            requeue_stalled: Duration::from_secs(30),
            requeue_settled: Duration::from_secs(3),
            server_error_grace: error_grace,
            instance: Some("replace".into()),
            ..ControllerConfig::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let controller = tokio::spawn(controller::run(
            world.operator_client.clone(),
            config,
            Arc::new(Metrics::default()),
            async move {
                let _ = stopped.await;
            },
        ));
        ReplaceWorld {
            world,
            nodes,
            scratch,
            stop: Some(stop),
            controller: Some(controller),
        }
    }

    async fn servers(&self, uid: &str) -> Vec<Server> {
        self.world
            .cloud
            .compute()
            .list_servers(&ServerQuery {
                tags: vec![format!("glusterops-uid:{uid}")],
                ..ServerQuery::default()
            })
            .await
            .expect("servers")
    }

    fn node(&self, name: &str) -> RunningNode {
        self.nodes
            .nodes()
            .into_iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no loopback node {name}"))
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(c) = self.controller.take() {
            c.await.expect("controller");
        }
        self.world.stop().await;
        self.nodes.shutdown().expect("nodes stopped");
    }
}

fn ready(c: &GlusterCluster) -> bool {
    condition(c, "Ready").is_some_and(|(s, _, _)| s == "True")
}

/// When the Ready condition last changed (as the API server shows it).
fn ready_since(c: &GlusterCluster) -> Option<String> {
    c.status
        .as_ref()?
        .conditions
        .iter()
        .find(|x| x.type_ == "Ready")
        .and_then(|x| serde_json::to_value(&x.last_transition_time).ok())
        .map(|v| v.to_string())
}

/// `heal info summary` run inside `node`: (pending, split-brain) summed over the bricks, or
/// `None` while a brick does not answer.
fn heal_counts(node: &RunningNode, volume: &str) -> Option<(u64, u64)> {
    let out = node
        .command("gluster")
        .args(["--mode=script", "--xml", "volume", "heal", volume, "info"])
        .arg("summary")
        .output()
        .expect("gluster heal info");
    let info = parse_heal_info(&String::from_utf8_lossy(&out.stdout)).ok()?;
    let mut totals = (0, 0);
    for brick in &info.bricks {
        let summary = brick.summary.filter(|_| brick.connected())?;
        totals.0 += summary.pending;
        totals.1 += summary.split_brain;
    }
    Some(totals)
}

/// `heal_counts` asked every half second until both are 0 (bounded: two minutes, a hang
/// guard), the last answer.
async fn healed(node: &RunningNode, volume: &str) -> Option<(u64, u64)> {
    let mut counts = None;
    for _ in 0..240 {
        counts = heal_counts(node, volume);
        if counts == Some((0, 0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_deleted_out_of_band_comes_back_on_its_port_with_its_volume_and_heals() {
    if reconcile_support::skip_in_external_mode(
        "a_server_deleted_out_of_band_comes_back_on_its_port_with_its_volume_and_heals",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    // The operator's and the nodes' logs on the test's output (shown when it fails).
    reconcile_support::logs_to_test_output();
    let _serial = SERIAL.lock().await;
    let g = ReplaceWorld::start(0, Duration::from_secs(300)).await;
    let cluster = example("two-zones-replica2.yaml");
    let created = g.world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");
    let volume_name = cluster.spec.volume.name.clone();
    let before = g.world.wait_for("twozones", "Ready=True", ready).await;
    let status = before.status.clone().expect("status");
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();

    // Every node has its own port (named after it, tagged with the cluster), its address.
    let ports = g
        .world
        .cloud
        .network()
        .list_ports(&[format!("glusterops-uid:{uid}")])
        .await
        .expect("ports");
    assert_eq!(ports.len(), 4, "{ports:?}");

    // The manifest, through a mount that lives through the whole test.
    let mount = Mount::new(&spec, &backups, &g.scratch.path().join("mnt")).expect("mount");
    let mut manifest = Manifest::write(mount.path(), "before", 40, 64 << 10, 16).expect("manifest");

    // A node that is not the mount's volfile server loses its server.
    let lost = status
        .nodes
        .iter()
        .find(|n| n.address.as_deref().is_some_and(|a| !spec.starts_with(a)))
        .expect("a node other than the mount's server")
        .clone();
    let old = g
        .servers(&uid)
        .await
        .into_iter()
        .find(|s| s.name == lost.name)
        .expect("its server");
    let old_volumes: Vec<String> = old
        .attached_volume_ids()
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(old_volumes.len(), 1, "{old:?}");
    let port = ports
        .iter()
        .find(|p| p.name == format!("{}-port", lost.name))
        .expect("its port")
        .clone();
    assert_eq!(port.address(), lost.address.as_deref());
    // Out of band, as `openstack server delete` does it.
    let (stop_timeline, recorded) = timeline(&g.world, "twozones");
    let lost_at = std::time::Instant::now();
    g.world
        .cloud
        .compute()
        .delete_server(&old.id)
        .await
        .expect("server deleted");
    for _ in 0..200 {
        if !g.servers(&uid).await.iter().any(|s| s.id == old.id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Writes go on during the outage (its replica partner takes them).
    manifest
        .write_more(mount.path(), "during", 30, 64 << 10, 17)
        .expect("written during the outage");

    // Back: a new server on the same port, the same brick volume, Ready again (a Ready that
    // went away and came back: another transition than before the loss).
    let old_id = old.id.clone();
    let lost_name = lost.name.clone();
    let was_ready_at = ready_since(&before);
    let back = g
        .world
        .wait_for("twozones", "Ready=True again after the loss", move |c| {
            ready(c)
                && ready_since(c) != was_ready_at
                && c.status.as_ref().is_some_and(|s| {
                    s.nodes
                        .iter()
                        .any(|n| n.name == lost_name && n.state == NodeState::Ready)
                })
        })
        .await;
    eprintln!(
        "timeline: server of {} deleted → Ready again (replacement booted, rejoined, healed) \
         in {:.1} s",
        lost.name,
        lost_at.elapsed().as_secs_f64()
    );
    let _ = stop_timeline.send(());
    let rows = recorded.await.expect("timeline");
    eprintln!("timeline:\n{}", rows.join("\n"));
    assert!(
        rows.iter().any(|r| r.contains("NodeReplacing")),
        "Degraded said NodeReplacing on the way: {rows:#?}"
    );
    let servers = g.servers(&uid).await;
    assert_eq!(servers.len(), 4, "{servers:?}");
    let new = servers
        .iter()
        .find(|s| s.name == lost.name)
        .expect("the replacement");
    assert_ne!(new.id, old_id, "a new server");
    assert_eq!(new.status, ServerStatus::Active);
    assert_eq!(
        new.attached_volume_ids(),
        old_volumes.iter().map(String::as_str).collect::<Vec<_>>(),
        "the same brick volume"
    );
    let back_status = back.status.clone().expect("status");
    let node = back_status
        .nodes
        .iter()
        .find(|n| n.name == lost.name)
        .expect("the node");
    assert_eq!(node.address, lost.address, "the same address");
    let ports_after = g
        .world
        .cloud
        .network()
        .list_ports(&[format!("glusterops-uid:{uid}")])
        .await
        .expect("ports");
    let port_after = ports_after
        .iter()
        .find(|p| p.id == port.id)
        .expect("the same port");
    assert_eq!(port_after.device_id, new.id, "the replacement is on it");
    assert_eq!(ports_after.len(), 4, "{ports_after:?}");
    let volume = back_status.volume.clone().expect("volume");
    assert!(volume.bricks.iter().all(|b| b.online), "{volume:?}");

    // Self-heal brings the returned brick what it missed (bounded wait: a hang guard).
    let returned = g.node(&lost.name);
    assert_eq!(
        healed(&returned, &volume_name).await,
        Some((0, 0)),
        "heal pending and split-brain"
    );
    // The files written during the outage that belong to its replica set are on its brick.
    let brick = returned.path(&format!("/export/{volume_name}/brick"));
    let on_returned: std::collections::BTreeSet<String> = std::fs::read_dir(&brick)
        .unwrap_or_else(|e| panic!("{}: {e}", brick.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.starts_with("during-"))
        .collect();
    assert!(
        !on_returned.is_empty(),
        "none of the 30 files written during the outage reached the returned brick"
    );

    // Nothing lost or changed, through the mount that lived through it and a fresh one.
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &g.scratch.path().join("fresh"));
    assert_eq!(checked, 70);
    drop(mount);

    // Deleting the cluster takes the nodes' ports too (once their servers are gone).
    g.world
        .clusters
        .delete("twozones", &kube::api::DeleteParams::default())
        .await
        .expect("delete");
    g.world.wait_deleted("twozones", &uid).await;
    let left = g
        .world
        .cloud
        .network()
        .list_ports(&[format!("glusterops-uid:{uid}")])
        .await
        .expect("ports");
    assert!(left.is_empty(), "ports left: {left:?}");
    assert!(g.servers(&uid).await.is_empty());
    g.stop().await;
}

/// The reasons of the Events the operator published in the world's namespace.
async fn event_reasons(world: &World) -> Vec<String> {
    let events: kube::api::Api<k8s_openapi::api::events::v1::Event> =
        kube::api::Api::namespaced(world.client.clone(), &world.ns);
    events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stays_in_error_after_its_hard_reboot_is_replaced_on_its_port_after_the_grace()
 {
    if reconcile_support::skip_in_external_mode(
        "a_server_that_stays_in_error_after_its_hard_reboot_is_replaced_on_its_port_after_the_grace",
        "it puts a server into ERROR through the simulator's admin API",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = ReplaceWorld::start(1, Duration::from_secs(4)).await;
    let cluster = example("two-zones-replica2.yaml");
    let created = g.world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");
    let volume_name = cluster.spec.volume.name.clone();
    let before = g.world.wait_for("twozones", "Ready=True", ready).await;
    let status = before.status.clone().expect("status");
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    let mount = Mount::new(&spec, &backups, &g.scratch.path().join("mnt")).expect("mount");
    let mut manifest = Manifest::write(mount.path(), "before", 30, 64 << 10, 26).expect("manifest");
    let lost = status
        .nodes
        .iter()
        .find(|n| n.address.as_deref().is_some_and(|a| !spec.starts_with(a)))
        .expect("a node other than the mount's server")
        .clone();
    let old = g
        .servers(&uid)
        .await
        .into_iter()
        .find(|s| s.name == lost.name)
        .expect("its server");
    let old_volumes: Vec<String> = old
        .attached_volume_ids()
        .iter()
        .map(|v| v.to_string())
        .collect();

    // The server goes to ERROR (as an admin's `nova reset-state --error` puts it) and its hard
    // reboot ends in ERROR again (the next server decision of the fault rules fails).
    g.world.sim().faults().fail_next_servers(1, None);
    let admin = openstack_sim_support::Client::login_admin(g.world.sim()).await;
    let reset = admin
        .post(
            &format!("/compute/v2.1/servers/{}/action", old.id),
            serde_json::json!({"os-resetState": {"state": "error"}}),
        )
        .await;
    assert_eq!(
        reset.status,
        reqwest::StatusCode::ACCEPTED,
        "{:?}",
        reset.body
    );
    // Its node is still up meanwhile: nothing is lost while the operator waits out the grace.
    manifest
        .write_more(mount.path(), "during", 20, 64 << 10, 27)
        .expect("written while the server is in ERROR");

    let old_id = old.id.clone();
    let lost_name = lost.name.clone();
    let was_ready_at = ready_since(&before);
    let back = g
        .world
        .wait_for(
            "twozones",
            "Ready=True again after the replacement",
            move |c| {
                ready(c)
                    && ready_since(c) != was_ready_at
                    && c.status.as_ref().is_some_and(|s| {
                        s.nodes.iter().any(|n| {
                            n.name == lost_name
                                && n.state == NodeState::Ready
                                && n.server_id.as_deref() != Some(old_id.as_str())
                        })
                    })
            },
        )
        .await;
    let reasons = event_reasons(&g.world).await;
    assert!(
        reasons.iter().any(|r| r == "ServerRebooted"),
        "a hard reboot first: {reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "FailedServerDeleted"),
        "then the replacement: {reasons:?}"
    );
    let servers = g.servers(&uid).await;
    assert_eq!(servers.len(), 4, "{servers:?}");
    let new = servers
        .iter()
        .find(|s| s.name == lost.name)
        .expect("the replacement");
    assert_ne!(new.id, old.id);
    assert_eq!(
        new.attached_volume_ids(),
        old_volumes.iter().map(String::as_str).collect::<Vec<_>>(),
        "the same brick volume"
    );
    let back_status = back.status.clone().expect("status");
    let node = back_status
        .nodes
        .iter()
        .find(|n| n.name == lost.name)
        .expect("the node");
    assert_eq!(node.address, lost.address, "the same address");
    let returned = g.node(&lost.name);
    assert_eq!(
        healed(&returned, &volume_name).await,
        Some((0, 0)),
        "heal pending and split-brain"
    );
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &g.scratch.path().join("fresh"));
    assert_eq!(checked, 50);
    drop(mount);
    g.stop().await;
}

/// Records every change of what `kubectl get gcl` shows of cluster `name` (Ready, Nodes,
/// Degraded, Bricks, Heal), with the seconds since it started, until the returned sender is
/// dropped or sent to; the task's output is the table.
fn timeline(
    world: &World,
    name: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Vec<String>>,
) {
    let clusters = world.clusters.clone();
    let name = name.to_string();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut rows = vec![format!(
            "{:>6}  {:<6} {:<6} {:<14} {:<7} {}",
            "t (s)", "READY", "NODES", "DEGRADED", "BRICKS", "HEAL"
        )];
        let mut last = String::new();
        let mut stopping = false;
        loop {
            if let Ok(c) = clusters.get(&name).await {
                let s = c.status.clone().unwrap_or_default();
                let ready = condition(&c, "Ready")
                    .map(|(s, _, _)| s)
                    .unwrap_or_default();
                let degraded = condition(&c, "Degraded")
                    .map(|(_, r, _)| r)
                    .unwrap_or_default();
                let health = s.health.clone().unwrap_or_default();
                let row = format!(
                    "{:<6} {:<6} {:<14} {:<7} {}",
                    ready,
                    s.node_summary.clone().unwrap_or_default(),
                    degraded,
                    health.bricks,
                    health
                        .heal_pending
                        .map_or("-".to_string(), |h| h.to_string())
                );
                if row != last {
                    rows.push(format!("{:>6.1}  {row}", started.elapsed().as_secs_f64()));
                    last = row;
                }
            }
            // One more look after the stop, so the table ends with what the caller saw.
            if stopping {
                return rows;
            }
            tokio::select! {
                _ = &mut stopped => stopping = true,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    });
    (stop, task)
}

/// Deletes the server of `lost` out of band (as `openstack server delete` does) and waits until
/// Nova no longer lists it.
async fn delete_out_of_band(g: &ReplaceWorld, uid: &str, lost: &str) -> Server {
    let old = g
        .servers(uid)
        .await
        .into_iter()
        .find(|s| s.name == lost)
        .expect("its server");
    g.world
        .cloud
        .compute()
        .delete_server(&old.id)
        .await
        .expect("server deleted");
    for _ in 0..200 {
        if !g.servers(uid).await.iter().any(|s| s.id == old.id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    old
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ephemeral_brick_is_rebuilt_with_replace_brick_and_healed() {
    if reconcile_support::skip_in_external_mode(
        "a_lost_ephemeral_brick_is_rebuilt_with_replace_brick_and_healed",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    reconcile_support::logs_to_test_output();
    let _serial = SERIAL.lock().await;
    let g = ReplaceWorld::start(2, Duration::from_secs(300)).await;
    // zone-a on Cinder, zone-c on the fallback flavor's ephemeral disk; each replica set
    // pairs a zone-a brick with a zone-c brick.
    let cluster = example("ephemeral-zone.yaml");
    let created = g.world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");
    let volume_name = cluster.spec.volume.name.clone();
    let before = g.world.wait_for("mixed", "Ready=True", ready).await;
    let status = before.status.clone().expect("status");
    let spec = status.mount.clone().expect("mount");
    let backups = status.backup_volfile_servers.clone();
    let mount = Mount::new(&spec, &backups, &g.scratch.path().join("mnt")).expect("mount");
    let mut manifest = Manifest::write(mount.path(), "before", 40, 64 << 10, 36).expect("manifest");

    // A zone-c node (brick on its ephemeral disk) loses its server, and the brick with it.
    let lost = status
        .nodes
        .iter()
        .find(|n| n.zone == "zone-c" && n.volume_id.is_none())
        .expect("an ephemeral node")
        .clone();
    let lost_at = std::time::Instant::now();
    let old = delete_out_of_band(&g, &uid, &lost.name).await;
    manifest
        .write_more(mount.path(), "during", 20, 64 << 10, 37)
        .expect("written during the outage");

    // The operator says what it does while it does it.
    let lost_name = lost.name.clone();
    g.world
        .wait_for("mixed", "Degraded=True NodeReplacing", move |c| {
            condition(c, "Degraded").is_some_and(|(s, r, m)| {
                s == "True" && r == "NodeReplacing" && m.contains(&lost_name)
            })
        })
        .await;
    let old_id = old.id.clone();
    let lost_name = lost.name.clone();
    let was_ready_at = ready_since(&before);
    let back = g
        .world
        .wait_for("mixed", "Ready=True again after the rebuild", move |c| {
            ready(c)
                && ready_since(c) != was_ready_at
                && c.status.as_ref().is_some_and(|s| {
                    s.nodes.iter().any(|n| {
                        n.name == lost_name
                            && n.state == NodeState::Ready
                            && n.server_id.as_deref() != Some(old_id.as_str())
                    })
                })
        })
        .await;
    eprintln!(
        "timeline: server of {} (ephemeral brick) deleted → Ready again (new server, brick \
         replaced, healed) in {:.1} s",
        lost.name,
        lost_at.elapsed().as_secs_f64()
    );
    let back_status = back.status.clone().expect("status");
    let node = back_status
        .nodes
        .iter()
        .find(|n| n.name == lost.name)
        .expect("the node, under its own name");
    assert_eq!(node.address, lost.address, "the same address (its port)");
    assert_eq!(
        back_status.nodes.len(),
        4,
        "no fifth node beside it: {:?}",
        back_status.nodes
    );
    let reasons = event_reasons(&g.world).await;
    assert!(
        reasons.iter().any(|r| r == "BrickReplaced"),
        "replace-brick put the blank disk in the old brick's place: {reasons:?}"
    );
    // Self-heal copies every file of its set onto the new brick.
    let returned = g.node(&lost.name);
    assert_eq!(
        healed(&returned, &volume_name).await,
        Some((0, 0)),
        "heal pending and split-brain"
    );
    // Its brick is a new directory on the new disk (gluster does not reset a blank brick
    // onto its old path).
    let rebuilt = back_status
        .volume
        .as_ref()
        .and_then(|v| v.bricks.iter().find(|b| b.node == lost.name))
        .expect("its brick in the volume")
        .name
        .clone();
    let old_brick = lost.brick.clone().expect("its old brick");
    assert_ne!(rebuilt, old_brick, "a new brick directory");
    let (_, rebuilt_path) = rebuilt.split_once(':').expect("address:/path");
    assert!(
        rebuilt_path.starts_with(&format!("/export/{volume_name}/brick-")),
        "{rebuilt}"
    );
    let brick = returned.path(rebuilt_path);
    let on_rebuilt = std::fs::read_dir(&brick)
        .unwrap_or_else(|e| panic!("{}: {e}", brick.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.starts_with("before-") || f.starts_with("during-"))
        .count();
    assert!(
        on_rebuilt > 0,
        "the rebuilt brick holds none of the files of its set"
    );
    let checked =
        manifest.assert_intact_through(&mount, &spec, &backups, &g.scratch.path().join("fresh"));
    assert_eq!(checked, 60);
    drop(mount);
    g.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ephemeral_brick_that_held_the_last_copy_is_degraded_and_never_rebuilt_over() {
    if reconcile_support::skip_in_external_mode(
        "a_lost_ephemeral_brick_that_held_the_last_copy_is_degraded_and_never_rebuilt_over",
        "its nodes are loopback gluster nodes attached to the in-process simulator",
    ) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let g = ReplaceWorld::start(3, Duration::from_secs(300)).await;
    // The mixed cluster without replicas: every brick is the only copy of its files.
    let mut cluster = example("ephemeral-zone.yaml");
    cluster.spec.volume.replicas = Some(1);
    let created = g.world.apply(&cluster).await;
    let uid = created.metadata.uid.clone().expect("uid");
    let before = g.world.wait_for("mixed", "Ready=True", ready).await;
    let status = before.status.clone().expect("status");
    let lost = status
        .nodes
        .iter()
        .find(|n| n.zone == "zone-c" && n.volume_id.is_none())
        .expect("an ephemeral node")
        .clone();
    let old = delete_out_of_band(&g, &uid, &lost.name).await;
    let brick = lost.brick.clone().expect("its brick");
    let degraded = g
        .world
        .wait_for("mixed", "Degraded=True LastCopyLost", move |c| {
            condition(c, "Degraded")
                .is_some_and(|(s, r, m)| s == "True" && r == "LastCopyLost" && m.contains(&brick))
        })
        .await;
    assert_eq!(
        condition(&degraded, "Stalled").map(|(s, r, _)| (s, r)),
        Some(("True".to_string(), "LastCopyLost".to_string()))
    );
    // Passes later (each annotation change wakes the controller): still no server for it,
    // nothing deleted, its port kept for a person.
    for i in 0..3 {
        g.world
            .clusters
            .patch(
                "mixed",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(serde_json::json!({
                    "metadata": {"annotations": {"test.glusterops.dev/poke": i.to_string()}}
                })),
            )
            .await
            .expect("annotated");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let servers = g.servers(&uid).await;
    assert_eq!(servers.len(), 3, "no server rebuilt over it: {servers:?}");
    assert!(
        servers
            .iter()
            .all(|s| s.name != lost.name && s.id != old.id)
    );
    let ports = g
        .world
        .cloud
        .network()
        .list_ports(&[format!("glusterops-uid:{uid}")])
        .await
        .expect("ports");
    assert_eq!(ports.len(), 4, "every node's port kept: {ports:?}");
    let reasons = event_reasons(&g.world).await;
    assert!(
        reasons.iter().any(|r| r == "LastCopyLost"),
        "an Event says so: {reasons:?}"
    );
    g.stop().await;
}
