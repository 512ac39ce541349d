//! Loopback gluster nodes, for real, as root: user-data rendered by the operator's bootstrap,
//! nodes started on 127.100.N.x, SSH with pinned host keys and the operator's key only, a
//! 2 × 2 distributed-replicated volume built over SSH by hand, a FUSE mount, heal info per node,
//! server deletes, reboots, reattached volumes, and nothing left behind.
//!
//! Each test has its own 127.100.N.0/24 range and the tests of this binary run one at a time.

mod nodes_support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use e2e::nodes::{LoopbackNodes, NodeError, NodeSpec, NodesConfig, RunningNode, loops_of};
use gluster_operator::bootstrap::{BRICK_LOG_PATH, BrickDevice, SshKeyPair};
use nodes_support::{
    World, assert_nothing_left, eventually, listeners, run_ok, serial, ssh, write_private,
    xml_values,
};

const MOUNT: &str = "/export/e2evol";
const BRICK: &str = "/export/e2evol/brick";
const VOLUME: &str = "e2evol";

fn volume_id(range: u8, i: u8) -> String {
    format!("e2e{range:05}-0000-4000-8000-{i:012}")
}

fn address(range: u8, i: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 100, range, i)
}

/// The checks every started volume node passes: SSH with exactly its pinned host key and only
/// the operator's key, glusterd on its address, an XFS brick with 512-byte inodes where the
/// user-data says, and a brick log that shows what the script did.
fn check_node(world: &World, node: &RunningNode, known_hosts: &Path) {
    let addr = node.address.to_string();

    // Exactly one host key, the user-data's.
    let scan =
        run_ok(Command::new("ssh-keyscan").args(["-T", "10", "-t", "ed25519,ecdsa,rsa", &addr]));
    let keys: Vec<&str> = scan.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        keys,
        [node.known_hosts_line()],
        "host keys offered by {addr}"
    );

    // The operator gets in, as gluster-operator, on this node.
    let who = world.ssh_ok(node, known_hosts, "hostname; id -un");
    assert_eq!(who, format!("{}\ngluster-operator\n", node.hostname));

    // The operator's command runs in this node, against this node's glusterd, and says
    // nothing on stderr (sudo resolves the node's own name).
    let out = world.ssh(
        node,
        known_hosts,
        "sudo -n gluster --mode=script --xml volume list",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        xml_values(&String::from_utf8_lossy(&out.stdout), "opRet"),
        ["0"]
    );
    let out = world.ssh(node, known_hosts, "sudo -n ls /root");
    assert!(
        !out.status.success(),
        "sudo allows more than the gluster CLI"
    );

    // A different pinned host key: refused by the client (no trust on first use).
    let other_host = SshKeyPair::generate("not-this-host").expect("key");
    let wrong_kh = world.dir.join(format!("known_hosts.wrong.{addr}"));
    fs::write(
        &wrong_kh,
        format!("{addr} {}\n", other_host.public_key().openssh()),
    )
    .expect("known_hosts");
    let out = world.ssh(node, &wrong_kh, "true");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "ssh accepted a host key it did not pin"
    );
    assert!(err.contains("Host key verification failed"), "{err}");

    // A key the user-data does not authorize: refused by the node.
    let stranger = SshKeyPair::generate("stranger").expect("key");
    let stranger_file = world.dir.join(format!("stranger.{addr}"));
    write_private(&stranger_file, stranger.private_openssh());
    let out = ssh(node.address, &stranger_file, known_hosts, "true");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the node accepted a key it was not given"
    );
    assert!(err.contains("Permission denied (publickey)"), "{err}");

    // glusterd listens on the node's address (and not on all addresses).
    let gd = listeners(24007);
    assert!(
        gd.contains(&format!("{addr}:24007")),
        "24007 listeners: {gd:?}"
    );
    assert!(
        !gd.iter()
            .any(|l| l.starts_with("0.0.0.0:") || l.starts_with('*')),
        "{gd:?}"
    );
    assert!(listeners(22).contains(&format!("{addr}:22")));

    // The brick: XFS, 512-byte inodes, on the node's volume, mounted where the user-data says.
    let mounted =
        run_ok(
            node.command("findmnt")
                .args(["-n", "-o", "SOURCE,FSTYPE", "--mountpoint", MOUNT]),
        );
    assert_eq!(
        mounted.split_whitespace().collect::<Vec<_>>(),
        [node.disks[0].device.as_str(), "xfs"]
    );
    let xfs = run_ok(node.command("xfs_info").arg(MOUNT));
    assert!(xfs.contains("isize=512"), "{xfs}");
    let fstab = fs::read_to_string(node.path("/etc/fstab")).expect("node fstab");
    assert!(
        fstab
            .lines()
            .any(|l| l.starts_with("UUID=") && l.contains(&format!(" {MOUNT} xfs "))),
        "{fstab}"
    );
    assert!(node.path(BRICK).is_dir());

    // The brick script's log (the node's own /var/log) says what it did.
    let log = fs::read_to_string(node.path(BRICK_LOG_PATH)).expect("brick log");
    for step in [
        format!("is {} (via /dev/disk/by-id/virtio-", node.disks[0].device),
        "running: mkfs.xfs -i size=512".to_string(),
        "added to /etc/fstab: UUID=".to_string(),
        format!("running: mount --fstab /etc/fstab {MOUNT}"),
        "running: service glusterd start".to_string(),
        format!("brick ready: device={}", node.disks[0].device),
    ] {
        assert!(log.contains(&step), "brick log lacks `{step}`:\n{log}");
    }
}

