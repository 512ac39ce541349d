//! The SSH executor against a REAL sshd (`/usr/sbin/sshd -D` on 127.0.0.1 with a host key
//! generated here and an AuthorizedKeysFile holding the operator's key) and a REAL glusterd:
//! gluster's XML over SSH parsed; the pinned host key enforced (a different key is refused and
//! named by fingerprint only); a wrong client key refused; hostile arguments kept as single
//! words; command and connect timeouts; one reused connection; the sudo knob.
//!
//! Needs root (sshd, loop device), openssh-server and glusterfs-server (`make setup`).
//! Serialized with the other gluster tests by a machine-wide file lock.

mod gluster_common;

use std::time::Duration;

use gluster_common::{Glusterd, LoopXfs, Sshd, TestLock, free_loopback, keygen, run};
use gluster_operator::gluster::xml::VolumeType;
use gluster_operator::gluster::{
    ExecError, GlusterClient, NodeEndpoint, NodeExecutor, OperatorKey, PinnedHostKey, SshConfig,
    SshExecutor, TimeoutPhase, VolumeName,
};

const SEC: Duration = Duration::from_secs(1);

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

fn user() -> String {
    run("id", &["-un"]).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_executor_against_real_sshd_and_glusterd() {
    let _lock = TestLock::acquire();
    let tmp = tempfile::Builder::new()
        .prefix("gluster-ssh-")
        .tempdir_in("/tmp")
        .unwrap();
    let root = tmp.path();

    // Keys: the operator's (authorized) and a stranger's (not).
    let (operator_private, operator_public) = keygen(root, "operator_key");
    let (stranger_private, _) = keygen(root, "stranger_key");
    let operator_key = OperatorKey::from_openssh(&operator_private).unwrap();
    // The public key the operator derives is the one ssh-keygen wrote (what goes to nodes).
    let mut keygen_public = operator_public.split_whitespace().take(2);
    assert_eq!(
        operator_key.public_openssh(),
        format!(
            "{} {}",
            keygen_public.next().unwrap(),
            keygen_public.next().unwrap()
        )
    );

    let sshd = Sshd::start(&root.join("sshd"), &operator_public);
    let pinned = PinnedHostKey::from_openssh(&sshd.host_public).unwrap();
    // Our fingerprint is OpenSSH's.
    let listed = run(
        "ssh-keygen",
        &[
            "-l",
            "-f",
            &root.join("sshd/ssh_host_ed25519_key.pub").to_string_lossy(),
        ],
    );
    assert!(
        listed.contains(&pinned.fingerprint()),
        "{listed} vs {}",
        pinned.fingerprint()
    );

    let node = NodeEndpoint::new(
        "node-a",
        sshd.address.to_string(),
        sshd.port,
        pinned.clone(),
    );
    let mut config = SshConfig::new(user(), operator_key.clone());
    config.connect_timeout = 10 * SEC;
    let ssh = SshExecutor::new(config.clone());

    // --- A plain command, its exit status and both streams.
    let out = ssh
        .run(
            &node,
            &words(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            30 * SEC,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_status, Some(3));
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    let e = out
        .check(&node.name, &words(&["sh", "-c", "…"]))
        .unwrap_err();
    match &e {
        ExecError::NonZeroExit(f) => {
            assert_eq!(f.node, "node-a");
            assert_eq!(f.exit.status, Some(3));
            assert_eq!(f.stderr, "err\n");
        }
        other => panic!("{other:?}"),
    }

    // --- Hostile arguments reach the remote program as exactly the words sent.
    let marker = root.join("pwned");
    let hostile = [
        format!("$(touch {})", marker.display()),
        format!("`touch {}`", marker.display()),
        format!("; touch {} #", marker.display()),
        "it's \"quoted\"".to_string(),
        "two\nlines".to_string(),
        String::new(),
        "*".to_string(),
        "${HOME} ~ \\ | & > <".to_string(),
        "--help".to_string(),
        "ünïcødé\ttab".to_string(),
    ];
    let mut argv = words(&["printf", "%s\\0"]);
    argv.extend(hostile.iter().cloned());
    let out = ssh.run(&node, &argv, 30 * SEC).await.unwrap();
    assert!(out.success(), "{out:?}");
    let echoed: Vec<&str> = out.stdout.split('\0').collect();
    assert_eq!(
        &echoed[..hostile.len()],
        hostile.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(
        !marker.exists(),
        "an argument was executed by the remote shell"
    );
    let e = ssh
        .run(&node, &words(&["echo", "nul\0byte"]), 30 * SEC)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "InvalidCommand");

    // --- gluster over SSH, with the test node's custom glusterd socket, parsed.
    let disk = LoopXfs::create(&root.join("disk"), "300M");
    let address = free_loopback(24007, &[]);
    let mut glusterd = Glusterd::start(&root.join("gd"), address);
    let volume = VolumeName::new(format!("t{}ssh", std::process::id())).unwrap();
    glusterd.track_volume(volume.as_str());
    let brick = format!("{address}:{}", disk.brick_dir("b"));
    let gluster = GlusterClient::new(&ssh, glusterd.cli()).with_timeout(120 * SEC);
    gluster
        .execute(
            &node,
            &words(&[
                "gluster",
                "--mode=script",
                "volume",
                "create",
                volume.as_str(),
                &brick,
            ]),
        )
        .await
        .unwrap();
    gluster
        .execute(
            &node,
            &words(&[
                "gluster",
                "--mode=script",
                "volume",
                "start",
                volume.as_str(),
            ]),
        )
        .await
        .unwrap();
    // A raw gluster command line with the custom socket, run through the executor and parsed.
    let argv = words(&[
        "gluster",
        &format!("--glusterd-sock={}", glusterd.socket),
        // (keeps the CLI's log out of the shared /var/log/glusterfs)
        &format!("--log-file={}", root.join("cli-ssh.log").display()),
        "--mode=script",
        "--xml",
        "volume",
        "info",
    ]);
    let out = ssh.run(&node, &argv, 60 * SEC).await.unwrap();
    let volumes = gluster_operator::gluster::xml::parse_volume_info(&out.stdout).unwrap();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].name, volume.as_str());
    let info = gluster.volume_info(&node, &volume).await.unwrap().unwrap();
    assert_eq!(info.volume_type, VolumeType::Distribute);
    assert_eq!(info.bricks[0].name(), brick);
    assert!(info.is_started());
    let status = gluster.volume_status(&node, &volume).await.unwrap();
    assert!(status.bricks[0].online && status.bricks[0].pid.is_some());
    let e = gluster.heal_info(&node, &volume).await.unwrap_err();
    assert!(e.gluster_refusal().is_some(), "{e}");

    // --- Everything so far went over one connection.
    assert_eq!(ssh.connects(), 1);

    // --- sudo -n prefix.
    let sudo = SshExecutor::new(SshConfig {
        sudo: true,
        ..config.clone()
    });
    let out = sudo
        .run(&node, &words(&["id", "-u"]), 30 * SEC)
        .await
        .unwrap();
    assert_eq!(
        (out.exit_status, out.stdout.trim()),
        (Some(0), "0"),
        "{out:?}"
    );

    // --- A command that outlives its timeout is reported and killed on the node.
    let e = ssh
        .run(&node, &words(&["sh", "-c", "exec sleep 987654"]), SEC)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExecError::Timeout {
            node: "node-a".into(),
            phase: TimeoutPhase::Command,
            after: SEC
        }
    );
    assert!(e.is_transient());
    gluster_common::eventually(
        "the timed-out command to be killed",
        50,
        Duration::from_millis(200),
        || async {
            gluster_common::pids_mentioning("987654")
                .is_empty()
                .then_some(())
        },
    )
    .await;
    // The connection survives a timed-out command.
    let out = ssh.run(&node, &words(&["true"]), 30 * SEC).await.unwrap();
    assert!(out.success());
    assert_eq!(ssh.connects(), 1);

    // --- A different pinned host key is refused, named by fingerprints only.
    let (_, other_host_public) = keygen(root, "other_host_key");
    let wrong_pin = PinnedHostKey::from_openssh(&other_host_public).unwrap();
    let impostor = NodeEndpoint::new(
        "node-a",
        sshd.address.to_string(),
        sshd.port,
        wrong_pin.clone(),
    );
    let e = ssh
        .run(&impostor, &words(&["true"]), 30 * SEC)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExecError::HostKeyMismatch {
            node: "node-a".into(),
            expected: wrong_pin.fingerprint(),
            presented: pinned.fingerprint(),
        }
    );
    assert!(!e.is_transient());
    let shown = format!("{e} {e:?}");
    for key_line in [&sshd.host_public, &other_host_public] {
        let material = key_line.split_whitespace().nth(1).unwrap();
        assert!(!shown.contains(material), "key material in {shown}");
    }
    assert!(
        shown.contains("node-a") && shown.contains("SHA256:"),
        "{shown}"
    );

    // --- A key the node does not authorize is refused.
    let stranger = SshExecutor::new(SshConfig::new(
        user(),
        OperatorKey::from_openssh(&stranger_private).unwrap(),
    ));
    let e = stranger
        .run(&node, &words(&["true"]), 30 * SEC)
        .await
        .unwrap_err();
    match &e {
        ExecError::Auth {
            node,
            user: u,
            key_fingerprint,
        } => {
            assert_eq!(node, "node-a");
            assert_eq!(u, &user());
            assert!(key_fingerprint.starts_with("SHA256:"));
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(!format!("{e:?}").contains(stranger_private.lines().nth(1).unwrap()));
    assert!(!format!("{stranger:?}").contains(stranger_private.lines().nth(1).unwrap()));
    assert!(sshd.log().contains("Accepted publickey"), "{}", sshd.log());

    // --- Nothing listening: a connect error, worth retrying later.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = NodeEndpoint::new("node-gone", "127.0.0.1", closed_port, pinned.clone());
    let e = ssh
        .run(&gone, &words(&["true"]), 30 * SEC)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ExecError::Connect { ref node, .. } if node == "node-gone"),
        "{e:?}"
    );
    assert!(e.is_transient());

    // --- A server that accepts TCP but never speaks SSH: the connect timeout fires.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let mut quick = config.clone();
    quick.connect_timeout = SEC;
    let mute = NodeEndpoint::new("node-mute", "127.0.0.1", silent_port, pinned.clone());
    let e = SshExecutor::new(quick)
        .run(&mute, &words(&["true"]), 30 * SEC)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ExecError::Timeout {
            node: "node-mute".into(),
            phase: TimeoutPhase::Connect,
            after: SEC
        }
    );
    holder.abort();

    ssh.close_all().await;
    sudo.close_all().await;
}
