//! Decide's tests: plain data in, actions, status and waits out — no network, no process, no
//! clock. Each decision the end-to-end suites exercise over the simulated world is taken here
//! from a snapshot: creation, replacement of a server in ERROR, reuse and attachment of a
//! brick volume, the ephemeral fallback, the bootstrap wait, the gluster steps, Ready, the
//! Stalled and Reconciling reasons, the pacing and the security group's drift check.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::api::conditions::{READY, STALLED, TRUE, find};
use crate::cloud::{Server, Volume};
use crate::controller::context::ControllerConfig;
use crate::controller::error::ReconcileError;
use crate::controller::observe::{GlusterSeen, Observed, SeenVolume, Snapshot};
use crate::controller::owner::Owner;
use crate::gluster::xml::{
    BrickStatus, TaskStatus, VolumeBrick, VolumeInfo, VolumeState, VolumeStatus as XmlStatus,
    VolumeTask, VolumeType,
};
use crate::plan::Step;

const SPEC: &str = "cloud: {secretName: s, cloudName: c}\nimage: debian-12\nflavor: f\nnetwork: net\nzones: [{name: a, nodes: 2}]\nbrick: {size: 1Gi}\nvolume: {name: v, allowedClients: [10.0.0.0/8]}\n";

fn spec(yaml: &str) -> GlusterClusterSpec {
    serde_yaml::from_str(yaml).expect("spec")
}

fn owner() -> Owner {
    Owner {
        namespace: "ns".into(),
        name: "c".into(),
        uid: "u".into(),
    }
}

fn tuning() -> Tuning {
    Tuning::of(&ControllerConfig::default())
}

fn wall() -> Time {
    Time(Timestamp::from_second(1_700_000_000).expect("time"))
}

fn server(name: &str, index: u32, status: &str, attached: &[&str]) -> Server {
    let volumes: Vec<_> = attached.iter().map(|v| json!({"id": v})).collect();
    serde_json::from_value(json!({
        "id": format!("srv-{name}"), "name": name, "status": status,
        "OS-EXT-AZ:availability_zone": "a",
        "metadata": owner().node_metadata(name, index),
        "os-extended-volumes:volumes_attached": volumes,
        "addresses": {"net": [{"addr": format!("10.0.0.{}", index + 1), "version": 4}]},
        "fault": if status == "ERROR" { json!({"message": "No valid host"}) } else { json!(null) },
        "flavor": {},
    }))
    .expect("a server document")
}

fn volume(name: &str, index: u32, status: &str) -> Volume {
    serde_json::from_value(json!({
        "id": format!("vol-{name}"), "name": format!("{name}-brick"), "status": status,
        "size": 1, "availability_zone": "a",
        "metadata": owner().node_metadata(name, index),
    }))
    .expect("a volume document")
}

fn cloud(servers: Vec<Server>, volumes: Vec<Volume>) -> Observed {
    Observed {
        servers,
        volumes,
        block_storage_zones: BTreeSet::from(["a".to_string()]),
        ports: Vec::new(),
    }
}

/// Both nodes ACTIVE with their brick volumes attached.
fn booted() -> Observed {
    cloud(
        vec![
            server("c-a-1", 0, "ACTIVE", &["vol-c-a-1"]),
            server("c-a-2", 1, "ACTIVE", &["vol-c-a-2"]),
        ],
        vec![volume("c-a-1", 0, "in-use"), volume("c-a-2", 1, "in-use")],
    )
}

fn first_look() -> Look {
    look(
        &Memory::default(),
        Some(1),
        "net",
        Instant::now(),
        &tuning(),
    )
}

fn snapshot(cloud: Observed, gluster: GlusterSeen) -> Snapshot {
    Snapshot {
        look: first_look(),
        cloud,
        build_estimate: None,
        gluster,
    }
}

fn up() -> Vec<NodeUp> {
    nodes_up(&booted(), 2, "net").expect("both up")
}

/// A started replica-2 volume over both nodes, `online` bricks online.
fn started(online: bool, tasks: Vec<VolumeTask>) -> SeenVolume {
    let brick = |i: u32| VolumeBrick {
        host: format!("10.0.0.{i}"),
        path: "/export/v/brick".into(),
        host_uuid: format!("u{i}"),
        is_arbiter: false,
    };
    let info = VolumeInfo {
        name: "v".into(),
        id: "id".into(),
        state: VolumeState::Started,
        volume_type: VolumeType::Replicate,
        brick_count: 2,
        replica_count: 2,
        arbiter_count: 0,
        disperse_count: 0,
        redundancy_count: 0,
        distribute_count: 1,
        snapshot_count: 0,
        transport: 0,
        bricks: vec![brick(1), brick(2)],
        options: [
            // As the operator writes it: the client patterns, then the node addresses.
            (
                "auth.allow".to_string(),
                "10.*,10.0.0.1,10.0.0.2".to_string(),
            ),
            (
                "performance.client-io-threads".to_string(),
                "on".to_string(),
            ),
        ]
        .into(),
    };
    let status = XmlStatus {
        name: "v".into(),
        bricks: (1..=2)
            .map(|i| BrickStatus {
                host: format!("10.0.0.{i}"),
                path: "/export/v/brick".into(),
                peer_id: format!("u{i}"),
                online,
                port: Some(49152),
                pid: Some(1),
                size_total: None,
                size_free: None,
            })
            .collect(),
        daemons: Vec::new(),
        tasks,
    };
    SeenVolume {
        info: Box::new(info),
        status: Some(Box::new(status)),
        health: None,
        strangers: Vec::new(),
    }
}

