//! Scale-in rules as tables of plain data: when a removal may start, when a drain may be
//! committed, which steps a pass runs, whether a peer is still in the pool.

use super::*;
use crate::api::HealthStatus;
use crate::controller::decide::runnable;
use crate::controller::observe::SeenVolume;
use crate::gluster::xml::{MigrationNode, MigrationTotals, TaskStatus};
use crate::plan::Gluster;

fn g() -> Gluster {
    Gluster {
        volume: "v".into(),
        brick_path: "/export/v/brick".into(),
    }
}

fn start() -> Step {
    Step::RemoveBricksStart {
        on: "n1".into(),
        bricks: vec!["n3".into(), "n4".into()],
        command: g().remove_bricks(["n3", "n4"], "start"),
    }
}

fn replica_brick() -> Step {
    Step::RemoveReplicaBrick {
        on: "n1".into(),
        brick: "n3".into(),
        replica: 2,
        command: g().remove_replica_brick(2, "n3"),
    }
}

fn commit() -> Step {
    Step::RemoveBricksCommit {
        on: "n1".into(),
        bricks: vec!["n3".into(), "n4".into()],
        command: g().remove_bricks(["n3", "n4"], "commit"),
    }
}

fn healthy() -> HealthStatus {
    HealthStatus {
        peers_connected: 4,
        peers_total: 4,
        bricks_online: 4,
        bricks_total: 4,
        bricks: "4/4".into(),
        heal_pending: Some(0),
        split_brain: Some(0),
        ..HealthStatus::default()
    }
}

