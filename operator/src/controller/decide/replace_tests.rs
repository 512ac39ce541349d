//! Decide's rules for a node's identity and replacement (`docs/design.md`, "Node identity and
//! replacement"): a replacement returns to its pool, a node that lost its pool is brought back,
//! a server that ran and failed is rebooted before it is replaced.

use super::*;

/// A node's own port with its address (as observe lists them).
fn port(node: &str, address: &str) -> crate::cloud::Port {
    serde_json::from_value(json!({
        "id": format!("port-{node}"), "name": format!("{node}-port"), "network_id": "net",
        "fixed_ips": [{"subnet_id": "s", "ip_address": address}],
        "tags": [owner().tag()],
    }))
    .expect("a port document")
}

#[test]
fn a_replacement_of_a_node_in_the_volume_returns_to_its_pool_a_new_node_does_not() {
    let spec = spec(SPEC);
    let mut observed = cloud(
        vec![server("c-a-2", 1, "ACTIVE", &["vol-c-a-2"])],
        vec![
            volume("c-a-1", 0, "available"),
            volume("c-a-2", 1, "in-use"),
        ],
    );
    observed.ports = vec![port("c-a-1", "10.0.0.1"), port("c-a-2", "10.0.0.2")];
    let snap = snapshot(observed, GlusterSeen::NotAsked);
    let previous = GlusterClusterStatus {
        volume: Some(crate::api::VolumeStatus {
            name: "v".into(),
            bricks: ["c-a-1", "c-a-2"]
                .iter()
                .map(|n| crate::api::BrickStatus {
                    name: format!("{n}:/export/v/brick"),
                    node: n.to_string(),
                    online: true,
                })
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let returns = |previous: Option<&GlusterClusterStatus>| -> Vec<(String, String)> {
        let d = run(&spec, previous, &snap, &Memory::default(), |_| {
            Outcome::default()
        })
        .decision
        .expect("decision");
        d.actions
            .iter()
            .find_map(|a| match a {
                Action::CreateNode {
                    node, returns_to, ..
                } if node.name == "c-a-1" => Some(returns_to.clone()),
                _ => None,
            })
            .expect("c-a-1 is created")
    };
    // Its brick is in the volume: it is given the others' ports (never its own).
    assert_eq!(
        returns(Some(&previous)),
        [("c-a-2".to_string(), "10.0.0.2".to_string())]
    );
    // Not in the volume (or no volume yet): a new node, which the planner probes.
    assert!(returns(None).is_empty());
}

#[test]
fn a_node_that_lost_its_pool_is_brought_back_before_any_planned_step() {
    let spec = spec(SPEC);
    let mut seen = started(false, Vec::new());
    seen.strangers = vec!["c-a-1".into()];
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(seen),
        },
    );
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    assert!(!kinds(&d.actions).contains(&"Gluster"), "{:?}", d.actions);
    match d
        .actions
        .iter()
        .find(|a| matches!(a, Action::RejoinNodes { .. }))
    {
        Some(Action::RejoinNodes { strangers, via, .. }) => {
            assert_eq!(strangers, &["c-a-1"]);
            assert_eq!(via, "c-a-2", "through a node that knows the volume");
        }
        other => panic!("{other:?}"),
    }
    // Every node a stranger: nobody to bring them back through, nothing done blindly.
    let mut lost = started(false, Vec::new());
    lost.strangers = vec!["c-a-1".into(), "c-a-2".into()];
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(lost),
        },
    );
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    assert!(!kinds(&d.actions).contains(&"RejoinNodes"));
}

/// A server that ran (launched) and is in ERROR now.
fn crashed(name: &str, index: u32) -> Server {
    let mut s = server(name, index, "ERROR", &[]);
    s.launched_at = Some("2026-12-07T11:00:00.000000".into());
    s
}