struct Pass1 {
    decision: Result<Decision, ReconcileError>,
    pass: Option<super::Pass>,
}

/// One pass over `snapshot` from `memory`, act reporting `outcome`.
fn run(
    spec: &GlusterClusterSpec,
    previous: Option<&GlusterClusterStatus>,
    snapshot: &Snapshot,
    memory: &Memory,
    outcome: impl FnOnce(&Decision) -> Outcome,
) -> Pass1 {
    let now = Instant::now();
    let input = Input {
        name: "c",
        generation: Some(1),
        spec,
        previous,
        snapshot,
        memory,
        now,
        tuning: tuning(),
    };
    let decision = decide(&input);
    let pass = decision.as_ref().ok().map(|d| {
        let outcome = outcome(d);
        conclude(&input, d.clone(), outcome, now, wall())
    });
    Pass1 { decision, pass }
}

fn kinds(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .map(|a| match a {
            Action::EnsureSecurityGroup { .. } => "EnsureSecurityGroup",
            Action::DeleteFailedServer { .. } => "DeleteFailedServer",
            Action::RebootServer { .. } => "RebootServer",
            Action::CreateNode { .. } => "CreateNode",
            Action::RejoinNodes { .. } => "RejoinNodes",
            Action::AttachVolume { .. } => "AttachVolume",
            Action::DeleteDuplicateServer { .. } => "DeleteDuplicateServer",
            Action::Gluster { .. } => "Gluster",
            Action::RestartBricks { .. } => "RestartBricks",
            Action::ReplaceBricks { .. } => "ReplaceBricks",
            Action::DeleteUnusedVolume { .. } => "DeleteUnusedVolume",
        })
        .collect()
}

fn condition_reason(status: &GlusterClusterStatus, type_: &str) -> (String, String) {
    let c = find(&status.conditions, type_).expect("condition");
    (c.status.clone(), c.reason.clone())
}

fn reason(pass: &super::Pass) -> String {
    condition_reason(&pass.status, READY).1
}

#[test]
fn a_new_cluster_gets_its_group_and_every_node_created_with_a_new_volume() {
    let spec = spec(SPEC);
    let snap = snapshot(cloud(vec![], vec![]), GlusterSeen::NotAsked);
    let r = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = r.decision.expect("decision");
    assert_eq!(
        kinds(&d.actions),
        ["EnsureSecurityGroup", "CreateNode", "CreateNode"]
    );
    match &d.actions[0] {
        Action::EnsureSecurityGroup { clients, ssh_from } => {
            assert_eq!(clients, &["10.0.0.0/8"]);
            assert!(ssh_from.is_empty(), "the network's subnets: {ssh_from:?}");
        }
        other => panic!("{other:?}"),
    }
    match &d.actions[1] {
        Action::CreateNode {
            node,
            brick,
            keys_for,
            returns_to,
        } => {
            assert!(returns_to.is_empty(), "a new node");
            assert_eq!(node.name, "c-a-1");
            assert_eq!(
                brick,
                &NewBrick::Volume {
                    existing: None,
                    size_gib: 1
                }
            );
            assert_eq!(keys_for, &["c-a-1", "c-a-2"]);
        }
        other => panic!("{other:?}"),
    }
    let pass = r.pass.expect("pass");
    assert_eq!(reason(&pass), "CreatingServers");
    assert_eq!(pass.requeue, tuning().requeue_min);
    assert_eq!(pass.status.desired_nodes, 2);
}

#[test]
fn the_security_group_is_ensured_once_per_generation_and_on_full_observations() {
    let spec = spec(SPEC);
    let snap = snapshot(booted(), GlusterSeen::NotAsked);
    let first = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .pass
    .expect("pass");
    assert!(first.memory.security_group);
    let mut later = snap.clone();
    later.look.full = false;
    let d = run(&spec, None, &later, &first.memory, |_| Outcome::default())
        .decision
        .expect("decision");
    assert!(!kinds(&d.actions).contains(&"EnsureSecurityGroup"));
    later.look.full = true;
    let d = run(&spec, None, &later, &first.memory, |_| Outcome::default())
        .decision
        .expect("decision");
    assert!(kinds(&d.actions).contains(&"EnsureSecurityGroup"));
}

