//! The controller's cloud side end to end, in-process: the real Kubernetes API server, the
//! OpenStack simulator and `controller::run`. A GlusterCluster becomes servers (tagged with its
//! UID), attached brick volumes and a security group; a refused spec becomes `Stalled` with
//! nothing created; a quota refusal is quoted in the condition; deleting the cluster leaves
//! nothing of it in the cloud but its retained volumes.

mod reconcile_support;

use std::collections::{BTreeMap, BTreeSet};

use e2e::openstack::{FaultAction, HttpFault, SimConfig, TimingConfig};
use gluster_operator::api::{GlusterCluster, NodeState};
use gluster_operator::cloud::{ServerQuery, ServerStatus, VolumeQuery, VolumeStatus};
use gluster_operator::controller::FINALIZER;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};
use reconcile_support::{Replica, World, condition, example};

fn fast() -> SimConfig {
    SimConfig {
        timing: TimingConfig::uniform(20),
        ..SimConfig::default()
    }
}

fn all_booted(c: &GlusterCluster) -> bool {
    c.status.as_ref().is_some_and(|s| {
        s.nodes.len() as u32 == s.desired_nodes
            && s.desired_nodes > 0
            && s.nodes.iter().all(|n| n.state == NodeState::Booting)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_zones_become_servers_volumes_and_a_security_group_then_go() {
    let world = World::start(fast()).await;
    let created = world.apply(&example("two-zones-replica2.yaml")).await;
    let uid = created.uid().unwrap();
    let tag = format!("glusterops-uid:{uid}");

    let cluster = world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    assert!(cluster.finalizers().contains(&FINALIZER.to_string()));
    let status = cluster.status.clone().unwrap();
    assert_eq!(status.observed_generation, cluster.metadata.generation);
    // No gluster host answers in this world (no loopback nodes behind the simulator): the
    // gluster side is reached, tries every node and quotes the last refusal. (Elsewhere, in
    // external mode, the servers may run gluster: these checks are of the simulator's world.)
    if !reconcile_support::external() {
        assert_eq!(status.node_summary.as_deref(), Some("0/4"));
        let (ready, reason, message) = condition(&cluster, "Ready").unwrap();
        assert_eq!(
            (ready.as_str(), reason.as_str()),
            ("False", "ConnectFailed"),
            "{message}"
        );
        assert!(
            message.contains("cannot connect to 127.100.") && message.contains("twozones-zone-"),
            "{message}"
        );
        assert_eq!(condition(&cluster, "Reconciling").unwrap().0, "True");
    }
    assert_eq!(condition(&cluster, "Stalled").unwrap().0, "False");
    let zones: Vec<_> = status
        .zones
        .iter()
        .map(|z| (z.name.as_str(), z.desired, format!("{:?}", z.storage)))
        .collect();
    assert_eq!(
        zones,
        [
            ("zone-a", 2, "Some(Volume)".to_string()),
            ("zone-b", 2, "Some(Volume)".to_string())
        ]
    );

    // The cloud: 4 tagged servers, each in its node's zone, with its brick volume attached.
    let servers = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![tag.clone()],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    let mut names: Vec<_> = servers.iter().map(|s| s.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "twozones-zone-a-1",
            "twozones-zone-a-2",
            "twozones-zone-b-1",
            "twozones-zone-b-2"
        ]
    );
    let volumes = world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: None,
            metadata: BTreeMap::from([("gluster-operator:cluster-uid".to_string(), uid.clone())]),
        })
        .await
        .unwrap();
    assert_eq!(volumes.len(), 4);
    for node in &status.nodes {
        let server = servers
            .iter()
            .find(|s| Some(&s.id) == node.server_id.as_ref())
            .unwrap();
        assert_eq!(server.status, ServerStatus::Active);
        assert_eq!(
            server.availability_zone.as_deref(),
            Some(node.zone.as_str())
        );
        assert_eq!(
            server.metadata["gluster-operator:node-index"],
            node.index.to_string()
        );
        let volume = volumes
            .iter()
            .find(|v| Some(&v.id) == node.volume_id.as_ref())
            .unwrap();
        assert_eq!(volume.name, format!("{}-brick", node.name));
        assert_eq!(volume.status, VolumeStatus::InUse);
        assert_eq!(volume.size, 10);
        assert!(server.attached_volume_ids().contains(&volume.id.as_str()));
        let address = node.address.as_deref().unwrap();
        assert!(address.starts_with("127.100."), "{address}");
        assert_eq!(
            node.brick.as_deref(),
            Some(format!("{address}:/export/shared/brick").as_str())
        );
    }
    let groups = world
        .cloud
        .network()
        .list_security_groups(None, std::slice::from_ref(&tag))
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name, format!("gluster-{}-twozones", world.ns));
    // Default deny: SSH from the network's own subnet (the simulator's 127.100.0.0/16), the
    // gluster ports from the allowed clients and the group itself, nothing from the world.
    let rules = &groups[0].security_group_rules;
    let ingress: Vec<_> = rules.iter().filter(|r| r.direction == "ingress").collect();
    let ssh: Vec<_> = ingress
        .iter()
        .filter(|r| r.port_range_min == Some(22))
        .map(|r| r.remote_ip_prefix.as_deref())
        .collect();
    assert_eq!(
        ssh,
        [Some("127.100.0.0/16")],
        "SSH from the subnet: {rules:?}"
    );
    for ports in [24007, 49152] {
        let sources: BTreeSet<_> = ingress
            .iter()
            .filter(|r| r.port_range_min == Some(ports))
            .map(|r| (r.remote_ip_prefix.as_deref(), r.remote_group_id.as_deref()))
            .collect();
        assert_eq!(
            sources,
            BTreeSet::from([
                (Some("127.0.0.0/8"), None),
                (None, Some(groups[0].id.as_str()))
            ]),
            "port {ports}: {rules:?}"
        );
    }

    // The SSH keys: one Secret owned by the cluster, the operator key and a host key per node.
    let secrets: Api<Secret> = Api::namespaced(world.client.clone(), &world.ns);
    let keys = secrets.get("twozones-ssh").await.unwrap();
    let owners = keys.metadata.owner_references.clone().unwrap();
    assert_eq!(
        (owners[0].uid.as_str(), owners[0].controller),
        (uid.as_str(), Some(true))
    );
    let mut entries: Vec<_> = keys.data.clone().unwrap().into_keys().collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "host-twozones-zone-a-1",
            "host-twozones-zone-a-2",
            "host-twozones-zone-b-1",
            "host-twozones-zone-b-2",
            "id_ed25519"
        ]
    );

    // An Event for each step taken.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns);
    let events = events.list(&Default::default()).await.unwrap();
    let count = |reason: &str| {
        events
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .map(|e| e.series.as_ref().map_or(1, |s| s.count))
            .sum::<i32>()
    };
    assert_eq!(count("ServerCreated"), 4, "{:?}", events.items);
    assert_eq!(count("VolumeCreated"), 4);
    assert_eq!(count("SecurityGroupCreated"), 1);
    assert!(count("VolumeAttached") >= 4);

    // Reconciles go on (requeues) without creating twins.
    if !reconcile_support::external() {
        let posts = world.sim().counters().get("POST", "/compute/v2.1/servers");
        assert_eq!(posts, 4);
    }
    let metrics = world.metrics.encode();
    assert!(
        metrics.contains(&format!(
            "gluster_operator_nodes{{namespace=\"{}\",cluster=\"twozones\",state=\"Booting\"}} 4",
            world.ns
        )),
        "{metrics}"
    );
    // Every HTTP attempt is counted by service and outcome class.
    for service in ["compute", "block-storage", "network"] {
        assert!(
            world.metrics.cloud_calls(service) > 0,
            "{service}: {metrics}"
        );
    }
    assert!(
        metrics.contains("gluster_operator_cloud_calls_total{service=\"compute\",outcome=\"ok\"}"),
        "{metrics}"
    );

    // Delete: servers, their ports and the security group go; the volumes stay (Retain),
    // detached.
    let server_ids: Vec<String> = status
        .nodes
        .iter()
        .filter_map(|n| n.server_id.clone())
        .collect();
    assert_eq!(server_ids.len(), 4);
    for id in &server_ids {
        assert!(
            !world
                .cloud
                .network()
                .ports_by_device(id)
                .await
                .unwrap()
                .is_empty()
        );
    }
    world
        .clusters
        .delete("twozones", &DeleteParams::default())
        .await
        .unwrap();
    world.wait_deleted("twozones", &uid).await;
    // The key Secret goes with its owner: the real garbage collector follows the owner
    // reference (the operator never deletes it itself).
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while secrets.get_opt("twozones-ssh").await.unwrap().is_some() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the garbage collector removed twozones-ssh after its GlusterCluster");
    world.assert_only_retained_volumes_left(&uid, 4).await;
    for id in &server_ids {
        let ports = world.cloud.network().ports_by_device(id).await.unwrap();
        assert!(ports.is_empty(), "ports of {id} left: {ports:?}");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_spec_is_stalled_and_creates_nothing() {
    if reconcile_support::skip_in_external_mode(
        "refused_spec_is_stalled_and_creates_nothing",
        "needs the simulator's call counters",
    ) {
        return;
    }
    let world = World::start(fast()).await;
    let mut cluster = example("two-zones-replica2.yaml");
    cluster.metadata.name = Some("refused".into());
    cluster.spec.volume.replicas = Some(3);
    world.apply(&cluster).await;
    let refused = world
        .wait_for("refused", "Stalled=True", |c| {
            condition(c, "Stalled").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let (_, reason, message) = condition(&refused, "Stalled").unwrap();
    assert!(!reason.is_empty());
    assert!(message.contains("replicas"), "{reason}: {message}");
    assert_eq!(condition(&refused, "Ready").unwrap().0, "False");
    let counters = world.sim().counters();
    for (method, route) in [
        ("POST", "/compute/v2.1/servers"),
        ("POST", "/volume/v3/{project_id}/volumes"),
        ("POST", "/networking/v2.0/security-groups"),
    ] {
        assert_eq!(
            counters.get(method, route),
            0,
            "{method} {route}: {counters:?}"
        );
    }
    assert!(
        world.metrics.encode().contains(&format!(
            "gluster_operator_reconcile_errors_total{{reason=\"{reason}\"}}"
        )),
        "{}",
        world.metrics.encode()
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quota_is_stalled_with_the_clouds_message() {
    if reconcile_support::skip_in_external_mode(
        "over_quota_is_stalled_with_the_clouds_message",
        "needs the simulator's quotas set by the test",
    ) {
        return;
    }
    let mut sim = fast();
    sim.quotas.instances = 2;
    let world = World::start(sim).await;
    world.apply(&example("two-zones-replica2.yaml")).await;
    let stalled = world
        .wait_for("twozones", "Stalled=True", |c| {
            condition(c, "Stalled").is_some_and(|(s, _, _)| s == "True")
        })
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "QuotaExceeded", "{message}");
    assert!(message.to_lowercase().contains("quota"), "{message}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_faults_are_ridden_out_and_an_error_server_replaced() {
    if reconcile_support::skip_in_external_mode(
        "cloud_faults_are_ridden_out_and_an_error_server_replaced",
        "needs the simulator's fault injection",
    ) {
        return;
    }
    let world = World::start(fast()).await;
    let faults = world.sim().faults();
    faults.fail_next_servers(1, None);
    for (method, path, action) in [
        (
            "POST",
            "/compute/v2.1/servers",
            FaultAction::Error { status: 503 },
        ),
        ("GET", "/volume/*", FaultAction::Error { status: 500 }),
        (
            "GET",
            "/compute/*",
            FaultAction::Throttle {
                retry_after_secs: 0,
            },
        ),
    ] {
        faults
            .add_http(HttpFault {
                method: Some(method.into()),
                path: path.into(),
                action,
                probability: 1.0,
                times: Some(2),
            })
            .unwrap();
    }
    let created = world.apply(&example("two-zones-replica2.yaml")).await;
    let uid = created.uid().unwrap();
    let cluster = world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    let status = cluster.status.unwrap();
    // One server went to ERROR and was replaced: 4 servers now, all ACTIVE, none twinned.
    let servers = world
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
        world
            .sim()
            .counters()
            .get("DELETE", "/compute/v2.1/servers/{id}")
            >= 1,
        "the ERROR server was deleted"
    );
    // Its brick volume was kept and attached to the replacement: still one volume per node.
    let volumes = world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: None,
            metadata: BTreeMap::from([("gluster-operator:cluster-uid".to_string(), uid.clone())]),
        })
        .await
        .unwrap();
    assert_eq!(volumes.len(), 4, "{volumes:?}");
    assert!(status.nodes.iter().all(|n| n.message.is_none()));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brick_volume_in_error_that_never_held_a_brick_is_replaced() {
    if reconcile_support::skip_in_external_mode(
        "a_brick_volume_in_error_that_never_held_a_brick_is_replaced",
        "needs the simulator's fault injection",
    ) {
        return;
    }
    reconcile_support::logs_to_test_output();
    let world = World::start(fast()).await;
    // The first brick volume Cinder creates ends in `error`.
    world.sim().faults().fail_next_volumes(1);
    let created = world.apply(&example("two-zones-replica2.yaml")).await;
    let uid = created.uid().unwrap();
    world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    let volumes = world
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
        4,
        "one volume per node, none in error: {volumes:?}"
    );
    assert!(
        volumes.iter().all(|v| v.status == VolumeStatus::InUse),
        "{volumes:?}"
    );
    assert!(
        world
            .sim()
            .counters()
            .get("DELETE", "/volume/v3/{project_id}/volumes/{id}")
            >= 1,
        "the volume in error was deleted"
    );
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(world.client.clone(), &world.ns);
    let reasons: Vec<String> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r == "FailedVolumeDeleted"),
        "{reasons:?}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_adopts_what_exists() {
    if reconcile_support::skip_in_external_mode(
        "a_restarted_operator_adopts_what_exists",
        "needs the simulator's slow-boot timing and call counters",
    ) {
        return;
    }
    let mut sim = fast();
    // Slow boots, so the crash lands while servers are still building.
    sim.timing.server_build_ms = 1500;
    let mut world = World::start(sim).await;
    let created = world.apply(&example("two-zones-replica2.yaml")).await;
    let uid = created.uid().unwrap();
    world
        .wait_for("twozones", "servers being created", |c| {
            c.status
                .as_ref()
                .is_some_and(|s| s.nodes.iter().any(|n| n.server_id.is_some()))
        })
        .await;
    world.crash_and_restart_controller().await;
    let cluster = world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    let counters = world.sim().counters();
    assert_eq!(
        counters.get("POST", "/compute/v2.1/servers"),
        4,
        "{counters:?}"
    );
    assert_eq!(
        counters.get("POST", "/volume/v3/{project_id}/volumes"),
        4,
        "{counters:?}"
    );
    let status = cluster.status.unwrap();
    assert_eq!(status.nodes.len(), 4);
    let servers = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(servers.len(), 4);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_without_block_storage_gets_the_fallback_flavor_and_an_ephemeral_brick() {
    let world = World::start(fast()).await;
    let created = world.apply(&example("ephemeral-zone.yaml")).await;
    let uid = created.uid().unwrap();
    let cluster = world
        .wait_for("mixed", "4 servers active with bricks attached", all_booted)
        .await;
    let status = cluster.status.unwrap();
    let zones: Vec<_> = status
        .zones
        .iter()
        .map(|z| (z.name.as_str(), format!("{:?}", z.storage)))
        .collect();
    assert_eq!(
        zones,
        [
            ("zone-a", "Some(Volume)".to_string()),
            ("zone-c", "Some(Ephemeral)".to_string())
        ]
    );
    let servers = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    let xlarge = world.cloud.compute().flavor("m1.xlarge").await.unwrap();
    let medium = world.cloud.compute().flavor("m1.medium").await.unwrap();
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
        let attached = server.attached_volume_ids().len();
        assert_eq!(attached, usize::from(zone == "zone-a"), "{}", server.name);
    }
    let zone_c: Vec<_> = status.nodes.iter().filter(|n| n.zone == "zone-c").collect();
    assert_eq!(zone_c.len(), 2);
    assert!(zone_c.iter().all(|n| n.volume_id.is_none()));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_delete_removes_the_volumes_too() {
    let world = World::start(fast()).await;
    let mut cluster = example("two-zones-replica2.yaml");
    cluster.spec.deletion_policy = gluster_operator::api::DeletionPolicy::Delete;
    let created = world.apply(&cluster).await;
    let uid = created.uid().unwrap();
    world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    world
        .clusters
        .delete("twozones", &DeleteParams::default())
        .await
        .unwrap();
    world.wait_deleted("twozones", &uid).await;
    let volumes = world
        .cloud
        .volume()
        .list_volumes(&VolumeQuery {
            name: None,
            metadata: BTreeMap::from([("gluster-operator:cluster-uid".to_string(), uid.clone())]),
        })
        .await
        .unwrap();
    assert!(volumes.is_empty(), "{volumes:?}");
    let servers = world
        .cloud
        .compute()
        .list_servers(&ServerQuery {
            tags: vec![format!("glusterops-uid:{uid}")],
            ..ServerQuery::default()
        })
        .await
        .unwrap();
    assert!(servers.is_empty(), "{servers:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_object_is_stalled_not_a_broken_watch() {
    if reconcile_support::skip_in_external_mode(
        "a_malformed_object_is_stalled_not_a_broken_watch",
        "replaces the cluster-wide CRD with a loose one",
    ) {
        return;
    }
    // A CRD whose spec schema accepts anything (as when the CRD in the cluster is newer or
    // older than the operator): an object the operator cannot read reaches it.
    let world = World::start_with_crd(fast(), |crd| {
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] =
            serde_json::json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    })
    .await;
    let dynamic: Api<kube::api::DynamicObject> = Api::namespaced_with(
        world.client.clone(),
        &world.ns,
        &kube::discovery::ApiResource::erase::<GlusterCluster>(&()),
    );
    let bad: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "storage.glusterops.dev/v1alpha1",
        "kind": "GlusterCluster",
        "metadata": {"name": "bad"},
        "spec": {"zones": "not a list"},
    }))
    .unwrap();
    dynamic
        .create(&kube::api::PostParams::default(), &bad)
        .await
        .unwrap();
    // A good cluster beside it is still reconciled: the watch is not broken.
    world.apply(&example("two-zones-replica2.yaml")).await;
    let status_of_bad = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        loop {
            let obj = dynamic.get("bad").await.unwrap();
            let stalled = obj.data["status"]["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == "Stalled").cloned());
            if let Some(c) = stalled {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the malformed object got a Stalled condition");
    assert_eq!(status_of_bad["status"], "True");
    assert_eq!(status_of_bad["reason"], "MalformedObject");
    assert!(
        status_of_bad["message"]
            .as_str()
            .unwrap()
            .contains("spec.zones: "),
        "{status_of_bad}"
    );
    world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_replicas_only_the_leader_reconciles_and_the_other_takes_over() {
    if reconcile_support::skip_in_external_mode(
        "of_two_replicas_only_the_leader_reconciles_and_the_other_takes_over",
        "needs the simulator's call counters and the chart's Lease",
    ) {
        return;
    }
    let world = World::start_without_controller(fast()).await;
    let a = Replica::start(&world, "replica-a");
    // a leads before b starts campaigning, so the roles are known.
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while !a.leads() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a leads");
    let b = Replica::start(&world, "replica-b");
    world.apply(&example("two-zones-replica2.yaml")).await;
    world
        .wait_for(
            "twozones",
            "4 servers active with bricks attached",
            all_booted,
        )
        .await;
    assert!(a.reconciles() > 0);
    assert_eq!(b.reconciles(), 0, "the standby does not reconcile");
    assert!(!b.leads());

    // a shuts down (releasing the Lease); b takes over and reconciles.
    a.stop().await;
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while b.reconciles() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("b took over and reconciled");
    assert!(b.leads());
    assert_eq!(
        world.sim().counters().get("POST", "/compute/v2.1/servers"),
        4
    );
    b.stop().await;
    world.stop().await;
}

/// The tests of this file that run in external mode (the others skip it with a reason).
const EXTERNAL_TESTS: [&str; 3] = [
    "two_zones_become_servers_volumes_and_a_security_group_then_go",
    "a_zone_without_block_storage_gets_the_fallback_flavor_and_an_ephemeral_brick",
    "deletion_policy_delete_removes_the_volumes_too",
];

/// External mode, proved on the path a real cluster and cloud take: `devenv up --no-nodes`
/// runs as a separate process, and this test binary is run again with `E2E_EXTERNAL=1`,
/// `KUBECONFIG`, `OS_CLIENT_CONFIG_FILE` and `OS_CLOUD` pointing at it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_runs_in_external_mode_against_a_separate_devenv() {
    if reconcile_support::skip_in_external_mode(
        "the_suite_runs_in_external_mode_against_a_separate_devenv",
        "it is the driver of external mode",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let devenv = env!("CARGO_BIN_EXE_devenv");
    let mut up = tokio::process::Command::new(devenv)
        .args(["up", "--no-nodes", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{devenv}: {e}"));
    // A hang guard, not a speed check.
    let ready = dir.path().join("ready");
    let waited = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while !ready.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "devenv never wrote {}", ready.display());
    let mut all = vec![
        "refused_spec_is_stalled_and_creates_nothing",
        "cloud_faults_are_ridden_out_and_an_error_server_replaced",
    ];
    all.extend(EXTERNAL_TESTS);
    let out = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(&all)
        .args(["--exact", "--nocapture", "--test-threads", "2"])
        .env("E2E_EXTERNAL", "1")
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .env("OS_CLIENT_CONFIG_FILE", dir.path().join("clouds.yaml"))
        .env("OS_CLOUD", "sim")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let down = tokio::process::Command::new(devenv)
        .args(["down", "--dir"])
        .arg(dir.path())
        .status()
        .await
        .unwrap();
    let _ = up.wait().await;
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(down.success());
    assert!(
        stdout.contains("test result: ok. 5 passed"),
        "{stdout}\n{stderr}"
    );
    for test in EXTERNAL_TESTS {
        assert!(stdout.contains(&format!("test {test} ... ok")), "{stdout}");
        assert!(!stdout.contains(&format!("SKIPPED in external mode: {test}:")));
    }
    assert!(
        stdout.contains("SKIPPED in external mode: refused_spec_is_stalled_and_creates_nothing:"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("external mode: namespace e2e-").count(),
        3,
        "{stdout}"
    );
}