#[test]
fn a_server_that_ran_and_failed_is_rebooted_first_and_replaced_only_after_the_grace() {
    let spec = spec(SPEC);
    let snap = snapshot(
        cloud(
            vec![
                crashed("c-a-1", 0),
                server("c-a-2", 1, "ACTIVE", &["vol-c-a-2"]),
            ],
            vec![
                volume("c-a-1", 0, "available"),
                volume("c-a-2", 1, "in-use"),
            ],
        ),
        GlusterSeen::NotAsked,
    );
    // First seen: a hard reboot, no deletion; remembered as rebooted.
    let first = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = first.decision.expect("decision");
    assert!(
        kinds(&d.actions).contains(&"RebootServer"),
        "{:?}",
        d.actions
    );
    assert!(!kinds(&d.actions).contains(&"DeleteFailedServer"));
    let memory = first.pass.expect("pass").memory;
    let seen = memory.failed_servers["srv-c-a-1"];
    assert!(seen.rebooted);
    // Still in ERROR within the grace: nothing (no second reboot, no deletion).
    let d = run(&spec, None, &snap, &memory, |_| Outcome::default())
        .decision
        .expect("decision");
    assert!(
        !kinds(&d.actions).contains(&"RebootServer")
            && !kinds(&d.actions).contains(&"DeleteFailedServer"),
        "{:?}",
        d.actions
    );
    // Past the grace: the Cinder-brick node's server is deleted (its volume stays).
    let mut old = memory.clone();
    let grace = tuning().server_error_grace;
    for f in old.failed_servers.values_mut() {
        f.since = Instant::now()
            .checked_sub(grace + Duration::from_secs(1))
            .expect("a past instant");
    }
    let d = run(&spec, None, &snap, &old, |_| Outcome::default())
        .decision
        .expect("decision");
    assert!(
        kinds(&d.actions).contains(&"DeleteFailedServer"),
        "{:?}",
        d.actions
    );
}

#[test]
fn a_failed_server_with_an_ephemeral_brick_is_never_deleted() {
    let spec = spec(
        "cloud: {secretName: s, cloudName: c}\nimage: debian-12\nflavor: f\nnetwork: net\nzones: [{name: a, nodes: 2, fallbackFlavor: big}]\nbrick: {size: 1Gi}\nvolume: {name: v}\n",
    );
    let mut observed = cloud(
        vec![crashed("c-a-1", 0), server("c-a-2", 1, "ACTIVE", &[])],
        vec![],
    );
    observed.block_storage_zones.clear();
    let snap = snapshot(observed, GlusterSeen::NotAsked);
    let first = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = first.decision.expect("decision");
    assert!(
        kinds(&d.actions).contains(&"RebootServer"),
        "{:?}",
        d.actions
    );
    // Long past the grace, rebooted: still never deleted (the brick is its disk).
    let mut memory = first.pass.expect("pass").memory;
    for f in memory.failed_servers.values_mut() {
        f.since = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .expect("a past instant");
    }
    let d = run(&spec, None, &snap, &memory, |_| Outcome::default())
        .decision
        .expect("decision");
    assert!(
        !kinds(&d.actions).contains(&"DeleteFailedServer"),
        "{:?}",
        d.actions
    );
}

#[test]
fn a_replaced_node_is_healed_before_the_cluster_is_ready_again() {
    let spec = spec(SPEC);
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(started(true, Vec::new())),
        },
    );
    let memory = Memory {
        healing: BTreeSet::from(["c-a-1".to_string()]),
        ..Memory::default()
    };
    // The gluster steps end with the heal wait, run from a node that was not replaced.
    let waiting = run(&spec, None, &snap, &memory, |_| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: Vec::new(),
            waiting: Some("waiting for heal: 3 entries pending".into()),
            after: None,
        }),
        ..Outcome::default()
    });
    let d = waiting.decision.expect("decision");
    let steps = d
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Gluster { steps, .. } => Some(steps.clone()),
            _ => None,
        })
        .expect("gluster steps");
    match steps.last() {
        Some(Step::WaitHealed { on, command }) => {
            assert_eq!(on, "c-a-2");
            assert!(command.to_string().contains("heal"), "{command}");
        }
        other => panic!("{other:?}"),
    }
    let pass = waiting.pass.expect("pass");
    assert_eq!(
        condition_reason(&pass.status, READY).0,
        "False",
        "not Ready while healing"
    );
    assert!(pass.memory.healing.contains("c-a-1"), "still healing");
    // Healed: every step ran to its end; the memory lets go of it.
    let healed = run(&spec, None, &snap, &pass.memory, |_| Outcome {
        gluster: Some(GlusterOutcome::Ran {
            done: Vec::new(),
            waiting: None,
            after: None,
        }),
        ..Outcome::default()
    })
    .pass
    .expect("pass");
    assert!(healed.memory.healing.is_empty());
    assert_eq!(
        condition_reason(&healed.status, READY).0,
        "True",
        "Ready once healed"
    );
}