#[test]
fn a_server_in_error_is_deleted_for_replacement_and_its_volume_kept() {
    let spec = spec(SPEC);
    let snap = snapshot(
        cloud(
            vec![
                server("c-a-1", 0, "ERROR", &[]),
                server("c-a-2", 1, "ACTIVE", &["vol-c-a-2"]),
            ],
            vec![
                volume("c-a-1", 0, "available"),
                volume("c-a-2", 1, "in-use"),
            ],
        ),
        GlusterSeen::NotAsked,
    );
    let r = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = r.decision.expect("decision");
    assert_eq!(
        kinds(&d.actions),
        ["EnsureSecurityGroup", "DeleteFailedServer"]
    );
    match &d.actions[1] {
        Action::DeleteFailedServer {
            server_id, fault, ..
        } => {
            assert_eq!(server_id, "srv-c-a-1");
            assert_eq!(fault, "No valid host");
        }
        other => panic!("{other:?}"),
    }
    let pass = r.pass.expect("pass");
    assert_eq!(reason(&pass), "ReplacingFailedServer");
}

#[test]
fn a_replacement_boots_with_the_surviving_brick_volume() {
    let spec = spec(SPEC);
    let snap = snapshot(
        cloud(
            vec![server("c-a-2", 1, "ACTIVE", &["vol-c-a-2"])],
            vec![
                volume("c-a-1", 0, "available"),
                volume("c-a-2", 1, "in-use"),
            ],
        ),
        GlusterSeen::NotAsked,
    );
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    let created: Vec<_> = d
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::CreateNode { node, brick, .. } => Some((node.name.as_str(), brick)),
            _ => None,
        })
        .collect();
    assert_eq!(
        created,
        [(
            "c-a-1",
            &NewBrick::Volume {
                existing: Some("vol-c-a-1".into()),
                size_gib: 1
            }
        )]
    );
}

#[test]
fn an_active_server_gets_its_available_volume_attached_and_the_wait_goes_through_the_nodes() {
    let spec = spec(SPEC);
    let snap = snapshot(
        cloud(
            vec![
                server("c-a-1", 0, "ACTIVE", &[]),
                server("c-a-2", 1, "BUILD", &[]),
            ],
            vec![
                volume("c-a-1", 0, "available"),
                volume("c-a-2", 1, "available"),
            ],
        ),
        GlusterSeen::NotAsked,
    );
    let r = run(&spec, None, &snap, &Memory::default(), |d| Outcome {
        attached: d
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::AttachVolume {
                    server_id,
                    volume_id,
                    ..
                } => Some((server_id.clone(), volume_id.clone())),
                _ => None,
            })
            .collect(),
        ..Outcome::default()
    });
    let d = r.decision.expect("decision");
    assert_eq!(kinds(&d.actions), ["EnsureSecurityGroup", "AttachVolume"]);
    let pass = r.pass.expect("pass");
    // The attachment is noted in what is remembered, as the next listing would show it.
    let seen = pass.memory.observed.as_ref().expect("observed");
    assert!(
        seen.server("c-a-1")
            .expect("server")
            .attached_volume_ids()
            .contains(&"vol-c-a-1")
    );
    assert_eq!(pass.memory.attached_at, pass.memory.volumes_at);
    assert!(pass.memory.attached_at.is_some());
}

