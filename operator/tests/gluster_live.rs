//! The gluster client against two REAL glusterd peers on loopback addresses, each with an XFS
//! brick filesystem on its own loop device: peer probe, volume create/start with the planner's
//! argument vectors, and every parser on live output — a healthy replica, a brick killed while
//! a FUSE client writes (heal info shows the pending entries, then the heal), a rebalance and a
//! remove-brick (migration status, commit, no file lost) and gluster's refusals.
//!
//! Needs root, loop devices, FUSE and the Debian glusterfs-server/-client packages
//! (`make setup`). Serialized with the other gluster tests by a machine-wide file lock.

mod gluster_common;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use gluster_common::{
    FuseMount, Glusterd, LocalExecutor, LoopXfs, TestLock, any_host_key, eventually, free_loopback,
};
use gluster_operator::gluster::xml::{MigrationOutcome, TaskStatus, VolumeType};
use gluster_operator::gluster::{
    BrickRef, GlusterCli, GlusterClient, GlusterError, NodeEndpoint, VolumeName,
};

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_real_peers_observed_through_the_parsers() {
    let _lock = TestLock::acquire();
    let tmp = tempfile::Builder::new()
        .prefix("gluster-live-")
        .tempdir_in("/tmp")
        .unwrap();
    let root = tmp.path();
    let disk1 = LoopXfs::create(&root.join("d1"), "512M");
    let disk2 = LoopXfs::create(&root.join("d2"), "512M");
    let a1 = free_loopback(24007, &[]);
    let mut g1 = Glusterd::start(&root.join("n1"), a1);
    let a2 = free_loopback(24007, &[a1]);
    let g2 = Glusterd::start(&root.join("n2"), a2);
    let host_key = any_host_key(root);
    let n1 = NodeEndpoint::new("n1", a1.to_string(), 22, host_key.clone());
    let n2 = NodeEndpoint::new("n2", a2.to_string(), 22, host_key.clone());
    let c1 = GlusterClient::new(LocalExecutor, g1.cli()).with_timeout(120 * SEC);
    let c2 = GlusterClient::new(LocalExecutor, g2.cli()).with_timeout(120 * SEC);

    // --- The pool: n1 alone, then n2 probed.
    let pool = c1.pool_list(&n1).await.unwrap();
    assert_eq!(pool.len(), 1);
    assert_eq!(pool[0].hostname, "localhost");
    assert!(c1.peer_status(&n1).await.unwrap().is_empty());
    c1.execute(
        &n1,
        &words(&["gluster", "--mode=script", "peer", "probe", &a2.to_string()]),
    )
    .await
    .unwrap();
    let a2s = a2.to_string();
    eventually("n1 to see n2 in the cluster", 60, SEC, || async {
        let peers = c1.peer_status(&n1).await.unwrap();
        peers
            .iter()
            .any(|p| p.is_named(&a2s) && p.connected && p.in_cluster())
            .then_some(())
    })
    .await;
    let from_n2 = c2.peer_status(&n2).await.unwrap();
    assert_eq!(from_n2.len(), 1);
    assert!(from_n2[0].is_named(&a1.to_string()) && from_n2[0].connected);
    let n1_uuid = c1
        .pool_list(&n1)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.hostname == "localhost")
        .unwrap()
        .uuid;
    assert_eq!(from_n2[0].uuid, n1_uuid);

    // --- A replica 2 volume, created and started with the planner's argument vectors.
    let rep = VolumeName::new(format!("t{}rep", std::process::id())).unwrap();
    g1.track_volume(rep.as_str());
    let rb1 = format!("{a1}:{}", disk1.brick_dir("rep"));
    let rb2 = format!("{a2}:{}", disk2.brick_dir("rep"));
    let create = words(&[
        "gluster",
        "--mode=script",
        "volume",
        "create",
        rep.as_str(),
        "replica",
        "2",
        &rb1,
        &rb2,
    ]);
    let reply = c1.execute(&n1, &create).await.unwrap();
    assert_eq!(reply.envelope.op_ret, 0);
    c1.execute(
        &n1,
        &words(&["gluster", "--mode=script", "volume", "start", rep.as_str()]),
    )
    .await
    .unwrap();

    let info = c1
        .volume_info(&n1, &rep)
        .await
        .unwrap()
        .expect("volume exists");
    assert!(info.is_started());
    assert_eq!(info.volume_type, VolumeType::Replicate);
    assert_eq!(
        (info.brick_count, info.replica_count, info.distribute_count),
        (2, 2, 1)
    );
    let names: Vec<_> = info.bricks.iter().map(|b| b.name()).collect();
    assert_eq!(names, [rb1.clone(), rb2.clone()]);
    assert_eq!(info.bricks[0].host_uuid, n1_uuid);
    // The same volume seen from the other peer.
    assert_eq!(
        c2.volume_info(&n2, &rep).await.unwrap().unwrap().id,
        info.id
    );

    let status = eventually("both bricks online", 30, SEC, || async {
        let s = c1.volume_status(&n1, &rep).await.unwrap();
        (s.bricks.len() == 2 && s.bricks.iter().all(|b| b.online)).then_some(s)
    })
    .await;
    for b in &status.bricks {
        let pid = b.pid.expect("online brick has a pid");
        assert!(
            fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap()
                .contains("glusterfsd"),
            "pid {pid} of {} is a brick process",
            b.name()
        );
        assert!(b.port.is_some());
    }
    assert!(
        status
            .daemons
            .iter()
            .any(|d| d.daemon == "Self-heal Daemon")
    );

    let heal = c1.heal_info(&n1, &rep).await.unwrap();
    assert_eq!(heal.bricks.len(), 2);
    assert!(heal.is_healed(), "{heal:?}");

    // --- A brick dies while a client writes: heal info shows it, then the heal.
    let fuse_rep = FuseMount::mount(
        &a1.to_string(),
        rep.as_str(),
        &root.join("fuse-rep"),
        &root.join("fuse-rep.log"),
    );
    let victim = status
        .bricks
        .iter()
        .find(|b| b.host == a2.to_string())
        .unwrap();
    gluster_common::stop_pids(&[victim.pid.unwrap()]);
    eventually("the killed brick to show offline", 30, SEC, || async {
        let s = c1.volume_status(&n1, &rep).await.unwrap();
        s.bricks
            .iter()
            .any(|b| b.host == a2.to_string() && !b.online)
            .then_some(())
    })
    .await;
    for i in 0..5 {
        fs::write(fuse_rep.path.join(format!("f{i}")), format!("data {i}\n")).unwrap();
    }
    let heal = c1.heal_info(&n1, &rep).await.unwrap();
    assert!(!heal.is_healed());
    let up = heal
        .bricks
        .iter()
        .find(|b| b.host == a1.to_string())
        .unwrap();
    let down = heal
        .bricks
        .iter()
        .find(|b| b.host == a2.to_string())
        .unwrap();
    assert!(up.connected());
    assert!(up.entries.unwrap() >= 5, "{up:?}");
    let pending: BTreeSet<_> = up.files.iter().map(|f| f.path.as_str()).collect();
    for i in 0..5 {
        assert!(pending.contains(format!("/f{i}").as_str()), "{pending:?}");
    }
    assert!(!down.connected());
    assert_eq!(down.entries, None);
    let summary = c1.heal_info_summary(&n1, &rep).await.unwrap();
    let up_summary = summary.bricks[0].summary.expect("summary counts");
    assert!(
        up_summary.pending >= 5 && up_summary.split_brain == 0,
        "{up_summary:?}"
    );

    c1.execute(
        &n1,
        &words(&[
            "gluster",
            "--mode=script",
            "volume",
            "start",
            rep.as_str(),
            "force",
        ]),
    )
    .await
    .unwrap();
    eventually("the volume to heal", 90, SEC, || async {
        let _ = c1
            .execute(
                &n1,
                &words(&["gluster", "--mode=script", "volume", "heal", rep.as_str()]),
            )
            .await;
        let h = c1.heal_info(&n1, &rep).await.unwrap();
        h.is_healed().then_some(())
    })
    .await;
    // Healed means the restarted brick holds the files written while it was down.
    let brick2 = rb2.split_once(':').unwrap().1;
    for i in 0..5 {
        assert_eq!(
            fs::read_to_string(format!("{brick2}/f{i}")).unwrap(),
            format!("data {i}\n")
        );
    }
    drop(fuse_rep);

    // --- A distribute volume: rebalance, then remove-brick with its data migration.
    let dist = VolumeName::new(format!("t{}dist", std::process::id())).unwrap();
    g1.track_volume(dist.as_str());
    let db1 = format!("{a1}:{}", disk1.brick_dir("dist"));
    let db2 = format!("{a2}:{}", disk2.brick_dir("dist"));
    c1.execute(
        &n1,
        &words(&[
            "gluster",
            "--mode=script",
            "volume",
            "create",
            dist.as_str(),
            &db1,
            &db2,
        ]),
    )
    .await
    .unwrap();
    c1.execute(
        &n1,
        &words(&["gluster", "--mode=script", "volume", "start", dist.as_str()]),
    )
    .await
    .unwrap();
    let dist_info = c1.volume_info(&n1, &dist).await.unwrap().unwrap();
    assert_eq!(dist_info.volume_type, VolumeType::Distribute);
    assert_eq!(dist_info.distribute_count, 2);

    // Refusals come back with gluster's own words.
    let e = c1.heal_info(&n1, &dist).await.unwrap_err();
    let refusal = e.gluster_refusal().unwrap_or_else(|| panic!("{e}"));
    assert!(
        refusal
            .message
            .contains("is not of type replicate/disperse"),
        "{refusal}"
    );
    let e = c1.rebalance_status(&n1, &dist).await.unwrap_err();
    assert!(
        e.gluster_refusal()
            .unwrap()
            .message
            .contains("Rebalance not started"),
        "{e}"
    );
    let e = c1.execute(&n1, &create).await.unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(e.reason(), "GlusterRefused");
    let missing = VolumeName::new("nosuchvolume").unwrap();
    assert_eq!(c1.volume_info(&n1, &missing).await.unwrap(), None);

    let fuse_dist = FuseMount::mount(
        &a1.to_string(),
        dist.as_str(),
        &root.join("fuse-dist"),
        &root.join("fuse-dist.log"),
    );
    for i in 0..30 {
        fs::write(
            fuse_dist.path.join(format!("file{i}")),
            format!("content {i}\n"),
        )
        .unwrap();
    }
    c1.execute(
        &n1,
        &words(&[
            "gluster",
            "--mode=script",
            "volume",
            "rebalance",
            dist.as_str(),
            "start",
        ]),
    )
    .await
    .unwrap();
    let rebalance = eventually("the rebalance to finish", 120, SEC, || async {
        let r = c1.rebalance_status(&n1, &dist).await.unwrap();
        (r.outcome() != MigrationOutcome::InProgress && !r.nodes.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(
        rebalance.outcome(),
        MigrationOutcome::Completed,
        "{rebalance:?}"
    );
    assert!(rebalance.task_id.is_some());
    let looked_up: u64 = rebalance.nodes.iter().map(|n| n.totals.lookups).sum();
    assert!(looked_up >= 30, "{rebalance:?}");

    let leaving = [BrickRef::parse(&db2).unwrap()];
    c1.execute(
        &n1,
        &words(&[
            "gluster",
            "--mode=script",
            "volume",
            "remove-brick",
            dist.as_str(),
            &db2,
            "start",
        ]),
    )
    .await
    .unwrap();
    let migration = eventually("the remove-brick migration to finish", 120, SEC, || async {
        let r = c1.remove_brick_status(&n1, &dist, &leaving).await.unwrap();
        (r.outcome() != MigrationOutcome::InProgress && !r.nodes.is_empty()).then_some(r)
    })
    .await;
    assert!(migration.safe_to_commit(), "{migration:?}");
    assert_eq!(migration.nodes[0].name, a2.to_string());
    let moved = migration.nodes[0].totals.files;
    let on_brick2 = fs::read_dir(db2.split_once(':').unwrap().1)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("file"))
        })
        .count();
    assert_eq!(
        on_brick2, 0,
        "every file moved off the leaving brick ({moved} moved)"
    );
    let tasks = c1.volume_status(&n1, &dist).await.unwrap().tasks;
    assert!(
        tasks.iter().any(|t| t.kind == "Remove brick"
            && t.status == TaskStatus::Completed
            && t.bricks == [db2.clone()]),
        "{tasks:?}"
    );
    c1.execute(
        &n1,
        &words(&[
            "gluster",
            "--mode=script",
            "volume",
            "remove-brick",
            dist.as_str(),
            &db2,
            "commit",
        ]),
    )
    .await
    .unwrap();
    let after = c1.volume_info(&n1, &dist).await.unwrap().unwrap();
    assert_eq!(after.brick_count, 1);
    assert_eq!(after.bricks[0].name(), db1);
    for i in 0..30 {
        assert_eq!(
            fs::read_to_string(fuse_dist.path.join(format!("file{i}"))).unwrap(),
            format!("content {i}\n"),
            "file{i} survived the scale-in"
        );
    }
    drop(fuse_dist);

    // --- No glusterd behind the socket: no XML, the CLI's own message.
    let nowhere = GlusterClient::new(
        LocalExecutor,
        GlusterCli::new()
            .with_glusterd_socket(root.join("nothing.sock").to_string_lossy().into_owned())
            .with_log_file(root.join("cli-nowhere.log").to_string_lossy().into_owned()),
    );
    let e = nowhere.volumes(&n1).await.unwrap_err();
    match &e {
        GlusterError::NoAnswer { message, exit, .. } => {
            assert!(message.contains("Connection failed"), "{e}");
            assert_eq!(exit, "1");
        }
        other => panic!("expected NoAnswer, got {other:?}"),
    }
    assert_eq!(e.reason(), "GlusterNoAnswer");
}