#[test]
fn a_removal_starts_only_on_a_healthy_volume() {
    let offline = HealthStatus {
        bricks_online: 3,
        bricks: "3/4".into(),
        bricks_offline: vec!["n2 (10.0.0.2:/export/v/brick)".into()],
        ..healthy()
    };
    let healing = HealthStatus {
        heal_pending: Some(7),
        in_progress: vec!["heal: 7 entries pending".into()],
        ..healthy()
    };
    let lost = HealthStatus {
        peers_connected: 3,
        peers_lost: vec!["n2".into()],
        ..healthy()
    };
    let split = HealthStatus {
        split_brain: Some(1),
        ..healthy()
    };
    let rebalancing = HealthStatus {
        in_progress: vec!["Rebalance in progress".into()],
        ..healthy()
    };
    // (steps, health, drain under way, refused with these words in the message)
    type Case = (Vec<Step>, Option<HealthStatus>, bool, Option<&'static str>);
    let cases: Vec<Case> = vec![
        (vec![start()], Some(healthy()), false, None),
        (vec![replica_brick()], Some(healthy()), false, None),
        (vec![start()], None, false, Some("health was not read")),
        (
            vec![start()],
            Some(offline.clone()),
            false,
            Some("3/4 bricks online"),
        ),
        (
            vec![replica_brick()],
            Some(offline),
            false,
            Some("Degraded"),
        ),
        (
            vec![start()],
            Some(healing.clone()),
            false,
            Some("7 entries pending heal"),
        ),
        (
            vec![replica_brick()],
            Some(healing.clone()),
            false,
            Some("healing"),
        ),
        (
            vec![start()],
            Some(lost),
            false,
            Some("peers are lost: n2 (3/4"),
        ),
        (
            vec![start()],
            Some(split),
            false,
            Some("1 entries are in split-brain"),
        ),
        (
            vec![start()],
            Some(rebalancing),
            false,
            Some("Rebalance in progress"),
        ),
        // A drain gluster runs already is followed, not refused.
        (vec![start()], Some(healing.clone()), true, None),
        (vec![start()], None, true, None),
        // No removal to start: nothing to refuse.
        (vec![commit()], Some(healing), false, None),
        (Vec::new(), None, false, None),
    ];
    for (i, (steps, health, drain, refused)) in cases.into_iter().enumerate() {
        let got = refusal(&steps, health.as_ref(), drain);
        match (refused, got) {
            (None, None) => {}
            (Some(words), Some(f)) => {
                assert_eq!(f.reason, SCALE_IN_REFUSED, "case {i}");
                assert!(f.terminal, "case {i}: Stalled");
                assert!(f.message.contains(words), "case {i}: {}", f.message);
                assert!(f.message.contains("nothing was removed"), "case {i}");
                assert!(f.message.contains("spec.zones[].nodes"), "case {i}");
            }
            (want, got) => panic!("case {i}: wanted {want:?}, got {got:?}"),
        }
    }
}

fn node(name: &str, status: TaskStatus, files: u64, failures: u64, skipped: u64) -> MigrationNode {
    MigrationNode {
        name: name.into(),
        id: format!("id-{name}"),
        totals: MigrationTotals {
            files,
            size_bytes: files * 1000,
            lookups: files + 3,
            failures,
            skipped,
            status,
            runtime_secs: 1.5,
        },
    }
}

fn migration(nodes: Vec<MigrationNode>) -> MigrationStatus {
    MigrationStatus {
        task_id: Some("t".into()),
        nodes,
        aggregate: None,
    }
}

/// What the verdict is: commit, wait, or never.
#[derive(Debug, PartialEq)]
enum Verdict {
    Commit,
    Wait,
    Never,
}

#[test]
fn a_drain_is_committed_only_when_completed_everywhere_with_nothing_left_behind() {
    use TaskStatus::*;
    let cases: Vec<(Vec<MigrationNode>, Verdict, &str)> = vec![
        (
            vec![
                node("localhost", Completed, 12, 0, 0),
                node("n4", Completed, 9, 0, 0),
            ],
            Verdict::Commit,
            "",
        ),
        (
            vec![
                node("localhost", Completed, 12, 0, 0),
                node("n4", InProgress, 3, 0, 0),
            ],
            Verdict::Wait,
            "n4: InProgress, 3 files",
        ),
        (
            vec![
                node("localhost", Completed, 12, 0, 0),
                node("n4", NotStarted, 0, 0, 0),
            ],
            Verdict::Wait,
            "",
        ),
        (Vec::new(), Verdict::Wait, "no node reported"),
        // A leaving node gluster does not list has not started: every listed node completed
        // is not a completed drain (seen with real gluster right after `start`).
        (
            vec![node("localhost", Completed, 0, 0, 0)],
            Verdict::Wait,
            "has not started on n4",
        ),
        (
            vec![
                node("localhost", Completed, 12, 2, 0),
                node("n4", Completed, 9, 0, 0),
            ],
            Verdict::Never,
            "2 failures",
        ),
        (
            vec![
                node("localhost", Completed, 12, 0, 3),
                node("n4", Completed, 9, 0, 0),
            ],
            Verdict::Never,
            "3 skipped",
        ),
        (
            vec![
                node("localhost", Failed, 1, 1, 0),
                node("n4", Completed, 9, 0, 0),
            ],
            Verdict::Never,
            "localhost: Failed",
        ),
        (
            vec![
                node("localhost", Stopped, 1, 0, 0),
                node("n4", Completed, 9, 0, 0),
            ],
            Verdict::Never,
            "stopped",
        ),
        (
            vec![node("localhost", Other(42, "weird".into()), 1, 0, 0)],
            Verdict::Never,
            "not committed",
        ),
    ];
    // n4's brick leaves; the status is asked on n1 (listed as `localhost`).
    let leaving = ["n4".to_string()];
    for (i, (nodes, want, words)) in cases.into_iter().enumerate() {
        let got = commit_verdict("v", &migration(nodes), &leaving, "n1");
        let (verdict, text) = match &got {
            Ok(None) => (Verdict::Commit, String::new()),
            Ok(Some(why)) => (Verdict::Wait, why.clone()),
            Err(e) => {
                assert_eq!(e.reason(), "MigrationFailed", "case {i}");
                assert!(e.is_terminal(), "case {i}: Stalled");
                (Verdict::Never, e.to_string())
            }
        };
        assert_eq!(verdict, want, "case {i}: {got:?}");
        assert!(text.contains(words), "case {i}: {text}");
    }
}

#[test]
fn the_asked_node_is_listed_as_localhost() {
    let status = migration(vec![
        node("localhost", TaskStatus::Completed, 1, 0, 0),
        node("10.0.0.4", TaskStatus::Completed, 1, 0, 0),
    ]);
    let leaving = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(unreported(&status, &leaving(&["10.0.0.3", "10.0.0.4"]), "10.0.0.3").is_empty());
    assert_eq!(
        unreported(&status, &leaving(&["10.0.0.3", "10.0.0.4"]), "10.0.0.1"),
        ["10.0.0.3"]
    );
    assert_eq!(
        unreported(&status, &leaving(&["10.0.0.5"]), "10.0.0.1"),
        ["10.0.0.5"]
    );
}

#[test]
fn removals_end_the_run_so_the_next_pass_plans_from_gluster() {
    let detach = Step::DetachPeer {
        on: "n1".into(),
        peer: "n3".into(),
        command: g().peer_detach("n3"),
    };
    let delete = Step::DeleteNode { node: "n3".into() };
    let wait = Step::WaitRemoveBricks {
        on: "n1".into(),
        bricks: vec!["n3".into(), "n4".into()],
        command: g().remove_bricks(["n3", "n4"], "status"),
    };
    // (steps, kinds run, why the run stops after them)
    let cases: Vec<(Vec<Step>, Vec<&str>, Option<&str>)> = vec![
        (
            vec![
                start(),
                wait.clone(),
                commit(),
                detach.clone(),
                delete.clone(),
            ],
            vec![
                "RemoveBricksStart",
                "WaitRemoveBricks",
                "RemoveBricksCommit",
            ],
            Some("bricks of n3, n4 removed"),
        ),
        (
            vec![replica_brick(), replica_brick()],
            vec!["RemoveReplicaBrick"],
            Some("brick of n3 removed (replica 2)"),
        ),
        (
            vec![detach.clone(), delete.clone()],
            vec!["DetachPeer", "DeleteNode"],
            None,
        ),
        (
            vec![detach, Step::CreateNode { node: "n5".into() }, delete],
            vec!["DetachPeer"],
            Some("node n5 is not created yet"),
        ),
    ];
    for (i, (steps, kinds, then)) in cases.into_iter().enumerate() {
        let (run, why) = runnable(&steps);
        assert_eq!(
            run.iter().map(Step::kind).collect::<Vec<_>>(),
            kinds,
            "case {i}"
        );
        match (then, why) {
            (None, None) => {}
            (Some(words), Some(why)) => assert!(why.contains(words), "case {i}: {why}"),
            (want, got) => panic!("case {i}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn a_peer_is_in_the_pool_by_any_of_its_names() {
    let peer = |host: &str, names: &[&str]| Peer {
        uuid: format!("u-{host}"),
        hostname: host.into(),
        hostnames: names.iter().map(|n| n.to_string()).collect(),
        connected: true,
        state: Some(3),
        state_str: Some("Peer in Cluster".into()),
    };
    let pool = vec![
        peer("localhost", &[]),
        peer("10.0.0.2", &["10.0.0.2"]),
        peer("n3.example", &["n3.example", "10.0.0.3"]),
    ];
    let cases = [
        ("10.0.0.2", true),
        ("10.0.0.3", true),
        ("10.0.0.4", false),
        ("10.0.0.1", false),
    ];
    for (address, want) in cases {
        assert_eq!(in_pool(&pool, address), want, "{address}");
    }
}

#[test]
fn used_bytes_come_from_the_health_read() {
    assert_eq!(used_bytes(None), None);
    let h = HealthStatus {
        capacity_used_bytes: Some(5 << 30),
        ..healthy()
    };
    assert_eq!(used_bytes(Some(&h)), Some(5 << 30));
    assert_eq!(used_bytes(Some(&healthy())), None);
}

#[test]
fn a_drain_under_way_is_a_remove_brick_task_on_the_leaving_bricks() {
    use crate::gluster::xml::{parse_volume_info, parse_volume_status};
    // Real gluster 10.3: `volume status dist` after `remove-brick dist 127.0.73.2:… start`.
    let status = parse_volume_status(include_str!(
        "../../../tests/fixtures/gluster/volume-status-remove-brick-task.xml"
    ))
    .expect("volume status")
    .remove(0);
    let info = parse_volume_info(include_str!(
        "../../../tests/fixtures/gluster/volume-info-distribute-one-brick.xml"
    ))
    .expect("volume info")
    .remove(0);
    let seen = SeenVolume {
        info: Box::new(info),
        status: Some(Box::new(status.clone())),
        health: None,
        strangers: Vec::new(),
    };
    let mut nodes = GlusterNodes::default();
    for (n, a) in [("n1", "127.0.73.1"), ("n2", "127.0.73.2")] {
        nodes.order.push(n.to_string());
        nodes.addresses.insert(n.to_string(), a.to_string());
    }
    let start = |bricks: &[&str]| Step::RemoveBricksStart {
        on: "n1".into(),
        bricks: bricks.iter().map(|b| b.to_string()).collect(),
        command: g().remove_bricks(bricks.iter().copied(), "start"),
    };
    assert!(drain_under_way(&seen, &[start(&["n2"])], &nodes));
    assert!(!drain_under_way(&seen, &[start(&["n1"])], &nodes));
    assert!(!drain_under_way(&seen, &[replica_brick()], &nodes));
    let no_task = SeenVolume {
        status: Some(Box::new(crate::gluster::xml::VolumeStatus {
            tasks: Vec::new(),
            ..status
        })),
        ..seen
    };
    assert!(!drain_under_way(&no_task, &[start(&["n2"])], &nodes));
}