#[test]
fn a_zone_without_block_storage_boots_on_the_fallback_flavor_with_an_ephemeral_brick() {
    let spec = spec(
        "cloud: {secretName: s, cloudName: c}\nimage: debian-12\nflavor: f\nnetwork: net\nzones: [{name: a, nodes: 1, fallbackFlavor: big}]\nbrick: {size: 1Gi}\nvolume: {name: v}\n",
    );
    let mut observed = cloud(vec![], vec![]);
    observed.block_storage_zones.clear();
    let snap = snapshot(observed, GlusterSeen::NotAsked);
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    match &d.actions[1] {
        Action::CreateNode { node, brick, .. } => {
            assert_eq!(brick, &NewBrick::Ephemeral);
            assert_eq!(node.storage.flavor(), Some("big"));
        }
        other => panic!("{other:?}"),
    }
    match &d.actions[0] {
        // Default deny: no clients, never the world.
        Action::EnsureSecurityGroup { clients, ssh_from } => {
            assert!(
                clients.is_empty() && ssh_from.is_empty(),
                "{clients:?} {ssh_from:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn booted_nodes_still_running_their_brick_script_are_waited_for_without_gluster() {
    let spec = spec(SPEC);
    let snap = snapshot(booted(), GlusterSeen::Bootstrapping(vec!["c-a-2".into()]));
    let r = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = r.decision.expect("decision");
    assert!(!kinds(&d.actions).contains(&"Gluster"));
    let pass = r.pass.expect("pass");
    assert_eq!(reason(&pass), "WaitingForBootstrap");
    assert!(pass.status.conditions[0].message.contains("c-a-2"));
    assert!(pass.requeue <= tuning().requeue_bootstrap);
}

#[test]
fn without_a_volume_the_steps_are_probe_wait_create_options_start() {
    let spec = spec(SPEC);
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: None,
        },
    );
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    let Some(Action::Gluster {
        steps, then, nodes, ..
    }) = d.actions.last()
    else {
        panic!("{:?}", d.actions)
    };
    let step_kinds: Vec<_> = steps.iter().map(Step::kind).collect();
    assert_eq!(step_kinds.first(), Some(&"ProbePeer"));
    assert_eq!(step_kinds.get(1), Some(&"WaitPeersConnected"));
    assert!(step_kinds.contains(&"CreateVolume"));
    assert_eq!(step_kinds.last(), Some(&"StartVolume"));
    assert_eq!(then, &None);
    assert_eq!(nodes.order, ["c-a-1", "c-a-2"]);
    assert_eq!(nodes.addresses["c-a-2"], "10.0.0.2");
}

#[test]
fn a_wait_not_satisfied_keeps_the_cluster_configuring() {
    let spec = spec(SPEC);
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: None,
        },
    );
    let pass = run(&spec, None, &snap, &Memory::default(), |_| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: vec![Done {
                reason: "PeerProbed".into(),
                note: "c-a-2 probed from c-a-1".into(),
            }],
            waiting: Some("waiting for peers to join the pool: c-a-2".into()),
            after: Some(None),
        }),
        ..Outcome::default()
    })
    .pass
    .expect("pass");
    assert_eq!(reason(&pass), "ConfiguringGluster");
    assert!(
        pass.notes
            .iter()
            .any(|n| n.reason == "PeerProbed" && !n.warning)
    );
    assert!(pass.requeue <= tuning().requeue_bootstrap);
    assert_eq!(pass.status.mount, None);
}

#[test]
fn a_started_volume_with_every_brick_online_is_ready_with_its_mount() {
    let spec = spec(SPEC);
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(started(true, Vec::new())),
        },
    );
    let r = run(&spec, None, &snap, &Memory::default(), |_| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: Vec::new(),
            waiting: None,
            after: None,
        }),
        ..Outcome::default()
    });
    let d = r.decision.expect("decision");
    match d.actions.last() {
        Some(Action::Gluster { steps, .. }) => assert!(steps.is_empty(), "{steps:?}"),
        other => panic!("{other:?}"),
    }
    let pass = r.pass.expect("pass");
    assert_eq!(
        condition_reason(&pass.status, READY),
        (TRUE.into(), "VolumeReady".into())
    );
    assert_eq!(pass.status.mount.as_deref(), Some("10.0.0.1:/v"));
    assert_eq!(pass.status.backup_volfile_servers, ["10.0.0.2"]);
    assert_eq!(pass.status.ready_nodes, 2);
    assert_eq!(pass.status.capacity.as_deref(), Some("1Gi"));
    // A settled cluster's health is read every health interval, without the cloud...
    assert_eq!(pass.requeue, tuning().health_interval);
    assert!(pass.memory.ready);
    let now = Instant::now();
    let next = look(&pass.memory, Some(1), "net", now, &tuning());
    assert!(!next.full && !next.lists.any(), "{next:?}");
    // ...and the settled resync observes everything again.
    let resync = look(
        &pass.memory,
        Some(1),
        "net",
        now + tuning().requeue_settled,
        &tuning(),
    );
    assert!(resync.full);
}

#[test]
fn a_brick_offline_or_a_running_rebalance_is_not_ready() {
    let spec = spec(SPEC);
    for volume in [
        started(false, Vec::new()),
        started(
            true,
            vec![VolumeTask {
                kind: "Rebalance".into(),
                id: "t".into(),
                status: TaskStatus::InProgress,
                bricks: Vec::new(),
            }],
        ),
    ] {
        let snap = snapshot(
            booted(),
            GlusterSeen::Volume {
                nodes: up(),
                volume: Some(volume),
            },
        );
        let pass = run(&spec, None, &snap, &Memory::default(), |_| Outcome {
            gluster: Some(GlusterOutcome::Ran {
                done: Vec::new(),
                waiting: None,
                after: None,
            }),
            ..Outcome::default()
        })
        .pass
        .expect("pass");
        assert_eq!(reason(&pass), "ConfiguringGluster");
        assert!(pass.requeue < tuning().requeue_settled);
    }
}