#[test]
fn four_volume_nodes_serve_a_two_by_two_volume_over_ssh_and_fuse() {
    let _serial = serial();
    let world = World::new("four");
    let range = 0;

    let specs: Vec<NodeSpec> = (1..=4u8)
        .map(|i| {
            let id = volume_id(range, i);
            world.nodes.ensure_volume(&id, 1 << 30).expect("volume");
            world.volume_spec(
                &format!("e2e-four-{i}"),
                &format!("e2e-zone-{}-{}", if i % 2 == 1 { "a" } else { "b" }, i),
                address(range, i),
                &id,
                MOUNT,
            )
        })
        .collect();

    // Four nodes from nothing, concurrently, as the simulator's hook would start them.
    let started = Instant::now();
    let nodes: Vec<RunningNode> = thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| s.spawn(|| world.boot(spec.clone())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start thread").expect("node starts"))
            .collect()
    });
    let elapsed = started.elapsed();
    // Straight to stderr, past the test harness's capture: the figure shows in every run.
    let _ = writeln!(
        std::io::stderr(),
        "four loopback nodes up from nothing (sshd, XFS brick, glusterd) in {:.2}s; sshd listened after {}",
        elapsed.as_secs_f64(),
        nodes
            .iter()
            .map(|n| format!("{:.2}s", n.boot_time.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for node in &nodes {
        assert!(node.first_boot);
        assert!(
            node.skipped.iter().any(|s| s.starts_with("packages:")),
            "{:?}",
            node.skipped
        );
    }

    let refs: Vec<&RunningNode> = nodes.iter().collect();
    let kh = world.known_hosts(&refs);
    for node in &nodes {
        check_node(&world, node, &kh);
    }

    // By hand over SSH, as the operator will: probe the peers from node 1.
    let first = &nodes[0];
    for peer in &nodes[1..] {
        let out = world.ssh_ok(
            first,
            &kh,
            &format!("sudo -n gluster --mode=script peer probe {}", peer.address),
        );
        assert!(out.contains("peer probe: success"), "{out}");
    }
    eventually("all peers connected, in cluster", || {
        let xml = world.ssh_ok(
            first,
            &kh,
            "sudo -n gluster --mode=script --xml peer status",
        );
        let connected = xml_values(&xml, "connected");
        let states = xml_values(&xml, "stateStr");
        if connected.len() == 3
            && connected.iter().all(|c| c == "1")
            && states.iter().all(|s| s == "Peer in Cluster")
        {
            Ok(())
        } else {
            Err(xml)
        }
    });
    // Peers know each other by their 127.x addresses (glusterd's source address is its own).
    let seen_by_second = world.ssh_ok(
        &nodes[1],
        &kh,
        "sudo -n gluster --mode=script --xml peer status",
    );
    let hostnames: BTreeSet<String> = xml_values(&seen_by_second, "hostname")
        .into_iter()
        .collect();
    let others: BTreeSet<String> = [0usize, 2, 3]
        .iter()
        .map(|&i| nodes[i].address.to_string())
        .collect();
    assert_eq!(hostnames, others, "{seen_by_second}");

    // A 2 × 2 distributed-replicated volume across the four nodes.
    let bricks: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}:{BRICK}", n.address))
        .collect();
    let out = world.ssh_ok(
        first,
        &kh,
        &format!(
            "sudo -n gluster --mode=script volume create {VOLUME} replica 2 {}",
            bricks.join(" ")
        ),
    );
    assert!(out.contains("success"), "{out}");
    let out = world.ssh_ok(
        first,
        &kh,
        &format!("sudo -n gluster --mode=script volume start {VOLUME}"),
    );
    assert!(out.contains("success"), "{out}");
    let info = world.ssh_ok(
        first,
        &kh,
        &format!("sudo -n gluster --mode=script --xml volume info {VOLUME}"),
    );
    assert_eq!(
        xml_values(&info, "typeStr"),
        ["Distributed-Replicate"],
        "{info}"
    );
    assert_eq!(xml_values(&info, "brickCount"), ["4"]);
    assert_eq!(xml_values(&info, "replicaCount"), ["2"]);
    let status = eventually("every brick online", || {
        let xml = world.ssh_ok(
            first,
            &kh,
            &format!("sudo -n gluster --mode=script --xml volume status {VOLUME}"),
        );
        let online = xml
            .split("<node>")
            .filter(|n| n.contains(BRICK) && n.contains("<status>1</status>"))
            .count();
        if online == 4 { Ok(xml) } else { Err(xml) }
    });
    // Each brick process listens on its own node's address (glusterd hands it the bind
    // address), on the port glusterd advertises.
    for brick in status.split("<node>").filter(|n| n.contains(BRICK)) {
        let host = xml_values(brick, "hostname").remove(0);
        let port: u16 = xml_values(brick, "port")[0].parse().expect("brick port");
        let on_port = listeners(port);
        assert!(
            on_port.contains(&format!("{host}:{port}")),
            "brick {host}: {on_port:?}"
        );
        assert!(
            !on_port
                .iter()
                .any(|l| l.starts_with("0.0.0.0:") || l.starts_with('*')),
            "brick {host} listens on every address: {on_port:?}"
        );
    }

    // FUSE-mount it on this machine and write files.
    let mount = Mount::new(
        &world.dir.join("fuse"),
        &format!("{}:/{VOLUME}", first.address),
        &world.dir.join("fuse.log"),
    );
    let files: Vec<String> = (0..24).map(|i| format!("file-{i:02}")).collect();
    for (i, f) in files.iter().enumerate() {
        fs::write(mount.dir.join(f), format!("content of {f}, {i}\n")).expect("write through FUSE");
    }
    for f in &files {
        assert!(
            fs::read_to_string(mount.dir.join(f))
                .expect("read back")
                .starts_with("content of ")
        );
    }
    // Each file on exactly two bricks, a replica pair (bricks 1+2 or 3+4), with its content.
    let mut per_set = [0usize; 2];
    for f in &files {
        let holders: Vec<usize> = (0..4)
            .filter(|&i| nodes[i].path(BRICK).join(f).is_file())
            .collect();
        assert!(
            holders == [0, 1] || holders == [2, 3],
            "{f} is on bricks {holders:?}"
        );
        for &h in &holders {
            let on_brick = fs::read_to_string(nodes[h].path(BRICK).join(f)).expect("brick file");
            assert!(on_brick.starts_with(&format!("content of {f},")));
        }
        per_set[holders[0] / 2] += 1;
    }
    assert!(
        per_set.iter().all(|&n| n > 0),
        "files not distributed: {per_set:?}"
    );
    println!("files per replica set: {per_set:?}");

    // Heal info answers on every node, over SSH (glfsheal runs in the node, on its paths).
    for node in &nodes {
        let xml = world.ssh_ok(
            node,
            &kh,
            &format!("sudo -n gluster --mode=script --xml volume heal {VOLUME} info"),
        );
        assert_eq!(xml_values(&xml, "opRet"), ["0"], "{xml}");
        assert_eq!(xml_values(&xml, "name"), bricks, "{xml}");
        assert_eq!(xml_values(&xml, "status"), ["Connected"; 4], "{xml}");
        for entries in xml_values(&xml, "numberOfEntries") {
            entries
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{entries}: {xml}"));
        }
        assert!(
            node.log_dir()
                .join(format!("glusterfs/glfsheal-{VOLUME}.log"))
                .is_file()
        );
    }
    // The CLI works plainly inside a node, and from outside through the node's socket.
    let plain = run_ok(
        nodes[2]
            .command("gluster")
            .args(["volume", "heal", VOLUME, "info"]),
    );
    assert_eq!(plain.matches("Status: Connected").count(), 4, "{plain}");
    let sock = format!("--glusterd-sock={}", nodes[3].glusterd_socket().display());
    let outside = run_ok(Command::new("gluster").args([
        sock.as_str(),
        "--mode=script",
        "--xml",
        "peer",
        "status",
    ]));
    let seen_by_fourth: BTreeSet<String> = xml_values(&outside, "hostname").into_iter().collect();
    let others: BTreeSet<String> = nodes[..3].iter().map(|n| n.address.to_string()).collect();
    assert_eq!(seen_by_fourth, others, "{outside}");
    drop(mount);

    // The server of node 4 is deleted: its node stops, its loop device is freed, its volume
    // stays.
    let fourth = nodes[3].clone();
    assert!(!fourth.processes().is_empty());
    world
        .nodes
        .delete(&fourth.server_id)
        .expect("delete server 4");
    assert_nothing_left(
        std::slice::from_ref(&fourth),
        &world.dir,
        &fourth.address.to_string(),
    );
    assert!(TcpStream::connect((fourth.address, 24007)).is_err());
    assert!(!fourth.dir.exists(), "root disk of a deleted server kept");
    assert!(
        fourth.disks[0].backing.is_file(),
        "a deleted server's volume must stay"
    );
    assert_eq!(world.nodes.nodes().len(), 3);

    // Shutdown: nothing left at all.
    world.nodes.shutdown().expect("shutdown");
    assert_nothing_left(&nodes, &world.dir, "127.100.0.");
    assert!(matches!(
        world.nodes.start(specs[0].clone()),
        Err(NodeError::ShutDown)
    ));
}

#[test]
fn an_ephemeral_node_takes_back_its_disk_and_survives_a_reboot() {
    let _serial = serial();
    let world = World::new("ephemeral");
    let (user_data, _) = world.user_data("e2e-eph-0", BrickDevice::Ephemeral, MOUNT);
    let spec = NodeSpec {
        server_id: "e2e-eph-1".into(),
        name: "e2e-eph-0".into(),
        address: address(1, 1),
        user_data,
        volume_ids: vec![],
        ephemeral_bytes: Some(1 << 30),
    };
    let node = world
        .nodes
        .start(spec.clone())
        .and_then(|n| {
            world
                .nodes
                .wait_boot(&n.server_id, std::time::Duration::from_secs(120))
        })
        .expect("ephemeral node boots");
    assert_eq!(node.disks.len(), 1);
    assert_eq!(node.disks[0].volume_id, None);
    let device = node.disks[0].device.clone();

    let mounted =
        run_ok(
            node.command("findmnt")
                .args(["-n", "-o", "SOURCE,FSTYPE", "--mountpoint", MOUNT]),
        );
    assert_eq!(
        mounted.split_whitespace().collect::<Vec<_>>(),
        [device.as_str(), "xfs"]
    );
    assert!(run_ok(node.command("xfs_info").arg(MOUNT)).contains("isize=512"));
    // Taken back from /mnt: the ephemeral disk is mounted at the brick only.
    let targets = run_ok(
        node.command("findmnt")
            .args(["-n", "-o", "TARGET", "--source", &device]),
    );
    assert_eq!(targets.trim(), MOUNT);
    let fstab = fs::read_to_string(node.path("/etc/fstab")).expect("fstab");
    assert!(
        !fstab
            .lines()
            .any(|l| l.contains("\t/mnt\t") || l.contains(" /mnt ")),
        "{fstab}"
    );
    assert!(
        fstab
            .lines()
            .any(|l| l.starts_with("UUID=") && l.contains(MOUNT)),
        "{fstab}"
    );
    let log = fs::read_to_string(node.path(BRICK_LOG_PATH)).expect("brick log");
    assert!(
        log.contains(&format!("taking back the ephemeral disk {device} (ext4)")),
        "{log}"
    );
    assert!(
        log.contains("removed the /mnt entry from /etc/fstab"),
        "{log}"
    );
    assert!(listeners(24007).contains(&format!("{}:24007", node.address)));
    // A one-brick volume, started: glusterd's state lives on the node's root disk.
    let brick = format!("{}:{BRICK}", node.address);
    run_ok(
        node.command("gluster")
            .args(["--mode=script", "volume", "create", "solo", &brick]),
    );
    run_ok(
        node.command("gluster")
            .args(["--mode=script", "volume", "start", "solo"]),
    );
    let uuid = fs::read_to_string(node.dir.join("glusterd/glusterd.info")).expect("glusterd.info");
    fs::write(node.path(BRICK).join("kept"), "across a reboot").expect("brick file");

    // Server stopped and started again: a reboot, root disk and ephemeral disk kept.
    world.nodes.stop(&spec.server_id).expect("stop");
    assert_nothing_left(std::slice::from_ref(&node), &world.dir, "127.100.1.");
    let again = world.nodes.start(spec.clone()).expect("reboot");
    // A reboot returns with glusterd up: nothing left to wait for.
    assert_eq!(again.boot.state(), e2e::nodes::BootState::Finished);
    assert!(!again.first_boot);
    let mounted =
        run_ok(
            again
                .command("findmnt")
                .args(["-n", "-o", "FSTYPE", "--mountpoint", MOUNT]),
        );
    assert_eq!(mounted.trim(), "xfs");
    assert_eq!(
        fs::read_to_string(again.path(BRICK).join("kept")).expect("kept file"),
        "across a reboot"
    );
    assert_eq!(
        fs::read_to_string(again.dir.join("glusterd/glusterd.info")).expect("glusterd.info"),
        uuid
    );
    // glusterd came back with its volume and restarted its brick, as at a host's boot.
    eventually(
        "the brick of the started volume back online after the reboot",
        || {
            let xml = run_ok(again.command("gluster").args([
                "--mode=script",
                "--xml",
                "volume",
                "status",
                "solo",
            ]));
            let online = xml
                .split("<node>")
                .any(|n| n.contains(BRICK) && n.contains("<status>1</status>"));
            if online { Ok(()) } else { Err(xml) }
        },
    );

    // Server deleted: the ephemeral disk goes with it.
    world.nodes.delete(&spec.server_id).expect("delete");
    assert_nothing_left(std::slice::from_ref(&again), &world.dir, "127.100.1.");
    assert!(
        !again.disks[0].backing.exists(),
        "the ephemeral disk outlived its server"
    );
}

#[test]
fn a_reattached_volume_keeps_its_brick_until_the_volume_is_deleted() {
    let _serial = serial();
    let world = World::new("reattach");
    let id = volume_id(2, 1);
    let first = world
        .nodes
        .start(world.volume_spec("e2e-reattach-1", "e2e-r-0", address(2, 1), &id, MOUNT))
        .and_then(|n| {
            world
                .nodes
                .wait_boot(&n.server_id, std::time::Duration::from_secs(120))
        })
        .expect("first server");
    fs::write(first.path(BRICK).join("precious"), "data").expect("write on the brick");

    // Attached to one server: not to another, and not deletable.
    let twin = world.volume_spec("e2e-reattach-2", "e2e-r-1", address(2, 2), &id, MOUNT);
    assert!(matches!(
        world.nodes.start(twin.clone()),
        Err(NodeError::VolumeInUse { .. })
    ));
    assert!(matches!(
        world.nodes.delete_volume(&id),
        Err(NodeError::VolumeInUse { .. })
    ));

    world
        .nodes
        .delete(&first.server_id)
        .expect("delete the first server");
    assert_nothing_left(std::slice::from_ref(&first), &world.dir, "127.100.2.");

    // A replacement server gets the same volume: the brick is mounted as it is, data and all.
    let second = world.boot(twin).expect("replacement server");
    assert_eq!(
        fs::read_to_string(second.path(BRICK).join("precious")).expect("kept"),
        "data"
    );
    let log = fs::read_to_string(second.path(BRICK_LOG_PATH)).expect("brick log");
    assert!(
        log.contains("already holds XFS: mounting it as is (not formatting)"),
        "{log}"
    );
    assert!(!log.contains("running: mkfs.xfs"), "{log}");

    world
        .nodes
        .delete(&second.server_id)
        .expect("delete the second server");
    assert!(world.nodes.delete_volume(&id).expect("delete the volume"));
    assert!(!world.nodes.volume_path(&id).exists());
    assert!(!world.nodes.delete_volume(&id).expect("twice"));
    assert_nothing_left(&[second], &world.dir, "127.100.2.");
}

#[test]
fn a_volume_attached_after_the_server_is_up_is_found_by_the_waiting_brick_script() {
    let _serial = serial();
    let world = World::new("attach");
    let id = volume_id(6, 1);
    // As the operator does it: the server is created, becomes ACTIVE, then gets its volume.
    let mut spec = world.volume_spec("e2e-attach-1", "e2e-t-0", address(6, 1), &id, MOUNT);
    spec.volume_ids.clear();
    let node = world
        .nodes
        .start(spec)
        .expect("server up without its volume");
    assert!(node.disks.is_empty());
    // Reachable, brick script waiting.
    let kh = world.known_hosts(&[&node]);
    assert_eq!(world.ssh_ok(&node, &kh, "id -un"), "gluster-operator\n");
    let err = world
        .nodes
        .wait_boot(&node.server_id, std::time::Duration::from_secs(2))
        .expect_err("the boot waits for the volume");
    assert!(err.to_string().contains("still running"), "{err}");

    let attached = world
        .nodes
        .attach_volume(&node.server_id, &id)
        .expect("attach");
    assert_eq!(attached.disks.len(), 1);
    let booted = world
        .nodes
        .wait_boot(&node.server_id, std::time::Duration::from_secs(120))
        .expect("the boot goes on once the volume is there");
    let log = fs::read_to_string(booted.path(BRICK_LOG_PATH)).expect("brick log");
    assert!(
        log.contains(&format!("waiting up to 300s for Cinder volume {id}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("brick ready: device={}", attached.disks[0].device)),
        "{log}"
    );
    assert!(listeners(24007).contains(&format!("{}:24007", node.address)));

    // Another volume comes and goes while the node runs.
    let extra = volume_id(6, 2);
    let link = format!("/dev/disk/by-id/{}", e2e::nodes::virtio_by_id_name(&extra));
    let with_extra = world
        .nodes
        .attach_volume(&node.server_id, &extra)
        .expect("attach extra");
    let extra_disk = with_extra
        .disks
        .iter()
        .find(|d| d.volume_id.as_deref() == Some(extra.as_str()))
        .expect("extra disk")
        .clone();
    assert!(node.path(&link).exists(), "{link} missing in the node");
    world
        .nodes
        .detach_volume(&node.server_id, &extra)
        .expect("detach extra");
    assert!(!node.path(&link).exists(), "{link} left in the node");
    eventually("the extra volume's loop device released", || {
        let loops = loops_of(&extra_disk.backing).map_err(|e| e.to_string())?;
        if loops.is_empty() {
            Ok(())
        } else {
            Err(format!("{loops:?}"))
        }
    });
    assert!(matches!(
        world.nodes.detach_volume(&node.server_id, &extra),
        Err(NodeError::VolumeNotAttached { .. })
    ));

    world.nodes.delete(&node.server_id).expect("delete");
    assert_nothing_left(&[booted], &world.dir, "127.100.6.");
}

#[test]
fn bad_servers_are_refused_before_anything_starts() {
    let _serial = serial();
    let world = World::new("refused");
    let id = volume_id(3, 1);
    let good = world.volume_spec("e2e-refused-1", "e2e-x-0", address(3, 1), &id, MOUNT);

    let mut not_gluster = good.clone();
    not_gluster.user_data = "#cloud-config\npackages: [htop]\n".into();
    let err = world.nodes.start(not_gluster).unwrap_err().to_string();
    assert!(err.starts_with("user_data ssh_keys: missing"), "{err}");

    let (ephemeral_user_data, _) = world.user_data("e2e-x-9", BrickDevice::Ephemeral, MOUNT);
    let mut no_disk = good.clone();
    no_disk.user_data = ephemeral_user_data;
    let err = world.nodes.start(no_disk).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "user_data runcmd brick script --ephemeral: server e2e-refused-1 has no ephemeral disk"
        ),
        "{err}"
    );

    let mut elsewhere = good.clone();
    elsewhere.address = Ipv4Addr::new(10, 0, 0, 1);
    let err = world.nodes.start(elsewhere).unwrap_err().to_string();
    assert!(
        err.starts_with("address: 10.0.0.1 is not a loopback address"),
        "{err}"
    );

    // Something else listens on the node's SSH port.
    let squatter = TcpListener::bind((address(3, 1), 22)).expect("bind 22");
    let err = world.nodes.start(good.clone()).unwrap_err();
    assert!(matches!(err, NodeError::AddressInUse { .. }), "{err}");
    drop(squatter);

    // The same address twice.
    let node = world.nodes.start(good.clone()).expect("the good one");
    let mut twin = world.volume_spec(
        "e2e-refused-2",
        "e2e-x-1",
        address(3, 1),
        &volume_id(3, 2),
        MOUNT,
    );
    let err = world.nodes.start(twin.clone()).unwrap_err().to_string();
    assert!(
        err.contains("the node of server e2e-refused-1 has it"),
        "{err}"
    );
    twin.server_id = good.server_id.clone();
    assert!(matches!(
        world.nodes.start(twin),
        Err(NodeError::AlreadyRunning(_))
    ));

    assert!(matches!(
        world.nodes.stop("nope"),
        Err(NodeError::NotFound(_))
    ));
    // One manager per state directory.
    let second = LoopbackNodes::new(NodesConfig::new(world.nodes.state_dir()));
    let err = second
        .expect_err("a second manager on the same state")
        .to_string();
    assert!(err.contains("is in use by another LoopbackNodes"), "{err}");
    assert!(world.nodes.node(&good.server_id).is_some());
    world.nodes.shutdown().expect("shutdown");
    assert_nothing_left(&[node], &world.dir, "127.100.3.");
}

#[test]
fn a_failed_test_leaves_nothing_behind() {
    let _serial = serial();
    let seen: Arc<Mutex<Option<(RunningNode, std::path::PathBuf)>>> = Arc::default();
    let inside = Arc::clone(&seen);
    let outcome = thread::spawn(move || {
        let world = World::new("panic");
        let id = volume_id(4, 1);
        let node = world
            .nodes
            .start(world.volume_spec("e2e-panic-1", "e2e-p-0", address(4, 1), &id, MOUNT))
            .expect("node");
        assert!(!node.processes().is_empty());
        assert!(
            !loops_of(&node.disks[0].backing)
                .expect("losetup")
                .is_empty()
        );
        *inside.lock().expect("lock") = Some((node, world.dir.clone()));
        panic!("a test fails with a node running");
    })
    .join();
    assert!(outcome.is_err(), "the test thread should have panicked");
    let (node, dir) = seen
        .lock()
        .expect("lock")
        .take()
        .expect("the node was started");
    assert_nothing_left(&[node], &dir, "127.100.4.");
}

const HELPER_ENV: &str = "E2E_NODES_HELPER_DIR";

/// Run by `a_killed_manager_s_nodes_are_ended_by_the_next` in a process of its own, which it
/// kills with SIGKILL: starts a node, says so, and waits.
#[test]
#[ignore = "a helper process of a_killed_manager_s_nodes_are_ended_by_the_next"]
fn helper_starts_a_node_and_waits_to_be_killed() {
    let dir = std::path::PathBuf::from(
        std::env::var_os(HELPER_ENV)
            .expect("run by a_killed_manager_s_nodes_are_ended_by_the_next"),
    );
    let world = World::at(&dir);
    let node = world
        .boot(world.volume_spec(
            "e2e-killed-1",
            "e2e-k-0",
            address(5, 1),
            &volume_id(5, 1),
            MOUNT,
        ))
        .expect("node");
    let facts = format!(
        "{}\n{}\n{}\n",
        node.init_pid,
        node.mount_namespace,
        node.disks[0].backing.display()
    );
    fs::write(dir.join("started.tmp"), facts).expect("facts");
    fs::rename(dir.join("started.tmp"), dir.join("started")).expect("facts");
    loop {
        thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn a_killed_manager_s_nodes_are_ended_by_the_next() {
    let _serial = serial();
    nodes_support::require_root_and_tools();
    let tmp = tempfile::Builder::new()
        .prefix("nodes-killed-")
        .tempdir_in("/tmp")
        .expect("tmp");
    let dir = tmp.path().canonicalize().expect("canonical");
    let mut helper = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--ignored",
            "--exact",
            "helper_starts_a_node_and_waits_to_be_killed",
        ])
        .env(HELPER_ENV, &dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("helper process");
    let facts = eventually("the helper started its node", || {
        if let Ok(Some(status)) = helper.try_wait() {
            panic!("the helper ended ({status}) before starting its node");
        }
        fs::read_to_string(dir.join("started")).map_err(|e| e.to_string())
    });
    let mut lines = facts.lines();
    let init: u32 = lines.next().and_then(|l| l.parse().ok()).expect("init pid");
    let ns = lines.next().expect("mount namespace").to_string();
    let backing = std::path::PathBuf::from(lines.next().expect("backing file"));
    let in_ns = || {
        fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(Result::ok)
            .filter(|e| {
                fs::read_link(e.path().join("ns/mnt")).is_ok_and(|l| l.to_string_lossy() == ns)
            })
            .count()
    };

    // SIGKILL: no drop runs, the node outlives its manager.
    helper.kill().expect("SIGKILL the helper");
    helper.wait().expect("reap the helper");
    assert!(in_ns() > 0, "the node should outlive a killed manager");
    assert!(!loops_of(&backing).expect("losetup").is_empty());
    assert!(Path::new(&format!("/proc/{init}")).exists());

    // The next manager on the same state directory ends it.
    let world = World::at(&dir);
    assert_eq!(in_ns(), 0, "processes of the killed manager's node remain");
    assert!(
        loops_of(&backing).expect("losetup").is_empty(),
        "its loop device remains"
    );
    assert!(!dir.join("state/nodes/e2e-killed-1/running").exists());
    // Its address is free again: a node starts there.
    let node = world
        .nodes
        .start(world.volume_spec(
            "e2e-killed-2",
            "e2e-k-1",
            address(5, 1),
            &volume_id(5, 1),
            MOUNT,
        ))
        .expect("a new node on the freed address");
    world.nodes.shutdown().expect("shutdown");
    assert_nothing_left(&[node], &dir, "127.100.5.");
}

/// The glusterd init script the nodes get passes shellcheck.
#[test]
fn the_glusterd_init_script_passes_shellcheck() {
    let dir = tempfile::tempdir().expect("tmp");
    let script = dir.path().join("glusterd");
    fs::write(&script, e2e::nodes::render::GLUSTERD_INIT_SCRIPT).expect("script");
    let out = Command::new("shellcheck")
        .args(["--shell=sh", "--severity=style"])
        .arg(&script)
        .output()
        .expect("shellcheck is missing: run `make setup`");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A FUSE mount of a gluster volume on this machine, unmounted on drop (also on failure).
struct Mount {
    dir: std::path::PathBuf,
}

impl Mount {
    fn new(dir: &Path, source: &str, log: &Path) -> Self {
        fs::create_dir_all(dir).expect("mount point");
        run_ok(
            Command::new("mount")
                .args(["-t", "glusterfs", "-o"])
                .arg(format!("log-file={}", log.display()))
                .arg(source)
                .arg(dir),
        );
        Self {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}