#[test]
fn a_replaced_node_whose_brick_stays_offline_gets_its_brick_started_through_another_node() {
    let spec = spec(SPEC);
    let snap = snapshot(
        booted(),
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(started(false, Vec::new())),
        },
    );
    let memory = Memory {
        healing: BTreeSet::from(["c-a-1".to_string()]),
        ..Memory::default()
    };
    let d = run(&spec, None, &snap, &memory, |_| Outcome::default())
        .decision
        .expect("decision");
    match d
        .actions
        .iter()
        .find(|a| matches!(a, Action::RejoinNodes { .. }))
    {
        Some(Action::RejoinNodes { strangers, via, .. }) => {
            assert!(strangers.is_empty());
            assert_eq!(via, "c-a-2");
        }
        other => panic!("{other:?}"),
    }
    // The same offline bricks on nodes that were not replaced: not this rule's business.
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    assert!(!kinds(&d.actions).contains(&"RejoinNodes"));
}

/// Two ephemeral nodes (`replica`), c-a-1's server gone, the last status showing both bricks
/// online.
fn ephemeral_loss(replica: u32) -> (GlusterClusterSpec, Snapshot, GlusterClusterStatus) {
    let spec = spec(&format!(
        "cloud: {{secretName: s, cloudName: c}}\nimage: debian-12\nflavor: f\nnetwork: net\nzones: [{{name: a, nodes: 2, fallbackFlavor: big}}]\nbrick: {{size: 1Gi}}\nvolume: {{name: v, replicas: {replica}}}\n"
    ));
    let mut observed = cloud(vec![server("c-a-2", 1, "ACTIVE", &[])], vec![]);
    observed.block_storage_zones.clear();
    observed.ports = vec![port("c-a-1", "10.0.0.1"), port("c-a-2", "10.0.0.2")];
    let previous = GlusterClusterStatus {
        volume: Some(crate::api::VolumeStatus {
            name: "v".into(),
            replica_count: replica,
            bricks: ["c-a-1", "c-a-2"]
                .iter()
                .map(|n| crate::api::BrickStatus {
                    name: format!("{n}:/export/v/brick"),
                    node: n.to_string(),
                    online: true,
                })
                .collect(),
            ..Default::default()
        }),
        nodes: ["c-a-1", "c-a-2"]
            .iter()
            .enumerate()
            .map(|(i, n)| crate::api::NodeStatus {
                name: n.to_string(),
                index: i as u32,
                zone: "a".into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    (spec, snapshot(observed, GlusterSeen::NotAsked), previous)
}

#[test]
fn a_lost_ephemeral_brick_with_a_partner_is_rebuilt_and_the_cluster_says_node_replacing() {
    let (spec, snap, previous) = ephemeral_loss(2);
    let r = run(&spec, Some(&previous), &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = r.decision.expect("decision");
    match d
        .actions
        .iter()
        .find(|a| matches!(a, Action::CreateNode { .. }))
    {
        Some(Action::CreateNode {
            node,
            brick,
            returns_to,
            ..
        }) => {
            assert_eq!(node.name, "c-a-1");
            assert_eq!(brick, &NewBrick::Ephemeral);
            assert_eq!(returns_to, &[("c-a-2".to_string(), "10.0.0.2".to_string())]);
        }
        other => panic!("{other:?}"),
    }
    let pass = r.pass.expect("pass");
    let (status, reason) = condition_reason(&pass.status, crate::api::conditions::DEGRADED);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        (TRUE, crate::api::conditions::NODE_REPLACING)
    );
    assert!(pass.memory.healing.contains("c-a-1"));
}

#[test]
fn a_lost_ephemeral_brick_that_held_the_last_copy_is_not_rebuilt_over() {
    let (spec, snap, previous) = ephemeral_loss(1);
    let r = run(&spec, Some(&previous), &snap, &Memory::default(), |_| {
        Outcome::default()
    });
    let d = r.decision.expect("decision");
    assert!(
        !kinds(&d.actions).contains(&"CreateNode"),
        "nothing rebuilt over the last copy: {:?}",
        d.actions
    );
    let pass = r.pass.expect("pass");
    let degraded = find(&pass.status.conditions, crate::api::conditions::DEGRADED)
        .expect("Degraded")
        .clone();
    assert_eq!(degraded.status, TRUE);
    assert_eq!(degraded.reason, crate::api::conditions::LAST_COPY_LOST);
    assert!(
        degraded.message.contains("c-a-1:/export/v/brick"),
        "{}",
        degraded.message
    );
    assert_eq!(
        condition_reason(&pass.status, STALLED),
        (
            TRUE.to_string(),
            crate::api::conditions::LAST_COPY_LOST.to_string()
        )
    );
    assert!(pass.memory.healing.is_empty());
}

/// c-a-1 replaced (healing), its glusterd back in the pool, its blank brick offline.
fn replaced_blank(ephemeral: bool) -> (GlusterClusterSpec, Snapshot) {
    let zone = if ephemeral {
        "{name: a, nodes: 2, fallbackFlavor: big}"
    } else {
        "{name: a, nodes: 2}"
    };
    let spec = spec(&format!(
        "cloud: {{secretName: s, cloudName: c}}\nimage: debian-12\nflavor: f\nnetwork: net\nzones: [{zone}]\nbrick: {{size: 1Gi}}\nvolume: {{name: v, replicas: 2}}\n"
    ));
    let mut observed = if ephemeral {
        cloud(
            vec![
                server("c-a-1", 0, "ACTIVE", &[]),
                server("c-a-2", 1, "ACTIVE", &[]),
            ],
            vec![],
        )
    } else {
        booted()
    };
    if ephemeral {
        observed.block_storage_zones.clear();
    }
    let mut seen = started(true, Vec::new());
    if let Some(status) = seen.status.as_mut() {
        for b in status.bricks.iter_mut().filter(|b| b.host == "10.0.0.1") {
            b.online = false;
        }
    }
    let snap = snapshot(
        observed,
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(seen),
        },
    );
    (spec, snap)
}

#[test]
fn a_replaced_nodes_blank_ephemeral_brick_is_replaced_through_another_node_a_volume_brick_is_started()
 {
    let memory = Memory {
        healing: BTreeSet::from(["c-a-1".to_string()]),
        ..Memory::default()
    };
    let (spec, snap) = replaced_blank(true);
    let d = run(&spec, None, &snap, &memory, |_| Outcome::default())
        .decision
        .expect("decision");
    match d
        .actions
        .iter()
        .find(|a| matches!(a, Action::ReplaceBricks { .. }))
    {
        Some(Action::ReplaceBricks { bricks, via, .. }) => {
            let new_server = snap.cloud.server("c-a-1").expect("its server").id.clone();
            assert_eq!(
                bricks,
                &[(
                    "10.0.0.1:/export/v/brick".to_string(),
                    format!(
                        "10.0.0.1:{}",
                        lost_bricks::fresh_path("/export/v/brick", &new_server)
                    )
                )]
            );
            assert_eq!(via, "c-a-2");
        }
        other => panic!("no replacement: {other:?} in {:?}", d.actions),
    }
    assert!(
        !kinds(&d.actions).contains(&"RejoinNodes"),
        "{:?}",
        d.actions
    );
    // A Cinder brick came back with its data: started, never replaced.
    let (spec, snap) = replaced_blank(false);
    let d = run(&spec, None, &snap, &memory, |_| Outcome::default())
        .decision
        .expect("decision");
    assert!(
        !kinds(&d.actions).contains(&"ReplaceBricks"),
        "{:?}",
        d.actions
    );
    assert!(
        kinds(&d.actions).contains(&"RejoinNodes"),
        "{:?}",
        d.actions
    );
    // Its node not replaced (healing empty): an offline ephemeral brick is never replaced, and
    // it may be restarted.
    let (spec, snap) = replaced_blank(true);
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    assert!(
        !kinds(&d.actions).contains(&"ReplaceBricks"),
        "{:?}",
        d.actions
    );
}

#[test]
fn a_replacement_marked_blank_is_replaced_after_an_operator_restart() {
    // The operator restarted between the replacement's boot and its replace-brick: nothing
    // in memory, but the server carries the blank-brick mark act gave it.
    let (spec, mut snap) = replaced_blank(true);
    for s in snap.cloud.servers.iter_mut().filter(|s| s.name == "c-a-1") {
        s.metadata.insert(
            crate::controller::owner::META_BLANK_BRICK.to_string(),
            "true".to_string(),
        );
    }
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    assert!(
        kinds(&d.actions).contains(&"ReplaceBricks"),
        "{:?}",
        d.actions
    );
    // Once its brick is the new directory on the new disk, it is an ordinary brick again.
    let id = snap.cloud.server("c-a-1").expect("server").id.clone();
    if let GlusterSeen::Volume {
        volume: Some(v), ..
    } = &mut snap.gluster
    {
        for b in v.info.bricks.iter_mut().filter(|b| b.host == "10.0.0.1") {
            b.path = lost_bricks::fresh_path(&b.path, &id);
        }
        for b in v
            .status
            .iter_mut()
            .flat_map(|s| s.bricks.iter_mut())
            .filter(|b| b.host == "10.0.0.1")
        {
            b.path = lost_bricks::fresh_path(&b.path, &id);
        }
    }
    let d = run(&spec, None, &snap, &Memory::default(), |_| {
        Outcome::default()
    })
    .decision
    .expect("decision");
    assert!(
        !kinds(&d.actions).contains(&"ReplaceBricks"),
        "{:?}",
        d.actions
    );
}

#[test]
fn a_stranger_whose_brick_is_a_blank_disk_rejoins_without_starting_the_bricks() {
    let (spec, _) = replaced_blank(true);
    let mut observed = cloud(
        vec![
            server("c-a-1", 0, "ACTIVE", &[]),
            server("c-a-2", 1, "ACTIVE", &[]),
        ],
        vec![],
    );
    observed.block_storage_zones.clear();
    let mut seen = started(false, Vec::new());
    seen.strangers = vec!["c-a-1".into()];
    let snap = snapshot(
        observed,
        GlusterSeen::Volume {
            nodes: up(),
            volume: Some(seen),
        },
    );
    let start = |healing: BTreeSet<String>| {
        let memory = Memory {
            healing,
            ..Memory::default()
        };
        let d = run(&spec, None, &snap, &memory, |_| Outcome::default())
            .decision
            .expect("decision");
        d.actions.iter().find_map(|a| match a {
            Action::RejoinNodes { start_bricks, .. } => Some(*start_bricks),
            _ => None,
        })
    };
    // Replaced (its disk is blank): back into the pool, bricks not started with force.
    assert_eq!(start(BTreeSet::from(["c-a-1".to_string()])), Some(false));
    // Not replaced (its glusterd lost the pool, its disk kept): started as before.
    assert_eq!(start(BTreeSet::new()), Some(true));
}