#[test]
fn gluster_failures_are_reconciling_or_stalled_counted_and_reported() {
    let spec = spec(SPEC);
    let failure = |terminal: bool| Failure {
        reason: "NodeUnreachable".into(),
        message: "ssh: connection refused".into(),
        terminal,
        cloud: false,
        retry_after: None,
        awaits: None,
    };
    let snap = snapshot(booted(), GlusterSeen::Failed(failure(false)));
    let pass = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .pass
    .expect("pass");
    assert_eq!(reason(&pass), "NodeUnreachable");
    assert_eq!(pass.errors, ["NodeUnreachable"]);
    assert!(
        pass.notes
            .iter()
            .any(|n| n.warning && n.action == "Gluster")
    );
    assert!(pass.requeue <= tuning().requeue_bootstrap);

    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: None,
        },
    );
    let pass = run(&spec, None, &snap, &Memory::default(), |_| Outcome {
        gluster: Some(GlusterOutcome::Failed(failure(true))),
        ..Outcome::default()
    })
    .pass
    .expect("pass");
    assert_eq!(
        condition_reason(&pass.status, STALLED),
        (TRUE.into(), "NodeUnreachable".into())
    );
    assert_eq!(pass.requeue, tuning().requeue_error);
}

#[test]
fn a_refused_spec_fails_the_pass_as_stalled_with_the_planners_reason() {
    let spec = spec(
        "cloud: {secretName: s, cloudName: c}\nimage: debian-12\nflavor: f\nnetwork: net\nzones: [{name: a, nodes: 3}]\nbrick: {size: 1Gi}\nvolume: {name: v, replicas: 2}\n",
    );
    let snap = snapshot(cloud(vec![], vec![]), GlusterSeen::NotAsked);
    let e = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect_err("refused");
    let failure = Failure::of(&e);
    assert!(failure.terminal);
    let pass = failed(
        &failure,
        &spec,
        Some(1),
        None,
        &Memory::default(),
        &tuning(),
        Instant::now(),
        wall(),
    );
    let (status, reason) = condition_reason(&pass.status, STALLED);
    assert_eq!(status, TRUE);
    assert_eq!(reason, e.reason());
    assert_eq!(pass.requeue, tuning().requeue_stalled);
    assert_eq!(pass.errors, [e.reason()]);
    assert_eq!(pass.status.desired_nodes, 3);
    // The next pass observes everything again.
    assert!(pass.memory.observed.is_none());
}

#[test]
fn passing_failures_wait_for_the_clouds_retry_after_or_the_error_delay() {
    let t = tuning();
    let cloud_failure = Failure {
        reason: "RateLimited".into(),
        message: "429".into(),
        terminal: false,
        cloud: true,
        retry_after: Some(Duration::from_millis(100)),
        awaits: None,
    };
    assert_eq!(retry_delay(&cloud_failure, &t), t.requeue_working);
    let later = Failure {
        retry_after: Some(Duration::from_secs(30)),
        ..cloud_failure.clone()
    };
    assert_eq!(retry_delay(&later, &t), Duration::from_secs(30));
    let kube = Failure {
        cloud: false,
        retry_after: None,
        ..cloud_failure
    };
    assert_eq!(retry_delay(&kube, &t), t.requeue_error);
    let pass = failed(
        &kube,
        &spec(SPEC),
        Some(1),
        None,
        &Memory::default(),
        &t,
        Instant::now(),
        wall(),
    );
    assert_eq!(pass.requeue, t.requeue_error);
    // Counted by the wrapper when returned, not here.
    assert!(pass.errors.is_empty());
    assert_eq!(reason(&pass), "RateLimited");
}

#[test]
fn scale_in_steps_are_run_and_a_removal_ends_the_run() {
    let g = crate::plan::Gluster {
        volume: "v".into(),
        brick_path: "/export/v/brick".into(),
    };
    let steps = vec![
        Step::CreateVolume {
            on: "n".into(),
            command: g.volume_start(),
        },
        Step::DeleteNode { node: "n2".into() },
        Step::RemoveReplicaBrick {
            on: "n".into(),
            brick: "n2".into(),
            replica: 1,
            command: g.remove_replica_brick(1, "n2"),
        },
        Step::StartVolume {
            on: "n".into(),
            command: g.volume_start(),
        },
    ];
    let (run, then) = runnable(&steps);
    assert_eq!(run.len(), 3);
    assert!(
        then.expect("stops")
            .contains("brick of n2 removed (replica 1)")
    );
    let (run, then) = runnable(&[Step::CreateNode { node: "n3".into() }]);
    assert!(run.is_empty());
    assert_eq!(then.as_deref(), Some("node n3 is not created yet"));
}

/// The started replica-2 volume of [`started`] with its health read: `pending` entries
/// pending heal on the first brick.
fn started_healthy(pending: u64) -> SeenVolume {
    use crate::gluster::xml::parse_heal_info;
    let mut seen = started(true, Vec::new());
    let heal = parse_heal_info(&format!(
        "<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><healInfo><bricks>\
         <brick hostUuid=\"u1\"><name>10.0.0.1:/export/v/brick</name><status>Connected</status>\
         <totalNumberOfEntries>{pending}</totalNumberOfEntries><numberOfEntriesInHealPending>{pending}</numberOfEntriesInHealPending>\
         <numberOfEntriesInSplitBrain>0</numberOfEntriesInSplitBrain><numberOfEntriesPossiblyHealing>0</numberOfEntriesPossiblyHealing></brick>\
         <brick hostUuid=\"u2\"><name>10.0.0.2:/export/v/brick</name><status>Connected</status>\
         <totalNumberOfEntries>0</totalNumberOfEntries><numberOfEntriesInHealPending>0</numberOfEntriesInHealPending>\
         <numberOfEntriesInSplitBrain>0</numberOfEntriesInSplitBrain><numberOfEntriesPossiblyHealing>0</numberOfEntriesPossiblyHealing></brick>\
         </bricks></healInfo></cliOutput>"
    ))
    .expect("heal info summary");
    seen.health = Some(crate::controller::observe::SeenHealth {
        read_from: "c-a-1".into(),
        read_address: Some("10.0.0.1".into()),
        unanswered: Vec::new(),
        pool: None,
        detail: None,
        heal: Some(heal),
    });
    seen
}

#[test]
fn a_replica_is_lowered_on_a_healthy_volume_and_refused_while_healing() {
    let spec = spec(&SPEC.replace("nodes: 2", "nodes: 1"));
    // Healthy: the pass runs the heal check and the removal of the newest brick, then stops.
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(started_healthy(0)),
        },
    );
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    let steps = d
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Gluster { steps, then, .. } => Some((steps.clone(), then.clone())),
            _ => None,
        })
        .expect("gluster steps");
    assert_eq!(
        steps.0.iter().map(Step::kind).collect::<Vec<_>>(),
        ["WaitHealed", "RemoveReplicaBrick"]
    );
    match &steps.0[1] {
        Step::RemoveReplicaBrick { brick, replica, .. } => {
            assert_eq!((brick.as_str(), *replica), ("c-a-2", 1));
        }
        other => panic!("{other:?}"),
    }
    assert!(steps.1.expect("stops after the removal").contains("c-a-2"));
    // Healing: nothing removed, Stalled with the figures.
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(started_healthy(5)),
        },
    );
    let r = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = r.decision.expect("decision");
    assert!(
        !d.actions
            .iter()
            .any(|a| matches!(a, Action::Gluster { .. })),
        "{:?}",
        d.actions
    );
    let pass = r.pass.expect("pass");
    let stalled = find(&pass.status.conditions, STALLED).expect("Stalled");
    assert_eq!(stalled.status, TRUE);
    assert_eq!(stalled.reason, "ScaleInRefused");
    assert!(
        stalled.message.contains("5 entries pending heal")
            && stalled.message.contains("nothing was removed"),
        "{}",
        stalled.message
    );
}

#[test]
fn servers_building_are_polled_where_their_builds_should_end() {
    let spec = spec(SPEC);
    let mut snap = snapshot(
        cloud(
            vec![
                server("c-a-1", 0, "BUILD", &[]),
                server("c-a-2", 1, "BUILD", &[]),
            ],
            vec![
                volume("c-a-1", 0, "available"),
                volume("c-a-2", 1, "available"),
            ],
        ),
        GlusterSeen::NotAsked,
    );
    snap.build_estimate = Some(Duration::from_secs(20));
    let memory = Memory {
        servers_created_at: Some(Instant::now()),
        generation: Some(1),
        ..Memory::default()
    };
    let pass = run(&spec, None, &snap, &memory, |_| Outcome::default())
        .pass
        .expect("pass");
    assert!(
        pass.requeue > tuning().requeue_working,
        "{:?}",
        pass.requeue
    );
    assert!(pass.memory.servers_created_at.is_some());
}

#[test]
fn a_deletion_under_way_looks_again_with_a_backoff_reset_by_progress() {
    let t = tuning();
    let (d1, m1) = still_deleting(&Memory::default(), 1, &t);
    let (d2, m2) = still_deleting(&m1, 1, &t);
    let (d3, _) = still_deleting(&m2, 2, &t);
    assert_eq!(d1, t.requeue_min);
    assert_eq!(d2, t.requeue_min * 2);
    assert_eq!(d3, t.requeue_min);
}

#[test]
fn the_next_look_lists_only_what_is_awaited() {
    let spec = spec(SPEC);
    let mut snap = snapshot(booted(), GlusterSeen::NotAsked);
    snap.gluster = GlusterSeen::Volume {
        nodes: up(),
        volume: Some(started(false, Vec::new())),
    };
    let pass = run(&spec, None, &snap, &Memory::default(), |_| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: Vec::new(),
            waiting: None,
            after: None,
        }),
        ..Outcome::default()
    })
    .pass
    .expect("pass");
    let next = look(&pass.memory, Some(1), "net", Instant::now(), &tuning());
    assert!(!next.full);
    assert!(!next.lists.any());
    assert!(!next.zones);
    // A new generation looks at everything.
    let other = look(&pass.memory, Some(2), "net", Instant::now(), &tuning());
    assert!(other.full && other.zones && other.lists == pace::Lists::ALL);
}

#[test]
fn gluster_is_asked_only_once_every_node_is_up() {
    assert!(nodes_up(&booted(), 3, "net").is_none());
    let mut attaching = booted();
    attaching.volumes[1] = volume("c-a-2", 1, "attaching");
    assert!(nodes_up(&attaching, 2, "net").is_none());
    let up = nodes_up(&booted(), 2, "net").expect("up");
    assert_eq!(
        up.iter().map(|n| n.address.as_deref()).collect::<Vec<_>>(),
        [Some("10.0.0.1"), Some("10.0.0.2")]
    );
}

#[test]
fn a_snapshot_saved_as_json_replays_to_the_same_decision() {
    let spec = spec(SPEC);
    let mut observed = booted();
    observed.servers[1] = server("c-a-2", 1, "ERROR", &[]);
    let snap = snapshot(
        observed,
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(started(true, Vec::new())),
        },
    );
    let saved = serde_json::to_string(&snap).expect("serialise");
    let replayed: Snapshot = serde_json::from_str(&saved).expect("deserialise");
    assert_eq!(replayed, snap);
    let decide_on = |s: &Snapshot| {
        run(&spec, None, s, &Memory::default(), |_| Outcome::default())
            .decision
            .expect("decision")
            .actions
    };
    assert_eq!(decide_on(&replayed), decide_on(&snap));
}

#[test]
fn allowed_clients_default_to_nowhere_and_sizes_round_up() {
    let mut s = spec(SPEC);
    assert_eq!(
        security_group(&s),
        Action::EnsureSecurityGroup {
            clients: vec!["10.0.0.0/8".into()],
            ssh_from: vec![]
        }
    );
    s.volume.allowed_clients.clear();
    s.ssh_from = vec!["192.0.2.0/24".into()];
    assert_eq!(
        security_group(&s),
        Action::EnsureSecurityGroup {
            clients: vec![],
            ssh_from: vec!["192.0.2.0/24".into()]
        }
    );
    assert_eq!(size_gib(10 << 30), 10);
    assert_eq!(size_gib((10 << 30) + 1), 11);
    assert_eq!(size_gib(1), 1);
}

#[test]
fn world_open_entries_are_the_zero_prefixes() {
    let cidrs: Vec<String> = [
        "10.0.0.0/8",
        "0.0.0.0/0",
        "::/0",
        " 0.0.0.0 / 0 ",
        "10.0.0.0/10",
    ]
    .map(String::from)
    .into();
    assert_eq!(world_open(&cidrs), ["0.0.0.0/0", "::/0", " 0.0.0.0 / 0 "]);
    assert!(world_open(&[]).is_empty());
}

/// A random cloud for a 4-node cluster: each node's server absent or in one of Nova's states
/// (attached or not), each volume absent or in one of Cinder's.
fn arbitrary_cloud() -> impl Strategy<Value = Observed> {
    let server_state = prop_oneof![
        Just(None),
        Just(Some(("BUILD", false))),
        Just(Some(("ACTIVE", false))),
        Just(Some(("ACTIVE", true))),
        Just(Some(("ERROR", false))),
        Just(Some(("DELETED", false))),
    ];
    let volume_state = prop_oneof![
        Just(None),
        Just(Some("creating")),
        Just(Some("available")),
        Just(Some("attaching")),
        Just(Some("in-use")),
        Just(Some("error")),
    ];
    proptest::collection::vec((server_state, volume_state), 4).prop_map(|nodes| {
        let mut servers = Vec::new();
        let mut volumes = Vec::new();
        for (i, (s, v)) in nodes.into_iter().enumerate() {
            let name = format!("c-a-{}", i + 1);
            let index = i as u32;
            if let Some((status, attached)) = s {
                let vol = format!("vol-{name}");
                let list: &[&str] = if attached { &[vol.as_str()] } else { &[] };
                servers.push(server(&name, index, status, list));
            }
            if let Some(status) = v {
                volumes.push(volume(&name, index, status));
            }
        }
        cloud(servers, volumes)
    })
}

proptest! {
    #[test]
    fn never_two_creates_for_a_node_nor_an_action_on_what_is_healthy(observed in arbitrary_cloud()) {
        let spec = spec(&SPEC.replace("nodes: 2", "nodes: 4"));
        let snap = snapshot(observed.clone(), GlusterSeen::NotAsked);
        let d = run(&spec, None, &snap, &Memory::default(), |_| Outcome::default())
            .decision
            .expect("decision");
        let mut created = BTreeSet::new();
        for action in &d.actions {
            match action {
                Action::CreateNode { node, brick, .. } => {
                    prop_assert!(created.insert(node.name.clone()), "two creates for {}", node.name);
                    prop_assert!(observed.server(&node.name).is_none());
                    // A surviving volume is always reused, never a second one made.
                    if let Some(v) = observed.volume(&node.name) {
                        prop_assert_eq!(brick, &NewBrick::Volume { existing: Some(v.id.clone()), size_gib: 1 });
                    }
                }
                Action::DeleteFailedServer { server_id, .. }
                | Action::RebootServer { server_id, .. } => {
                    let s = observed.servers.iter().find(|s| &s.id == server_id).expect("observed");
                    prop_assert_eq!(&s.status, &crate::cloud::ServerStatus::Error);
                }
                Action::AttachVolume { volume_id, .. } => {
                    let v = observed.volumes.iter().find(|v| &v.id == volume_id).expect("observed");
                    prop_assert_eq!(&v.status, &crate::cloud::VolumeStatus::Available);
                }
                Action::Gluster { .. } | Action::RestartBricks { .. } | Action::RejoinNodes { .. } | Action::ReplaceBricks { .. } => {
                    prop_assert!(false, "gluster before every node is up")
                }
                Action::DeleteDuplicateServer { .. } => {
                    prop_assert!(false, "a duplicate deleted while gluster was not asked")
                }
                Action::DeleteUnusedVolume { volume_id, .. } => {
                    // Only a volume in error (no volume exists here: none held a brick).
                    let v = observed.volumes.iter().find(|v| &v.id == volume_id).expect("observed");
                    prop_assert!(matches!(v.status, crate::cloud::VolumeStatus::Error(_)), "{:?}", v.status);
                }
                Action::EnsureSecurityGroup { .. } => {}
            }
        }
    }

    #[test]
    fn never_a_step_that_removes_a_brick_while_the_health_is_not_read(nodes in 1u32..=4) {
        // The spec asks for fewer nodes than the volume has bricks: the planner plans a
        // scale-in; with the volume's health not read this pass, decide runs none of its
        // removal steps (the cluster is Stalled: ScaleInRefused).
        let spec = spec(&SPEC.replace("nodes: 2", &format!("nodes: {nodes}")));
        let snap = snapshot(
            booted(),
            GlusterSeen::Volume { nodes: up(), volume: Some(started(true, Vec::new())) },
        );
        let Ok(d) = run(&spec, None, &snap, &Memory::default(), |_| Outcome::default()).decision else {
            return Ok(());
        };
        for action in &d.actions {
            if let Action::Gluster { steps, .. } = action {
                for step in steps {
                    prop_assert!(
                        !matches!(
                            step,
                            Step::RemoveBricksStart { .. }
                                | Step::RemoveBricksCommit { .. }
                                | Step::RemoveReplicaBrick { .. }
                                | Step::DetachPeer { .. }
                                | Step::DeleteNode { .. }
                        ),
                        "{:?}",
                        step
                    );
                }
            }
        }
    }
}

#[path = "health_pipeline_tests.rs"]
mod health_pipeline_tests;

#[path = "replace_tests.rs"]
mod replace_tests;

#[test]
fn opening_to_the_world_is_a_warning_event_and_default_deny_is_not() {
    let snap = snapshot(cloud(vec![], vec![]), GlusterSeen::NotAsked);
    let warnings = |spec: &GlusterClusterSpec| -> Vec<String> {
        run(spec, None, &snap, &Memory::default(), |_| {
            Outcome::default()
        })
        .pass
        .expect("pass")
        .notes
        .into_iter()
        .filter(|n| n.warning && n.reason == "OpenToWorld")
        .map(|n| n.note)
        .collect()
    };
    let mut s = spec(SPEC);
    assert!(warnings(&s).is_empty());
    s.volume.allowed_clients.clear();
    assert!(warnings(&s).is_empty(), "no clients: nothing open");
    s.volume.allowed_clients = vec!["0.0.0.0/0".into()];
    let w = warnings(&s);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("allowedClients: 0.0.0.0/0"), "{}", w[0]);
    assert!(!w[0].contains("SSH"), "{}", w[0]);
    s.ssh_from = vec!["::/0".into()];
    let w = warnings(&s);
    assert!(w[0].contains("SSH (spec.sshFrom: ::/0)"), "{}", w[0]);
}
